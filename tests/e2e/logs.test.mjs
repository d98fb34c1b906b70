// Structured logs and the request id (issue 13): with PARLEY_LOG_FORMAT=json
// and PARLEY_LOG_LEVEL=debug, every line every Parley process prints is one
// JSON object with time, level, process, pid and msg; one actor:create shows
// lines with the same rid in the gateway, the broker and the actors worker; a
// TIMEOUT (the worker SIGSTOPped: the gateway's timer) and an INTERNAL (the
// worker's Redis killed) carry error.requestId, over socket.io and REST, and
// that id is on the gateway's (or the worker's) lines; no log holds a token
// or the JWT secret, whichever way the token came (auth, ?token=, a REST
// Authorization header, a forged one).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { useSystem, emitAck, expectOk, expectError, eventually, BIN } from './lib/system.mjs';
import { rest } from './lib/campaign.mjs';

const TIMEOUT_MS = 1500;            // below the broker's liveness (3 x 1000 ms)

const h = useSystem({
  workers: 1,
  env: {
    PARLEY_LOG_FORMAT: 'json',
    PARLEY_LOG_LEVEL: 'debug',
    PARLEY_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
    PARLEY_QUEUE_TIMEOUT_MS: '1000',
  },
});

const tokens = new Set();           // every token this file sent anywhere
const token = (sys, claims) => {
  const t = sys.token(claims);
  tokens.add(t);
  return t;
};

const PARLEY = (name) => name !== 'redis';
const RID_RE = /^gw-[0-9a-f]{8}-[0-9a-f]{1,16}$/;

// What the sanitizer runtime itself prints in an ASan build ("==519==WARNING:
// ASan doesn't fully support makecontext/swapcontext..." for the workers'
// coroutines): not a Parley log line. A real report fails the harness anyway
// (SANITIZER_RE in lib/system.mjs).
const SANITIZER_LINE = /^==\d+==/;

/** The JSON lines of a process's output so far (throws on one that is not). */
function lines(sys, name) {
  const out = [];
  for (const text of sys.proc(name).output.split('\n')) {
    if (text === '' || SANITIZER_LINE.test(text)) continue;
    let line;
    try {
      line = JSON.parse(text);
    } catch {
      throw new Error(`${name}: a line that is not JSON: ${JSON.stringify(text.slice(0, 300))}`);
    }
    out.push(line);
  }
  return out;
}

/** Wait until process name has logged lines that pred holds for; returns
 *  them. (An ack can come before the line that preceded it is read from the
 *  process's stderr pipe.) */
async function waitLines(sys, name, pred, what) {
  let found = [];
  const check = () => {
    try {
      found = lines(sys, name).filter(pred);
    } catch { found = []; }           // a line that is not JSON: the last test says so
    return found.length > 0;
  };
  await sys.proc(name).waitFor(check, 5000, `no line ${what} in ${name}'s log`);
  return found;
}

/** Wait until process name has logged a line with rid (and msg matching re). */
function waitRid(sys, name, rid, re = /./) {
  const p = sys.proc(name);
  const has = () => p.output.split('\n').some((text) => {
    if (!text.includes(rid)) return false;
    try {
      const l = JSON.parse(text);
      return l.rid === rid && re.test(l.msg);
    } catch { return false; }
  });
  return p.waitFor(has, 5000, `no line with rid ${rid} (msg ${re}) in ${name}'s log`);
}

test('a PARLEY_LOG_FORMAT other than text or json refuses to start, saying why', () => {
  for (const bin of [BIN.gateway, BIN.broker, BIN.actors]) {
    for (const format of ['xml', 'JSON']) {
      const r = spawnSync(bin, [], {
        env: { PATH: process.env.PATH, PARLEY_LOG_FORMAT: format, PARLEY_RUN_DIR: '/tmp/i13-nonexistent-run' },
        encoding: 'utf8', timeout: 10000,
      });
      assert.notEqual(r.status, 0, `${bin} started with PARLEY_LOG_FORMAT=${format}`);
      assert.ok(r.stderr.includes(`PARLEY_LOG_FORMAT="${format}" is not a log format: text or json`),
        `${bin}: ${r.stderr.slice(0, 500)}`);
    }
  }
});

h.test('one request has one id on its lines in the gateway, the broker and the worker', async (t, sys) => {
  const s = await sys.connectOk(token(sys, { sub: 'lg-alice', name: 'Alice' }));
  expectOk(await emitAck(s, 'actor:create', { name: 'Logged', type: 'pc' }));
  // the gateway's line for it names the rid; the other tiers name the same
  const sent = await waitLines(sys, 'gateway', (l) => /^request actor:create sent to actors/.test(l.msg),
    '"request actor:create sent to actors"');
  assert.equal(sent.length, 1, 'one "request actor:create sent" line in the gateway');
  const rid = sent[0].rid;
  assert.match(rid, RID_RE);
  t.diagnostic(`rid ${rid}`);
  await waitRid(sys, 'broker', rid, /actor:create/);
  await waitRid(sys, 'broker', rid, /dispatched to actors/);
  await waitRid(sys, 'actors', rid, /actor:create/);
  await waitRid(sys, 'gateway', rid, /^reply/);
  // the worker's lines about it come from its process, with its pid
  const w = lines(sys, 'actors').find((l) => l.rid === rid);
  assert.equal(w.process, 'parley-actors');
  assert.equal(w.pid, sys.proc('actors').child.pid);
  // a second request gets another id
  expectOk(await emitAck(s, 'actor:list'));
  const again = await waitLines(sys, 'gateway', (l) => /^request actor:list sent/.test(l.msg),
    '"request actor:list sent"');
  assert.ok(again.length >= 1 && again.every((l) => RID_RE.test(l.rid) && l.rid !== rid));
  s.disconnect();
});

