'use strict';
// Gateway mode (README, "Gateway mode: your backend in any language"): client
// events become entries of a Redis Stream that the example workers of
// examples/ read with a consumer group and answer on the node's reply
// channel; connections are authenticated by a JSON Web Token (HS256, RS256,
// ES256) or by an HTTP endpoint. Each describe starts its own redis-server,
// siogate node(s) and workers, and stops exactly those.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { createClient } = require('redis');
const { client, connected, closeAll, ask, waitFor, recorder, DEFAULT_WAIT_MS } = require('./lib/util');
const { freePort, HOST, startServer } = require('./lib/server');
const { startRedis } = require('./lib/redis');
const { Emitter } = require('@socket.io/redis-emitter');
const {
  PYTHON, requirePython, startWorker, signJwt, nowS, startGateway, sample, until, readStream, waitEntries, sleep,
} = require('./lib/gateway');

const skip = process.env.SG_REF === '1' && 'gateway mode is siogate\'s (Node has no bridge)';

/** connect_error's message of a refused connection. */
async function refused(url, opts) {
  const s = client(url, { transports: ['websocket'], ...opts });
  const [err] = await waitFor(s, 'connect_error');
  s.disconnect();
  return err.message;
}

/** Emit with an ack; resolves [args, ms]. */
async function timedAsk(socket, ...args) {
  const t0 = Date.now();
  const res = await ask(socket, ...args);
  return [res, Date.now() - t0];
}

/** Does `socket` receive what @socket.io/redis-emitter sends to room `to`?
 *  Proves room membership on the socket's node: a broadcast to everyone,
 *  published after it on the same connection, arrives after it. */
async function reachedVia(redisUrl, socket, to) {
  const got = recorder(socket, 'probe');
  const tag = crypto.randomBytes(4).toString('hex');
  const c = createClient({ url: redisUrl });
  await c.connect();
  try {
    const io = new Emitter(c);
    io.to(to).emit('probe', tag);
    io.emit('probe', `${tag}-all`);
  } finally {
    await c.quit(); // after the two PUBLISHes
  }
  await got.match((x) => x === `${tag}-all`);
  return got.items.some(([x]) => x === tag);
}

