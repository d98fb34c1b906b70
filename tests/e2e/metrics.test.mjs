// GET /metrics on the gateway (issue 13, section 2; docs/METRICS.md): a
// known workload through the real socket.io-client, then the scrape shows
// exactly those counts. Every scrape is checked strictly
// (parley-metrics-check, and promtool when installed; lib/metrics.mjs).
//
// The gateway asks the broker for every process's snapshot (PL01 METRICS)
// and waits PARLEY_METRICS_TIMEOUT_MS for it. A broker that does not answer
// METRICS (one before the worker+broker half of issue 13) leaves
// parley_gateway_metrics_remote_up 0 and the gateway's own metrics served:
// `remoteChecks` below is where the worker and broker series are asserted
// once the broker answers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { useSystem, startSystem, emitAck, expectOk, expectError, waitEvent, recordEvents, eventually,
  httpOnce, sleep } from './lib/system.mjs';
import { scrape, CONTENT_TYPE, METRICS_BROKER_STUB } from './lib/metrics.mjs';

const GW = 'gw-m1';
const PROCESS = `gateway-${GW}`;
const h = useSystem({ workers: 1, env: { PARLEY_GATEWAY_ID: GW, PARLEY_METRICS_TIMEOUT_MS: '1000' } });

const g = (labels = {}) => ({ process: PROCESS, ...labels });

// What a METRICS answer adds. Today's broker does not answer: remote_up 0
// and no other process. With one that answers, remote_up is 1 and the
// broker's (and each worker's) series appear under their process label.
function remoteChecks(m, process = PROCESS) {
  const up = m.get('parley_gateway_metrics_remote_up', { process });
  assert.ok(up === 0 || up === 1, `remote_up ${up}`);
  // (the one series without a process label: the scrape's own
  // parley_metrics_series_refused_total)
  const others = [...m.samples.values()]
    .filter((s) => s.labels.process !== process && s.name !== 'parley_metrics_series_refused_total');
  if (up === 0) {
    assert.deepEqual(others, [], 'no remote series without an answer');
    return;
  }
  assert.ok(others.some((s) => s.labels.process === 'broker'), 'the broker\'s series');
  // worker assertions go here (parley_worker_requests_total by event and
  // code under process="actors-<identity>")
}

