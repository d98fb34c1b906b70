// The HUD's static files (issue 14, section 3; gateway/pl_hud.h): the
// gateway reads PARLEY_HUD_DIR once at start and serves it at /. Against a
// crafted directory: / is index.html with a CSP whose script hashes are the
// inline scripts' (computed here with node:crypto); content types; ETag
// and If-None-Match (304, no body, read off the raw socket); HEAD; 405 and
// OPTIONS; traversal, %-encoded, NUL, over-long, symlinked, dotfile,
// unknown-extension and over-size paths never answer a file's bytes; the
// other routes (/healthz, REST, Engine.IO) still win. PARLEY_HUD_DIR empty
// or missing: / is 404 and the gateway runs. And the real build's hud/
// (the default harness) serves socket.io-client's bundle and
// @parley/client byte for byte.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe } from 'node:test';
import { useSystem, emitAck, repoRoot, buildDir } from './lib/system.mjs';
import { rest } from './lib/campaign.mjs';

const bounded = (ms = 5000) => ({ signal: AbortSignal.timeout(ms) });

// ---- the crafted directory ------------------------------------------------
const IMPORTMAP = '{"imports": {"socket.io-client": "./vendor/socket.io.esm.min.js"}}';
const INLINE = "import './app.js';\nconsole.log('hud up');\n";
const INDEX = `<!doctype html>
<html><head><meta charset="utf-8"><title>HUD</title>
<script type="importmap">${IMPORTMAP}</script>
<script type="module">${INLINE}</script>
<script type="module" src="./app.js"></script>
<link rel="stylesheet" href="style.css">
</head><body>hud</body></html>
`;
const SECRET = 'SECRET-MARKER-not-to-be-served';
const hud = fs.mkdtempSync('/tmp/pl-hudfix-');
const put = (rel, data) => {
  fs.mkdirSync(path.dirname(path.join(hud, rel)), { recursive: true });
  fs.writeFileSync(path.join(hud, rel), data);
};
put('index.html', INDEX);
put('app.js', 'export const hud = 1;\n');
put('style.css', 'body { color: black; }\n');
put('sub/deep.json', '{"deep": true}\n');
const SVG = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n';
put('icon.svg', SVG);
put('notes.exe', `MZ ${SECRET}`);                        // an unknown extension
put('.secret.js', `// ${SECRET}`);                       // a dotfile
put('sub/.hidden/x.js', `// ${SECRET}`);                 // under a dot directory
put('a b.js', `// ${SECRET}`);                           // a name not of [A-Za-z0-9._-]
put('big.js', Buffer.alloc(4 * 1024 * 1024 + 1, 0x20));  // over PL_HUD_FILE_MAX (4 MB)
fs.symlinkSync('/etc/passwd', path.join(hud, 'passwd.txt'));
fs.symlinkSync(path.join(hud, 'sub'), path.join(hud, 'linkdir'));
after(() => fs.rmSync(hud, { recursive: true, force: true }));

const sha = (text) => `'sha256-${crypto.createHash('sha256').update(text).digest('base64')}'`;

/**
 * One raw request (the target sent as it is, never normalised) on its own
 * connection, Connection: close (a header whose value is an array is sent
 * as one line per element): {status, head (lower-cased names), body
 * (a Buffer: exactly the bytes after the head)}.
 */
function raw(sys, target, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(new URL(sys.url()).port), '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => sock.destroy(new Error(`no answer to ${method} ${target.slice(0, 60)}`)), 5000);
    sock.on('connect', () => {
      const lines = Object.entries({ host: 'localhost', connection: 'close', ...headers })
        .flatMap(([k, v]) => [v].flat().map((x) => `${k}: ${x}\r\n`)).join('');
      sock.write(`${method} ${target} HTTP/1.1\r\n${lines}\r\n`);
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) { reject(new Error(`no complete head: ${JSON.stringify(all.toString().slice(0, 200))}`)); return; }
      const [statusLine, ...rest] = all.subarray(0, end).toString('latin1').split('\r\n');
      const head = {};
      for (const l of rest) {
        const i = l.indexOf(':');
        head[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), head, body: all.subarray(end + 4) });
    });
  });
}

const gatewayLog = (sys) => fs.readFileSync(sys.procs.get('gateway').logPath, 'utf8');

