'use strict';
// A server-side close (socket.disconnect(true)) that lands while a polling
// client is upgrading and has no GET pending: the close waits for the next
// poll, and when the upgrade completes instead, the new WebSocket must be
// closed (a WebSocket client ignores a close packet). siogate-only: it uses
// the chat app's "legacy remote" hook.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, nextDisconnect, RawPolling, RawWS, wsUrl } = require('./lib/util');

describe('close during upgrade', { skip: process.env.SG_REF ? 'uses a siogate test hook' : false }, () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.stop(); });

  test('a close queued for the next poll closes the WebSocket that completes the upgrade', async () => {
    const p = new RawPolling(srv.url);
    const id = await p.connectSio();
    const probe = new RawWS(wsUrl(srv.url, `&sid=${encodeURIComponent(p.sid)}`));
    await probe.opened();
    probe.send('2probe');
    assert.equal(await probe.next(), '3probe');

    // No GET is pending now: the close is queued for the next poll.
    const admin = await connected(srv.url, { transports: ['websocket'] });
    assert.deepEqual(await ask(admin, 'legacy remote', { op: 'disconnect', id, close: true }), [{ err: null }]);

    probe.send('5');
    await probe.waitClose();
    // the session is gone for good
    assert.equal((await p.get()).status, 400);
    assert.ok(admin.connected);
  });

  test('official clients closed by the server right after connecting (upgrade racing) always see the close', async () => {
    const admin = await connected(srv.url, { transports: ['websocket'] });
    for (let i = 0; i < 30; i++) {
      const c = await connected(srv.url); // polling first, upgrade under way
      const d = nextDisconnect(c);
      await ask(admin, 'legacy remote', { op: 'disconnect', id: c.id, close: true });
      // The DISCONNECT goes out first, whichever transport carries it, so
      // the client knows it was kicked (and does not reconnect), as with Node.
      assert.equal(await d, 'io server disconnect', `iteration ${i}`);
    }
  });
});