h.test('a known workload shows exactly in /metrics: requests by event and code, latency counts, connections by transport, a refused connect, rooms, pushes', async (t, sys) => {
  const before = await scrape(sys);
  assert.equal(before.get('parley_gateway_connections', g()), 0);

  // 2 WebSocket tabs of alice, 1 polling-only bob, 1 default carol
  // (polling, then the upgrade), 1 refused connect (a bad token)
  const alice = await sys.user('alice');
  const alice2 = await sys.user('alice');
  const bob = await sys.connectOk(sys.token({ sub: 'bob' }), { io: { transports: ['polling'] } });
  const carol = await sys.connectOk(sys.token({ sub: 'carol' }), { io: { transports: ['polling', 'websocket'] } });
  if (carol.io.engine.transport.name !== 'websocket') await waitEvent(carol.io.engine, 'upgrade', 5000);
  const err = await sys.connectError(sys.token({ sub: 'mallory', secret: 'not the secret' }));
  assert.match(err.message, /unauthorized/);

  // 3 actor:create OK (alice2 hears actor:created 3 times), 2 actor:get
  // NOT_FOUND, 1 unknown event (UNKNOWN_EVENT)
  const heard = recordEvents(alice2);
  for (let i = 0; i < 3; i++) expectOk(await emitAck(alice, 'actor:create', { name: `A${i}`, type: 'pc' }));
  for (let i = 0; i < 2; i++) expectError(await emitAck(bob, 'actor:get', `nope-${i}`), 'NOT_FOUND');
  expectError(await emitAck(carol, 'no:such:event', {}), 'UNKNOWN_EVENT');
  await eventually(() => heard.filter((e) => e.event === 'actor:created').length === 3,
    { what: 'alice2 hears 3 actor:created' });

  const m = await scrape(sys);
  const d = (name, labels) => m.count(name, g(labels)) - before.count(name, g(labels));
  // requests: one per ack, by event and code
  assert.equal(d('parley_gateway_requests_total', { event: 'actor:create', code: 'OK' }), 3);
  assert.equal(d('parley_gateway_requests_total', { event: 'actor:get', code: 'NOT_FOUND' }), 2);
  assert.equal(d('parley_gateway_requests_total', { event: 'unknown', code: 'UNKNOWN_EVENT' }), 1);
  const requests = m.all('parley_gateway_requests_total', g()).reduce((a, s) => a + s.value, 0)
    - before.all('parley_gateway_requests_total', g()).reduce((a, s) => a + s.value, 0);
  assert.equal(requests, 6, 'no other request counted');
  // the latency histogram: a count per request, by event
  assert.equal(d('parley_gateway_request_duration_seconds_count', { event: 'actor:create' }), 3);
  assert.equal(d('parley_gateway_request_duration_seconds_count', { event: 'actor:get' }), 2);
  assert.equal(d('parley_gateway_request_duration_seconds_count', { event: 'unknown' }), 1);
  assert.equal(d('parley_gateway_request_duration_seconds_bucket', { event: 'actor:create', le: '+Inf' }), 3);
  assert.ok(m.get('parley_gateway_request_duration_seconds_sum', g({ event: 'actor:create' })) > 0);
  // events in (by event) and out (acks, pushes)
  assert.equal(d('parley_gateway_events_in_total', { event: 'actor:create' }), 3);
  assert.equal(d('parley_gateway_events_in_total', { event: 'actor:get' }), 2);
  assert.equal(d('parley_gateway_events_in_total', { event: 'unknown' }), 1);
  assert.equal(d('parley_gateway_events_out_total', { kind: 'ack' }), 6);
  assert.equal(d('parley_gateway_events_out_total', { kind: 'push' }), 3);
  assert.equal(d('parley_gateway_delivery_seconds_count', {}), 3);
  // connections: by the transport they opened on, the upgrade, the refusal
  assert.equal(d('parley_gateway_connections_total', { transport: 'websocket' }), 3);
  assert.equal(d('parley_gateway_connections_total', { transport: 'polling' }), 2);
  assert.equal(d('parley_gateway_upgrades_total', {}), 1);
  assert.equal(d('parley_gateway_connects_refused_total', { reason: 'UNAUTHORIZED' }), 1);
  // rooms: user:alice, user:bob, user:carol (the campaign-less actors add none)
  assert.equal(m.get('parley_gateway_rooms', g()), 3);
  // process_* of the gateway itself
  // (CPU time moves in clock ticks: a quiet gateway may still show 0)
  assert.ok(m.get('process_cpu_seconds_total', g()) >= 0);
  assert.ok(m.get('process_resident_memory_bytes', g()) > 1e6);
  assert.ok(m.get('process_open_fds', g()) > 5);
  assert.equal(m.get('parley_metrics_series_refused_total'), 0);
  remoteChecks(m);

  // the gauge follows the sessions: 4 open (the refused one closed), then 0
  await eventually(async () => (await scrape(sys)).get('parley_gateway_connections', g()) === 4,
    { what: '4 connections open', timeoutMs: 15000 });
  for (const s of [alice, alice2, bob, carol]) s.disconnect();
  await eventually(async () => {
    const now = await scrape(sys, { scope: 'local' });
    return now.get('parley_gateway_connections', g()) === 0 && now.get('parley_gateway_rooms', g()) === 0;
  }, { what: 'no connection and no room left', timeoutMs: 15000 });
});

h.test('room events are timed from the worker\'s publish: N events delivered to one member add exactly N observations, a sane sum', async (t, sys) => {
  // the publish time travels with each event (proto/README.md, "Event
  // bus"); an event without one is delivered but not timed, so a count
  // short of N means the times were lost or refused on the way
  const N = 7;
  const tab1 = await sys.user('dana');
  const tab2 = await sys.user('dana');
  const heard = recordEvents(tab2);
  const before = await scrape(sys, { scope: 'local' });
  for (let i = 0; i < N; i++) expectOk(await emitAck(tab1, 'actor:create', { name: `D${i}`, type: 'pc' }));
  await eventually(() => heard.filter((e) => e.event === 'actor:created').length === N,
    { what: `the second tab hears ${N} actor:created` });
  const m = await scrape(sys, { scope: 'local' });
  const d = (name, labels = {}) => m.count(name, g(labels)) - before.count(name, g(labels));
  assert.equal(d('parley_gateway_events_out_total', { kind: 'push' }), N);
  assert.equal(d('parley_gateway_delivery_seconds_count'), N);
  assert.equal(d('parley_gateway_delivery_seconds_bucket', { le: '+Inf' }), N);
  const sum = d('parley_gateway_delivery_seconds_sum');
  // one host, one clock: never negative (a negative one counts as 0), and
  // far below a second per event even on a loaded machine
  assert.ok(sum >= 0 && sum < N * 5, `delivery seconds summed ${sum}`);
  tab1.disconnect();
  tab2.disconnect();
});

