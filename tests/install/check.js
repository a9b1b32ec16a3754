// check.js - the network side of tests/install/run (Node >= 20, no modules of
// its own; the Socket.IO client is tests/integration's socket.io-client).
//   node check.js port                    print a free TCP port on 127.0.0.1
//   node check.js wait URL                retry GET URL for up to 10 s
//   node check.js same URL FILE           GET URL: 200 and exactly FILE's bytes
//   node check.js has URL TEXT            GET URL: 200 and the body contains TEXT
//   node check.js socket URL              hello + echo with ack (tests/install/embed.c)
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const [cmd, url, arg] = process.argv.slice(2);

function fail(msg) {
  console.error(`check.js ${cmd}: ${msg}`);
  process.exit(1);
}

async function get(u) {
  const r = await fetch(u, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

async function main() {
  switch (cmd) {
    case 'port': {
      const s = net.createServer();
      await new Promise((res) => s.listen(0, '127.0.0.1', res));
      console.log(s.address().port);
      s.close();
      return;
    }
    case 'wait': {
      const end = Date.now() + 10000;
      for (;;) {
        try {
          await get(url);
          return;
        } catch (e) {
          if (Date.now() > end) fail(`${url}: no answer in 10 s (${e.cause?.code || e.message})`);
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    }
    case 'same': {
      const { status, body } = await get(url);
      const want = fs.readFileSync(arg);
      if (status !== 200) fail(`${url}: status ${status}`);
      if (!body.equals(want)) fail(`${url}: ${body.length} bytes differ from ${arg} (${want.length})`);
      console.log(`ok ${url} = ${arg} (${body.length} bytes)`);
      return;
    }
    case 'has': {
      const { status, body } = await get(url);
      if (status !== 200) fail(`${url}: status ${status}`);
      if (!body.toString().includes(arg)) fail(`${url}: no '${arg}' in ${JSON.stringify(body.toString().slice(0, 200))}`);
      console.log(`ok ${url} has ${JSON.stringify(arg)}`);
      return;
    }
    case 'socket': {
      const { io } = require(path.join(process.env.SG_SOURCE_DIR,
        'tests/integration/node_modules/socket.io-client'));
      const s = io(url, { transports: ['polling', 'websocket'], reconnection: false, timeout: 5000 });
      const hello = await new Promise((res, rej) => {
        s.once('hello', res);
        s.once('connect_error', rej);
      });
      if (hello !== 'embedded') fail(`hello: ${JSON.stringify(hello)}`);
      const back = await s.timeout(5000).emitWithAck('echo', 'ping', { n: 1 });
      if (JSON.stringify(back) !== '"ping"') fail(`echo ack: ${JSON.stringify(back)}`);
      console.log(`ok ${url}: hello "${hello}", echo acknowledged over ${s.io.engine.transport.name}`);
      s.close();
      return;
    }
    default:
      fail('unknown command');
  }
}

main().catch((e) => fail(e.stack || String(e)));
