#!/usr/bin/env node
'use strict';
/*
 * The Node.js counterpart that tests/bench/run measures next to siogate: a
 * plain socket.io 4.8 server with the testkit app's three benchmark handlers and
 * socket.io's defaults (websocket clients connect straight to
 * /socket.io/?EIO=4&transport=websocket).
 *
 *   node node-server.js [--host 127.0.0.1] [--port 3000] [--log-level L]
 *                       [--adapter memory|redis|sharded|streams] [--redis-url redis://127.0.0.1:6379]
 *                       [--set subscriptionMode=static|dynamic|dynamic-private] [--set channelPrefix=P]
 *                       [--recovery | --set connectionStateRecovery=true]
 *                       [--allow-eio3 | --set allowEIO3=true]
 *
 *   "join"      (room, ack)      join room; ack(true)
 *   "broadcast" (room, ...args)  emit "message"(...args) to room except the sender
 *   "echo"      (...args, ack)   ack(...args)
 *
 * and, as siogate's testkit app does, every disconnect is broadcast as "peer disconnect"
 * {id, reason} to the room "observers" (with a cluster adapter that is one publish per
 * disconnect, which the recovery scenario must see on both servers alike).
 *
 * Prints "listening on http://HOST:PORT" to stderr when ready; exits on
 * SIGTERM/SIGINT. With --adapter redis, broadcasts go through @socket.io/redis-adapter
 * (the counterpart of siogate's --adapter redis); with --adapter streams, through
 * @socket.io/redis-streams-adapter 0.3 with its defaults (siogate's --adapter streams); with
 * --adapter sharded, through createShardedAdapter of @socket.io/redis-adapter (Redis 7 sharded
 * Pub/Sub; siogate's --adapter sharded, same subscriptionMode and channelPrefix settings).
 * A redis+cluster://[[user]:password@]host:port,host:port/ URL (siogate's Redis Cluster form)
 * makes the clients node-redis createCluster() clients with those seeds as rootNodes.
 * --recovery (or siogate's own --set connectionStateRecovery=true) turns on
 * connectionStateRecovery with socket.io's defaults ({}: 2 minutes, skipMiddlewares).
 * --allow-eio3 (or siogate's own --set allowEIO3=true) sets socket.io's allowEIO3 option:
 * Engine.IO v3 / Socket.IO protocol 4 clients (socket.io-client 2.x) are served too.
 * Unknown options are ignored so the runner can pass the same command line it gives siogate.
 */
const http = require('http');
const { Server } = require('socket.io');

const opts = { host: '127.0.0.1', port: 3000, adapter: 'memory', redisUrl: 'redis://127.0.0.1:6379', recovery: false,
  allowEIO3: false, sharded: {} };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--host') opts.host = argv[++i];
  else if (argv[i] === '--port') opts.port = Number(argv[++i]);
  else if (argv[i] === '--adapter') opts.adapter = argv[++i];
  else if (argv[i] === '--redis-url') opts.redisUrl = argv[++i];
  else if (argv[i] === '--recovery') opts.recovery = true;
  else if (argv[i] === '--allow-eio3') opts.allowEIO3 = true;
  else if (argv[i] === '--set' && /^allowEIO3=(true|yes|on|1)$/.test(argv[i + 1] || '')) {
    opts.allowEIO3 = true;
    i++;
  }
  else if (argv[i] === '--set' && argv[i + 1] === 'connectionStateRecovery=true') {
    opts.recovery = true;
    i++;
  } else if (argv[i] === '--set' && /^(subscriptionMode|channelPrefix)=/.test(argv[i + 1] || '')) {
    const [k, v] = argv[++i].split(/=(.*)/s);
    opts.sharded[k] = v;
  }
}

/* A node-redis v4 client for opts.redisUrl: createCluster() for redis+cluster://, else createClient(). */
function redisClient() {
  const redis = require('redis');
  const m = /^redis\+cluster:\/\/(?:([^@/]*)@)?([^/]+)\/?$/.exec(opts.redisUrl);
  if (!m) return redis.createClient({ url: opts.redisUrl });
  const defaults = {};
  if (m[1]) {
    const i = m[1].indexOf(':');
    if (i < 0) defaults.username = decodeURIComponent(m[1]);
    else {
      if (i > 0) defaults.username = decodeURIComponent(m[1].slice(0, i));
      defaults.password = decodeURIComponent(m[1].slice(i + 1));
    }
  }
  const rootNodes = m[2].split(',').map((hp) => ({ url: `redis://${hp}` }));
  return redis.createCluster({ rootNodes, defaults });
}

const httpServer = http.createServer();
const io = new Server(httpServer, {
  ...(opts.recovery ? { connectionStateRecovery: {} } : {}),
  ...(opts.allowEIO3 ? { allowEIO3: true } : {}),
});

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    if (typeof room === 'string') socket.join(room);
    if (typeof ack === 'function') ack(true);
  });
  socket.on('broadcast', (room, ...args) => {
    const target = typeof room === 'string' ? socket.to(room) : socket.broadcast;
    target.emit('message', ...args);
  });
  socket.on('echo', (...args) => {
    const ack = args.length && typeof args[args.length - 1] === 'function' ? args.pop() : null;
    if (ack) ack(...args);
  });
  socket.on('disconnect', (reason) => {
    io.to('observers').emit('peer disconnect', { id: socket.id, reason });
  });
});

async function main() {
  if (opts.adapter === 'redis') {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: opts.redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  } else if (opts.adapter === 'sharded') {
    const { createShardedAdapter } = require('@socket.io/redis-adapter');
    const pub = redisClient();
    const sub = pub.duplicate();
    for (const c of [pub, sub]) c.on('error', (e) => process.stderr.write(`node-server: redis: ${e.message}\n`));
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createShardedAdapter(pub, sub, opts.sharded));
  } else if (opts.adapter === 'streams') {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-streams-adapter');
    const client = createClient({ url: opts.redisUrl });
    await client.connect();
    io.adapter(createAdapter(client)); /* duplicates the client for its stream reader and Pub/Sub */
  } else if (opts.adapter !== 'memory') {
    throw new Error(`unknown --adapter ${opts.adapter}`);
  }
  httpServer.listen(opts.port, opts.host, () => {
    process.stderr.write(`listening on http://${opts.host}:${opts.port}\n`);
  });
}
main().catch((e) => {
  process.stderr.write(`node-server: ${e.stack || e}\n`);
  process.exit(1);
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