describe('bridge: events to workers, acks back', { skip }, () => {
  let redis;
  let gw;
  const w = {};
  before(async () => {
    requirePython();
    redis = await startRedis();
    gw = await startGateway({ redisUrl: redis.url, nodeId: 'gw1', settings: { bridgeAckTimeout: 6000 } });
    w.a = await startWorker({ redisUrl: redis.url, consumer: 'py-a', claimIdle: 1000 });
  });
  after(async () => {
    closeAll();
    for (const x of Object.values(w)) await x.stop();
    if (gw) await gw.stop();
    if (redis) await redis.stop();
  });

  test('an ack is answered by a worker: text', async () => {
    const s = await connected(gw.url, { transports: ['websocket'] });
    assert.deepEqual(await ask(s, 'echo', 'hello', { a: [1, 2.5, null, true] }, 'é😀'),
      ['hello', { a: [1, 2.5, null, true] }, 'é😀']);
    assert.deepEqual(await ask(s, 'echo'), []);
    assert.deepEqual(await ask(s, 'nothing here'), [{ error: 'unknown event' }]);
  });

  test('an ack is answered by a worker: binary both ways', async () => {
    const s = await connected(gw.url, { transports: ['websocket'] });
    const bin = Buffer.from([0, 1, 2, 0xff, 0xfe]);
    const res = await ask(s, 'echo', 'bin', bin, { nested: [Buffer.from('xyz')], n: 7 });
    assert.equal(res.length, 3);
    assert.equal(res[0], 'bin');
    assert.ok(Buffer.isBuffer(res[1]), `a Buffer back, got ${typeof res[1]}`);
    assert.deepEqual(res[1], bin);
    assert.deepEqual(res[2].nested[0], Buffer.from('xyz'));
    assert.equal(res[2].n, 7);
    // the entry was msgpack, with the binary as msgpack bin
    const entries = await readStream(redis.url, gw.stream);
    const e = entries.find((x) => x.fields.sid === s.id && x.fields.event === 'echo');
    assert.equal(e.fields.enc, 'msgpack');
    assert.equal(e.fields.args[0] >> 4, 0x9, 'a msgpack fixarray');
    assert.ok(e.fields.args.includes(bin), 'the bytes are in the entry as they are');
  });

  test('entries carry the fields of format v1; lifecycle entries with their reason', async () => {
    const s = await connected(gw.url, { transports: ['websocket'], query: { app: 'tests', n: '1' } });
    const sid = s.id;
    s.emit('no ack', 'x', 2);
    assert.deepEqual(await ask(s, 'echo', { k: 'v' }), [{ k: 'v' }]);
    s.disconnect();
    const mine = await waitEntries(redis.url, gw.stream, (es) => {
      const m = es.filter((e) => e.fields.sid === sid);
      return m.some((e) => e.fields.type === 'disconnect') && m;
    });
    assert.deepEqual(mine.map((e) => [e.fields.type, e.fields.event]),
      [['connect', undefined], ['event', 'no ack'], ['event', 'echo'], ['disconnect', undefined]]);
    const [conn, noAck, withAck, disc] = mine.map((e) => e.fields);
    for (const f of [conn, noAck, withAck, disc]) {
      assert.equal(f.v, '1');
      assert.equal(f.node, 'gw1');
      assert.equal(f.nsp, '/');
      assert.equal(f.sid, sid);
    }
    assert.deepEqual(Object.keys(conn).sort(), ['hs', 'node', 'nsp', 'sid', 'type', 'v']);
    assert.deepEqual(Object.keys(noAck).sort(), ['args', 'enc', 'event', 'hs', 'node', 'nsp', 'sid', 'type', 'v']);
    assert.deepEqual(Object.keys(withAck).sort(), ['ack', 'args', 'enc', 'event', 'hs', 'node', 'nsp', 'sid', 'type', 'v']);
    assert.deepEqual(Object.keys(disc).sort(), ['node', 'nsp', 'reason', 'sid', 'type', 'v']);
    assert.equal(noAck.enc, 'json');
    assert.deepEqual(JSON.parse(noAck.args.toString()), ['x', 2]);
    assert.deepEqual(JSON.parse(withAck.args.toString()), [{ k: 'v' }]);
    assert.match(withAck.ack, /^\S+$/);
    const hs = JSON.parse(conn.hs);
    assert.equal(hs.address, '127.0.0.1');
    assert.equal(typeof hs.time, 'string');
    assert.equal(hs.secure, false);
    assert.equal(hs.query.app, 'tests');
    assert.equal(hs.query.n, '1');
    assert.equal(hs.query.EIO, '4');
    assert.deepEqual(hs.data, {});
    assert.deepEqual(JSON.parse(withAck.hs), hs);
    assert.equal(disc.reason, 'client namespace disconnect');

    // a transport that goes away: "transport close"
    const t = await connected(gw.url, { transports: ['websocket'] });
    const tid = t.id;
    t.io.engine.close();
    const d = await waitEntries(redis.url, gw.stream,
      (es) => es.find((e) => e.fields.sid === tid && e.fields.type === 'disconnect'));
    assert.equal(d.fields.reason, 'transport close');
  });

  test('two workers in one group share the load', async () => {
    w.b = await startWorker({ redisUrl: redis.url, consumer: 'py-b', claimIdle: 1000 });
    const s = await connected(gw.url, { transports: ['websocket'] });
    const served = new Map();
    for (let i = 0; i < 50; i++) {
      const [{ worker, sid }] = await ask(s, 'whoami');
      assert.equal(sid, s.id);
      served.set(worker, (served.get(worker) || 0) + 1);
    }
    assert.deepEqual([...served.keys()].sort(), ['py-a', 'py-b'], JSON.stringify([...served]));
    // and concurrently
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(s, 'echo', i)));
    assert.deepEqual(all, Array.from({ length: 50 }, (_, i) => [i]));
  });

  test('the entries a killed worker read are claimed by another one and answered', async () => {
    const c = createClient({ url: redis.url });
    await c.connect();
    try {
      // connected while the workers run: its "connect" entry is handled
      const s = await connected(gw.url, { transports: ['websocket'] });
      await until(async () => {
        const [g] = await c.xInfoGroups(gw.stream);
        return g.pending === 0 && g.lastDeliveredId === (await c.xInfoStream(gw.stream)).lastGeneratedId;
      }, DEFAULT_WAIT_MS, 'every entry delivered and acknowledged');
      await w.a.stop();
      await w.b.stop();
      delete w.a;
      delete w.b;
      // It dies (SIGKILL) as soon as it has read one entry, before answering
      // or acknowledging it: the next entry, the whoami below.
      w.doomed = await startWorker({ redisUrl: redis.url, consumer: 'py-doomed', dieAfterRead: 1 });
      const answer = ask(s, 'whoami');
      assert.deepEqual(await w.doomed.exited, { code: null, signal: 'SIGKILL' });
      const pending = await c.xPendingRange(gw.stream, 'echo', '-', '+', 10);
      assert.deepEqual(pending.map((p) => p.owner), ['py-doomed']);
      const [entry] = await c.xRange(gw.stream, pending[0].id, pending[0].id);
      assert.equal(entry.message.event, 'whoami');
      const t0 = Date.now();
      w.heir = await startWorker({ redisUrl: redis.url, consumer: 'py-heir', claimIdle: 1000 });
      const [{ worker, sid }] = await answer;
      const ms = Date.now() - t0;
      assert.equal(worker, 'py-heir');
      assert.equal(sid, s.id);
      // within bridgeAckTimeout, or the answer would be {"error":"bridge timeout"}
      assert.ok(ms < 6000, `claimed and answered after ${ms} ms`);
      await until(async () => (await c.xPending(gw.stream, 'echo')).pending === 0, DEFAULT_WAIT_MS, 'nothing pending');
    } finally {
      await c.quit();
    }
  });

  test('a reply for no pending ack is ignored', async () => {
    const before = sample(await gw.metrics(), 'siogate_bridge_stray_replies_total');
    const c = createClient({ url: redis.url });
    await c.connect();
    try {
      const n = await c.publish(gw.replyChannel, JSON.stringify({ ack: '999999', args: ['late'] }));
      assert.equal(n, 1, 'siogate subscribes to its reply channel');
      await c.publish(gw.replyChannel, JSON.stringify({ ack: 12345678 }));
      await c.publish(gw.replyChannel, 'not json {');
      await c.publish(gw.replyChannel, '{"ack":"1","args":{"not":"an array"}}');
      await c.publish(gw.replyChannel, Buffer.from([0x82, 0xa3, 0x61, 0x63, 0x6b])); // truncated msgpack
      await c.publish(gw.replyChannel, Buffer.from([0xc1]));
    } finally {
      await c.quit();
    }
    await until(async () => sample(await gw.metrics(), 'siogate_bridge_stray_replies_total') === before + 6,
      DEFAULT_WAIT_MS, 'six stray replies counted');
    const s = await connected(gw.url, { transports: ['websocket'] });
    assert.deepEqual(await ask(s, 'echo', 'still here'), ['still here']);
  });

  test('/metrics counts the bridge', async () => {
    const m = await gw.metrics();
    assert.equal(sample(m, 'siogate_bridge_up'), 1);
    assert.equal(sample(m, 'siogate_bridge_pending_acks'), 0);
    assert.equal(sample(m, 'siogate_bridge_failed_total'), 0);
    const entries = await readStream(redis.url, gw.stream);
    assert.equal(sample(m, 'siogate_bridge_entries_total'), entries.length);
    assert.equal(sample(m, 'siogate_bridge_replies_total'),
      entries.filter((e) => e.fields.ack).length, 'every ack was answered once');
    assert.equal(sample(m, 'siogate_bridge_ack_errors_total{cause="timeout"}'), 0);
  });

  test('Redis stopped: acks fail at once; restarted: acks work again (siogate and the worker reconnect)', async () => {
    const s = await connected(gw.url, { transports: ['websocket'] });
    // bridged traffic all along: every ack gets an answer, never silence
    let running = true;
    const outcomes = [];
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        const [res] = await ask(s, 'echo', i);
        outcomes.push(res);
        await sleep(10);
      }
    })();
    await until(() => outcomes.length >= 5, DEFAULT_WAIT_MS, 'traffic flows');
    await redis.kill();
    await until(async () => sample(await gw.metrics(), 'siogate_bridge_up') === 0, DEFAULT_WAIT_MS, 'siogate sees Redis down');
    const failedBefore = sample(await gw.metrics(), 'siogate_bridge_failed_total');
    const [res, ms] = await timedAsk(s, 'echo', 'down');
    assert.deepEqual(res, [{ error: 'bridge unavailable' }]);
    assert.ok(ms < 2000, `answered after ${ms} ms (bridgeAckTimeout is 6000)`);
    s.emit('no ack while down');
    await until(async () => sample(await gw.metrics(), 'siogate_bridge_failed_total') >= failedBefore + 2,
      DEFAULT_WAIT_MS, 'failed entries counted');

    await redis.start();
    const t0 = Date.now();
    await until(async () => {
      const [r] = await ask(s, 'echo', 'up again');
      return r === 'up again';
    }, 15000, 'an ack answered by the worker after the restart');
    const recovery = Date.now() - t0;
    // the traffic too (an ask sent before the recovery may still fail)
    const mark = outcomes.length;
    await until(() => outcomes.slice(mark).some((o) => typeof o === 'number'), DEFAULT_WAIT_MS, 'the traffic is answered again');
    running = false;
    await traffic;
    for (const o of outcomes) {
      assert.ok(typeof o === 'number' || ['bridge unavailable', 'bridge timeout'].includes(o && o.error),
        `unexpected ack ${JSON.stringify(o)}`);
    }
    assert.ok(recovery < 15000, `recovered in ${recovery} ms`);
  });

  test('the Node echo worker answers the same (text, binary, whoami)', async () => {
    for (const k of Object.keys(w)) {
      await w[k].stop();
      delete w[k];
    }
    w.node = await startWorker({ lang: 'node', redisUrl: redis.url, consumer: 'node-a', claimIdle: 1000 });
    const s = await connected(gw.url, { transports: ['websocket'] });
    assert.deepEqual(await ask(s, 'echo', 'hi', { a: 1 }), ['hi', { a: 1 }]);
    const res = await ask(s, 'echo', Buffer.from([9, 8, 7]), [Buffer.from('in array')]);
    assert.deepEqual(res, [Buffer.from([9, 8, 7]), [Buffer.from('in array')]]);
    const [who] = await ask(s, 'whoami');
    assert.deepEqual(who, { worker: 'node-a', sid: s.id, data: {} });
    assert.deepEqual(await ask(s, 'what'), [{ error: 'unknown event' }]);
  });
});

