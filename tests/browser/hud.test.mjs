// The HUD (clients/hud/) in a real browser: Debian's chromium driven by
// playwright-core, against a real system started by the e2e harness, the
// page served by the gateway itself at / (PARLEY_HUD_DIR = <build>/hud).
// Two browser contexts, a GM and a player, each signed in through the
// page's #token= link. Every wait is bounded; screenshots of both pages go
// to tests/browser/artifacts/. Any console error or page error (a CSP
// violation shows up as one) fails the run.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { useSystem, repoRoot, emitAck } from '../e2e/lib/system.mjs';

const CHROMIUM = process.env.PARLEY_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(repoRoot, 'tests/browser/artifacts');
const WAIT = 15000;                       // bound on every wait for the page
const tag = Date.now().toString(36);
const HERO = `Hero-${tag}`;
const OGRE = `Ogre-${tag}`;               // hidden: must never reach the player's page
const GOBLIN = `Goblin-${tag}`;           // visible, created after the ogre
const COLS = 16, ROWS = 10;               // clients/hud/board.js

const h = useSystem();                    // the harness's gateway serves <build>/hud

let browser;
const pages = {};                         // gm, player: {page, problems}
let campaignId, sessionId, heroId;
let shotNo = 0;

async function openPage(name) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  // Flags the hidden actor's name if it is ever in this page's DOM, even
  // for a moment (runs in every document of the context, reloads too).
  await context.addInitScript((secret) => {
    window.__leaks = [];
    const check = (node) => {
      const text = node.nodeType === Node.TEXT_NODE ? node.data : node.textContent;
      if (text && text.includes(secret)) window.__leaks.push(text.slice(0, 200));
    };
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'characterData') check(r.target);
        for (const n of r.addedNodes) check(n);
      }
    }).observe(document, { subtree: true, childList: true, characterData: true });
  }, OGRE);
  pages[name] = { page, problems, context };
  return page;
}

async function shot(label) {
  shotNo++;
  for (const [name, { page }] of Object.entries(pages)) {
    await page.screenshot({ path: path.join(ARTIFACTS, `${String(shotNo).padStart(2, '0')}-${label}-${name}.png`) });
  }
}

/** Wait until fn(arg) is truthy in page (bounded); returns its value. */
async function until(page, what, fn, arg) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout: WAIT });
    return await handle.jsonValue();
  } catch (e) {
    const seen = await page.evaluate(() => ({
      conn: document.querySelector('[data-testid=conn-state]')?.textContent,
      error: document.querySelector('[data-testid=error]')?.hidden ? null : document.querySelector('[data-testid=error-text]')?.textContent,
      version: document.querySelector('[data-testid=state-version]')?.textContent,
    })).catch((err) => ({ evaluate: err.message }));
    const problems = Object.values(pages).find((p) => p.page === page)?.problems ?? [];
    throw new Error(`${what}: not within ${WAIT} ms (${e.message.split('\n')[0]}); page: ${JSON.stringify(seen)}; logged: ${JSON.stringify(problems)}`);
  }
}

/** The state version once page has no update of its own pending. */
const settledVersion = (page, what) => until(page, what, () => {
  const v = document.querySelector('[data-testid=state-version]').textContent;
  return document.querySelector('[data-testid=pending]').textContent === '' && v !== '–' && v;
});

const text = (page, testid) => page.getByTestId(testid).first().textContent({ timeout: WAIT });

function signInUrl(sys, token) {
  return `${sys.url()}/#token=${encodeURIComponent(token)}`;
}

async function signIn(page, sys, sub, name) {
  await page.goto(signInUrl(sys, sys.token({ sub, name })));
  await until(page, `${sub} connected`, () => document.querySelector('[data-testid=conn-state]')?.textContent === 'connected');
  assert.match(await text(page, 'user'), new RegExp(`\\(${sub}\\)`));
  assert.ok(!page.url().includes('token='), `the token left the URL: ${page.url()}`);
}

