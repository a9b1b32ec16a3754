'use strict';
// Self-test of the Redis topology fixtures (no siogate involved):
// lib/redis-cluster.js (3 masters + 3 replicas, redis-cli --cluster create)
// and lib/redis-sentinel.js (master, replica, 3 sentinels). A node-redis 4
// cluster client reads and writes keys on every shard and uses sharded
// Pub/Sub; after killMaster + waitFailover a new client works at once and
// the old one once the killed node is back (node-redis re-reads the slots
// only on MOVED). A sentinel failover() moves the master, with and without
// passwords, and a client on the new master works. stop() leaves no process
// and no temp directory behind.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { createClient } = require('redis');
const { startRedisCluster, redisCommand } = require('./lib/redis-cluster');
const { startRedisSentinel } = require('./lib/redis-sentinel');
const { withTimeout } = require('./lib/util');

const WAIT = 30000;

function gone(pid) {
  try { process.kill(pid, 0); return false; } catch (e) { return e.code === 'ESRCH'; }
}

/** Keys (also used as shard channels) owned by each master: { port: key }. */
async function keyPerMaster(cluster, prefix) {
  const out = new Map();
  for (let i = 0; out.size < cluster.masters().length; i++) {
    assert.ok(i < 1000, 'found a key for every master');
    const key = `${prefix}${i}`;
    const { port } = await cluster.ownerOf(key);
    if (!out.has(port)) out.set(port, key);
  }
  return out;
}

/** One sharded message through a fresh subscription on `sub`. */
async function shardedRoundTrip(sub, pub, channel, text) {
  let got;
  const received = new Promise((resolve) => { got = resolve; });
  const listener = (message, ch) => got([message, ch]);
  await sub.sSubscribe(channel, listener);
  try {
    assert.equal(await pub.sPublish(channel, text), 1, `one shard subscriber of ${channel}`);
    assert.deepEqual(await withTimeout(received, WAIT, `sharded message on ${channel}`), [text, channel]);
  } finally {
    await sub.sUnsubscribe(channel, listener);
  }
}

describe('lib/redis-cluster.js', () => {
  let cluster;
  const clients = [];
  const connect = async () => {
    const c = cluster.nodeRedisCluster();
    clients.push(c);
    await c.connect();
    return c;
  };

  before(async () => { cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 }); });
  after(async () => {
    await Promise.allSettled(clients.map((c) => (c.isOpen ? c.disconnect() : null)));
    if (cluster) await cluster.stop();
  });

  test('comes up: 3 masters with 1 replica each, every node agrees', async () => {
    assert.equal(cluster.nodes.length, 6);
    const masters = cluster.masters();
    const replicas = cluster.replicas();
    assert.equal(masters.length, 3);
    assert.equal(replicas.length, 3);
    assert.deepEqual(replicas.map((r) => r.masterPort).sort(), masters.map((m) => m.port).sort());
    for (const n of cluster.nodes) {
      assert.match(n.id, /^[0-9a-f]{40}$/);
      assert.ok(n.pid > 0 && !gone(n.pid));
      const info = await cluster.command(n.port, ['CLUSTER', 'INFO']);
      assert.match(info, /cluster_state:ok/);
      assert.match(info, /cluster_known_nodes:6/);
      assert.match(info, /cluster_size:3/);
    }
    const ports = cluster.nodes.map((n) => n.port);
    assert.equal(cluster.seeds, ports.map((p) => `127.0.0.1:${p}`).join(','));
    assert.equal(cluster.url, `redis+cluster://${ports.slice(0, 3).map((p) => `127.0.0.1:${p}`).join(',')}/`);
  });

  test('node-redis createCluster: SET/GET on every shard, SSUBSCRIBE/SPUBLISH', async () => {
    const c = await connect();
    const sub = await connect();
    const keys = await keyPerMaster(cluster, 'k');
    for (const [port, key] of keys) {
      const { slot } = await cluster.ownerOf(key);
      await c.set(key, `v-${port}`);
      assert.equal(await c.get(key), `v-${port}`);
      // the value lives on the owning master, nowhere else among masters
      assert.equal(await cluster.command(port, ['GET', key]), `v-${port}`);
      assert.equal(await cluster.command(port, ['CLUSTER', 'COUNTKEYSINSLOT', slot]), 1);
    }
    for (const [port, channel] of await keyPerMaster(cluster, 'chan')) {
      const listener = () => {};
      await sub.sSubscribe(channel, listener);
      // the subscription is on the shard that owns the channel's slot
      const [, n] = await cluster.command(port, ['PUBSUB', 'SHARDNUMSUB', channel]);
      await sub.sUnsubscribe(channel, listener);
      assert.equal(n, 1, `SSUBSCRIBE ${channel} reached its shard ${port}`);
      await shardedRoundTrip(sub, c, channel, `hello ${port}`);
    }
  });

  test('killMaster + waitFailover promote the replica; clients work again', async (t) => {
    const old = await connect();
    const keys = await keyPerMaster(cluster, 'f');
    const victim = cluster.masters()[0];
    const heir = cluster.replicas().find((r) => r.masterPort === victim.port);
    const key = keys.get(victim.port);
    await old.set(key, 'survives');
    // replication is asynchronous: make sure the replica has it before the kill
    assert.ok(await old.sendCommand(key, false, ['WAIT', '1', String(WAIT)]) >= 1);

    await cluster.killMaster(victim.port);
    assert.ok(gone(victim.pid), 'the master process is gone');
    assert.ok(cluster.nodes.filter((n) => n.port !== victim.port).every((n) => !gone(n.pid)), 'only that one');
    const { port, ms } = await cluster.waitFailover(victim.port);
    t.diagnostic(`cluster failover: ${victim.port} -> ${port} in ${ms} ms`);
    assert.equal(port, heir.port);
    assert.equal((await cluster.ownerOf(key)).port, port);
    assert.equal(cluster.masters().length, 3);
    assert.equal(cluster.replicas().length, 2);

    // a new client finds the new topology at once
    const fresh = await connect();
    assert.equal(await fresh.get(key), 'survives');
    for (const k of keys.values()) {
      await fresh.set(k, 'after');
      assert.equal(await fresh.get(k), 'after');
    }
    const pub = await connect();
    await shardedRoundTrip(fresh, pub, key, 'after failover');

    // the old client: once the killed node is back (as a replica) it answers
    // MOVED and node-redis re-reads the slots
    const back = await cluster.restartNode(victim.port);
    assert.equal(back.role, 'replica');
    assert.equal(back.masterPort, port);
    assert.ok(back.alive && !gone(back.pid));
    assert.equal(await withTimeout(old.get(key), WAIT, 'old client GET'), 'after');
    await old.set(key, 'old client again');
    assert.equal(await fresh.get(key), 'old client again');
  });

  test('stop() kills exactly its processes and removes the temp dir', async () => {
    await Promise.allSettled(clients.map((c) => (c.isOpen ? c.disconnect() : null)));
    const pids = cluster.nodes.map((n) => n.pid);
    await cluster.stop();
    for (const pid of pids) assert.ok(gone(pid), `pid ${pid} is gone`);
    assert.equal(fs.existsSync(cluster.dir), false);
    await cluster.stop(); // idempotent
  });
});

