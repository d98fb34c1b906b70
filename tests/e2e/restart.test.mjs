// Failures and restarts: a worker dying with a request, a new worker taking
// over, the broker restarting under a running gateway and worker, and the
// whole system restarting on the same data dir. Default timings (heartbeat
// 1 s x 3, request timeout 5 s), as in production.
import assert from 'node:assert/strict';
import {
  useSystem, emitAck, expectOk, expectError, eventually, waitEvent, sleep,
} from './lib/system.mjs';

const REQUEST_TIMEOUT_MS = 5000;
const h = useSystem({ workers: 1 });

h.test('a worker killed while holding a request: an error ack, not a hang', async (t, sys) => {
  const s = await sys.user('r-alice');
  expectOk(await emitAck(s, 'actor:list'));
  await sys.kill('actors', 'SIGSTOP');
  const t0 = Date.now();
  const pending = emitAck(s, 'actor:create', { name: 'Lost', type: 'pc' }, REQUEST_TIMEOUT_MS + 4000);
  // Let the broker hand the request to the stopped worker, then kill it.
  await sleep(300);
  await sys.kill('actors', 'SIGKILL');
  const ack = await pending;
  const took = Date.now() - t0;
  expectError(ack, 'TIMEOUT', 'SERVICE_UNAVAILABLE');
  assert.ok(took <= REQUEST_TIMEOUT_MS + 1500, `error ack after ${took} ms`);
  t.diagnostic(`${ack.error.code} after ${took} ms`);
  s.disconnect();
});

h.test('a new worker takes over without restarting anything else', async (t, sys) => {
  const brokerPid = sys.proc('broker').child.pid;
  const gatewayPid = sys.proc('gateway').child.pid;
  await sys.start('actors');
  const s = await sys.user('r-alice');
  const a = await eventually(async () => {
    const ack = await emitAck(s, 'actor:create', { name: 'After worker restart', type: 'pc' }, 3000);
    return ack.success && ack.data;
  }, { timeoutMs: 10000, what: 'actor:create succeeds with the new worker' });
  assert.equal(a.version, 1);
  assert.deepEqual(expectOk(await emitAck(s, 'actor:get', a.id)), a);
  await sys.waitHealth({ status: 200, pred: (b) => b.services.actors.workers === 1, timeoutMs: 8000 });
  assert.equal(sys.proc('broker').child.pid, brokerPid, 'broker not restarted');
  assert.equal(sys.proc('gateway').child.pid, gatewayPid, 'gateway not restarted');
  s.disconnect();
});

h.test('the broker is SIGKILLed and restarted: gateway and worker reconnect by themselves', async (t, sys) => {
  const gatewayPid = sys.proc('gateway').child.pid;
  const workerPid = sys.proc('actors').child.pid;
  const s = await sys.user('r-bob');
  const tab2 = await sys.user('r-bob');
  const before = expectOk(await emitAck(s, 'actor:create', { name: 'Before broker crash', type: 'pc' }));

  await sys.kill('broker', 'SIGKILL');
  // The gateway notices (no STATUS answers) and says so on /healthz.
  const down = await sys.waitHealth({ status: 503, pred: (b) => b.broker === false, timeoutMs: 8000 });
  assert.notEqual(down.body.status, 'ok');
  // A request while the broker is down gets an answer in bounded time:
  // TIMEOUT, SERVICE_UNAVAILABLE, or success if it was held until the broker came back.
  const t0 = Date.now();
  const during = emitAck(s, 'actor:list', undefined, REQUEST_TIMEOUT_MS + 4000);
  await sleep(200);
  await sys.start('broker');
  const duringAck = await during;
  assert.ok(Date.now() - t0 <= REQUEST_TIMEOUT_MS + 2000);
  if (!duringAck.success) expectError(duringAck, 'TIMEOUT', 'SERVICE_UNAVAILABLE');

  const list = await eventually(async () => {
    const ack = await emitAck(s, 'actor:list', undefined, 3000);
    return ack.success && ack.data;
  }, { timeoutMs: 10000, what: 'actor:list succeeds after the broker restart' });
  assert.ok(list.some((a) => a.id === before.id), 'data survives (it is in Redis, not the broker)');
  await sys.waitHealth({ status: 200, pred: (b) => b.broker === true && b.services.actors.workers === 1, timeoutMs: 10000 });

  // Broadcasts flow again: the gateway's room subscriptions were renewed.
  await sleep(300);
  const p = waitEvent(tab2, 'actor:created', 3000);
  const after = expectOk(await emitAck(s, 'actor:create', { name: 'After broker restart', type: 'pc' }));
  assert.deepEqual(await p, after);

  assert.equal(sys.proc('gateway').child.pid, gatewayPid, 'gateway not restarted');
  assert.equal(sys.proc('actors').child.pid, workerPid, 'worker not restarted');
  s.disconnect(); tab2.disconnect();
});

h.test('the whole system restarted on the same data dir keeps the actors', async (t, sys) => {
  const s = await sys.user('r-carol');
  const a = expectOk(await emitAck(s, 'actor:create', { name: 'Persistent', type: 'pc', gold: 12 }));
  const b = expectOk(await emitAck(s, 'actor:create', { name: 'Also persistent', type: 'npc' }));
  const a2 = expectOk(await emitAck(s, 'actor:update', { id: a.id, gold: 13 }));
  const gone = expectOk(await emitAck(s, 'actor:create', { name: 'Deleted', type: 'npc' }));
  expectOk(await emitAck(s, 'actor:delete', gone.id));
  const listBefore = expectOk(await emitAck(s, 'actor:list'));
  assert.deepEqual(listBefore.map((x) => x.id), [a.id, b.id]);

  await sys.restartAll();     // SIGTERM all (each must exit 0), start all again

  const s2 = await sys.user('r-carol');
  const listAfter = expectOk(await emitAck(s2, 'actor:list'));
  assert.deepEqual(listAfter, listBefore);
  assert.equal(listAfter[0].version, 2);
  assert.deepEqual(expectOk(await emitAck(s2, 'actor:get', a.id)), a2);
  expectError(await emitAck(s2, 'actor:get', gone.id), 'NOT_FOUND');
  // And it keeps working: versions go on from where they were.
  const a3 = expectOk(await emitAck(s2, 'actor:update', { id: a.id, gold: 14 }));
  assert.equal(a3.version, 3);
  s2.disconnect();
});
