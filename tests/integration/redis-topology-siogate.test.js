'use strict';
// siogate on a Redis Cluster (redisUrl redis+cluster://seeds) and behind
// Redis Sentinel (redis+sentinel://sentinels/name), with the topology
// fixtures lib/redis-cluster.js and lib/redis-sentinel.js.
//
// Redis Cluster (3 masters + 3 replicas, one cluster for the whole block):
//   sharded adapter (dynamic mode): two siogate nodes and a Node peer
//     (createShardedAdapter over node-redis createCluster clients): broadcasts
//     to all and to a room in every direction, fetchSockets and the server
//     count across the three; every shard channel is on its slot's owner;
//   classic adapter (redis): two siogate nodes and a Node peer (createAdapter
//     over node-redis createCluster clients, which do SUBSCRIBE and
//     PSUBSCRIBE on one master), broadcasting both ways;
//   streams adapter: two siogate nodes, broadcasting both ways.
//   Then failovers, one at a time: the master owning the slot of the sharded
//   main channel `socket.io#/#`, the master owning the stream `socket.io`,
//   and the master holding the classic subscriptions. After each kill every
//   pair of siogate nodes must broadcast again (polled by re-emitting every
//   200 ms; time from the kill printed; < 20 s) and every subscription must
//   be back: the same shard channels with the same counts, each on its slot's
//   current owner (none for a room left before), the same classic channels
//   and patterns, the stream readers on the stream's owner.
//   The Node peers leave before the first kill: node-redis 4 cluster clients
//   re-read the topology only on MOVED/ASK, so a client of a killed master
//   retries the dead port for ever (see lib/redis-cluster.js); that is
//   node-redis' limitation, not siogate's.
//
// Sentinel (master, replica, 3 sentinels; one set per adapter): two siogate
// nodes with adapter redis, then sharded: cross-node broadcasts; then
// SENTINEL FAILOVER. The old master stays up, and a master, for ~20 s, so
// broadcasts between nodes still on it would prove nothing: a broadcast
// counts once MONITOR on the promoted replica saw a client (not the
// replication link) publish it and the other node delivered it (< 15 s from
// the FAILOVER command, printed). Then every siogate connection (a command
// and a subscriber link per node) is on the new master, none on the old one.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { connected, closeAll, ask, recorder } = require('./lib/util');
const { startServer } = require('./lib/server');
const { waitNodesReady, until } = require('./lib/cluster');
const { startNodePeer } = require('./node-peer');
const { startRedisCluster, pairs } = require('./lib/redis-cluster');
const { startRedisSentinel } = require('./lib/redis-sentinel');

const skip = process.env.SG_REF === '1' && 'siogate nodes on Redis Cluster / Sentinel (the reference server has no Redis adapter)';

const WAIT = 30000; // topology waits (cluster settle, failover)
const POLL_MS = 200; // re-emit period while waiting for a broadcast to cross
const CLUSTER_BOUND_MS = 20000; // kill -> first cross-node broadcast
const SENTINEL_BOUND_MS = 15000; // SENTINEL FAILOVER -> first broadcast via the new master
const CLASSIC_KEY = 'sg-classic'; // the classic nodes' redisKey (streams 0.3 uses socket.io#/# as Pub/Sub channel)
const NSPS = ['/', '/custom', '/auth']; // testkit's namespaces
const UID_RE = /^[0-9a-f]{16}$/;
// The Node peers' node-redis cluster clients name their connections (CLIENT
// SETNAME), so CLIENT LIST tells when they are all gone.
const PEER_NAME = `sg-test-node-peer-${process.pid}`;
const PEER_OPTS = { defaults: { name: PEER_NAME } };

const shardCh = (nsp, room) => (room === undefined ? `socket.io#${nsp}#` : `socket.io#${nsp}#${room}#`);

/** Start n siogate nodes (in parallel) with these settings. */
function startNodes(n, settings) {
  return Promise.all(Array.from({ length: n }, () => startServer({ settings })));
}

/** Stop servers / peers, throwing the first error once all are stopped. */
async function stopAll(list) {
  const res = await Promise.allSettled(list.filter(Boolean).map((x) => x.stop()));
  const bad = res.find((r) => r.status === 'rejected');
  if (bad) throw bad.reason;
}

/**
 * Poll a cross-node broadcast: send(token) every POLL_MS until `receiver`
 * gets a "message" with one of the tokens (and accept(token) holds, checked
 * again at every tick for the tokens already received). Resolves with the ms
 * since t0; rejects once t0 + boundMs has passed.
 */
