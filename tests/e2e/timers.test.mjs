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
import { execFileSync } from 'node:child_process';
import net from 'node:net';
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

// The listener pauses 100 ms when accept() runs out of descriptors (EMFILE)
// and resumes on a timer: that timer too was an lws one, which resumed
// accepting seconds late. The gateway's descriptor limit is lowered with
// prlimit(1), 100 connections use it up, they close, and a /healthz must be
// answered soon after.
h.test('the listener resumes accepting on time after running out of descriptors', async (t, sys) => {
  const gw = sys.proc('gateway');
  const pid = String(gw.child.pid);
  const before = execFileSync('prlimit', ['--pid', pid, '--nofile', '--raw', '--noheadings',
    '--output', 'SOFT,HARD']).toString().trim().split(/\s+/);
  execFileSync('prlimit', ['--pid', pid, '--nofile=64:' + before[1]]);
  const port = new URL(sys.url()).port;
  const socks = [];
  try {
    for (let i = 0; i < 100; i++) {
      socks.push(await new Promise((resolve) => {
        const s = net.connect(Number(port), '127.0.0.1', () => resolve(s));
        s.on('error', () => resolve(s));
      }));
    }
    await gw.waitFor(() => /pausing 100 ms/.test(gw.output), 5000, 'the listener never paused');
    for (const s of socks) s.destroy();
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(ACK_WAIT_MS) });
    const took = Date.now() - t0;
    t.diagnostic(`/healthz ${res.status} ${took} ms after the connections closed`);
    assert.equal(res.status, 200);
    assert.ok(took <= 2000, `/healthz answered after ${took} ms, expected by 2000 ms`);
  } finally {
    for (const s of socks) s.destroy();
    execFileSync('prlimit', ['--pid', pid, `--nofile=${before[0]}:${before[1]}`]);
  }
});
