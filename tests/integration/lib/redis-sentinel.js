'use strict';
// A private Redis Sentinel set-up for one test file: one master, one replica
// (redis-server --replicaof) and three sentinels (redis-server <conf>
// --sentinel), every process on 127.0.0.1 only (SG_REDIS_SERVER, as
// lib/redis.js), in one private temp directory, no persistence.
//
// Each sentinel has its own config file in the temp directory: Sentinel
// rewrites it (myid, known replicas and sentinels, the current epoch and
// master), so it must be writable and never shared. Settings, chosen so a
// failover takes a few seconds instead of minutes:
//   sentinel monitor <name> 127.0.0.1 <masterPort> 2   (quorum 2 of 3)
//   sentinel down-after-milliseconds <name> 1000      (option downAfterMs)
//   sentinel failover-timeout <name> 5000             (option failoverTimeoutMs)
//   sentinel resolve-hostnames no, sentinel announce-ip 127.0.0.1 (the hello
//   messages name 127.0.0.1, whatever the interface), bind 127.0.0.1.
// Data nodes run with repl-diskless-sync-delay 0 (a replica syncs at once,
// not after the default 5 s) and dbfilename dump-<port>.rdb plus
// rdb-del-sync-files yes (the full sync's RDB file, one name per node in the
// shared directory, deleted once loaded).
//
// Every wait polls (50 ms apart) with an upper bound, never a fixed sleep.
// "Ready" means every running sentinel names the expected master (flags
// exactly "master"), lists the expected replica (flags "slave",
// master-link-status ok, replicating from that master) and the two other
// sentinels (flags "sentinel"), and the replica says master_link_status:up.
//
// stop() kills (SIGKILL) exactly the processes it started and removes the
// temp directory; a process exit (without stop()) kills whatever is left and
// removes the directory.
//
// API:
//   startRedisSentinel({ name = 'mymaster', password, sentinelPassword,
//                        downAfterMs = 1000, failoverTimeoutMs = 5000,
//                        extra = [] (data nodes), waitMs = 30000 }) -> s
//     password:         requirepass + masterauth on both data nodes,
//                       sentinel auth-pass <name> on the sentinels;
//     sentinelPassword: requirepass on the sentinels (they then also use it
//                       to talk to each other, so it is the same on all).
//   s.name
//   s.master   { port }  the current master (swapped by failover())
//   s.replica  { port }  the current replica (the former master after a
//                        failover(); it is reconfigured by the sentinels
//                        some seconds later, see waitReady)
//   s.sentinels [{ port, pid }]
//   s.dataNodes [{ port, pid }]  the two data nodes, in start order
//   s.url  'redis+sentinel://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/mymaster'
//          (with sentinelPassword 'redis+sentinel://:SENTPW@...'; the data
//          nodes' password is s.password, not in the URL)
//   s.password, s.sentinelPassword, s.dir
//   await s.failover({ settle = false, waitMs } = {}) -> { port, ms }:
//          SENTINEL FAILOVER <name> on the first sentinel, then waits until
//          every sentinel answers get-master-addr-by-name with the new master
//          and that node's INFO replication says role:master; ms = from the
//          FAILOVER command to then. With settle, then also waitReady() (not
//          counted in ms; ~20 s, see waitReady).
//   await s.currentMaster() -> { host, port } (first sentinel that answers)
//   await s.waitReady(ms?)  the "ready" wait above, for the current master
//          and replica. After a failover that means until the sentinels have
//          turned the old master into a replica of the new one and all see
//          its link up: ~20 s, as a sentinel notices an ex-master still
//          claiming "master" only by INFO (every 10 s for a replica) and then
//          waits 8 s more before sending it REPLICAOF. A second failover()
//          before that promotes a node that never stopped being a master.
//   s.command(port, args)  one command on a data node (with password)
//   s.sentinelCommand(port, args)  one command on a sentinel
//   s.log(port)  that process's output
//   await s.stop()  idempotent

