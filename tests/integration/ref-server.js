#!/usr/bin/env node
'use strict';
/*
 * Reference server for the siogate integration tests.
 *
 * A plain Node.js socket.io 4.8 server that implements the same "testkit"
 * and "chat" applications and the same command-line subset as the siogate
 * binary. Its
 * only purpose is to prove that the integration tests are right: run them
 * with SG_REF=1 and every test must pass against this file (the tests of
 * siogate-only features skip themselves).
 *
 * Command line (same spelling as siogate):
 *   node ref-server.js --host 127.0.0.1 --port P [--app chat|testkit|none]
 *                      [--log-level L] [--set name=value ...]
 * Settings (Node option names): pingInterval, pingTimeout, maxHttpBufferSize,
 * connectTimeout, cors (origin, or "*"), corsCredentials (true/false),
 * transports ("polling,websocket"), serveClient (true/false),
 * namespaces (extra namespaces, comma list), path, chatMessageRate,
 * chatMessageBurst, allowEIO3 (true/false, default false: also accept
 * Engine.IO v3 / Socket.IO protocol 4 clients, i.e. socket.io-client 2.x).
 * Prints "listening on http://HOST:PORT" to stderr when ready; exits on
 * SIGTERM/SIGINT. Serves the demo page (server/www) at "/".
 *
 * ======================================================================
 * TESTKIT APP CONTRACT (siogate's built-in "testkit" app does this, plus
 * cluster hooks that only siogate has: "cluster *", "legacy *")
 * ======================================================================
 * Namespaces created at start-up: "/", "/custom", "/auth", plus every
 * namespace named in the `namespaces` setting. ALL of them get the handlers
 * below; "/auth" additionally has the auth middleware described at the end.
 *
 *   "join"    (room | [rooms], ack)   socket joins the room(s); ack(true),
 *                             or ack(false) when a join failed (siogate:
 *                             maxRoomsPerSocket)
 *   "leave"   (room | [rooms], ack)   socket leaves; ack(true)
 *   "echo"    (...args, ack)  ack(...args)          (binary kept)
 *   "broadcast" (room, ...args)
 *                             emit "message"(...args) to `room` except the
 *                             sender; room === null -> every socket of the
 *                             namespace except the sender
 *   "rooms"   (ack)           ack(sorted array of the socket's rooms; the
 *                             socket's own id is one of them)
 *   "volatile" (...args)      volatile emit "message"(...args) to the sender
 *   "handshake" (ack)         ack(socket.handshake), i.e. an object with
 *                             headers, time, address, xdomain, secure,
 *                             issued, url, query, auth (as in Node)
 *   "disconnect me" (close?)  server-side socket.disconnect(close === true)
 *                             (client sees "io server disconnect" on every
 *                             namespace it closes)
 *   "emit with ack" (timeoutMs, ...args)
 *                             socket.timeout(timeoutMs).emit("request",
 *                             ...args, cb); when cb runs, emit to the sender
 *                             "ack result" {err: null, args: [...ackArgs]}
 *                             or, on timeout, {err: "timeout", args: []}.
 *                             timeoutMs must be an integer in 1..60000,
 *                             otherwise "ack result" {err: "invalid timeout",
 *                             args: []} at once.
 *   "broadcast with ack" (timeoutMs)
 *                             namespace.timeout(timeoutMs).emit("request",
 *                             cb) to every socket of the namespace (sender
 *                             included); when cb runs emit to the sender
 *                             "broadcast ack result" {err: null|"timeout",
 *                             responses: [...]} where responses holds the
 *                             FIRST ack argument of each socket that answered
 *                             (in arrival order). timeoutMs as above
 *                             ({err: "invalid timeout", responses: []}).
 *   on every disconnect of a socket of the namespace (any reason), the
 *   server emits "peer disconnect" {id: <socket id>, reason: <Node reason
 *   string>} to the room "observers" of that namespace (test hook: an
 *   observing socket joins "observers" with "join").
 *
 * --- "/auth" namespace ---
 *   middleware: if handshake auth.token !== "secret", refuse with
 *   CONNECT_ERROR {"message":"unauthorized","data":{"reason":"bad token"}}.
 *   On connection: emit "auth" with the CONNECT payload (auth object, {} if
 *   none) to the new socket.
 *
 * ======================================================================
 * CHAT APP CONTRACT (siogate's built-in "chat" app: the demo page only)
 * ======================================================================
 * Namespaces: "/" plus every namespace named in the `namespaces` setting.
 * Lengths count UTF-16 units (String#length), as the page's maxlength.
 *   client -> server
 *     "add user" (username, room, ack?)
 *         username: string of 1..32 characters without control characters
 *         (U+0000..U+001F, U+007F), otherwise the event is ignored (no ack);
 *         room: absent, not a string or "" -> "lobby"; otherwise 1..32
 *         characters without control characters, else the event is ignored.
 *         Only the first valid "add user" of a socket counts; later ones
 *         are ignored except that the ack (if asked) is still answered with
 *         the current state.
 *         Effects, in this order:
 *           1. socket joins `room`; the server remembers username and room
 *           2. to the room except the sender: "user joined" {username}
 *           3. to the whole room (sender included): "user count"
 *              {room, count}   (count = number of sockets in the room)
 *           4. ack({room, count}) if an ack was asked for
 *     "new message" (text)   text: string of 1..500 characters (otherwise
 *         ignored); ignored until the socket did "add user". To the room
 *         except the sender: "new message" {username, message: text}
 *     "typing" ()            to the room except the sender: "typing" {username}
 *     "stop typing" ()       to the room except the sender: "stop typing"
 *                            {username}
 *     (typing/stop typing are ignored until "add user")
 *     Rate limit: "new message", "typing" and "stop typing" share a token
 *     bucket per socket: chatMessageRate tokens per second (5), at most
 *     chatMessageBurst (10) saved up; an event finding no token is dropped.
 *   server -> client
 *     "user joined" {username}
 *     "user left"   {username}    on disconnect of a chat user, to the room
 *     "user count"  {room, count} to the room on "add user" and, after the
 *                                 user left it, on disconnect of a chat user
 *     "new message" {username, message}
 *     "typing" {username} / "stop typing" {username}
 *   On disconnect of a socket that did "add user": after it has left its
 *   rooms, to its chat room: "user left" {username}, then "user count"
 *   {room, count} (count without the departed socket).
 * ======================================================================
 */

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Server } = require('socket.io');

