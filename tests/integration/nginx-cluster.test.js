'use strict';
// A real cluster: deploy/cluster.sh starts redis-server, three siogate nodes
// (Redis adapter) and nginx with sticky sessions, on free loopback ports.
// The nodes run the chat app, as a deployment would. Official clients
// connect through nginx polling-first (so stickiness matters), upgrade, and
// receive chat messages sent on other nodes; the chat page in Chromium talks
// across nodes.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { io } = require('socket.io-client');
const { waitFor, request, requireProgram, DEFAULT_WAIT_MS } = require('./lib/util');
const { freePort } = require('./lib/server');

const ROOT = path.resolve(__dirname, '../..');
const CLUSTER = path.join(ROOT, 'deploy/cluster.sh');
const CHROMIUM = process.env.SG_CHROMIUM || '/usr/bin/chromium';
// what deploy/cluster.sh runs (same defaults and variables)
const NGINX = process.env.SG_NGINX || '/usr/sbin/nginx';
const REDIS = process.env.SG_REDIS || '/usr/bin/redis-server';


function cluster(cmd, env) {
  return new Promise((resolve, reject) => {
    execFile('bash', [CLUSTER, cmd], { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`cluster.sh ${cmd} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('nginx + 3 siogate nodes + Redis (deploy/cluster.sh)', () => {
  let env;
  let front;
  let nodes;
  let dir;
  const clients = [];

  before(async () => {
    requireProgram(NGINX, 'nginx-light');
    requireProgram(REDIS, 'redis-server');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-cluster-'));
    front = await freePort();
    nodes = [await freePort(), await freePort(), await freePort()];
    env = {
      SG_CLUSTER_DIR: dir,
      SG_FRONT_PORT: String(front),
      SG_NODE_PORTS: nodes.join(' '),
      SG_REDIS_PORT: String(await freePort()),
      SG_BIN: process.env.SG_BIN,
    };
    await cluster('up', env);
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    if (!env) return; // before() failed before anything was started
    const logs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.log')) : [];
    await cluster('down', env);
    // Every node must have exited cleanly (no crash, no sanitizer report).
    for (const f of logs.filter((l) => l.startsWith('node-'))) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      assert.doesNotMatch(text, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, `${f}:\n${text}`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Which node holds an Engine.IO session? A PUT with its sid disturbs
  // nothing: the owner answers 500 (polling session, kept) or 400 code 3
  // (session already on WebSocket), the others 400 code 1 "Session ID unknown".
  async function nodeOf(sid) {
    const owners = [];
    for (const p of nodes) {
      const res = await request(`http://127.0.0.1:${p}`, { method: 'PUT', path: `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}` });
      if (res.status === 500 || (res.status === 400 && JSON.parse(res.body).code === 3)) owners.push(p);
      else assert.equal(JSON.parse(res.body).code, 1, `node ${p}: ${res.status} ${res.body}`);
    }
    assert.equal(owners.length, 1, `session ${sid} owned by ${owners}`);
    return owners[0];
  }

  // A client whose TCP connections come from a given loopback address, so
  // nginx's hash on $remote_addr spreads the clients over the nodes.
  async function connectFrom(addr) {
    const agent = new http.Agent({ localAddress: addr, keepAlive: true });
    const s = io(`http://127.0.0.1:${front}`, { agent, forceNew: true, reconnection: false });
    clients.push(s);
    await waitFor(s, 'connect');
    if (s.io.engine.transport.name !== 'websocket') await waitFor(s.io.engine, 'upgrade');
    return s;
  }

  test('polling-first clients stick to one node through the upgrade; several nodes are used', async () => {
    const byNode = new Map();
    for (let i = 2; i < 14; i++) {
      const s = await connectFrom(`127.0.0.${i}`);
      assert.equal(s.io.engine.transport.name, 'websocket');
      const node = await nodeOf(s.io.engine.id);
      s.node = node;
      byNode.set(node, (byNode.get(node) || 0) + 1);
      // the session keeps working after the upgrade
      const res = await s.timeout(DEFAULT_WAIT_MS).emitWithAck('add user', `user-${i}`, 'cluster-room');
      assert.equal(res.room, 'cluster-room');
    }
    assert.ok(byNode.size >= 2, `clients landed on ${[...byNode.keys()]}`);
  });

  test('a message sent on one node reaches the room on every node', async () => {
    const sender = clients[0];
    const others = clients.slice(1);
    assert.ok(others.some((c) => c.node !== sender.node), 'some receiver is on another node');
    const got = others.map((c) => waitFor(c, 'new message'));
    sender.emit('new message', 'across');
    for (const [i, p] of got.entries()) {
      const [msg] = await p;
      assert.deepEqual(msg, { username: 'user-2', message: 'across' }, `client ${i}`);
    }
  });

  test('the chat page in two Chromium tabs on different nodes', async () => {
    requireProgram(CHROMIUM, 'chromium');
    const { chromium } = require('playwright-core');
    const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context.setDefaultTimeout(15000);
    try {
      // Tab 1 through nginx; learn its node from the sid in its polling URLs.
      const ada = await context.newPage();
      const sids = [];
      ada.on('request', (r) => { const m = /[?&]sid=([^&]+)/.exec(r.url()); if (m) sids.push(decodeURIComponent(m[1])); });
      await ada.goto(`http://127.0.0.1:${front}/`, { waitUntil: 'load' });
      await ada.fill('#name-input', 'Ada');
      await ada.fill('#room-input', 'across');
      await ada.click('#join-button');
      await ada.waitForSelector('#chat-view:not([hidden])');
      assert.ok(sids.length > 0, 'the page polled through nginx');
      const adaNode = await nodeOf(sids[0]);

      // Tab 2 straight on another node.
      const other = nodes.find((p) => p !== adaNode);
      const bob = await context.newPage();
      await bob.goto(`http://127.0.0.1:${other}/`, { waitUntil: 'load' });
      await bob.fill('#name-input', 'Bob');
      await bob.fill('#room-input', 'across');
      await bob.click('#join-button');
      await bob.waitForSelector('#chat-view:not([hidden])');

      await bob.fill('#message-input', 'hello from another node');
      await bob.press('#message-input', 'Enter');
      await ada.waitForFunction(() => document.body.innerText.includes('hello from another node'));
      await ada.fill('#message-input', 'and back');
      await ada.press('#message-input', 'Enter');
      await bob.waitForFunction(() => document.body.innerText.includes('and back'));
    } finally {
      await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    }
  });
});
