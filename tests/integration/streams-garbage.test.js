'use strict';
// Garbage and foreign entries written straight into the stream (XADD), and,
// for protocol 0.3, garbage on the Pub/Sub channels: bad type values,
// truncated base64 and msgpack, msgpack with lying lengths, missing fields,
// data that is not JSON, huge field counts, odd namespace names, entries
// for namespaces nobody hosts. Two siogate nodes must stay up, log the
// malformed entries (the undecodable ones at most once per 10 s), deliver
// none of them, and still deliver the good entries around them: a node's
// own broadcast, a foreign writer's (uid "emitter", as the Streams
// emitter writes), and a valid entry among 20000 extra fields.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
// @msgpack/msgpack is what @socket.io/redis-streams-adapter encodes with
const { encode } = require('@msgpack/msgpack');
const { connected, closeAll, ask, recorder, DEFAULT_WAIT_MS } = require('./lib/util');
const { startCluster, until } = require('./lib/cluster');

const skip = process.env.SG_REF === '1' && 'siogate nodes with the Streams adapter (the reference server has none)';

const UID = '0123456789abcdef'; // a foreign node
const OPTS = { rooms: [], except: [], flags: {} };
/** data of a broadcast of event `ev` to every socket */
const bjson = (ev, ...args) => JSON.stringify({ packet: { type: 2, data: [ev, ...args] }, opts: OPTS });
const b64 = (v) => Buffer.from(encode(v)).toString('base64');
const raw = (bytes) => Buffer.from(bytes).toString('base64');
/** the fields of one entry */
const entry = (o) => Object.entries(o).flat();

// A valid msgpack entry of event "g", cut short.
const GOOD_B64 = b64({ packet: { type: 2, data: ['g', Buffer.from([1, 2, 3])] }, opts: OPTS });

