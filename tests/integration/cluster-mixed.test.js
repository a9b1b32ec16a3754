'use strict';
// A mixed cluster on one private redis-server: a siogate node (adapter =
// redis) and a Node.js socket.io 4.8 server with the official
// @socket.io/redis-adapter 8.3. Clients on each side; every cross-node
// operation is checked in both directions against the real Node package.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { connected, closeAll, ask, recorder, waitFor, nextDisconnect } = require('./lib/util');
const { startCluster } = require('./lib/cluster');
const { startNodePeer } = require('./node-peer');

const skip = process.env.SG_REF === '1' && 'a siogate node with the Redis adapter (the reference server has none)';

describe('mixed cluster: siogate + Node @socket.io/redis-adapter', { skip }, () => {
  let cluster;
  let sg;
  let node;
  before(async () => {
    cluster = await startCluster({ nodes: 1 });
    [sg] = cluster.nodes;
    node = await startNodePeer({ redisUrl: cluster.redis.url });
    await cluster.waitReady({ subscribers: 2 }); // siogate and the Node peer
  });
  after(async () => {
    closeAll();
    if (node) await node.stop();
    if (cluster) await cluster.stop();
  });

  test('siogate reports the cluster connection ready', async () => {
    const c = await connected(sg.url);
    assert.deepEqual(await ask(c, 'cluster state'), ['ready']);
  });

  test('io.emit from Node reaches siogate clients, binary intact', async () => {
    const c = await connected(sg.url);
    const got = waitFor(c, 'hello');
    node.io.emit('hello', 'world', 42, Buffer.from([1, 2, 3]), { nested: Buffer.from([255, 0]) });
    const [s, n, buf, obj] = await got;
    assert.equal(s, 'world');
    assert.equal(n, 42);
    assert.deepEqual([...buf], [1, 2, 3]);
    assert.deepEqual([...obj.nested], [255, 0]);
  });

  test('a siogate broadcast reaches Node clients, binary intact', async () => {
    const c = await connected(sg.url);
    const n = await connected(node.url);
    const got = waitFor(n, 'from-sg');
    await ask(c, 'cluster emit', { event: 'from-sg' }, 'x', Buffer.from([9, 8, 7]));
    const [x, buf] = await got;
    assert.equal(x, 'x');
    assert.deepEqual([...buf], [9, 8, 7]);
  });

  test('room broadcasts and except cross both ways', async () => {
    const s1 = await connected(sg.url);
    const s2 = await connected(sg.url);
    const n1 = await connected(node.url);
    const n2 = await connected(node.url);
    await ask(s1, 'join', 'r1');
    await ask(s2, 'join', 'r1');
    await ask(n1, 'join', 'r1');
    const rec = [s1, s2, n1, n2].map((s) => recorder(s, 'room-msg'));
    // Node -> everyone in r1 except s2
    node.io.to('r1').except(s2.id).emit('room-msg', 'a');
    // siogate -> everyone in r1 except n1 (exact-room channel and main channel)
    await ask(s1, 'cluster emit', { event: 'room-msg', rooms: ['r1'], except: [n1.id] }, 'b');
    await ask(s1, 'cluster emit', { event: 'room-msg', rooms: ['r1', 'nobody'] }, 'c');
    // sentinels to everyone, last: per-connection order makes earlier ones visible
    node.io.emit('room-msg', 'end-node');
    await ask(s1, 'cluster emit', { event: 'room-msg' }, 'end-sg');
    for (const r of rec) {
      await r.match((m) => m === 'end-node');
      await r.match((m) => m === 'end-sg');
    }
    const texts = rec.map((r) => r.items.map((a) => a[0]).filter((m) => !m.startsWith('end')).sort());
    assert.deepEqual(texts[0], ['a', 'b', 'c']); // s1
    assert.deepEqual(texts[1], ['b', 'c']); // s2 excepted by Node
    assert.deepEqual(texts[2], ['a', 'c']); // n1 excepted by siogate
    assert.deepEqual(texts[3], []); // n2 in no room
  });

  test('fetchSockets from Node returns siogate sockets (id, rooms, handshake, data)', async () => {
    const c = await connected(sg.url, { auth: { token: 't1' }, query: { q: 'v' } });
    await ask(c, 'join', 'fetch-room');
    await ask(c, 'cluster set data', { user: 'bob' });
    const socks = await node.io.in('fetch-room').fetchSockets();
    assert.equal(socks.length, 1);
    const r = socks[0];
    assert.equal(r.id, c.id);
    assert.deepEqual([...r.rooms].sort(), [c.id, 'fetch-room'].sort());
    assert.deepEqual(r.data, { user: 'bob' });
    assert.equal(r.handshake.query.q, 'v');
    assert.deepEqual(r.handshake.auth, { token: 't1' });
    assert.equal(typeof r.handshake.headers, 'object');
    const all = await node.io.fetchSockets();
    assert.ok(all.some((s) => s.id === c.id));
  });

  test('fetchSockets from siogate returns Node sockets', async () => {
    const c = await connected(sg.url);
    const n = await connected(node.url);
    await ask(n, 'join', 'nf');
    await ask(n, 'set data', { who: 'node' });
    const [res] = await ask(c, 'cluster fetch', { rooms: ['nf'] });
    assert.equal(res.err, null);
    assert.equal(res.result.length, 1);
    assert.equal(res.result[0].id, n.id);
    assert.deepEqual(res.result[0].rooms.sort(), [n.id, 'nf'].sort());
    assert.deepEqual(res.result[0].data, { who: 'node' });
    const [all] = await ask(c, 'cluster fetch', {});
    const ids = all.result.map((s) => s.id);
    assert.ok(ids.includes(c.id) && ids.includes(n.id));
  });

  test('allRooms across the cluster, both ways', async () => {
    const c = await connected(sg.url);
    const n = await connected(node.url);
    await ask(c, 'join', 'sg-only-room');
    await ask(n, 'join', 'node-only-room');
    const [res] = await ask(c, 'cluster rooms');
    assert.equal(res.err, null);
    assert.ok(res.result.includes('sg-only-room') && res.result.includes('node-only-room'));
    const rooms = await node.io.of('/').adapter.allRooms();
    assert.ok(rooms.has('sg-only-room') && rooms.has('node-only-room'));
  });

  test('socketsJoin / socketsLeave / disconnectSockets from Node act on siogate sockets', async () => {
    const c = await connected(sg.url);
    await ask(c, 'join', 'jl');
    node.io.in('jl').socketsJoin('jl-extra');
    const until = async (pred) => {
      for (let i = 0; i < 500; i++) {
        const [rooms] = await ask(c, 'rooms');
        if (pred(rooms)) return rooms;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('room state never reached');
    };
    await until((r) => r.includes('jl-extra'));
    node.io.in('jl').socketsLeave('jl-extra');
    await until((r) => !r.includes('jl-extra'));
    const d = nextDisconnect(c);
    node.io.in('jl').disconnectSockets();
    assert.equal(await d, 'io server disconnect');
  });

  test('disconnectSockets(true) from Node: siogate\'s clients see "io server disconnect", as Node\'s own do', async () => {
    for (const transports of [['polling'], ['websocket']]) {
      const c = await connected(sg.url, { transports });
      const n = await connected(node.url, { transports });
      await ask(c, 'join', 'jk');
      await ask(n, 'join', 'jk');
      const dc = nextDisconnect(c);
      const dn = nextDisconnect(n);
      node.io.in('jk').disconnectSockets(true);
      assert.equal(await dn, 'io server disconnect', `Node client over ${transports}`);
      assert.equal(await dc, 'io server disconnect', `siogate client over ${transports}`);
    }
  });

  test('socketsJoin / socketsLeave / disconnectSockets from siogate act on Node sockets', async () => {
    const c = await connected(sg.url);
    const n = await connected(node.url);
    await ask(n, 'join', 'njl');
    await ask(c, 'cluster op', { rooms: ['njl'], join: 'njl-extra' });
    const sock = node.io.of('/').sockets.get(n.id);
    for (let i = 0; i < 500 && !sock.rooms.has('njl-extra'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(sock.rooms.has('njl-extra'));
    await ask(c, 'cluster op', { rooms: ['njl'], leave: 'njl-extra' });
    for (let i = 0; i < 500 && sock.rooms.has('njl-extra'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(!sock.rooms.has('njl-extra'));
    const d = nextDisconnect(n);
    await ask(c, 'cluster op', { rooms: ['njl'] });
    assert.equal(await d, 'io server disconnect');
  });

  test('serverSideEmit without ack, both ways (siogate answers ping with pong)', async () => {
    const pong = new Promise((resolve) => node.io.once('pong', (...args) => resolve(args)));
    node.io.serverSideEmit('ping', 1, 'two', { three: 3 });
    assert.deepEqual(await pong, [1, 'two', { three: 3 }]);
    const c = await connected(sg.url);
    const got = new Promise((resolve) => node.io.once('sg-event', (...args) => resolve(args)));
    const [r] = await ask(c, 'cluster server emit', { event: 'sg-event' }, 'a', 2);
    assert.equal(r.err, null);
    assert.deepEqual(await got, ['a', 2]);
  });

  test('serverSideEmit with ack, both ways', async () => {
    const replies = await node.io.serverSideEmitWithAck('ping', 'x');
    assert.deepEqual(replies, ['pong']);
    node.io.on('ask-node', (v, cb) => cb({ echoed: v }));
    const c = await connected(sg.url);
    const [r] = await ask(c, 'cluster server emit', { event: 'ask-node', ack: true }, 7);
    assert.equal(r.err, null);
    assert.deepEqual(r.responses, [{ echoed: 7 }]);
  });

  test('broadcast with acks from Node collects siogate clients\' acks', async () => {
    const c1 = await connected(sg.url);
    const c2 = await connected(sg.url);
    const n1 = await connected(node.url);
    for (const [s, v] of [[c1, 'c1'], [c2, 'c2'], [n1, 'n1']]) {
      await ask(s, 'join', 'acks1');
      s.on('question', (a, cb) => cb(v + a));
    }
    const res = await node.io.to('acks1').timeout(5000).emitWithAck('question', '!');
    assert.deepEqual(res.sort(), ['c1!', 'c2!', 'n1!']);
    // no client at all on the siogate side: it still answers with a count of 0
    const none = await node.io.to('nobody-here').timeout(5000).emitWithAck('question', '?');
    assert.deepEqual(none, []);
  });

  test('broadcast with acks from siogate collects Node clients\' acks, binary intact', async () => {
    const c1 = await connected(sg.url);
    const n1 = await connected(node.url);
    const n2 = await connected(node.url);
    for (const [s, v] of [[c1, 'c1'], [n1, 'n1'], [n2, 'n2']]) {
      await ask(s, 'join', 'acks2');
      s.on('request', (x, cb) => cb(v === 'n2' ? Buffer.from([v.length, x]) : v));
    }
    const [r] = await ask(c1, 'cluster emit', { event: 'request', rooms: ['acks2'], ackTimeout: 5000 }, 5);
    assert.equal(r.err, null);
    assert.equal(r.responses.length, 3);
    assert.ok(r.responses.includes('c1') && r.responses.includes('n1'));
    const bin = r.responses.find((x) => typeof x !== 'string');
    assert.deepEqual([...bin], [2, 5]);
  });
});
