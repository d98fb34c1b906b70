// clients/js (@parley/client) over a scripted socket: the cases a real
// system cannot be made to produce on demand (an app's onConflict that
// throws, a run of VERSION_CONFLICTs followed by a TIMEOUT, a server that
// answers RATE_LIMITED to every send). session.js and store.js import
// nothing and work over any socket-like object; here the test plays the
// server, answering each request's ack callback itself. The behaviour
// against a real system is client-lib.test.mjs's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gameSession } from '../../clients/js/session.js';
import { entityStore } from '../../clients/js/store.js';

/** A socket-like object whose requests wait in `sent` for the test to answer. */
function scriptedSocket() {
  const handlers = new Map();
  const sent = [];                  // {event, arg, cb, at}
  const s = {
    connected: false,
    recovered: false,
    sent,
    on(ev, fn) { if (!handlers.has(ev)) handlers.set(ev, new Set()); handlers.get(ev).add(fn); },
    off(ev, fn) { handlers.get(ev)?.delete(fn); },
    emit(event, arg, cb) { sent.push({ event, arg, cb, at: Date.now() }); },
    timeout() { return { emit: (event, arg, cb) => sent.push({ event, arg, cb, at: Date.now() }) }; },
    fire(ev, ...args) { for (const fn of [...(handlers.get(ev) || [])]) fn(...args); },
    listenerCount(ev) { return handlers.get(ev)?.size ?? 0; },
    connect(recovered = false) { s.connected = true; s.recovered = recovered; s.fire('connect'); },
    drop() { s.connected = false; s.fire('disconnect', 'transport close'); },
    /** The next request for event, waiting for it (bounded). */
    async next(event, ms = 3000) {
      const end = Date.now() + ms;
      for (;;) {
        const i = sent.findIndex((x) => x.event === event);
        if (i >= 0) return sent.splice(i, 1)[0];
        if (Date.now() > end) throw new Error(`no ${event} request within ${ms} ms (sent: ${sent.map((x) => x.event).join(',')})`);
        await new Promise((r) => setTimeout(r, 2));
      }
    },
  };
  return s;
}

const state = (v = '5') => ({ characters: [], actors: [], items: [], currentEncounter: null, pluginData: { n: 0 }, stateVersion: v, lastUpdated: 1 });
const ok = (data) => ({ success: true, data });
const refuse = (code, extra = {}) => ({ success: false, error: { code, message: code, ...extra } });
const inc = [{ path: 'pluginData.n', operation: 'inc', value: 1 }];
const settled = (p) => p.then((v) => ({ ok: v }), (e) => ({ err: e }));

/** Answer the join at version v, then the sync that follows it with nothing new. */
async function answerJoin(s, v = '5') {
  (await s.next('gameSession:join')).cb(null, ok({ gameState: state(v), isGM: true }));
  const sync = await s.next('gameState:sync');
  assert.deepEqual(sync.arg, { sessionId: 'S1', sinceVersion: v }, 'a sync from the joined version');
  sync.cb(null, ok({ updates: [] }));
}

/** A session joined at version 5 over a scripted socket. */
async function joined(opts) {
  const s = scriptedSocket();
  s.connect();
  const g = gameSession(s, 'S1', opts);
  await answerJoin(s);
  await g.ready;
  return { s, g };
}

/** Fail the test on an unhandled rejection while fn runs. */
async function noUnhandled(fn) {
  const seen = [];
  const on = (e) => seen.push(e);
  process.on('unhandledRejection', on);
  try { await fn(); await new Promise((r) => setTimeout(r, 20)); } finally { process.off('unhandledRejection', on); }
  assert.deepEqual(seen.map((e) => e?.message ?? String(e)), [], 'no unhandled rejection');
}

test('an onConflict that throws rolls the update back with its error, not resent, no unhandled rejection', async () => {
  await noUnhandled(async () => {
    const { s, g } = await joined({ onConflict: () => { throw new Error('policy bug'); } });
    const p = settled(g.update(inc));
    assert.equal(g.state.pluginData.n, 1);
    (await s.next('gameState:update')).cb(null, refuse('VERSION_CONFLICT', { currentVersion: '6' }));
    (await s.next('gameState:sync')).cb(null, ok({ updates: [] }));
    const r = await p;
    assert.equal(r.err?.message, 'policy bug');
    assert.equal(g.pending, 0);
    assert.equal(g.state.pluginData.n, 0, 'rolled back in the view');
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(s.sent.filter((x) => x.event === 'gameState:update'), [], 'not sent again');
    g.close();
  });
});