/** The token of actorId in page: {x, y, cx, cy} (its data and its centre's cell on the board). */
function tokenCell(page, actorId) {
  return page.evaluate(([id, cols, rows]) => {
    const el = document.querySelector(`[data-testid=token][data-actor-id="${id}"]`);
    if (!el) return null;
    const b = document.querySelector('[data-testid=board]').getBoundingClientRect();
    const r = el.getBoundingClientRect();
    return {
      x: Number(el.dataset.x), y: Number(el.dataset.y), pending: el.classList.contains('pending'),
      cx: Math.floor(((r.left + r.width / 2 - b.left) / b.width) * cols),
      cy: Math.floor(((r.top + r.height / 2 - b.top) / b.height) * rows),
    };
  }, [actorId, COLS, ROWS]);
}

function tokenAt(page, what, actorId, x, y) {
  return until(page, what, ([id, tx, ty, cols, rows]) => {
    const el = document.querySelector(`[data-testid=token][data-actor-id="${id}"]`);
    if (!el || el.classList.contains('pending') || el.dataset.x !== String(tx) || el.dataset.y !== String(ty)) return false;
    const b = document.querySelector('[data-testid=board]').getBoundingClientRect();
    const r = el.getBoundingClientRect();
    return Math.floor(((r.left + r.width / 2 - b.left) / b.width) * cols) === tx
      && Math.floor(((r.top + r.height / 2 - b.top) / b.height) * rows) === ty;
  }, [actorId, x, y, COLS, ROWS]);
}

async function noErrorShown() {
  for (const [name, { page }] of Object.entries(pages)) {
    const shown = await page.getByTestId('error').isVisible();
    assert.ok(!shown, `${name}'s page shows an error: ${shown ? await text(page, 'error-text') : ''}`);
  }
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // This run's screenshots only (an older run's steps may be numbered otherwise).
  for (const f of fs.readdirSync(ARTIFACTS)) if (f.endsWith('.png')) fs.rmSync(path.join(ARTIFACTS, f));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
  await openPage('gm');
  await openPage('player');
}, { timeout: 40000 });

after(async () => {
  await browser?.close();
}, { timeout: 20000 });

h.test('the gateway serves the page; the GM signs in with a #token link, creates a campaign, adds the player and opens a session; the player joins it', { timeout: 60000 }, async (t, sys) => {
  const gm = pages.gm.page, player = pages.player.page;
  await signIn(gm, sys, 'gm1', 'Gail the GM');

  await gm.getByTestId('campaign-name').fill(`Crimson ${tag}`);
  await gm.getByTestId('campaign-name').press('Enter');
  campaignId = await until(gm, 'the new campaign selected', () => document.querySelector('[data-testid=campaign-select]').value);

  await gm.getByTestId('tab-members').click();
  await gm.getByTestId('member-user').fill('p1');
  await gm.getByTestId('member-submit').click();
  await gm.locator('[data-testid=member][data-user-id=p1]').waitFor({ timeout: WAIT });

  await gm.getByTestId('session-name').fill('Night one');
  await gm.getByTestId('session-name').press('Enter');
  sessionId = await until(gm, 'the new session selected', () => document.querySelector('[data-testid=session-select]').value);
  await until(gm, 'the GM joined at version 0', () => document.querySelector('[data-testid=state-version]').textContent === '0');

  await signIn(player, sys, 'p1', 'Pat the Player');
  await player.locator(`[data-testid=campaign-select] option[value="${campaignId}"]`).waitFor({ state: 'attached', timeout: WAIT });
  await player.getByTestId('campaign-select').selectOption(campaignId);
  await player.locator(`[data-testid=session-select] option[value="${sessionId}"]`).waitFor({ state: 'attached', timeout: WAIT });
  await player.getByTestId('session-select').selectOption(sessionId);
  await until(player, 'the player joined at version 0', () => document.querySelector('[data-testid=state-version]').textContent === '0');
  // Presence: each sees the other in the campaign's room.
  await gm.locator('[data-testid=present][data-user-id=p1]').waitFor({ timeout: WAIT });
  await player.locator('[data-testid=present][data-user-id=gm1]').waitFor({ timeout: WAIT });
  // The player is no GM: no GM controls.
  assert.equal(await player.getByTestId('session-create').isVisible(), false);
  assert.equal(await gm.getByTestId('session-create').isVisible(), true);
  await noErrorShown();
  await shot('joined');
});

