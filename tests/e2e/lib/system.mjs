// tests/e2e/lib/system.mjs - start a whole private Parley system for a test.
//
// A system lives in its own mkdtemp dir under /tmp (short, so ipc:// paths fit
// in sun_path): a private redis-server on a unix socket, the broker, the
// workers of every service in proto/events.def (N actors workers, one of each
// other service by default) and one or more gateways on free loopback ports. Every process's
// stdout+stderr goes to <dir>/<name>.log and is kept in memory to look for
// sanitizer reports. Processes run under `setpriv --pdeathsig KILL`, and an
// exit handler SIGKILLs whatever is left, so nothing outlives the test run.
//
//   const sys = await startSystem({ workers: 1 });
//   const alice = await sys.connectOk(sys.token({ sub: 'alice' }));
//   const ack = await emitAck(alice, 'actor:list');
//   await sys.stop();   // SIGTERM all; throws if any exited non-zero, died
//                       // unexpectedly or printed a sanitizer report
//
// Which binaries: $PARLEY_BUILD_DIR (script/test sets it), else build/release.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after, test } from 'node:test';
import { io } from 'socket.io-client';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const buildDir = path.resolve(
  process.env.PARLEY_BUILD_DIR || path.join(repoRoot, 'build/release'));

export const BIN = {
  broker: path.join(buildDir, 'broker/parley-broker'),
  actors: path.join(buildDir, 'workers/actors/parley-actors'),
  gateway: path.join(buildDir, 'gateway/parley-gateway'),
  token: path.join(buildDir, 'gateway/parley-token'),
  protoDoc: path.join(buildDir, 'proto/parley-proto-doc'),
};

// The services of proto/events.def, in table order, as `parley-proto-doc
// --services` prints them: each is a worker workers/<s>/parley-<s>.
export const SERVICES = (() => {
  const r = spawnSync(BIN.protoDoc, ['--services'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : ['actors'];
})();
for (const s of SERVICES) BIN[s] ??= path.join(buildDir, `workers/${s}/parley-${s}`);

/** The binaries of an installed bin directory: <dir>/parley-<name> (opts.binDir). */
export function installedBins(dir) {
  const bins = {};
  for (const name of ['broker', 'gateway', 'token', ...SERVICES]) bins[name] = path.join(dir, `parley-${name}`);
  return bins;
}

// What a sanitizer prints when it finds something. abort_on_error turns the
// report into SIGABRT as well, but a report alone already fails the test.
const SANITIZER_RE = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer|WARNING: ThreadSanitizer/;

const OUTPUT_KEEP = 4 << 20;        // bytes of output kept in memory per process
const STOP_TIMEOUT_MS = 15000;      // SIGTERM -> exit; ASan's leak check is slow
const READY_TIMEOUT_MS = 20000;     // start -> /healthz as asked

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- last-resort cleanup -------------------------------------------------

const liveChildren = new Set();
function killAllNow() {
  for (const child of liveChildren) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAllNow(); process.exit(128 + 2); });
}

// ---- helpers -------------------------------------------------------------

/** A free TCP port on 127.0.0.1 (listen on 0, read, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/**
 * Mint a JWT with Node's crypto, independently of the C code.
 *   makeToken({ sub: 'alice', name: 'Alice', exp }, { secret, alg, header })
 * alg: 'HS256' (default), 'HS384', 'HS512' or 'none' (empty signature).
 * Claims that are undefined are left out, so makeToken({}) has no sub.
 */