describe('bridge without workers', { skip }, () => {
  let redis;
  let gw;
  before(async () => {
    redis = await startRedis();
    gw = await startGateway({
      redisUrl: redis.url, nodeId: 'lonely', settings: { bridgeAckTimeout: 500, bridgeStream: 'lonely:events', bridgeMaxPending: 5, bridgeMaxPendingPerSocket: 3 },
    });
  });
  after(async () => {
    closeAll();
    if (gw) await gw.stop();
    if (redis) await redis.stop();
  });

  test('an ack no worker answers gets {"error":"bridge timeout"} after bridgeAckTimeout', async () => {
    const s = await connected(gw.url, { transports: ['websocket'] });
    const [res, ms] = await timedAsk(s, 'echo', 'anyone?');
    assert.deepEqual(res, [{ error: 'bridge timeout' }]);
    assert.ok(ms >= 450 && ms < 3000, `answered after ${ms} ms`);
    const all = await Promise.all([1, 2, 3].map((i) => ask(s, 'echo', i)));
    assert.deepEqual(all, [1, 2, 3].map(() => [{ error: 'bridge timeout' }]));
    const m = await gw.metrics();
    assert.equal(sample(m, 'siogate_bridge_ack_errors_total{cause="timeout"}'), 4);
    assert.equal(sample(m, 'siogate_bridge_pending_acks'), 0);
    // the entries are there for a worker that comes later
    const es = await readStream(redis.url, 'lonely:events');
    assert.equal(es.filter((e) => e.fields.event === 'echo').length, 4);
  });

  test('past bridgeMaxPendingPerSocket acks of one socket: {"error":"bridge busy"} at once, other sockets unaffected', async () => {
    const s = await connected(gw.url, { transports: ['websocket'] });
    const other = await connected(gw.url, { transports: ['websocket'] });
    const order = [];
    const waiting = [1, 2, 3].map((i) => ask(s, 'echo', i).then((r) => { order.push(i); return r; }));
    const [res] = await ask(s, 'echo', 4);
    order.push(4);
    assert.deepEqual(res, { error: 'bridge busy' });
    // another socket still gets a slot: its ack waits for a worker (and times out)
    assert.deepEqual(await ask(other, 'echo', 'mine'), [{ error: 'bridge timeout' }]);
    for (const r of await Promise.all(waiting)) assert.deepEqual(r, [{ error: 'bridge timeout' }]);
    assert.equal(order[0], 4, `answered before the timeouts of the others: ${order}`);
    // the busy one never became an entry
    const es = await readStream(redis.url, 'lonely:events');
    assert.deepEqual(es.filter((e) => e.fields.sid === s.id && e.fields.type === 'event')
      .map((e) => JSON.parse(e.fields.args)), [[1], [2], [3]]);
  });

  test('past bridgeMaxPending acks on the node: {"error":"bridge busy"} for every socket', async () => {
    const a = await connected(gw.url, { transports: ['websocket'] });
    const b = await connected(gw.url, { transports: ['websocket'] });
    const c = await connected(gw.url, { transports: ['websocket'] });
    const before = sample(await gw.metrics(), 'siogate_bridge_ack_errors_total{cause="busy"}');
    // 3 + 2 take the node's 5 slots (a is at its own cap of 3)
    const waiting = [...[1, 2, 3].map((i) => ask(a, 'echo', i)), ...[4, 5].map((i) => ask(b, 'echo', i))];
    // their entries are in the stream once their acks are pending
    await waitEntries(redis.url, 'lonely:events', (x) => x.filter((e) => [a.id, b.id].includes(e.fields.sid) && e.fields.ack).length === 5);
    assert.deepEqual(await ask(b, 'echo', 6), [{ error: 'bridge busy' }]);
    assert.deepEqual(await ask(c, 'echo', 7), [{ error: 'bridge busy' }]);
    for (const r of await Promise.all(waiting)) assert.deepEqual(r, [{ error: 'bridge timeout' }]);
    assert.equal(sample(await gw.metrics(), 'siogate_bridge_ack_errors_total{cause="busy"}'), before + 2);
  });

  test('an ack whose client left: a late reply and the timeout are harmless', async () => {
    const s = await connected(gw.url, { transports: ['websocket'] });
    const sid = s.id;
    s.emit('echo', 'bye', () => {});
    s.emit('echo', 'bye too', () => {});
    const es = await waitEntries(redis.url, 'lonely:events',
      (x) => { const m = x.filter((e) => e.fields.sid === sid && e.fields.ack); return m.length === 2 && m; });
    s.disconnect();
    await waitEntries(redis.url, 'lonely:events', (x) => x.some((e) => e.fields.sid === sid && e.fields.type === 'disconnect'));
    const c = createClient({ url: redis.url });
    await c.connect();
    try {
      // the first answered after its socket is gone, the second left to time out
      await c.publish(gw.replyChannel, JSON.stringify({ ack: es[0].fields.ack, args: ['late'] }));
    } finally {
      await c.quit();
    }
    await until(async () => sample(await gw.metrics(), 'siogate_bridge_pending_acks') === 0, DEFAULT_WAIT_MS, 'no ack pending');
    assert.equal(sample(await gw.metrics(), 'siogate_bridge_replies_total'), 1, 'the late reply went to its (closed) ack');
    const t = await connected(gw.url, { transports: ['websocket'] });
    assert.deepEqual(await ask(t, 'echo', 'x'), [{ error: 'bridge timeout' }]);
  });
});

