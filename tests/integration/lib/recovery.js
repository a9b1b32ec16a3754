'use strict';
// Helpers of the connection state recovery tests (recovery*.test.js).
//
// - recoveringClient(): an official socket.io-client 4.8 socket that
//   reconnects by itself, quickly (the client that keeps `_pid` and
//   `_lastOffset` and sends them as auth {pid, offset} when it reconnects).
// - nextConnect(): the next "connect" of such a socket, with what the user
//   sees then: socket.recovered, socket.id, and how many events had been
//   handed to the application before "connect" fired (missed packets are
//   delivered ahead of it).
// - startNodeServer(): a Node.js socket.io 4.8.4 server, in this process,
//   with connectionStateRecovery and the testkit handlers these tests use
//   (the contract of ref-server.js, plus "cluster set data", "cluster
//   fetch", "cluster emit" and "cluster state" as siogate's testkit has
//   them), on the in-memory adapter (the reference for SG_REF=1) or on
//   @socket.io/redis-streams-adapter 0.3.1 (a Node node of a Streams
//   cluster).
// - Redis helpers for the sessions the Streams adapters keep
//   (`sio:session:<pid>`, base64 of msgpack {sid, pid, rooms, data}).

const http = require('node:http');
const { Server } = require('socket.io');
const { createClient } = require('redis');
const assert = require('node:assert/strict');
const { client, manager, connected, recorder, waitConnect, waitFor, ask, DEFAULT_WAIT_MS } = require('./util');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Node's RECOVERABLE_DISCONNECT_REASONS (socket.io 4.8, server side). */
const RECOVERABLE = new Set([
  'transport error', 'transport close', 'forced close', 'ping timeout',
  'server shutting down', 'forced server close',
]);

const RECONNECT = { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 250, randomizationFactor: 0 };
const live = new Set();

/** A client that reconnects by itself, at once and then every 50-250 ms,
 *  until dropClients(). */
function recoveringClient(url, opts = {}) {
  const c = client(url, { ...RECONNECT, ...opts });
  live.add(c.io);
  return c;
}

/** A Manager (namespaces multiplexed on one connection) that reconnects as
 *  recoveringClient() does. */
function recoveringManager(url, opts = {}) {
  const m = manager(url, { ...RECONNECT, ...opts });
  live.add(m);
  return m;
}

/** Stop every recovering client and manager made so far: no more
 *  reconnection attempts (to a proxy port that a later test may get). */
function dropClients() {
  for (const m of live) {
    m.reconnection(false);
    for (const s of Object.values(m.nsps || {})) s.disconnect();
    m.disconnect();
  }
  live.clear();
}

/** An Error for a failed connection, with the transport's cause. */
function connectFailure(err) {
  const cause = err && err.description && (err.description.message || err.description.error || err.description);
  return new Error(`${err && err.message}${cause ? `: ${cause instanceof Error ? cause.message : JSON.stringify(cause)}` : ''}`);
}

/**
 * Resolves on the next "connect" of socket with {recovered, id, before}:
 * before = the number of items `rec` (a recorder) held when "connect" fired.
 * Rejects on a connect_error (a middleware refusal) or after ms.
 */
function nextConnect(socket, rec = null, ms = DEFAULT_WAIT_MS) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { off(); reject(new Error(`socket ${socket.nsp} did not reconnect within ${ms} ms`)); }, ms);
    const onConnect = () => {
      off();
      resolve({ recovered: socket.recovered, id: socket.id, before: rec ? rec.items.length : 0 });
    };
    // A connect_error is either the server's answer (CONNECT_ERROR: fail)
    // or a failed attempt of the manager's reconnection (a TransportError,
    // e.g. an attempt that was refused while the proxy was cut and reports
    // only now): the client tries again by itself, so wait on.
    const onError = (err) => {
      if (err && err.type === 'TransportError') return;
      off();
      reject(err);
    };
    function off() {
      clearTimeout(t);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    }
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** A recorder's items without the offset the server appended (a string
 *  last argument when recovery is on). */
function payloads(items) {
  return items.map((args) => args.slice(0, -1));
}

/** The offsets (last argument) of a recorder's items. */
function offsets(items) {
  return items.map((args) => args[args.length - 1]);
}

/** Poll until pred() is truthy (async allowed) or fail after ms. */
async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(20);
  }
}

