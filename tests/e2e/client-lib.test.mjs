// clients/js (@parley/client, issue 14 section 2) against a real system:
// connectParley's sockets, gameSession's ordered application, optimistic
// updates with rebase and rollback, and its offline queue. Three GM tabs
// write with seeded random think times, seeded random transport drops and
// seeded random delays on the gameState:updated they receive (so updates
// reach the library out of order); with a player watching, all converge on
// the server's state, and the session's log holds every acknowledged
// update exactly once.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, eventually } from './lib/system.mjs';
import { setupCampaign } from './lib/campaign.mjs';
import { connectParley, gameSession, applyOps, entityStore } from '../../clients/js/index.js';

const h = useSystem({ workers: 1 });

// A seeded PRNG (mulberry32), so a failing run can be replayed with its seed.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SEED = Number(process.env.PARLEY_CLIENT_SEED || 1414);

/** A library socket for `user` (reconnecting fast, over the harness's transports). */
function libSocket(sys, user) {
  const want = process.env.PARLEY_E2E_TRANSPORTS || 'websocket';
  const s = connectParley(sys.url(), {
    token: sys.token({ sub: user.id, name: user.name }),
    path: sys.eioPath,
    forceNew: true,
    timeout: 5000,
    reconnectionDelay: 20,
    reconnectionDelayMax: 100,
    ...(want === 'default' ? {} : { transports: want.split(',') }),
  });
  sys.sockets.add(s);
  return s;
}

/**
 * The socket as gameSession sees it, with every gameState:updated handed
 * to the library after a random delay of 0..maxMs (so out of order).
 */
function delayedUpdates(socket, random, maxMs) {
  const wrapped = new Map();
  return new Proxy(socket, {
    get(target, prop) {
      if (prop === 'on') {
        return (ev, fn) => {
          if (ev !== 'gameState:updated') return target.on(ev, fn);
          const w = (...args) => { setTimeout(() => fn(...args), Math.floor(random() * maxMs)); };
          wrapped.set(fn, w);
          return target.on(ev, w);
        };
      }
      if (prop === 'off') return (ev, fn) => target.off(ev, wrapped.get(fn) || fn);
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Resolve when pred(session) holds, checked now and on every change (bounded). */
function until(session, pred, what, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    let off = () => {};
    const timer = setTimeout(() => { off(); reject(new Error(`${what}: not within ${timeoutMs} ms (version ${session.version}, ${JSON.stringify(session.stats)})`)); }, timeoutMs);
    const check = () => {
      if (!pred(session)) return;
      clearTimeout(timer); off(); resolve();
    };
    off = session.subscribe(check);
    check();
  });
}

/** p, or a rejection naming what did not settle within ms. */
function within(p, what, ms = 20000) {
  let timer;
  const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms); });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Resolve once socket is connected (bounded). */
function connected(socket, what = 'socket', timeoutMs = 5000) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError = null;
    const onError = (e) => { lastError = e?.message || String(e); };
    const timer = setTimeout(() => {
      socket.off('connect_error', onError);
      reject(new Error(`${what}: no connect within ${timeoutMs} ms (active ${socket.active}, last connect_error ${lastError})`));
    }, timeoutMs);
    socket.on('connect_error', onError);
    socket.once('connect', () => { clearTimeout(timer); socket.off('connect_error', onError); resolve(); });
  });
}

async function newSession(c) {
  return expectOk(await emitAck(c.gm.s, 'gameSession:create', { campaignId: c.id, name: 'lib' }));
}

/** A connected library socket for user, disconnected after the test. */
async function libConnected(t, sys, user) {
  const s = libSocket(sys, user);
  t.after(() => s.disconnect());
  await connected(s, user.id);
  return s;
}

/** A campaign, a new session in it, and the GM's library socket and joined gameSession. */
async function gmGame(t, sys, { players = 0, ...opts } = {}) {
  const c = await setupCampaign(sys, { players, outsider: false, subscribe: false });
  t.after(c.close);
  const session = await newSession(c);
  const socket = await libConnected(t, sys, c.gm);
  const game = gameSession(socket, session.id, opts);
  await game.ready;
  return { c, session, socket, game };
}