for (const variant of [
  { label: 'no passwords', opts: {} },
  { label: 'password + sentinelPassword', opts: { password: 'data "pw"', sentinelPassword: 'sentinel:pw' } },
]) {
  describe(`lib/redis-sentinel.js (${variant.label})`, () => {
    let s;
    const clients = [];
    const dataClient = async (port) => {
      const c = createClient({ socket: { host: '127.0.0.1', port }, password: s.password || undefined });
      c.on('error', () => {});
      clients.push(c);
      await c.connect();
      return c;
    };

    before(async () => { s = await startRedisSentinel({ name: 'mymaster', ...variant.opts }); });
    after(async () => {
      await Promise.allSettled(clients.map((c) => (c.isOpen ? c.disconnect() : null)));
      if (s) await s.stop();
    });

    test('comes up: every sentinel knows the master, the replica and the others', async () => {
      assert.equal(s.sentinels.length, 3);
      assert.equal((await s.currentMaster()).port, s.master.port);
      const auth = variant.opts.sentinelPassword ? `:${encodeURIComponent(variant.opts.sentinelPassword)}@` : '';
      assert.equal(s.url, `redis+sentinel://${auth}${s.sentinels.map((x) => `127.0.0.1:${x.port}`).join(',')}/mymaster`);
      for (const x of s.sentinels) {
        const [host, port] = await s.sentinelCommand(x.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster']);
        assert.deepEqual([host, Number(port)], ['127.0.0.1', s.master.port]);
        assert.equal((await s.sentinelCommand(x.port, ['SENTINEL', 'SENTINELS', 'mymaster'])).length, 2);
        assert.equal((await s.sentinelCommand(x.port, ['SENTINEL', 'REPLICAS', 'mymaster'])).length, 1);
      }
      // without credentials: refused
      if (variant.opts.password) await assert.rejects(redisCommand(s.master.port, ['GET', 'x']), /NOAUTH/);
      if (variant.opts.sentinelPassword) {
        await assert.rejects(redisCommand(s.sentinels[0].port, ['SENTINEL', 'MASTERS']), /NOAUTH/);
      }
    });

    test('failover() switches the master; a client on the new master works', async (t) => {
      const oldMaster = s.master.port;
      const oldReplica = s.replica.port;
      const before = await dataClient(oldMaster);
      await before.set('k', 'before');
      assert.ok(await before.sendCommand(['WAIT', '1', String(WAIT)]) >= 1);

      const { port, ms } = await s.failover();
      t.diagnostic(`sentinel failover (${variant.label}): ${oldMaster} -> ${port} in ${ms} ms`);
      assert.equal(port, oldReplica);
      assert.equal(s.master.port, port);
      assert.equal(s.replica.port, oldMaster);
      assert.equal((await s.currentMaster()).port, port);

      const c = await dataClient(port);
      assert.match(await c.info('replication'), /role:master/);
      assert.equal(await c.get('k'), 'before');
      await c.set('k', 'after');
      assert.equal(await c.get('k'), 'after');
    });

    test('stop() kills exactly its processes and removes the temp dir', async () => {
      await Promise.allSettled(clients.map((c) => (c.isOpen ? c.disconnect() : null)));
      const pids = [...s.dataNodes, ...s.sentinels].map((x) => x.pid);
      assert.equal(pids.length, 5);
      await s.stop();
      for (const pid of pids) assert.ok(gone(pid), `pid ${pid} is gone`);
      assert.equal(fs.existsSync(s.dir), false);
    });
  });
}