// Two gateways: a writer on the first, a reader on the second, stopped
// while the worker publishes. The delivery is timed from the worker's
// publish, so the events that waited in the stopped gateway's SUB queue
// show that wait; timed from the gateway's receipt (as before the publish
// time went on the bus) they would show almost nothing.
const h2 = useSystem({ workers: 1, gateways: 2 });
const total = (m, name, labels = {}) => m.all(name, labels).reduce((a, s) => a + s.value, 0);

h2.test('delivery latency starts at the worker\'s publish: events held up in a SIGSTOPped gateway are observed with the wait', async (t, sys) => {
  const N = 3;
  const WAIT_MS = 700;
  const writer = await sys.connectOk(sys.token({ sub: 'erin' }));
  const reader = await sys.connectOk(sys.token({ sub: 'erin' }), { gateway: 'gateway-2' });
  const heard = recordEvents(reader);
  const created = () => heard.filter((e) => e.event === 'actor:created').length;
  // a first event proves the route to the reader's gateway
  expectOk(await emitAck(writer, 'actor:create', { name: 'E0', type: 'pc' }));
  await eventually(() => created() === 1, { what: 'the reader hears the first actor:created' });
  const before = await scrape(sys, { gateway: 'gateway-2', scope: 'local' });
  await sys.kill('gateway-2', 'SIGSTOP');
  try {
    // each ack comes back after its worker published (it publishes right
    // after it replies); the events then wait in gateway-2's SUB queue.
    // The sleep is the delay being measured, not a wait for something.
    for (let i = 1; i <= N; i++) expectOk(await emitAck(writer, 'actor:create', { name: `E${i}`, type: 'pc' }));
    await sleep(WAIT_MS);
  } finally {
    await sys.kill('gateway-2', 'SIGCONT');
  }
  await eventually(() => created() === N + 1, { what: `the reader hears ${N} more actor:created` });
  const m = await scrape(sys, { gateway: 'gateway-2', scope: 'local' });
  const d = (name, labels = {}) => total(m, name, labels) - total(before, name, labels);
  assert.equal(d('parley_gateway_delivery_seconds_count'), N);
  // every one waited at least WAIT_MS after its publish: none at or below 0.5 s
  assert.equal(d('parley_gateway_delivery_seconds_bucket', { le: '0.5' }), 0);
  const sum = d('parley_gateway_delivery_seconds_sum');
  assert.ok(sum >= N * WAIT_MS / 1000 && sum < N * 30, `delivery seconds summed ${sum}`);
  t.diagnostic(`${N} deliveries, ${sum.toFixed(3)} s in all`);
  writer.disconnect();
  reader.disconnect();
});

h.test('without a METRICS answer the scrape waits PARLEY_METRICS_TIMEOUT_MS, then serves the gateway\'s own; ?scope=local answers at once', async (t, sys) => {
  const m = await scrape(sys);
  remoteChecks(m);
  if (m.get('parley_gateway_metrics_remote_up', g()) === 0) {
    assert.ok(m.ms >= 900, `served after ${m.ms} ms, before the 1 s timeout`);
  }
  const local = await scrape(sys, { scope: 'local' });
  assert.ok(local.ms < 900, `?scope=local took ${local.ms} ms`);
  assert.deepEqual([...local.samples.values()].filter((s) => s.labels.process !== PROCESS
    && s.name !== 'parley_metrics_series_refused_total'), []);
  assert.ok(local.get('process_open_fds', g()) > 0);
});

