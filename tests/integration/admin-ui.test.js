'use strict';
// adminUi=true: the server side of @socket.io/admin-ui 0.5.1 (server/admin_ui.h).
// 1. The /admin namespace protocol driven with socket.io-client, checked
//    against what Node's instrument() sends (node_modules/@socket.io/admin-ui/
//    dist/index.js, "development" mode): login and session ids, config,
//    all_sockets, the live socket/room/event events, server_stats, and the
//    emit / join / leave / _disconnect operations; start-up refuses adminUi
//    without a valid password hash.
// 2. The official UI (node_modules/@socket.io/admin-ui/ui/dist, served by a
//    small static server on another port, so siogate's CORS settings matter)
//    in headless Chromium: log in through its connection form, see
//    siogate's sockets and rooms, disconnect a socket from its details page.
// siogate only (the reference server does not instrument its io).
const { test, before, after, afterEach, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const bcrypt = require('bcryptjs');
const { startServer, freePort, HOST } = require('./lib/server');
const {
  DEFAULT_WAIT_MS, client, manager, connected, waitConnect, closeAll, requireProgram, waitFor, recorder,
  ask, nextDisconnect,
} = require('./lib/util');

const skip = process.env.SG_REF === '1' && 'siogate adminUi (the reference server does not run instrument())';

const USER = 'admin';
const PASSWORD = 'secret';
const HASH = bcrypt.hashSync(PASSWORD, 10);
// Node's instrument() with readonly=false and mode "development"
const NODE_FEATURES = ['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT',
  'AGGREGATED_EVENTS', 'ALL_EVENTS'];
const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const adminSettings = (extra = {}) => ({ adminUi: 'true', adminUiPasswordHash: HASH, ...extra });

/** Every event a socket receives, in order, with waiting. */
function eventLog(socket) {
  const items = [];
  const waiters = new Set();
  socket.onAny((ev, ...args) => {
    items.push({ ev, args, at: Date.now() });
    for (const w of [...waiters]) w();
  });
  return {
    items,
    of: (ev) => items.filter((i) => i.ev === ev).map((i) => i.args),
    /** args of the first `ev` whose args match pred (recorded or to come),
     *  looking at the items from index `from` on */
    async match(ev, pred = () => true, ms = DEFAULT_WAIT_MS, from = 0) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = items.slice(from).find((i) => i.ev === ev && pred(...i.args));
        if (found) return found.args;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`timed out after ${ms} ms waiting for a matching "${ev}"; got: `
            + JSON.stringify(items.map((i) => [i.ev, ...i.args])).slice(0, 4000));
        }
        await new Promise((resolve) => {
          const t = setTimeout(done, left);
          function done() { clearTimeout(t); waiters.delete(done); resolve(); }
          waiters.add(done);
        });
      }
    },
    /** args of the first matching `ev` recorded from now on */
    next(ev, pred = () => true, ms = DEFAULT_WAIT_MS) {
      return this.match(ev, pred, ms, items.length);
    },
  };
}

/** An admin socket logged in (default: user/password); resolves once its
 *  initial state (all_sockets) arrived. */
async function adminLogin(url, auth = { username: USER, password: PASSWORD }, opts = {}) {
  const socket = client(`${url}/admin`, { auth, ...opts });
  const log = eventLog(socket);
  await waitConnect(socket);
  await log.match('all_sockets');
  return { socket, log };
}

/** A rejected connect_error's message. */
async function refusal(url, auth) {
  const socket = client(`${url}/admin`, { auth });
  try {
    await waitConnect(socket);
  } catch (e) {
    return e.message;
  }
  throw new Error(`admin login with ${JSON.stringify(auth)} was accepted`);
}

async function upgraded(socket) {
  const engine = socket.io.engine;
  if (engine.transport.name !== 'websocket') await waitFor(engine, 'upgrade');
}

async function roomsOf(socket) {
  const [rooms] = await ask(socket, 'rooms');
  return rooms;
}