function parseArgs(argv) {
  const out = { host: '127.0.0.1', port: 3000, app: 'chat', logLevel: 'warn', set: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === '--host') out.host = next();
    else if (a === '--port') out.port = Number(next());
    else if (a === '--app') out.app = next();
    else if (a === '--log-level') out.logLevel = next();
    else if (a === '--set') {
      const kv = next();
      const eq = kv.indexOf('=');
      if (eq < 1) throw new Error(`bad --set ${kv}`);
      out.set[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const S = args.set;
const bool = (v) => v === 'true' || v === '1' || v === 'yes';

const opts = {};
if (S.pingInterval) opts.pingInterval = Number(S.pingInterval);
if (S.pingTimeout) opts.pingTimeout = Number(S.pingTimeout);
if (S.maxHttpBufferSize) opts.maxHttpBufferSize = Number(S.maxHttpBufferSize);
if (S.connectTimeout) opts.connectTimeout = Number(S.connectTimeout);
if (S.transports) opts.transports = S.transports.split(',').map((s) => s.trim());
if (S.serveClient !== undefined) opts.serveClient = bool(S.serveClient);
if (S.path) opts.path = S.path;
if (S.allowEIO3 !== undefined) opts.allowEIO3 = bool(S.allowEIO3);
if (S.cors) {
  opts.cors = { origin: S.cors === '*' ? '*' : S.cors.split(',').length > 1 ? S.cors.split(',') : S.cors };
  if (S.corsCredentials !== undefined) opts.cors.credentials = bool(S.corsCredentials);
}

// ---- static files (the demo page) ----
const WWW = path.resolve(process.env.SG_SOURCE_DIR || path.join(__dirname, '../..'), 'server/www');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};
function serveStatic(req, res) {
  const fail = (code) => {
    res.writeHead(code, { 'Content-Type': 'text/plain' });
    res.end(code === 404 ? 'Not Found' : 'Bad Request');
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405);
  let p;
  try {
    p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    return fail(400);
  }
  if (p.includes('\0') || p.split('/').includes('..')) return fail(404);
  if (p.endsWith('/')) p += 'index.html';
  const file = path.join(WWW, p);
  if (!file.startsWith(WWW + path.sep)) return fail(404);
  fs.readFile(file, (err, data) => {
    if (err) return fail(404);
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Content-Length': data.length,
    });
    res.end(req.method === 'HEAD' ? undefined : data);
  });
}

const httpServer = http.createServer(serveStatic);
const io = new Server(httpServer, opts);

function extraNamespaces() {
  const names = [];
  if (S.namespaces) {
    for (const n of S.namespaces.split(',').map((x) => x.trim()).filter(Boolean)) {
      const nn = n.startsWith('/') ? n : '/' + n;
      if (!names.includes(nn)) names.push(nn);
    }
  }
  return names;
}

const validTimeout = (t) => Number.isInteger(t) && t >= 1 && t <= 60000;

