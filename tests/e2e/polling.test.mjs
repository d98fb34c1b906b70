// Engine.IO v4 HTTP long-polling and the upgrade to WebSocket, end to end:
// (a) a socket.io-client with its default options (polling first, then the
// upgrade) runs a GM-and-player flow: requests and acks, room broadcasts,
// presence; (c) the raw HTTP protocol with fetch, every refusal (bad EIO,
// bad transport, unknown sid, wrong method, 413), a duplicate GET, a
// cancelled GET, the client's close, and the upgrade over a raw WebSocket
// (2probe/3probe/5, a reply queued during the upgrade arrives over the
// WebSocket, polling gets 400 afterwards); the heartbeat timeout on a
// system with a short ping. polling-flows.test.mjs runs the rooms, presence
// and game-state suites with transports: ["polling"] (b).
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useSystem, emitAck, expectOk, eventually, sleep } from './lib/system.mjs';
import { RawClient } from './lib/raw.mjs';
import { settle, subscribeOk, setupCampaign } from './lib/campaign.mjs';

// sys.connect here is socket.io-client's default: no transports option.
process.env.PARLEY_E2E_TRANSPORTS = 'default';

const base = (sys) => `${sys.url()}${sys.eioPath}?EIO=4&transport=polling`;
const bounded = (ms = 5000) => ({ signal: AbortSignal.timeout(ms) });

