'use strict';
// TLS (tlsCert, tlsKey, tlsCa, tlsMinVersion): HTTPS and WSS on the port,
// through libwebsockets' OpenSSL, with throw-away certificates made by the
// openssl program in a temporary directory. The official client over both
// transports and the upgrade, acks and binary each way; a plain-HTTP request
// gets no HTTP answer; tlsMinVersion 1.3 refuses a TLS 1.2 client; tlsCa
// refuses clients without a certificate it signed; bad settings stop
// start-up with a message naming them.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { startServer, freePort, HOST, useRef, useValgrind } = require('./lib/server');
const { connected, client, closeAll, ask, waitFor, requireProgram, RawWS, wsUrl, DEFAULT_WAIT_MS } = require('./lib/util');

// Every path here is siogate's: the Node reference server has no TLS.
const skip = useRef ? 'TLS settings are siogate-only' : false;

const bytes = (...b) => Buffer.from(b);

let dir;
const f = (name) => path.join(dir, name);
const read = (name) => fs.readFileSync(f(name));

function openssl(...args) {
  execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

before(() => {
  if (skip) return;
  requireProgram('/usr/bin/openssl', 'openssl');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-tls-'));
  // the server's certificate, self-signed, for 127.0.0.1
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', 'server.key', '-out', 'server.crt');
  // a CA for client certificates, a client certificate it signed, and one
  // it did not (self-signed)
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=siogate test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-days', '1', '-keyout', 'ca.key', '-out', 'ca.crt');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=client', '-keyout', 'client.key', '-out', 'client.csr');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '2',
    '-days', '1', '-out', 'client.crt');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=client',
    '-days', '1', '-keyout', 'other.key', '-out', 'other.crt');
  // a key that is not the server certificate's
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'wrong.key');
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const httpsUrl = (srv) => `https://${HOST}:${srv.port}`;

/** A raw TLS connection; resolves with what happened: {secure, protocol,
 * alpn, cert, error, data (what came back to an HTTP request)}. */
