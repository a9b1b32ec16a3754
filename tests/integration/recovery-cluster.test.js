'use strict';
// Connection state recovery with the classic Redis adapter (--adapter
// redis): two siogate nodes on a private redis-server. Each node keeps its
// sessions and the packets a session may miss in its own memory (as Node's
// @socket.io/redis-adapter does), so a client recovers when it comes back to
// the node it left, with what both nodes sent meanwhile, and gets a fresh
// session on the other node, by design.
//
// A TCP proxy (lib/tcp-proxy.js) cuts the client's connections and decides
// which node it reaches when it reconnects (no sticky sessions).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { connected, closeAll, ask, recorder } = require('./lib/util');
const { startCluster } = require('./lib/cluster');
const { startProxy } = require('./lib/tcp-proxy');
const {
  RECOVERABLE, dropClients, nextConnect, payloads, offsets, fetchSocket, observer, cut, recoveringMember, sendWhileAway, DATA,
} = require('./lib/recovery');

const skip = process.env.SG_REF === '1' && 'siogate nodes with the Redis adapter (the reference server has none)';

describe('connection state recovery, classic Redis adapter, two siogate nodes', { skip }, () => {
  let cluster;
  let A;
  let B;
  let obsA;
  let senderA;
  let senderB;
  let witnessA;
  before(async () => {
    cluster = await startCluster({ nodes: 2, settings: { connectionStateRecovery: true } });
    [A, B] = cluster.nodes;
    obsA = await observer(A.url);
    senderA = await connected(A.url);
    senderB = await connected(B.url);
    // On A, in none of the rooms the recovering client is in: while the
    // client is away, A hosts nobody in them.
    witnessA = recorder(await connected(A.url), 'message');
  });
  after(async () => {
    closeAll();
    if (cluster) await cluster.stop();
  });

  for (const transports of [['websocket'], ['polling']]) {
    test(`${transports[0]}: back on the same node, the client recovers with what both nodes sent while it was away`, async () => {
      const proxy = await startProxy(A.port);
      try {
        // its first packets come from node B, through Redis
        const { c, msgs, id } = await recoveringMember(proxy, senderB, transports);
        await cut(proxy, transports);
        assert.ok(RECOVERABLE.has(await obsA.reason(id)));

        // From node B, for rooms node A no longer hosts. The last one, to
        // everybody, reaches A's witness after everything before it.
        const fromB = await sendWhileAway(senderB, id, 'from B');
        senderB.emit('broadcast', null, `sync ${transports[0]}`);
        await witnessA.match((m) => m === `sync ${transports[0]}`);
        // and from node A itself
        const fromA = await sendWhileAway(senderA, id, 'from A');
        const missed = [...fromB, [`sync ${transports[0]}`], ...fromA];

        const back = nextConnect(c, msgs);
        proxy.restore();
        const r = await back;
        assert.deepEqual([r.recovered, r.id, r.before], [true, id, 2 + missed.length]);
        senderB.emit('broadcast', 'r', 'post');
        await msgs.count(2 + missed.length + 1);
        assert.deepEqual(payloads(msgs.items), [['pre', 1], ['pre', 2], ...missed, ['post']]);
        const offs = offsets(msgs.items);
        assert.equal(new Set(offs).size, offs.length, JSON.stringify(offs));
        assert.deepEqual(await ask(c, 'rooms'), [[id, 'r', 'r2'].sort()]);
        // rooms and data as the other node sees them (fetchSockets via B)
        assert.deepEqual(await fetchSocket(senderB, id), { id, rooms: [id, 'r', 'r2'].sort(), data: DATA });
      } finally {
        dropClients();
        await proxy.close();
      }
    });
  }

  test('back on the other node: a fresh session (the session stayed in the first node\'s memory)', async () => {
    const proxy = await startProxy(A.port);
    try {
      const { c, msgs, id } = await recoveringMember(proxy, senderB, ['websocket']);
      proxy.cut();
      assert.ok(RECOVERABLE.has(await obsA.reason(id)));
      senderA.emit('broadcast', null, 'missed');
      await ask(senderA, 'echo', 'barrier');
      proxy.setTarget(B.port);
      const back = nextConnect(c, msgs);
      proxy.restore();
      const r = await back;
      assert.equal(r.recovered, false);
      assert.notEqual(r.id, id);
      const [hs] = await ask(c, 'handshake');
      assert.equal(typeof hs.auth.pid, 'string', 'the client asked for its session');
      assert.equal(typeof hs.auth.offset, 'string');
      assert.deepEqual(await ask(c, 'rooms'), [[c.id]]);
      assert.deepEqual(await fetchSocket(senderA, c.id), { id: c.id, rooms: [c.id], data: {} });
      assert.equal(await fetchSocket(senderA, id), null, 'the old socket is nowhere');
      senderA.emit('broadcast', null, 'post');
      await msgs.match((m) => m === 'post');
      assert.deepEqual(payloads(msgs.items), [['pre', 1], ['pre', 2], ['post']]);
    } finally {
      dropClients();
      await proxy.close();
    }
  });
});