describe('admin namespace protocol', { skip }, () => {
  let srv;
  before(async () => { srv = await startServer({ settings: adminSettings() }); });
  afterEach(() => closeAll());
  after(async () => {
    closeAll();
    if (srv) await srv.stop();
  });

  test('wrong credentials are refused with "invalid credentials"', async () => {
    for (const auth of [
      { username: USER, password: 'wrong' },
      { username: 'root', password: PASSWORD },
      { username: USER },
      { password: PASSWORD },
      {},
      { username: USER, password: 42 },
      { sessionId: '0123456789abcdef' },
      { sessionId: '' },
    ]) {
      assert.equal(await refusal(srv.url, auth), 'invalid credentials', JSON.stringify(auth));
    }
    // the server is fine after the refusals
    await adminLogin(srv.url);
  });

  test('a password login gets a session id (16 hex) that replaces the password', async () => {
    const a = await adminLogin(srv.url);
    const [sessionId] = await a.log.match('session');
    assert.match(sessionId, /^[0-9a-f]{16}$/);

    const b = await adminLogin(srv.url, { sessionId });
    assert.equal(b.log.of('session').length, 0, 'no new session for a session login');
    assert.equal(b.log.of('config').length, 1);
    // a session id also works with a wrong password next to it
    await adminLogin(srv.url, { sessionId, username: USER, password: 'wrong' });

    const c = await adminLogin(srv.url);
    const [other] = await c.log.match('session');
    assert.match(other, /^[0-9a-f]{16}$/);
    assert.notEqual(other, sessionId);
    assert.equal(await refusal(srv.url, { sessionId: sessionId.replace(/.$/, (ch) => (ch === '0' ? '1' : '0')) }),
      'invalid credentials');
  });

  test('config: the supported features, as Node names them (the UI checks these names)', async () => {
    const { log } = await adminLogin(srv.url);
    const [config] = await log.match('config');
    assert.deepEqual(config, { supportedFeatures: NODE_FEATURES });
  });

  test('all_sockets lists every namespace\'s sockets with rooms, transport and handshake', async () => {
    const user = await connected(srv.url, { transports: ['websocket'], auth: { token: 'hidden' }, query: { q: 'v' } });
    assert.deepEqual(await ask(user, 'join', 'room-1'), [true]);
    const poller = await connected(`${srv.url}/custom`, { transports: ['polling'] });
    const { socket: admin, log } = await adminLogin(srv.url);
    const [all] = await log.match('all_sockets');
    assert.ok(Array.isArray(all));

    const mine = all.find((s) => s.id === user.id);
    assert.ok(mine, `user socket ${user.id} in ${JSON.stringify(all)}`);
    assert.equal(mine.nsp, '/');
    assert.deepEqual([...mine.rooms].sort(), [user.id, 'room-1'].sort());
    assert.equal(mine.transport, 'websocket');
    assert.equal(typeof mine.clientId, 'string');
    assert.equal(mine.clientId.length, 12, 'the first 12 characters of the Engine.IO id, as Node');
    assert.deepEqual(mine.data, {});
    const hs = mine.handshake;
    assert.equal(hs.address, '127.0.0.1');
    assert.equal(typeof hs.headers, 'object');
    assert.equal(hs.headers.host, `${HOST}:${srv.port}`);
    assert.equal(hs.query.q, 'v');
    assert.equal(typeof hs.issued, 'number');
    assert.equal(typeof hs.time, 'string');
    assert.match(hs.url, /^\/socket\.io\/\?/);
    assert.equal(hs.secure, false);
    assert.equal(typeof hs.xdomain, 'boolean');
    assert.ok(!('auth' in hs), 'the handshake auth (passwords, tokens) is never shown');

    const other = all.find((s) => s.id === poller.id);
    assert.ok(other, 'a socket of another namespace');
    assert.equal(other.nsp, '/custom');
    assert.equal(other.transport, 'polling');
    assert.notEqual(other.clientId, mine.clientId);
    // as Node: the admin namespace's own sockets are listed too
    assert.ok(all.some((s) => s.id === admin.id && s.nsp === '/admin'));
  });

  test('live events: connect, upgrade, join, event, leave, disconnect', async () => {
    const { log } = await adminLogin(srv.url);
    const user = await connected(srv.url); // polling, then the upgrade
    const [sock, ts] = await log.match('socket_connected', (s) => s.id === user.id);
    assert.equal(sock.nsp, '/');
    assert.equal(sock.transport, 'polling');
    assert.ok(sock.rooms.includes(user.id));
    assert.equal(sock.clientId.length, 12);
    assert.equal(sock.handshake.address, '127.0.0.1');
    assert.ok(!('auth' in sock.handshake));
    assert.match(ts, ISO_RE);

    await upgraded(user);
    const [upd] = await log.match('socket_updated', (u) => u.id === user.id);
    assert.deepEqual(upd, { id: user.id, nsp: '/', transport: 'websocket' });

    assert.deepEqual(await ask(user, 'join', 'live-room'), [true]);
    const joined = await log.match('room_joined', (nsp, room) => room === 'live-room');
    assert.deepEqual(joined.slice(0, 3), ['/', 'live-room', user.id]);
    assert.match(joined[3], ISO_RE);

    // event_received: [event, ...args], the ack callback left out (as Node)
    await ask(user, 'echo', 'x', 2, { y: [3, null] });
    const ev = await log.match('event_received', (nsp, id, args) => args[0] === 'echo' && args[1] === 'x');
    assert.deepEqual(ev.slice(0, 3), ['/', user.id, ['echo', 'x', 2, { y: [3, null] }]]);
    assert.match(ev[3], ISO_RE);
    // binary arguments stay binary
    user.emit('blob', Buffer.from([1, 2, 3]), 'tail');
    const bin = await log.match('event_received', (nsp, id, args) => args[0] === 'blob');
    assert.equal(bin[1], user.id);
    assert.ok(Buffer.from(bin[2][1]).equals(Buffer.from([1, 2, 3])), `got ${JSON.stringify(bin[2])}`);
    assert.equal(bin[2][2], 'tail');

    assert.deepEqual(await ask(user, 'leave', 'live-room'), [true]);
    const left = await log.match('room_left', (nsp, room) => room === 'live-room');
    assert.deepEqual(left.slice(0, 3), ['/', 'live-room', user.id]);
    assert.match(left[3], ISO_RE);

    // another namespace
    const custom = await connected(`${srv.url}/custom`, { transports: ['websocket'] });
    const [cs] = await log.match('socket_connected', (s) => s.id === custom.id);
    assert.equal(cs.nsp, '/custom');
    assert.equal(cs.transport, 'websocket');

    const id = user.id; // socket.id is gone once disconnected
    const customId = custom.id;
    user.disconnect();
    const gone = await log.match('socket_disconnected', (nsp, sid) => sid === id);
    assert.deepEqual(gone.slice(0, 3), ['/', id, 'client namespace disconnect']);
    assert.match(gone[3], ISO_RE);
    custom.io.engine.close();
    const gone2 = await log.match('socket_disconnected', (nsp, sid) => sid === customId);
    assert.deepEqual(gone2.slice(0, 3), ['/custom', customId, 'transport close']);
  });

  test('a socket\'s own room: room_joined when it connects, room_left when it goes (as Node\'s adapter)', async () => {
    // Node's adapter emits join-room / leave-room for every room, the
    // socket's own included; the UI removes a room only on room_left (its
    // socket_disconnected handler does not touch the rooms).
    const { log } = await adminLogin(srv.url);
    const user = await connected(srv.url, { transports: ['websocket'] });
    const id = user.id;
    await log.match('room_joined', (nsp, room, sid) => nsp === '/' && room === id && sid === id);
    user.disconnect();
    await log.match('socket_disconnected', (nsp, sid) => sid === id);
    await log.match('room_left', (nsp, room, sid) => nsp === '/' && room === id && sid === id);
  });

  test('the app\'s handlers are not on /admin (Node: the app listens on its own namespaces)', async () => {
    const { socket: admin } = await adminLogin(srv.url);
    // testkit answers "rooms" and "echo" on its namespaces; on /admin
    // nothing does (with siogate's app on /admin, its "join" / "leave"
    // would replace the admin UI's)
    for (const ev of ['rooms', 'echo']) {
      await assert.rejects(admin.timeout(500).emitWithAck(ev, 'x'), /timed out/, `"${ev}" answered on /admin`);
    }
    assert.ok(admin.connected);
  });

  test('server_stats within 3 s and every 2 s: clients, namespaces, aggregated events', async () => {
    const { log } = await adminLogin(srv.url, undefined, { transports: ['websocket'] });
    const t0 = Date.now();
    const [first] = await log.match('server_stats', () => true, 3000);
    assert.ok(Date.now() - t0 <= 3000);
    assert.equal(typeof first.serverId, 'string');
    assert.equal(first.hostname, os.hostname());
    assert.equal(first.pid, srv.pid);
    assert.equal(typeof first.uptime, 'number');
    assert.ok(first.uptime > 0);
    assert.equal(typeof first.clientsCount, 'number');
    assert.ok(first.clientsCount >= 1);
    assert.equal(typeof first.pollingClientsCount, 'number');
    assert.ok(Array.isArray(first.aggregatedEvents));
    const admin = first.namespaces.find((n) => n.name === '/admin');
    assert.ok(admin && admin.socketsCount >= 1, JSON.stringify(first.namespaces));
    assert.ok(first.namespaces.some((n) => n.name === '/'));

    // a polling-only user: counted as a client and a polling client, its
    // connection and packets in the aggregated events
    const from = log.items.length;
    const user = await connected(srv.url, { transports: ['polling'] });
    await ask(user, 'echo', 'count me');
    // the events since then, over however many ticks they were spread
    const since = () => log.items.slice(from).filter((i) => i.ev === 'server_stats').map((i) => i.args[0]);
    const types = () => new Set(since().flatMap((st) => st.aggregatedEvents.map((e) => e.type)));
    const wanted = ['rawConnection', 'packetsIn', 'bytesIn', 'packetsOut', 'bytesOut'];
    const [st] = await log.next('server_stats', (x) => x.pollingClientsCount >= 1
      && wanted.every((t) => types().has(t)), 6000);
    assert.ok(st.clientsCount >= 2, `clientsCount ${st.clientsCount}`);
    const root = st.namespaces.find((n) => n.name === '/');
    assert.ok(root.socketsCount >= 1);
    for (const e of since().flatMap((x) => x.aggregatedEvents)) {
      assert.equal(typeof e.timestamp, 'number');
      assert.equal(e.timestamp % 1000, 0, 'per second, as Node');
      assert.ok(['rawConnection', 'rawDisconnection', 'packetsIn', 'packetsOut', 'bytesIn', 'bytesOut'].includes(e.type), e.type);
      assert.ok(Number.isInteger(e.count) && e.count > 0);
      if (e.type === 'rawDisconnection') assert.equal(typeof e.subType, 'string');
    }
    // a polling client that goes shows up as a rawDisconnection
    user.io.engine.close();
    const [after] = await log.next('server_stats', (s) => s.aggregatedEvents.some((e) => e.type === 'rawDisconnection'), 5000);
    assert.ok(after.aggregatedEvents.some((e) => e.type === 'rawDisconnection' && e.subType === 'transport close'),
      JSON.stringify(after.aggregatedEvents));
    // the period
    const stats = log.items.filter((i) => i.ev === 'server_stats');
    const last = stats[stats.length - 1].at;
    await log.next('server_stats', () => true, 4000);
    const gap = log.items.filter((i) => i.ev === 'server_stats').pop().at - last;
    assert.ok(gap >= 1000 && gap <= 3500, `stats every ${gap} ms`);
  });

  test('operations: join, leave, emit, _disconnect (by room and by socket id)', async () => {
    const { socket: admin, log } = await adminLogin(srv.url);
    const u1 = await connected(srv.url, { transports: ['websocket'] });
    const u2 = await connected(srv.url, { transports: ['websocket'] });
    await ask(u1, 'join', 'ops-a');
    await ask(u2, 'join', 'ops-b');

    // join(nsp, room, filter): the socket whose id is the filter
    admin.emit('join', '/', 'ops-joined', u1.id);
    await log.match('room_joined', (nsp, room, id) => room === 'ops-joined' && id === u1.id);
    assert.ok((await roomsOf(u1)).includes('ops-joined'));
    assert.ok(!(await roomsOf(u2)).includes('ops-joined'));
    // leave(nsp, room, filter)
    admin.emit('leave', '/', 'ops-joined', u1.id);
    await log.match('room_left', (nsp, room, id) => room === 'ops-joined' && id === u1.id);
    assert.ok(!(await roomsOf(u1)).includes('ops-joined'));
    // no filter: every socket of the namespace (the UI's "clear room" sends none)
    admin.emit('join', '/', 'ops-all');
    await log.match('room_joined', (nsp, room, id) => room === 'ops-all' && id === u2.id);
    assert.ok((await roomsOf(u1)).includes('ops-all'));
    assert.ok((await roomsOf(u2)).includes('ops-all'));
    admin.emit('leave', '/', 'ops-all');
    await log.match('room_left', (nsp, room, id) => room === 'ops-all' && id === u2.id);
    assert.ok(!(await roomsOf(u1)).includes('ops-all'));
    assert.ok(!(await roomsOf(u2)).includes('ops-all'));
    // a room as the filter
    admin.emit('join', '/', 'ops-from-b', 'ops-b');
    await log.match('room_joined', (nsp, room, id) => room === 'ops-from-b' && id === u2.id);
    assert.ok(!(await roomsOf(u1)).includes('ops-from-b'));

    // emit(nsp, filter, ev, ...args)
    const h1 = recorder(u1, 'hello');
    const h2 = recorder(u2, 'hello');
    admin.emit('emit', '/', 'ops-a', 'hello', 1, { x: [2] });
    assert.deepEqual((await h1.count(1))[0], [1, { x: [2] }]);
    admin.emit('emit', '/', '', 'hello', 'everyone');
    assert.deepEqual((await h2.count(1))[0], ['everyone']);
    assert.deepEqual((await h1.count(2))[1], ['everyone']);
    assert.equal(h2.items.length, 1, 'the room-filtered emit did not reach u2');

    // things the UI never sends are ignored, and the admin socket stays
    admin.emit('emit', '/nowhere', '', 'hello', 'x');
    admin.emit('join', 42, null);
    admin.emit('leave');
    admin.emit('_disconnect');
    admin.emit('_disconnect', '/nowhere', true, null);
    admin.emit('emit', '/', null, null);
    await log.next('server_stats', () => true, 4000);
    assert.ok(admin.connected);
    assert.ok(u1.connected && u2.connected);

    // _disconnect(nsp, close=false, room): "io server disconnect" for the room's socket only
    const u2id = u2.id;
    const d2 = nextDisconnect(u2);
    admin.emit('_disconnect', '/', false, 'ops-b');
    assert.equal(await d2, 'io server disconnect');
    const gone = await log.match('socket_disconnected', (nsp, id) => id === u2id);
    assert.equal(gone[2], 'server namespace disconnect');
    assert.deepEqual(await ask(u1, 'echo', 'still here'), ['still here']);

    // by socket id, as the UI's buttons do
    const u3 = await connected(srv.url);
    const d3 = nextDisconnect(u3);
    admin.emit('_disconnect', '/', false, u3.id);
    assert.equal(await d3, 'io server disconnect');

    // close=true closes the whole client (Node: client._disconnect()): every
    // socket of its connection gets a DISCONNECT, then the connection closes
    const m = manager(srv.url, { transports: ['websocket'] });
    const s4 = m.socket('/');
    const s5 = m.socket('/custom');
    await waitConnect(s4);
    await waitConnect(s5);
    await ask(s4, 'join', 'ops-c');
    const closed = waitFor(m, 'close');
    const d4 = nextDisconnect(s4);
    const d5 = nextDisconnect(s5);
    admin.emit('_disconnect', '/', true, 'ops-c');
    assert.equal(await d4, 'io server disconnect');
    assert.equal(await d5, 'io server disconnect', 'the other namespace of that client too');
    await closed;
    assert.deepEqual(await ask(u1, 'echo', 'still here'), ['still here']);
  });
});

