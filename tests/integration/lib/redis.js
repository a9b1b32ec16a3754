'use strict';
// A private redis-server for one test file: a free loopback port, a temp
// directory, no persistence. stop() kills exactly the process it started;
// restart() stops it and starts a new one on the same port (Redis outage).
// Options: extra redis-server arguments (e.g. --requirepass, --user), and a
// unix socket in the temp directory (mode 700).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { freePort } = require('./server');

const REDIS_BIN = process.env.SG_REDIS_SERVER || '/usr/bin/redis-server';
const HOST = '127.0.0.1';

function available() {
  return fs.existsSync(REDIS_BIN);
}

/** Throws when redis-server is missing: the README's test command
 *  (deploy/dev.sh test) installs it, so a test that needs it fails rather
 *  than skips. */
function requireRedis() {
  if (!available()) {
    throw new Error(`redis-server not found at ${REDIS_BIN}: install Debian's redis-server package `
      + '(deploy/dev.sh test installs every test dependency) or point SG_REDIS_SERVER at one');
  }
}

function spawnRedis(port, dir, extra = []) {
  const child = spawn(REDIS_BIN, [
    '--port', String(port), '--bind', HOST, '--dir', dir,
    '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
    ...extra,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  child.stdout.on('data', (d) => log.push(d.toString()));
  child.stderr.on('data', (d) => log.push(d.toString()));
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10000;
    let exited = false;
    child.once('exit', (code) => { exited = true; reject(new Error(`redis-server exited (${code}): ${log.join('')}`)); });
    const probe = () => {
      if (exited) return;
      const s = net.connect(port, HOST);
      s.once('connect', () => {
        s.write('PING\r\n');
        s.once('data', (d) => {
          s.destroy();
          // A server that requires AUTH answers -NOAUTH: it is up all the same.
          if (/^(\+PONG|-NOAUTH)/.test(d.toString())) {
            child.removeAllListeners('exit');
            resolve({ child, log });
          } else setTimeout(probe, 50);
        });
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) { child.kill('SIGKILL'); reject(new Error('redis-server did not start')); } else setTimeout(probe, 50);
      });
    };
    probe();
  });
}

function killChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} }, 5000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    try { child.kill('SIGTERM'); } catch { clearTimeout(t); resolve(); }
  });
}

/** Start a redis-server; resolves { port, url, socket, stop(), restart(), kill() }.
 *  opts.args: extra redis-server arguments; opts.unixSocket: also listen on
 *  a unix socket (handle.socket, mode 700). */
async function startRedis(opts = {}) {
  requireRedis();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-redis-'));
  const port = await freePort();
  const socket = opts.unixSocket ? path.join(dir, 'redis.sock') : null;
  const extra = [...(opts.args || []), ...(socket ? ['--unixsocket', socket, '--unixsocketperm', '700'] : [])];
  let cur = await spawnRedis(port, dir, extra);
  const handle = {
    port,
    host: HOST,
    socket,
    log: () => cur.log.join(''),
    url: `redis://${HOST}:${port}`,
    /** Stop the server (the port stays ours to reuse by start()). */
    async kill() { await killChild(cur.child); },
    async start() { cur = await spawnRedis(port, dir, extra); },
    async restart() { await killChild(cur.child); cur = await spawnRedis(port, dir, extra); },
    async stop() {
      await killChild(cur.child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

module.exports = { startRedis, available, requireRedis, REDIS_BIN };
