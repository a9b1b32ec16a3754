'use strict';
// Two siogate nodes on one private redis-server: broadcasts, requests and
// server-side events between them; garbage on our channels is dropped; a
// Redis restart during traffic: local delivery goes on, cross-node requests
// fail fast, and once Redis is back cross-node broadcasts resume (< 2 s).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { connected, closeAll, ask, recorder, waitFor } = require('./lib/util');
const { startCluster, until } = require('./lib/cluster');
const { createClient } = require('redis');

const skip = process.env.SG_REF === '1' && 'siogate cluster events (the reference server has no "cluster *" hooks)';

describe('two siogate nodes', { skip }, () => {
  let cluster;
  let rds;
  let a;
  let b;
  before(async () => {
    cluster = await startCluster({ nodes: 2, settings: { requestsTimeout: 2000 } });
    ({ redis: rds, nodes: [a, b] } = cluster);
  });
  after(async () => {
    closeAll();
    if (cluster) await cluster.stop();
  });

  test('broadcast, fetchSockets, allRooms and serverSideEmit with ack between nodes', async () => {
    const ca = await connected(a.url);
    const cb = await connected(b.url, { transports: ['websocket'] });
    await ask(cb, 'join', 'rb');
    const got = waitFor(cb, 'x');
    await ask(ca, 'cluster emit', { event: 'x', rooms: ['rb'] }, Buffer.from([4, 5]));
    assert.deepEqual([...(await got)[0]], [4, 5]);
    const [f] = await ask(ca, 'cluster fetch', { rooms: ['rb'] });
    assert.deepEqual(f.result.map((s) => s.id), [cb.id]);
    const [r] = await ask(ca, 'cluster rooms');
    assert.ok(r.result.includes('rb') && r.result.includes(ca.id) && r.result.includes(cb.id));
    const [s] = await ask(ca, 'cluster server emit', { event: 'ping', ack: true });
    assert.deepEqual(s, { err: null, responses: ['pong'] });
    await ask(ca, 'cluster op', { rooms: ['rb'], join: 'rb2' });
    await until(async () => (await ask(cb, 'rooms'))[0].includes('rb2'), 10000, 'remote join');
  });

  test('serverSideEmit with ack times out with Node\'s text when a node never answers', async () => {
    const ca = await connected(a.url);
    const [s] = await ask(ca, 'cluster server emit', { event: 'no-handler', ack: true });
    assert.equal(s.err, 'timed out');
    assert.deepEqual(s.responses, []);
  });

  test('garbage and foreign formats on our channels are dropped', async () => {
    const c = createClient({ url: rds.url });
    await c.connect();
    try {
      for (const ch of ['socket.io#/#', 'socket.io#/#rb#', 'socket.io-request#/#', 'socket.io-response#/#']) {
        await c.publish(ch, Buffer.from([0xc1, 0xff, 0x00]));
        await c.publish(ch, Buffer.from([0x93, 0xdd, 0xff, 0xff, 0xff, 0xff]));
        await c.publish(ch, '{"type":3,"data":{"packet":{"type":2,"data":["x"]}},"uid":"0123456789abcdef","nsp":"/"}');
        await c.publish(ch, Buffer.from('84a474797065030000', 'hex'));
        await c.publish(ch, '{not json');
      }
    } finally {
      await c.quit();
    }
    const ca = await connected(a.url);
    const cb = await connected(b.url);
    const got = waitFor(cb, 'after-garbage');
    await ask(ca, 'cluster emit', { event: 'after-garbage' }, 1);
    assert.deepEqual(await got, [1]);
    assert.ok(a.alive() && b.alive());
  });

  test('Redis restart during traffic: local delivery goes on, cross-node resumes within 2 s', async () => {
    const ca = await connected(a.url);
    const ca2 = await connected(a.url);
    const cb = await connected(b.url);
    const local = recorder(ca2, 'tick');
    const remote = recorder(cb, 'tick');
    await ask(ca, 'cluster emit', { event: 'tick' }, 'before');
    await remote.match((m) => m === 'before');
    await rds.kill();
    await until(async () => (await ask(ca, 'cluster state'))[0] === 'down', 10000, 'node A sees Redis down');
    // local clients still get broadcasts at once while Redis is down
    const [rc] = await ask(ca, 'cluster emit', { event: 'tick' }, 'during');
    assert.notEqual(rc, 0); // the cluster part failed...
    await local.match((m) => m === 'during'); // ...the local part did not
    // cross-node requests fail fast instead of hanging
    const t0 = Date.now();
    const [f] = await ask(ca, 'cluster fetch', {});
    assert.ok(f.err, 'fetch fails while Redis is down');
    assert.ok(Date.now() - t0 < 1000);
    await rds.start();
    const back = Date.now();
    let n = 0;
    const timer = setInterval(() => ca.emit('cluster emit', { event: 'tick' }, `after-${n++}`), 20);
    try {
      await remote.match((m) => m.startsWith('after-'), 5000);
    } finally {
      clearInterval(timer);
    }
    const elapsed = Date.now() - back;
    assert.ok(elapsed < 2000, `cross-node broadcast resumed after ${elapsed} ms`);
    await cluster.waitReady();
    assert.deepEqual(await ask(ca, 'cluster state'), ['ready']);
  });
});