function tlsProbe(port, opts = {}) {
  return new Promise((resolve) => {
    const out = { secure: false, data: '' };
    const sock = tls.connect({ host: HOST, port, ca: read('server.crt'), ...opts });
    const t = setTimeout(() => { out.timeout = true; sock.destroy(); }, DEFAULT_WAIT_MS);
    sock.on('secureConnect', () => {
      out.secure = true;
      out.authorized = sock.authorized;
      out.protocol = sock.getProtocol();
      out.alpn = sock.alpnProtocol;
      out.cert = sock.getPeerCertificate();
      sock.write(`GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
    });
    sock.on('data', (d) => { out.data += d.toString('latin1'); });
    sock.on('error', (e) => { out.error = e; });
    sock.on('close', () => { clearTimeout(t); resolve(out); });
  });
}

describe('https and wss with tlsCert + tlsKey', { skip }, () => {
  let srv;
  let url;
  const tlsOpts = () => ({ ca: read('server.crt') });
  before(async () => {
    srv = await startServer({ settings: { tlsCert: f('server.crt'), tlsKey: f('server.key') } });
    url = httpsUrl(srv);
  });
  after(async () => { closeAll(); await srv.stop(); });

  for (const [name, transports] of [['polling only', ['polling']], ['websocket only', ['websocket']]]) {
    test(`${name}: connects, ack round trip, binary each way`, async () => {
      const s = await connected(url, { transports, ...tlsOpts() });
      assert.equal(s.io.engine.transport.name, transports[0]);
      assert.deepEqual(await ask(s, 'echo', 'over tls', 42), ['over tls', 42]);
      // client -> server binary, and back in the ack
      const [back] = await ask(s, 'echo', bytes(0, 1, 2, 255));
      assert.ok(Buffer.isBuffer(back), 'the ack carried a Buffer');
      assert.deepEqual(back, bytes(0, 1, 2, 255));
      // server -> client binary event, a binary ack back to the server
      const seen = [];
      s.on('request', (...args) => {
        const cb = args.pop();
        seen.push(args);
        cb(bytes(0xca, 0xfe), 'plain');
      });
      const result = waitFor(s, 'ack result');
      s.emit('emit with ack', 5000, bytes(7, 7));
      const [res] = await result;
      assert.deepEqual(seen, [[bytes(7, 7)]]);
      assert.ok(Buffer.isBuffer(seen[0][0]), 'the server sent a Buffer');
      assert.equal(res.err, null);
      assert.deepEqual(res.args, [bytes(0xca, 0xfe), 'plain']);
      // a large message crosses several TLS records
      const big = crypto.randomBytes(300 * 1024);
      const [bigBack] = await ask(s, 'echo', big);
      assert.ok(big.equals(bigBack), '300 kB binary round trip intact');
      assert.equal(s.io.engine.transport.name, transports[0]);
      s.disconnect();
    });
  }

  test('default transports: polling upgrades to websocket over TLS', async () => {
    const s = client(url, tlsOpts());
    let first = null;
    const upgraded = waitFor(s.io, 'open').then(() => {
      first = s.io.engine.transport.name;
      return waitFor(s.io.engine, 'upgrade');
    });
    await waitFor(s, 'connect');
    const [transport] = await upgraded;
    assert.equal(first, 'polling');
    assert.equal(transport.name, 'websocket');
    assert.deepEqual(await ask(s, 'echo', 'after upgrade', bytes(9)), ['after upgrade', bytes(9)]);
    s.disconnect();
  });

  test('a reader that stops reading gets every byte, in order, once it reads again', async () => {
    // 12 MB of answers: more than the socket buffers take, so the server's
    // writes stop part-way and lws keeps the rest of the TLS stream
    const ws = new RawWS(wsUrl(url), { ca: read('server.crt') });
    await ws.opened();
    await ws.until((m) => m.startsWith('0'));
    ws.send('40');
    await ws.until((m) => m.startsWith('40'));
    ws.ws._socket.pause();
    const n = 48;
    const chunk = 'x'.repeat(256 * 1024 - 64);
    for (let i = 0; i < n; i++) ws.send(`42${i}["echo","${i}:${chunk}"]`);
    await new Promise((r) => setTimeout(r, 500));
    ws.ws._socket.resume();
    for (let i = 0; i < n; i++) {
      const m = await ws.until((p) => p.startsWith('43'), DEFAULT_WAIT_MS * 3);
      assert.ok(m === `43${i}["${i}:${chunk}"]`, `answer ${i} intact and in order`);
    }
    ws.close();
  });

  test('the certificate presented is ours; ALPN offers HTTP/1.1 only; TLS 1.2 accepted by default', async () => {
    const ours = new crypto.X509Certificate(read('server.crt'));
    const r = await tlsProbe(srv.port, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(r.secure, true, `TLS handshake: ${r.error}`);
    assert.equal(r.authorized, true);
    assert.equal(r.cert.fingerprint256, ours.fingerprint256);
    assert.equal(r.protocol, 'TLSv1.3');
    assert.equal(r.alpn, 'http/1.1');
    assert.match(r.data, /^HTTP\/1\.1 200 /, 'an HTTPS request is answered');
    const r12 = await tlsProbe(srv.port, { maxVersion: 'TLSv1.2' });
    assert.equal(r12.secure, true, `TLS 1.2 handshake: ${r12.error}`);
    assert.equal(r12.protocol, 'TLSv1.2');
    assert.match(r12.data, /^HTTP\/1\.1 200 /);
  });

  test('a client that does not trust the certificate cannot connect', async () => {
    const s = client(url, { transports: ['websocket'] });
    const [err] = await waitFor(s, 'connect_error');
    assert.ok(err, 'connect_error');
    s.close();
  });

  test('a plain-HTTP request to the TLS port gets no HTTP answer', async () => {
    const got = await new Promise((resolve) => {
      let data = Buffer.alloc(0);
      const sock = net.connect(srv.port, HOST, () => {
        sock.write(`GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      });
      const t = setTimeout(() => { sock.destroy(); resolve({ data, timeout: true }); }, DEFAULT_WAIT_MS);
      sock.on('data', (d) => { data = Buffer.concat([data, d]); });
      sock.on('error', () => {});
      sock.on('close', () => { clearTimeout(t); resolve({ data }); });
    });
    assert.ok(!got.timeout, 'the server closed the connection');
    assert.ok(!got.data.toString('latin1').startsWith('HTTP/'), `no HTTP answer (got ${JSON.stringify(got.data.toString('latin1').slice(0, 40))})`);
    // the server survived it
    const s = await connected(url, { transports: ['websocket'], ...tlsOpts() });
    assert.deepEqual(await ask(s, 'echo', 'still here'), ['still here']);
    s.disconnect();
  });

  test('handshake.secure is true over TLS, as in Node', async () => {
    const s = await connected(url, { transports: ['websocket'], ...tlsOpts() });
    const [hs] = await ask(s, 'handshake');
    s.disconnect();
    assert.equal(hs.secure, true);
  });
});

