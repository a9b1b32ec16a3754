'use strict';
// streamCount = 4 (@socket.io/redis-streams-adapter 0.3.1): namespaces are
// spread over the streams socket.io-0 .. socket.io-3 by Node's string hash.
// Two siogate nodes and a Node peer with the same setting, clients on every
// side, in namespaces on different streams (`/custom` -> socket.io-0, `/` and
// `/chat` -> socket.io-3) and in `/orders-europe-west`, whose hash is
// negative: Node writes it to socket.io--3, a stream no Node reader polls.
// siogate reads that stream and writes its own entries there and, as a
// mirror copy, to socket.io-3, where Node reads; so siogate <-> Node works
// in both directions on that namespace, and siogate <-> siogate gets each
// message once (the mirror copy is ignored by siogate). Two namespaces with
// non-ASCII names check siogate's copy of the hash (UTF-16 code units, a
// surrogate pair): `/🚀` -> socket.io-2 and `/ünïcödé` -> socket.io--2.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
const { connected, closeAll, ask, recorder, nextDisconnect, manager, waitConnect, DEFAULT_WAIT_MS } = require('./lib/util');
const { startCluster, streamOf, until } = require('./lib/cluster');
const { startNodePeer } = require('./node-peer');

const skip = process.env.SG_REF === '1' && 'siogate nodes with the Streams adapter (the reference server has none)';

const NEG = '/orders-europe-west';
const NSPS = ['/', '/custom', '/chat', NEG, '/🚀', '/ünïcödé'];

/** A client of namespace nsp (through a Manager: the name stays as is). */
async function nspClient(url, nsp) {
  const s = manager(url).socket(nsp);
  s.connect();
  return waitConnect(s);
}