h.test('a TIMEOUT (socket and REST) carries the request id the gateway logged', async (t, sys) => {
  const tok = token(sys, { sub: 'lg-bob' });
  const s = await sys.connectOk(tok);
  expectOk(await emitAck(s, 'actor:list'));
  await sys.kill('actors', 'SIGSTOP');
  try {
    const [ack, res] = await Promise.all([
      emitAck(s, 'actor:list', undefined, TIMEOUT_MS + 5000),
      rest(sys, tok, 'GET', '/actors', undefined, { timeoutMs: TIMEOUT_MS + 5000 }),
    ]);
    const err = expectError(ack, 'TIMEOUT');
    assert.match(err.requestId ?? '', RID_RE, `TIMEOUT without a requestId: ${JSON.stringify(err)}`);
    await waitRid(sys, 'gateway', err.requestId, /TIMEOUT/);
    assert.equal(res.body?.error?.code, 'TIMEOUT', JSON.stringify(res.body));
    const restRid = res.body.error.requestId;
    assert.match(restRid ?? '', RID_RE);
    assert.notEqual(restRid, err.requestId);
    await waitRid(sys, 'gateway', restRid, /TIMEOUT/);
    t.diagnostic(`socket ${err.requestId}, REST ${restRid} (status ${res.status})`);
  } finally {
    await sys.kill('actors', 'SIGCONT');
  }
  // the worker answers the held requests late: the gateway drops them
  await eventually(async () => expectOk(await emitAck(s, 'actor:list')), { what: 'the worker serving again' });
  s.disconnect();
});

h.test('an INTERNAL (the worker\'s Redis gone) carries the request id the worker logged', async (t, sys) => {
  const tok = token(sys, { sub: 'lg-carol' });
  const s = await sys.connectOk(tok);
  expectOk(await emitAck(s, 'actor:list'));
  await sys.kill('redis', 'SIGKILL');
  try {
    const err = expectError(await emitAck(s, 'actor:list', undefined, 8000), 'INTERNAL');
    assert.match(err.requestId ?? '', RID_RE, `INTERNAL without a requestId: ${JSON.stringify(err)}`);
    await waitRid(sys, 'actors', err.requestId);
    await waitRid(sys, 'gateway', err.requestId, /^request actor:list sent/);
    const res = await rest(sys, tok, 'GET', '/actors');
    assert.equal(res.body?.error?.code, 'INTERNAL', JSON.stringify(res.body));
    assert.match(res.body.error.requestId ?? '', RID_RE);
    await waitRid(sys, 'actors', res.body.error.requestId);
    t.diagnostic(`socket ${err.requestId}, REST ${res.body.error.requestId} (status ${res.status})`);
  } finally {
    await sys.start('redis');
  }
  await eventually(async () => expectOk(await emitAck(s, 'actor:list')), { what: 'storage back' });
  s.disconnect();
});

h.test('tokens reach no log, whichever way they came', async (t, sys) => {
  // auth (the CONNECT payload), the query string, REST's header, a forged
  // token, and a token that is refused as expired
  const good = token(sys, { sub: 'lg-dave' });
  const s = await sys.connectOk(good, { io: { query: { token: good } } });
  expectOk(await emitAck(s, 'actor:list'));
  s.disconnect();
  const forged = sys.token({ sub: 'lg-eve', secret: 'not-the-secret-of-this-system' });
  tokens.add(forged);
  await sys.connectError(forged);
  const expired = token(sys, { sub: 'lg-eve', exp: Math.floor(Date.now() / 1000) - 60 });
  await sys.connectError(expired);
  assert.equal((await rest(sys, good, 'GET', '/actors')).status, 200);
  assert.equal((await rest(sys, forged, 'GET', '/actors')).status, 401);
  assert.equal((await rest(sys, undefined, 'GET', `/actors?token=${good}`)).status, 401);
});

h.test('every line of every process is one JSON object with the keys; no token nor the secret anywhere', async (t, sys) => {
  await sys.stopAll();              // the shutdown lines too
  let total = 0;
  const withRid = new Set();
  for (const name of sys.names.filter(PARLEY)) {
    const text = sys.proc(name).output;
    for (const secret of [sys.secret, ...tokens]) {
      assert.ok(!text.includes(secret), `${name}'s log holds ${secret === sys.secret ? 'the JWT secret' : `a token (${secret.slice(0, 20)}...)`}`);
    }
    // a token's signature alone (the part a partial print would show)
    for (const tok of tokens) {
      assert.ok(!text.includes(tok.split('.')[2]), `${name}'s log holds a token's signature`);
    }
    for (const l of lines(sys, name)) {
      for (const key of ['time', 'level', 'process', 'msg']) {
        assert.equal(typeof l[key], 'string', `${name}: ${key} missing: ${JSON.stringify(l)}`);
      }
      assert.equal(typeof l.pid, 'number', `${name}: pid missing: ${JSON.stringify(l)}`);
      assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(['debug', 'info', 'warn', 'error'].includes(l.level), l.level);
      if ('rid' in l) {
        assert.match(l.rid, RID_RE);
        withRid.add(name);
      }
      total++;
    }
  }
  t.diagnostic(`${total} JSON lines; with a rid in: ${[...withRid].join(', ')}`);
  for (const name of ['gateway', 'broker', 'actors']) assert.ok(withRid.has(name), `no rid in ${name}'s lines`);
});
