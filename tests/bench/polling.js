'use strict';
/*
 * tests/bench/polling.js - the "polling" scenario of tests/bench/run: clients on HTTP
 * long-polling, as users behind proxies that block WebSocket are (loadgen --transport
 * polling: Engine.IO v4 polling over one keep-alive connection per client; the fan-out
 * publisher stays on WebSocket).
 *
 *   memory:  RSS per idle polling client (P.pollMem steps, one generator process each step);
 *   fan-out: P.pollN polling receivers in the room, 100 B (peak, then 50% of the server's own
 *            peak; siogate also at Node's 50%: the same msg/s offered to both);
 *   acks:    P.pollAckK clients, closed loop, each ack a POST and a GET: acks/s and the HTTP
 *            requests/s one process serves.
 *
 * Node runs first so that siogate can be measured at Node's rate.
 */

const phases = require('./phases');

const LABEL = 'long-polling clients';

/* h: the runner's helpers { P, withServer, loadgen, rssBytes, cpuSeconds, sleep, stop }; same: Node's
 * 50% rate (msg/s) for siogate's extra fixed-rate phase, or null */
async function scenario(h, kind, same) {
  const { P } = h;
  const out = { mem: null, fanout: null, ack: null };
  out.mem = await h.withServer(kind, async (srv) => {
    await h.sleep(1000);
    const base = h.rssBytes(srv.pid);
    const points = [];
    const gens = [];
    let cur = 0;
    let up = 0;
    try {
      for (const target of P.pollMem) {
        const g = h.loadgen(srv, ['--mode', 'idle', '--transport', 'polling', '--clients', target - cur, '--addr-offset', cur,
          '--inflight', 256, '--connect-timeout', 120, '--max-hold', P.watchdog], { timeoutS: P.watchdog });
        gens.push(g);
        cur = target;
        up += (await g.ready).connected;
        await h.sleep(P.settle * 1000);
        const rss = h.rssBytes(srv.pid);
        points.push({ target, clients: up, rss, bytes_per_client: up ? (rss - base) / up : NaN });
      }
    } finally {
      const raws = await Promise.all(gens.map(async (g) => { await h.stop(g.proc); return g.done; }));
      out.memRaw = { failed: raws.reduce((x, r) => x + (r ? r.failed : 0), 0), dropped: raws.reduce((x, r) => x + (r ? r.dropped : 0), 0) };
    }
    return { base_rss: base, points };
  });
  out.fanout = await h.withServer(kind, async (srv) => {
    const g = h.loadgen(srv, ['--mode', 'fanout', '--transport', 'polling', '--clients', P.pollN, '--sizes', 100,
      '--fracs', '0.5', ...(same ? ['--rates', `100=${same.toFixed(3)}`] : []),
      '--warm', P.warm, '--secs', P.secs, '--lat-warm', P.latWarm, '--lat-secs', P.latSecs,
      '--connect-timeout', 120, '--drain-timeout', 10], { timeoutS: 180 + P.warm + P.secs + 2 * (P.latWarm + P.latSecs) });
    const raw = await g.done;
    if (raw && same) raw.same = same;
    return raw;
  });
  out.ack = await h.withServer(kind, async (srv) => {
    const g = h.loadgen(srv, ['--mode', 'ack', '--transport', 'polling', '--clients', P.pollAckK, '--warm', P.ackWarm,
      '--secs', P.ackSecs, '--connect-timeout', 60], { timeoutS: 90 + P.ackWarm + P.ackSecs });
    return g.done;
  });
  return out;
}

/* Table rows through the runner's push(scenario, figure, N, f, decimals, better) */
function rows(push, cpu, P, withNode) {
  const R = (r) => r.polling;
  P.pollMem.forEach((t, i) => push(LABEL, 'RSS per idle long-polling client (bytes)', t,
    (r) => ({ v: R(r).mem.points[i].bytes_per_client, c: '' }), 0, 'lower'));
  const n = P.pollN;
  const F = (r) => R(r).fanout;
  const ph = (r, frac) => phases.own(F(r), frac);
  const lab = `${LABEL}: fan-out 100 B`;
  push(lab, 'deliveries/s at peak', n, (r) => { const p = ph(r); return { v: p.per_s, c: cpu(p.gen_cpu_share, p.server_cpu_share) }; }, 0, 'higher');
  push(lab, 'deliveries per server-CPU-second at peak', n, (r) => { const p = ph(r); return { v: p.per_server_cpu_s, c: cpu(p.gen_cpu_share, p.server_cpu_share) }; }, 0, 'higher');
  push(lab, 'HTTP requests/s at peak (each GET returns a batch)', n, (r) => { const p = ph(r); return { v: p.http_per_s, c: cpu(p.gen_cpu_share, p.server_cpu_share) }; }, 0, 'higher');
  phases.latencyRows(push, cpu, lab, n, '50% of peak', F, (r) => ph(r, 0.5));
  if (withNode)
    phases.latencyRows(push, cpu, lab, n, 'Node\'s 50% of peak, same msg/s offered to both', F,
      (r) => (F(r).same ? phases.fixed(F(r), F(r).same) : ph(r, 0.5)));
  const A = (r) => R(r).ack.phases[0];
  const alab = `${LABEL}: acks, closed loop (a POST and a GET each)`;
  push(alab, 'acks/s', P.pollAckK, (r) => ({ v: A(r).per_s, c: cpu(A(r).gen_cpu_share, A(r).server_cpu_share) }), 0, 'higher');
  push(alab, 'HTTP requests/s', P.pollAckK, (r) => ({ v: A(r).http_per_s, c: cpu(A(r).gen_cpu_share, A(r).server_cpu_share) }), 0, 'higher');
  push(alab, 'HTTP requests per server-CPU-second', P.pollAckK, (r) => ({ v: A(r).server_cpu_share > 0 ? A(r).http_per_s / A(r).server_cpu_share : NaN, c: cpu(A(r).gen_cpu_share, A(r).server_cpu_share) }), 0, 'higher');
  push(alab, 'latency p99 (µs)', P.pollAckK, (r) => ({ v: A(r).lat_us.p99, c: '' }), 0, 'lower');
}

function notes(kind, r) {
  const x = r.polling;
  if (!x) return [];
  const f = x.fanout;
  return [`${kind} long-polling: idle steps ${x.mem ? x.mem.points.map((p) => p.clients).join(', ') : 'n/a'} clients (${x.memRaw ? `${x.memRaw.failed} failed, ${x.memRaw.dropped} dropped` : ''}); fan-out ${f ? `${f.ready} receivers joined, ${f.dropped} dropped, rates used: ${f.phases.filter((p) => p.kind === 'rate').map((p) => `${p.frac ? `${Math.round(p.frac * 100)}%` : 'fixed'} = ${p.rate_target.toFixed(1)} msg/s`).join(', ')}` : 'n/a'}; acks ${x.ack ? `${x.ack.phases[0].acks} answered, ${x.ack.dropped} dropped` : 'n/a'}.`];
}

module.exports = { scenario, rows, notes, LABEL };
