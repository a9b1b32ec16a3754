#!/usr/bin/python3
"""An echo/RPC worker of siogate's gateway mode (README, "Gateway mode").

Reads the client events siogate appends to its Redis Stream with a consumer
group, so any number of these workers share the load, and answers each
event that asked for an ack on the node's reply channel:

  "echo"    (...args)  the args unchanged (binary stays binary: an entry in
                       msgpack is answered in msgpack)
  "whoami"  ()         [{"worker": <consumer name>, "sid": <socket id>,
                         "data": <socket.data: token claims, auth endpoint data>}]
  any other event      [{"error": "unknown event"}]

Entries a crashed worker read but never acknowledged are claimed (XAUTOCLAIM)
once idle for --claim-idle ms: at-least-once delivery. The worker survives a
Redis restart (it reconnects and creates the group again).

    /usr/bin/python3 echo_worker.py --redis-url redis://127.0.0.1:6379

Prints "ready" once the group exists and the first XREADGROUP is sent;
SIGTERM lets the entries being handled finish. Worker and parse_args are
the loop and the options of every worker (chat_worker.py imports them).
Needs Debian's python3-redis and python3-msgpack.
"""

import argparse
import json
import os
import signal
import socket
import sys
import time

import msgpack
import redis


def parse_args(argv=None, extra=(), group="echo"):
    """The options every worker has; extra: more (args, kwargs) for add_argument."""
    p = argparse.ArgumentParser()
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    p.add_argument("--stream", default="siogate:events", help="siogate's bridgeStream")
    p.add_argument("--group", default=group, help="consumer group (created if missing)")
    p.add_argument("--consumer", default="%s-%d" % (socket.gethostname(), os.getpid()),
                   help="this worker's name in the group (unique per worker)")
    p.add_argument("--reply-prefix", default="siogate:reply:", help="siogate's bridgeReplyPrefix")
    p.add_argument("--claim-idle", type=int, default=30000, metavar="MS",
                   help="claim other consumers' entries pending for longer than this")
    p.add_argument("--block", type=int, default=5000, metavar="MS", help="XREADGROUP BLOCK")
    p.add_argument("--count", type=int, default=100, help="entries per read")
    p.add_argument("--die-after-read", type=int, default=0, metavar="N",
                   help="(tests) SIGKILL ourselves once N entries were read, before handling them")
    for a, kw in extra:
        p.add_argument(*a, **kw)
    return p.parse_args(argv)


class Worker:
    """The loop every worker needs: group, read, claim, reconnect. A subclass
    (or handler) decides what an entry means; handle() returning normally
    acknowledges the entry."""

    def __init__(self, opts, handle):
        self.o = opts
        self.handle = handle
        self.r = redis.Redis.from_url(opts.redis_url)  # bytes in, bytes out: args may be binary
        self.read = 0
        self.last_claim = 0.0
        self.claim_every = max(0.05, min(opts.claim_idle / 2000.0, 1.0))
        self.announced = False
        self.busy = False  # handling entries read
        self.stopping = False

    def stop(self, *_):
        """SIGTERM: exit now when idle, else once the entries read are
        answered and acknowledged (no entry is left pending for nothing)."""
        if self.busy:
            self.stopping = True
        else:
            sys.exit(0)

    def ensure_group(self):
        try:
            self.r.xgroup_create(self.o.stream, self.o.group, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def reply(self, entry, args, binary=False):
        """Answer the client's ack of entry with args (a list)."""
        node = entry["node"]
        body = {"ack": entry["ack"], "args": args}
        data = msgpack.packb(body, use_bin_type=True) if binary else json.dumps(body, separators=(",", ":"))
        self.r.publish(self.o.reply_prefix + node, data)

    def process(self, entries):
        self.busy = True
        try:
            self._process(entries)
        finally:
            self.busy = False
        if self.stopping:
            sys.exit(0)

    def _process(self, entries):
        for eid, fields in entries:
            if fields is None:  # deleted meanwhile (MAXLEN)
                self.r.xack(self.o.stream, self.o.group, eid)
                continue
            e = {k.decode(): v for k, v in fields.items()}
            for k in ("v", "type", "node", "nsp", "sid", "event", "enc", "ack", "hs", "reason"):
                if k in e:
                    e[k] = e[k].decode("utf-8", "replace")
            e["id"] = eid.decode()
            try:
                self.handle(self, e)
            except redis.ConnectionError:
                raise
            except Exception as ex:  # a bad entry must not stop the worker
                print("entry %s: %r" % (e["id"], ex), file=sys.stderr, flush=True)
            self.r.xack(self.o.stream, self.o.group, eid)

    def claim(self):
        """Take over entries other (crashed) consumers left pending."""
        self.last_claim = time.monotonic()
        start = "0-0"
        while True:
            res = self.r.xautoclaim(self.o.stream, self.o.group, self.o.consumer,
                                    self.o.claim_idle, start_id=start, count=self.o.count)
            start, entries = res[0], res[1]
            if entries:
                self.process(entries)
            if start in (b"0-0", "0-0"):
                return

    def step(self):
        if time.monotonic() - self.last_claim >= self.claim_every:
            self.claim()
        block = max(1, int(min(self.o.block, self.claim_every * 1000)))
        if not self.announced:
            # the XREADGROUP below is sent right after this line
            print("ready", flush=True)
            self.announced = True
        res = self.r.xreadgroup(self.o.group, self.o.consumer, {self.o.stream: ">"},
                                count=self.o.count, block=block)
        for _stream, entries in res or []:
            self.read += len(entries)
            if self.o.die_after_read and self.read >= self.o.die_after_read:
                os.kill(os.getpid(), signal.SIGKILL)
            self.process(entries)

    def run(self):
        backoff = 0.05
        while True:
            try:
                self.ensure_group()
                while True:
                    try:
                        self.step()
                    except redis.ResponseError as e:
                        if "NOGROUP" not in str(e):
                            raise
                        self.ensure_group()  # Redis lost the stream (restart without persistence)
                    backoff = 0.05
            except redis.RedisError as e:  # lost connection, LOADING, ...: retry
                print("redis: %s; retrying in %.2f s" % (e, backoff), file=sys.stderr, flush=True)
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)


def echo(worker, e):
    if e["type"] != "event" or "ack" not in e:
        return  # lifecycle entries, events without an ack: nothing to answer
    binary = e.get("enc") == "msgpack"
    args = msgpack.unpackb(e["args"], raw=False) if binary else json.loads(e["args"])
    if e["event"] == "echo":
        worker.reply(e, args, binary)
    elif e["event"] == "whoami":
        hs = json.loads(e.get("hs") or "{}")
        worker.reply(e, [{"worker": worker.o.consumer, "sid": e["sid"], "data": hs.get("data")}])
    else:
        worker.reply(e, [{"error": "unknown event"}])


def main():
    opts = parse_args()
    w = Worker(opts, echo)
    signal.signal(signal.SIGTERM, w.stop)
    try:
        w.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