describe('bridge limits: entry size and per-socket rate (what a client can make Redis hold)', { skip }, () => {
  let redis;
  let gw;
  before(async () => {
    redis = await startRedis();
    gw = await startGateway({
      redisUrl: redis.url,
      nodeId: 'limits',
      settings: { bridgeAckTimeout: 300, bridgeStream: 'limits:events', bridgeMaxEntryBytes: 1024, bridgeRate: 1, bridgeBurst: 3 },
    });
  });
  after(async () => {
    closeAll();
    if (gw) await gw.stop();
    if (redis) await redis.stop();
  });

  test('an event over bridgeMaxEntryBytes is refused at once and never reaches the stream', async () => {
    const s = await connected(gw.url, { transports: ['websocket'] });
    assert.deepEqual(await ask(s, 'echo', 'x'.repeat(2000)), [{ error: 'bridge entry too large' }]);
    assert.deepEqual(await ask(s, 'echo', 'small'), [{ error: 'bridge timeout' }]); // appended, no worker
    const es = await readStream(redis.url, 'limits:events');
    assert.deepEqual(es.filter((e) => e.fields.sid === s.id && e.fields.type === 'event').map((e) => JSON.parse(e.fields.args)), [['small']]);
    assert.equal(sample(await gw.metrics(), 'siogate_bridge_refused_total{cause="too_large"}'), 1);
  });

  test('past bridgeBurst events at once a socket is refused until its bucket refills; other sockets are not', async () => {
    const s = await connected(gw.url, { transports: ['websocket'] });
    const other = await connected(gw.url, { transports: ['websocket'] });
    // one connection: processed in order, far faster than 1 token per second comes back
    const res = await Promise.all([1, 2, 3, 4, 5].map((i) => ask(s, 'echo', i)));
    assert.deepEqual(res.slice(0, 3), [1, 2, 3].map(() => [{ error: 'bridge timeout' }]));
    assert.deepEqual(res.slice(3), [4, 5].map(() => [{ error: 'bridge rate limit' }]));
    assert.deepEqual(await ask(other, 'echo', 'mine'), [{ error: 'bridge timeout' }]);
    assert.equal(sample(await gw.metrics(), 'siogate_bridge_refused_total{cause="rate_limit"}'), 2);
    const es = await readStream(redis.url, 'limits:events');
    assert.deepEqual(es.filter((e) => e.fields.sid === s.id && e.fields.type === 'event').map((e) => JSON.parse(e.fields.args)), [[1], [2], [3]]);
  });
});

