#!/usr/bin/python3
"""The demo chat of siogate (server/www, the page unchanged) as a gateway
worker: siogate only routes the events, this worker is the chat app.

    siogate --app none --adapter redis --set bridge=redis-stream \\
            --set 'bridgeEvents=/:*'
    /usr/bin/python3 chat_worker.py --redis-url redis://127.0.0.1:6379

It implements the chat app contract (tests/integration/ref-server.js):
"add user" (username, room, ack) joins the room and answers {room, count};
"new message", "typing" and "stop typing" go to the rest of the room;
a chat user's "disconnect" entry tells the room "user left" and the new
"user count". Everything a client receives other than its ack goes out with
the Redis emitter (emitter.py), on whatever node the clients are.

State lives in Redis, so any number of workers (one consumer group) share
it: a hash <prefix>users of "<node>|<sid>" -> {"username", "room", "nsp"}
and one set per room of its members (the count). Delivery is at least once:
an entry redelivered after a worker crashed does not count a user twice.
Events of one socket may be handled by different workers at once, so their
order is not guaranteed across workers (the page sends nothing before its
"add user" is acknowledged).

Options as echo_worker.py, plus --key (siogate's redisKey, the emitter's
channel prefix), --prefix (of the state keys), --rate/--burst (the contract's
token bucket per socket for "new message", "typing", "stop typing").
"""

import json
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the examples
from echo_worker import Worker, parse_args  # noqa: E402 (the loop of every worker)
from emitter import Emitter  # noqa: E402

NAME_MAX = 32
MESSAGE_MAX = 500

# HSETNX the user, then count it in its room, atomically; -1: already a user.
ADD_USER = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('SADD', KEYS[2], ARGV[1])
  return redis.call('SCARD', KEYS[2])
end
return -1
"""

# Token bucket: ARGV rate per second, burst, now (ms); 1 = allowed.
TAKE_TOKEN = """
local t = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, ts = tonumber(t[1]) or burst, tonumber(t[2]) or now
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) end
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], 600000)
return ok
"""


def utf16_len(s):
    """Length in UTF-16 units, as JavaScript's String#length (the page's maxlength)."""
    return len(s.encode("utf-16-le")) // 2


def valid_name(s):
    return isinstance(s, str) and 1 <= utf16_len(s) <= NAME_MAX and \
        not any(ord(c) < 0x20 or ord(c) == 0x7F for c in s)


class Chat:
    def __init__(self, worker, opts):
        self.w = worker
        self.o = opts
        self.r = worker.r
        self.io = Emitter(self.r, key=opts.key)
        self.users = opts.prefix + "users"
        self.add_user_script = self.r.register_script(ADD_USER)
        self.take_token = self.r.register_script(TAKE_TOKEN)

    def room_key(self, nsp, room):
        return "%sroom:%s:%s" % (self.o.prefix, nsp, room)

    def user(self, member):
        raw = self.r.hget(self.users, member)
        return json.loads(raw) if raw else None

    def allowed(self, member):
        if self.o.rate <= 0:
            return True
        return self.take_token(keys=[self.o.prefix + "bucket:" + member],
                               args=[self.o.rate, self.o.burst, int(time.time() * 1000)]) == 1

    def __call__(self, worker, e):
        member = e["node"] + "|" + e["sid"]
        if e["type"] == "disconnect":
            self.left(e, member)
            return
        if e["type"] != "event" or e.get("enc") != "json":
            return  # connects; binary is not chat
        args = json.loads(e["args"])
        ev = e["event"]
        if ev == "add user":
            self.add_user(e, member, args)
        elif ev in ("new message", "typing", "stop typing"):
            u = self.user(member)
            if u is None:
                return  # not before "add user"
            text = args[0] if args else None
            if ev == "new message" and not (isinstance(text, str) and 1 <= utf16_len(text) <= MESSAGE_MAX):
                return
            if not self.allowed(member):
                return
            out = self.io.of(u["nsp"]).to(u["room"]).except_(e["sid"])
            if ev == "new message":
                out.emit(ev, {"username": u["username"], "message": text})
            else:
                out.emit(ev, {"username": u["username"]})
        elif "ack" in e:
            worker.reply(e, [{"error": "unknown event"}])

    def add_user(self, e, member, args):
        name = args[0] if args else None
        room = args[1] if len(args) > 1 else None
        if not valid_name(name):
            return
        if not isinstance(room, str) or room == "":
            room = "lobby"
        elif not valid_name(room):
            return
        nsp = e["nsp"]
        state = json.dumps({"username": name, "room": room, "nsp": nsp}, separators=(",", ":"))
        count = self.add_user_script(keys=[self.users, self.room_key(nsp, room)], args=[member, state])
        if count < 0:
            # a later "add user" (or this one redelivered): the current state
            u = self.user(member)
            if u and "ack" in e:
                self.w.reply(e, [{"room": u["room"], "count": self.r.scard(self.room_key(u["nsp"], u["room"]))}])
            return
        io = self.io.of(nsp)
        io.in_(e["sid"]).sockets_join(room)
        io.to(room).except_(e["sid"]).emit("user joined", {"username": name})
        io.to(room).emit("user count", {"room": room, "count": count})
        if "ack" in e:
            self.w.reply(e, [{"room": room, "count": count}])

    def left(self, e, member):
        u = self.user(member)
        if u is None:
            return  # never did "add user", or handled already
        key = self.room_key(u["nsp"], u["room"])
        p = self.r.pipeline(transaction=True)
        p.hdel(self.users, member)
        p.srem(key, member)
        p.scard(key)
        p.delete(self.o.prefix + "bucket:" + member)
        removed, _, count, _ = p.execute()
        if not removed:
            return  # another worker got there first (a redelivered entry)
        io = self.io.of(u["nsp"]).to(u["room"])
        io.emit("user left", {"username": u["username"]})
        io.emit("user count", {"room": u["room"], "count": count})


def main():
    extra = [
        (("--key",), {"default": "socket.io", "help": "siogate's redisKey (the emitter's channels)"}),
        (("--prefix",), {"default": "chat:", "help": "prefix of the chat's Redis keys"}),
        (("--rate",), {"type": float, "default": 5.0, "help": "chat events per second and socket (0: no limit)"}),
        (("--burst",), {"type": float, "default": 10.0, "help": "chat events saved up at most"}),
    ]
    opts = parse_args(extra=extra, group="chat")
    w = Worker(opts, None)
    w.handle = Chat(w, opts)
    signal.signal(signal.SIGTERM, w.stop)
    try:
        w.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
