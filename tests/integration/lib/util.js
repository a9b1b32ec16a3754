'use strict';
// Small helpers shared by the integration tests: official socket.io-client
// sockets that are always cleaned up, event waiting with generous upper
// bounds, raw HTTP (Engine.IO long-polling) and raw WebSocket access.

const fs = require('node:fs');
const http = require('node:http');
const { io, Manager } = require('socket.io-client');
const WebSocket = require('ws');

const DEFAULT_WAIT_MS = Number(process.env.SG_WAIT_MS || 10000);

// ---------------------------------------------------------------- clients

const tracked = new Set();

/** An official client socket; closed by closeAll(). Does not reconnect. */
function client(url, opts = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, timeout: DEFAULT_WAIT_MS, ...opts });
  tracked.add(socket);
  return socket;
}

/** A Manager (one Engine.IO connection) to multiplex namespaces over. */
function manager(url, opts = {}) {
  const m = new Manager(url, { reconnection: false, timeout: DEFAULT_WAIT_MS, ...opts });
  tracked.add(m);
  return m;
}

/** Connect a client and wait for "connect"; rejects on connect_error. */
async function connected(url, opts = {}) {
  const socket = client(url, opts);
  await waitConnect(socket);
  return socket;
}

function waitConnect(socket, ms = DEFAULT_WAIT_MS) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`socket ${socket.nsp} did not connect within ${ms} ms`));
    }, ms);
    const onConnect = () => { cleanup(); resolve(socket); };
    const onError = (err) => { cleanup(); reject(err); };
    function cleanup() {
      clearTimeout(t);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    }
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

function closeAll() {
  for (const s of tracked) {
    try {
      if (s instanceof Manager) {
        for (const nsp of Object.values(s.nsps || {})) nsp.disconnect();
        s.disconnect();
      } else {
        s.disconnect();
        if (s.io && s.io.engine) s.io.engine.close();
      }
    } catch {}
  }
  tracked.clear();
  for (const w of rawSockets) {
    try { w.terminate(); } catch {}
  }
  rawSockets.clear();
}

// ------------------------------------------------------------ set-up

/**
 * Throw when a program the tests need is missing. The README's test command
 * (deploy/dev.sh test) installs every one of them (redis-server, nginx,
 * chromium), so a missing program is a broken set-up that must fail the
 * test, never skip it.
 */
function requireProgram(file, debianPackage) {
  if (!fs.existsSync(file)) {
    throw new Error(`${file} not found: install Debian's ${debianPackage} package `
      + '(deploy/dev.sh test installs every test dependency)');
  }
}

// ------------------------------------------------------------ waiting

/** Wait for one `event` on an emitter/socket; resolves with the args array. */
function waitFor(emitter, event, ms = DEFAULT_WAIT_MS, filter = null) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    const handler = (...args) => {
      if (filter && !filter(...args)) return;
      off();
      resolve(args);
    };
    function off() {
      clearTimeout(t);
      (emitter.off || emitter.removeListener).call(emitter, event, handler);
    }
    emitter.on(event, handler);
  });
}

/** Records every occurrence of `event` on a socket. */
function recorder(socket, event) {
  const items = [];
  const waiters = [];
  socket.on(event, (...args) => {
    items.push(args);
    for (const w of waiters.splice(0)) w();
  });
  return {
    items,
    /** wait until at least n items were recorded */
    async count(n, ms = DEFAULT_WAIT_MS) {
      const deadline = Date.now() + ms;
      while (items.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${n} "${event}" (got ${items.length}: ${JSON.stringify(items)})`);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => { clearTimeout(t); resolve(); });
        });
      }
      return items;
    },
    /** wait until an item matching pred was recorded */
    async match(pred, ms = DEFAULT_WAIT_MS) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = items.find((a) => pred(...a));
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for a matching "${event}" (got ${JSON.stringify(items)})`);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => { clearTimeout(t); resolve(); });
        });
      }
    },
  };
}

/**
 * Emit with an ack and an upper bound so a missing ack fails instead of
 * hanging. Resolves with the array of ALL ack arguments.
 */
function ask(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(DEFAULT_WAIT_MS).emit(event, ...args, (err, ...res) => {
      if (err) reject(new Error(`no ack for "${event}" within ${DEFAULT_WAIT_MS} ms`));
      else resolve(res);
    });
  });
}