/** Entries that must never reach a client: every event in them is "g". */
const GARBAGE = [
  ['only junk fields', ['foo', 'bar']],
  ['no fields that count', ['', '']],
  ['nsp missing', entry({ uid: UID, type: '3', data: bjson('g') })],
  ['nsp empty', entry({ uid: UID, nsp: '', type: '3', data: bjson('g') })],
  ['type missing', entry({ uid: UID, nsp: '/', data: bjson('g') })],
  ['type not a number', entry({ uid: UID, nsp: '/', type: 'abc', data: bjson('g') })],
  ['type empty', entry({ uid: UID, nsp: '/', type: '', data: bjson('g') })],
  ['type negative', entry({ uid: UID, nsp: '/', type: '-3', data: bjson('g') })],
  ['type unknown', entry({ uid: UID, nsp: '/', type: '99', data: bjson('g') })],
  ['type 0', entry({ uid: UID, nsp: '/', type: '0', data: bjson('g') })],
  ['type huge', entry({ uid: UID, nsp: '/', type: '99999999999999999999999', data: bjson('g') })],
  ['uid empty', entry({ uid: '', nsp: '/', type: '3', data: bjson('g') })],
  ['uid too long', entry({ uid: 'u'.repeat(5000), nsp: '/', type: '3', data: bjson('g') })],
  ['uid with NUL', [...entry({ uid: Buffer.from('ab\0cd') }), ...entry({ nsp: '/', type: '3', data: bjson('g') })]],
  ['data not JSON', entry({ uid: UID, nsp: '/', type: '3', data: '{not json' })],
  ['data JSON cut short', entry({ uid: UID, nsp: '/', type: '3', data: bjson('g').slice(0, 30) })],
  ['data JSON not an object', entry({ uid: UID, nsp: '/', type: '3', data: '{"packet":1}x' })],
  ['data missing for a broadcast', entry({ uid: UID, nsp: '/', type: '3' })],
  ['packet data not an array', entry({ uid: UID, nsp: '/', type: '3', data: '{"packet":{"type":2,"data":"g"},"opts":{}}' })],
  ['packet not an EVENT', entry({ uid: UID, nsp: '/', type: '3', data: '{"packet":{"type":0,"data":["g"]},"opts":{}}' })],
  ['opts not an object', entry({ uid: UID, nsp: '/', type: '3', data: '{"packet":{"type":2,"data":["g"]},"opts":5}' })],
  ['200000 rooms', entry({ uid: UID, nsp: '/', type: '3', data: JSON.stringify({ packet: { type: 2, data: ['g'] }, opts: { ...OPTS, rooms: Array.from({ length: 200000 }, (_, i) => `r${i}`) } }) })],
  ['base64 cut short', entry({ uid: UID, nsp: '/', type: '3', data: GOOD_B64.slice(0, 41) })],
  ['base64 cut at a quad', entry({ uid: UID, nsp: '/', type: '3', data: GOOD_B64.slice(0, 40) })],
  ['base64 with bad characters', entry({ uid: UID, nsp: '/', type: '3', data: '@@@@!!!!' })],
  ['base64 of 1 MB of zeros', entry({ uid: UID, nsp: '/', type: '3', data: 'A'.repeat(1 << 20) })],
  ['msgpack not a map', entry({ uid: UID, nsp: '/', type: '3', data: b64(['g']) })],
  ['msgpack reserved byte', entry({ uid: UID, nsp: '/', type: '3', data: raw([0xc1]) })],
  ['msgpack map32 claiming 4G entries', entry({ uid: UID, nsp: '/', type: '3', data: raw([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61]) })],
  ['msgpack str32 claiming 4 GB', entry({ uid: UID, nsp: '/', type: '3', data: raw([0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]) })],
  ['msgpack bin32 claiming 4 GB', entry({ uid: UID, nsp: '/', type: '3', data: raw([0x81, 0xa1, 0x61, 0xc6, 0xff, 0xff, 0xff, 0xff, 1]) })],
  ['msgpack array32 claiming 4G elements inside a packet', entry({
    uid: UID, nsp: '/', type: '3',
    data: raw([0x82, ...encode('opts'), ...encode(OPTS), ...encode('packet'),
      0x82, ...encode('type'), 2, ...encode('data'), 0xdd, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x67]),
  })],
  ['msgpack ext type', entry({ uid: UID, nsp: '/', type: '3', data: raw([0x81, 0xa1, 0x61, 0xd4, 0x01, 0x00]) })],
  ['msgpack nested 100000 deep', entry({ uid: UID, nsp: '/', type: '3', data: raw([...Buffer.alloc(100000, 0x91), 0xc0]) })],
  ['msgpack event name binary', entry({ uid: UID, nsp: '/', type: '3', data: b64({ packet: { type: 2, data: [Buffer.from('g')] }, opts: OPTS }) })],
  ['20000 junk fields, no nsp', Array.from({ length: 40000 }, (_, i) => `f${i}`)],
  ['nsp with invalid UTF-8', [...entry({ uid: UID, nsp: Buffer.from([0x2f, 0xff, 0xfe]) }), ...entry({ type: '3', data: bjson('g') })]],
  ['nsp with a NUL after /', [...entry({ uid: UID, nsp: Buffer.from([0x2f, 0x00]) }), ...entry({ type: '3', data: bjson('g') })]],
  ['nsp a number', entry({ uid: UID, nsp: '47', type: '3', data: bjson('g') })],
  ['nsp nobody hosts', entry({ uid: UID, nsp: '/nope', type: '3', data: bjson('g') })],
  ['a response to no request', entry({ uid: UID, nsp: '/', type: '8', data: '{"requestId":"ffffffffffffffff","sockets":[]}' })],
  ['a broadcast ack to no request', entry({ uid: UID, nsp: '/', type: '12', data: b64({ requestId: 'x', packet: Buffer.from('g') }) })],
];

// Undecodable (the reader skips them; one log line per 10 s): these many.
const UNDECODABLE = GARBAGE.filter(([what]) => /^(type (missing|not|empty|negative)|data not JSON|data JSON|base64|msgpack (not|reserved|map32|str32|bin32|array32|ext|nested))/.test(what)).length;