describe('adminUiUsername', { skip }, () => {
  let srv;
  before(async () => { srv = await startServer({ settings: adminSettings({ adminUiUsername: 'ops' }) }); });
  after(async () => {
    closeAll();
    if (srv) await srv.stop();
  });

  test('the configured user name logs in, "admin" does not', async () => {
    assert.equal(await refusal(srv.url, { username: 'admin', password: PASSWORD }), 'invalid credentials');
    const { log } = await adminLogin(srv.url, { username: 'ops', password: PASSWORD });
    assert.match((await log.match('session'))[0], /^[0-9a-f]{16}$/);
  });
});

describe('adminUi with the chat app (the default)', { skip }, () => {
  let srv;
  before(async () => { srv = await startServer({ app: 'chat', settings: adminSettings() }); });
  after(async () => {
    closeAll();
    if (srv) await srv.stop(); // no crash, no sanitizer report
  });

  test('join, leave, _disconnect and admin logouts next to the chat\'s users', async () => {
    const a = await adminLogin(srv.url, undefined, { transports: ['websocket'] });
    const user = await connected(srv.url, { transports: ['websocket'] });
    const [joined] = await ask(user, 'add user', 'Ada', 'chat-room');
    assert.equal(joined.room, 'chat-room');
    await a.log.match('room_joined', (nsp, room, id) => room === 'chat-room' && id === user.id);
    a.socket.emit('join', '/', 'extra', user.id);
    await a.log.match('room_joined', (nsp, room, id) => room === 'extra' && id === user.id);
    a.socket.emit('leave', '/', 'extra', user.id);
    await a.log.match('room_left', (nsp, room, id) => room === 'extra' && id === user.id);
    // the chat's handlers are not on /admin
    await assert.rejects(a.socket.timeout(500).emitWithAck('add user', 'Eve', 'x'), /timed out/);
    // a password-logged admin leaves; another one logs in and sees the user's rooms
    a.socket.disconnect();
    const b = await adminLogin(srv.url);
    const [all] = await b.log.match('all_sockets');
    const mine = all.find((x) => x.id === user.id);
    assert.ok(mine, JSON.stringify(all));
    assert.deepEqual([...mine.rooms].sort(), [user.id, 'chat-room'].sort());
    const d = nextDisconnect(user);
    b.socket.emit('_disconnect', '/', false, 'chat-room');
    assert.equal(await d, 'io server disconnect');
  });
});

