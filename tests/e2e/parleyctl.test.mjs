// parleyctl against a real system: token (checked with Node's crypto), call
// (a campaign created, then read back with socket.io-client), tail (a child
// printing the pushes of a change made by socket.io-client, SIGINT exits 0),
// health, services, metrics, and the errors a script relies on: exit codes
// and messages for a server that is down or silent, a bad secret, an unknown
// event, malformed JSON, bad options, a hostile /healthz; --help everywhere.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { useSystem, emitAck, expectOk, freePort, nowSec, buildDir, SERVICES } from './lib/system.mjs';
import { uid } from './lib/campaign.mjs';

const CTL = path.join(buildDir, 'ctl/parleyctl');
const SANITIZER_RE = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;
// A request for a service with no worker waits 8 s at the broker before
// SERVICE_UNAVAILABLE, long enough to be seen queued in /healthz.
// Pings every 400 ms (400 ms to answer): a tail that did not answer them
// would be dropped within a second.
const h = useSystem({
  workers: 1,
  env: {
    PARLEY_QUEUE_TIMEOUT_MS: '8000', PARLEY_REQUEST_TIMEOUT_MS: '10000',
    PARLEY_PING_INTERVAL_MS: '400', PARLEY_PING_TIMEOUT_MS: '400',
  },
});

/** The environment parleyctl gets: the system's, pointing at its gateway. */
function ctlEnv(sys, extra = {}) {
  return { ...sys.env, PARLEY_URL: sys.url(), ...extra };
}

