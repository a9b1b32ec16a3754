'use strict';
// maxHttpBufferSize: advertised as maxPayload, enforced on POST bodies (413)
// and WebSocket messages (connection closed); other clients keep working.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, nextDisconnect, RawPolling, RawWS, wsUrl } = require('./lib/util');

const LIMIT = 1000;

describe(`maxHttpBufferSize=${LIMIT}`, () => {
  let srv;
  let watcher;
  before(async () => {
    srv = await startServer({ settings: { maxHttpBufferSize: LIMIT } });
    watcher = await connected(srv.url, { transports: ['websocket'] });
  });
  after(async () => { closeAll(); await srv.stop(); });

  async function watcherStillWorks() {
    assert.ok(watcher.connected);
    assert.deepEqual(await ask(watcher, 'echo', 'ok'), ['ok']);
  }

  test('the handshake advertises maxPayload', async () => {
    const p = new RawPolling(srv.url);
    const hs = await p.open();
    assert.equal(hs.maxPayload, LIMIT);
    await p.post('1');
  });

  test('a POST body of exactly the limit is accepted', async () => {
    const p = new RawPolling(srv.url);
    await p.connectSio();
    const head = '42["echo","';
    const tail = '"]';
    const body = head + 'x'.repeat(LIMIT - head.length - tail.length) + tail;
    assert.equal(Buffer.byteLength(body), LIMIT);
    const res = await p.post(body);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    await p.post('1');
  });

  test('a POST body larger than the limit -> 413', async () => {
    const p = new RawPolling(srv.url);
    await p.connectSio();
    const res = await p.post('42["echo","' + 'x'.repeat(LIMIT) + '"]');
    assert.equal(res.status, 413);
    await watcherStillWorks();
  });

  test('polling client emitting more than the limit is disconnected; others keep working', async () => {
    const s = await connected(srv.url, { transports: ['polling'] });
    assert.deepEqual(await ask(s, 'echo', 'small'), ['small']);
    const reason = nextDisconnect(s);
    s.emit('echo', 'y'.repeat(LIMIT * 2));
    assert.match(await reason, /^transport (error|close)$/);
    await watcherStillWorks();
  });

  test('WebSocket client emitting more than the limit is disconnected; others keep working', async () => {
    const s = await connected(srv.url, { transports: ['websocket'] });
    assert.deepEqual(await ask(s, 'echo', 'small'), ['small']);
    const reason = nextDisconnect(s);
    s.emit('echo', 'z'.repeat(LIMIT * 2));
    assert.match(await reason, /^transport (error|close)$/);
    await watcherStillWorks();
  });

  test('raw WebSocket frame larger than the limit closes that connection', async () => {
    const ws = new RawWS(wsUrl(srv.url));
    await ws.until((m) => m[0] === '0');
    ws.send('40');
    await ws.until((m) => m.startsWith('40'));
    ws.send('42["echo","' + 'w'.repeat(LIMIT * 3) + '"]');
    const closed = await ws.waitClose();
    assert.ok(closed.code === 1009 || closed.code === 1006 || closed.code === 1011, `close code ${closed.code}`);
    await watcherStillWorks();
  });

  test('a large binary message within the limit still passes', async () => {
    const s = await connected(srv.url, { transports: ['websocket'] });
    const buf = Buffer.alloc(LIMIT - 100, 0xab);
    const [back] = await ask(s, 'echo', buf);
    assert.ok(back.equals(buf));
  });
});