async function serverState(socket, sessionId) {
  return expectOk(await emitAck(socket, 'gameState:requestFull', sessionId)).gameState;
}

/** Every update of the session's log after sinceVersion, in order. */
async function serverLog(socket, sessionId, sinceVersion) {
  const d = expectOk(await emitAck(socket, 'gameState:sync', { sessionId, sinceVersion }));
  assert.ok(!d.full, 'the log reaches back far enough');
  return d.updates;
}

h.test('applyOps mirrors the server: set, unset, inc, push, pull; a bad operation throws', () => {
  const s = { pluginData: { a: 1, l: [1, { x: 1 }, 2] }, characters: [] };
  applyOps(s, [
    { path: 'pluginData.a', operation: 'inc', value: 2 },
    { path: 'pluginData.b', operation: 'set', value: { y: [1] } },
    { path: 'pluginData.l', operation: 'pull', value: { x: 1 } },
    { path: 'pluginData.l', operation: 'push', value: 3 },
    { path: 'pluginData.l.0', operation: 'unset' },
    { path: 'characters', operation: 'push', value: 'c' },
  ]);
  assert.deepEqual(s, { pluginData: { a: 3, b: { y: [1] }, l: [2, 3] }, characters: ['c'] });
  assert.throws(() => applyOps(s, [{ path: 'pluginData.b', operation: 'inc', value: 1 }]));
  assert.throws(() => applyOps(s, [{ path: 'nope.x.y', operation: 'set', value: 1 }]));
});

