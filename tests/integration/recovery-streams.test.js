'use strict';
// Connection state recovery with the Redis Streams adapter (--adapter
// streams): sessions live in Redis in @socket.io/redis-streams-adapter's
// format (SET sio:session:<pid> base64(msgpack{sid, pid, rooms, data}) PX
// maxDisconnectionDuration) and the missed packets are read back from the
// stream, so a client recovers on any node: the same siogate node, another
// siogate node, a Node.js socket.io 4.8.4 node with
// @socket.io/redis-streams-adapter 0.3.1 and connectionStateRecovery
// (lib/recovery.js, in this process), and from that Node node back to
// siogate. A node that shuts down saves its clients' sessions for the
// others.
//
// A TCP proxy (lib/tcp-proxy.js) cuts the client's connections and decides
// which node it reaches when it reconnects (no sticky sessions). Every node
// reads the stream before a test starts (siogate's "cluster state" is
// "ready", Redis shows each reader in XREAD and each node subscribed).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { client, connected, closeAll, ask, recorder, waitFor, waitConnect, RawWS, wsUrl, DEFAULT_WAIT_MS } = require('./lib/util');
const { startCluster } = require('./lib/cluster');
const { startProxy } = require('./lib/tcp-proxy');
const {
  DATA, recoveringManager, dropClients, nextConnect, payloads, offsets, until, fetchSocket, startNodeServer,
  untilConnect, cut, observer, recoveringMember, sendWhileAway, redisProbe, waitSessionKey, readSession, RECOVERABLE,
} = require('./lib/recovery');

const skip = process.env.SG_REF === '1' && 'siogate nodes with the Streams adapter (the reference server has none)';
const SETTINGS = { connectionStateRecovery: true };
const STREAM = 'socket.io';
const ID_RE = /^\d+-\d+$/;

/** Stream ids in order: [ms, seq] compared as numbers. */
function idLess(a, b) {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am < bm || (am === bm && as < bs);
}

/** Every offset a client got is the id of a stream entry, ascending. */
async function assertStreamOffsets(r, items) {
  const offs = offsets(items);
  for (const [i, o] of offs.entries()) {
    assert.match(o, ID_RE, `offset ${i}`);
    if (i > 0) assert.ok(idLess(offs[i - 1], o), `offsets ascend: ${offs[i - 1]} < ${o}`);
    assert.equal((await r.xRange(STREAM, o, o)).length, 1, `offset ${o} is a stream entry`);
  }
}

/** Start a streams cluster of `nodes` siogate nodes and, with node: true, a
 *  Node node; resolves once every one of them reads the stream and siogate
 *  counts the Node node (its fetchSockets answers). */
async function streamsCluster({ nodes = 2, node = true, settings = {} } = {}) {
  const cluster = await startCluster({ adapter: 'streams', nodes, settings: { ...SETTINGS, ...settings } });
  let N = null;
  try {
    if (node) {
      N = await startNodeServer({ adapter: 'streams', redisUrl: cluster.redis.url });
      await cluster.waitReady({ peers: [N] });
      const c = await connected(cluster.nodes[0].url);
      const n = await connected(N.url);
      await until(async () => (await fetchSocket(c, n.id)) !== null, DEFAULT_WAIT_MS, 'siogate fetches the Node node\'s sockets');
      await until(async () => (await N.io.of('/').adapter.serverCount()) === nodes + 1, DEFAULT_WAIT_MS, 'Node counts every node');
      c.disconnect();
      n.disconnect();
    }
  } catch (e) {
    if (N) await N.stop().catch(() => {});
    await cluster.stop().catch(() => {});
    throw e;
  }
  return {
    cluster,
    N,
    async stop() {
      closeAll();
      if (N) await N.stop();
      await cluster.stop();
    },
  };
}

