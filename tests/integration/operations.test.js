'use strict';
// Operations: the admin listener (/metrics checked by Prometheus' own
// `promtool check metrics`, /health, /ready), what it refuses, JSON log
// lines, and the graceful drain on SIGTERM (drainSeconds): /ready turns 503,
// new sessions are refused, the clients are closed evenly over the window
// as a server shutdown (they would reconnect elsewhere), the process exits
// 0; a second signal stops at once.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { execFileSync } = require('node:child_process');
const { connected, closeAll, ask, requireProgram, DEFAULT_WAIT_MS } = require('./lib/util');
const { startServer, freePort, HOST } = require('./lib/server');
const { until } = require('./lib/cluster');

const skip = process.env.SG_REF === '1' && 'siogate\'s admin listener and drain (Node has neither)';
const PROMTOOL = '/usr/bin/promtool';

async function get(port, path, method = 'GET') {
  const res = await fetch(`http://${HOST}:${port}${path}`, { method });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

/** The value of one sample line of a Prometheus text body. */
function sample(body, name) {
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Raw bytes to the admin port; resolves what came back before the close. */
function raw(port, bytes, { wait = DEFAULT_WAIT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST);
    let got = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error('the admin listener did not close')); }, wait);
    s.on('data', (d) => { got += d; });
    s.on('close', () => { clearTimeout(t); resolve(got); });
    s.on('error', () => {});
    s.on('connect', () => { if (bytes) s.write(bytes); });
  });
}

describe('admin listener', { skip }, () => {
  let server;
  let admin;
  before(async () => {
    admin = await freePort();
    server = await startServer({ settings: { adminPort: admin } });
  });
  after(async () => {
    closeAll();
    if (server) await server.stop();
  });

  test('/metrics is valid Prometheus text and counts what clients do', async () => {
    requireProgram(PROMTOOL, 'prometheus');
    const a = await connected(server.url, { transports: ['websocket'] });
    const b = await connected(server.url, { transports: ['websocket'] });
    const c = await connected(server.url, { transports: ['polling'] });
    await ask(a, 'join', 'room1');
    await ask(b, 'join', ['room1', 'room2']);
    await ask(c, 'echo', 'x');
    const m = await get(admin, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    // promtool exits non-zero on a parse error or a convention it lints
    execFileSync(PROMTOOL, ['check', 'metrics'], { input: m.body });
    assert.equal(sample(m.body, 'engineio_sessions{transport="websocket"}'), 2);
    assert.equal(sample(m.body, 'engineio_sessions{transport="polling"}'), 1);
    assert.equal(sample(m.body, 'socketio_sockets{namespace="/"}'), 3);
    assert.equal(sample(m.body, 'socketio_rooms{namespace="/"}'), 2);
    assert.ok(sample(m.body, 'socketio_events_received_total') >= 3);
    assert.equal(sample(m.body, 'siogate_adapter_up'), 1);
    assert.ok(sample(m.body, 'process_resident_memory_bytes') > 1e6);
    assert.ok(sample(m.body, 'process_open_fds') >= 4);
    assert.equal(sample(m.body, 'siogate_draining'), 0);
    closeAll();
    await until(async () => sample((await get(admin, '/metrics')).body, 'socketio_sockets{namespace="/"}') === 0,
      DEFAULT_WAIT_MS, 'the sockets are gone from the gauge');
    const after = (await get(admin, '/metrics')).body;
    assert.equal(sample(after, 'socketio_disconnects_total'), 3);
    assert.equal(sample(after, 'engineio_sessions_opened_total'), 3);
  });

  test('/health and /ready answer; other paths and methods are refused', async () => {
    assert.deepEqual(await get(admin, '/health'), { status: 200, body: 'ok\n', type: 'text/plain; charset=utf-8' });
    assert.equal((await get(admin, '/ready')).status, 200);
    assert.equal((await get(admin, '/ready?x=1')).status, 200);
    assert.equal((await get(admin, '/')).status, 404);
    assert.equal((await get(admin, '/health', 'POST')).status, 405);
    // nothing of the admin listener on the public port
    const pub = await fetch(`${server.url}/metrics`);
    assert.notEqual(pub.status, 200);
  });

  test('a head over 8 kB gets 431, a request that never ends is closed, garbage gets 400', async () => {
    const big = await raw(admin, `GET /metrics HTTP/1.1\r\nX: ${'a'.repeat(9000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    const garbage = await raw(admin, 'hello\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    const t0 = Date.now();
    const slow = await raw(admin, 'GET /metr', { wait: 15000 });
    assert.equal(slow, '');
    assert.ok(Date.now() - t0 >= 4000, 'closed after the 5 s head deadline');
    // 100 idle connections at once: past 64 they are closed, and the
    // listener still answers
    const idle = [];
    for (let i = 0; i < 100; i++) idle.push(net.connect(admin, HOST).on('error', () => {}));
    await until(() => idle.filter((s) => s.destroyed || s.readyState === 'closed').length >= 30,
      DEFAULT_WAIT_MS, 'connections past the bound are closed');
    for (const s of idle) s.destroy();
    await until(async () => (await get(admin, '/health').catch(() => ({}))).status === 200,
      DEFAULT_WAIT_MS, '/health answers again');
  });
});

describe('readiness follows the adapter', { skip }, () => {
  test('/ready is 503 while Redis cannot be reached', async () => {
    const admin = await freePort();
    const dead = await freePort(); // nothing listens there
    const server = await startServer({
      settings: { adminPort: admin, adapter: 'redis', redisUrl: `redis://${HOST}:${dead}`, redisReconnectMax: 200 },
    });
    try {
      const r = await get(admin, '/ready');
      assert.equal(r.status, 503);
      assert.match(r.body, /not ready: adapter (connecting|down)/);
      assert.equal((await get(admin, '/health')).status, 200);
      const m = await get(admin, '/metrics');
      assert.equal(sample(m.body, 'siogate_adapter_up'), 0);
      assert.match(m.body, /siogate_adapter_info\{adapter="redis",state="connecting"\} 1/);
    } finally {
      await server.stop();
    }
  });
});