describe('examples/python/emitter.py', { skip }, () => {
  test('publishes byte for byte what @socket.io/redis-emitter 5.1 publishes', () => {
    requirePython();
    const node = [];
    const io = new Emitter({ publish: (ch, msg) => node.push([ch, Buffer.from(msg).toString('hex')]) });
    io.emit('hello', 'world', 1, 2.5, -7, { a: [true, null, 'ü'] }, Buffer.from([0, 1, 2]));
    io.to('room1').emit('x', 'y');
    io.to('r1').to('r2').except('r3').emit('z');
    io.of('admin').to(['a', 'b']).volatile.compress(false).emit('q', 'long string '.repeat(30));
    io.in('sid1').socketsJoin('lobby');
    io.to('x').except('y').socketsLeave(['a', 'b']);
    io.to('z').disconnectSockets(true);
    io.serverSideEmit('hi', { n: 1 });
    io.to('user:é').emit('n', 300, 70000, 5000000000, -200, -40000);
    const py = `
import json, sys
from emitter import Emitter
out = []
class Fake:
    def publish(self, ch, msg):
        out.append([ch, (msg if isinstance(msg, bytes) else msg.encode()).hex()])
io = Emitter(Fake())
io.emit('hello', 'world', 1, 2.5, -7, {'a': [True, None, 'ü']}, bytes([0, 1, 2]))
io.to('room1').emit('x', 'y')
io.to('r1').to('r2').except_('r3').emit('z')
io.of('admin').to(['a', 'b']).volatile.compress(False).emit('q', 'long string ' * 30)
io.in_('sid1').sockets_join('lobby')
io.to('x').except_('y').sockets_leave(['a', 'b'])
io.to('z').disconnect_sockets(True)
io.server_side_emit('hi', {'n': 1})
io.to('user:é').emit('n', 300, 70000, 5000000000, -200, -40000)
print(json.dumps(out))
`;
    const out = execFileSync(PYTHON, ['-c', py], {
      env: { ...process.env, PYTHONPATH: path.join(__dirname, '..', '..', 'examples', 'python'), PYTHONDONTWRITEBYTECODE: '1' },
    });
    assert.deepEqual(JSON.parse(out), node);
  });
});