h.test('3 GM tabs with random delays and transport drops, and a player: all converge on the server state, every update applied once', { timeout: 90000 }, async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false });
  t.after(c.close);
  const session = await newSession(c);
  expectOk(await emitAck(c.gm.s, 'gameSession:join', session.id));
  const init = await emitAck(c.gm.s, 'gameState:update', {
    id: `init-${session.id}`, sessionId: session.id, version: '0',
    operations: [{ path: 'pluginData.count', operation: 'set', value: 0 }, { path: 'pluginData.log', operation: 'set', value: [] }],
  });
  assert.deepEqual(init, { success: true, newVersion: '1' });

  const random = rng(SEED);
  const W = 3;
  const N = 15;
  const clients = [];
  for (let w = 0; w < W; w++) {
    const socket = libSocket(sys, c.gm);
    await connected(socket, `writer ${w}`);
    const game = gameSession(delayedUpdates(socket, random, 30), session.id);
    clients.push({ w, socket, game, drops: 0, hangups: 0 });
  }
  const pSocket = libSocket(sys, c.p1);
  await connected(pSocket, 'watcher');
  const watcher = gameSession(delayedUpdates(pSocket, random, 30), session.id);
  t.after(() => { for (const x of [...clients.map((k) => k.socket), pSocket]) x.disconnect(); });
  for (const k of clients) { await k.game.ready; assert.equal(k.game.isGM, true); }
  await watcher.ready;
  assert.equal(watcher.isGM, false);

  // Each writer fires its updates without waiting for their acks (as an app
  // does), with a think time between them, and now and then drops its
  // transport: the updates made meanwhile wait in the offline queue.
  const acked = [];
  await Promise.all(clients.map(async (k) => {
    const done = [];
    for (let i = 0; i < N; i++) {
      let r = random();
      if (i === 4) {                  // each writer at least once: a drop (writer 1) or a hang-up
        await connected(k.socket, `writer ${k.w} before its forced drop`);
        r = k.w === 1 ? 0 : 0.15;
      }
      if (r < 0.12 && k.socket.connected) {
        k.drops += 1;                 // a network failure: recoverable (connection-state recovery)
        k.socket.io.engine.close();
      } else if (r < 0.2 && k.socket.connected) {
        k.hangups += 1;               // a hang-up: a new connection, joined again from scratch
        k.socket.disconnect();
        setTimeout(() => k.socket.connect(), Math.floor(random() * 40));
      }
      const tag = `w${k.w}-${i}`;
      done.push(k.game.update([
        { path: 'pluginData.count', operation: 'inc', value: 1 },
        { path: 'pluginData.log', operation: 'push', value: tag },
      ]).then((r) => acked.push({ ...r, tag })));
      // the optimistic view has it at once
      assert.ok(k.game.state.pluginData.log.includes(tag), 'applied optimistically');
      await new Promise((r) => setTimeout(r, Math.floor(random() * 25)));   // think time, not a wait for anything
    }
    await within(Promise.all(done), `writer ${k.w}'s updates`, 40000);
  }));
  assert.ok(clients.some((k) => k.drops > 0), 'the seed dropped some transports');
  assert.ok(clients.some((k) => k.hangups > 0), 'the seed hung some connections up');
  assert.equal(acked.length, W * N);

  const final = await serverState(c.gm.s, session.id);
  assert.equal(final.stateVersion, String(1 + W * N), 'one version per update: none applied twice');
  assert.equal(final.pluginData.count, W * N);
  assert.equal(final.pluginData.log.length, W * N);
  assert.equal(new Set(final.pluginData.log).size, W * N, 'no tag twice');
  // each writer's updates went out in the order it made them
  for (let w = 0; w < W; w++) {
    const mine = final.pluginData.log.filter((x) => x.startsWith(`w${w}-`));
    assert.deepEqual(mine, Array.from({ length: N }, (_, i) => `w${w}-${i}`));
  }
  // the log: versions 2..1+W*N in order, each acknowledged id exactly once
  const log = await serverLog(c.gm.s, session.id, '1');
  assert.deepEqual(log.map((u) => u.version), Array.from({ length: W * N }, (_, i) => String(i + 2)));
  assert.deepEqual(log.map((u) => u.id).sort(), acked.map((a) => a.id).sort());
  for (const a of acked) assert.equal(log.find((u) => u.id === a.id).version, a.newVersion);

  // every library session converges on it, pending queue empty
  for (const g of [...clients.map((k) => k.game), watcher]) {
    await until(g, (x) => x.version === final.stateVersion && x.pending === 0, 'converged');
    assert.deepEqual(g.state, final);
  }
  t.diagnostic(`seed ${SEED}: drops ${clients.map((k) => k.drops).join('/')}, hangups ${clients.map((k) => k.hangups).join('/')}, ` +
    `conflicts ${clients.map((k) => k.game.stats.conflicts).join('/')}, syncs ${clients.map((k) => k.game.stats.syncs).join('/')}/${watcher.stats.syncs}, ` +
    `joins ${clients.map((k) => k.game.stats.joins).join('/')}, resends ${clients.map((k) => k.game.stats.resends).join('/')}`);
});

