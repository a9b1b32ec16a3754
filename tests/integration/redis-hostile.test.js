'use strict';
// A hostile or broken Redis: a fake server on a loopback port answers the
// handshake, then sends the subscriber connection a reply that declares 2
// million array elements, a bulk string over redisReplyLimit, a byte that
// starts no RESP type, or arrays nested deeper than any reply can be. Each
// time siogate must drop that connection with a clear log line, connect
// again (the fake sees the subscriptions issued anew), keep serving its
// clients, and exit cleanly at the end (ASan and valgrind runs check the
// memory). The allocation the element count asks for never happens: the
// link refuses the array before hiredis allocates it.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { connected, closeAll, ask, DEFAULT_WAIT_MS } = require('./lib/util');
const { startServer, freePort, HOST } = require('./lib/server');
const { until } = require('./lib/cluster');

const skip = process.env.SG_REF === '1' && 'siogate\'s Redis connection layer (the reference server has none)';

/** Commands of one RESP request stream: calls back with each argv. */
function respReader(onCommand) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      let pos = 0;
      const line = () => {
        const e = buf.indexOf('\r\n', pos);
        if (e < 0) return null;
        const s = buf.toString('latin1', pos, e);
        pos = e + 2;
        return s;
      };
      const head = line();
      if (head === null || head[0] !== '*') return;
      const n = Number(head.slice(1));
      const argv = [];
      for (let i = 0; i < n; i++) {
        const len = line();
        if (len === null) return;
        const l = Number(len.slice(1));
        if (buf.length < pos + l + 2) return;
        argv.push(buf.toString('latin1', pos, pos + l));
        pos += l + 2;
      }
      buf = buf.subarray(pos);
      onCommand(argv);
    }
  };
}

/** The fake Redis: `poison` is written to a connection once it subscribes,
 *  while `armed` is true. */
function fakeRedis(port) {
  const state = { subscribers: 0, armed: false, poison: null, sockets: new Set() };
  const server = net.createServer((sock) => {
    state.sockets.add(sock);
    sock.on('close', () => state.sockets.delete(sock));
    sock.on('error', () => {});
    sock.on('data', respReader((argv) => {
      const cmd = argv[0].toUpperCase();
      if (cmd === 'PING') sock.write('+PONG\r\n');
      else if (cmd === 'PUBLISH') sock.write(':0\r\n');
      else if (cmd === 'PUBSUB') sock.write(`*2\r\n$${argv[2].length}\r\n${argv[2]}\r\n:1\r\n`);
      else if (cmd === 'PSUBSCRIBE' || cmd === 'SUBSCRIBE') {
        if (!sock.sgSub) {
          sock.sgSub = true;
          state.subscribers++;
        }
        const kind = cmd.toLowerCase();
        sock.write(`*3\r\n$${kind.length}\r\n${kind}\r\n$${argv[1].length}\r\n${argv[1]}\r\n:1\r\n`);
        if (state.armed && state.poison) {
          state.armed = false;
          state.poison(sock);
        }
      } else sock.write('+OK\r\n');
    }));
  });
  return new Promise((resolve) => server.listen(port, HOST, () => resolve({
    state,
    close: () => new Promise((r) => {
      for (const s of state.sockets) s.destroy();
      server.close(() => r());
    }),
  })));
}

const CASES = [
  {
    name: 'an array declaring 2,000,000 elements',
    poison: (sock) => sock.write('*2000000\r\n:1\r\n'),
    log: /declared over 1048576 elements/,
  },
  {
    name: 'a bulk string over redisReplyLimit (64 kB)',
    // announced as 1 MB, 80 kB of it sent: over the limit before it ends
    poison: (sock) => sock.write(`$1048576\r\n${'x'.repeat(80 * 1024)}`),
    log: /a reply over 65536 bytes/,
  },
  {
    name: 'a byte that starts no RESP type',
    poison: (sock) => sock.write('?garbage\r\n'),
    log: /protocol error/,
  },
  {
    name: 'arrays nested 12 deep',
    poison: (sock) => sock.write('*1\r\n'.repeat(12) + ':1\r\n'),
    log: /protocol error/,
  },
];

describe('hostile Redis replies', { skip }, () => {
  let fake;
  let server;
  before(async () => {
    const port = await freePort();
    fake = await fakeRedis(port);
    server = await startServer({
      settings: {
        adapter: 'redis',
        redisUrl: `redis://${HOST}:${port}`,
        redisReconnectMin: 20,
        redisReconnectMax: 100,
        redisReplyLimit: '64kb',
      },
    });
    await until(() => fake.state.subscribers >= 1, DEFAULT_WAIT_MS, 'the subscriber connects');
  });
  after(async () => {
    if (server) await server.stop();
    if (fake) await fake.close();
  });

  for (const c of CASES) {
    test(`${c.name}: the connection is dropped and made again, clients are served`, async () => {
      const before = fake.state.subscribers;
      const logLen = server.logs().length;
      fake.state.poison = c.poison;
      fake.state.armed = true;
      // the poison follows a subscription: drop every connection, siogate
      // reconnects and subscribes again
      for (const s of fake.state.sockets) s.destroy();
      await until(() => fake.state.subscribers >= before + 2, DEFAULT_WAIT_MS,
        'siogate reconnects after the poisoned reply');
      assert.match(server.logs().slice(logLen), c.log);
      assert.ok(server.alive(), 'siogate is still running');
      const sock = await connected(server.url);
      try {
        const [echoed] = await ask(sock, 'echo', 'still here');
        assert.equal(echoed, 'still here');
      } finally {
        closeAll(sock);
      }
    });
  }
});
