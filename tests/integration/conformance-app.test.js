'use strict';
// The `--app conformance` mode, driven with raw Engine.IO / Socket.IO frames
// over both transports: the bare Engine.IO echo at /engine.io/ and the
// Socket.IO handlers the official protocol test suites expect ("auth" greeting,
// "message" -> "message-back", "message-with-ack" acked with its arguments,
// namespace "/custom", unknown namespaces refused).
//
// Every wait has a generous upper bound and no test depends on a timer
// firing early or late, except the timeout tests, which only bound from below
// with margins far larger than the configured values.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { closeAll, request, RawPolling, RawWS, SEP, DEFAULT_WAIT_MS } = require('./lib/util');

const PH0 = '{"_placeholder":true,"num":0}';
const PH1 = '{"_placeholder":true,"num":1}';

/** Frame-level client over one transport: send(str|Buffer), next() -> str|Buffer.
 *  Pings are answered and skipped; binary arrives as a Buffer on both transports. */
class Polling {
  constructor(base, prefix) {
    this.p = new RawPolling(base, prefix);
    this.queue = [];
  }
  async open() {
    this.handshake = await this.p.open();
    return this.handshake;
  }
  async send(...frames) {
    const body = frames.map((f) => (Buffer.isBuffer(f) ? `b${f.toString('base64')}` : f)).join(SEP);
    const r = await this.p.post(body);
    assert.equal(r.status, 200, `POST ${JSON.stringify(body)} -> ${r.status} ${r.body}`);
    assert.equal(r.body, 'ok');
  }
  /** One GET, raw payload (frames not decoded). */
  async getRaw() {
    const r = await this.p.get();
    assert.equal(r.status, 200, `GET -> ${r.status} ${r.body}`);
    return r.body;
  }
  async next(ms = DEFAULT_WAIT_MS) {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a polling packet');
      for (const f of (await this.getRaw()).split(SEP)) {
        if (f === '2') await this.p.post('3');
        else this.queue.push(f[0] === 'b' ? Buffer.from(f.slice(1), 'base64') : f);
      }
    }
    return this.queue.shift();
  }
  close() {}
}

class WS {
  constructor(base, prefix) {
    this.w = new RawWS(`${base.replace(/^http/, 'ws')}${prefix}?EIO=4&transport=websocket`);
  }
  async open() {
    await this.w.opened();
    const hs = await this.w.next();
    assert.equal(typeof hs, 'string');
    assert.equal(hs[0], '0', `handshake ${hs}`);
    this.handshake = JSON.parse(hs.slice(1));
    return this.handshake;
  }
  async send(...frames) {
    for (const f of frames) this.w.send(f);
  }
  async next(ms = DEFAULT_WAIT_MS) {
    for (;;) {
      const m = await this.w.next(ms);
      if (m === '2') this.w.send('3');
      else return m;
    }
  }
  close() {
    this.w.close();
  }
}

const transports = { polling: Polling, websocket: WS };

async function open(srv, kind, prefix) {
  const c = new transports[kind](srv.url, prefix);
  open.track.push(c);
  await c.open();
  return c;
}
open.track = [];

function closeClients() {
  for (const c of open.track.splice(0)) c.close();
  closeAll();
}

/** Socket.IO CONNECT to nsp; returns the CONNECT payload. */
async function sioConnect(c, nsp = '/', auth) {
  const prefix = nsp === '/' ? '' : `${nsp},`;
  await c.send(`40${prefix}${auth ? JSON.stringify(auth) : ''}`);
  const m = await c.next();
  assert.equal(typeof m, 'string');
  assert.ok(m.startsWith(`40${prefix}{`), `CONNECT reply ${m}`);
  return JSON.parse(m.slice(2 + prefix.length));
}

describe('conformance app: Engine.IO echo at /engine.io/', () => {
  let srv;
  before(async () => { srv = await startServer({ app: 'conformance' }); });
  after(async () => { closeClients(); await srv.stop(); });

  test('polling: three text messages in one POST come back in one GET', async () => {
    const c = await open(srv, 'polling', '/engine.io/');
    assert.equal(typeof c.handshake.sid, 'string');
    assert.deepEqual(c.handshake.upgrades, ['websocket']);
    await c.send('4test1', '4test2', '4test3');
    assert.equal(await c.getRaw(), `4test1${SEP}4test2${SEP}4test3`);
  });

  test('polling: a binary message is echoed as b+base64', async () => {
    const c = await open(srv, 'polling', '/engine.io/');
    await c.send('bAQIDBA==');
    assert.equal(await c.getRaw(), 'bAQIDBA==');
  });

  test('websocket: a text message is echoed', async () => {
    const c = await open(srv, 'websocket', '/engine.io/');
    assert.deepEqual(c.handshake.upgrades, []);
    await c.send('4hello');
    assert.equal(await c.next(), '4hello');
  });

  test('websocket: a binary frame is echoed as a binary frame', async () => {
    const c = await open(srv, 'websocket', '/engine.io/');
    await c.send(Buffer.from([1, 2, 3, 4]));
    const m = await c.next();
    assert.ok(Buffer.isBuffer(m), `got ${JSON.stringify(m)}`);
    assert.deepEqual(m, Buffer.from([1, 2, 3, 4]));
    await c.send('4after');
    assert.equal(await c.next(), '4after');
  });

  test('the echo endpoint speaks no Socket.IO: "40" comes back as is', async () => {
    const c = await open(srv, 'websocket', '/engine.io/');
    await c.send('40');
    assert.equal(await c.next(), '40');
  });
});

