'use strict';
// CONNECT payload (auth) and connect middleware: namespace "/auth" refuses
// unless auth.token === "secret", with CONNECT_ERROR message + data.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { client, manager, closeAll, ask, waitFor, waitConnect, RawWS, wsUrl } = require('./lib/util');

for (const transports of [['polling'], ['websocket']]) {
  describe(`auth and middleware over ${transports[0]}`, () => {
    let srv;
    before(async () => { srv = await startServer(); });
    after(async () => { closeAll(); await srv.stop(); });

    test('good token: connects and the server greets with the auth payload', async () => {
      const auth = { token: 'secret', user: 'ana', nested: { n: 1, list: [true, null, 'x'] } };
      const s = client(`${srv.url}/auth`, { transports, auth });
      const greeting = waitFor(s, 'auth');
      await waitConnect(s);
      const [payload] = await greeting;
      assert.deepEqual(payload, auth);
      assert.deepEqual(await ask(s, 'handshake').then(([h]) => h.auth), auth);
    });

    test('bad token: connect_error "unauthorized" with data {reason: "bad token"}', async () => {
      const s = client(`${srv.url}/auth`, { transports, auth: { token: 'wrong' } });
      let connectedEvent = false;
      s.on('connect', () => { connectedEvent = true; });
      const [err] = await waitFor(s, 'connect_error');
      assert.equal(err.message, 'unauthorized');
      assert.deepEqual(err.data, { reason: 'bad token' });
      assert.equal(s.connected, false);
      assert.equal(connectedEvent, false);
    });

    test('no auth at all is refused the same way', async () => {
      const s = client(`${srv.url}/auth`, { transports });
      const [err] = await waitFor(s, 'connect_error');
      assert.equal(err.message, 'unauthorized');
      assert.deepEqual(err.data, { reason: 'bad token' });
    });

    test('a refused namespace does not affect other namespaces on the same connection', async () => {
      const m = manager(srv.url, { transports });
      const main = m.socket('/');
      await waitConnect(main);
      const bad = m.socket('/auth', { auth: { token: 'nope' } });
      const [err] = await waitFor(bad, 'connect_error');
      assert.equal(err.message, 'unauthorized');
      assert.ok(main.connected);
      assert.deepEqual(await ask(main, 'echo', 'ok'), ['ok']);
      // a good token on a new connection still works afterwards
      const good = client(`${srv.url}/auth`, { transports, auth: { token: 'secret' } });
      const greeting = waitFor(good, 'auth');
      await waitConnect(good);
      assert.deepEqual((await greeting)[0], { token: 'secret' });
    });

    test('main namespace without auth sees {} as auth', async () => {
      const s = client(srv.url, { transports });
      await waitConnect(s);
      const [hs] = await ask(s, 'handshake');
      assert.deepEqual(hs.auth, {});
    });
  });
}

describe('raw CONNECT_ERROR encoding', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.stop(); });

  test('refusal is 44/auth,{"message":"unauthorized","data":{"reason":"bad token"}} and the connection stays open', async () => {
    const ws = new RawWS(wsUrl(srv.url));
    await ws.until((m) => m[0] === '0');
    ws.send('40/auth,{"token":"bad"}');
    assert.equal(await ws.until((m) => m.startsWith('44')), '44/auth,{"message":"unauthorized","data":{"reason":"bad token"}}');
    ws.send('40/auth,{"token":"secret"}');
    assert.match(await ws.until((m) => m.startsWith('40')), /^40\/auth,\{"sid":"[^"]+"\}$/);
    assert.equal(await ws.until((m) => m.startsWith('42')), '42/auth,["auth",{"token":"secret"}]');
    ws.close();
  });
});
