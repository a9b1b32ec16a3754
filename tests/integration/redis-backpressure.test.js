'use strict';
// A Redis that is alive but does not read (SIGSTOP) while a client floods
// broadcasts: what siogate holds for Redis is bounded by redisOutputLimit.
// Past it publishes are dropped with one warning for the whole episode (and
// one when it ends), the node keeps serving its clients, and once Redis reads
// again cross-node broadcasts work at once.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { connected, closeAll, ask, recorder } = require('./lib/util');
const { startCluster, until } = require('./lib/cluster');
const { createClient } = require('redis');

const skip = process.env.SG_REF === '1' && 'siogate settings and log lines';

const LIMIT = '1mb';
const FLOOD_COUNT = 4000;
const FLOOD_SIZE = 10 * 1024; // 40 MB in all, forty times the limit
const GROWTH_BOUND = 16 * 1024 * 1024; // before the fix: the whole flood
// In a sanitizer build freed blocks wait in ASan's quarantine (256 MB by
// default), so RSS would count the flood's freed buffers: keep it small for
// this file's servers (ignored by a plain build).
process.env.ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=4'].filter(Boolean).join(':');
const DROP_RE = /output to Redis over redisOutputLimit \(\d+ bytes pending\): dropping publishes until Redis catches up/;
const END_RE = /output to Redis back under redisOutputLimit after \d+ ms; (\d+) publishes and commands dropped/;

function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

/** The redis-server's pid, as it reports it itself (lib/redis.js keeps its
 *  child private); checked to be a redis-server before we signal it. */
async function redisPid(url) {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  try {
    const pid = Number(/process_id:(\d+)/.exec(await c.info('server'))[1]);
    assert.match(fs.readFileSync(`/proc/${pid}/comm`, 'utf8'), /redis-server/);
    return pid;
  } finally {
    await c.quit().catch(() => {});
  }
}

function lines(node, re) {
  return node.logs().split('\n').filter((l) => re.test(l));
}

describe('Redis that stops reading', { skip }, () => {
  let cluster;
  let a;
  let b;
  let pid = 0;
  let paused = false;
  const resume = () => {
    if (paused) {
      paused = false;
      try { process.kill(pid, 'SIGCONT'); } catch {}
    }
  };
  // never leave a stopped redis-server behind, whatever happens
  process.on('exit', resume);

  before(async () => {
    cluster = await startCluster({ nodes: 2, settings: { redisOutputLimit: LIMIT } });
    [a, b] = cluster.nodes;
    pid = await redisPid(cluster.redis.url);
  });
  after(async () => {
    resume();
    closeAll();
    if (cluster) await cluster.stop();
  });

  test('a broadcast flood is bounded by redisOutputLimit, and traffic resumes', async (t) => {
    const ca = await connected(a.url, { transports: ['websocket'] });
    const cb = await connected(b.url, { transports: ['websocket'] });
    const got = recorder(cb, 'message');
    assert.deepEqual(await ask(cb, 'join', 'bp'), [true]);
    // warm up the publish path with Redis reading, and prove the route works
    const warm = 'w'.repeat(FLOOD_SIZE);
    for (let i = 0; i < 50; i++) ca.emit('broadcast', 'bp', warm);
    ca.emit('broadcast', 'bp', 'warm done');
    await got.match((m) => m === 'warm done');
    const rss0 = rssBytes(a.pid);

    process.kill(pid, 'SIGSTOP');
    paused = true;
    try {
      const payload = 'x'.repeat(FLOOD_SIZE);
      for (let i = 0; i < FLOOD_COUNT; i++) ca.emit('broadcast', 'bp', payload);
      // Events of one socket are handled in order: this ack means the node
      // has handled the whole flood, and still answers its clients.
      assert.deepEqual(await ask(ca, 'echo', 'alive'), ['alive']);
      const grew = rssBytes(a.pid) - rss0;
      t.diagnostic(`node A RSS grew by ${(grew / 1048576).toFixed(1)} MB during a `
        + `${(FLOOD_COUNT * FLOOD_SIZE / 1048576).toFixed(0)} MB flood with Redis stopped`);
      assert.ok(grew < GROWTH_BOUND, `RSS grew by ${grew} bytes`);
      assert.equal(lines(a, DROP_RE).length, 1, a.logs());
      assert.equal(lines(a, END_RE).length, 0, a.logs());
      // a client of the other node is served too
      assert.deepEqual(await ask(cb, 'echo', 'b alive'), ['b alive']);
    } finally {
      resume();
    }

    await until(() => lines(a, END_RE).length === 1, 15000, 'end of the episode logged');
    const dropped = Number(END_RE.exec(lines(a, END_RE)[0])[1]);
    t.diagnostic(`${dropped} publishes dropped`);
    assert.ok(dropped > FLOOD_COUNT / 2, `dropped ${dropped}`);
    assert.equal(lines(a, DROP_RE).length, 1, a.logs());
    ca.emit('broadcast', 'bp', 'after the pause');
    await got.match((m) => m === 'after the pause', 15000);
    assert.deepEqual(await ask(ca, 'cluster state'), ['ready']);
  });
});
