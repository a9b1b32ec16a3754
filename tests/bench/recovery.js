'use strict';
/*
 * tests/bench/recovery.js - the "recovery" scenario of tests/bench/run: the cost of restoring
 * many clients at once after an outage, with connection state recovery on the Redis Streams
 * adapter (siogate --adapter streams --set connectionStateRecovery=true; Node: socket.io 4.8
 * connectionStateRecovery: {} + @socket.io/redis-streams-adapter 0.3.1).
 *
 *   redis-server, server A and server B (same kind, same Redis); N clients
 *   (recovery-clients.js, official socket.io-client) -> TCP proxy (node:net; this file, run as
 *   a child process of its own: `node recovery.js proxy PORT`, driven over IPC) -> B, all in
 *   one room; a primer broadcast gives each client an offset; the proxy resets every
 *   connection (RST both ways, an abrupt end for both sides) and every new one; during
 *   the outage a publisher on A broadcasts K messages to the room (recRate/s for recOutage s);
 *   then the proxy accepts again and every client calls connect() at the same moment.
 *
 * The proxy has a process of its own: its CPU comes from /proc like everyone else's, and a
 * Node 20 process that has reset sockets this way now and then spins forever at exit (in
 * node::Environment::CleanupHandles, seen with gdb), which would hang the runner; a child is
 * simply killed.
 *
 * Measured over the restore window (reopen -> last client back with all K): its wall time,
 * CPU seconds of B, of redis-server, of A, of the client process and of the proxy process
 * (all from /proc), clients recovered vs fresh session, and afterwards whether each recovered
 * client got each of the K messages exactly once and in order.
 */
const path = require('path');
const net = require('net');
const { fork } = require('child_process');
const fs = require('fs');

const LABEL = 'recovery (Streams)';

/* ---------------------------------------------------------------- proxy */

/* A TCP proxy on a free loopback port to 127.0.0.1:target. cut() resets every connection it
 * carries and, until reopen(), every new one as soon as it is accepted. */
class Proxy {
  constructor(target) {
    this.target = target;
    this.pairs = new Set();
    this.down = false;
    this.refused = 0;
    this.server = net.createServer((c) => this.onConnection(c));
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      /* a backlog as deep as the kernel allows: the reopening storm must not be clipped here */
      this.server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
        this.port = this.server.address().port;
        resolve(this);
      });
    });
  }

  onConnection(c) {
    c.on('error', () => {});
    if (this.down) {
      this.refused++;
      Proxy.reset(c);
      return;
    }
    const up = net.connect(this.target, '127.0.0.1');
    up.on('error', () => {});
    const pair = { c, up };
    this.pairs.add(pair);
    c.setNoDelay(true);
    up.setNoDelay(true);
    c.pipe(up);
    up.pipe(c);
    const end = () => {
      if (!this.pairs.delete(pair)) return;
      c.destroy();
      up.destroy();
    };
    c.on('close', end);
    up.on('close', end);
  }

  static reset(s) {
    if (s.destroyed) return;
    if (typeof s.resetAndDestroy === 'function' && s.readyState !== 'opening') s.resetAndDestroy();
    else s.destroy();
  }

  cut() {
    this.down = true;
    for (const pair of [...this.pairs]) {
      this.pairs.delete(pair);
      Proxy.reset(pair.c);
      Proxy.reset(pair.up);
    }
  }

  reopen() {
    this.down = false;
  }
}

/* The proxy as a child process: ops listen {port}, cut, reopen, stats {refused}. */
function proxyMain(target) {
  const proxy = new Proxy(target);
  const ops = {
    listen: async () => ({ port: (await proxy.listen()).port }),
    cut: async () => { proxy.cut(); return {}; },
    reopen: async () => { proxy.reopen(); return {}; },
    stats: async () => ({ refused: proxy.refused, open: proxy.pairs.size }),
  };
  process.on('message', (m) => {
    ops[m.op]().then((r) => process.send({ op: m.op, ok: true, ...r }), (e) => process.send({ op: m.op, ok: false, error: e.message }));
  });
  process.on('disconnect', () => process.exit(0)); /* the runner went away */
}

/* ---------------------------------------------------------------- child processes */

/* A child process with an IPC channel, its output to the servers' log */
function child(h, name, file, argv) {
  const log = fs.openSync(h.LOG, 'a');
  fs.writeSync(log, `==== recovery ${name}: ${file} ${argv.join(' ')}\n`);
  const proc = h.track(fork(path.join(__dirname, file), argv, { stdio: ['ignore', log, log, 'ipc'] }));
  fs.closeSync(log);
  return proc;
}

