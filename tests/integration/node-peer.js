'use strict';
// The Node.js side of the mixed-cluster tests: a socket.io 4.8 server with
// the official @socket.io/redis-adapter 8.3 (createAdapter, node-redis v4
// clients), started in the test process, and an @socket.io/redis-emitter 5.1
// runner used as a separate process:
//   node node-peer.js emitter <redisUrl> '<json list of operations>'

const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

/** Start a Node peer; resolves { io, port, url, stop() }. */
async function startNodePeer({ redisUrl, key = 'socket.io', requestsTimeout = 5000, namespaces = [] }) {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(pub, sub, { key, requestsTimeout }),
  });
  const setup = (nsp) => {
    nsp.on('connection', (socket) => {
      socket.on('join', (room, cb) => { socket.join(room); if (cb) cb(true); });
      socket.on('set data', (d, cb) => { Object.assign(socket.data, d); if (cb) cb(true); });
    });
  };
  setup(io.of('/'));
  for (const n of namespaces) setup(io.of(n));
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address();
  return {
    io,
    port,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      io.close();
      await new Promise((resolve) => httpServer.close(() => resolve()));
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}

/** Run emitter operations in a child process (the emitter is meant to live
 *  outside any Socket.IO server). ops: [{nsp?, to?, except?, op, args}] */
function runEmitter(redisUrl, ops) {
  const { execFile } = require('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [__filename, 'emitter', redisUrl, JSON.stringify(ops)], { timeout: 20000 },
      (err, stdout, stderr) => (err ? reject(new Error(`emitter failed: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

/** JSON arguments to emitter values: {$buffer: [bytes]} -> Buffer,
 *  {$date: ms} -> Date (at any depth). */
function revive(a) {
  if (Array.isArray(a)) return a.map(revive);
  if (!a || typeof a !== 'object') return a;
  if (a.$buffer) return Buffer.from(a.$buffer);
  if (a.$date !== undefined) return new Date(a.$date);
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, revive(v)]));
}

async function emitterMain(redisUrl, opsJson) {
  const { Emitter } = require('@socket.io/redis-emitter');
  const client = createClient({ url: redisUrl });
  await client.connect();
  const root = new Emitter(client);
  for (const o of JSON.parse(opsJson)) {
    let e = o.nsp ? root.of(o.nsp) : root;
    for (const r of o.to || []) e = e.to(r);
    for (const r of o.except || []) e = e.except(r);
    const args = (o.args || []).map(revive);
    if (o.op === 'emit') e.emit(...args);
    else if (o.op === 'socketsJoin') e.socketsJoin(args[0]);
    else if (o.op === 'socketsLeave') e.socketsLeave(args[0]);
    else if (o.op === 'disconnectSockets') e.disconnectSockets(args[0]);
    else if (o.op === 'serverSideEmit') e.serverSideEmit(...args);
  }
  // Every publish above was queued before quit(), which flushes them.
  await client.quit();
}

if (require.main === module && process.argv[2] === 'emitter') {
  emitterMain(process.argv[3], process.argv[4]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { startNodePeer, runEmitter };
