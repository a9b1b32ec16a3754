'use strict';
// Namespaces: "/" and "/custom" multiplexed over one Engine.IO connection,
// unknown namespace refused, extra namespaces from the `namespaces` setting,
// per-namespace isolation of rooms and broadcasts.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { manager, connected, closeAll, ask, waitFor, waitConnect, recorder, barrier, RawWS, wsUrl } = require('./lib/util');

for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
  describe(`namespaces over ${transports.join('+')}`, () => {
    let srv;
    before(async () => { srv = await startServer({ settings: { namespaces: '/extra,/other' } }); });
    after(async () => { closeAll(); await srv.stop(); });

    test('"/" and "/custom" share one Engine.IO connection and have distinct socket ids', async () => {
      const m = manager(srv.url, { transports });
      // the manager connects each new socket by itself (autoConnect)
      const main = m.socket('/');
      const custom = m.socket('/custom');
      await Promise.all([waitConnect(main), waitConnect(custom)]);
      assert.equal(m.engine, main.io.engine);
      assert.ok(main.id && custom.id);
      assert.notEqual(main.id, custom.id);
      assert.notEqual(main.id, m.engine.id, 'the Socket.IO id must not be the Engine.IO sid');
      assert.notEqual(custom.id, m.engine.id);
      assert.deepEqual(await ask(main, 'echo', 'main'), ['main']);
      assert.deepEqual(await ask(custom, 'echo', 'custom'), ['custom']);
      assert.deepEqual(await ask(main, 'rooms'), [[main.id]]);
      assert.deepEqual(await ask(custom, 'rooms'), [[custom.id]]);
    });

    test('unknown namespace -> connect_error "Invalid namespace", other namespaces unaffected', async () => {
      const m = manager(srv.url, { transports });
      const main = m.socket('/');
      await waitConnect(main);
      const bad = m.socket('/does-not-exist');
      const [err] = await waitFor(bad, 'connect_error');
      assert.equal(err.message, 'Invalid namespace');
      assert.equal(bad.connected, false);
      assert.deepEqual(await ask(main, 'echo', 1, 2), [1, 2]);
    });

    test('extra namespaces from the `namespaces` setting accept connections', async () => {
      const m = manager(srv.url, { transports });
      const extra = m.socket('/extra');
      const other = m.socket('/other');
      await Promise.all([waitConnect(extra), waitConnect(other)]);
      assert.notEqual(extra.id, other.id);
    });

    test('leaving one namespace keeps the others working on the same connection', async () => {
      const m = manager(srv.url, { transports });
      const main = m.socket('/');
      const custom = m.socket('/custom');
      await Promise.all([waitConnect(main), waitConnect(custom)]);
      custom.disconnect();
      assert.deepEqual(await ask(main, 'echo', 'alive'), ['alive']);
      // and the namespace can be joined again
      custom.connect();
      await waitConnect(custom);
      assert.deepEqual(await ask(custom, 'echo', 'back'), ['back']);
    });

    test('broadcasts and rooms are isolated per namespace', async () => {
      const a = await connected(srv.url, { transports });
      const b = await connected(`${srv.url}/custom`, { transports });
      const c = await connected(`${srv.url}/custom`, { transports });
      const aMsgs = recorder(a, 'message');
      const bMsgs = recorder(b, 'message');
      await ask(a, 'join', 'shared-name');
      await ask(b, 'join', 'shared-name');
      // c (on /custom) broadcasts to room "shared-name" of /custom: b gets it, a (on /) does not
      c.emit('broadcast', 'shared-name', 'custom only');
      await bMsgs.match((m) => m === 'custom only');
      // and a broadcast to everyone on /custom does not leak to /
      c.emit('broadcast', null, 'custom everyone');
      await bMsgs.match((m) => m === 'custom everyone');
      await barrier(c);
      // sentinel on / : when a sees it, nothing from /custom arrived before
      const d = await connected(srv.url, { transports });
      d.emit('broadcast', null, 'sentinel');
      await aMsgs.match((m) => m === 'sentinel');
      assert.deepEqual(aMsgs.items, [['sentinel']]);
    });
  });
}

describe('raw namespace CONNECT forms', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.stop(); });

  test('CONNECT reply carries a sid; "40/custom," and "40/custom" both join /custom; unknown -> 44', async () => {
    const ws = new RawWS(wsUrl(srv.url));
    await ws.until((m) => m[0] === '0');
    ws.send('40');
    const main = await ws.until((m) => m.startsWith('40'));
    assert.match(main, /^40\{"sid":"[^"]+"\}$/);
    ws.send('40/custom,');
    const custom = await ws.until((m) => m.startsWith('40/custom,'));
    assert.match(custom, /^40\/custom,\{"sid":"[^"]+"\}$/);
    ws.send('40/nope,');
    assert.equal(await ws.until((m) => m.startsWith('44')), '44/nope,{"message":"Invalid namespace"}');
    ws.send('42/custom,1["echo","x"]');
    assert.equal(await ws.until((m) => m.startsWith('43')), '43/custom,1["x"]');
    ws.send('41/custom,');
    ws.send('423["echo","z"]');
    assert.equal(await ws.until((m) => m.startsWith('43')), '433["z"]');
    ws.close();

    const ws2 = new RawWS(wsUrl(srv.url));
    await ws2.until((m) => m[0] === '0');
    ws2.send('40/custom');
    assert.match(await ws2.until((m) => m.startsWith('40')), /^40\/custom,\{"sid":"[^"]+"\}$/);
    ws2.close();
  });
});