describe('a crafted PARLEY_HUD_DIR', () => {
  const h = useSystem({ workers: 1, gatewayEnv: { PARLEY_HUD_DIR: hud } });

  h.test('GET / is index.html, with a CSP allowing exactly its inline scripts\' hashes', async (t, sys) => {
    const r = await fetch(`${sys.url()}/`, bounded());
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await r.text(), INDEX);
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.match(r.headers.get('etag'), /^"[0-9a-f]{32}"$/);
    const csp = Object.fromEntries(r.headers.get('content-security-policy').split(';')
      .map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(' ')]));
    assert.deepEqual(csp, {
      'default-src': "'self'",
      'script-src': `'self' ${sha(IMPORTMAP)} ${sha(INLINE)}`,
      'connect-src': "'self'",
      'img-src': "'self' data:",
      'style-src': "'self'",
      'base-uri': "'none'",
      'frame-ancestors': "'none'",
      'form-action': "'self'",
    });
    const same = await fetch(`${sys.url()}/index.html?x=1`, bounded());
    assert.equal(same.status, 200);
    assert.equal(same.headers.get('etag'), r.headers.get('etag'));
    assert.equal(await same.text(), INDEX);
  });

  h.test('content types; no CSP but the same safety headers on other files; the query is ignored', async (t, sys) => {
    for (const [p, type, body] of [
      ['/app.js?v=3', 'text/javascript; charset=utf-8', 'export const hud = 1;\n'],
      ['/style.css', 'text/css; charset=utf-8', 'body { color: black; }\n'],
      ['/sub/deep.json', 'application/json', '{"deep": true}\n'],
      ['/icon.svg', 'image/svg+xml', SVG],
      ['/linkdir/deep.json', null, null],             // a symlinked directory is not followed
    ]) {
      const r = await fetch(`${sys.url()}${p}`, bounded());
      const text = await r.text();
      if (type === null) { assert.equal(r.status, 404, p); continue; }
      assert.equal(r.status, 200, p);
      assert.equal(r.headers.get('content-type'), type, p);
      assert.equal(text, body, p);
      // not a page: opened directly (an .svg), it runs no script
      assert.equal(r.headers.get('content-security-policy'),
        "default-src 'none'; style-src 'self'; img-src 'self' data:", p);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
    }
  });

  h.test('If-None-Match with the ETag (on any of its lines) is 304 with no body; another tag or W/* is 200, * is 304; HEAD has the length and no body', async (t, sys) => {
    const first = await raw(sys, '/app.js');
    assert.equal(first.status, 200);
    const etag = first.head.etag;
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    const again = await raw(sys, '/app.js', { headers: { 'if-none-match': `"nope", W/${etag}` } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0, 'a 304 has no body');
    assert.equal(again.head['content-length'], undefined);
    assert.equal(again.head['content-type'], undefined, 'a 304 has no Content-Type');
    assert.equal(again.head.etag, etag);
    // a list field: every If-None-Match line counts, not only the first
    const lines = await raw(sys, '/app.js', { headers: { 'if-none-match': ['"zzz"', etag] } });
    assert.equal(lines.status, 304);
    // "*" is any tag only as the whole value; W/* is no tag
    assert.equal((await raw(sys, '/app.js', { headers: { 'if-none-match': '*' } })).status, 304);
    assert.equal((await raw(sys, '/app.js', { headers: { 'if-none-match': 'W/*' } })).status, 200);
    const other = await raw(sys, '/app.js', { headers: { 'if-none-match': '"0123"' } });
    assert.equal(other.status, 200);
    assert.equal(other.body.toString(), 'export const hud = 1;\n');
    // index.html's tag is not app.js's
    const index = await raw(sys, '/', { headers: { 'if-none-match': etag } });
    assert.equal(index.status, 200);
    const head = await raw(sys, '/', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.head['content-length']), Buffer.byteLength(INDEX));
    assert.equal(head.body.length, 0);
  });

  h.test('POST / is 405 with Allow; OPTIONS answers Allow', async (t, sys) => {
    const post = await raw(sys, '/', { method: 'POST', headers: { 'content-length': '0' } });
    assert.equal(post.status, 405);
    assert.equal(post.head.allow, 'GET, HEAD');
    assert.equal(JSON.parse(post.body).error.code, 'VALIDATION_ERROR');
    const opt = await raw(sys, '/app.js', { method: 'OPTIONS' });
    assert.equal(opt.status, 204);
    assert.equal(opt.head.allow, 'GET, HEAD');
    const none = await raw(sys, '/nothing.js', { method: 'OPTIONS' });
    assert.equal(none.status, 404);
  });

  h.test('traversal, encoded, NUL, over-long, symlinked, dot, badly named, unknown or over-size: never a file', async (t, sys) => {
    const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0];
    for (const target of [
      '/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/sub/../app.js',
      '/./app.js', '//app.js', '/a%00b', '/app.js%00.html', `/${'a'.repeat(5000)}`, '/passwd.txt',
      '/.secret.js', '/%2esecret.js', '/sub/.hidden/x.js', '/a%20b.js', '/a b.js', '/notes.exe',
      '/big.js', '/sub', '/sub/', '/index.html/', '/INDEX.HTML', 'app.js', '*',
    ]) {
      const r = await raw(sys, target);
      assert.ok([400, 404, 414].includes(r.status), `${target.slice(0, 40)}: ${r.status}`);
      const text = r.body.toString('latin1');
      assert.ok(!text.includes(SECRET), `${target.slice(0, 40)} served a skipped file`);
      assert.ok(!passwd || !text.includes(passwd), `${target.slice(0, 40)} served /etc/passwd`);
      assert.ok(!text.includes('export const hud'), `${target.slice(0, 40)} served app.js`);
    }
    const log = gatewayLog(sys);
    assert.match(log, /hud: \/big\.js skipped: over 4 MB/);
    assert.match(log, /hud: \/notes\.exe skipped: its extension is not/);
    assert.match(log, /hud: \/passwd\.txt skipped: not a regular file/);
    assert.match(log, /hud: \/linkdir skipped: not a regular file/);
    assert.match(log, /hud: 5 files, \d+ bytes from /);          // index, app, style, sub/deep, icon.svg
  });

  h.test('/healthz, REST and Engine.IO still win', async (t, sys) => {
    const health = await fetch(`${sys.url()}/healthz`, bounded());
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, 'ok');
    const token = sys.token({ sub: 'hud-user', name: 'Hud' });
    const list = await rest(sys, token, 'GET', '/campaigns');
    assert.equal(list.status, 200, list.text);
    const s = sys.connect(token);
    await new Promise((resolve, reject) => { s.on('connect', resolve); s.on('connect_error', reject); });
    const ack = await emitAck(s, 'campaign:list', {});
    assert.equal(ack.success, true, JSON.stringify(ack));
    s.close();
  });
});