h.test('16 scrapes are held at once, more get 503; each held one is answered', async (t, sys) => {
  const url = `${sys.url()}/metrics`;
  const answers = await Promise.all(Array.from({ length: 20 }, () => httpOnce(url, { timeoutMs: 5000 })));
  const ok = answers.filter((a) => a.status === 200);
  const busy = answers.filter((a) => a.status === 503);
  assert.equal(ok.length + busy.length, 20, answers.map((a) => a.status).join(','));
  assert.ok(ok.length >= 16, `${ok.length} answered 200`);
  for (const a of ok) assert.equal(a.headers['content-type'], CONTENT_TYPE);
  for (const a of busy) assert.equal(a.body.error.code, 'SERVICE_UNAVAILABLE');
  // without an answer from the broker all 20 arrive within the 1 s hold
  const up = (await scrape(sys, { scope: 'local' })).get('parley_gateway_metrics_remote_up', g());
  if (up === 0) assert.equal(busy.length, 4);
  // and the gateway is not stuck: the next scrape is served
  await scrape(sys);
});

h.test('a scrape whose client goes away while it is held is forgotten; the next is served', async (t, sys) => {
  const port = Number(new URL(sys.url()).port);
  for (let i = 0; i < 3; i++) {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(50 * i);            // gone before the answer (or the timeout)
    sock.destroy();
  }
  const m = await scrape(sys);
  remoteChecks(m);
});

// The remote half with a stand-in broker (tests/unit/metrics_broker_stub.c)
// that answers METRICS as proto/README.md says: "broker", "actors-w1" and
// "bad", whose snapshot is none.
h.test('a METRICS answer: each snapshot under its process name, a bad one skipped and counted, remote_up 1; ?scope=local without them', async () => {
  const stub = await startSystem({ workers: 0, wait: false, bins: { broker: METRICS_BROKER_STUB },
    env: { PARLEY_GATEWAY_ID: 'gw-m2', PARLEY_METRICS_TIMEOUT_MS: '10000' } });
  try {
    const own = { process: 'gateway-gw-m2' };
    await eventually(async () => (await httpOnce(`${stub.url()}/healthz`)).status === 503,
      { what: 'the gateway answers' });
    const m = await scrape(stub, { timeoutMs: 15000 });
    remoteChecks(m, own.process);
    assert.equal(m.get('parley_gateway_metrics_remote_up', own), 1);
    assert.equal(m.get('parley_broker_requests_total', { process: 'broker', service: 'actors' }), 5);
    assert.equal(m.get('parley_worker_requests_total',
      { process: 'actors-w1', event: 'actor:create', code: 'OK' }), 7);
    assert.deepEqual(m.all('parley_worker_requests_total').map((s) => s.labels.process), ['actors-w1']);
    assert.equal(m.all('process_open_fds').length, 1, 'only the gateway\'s own process_*');
    assert.equal(m.get('parley_gateway_metrics_snapshots_refused_total', own), 1);
    assert.equal(m.all('parley_gateway_metrics_snapshots_refused_total').length, 1);
    assert.ok(!/process="bad"/.test(m.text));
    // cumulative: the next scrape refused it again
    assert.equal((await scrape(stub, { timeoutMs: 15000 }))
      .get('parley_gateway_metrics_snapshots_refused_total', own), 2);
    // several at once share answers; each gets the remote series
    const many = await Promise.all(Array.from({ length: 8 }, () => scrape(stub, { timeoutMs: 15000 })));
    for (const one of many) assert.equal(one.get('parley_broker_requests_total', { process: 'broker', service: 'actors' }), 5);
    const local = await scrape(stub, { scope: 'local' });
    assert.equal(local.all('parley_broker_requests_total').length, 0);
    assert.equal(local.all('parley_worker_requests_total').length, 0);
  } finally {
    await stub.stop();
  }
});