/** Run parleyctl to its end (bounded); resolves {code, signal, stdout, stderr}. */
function run(args, env, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const child = spawn(CTL, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`parleyctl ${args.join(' ')} did not end in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // under build/asan a report fails the test whatever the exit code
      if (SANITIZER_RE.test(stderr)) reject(new Error(`parleyctl ${args.join(' ')}: sanitizer report:\n${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** parleyctl tail ROOM --as AS as a child, once it says it is tailing:
 * {child, exited (its exit code), stderr()}. */
async function startTail(sys, room, as) {
  const child = spawn(CTL, ['tail', room, '--as', as], { env: ctlEnv(sys) });
  let stderr = '';
  // a sanitizer report makes the exit code the report, which no test expects
  const exited = new Promise((resolve) => child.on('close', (code) => {
    resolve(SANITIZER_RE.test(stderr) ? `sanitizer report: ${stderr}` : code);
  }));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no subscribe: ${stderr}`)); }, 10000);
    child.stderr.on('data', (d) => { stderr += d; if (/tailing/.test(stderr)) { clearTimeout(timer); resolve(); } });
  });
  return { child, exited, stderr: () => stderr };
}

/** HS256 check with Node's crypto; returns the claims. */
function verifyJwt(token, secret) {
  const [hd, pl, sig] = token.split('.');
  const want = crypto.createHmac('sha256', secret).update(`${hd}.${pl}`).digest('base64url');
  assert.equal(sig, want, 'the signature is HS256 with the secret');
  assert.deepEqual(JSON.parse(Buffer.from(hd, 'base64url')), { alg: 'HS256', typ: 'JWT' });
  return JSON.parse(Buffer.from(pl, 'base64url'));
}

h.test('--help: the tool and every command, exit 0', async (t, sys) => {
  const top = await run(['--help'], ctlEnv(sys));
  assert.equal(top.code, 0);
  for (const cmd of ['token', 'call', 'tail', 'health', 'services', 'metrics']) {
    assert.match(top.stdout, new RegExp(`^  ${cmd}\\b`, 'm'), `${cmd} is listed`);
    const r = await run([cmd, '--help'], ctlEnv(sys));
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, new RegExp(`^usage: parleyctl ${cmd}\\b`), cmd);
  }
  assert.match(top.stdout, /exit codes: 0 ok; 1 .*\n.*2 usage/);
});

h.test('usage errors exit 2 with a message', async (t, sys) => {
  const cases = [
    [[], /no command/],
    [['frobnicate'], /unknown command: frobnicate/],
    [['health', '--bogus'], /unknown option: --bogus/],
    [['call'], /missing argument/],
    [['call', 'campaign:create', '{"name":'], /the argument is not valid JSON: \{"name":/],
    [['call', 'campaign:create', '{"name":"a\\u0000b"}'], /holds a NUL/],
    [['call', 'a', '1', '2'], /too many arguments: 2/],
    [['token'], /--sub is required/],
    [['token', '--sub', 'a b'], /not a user id/],
    [['token', '--sub', 'x', '--ttl', '-5'], /--ttl takes seconds/],
    [['token', '--sub', 'x', '--name', 'n'.repeat(7000)], /longer than the gateway accepts/],
    [['health', '--sub', 'x'], /an option this command does not take/],
    [['call', 'x', '--as', 'a', '--token', 't'], /exclude each other/],
    [['health', '--timeout', '0'], /--timeout takes seconds/],
    [['health', '--url', 'https://127.0.0.1:1'], /https is not supported/],
    [['health', '--url', 'localhost:8080'], /must start with http:\/\//],
  ];
  for (const [args, re] of cases) {
    const r = await run(args, ctlEnv(sys));
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
});

h.test('token: HS256 with PARLEY_JWT_SECRET, sub, name and ttl', async (t, sys) => {
  const r = await run(['token', '--sub', 'alice', '--name', 'Alice', '--ttl', '120'], ctlEnv(sys));
  assert.equal(r.code, 0, r.stderr);
  const claims = verifyJwt(r.stdout.trim(), sys.secret);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.name, 'Alice');
  assert.ok(Math.abs(claims.exp - (nowSec() + 120)) <= 5, `exp ${claims.exp}`);
  assert.ok(Math.abs(claims.iat - nowSec()) <= 5);
  const forever = await run(['token', '--sub', 'bob', '--ttl', '0'], ctlEnv(sys));
  assert.equal(forever.code, 0);
  assert.equal(verifyJwt(forever.stdout.trim(), sys.secret).exp, undefined, '--ttl 0: no exp');
  // the token it prints gets in
  const s = await sys.connectOk(r.stdout.trim());
  expectOk(await emitAck(s, 'campaign:list'));
  s.disconnect();
});

h.test('call campaign:create --as gm creates it; socket.io-client reads it back', async (t, sys) => {
  const gm = uid('ctl-gm');
  const name = `X-${uid('c')}`;
  const r = await run(['call', 'campaign:create', JSON.stringify({ name }), '--as', gm], ctlEnv(sys));
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'the ack is one line');
  const ack = JSON.parse(lines[0]);
  const c = expectOk(ack);
  assert.equal(c.name, name);
  assert.equal(c.createdBy, gm);
  const s = await sys.user(gm);
  const got = expectOk(await emitAck(s, 'campaign:get', c.id));
  assert.equal(got.name, name);
  assert.deepEqual(got.members.map((m) => [m.userId, m.role]), [[gm, 'gm']]);
  // another call sees it too; no argument at all is sent as none
  const list = await run(['call', 'campaign:list', '--as', gm], ctlEnv(sys));
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(expectOk(JSON.parse(list.stdout)).map((x) => x.id), [c.id]);
  // --token instead of --as
  const tok = await run(['call', 'campaign:list', '--token', sys.token({ sub: gm })], ctlEnv(sys));
  assert.equal(tok.code, 0, tok.stderr);
  assert.deepEqual(expectOk(JSON.parse(tok.stdout)).map((x) => x.id), [c.id]);
});

h.test('call: an error ack prints the ack and exits 1; an unknown event too', async (t, sys) => {
  const r = await run(['call', 'campaign:get', '"no-such-campaign"', '--as', uid('u')], ctlEnv(sys));
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.stdout).error.code, 'NOT_FOUND');
  assert.match(r.stderr, /^parleyctl: campaign:get: NOT_FOUND: /);
  const u = await run(['call', 'campaign:frobnicate', '{}'], ctlEnv(sys));
  assert.equal(u.code, 1);
  assert.equal(JSON.parse(u.stdout).error.code, 'UNKNOWN_EVENT');
  assert.match(u.stderr, /campaign:frobnicate: UNKNOWN_EVENT/);
  const v = await run(['call', 'campaign:create', '{"name":""}'], ctlEnv(sys));
  assert.equal(v.code, 1);
  assert.equal(JSON.parse(v.stdout).error.code, 'VALIDATION_ERROR');
});

h.test('tail campaign:<id> prints the pushes of a change as JSON lines; SIGINT exits 0', async (t, sys) => {
  const gmId = uid('tail-gm');
  const gm = await sys.user(gmId);
  const c = expectOk(await emitAck(gm, 'campaign:create', { name: 'Tailed' }));
  const child = spawn(CTL, ['tail', `campaign:${c.id}`, '--as', gmId], {
    env: ctlEnv(sys), stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let stderr = '', buf = '';
  const lines = [];
  let wake = null;
  child.stderr.on('data', (d) => { stderr += d; wake?.(); });
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)));      // every line is one JSON
      buf = buf.slice(i + 1);
    }
    wake?.();
  });
  const until = async (pred, ms, what) => {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; stderr: ${stderr}`);
      await new Promise((r) => { wake = r; setTimeout(r, Math.min(left, 250)); });
    }
  };
  try {
    await until(() => /tailing campaign:/.test(stderr), 10000, 'the subscribe');
    // The subscription reaches the worker's PUB asynchronously (slow
    // joiner): update until the first push shows, then check a fresh one.
    for (let i = 0; !lines.some((l) => l.event === 'campaign:updated'); i++) {
      assert.ok(i < 40, 'a push reaches tail');
      expectOk(await emitAck(gm, 'campaign:update', { id: c.id, name: `warm-${i}` }));
      await new Promise((r) => setTimeout(r, 100));
    }
    const n = lines.length;
    const name = `fresh-${uid('n')}`;
    expectOk(await emitAck(gm, 'campaign:update', { id: c.id, name }));
    await until(() => lines.slice(n).some((l) => l.data?.name === name), 10000, 'the fresh update');
    const line = lines.slice(n).find((l) => l.data?.name === name);
    assert.equal(line.event, 'campaign:updated');
    assert.equal(line.data.id, c.id);
    // a chat message to the room shows too, as its own line
    expectOk(await emitAck(gm, 'chat:send', { room: `campaign:${c.id}`, text: 'hello tail' }));
    await until(() => lines.some((l) => l.data?.text === 'hello tail'), 10000, 'the chat line');
    assert.match(lines.find((l) => l.data?.text === 'hello tail').event, /^chat:/);
    child.kill('SIGINT');
    const end = await exited;
    assert.equal(end.code, 0, `SIGINT exits 0 (stderr: ${stderr})`);
    assert.doesNotMatch(stderr, SANITIZER_RE);
  } finally {
    child.kill('SIGKILL');
  }
});

