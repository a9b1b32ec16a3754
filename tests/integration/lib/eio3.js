'use strict';
// Helpers for the Engine.IO v3 / Socket.IO protocol 4 tests (setting
// allowEIO3): the old official client (socket.io-client 2.5.0, package
// alias "socket.io-client-v2") and the v3 wire formats driven by hand.
//
// Engine.IO v3 payloads (long-polling):
//   text:   <length>:<packet> repeated; length counts UTF-16 code units
//           (String#length); binary packets as "b<type><base64>" (b64=1)
//   binary: (Content-Type application/octet-stream) per packet one byte 0
//           (string) or 1 (binary), the length as one byte per decimal digit,
//           0xff, then the packet: a string packet as UTF-8 (length in
//           bytes), a binary packet as its type byte (4) and the data
//   JSONP:  ___eio[<j>]("<text payload as a JavaScript string literal>");
//           POST body d=<urlencoded text payload>

const io2 = require('socket.io-client-v2');
const { DEFAULT_WAIT_MS, request, withTimeout } = require('./util');

// ---------------------------------------------------------- the v2 client

const tracked = new Set();

/**
 * A socket.io-client 2.5.0 socket (own Manager, no reconnection), closed by
 * closeAll2(). `socket.upgraded` resolves when its engine runs on WebSocket
 * (listener attached before anything can happen: the v2 Manager creates its
 * engine synchronously).
 */
function client2(url, opts = {}) {
  const s = io2(url, { forceNew: true, reconnection: false, timeout: DEFAULT_WAIT_MS, ...opts });
  tracked.add(s);
  const engine = s.io.engine;
  s.upgraded = withTimeout(new Promise((resolve) => {
    if (engine.transport && engine.transport.name === 'websocket') return resolve();
    engine.once('upgrade', () => resolve());
  }), DEFAULT_WAIT_MS, 'v2 client upgrade to websocket');
  s.upgraded.catch(() => {}); // only awaited by the tests that expect it
  return s;
}

/** Wait for "connect"; rejects on connect_error, connect_timeout or error. */
function waitConnect2(socket, ms = DEFAULT_WAIT_MS) {
  if (socket.connected) return Promise.resolve(socket);
  return withTimeout(new Promise((resolve, reject) => {
    const events = {
      connect: () => { off(); resolve(socket); },
      connect_error: (e) => { off(); reject(e instanceof Error ? e : new Error(`connect_error ${JSON.stringify(e)}`)); },
      connect_timeout: () => { off(); reject(new Error('connect_timeout')); },
      error: (e) => { off(); reject(new Error(`error ${JSON.stringify(e)}`)); },
    };
    function off() { for (const [ev, fn] of Object.entries(events)) socket.off(ev, fn); }
    for (const [ev, fn] of Object.entries(events)) socket.on(ev, fn);
  }), ms, `v2 socket ${socket.nsp} connect`);
}

/**
 * A connected v2 client. With both transports (the default), also waits
 * until the upgrade to WebSocket is done.
 */
async function connected2(url, opts = {}) {
  const s = client2(url, opts);
  await waitConnect2(s);
  if (!opts.transports || opts.transports.length > 1) await s.upgraded;
  return s;
}

/** Emit with an ack (the v2 client has no timeout()); resolves with all ack args. */
function ask2(socket, event, ...args) {
  return withTimeout(new Promise((resolve) => {
    socket.emit(event, ...args, (...res) => resolve(res));
  }), DEFAULT_WAIT_MS, `ack for "${event}" (v2 client)`);
}

function closeAll2() {
  for (const s of tracked) {
    try {
      s.close();
      s.io.disconnect();
    } catch {}
  }
  tracked.clear();
}

/**
 * Stop the v2 client's heartbeat completely: it sends no more pings and
 * never times out by itself (so only the server can end the session).
 */
function stopHeartbeat(socket) {
  const e = socket.io.engine;
  e.removeListener('heartbeat', e.onHeartbeat);
  e.setPing = () => {};
  clearTimeout(e.pingIntervalTimer);
  clearTimeout(e.pingTimeoutTimer);
}