export function makeToken(claims = {}, { secret, alg = 'HS256', header = {} } = {}) {
  const h = { alg, typ: 'JWT', ...header };
  const payload = {};
  for (const [k, v] of Object.entries(claims)) if (v !== undefined) payload[k] = v;
  const signingInput = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(payload))}`;
  if (alg === 'none') return `${signingInput}.`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  if (!hash) throw new Error(`makeToken: unsupported alg ${alg}`);
  if (!secret) throw new Error('makeToken: secret required');
  const sig = crypto.createHmac(hash, secret).update(signingInput).digest();
  return `${signingInput}.${b64url(sig)}`;
}

export const nowSec = () => Math.floor(Date.now() / 1000);

/**
 * Emit `event` with `arg` (left out when undefined) and an ack callback;
 * resolves with the ack, rejects when none comes within timeoutMs.
 */
export function emitAck(socket, event, arg, timeoutMs = 7000) {
  const args = arg === undefined ? [] : [arg];
  return new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, ...args, (err, res) => {
      if (err) reject(new Error(`no ack for ${event} within ${timeoutMs} ms`));
      else resolve(res);
    });
  });
}

/**
 * A room event's offset: with connection-state recovery on (PARLEY_RECOVERY_MS,
 * the default) every room event carries it as an extra last argument, which
 * socket.io-client keeps for its next reconnect (proto/README.md, "Recovery").
 */
export const OFFSET_RE = /^[0-9a-f]{12}-[0-9a-f]{12}$/;

/** The arguments of an event without its trailing offset, if it has one. */
export function withoutOffset(args) {
  return args.length > 1 && typeof args.at(-1) === 'string' && OFFSET_RE.test(args.at(-1))
    ? args.slice(0, -1) : args;
}

/**
 * Resolve with the first payload of `event` on socket (its arguments less
 * the offset: the payload alone when that leaves one), or reject on timeout.
 */
export function waitEvent(socket, event, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    function on(...all) {
      clearTimeout(timer);
      socket.off(event, on);
      const args = withoutOffset(all);
      resolve(args.length <= 1 ? args[0] : args);
    }
    socket.on(event, on);
  });
}

/** Record every event a socket receives: returns the live array of {event, args}. */
export function recordEvents(socket) {
  const seen = [];
  socket.onAny((event, ...args) => seen.push({ event, args }));
  return seen;
}

/**
 * Retry `fn` until it returns a truthy value or the deadline passes; resolves
 * with that value, or rejects with the last error. Used only where the
 * contract is "eventually" (reconnects after a restart).
 */
export async function eventually(fn, { timeoutMs = 10000, intervalMs = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = new Error(`${what}: not yet`);
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const err = new Error(`${what} not reached within ${timeoutMs} ms: ${last?.message}`);
      err.cause = last;
      throw err;
    }
    await sleep(intervalMs);
  }
}

// ---- one process ---------------------------------------------------------

export class Proc {
  constructor(name, spec, logPath) {
    this.name = name;
    this.spec = spec;             // {bin, args, env}
    this.logPath = logPath;
    this.output = '';             // tail of everything it printed, all runs
    this.sanitizer = null;        // first sanitizer line seen, if any
    this.child = null;
    this.runs = 0;
    this.history = [];            // {run, code, signal, expected, clean}
  }

  get running() { return this.child !== null; }

  start() {
    if (this.child) throw new Error(`${this.name} is already running`);
    const { bin, args, env } = this.spec;
    if (!fs.existsSync(bin)) {
      throw new Error(`${this.name}: ${bin} does not exist; build first (script/build)`);
    }
    this.runs += 1;
    const header = `\n===== ${this.name} run ${this.runs}: ${bin} ${args.join(' ')}\n`;
    fs.appendFileSync(this.logPath, header);
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args], {
      env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.expect = null;           // null: must not exit; 'clean': exit 0; 'any'
    this.sigstopped = false;      // we sent SIGSTOP and no SIGCONT since
    liveChildren.add(child);
    const onData = (chunk) => this.#onOutput(chunk);
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => this.#onOutput(`spawn error: ${err.message}\n`));
      // 'close' comes after the pipes drained, so the output (a sanitizer
      // report) is complete. A grandchild still holding the pipes would
      // delay it forever, so after 'exit' give it 2 s at most.
      let status = null;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        liveChildren.delete(child);
        const rec = { run: this.runs, code: status.code, signal: status.signal, expect: this.expect };
        this.history.push(rec);
        if (this.child === child) this.child = null;
        resolve(rec);
      };
      child.on('exit', (code, signal) => {
        status = { code, signal };
        setTimeout(finish, 2000).unref();
      });
      child.on('close', (code, signal) => {
        status ??= { code, signal };
        finish();
      });
    });
    this.waiters = [];
  }

  #onOutput(chunk) {
    const text = chunk.toString();
    // The output is kept in memory (failure dumps read it) even when its
    // log file cannot be written - say, the system's temp dir was removed
    // under a running system: that once threw here, before the output was
    // kept, and the dumps showed none of what the processes said.
    try {
      fs.appendFileSync(this.logPath, text);
    } catch (e) {
      if (!this.logLost) process.stderr.write(`${this.name}: cannot write ${this.logPath}: ${e.code || e.message}\n`);
      this.logLost = true;
    }
    const joined = this.output.slice(-200) + text;
    if (!this.sanitizer) {
      const m = SANITIZER_RE.exec(joined);
      if (m) {
        const lineStart = joined.lastIndexOf('\n', m.index) + 1;
        const lineEnd = joined.indexOf('\n', m.index);
        this.sanitizer = joined.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
      }
    }
    this.output += text;
    if (this.output.length > OUTPUT_KEEP) this.output = this.output.slice(-OUTPUT_KEEP);
    for (const w of this.waiters) w();
  }

  /** Resolve when the output of the current run matches re (bounded). */
  waitOutput(re, timeoutMs) {
    const from = this.output.length;
    return this.waitFor(() => re.test(this.output.slice(Math.max(0, from - 200))),
      timeoutMs, `no ${re} in its output`);
  }

  /** Resolve when pred() holds, checked now and on every output (bounded). */
  waitFor(pred, timeoutMs, what = 'its output never met the condition') {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pred()) {
          cleanup(); resolve(); return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = () => { if (!check()) { cleanup(); reject(new Error(`${this.name} exited: ${what}`)); } };
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      this.exited.then(onExit);
      check();
    });
  }

  /** Send a signal. TERM/INT: it must then exit 0; KILL etc.: any exit is fine. */
  signal(sig) {
    if (!this.child) throw new Error(`${this.name} is not running`);
    if (sig === 'SIGTERM' || sig === 'SIGINT') this.expect = 'clean';
    else if (sig !== 'SIGSTOP' && sig !== 'SIGCONT') this.expect = 'any';
    // A process we stopped does not act on TERM until continued, so continue
    // it first. Only then: a SIGCONT discards every pending SIGSTOP, and in a
    // sanitizer build exiting on TERM, LeakSanitizer's ptrace attach waits for
    // one forever (an ASan broker hung after "broker stopped"; broker/README.md).
    if (this.sigstopped && sig !== 'SIGSTOP' && sig !== 'SIGCONT') this.child.kill('SIGCONT');
    this.sigstopped = sig === 'SIGSTOP';
    this.child.kill(sig);
  }

  /** A hung process: append every thread's stack (gdb, if installed) to its log. */
  dumpStacks() {
    if (!this.child) return;
    const r = spawnSync('gdb', ['-p', String(this.child.pid), '-batch', '-nx',
      '-ex', 'set pagination off', '-ex', 'thread apply all bt'], { encoding: 'utf8', timeout: 15000 });
    const text = r.error ? `(no stacks: ${r.error.message})` : r.stdout;
    fs.appendFileSync(this.logPath, `\n===== ${this.name} did not exit: stacks\n${text}\n`);
    this.output += `\n===== stacks of the hung ${this.name}\n${text.split('\n').filter((l) => /^(Thread|#)/.test(l)).join('\n')}\n`;
  }

  tail(lines = 30) {
    // The config dump every process starts with is noise in a failure report.
    const all = this.output.trimEnd().split('\n').filter((l) => !/ INFO config |"level":"info",.*"msg":"config /.test(l));
    return all.slice(-lines).join('\n');
  }
}

// ---- a whole system ------------------------------------------------------

/**
 * PARLEY_E2E_ENV: extra PARLEY_* settings for every process of every test,
 * space-separated NAME=value pairs (a test's own env wins), e.g.
 * PARLEY_E2E_ENV='PARLEY_WORKER_BATCH=0' to run the suite against the
 * one-at-a-time worker loop. The harness passes no other PARLEY_* of its
 * own environment through, so that a developer's shell cannot change a run.
 */
function e2eEnv() {
  const extra = {};
  for (const pair of (process.env.PARLEY_E2E_ENV || '').split(/\s+/).filter(Boolean)) {
    const m = /^(PARLEY_[A-Z0-9_]+)=(.*)$/.exec(pair);
    if (!m) throw new Error(`PARLEY_E2E_ENV: "${pair}" is not PARLEY_NAME=value`);
    extra[m[1]] = m[2];
  }
  return extra;
}

export class System {
  /**
   * opts:
   *   workers   number of actors workers (default 1; 0 for none)
   *   services  {service: count} for the other services (default 1 each
   *             when workers > 0, else 0), e.g. {rooms: 2}
   *   gateways  number of gateways (default 1)
   *   sharedPort the gateways listen on ONE port (PARLEY_REUSEPORT=1, the
   *             kernel spreads connections) with ids gw-1, gw-2, ...
   *             (sys.gatewayId); health(gateway) then opens connections
   *             until one lands on that gateway
   *   env       extra PARLEY_* for every process (e.g. PARLEY_PING_INTERVAL_MS)
   *   wait      wait for /healthz 200 with every worker registered (default
   *             true when workers > 0)
   *   bins      {broker, actors, <service>, gateway} paths instead of $PARLEY_BUILD_DIR's
   *             (the harness's own test uses stand-ins)
   *   binDir    an installed bin directory (`cmake --install`): every binary
   *             is <binDir>/parley-<name> instead of the build tree's
   *   baseEnv   PARLEY_* settings under the harness's own (private dirs,
   *             secret, Redis, bind address, port), e.g. an installed
   *             parley.env.example's
   *   gatewayEnv extra env for the gateways only (over env); PARLEY_HUD_DIR
   *             is <build dir>/hud unless env or gatewayEnv set it
   */
  constructor(opts = {}) {
    this.opts = { workers: 1, gateways: 1, env: {}, ...opts };
    this.procs = new Map();
    this.sockets = new Set();
    this.problems = [];
  }

  async init() {
    this.dir = await fsp.mkdtemp('/tmp/pl-');
    this.dataDir = path.join(this.dir, 'data');
    this.runDir = path.join(this.dir, 'run');
    await fsp.mkdir(this.dataDir, { recursive: true });
    await fsp.mkdir(this.runDir, { recursive: true, mode: 0o700 });
    this.secret = crypto.randomBytes(24).toString('hex');
    this.ports = [];
    const shared = this.opts.sharedPort ? await freePort() : 0;
    for (let i = 0; i < this.opts.gateways; i++) this.ports.push(shared || await freePort());

    const base = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith('PARLEY_')) base[k] = v;
    }
    this.env = {
      ...base,
      ...this.opts.baseEnv,
      PARLEY_BIND: '127.0.0.1',
      PARLEY_JWT_SECRET: this.secret,
      PARLEY_REDIS_URL: `unix://${path.join(this.dir, 'redis.sock')}`,
      PARLEY_DATA_DIR: this.dataDir,
      PARLEY_RUN_DIR: this.runDir,
      PARLEY_LOG_LEVEL: process.env.PARLEY_E2E_LOG_LEVEL || 'info',
      ...e2eEnv(),
      ...this.opts.env,
    };

    this.#define('redis', {
      bin: '/usr/bin/redis-server',
      args: ['--port', '0', '--unixsocket', path.join(this.dir, 'redis.sock'),
        '--unixsocketperm', '700', '--daemonize', 'no', '--dir', this.dataDir,
        '--appendonly', 'yes', '--save', '', '--logfile', ''],
      env: this.env,
    });
    this.bins = { ...(this.opts.binDir ? installedBins(this.opts.binDir) : BIN), ...this.opts.bins };
    this.#define('broker', { bin: this.bins.broker, args: [], env: this.env });
    for (let i = 0; i < this.opts.workers; i++) this.addWorker('actors');
    for (const svc of SERVICES) {
      if (svc === 'actors') continue;
      const n = this.opts.services?.[svc] ?? (this.opts.workers > 0 ? 1 : 0);
      for (let i = 0; i < n; i++) this.addWorker(svc);
    }
    for (let i = 0; i < this.opts.gateways; i++) {
      this.#define(i === 0 ? 'gateway' : `gateway-${i + 1}`, {
        bin: this.bins.gateway, args: [],
        env: {
          // the build's HUD (clients/hud/CMakeLists.txt), unless env or gatewayEnv say
          PARLEY_HUD_DIR: path.join(buildDir, 'hud'),
          ...this.env, ...this.opts.gatewayEnv, PARLEY_PORT: String(this.ports[i]),
          ...(shared ? { PARLEY_REUSEPORT: '1', PARLEY_GATEWAY_ID: this.gatewayId(i) } : {}),
        },
      });
    }
  }

  #define(name, spec) {
    this.procs.set(name, new Proc(name, spec, path.join(this.dir, `${name}.log`)));
  }

  /** Define one more worker of service (not started); returns its name:
   *  the service, then <service>-2, <service>-3... */
  addWorker(svc = 'actors') {
    const n = this.workersOf(svc).length;
    const name = n === 0 ? svc : `${svc}-${n + 1}`;
    this.#define(name, { bin: this.bins[svc], args: [], env: this.env });
    return name;
  }

  /** The names of service's workers. */
  workersOf(svc) {
    const re = new RegExp(`^${svc}(?:-\\d+)?$`);
    return this.names.filter((n) => re.test(n));
  }

  proc(name) {
    // Workers can be started by name even when the system began with fewer.
    const m = /^([a-z]+)(?:-(\d+))?$/.exec(name);
    if (!this.procs.has(name) && m && SERVICES.includes(m[1])) {
      const want = m[2] === undefined ? 1 : Number(m[2]);
      while (this.workersOf(m[1]).length < want) this.addWorker(m[1]);
    }
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process named ${name} (have ${[...this.procs.keys()].join(', ')})`);
    return p;
  }

  get names() { return [...this.procs.keys()]; }
  get workerNames() { return SERVICES.flatMap((svc) => this.workersOf(svc)); }
  get gatewayNames() { return this.names.filter((n) => n.startsWith('gateway')); }

  /** The id of a gateway of a sharedPort system (a name or an index). */
  gatewayId(gateway = 'gateway') {
    const i = typeof gateway === 'number' ? gateway
      : gateway === 'gateway' ? 0 : Number(gateway.split('-')[1]) - 1;
    return `gw-${i + 1}`;
  }

  /** http://127.0.0.1:port of a gateway. */
  url(gateway = 'gateway') {
    const i = gateway === 'gateway' ? 0 : Number(gateway.split('-')[1]) - 1;
    return `http://127.0.0.1:${this.ports[i]}`;
  }

  /** The Engine.IO path the gateways serve (env PARLEY_PATH, default /socket.io/). */
  get eioPath() { return this.env?.PARLEY_PATH || '/socket.io/'; }

  wsUrl(gateway = 'gateway') {
    return `${this.url(gateway).replace('http', 'ws')}${this.eioPath}?EIO=4&transport=websocket`;
  }

  /** Start one process by name; for redis, wait until it accepts connections. */
  async start(name) {
    const p = this.proc(name);
    p.start();
    if (name === 'redis') await p.waitOutput(/ready to accept connections/i, 10000);
  }

  /** Start everything that is not running, then wait for /healthz (see opts.wait). */
  async startAll() {
    const order = ['redis', 'broker', ...this.workerNames, ...this.gatewayNames];
    for (const name of order) if (!this.proc(name).running) await this.start(name);
    const wait = this.opts.wait ?? this.opts.workers > 0;
    if (wait) {
      const want = Object.fromEntries(SERVICES.map((svc) => [svc, this.workersOf(svc).length]));
      const all = (b) => SERVICES.every((svc) => (b?.services?.[svc]?.workers ?? 0) === want[svc]);
      for (const gw of this.gatewayNames) {
        await this.waitHealth({ gateway: gw, status: 200, pred: all });
      }
    }
  }

  /**
   * Send a signal to a process. For signals that end it, resolves once it
   * has exited (bounded); SIGSTOP/SIGCONT resolve at once.
   */
  async kill(name, sig = 'SIGTERM') {
    const p = this.proc(name);
    const exited = p.exited;
    p.signal(sig);
    if (sig === 'SIGSTOP' || sig === 'SIGCONT') return null;
    return this.#bounded(exited, STOP_TIMEOUT_MS, `${name} did not exit within ${STOP_TIMEOUT_MS} ms of ${sig} (stacks in its log)`,
      () => { p.dumpStacks(); p.child?.kill('SIGKILL'); });
  }

  async #bounded(promise, ms, message, onTimeout) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => { onTimeout?.(); reject(new Error(message)); }, ms);
    });
    try { return await Promise.race([promise, timeout]); } finally { clearTimeout(timer); }
  }

  /**
   * SIGTERM every running process (gateways and workers, then the broker,
   * then redis), wait for each, and record a problem for any that exited
   * non-zero or by a signal, or did not exit in time.
   */
  async stopAll() {
    for (const s of this.sockets) s.disconnect();
    this.sockets.clear();
    const groups = [
      [...this.gatewayNames, ...this.workerNames],
      ['broker'],
      ['redis'],
    ];
    for (const group of groups) {
      await Promise.all(group.filter((n) => this.proc(n).running).map(async (n) => {
        try {
          await this.kill(n, 'SIGTERM');
        } catch (e) {
          this.problems.push(e.message);
        }
      }));
    }
    this.#audit();
  }

  /** Check every run of every process that has ended, once. */
  #audit() {
    for (const p of this.procs.values()) {
      for (const rec of p.history) {
        if (rec.audited) continue;
        rec.audited = true;
        const how = rec.signal ? `signal ${rec.signal}` : `code ${rec.code}`;
        if (rec.expect === null) {
          this.problems.push(`${p.name} (run ${rec.run}) exited on its own with ${how}`);
        } else if (rec.expect === 'clean' && (rec.signal || rec.code !== 0)) {
          this.problems.push(`${p.name} (run ${rec.run}) exited with ${how} after SIGTERM (expected 0)`);
        }
      }
      if (p.sanitizer) {
        const msg = `${p.name}: sanitizer report: ${p.sanitizer}`;
        if (!this.problems.includes(msg)) this.problems.push(msg);
      }
    }
  }

  /** Stop everything on the same data dir and start it all again. */
  async restartAll() {
    await this.stopAll();
    this.#throwProblems('restartAll');
    await this.startAll();
  }

  /**
   * The end of a system: close sockets, SIGTERM everything, then throw if
   * anything went wrong (with the logs' tails); the temp dir is removed on
   * success and kept on failure.
   */
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    await this.stopAll();
    if (this.problems.length === 0 && !process.env.PARLEY_E2E_KEEP) {
      await fsp.rm(this.dir, { recursive: true, force: true });
      return;
    }
    this.#throwProblems('stop');
  }

  #throwProblems(where) {
    if (this.problems.length === 0) return;
    const msg = `${where}: ${this.problems.join('; ')}\n${this.logTails()}\n(logs kept in ${this.dir})`;
    this.problems = [];
    throw new Error(msg);
  }

  logTails(lines = 25) {
    const out = [];
    for (const p of this.procs.values()) {
      if (p.runs === 0) continue;
      out.push(`---- ${p.name} (${p.logPath}), last ${lines} lines:\n${p.tail(lines)}`);
    }
    return out.join('\n');
  }

  dumpLogs(why = '') {
    process.stderr.write(`\n==== Parley logs${why ? ` (${why})` : ''}, dir ${this.dir}\n${this.logTails()}\n`);
  }

  // ---- HTTP ----

  async health(gateway = 'gateway') {
    if (this.opts.sharedPort) {
      // the kernel picks the gateway of each new connection
      const want = this.gatewayId(gateway);
      let last;
      for (let i = 0; i < 64; i++) {
        last = await httpOnce(`${this.url()}/healthz`);
        if (last.body?.gateway === want) return last;
      }
      throw new Error(`/healthz: 64 new connections, none reached ${want} (last ${last.status})`);
    }
    const res = await fetch(`${this.url(gateway)}/healthz`, { signal: AbortSignal.timeout(2000) });
    const text = await res.text();
    let body;
    try { body = JSON.parse(text); } catch { body = text; }
    return { status: res.status, body, headers: res.headers };
  }

  /** Poll /healthz (every 100 ms, bounded) until status and pred(body) hold. */
  async waitHealth({ gateway = 'gateway', status = 200, pred = () => true, timeoutMs = READY_TIMEOUT_MS } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      for (const p of this.procs.values()) {
        // A process that died while we wait will not come back by itself.
        if (p.runs > 0 && !p.running && p.history.at(-1)?.expect === null) {
          throw new Error(`${p.name} exited while waiting for /healthz\n${this.logTails()}`);
        }
      }
      try {
        const h = await this.health(gateway);
        last = `${h.status} ${JSON.stringify(h.body)}`;
        if (h.status === status && pred(h.body)) return h;
      } catch (e) {
        last = e.cause?.code || e.message;
      }
      if (Date.now() >= deadline) {
        throw new Error(`${gateway} /healthz: wanted ${status}, last ${last} after ${timeoutMs} ms\n${this.logTails()}`);
      }
      await sleep(100);
    }
  }

  // ---- Socket.IO ----

  /** A JWT signed with this system's secret (override with {secret}). */
  token({ secret, alg, header, ...claims } = {}) {
    return makeToken(claims, { secret: secret ?? this.secret, alg, header });
  }

  /**
   * A socket.io-client socket (not yet connected). token undefined: no auth
   * at all; opts.gateway picks a gateway; opts.io is merged into io()'s
   * options (reconnection is off unless asked). The transports are
   * ['websocket'] unless PARLEY_E2E_TRANSPORTS says otherwise: a comma list
   * ("polling", "polling,websocket"), or "default" for socket.io-client's
   * own default (polling, then the upgrade).
   */
  connect(token, opts = {}) {
    const want = process.env.PARLEY_E2E_TRANSPORTS || 'websocket';
    const transports = want === 'default' ? {} : { transports: want.split(',') };
    const s = io(this.url(opts.gateway), {
      ...transports,
      reconnection: false,
      forceNew: true,
      timeout: 5000,
      path: this.eioPath,
      ...(token === undefined ? {} : { auth: { token } }),
      ...opts.io,
    });
    this.sockets.add(s);
    return s;
  }

  /** Connect and resolve with the socket once connected (bounded). */
  connectOk(token, opts = {}) {
    const s = this.connect(token, opts);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connect within 5000 ms')), 5000);
      s.once('connect', () => { clearTimeout(timer); resolve(s); });
      s.once('connect_error', (err) => { clearTimeout(timer); reject(new Error(`connect_error: ${err.message}`)); });
    });
  }

  /** Connect and resolve with the connect_error (rejects if it connects). */
  connectError(token, opts = {}) {
    const s = this.connect(token, opts);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('neither connect nor connect_error within 5000 ms')), 5000);
      s.once('connect', () => { clearTimeout(timer); s.disconnect(); reject(new Error('connected, expected connect_error')); });
      s.once('connect_error', (err) => { clearTimeout(timer); s.disconnect(); resolve(err); });
    });
  }

  /** Connected socket for user `sub`. */
  user(sub, name) {
    return this.connectOk(this.token({ sub, name }));
  }
}

