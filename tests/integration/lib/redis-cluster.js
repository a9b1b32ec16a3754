'use strict';
// A private Redis Cluster for one test file: `masters` masters with
// `replicasPerMaster` replicas each (default 3 + 3), every node a
// redis-server (SG_REDIS_SERVER, as lib/redis.js) on 127.0.0.1 only, in one
// private temp directory, no persistence (no RDB, no AOF; only the cluster's
// own nodes-<port>.conf, which restartNode() needs to rejoin).
//
// Timeouts, chosen so a failover takes ~2-3 s instead of the default ~20 s:
//   cluster-node-timeout 1000 (option nodeTimeout): a master unreachable for
//     1 s is PFAIL, then FAIL once a majority of masters agree;
//   cluster-replica-validity-factor 0: a replica always tries to fail over,
//     however long its link to the dead master has been down;
//   cluster-allow-replica-migration no: the topology changes only when a
//     test makes it change (no replica wanders to an orphaned master);
//   repl-diskless-sync-delay 0: a replica's full sync starts at once (the
//     default waits 5 s for more replicas), at start-up and after a restart;
//   dbfilename dump-<port>.rdb, rdb-del-sync-files yes: a replica still
//     receives its full sync into an RDB file in the (shared) directory; one
//     name per node, deleted after loading, so no node ever loads another
//     node's data and a restarted node starts empty.
// A replica is elected 500-1000 ms (+1 s per rank) after the FAIL.
//
// Ports: the cluster bus listens on port + 10000, so every data port is
// picked (freePort from lib/server.js) such that port + 10000 is free too,
// and no port of the set collides with another one's bus port.
//
// Every wait polls (20-100 ms apart) with an upper bound and never sleeps a
// fixed time. "Settled" means: every running node says cluster_state:ok,
// knows every node of the cluster, flags none of the running ones
// fail/pfail/handshake/noaddr nor sees its link down, all running nodes agree
// on every node's role and master, the masters' slots cover all 16384, and
// every running replica whose master runs has master_link_status:up.
//
// stop() kills (SIGKILL: nothing to persist) exactly the processes it started
// and removes the temp directory; a process exit (without stop()) kills
// whatever is left and removes the directory.
//
// API:
//   startRedisCluster({ masters = 3, replicasPerMaster = 1, extra = [],
//                       nodeTimeout = 1000, password, waitMs = 30000 })
//     -> cluster
//   cluster.nodes       [{ port, pid, role: 'master'|'replica', id,
//                          masterPort (replicas; null for masters), alive }]
//                       (refreshed by waitFailover, restartNode, refresh)
//   cluster.seeds       '127.0.0.1:p1,127.0.0.1:p2,...' (every node)
//   cluster.url         'redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/'
//                       (the first three nodes; with password
//                       'redis+cluster://:PASSWORD@...')
//   cluster.dir         the temp directory
//   cluster.masters()   running nodes that are masters (as last refreshed)
//   cluster.replicas()  running nodes that are replicas
//   await cluster.ownerOf(key)        -> { slot, port, id } of the master
//                                        owning key (CLUSTER KEYSLOT + SHARDS)
//   await cluster.killMaster(port)    SIGKILL that master's process only
//   await cluster.waitFailover(oldMasterPort, ms?)
//                                     -> { port, ms }: the promoted replica,
//                                        ms since killMaster (or since the
//                                        call when the master was not killed
//                                        by killMaster)
//   await cluster.restartNode(port)   same port, same nodes.conf; resolves once
//                                     settled (a former master comes back as
//                                     a replica of its successor) -> node
//   await cluster.waitSettled(ms?)    the "settled" wait above
//   await cluster.refresh()           re-read roles from the running nodes
//   cluster.command(port, args)       one command on one node (RESP reply)
//   cluster.nodeRedisCluster(opts)    as nodeRedisCluster(cluster, opts)
//   cluster.log(port)                 that node's output (loglevel warning)
//   await cluster.stop()              idempotent
//
//   nodeRedisCluster(cluster, opts = {}) -> a node-redis v4 createCluster()
//     client, not connected (await client.connect()), rootNodes = every node,
//     an 'error' listener already attached (errors kept in client.sgErrors:
//     without one a killed node would crash the test process), password
//     passed on. Disconnected by cluster.stop() if still open.
//     Trap: node-redis 4 re-reads the topology only on a MOVED/ASK reply, so
//     a client whose master was killed keeps retrying the dead port; it works
//     again once the old node is back (restartNode: it answers MOVED) or with
//     a new client.
//
//   redisCommand(port, args, { host, password, timeout }) -> reply: one command
//     on a fresh connection (AUTH first with password); error replies reject.
//     Arrays are JS arrays, bulk strings JS strings, nil null.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { freePort } = require('./server');
const { REDIS_BIN, requireRedis } = require('./redis');

