'use strict';
// Redis connection options end to end, two siogate nodes per case, each case
// with its own redis-server: password-only AUTH (--requirepass, with a
// percent-encoded password), an ACL user (default user off), a /db number
// (SELECT), and a unix: socket URL. Wrong credentials leave the node
// "connecting" with a clear log line, and never crash it.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, waitFor } = require('./lib/util');
const redis = require('./lib/redis');
const { startCluster, waitReady, until } = require('./lib/cluster');
const { startNodePeer } = require('./node-peer');
const { createClient } = require('redis');

const skip = process.env.SG_REF === '1' && 'siogate cluster events';

/** Two nodes (lib/cluster.js startCluster: url and probeUrl may be functions
 *  of the redis handle), ready. */
function twoNodes(o) {
  return startCluster({ ...o, nodes: 2, settings: { requestsTimeout: 2000 } });
}

/** A broadcast from a client of a reaches a client of b, and fetchSockets
 *  from a sees b's socket (a request and its answer both crossed Redis). */
async function assertCrossNode(a, b) {
  const ca = await connected(a.url);
  const cb = await connected(b.url);
  assert.deepEqual(await ask(ca, 'cluster state'), ['ready']);
  const got = waitFor(cb, 'across');
  await ask(ca, 'cluster emit', { event: 'across' }, 'hello', Buffer.from([1, 2]));
  const [text, bin] = await got;
  assert.equal(text, 'hello');
  assert.deepEqual([...bin], [1, 2]);
  const [f] = await ask(ca, 'cluster fetch', {});
  assert.ok(f.result.some((s) => s.id === cb.id), 'fetchSockets sees the other node');
}

async function clientList(probeUrl) {
  const c = createClient({ url: probeUrl });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.sendCommand(['CLIENT', 'LIST'])).split('\n').filter(Boolean);
  } finally {
    await c.quit().catch(() => {});
  }
}

/** Closes the clients, then stops each server, cluster or redis given, in order. */
async function stopAll(...procs) {
  closeAll();
  for (const p of procs) if (p) await p.stop();
}

