'use strict';
// The demo chat page in headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core): two pages pick names, join the lobby, and see each
// other's messages, typing indicator and the room's user count.
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('./lib/server');
const { requireProgram } = require('./lib/util');

const CHROMIUM = process.env.SG_CHROMIUM || '/usr/bin/chromium';
const UI_WAIT_MS = 15000;

describe('chat page in headless Chromium', () => {
  let srv;
  let context;
  let userDataDir;
  before(async () => {
    requireProgram(CHROMIUM, 'chromium'); // SG_CHROMIUM may point elsewhere
    srv = await startServer({ app: 'chat' });
    const { chromium } = require('playwright-core');
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'siogate-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context.setDefaultTimeout(UI_WAIT_MS);
  });
  after(async () => {
    if (context) await context.close().catch(() => {});
    if (srv) await srv.stop();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  async function openChat(name, room) {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(srv.url + '/', { waitUntil: 'load' });
    await page.fill('#name-input', name);
    if (room !== undefined) await page.fill('#room-input', room);
    await page.click('#join-button');
    await page.waitForSelector('#chat-view:not([hidden])');
    return { page, errors };
  }

  const countOf = (page) => page.$eval('#user-count', (el) => el.dataset.count || '');

  test('two users chat: messages, typing indicator, user count', async () => {
    const ada = await openChat('Ada');
    assert.equal(await ada.page.textContent('#room-name'), 'lobby');
    await ada.page.waitForFunction(() => document.querySelector('#user-count').dataset.count === '1');

    const bob = await openChat('Bob', 'lobby');
    // both see two users
    await ada.page.waitForFunction(() => document.querySelector('#user-count').dataset.count === '2');
    await bob.page.waitForFunction(() => document.querySelector('#user-count').dataset.count === '2');
    assert.equal(await countOf(ada.page), '2');
    await ada.page.waitForFunction(() => document.querySelector('#messages').textContent.includes('Bob joined'));

    // typing indicator
    await bob.page.type('#message-input', 'Hello Ada');
    await ada.page.waitForFunction(() => document.querySelector('#typing').textContent.includes('Bob is typing'));
    // sending clears it and delivers the message
    await bob.page.press('#message-input', 'Enter');
    await ada.page.waitForFunction(() => {
      const items = [...document.querySelectorAll('#messages li.theirs')];
      return items.some((li) => li.querySelector('.author').textContent === 'Bob' && li.querySelector('.text').textContent === 'Hello Ada');
    });
    await ada.page.waitForFunction(() => document.querySelector('#typing').textContent === '');
    // the sender shows its own line once
    const bobLines = await bob.page.$$eval('#messages li.mine .text', (els) => els.map((e) => e.textContent));
    assert.deepEqual(bobLines, ['Hello Ada']);

    // and back
    await ada.page.fill('#message-input', 'Hi Bob <b>not bold</b>');
    await ada.page.click('#send-button');
    await bob.page.waitForFunction(() => [...document.querySelectorAll('#messages li.theirs .text')]
      .some((e) => e.textContent === 'Hi Bob <b>not bold</b>'));
    assert.equal(await bob.page.$$eval('#messages b', (els) => els.length), 0, 'text is not interpreted as HTML');

    // the page loaded the client from the server and runs on WebSocket after the upgrade
    assert.equal(await ada.page.evaluate(() => typeof io), 'function');

    // Bob leaves: Ada sees the notice and the count drop to 1
    await bob.page.close();
    await ada.page.waitForFunction(() => document.querySelector('#messages').textContent.includes('Bob left'));
    await ada.page.waitForFunction(() => document.querySelector('#user-count').dataset.count === '1');

    assert.deepEqual(ada.errors, []);
    assert.deepEqual(bob.errors, []);
    await ada.page.close();
  });

  test('rooms are separate', async () => {
    const a = await openChat('Cy', 'red');
    const b = await openChat('Di', 'blue');
    const c = await openChat('Ed', 'red');
    await a.page.waitForFunction(() => document.querySelector('#user-count').dataset.count === '2');
    assert.equal(await b.page.textContent('#room-name'), 'blue');
    await b.page.waitForFunction(() => document.querySelector('#user-count').dataset.count === '1');
    await c.page.fill('#message-input', 'red only');
    await c.page.press('#message-input', 'Enter');
    await a.page.waitForFunction(() => document.querySelector('#messages').textContent.includes('red only'));
    await b.page.fill('#message-input', 'blue says hi');
    await b.page.press('#message-input', 'Enter');
    await c.page.fill('#message-input', 'second red');
    await c.page.press('#message-input', 'Enter');
    await a.page.waitForFunction(() => document.querySelector('#messages').textContent.includes('second red'));
    assert.ok(!(await a.page.textContent('#messages')).includes('blue says hi'));
    assert.ok(!(await b.page.textContent('#messages')).includes('red only'));
    for (const x of [a, b, c]) await x.page.close();
  });
});
