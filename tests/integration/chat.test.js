'use strict';
// The chat page protocol, driven by Node clients (see the contract at the top
// of ref-server.js and server/www/chat.js).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, recorder, barrier } = require('./lib/util');

describe('chat protocol', () => {
  let srv;
  before(async () => { srv = await startServer(); });
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
    const [rooms] = await ask(bob.s, 'rooms');
    assert.deepEqual(rooms, [bob.s.id, 'room-1'].sort());
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
    await ask(anon, 'join', 'room-5'); // even when in the room through "join"
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
    const [rooms] = await ask(anon, 'rooms');
    assert.deepEqual(rooms, [anon.id]);
  });
});