const HOST = '127.0.0.1';
const SLOTS = 16384;
const BUS_OFFSET = 10000;
const REDIS_CLI = process.env.SG_REDIS_CLI || (() => {
  const sibling = path.join(path.dirname(REDIS_BIN), 'redis-cli');
  return fs.existsSync(sibling) ? sibling : '/usr/bin/redis-cli';
})();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- processes

// Every redis process started by this module or lib/redis-sentinel.js that
// is still running, and their temp directories: a test process that exits
// without stop() kills them and removes the directories.
const live = new Set();
const tempDirs = new Set();
let exitHook = false;
function hookExit() {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of live) { try { c.kill('SIGKILL'); } catch {} }
    for (const d of tempDirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch {} }
  });
}
function track(child) {
  hookExit();
  live.add(child);
  child.once('exit', () => live.delete(child));
}
/** A private temp directory, removed at process exit if removeTempDir()
 *  has not removed it before. */
function makeTempDir(prefix) {
  hookExit();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}
function removeTempDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

function running(child) {
  return !!child && child.exitCode === null && child.signalCode === null;
}

/** SIGKILL one child process (ours) and wait for its exit. */
function killHard(child) {
  if (!running(child)) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    try { child.kill('SIGKILL'); } catch { resolve(); }
  });
}

/** Spawn redis-server with args; resolves once it answers PING (or -NOAUTH)
 *  on port. Rejects (and kills it) when it exits or does not answer in ms. */
function spawnServer(args, port, ms = 10000) {
  const child = spawn(REDIS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const log = [];
  child.stdout.on('data', (d) => log.push(d.toString()));
  child.stderr.on('data', (d) => log.push(d.toString()));
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    let done = false;
    const onExit = (code, sig) => {
      if (done) return;
      done = true;
      reject(new Error(`redis-server on port ${port} exited (${code ?? sig}): ${log.join('')}`));
    };
    child.once('exit', onExit);
    const probe = async () => {
      if (done) return;
      let ok = false;
      try {
        await redisCommand(port, ['PING'], { timeout: 1000 });
        ok = true;
      } catch (e) {
        ok = /NOAUTH|WRONGPASS|AUTH/.test(e.message) && !e.code;
      }
      if (done) return;
      if (ok) {
        done = true;
        child.off('exit', onExit);
        resolve({ child, log });
      } else if (Date.now() > deadline) {
        done = true;
        child.off('exit', onExit);
        killHard(child);
        reject(new Error(`redis-server on port ${port} did not answer within ${ms} ms: ${log.join('')}`));
      } else setTimeout(probe, 30);
    };
    probe();
  });
}

