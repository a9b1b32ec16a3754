'use strict';
// The cluster fixture of the integration tests: siogate nodes (testkit app,
// adapter = redis) on one private redis-server, ready when startCluster
// resolves; stop() stops the nodes, then the redis-server if it started it.
//
// "Ready" asks the nodes first: the testkit app's "cluster state" event acks
// "ready" once the node's command and subscriber connections to Redis are up
// (server/app_testkit_cluster.c). That alone is not enough: the subscriber
// sends its SUBSCRIBE / PSUBSCRIBE commands at that moment and Redis answers
// them later, and a message published in between is lost. So it also waits
// until Redis counts the subscriptions (PUBSUB NUMSUB on each namespace's
// request channel, PUBSUB NUMPAT), which is what the Pub/Sub adapter and
// Node's @socket.io/redis-adapter subscribe to; a Node peer sharing the Redis
// counts there too (option `subscribers`).
//
// With adapter = streams (option `adapter: 'streams'`, siogate's Redis
// Streams backend) "ready" means every stream reader is reading: siogate
// says so itself (its readers anchor on the stream's last id), but a Node
// Streams peer starts reading with XREAD `$` and misses whatever is written
// before its first XREAD blocks. So the check also counts the connections
// Redis shows blocked in (or last running) XREAD (CLIENT LIST cmd=xread: one
// per stream per siogate node, see streamsReaders, plus a Node peer's
// `readers`), and, for protocol 0.3, the subscribers of each namespace's
// public channel `<channelPrefix>#<nsp>#` (one per node), which is also the
// server count of 0.3.
//
// With adapter = sharded (siogate's sharded Pub/Sub backend, like Node's
// createShardedAdapter) "ready" means Redis counts the sharded subscribers
// (PUBSUB SHARDNUMSUB) of each namespace's main channel `<channelPrefix>#<nsp>#`:
// one per node, plus one per Node sharded peer (option `peers`). That count
// is also the sharded adapter's server count.

const { createClient } = require('redis');
const { startServer } = require('./server');
const { startRedis } = require('./redis');
const { connected, ask, DEFAULT_WAIT_MS } = require('./util');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll until pred() is truthy (async allowed) or fail after ms. */
async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(20);
  }
}

/** Poll Redis until `nodes` connections subscribe to the request channel of
 *  each namespace and at least `nodes` patterns per namespace exist. */
async function waitSubscribed(redisUrl, nodes, { key = 'socket.io', nsps = ['/'], ms = DEFAULT_WAIT_MS } = {}) {
  const c = createClient({ url: redisUrl });
  c.on('error', () => {});
  await c.connect();
  try {
    const deadline = Date.now() + ms;
    for (;;) {
      const counts = await c.pubSubNumSub(nsps.map((n) => `${key}-request#${n}#`));
      const numpat = await c.pubSubNumPat();
      const ok = Object.values(counts).every((v) => v === nodes) && numpat >= nodes * nsps.length;
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`cluster not subscribed: NUMSUB ${JSON.stringify(counts)}, NUMPAT ${numpat}, want ${nodes}`);
      await sleep(25);
    }
  } finally {
    await c.quit().catch(() => {});
  }
}

/** The channels of sharded Pub/Sub (PUBSUB SHARDCHANNELS) matching a glob
 *  pattern, sorted; c is a connected node-redis client. */
async function shardChannels(c, pattern = '*') {
  return (await c.sendCommand(['PUBSUB', 'SHARDCHANNELS', pattern])).map(String).sort();
}

/** Sharded subscriber counts (PUBSUB SHARDNUMSUB) of channels, as {channel: n}. */
async function shardNumSub(c, channels) {
  const r = await c.sendCommand(['PUBSUB', 'SHARDNUMSUB', ...channels]);
  const out = {};
  for (let i = 0; i + 1 < r.length; i += 2) out[String(r[i])] = Number(r[i + 1]);
  return out;
}

/**
 * Poll Redis until each channel of `want` ({channel: count}) has exactly that
 * many sharded subscribers. `redis` is a redis:// URL or a connected
 * node-redis client (left connected).
 */
async function waitShardSubscribed(redis, want, { ms = DEFAULT_WAIT_MS } = {}) {
  const own = typeof redis === 'string';
  const c = own ? createClient({ url: redis }) : redis;
  if (own) {
    c.on('error', () => {});
    await c.connect();
  }
  try {
    const deadline = Date.now() + ms;
    for (;;) {
      const counts = await shardNumSub(c, Object.keys(want));
      if (Object.entries(want).every(([ch, n]) => counts[ch] === n)) return;
      if (Date.now() > deadline) {
        throw new Error(`sharded subscribers not as expected: SHARDNUMSUB ${JSON.stringify(counts)}, want ${JSON.stringify(want)}`);
      }
      await sleep(25);
    }
  } finally {
    if (own) await c.quit().catch(() => {});
  }
}