h.test('a token dragged by the GM moves on the player\'s screen', { timeout: 60000 }, async () => {
  const gm = pages.gm.page, player = pages.player.page;
  await gm.getByTestId('tab-actors').click();
  await gm.getByTestId('actor-name').fill(HERO);
  await gm.getByTestId('actor-type').fill('pc');
  await gm.getByTestId('actor-add').click();
  const row = gm.locator('[data-testid=actor]', { hasText: HERO });
  await row.waitFor({ timeout: WAIT });
  heroId = await row.getAttribute('data-actor-id');
  await player.locator(`[data-testid=actor][data-actor-id="${heroId}"]`).waitFor({ timeout: WAIT });

  await row.getByTestId('actor-place').click();
  const tokenSel = `[data-testid=token][data-actor-id="${heroId}"]`;
  await gm.locator(tokenSel).waitFor({ timeout: WAIT });
  await player.locator(tokenSel).waitFor({ timeout: WAIT });
  const from = await tokenCell(gm, heroId);
  await tokenAt(player, 'the placed token on the player\'s board', heroId, from.x, from.y);
  const versionBefore = BigInt(await settledVersion(gm, 'the placement acknowledged'));
  assert.ok(versionBefore > 0n, `the placement made a version (${versionBefore})`);
  await shot('placed');

  const to = { x: (from.x + 7) % COLS, y: (from.y + 4) % ROWS };
  const tb = await gm.locator(tokenSel).boundingBox();
  const bb = await gm.getByTestId('board').boundingBox();
  await gm.mouse.move(tb.x + tb.width / 2, tb.y + tb.height / 2);
  await gm.mouse.down();
  await gm.mouse.move(bb.x + ((to.x + 0.5) * bb.width) / COLS, bb.y + ((to.y + 0.5) * bb.height) / ROWS, { steps: 10 });
  await gm.mouse.up();

  await tokenAt(gm, 'the token on the GM\'s board at the drop', heroId, to.x, to.y);
  await tokenAt(player, 'the dragged token on the player\'s board', heroId, to.x, to.y);
  const v = await until(player, 'the player at the GM\'s version', () => {
    const a = document.querySelector('[data-testid=state-version]').textContent;
    return a !== '–' && a;
  });
  assert.ok(BigInt(v) > versionBefore, `the move made a new version (${versionBefore} -> ${v})`);
  await until(gm, 'the GM at the player\'s version', (want) => document.querySelector('[data-testid=state-version]').textContent === want, v);
  await noErrorShown();
  await shot('dragged');
});