// A METRICS answer far past one page: the stub adds 60 workers of 256 KB
// of long-labelled histograms (PL_STUB_BIG), which would render to
// hundreds of MB. The page stays within 16 MB with the gateway's own and
// the broker's series whole and the rest skipped and counted
// (docs/METRICS.md). And a scrape whose client does not read holds its
// page: it counts in the 16 until it is written or gone.
h.test('a METRICS answer too big for one page: bounded to 16 MB, the rest skipped and counted; scrapes still being written count in the 16', async () => {
  const stub = await startSystem({ workers: 0, wait: false, bins: { broker: METRICS_BROKER_STUB },
    env: { PARLEY_GATEWAY_ID: 'gw-m3', PARLEY_METRICS_TIMEOUT_MS: '20000', PL_STUB_BIG: '60' } });
  const socks = [];
  try {
    const own = { process: 'gateway-gw-m3' };
    const url = `${stub.url()}/metrics`;
    await eventually(async () => (await httpOnce(`${stub.url()}/healthz`)).status === 503,
      { what: 'the gateway answers' });
    // (the stub builds its snapshots before it binds: until the gateway
    // connects to it, a scrape serves the gateway's own, remote_up 0)
    const m = await eventually(async () => {
      const one = await scrape(stub, { timeoutMs: 60000 });
      return one.get('parley_gateway_metrics_remote_up', own) === 1 && one;
    }, { what: 'a scrape with the stub\'s answer', timeoutMs: 60000 });
    assert.ok(Buffer.byteLength(m.text) <= 16 * 1024 * 1024, `a page of ${Buffer.byteLength(m.text)} bytes`);
    assert.equal(m.get('parley_broker_requests_total', { process: 'broker', service: 'actors' }), 5);
    assert.ok(m.get('process_open_fds', own) > 0);
    const merged = new Set(m.all('stub_big_seconds_count').map((s) => s.labels.process));
    const refused = m.get('parley_gateway_metrics_snapshots_refused_total', own);
    assert.ok(merged.size >= 1 && merged.size < 60, `${merged.size} big snapshots merged`);
    assert.equal(refused, 1 + 60 - merged.size, 'the bad one and every big one left out');

    // 16 clients that read the start of their page, then no more
    const port = Number(new URL(stub.url()).port);
    await Promise.all(Array.from({ length: 16 }, async () => {
      const sock = net.connect(port, '127.0.0.1');
      socks.push(sock);
      sock.on('error', () => {});
      await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
      sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((resolve) => sock.once('data', () => { sock.pause(); resolve(); }));
    }));
    // their pages are still being written: a 17th is refused, not held
    const busy = await httpOnce(url, { timeoutMs: 30000 });
    assert.equal(busy.status, 503);
    assert.equal(busy.body.error.code, 'SERVICE_UNAVAILABLE');
    // gone: their pages go with them, and scrapes are served again
    for (const sock of socks) sock.destroy();
    await eventually(async () => (await httpOnce(url, { timeoutMs: 60000 })).status === 200,
      { what: 'a scrape served once the readers are gone', timeoutMs: 60000 });
  } finally {
    for (const sock of socks) sock.destroy();
    await stub.stop();
  }
});

h.test('HEAD /metrics (no body), 405 for other methods with Allow, OPTIONS 204, CORS as /healthz', async (t, sys) => {
  const head = await httpOnce(`${sys.url()}/metrics?scope=local`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-type'], CONTENT_TYPE);
  assert.equal(head.text, '');
  assert.ok(Number(head.headers['content-length']) > 100);
  for (const method of ['POST', 'DELETE', 'PUT']) {
    const res = await httpOnce(`${sys.url()}/metrics`, { method, body: method === 'DELETE' ? undefined : '' });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET, HEAD');
  }
  const options = await httpOnce(`${sys.url()}/metrics`, { method: 'OPTIONS' });
  assert.equal(options.status, 204);
  assert.equal(options.headers.allow, 'GET, HEAD');
  // the default PARLEY_CORS_ORIGINS (*) answers a browser's scrape as /healthz
  const health = await httpOnce(`${sys.url()}/healthz`, { headers: { Origin: 'http://example.test' } });
  const cors = await httpOnce(`${sys.url()}/metrics?scope=local`, { headers: { Origin: 'http://example.test' } });
  assert.equal(cors.status, 200);
  assert.ok(health.headers['access-control-allow-origin']);
  assert.equal(cors.headers['access-control-allow-origin'], health.headers['access-control-allow-origin']);
  // a path next to it is not it
  assert.equal((await httpOnce(`${sys.url()}/metricsx`)).status, 404);
  assert.equal((await httpOnce(`${sys.url()}/metrics/`)).status, 404);
});
