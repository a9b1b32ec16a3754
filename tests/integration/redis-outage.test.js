'use strict';
// Redis outages longer than one retry period. A refused connect must fail the
// attempt (libuv reports it as a poll error, which hiredis' own libuv adapter
// swallowed: the nodes then stayed "down" forever), and an attempt that never
// gets an answer must be abandoned after redisConnectTimeout and retried.
// Each case: nodes started while Redis is down; Redis lost while the nodes
// are ready; a black-hole port that accepts connections and never answers.
const { test, describe, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const { startServer, HOST } = require('./lib/server');
const { connected, closeAll, ask, recorder } = require('./lib/util');
const redis = require('./lib/redis');
const { waitReady, until } = require('./lib/cluster');

const skip = process.env.SG_REF === '1' && 'siogate cluster events and settings';

// retry periods of 50..200 ms: 2 s of outage is ten or more failed attempts
const BACKOFF = { redisReconnectMin: 50, redisReconnectMax: 200 };
const OUTAGE_MS = 2000;
const READY_BOUND_MS = 15000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const state = async (sock) => (await ask(sock, 'cluster state'))[0];

/** Lines of a node's log at warn level that match re. */
function warnLines(node, re) {
  return node.logs().split('\n').filter((l) => /\swarn\s/.test(l) && re.test(l));
}

/** A broadcast from a client of `from` to room `room` reaches `rec`. */
async function assertBroadcast(from, rec, room, text) {
  from.emit('broadcast', room, text);
  await rec.match((m) => m === text);
}

describe('Redis outage', { skip }, () => {
  const cleanups = [];
  afterEach(async () => {
    closeAll();
    // servers first (they must exit cleanly), then the Redis they used
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  async function node(settings) {
    const n = await startServer({ settings });
    cleanups.push(() => n.stop());
    return n;
  }

  test('nodes started while Redis is down connect once it is up', async (t) => {
    const rds = await redis.startRedis();
    cleanups.push(() => rds.stop());
    await rds.kill();
    const settings = { adapter: 'redis', redisUrl: rds.url, ...BACKOFF };
    const a = await node(settings);
    const b = await node(settings);
    const ca = await connected(a.url);
    const cb = await connected(b.url);
    // The first attempts are refused and reported, not left hanging.
    await until(() => [a, b].every((n) => warnLines(n, /(command|subscriber) connection failed/).length === 2),
      10000, 'first refusals logged');
    await sleep(OUTAGE_MS); // Redis stays down for many retry periods
    assert.equal(await state(ca), 'connecting');
    await rds.start();
    const back = Date.now();
    await until(async () => (await state(ca)) === 'ready' && (await state(cb)) === 'ready',
      READY_BOUND_MS, 'both nodes ready after Redis came back');
    t.diagnostic(`both nodes ready ${Date.now() - back} ms after Redis was back`);
    // one warn line per connection for the whole outage, the retries at debug
    for (const n of [a, b]) {
      assert.equal(warnLines(n, /command connection failed/).length, 1, n.logs());
      assert.equal(warnLines(n, /subscriber connection failed/).length, 1, n.logs());
    }
    await waitReady([a, b], rds.url);
    await ask(cb, 'join', 'outage-a');
    await assertBroadcast(ca, recorder(cb, 'message'), 'outage-a', 'after first connect');
  });

  test('Redis lost while ready, down for many retry periods: both nodes come back', async (t) => {
    const rds = await redis.startRedis();
    cleanups.push(() => rds.stop());
    const settings = { adapter: 'redis', redisUrl: rds.url, ...BACKOFF };
    const a = await node(settings);
    const b = await node(settings);
    await waitReady([a, b], rds.url);
    const ca = await connected(a.url);
    const cb = await connected(b.url);
    const got = recorder(cb, 'message');
    await ask(cb, 'join', 'outage-b');
    await assertBroadcast(ca, got, 'outage-b', 'before');
    await rds.kill();
    await until(async () => (await state(ca)) === 'down' && (await state(cb)) === 'down',
      10000, 'both nodes see Redis down');
    await sleep(OUTAGE_MS);
    assert.equal(await state(ca), 'down');
    assert.equal(await state(cb), 'down');
    await rds.start();
    const back = Date.now();
    await until(async () => (await state(ca)) === 'ready' && (await state(cb)) === 'ready',
      READY_BOUND_MS, 'both nodes ready after Redis came back');
    const elapsed = Date.now() - back;
    t.diagnostic(`reconnect: both nodes ready ${elapsed} ms after Redis was back (retry cap 200 ms)`);
    for (const n of [a, b]) {
      // the loss at warn, once per connection; the failed retries at debug only
      assert.equal(warnLines(n, /command connection lost/).length, 1, n.logs());
      assert.equal(warnLines(n, /subscriber connection lost/).length, 1, n.logs());
      assert.equal(warnLines(n, /connection failed/).length, 0, n.logs());
    }
    await waitReady([a, b], rds.url);
    await assertBroadcast(ca, got, 'outage-b', 'after');
    await assertBroadcast(cb, recorder(ca, 'message'), null, 'b to a');
  });

  test('a port that accepts and never answers: attempts time out and are retried', async () => {
    let accepted = 0;
    const sockets = new Set(); // open, i.e. not closed by siogate yet
    const hole = net.createServer((s) => {
      accepted++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.resume(); // read (and ignore) what siogate sends, so its FIN is seen
    });
    await new Promise((resolve, reject) => {
      hole.once('error', reject);
      hole.listen(0, HOST, resolve);
    });
    cleanups.push(() => new Promise((resolve) => {
      hole.close(() => resolve());
      for (const s of sockets) s.destroy();
    }));
    const url = `redis://${HOST}:${hole.address().port}`;
    const a = await node({ adapter: 'redis', redisUrl: url, redisConnectTimeout: 300 });
    const ca = await connected(a.url);
    // three attempts per connection (command and subscriber)
    await until(() => accepted >= 6, READY_BOUND_MS, '6 connections to the black hole');
    // the server answers its clients meanwhile
    assert.deepEqual(await ask(ca, 'echo', 'still here'), ['still here']);
    assert.equal(await state(ca), 'connecting');
    // abandoned attempts are closed, not leaked: at most one per connection open
    await until(() => sockets.size <= 2, 5000, 'abandoned connections closed by siogate');
    const fds = fs.readdirSync(`/proc/${a.pid}/fd`).length;
    const before = accepted;
    await until(() => accepted >= before + 4, READY_BOUND_MS, 'more attempts');
    assert.ok(fs.readdirSync(`/proc/${a.pid}/fd`).length <= fds + 2, 'no descriptor leak');
    const timeouts = warnLines(a, /connection failed \(not ready within 300 ms\)/);
    assert.equal(timeouts.length, 2, a.logs()); // once per connection, retries at debug
    assert.deepEqual(await ask(ca, 'echo', 'still here'), ['still here']);
  });
});