test('a RATE_LIMITED update is resent after a growing delay (50 ms doubling), then rolled back', async () => {
  const { s, g } = await joined({ maxAttempts: 4 });
  const p = settled(g.update(inc));
  const times = [];
  for (let i = 0; i < 4; i++) {
    const req = await s.next('gameState:update');
    times.push(req.at);
    req.cb(null, refuse('RATE_LIMITED'));
  }
  const r = await p;
  assert.equal(r.err?.code, 'RATE_LIMITED');
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  // 50, 100, 200 ms (timers fire no earlier than asked)
  assert.ok(gaps[0] >= 45 && gaps[1] >= 95 && gaps[2] >= 195, `gaps ${gaps.join(',')} ms`);
  assert.equal(g.pending, 0);
  g.close();
});

test('a resend waiting for its backoff waits for the next connection after a drop, and close() stops it', async () => {
  const { s, g } = await joined({});
  const p = settled(g.update(inc));
  (await s.next('gameState:update')).cb(null, refuse('SERVICE_UNAVAILABLE'));
  s.drop();
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(s.sent.map((x) => x.event), [], 'nothing sent while disconnected');
  s.connect(false);
  await answerJoin(s);
  const again = await s.next('gameState:update');
  again.cb(null, { success: true, newVersion: '6' });
  assert.deepEqual((await p).ok, { id: again.arg.id, newVersion: '6' });
  const q = settled(g.update(inc));
  (await s.next('gameState:update')).cb(null, refuse('INTERNAL'));
  g.close();
  assert.equal((await q).err?.message, 'session closed');
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(s.sent.filter((x) => x.event === 'gameState:update'), [], 'no resend after close');
});

test('conflicts do not count towards maxAttempts; unknown outcomes end in OUTCOME_UNKNOWN, and the server\'s broadcast is the truth', async () => {
  const { s, g } = await joined({ maxAttempts: 2 });
  const p = settled(g.update(inc));
  for (let i = 0; i < 4; i++) {
    (await s.next('gameState:update')).cb(null, refuse('VERSION_CONFLICT', { currentVersion: '5' }));
    (await s.next('gameState:sync')).cb(null, ok({ updates: [] }));
  }
  // one TIMEOUT after 4 conflicts: the outcome is unknown, so resent (same id)
  const first = await s.next('gameState:update');
  first.cb(null, refuse('TIMEOUT'));
  const second = await s.next('gameState:update');
  assert.equal(second.arg.id, first.arg.id, 'resent with the same id');
  assert.equal(g.pending, 1);
  // the second unknown outcome: rejected as unknown, never as refused
  second.cb(null, refuse('INTERNAL'));
  const r = await p;
  assert.equal(r.err?.code, 'OUTCOME_UNKNOWN');
  assert.equal(r.err?.id, first.arg.id);
  assert.equal(g.outcome(first.arg.id), 'unknown');
  assert.equal(g.pending, 0);
  assert.equal(g.state.pluginData.n, 0, 'the view is the confirmed state');
  // the server had applied it: its broadcast brings it in
  g.subscribe(() => {});
  s.fire('gameState:updated', { sessionId: 'S1', id: first.arg.id, version: '6', previousVersion: '5', operations: inc, lastUpdated: 2 });
  assert.equal(g.state.pluginData.n, 1);
  assert.equal(g.version, '6');
  assert.equal(g.outcome(first.arg.id), 'applied');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(s.sent.filter((x) => x.event === 'gameState:update'), [], 'not sent again');
  g.close();
});

test('a join refused for good on a reconnect rejects the queued updates and tells subscribers; a retryable one is tried again', async () => {
  const { s, g } = await joined({});
  const causes = [];
  g.subscribe((st, info) => causes.push(info.cause));
  s.drop();
  const p = settled(g.update(inc));
  s.connect(false);
  (await s.next('gameSession:join')).cb(null, refuse('RATE_LIMITED'));
  (await s.next('gameSession:join')).cb(null, refuse('SERVICE_UNAVAILABLE'));
  (await s.next('gameSession:join')).cb(null, refuse('FORBIDDEN'));
  const r = await p;
  assert.equal(r.err?.code, 'FORBIDDEN');
  assert.equal(g.lastError?.code, 'FORBIDDEN');
  assert.equal(g.pending, 0);
  assert.ok(causes.includes('error'), `causes ${causes}`);
  assert.equal((await settled(g.update(inc))).err?.code, 'FORBIDDEN', 'refused at once on this connection');
  // a new connection starts over
  s.drop();
  s.connect(false);
  await answerJoin(s, '7');
  assert.equal(g.lastError, null);
  const q = settled(g.update(inc));
  (await s.next('gameState:update')).cb(null, { success: true, newVersion: '8' });
  assert.equal((await q).ok?.newVersion, '8');
  g.close();
});

const actor = (id, version, extra = {}) => ({ id, campaignId: 'C', name: id, version, createdAt: 1, ...extra });