h.test('a conflict is rebased: an update made on a stale version is synced, re-derived and sent again', async (t, sys) => {
  const conflicts = [];
  const { c, session, socket, game } = await gmGame(t, sys, {
    onConflict: (u, state) => { conflicts.push({ u, state }); return 'resend'; },
  });
  expectOk(await emitAck(c.gm.s, 'gameSession:join', session.id));
  assert.equal((await emitAck(c.gm.s, 'gameState:update', { id: `hp-${session.id}`, sessionId: session.id, version: '0',
    operations: [{ path: 'pluginData.hp', operation: 'set', value: 10 }] })).newVersion, '1');
  await until(game, (g) => g.version === '1', 'the first update');

  // Another write goes out on the library's own connection just before the
  // library's update, so the server serves it first: the library's update,
  // based on version 1, meets VERSION_CONFLICT.
  const other = emitAck(socket, 'gameState:update', { id: `other-${session.id}`, sessionId: session.id, version: '1',
    operations: [{ path: 'pluginData.hp', operation: 'inc', value: -4 }] });
  // a function update: re-derived from the rebased state (hp 6 -> 3)
  const half = game.update((s) => [{ path: 'pluginData.hp', operation: 'set', value: Math.floor(s.pluginData.hp / 2) }]);
  assert.equal(game.state.pluginData.hp, 5, 'optimistic, on the stale state');
  assert.deepEqual(await other, { success: true, newVersion: '2' });
  const halved = await within(half, 'the rebased update');
  assert.deepEqual(halved, { id: halved.id, newVersion: '3' });
  assert.equal(game.stats.conflicts, 1, 'one conflict, rebased');
  await until(game, (g) => g.version === '3' && g.pending === 0, 'rebased update confirmed');
  assert.equal(game.state.pluginData.hp, 3);
  assert.deepEqual(game.state, await serverState(c.gm.s, session.id));

  // an array update with the app's policy: onConflict sees the synced state
  const other2 = emitAck(socket, 'gameState:update', { id: `other2-${session.id}`, sessionId: session.id, version: '3',
    operations: [{ path: 'pluginData.mp', operation: 'set', value: 1 }] });
  const add = game.update([{ path: 'pluginData.hp', operation: 'inc', value: 1 }]);
  assert.equal((await other2).newVersion, '4');
  assert.equal((await within(add, 'the resent update')).newVersion, '5');
  assert.equal(conflicts.length, 1);
  assert.equal(conflicts[0].state.pluginData.mp, 1, 'the policy is asked with the synced state');
  await until(game, (g) => g.version === '5' && g.pending === 0, 'resent update confirmed');
  assert.deepEqual(game.state, await serverState(c.gm.s, session.id));
  assert.equal(game.state.pluginData.hp, 4);
});

h.test('function updates queued behind a rebased one are derived from the state they are sent on: two tabs counting, none lost', async (t, sys) => {
  // Each tab queues K read-modify-write updates at once. Whenever the other
  // tab wins a version, the head of the queue is rebased; the ones queued
  // behind it were first computed from a state the server never had, and
  // sent as computed they would set a count already passed (seen: 34 of 102).
  const { c, session, game } = await gmGame(t, sys);
  const other = gameSession(await libConnected(t, sys, c.gm), session.id);
  await other.ready;
  const K = 25;
  const count = (s) => [{ path: 'pluginData.n', operation: 'set', value: (s.pluginData.n ?? 0) + 1 }];
  const all = [];
  for (let i = 0; i < K; i++) all.push(game.update(count), other.update(count));
  await within(Promise.all(all), 'the counting updates');
  assert.ok(game.stats.conflicts + other.stats.conflicts > 0, 'the tabs did contend');
  const server = await serverState(c.gm.s, session.id);
  assert.equal(server.pluginData.n, 2 * K, 'every increment counted once');
  assert.equal(server.stateVersion, String(2 * K));
  await until(game, (g) => g.version === String(2 * K) && g.pending === 0, 'the first tab confirmed');
  await until(other, (g) => g.version === String(2 * K) && g.pending === 0, 'the second tab confirmed');
  assert.deepEqual(game.state, server);
  assert.deepEqual(other.state, server);
});

