// Hostile HTTP/1.1 on the gateway's port, byte by byte over raw TCP (the
// red-team findings of issue 16): pipelined requests, smuggling framing,
// h2c and CONNECT, unknown methods, HEAD, over-long heads, long query
// arguments before EIO. After each case the gateway still answers, and
// the harness's stop() checks that SIGTERM still stops it cleanly.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { useSystem, emitAck, expectOk, sleep } from './lib/system.mjs';
import { uid, rest } from './lib/campaign.mjs';

const h = useSystem({ workers: 1, gateways: 1 });

/** Send `bytes` in one write; collect what comes back until the server
 * closes or nothing has come for idleMs. */
function exchange(sys, bytes, { idleMs = 1500 } = {}) {
  return new Promise((resolve, reject) => {
    const port = Number(new URL(sys.url()).port);
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    let timer = null;
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const arm = () => { clearTimeout(timer); timer = setTimeout(done, idleMs); };
    sock.on('connect', () => { sock.write(bytes); arm(); });
    sock.on('data', (c) => { chunks.push(c); arm(); });
    sock.on('end', () => { closed = true; done(); });
    sock.on('close', () => { closed = true; done(); });
    sock.on('error', (e) => { if (e.code === 'ECONNRESET') { closed = true; done(); } else reject(e); });
  });
}

/** Split a byte stream into HTTP/1.1 responses (Content-Length framed;
 * the answers whose index is in `heads` answer HEAD: no body). */
function responses(text, heads = []) {
  const out = [];
  let rest = text;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `a response head in ${JSON.stringify(rest.slice(0, 200))}`);
    const lines = rest.slice(0, end).split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]);
    assert.ok(m, `a status line: ${lines[0]}`);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = heads.includes(out.length) ? 0 : Number(headers['content-length'] ?? 0);
    out.push({ status: Number(m[1]), headers, head: rest.slice(0, end), bodyText: rest.slice(end + 4, end + 4 + len) });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