h.test('a player drags the token of their own actor, not the GM\'s', { timeout: 60000 }, async () => {
  const gm = pages.gm.page, player = pages.player.page;
  await player.getByTestId('actor-name').fill(`Scout-${tag}`);
  await player.getByTestId('actor-type').fill('pc');
  await player.getByTestId('actor-add').click();
  const row = gm.locator('[data-testid=actor]', { hasText: `Scout-${tag}` });
  await row.waitFor({ timeout: WAIT });
  const scoutId = await row.getAttribute('data-actor-id');
  await row.getByTestId('actor-place').click();
  await player.locator(`[data-testid=token][data-actor-id="${scoutId}"]`).waitFor({ timeout: WAIT });
  await settledVersion(gm, 'the placement acknowledged');
  // Only the player's own token is movable on their page.
  await until(player, 'the own token movable, the GM\'s not', ([mine, theirs]) =>
    document.querySelector(`[data-testid=token][data-actor-id="${mine}"]`)?.classList.contains('movable')
    && !document.querySelector(`[data-testid=token][data-actor-id="${theirs}"]`)?.classList.contains('movable'), [scoutId, heroId]);

  const from = await tokenCell(player, scoutId);
  const to = { x: (from.x + 3) % COLS, y: (from.y + 6) % ROWS };
  const tb = await player.locator(`[data-testid=token][data-actor-id="${scoutId}"]`).boundingBox();
  const bb = await player.getByTestId('board').boundingBox();
  await player.mouse.move(tb.x + tb.width / 2, tb.y + tb.height / 2);
  await player.mouse.down();
  await player.mouse.move(bb.x + ((to.x + 0.5) * bb.width) / COLS, bb.y + ((to.y + 0.5) * bb.height) / ROWS, { steps: 10 });
  await player.mouse.up();
  await tokenAt(player, 'the player\'s token at its drop', scoutId, to.x, to.y);
  await tokenAt(gm, 'the player\'s move on the GM\'s board', scoutId, to.x, to.y);

  // Dragging the GM's token does nothing on the player's page.
  const hero = await tokenCell(player, heroId);
  const hb = await player.locator(`[data-testid=token][data-actor-id="${heroId}"]`).boundingBox();
  await player.mouse.move(hb.x + hb.width / 2, hb.y + hb.height / 2);
  await player.mouse.down();
  await player.mouse.move(bb.x + 0.5 * (bb.width / COLS), bb.y + 0.5 * (bb.height / ROWS), { steps: 5 });
  await player.mouse.up();
  await tokenAt(player, 'the GM\'s token where it was', heroId, hero.x, hero.y);
  await noErrorShown();
  await shot('player-dragged');
});

h.test('an actor edited by the GM changes in the player\'s Actors tab; an item created shows in the Items tab', { timeout: 60000 }, async () => {
  const gm = pages.gm.page, player = pages.player.page;
  const row = gm.locator(`[data-testid=actor][data-actor-id="${heroId}"]`);
  await row.getByTestId('actor-edit-btn').click();
  await gm.getByTestId('edit-name').fill(`${HERO} the Bold`);
  await gm.getByTestId('edit-hp').fill('17');
  await gm.getByTestId('edit-save').click();
  await until(player, 'the edit on the player\'s Actors tab', ([id, name]) => {
    const li = document.querySelector(`[data-testid=actor][data-actor-id="${id}"]`);
    return li?.querySelector('[data-testid=actor-label]')?.textContent === name
      && li.querySelector('[data-testid=actor-hp]')?.textContent === 'HP 17';
  }, [heroId, `${HERO} the Bold`]);
  // The token's label follows the actor's name on the board too.
  await until(player, 'the token renamed', (name) => document.querySelector('[data-testid=token]')?.title.startsWith(`${name} (`), `${HERO} the Bold`);

  // Items are live the same way.
  await gm.getByTestId('tab-items').click();
  await player.getByTestId('tab-items').click();
  await gm.getByTestId('item-name').fill(`Rope-${tag}`);
  await gm.getByTestId('item-add').click();
  await player.locator('[data-testid=item]', { hasText: `Rope-${tag}` }).waitFor({ timeout: WAIT });
  await gm.getByTestId('tab-actors').click();
  await player.getByTestId('tab-actors').click();
  await noErrorShown();
  await shot('edited');
});

