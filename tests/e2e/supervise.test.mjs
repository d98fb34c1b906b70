// script/server as a supervisor: run the real script (with --build-dir, so
// it neither installs nor builds) on a free port and a private data dir,
// SIGKILL a worker, the broker and the gateway one at a time, and see each
// come back alone (a new pid, every other pid unchanged) while requests
// through socket.io-client succeed again; then a worker killed again and
// again makes the script stop everything with exit 1. A second run with
// --workers 2 --gateways 2 restarts the second gateway alone, and SIGTERM
// stops everything with exit 0 and no process left; so does Ctrl-C (SIGINT
// to the whole process group), with no restart on the way. Every wait is on a line
// the script prints or an ack, bounded in time.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { test, after } from 'node:test';
import { io } from 'socket.io-client';
import {
  buildDir, repoRoot, freePort, makeToken, emitAck, eventually, expectOk,
} from './lib/system.mjs';

const SANITIZER_RE = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;
const START_TIMEOUT_MS = 60000;     // bootstrap-free, but an ASan build starts slowly

/** One script/server run, its stderr kept and searchable. */
class Server {
  constructor(args = [], { detached = false } = {}) {
    this.args = args;
    this.detached = detached;       // its own process group, as a terminal's job
    this.dir = fs.mkdtempSync('/tmp/pl-sup-');
    this.secret = crypto.randomBytes(24).toString('hex');
    this.err = '';
    this.out = '';
    this.waiters = new Set();
    this.exit = null;               // {code, signal} once it ended
  }

  async start() {
    this.port = await freePort();
    const env = { ...process.env };
    for (const k of Object.keys(env)) {
      if (/^PARLEY_(WORKERS|REDIS_URL|RUN_DIR|GATEWAY_ID|BIND|PATH$)/.test(k)) delete env[k];
    }
    Object.assign(env, {
      PARLEY_PORT: String(this.port),
      PARLEY_DATA_DIR: this.dir,
      PARLEY_JWT_SECRET: this.secret,
    });
    this.child = spawn(path.join(repoRoot, 'script/server'),
      ['--build-dir', buildDir, ...this.args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: this.detached });
    this.child.stdout.on('data', (d) => { this.out += d; });
    this.child.stderr.on('data', (d) => { this.err += d; this.poke(); });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => { this.exit = { code, signal }; this.poke(); resolve(this.exit); });
    });
    await this.waitLine(/ up: http:/, 0, START_TIMEOUT_MS);
  }

  poke() { for (const w of this.waiters) w(); }

  /** Resolve with the match of re in stderr after offset; reject on exit or timeout. */
  waitLine(re, offset = 0, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.err.slice(offset).match(re);
        if (m) { done(); resolve(m); return; }
        if (this.exit) { done(); reject(new Error(`script/server exited (${JSON.stringify(this.exit)}) before ${re}:\n${this.err.slice(-3000)}`)); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`no ${re} within ${timeoutMs} ms:\n${this.err.slice(-3000)}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  /** name -> pid of the latest start of each child, from logs/server.log. */
  pids() {
    const log = fs.readFileSync(path.join(this.dir, 'logs/server.log'), 'utf8');
    const pids = {};
    for (const m of log.matchAll(/ started (\S+) pid (\d+)$/gm)) pids[m[1]] = Number(m[2]);
    return pids;
  }

  /** SIGKILL child `name`; resolve with its new pid once the script says it is back. */
  async killAndWaitBack(name) {
    const old = this.pids()[name];
    assert.ok(old, `a pid for ${name}`);
    const offset = this.err.length;
    process.kill(old, 'SIGKILL');
    const died = await this.waitLine(new RegExp(`${name} \\(pid ${old}\\) was killed by SIGKILL`), offset);
    assert.ok(died);
    const m = await this.waitLine(new RegExp(`${name} is back \\(pid (\\d+)\\)`), offset);
    const pid = Number(m[1]);
    assert.notEqual(pid, old);
    assert.equal(this.pids()[name], pid, 'server.log records the new pid');
    return pid;
  }

  token(sub) { return makeToken({ sub, name: sub }, { secret: this.secret }); }

  async connect(sub) {
    const s = io(`http://127.0.0.1:${this.port}`, {
      transports: ['websocket'], auth: { token: this.token(sub) }, reconnectionDelayMax: 500,
    });
    await new Promise((resolve, reject) => {
      s.once('connect', resolve);
      s.once('connect_error', reject);
    });
    return s;
  }

  async stop() {
    if (!this.exit) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 30000);
      await this.exited;
      clearTimeout(t);
    }
    return this.exit;
  }

  /** Sanitizer lines in any of its logs. */
  sanitizerReports() {
    const logs = path.join(this.dir, 'logs');
    const found = [];
    for (const f of fs.readdirSync(logs)) {
      const text = fs.readFileSync(path.join(logs, f), 'utf8');
      const m = text.match(SANITIZER_RE);
      if (m) found.push(`${f}: ${m[0]}`);
    }
    return found;
  }

  cleanup() { fs.rmSync(this.dir, { recursive: true, force: true }); }
}

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code !== 'ESRCH'; }
}

/** Every pid but `name`'s is what it was. */
function othersUnchanged(before, after, name) {
  for (const [n, pid] of Object.entries(before)) {
    if (n === name) continue;
    assert.equal(after[n], pid, `${n} was not restarted`);
    assert.ok(alive(pid), `${n} (pid ${pid}) still runs`);
  }
}

