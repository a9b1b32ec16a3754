'use strict';
// The chat app (what is deployed on the internet): the page's protocol
// driven by Node clients (see the contract at the top of ref-server.js and
// server/www/chat.js), its input checks and its rate limit, and that it
// exposes nothing else.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, recorder, DEFAULT_WAIT_MS } = require('./lib/util');

// Every event of a socket is handled in order: once a later "add user" is
// acknowledged, the server has processed what the socket sent before.
const barrier = (s) => ask(s, 'add user', 'barrier', 'barrier-room');

describe('chat protocol', () => {
  let srv;
  before(async () => { srv = await startServer({ app: 'chat' }); });
  after(async () => { closeAll(); await srv.stop(); });

  async function user(name, room) {
    const s = await connected(srv.url, { transports: ['websocket'] });
    const rec = {};
    for (const ev of ['user joined', 'user left', 'user count', 'new message', 'typing', 'stop typing']) rec[ev] = recorder(s, ev);
    const args = room === undefined ? [name] : [name, room];
    const [res] = await ask(s, 'add user', ...args);
    return { s, rec, res };
  }

  test('add user joins the room, acks {room, count}, and everyone in the room gets the count', async () => {
    const alice = await user('alice', 'room-1');
    assert.deepEqual(alice.res, { room: 'room-1', count: 1 });
    await alice.rec['user count'].match((d) => d.count === 1);
    assert.deepEqual(alice.rec['user count'].items[0], [{ room: 'room-1', count: 1 }]);
    const bob = await user('bob', 'room-1');
    assert.deepEqual(bob.res, { room: 'room-1', count: 2 });
    await alice.rec['user joined'].match((d) => d.username === 'bob');
    assert.deepEqual(alice.rec['user joined'].items, [[{ username: 'bob' }]]);
    await alice.rec['user count'].match((d) => d.count === 2);
    await bob.rec['user count'].match((d) => d.count === 2);
    assert.deepEqual(bob.rec['user joined'].items, [], 'no "user joined" for oneself');
  });

  test('room defaults to "lobby"', async () => {
    const a = await user('dora');
    assert.equal(a.res.room, 'lobby');
    const b = await user('eve', '');
    assert.equal(b.res.room, 'lobby');
    assert.equal(b.res.count, 2);
  });

  test('new message goes to the others in the room only', async () => {
    const a = await user('fay', 'room-2');
    const b = await user('gus', 'room-2');
    const c = await user('hal', 'room-3');
    a.s.emit('new message', 'hi there 👋');
    const [msg] = await b.rec['new message'].match(() => true);
    assert.deepEqual(msg, { username: 'fay', message: 'hi there 👋' });
    // sentinel: once c and a got a message from room-3/room-2 sent later, nothing else came
    await barrier(a.s);
    const c2 = await user('ivy', 'room-3');
    c2.s.emit('new message', 'sentinel');
    await c.rec['new message'].match((d) => d.message === 'sentinel');
    assert.deepEqual(c.rec['new message'].items, [[{ username: 'ivy', message: 'sentinel' }]]);
    b.s.emit('new message', 'reply');
    await a.rec['new message'].match((d) => d.message === 'reply');
    assert.deepEqual(a.rec['new message'].items, [[{ username: 'gus', message: 'reply' }]], 'the sender does not get its own line back');
  });

  test('typing and stop typing reach the others in the room', async () => {
    const a = await user('jo', 'room-4');
    const b = await user('kim', 'room-4');
    a.s.emit('typing');
    assert.deepEqual((await b.rec.typing.match(() => true))[0], { username: 'jo' });
    a.s.emit('stop typing');
    assert.deepEqual((await b.rec['stop typing'].match(() => true))[0], { username: 'jo' });
    b.s.emit('typing');
    await a.rec.typing.match((d) => d.username === 'kim');
    assert.deepEqual(b.rec.typing.items.filter(([d]) => d.username === 'kim'), [], 'no typing echo to oneself');
  });

  test('events before add user are ignored', async () => {
    const a = await user('lee', 'room-5');
    const anon = await connected(srv.url, { transports: ['websocket'] });
    anon.emit('new message', 'nobody');
    anon.emit('typing');
    await barrier(anon);
    const b = await user('max', 'room-5');
    b.s.emit('new message', 'from max');
    await a.rec['new message'].match((d) => d.message === 'from max');
    assert.deepEqual(a.rec['new message'].items.map((x) => x[0].message), ['from max']);
    assert.deepEqual(a.rec.typing.items, []);
  });

  test('disconnect: "user left" then the new count go to the room', async () => {
    const a = await user('ned', 'room-6');
    const b = await user('ola', 'room-6');
    await a.rec['user count'].match((d) => d.count === 2);
    const order = [];
    a.s.onAny((ev, d) => order.push([ev, d]));
    const counts = a.rec['user count'].items.length;
    b.s.disconnect();
    await a.rec['user left'].match((d) => d.username === 'ola');
    await a.rec['user count'].count(counts + 1);
    assert.deepEqual(order, [
      ['user left', { username: 'ola' }],
      ['user count', { room: 'room-6', count: 1 }],
    ]);
  });

  test('a second add user does not move the socket; invalid names are ignored', async () => {
    const a = await user('quinn', 'room-7');
    const [again] = await ask(a.s, 'add user', 'other-name', 'room-8');
    assert.deepEqual(again, { room: 'room-7', count: 1 });
    const anon = await connected(srv.url, { transports: ['websocket'] });
    anon.emit('add user', '', 'room-7');
    anon.emit('add user', 42, 'room-7');
    await barrier(anon);
    assert.deepEqual(await ask(a.s, 'add user', 'quinn'), [{ room: 'room-7', count: 1 }]);
    assert.deepEqual(a.rec['user joined'].items, []);
  });

  test('names, rooms and messages are bounded like the page\'s inputs (32, 32, 500 characters)', async () => {
    const a = await user('rex', 'room-9');
    const probe = await connected(srv.url, { transports: ['websocket'] });
    // too long (33 UTF-16 units: an emoji counts 2), control characters, wrong types
    for (const [name, room] of [['n'.repeat(33), 'room-9'], ['😀'.repeat(16) + 'x', 'room-9'],
      ['tab\tname', 'room-9'], ['nul\u0000name', 'room-9'], ['ok', 'r'.repeat(33)], ['ok', 'bad\nroom']]) {
      probe.emit('add user', name, room);
    }
    await barrier(probe); // the first valid add user: joins barrier-room
    await barrier(a.s);
    assert.deepEqual(a.rec['user joined'].items, [], 'no invalid user joined room-9');
    // the limits themselves are accepted
    const b = await user('b'.repeat(32), 'q'.repeat(32));
    assert.deepEqual(b.res, { room: 'q'.repeat(32), count: 1 });
    const c = await user('😀'.repeat(16), 'room-9');
    assert.deepEqual(c.res, { room: 'room-9', count: 2 });
    // messages: empty, too long, not a string -> dropped; 500 is fine
    c.s.emit('new message', '');
    c.s.emit('new message', 'm'.repeat(501));
    c.s.emit('new message', { text: 'object' });
    c.s.emit('new message', 'm'.repeat(500));
    const [got] = await a.rec['new message'].match(() => true);
    assert.equal(got.message, 'm'.repeat(500));
    await barrier(c.s);
    assert.equal(a.rec['new message'].items.length, 1);
  });

  test('the test handlers are not there: join, echo, cluster operations do nothing', async () => {
    const a = await user('sam', 'room-10');
    const intruder = await connected(srv.url, { transports: ['websocket'] });
    for (const ev of ['join', 'echo', 'rooms', 'cluster op', 'cluster emit', 'legacy remote', 'broadcast with ack']) {
      await assert.rejects(intruder.timeout(300).emitWithAck(ev, { rooms: ['room-10'] }), /timed out|timeout/i, ev);
    }
    intruder.emit('broadcast', 'room-10', 'spam');
    intruder.emit('cluster op', {});
    await barrier(intruder);
    assert.ok(a.s.connected, 'a chat user is still connected after "cluster op"');
    await barrier(a.s);
    assert.deepEqual(a.rec['new message'].items, []);
  });
});

