'use strict';
// siogate's sharded Pub/Sub backend (--adapter sharded: SSUBSCRIBE /
// SPUBLISH, Redis 7) in a cluster with a Node.js socket.io 4.8 server running
// the official createShardedAdapter of @socket.io/redis-adapter 8.3.0, in each
// subscription mode (static, dynamic, dynamic-private). Every cross-node
// operation is checked in both directions against the real Node package; the
// channels each side subscribes to (PUBSUB SHARDCHANNELS / SHARDNUMSUB) and
// publishes on (a raw SSUBSCRIBE spy, byte for byte against Node's encoding)
// are checked against Node's rules; then two siogate nodes without Node; then
// a classic (adapter = redis) and a sharded cluster on one Redis with the same
// prefix, which must not see each other.
//
// Readiness before a message crosses: a subscription is live once Redis
// counts it (SHARDNUMSUB), which the tests wait for with a bounded poll:
// every node's `<prefix>#<nsp>#` at start, and in the dynamic modes each room
// channel a broadcast is about to use.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
const notepack = require('notepack.io');
const { connected, closeAll, ask, recorder, waitFor, nextDisconnect, DEFAULT_WAIT_MS } = require('./lib/util');
const { startServer } = require('./lib/server');
const { startRedis } = require('./lib/redis');
const {
  startCluster, until, waitShardSubscribed, shardChannels, shardNumSub,
} = require('./lib/cluster');
const { startNodePeer } = require('./node-peer');

const skip = process.env.SG_REF === '1' && 'siogate nodes with the sharded adapter (the reference server has none)';

/** mode: the peers' subscriptionMode; settings: what siogate gets (dynamic
 *  relies on siogate's defaults: subscriptionMode dynamic, channelPrefix
 *  socket.io); prefix: the channel prefix both sides use. */
const MODES = [
  { mode: 'static', prefix: 'socket.io', settings: { subscriptionMode: 'static' } },
  { mode: 'dynamic', prefix: 'socket.io', settings: {} },
  // requestsTimeout: how long siogate waits for answers (checked below)
  { mode: 'dynamic-private', prefix: 'sg-shard', settings: { subscriptionMode: 'dynamic-private', channelPrefix: 'sg-shard', requestsTimeout: 1500 } },
];

const UID_RE = /^[0-9a-f]{16}$/;
/** Room names on the boundary of Node's "looks like a socket id" (a string
 *  of length 20, in UTF-16 code units): */
const ROOM20A = 'abcdefghij0123456789'; // 20 ASCII characters: taken for a socket id
const ROOM20U = '\u{1F600}'.repeat(10); // 10 code points, 20 UTF-16 units, 40 bytes: a socket id
const ROOM10E = '\u00e9'.repeat(10); // 10 UTF-16 units, 20 bytes: a room

const sortStr = (a) => [...a].sort();

/** The channel of namespace nsp (and room, or a uid) under prefix. */
function chan(prefix, nsp, room) {
  return room === undefined ? `${prefix}#${nsp}#` : `${prefix}#${nsp}#${room}#`;
}

/** Node's encode() of a ClusterMessage (sharded-adapter.js): msgpack when
 *  its data holds binary, JSON otherwise. */
function nodeEncode(message) {
  const hasBinary = (o) => Buffer.isBuffer(o) || (Array.isArray(o) ? o.some(hasBinary)
    : !!o && typeof o === 'object' && Object.values(o).some(hasBinary));
  return hasBinary(message.data) ? Buffer.from(notepack.encode(message)) : Buffer.from(JSON.stringify(message));
}

/** Raw bytes for an assertion message: JSON as text, msgpack in hex. */
function show(raw) {
  return raw[0] === 0x7b ? raw.toString() : `msgpack ${raw.toString('hex')}`;
}

