'use strict';
// Bad input: the documented Engine.IO HTTP errors, malformed packets and
// protocol violations close only the offending session; other clients keep
// working.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const {
  connected, closeAll, ask, request, RawPolling, RawWS, wsUrl, recorder, DEFAULT_WAIT_MS,
} = require('./lib/util');

function assertJsonError(res, status, code, message) {
  assert.equal(res.status, status, `status (body: ${res.body})`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(res.body), { code, message });
}

/** GET until the session is reported unknown (400 code 1); 200 bodies may only hold noop/close. */
async function assertSessionGone(p) {
  const deadline = Date.now() + DEFAULT_WAIT_MS;
  for (;;) {
    const res = await p.get();
    if (res.status === 400) {
      assert.deepEqual(JSON.parse(res.body), { code: 1, message: 'Session ID unknown' });
      return;
    }
    assert.equal(res.status, 200);
    for (const pkt of res.body.split('\x1e')) assert.ok(['1', '6'].includes(pkt), `unexpected packet ${JSON.stringify(pkt)} on a closing session`);
    assert.ok(Date.now() < deadline, 'session was not closed');
  }
}

describe('bad input', () => {
  let srv;
  let watcher; // a healthy client that must keep working
  before(async () => {
    srv = await startServer();
    watcher = await connected(srv.url, { transports: ['websocket'] });
  });
  after(async () => { closeAll(); await srv.stop(); });

  async function watcherStillWorks() {
    assert.ok(watcher.connected, 'the healthy client was disconnected');
    assert.deepEqual(await ask(watcher, 'echo', 'still here'), ['still here']);
  }

  test('missing transport -> 400 code 0 Transport unknown', async () => {
    assertJsonError(await request(srv.url, { path: '/socket.io/?EIO=4' }), 400, 0, 'Transport unknown');
  });

  test('unknown transport -> 400 code 0 Transport unknown', async () => {
    assertJsonError(await request(srv.url, { path: '/socket.io/?EIO=4&transport=carrier-pigeon' }), 400, 0, 'Transport unknown');
  });

  test('unknown sid -> 400 code 1 Session ID unknown (GET and POST)', async () => {
    assertJsonError(await request(srv.url, { path: '/socket.io/?EIO=4&transport=polling&sid=doesnotexist' }), 400, 1, 'Session ID unknown');
    assertJsonError(await request(srv.url, {
      method: 'POST', path: '/socket.io/?EIO=4&transport=polling&sid=doesnotexist', body: '40',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
    }), 400, 1, 'Session ID unknown');
  });

  test('POST handshake (no sid) -> 400 code 2 Bad handshake method', async () => {
    assertJsonError(await request(srv.url, {
      method: 'POST', path: '/socket.io/?EIO=4&transport=polling', body: '40',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
    }), 400, 2, 'Bad handshake method');
  });

  test('transport=websocket on a plain GET -> 400 code 3 Bad request', async () => {
    assertJsonError(await request(srv.url, { path: '/socket.io/?EIO=4&transport=websocket' }), 400, 3, 'Bad request');
  });

  test('EIO=3, EIO=abc or missing EIO -> 400 code 5 Unsupported protocol version', async () => {
    for (const q of ['EIO=3&transport=polling', 'EIO=abc&transport=polling', 'transport=polling']) {
      assertJsonError(await request(srv.url, { path: `/socket.io/?${q}` }), 400, 5, 'Unsupported protocol version');
    }
  });

  test('WebSocket with an unknown sid is refused with HTTP 400', async () => {
    const ws = new RawWS(wsUrl(srv.url, '&sid=doesnotexist'));
    await assert.rejects(ws.opened(), /unexpected response 400|Unexpected server response: 400/);
  });

  test('PUT / DELETE with a valid sid -> 500, the session survives', async () => {
    const p = new RawPolling(srv.url);
    await p.open();
    for (const method of ['PUT', 'DELETE']) {
      const res = await request(srv.url, { method, path: p.path(), body: method === 'PUT' ? '40' : undefined });
      assert.equal(res.status, 500, `${method} status`);
    }
    // still usable
    assert.equal((await p.post('40')).status, 200);
    const pkt = await p.until((x) => x.startsWith('40'));
    assert.match(pkt, /^40\{"sid":"[^"]+"\}$/);
    await p.post('1');
  });

  test('binary (application/octet-stream) POST -> 400 and the session is closed', async () => {
    const p = new RawPolling(srv.url);
    await p.open();
    const res = await p.post(Buffer.from([0x34, 0x01, 0x02]), { headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(res.status, 400);
    await assertSessionGone(p);
    await watcherStillWorks();
  });

  test('concurrent GET -> 400, the first GET gets the close packet "1", the session is gone', async () => {
    const p = new RawPolling(srv.url);
    await p.open();
    // Two GETs at once on separate connections. Whichever the server handles
    // first is held (nothing queued), the other one is refused with 400 and the
    // held one is released with the close packet "1".
    const [a, b] = await Promise.all([p.get(), p.get()]);
    const [held, refused] = a.status === 400 ? [b, a] : [a, b];
    assert.equal(refused.status, 400);
    assert.equal(held.status, 200);
    assert.equal(held.body, '1');
    await assertSessionGone(p);
    await watcherStillWorks();
  });

  test('malformed Engine.IO/Socket.IO packets over polling close only that session', async () => {
    for (const bad of ['4abc', '42{}', '42abc["x"]', '9', '4' + '5' + '"']) {
      const p = new RawPolling(srv.url);
      await p.connectSio();
      const other = new RawPolling(srv.url);
      await other.connectSio();
      const res = await p.post(bad);
      assert.ok([200, 400].includes(res.status), `POST ${bad}: ${res.status}`);
      await assertSessionGone(p);
      // the other raw session still works
      assert.equal((await other.post('42["echo","ok"]' )).status, 200);
      assert.equal((await other.post('421["echo","again"]')).status, 200);
      const ack = await other.until((x) => x.startsWith('431'));
      assert.equal(ack, '431["again"]');
      await other.post('1');
      await watcherStillWorks();
    }
  });

  test('first packet not a CONNECT closes the session', async () => {
    const p = new RawPolling(srv.url);
    await p.open();
    await p.post('42["echo","x"]');
    await assertSessionGone(p);
  });

  test('malformed packet over WebSocket closes that connection; other clients keep receiving', async () => {
    const other = await connected(srv.url, { transports: ['websocket'] });
    const msgs = recorder(other, 'message');
    for (const bad of ['4abc', '42{}', '42abc["x"]', '42["disconnect"]']) {
      const ws = new RawWS(wsUrl(srv.url));
      await ws.until((m) => m[0] === '0');
      ws.send('40');
      await ws.until((m) => m.startsWith('40'));
      ws.send(bad);
      await ws.waitClose();
      // a broadcast from the healthy watcher still reaches the other client
      watcher.emit('broadcast', null, `after ${bad}`);
      await msgs.match((m) => m === `after ${bad}`);
    }
    await watcherStillWorks();
    other.disconnect();
  });

  test('unexpected binary frame over WebSocket closes that connection', async () => {
    const ws = new RawWS(wsUrl(srv.url));
    await ws.until((m) => m[0] === '0');
    ws.send('40');
    await ws.until((m) => m.startsWith('40'));
    ws.send(Buffer.from([1, 2, 3]));
    await ws.waitClose();
    await watcherStillWorks();
  });

  test('an EVENT for a namespace the session has not joined closes the connection', async () => {
    const ws = new RawWS(wsUrl(srv.url));
    await ws.until((m) => m[0] === '0');
    ws.send('40');
    await ws.until((m) => m.startsWith('40'));
    ws.send('42/custom,1["echo","x"]');
    await ws.waitClose();
    await watcherStillWorks();
  });

  test('a second CONNECT to an already joined namespace closes the connection', async () => {
    const ws = new RawWS(wsUrl(srv.url));
    await ws.until((m) => m[0] === '0');
    ws.send('40');
    await ws.until((m) => m.startsWith('40'));
    ws.send('40');
    await ws.waitClose();
    await watcherStillWorks();
  });
});