/** {id, rooms (sorted), data} of socket `id` as the cluster shows it to
 *  `via` (testkit "cluster fetch" = fetchSockets), or null. */
async function fetchSocket(via, id) {
  const [res] = await ask(via, 'cluster fetch', { rooms: [id] });
  if (res.err) throw new Error(`cluster fetch failed: ${res.err}`);
  const s = (res.result || []).find((x) => x.id === id);
  return s ? { id: s.id, rooms: [...s.rooms].sort(), data: s.data } : null;
}

// ------------------------------------------------------- scenario steps

// A cut (connections reset) is seen by the server at once: a WebSocket
// ends, a held long-polling GET ends (cut() waits until one is held). Should
// the server still miss it, it notices at the ping timeout (25 + 20 s by
// default, recoverable too): the wait for the server's side allows that.
const GONE_MS = 45000 + DEFAULT_WAIT_MS;

/** A socket of `url` (namespace path included) that joins "observers" and
 *  records every disconnect the server reports: {id, reason}. */
async function observer(url, opts = {}) {
  const o = await connected(url, opts);
  const gone = recorder(o, 'peer disconnect');
  await ask(o, 'join', 'observers');
  const of = (id) => gone.items.filter(([x]) => x.id === id);
  return {
    socket: o,
    /** the reason the server gave when socket `id` went (its nth time) */
    async reason(id, nth = 1) {
      await until(() => of(id).length >= nth, GONE_MS, `the server reports socket ${id} gone (${nth})`);
      return of(id)[nth - 1][0].reason;
    },
  };
}

/** The messages a raw WebSocket gets up to its CONNECT reply (pings
 *  answered and left out), and that reply. */
async function untilConnect(ws) {
  const before = [];
  for (;;) {
    const m = await ws.next();
    if (m === '2') ws.send('3');
    else if (m[0] === '0') continue; // the Engine.IO handshake
    else if (/^4[04]/.test(m)) return { before, connect: m };
    else before.push(m);
  }
}

/** Cut the network. Over polling, first wait until the server holds the
 *  client's GET: that request's end is how the server sees the client go
 *  (with no GET held there is nothing to cut, only the ping timeout). */
async function cut(proxy, transports, opts) {
  if (transports.length === 1 && transports[0] === 'polling') {
    await until(() => proxy.heldGets > 0, DEFAULT_WAIT_MS, 'a held long-polling GET');
  }
  proxy.cut(opts);
}

/** The data the recovering clients set: what JSON and msgpack both carry. */
const DATA = {
  user: 'alice', n: 1, neg: -7, f: 1.5, big: 2 ** 40, t: true, nil: null,
  nested: { list: [1, 'two', [3], { four: 4 }] }, text: 'ünï 🚀 "quoted"\n',
};

/** A client through the proxy, in rooms r and r2, with data set, that has
 *  received two broadcasts (so it holds an offset). With both transports it
 *  has upgraded to WebSocket. */
async function recoveringMember(proxy, sender, transports, opts = {}) {
  const c = recoveringClient(proxy.url, { transports, ...opts });
  await waitConnect(c).catch((e) => {
    const err = connectFailure(e);
    err.message += ` (through the proxy on port ${proxy.port}; its failures: ${JSON.stringify(proxy.errors)})`;
    throw err;
  });
  if (transports.length > 1) {
    await until(() => c.io.engine && c.io.engine.transport.name === 'websocket', DEFAULT_WAIT_MS, 'the upgrade to WebSocket');
  }
  const msgs = recorder(c, 'message');
  assert.deepEqual(await ask(c, 'join', ['r', 'r2']), [true]);
  assert.deepEqual(await ask(c, 'cluster set data', DATA), [true]);
  sender.emit('broadcast', 'r', 'pre', 1);
  sender.emit('broadcast', null, 'pre', 2);
  await msgs.count(2);
  assert.equal(c.recovered, false);
  return { c, msgs, id: c.id };
}

/**
 * What a member of r and r2 (socket id) misses while away: sent by `sender`
 * through the testkit, in this order; those marked `false` are not for it.
 */
