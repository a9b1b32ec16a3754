"""A minimal Socket.IO Redis emitter for Python: what @socket.io/redis-emitter
5.1 does, byte for byte, for any Socket.IO cluster on the Redis adapter
(siogate's, or Node's @socket.io/redis-adapter).

    import redis
    from emitter import Emitter

    io = Emitter(redis.Redis())
    io.to("user:42").emit("notice", {"text": "hi"}, b"\\x00binary")
    io.of("/admin").except_("room1").emit("ping")
    io.in_(sid).sockets_join("lobby")

A broadcast is the msgpack array [uid, packet, {rooms, except, flags}]
published to "<key>#<nsp>#", or to "<key>#<nsp>#<room>#" when it targets
exactly one room; bytes are msgpack bin (binary arguments stay binary).
socketsJoin / socketsLeave / disconnectSockets / serverSideEmit are JSON
requests on "<key>-request#<nsp>#". Needs python3-redis (any client with a
publish(channel, bytes) method will do) and python3-msgpack.
"""

import json

import msgpack

UID = "emitter"
EVENT = 2  # socket.io-parser PacketType.EVENT

# RequestType of the Redis adapter
REMOTE_JOIN = 2
REMOTE_LEAVE = 3
REMOTE_DISCONNECT = 4
SERVER_SIDE_EMIT = 6

RESERVED_EVENTS = frozenset(
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]
)


def _json(obj):
    # JSON.stringify's spelling: no spaces, non-ASCII as is
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _add(items, room):
    """A JS Set's add: insertion order, no duplicates."""
    out = list(items)
    for r in room if isinstance(room, (list, tuple, set, frozenset)) else [room]:
        if r not in out:
            out.append(r)
    return tuple(out)


class BroadcastOperator:
    """An emit target: rooms, excepted rooms and flags (immutable, each
    method returns a new operator, as in Node)."""

    def __init__(self, redis, opts, rooms=(), except_rooms=(), flags=None):
        self._redis = redis
        self._opts = opts
        self._rooms = tuple(rooms)
        self._except = tuple(except_rooms)
        self._flags = dict(flags or {})

    def to(self, room):
        """Target a room (or a list of rooms) in addition to those already set."""
        return BroadcastOperator(self._redis, self._opts, _add(self._rooms, room), self._except, self._flags)

    in_ = to

    def except_(self, room):
        """Exclude the sockets of a room (or of a list of rooms)."""
        return BroadcastOperator(self._redis, self._opts, self._rooms, _add(self._except, room), self._flags)

    def compress(self, compress):
        return BroadcastOperator(self._redis, self._opts, self._rooms, self._except,
                                 {**self._flags, "compress": compress})

    @property
    def volatile(self):
        return BroadcastOperator(self._redis, self._opts, self._rooms, self._except,
                                 {**self._flags, "volatile": True})

    def emit(self, event, *args):
        """Emit event(*args) to the target; bytes arguments are sent as binary."""
        if event in RESERVED_EVENTS:
            raise ValueError('"%s" is a reserved event name' % event)
        packet = {"type": EVENT, "data": [event, *args], "nsp": self._opts["nsp"]}
        opts = {"rooms": list(self._rooms), "flags": self._flags, "except": list(self._except)}
        msg = msgpack.packb([UID, packet, opts], use_bin_type=True)
        channel = self._opts["broadcast_channel"]
        if len(self._rooms) == 1:
            channel += self._rooms[0] + "#"
        self._redis.publish(channel, msg)
        return True

    def _request(self, body):
        self._redis.publish(self._opts["request_channel"], _json(body))

    def _targets(self):
        return {"rooms": list(self._rooms), "except": list(self._except)}

    def sockets_join(self, rooms):
        """The targeted sockets join rooms (a room or a list)."""
        self._request({"type": REMOTE_JOIN, "opts": self._targets(),
                       "rooms": list(rooms) if isinstance(rooms, (list, tuple)) else [rooms]})

    def sockets_leave(self, rooms):
        """The targeted sockets leave rooms (a room or a list)."""
        self._request({"type": REMOTE_LEAVE, "opts": self._targets(),
                       "rooms": list(rooms) if isinstance(rooms, (list, tuple)) else [rooms]})

    def disconnect_sockets(self, close=False):
        """Disconnect the targeted sockets (close=True: their connection too)."""
        self._request({"type": REMOTE_DISCONNECT, "opts": self._targets(), "close": close})


class Emitter:
    """Emitter(redis_client, key="socket.io", nsp="/")."""

    def __init__(self, redis, key="socket.io", nsp="/"):
        self._redis = redis
        self.key = key
        self.nsp = nsp
        self._opts = {
            "nsp": nsp,
            "broadcast_channel": key + "#" + nsp + "#",
            "request_channel": key + "-request#" + nsp + "#",
        }

    def of(self, nsp):
        """The emitter of another namespace."""
        return Emitter(self._redis, self.key, ("" if nsp.startswith("/") else "/") + nsp)

    def _op(self):
        return BroadcastOperator(self._redis, self._opts)

    def emit(self, event, *args):
        """Emit to every socket of the namespace."""
        return self._op().emit(event, *args)

    def to(self, room):
        return self._op().to(room)

    in_ = to

    def except_(self, room):
        return self._op().except_(room)

    @property
    def volatile(self):
        return self._op().volatile

    def compress(self, compress):
        return self._op().compress(compress)

    def sockets_join(self, rooms):
        return self._op().sockets_join(rooms)

    def sockets_leave(self, rooms):
        return self._op().sockets_leave(rooms)

    def disconnect_sockets(self, close=False):
        return self._op().disconnect_sockets(close)

    def server_side_emit(self, *args):
        """A message to the Socket.IO servers of the cluster (no acks)."""
        self._redis.publish(self._opts["request_channel"],
                            _json({"uid": UID, "type": SERVER_SIDE_EMIT, "data": list(args)}))
