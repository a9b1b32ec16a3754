'use strict';
// The demo chat as gateway workers (examples/python/chat_worker.py): three
// siogate nodes that run no app at all (--app none, Redis adapter, every
// event of "/" bridged), two Python chat workers in one consumer group, and
// nginx with sticky sessions in front (deploy/nginx/siogate.conf). The chat
// page, unchanged, in headless Chromium through nginx: two users on two
// different nodes chat. Then official clients check the contract details,
// and the Node chat worker takes over the same state.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createClient } = require('redis');
const { connected, closeAll, recorder, requireProgram, RawPolling, DEFAULT_WAIT_MS } = require('./lib/util');
const { startRedis } = require('./lib/redis');
const {
  requirePython, startWorker, startGateway, waitAdapters, startNginx, sessionNode, waitEntries, until,
} = require('./lib/gateway');

const skip = process.env.SG_REF === '1' && 'gateway mode is siogate\'s (Node has no bridge)';
const CHROMIUM = process.env.SG_CHROMIUM || '/usr/bin/chromium';
const UI_WAIT_MS = 15000;

describe('the chat page on 3 gateway nodes + 2 Python chat workers + nginx', { skip }, () => {
  let redis;
  let dir;
  let nginx;
  let context;
  const nodes = [];
  const workers = {};

  before(async () => {
    requirePython();
    requireProgram(CHROMIUM, 'chromium');
    redis = await startRedis();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-gwchat-'));
    for (let i = 1; i <= 3; i++) {
      nodes.push(await startGateway({ redisUrl: redis.url, nodeId: `n${i}`, settings: { bridgeStream: 'chat:events' } }));
    }
    await waitAdapters(redis.url, 3); // the Redis adapter of every node (the emitter's way in)
    for (const name of ['py-chat-1', 'py-chat-2']) {
      workers[name] = await startWorker({ kind: 'chat', redisUrl: redis.url, stream: 'chat:events', consumer: name, claimIdle: 2000 });
    }
    nginx = await startNginx(nodes.map((n) => n.port), dir);
    const { chromium } = require('playwright-core');
    context = await chromium.launchPersistentContext(path.join(dir, 'chromium'), {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context.setDefaultTimeout(UI_WAIT_MS);
  });

  after(async () => {
    closeAll();
    if (context) await context.close().catch(() => {});
    if (nginx) await nginx.stop();
    for (const w of Object.values(workers)) await w.stop();
    for (const n of nodes) await n.stop();
    if (redis) await redis.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const ports = () => nodes.map((n) => n.port);

  /** Client addresses (X-Forwarded-For, which nginx trusts from loopback)
   *  that nginx's hash sends to two different nodes: found by asking. */
  async function addressesOnTwoNodes() {
    const byNode = new Map();
    for (let i = 1; i <= 40 && byNode.size < 2; i++) {
      const addr = `10.0.0.${i}`;
      const p = new RawPolling(nginx.url);
      const res = await p.get({ headers: { 'X-Forwarded-For': addr } });
      assert.equal(res.status, 200, res.body);
      const sid = JSON.parse(res.body.slice(1)).sid;
      const { port } = await sessionNode(ports(), sid);
      if (!byNode.has(port)) byNode.set(port, addr);
    }
    assert.equal(byNode.size, 2, 'two nodes reached through nginx');
    return [...byNode].map(([port, addr]) => ({ port, addr }));
  }

  async function openChat(name, room, addr) {
    const page = await context.newPage();
    const errors = [];
    const sids = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('request', (r) => { const m = /[?&]sid=([^&]+)/.exec(r.url()); if (m) sids.push(decodeURIComponent(m[1])); });
    await page.setExtraHTTPHeaders({ 'X-Forwarded-For': addr });
    await page.goto(`${nginx.url}/`, { waitUntil: 'load' });
    await page.fill('#name-input', name);
    await page.fill('#room-input', room);
    await page.click('#join-button');
    await page.waitForSelector('#chat-view:not([hidden])');
    return { page, errors, sids };
  }

  const waitCount = (page, n) => page.waitForFunction((want) => document.querySelector('#user-count').dataset.count === want, n);

  test('two users on two nodes chat through nginx: join, count, typing, messages, leaving', async () => {
    const [a, b] = await addressesOnTwoNodes();
    const ada = await openChat('Ada', 'gateway', a.addr);
    assert.equal(await ada.page.textContent('#room-name'), 'gateway');
    await waitCount(ada.page, '1');
    const bob = await openChat('Bob', 'gateway', b.addr);
    await waitCount(ada.page, '2');
    await waitCount(bob.page, '2');
    await ada.page.waitForFunction(() => document.querySelector('#messages').textContent.includes('Bob joined'));

    // the pages run on WebSocket, on the two nodes picked, through nginx
    await until(async () => {
      const [x, y] = [await sessionNode(ports(), ada.sids[0]), await sessionNode(ports(), bob.sids[0])];
      return x.websocket && y.websocket && x.port === a.port && y.port === b.port;
    }, DEFAULT_WAIT_MS, 'both sessions upgraded, Ada on her node, Bob on his');
    // ... and their events went through the stream from those nodes
    const nodeOf = (port) => nodes.find((n) => n.port === port).nodeId;
    await waitEntries(redis.url, 'chat:events', (es) => {
      const adds = es.filter((e) => e.fields.event === 'add user').map((e) => [e.fields.node, JSON.parse(e.fields.args)[0]]);
      return adds.some(([n, u]) => n === nodeOf(a.port) && u === 'Ada') && adds.some(([n, u]) => n === nodeOf(b.port) && u === 'Bob');
    });

    // typing indicator, then the message
    await bob.page.type('#message-input', 'Hello Ada');
    await ada.page.waitForFunction(() => document.querySelector('#typing').textContent.includes('Bob is typing'));
    await bob.page.press('#message-input', 'Enter');
    await ada.page.waitForFunction(() => [...document.querySelectorAll('#messages li.theirs')]
      .some((li) => li.querySelector('.author').textContent === 'Bob' && li.querySelector('.text').textContent === 'Hello Ada'));
    await ada.page.waitForFunction(() => document.querySelector('#typing').textContent === '');
    assert.deepEqual(await bob.page.$$eval('#messages li.mine .text', (els) => els.map((e) => e.textContent)), ['Hello Ada']);

    // and back
    await ada.page.fill('#message-input', 'Hi Bob <b>not bold</b>');
    await ada.page.click('#send-button');
    await bob.page.waitForFunction(() => [...document.querySelectorAll('#messages li.theirs .text')]
      .some((e) => e.textContent === 'Hi Bob <b>not bold</b>'));
    // nobody hears their own lines back from the worker
    assert.equal(await ada.page.$$eval('#messages li.theirs', (els) => els.length), 1);
    assert.equal(await bob.page.$$eval('#messages li.theirs', (els) => els.length), 1);

    // Bob leaves: Ada sees it and the count drops
    await bob.page.close();
    await ada.page.waitForFunction(() => document.querySelector('#messages').textContent.includes('Bob left'));
    await waitCount(ada.page, '1');
    assert.deepEqual(ada.errors, []);
    assert.deepEqual(bob.errors, []);
    await ada.page.close();
  });

  test('the contract with official clients on different nodes: acks, counts, rooms, order of events', async () => {
    const [n1, n2, n3] = nodes;
    const c1 = await connected(n1.url, { transports: ['websocket'] });
    const c2 = await connected(n2.url, { transports: ['websocket'] });
    const c3 = await connected(n3.url, { transports: ['websocket'] });
    const ev = (s) => Object.fromEntries(['user joined', 'user left', 'user count', 'new message', 'typing', 'stop typing']
      .map((e) => [e, recorder(s, e)]));
    const r1 = ev(c1);
    const r2 = ev(c2);
    const r3 = ev(c3);
    const add = (s, ...a) => s.timeout(DEFAULT_WAIT_MS).emitWithAck('add user', ...a);
    assert.deepEqual(await add(c1, 'Cy', 'red'), { room: 'red', count: 1 });
    assert.deepEqual(await add(c2, 'Di'), { room: 'lobby', count: 1 }, 'no room: lobby');
    assert.deepEqual(await add(c3, 'Ed', 'red'), { room: 'red', count: 2 });
    // a second "add user" changes nothing, its ack tells the current state
    assert.deepEqual(await add(c3, 'Eddie', 'blue'), { room: 'red', count: 2 });
    assert.deepEqual((await r1['user joined'].count(1)).map((x) => x[0]), [{ username: 'Ed' }]);
    await r1['user count'].match((x) => x.count === 2);
    await r3['user count'].match((x) => x.room === 'red' && x.count === 2);

    c3.emit('typing');
    c3.emit('new message', 'red only');
    c3.emit('stop typing');
    c2.emit('new message', 'lobby only');
    assert.deepEqual((await r1['new message'].count(1))[0], [{ username: 'Ed', message: 'red only' }]);
    assert.deepEqual((await r1.typing.count(1))[0], [{ username: 'Ed' }]);
    assert.deepEqual((await r1['stop typing'].count(1))[0], [{ username: 'Ed' }]);
    // Di (lobby) hears nothing of red and Cy nothing of the lobby: a message
    // to red from Cy is the barrier for both rooms' traffic so far
    c1.emit('new message', 'barrier');
    await r3['new message'].match((x) => x.message === 'barrier');
    assert.deepEqual(r2['new message'].items, []);
    assert.ok(!r1['new message'].items.some(([x]) => x.message === 'lobby only'));
    assert.deepEqual(r3['new message'].items.map(([x]) => x.username), ['Cy'], 'the sender does not hear itself');

    // leaving: "user left", then the count without it
    const sids = [c1.id, c2.id, c3.id];
    const seen = [];
    c1.onAny((event, data) => seen.push([event, data]));
    c3.disconnect();
    await r1['user count'].match((x) => x.room === 'red' && x.count === 1 && seen.length >= 2);
    assert.deepEqual(seen, [['user left', { username: 'Ed' }], ['user count', { room: 'red', count: 1 }]]);
    c1.disconnect();
    c2.disconnect();
    // the state is gone with the users
    const c = createClient({ url: redis.url });
    await c.connect();
    try {
      await until(async () => !(await c.hKeys('chat:users')).some((k) => sids.includes(k.split('|')[1])),
        DEFAULT_WAIT_MS, 'the chat users removed from Redis');
    } finally {
      await c.quit();
    }
  });

  test('the rate limit of the contract: a flood of messages is cut to the burst plus the refill', async (t) => {
    const c1 = await connected(nodes[0].url, { transports: ['websocket'] });
    const c2 = await connected(nodes[1].url, { transports: ['websocket'] });
    const c3 = await connected(nodes[2].url, { transports: ['websocket'] });
    for (const [s, name] of [[c1, 'Flo'], [c2, 'Hal'], [c3, 'Ivy']]) {
      assert.equal((await s.timeout(DEFAULT_WAIT_MS).emitWithAck('add user', name, 'flood')).room, 'flood');
    }
    const got = recorder(c2, 'new message');
    for (let i = 0; i < 40; i++) c1.emit('new message', `m${i}`);
    // acked, so its entry follows the 40 in the stream
    assert.equal((await c1.timeout(DEFAULT_WAIT_MS).emitWithAck('add user', 'Flo', 'flood')).count, 3);
    // every entry handled: then a line from Ivy (her own bucket) is
    // published after every line of Flo that passed, on the same channel
    const c = createClient({ url: redis.url });
    await c.connect();
    try {
      await until(async () => {
        const [g] = await c.xInfoGroups('chat:events');
        return g.pending === 0 && g.lastDeliveredId === (await c.xInfoStream('chat:events')).lastGeneratedId
          && (await c.xLen('chat:events')) > 0;
      }, DEFAULT_WAIT_MS, 'the flood handled');
    } finally {
      await c.quit();
    }
    c3.emit('new message', 'barrier');
    await got.match((x) => x.message === 'barrier');
    const flo = got.items.filter(([x]) => x.username === 'Flo').map(([x]) => x.message);
    // 10 saved up, 5 per second more: the 40 take well under 6 s to handle
    t.diagnostic(`${flo.length} of 40 lines passed`);
    assert.ok(flo.length >= 10 && flo.length < 40, `${flo.length} of 40 lines passed`);
    assert.deepEqual([...new Set(flo)].length, flo.length, 'no line twice');
    for (const s of [c1, c2, c3]) s.disconnect();
  });

  test('the Node chat worker takes over the same group and state', async () => {
    const c1 = await connected(nodes[0].url, { transports: ['websocket'] });
    const add = (s, ...a) => s.timeout(DEFAULT_WAIT_MS).emitWithAck('add user', ...a);
    // a user added by the Python workers ...
    assert.deepEqual(await add(c1, 'Fay', 'mixed'), { room: 'mixed', count: 1 });
    workers['node-chat'] = await startWorker({
      lang: 'node', kind: 'chat', redisUrl: redis.url, stream: 'chat:events', consumer: 'node-chat', claimIdle: 2000,
    });
    for (const name of ['py-chat-1', 'py-chat-2']) {
      await workers[name].stop();
      delete workers[name];
    }
    // ... is known to the Node worker
    assert.deepEqual(await add(c1, 'again'), { room: 'mixed', count: 1 });
    const c2 = await connected(nodes[2].url, { transports: ['websocket'] });
    const joined = recorder(c1, 'user joined');
    const msgs = recorder(c2, 'new message');
    const left = recorder(c2, 'user left');
    assert.deepEqual(await add(c2, 'Gus', 'mixed'), { room: 'mixed', count: 2 });
    await joined.match((x) => x.username === 'Gus');
    c1.emit('new message', 'from Fay');
    assert.deepEqual((await msgs.count(1))[0], [{ username: 'Fay', message: 'from Fay' }]);
    c1.disconnect();
    await left.match((x) => x.username === 'Fay');
  });
});
