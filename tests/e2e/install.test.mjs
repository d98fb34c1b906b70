// The installable build (issue 13, section 4; deploy/README.md): `cmake
// --install` of $PARLEY_BUILD_DIR into a DESTDIR installs exactly the
// binaries, the systemd units, the example environment file and the HUD; the units'
// ExecStart= follow the install-time --prefix; `systemd-analyze verify`
// accepts them and refuses broken copies; then the INSTALLED binaries (not
// the build tree's) run a whole system - with the installed example env
// file under the harness's private settings - that serves /healthz, a
// token minted by the installed parley-token, a socket.io request and a
// REST one; and the two-host layout of deploy/README.md (every ZeroMQ
// endpoint on tcp://, the gateway with only the host-A settings) works.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, after, test } from 'node:test';
import {
  startSystem, buildDir, repoRoot, SERVICES, emitAck, expectOk, waitEvent, freePort,
} from './lib/system.mjs';
import { rest } from './lib/campaign.mjs';

const PREFIX = '/usr/local';
const UNITDIR = 'lib/systemd/system';           // PARLEY_SYSTEMD_UNITDIR's default
const DOCDIR = 'share/doc/parley';              // GNUInstallDirs' docdir for project parley
const HUDDIR = 'share/parley/hud';              // clients/hud/CMakeLists.txt: <datadir>/parley/hud
const UNITS = ['parley-broker.service', 'parley-gateway.service', 'parley-worker@.service', 'parley.target'];

let scratch;                                     // /tmp/pl-inst-XXXXXX: the DESTDIRs
const destdir = (name) => path.join(scratch, name);

/** `DESTDIR=<dir> cmake --install $PARLEY_BUILD_DIR --prefix <prefix>`. */
function install(dir, prefix) {
  const r = spawnSync('cmake', ['--install', buildDir, '--prefix', prefix], {
    env: { ...process.env, DESTDIR: dir }, encoding: 'utf8', timeout: 120000,
  });
  assert.equal(r.status, 0, `cmake --install failed (${r.error?.message ?? r.status}):\n${r.stdout}\n${r.stderr}`);
}

/** Every file and symlink under dir, as paths relative to it, sorted. */
function listFiles(dir) {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out.sort();
}

/** parleyctl is installed when the build has it (its own directory: tools/ or ctl/). */
function builtParleyctl() {
  return fs.readdirSync(buildDir, { withFileTypes: true })
    .some((e) => e.isDirectory() && fs.existsSync(path.join(buildDir, e.name, 'parleyctl')));
}