function setupTestkit() {
  const names = ['/', '/custom', '/auth', ...extraNamespaces().filter((n) => !['/', '/custom', '/auth'].includes(n))];
  const auth = io.of('/auth');
  auth.use((socket, next) => {
    const a = socket.handshake.auth || {};
    if (a.token !== 'secret') {
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
      socket.on('join', (room, ack) => {
        socket.join(room);
        if (typeof ack === 'function') ack(true);
      });
      socket.on('leave', (room, ack) => {
        for (const r of Array.isArray(room) ? room : [room]) socket.leave(r);
        if (typeof ack === 'function') ack(true);
      });
      socket.on('echo', (...a) => {
        const ack = typeof a[a.length - 1] === 'function' ? a.pop() : null;
        if (ack) ack(...a);
      });
      socket.on('broadcast', (room, ...a) => {
        if (typeof a[a.length - 1] === 'function') a.pop();
        if (room === null || room === undefined) socket.broadcast.emit('message', ...a);
        else socket.to(room).emit('message', ...a);
      });
      socket.on('rooms', (ack) => {
        if (typeof ack === 'function') ack(Array.from(socket.rooms).sort());
      });
      socket.on('volatile', (...a) => {
        if (typeof a[a.length - 1] === 'function') a.pop();
        socket.volatile.emit('message', ...a);
      });
      socket.on('handshake', (ack) => {
        if (typeof ack === 'function') ack(socket.handshake);
      });
      socket.on('disconnect me', (close) => socket.disconnect(close === true));
      socket.on('emit with ack', (timeoutMs, ...a) => {
        if (typeof a[a.length - 1] === 'function') a.pop();
        if (!validTimeout(timeoutMs)) return socket.emit('ack result', { err: 'invalid timeout', args: [] });
        socket.timeout(timeoutMs).emit('request', ...a, (err, ...res) => {
          socket.emit('ack result', err ? { err: 'timeout', args: [] } : { err: null, args: res });
        });
      });
      socket.on('broadcast with ack', (timeoutMs) => {
        if (!validTimeout(timeoutMs)) return socket.emit('broadcast ack result', { err: 'invalid timeout', responses: [] });
        nsp.timeout(timeoutMs).emit('request', (err, responses) => {
          socket.emit('broadcast ack result', { err: err ? 'timeout' : null, responses });
        });
      });
      socket.on('disconnect', (reason) => {
        nsp.to('observers').emit('peer disconnect', { id: socket.id, reason });
      });
    });
  }
}

// Characters as String#length counts them, no C0 control character or DEL.
// eslint-disable-next-line no-control-regex
const validText = (v, max) => typeof v === 'string' && v.length >= 1 && v.length <= max && !/[\u0000-\u001f\u007f]/.test(v);

function setupChat() {
  const rate = Number(S.chatMessageRate || 5);
  const burst = Number(S.chatMessageBurst || 10);
  for (const name of ['/', ...extraNamespaces().filter((n) => n !== '/')]) {
    const nsp = io.of(name);
    const roomSize = (room) => (nsp.adapter.rooms.get(room) || new Set()).size;
    nsp.on('connection', (socket) => {
      const chat = { username: null, room: null, tokens: burst, refill: Date.now() };
      const token = () => {
        const now = Date.now();
        chat.tokens = Math.min(burst, chat.tokens + ((now - chat.refill) * rate) / 1000);
        chat.refill = now;
        if (chat.tokens < 1) return false;
        chat.tokens -= 1;
        return true;
      };
      socket.on('add user', (username, room, ack) => {
        if (typeof room === 'function') {
          ack = room;
          room = undefined;
        }
        if (chat.username === null) {
          const defaultRoom = typeof room !== 'string' || room.length === 0;
          if (!validText(username, 32) || (!defaultRoom && !validText(room, 32))) return;
          chat.username = username;
          chat.room = defaultRoom ? 'lobby' : room;
          chat.refill = Date.now();
          socket.join(chat.room);
          socket.to(chat.room).emit('user joined', { username: chat.username });
          nsp.to(chat.room).emit('user count', { room: chat.room, count: roomSize(chat.room) });
        }
        if (typeof ack === 'function') ack({ room: chat.room, count: roomSize(chat.room) });
      });
      socket.on('new message', (text) => {
        if (chat.username === null || typeof text !== 'string' || text.length < 1 || text.length > 500) return;
        if (!token()) return;
        socket.to(chat.room).emit('new message', { username: chat.username, message: text });
      });
      for (const ev of ['typing', 'stop typing']) {
        socket.on(ev, () => {
          if (chat.username === null || !token()) return;
          socket.to(chat.room).emit(ev, { username: chat.username });
        });
      }
      socket.on('disconnect', () => {
        if (chat.username !== null) {
          nsp.to(chat.room).emit('user left', { username: chat.username });
          nsp.to(chat.room).emit('user count', { room: chat.room, count: roomSize(chat.room) });
        }
      });
    });
  }
}

if (args.app === 'chat') setupChat();
else if (args.app === 'testkit') setupTestkit();
else if (args.app !== 'none') {
  process.stderr.write(`ref-server: app ${args.app} not supported\n`);
  process.exit(2);
}

httpServer.on('error', (e) => {
  process.stderr.write(`ref-server: ${e.message}\n`);
  process.exit(1);
});
httpServer.listen(args.port, args.host, () => {
  process.stderr.write(`ref-server: listening on http://${args.host}:${httpServer.address().port}\n`);
});

function shutdown() {
  io.close();
  httpServer.closeAllConnections?.();
  setTimeout(() => process.exit(0), 50).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