for (const kind of ['polling', 'websocket']) {
  describe(`conformance app: Socket.IO over ${kind}`, () => {
    let srv;
    before(async () => { srv = await startServer({ app: 'conformance' }); });
    after(async () => { closeClients(); await srv.stop(); });

    test('CONNECT "40" -> 40{"sid"} then 42["auth",{}]', async () => {
      const c = await open(srv, kind, '/socket.io/');
      const p = await sioConnect(c);
      assert.equal(typeof p.sid, 'string');
      assert.ok(p.sid.length > 0);
      assert.notEqual(p.sid, c.handshake.sid, 'the Socket.IO id is not the Engine.IO sid');
      assert.equal(await c.next(), '42["auth",{}]');
    });

    test('CONNECT with auth: the auth object is echoed in "auth"', async () => {
      const c = await open(srv, kind, '/socket.io/');
      await sioConnect(c, '/', { token: '123' });
      assert.equal(await c.next(), '42["auth",{"token":"123"}]');
    });

    test('"message" -> exactly 42["message-back",...] with the same arguments', async () => {
      const c = await open(srv, kind, '/socket.io/');
      await sioConnect(c);
      assert.equal(await c.next(), '42["auth",{}]');
      await c.send('42["message",1,"2",{"3":[true]}]');
      assert.equal(await c.next(), '42["message-back",1,"2",{"3":[true]}]');
    });

    test('"message-with-ack" -> exactly 43456[...] with the same arguments', async () => {
      const c = await open(srv, kind, '/socket.io/');
      await sioConnect(c);
      assert.equal(await c.next(), '42["auth",{}]');
      await c.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      assert.equal(await c.next(), '43456[1,"2",{"3":[false]}]');
    });

    test('binary "message" with 2 attachments -> 452-["message-back",...] + both frames in order', async () => {
      const c = await open(srv, kind, '/socket.io/');
      await sioConnect(c);
      assert.equal(await c.next(), '42["auth",{}]');
      await c.send(`452-["message",${PH0},${PH1}]`, Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6]));
      assert.equal(await c.next(), `452-["message-back",${PH0},${PH1}]`);
      const b0 = await c.next();
      const b1 = await c.next();
      assert.ok(Buffer.isBuffer(b0) && Buffer.isBuffer(b1), `got ${JSON.stringify([b0, b1])}`);
      assert.deepEqual(b0, Buffer.from([1, 2, 3]));
      assert.deepEqual(b1, Buffer.from([4, 5, 6]));
    });

    test('binary "message-with-ack" -> 462-<id>[...] + the attachment', async () => {
      const c = await open(srv, kind, '/socket.io/');
      await sioConnect(c);
      assert.equal(await c.next(), '42["auth",{}]');
      await c.send(`451-789["message-with-ack","x",${PH0}]`, Buffer.from([9, 8]));
      assert.equal(await c.next(), `461-789["x",${PH0}]`);
      assert.deepEqual(await c.next(), Buffer.from([9, 8]));
    });

    test('"40/custom" -> 40/custom,{"sid"} then 42/custom,["auth",{}]', async () => {
      const c = await open(srv, kind, '/socket.io/');
      const p = await sioConnect(c, '/custom');
      assert.equal(typeof p.sid, 'string');
      assert.equal(await c.next(), '42/custom,["auth",{}]');
      // "/custom" has no message handlers; the main namespace still works alongside.
      await sioConnect(c);
      assert.equal(await c.next(), '42["auth",{}]');
      await c.send('42["message",1]');
      assert.equal(await c.next(), '42["message-back",1]');
    });

    test('"40/random" -> 44/random,{"message":"Invalid namespace"}', async () => {
      const c = await open(srv, kind, '/socket.io/');
      await c.send('40/random');
      assert.equal(await c.next(), '44/random,{"message":"Invalid namespace"}');
      // The Engine.IO session survives the refusal.
      await sioConnect(c);
      assert.equal(await c.next(), '42["auth",{}]');
    });
  });
}

