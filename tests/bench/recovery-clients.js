'use strict';
/*
 * tests/bench/recovery-clients.js - the client side of the recovery scenario (recovery.js forks
 * it with an IPC channel, so its CPU time is its own): N official socket.io-client 4.8 sockets,
 * WebSocket only, automatic reconnection off, a publisher and a monitor. Commands (one reply
 * each, {op, ok, ...}):
 *
 *   connect   {url, pubUrl, n}  N clients to url (the proxy in front of server B), each joins
 *                               ROOM; publisher and monitor (in ROOM) connect to pubUrl (A)
 *   primer    {}                one broadcast (seq 0) that every client must get: from then on
 *                               each client holds a pid and an offset, as socket.io-client keeps them
 *   down      {}                resolves once every client saw its connection drop
 *   publish   {k, intervalMs}   seq 1..k from the publisher to ROOM; resolves once the monitor
 *                               has all k (then they are in the stream)
 *   reconnect {k, timeoutMs}    socket.connect() on every client in one go (the client sends auth
 *                               {pid, offset} by itself); resolves when every client is back and
 *                               every recovered one holds seq 1..k, or at the timeout
 *   tally     {k}               per-client counts of seq 1..k: exactly once in order, missing,
 *                               duplicated, primer replayed
 *   close     {}                disconnect everything and exit
 *
 * socket.io-client: tests/bench/node_modules, else tests/integration/node_modules.
 */
const path = require('path');
const { performance } = require('perf_hooks');

function loadClient() {
  try {
    return require('socket.io-client');
  } catch (e) {
    return require(path.join(__dirname, '..', 'integration', 'node_modules', 'socket.io-client'));
  }
}
const { io } = loadClient();

const ROOM = 'recovery';
const OPTS = { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 30000 };
const CONNECT_CONCURRENCY = 50;
const MAX_RETRIES = 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const clients = [];
let pub = null;
let mon = null;
let restore = null; /* the reconnect phase in progress: {t0, k, left, resolve} */

