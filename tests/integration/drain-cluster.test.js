'use strict';
// A rolling deploy under traffic (issue 11 §2): three siogate nodes on the
// Redis Streams adapter with connection state recovery and drainSeconds,
// behind nginx with the shipped configuration (deploy/nginx/siogate.conf, as
// deploy/cluster.sh wraps it: sticky `hash $remote_addr consistent`, and
// `proxy_next_upstream ... http_503` for refused handshakes). 60 official
// clients (default transports: polling, then the upgrade) connect through
// nginx from different loopback addresses, so the hash spreads them over
// the nodes, and join a room; a publisher on a node that stays sends
// numbered messages to the room (testkit "broadcast") every PERIOD_MS the
// whole time. The node with the most clients gets SIGTERM:
// - it exits 0 within drainSeconds + 3 s;
// - every client it had is closed ("transport close"), reconnects through
//   nginx to another node without a single connect_error (its first new
//   handshake reaches the draining node, whose 503 nginx passes on), and
//   resumes its session (socket.recovered, same id);
// - the other clients are not disturbed;
// - clients that connect during the drain are all accepted, by the others;
// - nginx answers no request with an error;
// - every client gets every numbered message exactly once, in order: the
//   first 60 all of them, the late ones every message from their first on.
// The first refused handshake also makes nginx skip the draining node for
// fail_timeout (see deploy/nginx/siogate.conf): that is what keeps the
// follow-up requests of a moved client, which carry its new node's sid, off
// the draining node (which would answer them 400 "Session ID unknown").
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { io } = require('socket.io-client');
const { connected, closeAll, ask, request, requireProgram, withTimeout, DEFAULT_WAIT_MS } = require('./lib/util');
const { freePort } = require('./lib/server');
const { startCluster, until } = require('./lib/cluster');

const skip = process.env.SG_REF === '1' && 'siogate nodes with the Streams adapter and drainSeconds (the reference server has neither)';
const ROOT = path.resolve(__dirname, '../..');
const CLUSTER = path.join(ROOT, 'deploy/cluster.sh');
const NGINX = process.env.SG_NGINX || '/usr/sbin/nginx';

const DRAIN_SECONDS = 3;
const CLIENTS = 60;
const LATE = 12; // clients that connect during the drain
// one numbered message every PERIOD_MS: the shorter, the likelier one is
// published while a moved client's session is being restored
const PERIOD_MS = Number(process.env.SG_DRAIN_PERIOD_MS || 20);
const ROOM = 'drain room';
// generous bounds for a busy 2-core machine
const LONG_MS = 3 * DEFAULT_WAIT_MS;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

/** deploy/cluster.sh's nginx configuration (deploy/nginx/siogate.conf with
 *  these ports), run in the foreground as our child, with an access log of
 *  each request's upstream attempts. */
