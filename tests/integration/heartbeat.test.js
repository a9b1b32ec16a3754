'use strict';
// Heartbeat with pingInterval 200 / pingTimeout 200, and connectTimeout.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, recorder, RawPolling, RawWS, wsUrl } = require('./lib/util');

const PING_INTERVAL = 200;
const PING_TIMEOUT = 200;

describe(`heartbeat pingInterval=${PING_INTERVAL} pingTimeout=${PING_TIMEOUT}`, () => {
  let srv;
  before(async () => {
    srv = await startServer({ settings: { pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, connectTimeout: 500 } });
  });
  after(async () => { closeAll(); await srv.stop(); });

  test('handshake advertises the configured values', async () => {
    const p = new RawPolling(srv.url);
    const hs = await p.open();
    assert.equal(hs.pingInterval, PING_INTERVAL);
    assert.equal(hs.pingTimeout, PING_TIMEOUT);
    await p.post('1');
  });

  for (const transports of [['polling'], ['websocket']]) {
    test(`a ${transports[0]} client answering pings stays connected over 1.5 s of pings`, async () => {
      const s = await connected(srv.url, { transports });
      const pings = recorder(s.io, 'ping');
      let dropped = null;
      s.on('disconnect', (r) => { dropped = r; });
      await pings.count(7, 20000); // ≈ 1.4 s at 200 ms
      assert.equal(dropped, null, `disconnected: ${dropped}`);
      assert.ok(s.connected);
      assert.deepEqual(await ask(s, 'echo', 'alive'), ['alive']);
    });
  }

  test('polling session that stops answering: ping, then close after pingTimeout, then 400', async () => {
    const p = new RawPolling(srv.url);
    const t0 = Date.now();
    await p.open();
    const first = await p.get();
    assert.equal(first.status, 200);
    assert.equal(first.body, '2', 'the held GET is released with a ping');
    const tPing = Date.now() - t0;
    assert.ok(tPing >= PING_INTERVAL - 20, `ping after ${tPing} ms`);
    // no pong: the next GET is released with the close packet (or refused when
    // the session was already gone)
    const second = await p.get();
    const tClose = Date.now() - t0;
    if (second.status === 200) assert.equal(second.body, '1');
    else assert.equal(second.status, 400);
    assert.ok(tClose >= PING_INTERVAL + PING_TIMEOUT - 40, `closed after only ${tClose} ms`);
    const third = await p.get();
    assert.equal(third.status, 400);
    assert.deepEqual(JSON.parse(third.body), { code: 1, message: 'Session ID unknown' });
  });

  test('polling session that stops polling altogether is gone (400 Session ID unknown)', async () => {
    const p = new RawPolling(srv.url);
    await p.open();
    // Stay silent well past pingInterval + pingTimeout (400 ms). Then GET
    // (never pong): the session must be reported unknown; a GET that still
    // finds it alive can only carry the ping, noop or the close packet.
    await new Promise((r) => setTimeout(r, PING_INTERVAL + PING_TIMEOUT + 200));
    const deadline = Date.now() + 10000;
    for (;;) {
      const res = await p.get();
      if (res.status === 400) {
        assert.deepEqual(JSON.parse(res.body), { code: 1, message: 'Session ID unknown' });
        break;
      }
      assert.equal(res.status, 200);
      for (const pkt of res.body.split('\x1e')) assert.ok(['1', '2', '6'].includes(pkt), `unexpected ${pkt}`);
      assert.ok(Date.now() < deadline, 'session never expired');
    }
  });

  test('WebSocket that never pongs is closed; server reason "ping timeout"', async () => {
    const observer = await connected(srv.url, { transports: ['websocket'] });
    await ask(observer, 'join', 'observers');
    const peers = recorder(observer, 'peer disconnect');
    const ws = new RawWS(wsUrl(srv.url));
    await ws.next(); // open
    ws.send('40');
    const connect = await ws.next();
    const id = JSON.parse(connect.slice(2)).sid;
    const t0 = Date.now();
    assert.equal(await ws.next(), '2');
    await ws.waitClose(10000);
    assert.ok(Date.now() - t0 >= PING_TIMEOUT - 40, 'closed too early');
    const [info] = await peers.match((x) => x.id === id);
    assert.equal(info.reason, 'ping timeout');
  });

  test('connectTimeout: a session that joins no namespace is closed', async () => {
    // The clock starts before the connection: the server's starts later, so
    // a slow machine can only make the measured time longer, never shorter.
    const t0 = Date.now();
    const ws = new RawWS(wsUrl(srv.url));
    await ws.next(); // open packet; then never send a CONNECT, but answer pings
    ws.until(() => false, 20000).catch(() => {});
    await ws.waitClose(10000);
    assert.ok(Date.now() - t0 >= 400, `closed after ${Date.now() - t0} ms, connectTimeout is 500`);
  });
});
