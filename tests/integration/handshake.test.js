'use strict';
// socket.handshake as the application sees it (chat app's "handshake" event).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask } = require('./lib/util');

for (const transports of [['polling'], ['websocket']]) {
  describe(`handshake over ${transports[0]}`, () => {
    let srv;
    // lws indexes only the headers it knows: the custom one must be named.
    before(async () => { srv = await startServer({ settings: { handshakeHeaders: 'x-test-header' } }); });
    after(async () => { closeAll(); await srv.stop(); });

    test('handshake has headers, time, address, xdomain, secure, issued, url, query, auth', async () => {
      const before = Date.now();
      const s = await connected(srv.url, {
        transports,
        query: { room: 'blue', n: '1' },
        auth: { token: 'abc' },
        extraHeaders: { 'X-Test-Header': 'hello' },
      });
      const [hs] = await ask(s, 'handshake');
      for (const k of ['headers', 'time', 'address', 'xdomain', 'secure', 'issued', 'url', 'query', 'auth']) {
        assert.ok(k in hs, `handshake.${k} missing`);
      }
      assert.equal(hs.address, '127.0.0.1');
      assert.equal(hs.secure, false);
      assert.equal(hs.xdomain, false, 'no Origin header -> not cross-domain');
      assert.equal(hs.headers.host, `127.0.0.1:${srv.port}`);
      assert.equal(hs.headers['x-test-header'], 'hello');
      assert.equal(hs.query.room, 'blue');
      assert.equal(hs.query.n, '1');
      assert.equal(hs.query.EIO, '4');
      assert.equal(hs.query.transport, transports[0]);
      assert.deepEqual(hs.auth, { token: 'abc' });
      assert.equal(typeof hs.issued, 'number');
      assert.ok(hs.issued >= before - 5000 && hs.issued <= Date.now() + 5000, `issued ${hs.issued}`);
      assert.equal(typeof hs.time, 'string');
      assert.ok(!Number.isNaN(Date.parse(hs.time)), `time ${hs.time} is a date string`);
      assert.equal(typeof hs.url, 'string');
      assert.ok(hs.url.startsWith('/socket.io/?'), `url ${hs.url}`);
      assert.match(hs.url, /room=blue/);
    });

    test('an Origin header makes the handshake cross-domain', async () => {
      const s = await connected(srv.url, { transports, extraHeaders: { Origin: 'http://elsewhere.example' } });
      const [hs] = await ask(s, 'handshake');
      assert.equal(hs.headers.origin, 'http://elsewhere.example');
      assert.equal(hs.xdomain, true);
    });
  });
}
