'use strict';
// Starts the server under test on a free loopback port: the siogate binary
// ($SG_BIN) or, with SG_REF=1, the Node reference server (ref-server.js).
// Every started process is killed (SIGTERM, then SIGKILL) by stop(), and its
// stderr is printed when the test file fails or the process dies early.
//
// With SG_VALGRIND=1 (ignored with SG_REF) the binary runs under valgrind's
// memcheck: any invalid read/write, use of uninitialised memory, bad free or
// definite leak makes valgrind exit with code 99, so stop() throws. The report
// goes to the server's stderr, i.e. into the output printed on failure.

const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');

const HOST = '127.0.0.1';
const READY_RE = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
const useRef = process.env.SG_REF === '1';
const useValgrind = !useRef && process.env.SG_VALGRIND === '1';
// valgrind starts slowly and runs the server 10-50x slower, shutdown included
const READY_TIMEOUT_MS = Number(process.env.SG_READY_TIMEOUT_MS || (useValgrind ? 60000 : 20000));
// time between SIGTERM and SIGKILL in stop()
const KILL_GRACE_MS = useValgrind ? 30000 : 4000;
// exit code of valgrind when it found an error (--error-exitcode)
const VALGRIND_ERROR_EXIT = 99;

function valgrindArgs() {
  const src = process.env.SG_SOURCE_DIR || path.join(__dirname, '..', '..', '..');
  const supp = path.join(src, 'tests', 'valgrind', 'siogate.supp');
  const args = [
    '--tool=memcheck',
    `--error-exitcode=${VALGRIND_ERROR_EXIT}`,
    // leaks: only definite ones are errors; siogate frees everything it owns
    // at exit, the libraries may keep still-reachable blocks
    '--leak-check=full',
    '--show-leak-kinds=definite',
    '--errors-for-leak-kinds=definite',
    '--track-origins=yes',
    '--num-callers=40',
    `--suppressions=${supp}`,
  ];
  // extra options, space-separated, e.g. SG_VALGRIND_OPTS=--gen-suppressions=all
  if (process.env.SG_VALGRIND_OPTS) args.push(...process.env.SG_VALGRIND_OPTS.split(/\s+/).filter(Boolean));
  return args;
}

const started = [];

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

function command(port, app, settings, wrap) {
  const args = ['--host', HOST, '--port', String(port), '--app', app, '--log-level', process.env.SG_LOG_LEVEL || 'warn'];
  for (const [k, v] of Object.entries(settings)) args.push('--set', `${k}=${v}`);
  if (useRef) return { file: process.execPath, args: [path.join(__dirname, '..', 'ref-server.js'), ...args] };
  const bin = process.env.SG_BIN;
  if (!bin) throw new Error('SG_BIN is not set (path to the siogate binary); set SG_REF=1 to use the Node reference server');
  if (!fs.existsSync(bin)) throw new Error(`SG_BIN=${bin} does not exist`);
  // A wrapper command (e.g. prlimit) runs the binary with the same arguments.
  // With valgrind the order is: wrapper, valgrind, binary (the wrapper's
  // limits then apply to valgrind and the binary it runs; valgrind keeps 10
  // descriptors of RLIMIT_NOFILE for itself).
  const cmd = [...(wrap || []), ...(useValgrind ? ['valgrind', ...valgrindArgs()] : []), bin, ...args];
  return { file: cmd[0], args: cmd.slice(1) };
}

async function startOnce(app, settings, wrap) {
  const port = await freePort();
  const { file, args } = command(port, app, settings, wrap);
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  const log = [];
  const entry = { child, log, label: `${path.basename(file)} ${args.join(' ')}`, exited: false, stopping: false };
  started.push(entry);
  child.stdout.on('data', (d) => log.push(d.toString()));
  let buf = '';
  let ready = false;
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(new Error(`server did not print its readiness line within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    function fail(err) {
      clearTimeout(timer);
      err.message += `\ncommand: ${entry.label}\n--- server output ---\n${log.join('')}`;
      kill(entry).then(() => reject(err));
    }
    child.stderr.on('data', (d) => {
      const s = d.toString();
      log.push(s);
      if (ready) return;
      buf += s;
      const m = READY_RE.exec(buf);
      if (m && Number(m[1]) === port) {
        clearTimeout(timer);
        ready = true;
        buf = '';
        resolve(makeHandle(entry, port));
      }
    });
    child.on('error', (e) => { if (!ready) fail(e); });
    child.on('exit', (code, signal) => {
      entry.exited = true;
      if (!entry.stopping) {
        log.push(`\n[server exited: code=${code} signal=${signal}]\n`);
        if (!ready) fail(new Error(`server exited early (code=${code} signal=${signal})`));
      }
    });
  });
}

function makeHandle(entry, port) {
  return {
    port,
    host: HOST,
    url: `http://${HOST}:${port}`,
    pid: entry.child.pid,
    logs: () => entry.log.join(''),
    alive: () => !entry.exited,
    /** Send a signal as stop() does (the exit that follows is expected, and
     *  stop() still checks its status); resolves {code, signal} at exit. */
    signal: (sig) => {
      entry.stopping = true;
      const { child } = entry;
      const done = entry.exited || child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
        : new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      try { child.kill(sig); } catch {}
      return done;
    },
    stop: async () => {
      const diedEarly = entry.exited && !entry.stopping;
      const { code, signal } = await kill(entry);
      // siogate must survive the whole file and exit 0 on SIGTERM: a crash,
      // a sanitizer report or a leak found at exit makes the file fail.
      if (!process.env.SG_REF && (diedEarly || code !== 0 || signal)) {
        const vg = useValgrind && code === VALGRIND_ERROR_EXIT ? ': valgrind found memory errors, see its report (==pid== lines)' : '';
        throw new Error(`siogate did not exit cleanly (code=${code} signal=${signal}${diedEarly ? ', died before stop' : ''})${vg}\n--- server output ---\n${entry.log.join('')}`);
      }
    },
  };
}

function kill(entry) {
  entry.stopping = true;
  const { child } = entry;
  if (entry.exited || child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try { child.kill('SIGKILL'); } catch {}
    }, KILL_GRACE_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
    try { child.kill('SIGTERM'); } catch { clearTimeout(t); resolve({ code: null, signal: null }); }
  });
}

/**
 * Start the server under test.
 * @param {object} [o]
 * @param {string} [o.app='testkit']
 * @param {object} [o.settings] name -> value, passed as --set name=value
 * @param {string[]} [o.wrap] command to run the siogate binary under
 *   (e.g. ['prlimit', '--nofile=256:256']); ignored with SG_REF
 */
async function startServer(o = {}) {
  const app = o.app || 'testkit';
  const settings = o.settings || {};
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(app, settings, o.wrap);
    } catch (e) {
      lastErr = e;
      // only retry when the free port was taken in the meantime
      if (!/EADDRINUSE|address already in use|bind/i.test(e.message)) break;
    }
  }
  throw lastErr;
}

// Print the servers' output when the test file fails (node:test sets a
// non-zero exit code) or when a server died on its own.
process.on('exit', (code) => {
  for (const e of started) {
    if (code !== 0 || (e.exited && !e.stopping)) {
      fs.writeSync(2, `\n===== output of ${e.label} =====\n${e.log.join('')}\n===== end of server output =====\n`);
    }
    if (!e.exited) {
      try { e.child.kill('SIGKILL'); } catch {}
    }
  }
});

module.exports = { startServer, freePort, HOST, useRef, useValgrind };