describe('connection state recovery, Redis Streams adapter: siogate A, B and a Node node N', { skip }, () => {
  let env;
  let nodes;
  let r;
  const senders = {};
  const witnesses = {};
  before(async () => {
    env = await streamsCluster();
    const [A, B] = env.cluster.nodes;
    nodes = { A, B, N: env.N };
    r = await redisProbe(env.cluster.redis.url);
    for (const [k, n] of Object.entries(nodes)) {
      senders[k] = await connected(n.url);
      // in none of the recovering clients' rooms
      witnesses[k] = recorder(await connected(n.url), 'message');
    }
  });
  after(async () => {
    if (r) await r.quit().catch(() => {});
    if (env) await env.stop();
  });

  let syncs = 0;
  /** A broadcast to everybody from `sender` that the witness on node `to`
   *  receives: by then every entry `sender` wrote before is in the stream
   *  (and read by `to`). Returns what the recovering client gets of it. */
  async function sync(sender, to) {
    const tag = `sync ${++syncs}`;
    sender.emit('broadcast', null, tag);
    await witnesses[to].match((m) => m === tag);
    return [tag];
  }

  for (const [from, to] of [['A', 'A'], ['A', 'B'], ['A', 'N'], ['N', 'A']]) {
    for (const transports of [['websocket'], ['polling']]) {
      const what = { A: 'siogate A', B: 'siogate B', N: 'Node N' };
      test(`${transports[0]}: left ${what[from]}, came back to ${what[to]}: same id, rooms, data, every missed packet once, in order, before new ones`, async () => {
        const proxy = await startProxy(nodes[from].port);
        try {
          const { c, msgs, id } = await recoveringMember(proxy, senders[from === 'A' ? 'B' : 'A'], transports);
          const pid = c._pid; // what the client will send as auth.pid
          assert.equal(typeof pid, 'string');
          await cut(proxy, transports);

          // The node it left saved the session in Redis, in Node's format.
          await waitSessionKey(r, pid);
          const saved = await readSession(r, pid);
          assert.deepEqual({ ...saved.value, rooms: [...saved.value.rooms].sort() },
            { sid: id, pid, rooms: [id, 'r', 'r2'].sort(), data: DATA });
          assert.ok(saved.pttl > 0 && saved.pttl <= 120000, `PX ${saved.pttl}`);

          // Missed: from a siogate node, then from the Node node (binary
          // included: msgpack entries), each batch in the stream before
          // the next.
          const missed = [];
          missed.push(...await sendWhileAway(senders.B, id, 'from siogate'));
          missed.push(await sync(senders.B, to));
          missed.push(...await sendWhileAway(senders.N, id, 'from Node'));
          missed.push(await sync(senders.N, to));

          proxy.setTarget(nodes[to].port);
          const back = nextConnect(c, msgs);
          proxy.restore();
          const rec = await back;
          assert.deepEqual([rec.recovered, rec.id, rec.before], [true, id, 2 + missed.length]);
          assert.equal(await r.exists(`sio:session:${pid}`), 0, 'the session was taken');

          senders.B.emit('broadcast', 'r', 'post');
          await msgs.count(2 + missed.length + 1);
          assert.deepEqual(payloads(msgs.items), [['pre', 1], ['pre', 2], ...missed, ['post']]);
          await assertStreamOffsets(r, msgs.items);
          assert.deepEqual(await ask(c, 'rooms'), [[id, 'r', 'r2'].sort()]);
          // rooms and data as the other nodes see them (fetchSockets)
          const expected = { id, rooms: [id, 'r', 'r2'].sort(), data: DATA };
          for (const k of ['A', 'B', 'N']) assert.deepEqual(await fetchSocket(senders[k], id), expected, `seen from ${k}`);
        } finally {
          dropClients();
          await proxy.close();
        }
      });
    }
  }

  test('one client roams A -> N -> B -> A: recovered at every hop with the same id, pid, rooms and data', async () => {
    const proxy = await startProxy(nodes.A.port);
    const ROOM = 'ünï 🚀 #room';
    try {
      const { c, msgs, id } = await recoveringMember(proxy, senders.B, ['websocket']);
      const pid = c._pid;
      assert.deepEqual(await ask(c, 'join', ROOM), [true]);
      const expected = [['pre', 1], ['pre', 2]];
      const hops = [['A', 'N', 'B'], ['N', 'B', 'A'], ['B', 'A', 'N']]; // from, to, publisher
      for (const [from, to, pub] of hops) {
        await cut(proxy, ['websocket']);
        await waitSessionKey(r, pid);
        const saved = (await readSession(r, pid)).value;
        assert.deepEqual([saved.sid, saved.pid, [...saved.rooms].sort(), saved.data],
          [id, pid, [id, 'r', 'r2', ROOM].sort(), DATA], `saved by ${from}`);
        senders[pub].emit('broadcast', ROOM, `to the room, from ${pub}`);
        expected.push([`to the room, from ${pub}`]);
        expected.push(await sync(senders[pub], to));
        proxy.setTarget(nodes[to].port);
        const back = nextConnect(c, msgs);
        proxy.restore();
        const rec = await back;
        assert.deepEqual([rec.recovered, rec.id, rec.before], [true, id, expected.length], `${from} -> ${to}`);
        assert.deepEqual(payloads(msgs.items), expected, `${from} -> ${to}`);
        assert.equal(c._pid, pid);
      }
      await assertStreamOffsets(r, msgs.items);
      const want = { id, rooms: [id, 'r', 'r2', ROOM].sort(), data: DATA };
      for (const k of ['A', 'B', 'N']) assert.deepEqual(await fetchSocket(senders[k], id), want, `seen from ${k}`);
    } finally {
      dropClients();
      await proxy.close();
    }
  });

  test('socket.emit (not a broadcast) carries the stream entry id as its offset, on siogate and on Node', async () => {
    for (const k of ['A', 'N']) {
      const c = client(`${nodes[k].url}/auth`, { auth: { token: 'secret' }, transports: ['websocket'] });
      const greeted = waitFor(c, 'auth'); // it may come in the same read as the CONNECT
      await waitConnect(c);
      const [greeting, offset] = await greeted;
      assert.deepEqual(greeting, { token: 'secret' });
      await assertStreamOffsets(r, [[offset]]);
      c.disconnect();
    }
  });

  test('two namespaces on one connection, siogate A to siogate B: each gets its own packets back', async () => {
    const proxy = await startProxy(nodes.A.port);
    const customB = await connected(`${nodes.B.url}/custom`);
    try {
      const m = recoveringManager(proxy.url, { transports: ['websocket'] });
      const root = m.socket('/');
      const custom = m.socket('/custom');
      await Promise.all([waitConnect(root), waitConnect(custom)]);
      const ids = { root: root.id, custom: custom.id };
      const rec = { root: recorder(root, 'message'), custom: recorder(custom, 'message') };
      await ask(root, 'join', 'r');
      await ask(custom, 'join', 'r');
      senders.B.emit('broadcast', 'r', 'root', 0);
      customB.emit('broadcast', 'r', 'custom', 0);
      await rec.root.count(1);
      await rec.custom.count(1);
      const pids = { root: root._pid, custom: custom._pid };
      proxy.cut();
      await waitSessionKey(r, pids.root);
      await waitSessionKey(r, pids.custom);
      senders.B.emit('broadcast', 'r', 'root', 1);
      customB.emit('broadcast', 'r', 'custom', 1);
      senders.B.emit('broadcast', null, 'root', 2);
      customB.emit('broadcast', null, 'custom', 2);
      await sync(senders.B, 'B');
      await ask(customB, 'echo', 'barrier');
      // /custom's last entry is in the stream once a later one from the same
      // node is delivered (one connection, entries in order)
      await sync(senders.B, 'B');

      proxy.setTarget(nodes.B.port);
      const back = [nextConnect(root, rec.root), nextConnect(custom, rec.custom)];
      proxy.restore();
      const [r1, r2] = await Promise.all(back);
      assert.deepEqual([r1.recovered, r1.id], [true, ids.root]);
      assert.deepEqual([r2.recovered, r2.id], [true, ids.custom]);
      assert.deepEqual(payloads(rec.root.items).filter((p) => p[0] === 'root'), [['root', 0], ['root', 1], ['root', 2]]);
      assert.deepEqual(payloads(rec.custom.items), [['custom', 0], ['custom', 1], ['custom', 2]]);
    } finally {
      dropClients();
      await proxy.close();
    }
  });

  test('2,500 missed packets (more than one page of the stream): every one, once, in order', async () => {
    const COUNT = 2500;
    const proxy = await startProxy(nodes.A.port);
    try {
      const { c, msgs, id } = await recoveringMember(proxy, senders.B, ['websocket']);
      proxy.cut();
      await waitSessionKey(r, c._pid);
      for (let i = 0; i < COUNT; i++) senders.B.emit('broadcast', 'r', 'many', i);
      const last = await sync(senders.B, 'B');
      proxy.setTarget(nodes.B.port);
      const back = nextConnect(c, msgs);
      proxy.restore();
      const rec = await back;
      assert.deepEqual([rec.recovered, rec.id, rec.before], [true, id, 2 + COUNT + 1]);
      const got = payloads(msgs.items);
      assert.deepEqual(got.slice(2), [...Array.from({ length: COUNT }, (_, i) => ['many', i]), last]);
    } finally {
      dropClients();
      await proxy.close();
    }
  });

  test('garbage auth.pid / auth.offset: a fresh session, the session untouched; then the right ones restore it on another node', async () => {
    // A raw client on A, with an offset, goes.
    const x = new RawWS(wsUrl(nodes.A.url));
    await x.opened();
    x.send('40');
    const hello = JSON.parse((await x.until((m) => m.startsWith('40'))).slice(2));
    senders.B.emit('broadcast', null, 'raw', 1);
    const first = JSON.parse((await x.until((m) => m.startsWith('42'))).slice(2));
    const offset = first[first.length - 1];
    assert.match(offset, ID_RE);
    x.close();
    await waitSessionKey(r, hello.pid);
    senders.B.emit('broadcast', null, 'raw', 2);
    await sync(senders.B, 'B');

    /** CONNECT with auth on node `url`: the sid it gets, and no packet ahead. */
    async function attempt(url, auth) {
      const y = new RawWS(wsUrl(url));
      await y.opened();
      y.send(`40${JSON.stringify(auth)}`);
      const { before: early, connect } = await untilConnect(y);
      const what = JSON.stringify(auth).slice(0, 60);
      assert.deepEqual(early, [], `${what}: no missed packets`);
      assert.ok(connect.startsWith('40{'), `${what}: ${connect}`);
      y.send('41'); // leaves for good: nothing saved
      y.close();
      return JSON.parse(connect.slice(2)).sid;
    }
    // Offsets that are no stream id (Node refuses them before touching the
    // session), and other people's pids, on every node.
    const wrongOffsets = ['', '-', '+', '$', '*', '>', '0', 'abc', '1-2-3', ' 1-0', `${offset} `, `${offset}\r\n`,
      `${offset}x`, 'x'.repeat(64), 'x'.repeat(100000), 12, null, [offset]];
    const wrongPids = ['*', '?', `${hello.pid}*`, hello.pid.slice(0, -1), `${hello.pid}\r\nDEL x`, '', 'x'.repeat(100000), 7, null];
    for (const n of ['A', 'B', 'N']) {
      for (const off of wrongOffsets) assert.notEqual(await attempt(nodes[n].url, { pid: hello.pid, offset: off }), hello.sid);
      for (const pid of wrongPids) assert.notEqual(await attempt(nodes[n].url, { pid, offset }), hello.sid);
      assert.equal(await r.exists(`sio:session:${hello.pid}`), 1, `after the attempts on ${n}, the session is still there`);
    }

    // The right pid and offset, on node B: restored, the missed packet
    // ahead of the CONNECT.
    const z = new RawWS(wsUrl(nodes.B.url));
    await z.opened();
    z.send(`40${JSON.stringify({ pid: hello.pid, offset })}`);
    const { before: missed, connect } = await untilConnect(z);
    assert.deepEqual(JSON.parse(connect.slice(2)), { sid: hello.sid, pid: hello.pid });
    assert.equal(missed.length, 2, JSON.stringify(missed));
    assert.match(missed[0], /^42\["message","raw",2,"\d+-\d+"\]$/);
    z.send('41');
    z.close();
    for (const k of ['A', 'B', 'N']) assert.deepEqual(await ask(senders[k], 'echo', 'alive'), ['alive']);
  });

  test('two connections presenting the same session at once, on siogate and on Node: exactly one gets it', async () => {
    for (const pair of [['A', 'B'], ['B', 'N'], ['A', 'A']]) {
      const x = new RawWS(wsUrl(nodes.A.url));
      await x.opened();
      x.send('40');
      const hello = JSON.parse((await x.until((m) => m.startsWith('40'))).slice(2));
      senders.B.emit('broadcast', null, 'dup');
      const first = JSON.parse((await x.until((m) => m.startsWith('42'))).slice(2));
      x.close();
      await waitSessionKey(r, hello.pid);
      const ys = pair.map((n) => new RawWS(wsUrl(nodes[n].url)));
      await Promise.all(ys.map((y) => y.opened()));
      const auth = JSON.stringify({ pid: hello.pid, offset: first[first.length - 1] });
      for (const y of ys) y.send(`40${auth}`);
      const sids = [];
      for (const y of ys) sids.push(JSON.parse((await untilConnect(y)).connect.slice(2)).sid);
      assert.equal(sids.filter((s) => s === hello.sid).length, 1, `${pair}: ${JSON.stringify(sids)}`);
      for (const y of ys) {
        y.send('41');
        y.close();
      }
    }
  });

  test('a connection that goes while its session is being restored does no harm', async () => {
    for (let i = 0; i < 20; i++) {
      const x = new RawWS(wsUrl(nodes.A.url));
      await x.opened();
      x.send('40');
      const hello = JSON.parse((await x.until((m) => m.startsWith('40'))).slice(2));
      senders.B.emit('broadcast', null, 'gone', i);
      const first = JSON.parse((await x.until((m) => m.startsWith('42'))).slice(2));
      x.close();
      await waitSessionKey(r, hello.pid);
      const y = new RawWS(wsUrl(nodes[i % 2 ? 'A' : 'B'].url));
      await y.opened();
      y.send(`40${JSON.stringify({ pid: hello.pid, offset: first[first.length - 1] })}`);
      y.close(); // at once: the restore is still waiting for Redis
    }
    for (const k of ['A', 'B']) assert.deepEqual(await ask(senders[k], 'echo', 'alive'), ['alive']);
  });
});

