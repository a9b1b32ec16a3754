'use strict';
// Shutdown with work in flight, and a hostile Redis: SIGTERM must exit
// promptly (and cleanly) whatever is pending — a broadcast with acks that
// nobody answers, cluster requests another node never answers — and garbage
// on every channel siogate listens to is dropped without harm.
const { test, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, useRef } = require('./lib/server');
const { connected, closeAll, ask, waitFor, recorder } = require('./lib/util');
const { startCluster } = require('./lib/cluster');
const { createClient } = require('redis');

const skip = useRef ? 'siogate shutdown and Redis hardening' : false;

/** SIGTERM and the time the process took to exit (stop() throws when the
 *  exit was not clean or needed SIGKILL after 4 s). */
async function timedStop(srv) {
  const t0 = Date.now();
  await srv.stop();
  return Date.now() - t0;
}

describe('hostile: SIGTERM with work in flight', { skip }, () => {
  after(() => closeAll());

  test('a broadcast with acks nobody answers (60 s timeout) does not keep the process alive', async () => {
    const srv = await startServer();
    const silent = await connected(srv.url, { transports: ['websocket'] });
    const asker = await connected(srv.url, { transports: ['websocket'] });
    const got = waitFor(silent, 'request'); // never acknowledged
    asker.emit('broadcast with ack', 60000);
    await got;
    const ms = await timedStop(srv);
    assert.ok(ms < 4000, `exit took ${ms} ms`);
  });

  test('an emit with ack awaiting a client (60 s) does not keep the process alive', async () => {
    const srv = await startServer();
    const c = await connected(srv.url, { transports: ['polling'] });
    const got = waitFor(c, 'request');
    c.emit('emit with ack', 60000, 'x');
    await got;
    assert.ok(await timedStop(srv) < 4000);
  });

  test('cluster requests another node never answers do not keep the process alive', async () => {
    const cluster = await startCluster({ nodes: 2, settings: { requestsTimeout: 60000 } });
    const [a, b] = cluster.nodes;
    try {
      const ca = await connected(a.url, { transports: ['websocket'] });
      const silent = await connected(b.url, { transports: ['websocket'] });
      const got = waitFor(silent, 'request');
      // b holds a client that never acks; a waits for b's count and acks
      ca.emit('cluster emit', { event: 'request', ackTimeout: 60000 });
      await got;
      // serverSideEmit with ack to an event b has no handler for: b never answers
      ca.emit('cluster server emit', { event: 'no-handler', ack: true });
      await ask(ca, 'echo', 'barrier');
      assert.ok(await timedStop(a) < 4000, 'node a exits');
      assert.ok(await timedStop(b) < 4000, 'node b exits');
    } finally {
      await cluster.stop();
    }
  });
});

describe('hostile: garbage on every Redis channel', { skip }, () => {
  test('undecodable, wrongly shaped and oversized messages are dropped; the node keeps serving', async () => {
    const cluster = await startCluster({ nodes: 2, settings: { requestsTimeout: 2000 } });
    const [a, b] = cluster.nodes;
    const pub = createClient({ url: cluster.redis.url });
    try {
      await pub.connect();
      const ca = await connected(a.url, { transports: ['websocket'] });
      const cb = await connected(b.url, { transports: ['websocket'] });
      await ask(cb, 'join', 'g');
      const channels = ['socket.io#/#', 'socket.io#/#g#', 'socket.io-request#/#', 'socket.io-response#/#',
        'socket.io#/custom#', 'socket.io-request#/custom#'];
      const payloads = [
        Buffer.from([]), Buffer.from('{'), Buffer.from('{"type":'), Buffer.from('{"type":99}'),
        Buffer.from('{"type":2,"opts":7,"rooms":"x"}'), Buffer.from('{"type":6,"data":{}}'),
        Buffer.from([0xc1]), Buffer.from([0x93, 0xa1, 0x78, 0xc0, 0xc0]),
        Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // array claiming 4G elements
        Buffer.from([0xdb, 0x7f, 0xff, 0xff, 0xff, 0x41]), // str claiming 2 GB
        Buffer.concat([Buffer.from([0x93, 0xa6]), Buffer.from('abcdef'), Buffer.from([0x81, 0xa4]), Buffer.from('data'),
          Buffer.from([0xdc, 0xff, 0xff])]),
        Buffer.alloc(2 * 1024 * 1024, 0x91), // deep nesting
        Buffer.from('{"uid":"x","type":2,"opts":{"rooms":["g"]},"packet":{"type":2,"data":["m"],"nsp":"/\\u0000x"}}'),
      ];
      for (const ch of channels) for (const p of payloads) await pub.publish(ch, p);
      // both nodes still answer, and still talk to each other
      assert.deepEqual(await ask(ca, 'echo', 'a'), ['a']);
      assert.deepEqual(await ask(cb, 'echo', 'b'), ['b']);
      const msgs = recorder(cb, 'message');
      ca.emit('broadcast', 'g', 'after garbage');
      await msgs.match((m) => m === 'after garbage');
      assert.deepEqual(msgs.items, [['after garbage']]);
      const [f] = await ask(ca, 'cluster fetch', { rooms: ['g'] });
      assert.deepEqual(f.result.map((s) => s.id), [cb.id]);
    } finally {
      await pub.quit().catch(() => {});
      closeAll();
      await cluster.stop();
    }
  });
});
