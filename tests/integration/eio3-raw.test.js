'use strict';
// Engine.IO v3 / Socket.IO protocol 4 (setting allowEIO3) on the wire: raw
// HTTP long-polling (text, XHR2 binary and JSONP payloads) and raw
// WebSocket, each detail as Node's socket.io 4.8 does it. The real 2.x
// client: eio3.test.js. Payload formats: lib/eio3.js.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const {
  connected, closeAll, ask, recorder, request, RawPolling, RawWS, DEFAULT_WAIT_MS,
} = require('./lib/util');
const {
  PollingV3, wsUrl3, encodeBinary, decodeBinary, binPacket, unwrapJsonp, closeAll2,
} = require('./lib/eio3');

const PH0 = '{"_placeholder":true,"num":0}';
const cleanup = () => { closeAll2(); closeAll(); };

function assertJsonError(res, status, code, message) {
  assert.equal(res.status, status, `status (body: ${res.body})`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(res.body), { code, message });
}

/** GET until the session is unknown (400 code 1); 200 answers may only carry noop/close. */
async function assertSessionGone(p) {
  const deadline = Date.now() + DEFAULT_WAIT_MS;
  for (;;) {
    const res = await p.get();
    if (res.status === 400) {
      assert.deepEqual(JSON.parse(res.body), { code: 1, message: 'Session ID unknown' });
      return;
    }
    assert.equal(res.status, 200);
    for (const pkt of p.decode(res)) assert.ok(['1', '6'].includes(pkt), `unexpected packet ${JSON.stringify(pkt)} on a closing session`);
    assert.ok(Date.now() < deadline, 'session was not closed');
  }
}

/** v4 observer in room "observers" of `nsp`: server-side disconnect reason by socket id. */
async function observe(url, nsp = '') {
  const o = await connected(url + nsp, { transports: ['websocket'] });
  await ask(o, 'join', 'observers');
  const peers = recorder(o, 'peer disconnect');
  return async (id) => (await peers.match((p) => p.id === id))[0].reason;
}

/** The ack id of the server's packet `${prefix}<id>${rest}` (ack ids count per namespace). */
function requestId(pkt, prefix, rest) {
  assert.ok(pkt.startsWith(prefix) && pkt.endsWith(rest), `${JSON.stringify(pkt)} is ${prefix}<id>${rest}`);
  const id = pkt.slice(prefix.length, pkt.length - rest.length);
  assert.match(id, /^\d+$/);
  return id;
}

/** Raw v3 WebSocket session: open packet, then the implicit "40". */
async function wsSession(base, query = '') {
  const ws = new RawWS(wsUrl3(base, query));
  const open = await ws.next();
  assert.equal(typeof open, 'string');
  assert.equal(open[0], '0');
  const hs = JSON.parse(open.slice(1));
  assert.equal(await ws.next(), '40', 'the implicit CONNECT to "/", no payload');
  return { ws, hs, sid: hs.sid };
}

describe('allowEIO3 off (the default)', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { cleanup(); await srv.stop(); });

  test('EIO=3 polling handshake -> 400 {"code":5,"message":"Unsupported protocol version"}', async () => {
    for (const q of ['', '&b64=1', '&j=0']) {
      assertJsonError(await request(srv.url, { path: `/socket.io/?EIO=3&transport=polling${q}` }), 400, 5, 'Unsupported protocol version');
    }
  });

  // Node answers the upgrade with 101 and then writes an HTTP 400 on the
  // upgraded connection; refusing before the 101 is as good: no session.
  test('EIO=3 WebSocket: no Engine.IO session, the connection ends', async () => {
    const ws = new RawWS(wsUrl3(srv.url));
    await ws.waitClose();
    assert.deepEqual(ws.queue.filter((m) => typeof m === 'string' && m[0] === '0'), []);
  });

  test('EIO=4 works as before', async () => {
    const p = new RawPolling(srv.url);
    assert.ok(await p.connectSio());
  });
});