/** Ask each node (a server handle) for its cluster state until every one
 *  says "ready". The probing client leaves again. */
async function waitNodesReady(nodes, ms = DEFAULT_WAIT_MS) {
  const deadline = Date.now() + ms;
  for (const node of nodes) {
    const c = await connected(node.url, { transports: ['websocket'] });
    try {
      let state;
      for (;;) {
        [state] = await ask(c, 'cluster state');
        if (state === 'ready') break;
        if (Date.now() > deadline) {
          throw new Error(`node on port ${node.port} not ready within ${ms} ms (cluster state "${state}")\n--- its output ---\n${node.logs()}`);
        }
        await sleep(20);
      }
    } finally {
      c.disconnect();
    }
  }
}

/** Node's hashCode (the Streams adapter's own function). */
function nodeHash(name) {
  return require('@socket.io/redis-streams-adapter/dist/util').hashCode(name);
}

/** The stream Node's Streams adapter 0.3 writes namespace nsp to. */
function streamOf(nsp, { streamName = 'socket.io', streamCount = 1 } = {}) {
  return streamCount > 1 ? `${streamName}-${nodeHash(nsp) % streamCount}` : streamName;
}

/** The namespaces a testkit node hosts with these settings. */
function testkitNamespaces(settings = {}) {
  const extra = String(settings.namespaces || '').split(',').map((n) => n.trim()).filter(Boolean);
  return [...new Set(['/', '/custom', '/auth', ...extra])];
}

/** How many XREAD connections one siogate node in streams mode keeps: one
 *  per stream, plus one per stream with a negative index that one of its
 *  namespaces maps to (Node writes those, siogate reads them). */
function streamsReaders(settings = {}) {
  const count = settings.streamsProtocol === '0.2' ? 1 : Number(settings.streamCount || 1);
  const negative = new Set(testkitNamespaces(settings)
    .map((n) => (count > 1 ? nodeHash(n) % count : 0)).filter((i) => i < 0));
  return count + negative.size;
}

/** The CLIENT LIST lines of the connections whose last command is XREAD. */
async function xreadClients(c) {
  return String(await c.sendCommand(['CLIENT', 'LIST'])).split('\n').filter((l) => / cmd=xread /.test(l));
}

/**
 * Poll Redis until exactly `readers` connections read a stream and, unless
 * subscribers is 0, `subscribers` connections subscribe to each namespace's
 * public channel `<prefix>#<nsp>#` (protocol 0.3).
 */
async function waitStreamsReading(redisUrl, { readers, subscribers = 0, prefix = 'socket.io', nsps = ['/'], ms = DEFAULT_WAIT_MS } = {}) {
  const c = createClient({ url: redisUrl });
  c.on('error', () => {});
  await c.connect();
  try {
    const deadline = Date.now() + ms;
    for (;;) {
      const xr = (await xreadClients(c)).length;
      const counts = subscribers ? await c.pubSubNumSub(nsps.map((n) => `${prefix}#${n}#`)) : {};
      if (xr === readers && Object.values(counts).every((v) => v === subscribers)) return;
      if (Date.now() > deadline) {
        throw new Error(`streams cluster not reading: ${xr} XREAD connections (want ${readers}), `
          + `NUMSUB ${JSON.stringify(counts)} (want ${subscribers})`);
      }
      await sleep(25);
    }
  } finally {
    await c.quit().catch(() => {});
  }
}

/**
 * Wait until a cluster is ready: every node of `nodes` says so, then Redis
 * (reached at probeUrl) counts `subscribers` subscriptions (default: one per
 * node; more when Node peers share the Redis).
 * @param {object[]} nodes server handles (lib/server.js)
 * @param {string} probeUrl a redis:// URL the test process can use
 * @param {object} [o] { subscribers, key, nsps, ms }
 */
async function waitReady(nodes, probeUrl, o = {}) {
  const ms = o.ms || DEFAULT_WAIT_MS;
  await waitNodesReady(nodes, ms);
  if (o.adapter === 'streams') {
    await waitStreamsReading(probeUrl, { readers: o.readers, subscribers: o.subscribers, prefix: o.key, nsps: o.nsps, ms });
  } else if (o.adapter === 'sharded') {
    const prefix = o.key || 'socket.io';
    const want = Object.fromEntries((o.nsps || ['/']).map((n) => [`${prefix}#${n}#`, o.subscribers || nodes.length]));
    await waitShardSubscribed(probeUrl, want, { ms });
  } else {
    await waitSubscribed(probeUrl, o.subscribers || nodes.length, { key: o.key, nsps: o.nsps, ms });
  }
}