function canBind(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

/** n distinct free loopback ports (freePort), none equal to another's
 *  port + busOffset; with busOffset also port + busOffset free and <= 65535. */
async function pickPorts(n, busOffset = 0) {
  const ports = [];
  const taken = new Set();
  for (let tries = 0; ports.length < n; tries++) {
    if (tries > 200 * n) throw new Error('could not find free loopback ports');
    const p = await freePort();
    if (taken.has(p)) continue;
    if (busOffset) {
      const bus = p + busOffset;
      if (bus > 65535 || taken.has(bus) || !(await canBind(bus))) continue;
      taken.add(bus);
    }
    taken.add(p);
    ports.push(p);
  }
  return ports;
}

// ---------------------------------------------------------------- RESP

/** Parse one RESP2/RESP3-ish reply at buf[pos]; null when incomplete. */
function parseReply(buf, pos) {
  if (pos >= buf.length) return null;
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+': return { value: line, pos: next };
    case '-': { const e = new Error(line); e.redisError = true; return { value: e, pos: next }; }
    case ':': return { value: Number(line), pos: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, pos: next };
      if (buf.length < next + len + 2) return null;
      return { value: buf.toString('utf8', next, next + len), pos: next + len + 2 };
    }
    case '*': {
      const len = Number(line);
      if (len < 0) return { value: null, pos: next };
      const arr = [];
      let p = next;
      for (let i = 0; i < len; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        arr.push(r.value);
        p = r.pos;
      }
      return { value: arr, pos: p };
    }
    default: throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

function encode(args) {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) {
    const s = String(a);
    parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
  }
  return parts.join('');
}

/** One command on a fresh connection; AUTH first with opts.password (and
 *  opts.username). Error replies reject with the reply's text. */
function redisCommand(port, args, { host = HOST, password, username, timeout = 3000 } = {}) {
  const cmds = [];
  if (password) cmds.push(username ? ['AUTH', username, password] : ['AUTH', password]);
  cmds.push(args);
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    let buf = Buffer.alloc(0);
    const replies = [];
    let settled = false;
    const finish = (err, val) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      s.destroy();
      if (err) reject(err); else resolve(val);
    };
    const t = setTimeout(() => finish(Object.assign(new Error(`${host}:${port} ${args[0]}: no reply within ${timeout} ms`), { code: 'ETIMEDOUT' })), timeout);
    s.once('error', (e) => finish(e));
    s.once('close', () => finish(Object.assign(new Error(`${host}:${port} closed the connection`), { code: 'ECLOSED' })));
    s.once('connect', () => s.write(cmds.map(encode).join('')));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let r;
      try {
        while (replies.length < cmds.length && (r = parseReply(buf, 0))) {
          replies.push(r.value);
          buf = buf.subarray(r.pos);
        }
      } catch (e) { finish(e); return; }
      if (replies.length === cmds.length) {
        const err = replies.find((v) => v instanceof Error);
        if (err) finish(err); else finish(null, replies[replies.length - 1]);
      }
    });
  });
}

/** INFO text -> { field: value } */
function parseInfo(text) {
  const o = {};
  for (const line of String(text).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && line[0] !== '#') o[line.slice(0, i)] = line.slice(i + 1);
  }
  return o;
}

/** A flat [k, v, k, v] array (RESP2 map) -> object */
function pairs(arr) {
  const o = {};
  for (let i = 0; i + 1 < arr.length; i += 2) o[arr[i]] = arr[i + 1];
  return o;
}

/** CLUSTER NODES text -> [{ id, port, flags: Set, role, masterId, linkState, slots }] */
function parseClusterNodes(text) {
  const out = [];
  for (const line of String(text).split('\n')) {
    if (!line.trim()) continue;
    const f = line.trim().split(' ');
    const addr = f[1].split(',')[0]; // ip:port@cport[,hostname]
    const port = Number(addr.slice(addr.lastIndexOf(':') + 1).split('@')[0]);
    const flags = new Set(f[2].split(','));
    let slots = 0;
    for (const r of f.slice(8)) {
      if (r.startsWith('[')) continue; // migrating / importing
      const [a, b] = r.split('-').map(Number);
      slots += (b === undefined ? a : b) - a + 1;
    }
    out.push({
      id: f[0],
      port,
      flags,
      role: flags.has('master') ? 'master' : flags.has('slave') ? 'replica' : 'unknown',
      masterId: f[3] === '-' ? null : f[3],
      linkState: f[7],
      slots,
    });
  }
  return out;
}

