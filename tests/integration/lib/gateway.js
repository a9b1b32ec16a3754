'use strict';
// Fixtures of the gateway-mode tests (README, "Gateway mode"): siogate nodes
// with the bridge on, the example workers of examples/ (Python and Node) as
// child processes, JSON Web Tokens signed here with node:crypto, the
// bridge's readiness from /metrics, and nginx in front of several nodes.
//
// Workers print "ready" once their consumer group exists and their first
// XREADGROUP is sent; startWorker resolves then. Every worker started is
// killed by its stop() (SIGTERM, then SIGKILL), and at the latest when the
// test process exits; its output is printed when the file fails.

const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { createClient } = require('redis');
const { startServer, freePort, HOST } = require('./server');
const { request, DEFAULT_WAIT_MS } = require('./util');
const { startNginx } = require('./nginx');

const ROOT = path.resolve(__dirname, '../../..');
const EXAMPLES = path.join(ROOT, 'examples');
const PYTHON = process.env.SG_PYTHON || '/usr/bin/python3';
const READY_MS = 20000;
const KILL_GRACE_MS = 4000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Throws unless PYTHON has the modules the Python workers need (Debian's
 *  python3-redis, python3-msgpack; deploy/dev.sh test installs them). */
function requirePython() {
  try {
    execFileSync(PYTHON, ['-c', 'import redis, msgpack'], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`${PYTHON} cannot import redis and msgpack: install Debian's python3-redis and `
      + `python3-msgpack (deploy/dev.sh test does), or point SG_PYTHON at a python that has them\n${e.stderr || e.message}`);
  }
}

// ------------------------------------------------------------ workers

const workers = [];

/**
 * Start an example worker: lang 'python' | 'node', kind 'echo' | 'chat'.
 * o: redisUrl, consumer (default a unique name), group, stream, claimIdle
 * (ms), block (ms), dieAfterRead (N), extra (more arguments). Resolves
 * { consumer, pid, logs(), exited (a promise of {code, signal}), alive(),
 * signal(sig), stop() } once it printed "ready".
 */
async function startWorker(o) {
  const lang = o.lang || 'python';
  const kind = o.kind || 'echo';
  const consumer = o.consumer || `${lang}-${kind}-${workers.length + 1}`;
  const args = ['--redis-url', o.redisUrl, '--consumer', consumer];
  if (o.group) args.push('--group', o.group);
  if (o.stream) args.push('--stream', o.stream);
  if (o.claimIdle !== undefined) args.push('--claim-idle', String(o.claimIdle));
  if (o.block !== undefined) args.push('--block', String(o.block));
  if (o.dieAfterRead) args.push('--die-after-read', String(o.dieAfterRead));
  args.push(...(o.extra || []));
  let file;
  let argv;
  let env = process.env;
  if (lang === 'python') {
    file = PYTHON;
    argv = ['-u', path.join(EXAMPLES, 'python', `${kind}_worker.py`), ...args];
  } else {
    file = process.execPath;
    argv = [path.join(EXAMPLES, 'node', `${kind}_worker.js`), ...args];
    // the examples' documented way to find redis and the emitter
    env = { ...process.env, NODE_PATH: path.join(__dirname, '..', 'node_modules') };
  }
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const log = [];
  const entry = { child, log, label: `${consumer}: ${path.basename(file)} ${argv.join(' ')}`, stopping: false };
  workers.push(entry);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    entry.exitedWith = { code, signal };
    log.push(`[worker exited: code=${code} signal=${signal}]\n`);
    resolve({ code, signal });
  }));
  child.stderr.on('data', (d) => log.push(d.toString()));
  await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => fail(new Error(`worker ${consumer} did not print "ready" within ${READY_MS} ms`)), READY_MS);
    function fail(err) {
      clearTimeout(t);
      try { child.kill('SIGKILL'); } catch {}
      reject(new Error(`${err.message}\n${entry.label}\n--- output ---\n${log.join('')}`));
    }
    child.stdout.on('data', (d) => {
      const s = d.toString();
      log.push(s);
      out += s;
      if (/^ready$/m.test(out)) {
        clearTimeout(t);
        out = '';
        resolve();
      }
    });
    child.once('error', fail);
    exited.then(({ code, signal }) => fail(new Error(`worker ${consumer} exited (code=${code} signal=${signal})`)));
  });
  return {
    consumer,
    pid: child.pid,
    exited,
    logs: () => log.join(''),
    alive: () => !entry.exitedWith,
    /** Send a signal; resolves at its exit (which is then expected). */
    signal(sig) {
      entry.stopping = true;
      if (!entry.exitedWith) { try { child.kill(sig); } catch {} }
      return exited;
    },
    /** SIGTERM, then SIGKILL after a grace period; resolves at exit. */
    async stop() {
      entry.stopping = true;
      if (entry.exitedWith) return entry.exitedWith;
      const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} }, KILL_GRACE_MS);
      try { child.kill('SIGTERM'); } catch {}
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