/** The readiness options of a streams cluster: `nodes` siogate nodes with
 *  `settings`, plus the Node Streams peers of w.peers (their readers, and
 *  one subscriber each in 0.3); w.readers / w.subscribers override. */
function streamsReadiness(settings, nodes, w = {}) {
  const peers = w.peers || [];
  const p02 = settings.streamsProtocol === '0.2';
  const { peers: _p, ...rest } = w;
  return {
    adapter: 'streams',
    key: settings.channelPrefix,
    readers: nodes * streamsReaders(settings) + peers.reduce((n, p) => n + p.readers, 0),
    subscribers: p02 ? 0 : nodes + peers.length,
    ...rest,
  };
}

/** The readiness options of a sharded cluster: `nodes` siogate nodes with
 *  `settings`, plus the Node sharded peers of w.peers (one subscriber each
 *  on every namespace counted); w.subscribers overrides. */
function shardedReadiness(settings, nodes, w = {}) {
  const { peers = [], ...rest } = w;
  return { adapter: 'sharded', key: settings.channelPrefix, subscribers: nodes + peers.length, ...rest };
}

/**
 * Start a cluster: `nodes` siogate nodes on one Redis, ready when it resolves.
 * @param {object} [o]
 * @param {number} [o.nodes=2]
 * @param {string} [o.adapter='redis'] or 'streams' (the Redis Streams
 *   backend) or 'sharded' (sharded Pub/Sub)
 * @param {object} [o.settings] extra settings for every node (adapter and
 *   redisUrl are set here; settings.redisKey, for streams channelPrefix,
 *   streamCount, streamsProtocol and namespaces, and for sharded
 *   channelPrefix, are honoured by the readiness check)
 * @param {object} [o.redis] a running redis handle to use (stop() leaves it
 *   running), or options for startRedis() ({args, unixSocket}) to start one
 * @param {string|function} [o.url] the redisUrl the nodes get, or a function
 *   of the redis handle (for credentials, /db, unix sockets); default redis.url
 * @param {string|function} [o.probeUrl] the URL the readiness check uses
 *   (default: url when it is redis://, else redis.url)
 * @param {string[]} [o.nsps] namespaces whose request channel is counted
 * @param {number} [o.subscribers] subscriptions expected (default: nodes)
 * @returns {Promise<{redis, nodes, url, probeUrl, waitReady, stop}>}
 *   waitReady(opts) checks again (after a Redis restart, a peer joining...)
 *   with the same nodes, key and namespaces unless opts says otherwise; in
 *   streams mode opts.peers (Node Streams peers, node-peer.js) adds their
 *   readers and subscribers, in sharded mode (Node sharded peers) their
 *   subscribers.
 */
async function startCluster(o = {}) {
  const given = o.redis && typeof o.redis.stop === 'function' ? o.redis : null;
  const redis = given || (await startRedis(o.redis || {}));
  const pick = (v, dflt) => (typeof v === 'function' ? v(redis) : v || dflt);
  const url = pick(o.url, redis.url);
  const probeUrl = pick(o.probeUrl, /^redis:/.test(url) ? url : redis.url);
  const adapter = o.adapter || 'redis';
  const settings = { ...(o.settings || {}), adapter, redisUrl: url };
  const readiness = { key: settings.redisKey, nsps: o.nsps, subscribers: o.subscribers };
  const nodes = [];
  const cluster = {
    redis,
    nodes,
    url,
    probeUrl,
    settings,
    waitReady: (w = {}) => waitReady(nodes, probeUrl, adapter === 'streams'
      ? streamsReadiness(settings, nodes.length, { nsps: o.nsps, ...w })
      : adapter === 'sharded'
        ? shardedReadiness(settings, nodes.length, { nsps: o.nsps, ...(o.subscribers ? { subscribers: o.subscribers } : {}), ...w })
        : { ...readiness, ...w }),
    /** Stop every node, then the Redis this fixture started; throws the first
     *  error (a node that did not exit cleanly) once everything is stopped. */
    async stop() {
      let first = null;
      for (const n of nodes) {
        try { await n.stop(); } catch (e) { first = first || e; }
      }
      if (!given) await redis.stop().catch((e) => { first = first || e; });
      if (first) throw first;
    },
  };
  try {
    for (let i = 0; i < (o.nodes === undefined ? 2 : o.nodes); i++) nodes.push(await startServer({ settings }));
    await cluster.waitReady();
  } catch (e) {
    await cluster.stop().catch(() => {});
    throw e;
  }
  return cluster;
}

module.exports = {
  startCluster,
  waitReady,
  waitNodesReady,
  waitSubscribed,
  waitStreamsReading,
  waitShardSubscribed,
  shardChannels,
  shardNumSub,
  streamsReaders,
  streamOf,
  until,
};