describe('tlsMinVersion 1.3', { skip }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ settings: { tlsCert: f('server.crt'), tlsKey: f('server.key'), tlsMinVersion: '1.3' } });
  });
  after(async () => { closeAll(); await srv.stop(); });

  test('a TLS 1.2-only client is refused; TLS 1.3 works', async () => {
    const r12 = await tlsProbe(srv.port, { maxVersion: 'TLSv1.2' });
    assert.equal(r12.secure, false, 'no TLS 1.2 handshake');
    assert.ok(r12.error, 'the client saw an error');
    // the server's protocol_version alert, not a client-side refusal
    assert.equal(r12.error.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    assert.equal(r12.data, '');
    const s = await connected(httpsUrl(srv), { transports: ['websocket'], ca: read('server.crt') });
    assert.deepEqual(await ask(s, 'echo', 'tls 1.3'), ['tls 1.3']);
    s.disconnect();
  });
});

describe('tlsCa: client certificates required', { skip }, () => {
  let srv;
  let url;
  before(async () => {
    srv = await startServer({ settings: { tlsCert: f('server.crt'), tlsKey: f('server.key'), tlsCa: f('ca.crt') } });
    url = httpsUrl(srv);
  });
  after(async () => { closeAll(); await srv.stop(); });

  test('a client without a certificate is refused', async () => {
    // the server's alerts: certificate_required (TLS 1.3), handshake_failure (TLS 1.2)
    for (const [maxVersion, code] of [['TLSv1.3', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'],
      ['TLSv1.2', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE']]) {
      const r = await tlsProbe(srv.port, { maxVersion });
      assert.equal(r.error && r.error.code, code, `${maxVersion}: ${r.error}`);
      assert.equal(r.data, '', `${maxVersion}: no HTTP answer`);
    }
    for (const transports of [['polling'], ['websocket']]) {
      const s = client(url, { transports, ca: read('server.crt') });
      await waitFor(s, 'connect_error');
      s.close();
    }
  });

  test('a client whose certificate tlsCa did not sign is refused', async () => {
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2']) {
      const r = await tlsProbe(srv.port, { maxVersion, cert: read('other.crt'), key: read('other.key') });
      // the server's unknown_ca alert (lws alone would let this certificate in)
      assert.equal(r.error && r.error.code, 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', `${maxVersion}: ${r.error}`);
      assert.equal(r.data, '', `${maxVersion}: no HTTP answer`);
    }
    const s = client(url, { transports: ['websocket'], ca: read('server.crt'), cert: read('other.crt'), key: read('other.key') });
    await waitFor(s, 'connect_error');
    s.close();
  });

  test('a client with a certificate signed by tlsCa connects, both transports and upgrade', async () => {
    const opts = { ca: read('server.crt'), cert: read('client.crt'), key: read('client.key') };
    const r = await tlsProbe(srv.port, { cert: opts.cert, key: opts.key });
    assert.equal(r.secure, true, `TLS handshake: ${r.error}`);
    assert.match(r.data, /^HTTP\/1\.1 200 /);
    for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
      const s = await connected(url, { transports, ...opts });
      assert.deepEqual(await ask(s, 'echo', transports.join('+'), bytes(1, 2)), [transports.join('+'), bytes(1, 2)]);
      s.disconnect();
    }
  });
});

/** Run siogate (under valgrind with SG_VALGRIND=1) expecting a failed
 * start-up; resolves with {code, signal, stderr}. */
async function failedStart(settings) {
  const port = await freePort();
  const args = ['--host', HOST, '--port', String(port), '--app', 'testkit', '--log-level', 'warn'];
  for (const [k, v] of Object.entries(settings)) args.push('--set', `${k}=${v}`);
  let cmd = [process.env.SG_BIN, ...args];
  if (useValgrind) {
    const src = process.env.SG_SOURCE_DIR || path.join(__dirname, '..', '..');
    cmd = ['valgrind', '--error-exitcode=99', '--leak-check=full', '--show-leak-kinds=definite',
      '--errors-for-leak-kinds=definite', `--suppressions=${path.join(src, 'tests', 'valgrind', 'siogate.supp')}`, ...cmd];
  }
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { child.kill('SIGKILL'); }, useValgrind ? 60000 : 10000);
    child.on('error', reject);
    child.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, stderr }); });
  });
}