h.test('tail: SIGTERM exits 0; a refused subscribe exits 1 with the error', async (t, sys) => {
  const gmId = uid('t2-gm');
  const gm = await sys.user(gmId);
  const c = expectOk(await emitAck(gm, 'campaign:create', { name: 'Private' }));
  const r = await run(['tail', `campaign:${c.id}`, '--as', uid('outsider')], ctlEnv(sys));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /parleyctl: subscribe: (FORBIDDEN|NOT_FOUND): /);
  const { child, exited } = await startTail(sys, `campaign:${c.id}`, gmId);
  // it answers pings: still there after several ping rounds
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(child.exitCode, null, 'tail is still connected after 5 ping intervals');
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

h.test('tail: the gateway going away ends it non-zero', async (t, sys) => {
  const gmId = uid('t3-gm');
  const gm = await sys.user(gmId);
  const c = expectOk(await emitAck(gm, 'campaign:create', { name: 'Gone' }));
  const { child, exited, stderr } = await startTail(sys, `campaign:${c.id}`, gmId);
  await sys.kill('gateway', 'SIGTERM');
  try {
    assert.equal(await exited, 4, stderr());
    assert.match(stderr(), /closed|ended/);
  } finally {
    await sys.startAll();
  }
});

h.test('health, services and metrics', async (t, sys) => {
  const hr = await run(['health'], ctlEnv(sys));
  assert.equal(hr.code, 0, hr.stderr);
  const body = JSON.parse(hr.stdout);
  assert.equal(body.status, 'ok');
  const sr = await run(['services'], ctlEnv(sys));
  assert.equal(sr.code, 0, sr.stderr);
  const rows = sr.stdout.trim().split('\n');
  assert.match(rows[0], /^SERVICE\s+WORKERS\s+QUEUED$/);
  for (const svc of SERVICES) {
    assert.ok(rows.some((row) => new RegExp(`^${svc}\\s+1\\s+0$`).test(row)), `${svc}: ${sr.stdout}`);
  }
  assert.equal(rows.length, SERVICES.length + 1);
  // /healthz carries the broker's queue depth for it
  for (const svc of SERVICES) assert.equal(body.services[svc].queued, 0);
  const mr = await run(['metrics'], ctlEnv(sys));
  if (mr.code === 0) {
    assert.match(mr.stdout, /^# (HELP|TYPE) /m, 'Prometheus text');
  } else {
    assert.equal(mr.code, 1);
    assert.match(mr.stderr, /parleyctl: metrics: the gateway has no \/metrics \(HTTP 404\)/);
  }
});

h.test('health exits 1 when the gateway is unhealthy; services still prints the table', async (t, sys) => {
  const worker = sys.workersOf('campaigns')[0];
  await sys.kill(worker, 'SIGTERM');
  try {
    await sys.waitHealth({ status: 503, pred: (b) => (b?.services?.campaigns?.workers ?? 0) === 0, timeoutMs: 10000 });
    const hr = await run(['health'], ctlEnv(sys));
    assert.equal(hr.code, 1);
    assert.equal(JSON.parse(hr.stdout).status, 'unavailable');
    assert.match(hr.stderr, /not healthy \(HTTP 503\)/);
    const sr = await run(['services'], ctlEnv(sys));
    assert.equal(sr.code, 0);
    assert.match(sr.stdout, /^campaigns\s+0\s+0$/m);
    // a request waiting at the broker for a campaigns worker shows as queued
    const s = await sys.user(uid('q'));
    const pending = emitAck(s, 'campaign:list', undefined, 15000);
    await sys.waitHealth({ status: 503, pred: (b) => b?.services?.campaigns?.queued === 1, timeoutMs: 6000 });
    const q = await run(['services'], ctlEnv(sys));
    assert.match(q.stdout, /^campaigns\s+0\s+1$/m, q.stdout);
    assert.equal((await pending).error?.code, 'SERVICE_UNAVAILABLE');
  } finally {
    await sys.startAll();
  }
});

h.test('server down: exit 3 and "cannot connect to ...: Connection refused"', async (t, sys) => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  for (const args of [['health'], ['services'], ['metrics'], ['call', 'campaign:list'], ['tail', 'user:x']]) {
    const r = await run(args, ctlEnv(sys, { PARLEY_URL: url }));
    assert.equal(r.code, 3, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`cannot connect to http://127\\.0\\.0\\.1:${port}: Connection refused`), args[0]);
  }
  // --url wins over PARLEY_URL; without either, PARLEY_PORT names the port
  const viaUrl = await run(['health', '--url', sys.url()], ctlEnv(sys, { PARLEY_URL: url }));
  assert.equal(viaUrl.code, 0, viaUrl.stderr);
  const viaPort = await run(['health'], ctlEnv(sys, { PARLEY_URL: '', PARLEY_PORT: String(sys.ports[0]) }));
  assert.equal(viaPort.code, 0, viaPort.stderr);
});