process.on('exit', (code) => {
  for (const w of workers) {
    if (code !== 0) fs.writeSync(2, `\n===== output of worker ${w.label} =====\n${w.log.join('')}\n===== end of worker output =====\n`);
    if (!w.exitedWith) { try { w.child.kill('SIGKILL'); } catch {} }
  }
});

// ------------------------------------------------------------ JWT

const b64u = (b) => Buffer.from(b).toString('base64url');

/** A compact JWS: alg HS256 (key: the secret), RS256 or ES256 (key: a
 *  private KeyObject or PEM). header adds or overrides header members. */
function signJwt(alg, payload, key, header = {}) {
  const input = `${b64u(JSON.stringify({ alg, typ: 'JWT', ...header }))}.${b64u(JSON.stringify(payload))}`;
  let sig;
  if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
  else if (alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(input), key);
  else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else throw new Error(`signJwt: no ${alg}`);
  return `${input}.${b64u(sig)}`;
}

const nowS = () => Math.floor(Date.now() / 1000);

// ------------------------------------------------------------ siogate nodes

async function metrics(adminPort) {
  const res = await request(`http://${HOST}:${adminPort}`, { path: '/metrics' });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.body;
}

/** The value of one sample of a Prometheus text body (undefined if absent). */
function sample(body, name) {
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Poll until pred() is truthy (async allowed); fails after ms. */
async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(20);
  }
}

/** Wait until the bridge of a gateway node is ready: its Redis command
 *  connection up (siogate_bridge_up) and its reply channel subscribed. */
async function waitBridge(node, redisUrl, ms = DEFAULT_WAIT_MS) {
  const c = createClient({ url: redisUrl });
  c.on('error', () => {});
  await c.connect();
  try {
    await until(async () => sample(await metrics(node.adminPort), 'siogate_bridge_up') === 1
        && (await c.pubSubNumSub(node.replyChannel))[node.replyChannel] === 1,
    ms, `bridge of node ${node.nodeId} ready (siogate_bridge_up, NUMSUB ${node.replyChannel})\n${node.logs()}`);
  } finally {
    await c.quit().catch(() => {});
  }
}

/** Wait until `n` connections subscribe to the Redis adapter's request
 *  channel of namespace nsp (one per node: the emitter's requests reach
 *  them all; its broadcasts go to the pattern all nodes share, which PUBSUB
 *  NUMPAT counts once). */
async function waitAdapters(redisUrl, n, { key = 'socket.io', nsp = '/', ms = DEFAULT_WAIT_MS } = {}) {
  const c = createClient({ url: redisUrl });
  c.on('error', () => {});
  await c.connect();
  const ch = `${key}-request#${nsp}#`;
  try {
    await until(async () => (await c.pubSubNumSub(ch))[ch] === n, ms, `${n} subscribers of ${ch}`);
  } finally {
    await c.quit().catch(() => {});
  }
}

