// A worker registers with the broker only once its Redis answers. Started
// before Redis, every worker says so in its log, none is counted on
// /healthz (so nothing that waits for readiness sends it traffic), and a
// request meanwhile gets SERVICE_UNAVAILABLE - never a "storage unavailable"
// from a worker that took it. Once Redis is up they register by themselves
// and serve. (Registering first was how a loaded ASan run failed every items
// test with INTERNAL "storage unavailable".)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { System, emitAck, expectOk, expectError } from './lib/system.mjs';

test('workers started before Redis wait for it: not on /healthz, then registered and serving', { timeout: 60000 }, async (t) => {
  const sys = new System({ workers: 1, wait: false, env: { PARLEY_QUEUE_TIMEOUT_MS: '1500' } });
  // The whole output of a worker (its warning may come before we look).
  const logged = (w, re) => sys.proc(w).waitFor(() => re.test(sys.proc(w).output), 10000, `no ${re} in ${w}'s output`);
  await sys.init();
  try {
    await sys.start('broker');
    for (const w of sys.workerNames) await sys.start(w);
    for (const g of sys.gatewayNames) await sys.start(g);
    // Each worker tells why it does not register (the wait is on its log).
    await Promise.all(sys.workerNames.map((w) => logged(w, /does not answer: not registering with the broker/)));
    const h = await sys.waitHealth({ status: 503, pred: (b) => b?.broker === true });
    for (const [svc, s] of Object.entries(h.body.services)) {
      assert.equal(s.workers, 0, `${svc} registered without its Redis`);
    }
    const s = await sys.user('sf-alice');
    expectError(await emitAck(s, 'item:create', { name: 'Early', type: 'gear' }, 10000), 'SERVICE_UNAVAILABLE');

    await sys.start('redis');
    await sys.startAll();       // nothing left to start: waits for /healthz with every worker
    await Promise.all(sys.workerNames.map((w) => logged(w, /redis answers: registering/)));
    const item = expectOk(await emitAck(s, 'item:create', { name: 'Late', type: 'gear' }));
    assert.deepEqual(expectOk(await emitAck(s, 'item:get', item.id)), item);
    s.disconnect();
  } catch (e) {
    sys.dumpLogs(`test "${t.name}" failed`);
    throw e;
  } finally {
    await sys.stop();
  }
});