function expectedFiles(prefix) {
  const p = prefix.replace(/^\//, '');
  const bins = ['broker', 'gateway', 'token', ...SERVICES].map((n) => `parley-${n}`);
  if (builtParleyctl()) bins.push('parleyctl');
  return [
    ...bins.map((b) => `${p}/bin/${b}`),
    ...UNITS.map((u) => `${p}/${UNITDIR}/${u}`),
    `${p}/${DOCDIR}/parley.env.example`,
    // the HUD: what the build assembled in <build>/hud, all of it
    ...listFiles(path.join(buildDir, 'hud')).map((f) => `${p}/${HUDDIR}/${f}`),
  ].sort();
}

/** The values of `Key=` lines of a unit file. */
const unitValues = (text, key) => text.split('\n')
  .filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

/**
 * An EnvironmentFile (systemd.exec: NAME=value lines, # and ; comments,
 * optional quotes) as an object; commented-out assignments are returned
 * apart, so that their names can be checked too.
 */
function parseEnvFile(text) {
  const env = {};
  const commented = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const off = /^[#;]\s*(PARLEY_[A-Z0-9_]+)=/.exec(line);
    if (off) { commented.push(off[1]); continue; }
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    assert.ok(m, `not NAME=value: ${raw}`);
    env[m[1]] = m[2].replace(/^"(.*)"$|^'(.*)'$/, '$1$2');
  }
  return { env, commented };
}

before(() => {
  scratch = fs.mkdtempSync('/tmp/pl-inst-');
  install(destdir('usr-local'), PREFIX);
});
after(() => {
  if (!process.env.PARLEY_E2E_KEEP) fs.rmSync(scratch, { recursive: true, force: true });
});

test('cmake --install into a DESTDIR installs exactly the binaries, the units, the example env file and the HUD', () => {
  const root = destdir('usr-local');
  assert.deepEqual(listFiles(root), expectedFiles(PREFIX));
  for (const f of listFiles(root)) {
    const mode = fs.statSync(path.join(root, f)).mode & 0o777;
    assert.equal(mode, f.includes('/bin/') ? 0o755 : 0o644, `mode of ${f}: ${mode.toString(8)}`);
  }
  const unit = (u) => fs.readFileSync(path.join(root, PREFIX, UNITDIR, u), 'utf8');
  assert.deepEqual(unitValues(unit('parley-broker.service'), 'ExecStart'), [`${PREFIX}/bin/parley-broker`]);
  assert.deepEqual(unitValues(unit('parley-gateway.service'), 'ExecStart'), [`${PREFIX}/bin/parley-gateway`]);
  assert.deepEqual(unitValues(unit('parley-gateway.service'), 'Environment'), [`PARLEY_HUD_DIR=${PREFIX}/${HUDDIR}`]);
  assert.deepEqual(unitValues(unit('parley-worker@.service'), 'ExecStart'), [`${PREFIX}/bin/parley-%i`]);
  for (const u of UNITS.filter((x) => x.endsWith('.service'))) {
    assert.deepEqual(unitValues(unit(u), 'EnvironmentFile'), ['/etc/parley/parley.env'], u);
    assert.doesNotMatch(unit(u), /@[A-Z_]+@/, `${u}: an unconfigured @VARIABLE@`);
  }
  // parley.target wants one worker instance per service, and nothing unknown.
  const wants = unitValues(unit('parley.target'), 'Wants').flatMap((v) => v.split(/\s+/)).filter(Boolean);
  assert.deepEqual(wants.filter((w) => w.startsWith('parley-worker@')).sort(),
    SERVICES.map((s) => `parley-worker@${s}.service`).sort());
  assert.deepEqual(wants.filter((w) => !w.startsWith('parley-worker@')).sort(),
    ['parley-broker.service', 'parley-gateway.service', 'redis-server.service']);
});

test('the HUD is installed: socket.io-client\'s bundle and @parley/client, as the sources have them', () => {
  const hud = path.join(destdir('usr-local'), PREFIX, HUDDIR);
  for (const [f, src] of [
    ['vendor/socket.io.esm.min.js', 'clients/js/node_modules/socket.io-client/dist/socket.io.esm.min.js'],
    ['lib/parley/index.js', 'clients/js/index.js'],
    ['lib/parley/session.js', 'clients/js/session.js'],
    ['lib/parley/store.js', 'clients/js/store.js'],
  ]) {
    assert.ok(fs.readFileSync(path.join(hud, f)).equals(fs.readFileSync(path.join(repoRoot, src))), `${HUDDIR}/${f}`);
  }
  if (fs.existsSync(path.join(repoRoot, 'clients/hud/index.html'))) {
    assert.ok(fs.existsSync(path.join(hud, 'index.html')), `${HUDDIR}/index.html`);
  }
});

test('the installed example env file names only variables of base/config.def', () => {
  const text = fs.readFileSync(path.join(destdir('usr-local'), PREFIX, DOCDIR, 'parley.env.example'), 'utf8');
  const known = new Set([...fs.readFileSync(path.join(repoRoot, 'base/config.def'), 'utf8')
    .matchAll(/"(PARLEY_[A-Z0-9_]+)"/g)].map((m) => m[1]));
  const { env, commented } = parseEnvFile(text);
  assert.ok(Object.keys(env).length > 0, 'the example sets nothing');
  for (const name of [...Object.keys(env), ...commented]) assert.ok(known.has(name), `${name} is not in base/config.def`);
});

test('ExecStart follows the install-time --prefix (/opt/parley), not the configured one', () => {
  const root = destdir('opt');
  install(root, '/opt/parley');
  assert.deepEqual(listFiles(root), expectedFiles('/opt/parley'));
  const unit = (u) => fs.readFileSync(path.join(root, 'opt/parley', UNITDIR, u), 'utf8');
  assert.deepEqual(unitValues(unit('parley-broker.service'), 'ExecStart'), ['/opt/parley/bin/parley-broker']);
  assert.deepEqual(unitValues(unit('parley-gateway.service'), 'ExecStart'), ['/opt/parley/bin/parley-gateway']);
  assert.deepEqual(unitValues(unit('parley-worker@.service'), 'ExecStart'), ['/opt/parley/bin/parley-%i']);
  assert.deepEqual(unitValues(unit('parley-gateway.service'), 'Environment'), [`PARLEY_HUD_DIR=/opt/parley/${HUDDIR}`]);
});

// ---- systemd-analyze verify -------------------------------------------------

/**
 * Copy the installed units to dir, with ExecStart=<prefix>/bin/... pointing
 * into the DESTDIR (verify checks that each command exists and is
 * executable, and the binaries are not in <prefix> on this host), then
 * apply edit(name, text) to each. Returns the unit names to verify: every
 * service, one worker instance per service (from the template) and the target.
 * Why a copy: `verify --root=<DESTDIR>` resolves ExecStart= under the
 * DESTDIR, but also wants the host's units there (without them: "Unit
 * sysinit.target not found" for every service). User=parley needs no such
 * user: verify does not resolve it (checked with systemd 252, no parley user).
 */
function verifyCopy(dir, edit = (name, text) => text) {
  const root = destdir('usr-local');
  fs.mkdirSync(dir, { recursive: true });
  for (const u of UNITS) {
    const text = fs.readFileSync(path.join(root, PREFIX, UNITDIR, u), 'utf8');
    const moved = text.replaceAll(`ExecStart=${PREFIX}/bin/`, `ExecStart=${root}${PREFIX}/bin/`);
    if (u.endsWith('.service')) assert.notEqual(moved, text, `${u}: no ExecStart=${PREFIX}/bin/ to move`);
    fs.writeFileSync(path.join(dir, u), edit(u, moved));
  }
  return ['parley-broker.service', 'parley-gateway.service',
    ...SERVICES.map((s) => `parley-worker@${s}.service`), 'parley.target'];
}

/**
 * `systemd-analyze verify` on the units of dir (it adds their directory to
 * the unit path, so the template's instances load). It exits 0 on unknown
 * keys and unparsable values - they are only warnings - so any line naming
 * a Parley unit counts as a problem too. Returns the problems (empty: clean).
 */
function verifyProblems(dir, names) {
  const r = spawnSync('systemd-analyze', ['verify', ...names.map((n) => path.join(dir, n))], {
    encoding: 'utf8', timeout: 60000, env: { ...process.env, SYSTEMD_LOG_COLOR: '0', SYSTEMD_PAGER: '' },
  });
  if (r.error) throw new Error(`systemd-analyze: ${r.error.message} (script/bootstrap installs Debian's systemd)`);
  const problems = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /parley/i.test(l));
  if (r.status !== 0) problems.unshift(`exit status ${r.status}`);
  return problems;
}

