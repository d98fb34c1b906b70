// The HUD's Content-Security-Policy (gateway/pl_csp.h) against a page
// written to trip an HTML scanner, in Debian's chromium through
// playwright-core: the gateway serves a crafted PARLEY_HUD_DIR whose
// index.html has a comment naming <script, <script inside title,
// noscript, textarea and xmp, '>' inside a quoted attribute of a script
// tag, a script whose text holds '</scriptx>', an end tag in upper case
// with a tab, a NUL, CR LF, scripts in the script data escaped states
// ("<!--" then "<script" inside a script), an import map and a module importing through
// it, and a script with src (never hashed). Every inline script must run,
// in order, and no console error (a CSP violation is one) or page error
// may be seen.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { useSystem } from '../e2e/lib/system.mjs';

const CHROMIUM = process.env.PARLEY_CHROMIUM || '/usr/bin/chromium';
const WAIT = 15000;                        // bound on every wait for the page

const INDEX = [
  '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">',
  '<!-- the <script type="importmap"> must come before any module -->',
  '<script type="importmap">{"imports":{"m":"./m.js"}}</script>',
  '<title>a <script> in a title</title>',
  '<script>window.r = ["plain"]</script>',
  '<script data-x="a>b" data-y=\'c>d\'>r.push("gt-in-attr")</script>',
  '<script>r.push("scriptx " + "</scriptx>")</SCRIPT\t>',
  '<noscript><script>r.push("noscript")</script></noscript>',
  '<script>r.push("nul \0")</script>',
  '<script>r.push("crlf")\r\n</script>',
  // the script data escaped states: after "<!--", a "<script" starts a part
  // where "</script>" does not end the script; "-->" ends the escape
  '<script>/*<!--<script>*/ r.push("escaped </script> inside"); /*-->*/</script>',
  '<script>r.push("e2")<!--</script>',
  '<script>r.push("e3")<!--<script></script>--></script>',
  '<script>r.push("e4")<!--<script>--></script>',
  '<script>r.push("e5")<!--><script></script>',
  '<script type="module">import m from "m"; r.push("module " + m)</script>',
  '</head><body><textarea><script>r.push("textarea")</script></textarea>',
  '<xmp><script>r.push("xmp")</script></xmp>',
  '<script src="./last.js"></script></body></html>',
].join('\n');
const WANT = ['plain', 'gt-in-attr', 'scriptx </scriptx>', 'nul \ufffd', 'crlf',
  'escaped </script> inside', 'e2', 'e3', 'e4', 'e5', 'external', 'module 1'];

const hud = fs.mkdtempSync('/tmp/pl-hudcsp-');
fs.writeFileSync(path.join(hud, 'index.html'), INDEX);
fs.writeFileSync(path.join(hud, 'm.js'), 'export default 1;\n');
fs.writeFileSync(path.join(hud, 'last.js'), 'r.push("external");\n');
after(() => fs.rmSync(hud, { recursive: true, force: true }));

const h = useSystem({ workers: 0, gatewayEnv: { PARLEY_HUD_DIR: hud } });
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
}, { timeout: 40000 });

after(async () => {
  await browser?.close();
}, { timeout: 20000 });

h.test('every inline script of a page that trips a naive scanner runs under its CSP, and nothing else is reported', { timeout: 60000 }, async (t, sys) => {
  await sys.waitHealth({ status: 503 });      // no worker: up, not healthy
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  const res = await page.goto(`${sys.url()}/`, { timeout: WAIT });
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-security-policy'], /script-src 'self' 'sha256-/);
  // the module runs after the parse: wait for all that can run, bounded
  await page.waitForFunction((n) => window.r?.length >= n, WANT.length, { timeout: WAIT })
    .catch(() => {});
  const ran = await page.evaluate(() => window.r ?? null);
  assert.deepEqual({ ran, problems }, { ran: WANT, problems: [] });
  await page.close();
});
