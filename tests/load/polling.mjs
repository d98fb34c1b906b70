// polling.mjs - connects/s and server memory per session for HTTP
// long-polling clients: N socket.io-clients with transports ["polling"]
// (no upgrade), each authenticated with its own JWT, against a Socket.IO
// server on 127.0.0.1 (Parley's gateway or the peer, tests/load/peer).
// script/bench runs it against both in the same run (scenario
// polling-connect); the load tool proper (parley-load) speaks WebSocket only.
//
//   node tests/load/polling.mjs --port P --secret S --server-pid PID
//        [--conns 1000] [--concurrency 100] [--hold 3] [--timeout 60]
//
// Loopback only, bounded in count (--conns at most 20000) and time
// (--timeout for the connects, --hold after them). Prints one line of
// JSON: ok, conns, connected, failed, rate (connects/s over the connect
// phase), p50/p99/max handshake ms (io() to "connect": the polling
// handshake, the CONNECT and its answer), the server's RSS before the
// connects and after the hold, rss_per_conn_bytes = (after - before) /
// connected. The clients run in this one Node process, so a fast server
// may measure the client's ceiling: the same client measures both targets.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { io } from 'socket.io-client';

function parse(argv) {
  const o = { port: 0, secret: '', serverPid: 0, conns: 1000, concurrency: 100, hold: 3, timeout: 60 };
  const names = { '--port': 'port', '--secret': 'secret', '--server-pid': 'serverPid', '--conns': 'conns',
    '--concurrency': 'concurrency', '--hold': 'hold', '--timeout': 'timeout',
    '--progress': 'progress' };  // --progress: accepted (script/bench passes it), unused
  for (let i = 0; i < argv.length; i += 2) {
    const k = names[argv[i]];
    if (!k || i + 1 >= argv.length) throw new Error(`unknown or incomplete option ${argv[i]}`);
    o[k] = k === 'secret' ? argv[i + 1] : Number(argv[i + 1]);
  }
  const int = (v, lo, hi) => Number.isInteger(v) && v >= lo && v <= hi;
  if (!int(o.port, 1, 65535) || !o.secret || !int(o.serverPid, 1, 1 << 22) || !int(o.conns, 1, 20000)
  || !int(o.concurrency, 1, 1000) || !(o.hold >= 0 && o.hold <= 60) || !(o.timeout > 0 && o.timeout <= 300)) {
    throw new Error('need --port 1..65535 --secret S --server-pid PID; --conns 1..20000, '
      + '--concurrency 1..1000, --hold 0..60 s, --timeout 1..300 s');
  }
  return o;
}

const b64url = (x) => Buffer.from(x).toString('base64url');
function token(secret, sub) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 3600 }));
  const sig = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** The server's resident set (VmRSS), bytes. */
function rss(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : null);

async function main() {
  const o = parse(process.argv.slice(2));
  const url = `http://127.0.0.1:${o.port}`;
  const sockets = [];
  const times = [];
  let failed = 0;
  let firstError = null;
  const before = rss(o.serverPid);
  const t0 = performance.now();
  const deadline = Date.now() + o.timeout * 1000;
  // one client: resolves when it connected or failed
  const one = (i) => new Promise((resolve) => {
    const start = performance.now();
    const s = io(url, { transports: ['polling'], auth: { token: token(o.secret, `poll${i}`) },
      reconnection: false, forceNew: true, timeout: o.timeout * 1000 });
    sockets.push(s);
    s.once('connect', () => { times.push(performance.now() - start); resolve(); });
    s.once('connect_error', (e) => { failed++; firstError ??= e.message; resolve(); });
  });
  let next = 0;
  const lane = async () => {
    while (next < o.conns && Date.now() < deadline) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.conns) }, lane));
  const elapsed = (performance.now() - t0) / 1000;
  await sleep(o.hold * 1000);
  // every one still connected after the hold (held GETs, pings answered)
  const alive = sockets.filter((s) => s.connected && s.io.engine?.transport?.name === 'polling').length;
  const after = rss(o.serverPid);
  for (const s of sockets) s.close();
  times.sort((a, b) => a - b);
  const connected = times.length;
  const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  const out = {
    ok: connected === o.conns && alive === o.conns,
    mode: 'polling-connect', conns: o.conns, connected, failed, alive_after_hold: alive,
    rate: Math.round((connected / elapsed) * 10) / 10, rate_unit: 'connects/s',
    connect_s: r3(elapsed), p50_ms: r3(pct(times, 0.5)), p99_ms: r3(pct(times, 0.99)), max_ms: r3(times.at(-1) ?? null),
    rss_before_bytes: before, rss_after_bytes: after,
    rss_per_conn_bytes: connected ? Math.round((after - before) / connected) : null,
  };
  if (firstError) out.error = `first connect_error: ${firstError}`;
  console.log(JSON.stringify(out));
  // the clients' timers (pings, held GETs) are closed; leave promptly anyway
  setTimeout(() => process.exit(0), 1000).unref();
}

main().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: e.message }));
  process.exit(1);
});
