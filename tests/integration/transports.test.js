'use strict';
// Transports: polling only, WebSocket only, polling -> WebSocket upgrade,
// the Engine.IO handshake, and the server-side `transports` setting.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, client, closeAll, ask, waitFor, request, RawWS, wsUrl, DEFAULT_WAIT_MS } = require('./lib/util');

describe('transports', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.stop(); });

  test('polling only: connects, stays on polling, round-trips an ack', async () => {
    const s = await connected(srv.url, { transports: ['polling'] });
    assert.equal(s.io.engine.transport.name, 'polling');
    assert.deepEqual(await ask(s, 'echo', 'over polling', 42), ['over polling', 42]);
    assert.equal(s.io.engine.transport.name, 'polling');
    s.disconnect();
  });

  test('polling: a burst from a WebSocket sender reaches a polling receiver whole and in order', async () => {
    // Polling answers are batched at the end of the server's loop turn and
    // written straight to the socket: every message of the burst must still
    // arrive once, in order, over however many GETs it takes.
    const N = 500;
    const rx = await connected(srv.url, { transports: ['polling'] });
    const tx = await connected(srv.url, { transports: ['websocket'] });
    assert.deepEqual(await ask(rx, 'join', 'burst'), [true]);
    const got = [];
    const all = new Promise((resolve) => {
      rx.on('message', (i, pad) => {
        got.push([i, pad.length]);
        if (got.length === N) resolve();
      });
    });
    const pad = 'x'.repeat(1000);
    for (let i = 0; i < N; i++) tx.emit('broadcast', 'burst', i, pad);
    await all;
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => [i, 1000]));
    assert.equal(rx.io.engine.transport.name, 'polling');
    rx.disconnect();
    tx.disconnect();
  });

  test('websocket only: connects over WebSocket without polling first', async () => {
    const s = client(srv.url, { transports: ['websocket'] });
    await waitFor(s, 'connect');
    assert.equal(s.io.engine.transport.name, 'websocket');
    assert.deepEqual(await ask(s, 'echo', 'over websocket', { a: 1 }), ['over websocket', { a: 1 }]);
    s.disconnect();
  });

  test('default: starts on polling and upgrades to WebSocket', async () => {
    const s = client(srv.url);
    let first = null;
    const upgraded = waitFor(s.io, 'open').then(() => {
      first = s.io.engine.transport.name;
      return waitFor(s.io.engine, 'upgrade');
    });
    await waitFor(s, 'connect');
    const [transport] = await upgraded;
    // the first transport is polling ...
    assert.equal(first, 'polling');
    // ... and after the upgrade the engine runs on websocket
    assert.equal(transport.name, 'websocket');
    assert.equal(s.io.engine.transport.name, 'websocket');
    assert.deepEqual(await ask(s, 'echo', 'after upgrade'), ['after upgrade']);
    s.disconnect();
  });

  test('polling handshake: open packet has exactly sid, upgrades, pingInterval, pingTimeout, maxPayload', async () => {
    const res = await request(srv.url, { path: '/socket.io/?EIO=4&transport=polling' });
    assert.equal(res.status, 200);
    assert.equal(res.body[0], '0');
    const hs = JSON.parse(res.body.slice(1));
    assert.deepEqual(Object.keys(hs).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.equal(typeof hs.sid, 'string');
    assert.ok(hs.sid.length > 0);
    assert.deepEqual(hs.upgrades, ['websocket']);
    assert.equal(hs.pingInterval, 25000);
    assert.equal(hs.pingTimeout, 20000);
    assert.equal(hs.maxPayload, 1000000);
  });

  test('websocket handshake: open packet advertises no upgrades', async () => {
    const ws = new RawWS(wsUrl(srv.url));
    const first = await ws.next();
    assert.equal(first[0], '0');
    const hs = JSON.parse(first.slice(1));
    assert.deepEqual(Object.keys(hs).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.deepEqual(hs.upgrades, []);
    ws.close();
  });
});

describe('server setting transports=polling', () => {
  let srv;
  before(async () => { srv = await startServer({ settings: { transports: 'polling' } }); });
  after(async () => { closeAll(); await srv.stop(); });

  test('handshake offers no upgrade and the client stays on polling', async () => {
    const res = await request(srv.url, { path: '/socket.io/?EIO=4&transport=polling' });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.slice(1)).upgrades, []);
    const s = await connected(srv.url);
    assert.deepEqual(await ask(s, 'echo', 1), [1]);
    assert.equal(s.io.engine.transport.name, 'polling');
    s.disconnect();
  });

  test('a websocket-only client cannot connect', async () => {
    const s = client(srv.url, { transports: ['websocket'] });
    const [err] = await waitFor(s, 'connect_error');
    assert.ok(err instanceof Error);
  });
});

describe('server setting transports=websocket', () => {
  let srv;
  before(async () => { srv = await startServer({ settings: { transports: 'websocket' } }); });
  after(async () => { closeAll(); await srv.stop(); });

  test('a polling handshake is refused with 400 Transport unknown', async () => {
    const res = await request(srv.url, { path: '/socket.io/?EIO=4&transport=polling' });
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), { code: 0, message: 'Transport unknown' });
  });

  test('a websocket client connects, a polling-only client does not', async () => {
    const s = await connected(srv.url, { transports: ['websocket'] });
    assert.deepEqual(await ask(s, 'echo', 'ws'), ['ws']);
    const p = client(srv.url, { transports: ['polling'] });
    const [err] = await waitFor(p, 'connect_error', DEFAULT_WAIT_MS);
    assert.ok(err instanceof Error);
  });
});