async function startNginx(dir, front, ports) {
  const conf = await new Promise((resolve, reject) => {
    execFile('bash', [CLUSTER, 'nginx-conf'], {
      env: { ...process.env, SG_CLUSTER_DIR: dir, SG_FRONT_PORT: String(front), SG_NODE_PORTS: ports.join(' ') },
      timeout: 30000,
    }, (err, stdout, stderr) => (err ? reject(new Error(`cluster.sh nginx-conf: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  assert.match(conf, /proxy_next_upstream [^;]*http_503/, 'the shipped nginx config retries a refused handshake');
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf
    .replace('daemon on;', 'daemon off;')
    .replace('access_log off;',
      `log_format drain '$remote_addr "$request" $status up=$upstream_addr us=$upstream_status';\n`
      + `    access_log ${path.join(dir, 'access.log')} drain;`));
  const child = spawn(NGINX, ['-p', dir, '-c', file, '-e', path.join(dir, 'nginx.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  child.stdout.on('data', (d) => out.push(d.toString()));
  child.stderr.on('data', (d) => out.push(d.toString()));
  let exited = null;
  const gone = new Promise((resolve) => child.once('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  const deadline = Date.now() + DEFAULT_WAIT_MS;
  for (;;) {
    if (exited) throw new Error(`nginx exited (${JSON.stringify(exited)}): ${out.join('')}`);
    const up = await new Promise((resolve) => {
      const s = net.connect(front, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (up) break;
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`nginx does not listen on ${front}: ${out.join('')}`); }
    await sleep(50);
  }
  const read = (f) => { try { return fs.readFileSync(path.join(dir, f), 'utf8'); } catch { return ''; } };
  return {
    accessLog: () => read('access.log'),
    errorLog: () => read('nginx.log'),
    /** SIGTERM to the master we started (fast shutdown), SIGKILL after 5 s */
    async stop() {
      if (!exited) {
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.kill('SIGTERM');
        await gone;
        clearTimeout(t);
      }
    },
  };
}

describe('drain one of 3 nodes behind nginx under traffic (Streams adapter, connection state recovery)', { skip }, () => {
  let dir;
  let cluster;
  let nginx;
  let front;
  let publishing = null;
  let stopped = false;
  const clients = [];

  before(async () => {
    requireProgram(NGINX, 'nginx-light');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-drain-'));
    cluster = await startCluster({
      adapter: 'streams',
      nodes: 3,
      settings: { connectionStateRecovery: true, drainSeconds: DRAIN_SECONDS, logLevel: 'info' },
    });
    front = await freePort();
    nginx = await startNginx(dir, front, cluster.nodes.map((n) => n.port));
  });

  after(async () => {
    stopped = true; // a test body still running after a failure starts no more clients
    if (publishing) clearInterval(publishing);
    for (const c of clients) {
      c.s.io.reconnection(false);
      c.s.disconnect();
      c.agent.destroy();
    }
    closeAll();
    if (nginx) await nginx.stop();
    if (cluster) {
      // A node that still counts sessions (a client's close not yet seen)
      // would drain them over drainSeconds: the second signal stops it at once.
      await Promise.all(cluster.nodes.filter((n) => n.alive()).map(async (n) => {
        const exit = n.signal('SIGTERM');
        await until(() => !n.alive() || /received SIGTERM/.test(n.logs()), DEFAULT_WAIT_MS, `node ${n.port} takes SIGTERM`).catch(() => {});
        // only a draining node: one already shutting down would just die
        // of the signal's default action (its handlers are gone by then)
        if (n.alive() && /received SIGTERM: draining/.test(n.logs())) n.signal('SIGINT');
        await exit;
      }));
      await cluster.stop(); // throws when a node did not exit cleanly (code 0)
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // Which of `nodes` holds an Engine.IO session? A PUT with its sid disturbs
  // nothing: the owner answers 500 (polling session, kept) or 400 code 3
  // (session already on WebSocket), the others 400 code 1 "Session ID
  // unknown" (as in nginx-cluster.test.js).
  async function nodeOf(sid, nodes) {
    const owners = [];
    for (const n of nodes) {
      const res = await request(n.url, { method: 'PUT', path: `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}` });
      if (res.status === 500 || (res.status === 400 && JSON.parse(res.body).code === 3)) owners.push(n);
      else assert.equal(JSON.parse(res.body).code, 1, `node ${n.port}: ${res.status} ${res.body}`);
    }
    assert.equal(owners.length, 1, `session ${sid} owned by ${owners.map((n) => n.port)}`);
    return owners[0];
  }

  /** An official client through nginx whose TCP connections come from
   *  `addr` (nginx hashes on it), default transports, reconnection on with
   *  the library's default delays; every event it sees is recorded. */
  function makeClient(addr, label) {
    if (stopped) throw new Error(`${label}: the test is over`);
    const agent = new http.Agent({ localAddress: addr, keepAlive: true });
    const s = io(`http://127.0.0.1:${front}`, { agent, forceNew: true, timeout: DEFAULT_WAIT_MS });
    const c = { label, addr, s, agent, msgs: [], got: [], connects: [], disconnects: [], errors: [], node: null };
    s.on('message', (n, offset) => {
      c.msgs.push(n);
      // for the report of a failure: when, with which offset, before or
      // after which "connect" (missed packets come ahead of it)
      c.got.push({ n, offset, at: Date.now(), connects: c.connects.length });
    });
    s.on('connect', () => c.connects.push({ at: Date.now(), recovered: s.recovered, id: s.id }));
    s.on('disconnect', (reason) => c.disconnects.push({ at: Date.now(), reason }));
    s.on('connect_error', (err) => c.errors.push({
      at: Date.now(),
      what: `${err && err.message}${err && err.description !== undefined ? ` (${err.description && err.description.message ? err.description.message : JSON.stringify(err.description)})` : ''}`,
    }));
    clients.push(c);
    return c;
  }

  /** Connected, upgraded to WebSocket, in ROOM. */
  async function ready(c) {
    await until(() => c.connects.length > 0 || c.errors.length > 0, LONG_MS, `${c.label} connects`);
    assert.deepEqual(c.errors, [], `${c.label} (${c.addr}) was refused`);
    await until(() => c.s.io.engine && c.s.io.engine.transport.name === 'websocket', LONG_MS, `${c.label} upgrades`);
    assert.deepEqual(await ask(c.s, 'join', ROOM), [true]);
    return c;
  }

  test(`SIGTERM to the busiest node (drainSeconds=${DRAIN_SECONDS}): its clients move and recover, none is refused, none misses a message`, { timeout: 180000 }, async () => {
    const nodes = cluster.nodes;
    try {
      // ---- 60 clients over the three nodes
      for (let i = 0; i < CLIENTS; i += 10) {
        const batch = [];
        for (let k = i; k < Math.min(i + 10, CLIENTS); k++) batch.push(ready(makeClient(`127.0.0.${2 + k}`, `client ${k}`)));
        await Promise.all(batch);
      }
      const byNode = new Map(nodes.map((n) => [n, []]));
      for (const c of clients) {
        c.node = await nodeOf(c.s.io.engine.id, nodes);
        byNode.get(c.node).push(c);
      }
      const counts = nodes.map((n) => byNode.get(n).length);
      const A = [...byNode.keys()].reduce((a, b) => (byNode.get(b).length > byNode.get(a).length ? b : a));
      const others = nodes.filter((n) => n !== A);
      const moving = byNode.get(A);
      const staying = clients.filter((c) => c.node !== A);
      assert.ok(moving.length > 0 && staying.length > 0, `clients per node: ${counts}`);

      // ---- numbered messages to the room from a node that stays
      const pub = await connected(others[0].url, { transports: ['websocket'] });
      let sent = 0;
      const sentAt = [];
      publishing = setInterval(() => { pub.emit('broadcast', ROOM, ++sent); sentAt[sent] = Date.now(); }, PERIOD_MS);
      // every client holds an offset before the drain
      await until(() => sent >= 5 && clients.every((c) => c.msgs.length >= 5), LONG_MS, 'every client receives the first messages');

      // ---- drain A, with new clients arriving meanwhile: from addresses that
      // hash to A (nginx must pass their handshake on) and to the others
      const t0 = Date.now();
      const exited = A.signal('SIGTERM');
      const lateAddrs = [];
      for (let k = 0; k < LATE; k++) {
        const from = k % 3 === 2 ? staying : moving;
        lateAddrs.push(from[k % from.length].addr);
      }
      const late = [];
      for (const [k, addr] of lateAddrs.entries()) {
        await sleep((DRAIN_SECONDS * 1000 * 0.8) / LATE);
        const c = makeClient(addr, `late client ${k}`);
        const p = ready(c).then(async () => { c.node = await nodeOf(c.s.io.engine.id, others); return c; });
        p.catch(() => {}); // failures are reported by Promise.all below, not as unhandled
        late.push(p);
      }
      const { code, signal } = await withTimeout(exited, (DRAIN_SECONDS + 3) * 1000 + DEFAULT_WAIT_MS,
        `the drained node exits (pid ${A.pid})`);
      const drainMs = Date.now() - t0;
      assert.equal(code, 0, `the drained node exited with code=${code} signal=${signal}\n${A.logs()}`);
      assert.ok(drainMs <= (DRAIN_SECONDS + 3) * 1000, `the drained node exited after ${drainMs} ms`);
      const lateClients = await Promise.all(late);

      // ---- every client of A back, on another node, its session recovered
      await until(() => moving.every((c) => c.connects.length >= 2 || c.errors.length > 0), LONG_MS,
        'every client of the drained node reconnects');
      for (const c of moving) {
        assert.deepEqual(c.errors, [], `${c.label} (${c.addr}): connect_error while moving`);
        assert.deepEqual(c.disconnects.map((d) => d.reason), ['transport close'], `${c.label}: disconnects`);
        assert.equal(c.connects.length, 2, `${c.label}: connects ${JSON.stringify(c.connects)}`);
        assert.deepEqual([c.connects[1].recovered, c.connects[1].id], [true, c.connects[0].id], `${c.label}: recovered with its id`);
      }
      await until(() => moving.every((c) => c.s.io.engine.transport.name === 'websocket'), LONG_MS, 'the moved clients upgrade');
      const movedTo = new Map(others.map((n) => [n, 0]));
      for (const c of moving) {
        c.moved = await nodeOf(c.s.io.engine.id, others);
        movedTo.set(c.moved, movedTo.get(c.moved) + 1);
      }
      for (const c of staying) {
        assert.deepEqual([c.errors, c.disconnects, c.connects.length], [[], [], 1], `${c.label} on ${c.node.port} was disturbed`);
      }
      for (const c of lateClients) {
        assert.deepEqual(c.errors, [], `${c.label} (${c.addr}) was refused`);
        assert.deepEqual([c.disconnects, c.connects.length], [[], 1], `${c.label}`);
      }

      // nginx answered no request with an error (a refusal passed on to a
      // client, or a sid sent to a node that does not know it)
      const log = nginx.accessLog().split('\n').filter(Boolean);
      assert.deepEqual(log.filter((l) => /" [45]\d\d up=/.test(l)), [], 'nginx answered a client with an error');
      // the first handshake that reached the draining node was passed on
      const retried = log.filter((l) => /us=503, /.test(l));
      assert.ok(retried.length >= 1, 'nginx passed a refused handshake on to another node');

      // ---- figures
      const gaps = moving.map((c) => c.connects[1].at - c.disconnects[0].at);
      const closes = moving.map((c) => c.disconnects[0].at - t0).sort((a, b) => a - b);
      const disabled = (nginx.errorLog().match(/upstream server temporarily disabled/g) || []).length;
      console.log(`clients per node before the drain: ${counts.join(' / ')} (drained node ${A.port}: ${moving.length})`);
      console.log(`drain: SIGTERM to exit ${drainMs} ms (drainSeconds=${DRAIN_SECONDS}); closes from +${closes[0]} to +${closes[closes.length - 1]} ms`);
      console.log(`moved: ${moving.length} clients, all recovered (${others.map((n) => `${movedTo.get(n)} to ${n.port}`).join(', ')}); `
        + `disconnect -> recovered connect: median ${median(gaps)} ms, max ${Math.max(...gaps)} ms`);
      console.log(`late clients during the drain: ${lateClients.length} accepted (${others.map((n) => `${lateClients.filter((c) => c.node === n).length} on ${n.port}`).join(', ')}), 0 refused`);
      console.log(`nginx: ${retried.length} request(s) passed on after a 503 "Server draining", `
        + `${disabled} "upstream server temporarily disabled", no error answered`);

      // ---- a little more traffic, then the last message reaches everybody
      const back = Math.max(...moving.map((c) => c.connects[1].at));
      await until(() => Date.now() - back >= 500, LONG_MS, 'traffic after the last reconnect');
      clearInterval(publishing);
      publishing = null;
      const N = sent;
      await until(() => clients.every((c) => c.msgs.includes(N)), LONG_MS,
        `every client receives message ${N} (missing at ${clients.filter((c) => !c.msgs.includes(N)).map((c) => c.label)})`);
      await ask(pub, 'echo', 'barrier'); // and a round trip for stragglers

      // exactly once, in order, no gap
      const seq = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
      const problems = [];
      for (const c of clients) {
        const first = lateClients.includes(c) ? c.msgs[0] : 1;
        const want = seq(first, N);
        if (JSON.stringify(c.msgs) === JSON.stringify(want)) continue;
        const seen = new Map();
        for (const n of c.msgs) seen.set(n, (seen.get(n) || 0) + 1);
        const missing = want.filter((n) => !seen.has(n));
        const dup = [...seen].filter(([, k]) => k > 1).map(([n]) => n);
        const disorder = c.msgs.filter((n, i) => i > 0 && n <= c.msgs[i - 1]);
        problems.push(`${c.label} (${c.addr}, on ${c.node.port}${c.moved ? ` -> ${c.moved.port}` : ''}`
          + `${c.disconnects.length ? `, closed at +${c.disconnects[0].at - t0} ms, back at +${c.connects[1].at - t0} ms` : ''}): `
          + `missing ${JSON.stringify(missing)}, duplicated ${JSON.stringify(dup)}, out of order ${JSON.stringify(disorder)}; `
          + `session ${c.connects.map((x) => x.id).join(' -> ')}; around them it received (message, offset, when, how; sent when):\n    `
          + c.got.filter((g) => [...missing, ...dup, ...disorder].some((b) => Math.abs(b - g.n) <= 3))
            .map((g) => `${g.n} ${g.offset} +${g.at - t0} ms `
              + `${g.connects > 1 ? 'live after the recovery' : c.disconnects.length && g.at >= c.disconnects[0].at ? 'replayed (missed packets, ahead of "connect")' : 'live'}; `
              + `sent +${sentAt[g.n] - t0} ms`).join('\n    ')
          + (missing.length ? `\n    (missing: sent at ${missing.map((n) => `+${sentAt[n] - t0} ms`).join(', ')})` : ''));
      }
      assert.deepEqual(problems, [], `messages 1..${N}`);

      console.log(`messages: ${N} sent (every ${PERIOD_MS} ms), each received exactly once, in order, by every client`);
    } catch (e) {
      e.message += `\n--- nginx error log ---\n${nginx.errorLog()}\n--- nginx access log (last 80 lines) ---\n`
        + nginx.accessLog().split('\n').slice(-80).join('\n');
      throw e;
    }
  });
});
