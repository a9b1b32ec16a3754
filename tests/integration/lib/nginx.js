'use strict';
// nginx in front of several nodes, as deploy/nginx/siogate.conf has it: for
// the cluster tests and the scale-out benchmark (tests/bench/scaleout.js).
// Node's core modules only, so the benchmark can load it without
// tests/integration's packages.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { freePort, HOST } = require('./server');

const ROOT = path.resolve(__dirname, '../../..');
const NGINX = process.env.SG_NGINX || '/usr/sbin/nginx';
const KILL_GRACE_MS = 4000;
const WAIT_MS = Number(process.env.SG_WAIT_MS || 10000);

/** Poll until pred() is truthy (async allowed); fails after ms. */
async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * nginx in front of `ports` with deploy/nginx/siogate.conf's proxying and
 * sticky sessions (hash $remote_addr consistent), plus the realip module
 * trusting X-Forwarded-For from loopback: a test gives each browser page
 * its own client address that way (a browser cannot pick the local
 * address of its connections). Runs in the foreground as our child;
 * resolves { port, url, pid, stop() }.
 *
 * opts.workerProcesses (1) and opts.workerConnections (1024): the benchmark
 * of tests/bench runs thousands of clients through it.
 */
async function startNginx(ports, dir, { workerProcesses = 1, workerConnections = 1024 } = {}) {
  if (!fs.existsSync(NGINX)) {
    throw new Error(`${NGINX} not found: install Debian's nginx-light package (deploy/dev.sh test installs every test dependency)`);
  }
  const front = await freePort();
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  let site = fs.readFileSync(path.join(ROOT, 'deploy/nginx/siogate.conf'), 'utf8');
  site = site.replace(/^ *server 127\.0\.0\.1:300[1-3];\n/mg, '')
    .replace(/^( *hash .*)$/m, `$1\n${ports.map((p) => `    server 127.0.0.1:${p};`).join('\n')}`)
    .replace('listen 127.0.0.1:3000;', `listen 127.0.0.1:${front};\n    set_real_ip_from 127.0.0.1;\n    real_ip_header X-Forwarded-For;`);
  if (!site.includes(`listen 127.0.0.1:${front};`) || !site.includes(`server 127.0.0.1:${ports[0]};`)) {
    throw new Error(`deploy/nginx/siogate.conf changed shape: cannot adapt it\n${site}`);
  }
  const conf = `worker_processes ${workerProcesses};
worker_rlimit_nofile ${2 * workerConnections + 64};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx.log warn;
events { worker_connections ${workerConnections}; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
${site}
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'nginx.log')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  child.stdout.on('data', (d) => log.push(d.toString()));
  child.stderr.on('data', (d) => log.push(d.toString()));
  let exited = null;
  const done = new Promise((resolve) => child.once('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  const handle = {
    port: front,
    pid: child.pid,
    url: `http://${HOST}:${front}`,
    logs: () => log.join('') + (fs.existsSync(path.join(dir, 'nginx.log')) ? fs.readFileSync(path.join(dir, 'nginx.log'), 'utf8') : ''),
    async stop() {
      if (exited) return exited;
      const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch {} }, KILL_GRACE_MS);
      try { child.kill('SIGTERM'); } catch {}
      const r = await done;
      clearTimeout(t);
      return r;
    },
  };
  process.on('exit', () => { if (!exited) { try { child.kill('SIGKILL'); } catch {} } });
  try {
    await until(() => new Promise((resolve) => {
      if (exited) return resolve(false);
      const s = net.connect(front, HOST);
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    }), WAIT_MS, `nginx listening on ${front}`);
  } catch (e) {
    await handle.stop();
    e.message += `\n${handle.logs()}`;
    throw e;
  }
  return handle;
}

module.exports = { startNginx, NGINX };