const created = (s, name) => eventually(async () => {
  const ack = await emitAck(s, 'actor:create', { name, type: 'pc' }, 3000);
  return ack.success && ack.data;
}, { timeoutMs: 20000, what: `actor:create "${name}" succeeds` });

const servers = [];
after(async () => {
  for (const srv of servers) { await srv.stop(); srv.cleanup(); }
});

test('supervision: each kind of process SIGKILLed comes back alone, then a crash loop stops everything', async (t) => {
  const srv = new Server();
  servers.push(srv);
  await srv.start();
  const s = await srv.connect('sup-alice');
  try {
    expectOk(await emitAck(s, 'actor:create', { name: 'Before', type: 'pc' }));
    const first = srv.pids();
    for (const n of ['redis', 'broker', 'actors', 'rules', 'gateway']) assert.ok(first[n], `${n} started`);

    await t.test('a worker', async () => {
      const before = srv.pids();
      const pid = await srv.killAndWaitBack('actors');
      const a = await created(s, 'After worker kill');
      assert.equal(a.version, 1);
      assert.ok(alive(pid));
      othersUnchanged(before, srv.pids(), 'actors');
    });

    await t.test('the broker', async () => {
      const before = srv.pids();
      await srv.killAndWaitBack('broker');
      await created(s, 'After broker kill');
      othersUnchanged(before, srv.pids(), 'broker');
    });

    await t.test('the gateway', async () => {
      const before = srv.pids();
      const offset = srv.err.length;
      const reconnected = new Promise((resolve) => s.io.once('reconnect', resolve));
      await srv.killAndWaitBack('gateway');
      await reconnected;               // the same socket.io-client, reconnected
      await created(s, 'After gateway kill');
      othersUnchanged(before, srv.pids(), 'gateway');
      assert.doesNotMatch(srv.err.slice(offset), /restarting it in [0-9]+ ms[\s\S]*restarting it in/, 'one restart only');
    });

    await t.test('deaths logged in logs/server.log too', () => {
      const log = fs.readFileSync(path.join(srv.dir, 'logs/server.log'), 'utf8');
      for (const n of ['actors', 'broker', 'gateway']) {
        assert.match(log, new RegExp(`${n} \\(pid \\d+\\) was killed by SIGKILL after \\d+ ms up; restarting it in 100 ms`));
        assert.match(log, new RegExp(`${n} is back \\(pid \\d+\\)`));
      }
    });

    await t.test('a worker that keeps dying: 5 deaths in 10 s stop everything, exit 1', async () => {
      const all = Object.values(srv.pids());
      // The backoff doubles: 100, 200, 400, 800 ms; the 5th death ends it.
      const delays = [];
      for (let i = 1; i <= 4; i++) {
        const offset = srv.err.length;
        await srv.killAndWaitBack('rules');
        delays.push(Number(srv.err.slice(offset).match(/restarting it in (\d+) ms/)[1]));
        assert.equal(srv.exit, null, `still running after ${i} deaths`);
      }
      assert.deepEqual(delays, [100, 200, 400, 800]);
      const last = srv.pids().rules;
      process.kill(last, 'SIGKILL');
      const { code } = await srv.exited;
      assert.equal(code, 1);
      assert.match(srv.err, new RegExp(`rules \\(pid ${last}\\) was killed by SIGKILL; it died 5 times within 10 s: it keeps dying, stopping everything`));
      assert.match(srv.err, /stopped: rules keeps dying/);
      for (const pid of [...all, ...Object.values(srv.pids())]) assert.ok(!alive(pid), `pid ${pid} is gone`);
    });
  } finally {
    s.close();
  }
  assert.deepEqual(srv.sanitizerReports(), []);
});

test('--workers 2 --gateways 2: the second gateway restarted alone; SIGTERM stops everything, exit 0', async () => {
  const srv = new Server(['--workers', '2', '--gateways', '2']);
  servers.push(srv);
  await srv.start();
  const before = srv.pids();
  assert.ok(before['actors-2'] && before['gateway-2'], 'two workers and two gateways');
  await srv.killAndWaitBack('gateway-2');
  othersUnchanged(before, srv.pids(), 'gateway-2');
  const s = await srv.connect('sup-bob');
  await created(s, 'Two gateways');
  s.close();
  const all = Object.values(srv.pids());
  const { code } = await srv.stop();
  assert.equal(code, 0);
  for (const pid of all) assert.ok(!alive(pid), `pid ${pid} is gone`);
  assert.deepEqual(srv.sanitizerReports(), []);
});

test('Ctrl-C (SIGINT to the process group): everything stops, nothing restarted, exit 0', async () => {
  const srv = new Server([], { detached: true });
  servers.push(srv);
  await srv.start();
  const all = Object.values(srv.pids());
  const offset = srv.err.length;
  process.kill(-srv.child.pid, 'SIGINT');
  const { code } = await srv.exited;
  assert.equal(code, 0);
  assert.match(srv.err.slice(offset), /server: stopping/);
  assert.doesNotMatch(srv.err.slice(offset), /restarting it in|is back/);
  for (const pid of all) assert.ok(!alive(pid), `pid ${pid} is gone`);
  assert.deepEqual(srv.sanitizerReports(), []);
});
