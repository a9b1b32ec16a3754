'use strict';
// The legacy (socket.io-redis 5.x) names of the cluster API between two
// siogate nodes on one private redis-server: remoteJoin / remoteLeave /
// remoteDisconnect of a socket held by the other node, clientRooms of a
// remote socket, customRequest answered by the other node's customHook (and
// by a Node peer listening on the reserved server-side event).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { connected, closeAll, ask, nextDisconnect } = require('./lib/util');
const { startCluster, until } = require('./lib/cluster');
const { startNodePeer } = require('./node-peer');

const skip = process.env.SG_REF === '1' && 'siogate-only API (the reference server has no legacy events)';

describe('legacy cluster API between two siogate nodes', { skip }, () => {
  let cluster;
  let rds;
  let a;
  let b;
  before(async () => {
    cluster = await startCluster({ nodes: 2, settings: { requestsTimeout: 1500 } });
    ({ redis: rds, nodes: [a, b] } = cluster);
  });
  after(async () => {
    closeAll();
    if (cluster) await cluster.stop();
  });

  const roomsOf = async (s) => (await ask(s, 'rooms'))[0];

  test('remoteJoin / remoteLeave of a socket on the other node', async () => {
    const ca = await connected(a.url);
    const cb = await connected(b.url);
    assert.deepEqual(await ask(ca, 'legacy remote', { op: 'join', id: cb.id, room: 'lj' }), [{ err: null }]);
    await until(async () => (await roomsOf(cb)).includes('lj'), 10000, 'remote join applied');
    // only the targeted socket joined
    assert.ok(!(await roomsOf(ca)).includes('lj'));
    assert.deepEqual(await ask(ca, 'legacy remote', { op: 'leave', id: cb.id, room: 'lj' }), [{ err: null }]);
    await until(async () => !(await roomsOf(cb)).includes('lj'), 10000, 'remote leave applied');
  });

  test('remoteJoin of a local socket applies at once', async () => {
    const ca = await connected(a.url);
    assert.deepEqual(await ask(ca, 'legacy remote', { op: 'join', id: ca.id, room: 'lloc' }), [{ err: null }]);
    assert.ok((await roomsOf(ca)).includes('lloc'));
  });

  test('clientRooms of a remote socket, of a local one, and of nobody', async () => {
    const ca = await connected(a.url);
    const cb = await connected(b.url);
    await ask(cb, 'join', 'cr1');
    await ask(cb, 'join', 'cr2');
    const [r] = await ask(ca, 'legacy client rooms', cb.id);
    assert.equal(r.err, null);
    assert.deepEqual(r.result, [cb.id, 'cr1', 'cr2']);
    const [l] = await ask(ca, 'legacy client rooms', ca.id);
    assert.deepEqual(l.result, [ca.id]);
    const [n] = await ask(ca, 'legacy client rooms', 'no-such-socket-id00');
    assert.equal(n.err, 'not found');
    assert.equal(n.result, null);
  });

  test('remoteDisconnect of a socket on the other node (with and without close)', async () => {
    const ca = await connected(a.url);
    const cb = await connected(b.url);
    let d = nextDisconnect(cb);
    assert.deepEqual(await ask(ca, 'legacy remote', { op: 'disconnect', id: cb.id }), [{ err: null }]);
    assert.equal(await d, 'io server disconnect');
    const cb2 = await connected(b.url);
    d = nextDisconnect(cb2);
    await ask(ca, 'legacy remote', { op: 'disconnect', id: cb2.id, close: true });
    assert.equal(await d, 'io server disconnect'); /* DISCONNECT first, as Node */
    assert.ok(ca.connected);
  });

  test('customRequest is answered by the other node\'s customHook', async () => {
    const ca = await connected(a.url);
    await connected(b.url);
    const [r] = await ask(ca, 'legacy custom request', { q: 1 });
    assert.equal(r.err, null);
    assert.equal(r.responses.length, 1);
    assert.equal(r.responses[0].port, b.port);
    assert.deepEqual(r.responses[0].data, { q: 1 });
    assert.ok(r.responses[0].sockets >= 1);
    const [bin] = await ask(ca, 'legacy custom request', Buffer.from([1, 2, 3]));
    // serverSideEmit requests are JSON: a Buffer arrives as Node's toJSON form
    assert.deepEqual(bin.responses[0].data, { type: 'Buffer', data: [1, 2, 3] });
  });

  test('customRequest reaches a Node peer listening on the reserved event, and times out without one', async () => {
    const node = await startNodePeer({ redisUrl: rds.url, requestsTimeout: 1500 });
    try {
      await cluster.waitReady({ subscribers: 3 }); // the two nodes and the Node peer
      const ca = await connected(a.url);
      // a Node peer without the listener never answers: partial answers after requestsTimeout
      const [t] = await ask(ca, 'legacy custom request', 'x');
      assert.equal(t.err, 'timed out');
      assert.deepEqual(t.responses.map((x) => x.port), [b.port]);
      node.io.on('siogate:custom', (data, cb) => cb({ node: true, data }));
      const [r] = await ask(ca, 'legacy custom request', 'y');
      assert.equal(r.err, null);
      const fromNode = r.responses.find((x) => x.node);
      assert.deepEqual(fromNode, { node: true, data: 'y' });
      assert.equal(r.responses.length, 2);
    } finally {
      await node.stop();
    }
    await cluster.waitReady();
  });
});