test('systemd-analyze verify accepts the installed units, and fails on broken copies', (t) => {
  const good = path.join(scratch, 'verify-good');
  const names = verifyCopy(good);
  assert.deepEqual(verifyProblems(good, names), []);

  // The check can fail: a worker binary the template names but that is not
  // there (exit status), and a misspelt key (a warning, exit status 0).
  const missing = path.join(scratch, 'verify-missing');
  verifyCopy(missing, (u, text) => (u === 'parley-worker@.service'
    ? text.replace(/^(ExecStart=.*)parley-%i$/m, '$1parley-%i-missing') : text));
  const p1 = verifyProblems(missing, names);
  t.diagnostic(`missing binary: ${p1.join(' | ')}`);
  assert.ok(p1.some((l) => /parley-actors-missing.*not executable/.test(l)), p1.join('\n'));

  const typo = path.join(scratch, 'verify-typo');
  verifyCopy(typo, (u, text) => (u === 'parley-broker.service' ? text.replace(/^Restart=/m, 'Restartt=') : text));
  const p2 = verifyProblems(typo, names);
  t.diagnostic(`misspelt key: ${p2.join(' | ')}`);
  assert.ok(p2.some((l) => /Unknown key.*Restartt/.test(l)), p2.join('\n'));
});

// ---- the installed binaries serve ------------------------------------------

/** The installed example env file's settings (the harness's own go over them). */
function exampleEnv() {
  return parseEnvFile(fs.readFileSync(path.join(destdir('usr-local'), PREFIX, DOCDIR, 'parley.env.example'), 'utf8')).env;
}

/** The installed parley-token's token for sub, signed with secret. */
function installedToken(secret, sub) {
  const r = spawnSync(path.join(destdir('usr-local'), PREFIX, 'bin/parley-token'), ['--sub', sub, '--ttl', '600'], {
    env: { PATH: process.env.PATH, PARLEY_JWT_SECRET: secret }, encoding: 'utf8', timeout: 10000,
  });
  assert.equal(r.status, 0, `parley-token: ${r.stderr}`);
  return r.stdout.trim();
}

/** Every process but redis runs a binary of the DESTDIR. */
function assertInstalledBinaries(sys) {
  const bin = path.join(destdir('usr-local'), PREFIX, 'bin');
  for (const name of sys.names.filter((n) => n !== 'redis')) {
    assert.equal(path.dirname(sys.proc(name).spec.bin), bin, `${name} runs ${sys.proc(name).spec.bin}`);
  }
}