// ---------------------------------------------------------------- cluster

function requireCli() {
  if (!fs.existsSync(REDIS_CLI)) {
    throw new Error(`redis-cli not found at ${REDIS_CLI}: install Debian's redis-tools package `
      + '(deploy/dev.sh test installs every test dependency) or point SG_REDIS_CLI at one');
  }
}

function runCli(args, env, ms) {
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, args, { env: { ...process.env, ...env }, timeout: ms }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function startRedisCluster(opts = {}) {
  requireRedis();
  requireCli();
  const nMasters = opts.masters ?? 3;
  const perMaster = opts.replicasPerMaster ?? 1;
  const extra = opts.extra || [];
  const nodeTimeout = opts.nodeTimeout ?? 1000;
  const password = opts.password || null;
  const waitMs = opts.waitMs ?? 30000;
  const total = nMasters * (1 + perMaster);
  if (nMasters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');

  const dir = makeTempDir('sg-rcluster-');
  const procs = new Map(); // port -> { child, log }
  const killedAt = new Map(); // port -> ms timestamp of killMaster
  const clients = new Set();
  let stopped = false;

  const argsFor = (port) => [
    '--port', String(port), '--bind', HOST, '--dir', dir,
    '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
    '--cluster-enabled', 'yes',
    '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout', String(nodeTimeout),
    '--cluster-replica-validity-factor', '0',
    '--cluster-allow-replica-migration', 'no',
    '--repl-diskless-sync-delay', '0',
    '--dbfilename', `dump-${port}.rdb`, '--rdb-del-sync-files', 'yes',
    ...(password ? ['--requirepass', password, '--masterauth', password] : []),
    ...extra,
  ];
  const cmd = (port, args, timeout) => redisCommand(port, args, { password, timeout });
  const alive = (port) => running(procs.get(port)?.child);

  const handle = {
    dir,
    nodes: [],
    seeds: '',
    url: '',
    masters: () => handle.nodes.filter((n) => n.alive && n.role === 'master'),
    replicas: () => handle.nodes.filter((n) => n.alive && n.role === 'replica'),
    command: (port, args) => cmd(port, args),
    log: (port) => (procs.get(port)?.log || []).join(''),
  };

  function node(port) {
    const n = handle.nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no cluster node on port ${port}`);
    return n;
  }

  /** Every running node's view: { port, info, nodes } (or { port, error }). */
  async function views() {
    const ports = handle.nodes.map((n) => n.port).filter(alive);
    return Promise.all(ports.map(async (port) => {
      try {
        const [info, nodesText, repl] = await Promise.all([
          cmd(port, ['CLUSTER', 'INFO'], 2000),
          cmd(port, ['CLUSTER', 'NODES'], 2000),
          cmd(port, ['INFO', 'replication'], 2000),
        ]);
        return { port, info: parseInfo(info), nodes: parseClusterNodes(nodesText), repl: parseInfo(repl) };
      } catch (error) {
        return { port, error };
      }
    }));
  }

  /** null when settled, else why not (a string). */
  function unsettled(vs) {
    if (!vs.length) return 'no node is running';
    const aliveIds = new Set(handle.nodes.filter((n) => alive(n.port)).map((n) => n.id));
    let ref = null;
    for (const v of vs) {
      if (v.error) return `${v.port}: ${v.error.message}`;
      if (v.info.cluster_state !== 'ok') return `${v.port}: cluster_state:${v.info.cluster_state}`;
      if (v.nodes.length !== total) return `${v.port} knows ${v.nodes.length}/${total} nodes`;
      const roles = {};
      let covered = 0;
      for (const n of v.nodes) {
        const aliveNode = aliveIds.has(n.id);
        if (aliveNode) {
          for (const bad of ['fail', 'fail?', 'handshake', 'noaddr']) {
            if (n.flags.has(bad)) return `${v.port} flags ${n.port} ${bad}`;
          }
          if (!n.flags.has('myself') && n.linkState !== 'connected') return `${v.port}: link to ${n.port} ${n.linkState}`;
        }
        if (n.role === 'master') covered += n.slots;
        roles[n.id] = aliveNode ? `${n.role}:${n.masterId || '-'}:${n.slots}` : '';
      }
      if (covered !== SLOTS) return `${v.port}: masters cover ${covered}/${SLOTS} slots`;
      const key = JSON.stringify(Object.keys(roles).sort().map((k) => [k, roles[k]]));
      if (ref === null) ref = key;
      else if (ref !== key) return `${v.port} disagrees on the topology`;
      const me = v.nodes.find((n) => n.flags.has('myself'));
      if (me.role === 'replica') {
        const master = v.nodes.find((n) => n.id === me.masterId);
        if (master && aliveIds.has(master.id) && v.repl.master_link_status !== 'up') {
          return `${v.port}: master_link_status:${v.repl.master_link_status}`;
        }
      }
    }
    return null;
  }

  /** Update handle.nodes from a settled view. */
  function applyView(vs) {
    const v = vs.find((x) => !x.error);
    if (!v) return;
    const byId = new Map(v.nodes.map((n) => [n.id, n]));
    for (const hn of handle.nodes) {
      const n = byId.get(hn.id);
      hn.alive = alive(hn.port);
      hn.pid = procs.get(hn.port)?.child.pid;
      if (!n) continue;
      hn.role = n.role;
      hn.masterPort = n.masterId ? byId.get(n.masterId)?.port ?? null : null;
    }
  }

  async function pollUntil(ms, what, step) {
    const deadline = Date.now() + ms;
    let last = '';
    for (;;) {
      const r = await step();
      if (r.done) return r.value;
      last = r.why;
      if (Date.now() > deadline) throw new Error(`redis cluster: timed out after ${ms} ms waiting for ${what} (last: ${last})`);
      await sleep(50);
    }
  }

  handle.waitSettled = async (ms = waitMs) => pollUntil(ms, 'the cluster to settle', async () => {
    const vs = await views();
    const why = unsettled(vs);
    if (!why) applyView(vs);
    return { done: !why, why };
  });

  handle.refresh = async () => { applyView(await views()); return handle.nodes; };

  handle.ownerOf = async (key) => {
    const port = handle.nodes.map((n) => n.port).find(alive);
    const slot = await cmd(port, ['CLUSTER', 'KEYSLOT', key]);
    const shards = await cmd(port, ['CLUSTER', 'SHARDS']);
    for (const sh of shards) {
      const s = pairs(sh);
      const ranges = s.slots || [];
      let has = false;
      for (let i = 0; i + 1 < ranges.length; i += 2) if (slot >= ranges[i] && slot <= ranges[i + 1]) has = true;
      if (!has) continue;
      const m = s.nodes.map(pairs).find((n) => n.role === 'master');
      if (m) return { slot, port: Number(m.port), id: m.id };
    }
    throw new Error(`no master owns slot ${slot} (key ${key})`);
  };

  handle.killMaster = async (port) => {
    const n = node(port);
    if (n.role !== 'master') throw new Error(`port ${port} is a ${n.role}, not a master`);
    const p = procs.get(port);
    if (!running(p.child)) throw new Error(`node ${port} is not running`);
    killedAt.set(port, Date.now());
    await killHard(p.child);
    n.alive = false;
  };

  handle.waitFailover = async (oldPort, ms = waitMs) => {
    const old = node(oldPort);
    const t0 = killedAt.get(oldPort) ?? Date.now();
    const candidates = new Set(handle.nodes.filter((n) => n.masterPort === oldPort).map((n) => n.id));
    if (!candidates.size) throw new Error(`node ${oldPort} has no replica to promote`);
    return pollUntil(ms, `a replica of ${oldPort} to be promoted`, async () => {
      const vs = await views();
      const why = unsettled(vs);
      if (why) return { done: false, why };
      const v = vs[0];
      const promoted = v.nodes.find((n) => candidates.has(n.id) && n.role === 'master' && n.slots > 0);
      if (!promoted) return { done: false, why: 'no replica promoted yet' };
      if (alive(oldPort)) {
        const o = v.nodes.find((n) => n.id === old.id);
        if (o.role === 'master' && o.slots > 0) return { done: false, why: 'old master still owns slots' };
      }
      applyView(vs);
      killedAt.delete(oldPort);
      return { done: true, value: { port: promoted.port, ms: Date.now() - t0 } };
    });
  };

  handle.restartNode = async (port) => {
    const n = node(port);
    await killHard(procs.get(port)?.child);
    procs.set(port, await spawnServer(argsFor(port), port));
    n.alive = true;
    n.pid = procs.get(port).child.pid;
    await handle.waitSettled();
    return n;
  };

  handle.nodeRedisCluster = (o) => nodeRedisCluster(handle, o);
  handle._track = (c) => clients.add(c);
  handle.password = password;

  handle.stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled([...clients].map((c) => (c.isOpen ? c.disconnect() : null)));
    await Promise.all([...procs.values()].map((p) => killHard(p.child)));
    for (const n of handle.nodes) n.alive = false;
    removeTempDir(dir);
  };

  try {
    const ports = await pickPorts(total, BUS_OFFSET);
    await Promise.all(ports.map(async (port) => { procs.set(port, await spawnServer(argsFor(port), port)); }));
    await Promise.all(ports.map(async (port) => {
      const id = await cmd(port, ['CLUSTER', 'MYID']);
      handle.nodes.push({ port, pid: procs.get(port).child.pid, role: 'unknown', id, masterPort: null, alive: true });
    }));
    handle.nodes.sort((a, b) => ports.indexOf(a.port) - ports.indexOf(b.port));
    await runCli(['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`),
      '--cluster-replicas', String(perMaster), '--cluster-yes'],
    password ? { REDISCLI_AUTH: password } : {}, waitMs);
    await handle.waitSettled();
    handle.seeds = ports.map((p) => `${HOST}:${p}`).join(',');
    const auth = password ? `:${encodeURIComponent(password)}@` : '';
    handle.url = `redis+cluster://${auth}${ports.slice(0, 3).map((p) => `${HOST}:${p}`).join(',')}/`;
  } catch (e) {
    const logs = [...procs.entries()].map(([p, x]) => `--- ${p}\n${x.log.join('')}`).join('\n');
    await handle.stop();
    e.message += logs ? `\n${logs}` : '';
    throw e;
  }
  return handle;
}

/** A node-redis v4 cluster client for `cluster` (not connected). */
function nodeRedisCluster(cluster, opts = {}) {
  const { createCluster } = require('redis');
  const rootNodes = cluster.nodes.map((n) => ({ url: `redis://${HOST}:${n.port}` }));
  const defaults = { ...(opts.defaults || {}) };
  if (cluster.password && defaults.password === undefined) defaults.password = cluster.password;
  const c = createCluster({ rootNodes, ...opts, defaults });
  c.sgErrors = [];
  c.on('error', (e) => { c.sgErrors.push(e); });
  if (cluster._track) cluster._track(c);
  return c;
}

module.exports = {
  startRedisCluster,
  nodeRedisCluster,
  redisCommand,
  parseInfo,
  parseClusterNodes,
  pairs,
  pickPorts,
  spawnServer,
  killHard,
  running,
  makeTempDir,
  removeTempDir,
  HOST,
  REDIS_CLI,
};