// ---------------------------------------------------------------- JWT

describe('JWT authentication (HS256) with the bridge', { skip }, () => {
  const SECRET = 'secret';
  const ISS = 'https://issuer.test';
  const AUD = 'siogate-tests';
  let redis;
  let gw;
  let worker;
  const token = (claims, key = SECRET) => signJwt('HS256', { iss: ISS, aud: AUD, iat: nowS(), exp: nowS() + 600, ...claims }, key);
  before(async () => {
    requirePython();
    redis = await startRedis();
    gw = await startGateway({
      redisUrl: redis.url,
      nodeId: 'jwt1',
      settings: { authJwt: 'HS256', authJwtKey: SECRET, authJwtIssuer: ISS, authJwtAudience: AUD },
    });
    worker = await startWorker({ redisUrl: redis.url, consumer: 'py-jwt' });
  });
  after(async () => {
    closeAll();
    if (worker) await worker.stop();
    if (gw) await gw.stop();
    if (redis) await redis.stop();
  });

  test('a valid token: connected, claims in socket.data and in the entries, room user:<sub>', async () => {
    const claims = { sub: 'alice', role: 'admin', n: 42 };
    const s = await connected(gw.url, { transports: ['websocket'], auth: { token: token(claims) } });
    const [who] = await ask(s, 'whoami');
    assert.equal(who.worker, 'py-jwt');
    assert.equal(who.data.sub, 'alice');
    assert.equal(who.data.role, 'admin');
    assert.equal(who.data.n, 42);
    assert.equal(who.data.iss, ISS);
    assert.equal(who.data.aud, AUD);
    const conn = await waitEntries(redis.url, gw.stream,
      (es) => es.find((e) => e.fields.sid === s.id && e.fields.type === 'connect'));
    assert.equal(JSON.parse(conn.fields.hs).data.sub, 'alice');
    // the user's room, on every node, through the emitter
    const other = await connected(gw.url, { transports: ['websocket'], auth: { token: token({ sub: 'bob' }) } });
    assert.equal(await reachedVia(redis.url, s, 'user:alice'), true);
    assert.equal(await reachedVia(redis.url, other, 'user:alice'), false);
    assert.equal(await reachedVia(redis.url, other, 'user:bob'), true);
  });

  test('refusals: expired, wrong key, wrong audience, wrong issuer, no token', async () => {
    assert.equal(await refused(gw.url, { auth: { token: token({ sub: 'a', exp: nowS() - 60 }) } }), 'jwt expired');
    assert.equal(await refused(gw.url, { auth: { token: token({ sub: 'a' }, 'not the secret') } }), 'invalid signature');
    assert.match(await refused(gw.url, { auth: { token: token({ sub: 'a', aud: 'someone-else' }) } }), /^jwt audience invalid/);
    assert.match(await refused(gw.url, { auth: { token: token({ sub: 'a', iss: 'https://evil.test' }) } }), /^jwt issuer invalid/);
    assert.equal(await refused(gw.url, {}), 'jwt must be provided');
    assert.equal(await refused(gw.url, { auth: { other: 1 } }), 'jwt must be provided');
    assert.equal(await refused(gw.url, { auth: { token: 'a.b' } }), 'jwt malformed');
    // a refused CONNECT leaves nothing in the stream
    const es = await readStream(redis.url, gw.stream);
    assert.equal(es.filter((e) => e.fields.type === 'connect').length, 2, 'only the two accepted sockets');
    const m = await gw.metrics();
    assert.equal(sample(m, 'siogate_auth_total{result="refused"}'), 7);
    assert.equal(sample(m, 'siogate_auth_total{result="accepted"}'), 2);
  });
});

