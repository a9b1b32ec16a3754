'use strict';
// Old clients in a mixed cluster: a siogate node and a Node.js socket.io 4.8
// server (@socket.io/redis-adapter 8.3), both with allowEIO3, on one private
// redis-server. socket.io-client 2.5 (Engine.IO v3, Socket.IO protocol 4)
// and 4.8 clients on both sides get the same broadcasts, whichever node
// sends them; Node sees siogate's v3 sockets under the ids Node itself would
// give them.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const ioV2 = require('socket.io-client-v2');
const { connected, closeAll, ask, recorder, waitFor } = require('./lib/util');
const { startCluster } = require('./lib/cluster');
const { startNodePeer } = require('./node-peer');

const WAIT_MS = Number(process.env.SG_WAIT_MS || 10000);
const skip = process.env.SG_REF === '1' && 'a siogate node with the Redis adapter (the reference server has none)';

const v2s = new Set();
/** A connected socket.io-client 2.5 socket (no reconnection). */
function connectV2(url, transports) {
  const s = ioV2(url, { forceNew: true, reconnection: false, transports });
  v2s.add(s);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`v2 client (${transports}) did not connect`)), WAIT_MS);
    s.once('connect', () => { clearTimeout(t); resolve(s); });
    s.once('error', (e) => { clearTimeout(t); reject(new Error(`v2 client error ${JSON.stringify(e)}`)); });
  });
}

/** emit with an ack, bounded (the v2 client has no timeout()). */
function askV2(s, event, ...args) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ack for "${event}"`)), WAIT_MS);
    s.emit(event, ...args, (...res) => { clearTimeout(t); resolve(res); });
  });
}

describe('mixed cluster with Engine.IO v3 clients: siogate + Node, allowEIO3', { skip }, () => {
  let cluster;
  let sg;
  let node;
  before(async () => {
    cluster = await startCluster({ nodes: 1, settings: { allowEIO3: 'true' } });
    [sg] = cluster.nodes;
    node = await startNodePeer({ redisUrl: cluster.redis.url, ioOptions: { allowEIO3: true } });
    await cluster.waitReady({ subscribers: 2 });
  });
  after(async () => {
    for (const s of v2s) s.close();
    closeAll();
    if (node) await node.stop();
    if (cluster) await cluster.stop();
  });

  test('a Node broadcast reaches v2 clients on siogate (polling and websocket) and v4 ones, binary intact', async () => {
    const a = await connectV2(sg.url, ['polling']);
    const b = await connectV2(sg.url, ['websocket']);
    const c = await connected(sg.url);
    const got = [a, b, c].map((s) => waitFor(s, 'hello'));
    node.io.emit('hello', 'w\u00e9rld \u{1F600}', Buffer.from([1, 2, 3]), { nested: Buffer.from([255, 0]) });
    for (const [text, buf, obj] of await Promise.all(got)) {
      assert.equal(text, 'w\u00e9rld \u{1F600}');
      assert.deepEqual([...buf], [1, 2, 3]);
      assert.deepEqual([...obj.nested], [255, 0]);
    }
  });

  test('a siogate broadcast reaches v2 clients on Node and on siogate', async () => {
    const onNode = await connectV2(node.url, ['websocket']);
    const onNodePoll = await connectV2(node.url, ['polling']);
    const onSg = await connectV2(sg.url, ['polling', 'websocket']);
    const sender = await connected(sg.url);
    const got = [onNode, onNodePoll, onSg].map((s) => waitFor(s, 'from-sg'));
    await ask(sender, 'cluster emit', { event: 'from-sg' }, 'x', Buffer.from([9, 8, 7]));
    for (const [x, buf] of await Promise.all(got)) {
      assert.equal(x, 'x');
      assert.deepEqual([...buf], [9, 8, 7]);
    }
  });

  test('rooms: v2 and v4 members on both nodes get room broadcasts from either node, others do not', async () => {
    const m = [
      await connectV2(sg.url, ['websocket']),
      await connectV2(sg.url, ['polling']),
      await connected(sg.url),
      await connectV2(node.url, ['websocket']),
    ];
    const outsider = await connectV2(sg.url, ['websocket']);
    for (const s of m.slice(0, 2)) assert.deepEqual(await askV2(s, 'join', 'r3'), [true]);
    await ask(m[2], 'join', 'r3');
    assert.deepEqual(await askV2(m[3], 'join', 'r3'), [true]);
    const rec = [...m, outsider].map((s) => recorder(s, 'room-msg'));
    node.io.to('r3').emit('room-msg', 'from-node');
    await ask(m[2], 'cluster emit', { event: 'room-msg', rooms: ['r3'] }, 'from-sg');
    // a sentinel to everyone, last: per-connection order makes the earlier ones visible
    node.io.emit('room-msg', 'end');
    for (const r of rec) await r.match((t) => t === 'end');
    const texts = rec.map((r) => r.items.map((a) => a[0]).filter((t) => t !== 'end').sort());
    for (let i = 0; i < m.length; i++) assert.deepEqual(texts[i], ['from-node', 'from-sg'], `member ${i}`);
    assert.deepEqual(texts[m.length], []);
  });

  test('Node fetchSockets sees a v3 socket of siogate under its Engine.IO id, and disconnects it', async () => {
    const s = await connectV2(sg.url, ['websocket']);
    assert.equal(s.id, s.io.engine.id); // protocol 4: the id of "/" is the sid
    const all = await node.io.fetchSockets();
    assert.ok(all.some((r) => r.id === s.id), `${s.id} not in ${JSON.stringify(all.map((r) => r.id))}`);
    const gone = waitFor(s, 'disconnect');
    node.io.in(s.id).disconnectSockets(true);
    assert.deepEqual(await gone, ['io server disconnect']);
  });
});