h.test('a server that never answers: exit 3 after --timeout', async (t, sys) => {
  const sockets = new Set();
  const srv = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}`;
  try {
    for (const args of [['health'], ['call', 'campaign:list']]) {
      const r = await run([...args, '--timeout', '1'], ctlEnv(sys, { PARLEY_URL: url }));
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /no answer from http:\/\/127\.0\.0\.1:\d+ in 1000 ms/);
    }
  } finally {
    for (const s of sockets) s.destroy();
    srv.close();
  }
});

h.test('bad secret, bad token or another PARLEY_PATH: the server\'s refusal, exit 1', async (t, sys) => {
  const r = await run(['call', 'campaign:list'], ctlEnv(sys, { PARLEY_JWT_SECRET: 'not-the-secret' }));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /refused the connection: unauthorized: bad signature/);
  assert.equal(r.stdout, '');
  const e = await run(['call', 'campaign:list', '--token', sys.token({ sub: 'a', exp: nowSec() - 60 })], ctlEnv(sys));
  assert.equal(e.code, 1);
  assert.match(e.stderr, /refused the connection: unauthorized: token expired/);
  const tail = await run(['tail', 'user:a', '--token', 'garbage'], ctlEnv(sys));
  assert.equal(tail.code, 1);
  assert.match(tail.stderr, /refused the connection: unauthorized: /);
  // PARLEY_PATH is where it opens the WebSocket: another one is refused
  const p = await run(['call', 'campaign:list'], ctlEnv(sys, { PARLEY_PATH: '/elsewhere/' }));
  assert.equal(p.code, 1, p.stderr);
  assert.match(p.stderr, /refused the WebSocket upgrade \(HTTP 404\): is PARLEY_PATH the gateway's\?/);
});

/**
 * A fake Engine.IO/Socket.IO server on a raw WebSocket: it opens the
 * session, accepts any CONNECT (unless answerConnect is false), and
 * answers each client text message with onMessage(text) (a string or an
 * array of strings to send, or nothing). every: texts sent in turn, one
 * each 200 ms from the OPEN on, whatever the client says.
 * Returns {url, close}.
 */
async function fakeSio(onMessage, { answerConnect = true, every = null } = {}) {
  const srv = http.createServer((req, res) => { res.writeHead(404); res.end(); });
  const timers = new Set();
  const frame = (text) => {
    const b = Buffer.from(text);
    let head;
    if (b.length < 126) head = Buffer.from([0x81, b.length]);
    else if (b.length < 65536) head = Buffer.from([0x81, 126, b.length >> 8, b.length & 255]);
    else { head = Buffer.alloc(10); head[0] = 0x81; head[1] = 127; head.writeBigUInt64BE(BigInt(b.length), 2); }
    return Buffer.concat([head, b]);
  };
  srv.on('upgrade', (req, socket) => {
    const key = req.headers['sec-websocket-key'];
    const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.write(frame('0{"sid":"fake","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'));
    socket.on('error', () => {});
    if (every) {
      let i = 0;
      const timer = setInterval(() => socket.write(frame(every[i++ % every.length])), 200);
      timers.add(timer);
      socket.on('close', () => { clearInterval(timer); timers.delete(timer); });
    }
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      // client frames: small (< 126 bytes of payload) or 16-bit length, masked
      while (buf.length >= 2) {
        let len = buf[1] & 127, off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        if (buf.length < off + 4 + len) return;
        const mask = buf.subarray(off, off + 4);
        const data = Buffer.from(buf.subarray(off + 4, off + 4 + len)).map((x, i) => x ^ mask[i % 4]);
        const op = buf[0] & 15;
        buf = buf.subarray(off + 4 + len);
        if (op !== 1) continue;
        const text = data.toString();
        const answer = text.startsWith('40') ? (answerConnect ? '40{"sid":"fake-sio"}' : null)
          : onMessage?.(text);
        for (const a of [answer].flat()) if (a) socket.write(frame(a));
      }
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    close: () => { for (const t of timers) clearInterval(t); srv.closeAllConnections?.(); srv.close(); },
  };
}

h.test('a fake server: an error ack with escape sequences is shown safe; a wrong ack id is no answer', async (t, sys) => {
  const evil = await fakeSio((text) => {
    const m = /^42(\d+)\[/.exec(text);
    return m && `43${m[1]}[{"success":false,"error":{"code":"E\\u001b[2J","message":"evil\\u001b]0;pwned\\u0007 end"}}]`;
  });
  try {
    const r = await run(['call', 'campaign:list'], ctlEnv(sys, { PARLEY_URL: evil.url }));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^parleyctl: campaign:list: E\?\[2J: evil\?\]0;pwned\? end$/m);
    assert.doesNotMatch(r.stderr, /\u001b|\u0007/, 'no control byte reaches the terminal');
    assert.equal(JSON.parse(r.stdout).error.code, 'E\u001b[2J', 'stdout has the ack as JSON (escaped)');
  } finally {
    evil.close();
  }
  const wrong = await fakeSio((text) => {
    const m = /^42(\d+)\[/.exec(text);
    return m && `43${Number(m[1]) + 1}[{"success":true}]`;
  });
  try {
    const r = await run(['call', 'campaign:list', '--timeout', '1'], ctlEnv(sys, { PARLEY_URL: wrong.url }));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /no answer from .* in 1000 ms/);
  } finally {
    wrong.close();
  }
});

h.test('hostile answers: a /healthz that is no table, a WebSocket that is no Engine.IO', async (t, sys) => {
  const srv = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"services":[1,2,3],"x":"\u001b[2J"}');
    } else if (req.url === '/metrics') {
      res.writeHead(500);
      res.end('boom');

    } else {
      res.writeHead(404);
      res.end();
    }
  });
  srv.on('upgrade', (req, socket) => {
    const key = req.headers['sec-websocket-key'];
    const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const text = Buffer.from('9\u001b[2Jnot engine.io');
    socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
    socket.on('error', () => {});
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}`;
  try {
    const s = await run(['services'], ctlEnv(sys, { PARLEY_URL: url }));
    assert.equal(s.code, 4);
    assert.match(s.stderr, /has no services table/);
    const m = await run(['metrics'], ctlEnv(sys, { PARLEY_URL: url }));
    assert.equal(m.code, 1);
    assert.match(m.stderr, /answered HTTP 500/);
    const c = await run(['call', 'campaign:list'], ctlEnv(sys, { PARLEY_URL: url }));
    assert.equal(c.code, 4, c.stderr);
    assert.match(c.stderr, /sent an invalid packet \(unknown Engine.IO packet type: '9\?\[2Jnot engine.io'\)/);
    // a redirect (here to the real gateway) is an answer, never followed
    const redir = http.createServer((req, res) => {
      res.writeHead(302, { location: `${sys.url()}/healthz` });
      res.end();
    });
    await new Promise((r) => redir.listen(0, '127.0.0.1', r));
    try {
      const r = await run(['health'], ctlEnv(sys, { PARLEY_URL: `http://127.0.0.1:${redir.address().port}` }));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /not healthy \(HTTP 302\)/);
    } finally {
      redir.close();
    }
  } finally {
    srv.closeAllConnections?.();
    srv.close();
  }
});