h.test('a refused update is rolled back; a dropped conflict too', async (t, sys) => {
  const { c, session, socket, game } = await gmGame(t, sys, { players: 1, onConflict: () => 'drop' });
  const pgame = gameSession(await libConnected(t, sys, c.p1), session.id);
  await pgame.ready;
  const changes = [];
  game.subscribe((s, info) => changes.push(info.cause));

  // a key the server refuses (not one of the state's): optimistic, then gone
  const bad = game.update([{ path: 'bogus', operation: 'set', value: 1 }]);
  assert.equal(game.state.bogus, 1);
  await assert.rejects(within(bad, 'the refused update'), (e) => e.code === 'VALIDATION_ERROR');
  assert.equal(game.state.bogus, undefined);
  assert.equal(game.version, '0');
  assert.ok(changes.includes('rollback'));

  // a player may not write: FORBIDDEN, rolled back
  const forbidden = pgame.update([{ path: 'pluginData.x', operation: 'set', value: 1 }]);
  assert.equal(pgame.state.pluginData.x, 1);
  await assert.rejects(within(forbidden, 'the forbidden update'), (e) => e.code === 'FORBIDDEN');
  assert.equal(pgame.state.pluginData.x, undefined);

  // the 'drop' policy on a conflict rolls back too
  const other = emitAck(socket, 'gameState:update', { id: `o-${session.id}`, sessionId: session.id, version: '0',
    operations: [{ path: 'pluginData.y', operation: 'set', value: 2 }] });
  const dropped = game.update([{ path: 'pluginData.y', operation: 'set', value: 1 }]);
  assert.equal((await other).newVersion, '1');
  await assert.rejects(within(dropped, 'the dropped update'), (e) => e.code === 'VERSION_CONFLICT');
  await until(game, (g) => g.version === '1' && g.pending === 0, 'conflict dropped');
  assert.equal(game.state.pluginData.y, 2);
  assert.deepEqual(game.state, await serverState(socket, session.id));
});

h.test('updates made while disconnected are sent on reconnect with the same ids, none applied twice', async (t, sys) => {
  const { c, session, socket, game } = await gmGame(t, sys);
  const sent = [];
  socket.onAnyOutgoing((ev, arg) => { if (ev === 'gameState:update') sent.push(arg.id); });

  // Offline: socket.disconnect() (no recovery), three updates queued and shown
  socket.disconnect();
  const ups = [1, 2, 3].map((n) => game.update([{ path: 'pluginData.l', operation: 'set', value: n }]));
  ups.push(game.update([{ path: 'characters', operation: 'push', value: 'c' }]));
  assert.equal(game.pending, 4);
  assert.equal(game.state.pluginData.l, 3);
  assert.deepEqual(sent, [], 'nothing sent while offline');
  socket.connect();
  const res = await within(Promise.all(ups), 'the queued updates').catch((e) => { throw new Error(`${e.message} (${JSON.stringify(game.stats)}, connected ${socket.connected}, active ${socket.active})`); });
  assert.deepEqual(res.map((r) => r.newVersion), ['1', '2', '3', '4']);
  await until(game, (g) => g.version === '4' && g.pending === 0, 'queue confirmed');
  const state = await serverState(c.gm.s, session.id);
  assert.deepEqual(game.state, state);
  assert.deepEqual(state.characters, ['c'], 'pushed once');

  // A drop while an update is in flight: its ack is lost, it is resent with
  // the same id, and the server's idempotency applies it once.
  const inflight = game.update([{ path: 'characters', operation: 'push', value: 'd' }]);
  socket.io.engine.close();
  const r = await within(inflight, 'the in-flight update');
  await until(game, (g) => g.version === r.newVersion && g.pending === 0, 'in-flight update confirmed');
  assert.equal(r.newVersion, '5');
  const after = await serverState(c.gm.s, session.id);
  assert.deepEqual(after.characters, ['c', 'd'], 'applied once');
  assert.deepEqual(game.state, after);
  const ids = new Set(sent);
  assert.equal(ids.size, 5, 'five distinct ids');
  assert.deepEqual((await serverLog(c.gm.s, session.id, '0')).map((u) => u.id), [...ids]);
});

