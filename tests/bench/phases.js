'use strict';
/*
 * tests/bench/phases.js - finding a loadgen fan-out phase in a result, and the latency rows at
 * an offered rate, for the scenarios that share them (scaleout.js, polling.js).
 */

/* The "max" phase (frac undefined), or the fixed-rate phase at frac of the server's own peak */
function own(f, frac) {
  return f.phases.find((p) => p.kind === (frac === undefined ? 'max' : 'rate') && (frac === undefined || Math.abs(p.frac - frac) < 1e-6));
}

/* The phase at a fixed rate (loadgen --rates: frac 0), within 1% of rate msg/s */
function fixed(f, rate) {
  return f.phases.find((p) => p.kind === 'rate' && p.frac === 0 && Math.abs(p.rate_target - rate) <= 0.01 * rate);
}

/* p50 (with the CPU column) and p99 (with deliveries/s achieved of offered) of the phase
 * pick(r) of the fan-out result F(r), through the runner's push */
function latencyRows(push, cpu, label, n, tag, F, pick) {
  const fmt = (v) => Math.round(v).toLocaleString('en-US');
  push(label, `latency p50 at ${tag} (µs)`, n, (r) => { const p = pick(r); return { v: p.lat_us.p50, c: cpu(p.gen_cpu_share, p.server_cpu_share) }; }, 0, 'lower');
  push(label, `latency p99 at ${tag} (µs)`, n, (r) => { const p = pick(r); return { v: p.lat_us.p99, c: `${fmt(p.per_s)} of ${fmt(p.rate_target * F(r).ready)}/s` }; }, 0, 'lower');
}

module.exports = { own, fixed, latencyRows };
