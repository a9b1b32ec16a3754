#!/usr/bin/env node
'use strict';
/*
 * An echo/RPC worker of siogate's gateway mode (README, "Gateway mode"), in
 * Node with node-redis 4: the same as examples/python/echo_worker.py.
 *
 * Reads the client events siogate appends to its Redis Stream with a
 * consumer group (any number of workers share the load) and answers each
 * event that asked for an ack on the node's reply channel:
 *   "echo"   (...args)  the args unchanged (an entry in msgpack, i.e. with
 *                       binary, is answered in msgpack: Buffers stay binary)
 *   "whoami" ()         [{worker: <consumer name>, sid, data: socket.data}]
 *   any other event     [{error: "unknown event"}]
 * Entries a crashed worker left pending are claimed (XAUTOCLAIM) once idle
 * for --claim-idle ms; a Redis restart is survived (the group is created
 * again). Prints "ready" once the group exists and the first XREADGROUP is
 * sent.
 *
 *   NODE_PATH=tests/integration/node_modules node examples/node/echo_worker.js \
 *       --redis-url redis://127.0.0.1:6379
 *
 * (or `npm install redis notepack.io` next to it). runWorker() below is the
 * loop any worker needs; chat_worker.js uses it too.
 */

const os = require('node:os');
const { createClient, commandOptions } = require('redis');
const msgpack = require('notepack.io'); // what @socket.io/redis-emitter encodes with

const DEFAULTS = {
  'redis-url': 'redis://127.0.0.1:6379',
  stream: 'siogate:events', // siogate's bridgeStream
  group: 'echo',
  consumer: `${os.hostname()}-${process.pid}`,
  'reply-prefix': 'siogate:reply:', // siogate's bridgeReplyPrefix
  'claim-idle': 30000, // ms
  block: 5000, // ms
  count: 100,
  'die-after-read': 0, // tests: SIGKILL ourselves once N entries were read
};

/** --name value options over defaults (numbers stay numbers). */
function parseArgs(argv, defaults = DEFAULTS) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(.+)$/.exec(argv[i]);
    if (!m || !(m[1] in o) || i + 1 >= argv.length) {
      console.error(`usage: ${Object.keys(o).map((k) => `[--${k} ${o[k]}]`).join(' ')}`);
      process.exit(2);
    }
    o[m[1]] = typeof o[m[1]] === 'number' ? Number(argv[++i]) : argv[++i];
  }
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TEXT = ['v', 'type', 'node', 'nsp', 'sid', 'event', 'enc', 'ack', 'hs', 'reason'];

/**
 * Read o.stream with consumer group o.group forever; handle(entry, w) runs
 * for each entry (fields as strings, args a Buffer), then the entry is
 * acknowledged. w.reply(entry, args, binary) answers the client's ack.
 */
async function runWorker(o, handle) {
  const r = createClient({ url: o['redis-url'] });
  const reader = r.duplicate(); // XREADGROUP blocks its connection
  for (const c of [r, reader]) {
    c.on('error', () => {}); // node-redis reconnects by itself; the loop retries
    await c.connect();
  }
  const w = {
    opts: o,
    redis: r,
    async reply(e, args, binary = false) {
      const body = { ack: e.ack, args };
      await r.publish(o['reply-prefix'] + e.node, binary ? msgpack.encode(body) : JSON.stringify(body));
    },
    busy: false, // handling entries read
    stopping: false,
    /** SIGTERM: exit now when idle, else once the entries read are answered
     *  and acknowledged (no entry is left pending for nothing). */
    stop() {
      w.stopping = true;
      if (!w.busy) w.exit();
    },
    async exit() {
      await Promise.allSettled([r.quit(), reader.disconnect()]);
      process.exit(0);
    },
  };
  const ensureGroup = async () => {
    try {
      await r.xGroupCreate(o.stream, o.group, '0', { MKSTREAM: true });
    } catch (e) {
      if (!/BUSYGROUP/.test(e.message)) throw e;
    }
  };
  async function process_(messages) {
    w.busy = true;
    try {
      await handleAll(messages);
    } finally {
      w.busy = false;
    }
    if (w.stopping) await w.exit();
  }
  async function handleAll(messages) {
    for (const m of messages) {
      if (!m) continue; // deleted meanwhile (MAXLEN)
      const e = { id: String(m.id) };
      for (const [k, v] of Object.entries(m.message)) e[k] = TEXT.includes(k) ? v.toString() : v;
      try {
        await handle(e, w);
      } catch (err) {
        if (!r.isReady) throw err;
        console.error(`entry ${e.id}: ${err.message}`); // a bad entry must not stop the worker
      }
      await r.xAck(o.stream, o.group, e.id);
    }
  }
  const claimEvery = Math.max(50, Math.min(o['claim-idle'] / 2, 1000));
  let lastClaim = 0;
  let read = 0;
  let announced = false;
  let backoff = 50;
  const bin = commandOptions({ returnBuffers: true });
  w.done = (async () => {
    for (;;) {
      try {
        await ensureGroup();
        for (;;) {
          if (Date.now() - lastClaim >= claimEvery) {
            lastClaim = Date.now();
            let start = '0-0';
            do {
              const res = await r.xAutoClaim(bin, o.stream, o.group, o.consumer, o['claim-idle'], start, { COUNT: o.count });
              start = res.nextId.toString();
              await process_(res.messages);
            } while (start !== '0-0');
          }
          const reading = reader.xReadGroup(bin, o.group, o.consumer, { key: o.stream, id: '>' },
            { COUNT: o.count, BLOCK: Math.min(o.block, claimEvery) });
          if (!announced) {
            announced = true;
            console.log('ready');
          }
          const res = await reading;
          for (const { messages } of res || []) {
            read += messages.length;
            if (o['die-after-read'] && read >= o['die-after-read']) process.kill(process.pid, 'SIGKILL');
            await process_(messages);
          }
          backoff = 50;
        }
      } catch (e) {
        if (w.stopping) return;
        if (/NOGROUP/.test(e.message)) continue; // Redis lost the stream: create the group again
        console.error(`redis: ${e.message}; retrying in ${backoff} ms`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  })();
  return w;
}

/** The echo worker's handler. */
async function echo(e, w) {
  if (e.type !== 'event' || e.ack === undefined) return; // nothing to answer
  const binary = e.enc === 'msgpack';
  const args = binary ? msgpack.decode(e.args) : JSON.parse(e.args.toString());
  if (e.event === 'echo') await w.reply(e, args, binary);
  else if (e.event === 'whoami') {
    const hs = JSON.parse(e.hs || '{}');
    await w.reply(e, [{ worker: w.opts.consumer, sid: e.sid, data: hs.data }]);
  } else await w.reply(e, [{ error: 'unknown event' }]);
}

if (require.main === module) {
  (async () => {
    const w = await runWorker(parseArgs(process.argv.slice(2)), echo);
    process.on('SIGTERM', w.stop);
    process.on('SIGINT', w.stop);
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { runWorker, parseArgs, DEFAULTS };
