'use strict';
// siogate's Redis Streams backend (--adapter streams) in a cluster with a
// Node.js socket.io 4.8 server running the official
// @socket.io/redis-streams-adapter: 0.3.1 (siogate's default streamsProtocol
// 0.3: broadcasts and room operations in the stream, requests over Pub/Sub,
// server count = NUMSUB) and 0.2.3 (streamsProtocol 0.2: everything in the
// stream, server count from heartbeats). Every cross-node operation is
// checked in both directions against the real Node package, then between
// two siogate nodes without Node (reading one entry per XREAD, with XREADs
// that time out every 100 ms).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
const { connected, closeAll, ask, recorder, waitFor, nextDisconnect, DEFAULT_WAIT_MS } = require('./lib/util');
const { startServer } = require('./lib/server');
const { startCluster, until } = require('./lib/cluster');
const { startNodePeer } = require('./node-peer');

const skip = process.env.SG_REF === '1' && 'siogate nodes with the Streams adapter (the reference server has none)';

const VERSIONS = [
  { name: '0.3.1', peer: 'streams', settings: {}, streams: {} },
  // 0.2 counts servers by heartbeats: a short interval on both sides
  { name: '0.2.3', peer: 'streams-0.2', settings: { streamsProtocol: '0.2', heartbeatInterval: 500 }, streams: { heartbeatInterval: 500 } },
];

/** The ids of every socket of the cluster, asked through a siogate client. */
async function fetchedIds(c) {
  const [r] = await ask(c, 'cluster fetch', {});
  return (r.result || []).map((s) => s.id);
}

/** A room-state poll on a siogate client (testkit "rooms"). */
async function roomsUntil(c, pred, what) {
  await until(async () => pred((await ask(c, 'rooms'))[0]), DEFAULT_WAIT_MS, what);
}