describe('connection state recovery, Redis Streams adapter: expiry', { skip }, () => {
  test('a session older than maxDisconnectionDuration is gone from Redis: a fresh session', async () => {
    const env = await streamsCluster({ nodes: 1, node: false, settings: { maxDisconnectionDuration: 1000 } });
    const [A] = env.cluster.nodes;
    const r = await redisProbe(env.cluster.redis.url);
    const proxy = await startProxy(A.port);
    try {
      const sender = await connected(A.url);
      const { c, msgs, id } = await recoveringMember(proxy, sender, ['websocket']);
      const pid = c._pid;
      proxy.cut();
      await waitSessionKey(r, pid);
      const { pttl } = await readSession(r, pid);
      assert.ok(pttl > 0 && pttl <= 1000, `PX ${pttl}`);
      // Redis expires the key: wait for that, not for a time
      await waitSessionKey(r, pid, false);
      sender.emit('broadcast', null, 'missed');
      await ask(sender, 'echo', 'barrier');
      const back = nextConnect(c, msgs);
      proxy.restore();
      const rec = await back;
      assert.equal(rec.recovered, false);
      assert.notEqual(rec.id, id);
      assert.deepEqual(await ask(c, 'rooms'), [[c.id]]);
      sender.emit('broadcast', null, 'post');
      await msgs.match((m) => m === 'post');
      assert.deepEqual(payloads(msgs.items), [['pre', 1], ['pre', 2], ['post']]);
    } finally {
      dropClients();
      await proxy.close();
      await r.quit().catch(() => {});
      await env.stop();
    }
  });
});

