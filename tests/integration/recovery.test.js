'use strict';
// Connection state recovery (connectionStateRecovery, as Node's socket.io
// 4.8 option) on one server with the in-memory adapter, with the official
// socket.io-client 4.8.4, which keeps the session's pid and the offset of
// the last packet it got and sends them (auth {pid, offset}) when it
// reconnects by itself.
//
// The network is cut by a TCP proxy (lib/tcp-proxy.js) between the client
// and the server: every connection is reset, and new ones are refused until
// the test lets the client back in. Nothing waits on time except the expiry
// test: the server is seen to notice each disconnect (the testkit reports it
// with its reason to the room "observers"), each step waits for its event.
//
// SG_REF=1 runs the same tests against Node's socket.io 4.8.4 with the same
// options (lib/recovery.js, in this process), except those of guarantees
// Node does not give.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { connected, closeAll, ask, recorder, waitFor, waitConnect, RawWS, wsUrl, DEFAULT_WAIT_MS } = require('./lib/util');
const { startServer, useRef } = require('./lib/server');
const { startProxy } = require('./lib/tcp-proxy');
const {
  RECOVERABLE, DATA, recoveringManager, dropClients, recoveringClient, nextConnect, payloads, offsets, until,
  fetchSocket, startNodeServer, sleep, observer, untilConnect, cut, recoveringMember, sendWhileAway,
} = require('./lib/recovery');

/** The server under test: siogate (memory adapter) or, with SG_REF=1,
 *  Node's socket.io 4.8.4 in this process with the same options. */
function start(settings = {}) {
  const s = { connectionStateRecovery: true, ...settings };
  if (useRef) {
    return startNodeServer({
      recovery: s.connectionStateRecovery !== false,
      maxDisconnectionDuration: s.maxDisconnectionDuration ? Number(s.maxDisconnectionDuration) : undefined,
      skipMiddlewares: String(s.skipMiddlewares) !== 'false',
    });
  }
  return startServer({ settings: s });
}

const skipRef = useRef && 'a guarantee Node 4.8.4 does not give';