/* Send one command to a child process; resolves its reply. */
function ask(proc, msg, ms) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(t);
      proc.off('message', onMsg);
      proc.off('exit', onExit);
    };
    const t = setTimeout(() => { cleanup(); reject(new Error(`${msg.op} took over ${ms / 1000} s`)); }, ms);
    const onMsg = (m) => {
      if (m.op !== msg.op) return;
      cleanup();
      if (m.ok) resolve(m);
      else reject(new Error(`${msg.op}: ${m.error}`));
    };
    const onExit = (code) => { cleanup(); reject(new Error(`child exited (${code}) during ${msg.op}`)); };
    proc.on('message', onMsg);
    proc.on('exit', onExit);
    proc.send(msg);
  });
}

/* ---------------------------------------------------------------- scenario */

const redisInt = async (h, port, cmd) => {
  const m = /^:(-?\d+)/.exec(await h.redisCommand(port, cmd));
  return m ? Number(m[1]) : NaN;
};

/* Snapshot of CPU seconds of every process of the scenario */
function cpuNow(h, pids) {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, h.cpuSeconds(pid)]));
}
const cpuDiff = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));

/*
 * h: the runner's helpers {P, LOG, startServer, stop, sleep, track, cpuSeconds,
 * nodesListening, redisCommand}. Profile keys: recN clients, recOutage s, recRate msg/s.
 */
async function scenario(h, kind) {
  const { P } = h;
  const k = Math.max(1, Math.round(P.recRate * P.recOutage));
  const redis = await h.startServer('redis');
  const url = `redis://127.0.0.1:${redis.port}`;
  /* node-server.js understands siogate's --set connectionStateRecovery=true */
  const extra = ['--adapter', 'streams', '--redis-url', url, '--set', 'connectionStateRecovery=true'];
  const started = [redis];
  let proxy = null;
  let clients = null;
  try {
    const a = await h.startServer(kind, extra);
    started.push(a);
    const b = await h.startServer(kind, extra);
    started.push(b);
    const seen = await h.nodesListening(redis.port, 'streams');
    if (seen.nodes < 2) throw new Error(`${kind} nodes not listening on redis within 5 s: ${seen.what}`);
    proxy = child(h, 'proxy', 'recovery.js', ['proxy', String(b.port)]);
    const { port: proxyPort } = await ask(proxy, { op: 'listen' }, 10000);
    clients = child(h, 'clients', 'recovery-clients.js', []);
    const pids = { b: b.pid, a: a.pid, redis: redis.pid, clients: clients.pid, proxy: proxy.pid };

    const conn = await ask(clients, { op: 'connect', url: `http://127.0.0.1:${proxyPort}`, pubUrl: `http://127.0.0.1:${a.port}`, n: P.recN }, 180000);
    if (conn.failed) throw new Error(`${conn.failed} of ${P.recN} clients did not connect and join`);
    const primer = await ask(clients, { op: 'primer' }, 40000);
    const xlen0 = await redisInt(h, redis.port, 'XLEN socket.io');

    /* the outage: the proxy resets everything; B sees transport errors and keeps the sessions */
    const tCut = Date.now();
    const c0 = cpuNow(h, pids);
    await ask(proxy, { op: 'cut' }, 10000);
    const down = await ask(clients, { op: 'down' }, 40000);
    const pubd = await ask(clients, { op: 'publish', k, intervalMs: (P.recOutage * 1000) / k }, P.recOutage * 1000 + 40000);
    await h.sleep(Math.max(0, tCut + P.recOutage * 1000 - Date.now()));
    const outageMs = Date.now() - tCut;
    const xlen1 = await redisInt(h, redis.port, 'XLEN socket.io');
    const sessions = await redisInt(h, redis.port, 'EVAL "return #redis.call(\'keys\', ARGV[1])" 0 sio:session:*');

    /* the restore: reopen, every client reconnects at once */
    const c1 = cpuNow(h, pids);
    await ask(proxy, { op: 'reopen' }, 10000);
    const rec = await ask(clients, { op: 'reconnect', k, timeoutMs: 120000 }, 150000);
    const c2 = cpuNow(h, pids);
    await h.sleep(1000); /* anything late (a duplicate) still lands before the tally */
    const tally = await ask(clients, { op: 'tally', k }, 20000);
    const sessionsLeft = await redisInt(h, redis.port, 'EVAL "return #redis.call(\'keys\', ARGV[1])" 0 sio:session:*');
    const cpu = cpuDiff(c1, c2);
    const { refused } = await ask(proxy, { op: 'stats' }, 10000);
    const wallS = (rec.timed_out ? 120000 : rec.wall_ms) / 1000;
    for (const x of ['op', 'ok']) { delete rec[x]; delete tally[x]; }
    return {
      n: P.recN, k, outage_ms: outageMs, refused_during_outage: refused,
      primer_with_offset: primer.with_offset, disconnect_reasons: down.reasons,
      monitor_got: pubd.monitor, stream_entries_in_outage: xlen1 - xlen0, sessions_at_reopen: sessions,
      sessions_left_after: sessionsLeft,
      ...rec,
      cpu_s: cpu, outage_cpu_s: cpuDiff(c0, c1),
      server_cpu_share: (cpu.b + cpu.redis) / wallS, gen_cpu_share: (cpu.clients + cpu.proxy) / wallS,
      b_cpu_us_per_client: rec.recovered ? (cpu.b * 1e6) / rec.recovered : NaN,
      tally,
    };
  } finally {
    if (clients) {
      try { await ask(clients, { op: 'close' }, 5000); } catch (e) { /* killed below */ }
      await h.stop(clients);
    }
    if (proxy) await h.stop(proxy);
    for (const s of started.reverse()) await h.stop(s.proc);
  }
}