describe('connection state recovery, Redis Streams adapter: Redis down', { skip }, () => {
  test('while Redis is down a returning client gets a fresh session at once; once it is back, sessions recover again', async () => {
    const env = await streamsCluster({ nodes: 1, node: false, settings: { redisReconnectMin: 50, redisReconnectMax: 200 } });
    const [A] = env.cluster.nodes;
    const proxy = await startProxy(A.port);
    let r = null;
    try {
      const obs = await observer(A.url);
      const sender = await connected(A.url);
      const first = await recoveringMember(proxy, sender, ['websocket']);
      await env.cluster.redis.kill();
      await until(async () => (await ask(sender, 'cluster state'))[0] !== 'ready', DEFAULT_WAIT_MS, 'siogate sees Redis gone');
      proxy.cut();
      assert.ok(RECOVERABLE.has(await obs.reason(first.id))); // the session cannot be saved
      const back = nextConnect(first.c, first.msgs);
      proxy.restore();
      const fresh = await back;
      assert.equal(fresh.recovered, false);
      assert.notEqual(fresh.id, first.id);
      // local broadcasts still arrive, without offset
      sender.emit('broadcast', null, 'during the outage');
      await first.msgs.match((m) => m === 'during the outage');
      assert.deepEqual(first.msgs.items[first.msgs.items.length - 1], ['during the outage']);

      await env.cluster.redis.start();
      await env.cluster.waitReady();
      r = await redisProbe(env.cluster.redis.url);
      const { c, msgs, id } = await recoveringMember(proxy, sender, ['websocket']);
      proxy.cut();
      await waitSessionKey(r, c._pid);
      sender.emit('broadcast', 'r', 'missed');
      await ask(sender, 'echo', 'barrier');
      await until(async () => (await r.xLen(STREAM)) > 0 && (await r.xRevRange(STREAM, '+', '-', { COUNT: 1 }))[0].message.data.includes('missed'),
        DEFAULT_WAIT_MS, 'the broadcast in the stream');
      const again = nextConnect(c, msgs);
      proxy.restore();
      const rec = await again;
      assert.deepEqual([rec.recovered, rec.id], [true, id]);
      assert.deepEqual(payloads(msgs.items), [['pre', 1], ['pre', 2], ['missed']]);
    } finally {
      dropClients();
      await proxy.close();
      if (r) await r.quit().catch(() => {});
      await env.stop();
    }
  });
});