describe('JWT authentication with public keys (RS256, ES256; authJwtKeyFile)', { skip }, () => {
  let redis;
  let dir;
  const nodes = {};
  const keys = {};
  before(async () => {
    redis = await startRedis();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-jwt-'));
    keys.RS256 = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys.ES256 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keys.otherES = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const alg of ['RS256', 'ES256']) {
      const file = path.join(dir, `${alg}.pem`);
      fs.writeFileSync(file, keys[alg].publicKey.export({ type: 'spki', format: 'pem' }));
      nodes[alg] = await startGateway({
        redisUrl: redis.url,
        nodeId: alg,
        settings: { bridge: 'off', authJwt: alg, authJwtKeyFile: file },
      });
    }
  });
  after(async () => {
    closeAll();
    for (const n of Object.values(nodes)) await n.stop();
    if (redis) await redis.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const alg of ['RS256', 'ES256']) {
    test(`${alg}: a token signed with the private key connects, joins user:<sub>`, async () => {
      const tok = signJwt(alg, { sub: `u-${alg}`, exp: nowS() + 60 }, keys[alg].privateKey);
      const s = await connected(nodes[alg].url, { transports: ['websocket'], auth: { token: tok } });
      assert.equal(await reachedVia(redis.url, s, `user:u-${alg}`), true);
    });
    test(`${alg}: another key, another algorithm, alg none are refused`, async () => {
      const url = nodes[alg].url;
      // another key pair of the same kind
      const other = alg === 'ES256' ? keys.otherES : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      assert.equal(await refused(url, { auth: { token: signJwt(alg, { sub: 'x' }, other.privateKey) } }), 'invalid signature');
      // the other asymmetric algorithm
      const [otherAlg, otherKey] = alg === 'ES256' ? ['RS256', keys.RS256.privateKey] : ['ES256', keys.ES256.privateKey];
      assert.equal(await refused(url, { auth: { token: signJwt(otherAlg, { sub: 'x' }, otherKey) } }), 'invalid algorithm');
      // an HMAC made with the public key (algorithm confusion)
      const pub = keys[alg].publicKey.export({ type: 'spki', format: 'pem' });
      assert.equal(await refused(url, { auth: { token: signJwt('HS256', { sub: 'x' }, pub) } }), 'invalid algorithm');
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`;
      assert.equal(await refused(url, { auth: { token: none } }), 'invalid algorithm');
    });
  }
});

// ---------------------------------------------------------------- auth endpoint

describe('authentication endpoint (authUrl)', { skip }, () => {
  let redis;
  let gw;
  let worker;
  let endpoint;
  const posted = [];
  const hanging = [];
  before(async () => {
    requirePython();
    redis = await startRedis();
    endpoint = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const summary = JSON.parse(body);
        posted.push({ method: req.method, url: req.url, type: req.headers['content-type'], summary });
        const mode = summary.auth && summary.auth.mode;
        if (mode === 'accept') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ data: { role: 'x' }, user: 'u1', rooms: ['vip'] }));
        } else if (mode === 'plain') {
          res.writeHead(204);
          res.end();
        } else if (mode === 'hang') {
          hanging.push(res); // never answered
        } else if (mode === 'crash') {
          res.writeHead(500);
          res.end('boom');
        } else {
          res.writeHead(401, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: 'nope' }));
        }
      });
    });
    await new Promise((resolve) => endpoint.listen(0, HOST, resolve));
    gw = await startGateway({
      redisUrl: redis.url,
      nodeId: 'authurl',
      settings: { authUrl: `http://${HOST}:${endpoint.address().port}/auth?k=1`, authTimeout: 300 },
    });
    worker = await startWorker({ redisUrl: redis.url, consumer: 'py-auth' });
  });
  after(async () => {
    closeAll();
    for (const r of hanging) r.destroy();
    if (endpoint) {
      endpoint.closeAllConnections();
      await new Promise((resolve) => endpoint.close(resolve));
    }
    if (worker) await worker.stop();
    if (gw) await gw.stop();
    if (redis) await redis.stop();
  });

  test('accepted: the endpoint\'s data in socket.data, its user\'s room and rooms joined; what it was sent', async () => {
    const s = await connected(gw.url, { transports: ['websocket'], auth: { mode: 'accept', token: 't0k' }, query: { q: 'v' },
      extraHeaders: { 'X-Request-Id': 'req-1', Cookie: 'session=s1', Authorization: 'Bearer b1' } });
    const [who] = await ask(s, 'whoami');
    assert.equal(who.worker, 'py-auth');
    assert.deepEqual(who.data, { role: 'x' });
    assert.equal(await reachedVia(redis.url, s, 'vip'), true);
    assert.equal(await reachedVia(redis.url, s, 'user:u1'), true);
    const other = await connected(gw.url, { transports: ['websocket'], auth: { mode: 'plain' } });
    assert.equal(await reachedVia(redis.url, other, 'vip'), false);
    const [whoOther] = await ask(other, 'whoami');
    assert.deepEqual(whoOther.data, {});

    const p = posted.find((x) => x.summary.auth.mode === 'accept');
    assert.equal(p.method, 'POST');
    assert.equal(p.url, '/auth?k=1');
    assert.match(p.type, /^application\/json/);
    const sum = p.summary;
    assert.equal(sum.nsp, '/');
    assert.deepEqual(sum.auth, { mode: 'accept', token: 't0k' });
    assert.equal(sum.query.q, 'v');
    assert.equal(sum.query.transport, 'websocket');
    // what an endpoint checks a session by (x-request-id: a header siogate
    // keeps by default, see handshakeHeaders)
    assert.equal(sum.headers['x-request-id'], 'req-1', JSON.stringify(sum.headers));
    assert.equal(sum.headers.cookie, 'session=s1');
    assert.equal(sum.headers.authorization, 'Bearer b1');
    assert.equal(sum.headers.host, new URL(gw.url).host);
    assert.equal(sum.address, '127.0.0.1');
    assert.equal(typeof sum.time, 'string');
  });

  test('refused with 401 and a message: connect_error with that message', async () => {
    assert.equal(await refused(gw.url, { auth: { mode: 'deny' } }), 'nope');
  });

  test('an endpoint that does not answer in authTimeout, or fails: "authentication unavailable"', async () => {
    const t0 = Date.now();
    assert.equal(await refused(gw.url, { auth: { mode: 'hang' } }), 'authentication unavailable');
    const ms = Date.now() - t0;
    assert.ok(ms >= 250 && ms < 5000, `refused after ${ms} ms`);
    assert.equal(await refused(gw.url, { auth: { mode: 'crash' } }), 'authentication unavailable');
    const m = await gw.metrics();
    assert.equal(sample(m, 'siogate_auth_total{result="error"}'), 2);
    assert.equal(sample(m, 'siogate_auth_total{result="refused"}'), 1);
    // and siogate serves on
    const s = await connected(gw.url, { transports: ['websocket'], auth: { mode: 'plain' } });
    assert.deepEqual(await ask(s, 'echo', 1), [1]);
  });

  test('a client that leaves while the endpoint decides: nothing breaks', async () => {
    const n = posted.length;
    const errors = sample(await gw.metrics(), 'siogate_auth_total{result="error"}');
    for (const transports of [['websocket'], ['polling']]) {
      const s = client(gw.url, { transports, auth: { mode: 'hang', leaving: true } });
      await until(() => posted.length > n && posted.slice(n).some((p) => p.summary.auth.leaving), DEFAULT_WAIT_MS, 'the POST');
      s.io.engine.close();
      posted.splice(n);
    }
    // authTimeout (300) passes for both: refused, though nobody listens
    await until(async () => sample(await gw.metrics(), 'siogate_auth_total{result="error"}') === errors + 2,
      DEFAULT_WAIT_MS, 'both timed out');
    const s = await connected(gw.url, { transports: ['websocket'], auth: { mode: 'plain' } });
    assert.deepEqual(await ask(s, 'echo', 'fine'), ['fine']);
  });

  test('an endpoint that is down: "authentication unavailable"', async () => {
    const port = await freePort(); // nothing listens there
    const down = await startGateway({
      redisUrl: redis.url, nodeId: 'authdown', settings: { bridge: 'off', authUrl: `http://${HOST}:${port}/`, authTimeout: 2000 },
    });
    try {
      assert.equal(await refused(down.url, { auth: {} }), 'authentication unavailable');
    } finally {
      closeAll();
      await down.stop();
    }
  });
});