describe('conformance app: heartbeat (pingInterval 300, pingTimeout 200)', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      app: 'conformance',
      settings: { pingInterval: 300, pingTimeout: 200 },
    });
  });
  after(async () => { closeClients(); await srv.stop(); });

  test('the handshake advertises the configured heartbeat', async () => {
    for (const [kind, prefix] of [['polling', '/socket.io/'], ['websocket', '/socket.io/'], ['websocket', '/engine.io/']]) {
      const c = await open(srv, kind, prefix);
      assert.equal(c.handshake.pingInterval, 300);
      assert.equal(c.handshake.pingTimeout, 200);
      assert.equal(typeof c.handshake.maxPayload, 'number');
    }
  });

  test('websocket: a ping comes, and without a pong the server closes the connection', async () => {
    const w = new RawWS(`${srv.url.replace(/^http/, 'ws')}/engine.io/?EIO=4&transport=websocket`);
    await w.opened();
    assert.equal((await w.next())[0], '0');
    const t0 = Date.now();
    assert.equal(await w.next(), '2');
    await w.waitClose();
    // Closed no earlier than pingInterval + pingTimeout (with margin for
    // clock granularity), and well before the generous wait bound.
    assert.ok(Date.now() - t0 >= 150, `closed after ${Date.now() - t0} ms`);
  });

  test('polling: without a pong the session is gone (GET answers noop/close or 400)', async () => {
    const c = new RawPolling(srv.url, '/engine.io/');
    await c.open();
    const first = await c.get();
    assert.equal(first.status, 200);
    assert.equal(first.body, '2');
    // Do not answer. The next GETs end with "1"/"6" or an HTTP error once
    // the server dropped the session.
    const deadline = Date.now() + DEFAULT_WAIT_MS;
    for (;;) {
      assert.ok(Date.now() < deadline, 'session not closed');
      const r = await c.get();
      if (r.status !== 200) {
        assert.equal(r.status, 400);
        break;
      }
      const frames = r.body.split(SEP);
      assert.ok(frames.every((f) => ['1', '6', '2'].includes(f)), `unexpected ${r.body}`);
      if (frames.includes('1')) break;
    }
  });
});

describe('conformance app: connectTimeout 1000', () => {
  let srv;
  // A long heartbeat: only connectTimeout can close these connections.
  before(async () => {
    srv = await startServer({ app: 'conformance', settings: { connectTimeout: 1000, pingInterval: 25000, pingTimeout: 20000 } });
  });
  after(async () => { closeClients(); await srv.stop(); });

  test('websocket: no CONNECT within connectTimeout closes the connection', async () => {
    const t0 = Date.now(); // before the server's clock starts: never reads short
    const w = new RawWS(`${srv.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    await w.opened();
    assert.equal((await w.next())[0], '0');
    const closed = (async () => {
      for (;;) {
        let m;
        try {
          m = await w.next();
        } catch {
          return;
        }
        if (m === '2') w.send('3');
        else assert.fail(`unexpected ${m}`);
      }
    })();
    await w.waitClose();
    await closed;
    assert.ok(Date.now() - t0 >= 800, `closed after ${Date.now() - t0} ms`);
  });

  test('a connected socket outlives connectTimeout and keeps answering', async () => {
    const c = await open(srv, 'websocket', '/socket.io/');
    await sioConnect(c);
    assert.equal(await c.next(), '42["auth",{}]');
    await new Promise((r) => setTimeout(r, 1500));
    await c.send('42["message","still here"]');
    assert.equal(await c.next(), '42["message-back","still here"]');
  });
});

test('conformance app: the suites\' timings are its defaults; explicit settings win', { skip: process.env.SG_REF ? 'siogate app defaults' : false }, async () => {
  const srv = await startServer({ app: 'conformance' });
  try {
    const c = await open(srv, 'polling', '/socket.io/');
    assert.equal(c.handshake.pingInterval, 300);
    assert.equal(c.handshake.pingTimeout, 200);
  } finally {
    closeClients();
    await srv.stop();
  }
  const srv2 = await startServer({ app: 'conformance', settings: { pingInterval: 4000 } });
  try {
    const c = await open(srv2, 'polling', '/socket.io/');
    assert.equal(c.handshake.pingInterval, 4000);
    assert.equal(c.handshake.pingTimeout, 200);
  } finally {
    closeClients();
    await srv2.stop();
  }
});

// A plain HTTP request to the echo path is an Engine.IO request, not a file.
test('conformance app: a GET without EIO on /engine.io/ is an Engine.IO error, not 404', async () => {
  const srv = await startServer({ app: 'conformance' });
  try {
    const r = await request(srv.url, { path: '/engine.io/' });
    assert.equal(r.status, 400);
  } finally {
    await srv.stop();
  }
});