/* ---------------------------------------------------------------- report */

/* Table rows through the runner's push(scenario, figure, N, f, decimals, better);
 * cpu(gen, srv) formats the CPU column. */
function rows(push, cpu, P) {
  const n = P.recN;
  const k = Math.max(1, Math.round(P.recRate * P.recOutage));
  const R = (r) => r.recovery;
  const col = (r) => cpu(R(r).gen_cpu_share, R(r).server_cpu_share);
  push(LABEL, `time until all back, every recovered one with the ${k} missed messages (ms)`, n,
    (r) => ({ v: R(r).wall_ms, c: col(r) }), 0, 'lower');
  push(LABEL, 'CPU seconds of server B for the restore', n, (r) => ({ v: R(r).cpu_s.b, c: col(r) }), 2, 'lower');
  push(LABEL, 'CPU seconds of redis-server for the restore', n, (r) => ({ v: R(r).cpu_s.redis, c: col(r) }), 2, 'lower');
  push(LABEL, 'CPU µs of server B per restored client', n, (r) => ({ v: R(r).b_cpu_us_per_client, c: col(r) }), 0, 'lower');
  push(LABEL, 'CPU seconds of the clients (+ proxy) for the restore', n,
    (r) => ({ v: R(r).cpu_s.clients, c: `+ ${R(r).cpu_s.proxy.toFixed(2)} s proxy` }), 2, 'lower');
  push(LABEL, `clients recovered (of ${n}; rest: fresh session)`, n,
    (r) => ({ v: R(r).recovered, c: `${R(r).fresh} fresh, ${n - R(r).back} not back` }), 0, 'higher');
  push(LABEL, `recovered clients with all ${k} missed exactly once, in order`, n,
    (r) => { const t = R(r).tally; return { v: t.exact, c: `${t.missing} missing, ${t.duplicated} dup.` }; }, 0, 'higher');
}

function notes(kind, r) {
  const x = r.recovery;
  if (!x) return [];
  const t = x.tally;
  const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  return [`${kind} recovery: outage ${f(x.outage_ms / 1000, 1)} s, ${x.k} messages published (monitor on A got ${x.monitor_got}), ` +
    `${x.stream_entries_in_outage} stream entries written during the outage, ${x.sessions_at_reopen} sessions in Redis at reopen ` +
    `(${x.sessions_left_after} left after); disconnects seen by the clients: ${Object.entries(x.disconnect_reasons).map(([a, b]) => `${b} ${a}`).join(', ')}; ` +
    `restore: connect() issued in ${f(x.issue_ms, 0)} ms, all back in ${f(x.back_ms, 0)} ms, per-client first ${f(x.first_ms, 0)} / p50 ${f(x.p50_ms, 0)} / p99 ${f(x.p99_ms, 0)} ms, ` +
    `${x.connect_errors} connect errors (${x.retries} retries)${x.timed_out ? ', TIMED OUT' : ''}; ` +
    `CPU s over the restore: B ${f(x.cpu_s.b)}, redis ${f(x.cpu_s.redis)}, A ${f(x.cpu_s.a)}, clients ${f(x.cpu_s.clients)}, proxy ${f(x.cpu_s.proxy)}; ` +
    `during the outage (cut, sessions saved, ${x.k} publishes): B ${f(x.outage_cpu_s.b)}, redis ${f(x.outage_cpu_s.redis)}, A ${f(x.outage_cpu_s.a)}; ` +
    `missed messages: ${t.received} received of ${t.expected} expected by recovered clients, ${t.missing} missing, ${t.duplicated} duplicated, ` +
    `${t.out_of_order} clients out of order, ${t.primer_replayed} got the primer again, ${t.got_any_missed_fresh} fresh sessions got some anyway, ` +
    `${t.without_offset} messages without an offset.`];
}

module.exports = { scenario, rows, notes, LABEL };

if (require.main === module && process.argv[2] === 'proxy') proxyMain(Number(process.argv[3]));
