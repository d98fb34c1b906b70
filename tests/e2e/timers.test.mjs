// The gateway's timers fire on time on an idle gateway. lws 4.1.6's libev
// glue never moves its one libev timer earlier (it restarts it without
// stopping it, which libev ignores), so an lws timer due before the armed
// one (the request timeout, scheduled from a WebSocket or a long-polling
// request) used to wait for that one: the broker's status every
// PARLEY_HEARTBEAT_MS; and a reply drained from a libev callback waited
// for the next unrelated lws activity (pl_gateway_int.h). Here the
// heartbeat, presence and ping periods are far away (12 s and more), the
// request timeout is short, and the worker is stopped: the TIMEOUT ack must
// come close to PARLEY_REQUEST_TIMEOUT_MS, not up to a heartbeat later. The
// system is ready (/healthz) just after a status answer, so the armed lws
// timer is then a heartbeat away: without the fix the TIMEOUT came after
// about 5 s over WebSocket, and the first reply over polling after more than
// 7 s (its drain waited). How late depends on other libev timer activity
// (libev reorders its heap), so a run without the fix is not always late.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';

const TIMEOUT_MS = 800;
const HEARTBEAT_MS = 12000;
// generous for a loaded 2-core box, far below the heartbeat the late timer waited for
const BOUND_MS = TIMEOUT_MS + 3000;
const ACK_WAIT_MS = 7000;

const h = useSystem({
  workers: 1,
  env: {
    PARLEY_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
    PARLEY_QUEUE_TIMEOUT_MS: '500',
    PARLEY_HEARTBEAT_MS: String(HEARTBEAT_MS),
    PARLEY_PRESENCE_TTL_MS: '600000',
    PARLEY_PING_INTERVAL_MS: '120000',
    PARLEY_PING_TIMEOUT_MS: '120000',
  },
});

async function timeoutAck(sys, t, sub, transports) {
  const s = await sys.connectOk(sys.token({ sub, name: sub }), { io: { transports } });
  // a reply first: pl_bus's drain, scheduled from a libev callback
  expectOk(await emitAck(s, 'actor:list', undefined, 5000));
  await sys.kill('actors', 'SIGSTOP');
  try {
    const t0 = Date.now();
    const ack = await emitAck(s, 'actor:list', undefined, ACK_WAIT_MS);
    const took = Date.now() - t0;
    t.diagnostic(`${transports.join(',')}: ${ack.error?.code} after ${took} ms`);
    expectError(ack, 'TIMEOUT');
    assert.ok(took >= TIMEOUT_MS - 50, `TIMEOUT after ${took} ms, before the ${TIMEOUT_MS} ms timeout`);
    assert.ok(took <= BOUND_MS, `TIMEOUT after ${took} ms, expected by ${BOUND_MS} ms (PARLEY_REQUEST_TIMEOUT_MS ${TIMEOUT_MS})`);
  } finally {
    await sys.kill('actors', 'SIGCONT');
  }
  s.disconnect();
}

h.test('a request over long-polling to a stopped worker is acked TIMEOUT on time on an idle gateway', async (t, sys) => {
  await timeoutAck(sys, t, 'tm-poll', ['polling']);
});

h.test('a request over WebSocket to a stopped worker is acked TIMEOUT on time on an idle gateway', async (t, sys) => {
  await timeoutAck(sys, t, 'tm-ws', ['websocket']);
});
