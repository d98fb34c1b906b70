// CORS (PARLEY_CORS_ORIGINS) on the gateway's plain HTTP side: HTTP
// long-polling on PARLEY_PATH, the REST API and /healthz. Raw fetch with
// Origin headers (node's fetch lets a test set Origin and enforces no CORS,
// so the assertions are on the headers a browser would check): a listed
// origin is echoed with Vary: Origin, any other gets no CORS header but is
// served as ever, "*" (the default) answers *, "none" sends none; OPTIONS preflights for
// polling and REST; error answers (400, 404, 401, 413) carry the header; a
// socket.io-client (node) with extraHeaders Origin connects by polling
// through a recording proxy, which sees the header on every answer. Junk
// values make the gateway refuse to start.
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { describe } from 'node:test';
import { useSystem, emitAck, expectOk, BIN } from './lib/system.mjs';

const ALLOWED = 'http://localhost:5173';
const ALLOWED2 = 'https://app.example.com';
const bounded = (ms = 5000) => ({ signal: AbortSignal.timeout(ms) });
const polling = (sys) => `${sys.url()}${sys.eioPath}?EIO=4&transport=polling`;

/** fetch with an Origin (undefined: none); resolves {status, headers, body}. */
async function req(url, { origin, method = 'GET', headers = {}, body, ...rest } = {}) {
  const h = { ...headers };
  if (origin !== undefined) h.origin = origin;
  const res = await fetch(url, { method, headers: h, body, ...bounded(), ...rest });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** The access-control-* headers of an answer, as an object. */
const acHeaders = (headers) =>
  Object.fromEntries([...headers].filter(([k]) => k.startsWith('access-control-')));

const varyOrigin = (headers) => /(^|,\s*)origin(\s*,|$)/i.test(headers.get('vary') ?? '');

/** An answer a browser at `origin` may read (a listed origin). */
function assertAllowed(r, origin, what) {
  assert.equal(r.headers.get('access-control-allow-origin'), origin, `${what}: Allow-Origin`);
  assert.ok(varyOrigin(r.headers), `${what}: Vary: Origin`);
  assert.equal(r.headers.get('access-control-allow-credentials'), null, `${what}: never credentials`);
}

/** A handshake: the sid of a new polling session (asserts the open packet). */
async function handshake(sys, origin) {
  const r = await req(polling(sys), { origin });
  assert.equal(r.status, 200);
  assert.match(r.body, /^0\{/);
  return { sid: JSON.parse(r.body.slice(1)).sid, r };
}

describe('a list of origins', () => {
  const h = useSystem({
    workers: 1,
    env: { PARLEY_CORS_ORIGINS: ` ${ALLOWED}, ${ALLOWED2} `, PARLEY_MAX_PAYLOAD: '100000' },
  });

  h.test('a listed origin is echoed on polling (handshake, POST, held GET), /healthz and REST answers', async (t, sys) => {
    for (const origin of [ALLOWED, ALLOWED2]) {
      const { sid, r } = await handshake(sys, origin);
      assertAllowed(r, origin, 'handshake');
      assert.equal(r.headers.get('access-control-expose-headers'), 'Retry-After');
      const url = `${polling(sys)}&sid=${encodeURIComponent(sid)}`;
      const p = await req(url, {
        origin, method: 'POST', body: `40{"token":"${sys.token({ sub: 'cors-a' })}"}`,
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
      });
      assert.deepEqual([p.status, p.body], [200, 'ok']);
      assertAllowed(p, origin, 'POST');
      const g = await req(url, { origin });
      assert.equal(g.status, 200);
      assert.match(g.body, /^40\{"sid":"/);
      assertAllowed(g, origin, 'GET');
      const hz = await req(`${sys.url()}/healthz`, { origin });
      assert.equal(hz.status, 200);
      assertAllowed(hz, origin, '/healthz');
      const rest = await req(`${sys.url()}/api/v1/actors`, {
        origin, headers: { authorization: `Bearer ${sys.token({ sub: 'cors-a' })}` },
      });
      assert.equal(rest.status, 200);
      assertAllowed(rest, origin, 'REST');
    }
  });

  h.test('another origin (or none) gets no CORS header and is served as ever', async (t, sys) => {
    for (const origin of ['http://localhost:5174', 'https://localhost:5173', `${ALLOWED}/`,
      'https://app.example.com.evil.example', 'null', '*', undefined]) {
      const what = `Origin ${JSON.stringify(origin)}`;
      const { r } = await handshake(sys, origin);
      assert.deepEqual(acHeaders(r.headers), {}, what);
      assert.ok(varyOrigin(r.headers), `${what}: Vary: Origin all the same`);
      const rest = await req(`${sys.url()}/api/v1/actors`, {
        origin, headers: { authorization: `Bearer ${sys.token({ sub: 'cors-b' })}` },
      });
      assert.equal(rest.status, 200, what);
      assert.deepEqual(acHeaders(rest.headers), {}, what);
      const pre = await req(polling(sys), {
        origin, method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' },
      });
      assert.equal(pre.status, 204, what);
      assert.equal(pre.headers.get('allow'), 'GET, POST', what);
      assert.deepEqual(acHeaders(pre.headers), {}, what);
    }
  });

  h.test('origins compare case-insensitively and the request\'s is echoed', async (t, sys) => {
    const { r } = await handshake(sys, 'HTTPS://App.Example.COM');
    assert.equal(r.headers.get('access-control-allow-origin'), 'HTTPS://App.Example.COM');
  });

  h.test('a polling preflight: 204, the path\'s methods, the requested headers echoed, Max-Age', async (t, sys) => {
    const pre = await req(polling(sys), {
      origin: ALLOWED, method: 'OPTIONS',
      headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-app-build' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.body, '');
    assertAllowed(pre, ALLOWED, 'preflight');
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'content-type,x-app-build');
    assert.equal(pre.headers.get('access-control-max-age'), '600');
    assert.equal(pre.headers.get('allow'), 'GET, POST');
    // without the last slash, with a sid (a session's POST), and no query at all
    for (const url of [`${sys.url()}${sys.eioPath.slice(0, -1)}?EIO=4&transport=polling`,
      `${polling(sys)}&sid=whatever`, `${sys.url()}${sys.eioPath}`]) {
      const p = await req(url, { origin: ALLOWED, method: 'OPTIONS', headers: { 'access-control-request-method': 'GET' } });
      assert.equal(p.status, 204, url);
      assert.equal(p.headers.get('access-control-allow-methods'), 'GET, POST', url);
    }
  });

  h.test('a REST preflight needs no token: 204 with the route\'s methods; junk request headers get the fixed list', async (t, sys) => {
    const pre = await req(`${sys.url()}/api/v1/actors/a1`, {
      origin: ALLOWED2, method: 'OPTIONS',
      headers: { 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(pre.status, 204);
    assertAllowed(pre, ALLOWED2, 'REST preflight');
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, PATCH, DELETE');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'authorization, content-type');
    assert.equal(pre.headers.get('allow'), 'GET, PATCH, DELETE');
    const list = await req(`${sys.url()}/api/v1/actors`, {
      origin: ALLOWED2, method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' },
    });
    assert.equal(list.status, 204);
    assert.equal(list.headers.get('access-control-allow-methods'), 'GET, POST');
    assert.equal(list.headers.get('access-control-allow-headers'), 'Authorization, Content-Type');
    for (const bad of ['x-a;b', 'x-a, "b"', `x-${'a'.repeat(600)}`]) {
      const p = await req(`${sys.url()}/api/v1/actors`, {
        origin: ALLOWED2, method: 'OPTIONS',
        headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': bad },
      });
      assert.equal(p.status, 204);
      assert.equal(p.headers.get('access-control-allow-headers'), 'Authorization, Content-Type', bad);
    }
    // a path that serves nothing is 404 for OPTIONS too (readable by the page)
    const none = await req(`${sys.url()}/api/v1/nothing-here`, { origin: ALLOWED2, method: 'OPTIONS' });
    assert.equal(none.status, 404);
    assertAllowed(none, ALLOWED2, 'REST 404');
    // /healthz: a plain OPTIONS
    const hz = await req(`${sys.url()}/healthz`, { method: 'OPTIONS' });
    assert.equal(hz.status, 204);
    assert.equal(hz.headers.get('allow'), 'GET, HEAD');
    assert.deepEqual(acHeaders(hz.headers), {});
  });

  h.test('error answers carry the header: polling 400 and 413 (sized and chunked), REST 401, 404 and 405', async (t, sys) => {
    const bad = await req(`${sys.url()}${sys.eioPath}?EIO=3&transport=polling`, { origin: ALLOWED });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /Unsupported protocol version/);
    assertAllowed(bad, ALLOWED, 'polling 400');
    const unknown = await req(`${polling(sys)}&sid=nope`, { origin: ALLOWED });
    assert.equal(unknown.status, 400);
    assertAllowed(unknown, ALLOWED, 'unknown sid 400');
    const { sid } = await handshake(sys, ALLOWED);
    const url = `${polling(sys)}&sid=${encodeURIComponent(sid)}`;
    const big = `42["chat:send",{"text":"${'x'.repeat(100001)}"}]`;
    const sized = await req(url, { origin: ALLOWED, method: 'POST', body: big, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    assert.equal(sized.status, 413);
    assertAllowed(sized, ALLOWED, 'polling 413 (Content-Length)');
    // chunked: no length at the head, refused while the body is read
    const stream = new ReadableStream({
      start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); },
    });
    const chunked = await req(url, {
      origin: ALLOWED, method: 'POST', body: stream, duplex: 'half',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
    });
    assert.equal(chunked.status, 413);
    assertAllowed(chunked, ALLOWED, 'polling 413 (chunked)');
    const noauth = await req(`${sys.url()}/api/v1/actors`, { origin: ALLOWED });
    assert.equal(noauth.status, 401);
    assertAllowed(noauth, ALLOWED, 'REST 401');
    const auth = { authorization: `Bearer ${sys.token({ sub: 'cors-e' })}` };
    const missing = await req(`${sys.url()}/api/v1/actors/no-such-actor`, { origin: ALLOWED, headers: auth });
    assert.equal(missing.status, 404);
    assertAllowed(missing, ALLOWED, 'REST 404');
    const wrong = await req(`${sys.url()}/api/v1/actors`, { origin: ALLOWED, method: 'PUT', headers: auth, body: '{}' });
    assert.equal(wrong.status, 405);
    assertAllowed(wrong, ALLOWED, 'REST 405');
  });

  h.test('socket.io-client (node) with extraHeaders Origin connects by polling; every answer it gets allows its origin', async (t, sys) => {
    // a recording proxy in front of the gateway: it sees what the client
    // sends and what the gateway answers (node enforces no CORS itself)
    const seen = [];
    const target = new URL(sys.url());
    const proxy = http.createServer((inReq, inRes) => {
      const out = http.request({
        host: target.hostname, port: target.port, method: inReq.method, path: inReq.url, headers: inReq.headers,
      }, (res) => {
        seen.push({ method: inReq.method, url: inReq.url, origin: inReq.headers.origin, status: res.statusCode, headers: res.headers });
        inRes.writeHead(res.statusCode, res.headers);
        res.pipe(inRes);
      });
      out.on('error', () => inRes.destroy());
      inReq.pipe(out);
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => { proxy.closeAllConnections(); proxy.close(resolve); }));
    const { io } = await import('socket.io-client');
    const s = io(`http://127.0.0.1:${proxy.address().port}`, {
      path: sys.eioPath, transports: ['polling'], reconnection: false, forceNew: true, timeout: 5000,
      auth: { token: sys.token({ sub: 'cors-io' }) }, extraHeaders: { Origin: ALLOWED2 },
    });
    t.after(() => s.disconnect());
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connect within 5000 ms')), 5000);
      s.once('connect', () => { clearTimeout(timer); resolve(); });
      s.once('connect_error', (e) => { clearTimeout(timer); reject(e); });
    });
    assert.equal(s.io.engine.transport.name, 'polling');
    assert.deepEqual(expectOk(await emitAck(s, 'actor:list')), []);
    const methods = new Set(seen.map((x) => x.method));
    assert.ok(methods.has('GET') && methods.has('POST'), `GETs and POSTs: ${[...methods]}`);
    for (const x of seen) {
      assert.equal(x.origin, ALLOWED2, `${x.method} ${x.url}: the client sent its Origin`);
      assert.equal(x.status, 200, `${x.method} ${x.url}`);
      assert.equal(x.headers['access-control-allow-origin'], ALLOWED2, `${x.method} ${x.url}`);
      assert.match(x.headers.vary ?? '', /origin/i, `${x.method} ${x.url}`);
      assert.equal(x.headers['access-control-allow-credentials'], undefined);
    }
  });

  // The gateway checks the setting before it touches the network.
  const junk = [
    ['*, https://a.example', /"\*" must stand alone/],
    ['https://a.example,,https://b.example', /an empty entry/],
    ['https://a.example/', /no origin: each must be scheme:\/\/host\[:port\]/],
    ['https://a.example/app', /no origin/],
    ['a.example', /no origin/],
    ['https://a.example:99999', /no origin/],
    ['https://user@a.example', /no origin/],
    ['null', /"null" is the origin of sandboxed/],
    [`https://${'a'.repeat(250)}.example`, /over 256 bytes/],
    [Array.from({ length: 33 }, (_, i) => `https://o${i}.example`).join(','), /more than 32 origins/],
  ];
  for (const [bad, re] of junk) {
    h.test(`PARLEY_CORS_ORIGINS=${JSON.stringify(bad.length > 40 ? `${bad.slice(0, 24)}…(${bad.length} bytes)` : bad)} refuses to start, saying why`, async (t, sys) => {
      const r = spawnSync(BIN.gateway, [], {
        env: { ...sys.env, PARLEY_CORS_ORIGINS: bad, PARLEY_PORT: '1' },
        encoding: 'utf8',
        timeout: 10000,
      });
      assert.equal(r.signal, null, 'the gateway did not exit by itself');
      assert.notEqual(r.status, 0);
      assert.match(r.stdout + r.stderr, /PARLEY_CORS_ORIGINS=".*" is refused: /);
      assert.match(r.stdout + r.stderr, re);
    });
  }
});

describe('any origin (the default, *)', () => {
  const h = useSystem({ workers: 0 });

  h.test('every answer says Allow-Origin: *, without Vary or credentials, whatever the Origin', async (t, sys) => {
    await sys.waitHealth({ status: 503 });      // no worker here: up, not healthy
    for (const origin of [ALLOWED, 'https://anything.example', 'null', undefined]) {
      const what = `Origin ${JSON.stringify(origin)}`;
      const { r } = await handshake(sys, origin);
      assert.equal(r.headers.get('access-control-allow-origin'), '*', what);
      assert.equal(r.headers.get('access-control-allow-credentials'), null, what);
      assert.equal(varyOrigin(r.headers), false, what);
      const err = await req(`${sys.url()}${sys.eioPath}?EIO=4&transport=carrier-pigeon`, { origin });
      assert.equal(err.status, 400, what);
      assert.equal(err.headers.get('access-control-allow-origin'), '*', what);
      const hz = await req(`${sys.url()}/healthz`, { origin });
      assert.equal(hz.headers.get('access-control-allow-origin'), '*', what);
    }
    const pre = await req(`${sys.url()}/api/v1/campaigns`, {
      origin: 'https://anything.example', method: 'OPTIONS',
      headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'authorization,content-type');
    assert.equal(pre.headers.get('access-control-max-age'), '600');
  });
});

describe('CORS off (PARLEY_CORS_ORIGINS=none)', () => {
  const h = useSystem({ workers: 0, env: { PARLEY_CORS_ORIGINS: 'none' } });

  h.test('no CORS header at all; OPTIONS still answers 204 with Allow', async (t, sys) => {
    await sys.waitHealth({ status: 503 });
    const { r } = await handshake(sys, ALLOWED);
    assert.deepEqual(acHeaders(r.headers), {});
    assert.equal(varyOrigin(r.headers), false);
    const pre = await req(polling(sys), { origin: ALLOWED, method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('allow'), 'GET, POST');
    assert.deepEqual(acHeaders(pre.headers), {});
  });
});
