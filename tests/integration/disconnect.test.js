'use strict';
// Disconnect reasons. Client side: "io server disconnect" / "io client
// disconnect". Server side, through the testkit app's hook: an observer
// socket in room "observers" receives "peer disconnect" {id, reason} for
// every socket of the namespace that goes away.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const {
  connected, manager, waitConnect, closeAll, ask, recorder, nextDisconnect, RawWS, RawPolling, wsUrl,
} = require('./lib/util');

for (const transports of [['polling'], ['websocket']]) {
  describe(`disconnect over ${transports[0]}`, () => {
    let srv;
    let observer;
    let peers;
    before(async () => {
      srv = await startServer();
      observer = await connected(srv.url, { transports: ['websocket'] });
      await ask(observer, 'join', 'observers');
      peers = recorder(observer, 'peer disconnect');
    });
    after(async () => { closeAll(); await srv.stop(); });

    const reasonFor = async (id) => (await peers.match((p) => p.id === id))[0].reason;

    test('server-side disconnect: client sees "io server disconnect", server "server namespace disconnect"', async () => {
      const s = await connected(srv.url, { transports });
      const id = s.id;
      const reason = nextDisconnect(s);
      s.emit('disconnect me');
      assert.equal(await reason, 'io server disconnect');
      assert.equal(s.connected, false);
      assert.equal(await reasonFor(id), 'server namespace disconnect');
    });

    test('client-side disconnect: client sees "io client disconnect", server "client namespace disconnect"', async () => {
      const s = await connected(srv.url, { transports });
      const id = s.id;
      const reason = nextDisconnect(s);
      s.disconnect();
      assert.equal(await reason, 'io client disconnect');
      assert.equal(await reasonFor(id), 'client namespace disconnect');
    });

    test('closing the whole connection: server sees "transport close" for every namespace', async () => {
      const m = manager(srv.url, { transports });
      const a = m.socket('/');
      const b = m.socket('/custom');
      const obsCustom = await connected(`${srv.url}/custom`, { transports: ['websocket'] });
      await ask(obsCustom, 'join', 'observers');
      const peersCustom = recorder(obsCustom, 'peer disconnect');
      await Promise.all([waitConnect(a), waitConnect(b)]);
      const ids = [a.id, b.id];
      m.engine.close();
      assert.equal(await reasonFor(ids[0]), 'transport close');
      assert.equal((await peersCustom.match((p) => p.id === ids[1]))[0].reason, 'transport close');
    });

    test('socket.disconnect(true): every namespace of the client gets "io server disconnect" (no reconnection), the server "server namespace disconnect"', async () => {
      // A manager that would reconnect on "transport close": a kicked user
      // must not come straight back.
      const m = manager(srv.url, { transports, reconnection: true, reconnectionDelay: 50 });
      const a = m.socket('/');
      const b = m.socket('/custom');
      const obsCustom = await connected(`${srv.url}/custom`, { transports: ['websocket'] });
      await ask(obsCustom, 'join', 'observers');
      const peersCustom = recorder(obsCustom, 'peer disconnect');
      await Promise.all([waitConnect(a), waitConnect(b)]);
      const ids = [a.id, b.id];
      const ra = nextDisconnect(a);
      const rb = nextDisconnect(b);
      const engineClosed = new Promise((resolve) => m.engine.once('close', resolve));
      a.emit('disconnect me', true);
      assert.equal(await ra, 'io server disconnect');
      assert.equal(await rb, 'io server disconnect');
      assert.equal(await reasonFor(ids[0]), 'server namespace disconnect');
      assert.equal((await peersCustom.match((p) => p.id === ids[1]))[0].reason, 'server namespace disconnect');
      await engineClosed; // the connection itself is closed too
      assert.equal(a.active, false);
      assert.equal(b.active, false);
    });

    test('a server-side disconnect of one namespace leaves the other namespace connected', async () => {
      const m = manager(srv.url, { transports });
      const a = m.socket('/');
      const b = m.socket('/custom');
      await Promise.all([waitConnect(a), waitConnect(b)]);
      const reason = nextDisconnect(b);
      b.emit('disconnect me');
      assert.equal(await reason, 'io server disconnect');
      assert.ok(a.connected);
      assert.deepEqual(await ask(a, 'echo', 'a alive'), ['a alive']);
      // no automatic reconnection after a server disconnect
      assert.equal(b.connected, false);
      assert.equal(b.active, false);
    });
  });
}

describe('disconnect reasons of raw clients', () => {
  let srv;
  let observer;
  let peers;
  before(async () => {
    srv = await startServer();
    observer = await connected(srv.url, { transports: ['websocket'] });
    await ask(observer, 'join', 'observers');
    peers = recorder(observer, 'peer disconnect');
  });
  after(async () => { closeAll(); await srv.stop(); });
  const reasonFor = async (id) => (await peers.match((p) => p.id === id))[0].reason;

  async function rawWsSocket() {
    const ws = new RawWS(wsUrl(srv.url));
    await ws.until((m) => m[0] === '0');
    ws.send('40');
    const id = JSON.parse((await ws.until((m) => m.startsWith('40'))).slice(2)).sid;
    return { ws, id };
  }

  test('WebSocket dropped without a close packet -> "transport close"', async () => {
    const { ws, id } = await rawWsSocket();
    ws.close();
    assert.equal(await reasonFor(id), 'transport close');
  });

  test('polling client posting the close packet "1" -> "transport close"', async () => {
    const p = new RawPolling(srv.url);
    const id = await p.connectSio();
    await p.post('1');
    assert.equal(await reasonFor(id), 'transport close');
  });

  // Node: a Socket.IO-level decoding error makes socket.io close the Engine.IO
  // connection itself, so the socket's reason is "forced close".
  test('malformed Socket.IO packet -> "forced close"', async () => {
    const { ws, id } = await rawWsSocket();
    ws.send('42{"not":"an array"}');
    assert.equal(await reasonFor(id), 'forced close');
    await ws.waitClose();
  });

  // Node: an Engine.IO packet that cannot be decoded -> "parse error".
  test('undecodable Engine.IO packet -> "parse error"', async () => {
    const { ws, id } = await rawWsSocket();
    ws.send('9garbage');
    assert.equal(await reasonFor(id), 'parse error');
    await ws.waitClose();
  });

  test('raw DISCONNECT packet "41" -> "client namespace disconnect", connection stays open', async () => {
    const { ws, id } = await rawWsSocket();
    ws.send('41');
    assert.equal(await reasonFor(id), 'client namespace disconnect');
    ws.send('40');
    assert.match(await ws.until((m) => m.startsWith('40')), /^40\{"sid":"[^"]+"\}$/);
    ws.close();
  });

  test('server-side disconnect sends the DISCONNECT packet to the client', async () => {
    const { ws, id } = await rawWsSocket();
    ws.send('42["disconnect me"]');
    assert.equal(await ws.until((m) => m[0] === '4'), '41');
    assert.equal(await reasonFor(id), 'server namespace disconnect');
    ws.close();
  });
});
