'use strict';
// A TCP proxy on a free loopback port, between a client and a server, that
// can cut the network: cut() resets every connection it carries (RST both
// ways, no FIN, no close frame: a transport failure, not a clean close) and,
// until restore(), resets every new connection as soon as it is accepted, so
// a reconnecting client fails until the test lets it through. setTarget()
// sends the connections accepted from then on to another port (the client
// "comes back" to another node behind a load balancer without sticky
// sessions). pause() only refuses new connections (the server, not the
// network, ends the current ones). heldGets counts the long-polling GETs the
// server holds unanswered: a cut while one is held is what makes the server
// see a polling client go at once. close() stops listening and resets what is
// left.

const net = require('node:net');

const HOST = '127.0.0.1';

/** An abrupt end: RST when the socket is still open, else just destroy. */
function reset(sock) {
  if (sock.destroyed) return;
  if (typeof sock.resetAndDestroy === 'function' && sock.readyState !== 'opening') sock.resetAndDestroy();
  else sock.destroy();
}

class TcpProxy {
  /** @param {number} targetPort where connections go (127.0.0.1) */
  constructor(targetPort) {
    this.targetPort = targetPort;
    this.pairs = new Set();
    this.down = false;
    this.accepted = 0; // connections accepted (and forwarded) so far
    this.refused = 0; // connections reset because the proxy was cut
    this.errors = []; // connections to the target that failed (message)
    this.server = net.createServer((c) => this._onConnection(c));
  }

  /** Listen on a free loopback port; resolves this. */
  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, HOST, () => {
        this.server.off('error', reject);
        this.port = this.server.address().port;
        this.url = `http://${HOST}:${this.port}`;
        resolve(this);
      });
    });
  }

  _onConnection(c) {
    c.on('error', () => {});
    if (this.down) {
      this.refused++;
      reset(c);
      return;
    }
    this.accepted++;
    const up = net.connect(this.targetPort, HOST);
    up.on('error', (e) => { if (!this.down) this.errors.push(`to port ${this.targetPort}: ${e.message}`); });
    // waiting: the last bytes went client -> server and began an HTTP
    // request (method), no answer yet: a long-polling GET held by the server
    const pair = { c, up, method: null, waiting: false };
    this.pairs.add(pair);
    c.on('data', (d) => {
      const m = /^([A-Z]+) \//.exec(d.toString('latin1', 0, 16));
      if (m) {
        pair.method = m[1];
        pair.waiting = true;
      }
    });
    up.on('data', () => { pair.waiting = false; });
    c.setNoDelay(true);
    up.setNoDelay(true);
    c.pipe(up);
    up.pipe(c);
    // One side gone (a server closing a polling request, a client closing
    // its WebSocket): the other goes the same way, as through a plain TCP
    // path. Only cut() resets.
    const end = () => {
      if (!this.pairs.delete(pair)) return;
      c.destroy();
      up.destroy();
    };
    c.on('close', end);
    up.on('close', end);
  }

  /** Connections currently carried. */
  get open() {
    return this.pairs.size;
  }

  /** HTTP GET requests the server holds unanswered (long-polling). */
  get heldGets() {
    let n = 0;
    for (const p of this.pairs) if (p.waiting && p.method === 'GET') n++;
    return n;
  }

  /** Connections accepted from now on go to this port. */
  setTarget(port) {
    this.targetPort = port;
  }

  /** Reset every new connection until restore(); the current ones go on. */
  pause() {
    this.down = true;
  }

  /** Reset every connection, and every new one until restore(). With
   *  {graceful: true} the connections are closed instead (FIN both ways, as
   *  a NAT or load balancer that drops an idle connection does). */
  cut({ graceful = false } = {}) {
    this.down = true;
    for (const pair of [...this.pairs]) {
      this.pairs.delete(pair);
      for (const s of [pair.c, pair.up]) {
        if (graceful) s.destroy();
        else reset(s);
      }
    }
  }

  /** Accept and forward new connections again. */
  restore() {
    this.down = false;
  }

  /** Stop listening and reset what is left. */
  close() {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Start a proxy to targetPort; resolves the TcpProxy (its .url, .port). */
async function startProxy(targetPort) {
  return new TcpProxy(targetPort).listen();
}

module.exports = { TcpProxy, startProxy };