h.test('a hidden actor created by the GM never reaches the player; one created after it does', { timeout: 60000 }, async () => {
  const gm = pages.gm.page, player = pages.player.page;
  await gm.getByTestId('actor-name').fill(OGRE);
  await gm.getByTestId('actor-hidden').check();
  await gm.getByTestId('actor-add').click();
  const ogre = gm.locator('[data-testid=actor]', { hasText: OGRE });
  await ogre.waitFor({ timeout: WAIT });
  assert.match(await ogre.textContent(), /hidden/);

  await gm.getByTestId('actor-name').fill(GOBLIN);
  await gm.getByTestId('actor-add').click();
  // Events reach the player in order: once the goblin is there, the ogre would have been.
  await player.locator('[data-testid=actor]', { hasText: GOBLIN }).waitFor({ timeout: WAIT });
  assert.equal(await player.locator('[data-testid=actor]', { hasText: OGRE }).count(), 0);
  // Nor can its token reach the game state, which every member reads.
  assert.equal(await ogre.getByTestId('actor-place').count(), 0, 'a hidden actor can be placed');
  assert.equal(await gm.locator('[data-testid=actor]', { hasText: GOBLIN }).getByTestId('actor-place').count(), 1);
  assert.ok(!(await player.evaluate(() => document.body.textContent)).includes(OGRE), 'the hidden actor is in the player\'s page');
  await noErrorShown();
  await shot('hidden');
});

h.test('a refused roll shows its error; a dice roll and a chat line by the player show on both pages, the roll with the same result', { timeout: 60000 }, async () => {
  const gm = pages.gm.page, player = pages.player.page;
  // A refused roll shows the server's error code and message.
  await player.getByTestId('dice-expr').fill('101d6');
  await player.getByTestId('dice-roll').click();
  await player.getByTestId('error').waitFor({ timeout: WAIT });
  assert.match(await text(player, 'error-text'), /^roll: VALIDATION_ERROR: expression: at \d+: more than 100 dice/);
  await player.getByRole('button', { name: 'Dismiss' }).click();
  await player.getByTestId('error').waitFor({ state: 'hidden', timeout: WAIT });

  await player.getByTestId('dice-expr').fill('3d6+2');
  await player.getByTestId('dice-label').fill('Stealth');
  await player.getByTestId('dice-roll').click();
  const mine = player.locator('[data-testid=roll]', { hasText: 'Stealth' });
  await mine.waitFor({ timeout: WAIT });
  const id = await mine.getAttribute('data-roll-id');
  const total = Number(await mine.getAttribute('data-total'));
  assert.ok(total >= 5 && total <= 20, `3d6+2 = ${total}`);
  const theirs = gm.locator(`[data-testid=roll][data-roll-id="${id}"]`);
  await theirs.waitFor({ timeout: WAIT });
  assert.equal(Number(await theirs.getAttribute('data-total')), total);
  // The same faces, names and total, word for word (times are not shown in rolls).
  assert.equal(await theirs.textContent(), await mine.textContent());

  await player.getByTestId('chat-input').fill(`hello <b>${tag}</b>`);
  await player.getByTestId('chat-input').press('Enter');
  // Shown as text on both pages: the markup stays characters, not elements.
  for (const page of [gm, player]) {
    const line = page.locator('[data-testid=chat]', { hasText: `hello <b>${tag}</b>` });
    await line.waitFor({ timeout: WAIT });
    assert.equal(await line.locator('b').count(), 0);
  }
  await noErrorShown();
  await shot('rolled');
});

h.test('a reload keeps the GM signed in, in the campaign and session, at the same version with the same tokens', { timeout: 60000 }, async () => {
  const gm = pages.gm.page, player = pages.player.page;
  // The world clock too: advance it, then reload.
  await gm.getByTestId('advance-hour').click();
  await until(player, 'the clock advanced on the player\'s page', () => document.querySelector('[data-testid=world-clock]').dataset.seconds === '3600');
  const version = await settledVersion(gm, 'the GM\'s updates all acknowledged');
  const before = await tokenCell(gm, heroId);
  await gm.reload();
  await until(gm, 'the GM back in the session at its version', (want) =>
    document.querySelector('[data-testid=conn-state]')?.textContent === 'connected'
    && document.querySelector('[data-testid=state-version]')?.textContent === want, version);
  assert.match(await text(gm, 'user'), /\(gm1\)/);
  assert.equal(await gm.getByTestId('campaign-select').inputValue(), campaignId);
  assert.equal(await gm.getByTestId('session-select').inputValue(), sessionId);
  await tokenAt(gm, 'the token where it was before the reload', heroId, before.x, before.y);
  await until(gm, 'the clock after the reload', () => document.querySelector('[data-testid=world-clock]').dataset.seconds === '3600');
  await gm.locator(`[data-testid=roll]`, { hasText: 'Stealth' }).waitFor({ timeout: WAIT });
  await gm.locator('[data-testid=actor]', { hasText: OGRE }).waitFor({ timeout: WAIT });
  await until(player, 'the player at the same version', (want) => document.querySelector('[data-testid=state-version]').textContent === want, version);
  await noErrorShown();
  await shot('reloaded');
});

