'use strict';
// A private redis-server for one test file: a free loopback port, a temp
// directory, no persistence. stop() kills exactly the process it started;
// restart() stops it and starts a new one on the same port (Redis outage).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REDIS_BIN = process.env.SG_REDIS_SERVER || '/usr/bin/redis-server';
const HOST = '127.0.0.1';

function available() {
  return fs.existsSync(REDIS_BIN);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function spawnRedis(port, dir) {
  const child = spawn(REDIS_BIN, [
    '--port', String(port), '--bind', HOST, '--dir', dir,
    '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
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
          if (d.toString().startsWith('+PONG')) {
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

/** Start a redis-server; resolves { port, url, stop(), restart(), kill() }. */
async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-redis-'));
  const port = await freePort();
  let cur = await spawnRedis(port, dir);
  const handle = {
    port,
    host: HOST,
    url: `redis://${HOST}:${port}`,
    /** Stop the server (the port stays ours to reuse by start()). */
    async kill() { await killChild(cur.child); },
    async start() { cur = await spawnRedis(port, dir); },
    async restart() { await killChild(cur.child); cur = await spawnRedis(port, dir); },
    async stop() {
      await killChild(cur.child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

module.exports = { startRedis, available, REDIS_BIN };