/** A store over a scripted socket, subscribed, its list request waiting. */
async function listing(opts) {
  const s = scriptedSocket();
  s.connect();
  const st = entityStore(s, 'actor', 'C', opts);
  (await s.next('subscribe')).cb(null, ok({ room: 'campaign:C' }));
  return { s, st, list: await s.next('actor:list') };
}

test('a store without includeHidden: an actor hidden while the list is in flight stays out (the older listed version does not bring it back)', async () => {
  const { s, st, list } = await listing({});
  s.fire('actor:updated', actor('a1', 2, { hidden: true }));
  list.cb(null, ok([actor('a1', 1, { hidden: false })]));
  await st.ready;
  assert.equal(st.get('a1'), undefined);
  // and an older event after it neither
  s.fire('actor:updated', actor('a1', 1, { hidden: false }));
  assert.equal(st.get('a1'), undefined);
  s.fire('actor:updated', actor('a1', 3, { hidden: false }));
  assert.equal(st.get('a1')?.version, 3, 'revealed at a newer version');
  st.close();
});

test('two refreshes in flight at once each merge what happened during their own list', async () => {
  const { s, st, list } = await listing({});
  list.cb(null, ok([actor('a1', 1)]));
  await st.ready;
  const r1 = st.refresh();
  (await s.next('subscribe')).cb(null, ok({}));
  const l1 = await s.next('actor:list');
  s.fire('actor:deleted', 'a1');
  const r2 = st.refresh();
  (await s.next('subscribe')).cb(null, ok({}));
  const l2 = await s.next('actor:list');
  s.fire('actor:created', actor('a2', 1));
  l2.cb(null, ok([]));                       // read before a2 was created
  await r2;
  assert.deepEqual(st.items.map((e) => e.id), ['a2']);
  l1.cb(null, ok([actor('a1', 1)]));         // read before a1 was deleted
  await r1;
  assert.deepEqual(st.items.map((e) => e.id), ['a2'], 'a1 stays deleted, a2 kept');
  st.close();
});

test('a store refused for good on a reconnect says so (lastError, cause error); a retryable refusal is tried again', async () => {
  const { s, st, list } = await listing({});
  list.cb(null, ok([actor('a1', 1)]));
  await st.ready;
  const causes = [];
  st.subscribe((items, info) => causes.push(info.cause));
  s.drop();
  s.connect(false);
  (await s.next('subscribe')).cb(null, refuse('RATE_LIMITED'));
  (await s.next('subscribe')).cb(null, ok({}));
  (await s.next('actor:list')).cb(null, refuse('FORBIDDEN'));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(st.lastError?.code, 'FORBIDDEN');
  assert.deepEqual(causes, ['error']);
  assert.deepEqual(s.sent.map((x) => x.event), [], 'not tried again');
  st.close();
});

test('close() before the join rejects ready; a sync answered after close() calls no listener', async () => {
  const s = scriptedSocket();
  s.connect();
  const g = gameSession(s, 'S1');
  const ready = settled(g.ready);
  const join = await s.next('gameSession:join');
  g.close();
  join.cb(null, ok({ gameState: state('5'), isGM: true }));
  assert.equal((await ready).err?.message, 'session closed');
  assert.equal(s.listenerCount('gameState:updated'), 0);

  const { s: s2, g: g2 } = await joined({});
  const calls = [];
  g2.subscribe((st, info) => calls.push(info.cause));
  const sync = settled(g2.sync());
  const req = await s2.next('gameState:sync');
  g2.close();
  req.cb(null, ok({ updates: [{ sessionId: 'S1', id: 'x', version: '6', previousVersion: '5', operations: inc, lastUpdated: 2 }] }));
  await sync;
  assert.deepEqual(calls, [], 'no listener called after close');
});

test('a sync right after each join brings an update committed between the join\'s snapshot and the room join (missed broadcast)', async () => {
  const s = scriptedSocket();
  s.connect();
  const g = gameSession(s, 'S1');
  (await s.next('gameSession:join')).cb(null, ok({ gameState: state('5'), isGM: true }));
  await g.ready;
  const q = settled(g.update(inc));
  const sync = await s.next('gameState:sync');
  assert.deepEqual(s.sent.map((x) => x.event), [], 'the update waits for the sync');
  sync.cb(null, ok({ updates: [{ sessionId: 'S1', id: 'other', version: '6', previousVersion: '5', operations: inc, lastUpdated: 2 }] }));
  const up = await s.next('gameState:update');
  assert.equal(up.arg.version, '6', 'based on the version the sync brought');
  up.cb(null, { success: true, newVersion: '7' });
  assert.equal((await q).ok?.newVersion, '7');
  assert.equal(g.version, '6');
  assert.equal(g.state.pluginData.n, 2, 'the missed update and this one');
  g.close();
});