h.test('items: the GM\'s edit and delete reach the player\'s Items tab; the player gets Edit on their own item only', { timeout: 60000 }, async () => {
  const gm = pages.gm.page, player = pages.player.page;
  await gm.getByTestId('tab-items').click();
  await player.getByTestId('tab-items').click();
  const rope = gm.locator('[data-testid=item]', { hasText: `Rope-${tag}` });
  const ropeId = await rope.getAttribute('data-item-id', { timeout: WAIT });
  const onPlayer = player.locator(`[data-testid=item][data-item-id="${ropeId}"]`);
  await onPlayer.waitFor({ timeout: WAIT });

  // The player may not edit the GM's item: no Edit on it; on their own, one.
  await player.getByTestId('item-name').fill(`Lantern-${tag}`);
  await player.getByTestId('item-add').click();
  const lantern = player.locator('[data-testid=item]', { hasText: `Lantern-${tag}` });
  await lantern.waitFor({ timeout: WAIT });
  assert.equal(await lantern.getByTestId('item-edit-btn').count(), 1, 'no Edit on the player\'s own item');
  assert.equal(await onPlayer.getByTestId('item-edit-btn').count(), 0, 'Edit offered on the GM\'s item');

  await rope.getByTestId('item-edit-btn').click();
  await gm.getByTestId('item-edit-name').fill(`Silk rope-${tag}`);
  await gm.getByTestId('item-edit-type').fill('tool');
  await gm.getByTestId('item-edit-save').click();
  await until(player, 'the item edit on the player\'s Items tab', ([id, name]) => {
    const li = document.querySelector(`[data-testid=item][data-item-id="${id}"]`);
    return li?.querySelector('[data-testid=item-label]')?.textContent === name
      && li.querySelector('[data-testid=item-type]')?.textContent === 'tool';
  }, [ropeId, `Silk rope-${tag}`]);
  await gm.getByTestId('item-edit').waitFor({ state: 'hidden', timeout: WAIT });
  await shot('item-edited');

  // Delete asks first, inside the page: the first click deletes nothing.
  await gm.locator(`[data-testid=item][data-item-id="${ropeId}"]`).getByTestId('item-edit-btn').click();
  await gm.getByTestId('item-edit-delete').click();
  await gm.getByTestId('item-edit-delete-confirm').waitFor({ timeout: WAIT });
  assert.equal(await gm.locator(`[data-testid=item][data-item-id="${ropeId}"]`).count(), 1, 'deleted before the confirmation');
  await gm.getByTestId('item-edit-delete-yes').click();
  await onPlayer.waitFor({ state: 'detached', timeout: WAIT });
  await gm.locator(`[data-testid=item][data-item-id="${ropeId}"]`).waitFor({ state: 'detached', timeout: WAIT });
  await gm.getByTestId('item-edit').waitFor({ state: 'hidden', timeout: WAIT });
  await lantern.waitFor({ timeout: WAIT });
  await gm.getByTestId('tab-actors').click();
  await player.getByTestId('tab-actors').click();
  await noErrorShown();
  await shot('item-deleted');
});