/**
 * Start a gateway node: siogate (app none unless o.app) with the Redis
 * adapter and the bridge on redisUrl, an admin port, node id o.nodeId;
 * o.settings adds or overrides settings. Resolves the server handle (see
 * lib/server.js) plus nodeId, adminPort, replyChannel, stream,
 * metrics(), once the bridge is ready (unless bridge is off).
 */
async function startGateway(o) {
  const adminPort = await freePort();
  const nodeId = o.nodeId || `gw-${crypto.randomBytes(4).toString('hex')}`;
  const settings = {
    adapter: 'redis',
    redisUrl: o.redisUrl,
    bridge: 'redis-stream',
    bridgeEvents: '/:*',
    bridgeNodeId: nodeId,
    adminPort,
    ...(o.settings || {}),
  };
  const srv = await startServer({ app: o.app || 'none', settings });
  const node = Object.assign(srv, {
    nodeId,
    adminPort,
    stream: settings.bridgeStream || 'siogate:events',
    replyChannel: `${settings.bridgeReplyPrefix || 'siogate:reply:'}${nodeId}`,
    metrics: () => metrics(adminPort),
  });
  try {
    if (settings.bridge !== 'off') await waitBridge(node, o.redisUrl);
  } catch (e) {
    await srv.stop().catch(() => {});
    throw e;
  }
  return node;
}

// ------------------------------------------------------------ the stream

/** Every entry of a stream as {id, fields} with fields as Buffers (args
 *  may be msgpack) except the text ones, which are strings. */
async function readStream(redisUrl, stream) {
  const { commandOptions } = require('redis');
  const c = createClient({ url: redisUrl });
  c.on('error', () => {});
  await c.connect();
  try {
    const res = await c.xRange(commandOptions({ returnBuffers: true }), stream, '-', '+');
    return res.map(({ id, message }) => {
      const f = {};
      for (const [k, v] of Object.entries(message)) f[k] = k === 'args' ? v : v.toString();
      return { id: id.toString(), fields: f };
    });
  } finally {
    await c.quit().catch(() => {});
  }
}

/** Poll the stream until pred(entries) returns something truthy. */
async function waitEntries(redisUrl, stream, pred, ms = DEFAULT_WAIT_MS, what = 'stream entries') {
  let last = [];
  try {
    return await until(async () => pred((last = await readStream(redisUrl, stream))), ms, what);
  } catch (e) {
    e.message += `\nentries: ${JSON.stringify(last.map((x) => ({ ...x.fields, args: x.fields.args && x.fields.args.toString('base64') })))}`;
    throw e;
  }
}

// nginx: see nginx.js (startNginx is re-exported from here)

/** Which of the nodes (ports) holds an Engine.IO session? A PUT with its sid
 *  disturbs nothing: the owner answers 500 (polling session) or 400 code 3
 *  (on WebSocket), the others 400 code 1 "Session ID unknown". Resolves
 *  {port, websocket}. */
async function sessionNode(ports, sid) {
  const owners = [];
  for (const p of ports) {
    const res = await request(`http://${HOST}:${p}`,
      { method: 'PUT', path: `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}` });
    if (res.status === 500) owners.push({ port: p, websocket: false });
    else if (res.status === 400 && JSON.parse(res.body).code === 3) owners.push({ port: p, websocket: true });
  }
  if (owners.length !== 1) throw new Error(`session ${sid} owned by ${JSON.stringify(owners)}`);
  return owners[0];
}

module.exports = {
  PYTHON,
  requirePython,
  startWorker,
  signJwt,
  nowS,
  startGateway,
  waitBridge,
  waitAdapters,
  metrics,
  sample,
  until,
  readStream,
  waitEntries,
  startNginx,
  sessionNode,
  sleep,
};