describe('start-up refuses bad TLS settings', { skip }, () => {
  const cases = [
    ['a missing key file', () => ({ tlsCert: f('server.crt'), tlsKey: f('missing.key') }),
      /tlsKey: cannot read '.*missing\.key': No such file or directory/],
    ['tlsCert without tlsKey', () => ({ tlsCert: f('server.crt') }), /TLS needs both tlsCert and tlsKey \(tlsKey is not set\)/],
    ['tlsKey without tlsCert', () => ({ tlsKey: f('server.key') }), /TLS needs both tlsCert and tlsKey \(tlsCert is not set\)/],
    ['tlsCa without a certificate', () => ({ tlsCa: f('ca.crt') }), /TLS needs both tlsCert and tlsKey \(tlsCa is set without them\)/],
    ['a key as the certificate', () => ({ tlsCert: f('server.key'), tlsKey: f('server.key') }), /tlsCert: '.*server\.key' holds no PEM CERTIFICATE/],
    ['an unreadable CA file', () => ({ tlsCert: f('server.crt'), tlsKey: f('server.key'), tlsCa: f('missing-ca.crt') }),
      /tlsCa: cannot read '.*missing-ca\.crt'/],
    ['a key that is not the certificate\'s', () => ({ tlsCert: f('server.crt'), tlsKey: f('wrong.key') }),
      /TLS: cannot use tlsCert '.*server\.crt', tlsKey '.*wrong\.key'/],
    ['a CA file lws cannot load', () => {
      fs.writeFileSync(f('garbage-ca.crt'), '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n');
      return { tlsCert: f('server.crt'), tlsKey: f('server.key'), tlsCa: f('garbage-ca.crt') };
    }, /TLS: cannot use .*tlsCa '.*garbage-ca\.crt'/],
  ];
  for (const [name, settings, message] of cases) {
    test(`${name}: a clear message and exit code 1`, async () => {
      const r = await failedStart(settings());
      assert.equal(r.signal, null, `no crash\n${r.stderr}`);
      assert.equal(r.code, 1, `exit code\n${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /listening on/);
      assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/);
    });
  }
});