h.test('an actor the GM deletes leaves the player\'s page with its token, and the state; a player\'s deleted actor\'s token is drawn nowhere', { timeout: 60000 }, async (t, sys) => {
  const gm = pages.gm.page, player = pages.player.page;
  const scout = player.locator('[data-testid=actor]', { hasText: `Scout-${tag}` });
  const scoutId = await scout.getAttribute('data-actor-id', { timeout: WAIT });
  const heroToken = `[data-testid=token][data-actor-id="${heroId}"]`;
  await player.locator(heroToken).waitFor({ timeout: WAIT });
  const before = BigInt(await settledVersion(gm, 'the GM settled before the delete'));

  await gm.locator(`[data-testid=actor][data-actor-id="${heroId}"]`).getByTestId('actor-edit-btn').click();
  await gm.getByTestId('edit-delete').click();
  await gm.getByTestId('edit-delete-yes').click();
  await player.locator(`[data-testid=actor][data-actor-id="${heroId}"]`).waitFor({ state: 'detached', timeout: WAIT });
  await player.locator(heroToken).waitFor({ state: 'detached', timeout: WAIT });
  await gm.locator(heroToken).waitFor({ state: 'detached', timeout: WAIT });
  // The GM's page also took the token out of the game state: a new version
  // whose state, on both pages, has no token of the deleted actor.
  const after = await settledVersion(gm, 'the token removal acknowledged');
  assert.ok(BigInt(after) > before, `the delete made a new version (${before} -> ${after})`);
  await until(player, 'the player at the GM\'s version', (want) => document.querySelector('[data-testid=state-version]').textContent === want, after);
  for (const page of [gm, player]) {
    const left = await page.evaluate(() => [...document.querySelectorAll('[data-testid=token]')].map((t) => t.dataset.actorId));
    assert.ok(!left.includes(heroId), `a token of the deleted actor is still drawn: ${left}`);
  }
  // The server's state (read by the player, with a socket of their own): the
  // actor's token is gone from it, the player's own token still there.
  const full = await emitAck(await sys.connectOk(sys.token({ sub: 'p1', name: 'Pat' })), 'gameState:requestFull', sessionId);
  assert.equal(full?.success, true, JSON.stringify(full));
  const held = (full.data.gameState.currentEncounter?.tokens ?? []).map((t) => t.actorId);
  assert.ok(!held.includes(heroId) && held.includes(scoutId), `the state's tokens: ${held}`);
  await player.locator(`[data-testid=token][data-actor-id="${scoutId}"]`).waitFor({ timeout: WAIT });
  await shot('actor-deleted');

  // The player deletes their own actor: they may not update the state, so its
  // token stays there; no page draws it (nor crashes on it).
  await scout.getByTestId('actor-edit-btn').click();
  await player.getByTestId('edit-delete').click();
  await player.getByTestId('edit-delete-yes').click();
  await gm.locator(`[data-testid=actor][data-actor-id="${scoutId}"]`).waitFor({ state: 'detached', timeout: WAIT });
  for (const page of [player, gm]) await page.locator(`[data-testid=token][data-actor-id="${scoutId}"]`).waitFor({ state: 'detached', timeout: WAIT });
  await noErrorShown();
  await shot('own-actor-deleted');
});

h.test('at the end: the hidden actor was never in the player\'s DOM, the GM has it, and no page logged an error', async () => {
  const gm = pages.gm.page, player = pages.player.page;
  const leaks = await player.evaluate(() => window.__leaks);
  assert.deepEqual(leaks, [], 'the hidden actor\'s name appeared in the player\'s DOM');
  assert.ok(!(await player.content()).includes(OGRE));
  assert.ok((await gm.evaluate(() => document.body.textContent)).includes(OGRE), 'the GM sees the hidden actor');
  for (const [name, { problems }] of Object.entries(pages)) assert.deepEqual(problems, [], `${name}'s page logged errors`);
  await shot('end');
});
