'use strict';
// Acknowledgements both ways, with timeouts both ways, and broadcast with acks.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, waitFor, recorder } = require('./lib/util');

const VALUES = [
  'text', '', 'üñíçødé ✓ 😀', 0, -1, 42, 3.5, 1e21, true, false, null,
  [], {}, [1, 'two', [3, [4]], { five: 5 }], { a: { b: { c: [null, true] } }, 'key with space': 'v', 'ключ': 'значение' },
];

for (const transports of [['polling'], ['websocket']]) {
  describe(`acks over ${transports[0]}`, () => {
    let srv;
    before(async () => { srv = await startServer(); });
    after(async () => { closeAll(); await srv.stop(); });

    test('client -> server ack returns the same arguments (callback style)', async () => {
      const s = await connected(srv.url, { transports });
      assert.deepEqual(await ask(s, 'echo', ...VALUES), VALUES);
      assert.deepEqual(await ask(s, 'echo'), [], 'no arguments -> empty ack');
    });

    test('emitWithAck resolves with the first ack argument', async () => {
      const s = await connected(srv.url, { transports });
      assert.deepEqual(await s.emitWithAck('echo', { hello: 'world' }), { hello: 'world' });
      assert.equal(await s.timeout(5000).emitWithAck('echo', 'x', 'y'), 'x');
    });

    test('many concurrent acks each get their own answer', async () => {
      const s = await connected(srv.url, { transports });
      const res = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(s, 'echo', i, `n${i}`)));
      res.forEach((r, i) => assert.deepEqual(r, [i, `n${i}`]));
    });

    test('client-side timeout: an event the server never acks rejects', async () => {
      const s = await connected(srv.url, { transports });
      const t0 = Date.now();
      await assert.rejects(s.timeout(100).emitWithAck('nobody handles this', 1), /operation has timed out/);
      assert.ok(Date.now() - t0 >= 90, 'rejected too early');
      // "broadcast" has no ack either
      await assert.rejects(s.timeout(100).emitWithAck('broadcast', 'no-room-xyz', 1), /operation has timed out/);
      // the connection is fine afterwards
      assert.deepEqual(await ask(s, 'echo', 'fine'), ['fine']);
    });

    test('server -> client ack: "emit with ack" relays the client\'s ack arguments', async () => {
      const s = await connected(srv.url, { transports });
      s.on('request', (...args) => {
        const cb = args.pop();
        assert.equal(typeof cb, 'function', 'the server asked for an ack');
        cb('answer', ...args);
      });
      const result = waitFor(s, 'ack result');
      s.emit('emit with ack', 5000, 'a', 1, { b: [2] });
      assert.deepEqual((await result)[0], { err: null, args: ['answer', 'a', 1, { b: [2] }] });
    });

    test('server -> client ack answered with no arguments', async () => {
      const s = await connected(srv.url, { transports });
      s.on('request', (cb) => cb());
      const result = waitFor(s, 'ack result');
      s.emit('emit with ack', 5000);
      assert.deepEqual((await result)[0], { err: null, args: [] });
    });

    test('server-side timeout: a client that does not answer yields err "timeout"', async () => {
      const s = await connected(srv.url, { transports });
      const got = recorder(s, 'request');
      const result = waitFor(s, 'ack result');
      const t0 = Date.now();
      s.emit('emit with ack', 200, 'ignored');
      const [res] = await result;
      assert.deepEqual(res, { err: 'timeout', args: [] });
      assert.ok(Date.now() - t0 >= 150, `timeout result came after ${Date.now() - t0} ms, expected >= ~200 ms`);
      assert.equal(got.items.length, 1);
      assert.equal(got.items[0][0], 'ignored');
      assert.equal(typeof got.items[0][1], 'function');
    });

    test('a late ack after the server-side timeout is ignored and the connection stays usable', async () => {
      const s = await connected(srv.url, { transports });
      const results = recorder(s, 'ack result');
      let late;
      s.on('request', (...args) => { late = args.pop(); });
      s.emit('emit with ack', 100, 'x');
      await results.count(1);
      assert.deepEqual(results.items[0][0], { err: 'timeout', args: [] });
      late('too late');
      assert.deepEqual(await ask(s, 'echo', 'still ok'), ['still ok']);
      assert.equal(results.items.length, 1, 'no second result for the same request');
      assert.ok(s.connected);
    });
  });
}

describe('broadcast with acks', () => {
  let srv;
  // Each test uses a namespace of its own, so the namespace holds exactly the
  // sockets of that test ("/acks2" comes from the `namespaces` setting).
  before(async () => { srv = await startServer({ settings: { namespaces: '/acks2' } }); });
  after(async () => { closeAll(); await srv.stop(); });

  test('every socket of the namespace (sender included) answers: responses has one entry each', async () => {
    const url = `${srv.url}/custom`;
    const a = await connected(url, { transports: ['websocket'] });
    const b = await connected(url, { transports: ['polling'] });
    const c = await connected(url, { transports: ['websocket'] });
    for (const [s, name] of [[a, 'a'], [b, 'b'], [c, 'c']]) s.on('request', (cb) => cb(name, 'ignored extra'));
    const result = waitFor(a, 'broadcast ack result');
    a.emit('broadcast with ack', 5000);
    const [res] = await result;
    assert.equal(res.err, null);
    assert.deepEqual([...res.responses].sort(), ['a', 'b', 'c']);
  });

  test('one socket does not answer: err "timeout" with the responses received', async () => {
    const url = `${srv.url}/acks2`;
    const a = await connected(url, { transports: ['websocket'] });
    const b = await connected(url, { transports: ['polling'] });
    const c = await connected(url, { transports: ['websocket'] });
    a.on('request', (cb) => cb({ from: 'a' }));
    b.on('request', (cb) => cb({ from: 'b' }));
    c.on('request', () => {}); // never answers
    const result = waitFor(a, 'broadcast ack result');
    a.emit('broadcast with ack', 300);
    const [res] = await result;
    assert.equal(res.err, 'timeout');
    assert.deepEqual(res.responses.map((r) => r.from).sort(), ['a', 'b']);
  });
});