async function sendWhileAway(sender, id, tag) {
  const sent = [
    [['broadcast', 'r', tag, 1], true],
    [['broadcast', null, tag, 2], true],
    [['broadcast', 'elsewhere', 'not for it'], false],
    [['cluster emit', { event: 'message', rooms: [id] }, tag, 3], true], // io.to(socket id)
    [['cluster emit', { event: 'message', rooms: ['r'], except: ['r2'] }, 'not for it'], false],
    [['cluster emit', { event: 'message', rooms: ['r'], except: [id] }, 'not for it'], false],
    [['broadcast', 'r2', tag, 4, Buffer.from([1, 2, 3])], true], // binary
  ];
  // One socket's packets are handled in order; the echo comes back once
  // every broadcast before it is done.
  for (const [args] of sent) sender.emit(...args);
  await ask(sender, 'echo', 'barrier');
  return sent.filter(([, mine]) => mine).map(([args]) => args.slice(2));
}

// ---------------------------------------------------------------- Redis

/** A node-redis client for probes; quit() when done. */
async function redisProbe(url) {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** Wait until the session key of pid exists (present) or is gone. */
async function waitSessionKey(r, pid, present = true, { prefix = 'sio:session:', ms = DEFAULT_WAIT_MS } = {}) {
  await until(async () => (await r.exists(prefix + pid)) === (present ? 1 : 0), ms,
    `session key ${prefix}${pid} ${present ? 'saved' : 'gone'} in Redis`);
}

/** The session stored under pid: {value: decoded msgpack, pttl}. */
async function readSession(r, pid, prefix = 'sio:session:') {
  const { decode } = require('@msgpack/msgpack');
  const raw = await r.get(prefix + pid);
  const pttl = await r.pTTL(prefix + pid);
  return { raw, value: raw === null ? null : decode(Buffer.from(raw, 'base64')), pttl };
}

// ------------------------------------------------------- Node server

/** The testkit handlers these tests use, as ref-server.js and siogate's
 *  testkit define them. */
function installTestkit(io, names) {
  const auth = io.of('/auth');
  auth.use((socket, next) => {
    if ((socket.handshake.auth || {}).token !== 'secret') {
      const err = new Error('unauthorized');
      err.data = { reason: 'bad token' };
      return next(err);
    }
    next();
  });
  auth.on('connection', (socket) => socket.emit('auth', socket.handshake.auth));
  for (const name of names) {
    const nsp = io.of(name);
    nsp.on('connection', (socket) => {
      const ackOf = (a) => (typeof a[a.length - 1] === 'function' ? a.pop() : null);
      socket.on('join', (room, ack) => { socket.join(room); if (typeof ack === 'function') ack(true); });
      socket.on('leave', (room, ack) => {
        for (const r of Array.isArray(room) ? room : [room]) socket.leave(r);
        if (typeof ack === 'function') ack(true);
      });
      socket.on('echo', (...a) => { const ack = ackOf(a); if (ack) ack(...a); });
      socket.on('broadcast', (room, ...a) => {
        ackOf(a);
        if (room === null || room === undefined) socket.broadcast.emit('message', ...a);
        else socket.to(room).emit('message', ...a);
      });
      socket.on('volatile', (...a) => { ackOf(a); socket.volatile.emit('message', ...a); });
      socket.on('emit with ack', (timeoutMs, ...a) => {
        ackOf(a);
        socket.timeout(timeoutMs).emit('request', ...a, (err, ...res) => {
          socket.emit('ack result', err ? { err: 'timeout', args: [] } : { err: null, args: res });
        });
      });
      socket.on('broadcast with ack', (timeoutMs) => {
        nsp.timeout(timeoutMs).emit('request', (err, responses) => {
          socket.emit('broadcast ack result', { err: err ? 'timeout' : null, responses });
        });
      });
      socket.on('rooms', (ack) => { if (typeof ack === 'function') ack(Array.from(socket.rooms).sort()); });
      socket.on('handshake', (ack) => { if (typeof ack === 'function') ack(socket.handshake); });
      socket.on('cluster set data', (v, ack) => {
        if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(socket.data, v);
        if (typeof ack === 'function') ack(true);
      });
      socket.on('cluster fetch', async (o, ack) => {
        if (typeof ack !== 'function') return;
        let op = nsp;
        for (const r of (o && o.rooms) || []) op = op.in(r);
        for (const r of (o && o.except) || []) op = op.except(r);
        try {
          const socks = await op.fetchSockets();
          ack({ err: null, result: socks.map((s) => ({ id: s.id, handshake: s.handshake, rooms: [...s.rooms], data: s.data })) });
        } catch (e) {
          ack({ err: String(e && e.message), result: null });
        }
      });
      socket.on('cluster emit', (o, ...a) => {
        const ack = ackOf(a);
        let op = nsp;
        for (const r of (o && o.rooms) || []) op = op.to(r);
        for (const r of (o && o.except) || []) op = op.except(r);
        op.emit(o.event, ...a);
        if (ack) ack(0);
      });
      socket.on('cluster state', (ack) => { if (typeof ack === 'function') ack('ready'); });
      socket.on('disconnect', (reason) => {
        nsp.to('observers').emit('peer disconnect', { id: socket.id, reason });
      });
    });
  }
}

let peerSeq = 0;

/**
 * A Node.js socket.io 4.8.4 server in this process with
 * connectionStateRecovery, the testkit handlers above on "/", "/custom" and
 * "/auth", on a free loopback port.
 * @param {object} o
 * @param {string} [o.adapter='memory'] or 'streams'
 *   (@socket.io/redis-streams-adapter 0.3.1 createAdapter, on o.redisUrl)
 * @param {number} [o.maxDisconnectionDuration=120000]
 * @param {boolean} [o.skipMiddlewares=true]
 * @param {boolean} [o.recovery=true] connectionStateRecovery at all
 * @returns {Promise<{io, port, url, readers, alive, logs, stop}>} shaped
 *   like a lib/server.js handle (readers: connections reading the stream)
 */
async function startNodeServer(o = {}) {
  const opts = {};
  if (o.recovery !== false) {
    opts.connectionStateRecovery = {
      maxDisconnectionDuration: o.maxDisconnectionDuration || 120000,
      skipMiddlewares: o.skipMiddlewares !== false,
    };
  }
  let redis = null;
  let name = null;
  if (o.adapter === 'streams') {
    // A connection name (CLIENT SETNAME) that the adapter's duplicated
    // connections inherit tells them apart in CLIENT LIST.
    name = `sg-recovery-peer-${process.pid}-${++peerSeq}`;
    redis = createClient({ url: o.redisUrl, name });
    redis.on('error', () => {});
    await redis.connect();
    opts.adapter = require('@socket.io/redis-streams-adapter').createAdapter(redis, o.streams || {});
  }
  const httpServer = http.createServer();
  const io = new Server(httpServer, opts);
  installTestkit(io, ['/', '/custom', '/auth']);
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address();
  let stopped = false;
  return {
    io,
    port,
    url: `http://127.0.0.1:${port}`,
    readers: o.adapter === 'streams' ? 1 : 0,
    alive: () => !stopped,
    logs: () => '(Node socket.io server in the test process)',
    /** io.close() ("server shutting down" for every socket, sessions saved),
     *  then the adapter's Redis connections: its stream reader leaves once
     *  its blocked XREAD returns, which CLIENT UNBLOCK makes happen now. */
    async stop() {
      if (stopped) return;
      stopped = true;
      io.close();
      await new Promise((resolve) => httpServer.close(() => resolve()));
      if (!redis) return;
      const deadline = Date.now() + DEFAULT_WAIT_MS;
      for (;;) {
        const mine = String(await redis.sendCommand(['CLIENT', 'LIST'])).split('\n')
          .filter((l) => l.includes(` name=${name} `) && / cmd=xread /.test(l));
        if (mine.length === 0 || Date.now() > deadline) break;
        for (const l of mine.filter((x) => / flags=\w*b/.test(x))) {
          await redis.sendCommand(['CLIENT', 'UNBLOCK', /id=(\d+)/.exec(l)[1]]);
        }
        await sleep(20);
      }
      await redis.quit().catch(() => {});
    },
  };
}

module.exports = {
  GONE_MS,
  RECOVERABLE,
  observer,
  untilConnect,
  cut,
  recoveringMember,
  sendWhileAway,
  DATA,
  recoveringClient,
  recoveringManager,
  dropClients,
  nextConnect,
  payloads,
  offsets,
  until,
  fetchSocket,
  redisProbe,
  waitSessionKey,
  readSession,
  startNodeServer,
  sleep,
  waitFor,
};