describe('the build\'s hud/ (the default harness)', () => {
  const h = useSystem({ workers: 0 });

  h.test('serves socket.io-client\'s bundle and @parley/client, byte for byte', async (t, sys) => {
    await sys.waitHealth({ status: 503 });      // no worker here: up, not healthy
    const dist = path.join(repoRoot, 'clients/js/node_modules/socket.io-client/dist');
    for (const [p, src] of [
      ['/vendor/socket.io.esm.min.js', path.join(dist, 'socket.io.esm.min.js')],
      ['/vendor/socket.io.esm.min.js.map', path.join(dist, 'socket.io.esm.min.js.map')],
      ['/lib/parley/index.js', path.join(repoRoot, 'clients/js/index.js')],
      ['/lib/parley/session.js', path.join(repoRoot, 'clients/js/session.js')],
      ['/lib/parley/store.js', path.join(repoRoot, 'clients/js/store.js')],
    ]) {
      const r = await fetch(`${sys.url()}${p}`, bounded());
      assert.equal(r.status, 200, p);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(fs.readFileSync(src)), `${p} differs from ${src}`);
    }
    // the page itself, when the sources have it (clients/hud/index.html)
    const page = path.join(repoRoot, 'clients/hud/index.html');
    const r = await fetch(`${sys.url()}/`, bounded());
    assert.equal(r.status, fs.existsSync(page) ? 200 : 404);
    if (r.status === 200) assert.equal(await r.text(), fs.readFileSync(page, 'utf8'));
    else await r.text();
    assert.ok(fs.existsSync(path.join(buildDir, 'hud')));
  });
});

describe('PARLEY_HUD_DIR empty: no HUD', () => {
  const h = useSystem({ workers: 0, gatewayEnv: { PARLEY_HUD_DIR: '' } });

  h.test('/ and the library are 404, the gateway is up', async (t, sys) => {
    await sys.waitHealth({ status: 503 });      // no worker here: up, not healthy
    for (const p of ['/', '/index.html', '/lib/parley/index.js']) {
      const r = await raw(sys, p);
      assert.equal(r.status, 404, p);
      assert.equal(JSON.parse(r.body).error.code, 'NOT_FOUND');
    }
    assert.match(gatewayLog(sys), /PARLEY_HUD_DIR= \(empty: off\)/);
  });
});

describe('PARLEY_HUD_DIR missing: the gateway runs without it', () => {
  const missing = path.join(hud, 'no-such-dir');
  const h = useSystem({ workers: 0, gatewayEnv: { PARLEY_HUD_DIR: missing } });

  h.test('/ is 404, with a warning in the log', async (t, sys) => {
    await sys.waitHealth({ status: 503 });      // no worker here: up, not healthy
    const r = await raw(sys, '/');
    assert.equal(r.status, 404);
    assert.ok(gatewayLog(sys).includes(`PARLEY_HUD_DIR=${missing}: No such file or directory`));
  });
});
