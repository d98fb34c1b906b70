// client_lib.mjs - what the client library (clients/js, @parley/client)
// costs over plain socket.io-client, and how its rebase behaves when
// writers contend. Against a live Parley gateway on 127.0.0.1, in one run:
//
//   raw       S sessions, one GM each on a plain socket.io-client socket,
//             sending N gameState:update back to back, each based on the
//             last ack's newVersion (what an app without the library does)
//   lib       the same, through gameSession(...).update() on a socket from
//             connectParley (optimistic apply, ids, the ordered queue)
//   contend   W library writers (GM tabs) on ONE session, each queuing its
//             share of N updates at once: every update but the first of a
//             round meets VERSION_CONFLICT and is rebased (synced, re-derived)
//
// raw and lib alternate for --rounds rounds on fresh sessions, so drift on a
// noisy machine hits both; the ratio is of the medians. Every phase checks
// the server's state afterwards: the counter each update increments must
// equal the number of acknowledged updates (nothing lost, nothing twice).
//
//   node tests/load/client_lib.mjs --port P --secret S [--path /socket.io/]
//        [--sessions 4] [--updates 300] [--writers 3] [--rounds 2] [--timeout 120]
//
// Loopback only; bounded in count (--sessions <= 64, --updates <= 20000) and
// time (--timeout for the whole run). Prints a table on stderr and one JSON
// line on stdout; exit 1 when a check failed.
import crypto from 'node:crypto';
import { io } from 'socket.io-client';
import { connectParley, gameSession } from '../../clients/js/index.js';

function parse(argv) {
  const o = { port: 0, secret: '', path: '/socket.io/', sessions: 4, updates: 300, writers: 3, rounds: 2, timeout: 120 };
  const names = { '--port': 'port', '--secret': 'secret', '--path': 'path', '--sessions': 'sessions',
    '--updates': 'updates', '--writers': 'writers', '--rounds': 'rounds', '--timeout': 'timeout',
    '--progress': 'progress' };  // --progress: accepted (script/bench passes it), unused
  for (let i = 0; i < argv.length; i += 2) {
    const k = names[argv[i]];
    if (!k || i + 1 >= argv.length) throw new Error(`unknown or incomplete option ${argv[i]}`);
    o[k] = k === 'secret' || k === 'path' ? argv[i + 1] : Number(argv[i + 1]);
  }
  const int = (v, lo, hi) => Number.isInteger(v) && v >= lo && v <= hi;
  if (!int(o.port, 1, 65535) || !o.secret || !int(o.sessions, 1, 64) || !int(o.updates, 1, 20000)
  || !int(o.writers, 2, 16) || !int(o.rounds, 1, 10) || !(o.timeout > 0 && o.timeout <= 600)) {
    throw new Error('need --port 1..65535 --secret S; --sessions 1..64, --updates 1..20000, '
      + '--writers 2..16, --rounds 1..10, --timeout 1..600 s');
  }
  return o;
}

const b64url = (x) => Buffer.from(x).toString('base64url');
function token(secret, sub) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub, name: sub, exp: Math.floor(Date.now() / 1000) + 3600 }));
  const sig = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

const o = parse(process.argv.slice(2));
const url = `http://127.0.0.1:${o.port}`;
const sockets = new Set();
const deadline = setTimeout(() => {
  console.error(`client_lib: not done within ${o.timeout} s`);
  process.exit(1);
}, o.timeout * 1000);

function socketOpts() {
  return { path: o.path, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 10000 };
}

function connected(s) {
  sockets.add(s);
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => reject(new Error(`connect: ${e.message}`)));
  });
}

async function ack(s, event, arg) {
  const r = await s.timeout(10000).emitWithAck(event, arg);
  if (!r || r.success !== true) throw new Error(`${event}: ${JSON.stringify(r?.error ?? r)}`);
  return r.data ?? r;
}

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let n = 0;
/** A GM's campaign and a new session in it; the raw socket that made them. */
async function newSession(tag) {
  const sub = `bench-${tag}-${process.pid}-${n++}`;
  const s = await connected(io(url, { ...socketOpts(), auth: { token: token(o.secret, sub) } }));
  const camp = await ack(s, 'campaign:create', { name: `bench ${sub}` });
  const sess = await ack(s, 'gameSession:create', { campaignId: camp.id, name: 'bench' });
  // the counter every timed update increments, made before the clock starts
  await ack(s, 'gameState:update', { id: `${sub}-zero`, sessionId: sess.id, version: '0',
    operations: [{ path: 'pluginData.n', operation: 'set', value: 0 }], timestamp: Date.now() });
  return { sub, s, sessionId: sess.id };
}

const inc = [{ path: 'pluginData.n', operation: 'inc', value: 1 }];

/** The counter in the server's state of a session (read on socket s). */
async function serverCount(s, sessionId) {
  const st = (await ack(s, 'gameState:requestFull', sessionId)).gameState;
  return st?.pluginData?.n ?? 0;
}

