'use strict';
// CORS on the Engine.IO endpoint: none unless configured; allowed origin,
// credentials, preflight OPTIONS.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { closeAll, request, RawPolling } = require('./lib/util');

const HS = '/socket.io/?EIO=4&transport=polling';
const ORIGIN = 'http://example.com';
const corsHeaders = (res) => Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));
const preflight = (url, path = HS) => request(url, {
  method: 'OPTIONS',
  path,
  headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
});

describe('no cors configured', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.stop(); });

  test('no Access-Control-* headers on handshake, POST or errors', async () => {
    const hs = await request(srv.url, { path: HS, headers: { Origin: ORIGIN } });
    assert.equal(hs.status, 200);
    assert.deepEqual(corsHeaders(hs), []);
    const p = new RawPolling(srv.url);
    await p.open();
    const post = await p.post('40', { headers: { Origin: ORIGIN } });
    assert.equal(post.status, 200);
    assert.deepEqual(corsHeaders(post), []);
    const err = await request(srv.url, { path: '/socket.io/?EIO=4&transport=bogus', headers: { Origin: ORIGIN } });
    assert.equal(err.status, 400);
    assert.deepEqual(corsHeaders(err), []);
  });

  test('preflight OPTIONS is not answered with CORS headers (Node: 400 Bad handshake method)', async () => {
    const res = await preflight(srv.url);
    assert.deepEqual(corsHeaders(res), []);
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), { code: 2, message: 'Bad handshake method' });
  });
});

describe(`cors=${ORIGIN}`, () => {
  let srv;
  before(async () => { srv = await startServer({ settings: { cors: ORIGIN } }); });
  after(async () => { closeAll(); await srv.stop(); });

  test('handshake, POST and error responses allow the configured origin', async () => {
    const hs = await request(srv.url, { path: HS, headers: { Origin: ORIGIN } });
    assert.equal(hs.status, 200);
    assert.equal(hs.headers['access-control-allow-origin'], ORIGIN);
    assert.match(String(hs.headers.vary), /Origin/i);
    assert.equal(hs.headers['access-control-allow-credentials'], undefined, 'no credentials unless configured');
    const p = new RawPolling(srv.url);
    await p.open();
    const post = await p.post('40', { headers: { Origin: ORIGIN } });
    assert.equal(post.status, 200);
    assert.equal(post.headers['access-control-allow-origin'], ORIGIN);
    const err = await request(srv.url, { path: '/socket.io/?EIO=4&transport=bogus', headers: { Origin: ORIGIN } });
    assert.equal(err.status, 400);
    assert.equal(err.headers['access-control-allow-origin'], ORIGIN, 'errors are readable by the allowed origin');
  });

  test('another origin is not allowed', async () => {
    const res = await request(srv.url, { path: HS, headers: { Origin: 'http://evil.example' } });
    assert.notEqual(res.headers['access-control-allow-origin'], 'http://evil.example');
    assert.notEqual(res.headers['access-control-allow-origin'], '*');
  });

  test('preflight OPTIONS (handshake and with sid) -> 204 with methods and requested headers', async () => {
    const p = new RawPolling(srv.url);
    await p.open();
    for (const path of [HS, p.path()]) {
      const res = await preflight(srv.url, path);
      assert.equal(res.status, 204, `OPTIONS ${path}`);
      assert.equal(res.body, '');
      assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
      const methods = String(res.headers['access-control-allow-methods']).split(',').map((m) => m.trim().toUpperCase());
      for (const m of ['GET', 'POST']) assert.ok(methods.includes(m), `Allow-Methods ${methods} lacks ${m}`);
    }
    const res = await preflight(srv.url);
    assert.match(String(res.headers['access-control-allow-headers']), /content-type/i);
  });
});

describe(`cors=${ORIGIN} with corsCredentials=true`, () => {
  let srv;
  before(async () => { srv = await startServer({ settings: { cors: ORIGIN, corsCredentials: 'true' } }); });
  after(async () => { closeAll(); await srv.stop(); });

  test('Access-Control-Allow-Credentials: true on requests and preflight', async () => {
    const hs = await request(srv.url, { path: HS, headers: { Origin: ORIGIN } });
    assert.equal(hs.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(hs.headers['access-control-allow-credentials'], 'true');
    const pre = await preflight(srv.url);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  });
});

describe('cors=*', () => {
  let srv;
  before(async () => { srv = await startServer({ settings: { cors: '*' } }); });
  after(async () => { closeAll(); await srv.stop(); });

  test('any origin: Access-Control-Allow-Origin: *', async () => {
    const hs = await request(srv.url, { path: HS, headers: { Origin: 'http://anything.example' } });
    assert.equal(hs.status, 200);
    assert.equal(hs.headers['access-control-allow-origin'], '*');
    const pre = await preflight(srv.url);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
  });
});