h.test('actor and item stores stay live from the broadcasts, leave hidden entities out and resync after a hang-up', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false });
  t.after(c.close);
  const gmSocket = await libConnected(t, sys, c.gm);
  const pSocket = await libConnected(t, sys, c.p1);
  const before = expectOk(await emitAck(c.gm.s, 'actor:create', { name: 'Early', type: 'npc', campaignId: c.id }));
  const gmAll = entityStore(gmSocket, 'actor', c.id, { includeHidden: true });
  const gmVisible = entityStore(gmSocket, 'actor', c.id);
  const pActors = entityStore(pSocket, 'actor', c.id);
  const pItems = entityStore(pSocket, 'item', c.id);
  await Promise.all([gmAll.ready, gmVisible.ready, pActors.ready, pItems.ready]);
  assert.deepEqual(pActors.items, [before], 'listed on ready');
  const ids = (s) => s.items.map((e) => e.id).sort();

  // live from the broadcasts (made on another connection)
  const a = expectOk(await emitAck(c.gm.s, 'actor:create', { name: 'Ann', type: 'pc', campaignId: c.id, hp: 5 }));
  const hid = expectOk(await emitAck(c.gm.s, 'actor:create', { name: 'Spy', type: 'npc', campaignId: c.id, hidden: true }));
  const item = expectOk(await emitAck(c.gm.s, 'item:create', { name: 'Rope', campaignId: c.id }));
  await until(pActors, (s) => s.get(a.id)?.hp === 5, 'player sees the new actor');
  await until(pItems, (s) => s.get(item.id), 'player sees the new item');
  await until(gmAll, (s) => s.get(hid.id) && s.get(a.id), 'GM store with hidden ones');
  await until(gmVisible, (s) => s.get(a.id), 'GM store without');
  const a2 = expectOk(await emitAck(c.gm.s, 'actor:update', { id: a.id, hp: 7 }));
  await until(pActors, (s) => s.get(a.id)?.version === a2.version, 'player sees the update');
  assert.deepEqual(pActors.get(a.id), a2);
  assert.equal(pActors.get(hid.id), undefined, 'a hidden actor never reaches the player');
  assert.equal(gmVisible.get(hid.id), undefined, 'nor a store that leaves them out');

  // hiding one takes it out of the player's store and the visible one
  const a3 = expectOk(await emitAck(c.gm.s, 'actor:update', { id: a.id, hidden: true }));
  await until(pActors, (s) => !s.get(a.id), 'hidden actor leaves the player store');
  await until(gmVisible, (s) => !s.get(a.id), 'hidden actor leaves the visible store');
  await until(gmAll, (s) => s.get(a.id)?.version === a3.version, 'and stays in the GM store with hidden ones');

  // a hang-up: changes made meanwhile are read again on reconnect
  pSocket.disconnect();
  const b = expectOk(await emitAck(c.gm.s, 'actor:create', { name: 'Bob', type: 'pc', campaignId: c.id }));
  expectOk(await emitAck(c.gm.s, 'item:delete', item.id));
  const a4 = expectOk(await emitAck(c.gm.s, 'actor:update', { id: a.id, hidden: false, hp: 9 }));
  pSocket.connect();
  await until(pActors, (s) => s.get(b.id) && s.get(a.id)?.version === a4.version, 'player store resynced');
  await until(pItems, (s) => s.items.length === 0, 'deleted item gone after the resync');

  // the store's own writes apply their ack (no broadcast to the sender)
  const mine = await pActors.create({ name: 'Mine', type: 'pc' });
  assert.deepEqual(pActors.get(mine.id), mine);
  await pActors.remove(mine.id);
  assert.equal(pActors.get(mine.id), undefined);

  // every store equals what the server lists for its user
  const pList = expectOk(await emitAck(c.p1.s, 'actor:list', { campaignId: c.id }));
  const gmList = expectOk(await emitAck(c.gm.s, 'actor:list', { campaignId: c.id }));
  await until(gmAll, (s) => ids(s).join() === gmList.map((e) => e.id).sort().join(), 'GM store converged');
  assert.deepEqual(pActors.items, pList);
  assert.deepEqual(gmAll.items, gmList);
  assert.deepEqual(gmVisible.items, gmList.filter((e) => !e.hidden));
  assert.deepEqual(ids(pActors), [before.id, a.id, b.id].sort());
});

