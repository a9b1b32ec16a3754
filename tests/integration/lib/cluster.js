'use strict';
// Helpers for the cluster tests: wait until every node of a cluster holds its
// Redis subscriptions (so a message published now reaches all of them).

const { createClient } = require('redis');

/** Poll Redis until `nodes` connections subscribe to the request channel of
 *  each namespace and at least `nodes` patterns exist (bounded wait). */
async function waitSubscribed(redisUrl, nodes, { key = 'socket.io', nsps = ['/'], ms = 10000 } = {}) {
  const c = createClient({ url: redisUrl });
  c.on('error', () => {});
  await c.connect();
  try {
    const deadline = Date.now() + ms;
    for (;;) {
      const counts = await c.pubSubNumSub(nsps.map((n) => `${key}-request#${n}#`));
      const numpat = await c.pubSubNumPat();
      const ok = Object.values(counts).every((v) => v === nodes) && numpat >= nodes * nsps.length;
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`cluster not subscribed: NUMSUB ${JSON.stringify(counts)}, NUMPAT ${numpat}, want ${nodes}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await c.quit().catch(() => {});
  }
}

/** Poll until pred() is truthy (async allowed) or fail after ms. */
async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

module.exports = { waitSubscribed, until };