/** One phase over `sessions` sessions in parallel: updates/s and latencies. */
async function phase(kind) {
  const made = await Promise.all(Array.from({ length: o.sessions }, () => newSession(kind)));
  const lat = [];
  const runners = await Promise.all(made.map(async (m) => {
    if (kind === 'raw') {
      await ack(m.s, 'gameSession:join', m.sessionId);
      return async () => {
        let version = '1';
        for (let i = 0; i < o.updates; i++) {
          const t0 = performance.now();
          const r = await ack(m.s, 'gameState:update',
            { id: `${m.sub}-${i}`, sessionId: m.sessionId, version, operations: inc, timestamp: Date.now() });
          lat.push(performance.now() - t0);
          version = r.newVersion;
        }
      };
    }
    const ls = await connected(connectParley(url, { token: token(o.secret, m.sub), ...socketOpts() }));
    const game = gameSession(ls, m.sessionId);
    await game.ready;
    m.game = game;
    return async () => {
      for (let i = 0; i < o.updates; i++) {
        const t0 = performance.now();
        await game.update(inc);
        lat.push(performance.now() - t0);
      }
    };
  }));
  const t0 = performance.now();
  await Promise.all(runners.map((r) => r()));
  const secs = (performance.now() - t0) / 1000;
  let lost = 0;
  for (const m of made) {
    if (await serverCount(m.s, m.sessionId) !== o.updates) lost += 1;
    m.game?.close();
  }
  lat.sort((a, b) => a - b);
  return { kind, updates: o.sessions * o.updates, rate: (o.sessions * o.updates) / secs,
    p50: pct(lat, 0.5), p99: pct(lat, 0.99), bad_sessions: lost };
}

/** W library writers on one session, each queuing its share at once. */
async function contend() {
  const m = await newSession('contend');
  const games = [];
  for (let w = 0; w < o.writers; w++) {
    const ls = await connected(connectParley(url, { token: token(o.secret, m.sub), ...socketOpts() }));
    const g = gameSession(ls, m.sessionId);
    await g.ready;
    games.push(g);
  }
  const share = Math.ceil(o.updates / o.writers);
  const t0 = performance.now();
  // a function update: re-derived on the synced state after a conflict
  await Promise.all(games.map((g) => Promise.all(Array.from({ length: share },
    () => g.update((s) => [{ path: 'pluginData.n', operation: 'set', value: (s.pluginData?.n ?? 0) + 1 }])))));
  const secs = (performance.now() - t0) / 1000;
  const total = share * o.writers;
  const count = await serverCount(m.s, m.sessionId);
  const stats = games.map((g) => g.stats);
  for (const g of games) g.close();
  return { kind: 'contend', writers: o.writers, updates: total, rate: total / secs,
    conflicts: stats.reduce((a, x) => a + x.conflicts, 0), syncs: stats.reduce((a, x) => a + x.syncs, 0),
    bad_sessions: count === total ? 0 : 1, server_count: count };
}

let failed = 0;
const runs = [];
try {
  for (let r = 0; r < o.rounds; r++) {
    runs.push(await phase('raw'));
    runs.push(await phase('lib'));
  }
  runs.push(await contend());
} catch (e) {
  console.error(`client_lib: ${e.message}`);
  failed += 1;
}
for (const x of runs) if (x.bad_sessions) failed += 1;
const raw = runs.filter((x) => x.kind === 'raw');
const lib = runs.filter((x) => x.kind === 'lib');
// rate, p50_ms and p99_ms are the library's (script/bench's table reads them)
const out = { ok: failed === 0, sessions: o.sessions, updates: o.updates, rounds: o.rounds, writers: o.writers,
  rate_unit: 'updates/s', wrong_counts: runs.reduce((a, x) => a + x.bad_sessions, 0) + (failed && !runs.length ? 1 : 0),
  acked: runs.reduce((a, x) => a + x.updates, 0), runs };
if (raw.length && lib.length) {
  out.rate = median(lib.map((x) => x.rate));
  out.p50_ms = median(lib.map((x) => x.p50));
  out.p99_ms = median(lib.map((x) => x.p99));
  out.raw_rate = median(raw.map((x) => x.rate));
  out.raw_p50_ms = median(raw.map((x) => x.p50));
  out.raw_p99_ms = median(raw.map((x) => x.p99));
  out.lib_over_raw = out.rate / out.raw_rate;
}
const c = runs.find((x) => x.kind === 'contend');
if (c) Object.assign(out, { contend_rate: c.rate, contend_updates: c.updates, contend_conflicts: c.conflicts });
if (!out.ok && !out.error) out.error = failed && !runs.length ? 'set-up failed (see the log)' : 'a check failed (see the log)';
for (const x of runs) {
  console.error(`client_lib: ${x.kind.padEnd(8)} ${String(x.updates).padStart(6)} updates  ${x.rate.toFixed(0).padStart(6)}/s`
    + (x.p50 !== undefined ? `  p50 ${x.p50.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms` : `  ${x.conflicts} conflicts, ${x.syncs} syncs`)
    + (x.bad_sessions ? `  ${x.bad_sessions} session(s) with a wrong count` : ''));
}
console.log(JSON.stringify(out));
for (const s of sockets) s.disconnect();
clearTimeout(deadline);
process.exit(failed ? 1 : 0);