h.test('a reconnect whose join is answered with an error while the gamestate worker is stopped is tried again: the queued update goes out once it is back', { timeout: 60000 }, async (t, sys) => {
  const { c, session, socket, game } = await gmGame(t, sys);
  const joins = [];
  socket.onAnyOutgoing((ev) => { if (ev === 'gameSession:join') joins.push(Date.now()); });
  const answers = [];
  game.subscribe(() => {});
  socket.disconnect();
  const queued = game.update([{ path: 'pluginData.back', operation: 'set', value: true }]);
  await sys.kill('gamestate', 'SIGSTOP');
  let stopped = true;
  t.after(async () => { if (stopped) await sys.kill('gamestate', 'SIGCONT'); });
  // the join on the new connection: refused for now (TIMEOUT / SERVICE_UNAVAILABLE)
  socket.connect();
  await eventually(() => game.stats.lastError && joins.length >= 2, { timeoutMs: 25000, what: 'a join answered with an error, then tried again' });
  answers.push(game.stats.lastError);
  assert.match(game.stats.lastError, /TIMEOUT|SERVICE_UNAVAILABLE/, 'the server answered the join with an error code');
  assert.equal(game.pending, 1, 'the update still waits');
  await sys.kill('gamestate', 'SIGCONT');
  stopped = false;
  const r = await within(queued, 'the update queued behind the refused joins', 30000);
  await until(game, (g) => g.version === r.newVersion && g.pending === 0, 'confirmed');
  const server = await serverState(c.gm.s, session.id);
  assert.equal(server.pluginData.back, true);
  assert.deepEqual(game.state, server);
  assert.equal(game.lastError, null);
  t.diagnostic(`joins sent: ${joins.length}; first error: ${answers[0]}`);
});

/**
 * The socket as a store sees it, with the ack of `event` held after it
 * arrived until release(): `arrived` resolves when it is in.
 */
function heldAck(socket, event) {
  let release, arrivedNow;
  const gate = new Promise((r) => { release = r; });
  const arrived = new Promise((r) => { arrivedNow = r; });
  const proxy = new Proxy(socket, {
    get(target, prop) {
      if (prop === 'timeout') {
        return (ms) => {
          const te = target.timeout(ms);
          return {
            emit: (ev, arg, cb) => te.emit(ev, arg, ev !== event ? cb : (...a) => { arrivedNow(); gate.then(() => cb(...a)); }),
          };
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { proxy, arrived, release };
}

/** Resolve when socket receives event with a payload that pred accepts (bounded). */
function received(socket, event, pred, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const on = (x) => { if (pred(x)) { clearTimeout(timer); socket.off(event, on); resolve(x); } };
    const timer = setTimeout(() => { socket.off(event, on); reject(new Error(`no ${event} within ${timeoutMs} ms`)); }, timeoutMs);
    socket.on(event, on);
  });
}

h.test('a store keeps what changed while its list was in flight: created, hidden, and hidden then revealed', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false });
  t.after(c.close);
  const mk = async (name) => expectOk(await emitAck(c.gm.s, 'actor:create', { name, type: 'npc', campaignId: c.id }));
  const stay = await mk('Stay');
  const hide = await mk('Hide');
  const peek = await mk('Peek');
  const pSocket = await libConnected(t, sys, c.p1);
  const gmSocket = await libConnected(t, sys, c.gm);
  const pHeld = heldAck(pSocket, 'actor:list');
  const gmHeld = heldAck(gmSocket, 'actor:list');
  const pActors = entityStore(pHeld.proxy, 'actor', c.id);
  const gmVisible = entityStore(gmHeld.proxy, 'actor', c.id);       // without includeHidden
  t.after(() => { pActors.close(); gmVisible.close(); });
  // both lists were read by the server (before any change below) and are held
  await within(Promise.all([pHeld.arrived, gmHeld.arrived]), 'the list replies');

  const peekRevealed = Promise.all([
    received(pSocket, 'actor:created', (e) => e.id === peek.id),
    received(gmSocket, 'actor:updated', (e) => e.id === peek.id && e.hidden === false),
  ]);
  const born = await mk('Born');
  expectOk(await emitAck(c.gm.s, 'actor:update', { id: hide.id, hidden: true }));
  expectOk(await emitAck(c.gm.s, 'actor:update', { id: peek.id, hidden: true }));
  expectOk(await emitAck(c.gm.s, 'actor:update', { id: peek.id, hidden: false, hp: 3 }));
  await within(peekRevealed, 'the last events reached both stores');
  pHeld.release();
  gmHeld.release();
  await within(Promise.all([pActors.ready, gmVisible.ready]), 'the stores');

  const ids = (s) => s.items.map((e) => e.id).sort();
  const want = [stay.id, peek.id, born.id].sort();
  assert.deepEqual(ids(pActors), want, 'player: the created one kept, the hidden one out, the revealed one in');
  assert.deepEqual(ids(gmVisible), want, 'GM store without hidden ones: the same');
  const pList = expectOk(await emitAck(c.p1.s, 'actor:list', { campaignId: c.id }));
  assert.deepEqual(pActors.items, pList, 'the player store is what the server lists now');
  const gmList = expectOk(await emitAck(c.gm.s, 'actor:list', { campaignId: c.id }));
  assert.deepEqual(gmVisible.items, gmList.filter((e) => !e.hidden));
});