describe('start-up checks', { skip }, () => {
  for (const [what, settings] of [
    ['no adminUiPasswordHash', { adminUi: 'true' }],
    ['a password in clear', { adminUi: 'true', adminUiPasswordHash: PASSWORD }],
    ['a truncated hash', { adminUi: 'true', adminUiPasswordHash: HASH.slice(0, 59) }],
    ['a hash that is not bcrypt', { adminUi: 'true', adminUiPasswordHash: `$6$${'x'.repeat(57)}` }],
  ]) {
    test(`adminUi=true with ${what}: siogate exits non-zero naming the setting`, async () => {
      await assert.rejects(startServer({ settings }), (e) => {
        assert.match(e.message, /server exited early \(code=[1-9]\d* signal=null\)/);
        assert.match(e.message, /adminUi needs adminUiPasswordHash/);
        return true;
      });
    });
  }
});

// ---------------------------------------------------------------- browser

const CHROMIUM = process.env.SG_CHROMIUM || '/usr/bin/chromium';
const UI_DIR = path.join(path.dirname(require.resolve('@socket.io/admin-ui/package.json')), 'ui', 'dist');
const UI_WAIT_MS = 15000;
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** The UI's static files on 127.0.0.1:port. */
function serveUi(port) {
  const server = http.createServer((req, res) => {
    let file;
    try {
      const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      file = path.join(UI_DIR, p === '/' ? 'index.html' : p);
    } catch {
      file = null;
    }
    if (!file || !file.startsWith(UI_DIR + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, HOST, () => resolve(server));
  });
}

describe('official admin UI in headless Chromium', { skip }, () => {
  let srv;
  let ui;
  let uiUrl;
  let context;
  let userDataDir;
  before(async () => {
    requireProgram(CHROMIUM, 'chromium'); // SG_CHROMIUM may point elsewhere
    assert.ok(fs.existsSync(path.join(UI_DIR, 'index.html')), `${UI_DIR}/index.html (npm ci in tests/integration)`);
    const uiPort = await freePort();
    uiUrl = `http://${HOST}:${uiPort}`;
    ui = await serveUi(uiPort);
    // another origin: the UI's polling requests are cross-origin, withCredentials
    srv = await startServer({ settings: adminSettings({ cors: uiUrl, corsCredentials: 'true' }) });
    const { chromium } = require('playwright-core');
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60000,
      viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context.setDefaultTimeout(UI_WAIT_MS);
    // index.html loads Roboto and the Material Design icons from CDNs: no
    // network here, refuse them at once instead of waiting
    await context.route((url) => url.hostname !== HOST, (route) => route.abort());
  });
  after(async () => {
    closeAll();
    if (context) await context.close().catch(() => {});
    if (ui) await new Promise((resolve) => ui.close(resolve));
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (srv) await srv.stop();
  });

  async function screenshotOnFailure(page, name, fn) {
    try {
      await fn();
    } catch (e) {
      const file = path.join(os.tmpdir(), `siogate-admin-ui-${name}-${Date.now()}.png`);
      let where = '';
      try {
        await page.screenshot({ path: file, fullPage: true });
        where = `screenshot: ${file}, page: ${page.url()}`;
        // what the UI made of siogate's "config" (its buttons depend on it)
        const features = await page.evaluate(() => {
          const app = document.querySelector('#app');
          return app && app.__vue__ ? JSON.stringify(app.__vue__.$store.state.config.supportedFeatures) : '?';
        }).catch(() => '?');
        where += `, the UI's supportedFeatures: ${features}`;
      } catch (se) {
        where = `no screenshot: ${se.message}`;
      }
      throw new Error(`${e.message}\n${where}`, { cause: e });
    }
  }

  const nav = (page, title) => page.locator('nav').getByRole('link', { name: title, exact: true }).click();
  const cell = (page, text) => page.locator('td').filter({ hasText: new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) });

  test('log in, list sockets and rooms, disconnect a socket', async () => {
    const userA = await connected(srv.url);
    assert.deepEqual(await ask(userA, 'join', 'ui-room'), [true]);
    const userB = await connected(srv.url, { transports: ['websocket'] });

    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await screenshotOnFailure(page, 'main', async () => {
      await page.goto(`${uiUrl}/`, { waitUntil: 'load' });

      // the connection modal, first with a wrong password
      const serverUrl = page.getByLabel('Server URL');
      await serverUrl.fill(srv.url);
      await page.getByLabel('Username').fill(USER);
      await page.getByLabel('Password', { exact: true }).fill('wrong');
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await page.getByText('Invalid credentials').waitFor();
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await serverUrl.waitFor({ state: 'hidden' });
      // the UI saved the session id siogate handed out
      assert.match(await page.evaluate(() => localStorage.getItem('session_id')), /^[0-9a-f]{16}$/);

      // Sockets: the users of "/" (the default namespace)
      await nav(page, 'Sockets');
      await cell(page, userA.id).waitFor();
      await cell(page, userB.id).waitFor();
      // one connecting now appears, and goes when it disconnects
      const userC = await connected(srv.url, { transports: ['websocket'] });
      const idC = userC.id;
      await cell(page, idC).waitFor();
      userC.disconnect();
      await cell(page, idC).waitFor({ state: 'detached' });

      // Rooms: the joined room (private rooms hidden), its socket count
      await nav(page, 'Rooms');
      const row = page.locator('tr').filter({ has: cell(page, 'ui-room') });
      await row.waitFor();
      await row.locator('td').filter({ hasText: /^\s*1\s*$/ }).waitFor();
      const roomsTable = page.locator('table').filter({ has: cell(page, 'ui-room') });
      assert.equal(await roomsTable.locator('td').filter({ hasText: userA.id }).count(), 0, 'private rooms hidden');
      // a room joined now appears
      await ask(userB, 'join', 'ui-live-room');
      await cell(page, 'ui-live-room').waitFor();

      // the socket details page of userB, and its disconnect button
      await nav(page, 'Sockets');
      const idB = userB.id;
      await cell(page, idB).click();
      await page.waitForURL((u) => u.hash.startsWith('#/n/') && u.hash.includes(idB));
      // SocketDetails: a "Details" card, the client's table then the
      // socket's (namespace, id, data, status + disconnect button)
      const details = page.locator('.v-card')
        .filter({ has: page.locator('.v-card__title').filter({ hasText: /^\s*Details\s*$/ }) });
      const socketTable = details.locator('table').filter({ has: cell(page, idB) });
      const button = socketTable.locator('button:has(i.mdi-logout)');
      await button.waitFor();
      assert.equal(await button.count(), 1);
      const gone = nextDisconnect(userB);
      await button.click();
      assert.equal(await gone, 'io server disconnect');
      // the page shows it disconnected: no disconnect button any more
      await button.waitFor({ state: 'detached' });
      assert.ok(userA.connected, 'only that socket');
    });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