describe('streamCount 4: siogate nodes and a Node 0.3.1 peer', { skip }, () => {
  let cluster;
  let a;
  let b;
  let node;
  let rc;
  before(async () => {
    assert.equal(streamOf(NEG, { streamCount: 4 }), 'socket.io--3'); // the premise
    cluster = await startCluster({
      adapter: 'streams',
      nodes: 2,
      nsps: NSPS,
      settings: { streamCount: 4, namespaces: NSPS.slice(2).join(',') },
    });
    [a, b] = cluster.nodes;
    node = await startNodePeer({
      redisUrl: cluster.redis.url, adapter: 'streams', streams: { streamCount: 4 }, namespaces: NSPS.slice(1),
    });
    // siogate: 4 readers + socket.io--3 and --2 each; Node: 4; 3 subscribers per namespace
    await cluster.waitReady({ peers: [node] });
    rc = createClient({ url: cluster.redis.url });
    await rc.connect();
  });
  after(async () => {
    closeAll();
    if (rc) await rc.quit();
    if (node) await node.stop();
    if (cluster) await cluster.stop();
  });

  /** Once b's reader of the mirror stream has passed the copies of what a
   *  wrote in nsp (b must ignore them), so a copy read twice would show: the
   *  copy of the last entry is there, then Node writes an entry behind it
   *  in another namespace on that stream and b's client gets it. */
  async function mirrorBarrier(nsp) {
    const mirror = streamOf(nsp, { streamCount: 4 }).replace('--', '-');
    await until(async () => (await rc.xRange(mirror, '-', '+')).some((e) => e.message.nsp === nsp
      && /"end-sg"/.test(e.message.data)), DEFAULT_WAIT_MS, `mirror copy of end-sg written to ${mirror}`);
    // a namespace of Node's on the mirror stream: '/' on socket.io-3, '/🚀' on socket.io-2
    const other = NSPS.find((n) => streamOf(n, { streamCount: 4 }) === mirror);
    const cb = await nspClient(b.url, other);
    const got = recorder(cb, 'barrier');
    node.io.of(other).emit('barrier', 1);
    await got.count(1);
  }

  for (const nsp of NSPS) {
    test(`${nsp} (stream ${streamOf(nsp, { streamCount: 4 })}): broadcasts siogate <-> Node and siogate <-> siogate, once each`, async () => {
      const ca = await nspClient(a.url, nsp);
      const cb = await nspClient(b.url, nsp);
      const cn = await nspClient(node.url, nsp);
      const recs = [ca, cb, cn].map((c) => recorder(c, 'm'));
      await ask(ca, 'cluster emit', { event: 'm' }, 'sg', Buffer.from([1, 2]));
      await ask(ca, 'cluster emit', { event: 'm' }, 'end-sg');
      node.io.of(nsp).emit('m', 'node', Buffer.from([3]));
      node.io.of(nsp).emit('m', 'end-node');
      for (const r of recs) for (const end of ['end-sg', 'end-node']) await r.match((m) => m === end);
      if (streamOf(nsp, { streamCount: 4 }).includes('--')) await mirrorBarrier(nsp);
      for (const [i, r] of recs.entries()) {
        const got = r.items.map(([m, bin]) => (bin ? `${m}:${[...bin]}` : m)).sort();
        assert.deepEqual(got, ['end-node', 'end-sg', 'node:3', 'sg:1,2'], `client ${'abn'[i]} in ${nsp}`);
      }
    });
  }

  test(`${NEG}: socketsJoin and disconnectSockets (in the stream) both ways`, async () => {
    const ca = await connected(`${a.url}${NEG}`);
    const cn = await connected(`${node.url}${NEG}`);
    const nsock = node.io.of(NEG).sockets.get(cn.id);
    await ask(ca, 'cluster op', { join: 'from-sg' });
    await until(() => nsock.rooms.has('from-sg'), DEFAULT_WAIT_MS, 'Node socket joined by siogate');
    node.io.of(NEG).socketsJoin('from-node');
    await until(async () => (await ask(ca, 'rooms'))[0].includes('from-node'), DEFAULT_WAIT_MS, 'siogate socket joined by Node');
    const dn = nextDisconnect(cn);
    await ask(ca, 'cluster op', { rooms: [cn.id] });
    assert.equal(await dn, 'io server disconnect');
    const da = nextDisconnect(ca);
    node.io.of(NEG).in(ca.id).disconnectSockets();
    assert.equal(await da, 'io server disconnect');
  });

  test(`${NEG}: fetchSockets and broadcasts with acks (Pub/Sub) both ways`, async () => {
    const ca = await connected(`${a.url}${NEG}`);
    const cn = await connected(`${node.url}${NEG}`);
    await ask(ca, 'join', 'neg');
    await ask(cn, 'join', 'neg');
    const [f] = await ask(ca, 'cluster fetch', { rooms: ['neg'] });
    assert.equal(f.err, null);
    assert.deepEqual(f.result.map((s) => s.id).sort(), [ca.id, cn.id].sort());
    assert.deepEqual((await node.io.of(NEG).in('neg').fetchSockets()).map((s) => s.id).sort(), [ca.id, cn.id].sort());
    ca.on('q', (cb) => cb('a'));
    cn.on('q', (cb) => cb('n'));
    const [r] = await ask(ca, 'cluster emit', { event: 'q', rooms: ['neg'], ackTimeout: DEFAULT_WAIT_MS });
    assert.deepEqual({ ...r, responses: r.responses.sort() }, { err: null, responses: ['a', 'n'] });
    assert.deepEqual((await node.io.of(NEG).to('neg').timeout(DEFAULT_WAIT_MS).emitWithAck('q')).sort(), ['a', 'n']);
  });

  test('each namespace\'s entries are in Node\'s stream; siogate mirrors the negative one to socket.io-3', async () => {
    const ca = await connected(`${a.url}${NEG}`);
    const cc = await connected(`${a.url}/custom`);
    const nodeUid = node.io.of(NEG).adapter.uid;
    await ask(ca, 'cluster emit', { event: 'probe' }, 'sg-neg');
    await ask(cc, 'cluster emit', { event: 'probe' }, 'sg-custom');
    const rn = recorder(ca, 'probe');
    node.io.of(NEG).emit('probe', 'node-neg');
    await rn.match((m) => m === 'node-neg'); // read by siogate, so written
    const entries = async (stream) => (await rc.xRange(stream, '-', '+'))
      .filter((e) => e.message.type === '3' && /"probe"/.test(e.message.data))
      .map((e) => `${e.message.nsp} ${e.message.uid === nodeUid ? 'node' : 'sg'} ${JSON.parse(e.message.data).packet.data[1]}`);
    await until(async () => (await entries('socket.io-3')).length === 1, DEFAULT_WAIT_MS, 'mirror written');
    assert.deepEqual((await entries('socket.io--3')).sort(), [`${NEG} node node-neg`, `${NEG} sg sg-neg`]);
    assert.deepEqual(await entries('socket.io-3'), [`${NEG} sg sg-neg`]); // the mirror copy only
    assert.deepEqual(await entries('socket.io-0'), ['/custom sg sg-custom']);
    assert.deepEqual(await entries('socket.io-1'), []);
    assert.deepEqual(await entries('socket.io-2'), []);
  });
});
