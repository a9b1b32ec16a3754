#!/usr/bin/env node
'use strict';
/*
 * The demo chat of siogate (server/www, the page unchanged) as a gateway
 * worker in Node: the same as examples/python/chat_worker.py, with the same
 * Redis state, so Node and Python chat workers can share one group.
 *
 *   siogate --app none --adapter redis --set bridge=redis-stream --set 'bridgeEvents=/:*'
 *   NODE_PATH=tests/integration/node_modules node examples/node/chat_worker.js \
 *       --redis-url redis://127.0.0.1:6379
 *
 * "add user" (username, room, ack) joins the room and answers {room, count};
 * "new message", "typing", "stop typing" go to the rest of the room; a chat
 * user's "disconnect" entry tells the room "user left" and the new
 * "user count" (contract: tests/integration/ref-server.js). What clients
 * receive besides their ack goes out with @socket.io/redis-emitter.
 * State: hash <prefix>users of "<node>|<sid>" -> {username, room, nsp}, one
 * set per room (the count), a token bucket per socket (--rate, --burst).
 */

const { Emitter } = require('@socket.io/redis-emitter');
const { runWorker, parseArgs, DEFAULTS } = require('./echo_worker');

const NAME_MAX = 32;
const MESSAGE_MAX = 500;

// HSETNX the user, then count it in its room, atomically; -1: already a user.
const ADD_USER = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('SADD', KEYS[2], ARGV[1])
  return redis.call('SCARD', KEYS[2])
end
return -1`;

// Token bucket: ARGV rate per second, burst, now (ms); 1 = allowed.
const TAKE_TOKEN = `
local t = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, ts = tonumber(t[1]) or burst, tonumber(t[2]) or now
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) end
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], 600000)
return ok`;

// eslint-disable-next-line no-control-regex
const validName = (s) => typeof s === 'string' && s.length >= 1 && s.length <= NAME_MAX && !/[\u0000-\u001f\u007f]/.test(s);

function chat(o) {
  let io = null;
  const users = `${o.prefix}users`;
  const roomKey = (nsp, room) => `${o.prefix}room:${nsp}:${room}`;
  const bucket = (member) => `${o.prefix}bucket:${member}`;

  async function user(r, member) {
    const raw = await r.hGet(users, member);
    return raw ? JSON.parse(raw) : null;
  }

  async function allowed(r, member) {
    if (o.rate <= 0) return true;
    return (await r.eval(TAKE_TOKEN, { keys: [bucket(member)], arguments: [String(o.rate), String(o.burst), String(Date.now())] })) === 1;
  }

  async function addUser(e, w, member, args) {
    const r = w.redis;
    const name = args[0];
    let room = args[1];
    if (!validName(name)) return;
    if (typeof room !== 'string' || room === '') room = 'lobby';
    else if (!validName(room)) return;
    const state = JSON.stringify({ username: name, room, nsp: e.nsp });
    const count = await r.eval(ADD_USER, { keys: [users, roomKey(e.nsp, room)], arguments: [member, state] });
    if (count < 0) {
      // a later "add user" (or this one redelivered): the current state
      const u = await user(r, member);
      if (u && e.ack !== undefined) await w.reply(e, [{ room: u.room, count: await r.sCard(roomKey(u.nsp, u.room)) }]);
      return;
    }
    const nsp = io.of(e.nsp);
    nsp.in(e.sid).socketsJoin(room);
    nsp.to(room).except(e.sid).emit('user joined', { username: name });
    nsp.to(room).emit('user count', { room, count });
    if (e.ack !== undefined) await w.reply(e, [{ room, count }]);
  }

  async function left(w, member) {
    const r = w.redis;
    const u = await user(r, member);
    if (!u) return; // never did "add user", or handled already
    const key = roomKey(u.nsp, u.room);
    const [removed, , count] = await r.multi().hDel(users, member).sRem(key, member).sCard(key)
      .del(bucket(member)).exec();
    if (!removed) return; // another worker got there first (a redelivered entry)
    const to = io.of(u.nsp).to(u.room);
    to.emit('user left', { username: u.username });
    to.emit('user count', { room: u.room, count });
  }

  return async function handle(e, w) {
    if (!io) io = new Emitter(w.redis, { key: o.key });
    const member = `${e.node}|${e.sid}`;
    if (e.type === 'disconnect') return left(w, member);
    if (e.type !== 'event' || e.enc !== 'json') return; // connects; binary is not chat
    const args = JSON.parse(e.args.toString());
    const ev = e.event;
    if (ev === 'add user') return addUser(e, w, member, args);
    if (ev === 'new message' || ev === 'typing' || ev === 'stop typing') {
      const u = await user(w.redis, member);
      if (!u) return; // not before "add user"
      const text = args[0];
      if (ev === 'new message' && !(typeof text === 'string' && text.length >= 1 && text.length <= MESSAGE_MAX)) return;
      if (!(await allowed(w.redis, member))) return;
      const out = io.of(u.nsp).to(u.room).except(e.sid);
      if (ev === 'new message') out.emit(ev, { username: u.username, message: text });
      else out.emit(ev, { username: u.username });
      return;
    }
    if (e.ack !== undefined) await w.reply(e, [{ error: 'unknown event' }]);
  };
}

if (require.main === module) {
  (async () => {
    const o = parseArgs(process.argv.slice(2), { ...DEFAULTS, group: 'chat', key: 'socket.io', prefix: 'chat:', rate: 5, burst: 10 });
    const w = await runWorker(o, chat(o));
    process.on('SIGTERM', w.stop);
    process.on('SIGINT', w.stop);
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { chat };