function crossing({ label, send, receiver, t0, boundMs, accept = () => true }) {
  return new Promise((resolve, reject) => {
    const prefix = `${label}|${process.hrtime.bigint()}|`;
    const got = [];
    let seq = 0;
    let finished = false;
    const check = () => {
      if (got.some((tok) => accept(tok))) finish(null, Date.now() - t0);
    };
    const onMsg = (tok) => {
      if (typeof tok !== 'string' || !tok.startsWith(prefix)) return;
      got.push(tok);
      check();
    };
    const tick = () => {
      if (finished) return;
      check();
      if (finished) return;
      try { send(prefix + (++seq)); } catch {}
    };
    receiver.on('message', onMsg);
    const iv = setInterval(tick, POLL_MS);
    const timer = setTimeout(() => finish(new Error(`${label}: no cross-node broadcast within ${boundMs} ms `
      + `(${seq} sent, ${got.length} received, none accepted)`)), Math.max(0, t0 + boundMs - Date.now()));
    function finish(err, ms) {
      if (finished) return;
      finished = true;
      clearInterval(iv);
      clearTimeout(timer);
      receiver.off('message', onMsg);
      if (err) reject(err); else resolve(ms);
    }
    tick();
  });
}

/** Run named crossings concurrently; log and return { label: ms }. */
async function crossings(what, list) {
  const settled = await Promise.allSettled(list.map((c) => crossing(c)));
  const times = {};
  const errors = [];
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') times[list[i].label] = r.value;
    else errors.push(r.reason.message);
  });
  console.log(`# ${what}: first cross-node broadcast (ms) ${JSON.stringify(times)}`);
  if (errors.length) assert.fail(`${what}:\n${errors.join('\n')}`);
  return times;
}

/** A siogate client emitting testkit "broadcast" (room or null) with one arg. */
const sgSend = (sock, room = null) => (tok) => sock.emit('broadcast', room, tok);

/** Every expected message arrives (recorders on "message"). */
async function expectMessages(expect) {
  for (const [rec, text] of expect) await rec.match((m) => m === text);
}

/**
 * MONITOR on a data node, resolved once the first MONITOR is accepted.
 * lines(x): the MONITOR lines ("+<time> [<db> <client address>] "CMD" ...")
 * seen so far that contain x. A connection the node closes is opened again
 * at once (a Sentinel failover kills the promoted replica's normal clients,
 * MONITOR included), until close().
 */
function monitor(port) {
  let text = '';
  let closed = false;
  let sock = null;
  return new Promise((resolve, reject) => {
    let first = true;
    const open = () => {
      if (closed) return;
      let ok = false;
      let buf = '';
      const s = net.connect(port, '127.0.0.1');
      sock = s;
      s.on('error', (e) => { if (first) { first = false; reject(e); } });
      s.once('connect', () => s.write('*1\r\n$7\r\nMONITOR\r\n'));
      s.on('data', (d) => {
        if (ok) { text += d.toString('latin1'); return; }
        buf += d.toString('latin1');
        if (!buf.startsWith('+OK\r\n')) return;
        ok = true;
        text += buf.slice(5);
        if (first) {
          first = false;
          resolve({
            lines: (x) => text.split('\r\n').filter((l) => l.includes(x)),
            close: () => { closed = true; sock.destroy(); },
          });
        }
      });
      s.once('close', () => { if (!first) setTimeout(open, 20); });
    };
    open();
  });
}

// ---------------------------------------------------------------- cluster helpers

/** One command on every running node: [{ port, role, reply }]. */
async function onEveryNode(cluster, args) {
  const nodes = cluster.nodes.filter((n) => n.alive);
  return Promise.all(nodes.map(async (n) => ({ port: n.port, role: n.role, reply: await cluster.command(n.port, args) })));
}

/** Shard channels of every running node: Map channel -> { ports, count }. */
async function shardMap(cluster) {
  const map = new Map();
  for (const { port } of await onEveryNode(cluster, ['PING'])) {
    const chans = (await cluster.command(port, ['PUBSUB', 'SHARDCHANNELS'])).map(String);
    if (!chans.length) continue;
    const counts = await cluster.command(port, ['PUBSUB', 'SHARDNUMSUB', ...chans]);
    for (let i = 0; i + 1 < counts.length; i += 2) {
      const e = map.get(counts[i]) || { ports: [], count: 0 };
      e.ports.push(port);
      e.count += Number(counts[i + 1]);
      map.set(counts[i], e);
    }
  }
  return map;
}

/** Classic Pub/Sub of every running node: { channels: Map ch -> {ports,
 *  count}, patPorts (nodes with patterns), totals: the sub, psub and ssub
 *  counts of CLIENT LIST summed over every connection of every node }. */
async function classicMap(cluster) {
  const channels = new Map();
  const patPorts = [];
  const totals = { sub: 0, psub: 0, ssub: 0 };
  for (const { port } of await onEveryNode(cluster, ['PING'])) {
    for (const line of String(await cluster.command(port, ['CLIENT', 'LIST'])).split('\n')) {
      for (const k of Object.keys(totals)) totals[k] += Number((new RegExp(` ${k}=(\\d+)`).exec(line) || [])[1] || 0);
    }
    const chans = (await cluster.command(port, ['PUBSUB', 'CHANNELS'])).map(String);
    if (chans.length) {
      const counts = await cluster.command(port, ['PUBSUB', 'NUMSUB', ...chans]);
      for (let i = 0; i + 1 < counts.length; i += 2) {
        const e = channels.get(counts[i]) || { ports: [], count: 0 };
        e.ports.push(port);
        e.count += Number(counts[i + 1]);
        channels.set(counts[i], e);
      }
    }
    if (Number(await cluster.command(port, ['PUBSUB', 'NUMPAT']))) patPorts.push(port);
  }
  return { channels, patPorts, totals };
}