/**
 * One HTTP request on a new connection (closed after it), bounded:
 * {status, body (parsed JSON when it is), text, headers}. With several
 * gateways on one port, each call may land on any of them.
 */
export function httpOnce(url, { method = 'GET', body, headers = {}, timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed;
        try { parsed = JSON.parse(text); } catch { parsed = text; }
        resolve({ status: res.statusCode, body: parsed, text, headers: res.headers });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function startSystem(opts = {}) {
  const sys = new System(opts);
  await sys.init();
  try {
    await sys.startAll();
  } catch (e) {
    // Leave nothing running; report the start failure, not a stop failure.
    try { await sys.stopAll(); } catch { /* already failing */ }
    e.message += `\n(logs kept in ${sys.dir})`;
    throw e;
  }
  return sys;
}

/**
 * One system for a whole test file:
 *   const h = useSystem({ workers: 1 });
 *   h.test('name', async (t, sys) => { ... });
 * starts the system in before(), stops (and checks) it in after(), and
 * prints the logs' tails when a test fails.
 */
export function useSystem(opts = {}) {
  const h = { sys: null };
  before(async () => { h.sys = await startSystem(opts); }, { timeout: 60000 });
  after(async () => { if (h.sys) await h.sys.stop(); }, { timeout: 60000 });
  h.test = (name, o, fn) => {
    if (typeof o === 'function') { fn = o; o = {}; }
    return test(name, { timeout: 30000, ...o }, async (t) => {
      if (!h.sys) throw new Error('system did not start');
      try {
        return await fn(t, h.sys);
      } catch (e) {
        h.sys.dumpLogs(`test "${name}" failed`);
        throw e;
      }
    });
  };
  return h;
}

/** Assert an ack is a failure with one of the codes; returns the error. */
export function expectError(ack, ...codes) {
  if (!ack || ack.success !== false || !ack.error) {
    throw new Error(`expected a failed ack with ${codes.join('|')}, got ${JSON.stringify(ack)}`);
  }
  if (!codes.includes(ack.error.code)) {
    throw new Error(`expected error ${codes.join('|')}, got ${JSON.stringify(ack.error)}`);
  }
  if (typeof ack.error.message !== 'string' || ack.error.message.length === 0) {
    throw new Error(`error without a message: ${JSON.stringify(ack.error)}`);
  }
  return ack.error;
}

/** Assert an ack is a success; returns its data. */
export function expectOk(ack) {
  if (!ack || ack.success !== true) throw new Error(`expected success, got ${JSON.stringify(ack)}`);
  return ack.data;
}
