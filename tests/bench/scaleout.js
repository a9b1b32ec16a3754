'use strict';
/*
 * tests/bench/scaleout.js - the "scaleout" scenario of tests/bench/run: what a user deploying
 * several nodes sees. Two servers of one kind on one redis-server (siogate --adapter redis;
 * Node: @socket.io/redis-adapter), nginx in front as deploy/nginx/siogate.conf has it (sticky
 * by client address, 2 worker processes), everyone on this machine's 2 cores.
 *
 *   loadgen's N receivers connect through nginx; their source addresses rotate over
 *   127.0.0.2-254, so the address hash spreads them over both nodes (the notes give the
 *   split). The publisher connects through nginx too and emits to the room "bench": its node
 *   delivers to its own members and publishes once on Redis for the other's.
 *
 * The CPU figure sums A + B + redis-server + nginx's workers. Node runs first; siogate is then
 * also measured at Node's 50% of peak (the same msg/s offered to both), as in the fan-out rows.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startNginx } = require('../integration/lib/nginx');
const phases = require('./phases');

const LABEL = 'scale-out: 2 nodes + Redis behind nginx, 100 B';

/* pids whose parent is pid (nginx's workers) */
function childPids(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch (e) { /* gone meanwhile */ }
  }
  return out;
}

/* h: the runner's helpers { P, startServer, stop, sleep, loadgen, nodesListening };
 * same: Node's fixed rates { 100: [msg/s] } for siogate, or null. */
async function scenario(h, kind, same) {
  const { P } = h;
  const started = [];
  let nginx = null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-bench-nginx-'));
  try {
    const redis = await h.startServer('redis');
    started.push(redis);
    const opts = ['--adapter', 'redis', '--redis-url', `redis://127.0.0.1:${redis.port}`];
    const a = await h.startServer(kind, opts);
    started.push(a);
    const b = await h.startServer(kind, opts);
    started.push(b);
    const seen = await h.nodesListening(redis.port, 'redis');
    if (seen.nodes < 2) throw new Error(`${kind} nodes not listening on redis within 5 s: ${seen.what}`);
    nginx = await startNginx([a.port, b.port], dir, { workerProcesses: 2, workerConnections: 4 * P.scaleN + 256 });
    const workers = childPids(nginx.pid);
    const rates = same ? ['--rates', `100=${same.map((r) => r.toFixed(3)).join('/')}`] : [];
    const g = h.loadgen({ port: nginx.port, pid: [a.pid, b.pid, redis.pid, ...workers].join(',') },
      ['--mode', 'fanout', '--clients', P.scaleN, '--sizes', 100, '--fracs', '0.5,0.9', ...rates,
        '--warm', P.warm, '--secs', P.secs, '--lat-warm', P.latWarm, '--lat-secs', P.latSecs,
        '--connect-timeout', 60, '--drain-timeout', 10],
      { timeoutS: 180 + P.warm + P.secs + 4 * (P.latWarm + P.latSecs) });
    /* the split over the nodes, once every receiver is in */
    const split = g.ready.then(() => ({ a: established(a.pid), b: established(b.pid) }));
    const raw = await g.done;
    if (raw) {
      raw.split = await split;
      raw.nginx_workers = workers.length;
      if (same) raw.same = same;
    }
    return raw;
  } finally {
    if (nginx) await nginx.stop();
    for (const s of started.reverse()) await h.stop(s.proc);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/* TCP connections a process holds (its socket descriptors), less its listener and Redis
 * links: the receivers nginx routed to it, give or take a few */
function established(pid) {
  let n = 0;
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try { if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++; } catch (e) { /* closed */ }
    }
  } catch (e) { return null; }
  return n;
}

/* Table rows through the runner's push(scenario, figure, N, f, decimals, better) */
function rows(push, cpu, P, withNode) {
  const n = P.scaleN;
  const S = (r) => r.scaleout;
  const ph = (r, frac) => phases.own(S(r), frac);
  push(LABEL, 'deliveries/s at peak (receivers on both nodes)', n, (r) => { const p = ph(r); return { v: p.per_s, c: cpu(p.gen_cpu_share, p.server_cpu_share) }; }, 0, 'higher');
  push(LABEL, 'deliveries per CPU-second of A + B + redis + nginx at peak', n, (r) => { const p = ph(r); return { v: p.per_server_cpu_s, c: cpu(p.gen_cpu_share, p.server_cpu_share) }; }, 0, 'higher');
  phases.latencyRows(push, cpu, LABEL, n, '50% of peak', S, (r) => ph(r, 0.5));
  if (withNode)
    phases.latencyRows(push, cpu, LABEL, n, 'Node\'s 50% of peak, same msg/s offered to both', S,
      (r) => (S(r).same ? phases.fixed(S(r), S(r).same[0]) : ph(r, 0.5)));
}

function notes(kind, r) {
  const x = r.scaleout;
  if (!x) return [];
  const s = x.split || {};
  return [`${kind} scale-out: ${x.ready} receivers joined through nginx (${x.nginx_workers} workers), ${x.dropped} dropped; sockets held by node A ${s.a}, node B ${s.b} (receivers + nginx upstream keepalives + Redis links); rates used: ${x.phases.filter((p) => p.kind === 'rate').map((p) => `${p.frac ? `${Math.round(p.frac * 100)}%` : 'fixed'} = ${p.rate_target.toFixed(1)} msg/s`).join(', ')}.`];
}

module.exports = { scenario, rows, notes, LABEL };
