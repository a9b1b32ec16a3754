#!/usr/bin/env node
'use strict';
/*
 * tests/bench/gateway-worker.js - the bench's worker for siogate's gateway mode (README,
 * "Gateway mode"): reads siogate's Redis Stream with a consumer group, answers every entry
 * that carries an ack token and acknowledges the entries, all pipelined (node-redis 4).
 *
 *   node tests/bench/gateway-worker.js --redis-url redis://127.0.0.1:6379 [--consumer w1]
 *        [--stream siogate:events] [--group bench] [--reply-prefix siogate:reply:]
 *        [--count 100] [--block 1000]
 *
 * Loop: XREADGROUP COUNT <count> BLOCK <block> ">", then for the batch one PUBLISH per ack
 * (to <reply-prefix><node>: {"ack":"<token>","args":<the event's args>}, i.e. an echo; the
 * args are the entry's JSON text spliced in, not parsed: the bench measures siogate, not
 * JSON.parse) and one XACK of every id, issued in the same tick as the next XREADGROUP
 * (node-redis writes them in one batch); the next batch's replies wait for the previous
 * batch's, so at most one batch is in flight. Entries in msgpack (binary args) are answered
 * with an empty args array.
 *
 * Prints "ready" once the group exists and the first XREADGROUP is sent. Counters (entries
 * read by type, replies, XACKed ids, errors) go to the parent over IPC when it sends
 * "stats" (tests/bench/run), and to stderr as JSON at SIGTERM.
 */
const path = require('path');

function loadRedis() {
  /* tests/bench's node_modules first, then tests/integration's (both pin node-redis 4) */
  for (const dir of [path.join(__dirname, 'node_modules'), path.join(__dirname, '..', 'integration', 'node_modules')]) {
    try {
      return require(require.resolve('redis', { paths: [dir] }));
    } catch (e) { /* next */ }
  }
  return require('redis');
}
const { createClient } = loadRedis();

const o = { 'redis-url': 'redis://127.0.0.1:6379', stream: 'siogate:events', group: 'bench',
  consumer: `w-${process.pid}`, 'reply-prefix': 'siogate:reply:', count: 100, block: 1000 };
for (let i = 2; i < process.argv.length; i++) {
  const m = /^--(.+)$/.exec(process.argv[i]);
  if (!m || !(m[1] in o) || i + 1 >= process.argv.length) {
    console.error(`usage: gateway-worker.js ${Object.keys(o).map((k) => `[--${k} ${o[k]}]`).join(' ')}`);
    process.exit(2);
  }
  o[m[1]] = typeof o[m[1]] === 'number' ? Number(process.argv[++i]) : process.argv[++i];
}

const stats = { read: 0, event: 0, connect: 0, disconnect: 0, other: 0, acks: 0, replies: 0, xacked: 0,
  batches: 0, errors: 0, last_error: null };
const fail = (e) => { stats.errors++; stats.last_error = String(e && e.message ? e.message : e); };

if (process.send) {
  process.on('message', (m) => { if (m === 'stats') process.send({ stats }); });
  process.on('disconnect', () => process.exit(0));
}
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    stopping = true;
    process.stderr.write(`${JSON.stringify({ consumer: o.consumer, ...stats })}\n`);
    process.exit(0);
  });
}

(async () => {
  const r = createClient({ url: o['redis-url'] });
  const pub = r.duplicate();
  for (const c of [r, pub]) {
    c.on('error', fail);
    await c.connect();
  }
  try {
    await r.xGroupCreate(o.stream, o.group, '0', { MKSTREAM: true });
  } catch (e) {
    if (!/BUSYGROUP/.test(e.message)) throw e;
  }
  let prev = Promise.resolve();
  let announced = false;
  while (!stopping) {
    const reading = r.xReadGroup(o.group, o.consumer, { key: o.stream, id: '>' }, { COUNT: o.count, BLOCK: o.block });
    if (!announced) {
      announced = true;
      console.log('ready');
    }
    await prev;
    let res;
    try {
      res = await reading;
    } catch (e) {
      fail(e);
      await new Promise((ok) => setTimeout(ok, 100));
      continue;
    }
    const messages = (res && res[0] && res[0].messages) || [];
    if (!messages.length) { prev = Promise.resolve(); continue; }
    stats.batches++;
    const ops = [];
    const ids = [];
    for (const e of messages) {
      if (!e) continue; /* trimmed meanwhile (MAXLEN ~) */
      ids.push(e.id);
      stats.read++;
      const m = e.message;
      if (m.type === 'event' || m.type === 'connect' || m.type === 'disconnect') stats[m.type]++;
      else stats.other++;
      if (m.type !== 'event' || m.ack === undefined) continue;
      stats.acks++;
      const args = m.enc === 'json' && m.args ? m.args : '[]';
      ops.push(pub.publish(o['reply-prefix'] + m.node, `{"ack":${JSON.stringify(m.ack)},"args":${args}}`)
        .then(() => { stats.replies++; }, fail));
    }
    if (ids.length) ops.push(r.xAck(o.stream, o.group, ids).then((n) => { stats.xacked += n; }, fail));
    prev = Promise.all(ops);
  }
})().catch((e) => {
  console.error(`gateway-worker: ${e.stack || e}`);
  process.exit(1);
});