describe('JSON logs', { skip }, () => {
  test('logFormat=json writes one JSON object per line: time, level, msg', async () => {
    const server = await startServer({ settings: { logFormat: 'json', logLevel: 'debug' } });
    const s = await connected(server.url);
    await ask(s, 'echo', 'quote " backslash \\ newline \n');
    closeAll();
    await server.stop();
    const lines = server.logs().split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.length >= 2, 'some log lines');
    for (const l of lines) {
      const o = JSON.parse(l);
      assert.deepEqual(Object.keys(o), ['time', 'level', 'msg']);
      assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(['error', 'warn', 'info', 'debug'].includes(o.level));
    }
  });
});

describe('graceful drain', { skip }, () => {
  test('SIGTERM with drainSeconds=2: refused handshakes, 503 /ready, closes spread over the window, exit 0', async () => {
    const admin = await freePort();
    const server = await startServer({ settings: { adminPort: admin, drainSeconds: 2 } });
    const N = 20;
    const socks = await Promise.all(Array.from({ length: N }, () => connected(server.url, { transports: ['websocket'] })));
    const gone = socks.map((s) => new Promise((resolve) => s.on('disconnect', (reason) => resolve({ reason, at: Date.now() }))));
    const t0 = Date.now();
    const exited = server.signal('SIGTERM');
    await until(async () => (await get(admin, '/ready').catch(() => ({}))).status === 503, DEFAULT_WAIT_MS, '/ready turns 503');
    assert.match((await get(admin, '/ready')).body, /draining/);
    // a new polling handshake is refused while the drain runs
    const hs = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(hs.status, 503);
    assert.equal(await hs.text(), 'Server draining');
    const ends = await Promise.all(gone);
    const { code, signal } = await exited;
    const total = Date.now() - t0;
    assert.equal(code, 0, `exit status ${code} ${signal}`);
    for (const e of ends) assert.equal(e.reason, 'transport close');
    const at = ends.map((e) => e.at - t0).sort((x, y) => x - y);
    console.log(`drain of ${N} clients over 2 s: first close ${at[0]} ms, median ${at[N >> 1]} ms, last ${at[N - 1]} ms, exit after ${total} ms`);
    // evenly: not all at once, the last ones near the end of the window
    assert.ok(at[N - 1] - at[0] >= 1200, `closes spread over the window (${at[0]}..${at[N - 1]} ms)`);
    assert.ok(at[N >> 1] >= 500 && at[N >> 1] <= 1800, `half of them by mid-window (${at[N >> 1]} ms)`);
    assert.ok(total < 6000, `exited within the window and its grace (${total} ms)`);
    await server.stop();
  });

  test('a second signal stops at once', async () => {
    const server = await startServer({ settings: { drainSeconds: 60, logLevel: 'info' } });
    await Promise.all(Array.from({ length: 5 }, () => connected(server.url, { transports: ['websocket'] })));
    const t0 = Date.now();
    const exited = server.signal('SIGTERM');
    await until(() => /draining 5 sessions/.test(server.logs()), DEFAULT_WAIT_MS, 'the drain begins');
    server.signal('SIGINT');
    const { code } = await exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 5000, 'stopped long before drainSeconds');
    assert.match(server.logs(), /shutting down now \(second signal\)/);
    closeAll();
    await server.stop();
  });
});