h.test('--timeout is one deadline per phase: NOOPs, pushes and other acks gain no time', async (t, sys) => {
  // the call: never answered, while the server talks every 200 ms
  const chatty = await fakeSio(() => null, { every: ['6', '42["noise",1]', '43999[{"success":true}]'] });
  try {
    const r = await run(['call', 'campaign:list', '--timeout', '1'], ctlEnv(sys, { PARLEY_URL: chatty.url }), 10000);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^parleyctl: campaign:list: no answer from http:\/\/127\.0\.0\.1:\d+ in 1000 ms \(the call\)$/m);
    assert.equal(r.stdout, '');
  } finally {
    chatty.close();
  }
  // the connect: the CONNECT never answered, NOOPs meanwhile
  const mute = await fakeSio(() => null, { answerConnect: false, every: ['6'] });
  try {
    for (const args of [['call', 'campaign:list'], ['tail', 'user:x']]) {
      const r = await run([...args, '--timeout', '1'], ctlEnv(sys, { PARLEY_URL: mute.url }), 10000);
      assert.equal(r.code, 3, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /no answer from http:\/\/127\.0\.0\.1:\d+ in 1000 ms \(the connect\)/, args[0]);
    }
  } finally {
    mute.close();
  }
});

h.test('events pushed while a call waits are bounded in bytes: past 64 MB the call fails (exit 4)', async (t, sys) => {
  // 9 pushes of 8 MB (72 MB), all under the 16 MB message limit and the
  // 4096-event count; the ack never comes
  const big = `42["big","${'a'.repeat(8 * 1000 * 1000)}"]`;
  const flood = await fakeSio((text) => (/^42\d+\[/.test(text) ? Array(9).fill(big) : null));
  try {
    const r = await run(['call', 'campaign:list', '--timeout', '8'], ctlEnv(sys, { PARLEY_URL: flood.url }), 30000);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /sent more than parleyctl keeps unread \(64 MB, or 4096 messages\)/);
    assert.equal(r.stdout, '');
  } finally {
    flood.close();
  }
});