/** Slot -> owner port for the current topology (one CLUSTER SHARDS), and a
 *  cached CLUSTER KEYSLOT. */
function slotTools(cluster) {
  const slots = new Map();
  return {
    async slotOf(key) {
      if (!slots.has(key)) slots.set(key, Number(await cluster.command(cluster.masters()[0].port, ['CLUSTER', 'KEYSLOT', key])));
      return slots.get(key);
    },
    async owners() {
      const any = cluster.nodes.find((n) => n.alive);
      const shards = await cluster.command(any.port, ['CLUSTER', 'SHARDS']);
      const ranges = [];
      for (const sh of shards) {
        const s = pairs(sh);
        const m = s.nodes.map(pairs).find((n) => n.role === 'master' && n.health === 'online');
        for (let i = 0; i + 1 < (s.slots || []).length; i += 2) ranges.push([s.slots[i], s.slots[i + 1], m ? Number(m.port) : null]);
      }
      return (slot) => (ranges.find(([a, b]) => slot >= a && slot <= b) || [])[2] ?? null;
    },
  };
}

/** Why the shard channels are not placed as `want` (Map ch -> count) says,
 *  each on its slot's owner and nowhere else; null when they are. */
async function shardPlacementProblem(cluster, tools, want, gone = []) {
  const have = await shardMap(cluster);
  const ownerOf = await tools.owners();
  for (const [ch, count] of want) {
    const e = have.get(ch);
    if (!e) return `${ch} not subscribed anywhere`;
    const owner = ownerOf(await tools.slotOf(ch));
    if (e.ports.length !== 1 || e.ports[0] !== owner) return `${ch} on ${e.ports} (slot owner ${owner})`;
    if (e.count !== count) return `${ch}: ${e.count} subscribers, want ${count}`;
  }
  for (const ch of gone) if (have.has(ch)) return `${ch} (a room left) is subscribed on ${have.get(ch).ports}`;
  return null;
}

/** The CLIENT LIST lines of a node whose last command is XREAD. */
async function xreaders(cluster, port) {
  return String(await cluster.command(port, ['CLIENT', 'LIST'])).split('\n').filter((l) => / cmd=xread /.test(l));
}

/** Rooms whose shard channel (on /) lands on each master: Map port -> room. */
async function roomPerMaster(cluster, prefix) {
  const out = new Map();
  for (let i = 0; out.size < cluster.masters().length; i++) {
    assert.ok(i < 2000, 'a room for every master');
    const room = `${prefix}${i}`;
    const { port } = await cluster.ownerOf(shardCh('/', room));
    if (!out.has(port)) out.set(port, room);
  }
  return out;
}

/** A Node peer with the classic @socket.io/redis-adapter over two node-redis
 *  createCluster clients (SUBSCRIBE / PSUBSCRIBE go to one node chosen by
 *  node-redis, PUBLISH to any: Redis Cluster propagates it). */
async function classicClusterPeer(cluster, key) {
  const pub = cluster.nodeRedisCluster(PEER_OPTS);
  const sub = cluster.nodeRedisCluster(PEER_OPTS);
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { key, requestsTimeout: 5000 }) });
  io.on('connection', (socket) => {
    socket.on('join', (room, cb) => { socket.join(room); if (cb) cb(true); });
  });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address();
  return {
    io,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      io.close();
      await new Promise((resolve) => httpServer.close(() => resolve()));
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}

/** Sum of one PUBSUB NUMSUB / SHARDNUMSUB count over the masters. */
async function numsub(cluster, kind, ch) {
  let n = 0;
  for (const m of cluster.masters()) n += Number((await cluster.command(m.port, ['PUBSUB', kind, ch]))[1]);
  return n;
}

// ---------------------------------------------------------------- Redis Cluster