describe('allowEIO3 on: handshake, text framing, binary, JSONP, namespaces', () => {
  let srv;
  let reasonFor;
  before(async () => {
    srv = await startServer({ settings: { allowEIO3: true } });
    reasonFor = await observe(srv.url);
  });
  after(async () => { cleanup(); await srv.stop(); });

  test('polling handshake: "<len>:0{...}" (length-prefixed open packet), then the implicit "40"', async () => {
    const p = new PollingV3(srv.url);
    const hs = await p.open();
    const res = p.handshakeResponse;
    assert.equal(res.headers['content-type'], 'text/plain; charset=UTF-8');
    const m = /^(\d+):(0\{.*?\})(?=\d+:|$)/.exec(res.body);
    assert.ok(m, `framed open packet: ${res.body}`);
    assert.equal(Number(m[1]), m[2].length);
    assert.deepEqual(Object.keys(hs).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.deepEqual(hs.upgrades, ['websocket']);
    assert.equal(hs.pingInterval, 25000);
    assert.equal(hs.pingTimeout, 20000);
    assert.equal(hs.maxPayload, 1000000);
    // the CONNECT for "/" comes by itself (same or next GET), without payload
    assert.equal(await p.next(), '40');
    // the socket id of "/" is the Engine.IO sid
    await p.post(['421["rooms"]']);
    assert.equal(await p.next(), `431[["${hs.sid}"]]`);
  });

  test('WebSocket handshake: text frames "0{...}" (no upgrades) and "40", no length prefix', async () => {
    const { ws, hs } = await wsSession(srv.url);
    assert.deepEqual(hs.upgrades, []);
    ws.send('421["echo","ws"]');
    assert.equal(await ws.next(), '431["ws"]');
    ws.close();
  });

  test('EIO=4 still works on the same server (explicit CONNECT, sid in the reply)', async () => {
    const p = new RawPolling(srv.url);
    const id = await p.connectSio();
    assert.notEqual(id, p.sid);
    const v4 = await connected(srv.url);
    assert.deepEqual(await ask(v4, 'echo', 'v4'), ['v4']);
  });

  test('text framing: the length counts UTF-16 code units ("é€😀" -> 11:431["é€😀"])', async () => {
    const p = new PollingV3(srv.url);
    await p.connect();
    const ev = '421["echo","é€😀"]';
    assert.equal(ev.length, 18); // 😀 counts 2; in UTF-8 these are 23 bytes
    assert.equal(Buffer.byteLength(ev), 23);
    const r = await p.post(`${ev.length}:${ev}`);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
    assert.equal(r.headers['content-type'], 'text/html');
    assert.equal(await p.next(), '431["é€😀"]');
    const answer = p.answers.find((a) => a.packets.includes('431["é€😀"]'));
    assert.ok(answer.res.body.includes('11:431["é€😀"]'), answer.res.body);
    assert.equal(answer.res.headers['content-type'], 'text/plain; charset=UTF-8');
  });

  test('several packets in one POST: ping and two events -> pong and two acks', async () => {
    const p = new PollingV3(srv.url);
    await p.connect();
    await p.post(['2', '421["echo","a"]', '422["echo","😀",{"k":[1]}]']);
    const got = [await p.next(), await p.next(), await p.next()];
    assert.deepEqual(got.slice().sort(), ['3', '431["a"]', '432["😀",{"k":[1]}]']);
  });

  // Node: the POST is still answered 200 "ok"; the payload is dropped and
  // the session closed ("parse error").
  for (const [what, body] of [
    ['length longer than the rest', '3:42'],
    ['non-digit in the length', '2x:40'],
    ['no length', '42["echo","x"]'],
    ['empty length', ':42'],
    ['unknown packet type', '1:9'],
  ]) {
    test(`malformed payload (${what}): 200 "ok", session closed, server reason "parse error"`, async () => {
      const p = new PollingV3(srv.url);
      await p.connect();
      const r = await p.post(body);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
      await assertSessionGone(p);
      assert.equal(await reasonFor(p.sid), 'parse error');
    });
  }

  test('b64=1: binary travels as "b4<base64>" inside the text framing, both ways', async () => {
    const p = new PollingV3(srv.url, { handshakeQuery: '&b64=1' });
    await p.connect();
    // client -> server: a BINARY_EVENT with its attachment in base64
    await p.post([`451-["emit with ack",5000,${PH0}]`, 'b4AQID']);
    // server -> client: the "request" with the Buffer [1,2,3]
    const id = requestId(await p.next(), `451-`, `["request",${PH0}]`);
    assert.equal(await p.next(), 'b4AQID');
    const answer = p.answers.find((a) => a.packets.includes('b4AQID'));
    assert.equal(answer.res.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.ok(answer.res.body.includes('6:b4AQID'));
    // binary ack back, then the server reports it
    await p.post([`461-${id}[${PH0},"x"]`, 'b4/v8=']);
    assert.equal(await p.next(), `451-["ack result",{"err":null,"args":[${PH0},"x"]}]`);
    assert.equal(await p.next(), 'b4/v8=');
  });

  test('XHR2 binary framing both ways (no b64): octet-stream POST accepted, GET answered in octet-stream', async () => {
    const p = new PollingV3(srv.url);
    await p.connect();
    const ev = `451-7["echo","é€😀",${PH0}]`;
    const r = await p.post([ev, binPacket([9, 8, 7])]);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
    const ack = `461-7["é€😀",${PH0}]`;
    assert.equal(await p.next(), ack);
    assert.deepEqual(await p.next(), binPacket([9, 8, 7]));
    const answer = p.answers.find((a) => a.packets.includes(ack));
    assert.equal(answer.contentType, 'application/octet-stream');
    // string packets: kind byte 0, length in UTF-8 BYTES as one byte per digit, 0xff
    const n = Buffer.byteLength(ack);
    assert.notEqual(n, ack.length);
    const head = Buffer.from([0, ...String(n).split('').map(Number), 0xff]);
    assert.ok(answer.res.raw.includes(Buffer.concat([head, Buffer.from(ack)])), 'string packet framed with its byte length');
    assert.ok(answer.res.raw.includes(Buffer.from([1, 4, 0xff, 4, 9, 8, 7])), 'binary packet: kind 1, length 4, type byte 4');
    assert.deepEqual(decodeBinary(answer.res.raw), answer.packets);
  });

  test('the same octet-stream POST on an EIO=4 session -> 400, session closed', async () => {
    const p = new RawPolling(srv.url);
    await p.connectSio();
    const body = encodeBinary([`451-["echo",${PH0}]`, binPacket([1])]);
    const r = await p.post(body, { headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(r.status, 400);
    const res = await p.get();
    if (res.status === 200) assert.equal(res.body, '1');
    else assertJsonError(res, 400, 1, 'Session ID unknown');
  });

  test('WebSocket binary frames start with the type byte 4, both ways; text frames as in v4', async () => {
    const { ws } = await wsSession(srv.url);
    ws.send(`451-3["echo","t",${PH0}]`);
    ws.send(binPacket([0xaa, 0xbb]));
    assert.equal(await ws.next(), `461-3["t",${PH0}]`);
    assert.deepEqual(await ws.next(), Buffer.from([4, 0xaa, 0xbb]));
    ws.send(`42["emit with ack",5000,"s"]`);
    const id = requestId(await ws.next(), '42', '["request","s"]');
    ws.send(`461-${id}[${PH0}]`);
    ws.send(binPacket([7]));
    assert.equal(await ws.next(), `451-["ack result",{"err":null,"args":[${PH0}]}]`);
    assert.deepEqual(await ws.next(), Buffer.from([4, 7]));
    ws.close();
  });

  test('WebSocket with b64=1 (a client with forceBase64): binary goes out as "b4<base64>" text frames, and comes in that way too', async () => {
    const { ws } = await wsSession(srv.url, '&b64=1');
    ws.send(`451-3["echo","t",${PH0}]`);
    ws.send('b4qrs='); // 0xaa 0xbb
    assert.equal(await ws.next(), `461-3["t",${PH0}]`);
    assert.equal(await ws.next(), 'b4qrs=');
    ws.close();
  });

  test('upgrade from v3 polling: 2probe -> 3probe, held GET released, 5, then WebSocket', async () => {
    const p = new PollingV3(srv.url);
    await p.connect();
    const ws = new RawWS(wsUrl3(srv.url, `&sid=${encodeURIComponent(p.sid)}`));
    await ws.opened();
    const held = p.get();
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    // the held GET ends so that the client can send the upgrade packet
    const res = await held;
    assert.equal(res.status, 200);
    for (const pkt of p.decode(res)) assert.equal(pkt, '6');
    ws.send('5');
    ws.send('421["echo","upgraded"]');
    assert.equal(await ws.next(), '431["upgraded"]');
    ws.send('2');
    assert.equal(await ws.next(), '3');
    // the polling transport is gone
    assertJsonError(await p.get(), 400, 3, 'Bad request');
    ws.close();
  });

  // JSONP: chosen by a `j` query parameter, for EIO=3 and EIO=4 alike.
  for (const eio of [3, 4]) {
    test(`JSONP, EIO=${eio}: ___eio[0]("<payload>"); answers, d=<payload> POSTs answered "ok"`, async () => {
      // the v2 client asks for b64=1 on a JSONP handshake
      const p = new PollingV3(srv.url, { eio, query: '&j=0', handshakeQuery: eio === 3 ? '&b64=1' : '' });
      const hs = await p.open();
      const res = p.handshakeResponse;
      assert.equal(res.headers['content-type'], 'text/plain; charset=UTF-8');
      assert.match(res.body, /^___eio\[0\]\(".*"\);$/s);
      const payload = unwrapJsonp(res.body);
      // v3: the text framing inside the literal; v4: the bare open packet
      assert.match(payload, eio === 3 ? /^\d+:0\{/ : /^0\{/);
      assert.equal(hs.upgrades[0], 'websocket');
      if (eio === 4) {
        const r = await p.post(['40']);
        assert.equal(r.status, 200);
        assert.equal(r.body, 'ok');
        assert.equal(r.headers['content-type'], 'text/html');
        assert.match(await p.next(), /^40\{"sid":"[^"]+"\}$/);
      } else {
        assert.equal(await p.next(), '40');
      }
      // a string with quotes, a backslash and U+2028 comes back intact, as a JavaScript string literal
      const text = 'é€😀 "q" \\ \u2028 end';
      const r = await p.post([`421${JSON.stringify(['echo', text])}`]);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
      assert.equal(await p.next(), `431${JSON.stringify([text])}`);
      const answer = p.answers[p.answers.length - 1];
      assert.ok(!answer.res.body.includes('\u2028'), 'U+2028 is escaped');
      // binary: base64 packets inside the payload (v3 "b4...", v4 "b...")
      const b64 = eio === 3 ? 'b4AQID' : 'bAQID';
      await p.post([`451-["emit with ack",5000,${PH0}]`, b64]);
      requestId(await p.next(), '451-', `["request",${PH0}]`);
      assert.equal(await p.next(), b64);
    });
  }

  test('a client "40" after the implicit connect is a duplicate: the connection is closed', async () => {
    const p = new PollingV3(srv.url);
    await p.connect();
    await p.post(['40']);
    await assertSessionGone(p);

    const { ws } = await wsSession(srv.url);
    ws.send('40');
    await ws.waitClose();
  });

  test('namespaces: "40/custom?x=1," -> "40/custom," (query -> auth), events "42/custom,[...]"', async () => {
    const { ws, sid } = await wsSession(srv.url);
    ws.send('40/custom?x=1&y=%C3%A9,');
    assert.equal(await ws.next(), '40/custom,');
    ws.send('42/custom,1["handshake"]');
    const hsPkt = await ws.next();
    assert.ok(hsPkt.startsWith('43/custom,1['), hsPkt);
    const [hs] = JSON.parse(hsPkt.slice('43/custom,1'.length));
    assert.deepEqual(hs.auth, { x: '1', y: 'é' });
    assert.equal(hs.query.EIO, '3');
    ws.send('42/custom,2["rooms"]');
    assert.equal(await ws.next(), `43/custom,2[["/custom#${sid}"]]`);
    ws.send('42/custom,["volatile","v",1]');
    assert.equal(await ws.next(), '42/custom,["message","v",1]');
    ws.send('40/nope,');
    assert.equal(await ws.next(), '44/nope,{"message":"Invalid namespace"}');
    // a refused CONNECT carries err.data || err.message
    ws.send('40/auth?token=wrong,');
    assert.equal(await ws.next(), '44/auth,{"reason":"bad token"}');
    ws.send('40/auth?token=secret,');
    assert.equal(await ws.next(), '40/auth,');
    assert.equal(await ws.next(), '42/auth,["auth",{"token":"secret"}]');
    // "/" still answers
    ws.send('421["echo","root"]');
    assert.equal(await ws.next(), '431["root"]');
    ws.close();
  });
});

const PING_INTERVAL = 400;
const PING_TIMEOUT = 600;
describe(`allowEIO3 on: heartbeat (pingInterval ${PING_INTERVAL}, pingTimeout ${PING_TIMEOUT})`, () => {
  let srv;
  let reasonFor;
  before(async () => {
    srv = await startServer({ settings: { allowEIO3: true, pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT } });
    reasonFor = await observe(srv.url);
  });
  after(async () => { cleanup(); await srv.stop(); });

  test('the client pings: "2" -> "3" over polling and WebSocket, and pings keep the session alive', async () => {
    const p = new PollingV3(srv.url);
    const hs = await p.connect();
    assert.equal(hs.pingInterval, PING_INTERVAL);
    assert.equal(hs.pingTimeout, PING_TIMEOUT);
    await p.post(['2']);
    assert.equal(await p.next(), '3');

    const { ws } = await wsSession(srv.url);
    const t0 = Date.now();
    // well past pingInterval + pingTimeout, one ping every 200 ms
    while (Date.now() - t0 < 2 * (PING_INTERVAL + PING_TIMEOUT)) {
      ws.send('2');
      assert.equal(await ws.next(), '3');
      await new Promise((r) => setTimeout(r, 200));
    }
    ws.send('421["echo","alive"]');
    assert.equal(await ws.next(), '431["alive"]');
    ws.close();
  });

  test('a pong "3" from a v3 client closes the session (server reason "transport error")', async () => {
    const p = new PollingV3(srv.url);
    await p.connect();
    const r = await p.post(['3']);
    assert.equal(r.status, 200);
    await assertSessionGone(p);
    assert.equal(await reasonFor(p.sid), 'transport error');

    const { ws, sid } = await wsSession(srv.url);
    ws.send('3');
    await ws.waitClose();
    assert.equal(await reasonFor(sid), 'transport error');
  });

  test('polling: no ping within pingInterval + pingTimeout -> the held GET gets the close packet, then 400', async () => {
    const p = new PollingV3(srv.url);
    const t0 = Date.now();
    await p.connect();
    // no ping: the next GET is held until the server gives up
    const res = await p.get();
    const elapsed = Date.now() - t0;
    if (res.status === 200) assert.deepEqual(p.decode(res).filter((x) => x !== '6'), ['1']);
    else assertJsonError(res, 400, 1, 'Session ID unknown');
    assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 50, `closed after only ${elapsed} ms`);
    assertJsonError(await p.get(), 400, 1, 'Session ID unknown');
    assert.equal(await reasonFor(p.sid), 'ping timeout');
  });

  test('WebSocket: no ping within pingInterval + pingTimeout -> closed, server reason "ping timeout"', async () => {
    const t0 = Date.now();
    const { ws, sid } = await wsSession(srv.url);
    await ws.waitClose();
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 50, `closed after only ${elapsed} ms`);
    assert.deepEqual(ws.queue, [], 'the server sends no ping of its own');
    assert.equal(await reasonFor(sid), 'ping timeout');
  });
});
