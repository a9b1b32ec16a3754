'use strict';
// Volatile emit: delivered when the transport is writable (idle WebSocket).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, recorder } = require('./lib/util');

describe('volatile', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.stop(); });

  test('a volatile message to an idle WebSocket client arrives', async () => {
    const s = await connected(srv.url, { transports: ['websocket'] });
    const msgs = recorder(s, 'message');
    s.emit('volatile', 'v', 1, { x: true });
    const got = await msgs.match((m) => m === 'v');
    assert.deepEqual(got, ['v', 1, { x: true }]);
  });

  test('volatile messages never break the connection (polling may drop them)', async () => {
    const s = await connected(srv.url, { transports: ['polling'] });
    for (let i = 0; i < 20; i++) s.emit('volatile', i);
    assert.deepEqual(await ask(s, 'echo', 'after volatile'), ['after volatile']);
    assert.ok(s.connected);
  });
});