describe('connection state recovery, Redis Streams adapter: a node that shuts down', { skip }, () => {
  let env;
  let r;
  before(async () => {
    env = await streamsCluster();
    r = await redisProbe(env.cluster.redis.url);
  });
  after(async () => {
    if (r) await r.quit().catch(() => {});
    if (env) await env.stop();
  });

  /** A client of node `from` (through a proxy) while that node shuts down
   *  (stop()); it comes back to node `to`. */
  async function shutdownScenario(from, to, stop) {
    const proxy = await startProxy(from.port);
    try {
      const sender = await connected(to.url);
      const witness = recorder(await connected(to.url), 'message');
      const { c, msgs, id } = await recoveringMember(proxy, sender, ['websocket']);
      const pid = c._pid;
      const disc = waitFor(c, 'disconnect');
      proxy.pause(); // the client's retries fail until we let it through
      await stop(); // "server shutting down": the session is saved first
      const [reason] = await disc;
      assert.notEqual(reason, 'io server disconnect', 'the client reconnects by itself');
      await waitSessionKey(r, pid);
      assert.deepEqual((await readSession(r, pid)).value.sid, id);
      const missed = await sendWhileAway(sender, id, 'while down');
      sender.emit('broadcast', null, 'sync');
      await witness.match((m) => m === 'sync');
      proxy.setTarget(to.port);
      const back = nextConnect(c, msgs);
      proxy.restore();
      const rec = await back;
      assert.deepEqual([rec.recovered, rec.id, rec.before], [true, id, 2 + missed.length + 1]);
      assert.deepEqual(payloads(msgs.items), [['pre', 1], ['pre', 2], ...missed, ['sync']]);
      assert.deepEqual(await ask(c, 'rooms'), [[id, 'r', 'r2'].sort()]);
      assert.deepEqual((await fetchSocket(sender, id)).data, DATA);
    } finally {
      dropClients();
      await proxy.close();
    }
  }

  test('Node N shuts down (io.close()): its client recovers on siogate A', async () => {
    const [A] = env.cluster.nodes;
    await shutdownScenario(env.N, A, () => env.N.stop());
  });

  test('siogate A gets SIGTERM: its client recovers on siogate B', async () => {
    const [A, B] = env.cluster.nodes;
    await shutdownScenario(A, B, () => A.stop()); // SIGTERM; throws unless siogate exits 0
    assert.equal(A.alive(), false);
  });
});
