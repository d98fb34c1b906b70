// A service with no worker: /healthz says 503, requests get
// SERVICE_UNAVAILABLE within the broker's queue timeout, and a worker that
// appears (or leaves with SIGTERM) is noticed.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';

const QUEUE_TIMEOUT_MS = 1500;
// Only actors is required: the other services have no worker here either.
const h = useSystem({ workers: 0, env: { PARLEY_QUEUE_TIMEOUT_MS: String(QUEUE_TIMEOUT_MS), PARLEY_REQUIRED_SERVICES: 'actors' } });

h.test('/healthz is 503 while no actors worker runs', async (t, sys) => {
  const res = await sys.waitHealth({ status: 503, pred: (b) => b && b.broker === true, timeoutMs: 10000 });
  assert.notEqual(res.body.status, 'ok');
  assert.equal(res.body.services?.actors?.workers ?? 0, 0);
  // Still 503 a little later: nothing is coming by itself.
  assert.equal((await sys.health()).status, 503);
});

h.test('a request gets SERVICE_UNAVAILABLE within the queue timeout', async (t, sys) => {
  const s = await sys.user('nw-alice');
  for (const [ev, arg] of [['actor:list', undefined], ['actor:create', { name: 'X', type: 'pc' }]]) {
    const t0 = Date.now();
    const ack = await emitAck(s, ev, arg, 10000);
    const took = Date.now() - t0;
    expectError(ack, 'SERVICE_UNAVAILABLE');
    // The broker answers at the queue deadline (not at its next heartbeat tick).
    assert.ok(took <= QUEUE_TIMEOUT_MS + 1500, `${ev}: SERVICE_UNAVAILABLE after ${took} ms`);
  }
  s.disconnect();
});

h.test('UNKNOWN_EVENT needs no worker', async (t, sys) => {
  const s = await sys.user('nw-alice');
  const t0 = Date.now();
  expectError(await emitAck(s, 'no:such', 1), 'UNKNOWN_EVENT');
  assert.ok(Date.now() - t0 < QUEUE_TIMEOUT_MS, 'answered by the gateway, not after a queue timeout');
  s.disconnect();
});

h.test('a request queued while the first worker starts is served by it', async (t, sys) => {
  const s = await sys.user('nw-alice');
  const pending = emitAck(s, 'actor:create', { name: 'Queued', type: 'pc' }, 10000);
  await sys.start('actors');
  const a = expectOk(await pending);
  assert.equal(a.name, 'Queued');
  await sys.waitHealth({ status: 200, pred: (b) => b.services.actors.workers === 1 });
  s.disconnect();
});

h.test('a worker stopped with SIGTERM leaves: 503 and SERVICE_UNAVAILABLE again', async (t, sys) => {
  await sys.kill('actors', 'SIGTERM');          // must exit 0 (checked at stop)
  await sys.waitHealth({ status: 503, pred: (b) => (b.services?.actors?.workers ?? 0) === 0, timeoutMs: 6000 });
  const s = await sys.user('nw-alice');
  expectError(await emitAck(s, 'actor:list', undefined, 10000), 'SERVICE_UNAVAILABLE');
  s.disconnect();
});
