'use strict';
// @socket.io/redis-emitter 5.1, run as a separate Node process, drives a
// siogate node (adapter = redis): emits to all / a room / a namespace,
// socketsJoin / socketsLeave / disconnectSockets, serverSideEmit.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { connected, closeAll, ask, recorder, waitFor, nextDisconnect } = require('./lib/util');
const { startCluster, until } = require('./lib/cluster');
const { startNodePeer, runEmitter } = require('./node-peer');

const skip = process.env.SG_REF === '1' && 'a siogate node with the Redis adapter (the reference server has none)';

describe('redis-emitter drives siogate', { skip }, () => {
  let cluster;
  let rds;
  let sg;
  before(async () => {
    cluster = await startCluster({ nodes: 1, nsps: ['/', '/custom'] });
    ({ redis: rds, nodes: [sg] } = cluster);
  });
  after(async () => {
    closeAll();
    if (cluster) await cluster.stop();
  });

  test('emit to all, to a room (with except), to a namespace; binary intact', async () => {
    const a = await connected(sg.url);
    const b = await connected(sg.url);
    const c = await connected(sg.url + '/custom');
    await ask(a, 'join', 'em-room');
    await ask(b, 'join', 'em-room');
    await ask(b, 'join', 'em-excluded');
    const rec = [a, b, c].map((s) => recorder(s, 'em'));
    await runEmitter(rds.url, [
      { op: 'emit', args: ['em', 'all', { $buffer: [1, 2] }] },
      { op: 'emit', to: ['em-room'], except: ['em-excluded'], args: ['em', 'room'] },
      { op: 'emit', nsp: '/custom', args: ['em', 'custom'] },
      { op: 'emit', args: ['em', 'end'] },
      { op: 'emit', nsp: '/custom', args: ['em', 'end'] },
    ]);
    for (const r of rec) await r.match((m) => m === 'end');
    const texts = rec.map((r) => r.items.map((x) => x[0]));
    assert.deepEqual(texts[0], ['all', 'room', 'end']);
    assert.deepEqual(texts[1], ['all', 'end']);
    assert.deepEqual(texts[2], ['custom', 'end']);
    assert.deepEqual([...rec[0].items[0][1]], [1, 2]);
  });

  test('Dates (msgpack Timestamp ext) reach clients as Date#toJSON strings', async () => {
    const a = await connected(sg.url);
    const got = waitFor(a, 'when');
    const dates = [1700000000123, 1700000000000, -1, 253402300800000];
    await runEmitter(rds.url, [
      { op: 'emit', args: ['when', ...dates.map(($date) => ({ $date })), { at: { $date: 0 } }] },
    ]);
    const args = await got;
    assert.deepEqual(args, [
      '2023-11-14T22:13:20.123Z', '2023-11-14T22:13:20.000Z', '1969-12-31T23:59:59.999Z',
      '+010000-01-01T00:00:00.000Z', { at: '1970-01-01T00:00:00.000Z' },
    ]);
    // the same strings a Node server sends its clients for these Dates
    assert.deepEqual(args.slice(0, 4), JSON.parse(JSON.stringify(dates.map((t) => new Date(t)))));
  });

  test('socketsJoin / socketsLeave / disconnectSockets', async () => {
    const a = await connected(sg.url);
    await ask(a, 'join', 'ej-src');
    const roomsOf = async () => (await ask(a, 'rooms'))[0];
    await runEmitter(rds.url, [{ op: 'socketsJoin', to: ['ej-src'], args: ['ej-new'] }]);
    await until(async () => (await roomsOf()).includes('ej-new'), 10000, 'socketsJoin applied');
    await runEmitter(rds.url, [{ op: 'socketsLeave', to: ['ej-src'], args: ['ej-new'] }]);
    await until(async () => !(await roomsOf()).includes('ej-new'), 10000, 'socketsLeave applied');
    const d = nextDisconnect(a);
    await runEmitter(rds.url, [{ op: 'disconnectSockets', to: ['ej-src'], args: [false] }]);
    assert.equal(await d, 'io server disconnect');
  });

  test('disconnectSockets(true): the client sees "io server disconnect" on every transport (it must not reconnect by itself)', async () => {
    for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
      const c = await connected(sg.url, { transports });
      await ask(c, 'join', 'ej-kick');
      const d = nextDisconnect(c);
      await runEmitter(rds.url, [{ op: 'disconnectSockets', to: ['ej-kick'], args: [true] }]);
      assert.equal(await d, 'io server disconnect', transports.join(','));
      assert.equal(c.active, false);
    }
  });

  test('serverSideEmit reaches siogate\'s handlers (ping -> pong to the cluster)', async () => {
    // A Node peer observes the pong that siogate's ping handler emits.
    const node = await startNodePeer({ redisUrl: rds.url });
    try {
      await cluster.waitReady({ subscribers: 2, nsps: ['/'] }); // siogate and the Node peer
      const pong = waitFor(node.io, 'pong');
      await runEmitter(rds.url, [{ op: 'serverSideEmit', args: ['ping', 'from-emitter', 3] }]);
      assert.deepEqual(await pong, ['from-emitter', 3]);
    } finally {
      await node.stop();
    }
  });
});