/** The gateway's CPU time so far, in clock ticks (utime + stime). */
function cpuTicks(sys) {
  const pid = sys.proc('gateway').child.pid;
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function healthy(sys) {
  const r = await fetch(`${sys.url()}/healthz`, { signal: AbortSignal.timeout(3000) });
  assert.equal(r.status, 200);
}

const post = (path, body, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

h.test('two POSTs with bodies in one write: both answered in order, and the gateway does not spin', async (t, sys) => {
  // the red team's reproduction: the second request used to leave lws
  // spinning at 100% CPU for good, deaf to /healthz and to SIGTERM
  const body = '{"name":"x"}';
  const r = await exchange(sys, post('/x', body) + post('/x', body));
  const rs = responses(r.text);
  assert.deepEqual(rs.map((x) => x.status), [404, 404]);
  const before = cpuTicks(sys);
  await sleep(1000);
  const spent = cpuTicks(sys) - before;
  assert.ok(spent < 30, `the gateway used ${spent} ticks of CPU in 1 s of idle`);
  await healthy(sys);

  // the same on the REST API, with and without a token
  const token = sys.token({ sub: uid('pipe') });
  const auth = `Authorization: Bearer ${token}\r\nContent-Type: application/json\r\n`;
  const r2 = await exchange(sys, post('/api/v1/campaigns', body, auth) + post('/api/v1/campaigns', body, auth));
  assert.deepEqual(responses(r2.text).map((x) => x.status), [201, 201]);
  const r3 = await exchange(sys, post('/api/v1/campaigns', body) + post('/api/v1/campaigns', body));
  assert.deepEqual(responses(r3.text).map((x) => x.status), [401, 401]);
  const list = await rest(sys, token, 'GET', '/campaigns');
  assert.equal(list.body.length, 2);
  await healthy(sys);
});

h.test('a POST and a GET in one write: each answered truthfully, in order', async (t, sys) => {
  const token = sys.token({ sub: uid('postget') });
  const auth = `Authorization: Bearer ${token}\r\n`;
  const r = await exchange(sys,
    post('/api/v1/campaigns', '{"name":"pg"}', `${auth}Content-Type: application/json\r\n`)
    + `GET /api/v1/campaigns HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
  const [created, listed] = responses(r.text);
  assert.equal(created.status, 201, created.bodyText);
  const c = JSON.parse(created.bodyText);
  assert.equal(c.name, 'pg');
  assert.equal(listed.status, 200);
  assert.deepEqual(JSON.parse(listed.bodyText).map((x) => x.id), [c.id]);
});

h.test('Content-Length with Transfer-Encoding: 400 and closed, nothing written, trailing bytes not a request', async (t, sys) => {
  const token = sys.token({ sub: uid('smuggle') });
  const body = '{"name":"s"}';
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  const r = await exchange(sys,
    `POST /api/v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
    + `Content-Type: application/json\r\nContent-Length: ${chunked.length}\r\nTransfer-Encoding: chunked\r\n\r\n`
    + `${chunked}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
  const rs = responses(r.text);
  assert.equal(rs.length, 1, 'one answer: the trailing GET is never served');
  assert.equal(rs[0].status, 400);
  assert.match(rs[0].bodyText, /both Content-Length and Transfer-Encoding/);
  assert.equal(rs[0].headers.connection, 'close');
  assert.ok(r.closed, 'the connection is closed');
  const list = await rest(sys, token, 'GET', '/campaigns');
  assert.deepEqual(list.body, [], 'nothing was created');

  // chunked alone is a body like any other
  const ok = await exchange(sys,
    `POST /api/v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
    + `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
  assert.equal(responses(ok.text)[0].status, 201);
});

h.test('h2c upgrade is ignored (HTTP/1.1 answer), CONNECT/TRACE/unknown methods 405 and close, HEAD has no body', async (t, sys) => {
  const h2c = await exchange(sys,
    'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n'
    + 'HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n');
  const [hr] = responses(h2c.text);
  assert.equal(hr.status, 200, 'answered as HTTP/1.1, not 101');
  assert.equal(JSON.parse(hr.bodyText).status, 'ok');

  // HTTP/2 prior knowledge is no method of ours either
  for (const line of ['CONNECT example.com:443 HTTP/1.1', 'TRACE / HTTP/1.1', 'FOO /healthz HTTP/1.1', 'PRI * HTTP/2.0']) {
    const started = Date.now();
    const r = await exchange(sys, `${line}\r\nHost: x\r\n\r\n`, { idleMs: 5000 });
    assert.ok(r.closed && Date.now() - started < 4000, `${line}: closed at once`);
    const [x] = responses(r.text);
    assert.equal(x.status, 405, line);
    assert.match(x.headers.allow, /GET/);
    assert.equal(JSON.parse(x.bodyText).error.code, 'VALIDATION_ERROR');
  }

  const head = await exchange(sys, 'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const [hh, gg] = responses(head.text, [0]);
  assert.equal(hh.status, 200);
  assert.equal(hh.bodyText, '', 'HEAD: no body');
  assert.ok(Number(hh.headers['content-length']) > 0, 'HEAD: the length of the GET body');
  assert.equal(gg.status, 200, 'the next request is read right after the HEAD answer');
  await healthy(sys);
});

h.test('over-long heads: 414 for the target, 431 for headers, in the gateway\'s JSON', async (t, sys) => {
  const cases = [
    [`GET /${'a'.repeat(5000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    [`GET /healthz HTTP/1.1\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`, 431],
    [`GET /healthz HTTP/1.1\r\n${Array.from({ length: 1000 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`, 431],
  ];
  for (const [req, status] of cases) {
    const r = await exchange(sys, req);
    const [x] = responses(r.text);
    assert.equal(x.status, status);
    assert.equal(JSON.parse(x.bodyText).success, false);
    assert.ok(r.closed);
  }
  // a 2 KB query is fine
  const ok = await exchange(sys, `GET /healthz?pad=${'b'.repeat(2048)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(responses(ok.text)[0].status, 200);
  await healthy(sys);
});

h.test('socket.io-client with long query arguments before EIO connects (any order, up to 2 KB)', async (t, sys) => {
  for (const v of ['x'.repeat(31), 'x'.repeat(32), 'x'.repeat(200), 'x'.repeat(1900)]) {
    const s = await sys.connectOk(sys.token({ sub: uid('q') }), { io: { query: { v } } });
    expectOk(await emitAck(s, 'campaign:list'));
    s.close();
  }
});