describe('chat rate limit', () => {
  let srv;
  before(async () => { srv = await startServer({ app: 'chat', settings: { chatMessageRate: 2, chatMessageBurst: 5 } }); });
  after(async () => { closeAll(); await srv.stop(); });

  test('a socket sending faster than chatMessageRate (bursts of chatMessageBurst) has the excess dropped', async () => {
    const a = await connected(srv.url, { transports: ['websocket'] });
    const b = await connected(srv.url, { transports: ['websocket'] });
    await ask(a, 'add user', 'flooder', 'rl');
    await ask(b, 'add user', 'reader', 'rl');
    const got = recorder(b, 'new message');
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) a.emit('new message', `m${i}`);
    await ask(a, 'add user', 'flooder');
    const elapsed = (Date.now() - t0) / 1000;
    await got.count(5);
    await ask(b, 'add user', 'reader');
    // 5 at once, then 2 per second at most
    const max = 5 + Math.ceil(2 * (elapsed + 1));
    assert.ok(got.items.length >= 5 && got.items.length <= max, `got ${got.items.length}, at most ${max}`);
    assert.ok(got.items.length < 50);
    assert.deepEqual(got.items.slice(0, 5).map(([d]) => d.message), ['m0', 'm1', 'm2', 'm3', 'm4']);
    // the bucket refills: after a pause the next message goes through
    await new Promise((r) => setTimeout(r, 1100));
    a.emit('new message', 'after a pause');
    await got.match((d) => d.message === 'after a pause', DEFAULT_WAIT_MS);
  });
});