/** Make the v2 client ignore the server's pongs (it keeps pinging once). */
function dropPongs(socket) {
  const e = socket.io.engine;
  const orig = e.onPacket;
  e.onPacket = function onPacket(packet) {
    if (packet.type === 'pong') return undefined;
    return orig.call(this, packet);
  };
}

// ---------------------------------------------------------- v3 payloads

/** Text payload: `<length>:<packet>`..., length = String#length. */
function encodeText(packets) {
  return packets.map((p) => `${p.length}:${p}`).join('');
}

/** Strict decoder of a text payload; throws on anything malformed. */
function decodeText(body) {
  const out = [];
  let i = 0;
  while (i < body.length) {
    const colon = body.indexOf(':', i);
    if (colon < 0) throw new Error(`no ":" after offset ${i} in ${JSON.stringify(body)}`);
    const len = body.slice(i, colon);
    if (!/^\d+$/.test(len)) throw new Error(`bad length ${JSON.stringify(len)} in ${JSON.stringify(body)}`);
    const n = Number(len);
    const pkt = body.slice(colon + 1, colon + 1 + n);
    if (pkt.length !== n) throw new Error(`length ${n} longer than the rest in ${JSON.stringify(body)}`);
    out.push(pkt);
    i = colon + 1 + n;
  }
  return out;
}

/** An Engine.IO binary MESSAGE packet: type byte 4, then the data. */
function binPacket(data) {
  return Buffer.concat([Buffer.from([4]), Buffer.from(data)]);
}

/** XHR2 binary payload of string packets and binary packets (Buffers with their type byte). */
function encodeBinary(packets) {
  const parts = [];
  for (const p of packets) {
    const isString = typeof p === 'string';
    const data = isString ? Buffer.from(p, 'utf8') : p;
    parts.push(Buffer.from([isString ? 0 : 1, ...String(data.length).split('').map(Number), 0xff]), data);
  }
  return Buffer.concat(parts);
}

/** Strict decoder of an XHR2 binary payload: strings and Buffers (with their type byte). */
function decodeBinary(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    const kind = buf[i++];
    if (kind !== 0 && kind !== 1) throw new Error(`bad packet kind ${kind} at ${i - 1}`);
    let digits = '';
    while (i < buf.length && buf[i] !== 0xff) {
      if (buf[i] > 9) throw new Error(`bad length digit ${buf[i]} at ${i}`);
      digits += String(buf[i++]);
    }
    if (i >= buf.length || digits === '') throw new Error('unterminated length');
    i++; // 0xff
    const n = Number(digits);
    if (i + n > buf.length) throw new Error(`length ${n} longer than the rest`);
    const data = buf.subarray(i, i + n);
    out.push(kind === 0 ? data.toString('utf8') : Buffer.from(data));
    i += n;
  }
  return out;
}

/** JSONP answer `___eio[j]("...");` -> the payload string; throws if not that form. */
function unwrapJsonp(body, j = '0') {
  const head = `___eio[${j}]("`;
  if (!body.startsWith(head) || !body.endsWith('");')) throw new Error(`not a JSONP answer: ${JSON.stringify(body)}`);
  return JSON.parse(body.slice(head.length - 1, -2));
}

// ---------------------------------------------------------- raw polling

/**
 * Engine.IO long-polling session driven by hand, protocol 3 (or 4 for the
 * JSONP tests): `query` is added to every request (e.g. "&b64=1", "&j=0").
 * Packets are queued, so a test does not depend on how the server batches
 * them into GET answers.
 */
