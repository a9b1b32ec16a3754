'use strict';
// Binary data both ways (BINARY_EVENT / BINARY_ACK): single, nested,
// multiple, empty and large Buffers, over polling and WebSocket.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, waitFor, recorder } = require('./lib/util');

const bytes = (...b) => Buffer.from(b);
function big(n, seed) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
  describe(`binary over ${transports.join('+')}`, () => {
    let srv;
    before(async () => { srv = await startServer(); });
    after(async () => { closeAll(); await srv.stop(); });

    test('a single Buffer round-trips as a Buffer', async () => {
      const s = await connected(srv.url, { transports });
      const [back] = await ask(s, 'echo', bytes(1, 2, 3, 0, 255));
      assert.ok(Buffer.isBuffer(back), 'received a Buffer');
      assert.deepEqual(back, bytes(1, 2, 3, 0, 255));
    });

    test('nested and multiple Buffers keep their places; text and numbers around them are kept', async () => {
      const s = await connected(srv.url, { transports });
      const payload = [
        'label',
        bytes(0xde, 0xad),
        { a: [bytes(1), { b: bytes(2, 2) }], n: 7, s: 'x', nested: { deep: [[bytes(3, 3, 3)]] } },
        [bytes(4), 'mid', bytes(5)],
        bytes(),
        { _placeholder: false, num: 'not a placeholder' },
      ];
      const back = await ask(s, 'echo', ...payload);
      assert.deepEqual(back, payload);
      assert.ok(Buffer.isBuffer(back[2].a[1].b));
      assert.ok(Buffer.isBuffer(back[4]) && back[4].length === 0, 'empty Buffer kept');
    });

    test('Uint8Array and ArrayBuffer are sent as binary', async () => {
      const s = await connected(srv.url, { transports });
      const [u8, ab] = await ask(s, 'echo', new Uint8Array([9, 8, 7]), new Uint8Array([6, 5]).buffer);
      assert.deepEqual(u8, bytes(9, 8, 7));
      assert.deepEqual(ab, bytes(6, 5));
    });

    test('a 200 kB Buffer round-trips intact', async () => {
      const s = await connected(srv.url, { transports });
      const payload = big(200 * 1024, 7);
      const [back] = await ask(s, 'echo', payload);
      assert.equal(back.length, payload.length);
      assert.ok(back.equals(payload));
    });

    test('many binary acks in flight at once', async () => {
      const s = await connected(srv.url, { transports });
      const res = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(s, 'echo', i, bytes(i, i + 1), { b: bytes(i) })));
      res.forEach((r, i) => assert.deepEqual(r, [i, bytes(i, i + 1), { b: bytes(i) }]));
    });

    test('binary broadcast reaches other clients on either transport', async () => {
      const sender = await connected(srv.url, { transports });
      const viaPolling = await connected(srv.url, { transports: ['polling'] });
      const viaWs = await connected(srv.url, { transports: ['websocket'] });
      await ask(viaPolling, 'join', 'bin-room');
      await ask(viaWs, 'join', 'bin-room');
      const r1 = recorder(viaPolling, 'message');
      const r2 = recorder(viaWs, 'message');
      sender.emit('broadcast', 'bin-room', 'file', bytes(10, 20, 30), { thumb: bytes(40) });
      for (const r of [r1, r2]) {
        const got = await r.match((m) => m === 'file');
        assert.deepEqual(got, ['file', bytes(10, 20, 30), { thumb: bytes(40) }]);
        assert.ok(Buffer.isBuffer(got[1]));
      }
    });

    test('server -> client binary event, and a binary ack back to the server', async () => {
      const s = await connected(srv.url, { transports });
      const seen = [];
      s.on('request', (...args) => {
        const cb = args.pop();
        seen.push(args);
        cb(bytes(0xca, 0xfe), { inner: bytes(1, 2) }, 'plain');
      });
      const result = waitFor(s, 'ack result');
      s.emit('emit with ack', 5000, bytes(7, 7), { x: [bytes(8)] });
      const [res] = await result;
      assert.deepEqual(seen, [[bytes(7, 7), { x: [bytes(8)] }]]);
      assert.ok(Buffer.isBuffer(seen[0][0]), 'server sent a Buffer');
      assert.equal(res.err, null);
      assert.deepEqual(res.args, [bytes(0xca, 0xfe), { inner: bytes(1, 2) }, 'plain']);
      assert.ok(Buffer.isBuffer(res.args[0]), 'the binary ack came back as binary');
    });
  });
}