describe('connection state recovery, memory adapter', () => {
  let srv;
  let obs;
  let sender;
  before(async () => {
    srv = await start();
    obs = await observer(srv.url);
    sender = await connected(srv.url);
  });
  after(async () => {
    closeAll();
    if (srv) await srv.stop();
  });

  for (const transports of [['websocket'], ['polling'], ['polling', 'websocket']]) {
    test(`${transports.join(' + ')}: after a network cut the client gets its session back (same id, rooms, data) and every missed packet once, in order, before new ones`, async () => {
      const proxy = await startProxy(srv.port);
      try {
        const { c, msgs, id } = await recoveringMember(proxy, sender, transports);
        const disc = waitFor(c, 'disconnect');
        await cut(proxy, transports);
        const [clientReason] = await disc;
        assert.ok(['transport close', 'transport error'].includes(clientReason), clientReason);
        const reason = await obs.reason(id);
        assert.ok(RECOVERABLE.has(reason), `server-side reason "${reason}" is recoverable`);

        const missed = await sendWhileAway(sender, id, 'missed');
        const back = nextConnect(c, msgs);
        proxy.restore();
        const r = await back;
        assert.equal(r.recovered, true, 'socket.recovered');
        assert.equal(r.id, id, 'same socket id');
        // the missed packets came ahead of "connect", as in Node
        assert.equal(r.before, 2 + missed.length);

        sender.emit('broadcast', 'r', 'post', 1);
        await msgs.count(2 + missed.length + 1);
        assert.deepEqual(payloads(msgs.items), [['pre', 1], ['pre', 2], ...missed, ['post', 1]]);
        // each with its offset, none twice; the client resumes from the last
        const offs = offsets(msgs.items);
        assert.ok(offs.every((o) => typeof o === 'string' && o.length > 0), JSON.stringify(offs));
        assert.equal(new Set(offs).size, offs.length);
        assert.deepEqual(await ask(c, 'rooms'), [[id, 'r', 'r2'].sort()]);
        assert.deepEqual((await fetchSocket(sender, id)).data, DATA);
        // nothing else came (a barrier through the same server)
        sender.emit('broadcast', null, 'end');
        await msgs.match((m) => m === 'end');
        assert.equal(msgs.items.length, 2 + missed.length + 2);
      } finally {
        dropClients();
        await proxy.close();
      }
    });
  }

  test('rooms left before the cut stay left; volatile packets and packets with acks carry no offset and are not kept', async () => {
    const proxy = await startProxy(srv.port);
    try {
      const { c, msgs, id } = await recoveringMember(proxy, sender, ['websocket']);
      // volatile: no offset
      c.emit('volatile', 'v');
      await msgs.match((m) => m === 'v');
      assert.deepEqual(msgs.items[2], ['v']);
      // an emit with an ack: the handler gets its arguments and the ack only
      const requests = recorder(c, 'request');
      c.on('request', (...a) => a[a.length - 1]('answer'));
      c.emit('emit with ack', 5000, 'q');
      const [result] = await waitFor(c, 'ack result');
      assert.deepEqual(result, { err: null, args: ['answer'] });
      assert.equal(requests.items.length, 1);
      assert.equal(requests.items[0].length, 2, 'no offset in front of the ack');
      assert.equal(requests.items[0][0], 'q');
      // and the broadcast with acks: only the ack (the result, which waits
      // for sockets that never answer, does not matter here)
      const gotRequest = waitFor(c, 'request', DEFAULT_WAIT_MS, (...a) => a.length === 1 && typeof a[0] === 'function');
      sender.emit('broadcast with ack', 1000);
      await gotRequest;
      // (the client takes a string last argument for an offset, so the
      // volatile 'v' is its offset now: give it a real one again)
      sender.emit('broadcast', 'r', 'pre', 3);
      await msgs.match((m, n) => m === 'pre' && n === 3);

      assert.deepEqual(await ask(c, 'leave', 'r2'), [true]);
      proxy.cut();
      assert.ok(RECOVERABLE.has(await obs.reason(id)));
      sender.emit('broadcast', 'r2', 'not for it');
      sender.emit('broadcast', 'r', 'missed');
      await ask(sender, 'echo', 'barrier');
      const back = nextConnect(c, msgs);
      proxy.restore();
      const r = await back;
      assert.deepEqual([r.recovered, r.id], [true, id]);
      assert.deepEqual(msgs.items.map((a) => a.slice(0, 2)), [['pre', 1], ['pre', 2], ['v'], ['pre', 3], ['missed', msgs.items[4][1]]]);
      assert.deepEqual(await ask(c, 'rooms'), [[id, 'r'].sort()]);
    } finally {
      dropClients();
      await proxy.close();
    }
  });

  test('a recovered session recovers again after a second cut', async () => {
    const proxy = await startProxy(srv.port);
    try {
      const { c, msgs, id } = await recoveringMember(proxy, sender, ['websocket']);
      const expected = [['pre', 1], ['pre', 2]];
      for (const [i, round] of ['first', 'second'].entries()) {
        await cut(proxy, ['websocket']);
        assert.ok(RECOVERABLE.has(await obs.reason(id, i + 1)));
        const missed = await sendWhileAway(sender, id, round);
        expected.push(...missed);
        const back = nextConnect(c, msgs);
        proxy.restore();
        const r = await back;
        assert.deepEqual([r.recovered, r.id, r.before], [true, id, expected.length], round);
        assert.deepEqual(payloads(msgs.items), expected, round);
      }
      assert.deepEqual(await ask(c, 'rooms'), [[id, 'r', 'r2'].sort()]);
    } finally {
      dropClients();
      await proxy.close();
    }
  });

  test('two namespaces on one connection are recovered each with its own packets', async () => {
    const proxy = await startProxy(srv.port);
    const senderCustom = await connected(`${srv.url}/custom`);
    const obsCustom = await observer(`${srv.url}/custom`);
    try {
      const m = recoveringManager(proxy.url, { transports: ['websocket'] });
      const root = m.socket('/');
      const custom = m.socket('/custom');
      await Promise.all([waitConnect(root), waitConnect(custom)]);
      const ids = { root: root.id, custom: custom.id };
      const rec = { root: recorder(root, 'message'), custom: recorder(custom, 'message') };
      await ask(root, 'join', 'r');
      await ask(custom, 'join', 'r');
      sender.emit('broadcast', 'r', 'root', 0);
      senderCustom.emit('broadcast', 'r', 'custom', 0);
      await rec.root.count(1);
      await rec.custom.count(1);

      proxy.cut();
      assert.ok(RECOVERABLE.has(await obs.reason(ids.root)));
      assert.ok(RECOVERABLE.has(await obsCustom.reason(ids.custom)));
      sender.emit('broadcast', 'r', 'root', 1);
      senderCustom.emit('broadcast', 'r', 'custom', 1);
      sender.emit('broadcast', null, 'root', 2);
      senderCustom.emit('broadcast', null, 'custom', 2);
      await ask(sender, 'echo', 'barrier');
      await ask(senderCustom, 'echo', 'barrier');

      const back = [nextConnect(root, rec.root), nextConnect(custom, rec.custom)];
      proxy.restore();
      const [r1, r2] = await Promise.all(back);
      assert.deepEqual([r1.recovered, r1.id], [true, ids.root]);
      assert.deepEqual([r2.recovered, r2.id], [true, ids.custom]);
      assert.deepEqual(payloads(rec.root.items), [['root', 0], ['root', 1], ['root', 2]]);
      assert.deepEqual(payloads(rec.custom.items), [['custom', 0], ['custom', 1], ['custom', 2]]);
    } finally {
      dropClients();
      await proxy.close();
    }
  });

  test('the right pid with a wrong offset: a fresh session, and the saved one stays restorable; restored, the missed packets come ahead of the CONNECT', async () => {
    // A raw WebSocket client: its CONNECT reply carries sid and pid.
    const x = new RawWS(wsUrl(srv.url));
    await x.opened();
    x.send('40');
    const hello = JSON.parse((await x.until((m) => m.startsWith('40'))).slice(2));
    assert.equal(typeof hello.sid, 'string');
    assert.equal(typeof hello.pid, 'string');
    sender.emit('broadcast', null, 'raw', 1);
    const first = JSON.parse((await x.until((m) => m.startsWith('42'))).slice(2));
    assert.equal(first[0], 'message');
    const offset = first[first.length - 1];
    x.close(); // no close frame: the connection just ends
    assert.ok(RECOVERABLE.has(await obs.reason(hello.sid)));
    sender.emit('broadcast', null, 'raw', 2);
    await ask(sender, 'echo', 'barrier');

    // The right pid with offsets it never got: fresh sessions.
    const wrong = ['', 'garbage', '-', '+', '$', '*', '0-0', '99999999999999999999-0', `${offset}x`,
      `${offset}${offset}`, 'x'.repeat(65), 'x'.repeat(100000), 12, null, true, [offset], { offset }];
    for (const off of wrong) {
      const y = new RawWS(wsUrl(srv.url));
      await y.opened();
      y.send(`40${JSON.stringify({ pid: hello.pid, offset: off })}`);
      const { before: early, connect: got } = await untilConnect(y);
      const what = `offset ${JSON.stringify(off).slice(0, 40)}`;
      assert.deepEqual(early, [], `${what}: no missed packets`);
      assert.ok(got.startsWith('40{'), `${what}: ${got}`);
      const sid = JSON.parse(got.slice(2)).sid;
      assert.notEqual(sid, hello.sid, `offset ${JSON.stringify(off).slice(0, 40)} must not restore`);
      y.send('40/custom,'); // still a working connection
      await y.until((m) => m.startsWith('40/custom,'));
      y.send('41'); // leaves cleanly: nothing saved
      y.close();
    }

    // The right pid and offset: the session is still there.
    const z = new RawWS(wsUrl(srv.url));
    await z.opened();
    z.send(`40${JSON.stringify({ pid: hello.pid, offset })}`);
    const { before: missed, connect } = await untilConnect(z);
    assert.equal(missed.length, 1, JSON.stringify(missed));
    assert.match(missed[0], /^42\["message","raw",2,"[^"]+"\]$/, 'the missed packet, ahead of the CONNECT');
    assert.deepEqual(JSON.parse(connect.slice(2)), { sid: hello.sid, pid: hello.pid });
    z.send('41');
    z.close();
  });

  test('two connections presenting the same session at once: exactly one gets it', { skip: skipRef }, async () => {
    // (Node 4.8.4's in-memory adapter keeps a session after restoring it:
    // both connections would get the same socket id.)
    const x = new RawWS(wsUrl(srv.url));
    await x.opened();
    x.send('40');
    const hello = JSON.parse((await x.until((m) => m.startsWith('40'))).slice(2));
    sender.emit('broadcast', null, 'dup', 1);
    const first = JSON.parse((await x.until((m) => m.startsWith('42'))).slice(2));
    x.close();
    assert.ok(RECOVERABLE.has(await obs.reason(hello.sid)));
    const ys = [new RawWS(wsUrl(srv.url)), new RawWS(wsUrl(srv.url))];
    await Promise.all(ys.map((y) => y.opened()));
    const auth = JSON.stringify({ pid: hello.pid, offset: first[first.length - 1] });
    for (const y of ys) y.send(`40${auth}`);
    const sids = [];
    for (const y of ys) sids.push(JSON.parse((await y.until((m) => m.startsWith('40'))).slice(2)).sid);
    assert.equal(sids.filter((s) => s === hello.sid).length, 1, JSON.stringify(sids));
    for (const y of ys) y.close();
  });

  test('garbage auth.pid / auth.offset from the official client: a fresh session, the server unharmed', async () => {
    const garbage = [
      { pid: 'no-such-pid', offset: '1-0' },
      { pid: 42, offset: 7 },
      { pid: {}, offset: [] },
      { pid: null, offset: null },
      { pid: true, offset: false },
      { pid: 'x'.repeat(200000), offset: 'y'.repeat(200000) },
      { pid: 'a\u0000b', offset: '\u0000' },
      { pid: '\u2028\u{1F680}', offset: '\u{1F680}-\u2028' },
      { offset: '1-0' },
      { pid: 'only-pid' },
    ];
    const seen = new Set();
    for (const auth of garbage) {
      const c = await connected(srv.url, { auth, transports: ['websocket'] });
      assert.equal(c.recovered, false);
      assert.ok(!seen.has(c.id));
      seen.add(c.id);
      assert.deepEqual(await ask(c, 'rooms'), [[c.id]]);
      c.disconnect();
    }
    assert.deepEqual(await ask(sender, 'echo', 'alive'), ['alive']);
  });
});

describe('connection state recovery: when there is nothing to recover', () => {
  after(() => closeAll());

  test('a session older than maxDisconnectionDuration: a fresh session, new id, no missed packets', async () => {
    const srv = await start({ maxDisconnectionDuration: 1000 });
    const proxy = await startProxy(srv.port);
    try {
      const obs = await observer(srv.url);
      const sender = await connected(srv.url);
      const { c, msgs, id } = await recoveringMember(proxy, sender, ['websocket']);
      proxy.cut();
      assert.ok(RECOVERABLE.has(await obs.reason(id)));
      sender.emit('broadcast', null, 'missed');
      await ask(sender, 'echo', 'barrier');
      // The one wait on time: the session was saved before the server
      // reported the disconnect, so it is older than 1000 ms by then.
      await sleep(1000 + 1500);
      const back = nextConnect(c, msgs);
      proxy.restore();
      const r = await back;
      assert.equal(r.recovered, false);
      assert.notEqual(r.id, id);
      // the client did ask for its session
      const [hs] = await ask(c, 'handshake');
      assert.equal(typeof hs.auth.pid, 'string');
      assert.equal(typeof hs.auth.offset, 'string');
      assert.deepEqual(await ask(c, 'rooms'), [[c.id]]);
      assert.deepEqual((await fetchSocket(sender, c.id)).data, {});
      sender.emit('broadcast', null, 'post');
      await msgs.match((m) => m === 'post');
      assert.deepEqual(payloads(msgs.items), [['pre', 1], ['pre', 2], ['post']]);
    } finally {
      closeAll();
      dropClients();
      await proxy.close();
      await srv.stop();
    }
  });

  test('a server restart is not recoverable with the memory adapter: a fresh session', async () => {
    const srv = await start();
    const proxy = await startProxy(srv.port);
    let srv2 = null;
    try {
      const sender = await connected(srv.url);
      const { c, msgs, id } = await recoveringMember(proxy, sender, ['websocket']);
      const disc = waitFor(c, 'disconnect');
      proxy.pause(); // the client's retries fail until the new server is up
      await srv.stop(); // SIGTERM: "server shutting down" (recoverable, but in this process only)
      const [reason] = await disc;
      assert.notEqual(reason, 'io server disconnect', 'the client reconnects by itself');
      srv2 = await start();
      proxy.setTarget(srv2.port);
      const back = nextConnect(c, msgs);
      proxy.restore();
      const r = await back;
      assert.equal(r.recovered, false);
      assert.notEqual(r.id, id);
      const [hs] = await ask(c, 'handshake');
      assert.equal(typeof hs.auth.pid, 'string', 'the client asked for its session');
      assert.deepEqual(await ask(c, 'rooms'), [[c.id]]);
    } finally {
      closeAll();
      dropClients();
      await proxy.close();
      await srv.stop();
      if (srv2) await srv2.stop();
    }
  });

  test('connectionStateRecovery off: no pid, no offsets, a fresh session after a cut', async () => {
    const srv = await start({ connectionStateRecovery: false });
    const proxy = await startProxy(srv.port);
    try {
      const sender = await connected(srv.url);
      const c = recoveringClient(proxy.url, { transports: ['websocket'] });
      await waitConnect(c);
      const id = c.id;
      const msgs = recorder(c, 'message');
      sender.emit('broadcast', null, 'plain', 1);
      await msgs.count(1);
      assert.deepEqual(msgs.items, [['plain', 1]], 'no offset appended');
      const back = nextConnect(c, msgs);
      proxy.cut();
      await waitFor(c, 'disconnect');
      proxy.restore();
      const r = await back;
      assert.ok(!r.recovered);
      assert.notEqual(r.id, id);
      const [hs] = await ask(c, 'handshake');
      assert.deepEqual(hs.auth, {}, 'the client had no pid to send');
    } finally {
      closeAll();
      dropClients();
      await proxy.close();
      await srv.stop();
    }
  });
});

describe('connection state recovery: the bounds of the in-process store (siogate settings)', { skip: useRef && 'siogate settings (recoveryMaxPackets, recoveryMaxSessions)' }, () => {
  after(() => closeAll());

  test('recoveryMaxPackets: a client whose offset was pushed out gets a fresh session, one within the bound recovers', async () => {
    const srv = await start({ recoveryMaxPackets: 10 });
    const proxy = await startProxy(srv.port);
    try {
      const obs = await observer(srv.url);
      const sender = await connected(srv.url);
      for (const [count, recovers] of [[5, true], [20, false]]) {
        const { c, msgs, id } = await recoveringMember(proxy, sender, ['websocket']);
        proxy.cut();
        assert.ok(RECOVERABLE.has(await obs.reason(id)));
        for (let i = 0; i < count; i++) sender.emit('broadcast', 'r', 'missed', i);
        await ask(sender, 'echo', 'barrier');
        const back = nextConnect(c, msgs);
        proxy.restore();
        const r = await back;
        assert.deepEqual([r.recovered, r.id === id], [recovers, recovers], `${count} missed, 10 kept`);
        if (recovers) assert.deepEqual(payloads(msgs.items).slice(2), Array.from({ length: count }, (_, i) => ['missed', i]));
        else assert.equal(r.before, 2, 'nothing replayed');
        c.io.reconnection(false);
        c.disconnect();
      }
    } finally {
      dropClients();
      await proxy.close();
      await srv.stop();
    }
  });

  test('recoveryMaxSessions: past the bound the oldest saved session goes first', async () => {
    const srv = await start({ recoveryMaxSessions: 2 });
    const proxies = [];
    try {
      const obs = await observer(srv.url);
      const sender = await connected(srv.url);
      const members = [];
      for (let i = 0; i < 3; i++) {
        proxies.push(await startProxy(srv.port));
        members.push(await recoveringMember(proxies[i], sender, ['websocket']));
      }
      // cut one after the other: sessions saved in this order
      for (let i = 0; i < 3; i++) {
        proxies[i].cut();
        assert.ok(RECOVERABLE.has(await obs.reason(members[i].id)));
      }
      const back = members.map((m) => nextConnect(m.c, m.msgs));
      for (const p of proxies) p.restore();
      const got = await Promise.all(back);
      assert.deepEqual(got.map((r, i) => r.recovered && r.id === members[i].id), [false, true, true]);
    } finally {
      dropClients();
      for (const p of proxies) await p.close();
      await srv.stop();
    }
  });
});

describe('connection state recovery and middleware', () => {
  after(() => closeAll());

  /** A client of /auth through the proxy whose token can change between
   *  connections (auth as a function: asked again on every connection). */
  async function authClient(proxy, sender, room = 'r') {
    const state = { token: 'secret' };
    const c = recoveringClient(`${proxy.url}/auth`, { transports: ['websocket'], auth: (cb) => cb({ token: state.token }) });
    const greeted = waitFor(c, 'auth');
    await waitConnect(c);
    // the greeting is a socket.emit: it carries an offset already
    const [greeting, off] = await greeted;
    assert.deepEqual(greeting, { token: 'secret' });
    assert.equal(typeof off, 'string');
    const msgs = recorder(c, 'message');
    await ask(c, 'join', room);
    sender.emit('broadcast', room, 'pre');
    await msgs.count(1);
    return { c, msgs, id: c.id, state };
  }

  test('skipMiddlewares (the default): a recovered socket does not go through the middleware again', async () => {
    const srv = await start();
    const proxy = await startProxy(srv.port);
    try {
      const sender = await connected(`${srv.url}/auth`, { auth: { token: 'secret' } });
      const obs = await observer(`${srv.url}/auth`, { auth: { token: 'secret' } });
      const { c, msgs, id, state } = await authClient(proxy, sender);
      proxy.cut();
      assert.ok(RECOVERABLE.has(await obs.reason(id)));
      sender.emit('broadcast', 'r', 'missed');
      await ask(sender, 'echo', 'barrier');
      state.token = 'revoked'; // the middleware would refuse this one
      const back = nextConnect(c, msgs);
      proxy.restore();
      const r = await back;
      assert.deepEqual([r.recovered, r.id], [true, id]);
      assert.deepEqual(payloads(msgs.items), [['pre'], ['missed']]);
    } finally {
      closeAll();
      dropClients();
      await proxy.close();
      await srv.stop();
    }
  });

  test('skipMiddlewares=false: the middleware runs on a recovering connection, and decides', async () => {
    const srv = await start({ skipMiddlewares: false });
    const proxy = await startProxy(srv.port);
    try {
      const sender = await connected(`${srv.url}/auth`, { auth: { token: 'secret' } });
      const obs = await observer(`${srv.url}/auth`, { auth: { token: 'secret' } });
      const good = await authClient(proxy, sender, 'r-good');
      const bad = await authClient(proxy, sender, 'r-bad');
      proxy.cut();
      assert.ok(RECOVERABLE.has(await obs.reason(good.id)));
      assert.ok(RECOVERABLE.has(await obs.reason(bad.id)));
      sender.emit('broadcast', 'r-good', 'missed');
      sender.emit('broadcast', 'r-bad', 'missed');
      await ask(sender, 'echo', 'barrier');
      bad.state.token = 'revoked';
      // the server's refusal, not a stale failed attempt from the cut
      const refused = new Promise((resolve) => {
        const on = (err) => {
          if (err && err.type === 'TransportError') return;
          bad.c.off('connect_error', on);
          resolve([err]);
        };
        bad.c.on('connect_error', on);
      });
      const back = nextConnect(good.c, good.msgs);
      proxy.restore();
      // the middleware let the good one through: recovered
      const r = await back;
      assert.deepEqual([r.recovered, r.id], [true, good.id]);
      assert.deepEqual(payloads(good.msgs.items), [['pre'], ['missed']]);
      // and refused the other
      const [err] = await refused;
      assert.equal(err.message, 'unauthorized');
      assert.deepEqual(err.data, { reason: 'bad token' });
      assert.equal(bad.c.connected, false);
      assert.deepEqual(payloads(bad.msgs.items), [['pre']], 'the application of the refused client saw nothing more');
      assert.deepEqual(await ask(sender, 'echo', 'alive'), ['alive']);
    } finally {
      closeAll();
      dropClients();
      await proxy.close();
      await srv.stop();
    }
  });
});

describe('connection state recovery: idle clients, and polling connections closed by the client', () => {
  after(() => closeAll());

  test('a client idle (but connected) longer than maxDisconnectionDuration before the cut still recovers', async () => {
    const srv = await start({ maxDisconnectionDuration: 2000 });
    const proxy = await startProxy(srv.port);
    try {
      const obs = await observer(srv.url);
      const sender = await connected(srv.url);
      const { c, msgs, id } = await recoveringMember(proxy, sender, ['websocket']);
      // Connected and idle for longer than maxDisconnectionDuration: its
      // last packet is that old when the cut comes (a lower bound on time).
      await sleep(2000 + 1000);
      proxy.cut();
      assert.ok(RECOVERABLE.has(await obs.reason(id)));
      sender.emit('broadcast', 'r', 'missed');
      await ask(sender, 'echo', 'barrier');
      const back = nextConnect(c, msgs);
      proxy.restore();
      const r = await back;
      // disconnected for far less than 2000 ms
      assert.deepEqual([r.recovered, r.id], [true, id]);
      assert.deepEqual(payloads(msgs.items), [['pre', 1], ['pre', 2], ['missed']]);
    } finally {
      closeAll();
      dropClients();
      await proxy.close();
      await srv.stop();
    }
  });

  test('polling: a held GET whose connection is closed (FIN, not RST) is seen at once, and the client recovers', {
    todo: !useRef && 'siogate notices a held long-polling GET closed with FIN only at the ping timeout (45 s); Node at once ("transport error")',
  }, async () => {
    const srv = await start();
    const proxy = await startProxy(srv.port);
    try {
      const obs = await observer(srv.url);
      const sender = await connected(srv.url);
      const { c, msgs, id } = await recoveringMember(proxy, sender, ['polling']);
      await cut(proxy, ['polling'], { graceful: true });
      // seen gone well before any ping timeout
      const [g] = await recorder(obs.socket, 'peer disconnect').match((x) => x.id === id, DEFAULT_WAIT_MS)
        .catch(() => [null]);
      assert.ok(g && RECOVERABLE.has(g.reason), `the server saw the client go within ${DEFAULT_WAIT_MS} ms`);
      sender.emit('broadcast', 'r', 'missed');
      await ask(sender, 'echo', 'barrier');
      const back = nextConnect(c, msgs);
      proxy.restore();
      const r = await back;
      assert.deepEqual([r.recovered, r.id], [true, id]);
    } finally {
      closeAll();
      dropClients();
      await proxy.close();
      await srv.stop();
    }
  });
});