h.test('a store whose list after a reconnect is answered with an error while the actors worker is stopped lists again once it is back', { timeout: 60000 }, async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false });
  t.after(c.close);
  const pSocket = await libConnected(t, sys, c.p1);
  const store = entityStore(pSocket, 'actor', c.id);
  t.after(() => store.close());
  await within(store.ready, 'the store');
  let lists = 0;
  pSocket.onAnyOutgoing((ev) => { if (ev === 'actor:list') lists += 1; });
  pSocket.disconnect();
  const missed = expectOk(await emitAck(c.gm.s, 'actor:create', { name: 'Missed', type: 'npc', campaignId: c.id }));
  await sys.kill('actors', 'SIGSTOP');
  let stopped = true;
  t.after(async () => { if (stopped) await sys.kill('actors', 'SIGCONT'); });
  pSocket.connect();
  await eventually(() => lists >= 2, { timeoutMs: 25000, what: 'a list answered with an error, then sent again' });
  assert.equal(store.get(missed.id), undefined);
  await sys.kill('actors', 'SIGCONT');
  stopped = false;
  await until(store, (s) => s.get(missed.id), 'the store listed again', 20000);
  assert.deepEqual(store.items, expectOk(await emitAck(c.p1.s, 'actor:list', { campaignId: c.id })));
  t.diagnostic(`lists sent after the reconnect: ${lists}`);
});

h.test('an update whose acks do not come while the gamestate worker is stopped rejects OUTCOME_UNKNOWN, not as refused; once the worker runs it, its broadcast is the truth', { timeout: 60000 }, async (t, sys) => {
  const { c, session, game } = await gmGame(t, sys, { maxAttempts: 2, ackTimeoutMs: 700 });
  const sent = [];
  game.subscribe(() => {});
  await sys.kill('gamestate', 'SIGSTOP');
  let stopped = true;
  t.after(async () => { if (stopped) await sys.kill('gamestate', 'SIGCONT'); });
  const t0 = Date.now();
  const up = game.update([{ path: 'pluginData.late', operation: 'set', value: 1 }]);
  const err = await within(up.then(() => null, (e) => e), 'the update held by the stopped worker', 10000);
  sent.push(Date.now() - t0);
  // SIGCONT before the broker's liveness (3 x 1000 ms) gives the worker up:
  // it then runs the held requests (the resend is the same id: applied once)
  await sys.kill('gamestate', 'SIGCONT');
  stopped = false;
  assert.ok(err, 'not acknowledged');
  assert.equal(err.code, 'OUTCOME_UNKNOWN', `rejected ${err.message}`);
  assert.match(err.id, /./);
  assert.equal(game.pending, 0);
  await until(game, (g) => g.outcome(err.id) === 'applied', 'its broadcast', 20000);
  const server = await serverState(c.gm.s, session.id);
  assert.equal(server.pluginData.late, 1);
  assert.equal(server.stateVersion, '1', 'applied once');
  assert.deepEqual(game.state, server);
  t.diagnostic(`rejected after ${sent[0]} ms`);
});