class PollingV3 {
  constructor(base, { eio = 3, query = '', handshakeQuery = '' } = {}) {
    this.base = base;
    this.eio = eio;
    this.query = query;
    this.handshakeQuery = handshakeQuery;
    this.jsonp = /(^|&)j=/.test(query + handshakeQuery);
    this.sid = null;
    this.queue = [];
    this.answers = []; // every GET answer: {status, contentType, packets}
  }
  path(extra = '') {
    const sid = this.sid ? `&sid=${encodeURIComponent(this.sid)}` : this.handshakeQuery;
    return `/socket.io/?EIO=${this.eio}&transport=polling${sid}${this.query}${extra}`;
  }
  /** Decode a 200 GET answer into packets (string or Buffer). */
  decode(res) {
    const ct = String(res.headers['content-type']);
    if (ct === 'application/octet-stream') return decodeBinary(res.raw);
    const text = this.jsonp ? unwrapJsonp(res.body) : res.body;
    if (this.eio === 4) return text.split('\x1e');
    return decodeText(text);
  }
  /** Handshake; returns the parsed open packet. */
  async open() {
    const res = await request(this.base, { path: this.path() });
    if (res.status !== 200) throw new Error(`handshake failed: ${res.status} ${res.body}`);
    this.handshakeResponse = res;
    const pkts = this.decode(res);
    const first = pkts.shift();
    if (typeof first !== 'string' || first[0] !== '0') throw new Error(`no open packet first: ${JSON.stringify(res.body)}`);
    this.handshake = JSON.parse(first.slice(1));
    this.sid = this.handshake.sid;
    this.queue.push(...pkts);
    return this.handshake;
  }
  get(opts = {}) {
    return request(this.base, { path: this.path(), ...opts });
  }
  /** POST packets (array: text framing, or binary framing when one is a Buffer) or a raw body. */
  post(packets, contentType) {
    let body = packets;
    let ct = contentType;
    if (Array.isArray(packets)) {
      const binary = packets.some((p) => Buffer.isBuffer(p));
      if (this.eio === 4) body = packets.join('\x1e');
      else body = binary ? encodeBinary(packets) : encodeText(packets);
      if (binary) ct = ct || 'application/octet-stream';
      if (this.jsonp) {
        body = `d=${encodeURIComponent(body)}`;
        ct = 'application/x-www-form-urlencoded';
      }
    }
    return request(this.base, {
      method: 'POST',
      path: this.path(),
      body,
      headers: { 'Content-Type': ct || 'text/plain;charset=UTF-8' },
    });
  }
  /** GET once and queue the packets. */
  async poll() {
    const res = await this.get();
    if (res.status !== 200) throw new Error(`GET failed: ${res.status} ${res.body}`);
    const packets = this.decode(res);
    this.answers.push({ contentType: res.headers['content-type'], packets, res });
    this.queue.push(...packets);
    return res;
  }
  /** Next packet (polls as needed). */
  async next() {
    while (this.queue.length === 0) await this.poll();
    return this.queue.shift();
  }
  /** Packets until one matching pred (returned); the skipped ones are kept in `skipped`. */
  async until(pred, ms = DEFAULT_WAIT_MS) {
    return withTimeout((async () => {
      for (;;) {
        const p = await this.next();
        if (pred(p)) return p;
        (this.skipped = this.skipped || []).push(p);
      }
    })(), ms, 'a matching polling packet');
  }
  /** v3 handshake plus the implicit Socket.IO CONNECT to "/" ("40"). */
  async connect() {
    await this.open();
    const c = await this.next();
    if (c !== '40') throw new Error(`expected the implicit CONNECT "40", got ${JSON.stringify(c)}`);
    return this.handshake;
  }
}

/** WebSocket URL for protocol 3 (or 4). */
function wsUrl3(base, query = '', eio = 3) {
  return `${base.replace(/^http/, 'ws')}/socket.io/?EIO=${eio}&transport=websocket${query}`;
}

module.exports = {
  client2,
  connected2,
  waitConnect2,
  ask2,
  closeAll2,
  stopHeartbeat,
  dropPongs,
  encodeText,
  decodeText,
  binPacket,
  encodeBinary,
  decodeBinary,
  unwrapJsonp,
  PollingV3,
  wsUrl3,
};
