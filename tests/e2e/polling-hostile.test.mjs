// HTTP long-polling against hostile timing and volume (found by review):
// - a held GET whose connection goes away in the same loop turn as a
//   request that closes its session (a POST of "1", a malformed POST, an
//   overlapping GET) must be forgotten by the session before pl_h1 frees
//   the connection: the session is freed on the next turn and would answer
//   the GET on freed memory. Each round races the two; under the sanitizer
//   build (script/test --sanitize) a use-after-free is a report, and stop()
//   fails on any report;
// - a session holds no socket, so nothing but PARLEY_POLL_MAX_SESSIONS
//   bounds how many handshakes one keep-alive connection can open: past it
//   a handshake gets 503, and a closed session frees its place.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { useSystem, startSystem } from './lib/system.mjs';

const bounded = (ms = 5000) => ({ signal: AbortSignal.timeout(ms) });
const base = (sys) => `${sys.url()}${sys.eioPath}?EIO=4&transport=polling`;

async function handshake(sys) {
  const res = await fetch(base(sys), bounded());
  const text = await res.text();
  return { status: res.status, text, sid: res.status === 200 ? JSON.parse(text.slice(1)).sid : null };
}

/** A raw TCP connection that has sent one request (held or not). */
function rawRequest(port, request) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => { s.write(request); resolve(s); });
    s.on('error', () => {});            // a reset after destroy() is expected
    s.once('error', reject);
  });
}

/** Resolves once the gateway has said nothing on s for a moment or closed
 * it: the GET is held (it has nothing to send) or answered. */
function heldOrAnswered(s, ms = 30) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    s.once('data', () => { clearTimeout(t); resolve(); });
    s.once('close', () => { clearTimeout(t); resolve(); });
  });
}

const h = useSystem({ workers: 1 });

h.test('a held GET dropped in the same turn as the request that closes its session: no use after free', async (t, sys) => {
  const port = Number(new URL(sys.url()).port);
  const path = `${sys.eioPath}?EIO=4&transport=polling`;
  const closers = [
    (sid) => `POST ${path}&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 1\r\n\r\n1`,
    (sid) => `POST ${path}&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 3\r\n\r\nabc`,
    (sid) => `GET ${path}&sid=${sid} HTTP/1.1\r\nHost: x\r\n\r\n`,
  ];
  for (let round = 0; round < 60; round++) {
    const { sid } = await handshake(sys);
    assert.ok(sid);
    // the open packet is answered; a GET now has nothing to say and waits
    const held = await rawRequest(port, `GET ${path}&sid=${sid} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await heldOrAnswered(held);
    const closer = await new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        // both in one burst: the closing request and the held GET's end
        s.write(closers[round % closers.length](sid));
        held.destroy();
        resolve(s);
      });
      s.on('error', () => {});
      s.once('error', reject);
    });
    await heldOrAnswered(closer, 50);
    closer.destroy();
    // the session is gone either way
    const res = await fetch(`${base(sys)}&sid=${encodeURIComponent(sid)}`, bounded());
    assert.equal(res.status, 400, `round ${round}`);
    await res.text();
  }
  const health = await sys.health();
  assert.equal(health.status, 200);
});

test('PARLEY_POLL_MAX_SESSIONS: a handshake past the cap gets 503; a closed session frees its place', { timeout: 60000 }, async () => {
  const sys = await startSystem({ workers: 1, env: { PARLEY_POLL_MAX_SESSIONS: '3' } });
  try {
    const sids = [];
    for (let i = 0; i < 3; i++) {
      const r = await handshake(sys);
      assert.equal(r.status, 200);
      sids.push(r.sid);
    }
    const refused = await handshake(sys);
    assert.equal(refused.status, 503);
    assert.deepEqual(JSON.parse(refused.text), { code: 0, message: 'too many polling sessions on this gateway' });
    // the client's close ("1") ends one session: its place is free again
    const res = await fetch(`${base(sys)}&sid=${encodeURIComponent(sids[0])}`, {
      method: 'POST', body: '1', headers: { 'content-type': 'text/plain;charset=UTF-8' }, ...bounded(),
    });
    assert.equal(res.status, 200);
    await res.text();
    const again = await handshake(sys);
    assert.equal(again.status, 200);
    assert.ok(again.sid);
  } catch (e) {
    sys.dumpLogs('session cap test failed');
    throw e;
  } finally {
    await sys.stop();
  }
});