const fs = require('node:fs');
const path = require('node:path');
const { requireRedis } = require('./redis');
const {
  redisCommand, parseInfo, pairs, pickPorts, spawnServer, killHard, makeTempDir, removeTempDir, HOST,
} = require('./redis-cluster');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startRedisSentinel(opts = {}) {
  requireRedis();
  const name = opts.name || 'mymaster';
  const password = opts.password || null;
  const sentinelPassword = opts.sentinelPassword || null;
  const downAfterMs = opts.downAfterMs ?? 1000;
  const failoverTimeoutMs = opts.failoverTimeoutMs ?? 5000;
  const waitMs = opts.waitMs ?? 30000;
  const extra = opts.extra || [];

  const dir = makeTempDir('sg-rsentinel-');
  const procs = new Map(); // port -> { child, log }
  let stopped = false;

  const dataCmd = (port, args, timeout) => redisCommand(port, args, { password, timeout });
  const sentCmd = (port, args, timeout) => redisCommand(port, args, { password: sentinelPassword, timeout });

  const handle = {
    name,
    dir,
    password,
    sentinelPassword,
    master: null,
    replica: null,
    sentinels: [],
    dataNodes: [],
    url: '',
    command: (port, args) => dataCmd(port, args),
    sentinelCommand: (port, args) => sentCmd(port, args),
    log: (port) => (procs.get(port)?.log || []).join(''),
  };

  async function pollUntil(ms, what, step) {
    const deadline = Date.now() + ms;
    let last = '';
    for (;;) {
      let r;
      try { r = await step(); } catch (e) { r = { done: false, why: e.message }; }
      if (r.done) return r.value;
      last = r.why;
      if (Date.now() > deadline) throw new Error(`redis sentinel: timed out after ${ms} ms waiting for ${what} (last: ${last})`);
      await sleep(50);
    }
  }

  /** null when sentinel `port` knows master/replica/others, else why not. */
  async function sentinelUnready(sport, masterPort, replicaPort) {
    const m = pairs(await sentCmd(sport, ['SENTINEL', 'MASTER', name], 2000));
    if (Number(m.port) !== masterPort) return `${sport}: master is ${m.ip}:${m.port}`;
    if (m.flags !== 'master') return `${sport}: master flags ${m.flags}`;
    const reps = (await sentCmd(sport, ['SENTINEL', 'REPLICAS', name], 2000)).map(pairs);
    const r = reps.find((x) => Number(x.port) === replicaPort);
    if (!r) return `${sport}: does not know replica ${replicaPort} yet`;
    if (r.flags !== 'slave') return `${sport}: replica flags ${r.flags}`;
    if (r['master-link-status'] !== 'ok' || Number(r['master-port']) !== masterPort) {
      return `${sport}: replica link ${r['master-link-status']} to ${r['master-port']}`;
    }
    const others = (await sentCmd(sport, ['SENTINEL', 'SENTINELS', name], 2000)).map(pairs);
    const want = handle.sentinels.map((s) => s.port).filter((p) => p !== sport).sort();
    const got = others.filter((x) => x.flags === 'sentinel').map((x) => Number(x.port)).sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) return `${sport}: knows sentinels ${got} (want ${want})`;
    return null;
  }

  handle.waitReady = (ms = waitMs) => pollUntil(ms, 'every sentinel to know the master, the replica and each other', async () => {
    const mp = handle.master.port;
    const rp = handle.replica.port;
    const repl = parseInfo(await dataCmd(rp, ['INFO', 'replication'], 2000));
    if (repl.role !== 'slave' || Number(repl.master_port) !== mp || repl.master_link_status !== 'up') {
      return { done: false, why: `replica ${rp}: role ${repl.role} master ${repl.master_port} link ${repl.master_link_status}` };
    }
    for (const s of handle.sentinels) {
      const why = await sentinelUnready(s.port, mp, rp);
      if (why) return { done: false, why };
    }
    return { done: true };
  });

  handle.currentMaster = async () => {
    let lastErr;
    for (const s of handle.sentinels) {
      try {
        const [host, port] = await sentCmd(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name], 2000);
        return { host, port: Number(port) };
      } catch (e) { lastErr = e; }
    }
    throw lastErr || new Error('no sentinel');
  };

  handle.failover = async ({ settle = false, waitMs: ms = waitMs } = {}) => {
    const oldPort = handle.master.port;
    const t0 = Date.now();
    // -NOGOODSLAVE: no replica the sentinel considers usable yet; -INPROG: a
    // failover is already running. Both are retried within the bound.
    await pollUntil(ms, `SENTINEL FAILOVER ${name} to be accepted`, async () => {
      try {
        await sentCmd(handle.sentinels[0].port, ['SENTINEL', 'FAILOVER', name], 2000);
        return { done: true };
      } catch (e) {
        if (/NOGOODSLAVE|INPROG/.test(e.message)) return { done: false, why: e.message };
        throw e;
      }
    });
    const port = await pollUntil(ms - (Date.now() - t0), 'every sentinel to report the new master', async () => {
      const addrs = await Promise.all(handle.sentinels.map((s) => sentCmd(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name], 2000)));
      const ports = new Set(addrs.map((a) => Number(a[1])));
      if (ports.size !== 1) return { done: false, why: `sentinels disagree: ${[...ports]}` };
      const [p] = ports;
      if (p === oldPort) return { done: false, why: 'still the old master' };
      const repl = parseInfo(await dataCmd(p, ['INFO', 'replication'], 2000));
      if (repl.role !== 'master') return { done: false, why: `${p} role:${repl.role}` };
      return { done: true, value: p };
    });
    const elapsed = Date.now() - t0;
    const newMaster = handle.dataNodes.find((n) => n.port === port);
    if (!newMaster) throw new Error(`sentinels promoted ${port}, not one of our data nodes`);
    handle.replica = handle.dataNodes.find((n) => n.port === oldPort);
    handle.master = newMaster;
    if (settle) await handle.waitReady(ms);
    return { port, ms: elapsed };
  };

  handle.stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all([...procs.values()].map((p) => killHard(p.child)));
    removeTempDir(dir);
  };

  try {
    const [mPort, rPort, ...sPorts] = await pickPorts(5);
    const dataArgs = (port) => [
      '--port', String(port), '--bind', HOST, '--dir', dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
      '--repl-diskless-sync-delay', '0',
      '--dbfilename', `dump-${port}.rdb`, '--rdb-del-sync-files', 'yes',
      ...(password ? ['--requirepass', password, '--masterauth', password] : []),
      ...extra,
    ];
    procs.set(mPort, await spawnServer(dataArgs(mPort), mPort));
    procs.set(rPort, await spawnServer([...dataArgs(rPort), '--replicaof', HOST, String(mPort)], rPort));
    handle.dataNodes = [mPort, rPort].map((port) => ({ port, pid: procs.get(port).child.pid }));
    [handle.master, handle.replica] = handle.dataNodes;

    const q = (s) => `"${String(s).replace(/["\\]/g, '\\$&')}"`;
    await Promise.all(sPorts.map(async (port) => {
      const conf = path.join(dir, `sentinel-${port}.conf`);
      const lines = [
        `port ${port}`,
        `bind ${HOST}`,
        `dir ${q(dir)}`,
        'daemonize no',
        'loglevel warning',
        'sentinel resolve-hostnames no',
        `sentinel announce-ip ${HOST}`,
        `sentinel monitor ${name} ${HOST} ${mPort} 2`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${name} 1`,
        ...(password ? [`sentinel auth-pass ${name} ${q(password)}`] : []),
        ...(sentinelPassword ? [`requirepass ${q(sentinelPassword)}`] : []),
      ];
      fs.writeFileSync(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
      procs.set(port, await spawnServer([conf, '--sentinel'], port));
      handle.sentinels.push({ port, pid: procs.get(port).child.pid });
    }));
    handle.sentinels.sort((a, b) => sPorts.indexOf(a.port) - sPorts.indexOf(b.port));
    const auth = sentinelPassword ? `:${encodeURIComponent(sentinelPassword)}@` : '';
    handle.url = `redis+sentinel://${auth}${sPorts.map((p) => `${HOST}:${p}`).join(',')}/${name}`;
    await handle.waitReady();
  } catch (e) {
    const logs = [...procs.entries()].map(([p, x]) => `--- ${p}\n${x.log.join('')}`).join('\n');
    await handle.stop();
    e.message += logs ? `\n${logs}` : '';
    throw e;
  }
  return handle;
}

module.exports = { startRedisSentinel };
