'use strict';
// Static files: the demo chat page at "/" and the official client bundle
// under /socket.io/ (serveClient).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { closeAll, request } = require('./lib/util');

describe('static files, serveClient on (default)', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { closeAll(); await srv.stop(); });

  test('GET / returns the chat page', async () => {
    const res = await request(srv.url, { path: '/' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.body, /<script src="\/socket\.io\/socket\.io\.min\.js"><\/script>/);
    assert.match(res.body, /chat\.js/);
    const index = await request(srv.url, { path: '/index.html' });
    assert.equal(index.status, 200);
    assert.equal(index.body, res.body);
  });

  test('page assets are served with their content types', async () => {
    const js = await request(srv.url, { path: '/chat.js' });
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.match(js.body, /add user/);
    const css = await request(srv.url, { path: '/style.css' });
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
  });

  test('unknown files -> 404; no escape from the web root', async () => {
    assert.equal((await request(srv.url, { path: '/no-such-file.html' })).status, 404);
    for (const p of ['/../CMakeLists.txt', '/..%2f..%2fCMakeLists.txt', '/%2e%2e/%2e%2e/CMakeLists.txt', '/../../../../etc/passwd']) {
      const res = await request(srv.url, { path: p });
      assert.ok(res.status >= 400 && res.status < 500, `${p} -> ${res.status}`);
      assert.doesNotMatch(res.body, /cmake_minimum_required|root:/, `${p} leaked a file`);
    }
  });

  test('client bundle: socket.io.min.js, socket.io.js, source maps, msgpack variant', async () => {
    for (const [p, type] of [
      ['/socket.io/socket.io.min.js', /javascript/],
      ['/socket.io/socket.io.js', /javascript/],
      ['/socket.io/socket.io.msgpack.min.js', /javascript/],
      ['/socket.io/socket.io.min.js.map', /json/],
      ['/socket.io/socket.io.js.map', /json/],
    ]) {
      const res = await request(srv.url, { path: p });
      assert.equal(res.status, 200, p);
      assert.match(String(res.headers['content-type']), type, `${p} content-type`);
      assert.ok(res.raw.length > 1000, `${p} is too small (${res.raw.length} bytes)`);
      if (p.endsWith('.js')) assert.match(res.body, /Socket\.IO v4\.\d+\.\d+/, `${p} is the Socket.IO 4 client`);
      else assert.equal(JSON.parse(res.body).version, 3, `${p} is a source map`);
    }
  });

  test('the client bundle has an ETag and honours If-None-Match', async () => {
    const res = await request(srv.url, { path: '/socket.io/socket.io.min.js' });
    const etag = res.headers.etag;
    assert.ok(etag, 'ETag header');
    const again = await request(srv.url, { path: '/socket.io/socket.io.min.js', headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.raw.length, 0);
  });
});

describe('serveClient=false', () => {
  let srv;
  before(async () => { srv = await startServer({ settings: { serveClient: 'false' } }); });
  after(async () => { closeAll(); await srv.stop(); });

  // Node: with serveClient off, the request falls through to Engine.IO, which
  // refuses it for lack of a transport.
  test('the client bundle is not served (400 Transport unknown, like Node)', async () => {
    const res = await request(srv.url, { path: '/socket.io/socket.io.min.js' });
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), { code: 0, message: 'Transport unknown' });
  });

  test('the page is still served', async () => {
    assert.equal((await request(srv.url, { path: '/' })).status, 200);
  });
});