/** Resolves with the reason of the next "disconnect" of a socket. */
async function nextDisconnect(socket, ms = DEFAULT_WAIT_MS) {
  const [reason] = await waitFor(socket, 'disconnect', ms);
  return reason;
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

// ------------------------------------------------------ raw HTTP / polling

/**
 * Plain HTTP request. Returns {status, headers, body (string), raw (Buffer)}.
 * A fresh connection every time (agent: false) so that held requests never
 * queue behind each other.
 */
function request(base, { method = 'GET', path = '/', headers = {}, body, timeout = DEFAULT_WAIT_MS } = {}) {
  const u = new URL(base);
  // Like every Engine.IO client, send a Content-Length (not a chunked body).
  if (body !== undefined && !Object.keys(headers).some((h) => /^(content-length|transfer-encoding)$/i.test(h))) {
    headers = { ...headers, 'Content-Length': Buffer.byteLength(body) };
  }
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      method,
      path,
      headers,
      agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: raw.toString('utf8'), raw });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`HTTP ${method} ${path} timed out after ${timeout} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const SEP = '\x1e';

/** Engine.IO long-polling session driven by hand. */
class RawPolling {
  constructor(base, prefix = '/socket.io/') {
    this.base = base;
    this.prefix = prefix;
    this.sid = null;
  }
  path(extra = '') {
    return `${this.prefix}?EIO=4&transport=polling${this.sid ? `&sid=${encodeURIComponent(this.sid)}` : ''}${extra}`;
  }
  async open() {
    const res = await request(this.base, { path: this.path() });
    if (res.status !== 200 || res.body[0] !== '0') throw new Error(`handshake failed: ${res.status} ${res.body}`);
    this.handshake = JSON.parse(res.body.slice(1));
    this.sid = this.handshake.sid;
    return this.handshake;
  }
  get(opts = {}) {
    return request(this.base, { path: this.path(`&t=${Date.now()}`), ...opts });
  }
  post(body, opts = {}) {
    const { headers, ...rest } = opts;
    return request(this.base, {
      method: 'POST',
      path: this.path(),
      body,
      headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...(headers || {}) },
      ...rest,
    });
  }
  /** GET and split the payload into packets */
  async packets() {
    const res = await this.get();
    if (res.status !== 200) throw new Error(`GET failed: ${res.status} ${res.body}`);
    return res.body.split(SEP);
  }
  /** GET until a packet matching pred arrives; answers pings on the way */
  async until(pred, ms = DEFAULT_WAIT_MS) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const pkts = await this.packets();
      for (const p of pkts) {
        if (pred(p)) return p;
        if (p === '2') await this.post('3');
      }
    }
    throw new Error('timed out waiting for a polling packet');
  }
  /** Engine.IO handshake + Socket.IO CONNECT to the main namespace */
  async connectSio(auth) {
    await this.open();
    const r = await this.post(auth ? `40${JSON.stringify(auth)}` : '40');
    if (r.status !== 200) throw new Error(`CONNECT POST failed: ${r.status}`);
    const pkt = await this.until((p) => p.startsWith('40'));
    this.sioId = JSON.parse(pkt.slice(2)).sid;
    return this.sioId;
  }
}

// ------------------------------------------------------ raw WebSocket

const rawSockets = new Set();

/** Raw WebSocket with a message queue. */
class RawWS {
  constructor(url, opts = {}) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, ...opts });
    rawSockets.add(this.ws);
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    this.ws.on('message', (data, isBinary) => {
      this.queue.push(isBinary ? data : data.toString());
      this._wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this._wake();
    });
    this.ws.on('error', (e) => {
      this.error = e;
      this._wake();
    });
  }
  _wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  opened(ms = DEFAULT_WAIT_MS) {
    return withTimeout(new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve();
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
    }), ms, 'WebSocket open');
  }
  send(data) {
    this.ws.send(data);
  }
  async next(ms = DEFAULT_WAIT_MS) {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      if (this.closed) throw new Error(`WebSocket closed (${this.closed.code}) while waiting for a message`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a WebSocket message');
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.queue.shift();
  }
  /** next text message matching pred (answers pings "2" with "3") */
  async until(pred, ms = DEFAULT_WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (pred(m)) return m;
      if (m === '2') this.send('3');
    }
  }
  async waitClose(ms = DEFAULT_WAIT_MS) {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the WebSocket to close');
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.closed;
  }
  close() {
    try { this.ws.terminate(); } catch {}
  }
}

function wsUrl(base, query = '') {
  return `${base.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket${query}`;
}

/**
 * Barrier: once `socket` gets its echo ack back, the server has processed
 * every packet the socket sent before (and queued what they produced).
 */
async function barrier(socket) {
  await ask(socket, 'echo', 'barrier');
}

module.exports = {
  DEFAULT_WAIT_MS,
  client,
  manager,
  connected,
  waitConnect,
  closeAll,
  requireProgram,
  waitFor,
  recorder,
  ask,
  nextDisconnect,
  withTimeout,
  request,
  RawPolling,
  RawWS,
  wsUrl,
  barrier,
  SEP,
};