/* Resolves when pred() holds, polling every 10 ms; rejects after ms. */
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what} not within ${ms / 1000} s`);
    await sleep(10);
  }
}

function connected(s, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { s.off('connect', ok); s.off('connect_error', ko); reject(new Error('connect timeout')); }, ms);
    const ok = () => { clearTimeout(t); s.off('connect_error', ko); resolve(); };
    const ko = (e) => { clearTimeout(t); s.off('connect', ok); reject(e); };
    s.once('connect', ok);
    s.once('connect_error', ko);
  });
}

function makeClient(url) {
  const s = io(url, OPTS);
  /* seqs: every seq received, in order; offsets: how many of those came with an offset */
  const c = { s, seqs: [], offsets: 0, reasons: [], recovered: null, back: null, done: null, errors: 0, retries: 0 };
  s.on('message', (msg, ...rest) => {
    if (!msg || typeof msg.seq !== 'number') return;
    c.seqs.push(msg.seq);
    if (typeof rest[rest.length - 1] === 'string') c.offsets++;
    if (restore && c.back !== null) check(c);
  });
  s.on('disconnect', (reason) => c.reasons.push(reason));
  return c;
}

/* seq 1..k received at least once */
function hasAll(c, k) {
  const seen = new Set(c.seqs.filter((q) => q >= 1 && q <= k));
  return seen.size === k;
}

function check(c) {
  if (c.done !== null || c.back === null) return;
  if (c.recovered && !hasAll(c, restore.k)) return;
  c.done = performance.now() - restore.t0;
  if (--restore.left === 0) restore.resolve();
}

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

const ops = {
  async connect({ url, pubUrl, n }) {
    let next = 0;
    let failed = 0;
    const one = async () => {
      while (next < n) {
        const c = makeClient(url);
        clients[next++] = c;
        try {
          await connected(c.s, 30000);
          if ((await c.s.timeout(30000).emitWithAck('join', ROOM)) !== true) throw new Error('join refused');
        } catch (e) {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, one));
    pub = io(pubUrl, { ...OPTS });
    mon = makeClient(pubUrl);
    await Promise.all([connected(pub, 30000), connected(mon.s, 30000)]);
    await mon.s.timeout(30000).emitWithAck('join', ROOM);
    return { joined: n - failed, failed };
  },

  async primer() {
    pub.emit('broadcast', ROOM, { seq: 0 });
    await until(() => mon.seqs.length && clients.every((c) => c.seqs.length), 30000, 'primer at every client');
    return { with_offset: clients.filter((c) => c.offsets === 1).length, pid: clients.filter((c) => c.s._pid).length };
  },

  async down() {
    await until(() => clients.every((c) => !c.s.connected), 30000, 'every client disconnected');
    const reasons = {};
    for (const c of clients) for (const r of c.reasons) reasons[r] = (reasons[r] || 0) + 1;
    return { reasons };
  },

  async publish({ k, intervalMs }) {
    const t0 = Date.now();
    for (let i = 1; i <= k; i++) {
      pub.emit('broadcast', ROOM, { seq: i });
      const wait = t0 + i * intervalMs - Date.now();
      if (i < k && wait > 0) await sleep(wait);
    }
    await until(() => mon.seqs.includes(k), 30000, `message ${k} at the monitor`);
    return { monitor: mon.seqs.filter((q) => q >= 1 && q <= k).length, publish_ms: Date.now() - t0 };
  },

  async reconnect({ k, timeoutMs }) {
    const finished = new Promise((resolve) => { restore = { t0: performance.now(), k, left: clients.length, resolve }; });
    for (const c of clients) {
      c.s.once('connect', () => {
        c.back = performance.now() - restore.t0;
        c.recovered = c.s.recovered === true;
        check(c);
      });
      c.s.on('connect_error', () => {
        c.errors++;
        if (c.back === null && c.retries < MAX_RETRIES) {
          c.retries++;
          setTimeout(() => c.s.connect(), 100);
        }
      });
      c.s.connect();
    }
    const issued = performance.now() - restore.t0;
    const timedOut = await Promise.race([finished.then(() => false), sleep(timeoutMs).then(() => true)]);
    const back = clients.filter((c) => c.back !== null);
    const done = clients.filter((c) => c.done !== null).map((c) => c.done).sort((x, y) => x - y);
    return {
      timed_out: timedOut,
      issue_ms: issued,
      wall_ms: timedOut ? NaN : done[done.length - 1],
      back_ms: back.length === clients.length ? Math.max(...back.map((c) => c.back)) : NaN,
      first_ms: done.length ? done[0] : NaN,
      p50_ms: pct(done, 0.5),
      p99_ms: pct(done, 0.99),
      back: back.length,
      complete: done.length,
      recovered: clients.filter((c) => c.recovered === true).length,
      fresh: clients.filter((c) => c.recovered === false).length,
      connect_errors: clients.reduce((a, c) => a + c.errors, 0),
      retries: clients.reduce((a, c) => a + c.retries, 0),
    };
  },

  async tally({ k }) {
    const t = { exact: 0, missing: 0, duplicated: 0, out_of_order: 0, primer_replayed: 0,
      got_any_missed_fresh: 0, without_offset: 0, expected: 0, received: 0 };
    for (const c of clients) {
      const counts = new Array(k + 1).fill(0);
      for (const q of c.seqs) if (q >= 0 && q <= k) counts[q]++;
      const missed = c.seqs.filter((q) => q >= 1 && q <= k);
      if (counts[0] > 1) t.primer_replayed++;
      if (!c.recovered) {
        if (missed.length) t.got_any_missed_fresh++;
        continue;
      }
      t.expected += k;
      t.received += missed.length;
      let miss = 0;
      let dup = 0;
      for (let q = 1; q <= k; q++) {
        if (counts[q] === 0) miss++;
        else dup += counts[q] - 1;
      }
      t.missing += miss;
      t.duplicated += dup;
      const inOrder = missed.every((q, i) => i === 0 || q > missed[i - 1]);
      if (!inOrder) t.out_of_order++;
      if (!miss && !dup && inOrder) t.exact++;
    }
    t.without_offset = clients.reduce((a, c) => a + (c.seqs.length - c.offsets), 0);
    return t;
  },

  async close() {
    for (const c of clients) c.s.disconnect();
    if (pub) pub.disconnect();
    if (mon) mon.s.disconnect();
    setTimeout(() => process.exit(0), 100);
    return {};
  },
};

process.on('message', (m) => {
  const f = ops[m.op];
  if (!f) { process.send({ op: m.op, ok: false, error: 'unknown op' }); return; }
  f(m).then((r) => process.send({ op: m.op, ok: true, ...r }), (e) => process.send({ op: m.op, ok: false, error: e.message }));
});
process.on('disconnect', () => process.exit(0)); /* the runner went away */
