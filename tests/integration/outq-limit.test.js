'use strict';
// Per-client output queue limits (outqHardLimit / outqSoftLimit): a client
// that stops reading is closed with "transport error" once its queue passes
// the limit, and nobody else notices. siogate-only: Node has no such limit.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, recorder, RawPolling } = require('./lib/util');

describe('output queue limits', { skip: process.env.SG_REF ? 'siogate setting, not in Node' : false }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ settings: { outqHardLimit: '64kb', outqSoftLimit: '64kb' } });
  });
  after(async () => { closeAll(); await srv.stop(); });

  test('a client that stops polling is closed past the hard limit; others keep receiving', async () => {
    const observer = await connected(srv.url, { transports: ['websocket'] });
    await ask(observer, 'join', 'observers');
    const peers = recorder(observer, 'peer disconnect');

    // Joins "/" over polling, then never sends another GET.
    const stalled = new RawPolling(srv.url);
    const stalledId = await stalled.connectSio();

    const healthy = await connected(srv.url, { transports: ['websocket'] });
    const got = recorder(healthy, 'message');
    const sender = await connected(srv.url, { transports: ['websocket'] });

    const big = 'x'.repeat(10 * 1024);
    const count = 12; // 120 KB queued for the stalled client, limit 64 KB
    for (let i = 0; i < count; i++) sender.emit('broadcast', null, i, big);

    const [gone] = await peers.match((p) => p.id === stalledId);
    assert.equal(gone.reason, 'transport error');

    const items = await got.count(count);
    assert.deepEqual(items.map((args) => args[0]), [...Array(count).keys()]);
    assert.ok(sender.connected && healthy.connected && observer.connected);

    // The stalled session is gone for good.
    const res = await stalled.get();
    assert.equal(res.status, 400);
  });
});
