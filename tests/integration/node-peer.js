'use strict';
// The Node.js side of the mixed-cluster tests: a socket.io 4.8 server with
// the official @socket.io/redis-adapter 8.3 (createAdapter, node-redis v4
// clients) or, with option `adapter`, its createShardedAdapter ('sharded',
// sharded Pub/Sub: SSUBSCRIBE / SPUBLISH, Redis >= 7) or
// @socket.io/redis-streams-adapter 0.3.1 ('streams') or 0.2.3
// ('streams-0.2'), started in the test process; and an
// @socket.io/redis-emitter 5.1 runner used as a separate process:
//   node node-peer.js emitter <redisUrl> '<json list of operations>'

const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter, createShardedAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

const STREAMS_PACKAGES = {
  streams: '@socket.io/redis-streams-adapter',
  'streams-0.2': 'redis-streams-adapter-02',
};
let peerSeq = 0;

/**
 * The Streams adapter on one node-redis client. The client carries a
 * connection name (CLIENT SETNAME), which the adapter's duplicated
 * connections (readers, subscriber, 0.2's isolated XREAD) inherit: CLIENT
 * LIST tells them apart from siogate's. Resolves {adapter, readers, close}.
 */
async function streamsAdapter(redisUrl, kind, opts) {
  const name = `sg-node-peer-${process.pid}-${++peerSeq}`;
  const client = createClient({ url: redisUrl, name });
  client.on('error', () => {});
  await client.connect();
  const adapter = require(STREAMS_PACKAGES[kind]).createAdapter(client, opts);
  // One reader connection per stream (0.3), one XREAD loop (0.2).
  const readers = kind === 'streams' ? opts.streamCount || 1 : 1;
  /** After io.close(): the read loops stop only once their blocked XREAD
   *  returns (up to blockTimeInMs, 5 s in 0.2); CLIENT UNBLOCK makes it
   *  return now. Then 0.3's reader connections close (waited for, so a
   *  later readiness count is right); 0.2's pooled one goes with quit(). */
  async function close() {
    // bounded: with Redis unreachable (a failed outage test) commands wait
    const deadline = Date.now() + 10000;
    const bounded = (p) => Promise.race([p, new Promise((_, reject) => {
      setTimeout(() => reject(new Error('Redis did not answer')), Math.max(0, deadline - Date.now())).unref();
    })]);
    try {
      for (;;) {
        const mine = String(await bounded(client.sendCommand(['CLIENT', 'LIST']))).split('\n')
          .filter((l) => l.includes(` name=${name} `) && / cmd=xread /.test(l));
        const blocked = mine.filter((l) => / flags=\w*b/.test(l));
        if ((kind === 'streams' ? mine : blocked).length === 0 || Date.now() > deadline) break;
        for (const l of blocked) await bounded(client.sendCommand(['CLIENT', 'UNBLOCK', /id=(\d+)/.exec(l)[1]]));
        await new Promise((r) => setTimeout(r, 20));
      }
      await bounded(client.quit());
    } catch {
      client.disconnect().catch(() => {});
    }
  }
  return { adapter, readers, name, close };
}

/**
 * The sharded adapter (createShardedAdapter) on two node-redis clients, one
 * to publish, one to SSUBSCRIBE. makeClient() returns a new, not yet
 * connected node-redis client (a standalone one, or a cluster client from
 * createCluster); it is called twice. Default: createClient({url}) and its
 * duplicate. Resolves {adapter, close}.
 */
async function shardedAdapter(redisUrl, opts, makeClient) {
  const pub = makeClient ? makeClient() : createClient({ url: redisUrl });
  const sub = makeClient ? makeClient() : pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  // quit() sends QUIT after the SUNSUBSCRIBEs of io.close()
  const close = () => Promise.allSettled([pub.quit(), sub.quit()]);
  return { adapter: createShardedAdapter(pub, sub, opts), pub, sub, close };
}

/**
 * Start a Node peer; resolves { io, port, url, readers, stop() } (and, for
 * 'sharded', pub and sub: its two node-redis clients).
 * adapter: 'redis' (classic, default), 'sharded' (createShardedAdapter),
 * 'streams' (0.3.1) or 'streams-0.2' (0.2.3); streams: options of the
 * Streams adapter's createAdapter; sharded: options of createShardedAdapter
 * ({channelPrefix, subscriptionMode}); makeClient: for 'sharded', a factory
 * of node-redis clients (see shardedAdapter).
 * readers: how many connections of the peer read a stream (XREAD).
 */
async function startNodePeer({
  redisUrl, key = 'socket.io', requestsTimeout = 5000, namespaces = [], adapter = 'redis', streams = {},
  sharded = {}, makeClient = null, ioOptions = {},
}) {
  let close;
  let made;
  let readers = 0;
  let clients = {};
  if (adapter === 'redis') {
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    pub.on('error', () => {});
    sub.on('error', () => {});
    await Promise.all([pub.connect(), sub.connect()]);
    made = createAdapter(pub, sub, { key, requestsTimeout });
    close = () => Promise.allSettled([pub.quit(), sub.quit()]);
  } else if (adapter === 'sharded') {
    const s = await shardedAdapter(redisUrl, sharded, makeClient);
    made = s.adapter;
    clients = { pub: s.pub, sub: s.sub };
    close = s.close;
  } else if (STREAMS_PACKAGES[adapter]) {
    const s = await streamsAdapter(redisUrl, adapter, streams);
    made = s.adapter;
    readers = s.readers;
    close = s.close;
  } else {
    throw new Error(`unknown Node peer adapter ${adapter}`);
  }
  const httpServer = http.createServer();
  const io = new Server(httpServer, { ...ioOptions, adapter: made });
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
    readers,
    ...clients,
    async stop() {
      io.close();
      await new Promise((resolve) => httpServer.close(() => resolve()));
      await close();
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