describe('siogate on a Redis Cluster (redis+cluster://)', { skip }, () => {
  let cluster;
  let sharded = []; // two siogate nodes, adapter sharded (dynamic)
  let classic = []; // two siogate nodes, adapter redis
  let streams = []; // two siogate nodes, adapter streams
  let shardedPeer;
  let classicPeer;

  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    [sharded, classic, streams] = await Promise.all([
      startNodes(2, { adapter: 'sharded', subscriptionMode: 'dynamic', redisUrl: cluster.url }),
      startNodes(2, { adapter: 'redis', redisKey: CLASSIC_KEY, redisUrl: cluster.url }),
      startNodes(2, { adapter: 'streams', redisUrl: cluster.url }),
    ]);
    [shardedPeer, classicPeer] = await Promise.all([
      startNodePeer({
        adapter: 'sharded', sharded: { subscriptionMode: 'dynamic' }, makeClient: () => cluster.nodeRedisCluster(PEER_OPTS),
      }),
      classicClusterPeer(cluster, CLASSIC_KEY),
    ]);
    shardedPeer.io.on('ping', (cb) => cb('node-pong'));
    await waitNodesReady([...sharded, ...classic, ...streams], WAIT);
    // Redis counts every subscription: the sharded main channel of every
    // namespace (2 siogate + the Node peer on '/'), the classic request
    // channel and patterns, the streams nodes' public channel.
    await until(async () => (await numsub(cluster, 'SHARDNUMSUB', shardCh('/'))) === 3
      && (await numsub(cluster, 'SHARDNUMSUB', shardCh('/custom'))) === 2
      && (await numsub(cluster, 'NUMSUB', `${CLASSIC_KEY}-request#/#`)) === 3
      // the classic pattern of each namespace: 2 siogate x 3 + the Node peer's
      && (await classicMap(cluster)).totals.psub >= 2 * NSPS.length + 1
      && (await numsub(cluster, 'NUMSUB', 'socket.io#/#')) === 2, WAIT, 'every subscription counted by the cluster');
  });

  after(async () => {
    closeAll();
    const errs = [];
    for (const list of [[shardedPeer, classicPeer], [...sharded, ...classic, ...streams]]) {
      try { await stopAll(list); } catch (e) { errs.push(e); }
    }
    if (cluster) await cluster.stop();
    if (errs.length) throw errs[0];
  });

  test('sharded (dynamic): broadcasts to all and to a room, siogate <-> Node <-> siogate', async () => {
    const [a, b] = sharded;
    const s1 = await connected(a.url);
    const s2 = await connected(b.url);
    const n = await connected(shardedPeer.url);
    const out = await connected(a.url); // in no room
    for (const c of [s1, s2, n]) await ask(c, 'join', 'sh-room');
    // dynamic mode: a room broadcast goes to the room's channel, which every
    // server with a member subscribes
    await until(async () => (await numsub(cluster, 'SHARDNUMSUB', shardCh('/', 'sh-room'))) === 3, WAIT, 'sh-room channel on 3 servers');
    const [r1, r2, rn, ro] = [s1, s2, n, out].map((c) => recorder(c, 'message'));
    s1.emit('broadcast', null, 'all-from-sg1');
    s2.emit('broadcast', 'sh-room', 'room-from-sg2');
    shardedPeer.io.emit('message', 'all-from-node');
    shardedPeer.io.to('sh-room').emit('message', 'room-from-node');
    await expectMessages([
      [r2, 'all-from-sg1'], [rn, 'all-from-sg1'], [ro, 'all-from-sg1'], // siogate -> siogate, Node
      [r1, 'room-from-sg2'], [rn, 'room-from-sg2'], // siogate -> siogate, Node (room)
      [r1, 'all-from-node'], [r2, 'all-from-node'], [ro, 'all-from-node'], // Node -> both siogate
      [r1, 'room-from-node'], [r2, 'room-from-node'], // Node -> both siogate (room)
    ]);
    // a final broadcast to all from each origin: the room messages reached no outsider
    s2.emit('broadcast', null, 'end-sg2');
    shardedPeer.io.emit('message', 'end-node');
    await expectMessages([[ro, 'end-sg2'], [ro, 'end-node']]);
    assert.ok(!ro.items.some(([m]) => String(m).startsWith('room-')), JSON.stringify(ro.items));
  });

  test('sharded: fetchSockets and the server count cover all three servers', async () => {
    const [a, b] = sharded;
    const s1 = await connected(a.url);
    const s2 = await connected(b.url);
    const n = await connected(shardedPeer.url);
    const ids = [s1.id, s2.id, n.id].sort();
    for (const sg of [s1, s2]) {
      const [r] = await ask(sg, 'cluster fetch', {});
      assert.equal(r.err, null);
      const got = r.result.map((x) => x.id);
      assert.deepEqual(ids.filter((id) => got.includes(id)), ids, `siogate ${sg === s1 ? 1 : 2} fetches every server's sockets`);
    }
    const fromNode = (await shardedPeer.io.fetchSockets()).map((x) => x.id);
    assert.deepEqual(ids.filter((id) => fromNode.includes(id)), ids, 'Node fetches every server\'s sockets');
    assert.equal(await shardedPeer.io.of('/').adapter.serverCount(), 3);
    // siogate waits for exactly the servers it counts: the other siogate and Node
    const [sse] = await ask(s1, 'cluster server emit', { event: 'ping', ack: true });
    assert.deepEqual({ ...sse, responses: [...sse.responses].sort() }, { err: null, responses: ['node-pong', 'pong'] });
    assert.deepEqual(await shardedPeer.io.serverSideEmitWithAck('ping'), ['pong', 'pong']);
  });

  test('sharded: every shard channel is on the master owning its slot', async () => {
    const [a, b] = sharded;
    const s1 = await connected(a.url);
    const s2 = await connected(b.url);
    // one room channel on every master, joined on both siogate nodes
    const rooms = [...(await roomPerMaster(cluster, 'place-')).values()];
    await ask(s1, 'join', rooms);
    await ask(s2, 'join', rooms);
    await until(async () => {
      for (const r of rooms) if ((await numsub(cluster, 'SHARDNUMSUB', shardCh('/', r))) !== 2) return false;
      return true;
    }, WAIT, 'room channels subscribed by both siogate nodes');
    const map = await shardMap(cluster);
    const nodeUid = shardedPeer.io.of('/').adapter.uid;
    const mine = [...map.keys()].filter((ch) => ch !== shardCh('/', nodeUid));
    // siogate's: each namespace's main channel and one uid channel per node,
    // and the rooms joined above
    for (const nsp of NSPS) {
      assert.ok(map.has(shardCh(nsp)), `${shardCh(nsp)} in ${JSON.stringify(mine)}`);
      const uids = mine.filter((ch) => ch.startsWith(shardCh(nsp)) && UID_RE.test(ch.slice(shardCh(nsp).length, -1)));
      assert.equal(uids.length, 2, `two siogate uid channels on ${nsp}: ${JSON.stringify(mine)}`);
    }
    for (const r of rooms) assert.ok(map.has(shardCh('/', r)));
    const ports = new Set();
    for (const ch of mine) {
      const { slot, port } = await cluster.ownerOf(ch);
      assert.equal(Number(await cluster.command(port, ['CLUSTER', 'KEYSLOT', ch])), slot);
      assert.deepEqual(map.get(ch).ports, [port], `${ch} (slot ${slot}) is on its owner ${port} only`);
      ports.add(port);
    }
    assert.equal(ports.size, 3, 'siogate\'s shard channels span the three masters');
    await ask(s1, 'leave', rooms);
    await ask(s2, 'leave', rooms);
    await until(async () => {
      for (const r of rooms) if ((await numsub(cluster, 'SHARDNUMSUB', shardCh('/', r))) !== 0) return false;
      return true;
    }, WAIT, 'room channels gone');
  });

  test('classic (redis): broadcasts both ways, siogate <-> Node <-> siogate', async () => {
    const [a, b] = classic;
    const c1 = await connected(a.url);
    const c2 = await connected(b.url);
    const n = await connected(classicPeer.url);
    for (const c of [c1, c2, n]) await ask(c, 'join', 'cl-room');
    const [r1, r2, rn] = [c1, c2, n].map((c) => recorder(c, 'message'));
    c1.emit('broadcast', null, 'all-from-sg1');
    c2.emit('broadcast', 'cl-room', 'room-from-sg2');
    classicPeer.io.emit('message', 'all-from-node');
    classicPeer.io.to('cl-room').emit('message', 'room-from-node');
    await expectMessages([
      [r2, 'all-from-sg1'], [rn, 'all-from-sg1'],
      [r1, 'room-from-sg2'], [rn, 'room-from-sg2'],
      [r1, 'all-from-node'], [r2, 'all-from-node'],
      [r1, 'room-from-node'], [r2, 'room-from-node'],
    ]);
    const [f] = await ask(c1, 'cluster fetch', {});
    assert.equal(f.err, null);
    const ids = f.result.map((x) => x.id);
    assert.ok([c1.id, c2.id, n.id].every((id) => ids.includes(id)), 'siogate fetches every server\'s sockets');
    // siogate's channels and patterns are on one master
    const { channels, patPorts } = await classicMap(cluster);
    const sgPorts = new Set([...channels].filter(([ch]) => ch.startsWith(`${CLASSIC_KEY}-`)).flatMap(([, e]) => e.ports));
    console.log(`# classic subscriptions: channels on ${[...sgPorts]}, patterns on ${patPorts}`);
  });

  test('streams: broadcasts both ways between two siogate nodes', async () => {
    const [a, b] = streams;
    const t1 = await connected(a.url);
    const t2 = await connected(b.url);
    const t3 = await connected(b.url); // in no room
    for (const c of [t1, t2]) await ask(c, 'join', 'st-room');
    const [r1, r2, r3] = [t1, t2, t3].map((c) => recorder(c, 'message'));
    t1.emit('broadcast', null, 'all-from-sg1');
    t2.emit('broadcast', null, 'all-from-sg2');
    t1.emit('broadcast', 'st-room', 'room-from-sg1');
    t2.emit('broadcast', 'st-room', 'room-from-sg2');
    await expectMessages([
      [r2, 'all-from-sg1'], [r3, 'all-from-sg1'], [r1, 'all-from-sg2'],
      [r2, 'room-from-sg1'], [r1, 'room-from-sg2'],
    ]);
    // the readers are on the stream's owner
    const { port } = await cluster.ownerOf('socket.io');
    const readers = await xreaders(cluster, port);
    assert.ok(readers.length >= 2, `XREAD connections on the owner of the stream ${port}: ${readers.length}`);
  });

  describe('failover of a master (SIGKILL, replica promoted)', () => {
    // persistent clients and rooms across the kills
    const ctx = {};

    /** Every pair of siogate nodes broadcasts again, timed from t0. */
    async function allCross(what, t0, victim) {
      const { a1, a2, c1, c2, t1, t2, roomsA, roomsB } = ctx;
      // the rooms whose channel was on the killed master (joined on the other node)
      const roomA = roomsA.get(victim) || [...roomsA.values()][0];
      const roomB = roomsB.get(victim) || [...roomsB.values()][0];
      const common = { t0, boundMs: CLUSTER_BOUND_MS };
      return crossings(what, [
        { label: 'sharded sg1->sg2', send: sgSend(a1), receiver: a2, ...common },
        { label: 'sharded sg2->sg1', send: sgSend(a2), receiver: a1, ...common },
        { label: `sharded sg1->sg2 room ${roomB}`, send: sgSend(a1, roomB), receiver: a2, ...common },
        { label: `sharded sg2->sg1 room ${roomA}`, send: sgSend(a2, roomA), receiver: a1, ...common },
        { label: 'classic sg1->sg2', send: sgSend(c1), receiver: c2, ...common },
        { label: 'classic sg2->sg1 room', send: sgSend(c2, 'fo-classic'), receiver: c1, ...common },
        { label: 'streams sg1->sg2', send: sgSend(t1), receiver: t2, ...common },
        { label: 'streams sg2->sg1 room', send: sgSend(t2, 'fo-streams'), receiver: t1, ...common },
      ]);
    }

    /** Every subscription and stream reader is back where it belongs. */
    async function allPlaced(what) {
      let why = null;
      const tools = slotTools(cluster);
      try {
        await until(async () => {
          why = await shardPlacementProblem(cluster, tools, ctx.shardBefore, ctx.shardGone);
          if (why) return false;
          const cm = await classicMap(cluster);
          for (const [ch, e] of ctx.classicBefore.channels) {
            const now = cm.channels.get(ch);
            if (!now || now.count !== e.count) { why = `classic ${ch}: ${now ? now.count : 0} subscribers, want ${e.count}`; return false; }
          }
          if (cm.channels.size !== ctx.classicBefore.channels.size) { why = `classic channels ${[...cm.channels.keys()]}`; return false; }
          if (JSON.stringify(cm.totals) !== JSON.stringify(ctx.classicBefore.totals)) {
            why = `subscriptions per CLIENT LIST ${JSON.stringify(cm.totals)}, want ${JSON.stringify(ctx.classicBefore.totals)}`;
            return false;
          }
          const { port } = await cluster.ownerOf('socket.io');
          const xr = (await xreaders(cluster, port)).length;
          if (xr < ctx.readersBefore) { why = `${xr} XREAD connections on the stream's owner ${port}, want ${ctx.readersBefore}`; return false; }
          return true;
        }, WAIT, `${what}: every subscription back in place`);
      } catch (e) {
        e.message += ` (last: ${why})`;
        throw e;
      }
      // and for the record: ownerOf (CLUSTER KEYSLOT + SHARDS) agrees for every channel
      const map = await shardMap(cluster);
      for (const ch of ctx.shardBefore.keys()) {
        assert.deepEqual(map.get(ch).ports, [(await cluster.ownerOf(ch)).port], ch);
      }
      // requests (uid channels) work again: fetchSockets sees both sharded nodes' clients
      const { a1, a2 } = ctx;
      await until(async () => {
        const [r] = await ask(a1, 'cluster fetch', {});
        return !r.err && [a1.id, a2.id].every((id) => r.result.some((x) => x.id === id));
      }, WAIT, `${what}: fetchSockets across the sharded nodes`);
    }

    /** Kill the master on port, wait for the failover and for every broadcast. */
    async function failover(what, victim) {
      const t0 = Date.now();
      await cluster.killMaster(victim);
      const [fo, times] = await Promise.all([cluster.waitFailover(victim, WAIT), allCross(what, t0, victim)]);
      console.log(`# ${what}: cluster failover ${victim} -> ${fo.port} in ${fo.ms} ms; slowest broadcast ${Math.max(...Object.values(times))} ms after the kill`);
      await allPlaced(what);
      return fo;
    }

    before(async () => {
      // the Node peers leave (see the header), their subscriptions with them
      await stopAll([shardedPeer, classicPeer]);
      shardedPeer = null;
      classicPeer = null;
      await until(async () => (await onEveryNode(cluster, ['CLIENT', 'LIST']))
        .every(({ reply }) => !String(reply).includes(` name=${PEER_NAME} `)), WAIT, 'the Node peers\' connections gone');
      ctx.a1 = await connected(sharded[0].url);
      ctx.a2 = await connected(sharded[1].url);
      ctx.c1 = await connected(classic[0].url);
      ctx.c2 = await connected(classic[1].url);
      ctx.t1 = await connected(streams[0].url);
      ctx.t2 = await connected(streams[1].url);
      // a room channel on every master for each sharded node, and one left again
      ctx.roomsA = await roomPerMaster(cluster, 'fo-a-');
      ctx.roomsB = await roomPerMaster(cluster, 'fo-b-');
      await ask(ctx.a1, 'join', [...ctx.roomsA.values(), 'fo-left']);
      await ask(ctx.a2, 'join', [...ctx.roomsB.values()]);
      await ask(ctx.a1, 'leave', 'fo-left');
      ctx.shardGone = [shardCh('/', 'fo-left')];
      await ask(ctx.c1, 'join', 'fo-classic');
      await ask(ctx.t1, 'join', 'fo-streams');
      await until(async () => {
        for (const r of [...ctx.roomsA.values(), ...ctx.roomsB.values()]) {
          if ((await numsub(cluster, 'SHARDNUMSUB', shardCh('/', r))) !== 1) return false;
        }
        return (await numsub(cluster, 'SHARDNUMSUB', shardCh('/', 'fo-left'))) === 0;
      }, WAIT, 'the rooms\' channels subscribed');
      // what siogate has subscribed now (the Node peers are gone): all of it
      // must come back after each failover
      const tools = slotTools(cluster);
      const map = await shardMap(cluster);
      ctx.shardBefore = new Map([...map].map(([ch, e]) => [ch, e.count]));
      assert.equal(await shardPlacementProblem(cluster, tools, ctx.shardBefore, ctx.shardGone), null);
      ctx.classicBefore = await classicMap(cluster);
      ctx.readersBefore = (await xreaders(cluster, (await cluster.ownerOf('socket.io')).port)).length;
      console.log(`# before the kills: ${ctx.shardBefore.size} shard channels, `
        + `${ctx.classicBefore.channels.size} classic channels, subscriptions ${JSON.stringify(ctx.classicBefore.totals)}, `
        + `${ctx.readersBefore} stream readers`);
    });

    test('the master owning socket.io#/# (sharded main channel)', async () => {
      const { port: victim } = await cluster.ownerOf(shardCh('/'));
      await failover(`kill ${victim} (owner of socket.io#/#)`, victim);
    });

    test('the master owning the stream socket.io', async (t) => {
      const { port: victim } = await cluster.ownerOf('socket.io');
      if (!cluster.replicas().some((r) => r.masterPort === victim)) {
        t.skip(`the stream's owner ${victim} has no replica left (it was promoted by the previous failover)`);
        return;
      }
      await failover(`kill ${victim} (owner of the stream socket.io)`, victim);
    });

    test('the master holding the classic subscriptions', async (t) => {
      const { channels } = await classicMap(cluster);
      // each classic node keeps its channels and patterns on one master (the
      // two nodes may pick different ones)
      const ports = [...new Set([...channels].filter(([ch]) => ch.startsWith(`${CLASSIC_KEY}-`)).flatMap(([, e]) => e.ports))];
      assert.ok(ports.length >= 1 && ports.length <= 2, `the classic channels are on ${ports}`);
      const victim = ports.find((p) => cluster.replicas().some((r) => r.masterPort === p));
      if (!victim) {
        t.skip(`${ports} have no replica left (promoted by the previous failovers)`);
        return;
      }
      await failover(`kill ${victim} (holder of the classic subscriptions)`, victim);
    });
  });
});

