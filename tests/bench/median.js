'use strict';
/*
 * tests/bench/median.js - one table from several runs of tests/bench/run (--repeat N).
 *
 * Each run gives the same rows (scenario, figure, N); a figure's value in the table is its
 * median over the runs, its spread is half the range in % of the median (so "±10%" means every
 * run was within 10% of the median's either side, give or take the asymmetry), and the CPU /
 * offered-rate column is the one of the run whose value is the median (the lower middle one for
 * an even count), so it describes a run that really happened.
 */

const finite = (v) => typeof v === 'number' && Number.isFinite(v);

/* index into vals (finite numbers with their run index) of the median */
function medianPick(vals) {
  const sorted = [...vals].sort((a, b) => a.v - b.v);
  return sorted[(sorted.length - 1) >> 1];
}

function spread(vals, med) {
  if (vals.length < 2 || !med) return null;
  const lo = Math.min(...vals.map((x) => x.v));
  const hi = Math.max(...vals.map((x) => x.v));
  return ((hi - lo) / 2 / Math.abs(med)) * 100;
}

/* One side (sg or nd) of a row across runs: { v, c, spread, n } */
function side(rowsOfRuns, valKey, cpuKey) {
  const vals = [];
  rowsOfRuns.forEach((r, i) => { if (r && finite(r[valKey])) vals.push({ v: r[valKey], i }); });
  if (!vals.length) return { v: undefined, c: rowsOfRuns[0] && rowsOfRuns[0][cpuKey], spread: null, n: 0 };
  const m = medianPick(vals);
  return { v: m.v, c: rowsOfRuns[m.i][cpuKey], spread: spread(vals, m.v), n: vals.length };
}

/* runs: an array of row arrays (buildRows of each run), in run order. Rows are matched by
 * scenario + figure + N; a row missing from a run counts as missing there. */
function merge(runs) {
  if (runs.length === 1) return runs[0].map((r) => ({ ...r, runs: 1 }));
  const key = (r) => `${r.sc}\u0000${r.fig}\u0000${r.n}`;
  const maps = runs.map((rows) => new Map(rows.map((r) => [key(r), r])));
  const order = [];
  const seen = new Set();
  for (const rows of runs) {
    for (const r of rows) {
      if (!seen.has(key(r))) { seen.add(key(r)); order.push(r); }
    }
  }
  return order.map((first) => {
    const across = maps.map((m) => m.get(key(first)));
    const sg = side(across, 'sg', 'sgc');
    const nd = side(across, 'nd', 'ndc');
    return { ...first, sg: sg.v, sgc: sg.c, sgSpread: sg.spread, nd: nd.v, ndc: nd.c, ndSpread: nd.spread,
      runs: runs.length, sgRuns: sg.n, ndRuns: nd.n };
  });
}

module.exports = { merge };