/** The handshake GET: {sid, open} (asserts 200, text/plain, the open packet). */
async function handshake(sys) {
  const res = await fetch(base(sys), bounded());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=UTF-8');
  const text = await res.text();
  assert.match(text, /^0\{/);
  const open = JSON.parse(text.slice(1));
  return { sid: open.sid, open };
}

async function get(sys, sid, opts = bounded()) {
  const res = await fetch(`${base(sys)}&sid=${encodeURIComponent(sid)}`, opts);
  return { status: res.status, body: await res.text() };
}

async function post(sys, sid, body, opts = {}) {
  const res = await fetch(`${base(sys)}&sid=${encodeURIComponent(sid)}`, {
    method: 'POST', body, headers: { 'content-type': 'text/plain;charset=UTF-8' }, ...bounded(), ...opts,
  });
  return { status: res.status, body: await res.text() };
}

/** A polling session with Socket.IO CONNECT done (the CONNECT packet read). */
async function connected(sys, sub) {
  const { sid } = await handshake(sys);
  assert.deepEqual(await post(sys, sid, `40{"token":"${sys.token({ sub })}"}`), { status: 200, body: 'ok' });
  const r = await get(sys, sid);
  assert.equal(r.status, 200);
  assert.match(r.body, /^40\{"sid":"/);
  return sid;
}

/** A WebSocket with a sid that may no longer upgrade: the upgrade is done
 * (101), then the server closes it without a frame. */
async function ignoredWebSocket(url) {
  const ws = await RawClient.open(url);
  await ws.closed();
  assert.deepEqual(ws.queue, []);
}

/** Is the session gone? A POST of a pong answers at once: ok, or 400. */
const gone = async (sys, sid) => (await post(sys, sid, '3')).status === 400;

// No event tells a test that a GET it sent is now waiting at the gateway;
// this is the one pause, and the assertions accept either arrival order
// where that is possible.
const HELD_MS = 200;

/** A WebSocket that has probed the polling session sid: "2probe" answered
 * "3probe", and the GET held meanwhile answered "6". */
async function probe(sys, sid, wsUrl) {
  const held = get(sys, sid);
  await sleep(HELD_MS);
  const ws = await RawClient.open(wsUrl);
  ws.send('2probe');
  assert.equal(await ws.next(), '3probe');
  assert.deepEqual(await held, { status: 200, body: '6' });
  return ws;
}

describe('polling', () => {
  const h = useSystem({ workers: 1, env: { PARLEY_MAX_PAYLOAD: '100000' },
    gatewayEnv: { PARLEY_LOG_LEVEL: 'debug' } });   // the probe test waits for a debug line

  h.test('a default socket.io-client connects by polling, upgrades, and runs requests, rooms and presence', async (t, sys) => {
    const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false, prefix: 'pl' });
    const { gm, p1 } = c;
    for (const u of [gm, p1]) {
      const engine = u.s.io.engine;
      // it started on polling: the handshake said so, and it upgraded (or does now)
      if (engine.transport.name !== 'websocket') {
        assert.equal(engine.transport.name, 'polling');
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no upgrade within 5000 ms')), 5000);
          engine.once('upgrade', () => { clearTimeout(timer); resolve(); });
        });
      }
      assert.equal(engine.transport.name, 'websocket');
    }
    // a fresh one, watched from the start: polling, then the upgrade event
    const s = sys.connect(sys.token({ sub: p1.id, name: p1.name }));
    assert.equal(s.io.engine.transport.name, 'polling');
    const seen = [];
    s.io.engine.on('upgrade', (tr) => seen.push(tr.name));
    await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); });
    await eventually(() => seen.length === 1, { timeoutMs: 5000, what: 'the upgrade event' });
    assert.deepEqual(seen, ['websocket']);
    assert.equal(s.io.engine.transport.name, 'websocket');

    // requests and acks; a room broadcast; presence
    await subscribeOk(gm.s, c.room);
    await settle();
    await subscribeOk(p1.s, c.room);
    await gm.rec.waitFor('presence:joined', (d) => d.room === c.room && d.userId === p1.id);
    const m = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: 'over the upgrade' }));
    await p1.rec.waitFor('chat:message', (x) => x.id === m.id);
    const m2 = expectOk(await emitAck(p1.s, 'chat:send', { room: c.room, text: 'back' }));
    await gm.rec.waitFor('chat:message', (x) => x.id === m2.id);
    s.disconnect();
    p1.s.disconnect();
    await gm.rec.waitFor('presence:left', (d) => d.room === c.room && d.userId === p1.id);
    c.close();
  });

  h.test('a polling client that never upgrades gets room broadcasts through held GETs', async (t, sys) => {
    const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false, prefix: 'pp' });
    const { gm } = c;
    const s = await sys.connectOk(sys.token({ sub: c.p1.id, name: c.p1.name }),
      { io: { transports: ['polling'] } });
    assert.equal(s.io.engine.transport.name, 'polling');
    const got = [];
    s.on('chat:message', (msg) => got.push(msg));
    await subscribeOk(gm.s, c.room);
    expectOk(await emitAck(s, 'subscribe', { room: c.room }));
    await settle();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: `m${i}` })).id);
    await eventually(() => got.length === 5, { timeoutMs: 5000, what: 'five messages over polling' });
    assert.deepEqual(got.map((x) => x.id), ids, 'in order, each once');
    assert.equal(s.io.engine.transport.name, 'polling');
    s.disconnect();
    c.close();
  });

  h.test('handshake: the open packet, a gateway-prefixed sid, websocket offered', async (t, sys) => {
    const { sid, open } = await handshake(sys);
    const health = await sys.health();
    assert.ok(sid.startsWith(`${health.body.gateway}.`), `sid ${sid} names its gateway`);
    assert.match(sid, /^[A-Za-z0-9_~.-]+$/, 'URL-safe');
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.maxPayload, 100000);
    assert.equal(typeof open.pingInterval, 'number');
    assert.equal(typeof open.pingTimeout, 'number');
    // the WebSocket open packet keeps []
    const ws = await RawClient.open(sys.wsUrl());
    const wsOpen = JSON.parse((await ws.next()).slice(1));
    assert.deepEqual(wsOpen.upgrades, []);
    ws.close();
  });

  h.test('refusals: bad EIO, bad transport, unknown sid, wrong methods', async (t, sys) => {
    const path = `${sys.url()}${sys.eioPath}`;
    const cases = [
      [`${path}?EIO=3&transport=polling`, 'GET', /Unsupported protocol version/],
      [`${path}?transport=polling`, 'GET', /Unsupported protocol version/],
      [`${path}?EIO=4&transport=smoke-signals`, 'GET', /Transport unknown/],
      [`${path}?EIO=4`, 'GET', /Transport unknown/],
      [`${path}?EIO=4&transport=polling&sid=nope`, 'GET', /Session ID unknown/],
      [`${path}?EIO=4&transport=polling&sid=nope`, 'POST', /Session ID unknown/],
      [`${path}?EIO=4&transport=polling`, 'POST', /Bad handshake method/],
      [`${path}?EIO=4&transport=polling`, 'PUT', /Bad handshake method/],
      [`${path}?EIO=4&transport=polling`, 'DELETE', /Bad handshake method/],
    ];
    for (const [url, method, re] of cases) {
      const res = await fetch(url, { method, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '4x' }), ...bounded() });
      assert.equal(res.status, 400, `${method} ${url}`);
      assert.match(await res.text(), re, `${method} ${url}`);
    }
    // wrong methods on a live session, which goes on
    const sid = await connected(sys, 'methods');
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const res = await fetch(`${base(sys)}&sid=${sid}`, { method, ...(method === 'DELETE' ? {} : { body: '3' }), ...bounded() });
      assert.equal(res.status, 400, method);
      await res.arrayBuffer();
    }
    assert.equal(await gone(sys, sid), false);
    // a body that is no packet: 400, and the session is closed
    assert.equal((await post(sys, sid, 'abc')).status, 400);
    assert.equal((await get(sys, sid)).status, 400);
  });

  h.test('a POST over maxPayload gets 413 and the session goes on; messages round-trip', async (t, sys) => {
    const sid = await connected(sys, 'big');
    const big = `42["chat:send",{"text":"${'x'.repeat(100001)}"}]`;
    const r = await post(sys, sid, big);
    assert.equal(r.status, 413);
    assert.equal(await gone(sys, sid), false, 'the session goes on');
    // a request and its ack, several packets in one body, over polling
    assert.deepEqual(await post(sys, sid, '421["no:such:event",{}]\x1e2\x1e422["campaign:list",{}]'),
      { status: 200, body: 'ok' });
    const seen = [];
    while (!(seen.some((p) => p.startsWith('431')) && seen.some((p) => p.startsWith('432'))
             && seen.includes('3'))) {
      const g = await get(sys, sid);
      assert.equal(g.status, 200);
      seen.push(...g.body.split('\x1e'));
    }
    assert.match(seen.find((p) => p.startsWith('431')), /UNKNOWN_EVENT/);
    assert.match(seen.find((p) => p.startsWith('432')), /^432\[\{"success":true/);
  });

  h.test('a duplicate GET closes the session: one gets "1", the other 400, then 400', async (t, sys) => {
    const sid = await connected(sys, 'dup');
    const first = get(sys, sid);
    await sleep(HELD_MS);
    const second = get(sys, sid);
    const answers = await Promise.all([first, second]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400]);
    assert.equal(answers.find((a) => a.status === 200).body, '1');
    assert.equal((await get(sys, sid)).status, 400);
  });

  h.test('a cancelled GET closes the session', async (t, sys) => {
    const sid = await connected(sys, 'cancel');
    const ac = new AbortController();
    const held = get(sys, sid, { signal: ac.signal }).catch((e) => e);
    await sleep(HELD_MS);
    ac.abort();
    assert.equal((await held).name, 'AbortError');
    await eventually(() => gone(sys, sid), { timeoutMs: 3000, what: 'the session closed' });
    assert.equal((await get(sys, sid)).status, 400);
  });

  h.test('the client\'s close: a POST of "1" answers the held GET "6", then 400', async (t, sys) => {
    const sid = await connected(sys, 'bye');
    const held = get(sys, sid);
    await sleep(HELD_MS);
    assert.deepEqual(await post(sys, sid, '1'), { status: 200, body: 'ok' });
    assert.deepEqual(await held, { status: 200, body: '6' });
    assert.equal((await get(sys, sid)).status, 400);
    assert.equal((await post(sys, sid, '3')).status, 400);
  });

  h.test('a Socket.IO protocol error over polling closes the session: the held GET gets "1", then 400', async (t, sys) => {
    const { sid } = await handshake(sys);
    const held = get(sys, sid);
    await sleep(HELD_MS);
    // an EVENT before any CONNECT: the same close as on a WebSocket
    assert.deepEqual(await post(sys, sid, '42["campaign:list",{}]'), { status: 200, body: 'ok' });
    assert.deepEqual(await held, { status: 200, body: '1' });
    assert.equal((await get(sys, sid)).status, 400);
    // a bad JWT is a connect_error, and the session goes on
    const sid2 = (await handshake(sys)).sid;
    assert.deepEqual(await post(sys, sid2, '40{"token":"nope"}'), { status: 200, body: 'ok' });
    const r = await get(sys, sid2);
    assert.match(r.body, /^44\{"message":"unauthorized: /);
    assert.equal(await gone(sys, sid2), false);
  });

  h.test('upgrade over a raw WebSocket: 2probe/3probe, the held GET gets 6, 5; a reply queued meanwhile arrives on the WebSocket; polling gets 400 after', async (t, sys) => {
    const sid = await connected(sys, 'up');
    const wsUrl = `${sys.wsUrl()}&sid=${encodeURIComponent(sid)}`;
    // an unknown sid is refused before the 101
    await assert.rejects(RawClient.open(`${sys.wsUrl()}&sid=nope`), /HTTP 400 instead of an upgrade/);
    const ws = await probe(sys, sid, wsUrl);
    // a second WebSocket for the same sid is opened and closed at once while
    // the first probes (engine.io ignores it): no open packet, no session
    await ignoredWebSocket(wsUrl);
    // a request over polling during the upgrade: its reply must not be lost
    assert.deepEqual(await post(sys, sid, '427["campaign:list",{}]'), { status: 200, body: 'ok' });
    ws.send('5');
    assert.match(await ws.nextNonPing(), /^437\[\{"success":true/);
    // the session now lives on the WebSocket
    ws.send('428["campaign:list",{}]');
    assert.match(await ws.nextNonPing(), /^438\[\{"success":true/);
    assert.equal((await get(sys, sid)).status, 400);
    assert.equal((await post(sys, sid, '3')).status, 400);
    // ... and after the upgrade (the official suite's "ignores WebSocket
    // connection with same sid after upgrade"); the session goes on
    await ignoredWebSocket(wsUrl);
    ws.send('429["campaign:list",{}]');
    assert.match(await ws.nextNonPing(), /^439\[\{"success":true/);
    ws.close();
  });

  h.test('a probe whose WebSocket goes away before "5": the session polls again (GETs held, not answered "6")', async (t, sys) => {
    const sid = await connected(sys, 'unprobe');
    const wsUrl = `${sys.wsUrl()}&sid=${encodeURIComponent(sid)}`;
    const ws = await probe(sys, sid, wsUrl);
    // the client's close event can come before the gateway handles the
    // close (it once took the next GET first, answered "6" as the session
    // was still upgrading): wait for the gateway's own line instead
    const gw = sys.proc('gateway');
    const mark = gw.output.length;
    ws.close();
    await ws.closed(3000);
    await gw.waitFor(() => /probing WebSocket went away before upgrading; polling again/
      .test(gw.output.slice(mark)), 5000, 'no "probing WebSocket went away" line');
    // polling again: a GET waits until there is something to say (a pong
    // to the client's ping), where an upgrading session answers "6" at once
    const next = get(sys, sid);
    await sleep(HELD_MS);
    assert.deepEqual(await post(sys, sid, '2'), { status: 200, body: 'ok' });
    assert.deepEqual(await next, { status: 200, body: '3' });
    // and it may probe again, and upgrade
    const ws2 = await probe(sys, sid, wsUrl);
    ws2.send('5');
    ws2.send('421["campaign:list",{}]');
    assert.match(await ws2.nextNonPing(), /^431\[\{"success":true/);
    ws2.close();
  });
});

describe('polling heartbeat', () => {
  const h = useSystem({ workers: 1, env: { PARLEY_PING_INTERVAL_MS: '300', PARLEY_PING_TIMEOUT_MS: '400' } });

  h.test('pings come as GET answers; answering keeps the session, silence closes it', async (t, sys) => {
    const { sid, open } = await handshake(sys);
    assert.equal(open.pingInterval, 300);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await get(sys, sid), { status: 200, body: '2' });
      assert.deepEqual(await post(sys, sid, '3'), { status: 200, body: 'ok' });
    }
    // no pong this time: the next GET gets the ping, then the close or 400
    assert.deepEqual(await get(sys, sid), { status: 200, body: '2' });
    const after = await get(sys, sid);
    assert.ok(after.status === 400 || after.body === '1', `got ${JSON.stringify(after)}`);
    assert.equal((await get(sys, sid)).status, 400);
  });
});