h.test('a NUL (\\u0000) in a pushed event is refused, never printed cut; tail goes on; an ack with one fails', async (t, sys) => {
  const push = (id, offset) => `42["campaign:updated",{"id":"${id}"},"${offset}"]`;
  const srv = await fakeSio((text) => {
    const m = /^42(\d+)\["subscribe"/.exec(text);
    // one before the ack (held while the call waits), the rest after it
    return m && [push('a\\u0000b', 'o1'), `43${m[1]}[{"success":true}]`,
      push('c', 'off\\u0000x'), `42["x\\u0000y",1]`, push('d', 'o2')];
  });
  const child = spawn(CTL, ['tail', 'campaign:x'], { env: ctlEnv(sys, { PARLEY_URL: srv.url }), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  let stdout = '', stderr = '', wake = null;
  child.stdout.on('data', (d) => { stdout += d; wake?.(); });
  child.stderr.on('data', (d) => { stderr += d; wake?.(); });
  try {
    const deadline = Date.now() + 10000;
    while (!/"id":"d"/.test(stdout) || (stderr.match(/holding a NUL/g) ?? []).length < 3) {
      assert.ok(Date.now() < deadline, `stdout: ${stdout} stderr: ${stderr}`);
      await new Promise((r) => { wake = r; setTimeout(r, 250); });
    }
    assert.deepEqual(stdout.trim().split('\n').map((l) => JSON.parse(l)),
      [{ event: 'campaign:updated', data: { id: 'd' }, offset: 'o2' }], 'only the clean event is printed');
    assert.equal((stderr.match(/^parleyctl: http:\/\/127\.0\.0\.1:\d+ pushed campaign:updated holding a NUL \(\\u0000\): skipped$/gm) ?? []).length, 2, stderr);
    assert.match(stderr, /pushed an event holding a NUL \(\\u0000\): skipped/, 'a name with a NUL is never shown');
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.doesNotMatch(stderr, SANITIZER_RE);
  } finally {
    child.kill('SIGKILL');
    srv.close();
  }
  const nulAck = await fakeSio((text) => {
    const m = /^42(\d+)\[/.exec(text);
    return m && `43${m[1]}[{"success":true,"data":{"id":"a\\u0000b"}}]`;
  });
  try {
    const r = await run(['call', 'campaign:list'], ctlEnv(sys, { PARLEY_URL: nulAck.url }));
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /sent an ack holding a NUL \(\\u0000\)/);
    assert.equal(r.stdout, '', 'no ack printed cut');
  } finally {
    nulAck.close();
  }
});

h.test('health and metrics pages: control bytes but \\n and \\t shown as ?, no escape reaches the terminal', async (t, sys) => {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    if (req.url === '/healthz') res.end('ok\tfine\n\u001b[2J\u0007\r\u0000end\n');
    else res.end('# HELP x \u001b]0;pwned\u0007\u007f\nx 1');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}`;
  try {
    const hr = await run(['health'], ctlEnv(sys, { PARLEY_URL: url }));
    assert.equal(hr.code, 0, hr.stderr);
    assert.equal(hr.stdout, 'ok\tfine\n?[2J???end\n');
    const mr = await run(['metrics'], ctlEnv(sys, { PARLEY_URL: url }));
    assert.equal(mr.code, 0, mr.stderr);
    assert.equal(mr.stdout, '# HELP x ?]0;pwned??\nx 1\n');
  } finally {
    srv.closeAllConnections?.();
    srv.close();
  }
});