/** Entries on the 0.3 Pub/Sub channels (msgpack of the whole envelope). */
const CHANNEL_GARBAGE = [
  Buffer.alloc(0),
  Buffer.from([0xc1]),
  Buffer.from('{"type":3}'),
  Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]),
  Buffer.from([...Buffer.alloc(100000, 0x91), 0xc0]),
  encode(['g']),
  encode({ type: '3', uid: UID, nsp: '/', data: JSON.parse(bjson('g')) }),
  encode({ type: 3, uid: UID, nsp: 42, data: JSON.parse(bjson('g')) }),
  encode({ type: 3, uid: UID, nsp: null, data: JSON.parse(bjson('g')) }),
  encode({ type: 3, uid: UID, nsp: ['/'], data: JSON.parse(bjson('g')) }),
  encode({ type: 3, uid: 7, nsp: '/', data: JSON.parse(bjson('g')) }),
  encode({ type: 3, nsp: '/', data: JSON.parse(bjson('g')) }),
  encode({ type: 3, uid: UID, nsp: '/', data: 'g' }),
  encode({ type: 3, uid: UID, nsp: '/', data: { packet: { type: 2, data: ['g'] }, opts: OPTS, requestId: 5 } }),
  encode({ type: 7, uid: UID, nsp: '/', data: { opts: OPTS } }),
  encode({ type: 9, uid: UID, nsp: '/', data: { packet: 'ping' } }),
  encode({ type: 11, uid: UID, nsp: '/', data: { requestId: 'nope', clientCount: -1 } }),
];