describe('redis connection options', { skip }, () => {
  describe('password only (requirepass)', () => {
    const pw = 'p@ss w:rd/1';
    let cluster;
    let rds;
    let a;
    let b;
    let bad;
    before(async () => {
      cluster = await twoNodes({
        redis: { args: ['--requirepass', pw] },
        url: (r) => `redis://:${encodeURIComponent(pw)}@127.0.0.1:${r.port}`,
      });
      ({ redis: rds, nodes: [a, b] } = cluster);
    });
    after(() => stopAll(bad, cluster));

    test('two nodes authenticate and broadcast across', async () => {
      await assertCrossNode(a, b);
    });

    test('a wrong password: the node stays "connecting", says why, and does not crash', async () => {
      bad = await startServer({ settings: { adapter: 'redis', redisUrl: `redis://:nope@127.0.0.1:${rds.port}` } });
      await until(() => /WRONGPASS|invalid password/i.test(bad.logs()), 10000, 'AUTH failure logged');
      const c = await connected(bad.url);
      assert.deepEqual(await ask(c, 'cluster state'), ['connecting']);
      // local broadcasts still work
      const got = waitFor(c, 'local');
      await ask(c, 'cluster emit', { event: 'local' }, 1);
      assert.deepEqual(await got, [1]);
      assert.ok(bad.alive());
    });
  });

  describe('ACL user (default user off)', () => {
    let cluster;
    let rds;
    let a;
    let b;
    let bad;
    let url;
    before(async () => {
      cluster = await twoNodes({
        redis: { args: ['--user', 'default', 'off', '--user', 'alice', 'on', '>al1ce-pw', '~*', '&*', '+@all'] },
        url: (r) => `redis://alice:al1ce-pw@127.0.0.1:${r.port}`,
      });
      ({ redis: rds, url, nodes: [a, b] } = cluster);
    });
    after(() => stopAll(bad, cluster));

    test('two nodes log in as alice and broadcast across', async () => {
      await assertCrossNode(a, b);
      const mine = (await clientList(url)).filter((l) => / user=alice /.test(l));
      assert.ok(mine.length >= 5, `alice connections: ${mine.length}`); // 2 per node + the probe
    });

    test('a password without the user name is refused (default user is off)', async () => {
      bad = await startServer({ settings: { adapter: 'redis', redisUrl: `redis://:al1ce-pw@127.0.0.1:${rds.port}` } });
      await until(() => /WRONGPASS|invalid|disabled/i.test(bad.logs()), 10000, 'AUTH failure logged');
      const c = await connected(bad.url);
      assert.deepEqual(await ask(c, 'cluster state'), ['connecting']);
    });
  });

  describe('database number (SELECT)', () => {
    let cluster;
    let rds;
    let a;
    let b;
    let other;
    before(async () => {
      cluster = await twoNodes({ url: (r) => `${r.url}/3`, probeUrl: (r) => r.url });
      ({ redis: rds, nodes: [a, b] } = cluster);
    });
    after(() => stopAll(other, cluster));

    test('two nodes on /3 broadcast across; their command connections selected db 3', async () => {
      await assertCrossNode(a, b);
      const db3 = (await clientList(rds.url)).filter((l) => / db=3 /.test(l));
      assert.ok(db3.length >= 2, `connections on db 3: ${db3.length}`);
    });

    test('a database Redis does not have: the node is refused, never left on db 0', async () => {
      other = await startServer({ settings: { adapter: 'redis', redisUrl: `${rds.url}/99` } });
      await until(() => /DB index is out of range/.test(other.logs()), 10000, 'SELECT failure logged');
      const c = await connected(other.url);
      assert.deepEqual(await ask(c, 'cluster state'), ['connecting']);
      await other.stop();
      other = null;
    });

    // Redis Pub/Sub ignores database numbers ("publishing on db 10 will be
    // heard by a subscriber on db 1"), so a db number does not separate
    // clusters, for Node's adapter either; a different key prefix does.
    test('a Node adapter on /5 hears them too, as Redis Pub/Sub ignores the db; a different key does not', async () => {
      const node = await startNodePeer({ redisUrl: `${rds.url}/5` });
      try {
        other = await startServer({ settings: { adapter: 'redis', redisUrl: `${rds.url}/3`, redisKey: 'other-app' } });
        await cluster.waitReady({ subscribers: 3 }); // a, b and the Node peer
        await waitReady([other], rds.url, { key: 'other-app' });
        const co = await connected(other.url);
        let leaked = 0;
        co.on('db-test', () => { leaked++; });
        const heard = waitFor(node.io, 'db-sse');
        const ca = await connected(a.url);
        await ask(ca, 'cluster server emit', { event: 'db-sse' }, 'x');
        assert.deepEqual(await heard, ['x']);
        // the other-key node gets nothing; a broadcast on its own key does reach it
        const cb = await connected(b.url);
        const got = waitFor(cb, 'db-test');
        await ask(ca, 'cluster emit', { event: 'db-test' }, 1);
        await got;
        const own = waitFor(co, 'own');
        await ask(co, 'cluster emit', { event: 'own' }, 2);
        await own;
        assert.equal(leaked, 0);
      } finally {
        await node.stop();
      }
    });
  });

  describe('unix socket (mode 700)', () => {
    let rds;
    let first;
    let second;
    before(async () => {
      rds = await redis.startRedis({ unixSocket: true });
    });
    after(() => stopAll(first, second, rds));

    test('two nodes on unix:/path broadcast across', async () => {
      first = await twoNodes({ redis: rds, url: `unix:${rds.socket}` }); // probed on rds.url
      const [a, b] = first.nodes;
      await assertCrossNode(a, b);
      const viaSocket = (await clientList(rds.url)).filter((l) => l.includes(rds.socket));
      assert.equal(viaSocket.length, 4, 'both connections of both nodes use the socket');
    });

    test('unix://:password@/path?db=N: AUTH and SELECT over the socket', async () => {
      await stopAll(first);
      first = null;
      second = await twoNodes({
        redis: { unixSocket: true, args: ['--requirepass', 'sockpw'] },
        url: (r) => `unix://:sockpw@${r.socket}?db=2`,
        probeUrl: (r) => `redis://:sockpw@127.0.0.1:${r.port}`,
      });
      const [a, b] = second.nodes;
      await assertCrossNode(a, b);
      const { probeUrl: probe, redis: rds2 } = second;
      const db2 = (await clientList(probe)).filter((l) => l.includes(rds2.socket) && / db=2 /.test(l));
      assert.ok(db2.length >= 2, `socket connections on db 2: ${db2.length}`);
    });
  });
});
