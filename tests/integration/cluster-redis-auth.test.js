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
const { waitSubscribed, until } = require('./lib/cluster');
const { startNodePeer } = require('./node-peer');
const { createClient } = require('redis');

const skip = process.env.SG_REF === '1' && 'siogate cluster events';

/** Start two nodes on url (plus extra settings) and wait for both subscriptions. */
async function twoNodes(url, probeUrl, extra = {}) {
  const settings = { adapter: 'redis', redisUrl: url, requestsTimeout: 2000, ...extra };
  const a = await startServer({ settings });
  const b = await startServer({ settings });
  await waitSubscribed(probeUrl, 2, extra.redisKey ? { key: extra.redisKey } : {});
  return [a, b];
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

async function stopAll(...procs) {
  closeAll();
  for (const p of procs) if (p) await p.stop();
}

describe('redis connection options', { skip }, () => {
  describe('password only (requirepass)', () => {
    const pw = 'p@ss w:rd/1';
    let rds;
    let a;
    let b;
    let bad;
    let url;
    before(async () => {
      rds = await redis.startRedis({ args: ['--requirepass', pw] });
      url = `redis://:${encodeURIComponent(pw)}@127.0.0.1:${rds.port}`;
      [a, b] = await twoNodes(url, url);
    });
    after(() => stopAll(a, b, bad, rds));

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
    let rds;
    let a;
    let b;
    let bad;
    let url;
    before(async () => {
      rds = await redis.startRedis({
        args: ['--user', 'default', 'off', '--user', 'alice', 'on', '>al1ce-pw', '~*', '&*', '+@all'],
      });
      url = `redis://alice:al1ce-pw@127.0.0.1:${rds.port}`;
      [a, b] = await twoNodes(url, url);
    });
    after(() => stopAll(a, b, bad, rds));

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
    let rds;
    let a;
    let b;
    let other;
    before(async () => {
      rds = await redis.startRedis();
      [a, b] = await twoNodes(`${rds.url}/3`, rds.url);
    });
    after(() => stopAll(a, b, other, rds));

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
        await waitSubscribed(rds.url, 3);
        await waitSubscribed(rds.url, 1, { key: 'other-app' });
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
    let rds2;
    let a;
    let b;
    before(async () => {
      rds = await redis.startRedis({ unixSocket: true });
    });
    after(() => stopAll(a, b, rds, rds2));

    test('two nodes on unix:/path broadcast across', async () => {
      [a, b] = await twoNodes(`unix:${rds.socket}`, rds.url);
      await assertCrossNode(a, b);
      const viaSocket = (await clientList(rds.url)).filter((l) => l.includes(rds.socket));
      assert.equal(viaSocket.length, 4, 'both connections of both nodes use the socket');
    });

    test('unix://:password@/path?db=N: AUTH and SELECT over the socket', async () => {
      await stopAll(a, b);
      a = b = null;
      rds2 = await redis.startRedis({ unixSocket: true, args: ['--requirepass', 'sockpw'] });
      const probe = `redis://:sockpw@127.0.0.1:${rds2.port}`;
      [a, b] = await twoNodes(`unix://:sockpw@${rds2.socket}?db=2`, probe);
      await assertCrossNode(a, b);
      const db2 = (await clientList(probe)).filter((l) => l.includes(rds2.socket) && / db=2 /.test(l));
      assert.ok(db2.length >= 2, `socket connections on db 2: ${db2.length}`);
    });
  });
});
