// tests/load/peer/report.mjs - script/bench's report: the table, the checks
// and (full runs) docs/BENCHMARKS.md.
//
//   node report.mjs RESULTS.jsonl PROBLEMS.txt META_JSON [BENCHMARKS.md]
//
// RESULTS.jsonl: one {scenario, target, desc, cmd, result} per line, result
// being parley-load's JSON summary (or script/bench's own, for routing).
// PROBLEMS.txt: one line per process that did not stop cleanly.
// With a BENCHMARKS.md path (full runs), the generated part of that file,
// between the bench markers, is replaced (the file is created if missing);
// anything outside the markers is kept.
//
// Checks: every run ok and every process stopped cleanly; in quick runs
// (meta.quick) also that nothing was lost or failed; the game-state run's
// correctness (versions, deliveries, final state) in every run. Never speed. Prints
// "N passed, N failed" and exits 1 when any failed.

import fs from 'node:fs';

const [resultsPath, problemsPath, metaJson, docPath] = process.argv.slice(2);
if (!resultsPath || !problemsPath || !metaJson) {
  console.error('usage: node report.mjs RESULTS.jsonl PROBLEMS.txt META_JSON [BENCHMARKS.md]');
  process.exit(2);
}
const meta = JSON.parse(metaJson);
const runs = fs.readFileSync(resultsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const problems = fs.readFileSync(problemsPath, 'utf8').split('\n').filter(Boolean);

const find = (scenario, target) => runs.find((r) => r.scenario === scenario && r.target === target);

// The 2-worker pass (script/bench): rpc-flat and state again, with the same
// parameters, on a fresh Parley system with 2 actors and 2 gamestate
// workers. SCENARIO -> the 1-worker scenario it repeats.
const TWO_WORKERS = { 'rpc-flat-2w': 'rpc-flat', 'state-2w': 'state' };
// The scenario's name in the tables.
const TITLE = { 'rpc-flat-2w': 'rpc-flat, 2 actors workers', 'state-2w': 'state, 2 gamestate workers' };
const title = (scenario) => TITLE[scenario] || scenario;
// state's ratio to rpc-flat is taken on the same system: SCENARIO -> its rpc-flat.
const SAME_SYSTEM_RPC = { state: 'rpc-flat', 'state-2w': 'rpc-flat-2w' };
// The worker service each scenario loads (the per-process table, and the
// 2-worker balance check).
const LOADED = { 'rpc-flat': 'actors', 'rpc-flat-2w': 'actors', state: 'gamestate', 'state-2w': 'gamestate' };
const sum = (obj) => Object.values(obj || {}).reduce((a, b) => a + (Number(b) || 0), 0);

// ---- the table ---------------------------------------------------------------

const H = 'higher', L = 'lower';
// Every process of the target (Parley: gateway, broker, worker, Redis; the
// peer: node, Redis), over the whole parley-load run including its connects.
const CPU = ['server CPU, all processes, whole run (s)', (r) => r.bench_server_cpu_s, L];
const latency = (keys = ['p50_ms', 'p99_ms', 'max_ms']) => keys.map((k) => [`latency ${k.replace('_ms', '')} (ms)`, (r) => r[k], L]);
const METRICS = {
  connect: [
    ['connects/s', (r) => r.rate, H],
    ['handshake p99 (ms)', (r) => r.p99_ms, L],
    ['server RSS per connection (bytes)', (r) => r.rss_per_conn_bytes, L],
    ['connections failed', (r) => r.conns - r.connected, L],
    CPU,
  ],
  'polling-connect': [
    ['connects/s', (r) => r.rate, H],
    ['handshake p99 (ms)', (r) => r.p99_ms, L],
    ['server RSS per polling session (bytes)', (r) => r.rss_per_conn_bytes, L],
    ['sessions failed or lost by the end of the hold', (r) => r.conns - r.alive_after_hold, L],
    CPU,
  ],
  'connect-large': [
    ['connected', (r) => r.connected, H],
    ['connects/s', (r) => r.rate, H],
    ['server RSS per connection (bytes)', (r) => r.rss_per_conn_bytes, L],
  ],
  'fanout-throughput': [
    ['deliveries/s', (r) => r.rate, H],
    ...latency(),
    ['lost deliveries', (r) => r.lost, L],
    CPU,
  ],
  'fanout-latency': [
    ['deliveries/s', (r) => r.rate, H],
    ...latency(['p50_ms', 'p95_ms', 'p99_ms', 'max_ms']),
    ['lost deliveries', (r) => r.lost, L],
    CPU,
  ],
  'rpc-flat': [
    ['acks/s', (r) => r.rate, H],
    ...latency(['p50_ms', 'p99_ms']),
    ['failed requests', (r) => r.failed + (r.unanswered || 0), L],
    CPU,
  ],
  'rpc-fixed-low': [
    ['acks/s', (r) => r.rate, H],
    ...latency(['p50_ms', 'p99_ms', 'p999_ms', 'max_ms']),
    ['failed requests', (r) => r.failed + (r.unanswered || 0), L],
    CPU,
  ],
  'rpc-fixed': [
    ['acks/s', (r) => r.rate, H],
    ...latency(['p50_ms', 'p99_ms', 'p999_ms', 'max_ms']),
    ['failed requests', (r) => r.failed + (r.unanswered || 0), L],
    CPU,
  ],
  // Parley only (the peer has no game state); on the same system as the
  // rpc runs, so the quotient with rpc-flat is from one run.
  state: [
    ['updates acked/s', (r) => r.rate, H],
    ...latency(),
    ['gameState:updated deliveries/s (GM included)', (r) => r.deliveries_rate, H],
    ['delivery latency p99 (ms)', (r) => r.delivery_p99_ms, L],
    ['updates/s ÷ rpc-flat acks/s, same run', (r, ctx) => r.rate / ctx.rpcFlat?.result.rate, H],
    ['failed requests', (r) => r.failed + r.unanswered + r.setup_failed, L],
    ['version or delivery errors (must be 0)', (r) => r.version_errors + r.lost + r.extra + r.gaps
      + r.out_of_order + r.previous_errors + r.final_mismatch, L],
    CPU,
  ],
  // Parley only: one Node process drives both, alternating on the same
  // system, so the quotient is from one run (the medians of the rounds).
  'client-lib': [
    ['updates acked/s, gameSession().update()', (r) => r.rate, H],
    ['updates acked/s, plain socket.io-client', (r) => r.raw_rate, H],
    ['library ÷ plain, same run', (r) => r.lib_over_raw, H],
    ['latency p50, library (ms)', (r) => r.p50_ms, L],
    ['latency p50, plain (ms)', (r) => r.raw_p50_ms, L],
    ['3 tabs on one session: updates acked/s', (r) => r.contend_rate, H],
    ['3 tabs: VERSION_CONFLICTs rebased per update', (r) => r.contend_conflicts / r.contend_updates, L],
    ['sessions with a wrong count (must be 0)', (r) => r.wrong_counts, L],
  ],
  broker: [['replies/s', (r) => r.rate, H], ...latency(['p50_ms', 'p99_ms'])],
  worker: [['replies/s', (r) => r.rate, H], ...latency(['p50_ms', 'p99_ms'])],
  // One parley-rules alone (parley-load roll), right after the actors
  // worker's run: the quotient is from one bench.
  roll: [
    ['rolls/s', (r) => r.rate, H],
    ['rolls/s ÷ worker replies/s (actor:create), same run', (r) => r.rate / find('worker', 'parley')?.result.rate, H],
    ...latency(['p50_ms', 'p99_ms']),
  ],
  // One parley-rules alone on its bus (parley-load rules): the runner.
  rules: [
    ['rule runs/s (10 rules each)', (r) => r.rate, H],
    ['rule evaluations/s', (r) => r.rule_evaluations_per_s, H],
    ...latency(['p50_ms', 'p99_ms']),
  ],
  routing: [
    ['gateway B: events received (must be 0)', (r) => r.b_events_in, L],
    ['gateway A: events received', (r) => r.a_events_in, H],
  ],
};
// The 2-worker pass (Parley only): the rows of the scenario it repeats,
// with, second, its rate over that scenario's (1 worker, the same bench).
for (const [two, one] of Object.entries(TWO_WORKERS)) {
  const [first, ...rest] = METRICS[one];
  METRICS[two] = [first,
    [`${first[0]} ÷ ${one}'s (1 ${LOADED[one]} worker)`, (r, ctx) => r.rate / ctx.oneWorker?.result.rate, H],
    ...rest];
}
const ORDER = ['connect', 'connect-large', 'polling-connect', 'fanout-throughput', 'fanout-latency', 'rpc-flat', 'rpc-flat-2w',
  'rpc-fixed', 'rpc-fixed-low', 'state', 'state-2w', 'client-lib', 'broker', 'worker', 'roll', 'rules', 'routing'];

function fmt(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v) || Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function ratio(a, b) {
  if (typeof a !== 'number' || typeof b !== 'number' || !(a > 0) || !(b > 0)) return '–';
  const q = a / b;
  return `${q >= 10 ? q.toFixed(0) : q.toFixed(2)}×`;
}

const rows = [];
for (const scenario of ORDER) {
  const p = find(scenario, 'parley');
  const n = find(scenario, 'peer');
  if (!p && !n) continue;
  const desc = (p || n).desc;
  const skipped = [p, n].find((run) => run?.result.bench_skipped);
  if (skipped) {
    rows.push({ scenario, desc, label: `not run: ${skipped.result.bench_skipped}`, better: '', parley: undefined,
      peer: undefined, ratio: '–' });
    continue;
  }
  for (const [label, get, better] of METRICS[scenario] || []) {
    const pick = (run) => {
      if (!run) return undefined;
      if (!run.result.ok && run.result.error) return undefined;
      const context = { rpcFlat: find(SAME_SYSTEM_RPC[scenario], run.target),
        oneWorker: find(TWO_WORKERS[scenario], run.target) };
      try { return get(run.result, context); } catch { return undefined; }
    };
    const pv = pick(p);
    const nv = pick(n);
    rows.push({ scenario, desc, label, better, parley: pv, peer: nv, ratio: n ? ratio(pv, nv) : '–' });
  }
}

function textTable() {
  const head = ['scenario', 'metric', 'Parley', 'peer', 'Parley/peer'];
  const body = rows.map((r) => [title(r.scenario), r.better ? `${r.label} [${r.better} is better]` : r.label, fmt(r.parley), fmt(r.peer), r.ratio]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function mdTable() {
  const out = ['| scenario | metric | Parley | peer | Parley ÷ peer |', '|---|---|--:|--:|--:|'];
  let last = '';
  for (const r of rows) {
    const scen = r.scenario === last ? '' : `**${title(r.scenario)}**<br>${r.desc}`;
    last = r.scenario;
    out.push(`| ${scen} | ${r.better ? `${r.label} (${r.better} is better)` : r.label} | ${fmt(r.parley)} | ${fmt(r.peer)} | ${r.ratio} |`);
  }
  return out.join('\n');
}

// ---- CPU and context switches per acknowledged request ------------------------

// Per process, from /proc right before and right after the parley-load run
// (bench_procs; script/bench's load()), divided by the requests that run
// acked: CPU is utime + stime, switches are voluntary + nonvoluntary summed
// over the threads. The window is the whole run, so the few connections'
// setup (and state's session setup) is in it too. The worker the scenario
// loads has its own row (with 2 of them: both together, then each); the
// other workers, which only heartbeat, are summed. The 2-worker run comes
// right after its 1-worker run.
const PER_ACK = [['rpc-flat', 'parley'], ['rpc-flat-2w', 'parley'], ['rpc-flat', 'peer'],
  ['state', 'parley'], ['state-2w', 'parley']];
const PROC_NAME = { gateway: 'parley-gateway', broker: 'parley-broker', redis: 'redis-server', peer: 'node (the peer)' };
// The processes of worker service SVC in a run's bench_procs: svc, svc-2, ...
const workersOf = (procs, svc) => Object.keys(procs).filter((n) => n === svc || n.startsWith(`${svc}-`)).sort();

const perAck = [];
for (const [scenario, target] of PER_ACK) {
  const r = find(scenario, target)?.result;
  if (!r?.bench_procs || !(r.acked > 0)) continue;
  const procs = r.bench_procs;
  const worker = LOADED[scenario];
  const mine = target === 'parley' ? workersOf(procs, worker) : [];
  const own = (target === 'parley' ? ['gateway', 'broker'] : ['peer']).filter((n) => procs[n]);
  const others = Object.keys(procs).filter((n) => !own.includes(n) && !mine.includes(n) && n !== 'redis').sort();
  const groups = own.map((n) => [PROC_NAME[n], [n]]);
  if (mine.length === 1) groups.push([`parley-${worker}`, mine]);
  if (mine.length > 1) {
    groups.push([`parley-${worker}: the ${mine.length} workers together`, mine]);
    mine.forEach((n, i) => groups.push([`parley-${worker}: worker ${i + 1}`, [n]]));
  }
  if (others.length) groups.push([`other workers (${others.join(', ')})`, others]);
  if (procs.redis) groups.push([PROC_NAME.redis, ['redis']]);
  groups.push(['all', Object.keys(procs)]);
  groups.forEach(([label, names], i) => {
    const total = (f) => names.reduce((a, n) => a + f(procs[n]), 0);
    perAck.push({ scenario, target, acked: r.acked, first: i === 0, label,
      cpuUs: (total((p) => p.cpu_s) * 1e6) / r.acked,
      switches: total((p) => p.voluntary + p.nonvoluntary) / r.acked,
      involuntary: total((p) => p.nonvoluntary) / r.acked });
  });
}

function perAckText() {
  const head = ['scenario', 'server', 'acked', 'process', 'CPU µs/ack', 'switches/ack', 'involuntary/ack'];
  const body = perAck.map((r) => [r.first ? title(r.scenario) : '', r.first ? r.target : '', r.first ? fmt(r.acked) : '',
    r.label, fmt(r.cpuUs), fmt(r.switches), fmt(r.involuntary)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i >= 4 || i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function perAckMd() {
  const out = ['| scenario | process | CPU µs per ack | context switches per ack | of which involuntary |',
    '|---|---|--:|--:|--:|'];
  for (const r of perAck) {
    const scen = r.first ? `**${title(r.scenario)}**, ${r.target === 'parley' ? 'Parley' : 'peer'}<br>${fmt(r.acked)} acks` : '';
    out.push(`| ${scen} | ${r.label} | ${fmt(r.cpuUs)} | ${fmt(r.switches)} | ${fmt(r.involuntary)} |`);
  }
  return out.join('\n');
}

// ---- the checks -----------------------------------------------------------

const checks = [];
const check = (name, pass, detail = '') => checks.push({ name, pass: Boolean(pass), detail });

for (const run of runs) {
  const r = run.result;
  const name = `${run.target} ${run.scenario}`;
  if (r.bench_skipped) continue;
  check(`${name}: ran (ok)`, r.ok === true, r.error || '');
  if (run.scenario === 'state' || run.scenario === 'state-2w') {
    // correctness, not speed: checked in full runs too
    check(`${name}: every update acked in version order, delivered to every member in order, `
      + 'final state = acked count', r.correct === true && sum(r.errors) === 0,
    ['setup_failed', 'failed', 'unanswered', 'version_errors', 'lost', 'extra', 'gaps', 'out_of_order',
      'previous_errors', 'members_down', 'final_mismatch'].map((k) => `${k} ${r[k]}`).join(', ')
      + `, errors ${JSON.stringify(r.errors)}`);
  }
  if (run.scenario === 'client-lib') {
    // correctness, not speed: checked in full runs too
    check(`${name}: every update counted once (plain, library, 3 contending tabs)`,
      r.ok === true && r.wrong_counts === 0 && r.contend_updates > 0, r.error || `wrong counts ${r.wrong_counts}`);
  }
  if (LOADED[run.scenario] && r.ok) {
    const svc = LOADED[run.scenario];
    const loaded = TWO_WORKERS[run.scenario] ? [svc, `${svc}-2`] : [svc];
    const want = run.target === 'parley' ? ['gateway', 'broker', ...loaded, 'redis'] : ['peer', 'redis'];
    const procs = r.bench_procs || {};
    const switches = Object.values(procs).reduce((a, p) => a + p.voluntary + p.nonvoluntary, 0);
    check(`${name}: CPU and context switches read for every process`,
      want.every((n) => procs[n]) && switches > 0 && r.acked > 0,
      `processes ${Object.keys(procs).join(' ') || 'none'}, switches ${switches}, acked ${r.acked}`);
    if (TWO_WORKERS[run.scenario]) {
      // The rows say "2 workers": both must have served. The broker gives a
      // request to the worker with the fewest outstanding, so a worker that
      // gets less CPU on a busy box serves fewer (seen: down to half the
      // other's switches in quick runs); one that only heartbeat would have
      // a handful against the other's thousands. 1/10 tells the two apart
      // with room on both sides. Checked in full runs too.
      const sw = loaded.map((n) => (procs[n] ? procs[n].voluntary + procs[n].nonvoluntary : 0));
      check(`${name}: both ${svc} workers served (context switches of each at least 1/10 of the other's)`,
        Math.min(...sw) * 10 >= Math.max(...sw) && Math.max(...sw) > 0,
        `${loaded.map((n, i) => `${n} ${sw[i]}`).join(', ')}`);
    }
  }
  if (!meta.quick) continue;
  if (run.scenario.includes('fanout')) {
    check(`${name}: nothing lost`, r.lost === 0 && r.extra === 0 && r.create_failed === 0 && sum(r.errors) === 0,
      `lost ${r.lost}, extra ${r.extra}, create_failed ${r.create_failed}, errors ${JSON.stringify(r.errors)}`);
  } else if (run.scenario.startsWith('rpc') || run.scenario === 'broker' || run.scenario === 'worker'
             || run.scenario === 'roll' || run.scenario === 'rules') {
    check(`${name}: no failed request`, r.failed === 0 && r.unanswered === 0 && sum(r.errors) === 0,
      `failed ${r.failed}, unanswered ${r.unanswered}, errors ${JSON.stringify(r.errors)}`);
  } else if (run.scenario.startsWith('connect')) {
    check(`${name}: every connection made`, r.connected === r.conns, `${r.connected} of ${r.conns}`);
  }
}
check('routing: gateway B got no events for rooms it has no members in',
  find('routing', 'parley')?.result.ok === true,
  JSON.stringify(find('routing', 'parley')?.result ?? 'not run'));
check('every process stopped cleanly on SIGTERM', problems.length === 0, problems.join('; '));

// What docs/BENCHMARKS.md starts with when script/bench creates it; after
// that, everything outside the markers is the file's own.
const HEAD = `# Benchmarks

\`script/bench\` measures Parley against a reference Socket.IO 4.8 server in Node
(\`tests/load/peer/\`, "the peer") with the same client API and the same Redis
setup, driven by the same load generator (\`parley-load\`, tests/load/) with the
same parameters. \`script/bench --quick\` is the smoke version that
\`script/test\` runs; it checks that every run works and loses nothing, never
speed.

The section below is rewritten by every full \`script/bench\` run.`;

// ---- output ----------------------------------------------------------------

console.log(`\nParley vs peer (Node ${meta.node}, socket.io ${meta.socketio})${meta.quick ? ' - quick run, sizes too small to mean anything' : ''}\n`);
console.log(textTable());
console.log('\nCPU and context switches per acknowledged request, per process (whole parley-load run, from /proc)\n');
console.log(perAckText());
console.log('');
for (const c of checks) if (!c.pass) console.log(`FAILED: ${c.name}${c.detail ? ` (${c.detail})` : ''}`);
const passed = checks.filter((c) => c.pass).length;
const failed = checks.length - passed;

if (docPath) {
  const BEGIN = '<!-- bench:begin (generated by script/bench; edit outside the markers) -->';
  const END = '<!-- bench:end -->';
  const commands = runs.filter((r) => !r.result.bench_skipped)
    .map((r) => `# ${r.target} ${r.scenario}: ${r.desc}\n${r.cmd}`).join('\n');
  // "server" is parley or peer; parley-load's own "target" is host:port.
  const raw = runs.map((r) => JSON.stringify({ scenario: r.scenario, server: r.target, ...r.result })).join('\n');
  const section = `${BEGIN}
## Latest run

- Date: ${meta.date}; commit ${meta.commit}; wall time ${meta.elapsed_s} s.
- Machine: ${meta.nproc} CPUs (${meta.cpu}), ${meta.mem} RAM, Linux ${meta.kernel}; fd limit ${meta.fds}.
- Parley: release build; one redis-server (AOF, everysec), one parley-broker, one
  worker per service (the RPC scenarios load parley-actors), one parley-gateway;
  \`PARLEY_ACTORS_PER_USER=1000000\`. The "2 actors workers" and "2 gamestate
  workers" rows (rpc-flat-2w, state-2w: the loads of rpc-flat and state) ran
  on a second, fresh system, the same but with 2 parley-actors and 2
  parley-gamestate workers.
- Peer: \`tests/load/peer/server.mjs\`, Node ${meta.node}, socket.io ${meta.socketio}, ioredis;
  one Node process and one redis-server (AOF, everysec).
- Redis ${meta.redis} for both, on a unix socket.
- Load: \`parley-load\` (one thread) on the same machine, over loopback.
- Checks: ${passed} passed, ${failed} failed${failed ? ` (${checks.filter((c) => !c.pass).map((c) => c.name).join('; ')})` : ''}.

${mdTable()}

"Parley ÷ peer" is the plain quotient: above 1 is better for Parley where
higher is better, below 1 where lower is better.

### CPU and context switches per acknowledged request

Each process's CPU time (utime + stime, /proc/PID/stat) and context switches
(voluntary + nonvoluntary, summed over /proc/PID/task/*/status), read right
before and right after the parley-load run, divided by the requests acked in
that run. The window includes the run's connection setup and drain (and, for
state, the session setup: about 2% more requests than the acked updates). With
2 workers of the loaded service, its rows are both together, then each. The
other workers only heartbeat. "all" is every process of the target. Raw
counts: \`bench_procs\` in the raw results.

${perAckMd()}

### Commands

The targets listened on free loopback ports; \`$SECRET\` is the run's random
JWT secret.

\`\`\`sh
${commands}
\`\`\`

### Raw results (one parley-load summary per line)

\`\`\`json
${raw}
\`\`\`
${END}`;
  let doc;
  if (fs.existsSync(docPath)) {
    doc = fs.readFileSync(docPath, 'utf8');
    const a = doc.indexOf(BEGIN.slice(0, 20));
    const b = doc.indexOf(END);
    doc = a >= 0 && b > a ? doc.slice(0, a) + section + doc.slice(b + END.length) : `${doc.trimEnd()}\n\n${section}\n`;
  } else {
    doc = `${HEAD}\n\n${section}\n`;
  }
  fs.writeFileSync(docPath, doc);
  console.log(`wrote ${docPath}`);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