for (const protocol of ['0.3', '0.2']) {
  describe(`streams protocol ${protocol}: garbage and foreign entries in the stream`, { skip }, () => {
    let cluster;
    let a;
    let b;
    let rc;
    before(async () => {
      const settings = protocol === '0.2' ? { streamsProtocol: '0.2', heartbeatInterval: 500 } : {};
      cluster = await startCluster({ adapter: 'streams', nodes: 2, nsps: ['/', '/custom'], settings });
      [a, b] = cluster.nodes;
      rc = createClient({ url: cluster.redis.url });
      await rc.connect();
    });
    after(async () => {
      closeAll();
      if (rc) await rc.quit();
      if (cluster) await cluster.stop();
    });

    test('dropped and logged; the nodes stay up and deliver the good entries around them', async () => {
      const ca = await connected(a.url);
      const cb = await connected(b.url, { transports: ['websocket'] });
      const cbc = await connected(`${b.url}/custom`);
      const recs = { ca: recorder(ca, 'g'), cb: recorder(cb, 'g'), cbc: recorder(cbc, 'g') };
      const good = [recorder(ca, 'good'), recorder(cb, 'good'), recorder(cbc, 'good')];
      const xadd = (fields) => rc.sendCommand(['XADD', 'socket.io', '*', ...fields]);

      await ask(ca, 'cluster emit', { event: 'good' }, 'before'); // a node's own, into the stream
      for (const [what, fields] of GARBAGE) {
        await xadd(fields).catch((e) => assert.fail(`XADD ${what}: ${e.message}`));
      }
      if (protocol === '0.3') for (const p of CHANNEL_GARBAGE) await rc.publish('socket.io#/#', Buffer.from(p));
      // good entries after the garbage: a node's, the foreign writer's, one
      // among 20000 junk fields (the fields that count win, as in Node)
      await ask(ca, 'cluster emit', { event: 'good' }, 'after', Buffer.from([1]));
      await xadd(entry({ uid: 'emitter', nsp: '/', type: '3', data: bjson('good', 'foreign') }));
      await xadd(entry({ uid: 'emitter', nsp: '/custom', type: '3', data: bjson('good', 'custom') }));
      await xadd([...Array.from({ length: 40000 }, (_, i) => `x${i}`),
        ...entry({ uid: UID, nsp: '/', type: '3', data: b64({ packet: { type: 2, data: ['good', 'many fields'] }, opts: OPTS }) })]);
      // 0.2 counts UID as a node since its first valid entry: it leaves (0.3 ignores this)
      await xadd(entry({ uid: UID, nsp: '/', type: '13' }));
      await xadd(entry({ uid: 'emitter', nsp: '/', type: '3', data: bjson('good', 'end') }));
      await xadd(entry({ uid: 'emitter', nsp: '/custom', type: '3', data: bjson('good', 'end') }));

      // Order holds per writer only (a's entries may land after the foreign
      // ones): wait for everything, then compare.
      const show = (r) => r.items.map(([m, x]) => (x ? `${m} ${Buffer.isBuffer(x) ? [...x] : x}` : m)).sort();
      const want = [['after 1', 'before', 'end', 'foreign', 'many fields'], ['after 1', 'before', 'end', 'foreign', 'many fields'], ['custom', 'end']];
      for (const [i, r] of good.entries()) await r.count(want[i].length);
      for (const [i, r] of good.entries()) assert.deepEqual(show(r), want[i], `good entries at client ${i}`);

      for (const n of [a, b]) {
        assert.ok(n.alive(), 'node still running');
        // undecodable entries: one line, then at most one per 10 s
        await until(() => /skipped malformed entry/.test(n.logs()), DEFAULT_WAIT_MS, 'skipped entries logged');
        const lines = n.logs().split('\n').filter((l) => /skipped malformed entry/.test(l)).length;
        assert.ok(lines >= 1 && lines <= 3, `${lines} "skipped" lines for ${UNDECODABLE} undecodable entries\n${n.logs()}`);
      }
      // still a cluster: requests and broadcasts between the nodes
      const [f] = await ask(ca, 'cluster fetch', {});
      assert.equal(f.err, null);
      assert.ok(f.result.some((s) => s.id === cb.id));
      const [s] = await ask(cb, 'cluster server emit', { event: 'ping', ack: true });
      assert.deepEqual(s, { err: null, responses: ['pong'] });
      // a answered b's request, published after the channel garbage: a has read it all
      for (const [who, r] of Object.entries(recs)) assert.deepEqual(r.items, [], `garbage delivered to ${who}`);
    });

    // cluster_recv.c: "anything malformed is dropped". Node's socket.io-adapter
    // builds `new Set(opts.rooms)`: a room that is no string or number matches
    // no socket, and a number for a list throws; either way nobody is reached.
    test('a broadcast or room operation whose rooms / except are no list of names reaches no socket', async () => {
      const cb = await connected(b.url, { transports: ['websocket'] });
      const hit = recorder(cb, 'hit');
      const end = recorder(cb, 'end');
      let disconnected = null;
      cb.on('disconnect', (r) => { disconnected = r; });
      const xadd = (type, data) => rc.sendCommand(['XADD', 'socket.io', '*', ...entry({ uid: UID, nsp: '/', type: String(type), data: JSON.stringify(data) })]);
      const opts = [{ rooms: [{}] }, { rooms: [null, true] }, { rooms: 'zz' }, { rooms: [], except: 7 }];
      for (const o of opts) {
        await xadd(3, { packet: { type: 2, data: ['hit', o] }, opts: { ...OPTS, ...o } });
        await xadd(4, { opts: { ...OPTS, ...o }, rooms: ['joined'] });
      }
      await xadd(6, { opts: { ...OPTS, rooms: [{}] }, close: false });
      await xadd(3, { packet: { type: 2, data: ['end'] }, opts: OPTS }); // type 3: a good one, last
      await until(() => end.items.length === 1 || disconnected, DEFAULT_WAIT_MS, 'the last entry read');
      assert.deepEqual(hit.items, [], 'broadcasts delivered');
      assert.equal(disconnected, null, 'disconnectSockets applied');
      assert.deepEqual(await ask(cb, 'rooms'), [[cb.id]], 'socketsJoin applied');
    });
  });
}