/** /healthz 200 with one worker of every service. */
async function assertHealthy(sys) {
  const h = await sys.health();
  assert.equal(h.status, 200, JSON.stringify(h.body));
  assert.equal(h.body.broker, true);
  for (const s of SERVICES) assert.equal(h.body.services?.[s]?.workers, 1, `${s}: ${JSON.stringify(h.body)}`);
}

test('the installed binaries serve: /healthz, the installed HUD, a parley-token token, actor:create and a REST POST', { timeout: 90000 }, async () => {
  const hud = path.join(destdir('usr-local'), PREFIX, HUDDIR);
  const sys = await startSystem({
    binDir: path.join(destdir('usr-local'), PREFIX, 'bin'), baseEnv: exampleEnv(),
    gatewayEnv: { PARLEY_HUD_DIR: hud },
  });
  try {
    assertInstalledBinaries(sys);
    await assertHealthy(sys);
    // the installed gateway serves the installed HUD
    const lib = await fetch(`${sys.url()}/lib/parley/index.js`, { signal: AbortSignal.timeout(5000) });
    assert.equal(lib.status, 200);
    assert.ok(Buffer.from(await lib.arrayBuffer()).equals(fs.readFileSync(path.join(hud, 'lib/parley/index.js'))));
    const token = installedToken(sys.secret, 'inst-ops');
    const s = await sys.connectOk(token);
    const a = expectOk(await emitAck(s, 'actor:create', { name: 'Installed', type: 'pc' }));
    assert.equal(a.createdBy, 'inst-ops');
    const r = await rest(sys, token, 'POST', '/actors', { name: 'Installed REST', type: 'npc' });
    assert.equal(r.status, 201, r.text);
    const list = expectOk(await emitAck(s, 'actor:list'));
    assert.deepEqual(list.map((x) => x.name).sort(), ['Installed', 'Installed REST']);
    s.disconnect();
  } finally {
    await sys.stop();
  }
});

test('two hosts over tcp:// (deploy/README.md): broker and workers on B, a gateway with only A\'s settings', { timeout: 90000 }, async () => {
  // 127.0.0.1 stands for host B's address. Host B: the broker binds all
  // four endpoints, its workers connect to them. Host A: the gateway knows
  // only the two it connects to, and has a run dir of its own (nothing of
  // B's ipc).
  const [front, back, xsub, xpub] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const hostB = {
    PARLEY_BROKER_FRONTEND: `tcp://127.0.0.1:${front}`,
    PARLEY_BROKER_BACKEND: `tcp://127.0.0.1:${back}`,
    PARLEY_EVENTS_XSUB: `tcp://127.0.0.1:${xsub}`,
    PARLEY_EVENTS_XPUB: `tcp://127.0.0.1:${xpub}`,
  };
  const hostARun = path.join(scratch, 'host-a-run');
  fs.mkdirSync(hostARun, { mode: 0o700 });
  const hostA = {
    PARLEY_BROKER_FRONTEND: hostB.PARLEY_BROKER_FRONTEND,
    PARLEY_EVENTS_XPUB: hostB.PARLEY_EVENTS_XPUB,
    PARLEY_BROKER_BACKEND: `ipc://${hostARun}/unused-backend.ipc`,
    PARLEY_EVENTS_XSUB: `ipc://${hostARun}/unused-events-in.ipc`,
    PARLEY_RUN_DIR: hostARun,
    PARLEY_REDIS_URL: 'redis://192.0.2.1:1/0',   // no Redis on host A (TEST-NET-1: nothing there)
  };
  const sys = await startSystem({
    binDir: path.join(destdir('usr-local'), PREFIX, 'bin'), baseEnv: exampleEnv(), env: hostB, gatewayEnv: hostA,
  });
  try {
    assertInstalledBinaries(sys);
    await assertHealthy(sys);
    // A request (frontend, backend) and its broadcast (XSUB, XPUB) to the
    // user's other tab.
    const token = installedToken(sys.secret, 'tcp-alice');
    const tab1 = await sys.connectOk(token);
    const tab2 = await sys.connectOk(token);
    const seen = waitEvent(tab2, 'actor:created', 5000);
    const a = expectOk(await emitAck(tab1, 'actor:create', { name: 'Over tcp', type: 'pc' }));
    assert.equal((await seen).id, a.id);
    tab1.disconnect();
    tab2.disconnect();
    // Nobody used ipc: no socket file in either run dir.
    for (const dir of [sys.runDir, hostARun]) {
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.ipc')), [], dir);
    }
  } finally {
    await sys.stop();
  }
});