// ---------------------------------------------------------------- Sentinel

/** Subscriber links (sub/psub/ssub > 0) on a data node that are not the
 *  sentinels' own. */
async function subscriberLinks(s, port) {
  return String(await s.command(port, ['CLIENT', 'LIST'])).split('\n').filter((l) => {
    if (!l || / name=sentinel-/.test(l)) return false;
    const n = (k) => Number((new RegExp(` ${k}=(\\d+)`).exec(l) || [])[1] || 0);
    return n('sub') + n('psub') + n('ssub') > 0;
  });
}

/** The connections of a data node other than the sentinels', replication
 *  links and the test's own (CLIENT LIST, MONITOR). */
async function clientLinks(s, port) {
  return String(await s.command(port, ['CLIENT', 'LIST'])).split('\n').filter((l) => l
    && !/ name=sentinel-/.test(l) && !/ flags=[a-zA-Z]*[SM]/.test(l) && !/ cmd=(client|monitor)[| ]/.test(l));
}

for (const adapter of ['redis', 'sharded']) {
  describe(`siogate behind Redis Sentinel (redis+sentinel://), adapter ${adapter}`, { skip }, () => {
    let s;
    let nodes = [];

    /** How many subscriptions a node on the master counts for this adapter. */
    const subscribedOn = async (port) => (adapter === 'redis'
      ? Number((await s.command(port, ['PUBSUB', 'NUMSUB', 'socket.io-request#/#']))[1])
      : Number((await s.command(port, ['PUBSUB', 'SHARDNUMSUB', 'socket.io#/#']))[1]));

    before(async () => {
      s = await startRedisSentinel({ name: 'mymaster' });
      nodes = await startNodes(2, { adapter, redisUrl: s.url });
      await waitNodesReady(nodes, WAIT);
      await until(async () => (await subscribedOn(s.master.port)) === 2, WAIT, 'both nodes subscribed on the master');
    });
    after(async () => {
      closeAll();
      try { await stopAll(nodes); } finally { if (s) await s.stop(); }
    });

    test('cross-node broadcasts, to all and to a room', async () => {
      const c1 = await connected(nodes[0].url);
      const c2 = await connected(nodes[1].url);
      for (const c of [c1, c2]) await ask(c, 'join', 'se-room');
      if (adapter === 'sharded') {
        await until(async () => Number((await s.command(s.master.port, ['PUBSUB', 'SHARDNUMSUB', shardCh('/', 'se-room')]))[1]) === 2,
          WAIT, 'se-room channel on both nodes');
      }
      const [r1, r2] = [c1, c2].map((c) => recorder(c, 'message'));
      c1.emit('broadcast', null, 'all-from-sg1');
      c2.emit('broadcast', 'se-room', 'room-from-sg2');
      await expectMessages([[r2, 'all-from-sg1'], [r1, 'room-from-sg2']]);
      const links = await subscriberLinks(s, s.master.port);
      assert.equal(links.length, 2, `one subscriber link per node on the master:\n${links.join('\n')}`);
    });

    test('SENTINEL FAILOVER: broadcasts resume through the new master, every link moves there', async () => {
      const c1 = await connected(nodes[0].url);
      const c2 = await connected(nodes[1].url);
      for (const c of [c1, c2]) await ask(c, 'join', 'fo-room');
      if (adapter === 'sharded') {
        await until(async () => Number((await s.command(s.master.port, ['PUBSUB', 'SHARDNUMSUB', shardCh('/', 'fo-room')]))[1]) === 2,
          WAIT, 'fo-room channel on both nodes');
      }
      const oldMaster = s.master.port;
      const heir = s.replica.port;
      // MONITOR on the replica, which the failover promotes. A broadcast
      // counts once MONITOR saw it published there by a client (not by the
      // replication link from the old master, whose address it shows) and
      // the other node delivered it: the old master stays a master, not
      // replicating, until the sentinels reconfigure it ~20 s later, so
      // nodes still on it would keep broadcasting to each other.
      const mon = await monitor(heir);
      try {
        const t0 = Date.now();
        const seenOnHeir = (tok) => mon.lines(tok).some((l) => !l.includes(` 127.0.0.1:${oldMaster}]`));
        const common = { t0, boundMs: SENTINEL_BOUND_MS, accept: seenOnHeir };
        const [fo, times] = await Promise.all([s.failover(), crossings(`sentinel ${adapter}: failover ${oldMaster} -> ${heir}`, [
          { label: 'sg1->sg2', send: sgSend(c1), receiver: c2, ...common },
          { label: 'sg2->sg1', send: sgSend(c2), receiver: c1, ...common },
          { label: 'sg1->sg2 room', send: sgSend(c1, 'fo-room'), receiver: c2, ...common },
        ])]);
        assert.equal(fo.port, heir);
        console.log(`# sentinel ${adapter}: SENTINEL FAILOVER to every sentinel naming ${heir}: ${fo.ms} ms; `
          + `first broadcast through ${heir}: ${Math.min(...Object.values(times))} ms`);
      } finally {
        mon.close();
      }
      const fo = { port: heir };
      // every subscription on the new master, no siogate subscriber left on the old one
      await until(async () => (await subscribedOn(fo.port)) === 2
        && (await subscriberLinks(s, fo.port)).length === 2
        && (await subscriberLinks(s, oldMaster)).length === 0, WAIT, 'subscriber links moved to the new master');
      if (adapter === 'sharded') {
        assert.equal(Number((await s.command(fo.port, ['PUBSUB', 'SHARDNUMSUB', shardCh('/', 'fo-room')]))[1]), 2);
      } else {
        assert.ok(Number(await s.command(fo.port, ['PUBSUB', 'NUMPAT'])) >= 2);
      }
      // and every other link: a command and a subscriber link per node on the
      // new master, none on the old one
      let links;
      await until(async () => {
        links = await Promise.all([fo.port, oldMaster].map((p) => clientLinks(s, p)));
        return links[0].length === 4 && links[1].length === 0;
      }, WAIT, 'siogate\'s connections moved to the new master').catch((e) => {
        e.message += `\nnew master ${fo.port}:\n${links[0].join('\n')}\nold master ${oldMaster}:\n${links[1].join('\n')}`;
        throw e;
      });
      console.log(`# sentinel ${adapter}: ${links[0].length} siogate connections on the new master ${fo.port}, ${links[1].length} on the old one`);
      // requests work on the new master
      const [r] = await ask(c1, 'cluster fetch', {});
      assert.equal(r.err, null);
      assert.ok([c1.id, c2.id].every((id) => r.result.some((x) => x.id === id)));
    });
  });
}