/** A RegExp matching s literally. */
function literal(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A raw message as Node's receiver reads it (the first-byte rule). */
function decode(raw) {
  return raw[0] === 0x7b ? JSON.parse(raw.toString()) : notepack.decode(raw);
}

/** The ids of every socket of the cluster, asked through a siogate client. */
async function fetchedIds(c) {
  const [r] = await ask(c, 'cluster fetch', {});
  return (r.result || []).map((s) => s.id);
}

/** A room-state poll on a siogate client (testkit "rooms"). */
async function roomsUntil(c, pred, what) {
  await until(async () => pred((await ask(c, 'rooms'))[0]), DEFAULT_WAIT_MS, what);
}

/** serverSideEmit with ack from siogate: it waits for exactly the servers it counts. */
async function countMe(c) {
  return (await ask(c, 'cluster server emit', { event: 'count-me', ack: true }))[0];
}

/** A node-redis client on url, connected; quit by the caller. */
async function redisClient(url) {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/**
 * A raw sharded subscriber: records [channel, raw Buffer] of every message on
 * its channels. sync() returns once every message Redis had pushed to it
 * before is recorded (an SSUBSCRIBE's answer comes after them on the socket).
 */
async function spy(url, channels) {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  const items = [];
  await c.sSubscribe(channels, (message, channel) => items.push([String(channel), Buffer.from(message)]), true);
  let n = 0;
  return {
    items,
    async sync() {
      await c.sSubscribe(`sg-spy-barrier-${process.pid}-${++n}`, () => {});
    },
    async close() { await c.quit().catch(() => {}); },
  };
}

for (const m of MODES) {
  const P = m.prefix;
  const dynamic = m.mode !== 'static';
  const ch = (room, nsp = '/') => chan(P, nsp, room);

  describe(`mixed sharded cluster (${m.mode}): siogate + Node createShardedAdapter`, { skip }, () => {
    let cluster;
    let sg;
    let node;
    let r; // a raw client for PUBSUB
    /** dynamic modes: wait until Redis counts `n` subscribers of room's channel */
    const roomSubs = async (room, n, nsp = '/') => {
      if (dynamic) await waitShardSubscribed(r, { [ch(room, nsp)]: n });
    };
    before(async () => {
      cluster = await startCluster({ adapter: 'sharded', nodes: 1, settings: m.settings, nsps: ['/', '/custom'] });
      [sg] = cluster.nodes;
      node = await startNodePeer({
        redisUrl: cluster.redis.url, adapter: 'sharded', namespaces: ['/custom'],
        sharded: { channelPrefix: P, subscriptionMode: m.mode },
      });
      await cluster.waitReady({ peers: [node] }); // both SSUBSCRIBEd on / and /custom
      r = await redisClient(cluster.redis.url);
      node.io.on('count-me', (cb) => cb('node'));
      // Each side counts the other: Node's serverCount (SHARDNUMSUB), and
      // siogate's fetchSockets, which waits for the servers it counts.
      assert.equal(await node.io.of('/').adapter.serverCount(), 2);
      const c = await connected(sg.url);
      const n = await connected(node.url);
      assert.ok((await fetchedIds(c)).includes(n.id), 'siogate fetches the Node peer\'s sockets');
      c.disconnect();
      n.disconnect();
    });
    after(async () => {
      closeAll();
      if (r) await r.quit().catch(() => {});
      if (node) await node.stop();
      if (cluster) await cluster.stop();
    });

    test('server count: siogate ready, both sides count two servers', async () => {
      const c = await connected(sg.url);
      assert.deepEqual(await ask(c, 'cluster state'), ['ready']);
      assert.deepEqual(await shardNumSub(r, [ch(), ch(undefined, '/custom')]), { [ch()]: 2, [ch(undefined, '/custom')]: 2 });
      assert.equal(await node.io.of('/').adapter.serverCount(), 2);
      assert.equal(await node.io.of('/custom').adapter.serverCount(), 2);
      // siogate waits for exactly the servers it counts: one answer, no timeout
      assert.deepEqual(await countMe(c), { err: null, responses: ['node'] });
      // and Node waits for exactly one answer from siogate
      assert.deepEqual(await node.io.serverSideEmitWithAck('ping'), ['pong']);
    });

    test('servers that join and leave are counted, both ways', async () => {
      const c = await connected(sg.url);
      const nodeCount = () => node.io.of('/').adapter.serverCount();
      let other;
      let node2;
      try {
        // another siogate node comes and goes: Node counts it, then not
        other = await startServer({ settings: cluster.settings });
        await until(async () => (await nodeCount()) === 3, DEFAULT_WAIT_MS, 'Node counts the new siogate node');
        await other.stop();
        other = null;
        await until(async () => (await nodeCount()) === 2, DEFAULT_WAIT_MS, 'Node no longer counts the stopped siogate node');
        assert.deepEqual(await countMe(c), { err: null, responses: ['node'] });
        // another Node peer comes and goes: siogate counts it, then not
        node2 = await startNodePeer({ redisUrl: cluster.redis.url, adapter: 'sharded', sharded: { channelPrefix: P, subscriptionMode: m.mode } });
        node2.io.on('count-me', (cb) => cb('node2'));
        await waitShardSubscribed(r, { [ch()]: 3 });
        const both = await countMe(c);
        assert.deepEqual({ ...both, responses: sortStr(both.responses) }, { err: null, responses: ['node', 'node2'] });
        await node2.stop();
        node2 = null;
        await waitShardSubscribed(r, { [ch()]: 2 });
        assert.deepEqual(await countMe(c), { err: null, responses: ['node'] });
        assert.equal(await nodeCount(), 2);
      } finally {
        if (node2) await node2.stop();
        if (other) await other.stop();
      }
    });

    test(`subscribed channels follow ${m.mode} mode`, async () => {
      const c = await connected(sg.url);
      const n = await connected(node.url);
      await ask(c, 'join', 'room1');
      await ask(n, 'join', 'node-room');
      const uidChannels = (list) => list.filter((x) => x.startsWith(ch()) && UID_RE.test(x.slice(ch().length, -1)) && x.endsWith('#'));
      // servers of an earlier test may still be leaving
      await until(async () => uidChannels(await shardChannels(r, `${P}#/#*`)).length === 2, DEFAULT_WAIT_MS,
        'one uid channel per server on /');
      if (!dynamic) {
        // no room channel ever: settle on a round trip through siogate first
        assert.deepEqual(await countMe(c), { err: null, responses: ['node'] });
        const all = await shardChannels(r, `${P}#*`);
        for (const x of all) {
          assert.match(x, new RegExp(`^${literal(P)}#/(custom|auth)?#([0-9a-f]{16}#)?$`), `only namespace and uid channels (got ${x})`);
        }
        const slash = await shardChannels(r, `${P}#/#*`);
        assert.deepEqual(slash.filter((x) => !uidChannels(slash).includes(x)), [ch()], JSON.stringify(slash));
        // each uid channel has one subscriber: its own server
        for (const u of uidChannels(slash)) assert.equal((await shardNumSub(r, [u]))[u], 1);
        assert.ok(uidChannels(slash).includes(ch(node.io.of('/').adapter.uid)));
        return;
      }
      await waitShardSubscribed(r, { [ch('room1')]: 1, [ch('node-room')]: 1 });
      // a socket-id room has a channel in dynamic-private only (subscribed
      // at connect, so before room1's on the same connection)
      const list = await shardChannels(r, `${P}#/#*`);
      assert.ok(list.includes(ch()));
      assert.equal(uidChannels(list).length, 2, JSON.stringify(list));
      assert.equal(list.includes(ch(c.id)), m.mode === 'dynamic-private', `siogate socket-id channel in ${JSON.stringify(list)}`);
      assert.equal(list.includes(ch(n.id)), m.mode === 'dynamic-private', `Node socket-id channel in ${JSON.stringify(list)}`);
      if (m.mode === 'dynamic-private') assert.deepEqual(await shardNumSub(r, [ch(c.id)]), { [ch(c.id)]: 1 });
      // as Node's, a public room of 20 characters has its channel too (the
      // "looks like a socket id" rule is the sender's only)
      await ask(c, 'join', ROOM20A);
      await ask(n, 'join', ROOM20A);
      await waitShardSubscribed(r, { [ch(ROOM20A)]: 2 });
      // a room on both sides: one subscriber each
      await ask(c, 'join', 'both-room');
      await ask(n, 'join', 'both-room');
      await waitShardSubscribed(r, { [ch('both-room')]: 2 });
    });

    test('a room channel goes when the room\'s last local member leaves (bounded poll)', async () => {
      const c1 = await connected(sg.url);
      const c2 = await connected(sg.url);
      const c3 = await connected(sg.url);
      const n = await connected(node.url);
      await ask(c1, 'join', 'leave-room');
      await ask(c2, 'join', 'leave-room');
      await ask(n, 'join', 'leave-room');
      if (!dynamic) {
        await ask(c1, 'leave', 'leave-room');
        assert.deepEqual(await shardChannels(r, ch('leave-room')), []);
        return;
      }
      await waitShardSubscribed(r, { [ch('leave-room')]: 2 });
      // one member left on siogate: it stays subscribed. Proof of order:
      // c3's new room is subscribed on the same connection after any
      // unsubscription c1's leave would have caused.
      await ask(c1, 'leave', 'leave-room');
      await ask(c3, 'join', 'probe-room');
      await waitShardSubscribed(r, { [ch('probe-room')]: 1 });
      assert.deepEqual(await shardNumSub(r, [ch('leave-room')]), { [ch('leave-room')]: 2 });
      // the last siogate member goes (disconnects): siogate unsubscribes,
      // Node keeps its subscription
      const c2id = c2.id;
      c2.disconnect();
      await waitShardSubscribed(r, { [ch('leave-room')]: 1 });
      if (m.mode === 'dynamic-private') await waitShardSubscribed(r, { [ch(c2id)]: 0 });
      // the room is left everywhere: the channel is gone
      node.io.of('/').sockets.get(n.id).leave('leave-room');
      await until(async () => !(await shardChannels(r, `${P}#/#*`)).includes(ch('leave-room')), DEFAULT_WAIT_MS, 'room channel gone');
      // and a room left by a testkit "leave" goes as well
      await ask(c3, 'leave', 'probe-room');
      await waitShardSubscribed(r, { [ch('probe-room')]: 0 });
    });

    test('the channel of each broadcast is Node\'s, and siogate\'s messages are byte for byte Node\'s', async () => {
      const s = await connected(sg.url);
      const n = await connected(node.url);
      const rooms = ['spy-room', ROOM20A, ROOM20U, ROOM10E];
      for (const c of [s, n]) {
        await ask(c, 'join', rooms);
        c.on('spy-ack', (tag, cb) => cb('ok'));
      }
      const sp = await spy(cluster.redis.url, [...rooms, s.id, n.id].map((x) => ch(x)));
      try {
        // the channels these broadcasts use: both servers and the spy on them
        if (m.mode === 'dynamic') await waitShardSubscribed(r, { [ch('spy-room')]: 3, [ch(ROOM10E)]: 3 });
        if (m.mode === 'dynamic-private') {
          await waitShardSubscribed(r, { ...Object.fromEntries(rooms.map((x) => [ch(x), 3])), [ch(s.id)]: 2, [ch(n.id)]: 2 });
        }
        /** Which tags a sender's messages put on the spied room channels:
         *  Node's computeChannel. */
        const onRoomChannel = {
          static: [],
          dynamic: ['A', '10E', 'E'],
          'dynamic-private': ['A', '20A', '20U', '10E', 'C', 'E'],
        }[m.mode];
        const roomOf = { A: 'spy-room', '20A': ROOM20A, '20U': ROOM20U, '10E': ROOM10E, E: 'spy-room' };
        const nodeUid = node.io.of('/').adapter.uid;
        /** What Node would publish for a tag, sender uid and target sid. */
        const expected = (tag, uid, sid) => ({
          type: 3,
          data: {
            packet: { type: 2, data: tag === 'E' ? ['spy', 'E', Buffer.from([1, 2, 3])] : ['spy', tag] },
            opts: { rooms: [tag === 'C' ? sid : roomOf[tag]], except: [], flags: {} },
          },
          uid,
          nsp: '/',
        });
        const check = (fromUid, sid, who) => {
          const mine = sp.items.filter(([, raw]) => decode(raw).uid === fromUid);
          const tags = mine.map(([, raw]) => decode(raw).data.packet.data[1]);
          assert.deepEqual(sortStr(tags), sortStr(onRoomChannel), `${who}: tags on room channels`);
          for (const [channel, raw] of mine) {
            const e = expected(decode(raw).data.packet.data[1], fromUid, sid);
            assert.equal(channel, ch(e.data.opts.rooms[0]), `${who}: channel of ${JSON.stringify(e.data.packet.data)}`);
            assert.equal(show(raw), show(nodeEncode(e)), `${who}: bytes of ${JSON.stringify(e.data.packet.data)}`);
          }
        };
        const sendTags = ['A', '20A', '20U', '10E', 'C', 'D', 'E'];

        const atS = recorder(s, 'spy');
        const atN = recorder(n, 'spy');
        // Node sends (the reference: this validates the expectations)
        node.io.to('spy-room').emit('spy', 'A');
        node.io.to(ROOM20A).emit('spy', '20A');
        node.io.to(ROOM20U).emit('spy', '20U');
        node.io.to(ROOM10E).emit('spy', '10E');
        node.io.to(s.id).emit('spy', 'C');
        node.io.to(['spy-room', 'other']).emit('spy', 'D');
        node.io.to('spy-room').emit('spy', 'E', Buffer.from([1, 2, 3]));
        assert.deepEqual(await node.io.to('spy-room').timeout(DEFAULT_WAIT_MS).emitWithAck('spy-ack', 'F'), ['ok', 'ok']);
        await atS.count(sendTags.length); // each went through Redis
        await sp.sync();
        check(nodeUid, s.id, 'Node');

        // siogate sends the same
        const emit = (rms, ...args) => ask(s, 'cluster emit', { event: 'spy', rooms: rms }, ...args);
        await emit(['spy-room'], 'A');
        await emit([ROOM20A], '20A');
        await emit([ROOM20U], '20U');
        await emit([ROOM10E], '10E');
        await emit([n.id], 'C');
        await emit(['spy-room', 'other'], 'D');
        await emit(['spy-room'], 'E', Buffer.from([1, 2, 3]));
        const [acked] = await ask(s, 'cluster emit', { event: 'spy-ack', rooms: ['spy-room'], ackTimeout: DEFAULT_WAIT_MS }, 'F');
        assert.deepEqual(acked, { err: null, responses: ['ok', 'ok'] });
        // n: Node's 6 (local, no C) and siogate's 7, through Redis
        await atN.count(2 * sendTags.length - 1);
        assert.deepEqual(atN.items.filter(([t]) => t === 'E').map(([, b]) => [...b]), [[1, 2, 3], [1, 2, 3]]);
        await sp.sync();
        const sgUids = [...new Set(sp.items.map(([, raw]) => decode(raw).uid))].filter((u) => u !== nodeUid);
        assert.ok(sgUids.length <= 1, `one siogate uid: ${sgUids}`);
        if (onRoomChannel.length) {
          assert.equal(sgUids.length, 1, 'siogate published on the room channels');
          assert.match(sgUids[0], UID_RE);
          check(sgUids[0], n.id, 'siogate');
        } else {
          assert.deepEqual(sgUids, [], 'siogate published nothing on room channels');
        }
        // every client got each message once: sentinels last, from both
        node.io.emit('spy', 'end-node');
        await ask(s, 'cluster emit', { event: 'spy' }, 'end-sg');
        const once = sortStr([...sendTags, ...sendTags.filter((t) => t !== 'C')]);
        for (const [rec, who] of [[atS, 's'], [atN, 'n']]) {
          await rec.match((x) => x === 'end-node');
          await rec.match((x) => x === 'end-sg');
          assert.deepEqual(sortStr(rec.items.map(([t]) => t).filter((t) => !t.startsWith('end'))), once, `${who}: each message once`);
        }
      } finally {
        await sp.close();
      }
    });

    test('io.emit from Node reaches siogate clients: JSON, and binary intact (msgpack)', async () => {
      const c = await connected(sg.url);
      const got = recorder(c, 'hello');
      node.io.emit('hello', 'json', 1, { a: [null, true] });
      node.io.emit('hello', 'bin', Buffer.from([1, 2, 3]), { nested: Buffer.from([255, 0]) });
      await got.count(2);
      assert.deepEqual(got.items[0], ['json', 1, { a: [null, true] }]);
      const [x, buf, obj] = got.items[1];
      assert.equal(x, 'bin');
      assert.deepEqual([...buf], [1, 2, 3]);
      assert.deepEqual([...obj.nested], [255, 0]);
    });

    test('a siogate broadcast reaches Node clients: JSON, and binary intact', async () => {
      const c = await connected(sg.url);
      const n = await connected(node.url);
      const got = recorder(n, 'from-sg');
      await ask(c, 'cluster emit', { event: 'from-sg' }, 'json', { deep: ['x', 2.5] });
      await ask(c, 'cluster emit', { event: 'from-sg' }, 'bin', Buffer.from([9, 8, 7]), { b: Buffer.alloc(0) });
      await got.count(2);
      assert.deepEqual(got.items[0], ['json', { deep: ['x', 2.5] }]);
      const [x, buf, o] = got.items[1];
      assert.equal(x, 'bin');
      assert.deepEqual([...buf], [9, 8, 7]);
      assert.ok(Buffer.isBuffer(o.b) && o.b.length === 0);
    });

    test('a 600 KB binary broadcast to a room crosses both ways intact', async () => {
      const big = Buffer.alloc(600 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      const c = await connected(sg.url, { transports: ['websocket'] });
      const n = await connected(node.url, { transports: ['websocket'] });
      await ask(c, 'join', 'big-room');
      await ask(n, 'join', 'big-room');
      await roomSubs('big-room', 2);
      const atNode = recorder(n, 'big');
      const atSg = recorder(c, 'big');
      await ask(c, 'cluster emit', { event: 'big', rooms: ['big-room'] }, 'sg', big);
      node.io.to('big-room').emit('big', 'node', big);
      for (const [from, rec] of [['sg', atNode], ['node', atSg]]) {
        const [, got] = await rec.match((who) => who === from);
        assert.ok(Buffer.isBuffer(got) && got.equals(big), `${from}'s buffer intact`);
      }
    });

    test('broadcasts to one room, several rooms, a socket id, and except cross both ways', async () => {
      const s1 = await connected(sg.url);
      const s2 = await connected(sg.url);
      const n1 = await connected(node.url);
      const n2 = await connected(node.url);
      for (const s of [s1, s2, n1]) await ask(s, 'join', 'r1');
      await ask(s2, 'join', 'r2');
      await ask(n2, 'join', 'r2');
      await ask(s2, 'join', 'r-ex');
      await ask(n2, 'join', 'r-ex');
      await roomSubs('r1', 2);
      await roomSubs('r2', 2);
      if (m.mode === 'dynamic-private') await waitShardSubscribed(r, { [ch(s2.id)]: 1, [ch(n2.id)]: 1 });
      const rec = [s1, s2, n1, n2].map((s) => recorder(s, 'room-msg'));
      node.io.to('r1').emit('room-msg', 'a'); // s1, s2, n1
      node.io.to('r1').except(s2.id).emit('room-msg', 'b'); // s1, n1
      node.io.to(['r1', 'r2']).emit('room-msg', 'c'); // all
      node.io.except('r-ex').emit('room-msg', 'd'); // s1, n1
      node.io.to(s2.id).emit('room-msg', 'e'); // s2
      node.io.to('r2').except('r1').emit('room-msg', 'f'); // n2
      await ask(s1, 'cluster emit', { event: 'room-msg', rooms: ['r1'] }, 'A'); // s1, s2, n1
      await ask(s1, 'cluster emit', { event: 'room-msg', rooms: ['r1'], except: [n1.id] }, 'B'); // s1, s2
      await ask(s1, 'cluster emit', { event: 'room-msg', rooms: ['r1', 'r2'] }, 'C'); // all
      await ask(s1, 'cluster emit', { event: 'room-msg', except: ['r-ex'] }, 'D'); // s1, n1
      await ask(s1, 'cluster emit', { event: 'room-msg', rooms: [n2.id] }, 'E'); // n2
      await ask(s1, 'cluster emit', { event: 'room-msg', rooms: ['r2'], except: ['r1'] }, 'F'); // n2
      const want = [
        ['A', 'B', 'C', 'D', 'a', 'b', 'c', 'd'], // s1
        ['A', 'B', 'C', 'a', 'c', 'e'], // s2
        ['A', 'C', 'D', 'a', 'b', 'c', 'd'], // n1
        ['C', 'E', 'F', 'c', 'f'], // n2
      ];
      for (let i = 0; i < rec.length; i++) for (const t of want[i]) await rec[i].match((x) => x === t);
      // sentinels to everyone, last: what one publisher sends reaches one
      // subscriber connection in order, whichever of its channels
      node.io.emit('room-msg', 'end-node');
      await ask(s1, 'cluster emit', { event: 'room-msg' }, 'end-sg');
      for (const rc of rec) {
        await rc.match((x) => x === 'end-node');
        await rc.match((x) => x === 'end-sg');
      }
      const texts = rec.map((rc) => rc.items.map((a) => a[0]).filter((x) => !x.startsWith('end')).sort());
      assert.deepEqual(texts, want);
    });

    test('a namespace other than / (own channels, no leak into /)', async () => {
      const sgMain = await connected(sg.url);
      const c = await connected(`${sg.url}/custom`);
      const n = await connected(`${node.url}/custom`);
      await ask(c, 'join', 'nsp-room');
      await ask(n, 'join', 'nsp-room');
      await roomSubs('nsp-room', 2, '/custom');
      if (dynamic) assert.deepEqual(await shardChannels(r, ch('nsp-room')), []);
      const atC = recorder(c, 'nsp-msg');
      const atN = recorder(n, 'nsp-msg');
      const leak = recorder(sgMain, 'nsp-msg');
      node.io.of('/custom').to('nsp-room').emit('nsp-msg', 'from-node');
      node.io.of('/custom').emit('nsp-msg', 'all-node', Buffer.from([5]));
      await ask(c, 'cluster emit', { event: 'nsp-msg', rooms: ['nsp-room'] }, 'from-sg');
      await ask(c, 'cluster emit', { event: 'nsp-msg' }, 'all-sg', Buffer.from([6]));
      for (const rc of [atC, atN]) for (const t of ['from-node', 'all-node', 'from-sg', 'all-sg']) await rc.match((x) => x === t);
      assert.deepEqual([...atC.items.find(([t]) => t === 'all-node')[1]], [5]);
      assert.deepEqual([...atN.items.find(([t]) => t === 'all-sg')[1]], [6]);
      // sentinel on /: the main namespace's client saw nothing of /custom
      node.io.emit('nsp-msg', 'end');
      await leak.match((x) => x === 'end');
      assert.deepEqual(leak.items, [['end']]);
      const socks = await node.io.of('/custom').in('nsp-room').fetchSockets();
      assert.deepEqual(sortStr(socks.map((x) => x.id)), sortStr([c.id, n.id]));
    });

    test('fetchSockets from Node returns siogate sockets (id, rooms, data, handshake)', async () => {
      const c = await connected(sg.url, { auth: { token: 't1' }, query: { q: 'v' } });
      await ask(c, 'join', 'fetch-room');
      await ask(c, 'cluster set data', { user: 'bob', n: [1, 2] });
      const socks = await node.io.in('fetch-room').fetchSockets();
      assert.equal(socks.length, 1);
      assert.equal(socks[0].id, c.id);
      assert.deepEqual(sortStr(socks[0].rooms), sortStr([c.id, 'fetch-room']));
      assert.deepEqual(socks[0].data, { user: 'bob', n: [1, 2] });
      assert.deepEqual(socks[0].handshake.auth, { token: 't1' });
      assert.equal(socks[0].handshake.query.q, 'v');
      assert.equal(typeof socks[0].handshake.headers, 'object');
      assert.ok((await node.io.fetchSockets()).some((x) => x.id === c.id));
    });

    test('fetchSockets from siogate returns Node sockets (id, rooms, data)', async () => {
      const c = await connected(sg.url);
      const n = await connected(node.url);
      await ask(n, 'join', 'nf');
      await ask(n, 'set data', { who: 'node', bin: false });
      const [res] = await ask(c, 'cluster fetch', { rooms: ['nf'] });
      assert.equal(res.err, null);
      assert.equal(res.result.length, 1);
      assert.equal(res.result[0].id, n.id);
      assert.deepEqual(sortStr(res.result[0].rooms), sortStr([n.id, 'nf']));
      assert.deepEqual(res.result[0].data, { who: 'node', bin: false });
      const [all] = await ask(c, 'cluster fetch', {});
      const ids = all.result.map((x) => x.id);
      assert.ok(ids.includes(c.id) && ids.includes(n.id));
    });

    test('socketsJoin / socketsLeave / disconnectSockets from Node act on siogate sockets', async () => {
      const c = await connected(sg.url);
      await ask(c, 'join', 'jl');
      node.io.in('jl').socketsJoin('jl-extra');
      await roomsUntil(c, (x) => x.includes('jl-extra'), 'remote join');
      // the room joined remotely is a room like any other: its channel
      // (dynamic) carries a broadcast from Node
      await roomSubs('jl-extra', 1);
      const got = waitFor(c, 'jl-msg');
      node.io.to('jl-extra').emit('jl-msg', 'x');
      assert.deepEqual(await got, ['x']);
      node.io.in('jl').socketsLeave('jl-extra');
      await roomsUntil(c, (x) => !x.includes('jl-extra'), 'remote leave');
      await roomSubs('jl-extra', 0);
      const d = nextDisconnect(c);
      node.io.in('jl').disconnectSockets();
      assert.equal(await d, 'io server disconnect');
    });

    test('socketsJoin / socketsLeave / disconnectSockets from siogate act on Node sockets', async () => {
      const c = await connected(sg.url);
      const n = await connected(node.url);
      await ask(n, 'join', 'njl');
      const sock = node.io.of('/').sockets.get(n.id);
      await ask(c, 'cluster op', { rooms: ['njl'], join: 'njl-extra' });
      await until(() => sock.rooms.has('njl-extra'), DEFAULT_WAIT_MS, 'remote join');
      await roomSubs('njl-extra', 1);
      const got = waitFor(n, 'njl-msg');
      await ask(c, 'cluster emit', { event: 'njl-msg', rooms: ['njl-extra'] }, 'y');
      assert.deepEqual(await got, ['y']);
      await ask(c, 'cluster op', { rooms: ['njl'], leave: 'njl-extra' });
      await until(() => !sock.rooms.has('njl-extra'), DEFAULT_WAIT_MS, 'remote leave');
      const d = nextDisconnect(n);
      await ask(c, 'cluster op', { rooms: ['njl'], close: true });
      assert.equal(await d, 'io server disconnect');
    });

    test('disconnectSockets(true) across nodes, both ways, polling and websocket', async () => {
      for (const transports of [['polling'], ['websocket']]) {
        const c = await connected(sg.url, { transports });
        const n = await connected(node.url, { transports });
        await ask(c, 'join', 'dk');
        await ask(n, 'join', 'dk');
        let dc = nextDisconnect(c);
        let dn = nextDisconnect(n);
        node.io.in('dk').disconnectSockets(true);
        assert.equal(await dn, 'io server disconnect', `Node client over ${transports}`);
        assert.equal(await dc, 'io server disconnect', `siogate client over ${transports}`);
        // from siogate: the asker stays out of the room (its own socket
        // would go before the ack)
        const asker = await connected(sg.url, { transports });
        const c2 = await connected(sg.url, { transports });
        const n2 = await connected(node.url, { transports });
        await ask(c2, 'join', 'dk2');
        await ask(n2, 'join', 'dk2');
        dc = nextDisconnect(c2);
        dn = nextDisconnect(n2);
        await ask(asker, 'cluster op', { rooms: ['dk2'], close: true });
        assert.equal(await dn, 'io server disconnect', `Node client over ${transports}`);
        assert.equal(await dc, 'io server disconnect', `siogate client over ${transports}`);
      }
    });

    test('serverSideEmit without ack, both ways, binary intact', async () => {
      // siogate's testkit answers "ping" by serverSideEmit("pong", ...same args)
      const pong = waitFor(node.io, 'pong');
      node.io.serverSideEmit('ping', 1, 'two', { three: Buffer.from([3]) });
      const [one, two, three] = await pong;
      assert.deepEqual([one, two], [1, 'two']);
      assert.deepEqual([...three.three], [3]);
      const c = await connected(sg.url);
      const got = waitFor(node.io, 'sg-event');
      const [res] = await ask(c, 'cluster server emit', { event: 'sg-event' }, 'a', Buffer.from([7, 7]));
      assert.equal(res.err, null);
      const [a, buf] = await got;
      assert.equal(a, 'a');
      assert.deepEqual([...buf], [7, 7]);
    });

    test('serverSideEmit with ack, both ways', async () => {
      assert.deepEqual(await node.io.serverSideEmitWithAck('ping', 'x'), ['pong']);
      node.io.once('ask-node', (x, cb) => cb({ echoed: x }));
      const c = await connected(sg.url);
      const [res] = await ask(c, 'cluster server emit', { event: 'ask-node', ack: true }, 7);
      assert.deepEqual(res, { err: null, responses: [{ echoed: 7 }] });
      // an answer with binary crosses as msgpack (testkit shows only its
      // other fields)
      node.io.once('ask-node-bin', (x, cb) => cb({ echoed: x, bin: Buffer.from([x]) }));
      const [resb] = await ask(c, 'cluster server emit', { event: 'ask-node-bin', ack: true }, 8);
      assert.equal(resb.err, null);
      assert.equal(resb.responses.length, 1);
      assert.equal(resb.responses[0].echoed, 8);
      assert.ok(resb.responses[0].bin !== undefined && resb.responses[0].bin !== null);
    });

    if (m.settings.requestsTimeout) {
      test(`serverSideEmit with ack that Node never answers ends after requestsTimeout (${m.settings.requestsTimeout} ms)`, async () => {
        const c = await connected(sg.url);
        const t0 = Date.now();
        const [res] = await ask(c, 'cluster server emit', { event: 'nobody-answers', ack: true });
        const ms = Date.now() - t0;
        assert.ok(res.err, 'an error');
        assert.deepEqual(res.responses, []);
        assert.ok(ms >= m.settings.requestsTimeout - 100, `ended after ${ms} ms`);
        assert.ok(ms < 4500, `ended after ${ms} ms, before Node's fixed 5000 ms`);
      });
    }

    test('broadcast with acks from Node collects siogate clients\' acks; a silent client times out', async () => {
      const c1 = await connected(sg.url);
      const c2 = await connected(sg.url);
      const n1 = await connected(node.url);
      for (const [s, name] of [[c1, 'c1'], [c2, 'c2'], [n1, 'n1']]) {
        await ask(s, 'join', 'acks1');
        s.on('question', (a, cb) => cb(name + a));
      }
      // acked broadcasts use the main channel, whatever the mode
      const res = await node.io.to('acks1').timeout(DEFAULT_WAIT_MS).emitWithAck('question', '!');
      assert.deepEqual(sortStr(res), ['c1!', 'c2!', 'n1!']);
      // no client on either side: siogate still answers with a count of 0
      assert.deepEqual(await node.io.to('nobody-here').timeout(DEFAULT_WAIT_MS).emitWithAck('question', '?'), []);
      // a siogate client that never answers: Node's timeout, with the others' acks
      const mute = await connected(sg.url);
      await ask(mute, 'join', 'acks1');
      const heard = waitFor(mute, 'question');
      const t0 = Date.now();
      const [err, partial] = await new Promise((resolve) => {
        node.io.to('acks1').timeout(3000).emit('question', '?', (e, responses) => resolve([e, responses]));
      });
      await heard;
      assert.ok(err instanceof Error, 'Node reports the timeout');
      assert.ok(Date.now() - t0 >= 2900);
      assert.deepEqual(sortStr(partial), ['c1?', 'c2?', 'n1?']);
    });

    test('broadcast with acks from siogate collects Node clients\' acks (binary intact); a silent client times out', async () => {
      const c1 = await connected(sg.url);
      const n1 = await connected(node.url);
      const n2 = await connected(node.url);
      for (const [s, name] of [[c1, 'c1'], [n1, 'n1'], [n2, 'n2']]) {
        await ask(s, 'join', 'acks2');
        s.on('request', (x, cb) => cb(name === 'n2' ? Buffer.from([name.length, x]) : name));
      }
      const [res] = await ask(c1, 'cluster emit', { event: 'request', rooms: ['acks2'], ackTimeout: DEFAULT_WAIT_MS }, 5);
      assert.equal(res.err, null);
      assert.equal(res.responses.length, 3);
      assert.deepEqual(res.responses.filter((x) => typeof x === 'string').sort(), ['c1', 'n1']);
      assert.deepEqual([...res.responses.find((x) => typeof x !== 'string')], [2, 5]);
      const [none] = await ask(c1, 'cluster emit', { event: 'request', rooms: ['nobody'], ackTimeout: DEFAULT_WAIT_MS });
      assert.deepEqual(none, { err: null, responses: [] });
      // a Node client that never answers: siogate's timeout, with the others' acks
      const mute = await connected(node.url);
      await ask(mute, 'join', 'acks2');
      const heard = waitFor(mute, 'request');
      const t0 = Date.now();
      const [part] = await ask(c1, 'cluster emit', { event: 'request', rooms: ['acks2'], ackTimeout: 3000 }, 6);
      await heard;
      assert.ok(part.err, 'siogate reports the timeout');
      assert.ok(Date.now() - t0 >= 2900);
      assert.equal(part.responses.length, 3);
      assert.deepEqual(part.responses.filter((x) => typeof x === 'string').sort(), ['c1', 'n1']);
    });
  });
}

describe('two siogate nodes on sharded Pub/Sub, no Node', { skip }, () => {
  for (const mode of ['static', 'dynamic', 'dynamic-private']) {
    describe(mode, () => {
      let cluster;
      let a;
      let b;
      let r;
      const ch = (room) => chan('socket.io', '/', room);
      before(async () => {
        cluster = await startCluster({ adapter: 'sharded', nodes: 2, settings: { subscriptionMode: mode, requestsTimeout: 3000 } });
        [a, b] = cluster.nodes;
        r = await redisClient(cluster.redis.url);
      });
      after(async () => {
        closeAll();
        if (r) await r.quit().catch(() => {});
        if (cluster) await cluster.stop();
      });

      test('broadcasts (room, socket id, several rooms, except, binary) cross both ways, once each', async () => {
        const ca = await connected(a.url);
        const cb = await connected(b.url, { transports: ['websocket'] });
        const cb2 = await connected(b.url);
        await ask(ca, 'join', 'ra');
        await ask(cb, 'join', 'rb');
        await ask(cb2, 'join', ['rb', 'ex']);
        if (mode !== 'static') await waitShardSubscribed(r, { [ch('ra')]: 1, [ch('rb')]: 1, [ch('ex')]: 1 });
        if (mode === 'dynamic-private') await waitShardSubscribed(r, { [ch(ca.id)]: 1, [ch(cb.id)]: 1, [ch(cb2.id)]: 1 });
        const [ra, rb, rb2] = [ca, cb, cb2].map((s) => recorder(s, 'x'));
        await ask(ca, 'cluster emit', { event: 'x', rooms: ['rb'], except: ['ex'] }, Buffer.from([4, 5]));
        await ask(ca, 'cluster emit', { event: 'x', rooms: ['rb'] }, 'rb-all');
        await ask(ca, 'cluster emit', { event: 'x', rooms: [cb2.id] }, 'to-cb2');
        await ask(ca, 'cluster emit', { event: 'x', rooms: ['ra', 'ex'] }, 'ra-ex');
        await ask(cb, 'cluster emit', { event: 'x', rooms: ['ra'] }, 'ra-only');
        await ask(cb, 'cluster emit', { event: 'x', rooms: [ca.id] }, 'to-ca');
        await ask(ca, 'cluster emit', { event: 'x' }, 'end-a');
        await ask(cb, 'cluster emit', { event: 'x' }, 'end-b');
        for (const rc of [ra, rb, rb2]) for (const end of ['end-a', 'end-b']) await rc.match((x) => x === end);
        const show = (rc) => rc.items.map(([x]) => (Buffer.isBuffer(x) ? `bin:${[...x]}` : x)).sort();
        assert.deepEqual(show(ra), ['end-a', 'end-b', 'ra-ex', 'ra-only', 'to-ca']);
        assert.deepEqual(show(rb), ['bin:4,5', 'end-a', 'end-b', 'rb-all']);
        assert.deepEqual(show(rb2), ['end-a', 'end-b', 'ra-ex', 'rb-all', 'to-cb2']);
      });

      test('fetchSockets, socketsJoin/Leave, disconnectSockets between the nodes', async () => {
        const ca = await connected(a.url);
        const cb = await connected(b.url);
        await ask(cb, 'join', 'ops');
        await ask(cb, 'cluster set data', { on: 'b' });
        const [f] = await ask(ca, 'cluster fetch', { rooms: ['ops'] });
        assert.equal(f.err, null);
        assert.deepEqual(f.result.map((s) => [s.id, sortStr(s.rooms), s.data]), [[cb.id, sortStr([cb.id, 'ops']), { on: 'b' }]]);
        await ask(ca, 'cluster op', { rooms: ['ops'], join: 'ops2' });
        await roomsUntil(cb, (x) => x.includes('ops2'), 'remote join');
        if (mode !== 'static') await waitShardSubscribed(r, { [ch('ops2')]: 1 });
        const got = waitFor(cb, 'ops-msg');
        await ask(ca, 'cluster emit', { event: 'ops-msg', rooms: ['ops2'] }, 1);
        assert.deepEqual(await got, [1]);
        await ask(ca, 'cluster op', { rooms: ['ops'], leave: 'ops2' });
        await roomsUntil(cb, (x) => !x.includes('ops2'), 'remote leave');
        if (mode !== 'static') await waitShardSubscribed(r, { [ch('ops2')]: 0 });
        const d = nextDisconnect(cb);
        await ask(ca, 'cluster op', { rooms: ['ops'] });
        assert.equal(await d, 'io server disconnect');
      });

      test('serverSideEmit with ack and broadcast with acks between the nodes', async () => {
        const ca = await connected(a.url);
        const cb = await connected(b.url);
        const [s] = await ask(ca, 'cluster server emit', { event: 'ping', ack: true });
        assert.deepEqual(s, { err: null, responses: ['pong'] });
        for (const [c, name] of [[ca, 'a'], [cb, 'b']]) {
          await ask(c, 'join', 'acks');
          c.on('request', (x, done) => done(name + x));
        }
        const [res] = await ask(cb, 'cluster emit', { event: 'request', rooms: ['acks'], ackTimeout: DEFAULT_WAIT_MS }, 1);
        assert.equal(res.err, null);
        assert.deepEqual(sortStr(res.responses), ['a1', 'b1']);
      });
    });
  }
});

describe('a classic and a sharded cluster on one Redis, same prefix "socket.io"', { skip }, () => {
  let redis;
  let classic; // siogate adapter = redis
  let sharded; // siogate adapter = sharded
  let nodeClassic;
  let nodeSharded;
  let A;
  let B;
  before(async () => {
    redis = await startRedis();
    classic = await startCluster({ redis, nodes: 1, settings: { redisKey: 'socket.io' } });
    sharded = await startCluster({ redis, adapter: 'sharded', nodes: 1, settings: { channelPrefix: 'socket.io' } });
    [A] = classic.nodes;
    [B] = sharded.nodes;
    nodeClassic = await startNodePeer({ redisUrl: redis.url, key: 'socket.io' });
    nodeSharded = await startNodePeer({ redisUrl: redis.url, adapter: 'sharded' });
    await classic.waitReady({ subscribers: 2 });
    await sharded.waitReady({ peers: [nodeSharded] });
    nodeClassic.io.on('count-me', (cb) => cb('node-classic'));
    nodeSharded.io.on('count-me', (cb) => cb('node-sharded'));
  });
  after(async () => {
    closeAll();
    for (const x of [nodeClassic, nodeSharded]) if (x) await x.stop();
    let first = null;
    for (const x of [classic, sharded]) if (x) await x.stop().catch((e) => { first = first || e; });
    if (redis) await redis.stop();
    if (first) throw first;
  });

  test('broadcasts stay in their own cluster', async () => {
    const a = await connected(A.url);
    const b = await connected(B.url);
    const nc = await connected(nodeClassic.url);
    const ns = await connected(nodeSharded.url);
    for (const c of [a, b, nc, ns]) await ask(c, 'join', 'shared-room');
    const r = await redisClient(redis.url);
    try {
      await waitShardSubscribed(r, { 'socket.io#/#shared-room#': 2 });
    } finally {
      await r.quit();
    }
    const [ra, rb, rnc, rns] = [a, b, nc, ns].map((c) => recorder(c, 'm'));
    // the sharded side, to all and to the room (its room channel)
    await ask(b, 'cluster emit', { event: 'm' }, 'B-all');
    await ask(b, 'cluster emit', { event: 'm', rooms: ['shared-room'] }, 'B-room', Buffer.from([1]));
    nodeSharded.io.emit('m', 'NS-all');
    nodeSharded.io.to('shared-room').emit('m', 'NS-room');
    // the classic side
    await ask(a, 'cluster emit', { event: 'm' }, 'A-all');
    await ask(a, 'cluster emit', { event: 'm', rooms: ['shared-room'] }, 'A-room', Buffer.from([2]));
    nodeClassic.io.emit('m', 'NC-all');
    nodeClassic.io.to('shared-room').emit('m', 'NC-room');
    const sh = ['B-all', 'B-room', 'NS-all', 'NS-room'];
    const cl = ['A-all', 'A-room', 'NC-all', 'NC-room'];
    for (const rc of [rb, rns]) for (const t of sh) await rc.match((x) => x === t);
    for (const rc of [ra, rnc]) for (const t of cl) await rc.match((x) => x === t);
    // sentinels published after every message above was delivered: a
    // message of the other kind would have reached a subscriber before them
    nodeClassic.io.emit('m', 'end-classic');
    nodeSharded.io.emit('m', 'end-sharded');
    for (const rc of [ra, rnc]) await rc.match((x) => x === 'end-classic');
    for (const rc of [rb, rns]) await rc.match((x) => x === 'end-sharded');
    const tags = (rc) => rc.items.map(([t]) => t).filter((t) => !t.startsWith('end')).sort();
    assert.deepEqual(tags(ra), [...cl].sort());
    assert.deepEqual(tags(rnc), [...cl].sort());
    assert.deepEqual(tags(rb), [...sh].sort());
    assert.deepEqual(tags(rns), [...sh].sort());
  });

  test('requests and server counts stay in their own cluster', async () => {
    const a = await connected(A.url);
    const b = await connected(B.url);
    const nc = await connected(nodeClassic.url);
    const ns = await connected(nodeSharded.url);
    await ask(a, 'join', 'req-room');
    await ask(b, 'join', 'req-room');
    await ask(nc, 'join', 'req-room');
    await ask(ns, 'join', 'req-room');
    const ids = async (c) => {
      const [res] = await ask(c, 'cluster fetch', { rooms: ['req-room'] });
      assert.equal(res.err, null);
      return sortStr(res.result.map((s) => s.id));
    };
    assert.deepEqual(await ids(a), sortStr([a.id, nc.id]));
    assert.deepEqual(await ids(b), sortStr([b.id, ns.id]));
    assert.deepEqual(sortStr((await nodeClassic.io.in('req-room').fetchSockets()).map((s) => s.id)), sortStr([a.id, nc.id]));
    assert.deepEqual(sortStr((await nodeSharded.io.in('req-room').fetchSockets()).map((s) => s.id)), sortStr([b.id, ns.id]));
    assert.deepEqual(await countMe(a), { err: null, responses: ['node-classic'] });
    assert.deepEqual(await countMe(b), { err: null, responses: ['node-sharded'] });
    assert.equal(await nodeSharded.io.of('/').adapter.serverCount(), 2);
    assert.deepEqual(await nodeClassic.io.serverSideEmitWithAck('ping'), ['pong']);
    assert.deepEqual(await nodeSharded.io.serverSideEmitWithAck('ping'), ['pong']);
  });

  test('garbage on the sharded channels is dropped; both nodes stay up and keep serving', async () => {
    const b = await connected(B.url);
    const ns = await connected(nodeSharded.url);
    await ask(b, 'join', 'junk-room');
    const r = await redisClient(redis.url);
    try {
      await waitShardSubscribed(r, { 'socket.io#/#junk-room#': 1 });
      const nodeUid = nodeSharded.io.of('/').adapter.uid;
      const uidChannels = (await shardChannels(r, 'socket.io#/#*'))
        .filter((x) => UID_RE.test(x.slice('socket.io#/#'.length, -1)) && !x.includes(nodeUid));
      assert.equal(uidChannels.length, 1, 'siogate\'s own response channel');
      // what Node's receiver survives too (undecodable, or another
      // namespace): on the main channel, which the Node peer also reads
      const undecodable = [
        'x', '{', '{"type":3}', '[1,2,3]', 'null', '{"type":3,"data":null,"uid":"0123456789abcdef","nsp":"/x"}',
        '{"type":3,"data":{},"uid":5,"nsp":[]}', Buffer.from([0x84, 0xff, 0x00]), Buffer.from([0xc1]),
        Buffer.from(notepack.encode([1, 2, 3])),
      ];
      // well-formed envelopes with broken data (Node's own receiver would
      // throw on some): only on channels siogate alone reads
      const broken = [
        '', '{"type":3,"data":null,"uid":"0123456789abcdef","nsp":"/"}',
        '{"type":3,"data":{"packet":{"type":2,"data":"no"},"opts":{"rooms":"r"}},"uid":"0123456789abcdef","nsp":"/"}',
        '{"type":3,"data":{"packet":null,"opts":null,"requestId":"0123456789abcdef"},"uid":"0123456789abcdef","nsp":"/"}',
        '{"type":4,"data":{"opts":{"rooms":[1]},"rooms":"x"},"uid":"0123456789abcdef","nsp":"/"}',
        '{"type":7,"data":{"opts":{},"requestId":7},"uid":"0123456789abcdef","nsp":"/"}',
        '{"type":8,"data":{"requestId":"ffffffffffffffff","sockets":"no"},"uid":"0123456789abcdef","nsp":"/"}',
        '{"type":9,"data":{"packet":"no","requestId":[]},"uid":"0123456789abcdef","nsp":"/"}',
        '{"type":11,"data":{"requestId":"ffffffffffffffff","clientCount":-1},"uid":"0123456789abcdef","nsp":"/"}',
        '{"type":99,"uid":"0123456789abcdef","nsp":"/"}',
        Buffer.from(notepack.encode({ type: 9, data: { packet: 'no' }, uid: 'x', nsp: '/' })),
        Buffer.from(notepack.encode({ type: 3, data: { packet: { type: 2, data: [Buffer.alloc(1)] }, opts: 5 }, uid: 'x', nsp: '/' })),
      ];
      for (const j of undecodable) await r.sendCommand(['SPUBLISH', 'socket.io#/#', j]);
      for (const channel of [uidChannels[0], 'socket.io#/#junk-room#']) {
        for (const j of [...undecodable, ...broken]) await r.sendCommand(['SPUBLISH', channel, j]);
      }
      // a classic PUBLISH on the room's name: the sharded node does not hear
      // it; the classic ones ignore a room they do not host (Node's classic
      // adapter checks the room before decoding: on `socket.io#/#` it
      // would throw "trailing bytes" from its subscriber and stop serving)
      await r.sendCommand(['PUBLISH', 'socket.io#/#junk-room#', '{"type":3}']);
    } finally {
      await r.quit();
    }
    // both keep serving
    const got = waitFor(b, 'after-junk');
    nodeSharded.io.to('junk-room').emit('after-junk', 1);
    assert.deepEqual(await got, [1]);
    const gotN = waitFor(ns, 'after-junk');
    await ask(b, 'cluster emit', { event: 'after-junk' }, 2);
    assert.deepEqual(await gotN, [2]);
    assert.deepEqual(await countMe(b), { err: null, responses: ['node-sharded'] });
    const a = await connected(A.url);
    assert.deepEqual(await ask(a, 'cluster state'), ['ready']);
    assert.deepEqual(await countMe(a), { err: null, responses: ['node-classic'] });
    assert.ok(A.alive() && B.alive());
  });
});
