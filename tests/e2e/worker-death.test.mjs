// The broker, not only the gateway's own timer, answers for a dead worker:
// with the gateway's request timeout far away (15 s), a request held by a
// worker that dies must still come back TIMEOUT once the broker declares the
// worker dead (PARLEY_HEARTBEAT_MS x PARLEY_HEARTBEAT_LIVENESS), and other
// workers of the service keep serving.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError, sleep } from './lib/system.mjs';

const HEARTBEAT_MS = 500;
const LIVENESS = 3;
const h = useSystem({
  workers: 2,
  env: {
    PARLEY_REQUEST_TIMEOUT_MS: '15000',
    PARLEY_HEARTBEAT_MS: String(HEARTBEAT_MS),
    PARLEY_HEARTBEAT_LIVENESS: String(LIVENESS),
  },
});

h.test('requests held by a stopped-then-killed worker come back TIMEOUT from the broker', async (t, sys) => {
  const s = await sys.user('wd-alice');
  expectOk(await emitAck(s, 'actor:list'));
  await sys.kill('actors', 'SIGSTOP');
  const t0 = Date.now();
  // The broker spreads requests over both workers: some land on the
  // stopped one, the rest are served by the other at once.
  const pending = Array.from({ length: 6 }, (_, i) =>
    emitAck(s, 'actor:create', { name: `wd-${i}`, type: 'npc' }, 14000).then((ack) => ({ ack, at: Date.now() - t0 })));
  await sleep(200);
  await sys.kill('actors', 'SIGKILL');
  const results = await Promise.all(pending);
  const failed = results.filter((r) => !r.ack.success);
  const served = results.filter((r) => r.ack.success);
  t.diagnostic(`served ${served.length}, failed ${failed.map((r) => `${r.ack.error.code}@${r.at}ms`).join(', ')}`);
  assert.ok(failed.length > 0, 'some requests went to the stopped worker');
  assert.ok(served.length > 0, 'the other worker served the rest');
  const bound = HEARTBEAT_MS * (LIVENESS + 1) + 1500;
  for (const r of failed) {
    expectError(r.ack, 'TIMEOUT');
    // the broker's TIMEOUT names the request (issue 13: error.requestId)
    assert.match(r.ack.error.requestId ?? '', /^gw-[0-9a-f]{8}-[0-9a-f]{1,16}$/, JSON.stringify(r.ack.error));
    assert.ok(r.at <= bound, `TIMEOUT after ${r.at} ms, expected by ${bound} ms (worker declared dead), well before the gateway's 15 s`);
  }
  assert.equal(new Set(failed.map((r) => r.ack.error.requestId)).size, failed.length, 'one id per request');
  // The survivor keeps serving.
  expectOk(await emitAck(s, 'actor:list'));
  await sys.waitHealth({ status: 200, pred: (b) => b.services.actors.workers === 1, timeoutMs: 5000 });
  s.disconnect();
});
