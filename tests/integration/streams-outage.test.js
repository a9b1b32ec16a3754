'use strict';
// Redis restarts under the Streams backend. The stream survives the restart
// (SHUTDOWN SAVE writes it, the next redis-server on the same port loads
// it), so readers resume from their offset; entries a node could not write
// while Redis was away wait in its outbox, in order, and are written when
// it is back, and so do the ones on the wire when the connection went.
// Numbered broadcasts from node A during a restart reach every client (on
// A, on B, on a Node 0.3.1 peer) each exactly once and in order; A's own
// clients get them at once, outage or not. And a node started while Redis
// is down: its broadcasts reach the others once Redis is up. Past
// streamsOutboxEntries the oldest waiting entries go, with one warning.
//
// The restart happens with writes held (CLIENT PAUSE WRITE): A's XADDs of
// that moment are on the wire, unanswered, and never executed, so A must
// write them again. The last test is the other case: an XADD Redis executed
// but whose reply died with it; after the reconnect A finds it in the
// stream (after the last entry Redis acknowledged to it) and does not write
// it twice.
const { test, describe, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, recorder, DEFAULT_WAIT_MS } = require('./lib/util');
const { startCluster, waitReady, until } = require('./lib/cluster');
const { startRedis } = require('./lib/redis');
const { startNodePeer } = require('./node-peer');

const skip = process.env.SG_REF === '1' && 'siogate nodes with the Streams adapter (the reference server has none)';