for (const v of VERSIONS) {
  describe(`mixed streams cluster: siogate + Node @socket.io/redis-streams-adapter ${v.name}`, { skip }, () => {
    let cluster;
    let sg;
    let node;
    before(async () => {
      cluster = await startCluster({ adapter: 'streams', nodes: 1, settings: v.settings });
      [sg] = cluster.nodes;
      node = await startNodePeer({ redisUrl: cluster.redis.url, adapter: v.peer, streams: v.streams });
      await cluster.waitReady({ peers: [node] }); // both read the stream (and, 0.3, subscribe)
      // Each side counts the other: Node's serverCount, and siogate's
      // fetchSockets, which asks only the servers it counts.
      await until(async () => (await node.io.of('/').adapter.serverCount()) === 2, DEFAULT_WAIT_MS, 'Node counts 2 servers');
      const c = await connected(sg.url);
      const n = await connected(node.url);
      await until(async () => fetchedIds(c).then((ids) => ids.includes(n.id)),
        DEFAULT_WAIT_MS, 'siogate fetches the Node peer\'s sockets');
      c.disconnect();
      n.disconnect();
      node.io.on('count-me', (cb) => cb('node'));
    });
    after(async () => {
      closeAll();
      if (node) await node.stop();
      if (cluster) await cluster.stop();
    });

    /** serverSideEmit with ack from siogate: it waits for exactly the servers it counts */
    const countMe = async (c) => (await ask(c, 'cluster server emit', { event: 'count-me', ack: true }))[0];

    test('server count: siogate ready, both sides count two servers', async () => {
      const c = await connected(sg.url);
      assert.deepEqual(await ask(c, 'cluster state'), ['ready']);
      assert.equal(await node.io.of('/').adapter.serverCount(), 2);
      if (v.peer === 'streams') {
        const r = createClient({ url: cluster.redis.url });
        await r.connect();
        assert.deepEqual({ ...(await r.pubSubNumSub('socket.io#/#')) }, { 'socket.io#/#': 2 });
        await r.quit();
      }
      // siogate waits for exactly the servers it counts: one answer, no timeout
      assert.deepEqual(await countMe(c), { err: null, responses: ['node'] });
      // and Node waits for exactly one answer from siogate
      assert.deepEqual(await node.io.serverSideEmitWithAck('ping'), ['pong']);
    });

    test('servers that join and leave are counted, both ways', async () => {
      const c = await connected(sg.url);
      const nodeCount = () => node.io.of('/').adapter.serverCount();
      const r = createClient({ url: cluster.redis.url });
      await r.connect();
      /** Until siogate's view is current: 0.3, Redis counts `subs`
       *  subscribers; 0.2, siogate read what Node wrote last (behind any
       *  ADAPTER_CLOSE of a peer that left). */
      const settled = async (subs) => {
        if (v.peer === 'streams') {
          await until(async () => (await r.pubSubNumSub('socket.io#/#'))['socket.io#/#'] === subs, DEFAULT_WAIT_MS, `NUMSUB ${subs}`);
        }
        const got = waitFor(c, 'settled');
        node.io.emit('settled');
        await got;
      };
      let other;
      let node2;
      try {
        // another siogate node comes and goes: Node counts it, then not
        other = await startServer({ settings: cluster.settings });
        await until(async () => (await nodeCount()) === 3, DEFAULT_WAIT_MS, 'Node counts the new siogate node');
        await other.stop(); // 0.2: its ADAPTER_CLOSE; 0.3: its subscription goes
        other = null;
        await until(async () => (await nodeCount()) === 2, DEFAULT_WAIT_MS, 'Node no longer counts the stopped siogate node');
        await settled(2);
        assert.deepEqual(await countMe(c), { err: null, responses: ['node'] });
        // another Node peer comes and goes: siogate counts it, then not
        node2 = await startNodePeer({ redisUrl: cluster.redis.url, adapter: v.peer, streams: v.streams });
        node2.io.on('count-me', (cb) => cb('node2'));
        await until(async () => (await countMe(c)).responses.length === 2, DEFAULT_WAIT_MS, 'siogate counts the second Node peer');
        const both = await countMe(c);
        assert.deepEqual({ ...both, responses: both.responses.sort() }, { err: null, responses: ['node', 'node2'] });
        await node2.stop();
        node2 = null;
        await settled(2);
        assert.deepEqual(await countMe(c), { err: null, responses: ['node'] });
        assert.equal(await nodeCount(), 2);
      } finally {
        await r.quit();
        if (node2) await node2.stop();
        if (other) await other.stop();
      }
    });

    test('io.emit from Node reaches siogate clients: JSON, and binary intact (msgpack entry)', async () => {
      const c = await connected(sg.url);
      const got = recorder(c, 'hello');
      node.io.emit('hello', 'json', 1, { a: [null, true] });
      node.io.emit('hello', 'bin', Buffer.from([1, 2, 3]), { nested: Buffer.from([255, 0]) });
      await got.count(2);
      assert.deepEqual(got.items[0], ['json', 1, { a: [null, true] }]);
      const [s, buf, obj] = got.items[1];
      assert.equal(s, 'bin');
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

    test('a 600 KB binary broadcast crosses both ways intact', async () => {
      const big = Buffer.alloc(600 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      const c = await connected(sg.url, { transports: ['websocket'] });
      const n = await connected(node.url, { transports: ['websocket'] });
      const atNode = recorder(n, 'big');
      const atSg = recorder(c, 'big');
      await ask(c, 'cluster emit', { event: 'big' }, 'sg', big);
      node.io.emit('big', 'node', big);
      for (const [from, r] of [['sg', atNode], ['node', atSg]]) {
        const [, got] = await r.match((who) => who === from);
        assert.ok(Buffer.isBuffer(got) && got.equals(big), `${from}'s buffer intact`);
      }
    });

    test('broadcasts to a room and except a room cross both ways', async () => {
      const s1 = await connected(sg.url);
      const s2 = await connected(sg.url);
      const n1 = await connected(node.url);
      const n2 = await connected(node.url);
      for (const s of [s1, s2, n1]) await ask(s, 'join', 'r1');
      await ask(s2, 'join', 'r-ex');
      await ask(n2, 'join', 'r-ex');
      const rec = [s1, s2, n1, n2].map((s) => recorder(s, 'room-msg'));
      node.io.to('r1').except(s2.id).emit('room-msg', 'a'); // s1, n1
      node.io.except('r-ex').emit('room-msg', 'd'); // s1, n1
      await ask(s1, 'cluster emit', { event: 'room-msg', rooms: ['r1'], except: [n1.id] }, 'b'); // s1, s2
      await ask(s1, 'cluster emit', { event: 'room-msg', rooms: ['r1', 'nobody'] }, 'c'); // s1, s2, n1
      await ask(s1, 'cluster emit', { event: 'room-msg', except: ['r-ex'] }, 'e'); // s1, n1
      // sentinels to everyone, last: a stream is read in order
      node.io.emit('room-msg', 'end-node');
      await ask(s1, 'cluster emit', { event: 'room-msg' }, 'end-sg');
      for (const r of rec) {
        await r.match((m) => m === 'end-node');
        await r.match((m) => m === 'end-sg');
      }
      const texts = rec.map((r) => r.items.map((a) => a[0]).filter((m) => !m.startsWith('end')).sort());
      assert.deepEqual(texts[0], ['a', 'b', 'c', 'd', 'e']); // s1
      assert.deepEqual(texts[1], ['b', 'c']); // s2: excepted by Node, in r-ex
      assert.deepEqual(texts[2], ['a', 'c', 'd', 'e']); // n1: excepted by siogate
      assert.deepEqual(texts[3], []); // n2: in r-ex only
    });

    test('fetchSockets from Node returns siogate sockets (id, rooms, data, handshake)', async () => {
      const c = await connected(sg.url, { auth: { token: 't1' } });
      await ask(c, 'join', 'fetch-room');
      await ask(c, 'cluster set data', { user: 'bob', n: [1, 2] });
      const socks = await node.io.in('fetch-room').fetchSockets();
      assert.equal(socks.length, 1);
      assert.equal(socks[0].id, c.id);
      assert.deepEqual([...socks[0].rooms].sort(), [c.id, 'fetch-room'].sort());
      assert.deepEqual(socks[0].data, { user: 'bob', n: [1, 2] });
      assert.deepEqual(socks[0].handshake.auth, { token: 't1' });
      assert.ok((await node.io.fetchSockets()).some((s) => s.id === c.id));
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
      assert.deepEqual(res.result[0].rooms.sort(), [n.id, 'nf'].sort());
      assert.deepEqual(res.result[0].data, { who: 'node', bin: false });
      const [all] = await ask(c, 'cluster fetch', {});
      const ids = all.result.map((s) => s.id);
      assert.ok(ids.includes(c.id) && ids.includes(n.id));
    });

    test('socketsJoin / socketsLeave / disconnectSockets from Node act on siogate sockets', async () => {
      const c = await connected(sg.url);
      await ask(c, 'join', 'jl');
      node.io.in('jl').socketsJoin('jl-extra');
      await roomsUntil(c, (r) => r.includes('jl-extra'), 'remote join');
      node.io.in('jl').socketsLeave('jl-extra');
      await roomsUntil(c, (r) => !r.includes('jl-extra'), 'remote leave');
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
      await ask(c, 'cluster op', { rooms: ['njl'], leave: 'njl-extra' });
      await until(() => !sock.rooms.has('njl-extra'), DEFAULT_WAIT_MS, 'remote leave');
      const d = nextDisconnect(n);
      await ask(c, 'cluster op', { rooms: ['njl'], close: true });
      assert.equal(await d, 'io server disconnect');
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
      const [r] = await ask(c, 'cluster server emit', { event: 'sg-event' }, 'a', Buffer.from([7, 7]));
      assert.equal(r.err, null);
      const [a, buf] = await got;
      assert.equal(a, 'a');
      assert.deepEqual([...buf], [7, 7]);
    });

    test('serverSideEmit with ack, both ways', async () => {
      assert.deepEqual(await node.io.serverSideEmitWithAck('ping', 'x'), ['pong']);
      node.io.once('ask-node', (x, cb) => cb({ echoed: x }));
      const c = await connected(sg.url);
      const [r] = await ask(c, 'cluster server emit', { event: 'ask-node', ack: true }, 7);
      assert.deepEqual(r, { err: null, responses: [{ echoed: 7 }] });
    });

    test('broadcast with acks from Node collects siogate clients\' acks', async () => {
      const c1 = await connected(sg.url);
      const c2 = await connected(sg.url);
      const n1 = await connected(node.url);
      for (const [s, name] of [[c1, 'c1'], [c2, 'c2'], [n1, 'n1']]) {
        await ask(s, 'join', 'acks1');
        s.on('question', (a, cb) => cb(name + a));
      }
      // (Node's adapter keeps a timer of this length per call: the file exits that much later)
      const res = await node.io.to('acks1').timeout(DEFAULT_WAIT_MS).emitWithAck('question', '!');
      assert.deepEqual(res.sort(), ['c1!', 'c2!', 'n1!']);
      // no client on either side: siogate still answers with a count of 0
      assert.deepEqual(await node.io.to('nobody-here').timeout(DEFAULT_WAIT_MS).emitWithAck('question', '?'), []);
    });

    test('broadcast with acks from siogate collects Node clients\' acks, binary intact', async () => {
      const c1 = await connected(sg.url);
      const n1 = await connected(node.url);
      const n2 = await connected(node.url);
      for (const [s, name] of [[c1, 'c1'], [n1, 'n1'], [n2, 'n2']]) {
        await ask(s, 'join', 'acks2');
        s.on('request', (x, cb) => cb(name === 'n2' ? Buffer.from([name.length, x]) : name));
      }
      const [r] = await ask(c1, 'cluster emit', { event: 'request', rooms: ['acks2'], ackTimeout: DEFAULT_WAIT_MS }, 5);
      assert.equal(r.err, null);
      assert.equal(r.responses.length, 3);
      assert.deepEqual(r.responses.filter((x) => typeof x === 'string').sort(), ['c1', 'n1']);
      assert.deepEqual([...r.responses.find((x) => typeof x !== 'string')], [2, 5]);
      const [none] = await ask(c1, 'cluster emit', { event: 'request', rooms: ['nobody'], ackTimeout: DEFAULT_WAIT_MS });
      assert.deepEqual(none, { err: null, responses: [] });
    });
  });
}

for (const protocol of ['0.3', '0.2']) {
  describe(`two siogate nodes on streams protocol ${protocol}, no Node`, { skip }, () => {
    let cluster;
    let a;
    let b;
    before(async () => {
      // one entry per XREAD, and XREADs that often time out empty
      const settings = { readCount: 1, blockTimeInMs: 100, ...(protocol === '0.2' ? { streamsProtocol: '0.2', heartbeatInterval: 500 } : {}) };
      cluster = await startCluster({ adapter: 'streams', nodes: 2, settings });
      [a, b] = cluster.nodes;
      // 0.2: each node learns the other from its heartbeats
      const ca = await connected(a.url);
      const cb = await connected(b.url);
      for (const [c, other] of [[ca, cb], [cb, ca]]) {
        await until(async () => fetchedIds(c).then((ids) => ids.includes(other.id)),
          DEFAULT_WAIT_MS, 'each node fetches the other\'s sockets');
      }
      ca.disconnect();
      cb.disconnect();
    });
    after(async () => {
      closeAll();
      if (cluster) await cluster.stop();
    });

    test('broadcasts (room, except, binary) cross in both directions, once each', async () => {
      const ca = await connected(a.url);
      const cb = await connected(b.url, { transports: ['websocket'] });
      const cb2 = await connected(b.url);
      await ask(cb, 'join', 'rb');
      await ask(cb2, 'join', 'rb');
      await ask(cb2, 'join', 'ex');
      const [ra, rb, rb2] = [ca, cb, cb2].map((s) => recorder(s, 'x'));
      await ask(ca, 'cluster emit', { event: 'x', rooms: ['rb'], except: ['ex'] }, Buffer.from([4, 5]));
      await ask(ca, 'cluster emit', { event: 'x' }, 'end-a');
      await ask(cb, 'cluster emit', { event: 'x' }, 'end-b');
      // each node's entries are read in order: after its sentinel, nothing of it is missing
      for (const r of [ra, rb, rb2]) for (const end of ['end-a', 'end-b']) await r.match((m) => m === end);
      const show = (r) => r.items.map(([m]) => (Buffer.isBuffer(m) ? `bin:${[...m]}` : m)).sort();
      assert.deepEqual(show(ra), ['end-a', 'end-b']);
      assert.deepEqual(show(rb), ['bin:4,5', 'end-a', 'end-b']);
      assert.deepEqual(show(rb2), ['end-a', 'end-b']);
    });

    test('fetchSockets, socketsJoin/Leave, disconnectSockets between the nodes', async () => {
      const ca = await connected(a.url);
      const cb = await connected(b.url);
      await ask(cb, 'join', 'ops');
      await ask(cb, 'cluster set data', { on: 'b' });
      const [f] = await ask(ca, 'cluster fetch', { rooms: ['ops'] });
      assert.equal(f.err, null);
      assert.deepEqual(f.result.map((s) => [s.id, s.rooms.sort(), s.data]), [[cb.id, [cb.id, 'ops'].sort(), { on: 'b' }]]);
      await ask(ca, 'cluster op', { rooms: ['ops'], join: 'ops2' });
      await roomsUntil(cb, (r) => r.includes('ops2'), 'remote join');
      await ask(ca, 'cluster op', { rooms: ['ops'], leave: 'ops2' });
      await roomsUntil(cb, (r) => !r.includes('ops2'), 'remote leave');
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
      const [r] = await ask(cb, 'cluster emit', { event: 'request', rooms: ['acks'], ackTimeout: DEFAULT_WAIT_MS }, 1);
      assert.equal(r.err, null);
      assert.deepEqual(r.responses.sort(), ['a1', 'b1']);
    });
  });
}