describe('authentication endpoint: requests in flight bounded (authMaxPending)', { skip }, () => {
  let gw;
  let endpoint;
  const hanging = [];
  before(async () => {
    endpoint = http.createServer((req, res) => { hanging.push(res); }); // never answers
    await new Promise((resolve) => endpoint.listen(0, HOST, resolve));
    gw = await startServer({
      app: 'none',
      settings: { authUrl: `http://${HOST}:${endpoint.address().port}/auth`, authTimeout: 3000, authMaxPending: 1 },
    });
  });
  after(async () => {
    closeAll();
    for (const r of hanging) r.destroy();
    if (endpoint) {
      endpoint.closeAllConnections();
      await new Promise((resolve) => endpoint.close(resolve));
    }
    if (gw) await gw.stop();
  });

  test('past authMaxPending a CONNECT is refused at once; the one in flight waits for its timeout', async () => {
    const held = waitFor(endpoint, 'request');
    const firstErr = refused(gw.url);
    await held; // the first request is in flight
    const t0 = Date.now();
    assert.equal(await refused(gw.url), 'authentication unavailable');
    assert.ok(Date.now() - t0 < 2500, 'refused before the first one timed out');
    assert.equal(hanging.length, 1, 'the second CONNECT was not sent to the endpoint');
    assert.equal(await firstErr, 'authentication unavailable');
  });
});
