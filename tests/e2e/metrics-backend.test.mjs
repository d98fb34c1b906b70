// GET /metrics with the real broker and workers behind it (issue 13,
// section 2; proto/README.md, "Metrics"): each worker's heartbeat carries
// its snapshot to the broker every PARLEY_METRICS_PUSH_MS (200 ms here),
// the gateway's scrape asks the broker for them all (METRICS) and merges
// them under their process names. A known workload through the real
// socket.io-client then shows exactly in the worker's and the broker's
// series; a worker that dies is gone from the next scrapes, and the one
// that replaces it starts from zero under its own name.
import assert from 'node:assert/strict';
import os from 'node:os';
import { useSystem, emitAck, expectOk, expectError, eventually } from './lib/system.mjs';
import { scrape } from './lib/metrics.mjs';

const GW = 'gw-mb';
const h = useSystem({ workers: 1, env: { PARLEY_METRICS_PUSH_MS: '200', PARLEY_GATEWAY_ID: GW } });

// The name a worker gives itself: <service>-<hostname>-<pid>, at most 64
// bytes of A-Z a-z 0-9 . _ - (others become _), the host name cut first.
function processName(service, pid) {
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_');
  const keep = Math.max(0, 64 - (service.length + String(pid).length + 2));
  return `${service}-${host.slice(0, keep)}-${pid}`.slice(0, 64);
}

h.test('worker and broker series: exact counts by event and code, histogram counts that match, process_*', async (t, sys) => {
  const actors = processName('actors', sys.proc('actors').child.pid);
  const w = (labels = {}) => ({ process: actors, ...labels });
  const b = (labels = {}) => ({ process: 'broker', ...labels });
  // the worker's first push has come (its process_* are there)
  const before = await eventually(async () => {
    const m = await scrape(sys);
    return m.get('process_open_fds', w()) > 0 ? m : null;
  }, { what: `a snapshot of ${actors} in the scrape` });
  assert.equal(before.get('parley_gateway_metrics_remote_up', { process: `gateway-${GW}` }), 1);

  // 3 actor:create OK, 2 actor:get NOT_FOUND
  const alice = await sys.user('alice');
  for (let i = 0; i < 3; i++) expectOk(await emitAck(alice, 'actor:create', { name: `M${i}`, type: 'pc' }));
  for (let i = 0; i < 2; i++) expectError(await emitAck(alice, 'actor:get', `nope-${i}`), 'NOT_FOUND');

  const d = (m, name, labels) => m.count(name, labels) - before.count(name, labels);
  // the worker's numbers lag by one push at most
  const m = await eventually(async () => {
    const now = await scrape(sys);
    return d(now, 'parley_worker_requests_total', w({ event: 'actor:get', code: 'NOT_FOUND' })) >= 2
      && d(now, 'parley_worker_requests_total', w({ event: 'actor:create', code: 'OK' })) >= 3 ? now : null;
  }, { what: 'the worker\'s counts in the scrape' });

  // worker: requests by event and code, exactly; nothing else for actors
  assert.equal(d(m, 'parley_worker_requests_total', w({ event: 'actor:create', code: 'OK' })), 3);
  assert.equal(d(m, 'parley_worker_requests_total', w({ event: 'actor:get', code: 'NOT_FOUND' })), 2);
  const sum = (mm) => mm.all('parley_worker_requests_total', w()).reduce((a, s) => a + s.value, 0);
  assert.equal(sum(m) - sum(before), 5, 'no other request counted by the worker');
  // handler times: one per request, +Inf bucket = count, a sum > 0
  for (const [event, n] of [['actor:create', 3], ['actor:get', 2]]) {
    assert.equal(d(m, 'parley_worker_handler_duration_seconds_count', w({ event })), n);
    assert.equal(d(m, 'parley_worker_handler_duration_seconds_bucket', w({ event, le: '+Inf' })), n);
    assert.ok(m.get('parley_worker_handler_duration_seconds_sum', w({ event })) > 0);
  }
  // Redis: at least a round trip per request, no error, no reconnect
  assert.ok(d(m, 'parley_worker_redis_duration_seconds_count', w()) >= 5);
  assert.equal(m.get('parley_worker_redis_errors_total', w()), 0);
  assert.equal(m.get('parley_worker_redis_reconnects_total', w()), 0);
  assert.equal(m.count('parley_worker_conflict_retries_total', w({ event: 'actor:create' })), 0);
  // broker: requests by service, a live worker, nothing queued or lost
  assert.equal(d(m, 'parley_broker_requests_total', b({ service: 'actors' })), 5);
  assert.equal(m.get('parley_broker_workers', b({ service: 'actors' })), 1);
  assert.equal(m.get('parley_broker_queue_depth', b({ service: 'actors' })), 0);
  assert.equal(m.get('parley_broker_timeouts_total', b({ service: 'actors' })), 0);
  assert.equal(m.get('parley_broker_unavailable_total', b({ service: 'actors' })), 0);
  // process_* of both, and of every other worker too
  for (const labels of [w(), b()]) {
    assert.ok(m.get('process_resident_memory_bytes', labels) > 1e6);
    assert.ok(m.get('process_open_fds', labels) > 3);
    assert.ok(m.get('process_cpu_seconds_total', labels) >= 0);
  }
  const processes = new Set(m.all('process_open_fds').map((s) => s.labels.process));
  for (const svc of ['campaigns', 'rooms', 'chat', 'gamestate', 'items']) {
    assert.ok([...processes].some((p) => p.startsWith(`${svc}-`)), `a snapshot of ${svc}`);
  }
});

h.test('a worker SIGKILLed is gone from the scrapes; its replacement starts from zero under its own name', { timeout: 45000 }, async (t, sys) => {
  const old = processName('actors', sys.proc('actors').child.pid);
  assert.ok((await scrape(sys)).get('process_open_fds', { process: old }) > 0);
  await sys.kill('actors', 'SIGKILL');
  // the broker drops it after the heartbeat liveness (3 x 1 s)
  await eventually(async () => (await scrape(sys)).get('process_open_fds', { process: old }) === undefined,
    { what: `${old} gone from the scrape`, timeoutMs: 15000 });
  const m = await scrape(sys);
  assert.equal(m.get('parley_broker_workers', { process: 'broker', service: 'actors' }), 0);
  assert.deepEqual(m.all('parley_worker_requests_total', { process: old }), []);

  await sys.start('actors');
  const fresh = processName('actors', sys.proc('actors').child.pid);
  assert.notEqual(fresh, old);
  await eventually(async () => (await scrape(sys)).get('process_open_fds', { process: fresh }) > 0,
    { what: `${fresh} in the scrape`, timeoutMs: 15000 });
  const alice = await sys.user('alice');
  expectOk(await emitAck(alice, 'actor:create', { name: 'after', type: 'pc' }));
  await eventually(async () => (await scrape(sys))
    .count('parley_worker_requests_total', { process: fresh, event: 'actor:create', code: 'OK' }) === 1,
  { what: 'the new worker counts its first request as 1' });
});