// short retry periods: reconnect soon after Redis is back; readers catch
// up in several XREADs
const SETTINGS = { redisReconnectMin: 50, redisReconnectMax: 200, readCount: 5 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const state = async (c) => (await ask(c, 'cluster state'))[0];

/** A Redis client for the test's own commands. */
async function admin(rds) {
  const c = createClient({ url: rds.url });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** The redis handles stopped by shutdownSave and not started again. */
const down = new Set();

/** Stop Redis so that the stream survives: SHUTDOWN SAVE on an admin
 *  connection, then the process is reaped (kill() waits for it to go). */
async function shutdownSave(rds, c) {
  await c.sendCommand(['SHUTDOWN', 'SAVE']).catch(() => {}); // the connection closes: no reply
  await c.disconnect().catch(() => {});
  await rds.kill();
  down.add(rds);
}

/** Start it again on the same port (it loads the saved stream). */
async function redisUp(rds) {
  if (down.delete(rds)) await rds.start();
}

/**
 * A publisher: a client `c` that broadcasts "n" with 1, 2, 3...
 * (testkit "cluster emit", each awaited) every few ms until stop().
 */
function publisher(c) {
  let sent = 0;
  let stopping = false;
  const done = (async () => {
    while (!stopping) {
      await ask(c, 'cluster emit', { event: 'n' }, sent + 1);
      sent++;
      await sleep(5);
    }
  })();
  done.catch(() => { stopping = true; }); // a test that failed closed the client
  return {
    get sent() { return sent; },
    /** resolves once at least n more broadcasts were sent */
    more: (n) => { const want = sent + n; return until(() => sent >= want, DEFAULT_WAIT_MS, `${n} more broadcasts sent`); },
    async stop() { stopping = true; await done; return sent; },
  };
}

/** Every number 1..n once, in order (shown compactly when not). */
function assertExactlyOnce(items, n, who) {
  const got = items.map(([k]) => k);
  const want = Array.from({ length: n }, (_, i) => i + 1);
  if (JSON.stringify(got) === JSON.stringify(want)) return;
  const seen = new Map();
  for (const k of got) seen.set(k, (seen.get(k) || 0) + 1);
  const lost = want.filter((k) => !seen.has(k));
  const dup = [...seen].filter(([, c]) => c > 1).map(([k]) => k);
  assert.fail(`${who}: ${got.length} received for ${n} sent; lost ${JSON.stringify(lost)}, duplicated ${JSON.stringify(dup)}, `
    + `out of order at ${got.findIndex((k, i) => i > 0 && k < got[i - 1])}`);
}

describe('streams: Redis restarts', { skip }, () => {
  const cleanups = [];
  afterEach(async () => {
    closeAll();
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  test('broadcasts from A during a Redis restart: every client gets each exactly once, in order', async (t) => {
    const cluster = await startCluster({ adapter: 'streams', nodes: 2, settings: SETTINGS });
    cleanups.push(() => cluster.stop());
    const { redis: rds, nodes: [a, b] } = cluster;
    const node = await startNodePeer({ redisUrl: rds.url, adapter: 'streams' });
    cleanups.push(() => node.stop());
    cleanups.push(() => redisUp(rds)); // first: the others need it
    await cluster.waitReady({ peers: [node] });

    const pubClient = await connected(a.url, { transports: ['websocket'] });
    const ctl = await connected(a.url, { transports: ['websocket'] });
    const receivers = {
      'client on A': await connected(a.url),
      'client on B': await connected(b.url, { transports: ['websocket'] }),
      'client on B (polling)': await connected(b.url, { transports: ['polling'] }),
      'client on Node': await connected(node.url),
    };
    const rec = Object.fromEntries(Object.entries(receivers).map(([k, c]) => [k, recorder(c, 'n')]));
    const done = Object.values(receivers).map((c) => recorder(c, 'done'));
    const max = (r) => r.items.reduce((m, [k]) => Math.max(m, k), 0);

    const adm = await admin(rds);
    const pub = publisher(pubClient);
    await rec['client on B'].count(20); // traffic flows across nodes
    // writes held: what A sends from now on stays on the wire, unexecuted
    await adm.sendCommand(['CLIENT', 'PAUSE', '60000', 'WRITE']);
    const p0 = pub.sent;
    await pub.more(10);
    await shutdownSave(rds, adm);
    await until(async () => (await state(ctl)) === 'down', DEFAULT_WAIT_MS, 'A sees Redis down');
    const p1 = pub.sent; // from here on A cannot write: its outbox keeps them
    await pub.more(30);
    const p2 = pub.sent;
    // A's clients got them at once; B and Node cannot have any of them yet
    await rec['client on A'].count(p2);
    assert.ok(max(rec['client on B']) <= p1, `B got ${max(rec['client on B'])} while Redis was down (A down at ${p1})`);
    assert.ok(max(rec['client on Node']) <= p1, `Node got ${max(rec['client on Node'])} while Redis was down`);
    t.diagnostic(`writes held after ${p0} broadcasts, Redis down after ${p1}; ${p2 - p1} sent while it was down`);

    await redisUp(rds);
    await until(async () => (await state(ctl)) === 'ready', DEFAULT_WAIT_MS, 'A ready again');
    await pub.more(30);
    const n = await pub.stop();
    // a last one, behind everything A has written or will write: once it is
    // in, nothing before it can still come
    await ask(pubClient, 'cluster emit', { event: 'done' });
    for (const r of done) await r.count(1);
    t.diagnostic(`${n} broadcasts in all`);
    for (const [who, r] of Object.entries(rec)) assertExactlyOnce(r.items, n, who);
  });

  test('a node started while Redis is down: its clients get its broadcasts at once, the others once Redis is up', async () => {
    const cluster = await startCluster({ adapter: 'streams', nodes: 1, settings: SETTINGS });
    cleanups.push(() => cluster.stop());
    const { redis: rds, nodes: [b] } = cluster;
    const node = await startNodePeer({ redisUrl: rds.url, adapter: 'streams' });
    cleanups.push(() => node.stop());
    cleanups.push(() => redisUp(rds));
    await cluster.waitReady({ peers: [node] });
    const cb = await connected(b.url);
    const cn = await connected(node.url);
    const rb = recorder(cb, 'n');
    const rn = recorder(cn, 'n');
    // B and the Node peer have read an entry: they resume after it
    await ask(cb, 'cluster emit', { event: 'n' }, 0);
    await rn.count(1);
    await shutdownSave(rds, await admin(rds));

    const a = await startServer({ settings: { ...SETTINGS, adapter: 'streams', redisUrl: rds.url } });
    cleanups.push(() => a.stop());
    const ca = await connected(a.url);
    const ra = recorder(ca, 'n');
    assert.equal(await state(ca), 'connecting');
    for (let k = 1; k <= 10; k++) await ask(ca, 'cluster emit', { event: 'n' }, k);
    await ra.count(10); // at once, Redis or not
    assert.equal(await state(ca), 'connecting');
    assert.deepEqual([rb.items.length, rn.items.length], [1, 1], 'nothing crossed while Redis was down');

    await redisUp(rds);
    await waitReady([a, b], rds.url, { adapter: 'streams', readers: 3, subscribers: 3, ms: DEFAULT_WAIT_MS });
    const done = [cb, cn, ca].map((c) => recorder(c, 'done'));
    await ask(ca, 'cluster emit', { event: 'done' });
    for (const r of done) await r.count(1);
    assertExactlyOnce(ra.items, 10, 'client on A');
    for (const [who, r] of [['client on B', rb], ['client on Node', rn]]) {
      assert.deepEqual(r.items[0], [0], who);
      assertExactlyOnce(r.items.slice(1), 10, who);
    }
  });

  test('an XADD Redis stored but never answered is not written twice after the restart', async () => {
    // DEBUG SLEEP holds Redis; A's XADD and then SHUTDOWN SAVE arrive while
    // it sleeps. When it wakes it runs the XADD (saved in the snapshot) and
    // exits without A reading the reply. Should Redis happen to run the
    // SHUTDOWN first, the XADD was simply never run: exactly once either way.
    const rds = await startRedis({ args: ['--enable-debug-command', 'local'] });
    cleanups.push(() => rds.stop());
    cleanups.push(() => redisUp(rds));
    const cluster = await startCluster({ adapter: 'streams', nodes: 2, redis: rds, settings: SETTINGS });
    cleanups.push(() => cluster.stop());
    const [a, b] = cluster.nodes;
    const ca = await connected(a.url, { transports: ['websocket'] });
    const cb = await connected(b.url, { transports: ['websocket'] });
    const rb = recorder(cb, 'n');
    await ask(ca, 'cluster emit', { event: 'n' }, 1);
    await rb.count(1); // A has an acknowledged entry in the stream
    const sleeper = await admin(rds);
    const stopper = await admin(rds);
    const sleeping = sleeper.sendCommand(['DEBUG', 'SLEEP', '1']).catch(() => {});
    await sleep(200); // (ordering only: both commands below land in the sleep)
    await ask(ca, 'cluster emit', { event: 'n' }, 2);
    await sleep(200);
    stopper.sendCommand(['SHUTDOWN', 'SAVE']).catch(() => {});
    await sleeping;
    await sleeper.disconnect().catch(() => {});
    await stopper.disconnect().catch(() => {});
    await rds.kill();
    down.add(rds);
    await redisUp(rds);
    await until(async () => (await state(ca)) === 'ready', DEFAULT_WAIT_MS, 'A ready again');
    await ask(ca, 'cluster emit', { event: 'n' }, 3);
    await rb.match((m) => m === 3);
    assertExactlyOnce(rb.items, 3, 'client on B');
    const adm = await admin(rds);
    const entries = await adm.xRange('socket.io', '-', '+');
    await adm.quit();
    const numbers = entries.filter((e) => /"n"/.test(e.message.data || ''))
      .map((e) => JSON.parse(e.message.data).packet.data[1]);
    assert.deepEqual(numbers, [1, 2, 3], 'each once in the stream');
  });

  test('past streamsOutboxEntries the oldest waiting entries are dropped, with one warning', async () => {
    const cluster = await startCluster({ adapter: 'streams', nodes: 2, settings: { ...SETTINGS, streamsOutboxEntries: 5 } });
    cleanups.push(() => cluster.stop());
    const { redis: rds, nodes: [a, b] } = cluster;
    cleanups.push(() => redisUp(rds));
    const ca = await connected(a.url);
    const cb = await connected(b.url);
    const ra = recorder(ca, 'n');
    const rb = recorder(cb, 'n');
    await shutdownSave(rds, await admin(rds));
    await until(async () => (await state(ca)) === 'down', DEFAULT_WAIT_MS, 'A sees Redis down');
    for (let k = 1; k <= 20; k++) await ask(ca, 'cluster emit', { event: 'n' }, k);
    await ra.count(20); // local delivery loses nothing
    await redisUp(rds);
    // once A is back its outbox is on the wire: "done" does not count in it
    await until(async () => (await state(ca)) === 'ready', DEFAULT_WAIT_MS, 'A ready again');
    const done = recorder(cb, 'done');
    await ask(ca, 'cluster emit', { event: 'done' });
    await done.count(1);
    assert.deepEqual(rb.items.map(([k]) => k), [16, 17, 18, 19, 20]);
    const warn = (re) => a.logs().split('\n').filter((l) => re.test(l));
    await until(() => warn(/outbox written/).length === 1, DEFAULT_WAIT_MS, 'end of the episode logged');
    assert.equal(warn(/outbox full/).length, 1, a.logs());
    assert.match(warn(/outbox written/)[0], /15 entries were dropped/);
  });
});
