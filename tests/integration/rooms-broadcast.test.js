'use strict';
// Rooms, broadcast to a room / to everyone, the sender excluded, join/leave,
// rooms left on disconnect. Negative checks use a sentinel broadcast: events
// of one connection arrive in order, so when the sentinel is seen, anything
// that should have arrived before it has.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { connected, closeAll, ask, recorder, barrier } = require('./lib/util');

for (const [label, nsp] of [['/', ''], ['/custom', '/custom']]) {
  for (const transports of [['polling'], ['websocket']]) {
    describe(`rooms and broadcast on ${label} over ${transports[0]}`, () => {
      let srv;
      let url;
      before(async () => {
        srv = await startServer();
        url = srv.url + nsp;
      });
      after(async () => { closeAll(); await srv.stop(); });

      async function clients(n) {
        const list = [];
        for (let i = 0; i < n; i++) {
          const s = await connected(url, { transports });
          list.push({ s, msgs: recorder(s, 'message') });
        }
        return list;
      }

      /** broadcast a sentinel from `from` to everyone and wait until all `to` saw it */
      async function sentinel(from, to, tag) {
        await barrier(from.s);
        from.s.emit('broadcast', null, tag);
        await Promise.all(to.map((c) => c.msgs.match((m) => m === tag)));
      }
      const texts = (c) => c.msgs.items.map((a) => a[0]);

      test('join/leave acknowledge true and show in the socket\'s rooms', async () => {
        const [a] = await clients(1);
        assert.deepEqual(await ask(a.s, 'rooms'), [[a.s.id]]);
        assert.deepEqual(await ask(a.s, 'join', 'room-b'), [true]);
        assert.deepEqual(await ask(a.s, 'join', 'room-a'), [true]);
        assert.deepEqual(await ask(a.s, 'join', 'room-a'), [true], 'joining twice is harmless');
        assert.deepEqual(await ask(a.s, 'rooms'), [[a.s.id, 'room-a', 'room-b'].sort()]);
        assert.deepEqual(await ask(a.s, 'leave', 'room-b'), [true]);
        assert.deepEqual(await ask(a.s, 'leave', 'never-joined'), [true]);
        assert.deepEqual(await ask(a.s, 'rooms'), [[a.s.id, 'room-a'].sort()]);
      });

      test('broadcast to a room reaches its members except the sender', async () => {
        const [a, b, c, d] = await clients(4);
        await ask(a.s, 'join', 'r1');
        await ask(b.s, 'join', 'r1');
        await ask(c.s, 'join', 'r2');
        // from a member
        a.s.emit('broadcast', 'r1', 'to r1 from a', { n: 1 });
        const [m] = await b.msgs.match((x) => x === 'to r1 from a');
        assert.equal(m, 'to r1 from a');
        assert.deepEqual(b.msgs.items.find((x) => x[0] === 'to r1 from a'), ['to r1 from a', { n: 1 }]);
        // from a non-member
        d.s.emit('broadcast', 'r1', 'to r1 from d');
        await a.msgs.match((x) => x === 'to r1 from d');
        await b.msgs.match((x) => x === 'to r1 from d');
        await sentinel(d, [a, b, c], 'sentinel-1');
        assert.deepEqual(texts(a), ['to r1 from d', 'sentinel-1']);
        assert.deepEqual(texts(b), ['to r1 from a', 'to r1 from d', 'sentinel-1']);
        assert.deepEqual(texts(c), ['sentinel-1'], 'non-members get nothing');
        assert.deepEqual(texts(d), [], 'the sender never gets its own broadcast');
      });

      test('broadcast with room null reaches everyone except the sender', async () => {
        const [a, b, c] = await clients(3);
        await ask(b.s, 'join', 'somewhere');
        a.s.emit('broadcast', null, 'hello all', 1, [2, 3]);
        for (const x of [b, c]) {
          await x.msgs.match((m) => m === 'hello all');
          assert.deepEqual(x.msgs.items[0], ['hello all', 1, [2, 3]]);
        }
        await sentinel(c, [a], 'sentinel-2');
        assert.deepEqual(texts(a), ['sentinel-2']);
      });

      test('after leave, a socket gets no more broadcasts for that room', async () => {
        const [a, b, c] = await clients(3);
        await ask(a.s, 'join', 'r3');
        await ask(b.s, 'join', 'r3');
        c.s.emit('broadcast', 'r3', 'first');
        await a.msgs.match((m) => m === 'first');
        await b.msgs.match((m) => m === 'first');
        await ask(a.s, 'leave', 'r3');
        c.s.emit('broadcast', 'r3', 'second');
        await b.msgs.match((m) => m === 'second');
        await sentinel(c, [a, b], 'sentinel-3');
        assert.deepEqual(texts(a), ['first', 'sentinel-3']);
        assert.deepEqual(texts(b), ['first', 'second', 'sentinel-3']);
      });

      test('a socket is in the room named by its own id: broadcast to an id reaches just that socket', async () => {
        const [a, b, c] = await clients(3);
        a.s.emit('broadcast', b.s.id, 'private');
        await b.msgs.match((m) => m === 'private');
        await sentinel(a, [b, c], 'sentinel-4');
        assert.deepEqual(texts(c), ['sentinel-4']);
      });

      test('a disconnected socket has left its rooms; the others still get room broadcasts', async () => {
        const [a, b, c] = await clients(3);
        await ask(a.s, 'join', 'r5');
        await ask(b.s, 'join', 'r5');
        a.s.disconnect();
        c.s.emit('broadcast', 'r5', 'after a left');
        await b.msgs.match((m) => m === 'after a left');
        assert.deepEqual(texts(a), []);
        // many rooms, many members
        const many = await clients(5);
        for (const x of many) await ask(x.s, 'join', 'big');
        c.s.emit('broadcast', 'big', 'to big');
        await Promise.all(many.map((x) => x.msgs.match((m) => m === 'to big')));
      });
    });
  }
}
