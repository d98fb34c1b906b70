// The scheduler end to end (issue 11, sections 3-5): world time with roles
// and concurrent advances, scheduled events firing in order (world time and
// real time), a scheduler SIGKILLed while an event falls due, two
// schedulers firing 1,000 events exactly once, turn timers (ticks, expiry,
// cancel, a restart), the limits, and the REST routes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { useSystem, emitAck, expectOk, expectError, sleep } from './lib/system.mjs';
import { setupCampaign, tab, quiet, uid, rest } from './lib/campaign.mjs';

const MAX = 10 ** 15 - 1;                   // the largest world time
const h = useSystem({ workers: 1, gateways: 1, services: { scheduler: 1 } });

/**
 * Wait until every user hears what send() publishes to a room: send returns
 * the ack's data, the users' recorders must get `event` with its id. A
 * subscription reaches the bus asynchronously (ZeroMQ's slow joiner), so a
 * fixed settle can be too short on a loaded box; this waits on the event.
 */
async function heard(users, event, send, tries = 20) {
  for (let i = 0; i < tries; i++) {
    const { id } = await send(i);
    const got = await Promise.all(users.map((u) => u.rec.waitFor(event, (x) => x.id === id, 500).then(() => true, () => false)));
    if (got.every(Boolean)) return;
  }
  assert.fail(`${event}: not heard by every user after ${tries} tries`);
}

/** A game session of campaign c that gm and the players have joined and hear. */
async function session(c, users) {
  const s = expectOk(await emitAck(c.gm.s, 'gameSession:create', { campaignId: c.id, name: uid('S') }));
  for (const u of users) expectOk(await emitAck(u.s, 'gameSession:join', s.id));
  await heard(users, 'chat:message', async (i) =>
    expectOk(await emitAck(c.gm.s, 'chat:send', { room: `session:${s.id}`, text: `probe ${i}` })));
  return s;
}

/**
 * A turn timer's pushes, as one session member heard them: remaining values
 * of timer:tick (the first at once, = seconds), then timer:expired. A tick
 * may be skipped when the scheduler runs late (by design: never sent late in
 * a burst), so no exact list: the first is `seconds`, each later one is
 * smaller (so none twice, at most one per value), all above 0, every tick
 * carries the label, and exactly one timer:expired comes after the last tick.
 */
function checkTimer(rec, sessionId, seconds, label) {
  const ticks = rec.of('timer:tick');
  const rem = ticks.map((e) => e.data.remaining);
  assert.ok(rem.length >= 1, 'the first tick');
  assert.equal(rem[0], seconds, `first remaining = seconds: ${rem.join(' ')}`);
  for (let i = 1; i < rem.length; i++) assert.ok(rem[i] < rem[i - 1], `strictly decreasing: ${rem.join(' ')}`);
  assert.ok(rem.every((r) => Number.isInteger(r) && r > 0), `all above 0: ${rem.join(' ')}`);
  for (const e of ticks) assert.deepEqual(e.data, { sessionId, remaining: e.data.remaining, label });
  const expired = rec.of('timer:expired');
  assert.equal(expired.length, 1, 'expired exactly once');
  assert.deepEqual(expired[0].data, { sessionId, label });
  assert.ok(rec.events.indexOf(expired[0]) > rec.events.indexOf(ticks.at(-1)), 'expired after the last tick');
  return rem;
}

h.test('world time: members read it, GMs advance and set it, everyone hears world_time_changed', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, prefix: 'wt' });
  const { gm, p1, out } = c;
  assert.deepEqual(expectOk(await emitAck(p1.s, 'time:get', { campaignId: c.id })), { campaignId: c.id, worldTime: 0 });
  expectError(await emitAck(out.s, 'time:get', { campaignId: c.id }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'time:advance', { campaignId: c.id, seconds: 5 }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'time:set', { campaignId: c.id, worldTime: 5 }), 'FORBIDDEN');
  expectError(await emitAck(out.s, 'time:advance', { campaignId: c.id, seconds: 5 }), 'FORBIDDEN');

  const a = expectOk(await emitAck(gm.s, 'time:advance', { campaignId: c.id, seconds: 3600 }));
  assert.deepEqual(a, { campaignId: c.id, worldTime: 3600, previous: 0 });
  for (const u of [gm, p1]) {
    assert.deepEqual(await u.rec.waitFor('world_time_changed'), a, `${u.id} heard it`);
  }
  const s = expectOk(await emitAck(gm.s, 'time:set', { campaignId: c.id, worldTime: 100 }));
  assert.deepEqual(s, { campaignId: c.id, worldTime: 100, previous: 3600 });
  await p1.rec.waitFor('world_time_changed', (x) => x.worldTime === 100);
  assert.equal(expectOk(await emitAck(p1.s, 'time:get', { campaignId: c.id })).worldTime, 100);

  for (const bad of [{ seconds: 0 }, { seconds: -1 }, { seconds: 1.5 }, { seconds: '5' }, { seconds: 315360001 },
    { seconds: 1e300 }, {}, { seconds: null }]) {
    expectError(await emitAck(gm.s, 'time:advance', { campaignId: c.id, ...bad }), 'VALIDATION_ERROR');
  }
  for (const bad of [{ worldTime: -1 }, { worldTime: 10 ** 15 }, { worldTime: 2 ** 53 }, { worldTime: 0.5 }, { worldTime: 'x' }, {}]) {
    expectError(await emitAck(gm.s, 'time:set', { campaignId: c.id, ...bad }), 'VALIDATION_ERROR');
  }
  for (const bad of [null, 'x', { campaignId: 5 }, { campaignId: 'a b' }, { campaignId: 'x'.repeat(129) }]) {
    expectError(await emitAck(gm.s, 'time:get', bad), 'VALIDATION_ERROR');
  }
  // the top of the range, and an advance past it changes nothing
  expectOk(await emitAck(gm.s, 'time:set', { campaignId: c.id, worldTime: MAX }));
  const over = expectError(await emitAck(gm.s, 'time:advance', { campaignId: c.id, seconds: 1 }), 'VALIDATION_ERROR');
  assert.match(over.message, /would pass/);
  assert.equal(expectOk(await emitAck(gm.s, 'time:get', { campaignId: c.id })).worldTime, MAX);
  await quiet();
  assert.deepEqual(p1.rec.data('world_time_changed').map((x) => x.worldTime), [3600, 100, MAX],
    'refused changes announce nothing');
  assert.deepEqual(out.rec.names('world_time'), [], 'not to an outsider');
  c.close();
});

h.test('concurrent advances add up: 50 at once from two GMs', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 0, outsider: false, prefix: 'wc' });
  const gm2 = await tab(sys, c.gm);
  const acks = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    emitAck(i % 2 ? gm2.s : c.gm.s, 'time:advance', { campaignId: c.id, seconds: i + 1 })));
  const data = acks.map(expectOk);
  assert.equal(expectOk(await emitAck(c.gm.s, 'time:get', { campaignId: c.id })).worldTime, 1275, 'the sum of 1..50');
  // each advance saw the one before it: the (previous, worldTime) pairs chain from 0 to 1275
  const byPrev = new Map(data.map((d) => [d.previous, d]));
  let at = 0;
  for (let i = 0; i < 50; i++) {
    const d = byPrev.get(at);
    assert.ok(d, `an advance starting at ${at}`);
    at = d.worldTime;
  }
  assert.equal(at, 1275);
  gm2.s.disconnect();
  c.close();
});

h.test('scheduled events: world-time ones fire in order of at, then creation, exactly once', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, prefix: 'sw' });
  const { gm, p1, out } = c;
  const mk = async (name, at, room = c.room) =>
    expectOk(await emitAck(gm.s, 'schedule:create', { campaignId: c.id, event: name, payload: { name, list: [] }, room, at }));
  const a = await mk('caravan:A', 100);
  const b = await mk('curse.B', 50);
  const cc = await mk('caravan:C', 100);
  const d = await mk('dawn-D', 50);
  const e = await mk('later_E', 200);
  const g = await mk('gm:secret', 60, `${c.room}:gm`);
  assert.deepEqual(Object.keys(a).sort(), ['at', 'campaignId', 'createdAt', 'createdBy', 'event', 'id', 'payload', 'room']);
  assert.equal(a.createdBy, gm.id);
  assert.deepEqual(a.payload, { name: 'caravan:A', list: [] }, 'the payload as given (an empty array stays one)');
  const listed = expectOk(await emitAck(gm.s, 'schedule:list', { campaignId: c.id }));
  assert.deepEqual(listed.map((x) => x.id), [a, b, cc, d, e, g].map((x) => x.id), 'list: creation order');
  expectError(await emitAck(p1.s, 'schedule:list', { campaignId: c.id }), 'FORBIDDEN');

  expectOk(await emitAck(gm.s, 'time:advance', { campaignId: c.id, seconds: 150 }));
  const want = [b, d, a, cc].map((x) => x.id);
  for (const u of [gm, p1]) {
    await u.rec.waitFor('schedule:fired', (x) => x.id === cc.id);
  }
  const got = p1.rec.data('schedule:fired');
  assert.deepEqual(got.map((x) => x.id), want, 'at 50 (b, d by creation), then at 100 (a, c)');
  assert.deepEqual(Object.keys(got[0]).sort(), ['campaignId', 'event', 'firedAt', 'id', 'payload']);
  assert.deepEqual(got[2], { id: a.id, campaignId: c.id, event: 'caravan:A', payload: a.payload, firedAt: got[2].firedAt });
  assert.equal(typeof got[0].firedAt, 'number');
  const gmIds = gm.rec.data('schedule:fired').map((x) => x.id);
  assert.deepEqual(gmIds, [b.id, d.id, g.id, a.id, cc.id], 'the GM also hears the gm-room event, at 60, in place');

  assert.deepEqual(expectOk(await emitAck(gm.s, 'schedule:list', { campaignId: c.id })).map((x) => x.id), [e.id]);
  // setting time back and forth again fires nothing twice
  expectOk(await emitAck(gm.s, 'time:set', { campaignId: c.id, worldTime: 0 }));
  expectOk(await emitAck(gm.s, 'time:set', { campaignId: c.id, worldTime: 150 }));
  expectOk(await emitAck(gm.s, 'schedule:cancel', { campaignId: c.id, id: e.id }));
  expectError(await emitAck(gm.s, 'schedule:cancel', { campaignId: c.id, id: e.id }), 'NOT_FOUND');
  expectError(await emitAck(gm.s, 'schedule:cancel', { campaignId: c.id, id: a.id }), 'NOT_FOUND');
  expectOk(await emitAck(gm.s, 'time:advance', { campaignId: c.id, seconds: 1000 }));
  await quiet();
  assert.deepEqual(p1.rec.data('schedule:fired').map((x) => x.id), want, 'each once; a cancelled one never');
  assert.deepEqual(p1.rec.data('schedule:fired').filter((x) => x.id === g.id), [], 'a player never hears the GM room');
  assert.deepEqual(out.rec.names('schedule'), []);
  c.close();
});

h.test('an advance past more events than one call fires: the scheduler fires the rest, in order, once', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'sb' });
  const { gm, p1 } = c;
  const made = [];
  for (let i = 0; i < 450; i += 50) {
    const acks = await Promise.all(Array.from({ length: 50 }, (_, j) =>
      emitAck(gm.s, 'schedule:create', { campaignId: c.id, event: 'many', payload: i + j, room: c.room, at: 1 + ((i + j) % 90) })));
    made.push(...acks.map(expectOk));
  }
  // schedule:list is in creation order: the firing order is it, stably sorted by at
  const created = expectOk(await emitAck(gm.s, 'schedule:list', { campaignId: c.id }));
  assert.equal(created.length, 450);
  const want = created.map((m, i) => ({ m, i })).sort((p, q) => p.m.at - q.m.at || p.i - q.i).map((p) => p.m.id);
  expectOk(await emitAck(gm.s, 'time:advance', { campaignId: c.id, seconds: 100 }));
  await p1.rec.waitFor('schedule:fired', () => p1.rec.count('schedule:fired') >= 450, 20000).catch(() => {});
  await quiet();
  const got = p1.rec.data('schedule:fired').map((x) => x.id);
  assert.equal(got.length, 450, 'every one');
  assert.equal(new Set(got).size, 450, 'once');
  assert.deepEqual(got, want, 'in order of at, then creation, across the advance and the passes after it');
  assert.deepEqual(expectOk(await emitAck(gm.s, 'schedule:list', { campaignId: c.id })), []);
  c.close();
});

h.test('scheduled events: real-time ones fire in order of due time, then creation', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'sr' });
  const { gm, p1 } = c;
  const made = [];
  for (const [name, afterMs] of [['x', 900], ['y', 400], ['z', 900], ['w', 400], ['v', 1300]]) {
    made.push(expectOk(await emitAck(gm.s, 'schedule:create', { campaignId: c.id, event: name, payload: name, room: c.room, afterMs })));
  }
  for (const m of made) assert.equal(typeof m.dueAt, 'number');
  assert.ok(made.every((m) => m.dueAt - m.createdAt >= 400 && m.at === undefined));
  await p1.rec.waitFor('schedule:fired', (x) => x.event === 'v', 15000);
  await quiet();
  const got = p1.rec.data('schedule:fired').map((x) => x.id);
  const want = made.map((m, i) => ({ m, i })).sort((p, q) => p.m.dueAt - q.m.dueAt || p.i - q.i).map((p) => p.m.id);
  assert.deepEqual(got, want, 'by dueAt, then creation');
  for (const f of p1.rec.data('schedule:fired')) {
    const m = made.find((x) => x.id === f.id);
    assert.ok(f.firedAt >= m.dueAt, `${m.event} not early`);
  }
  c.close();
});

h.test('schedule:create refuses bad input, non-GMs and rooms of other campaigns; the pending cap', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, prefix: 'sv' });
  const other = await setupCampaign(sys, { players: 0, outsider: false, prefix: 'so' });
  const { gm, p1 } = c;
  const ok = { campaignId: c.id, event: 'e', payload: null, room: c.room, afterMs: 60000 };
  expectError(await emitAck(p1.s, 'schedule:create', ok), 'FORBIDDEN');
  expectError(await emitAck(c.out.s, 'schedule:create', ok), 'FORBIDDEN');
  const cases = [
    [{ event: '' }, /event/], [{ event: 'a b' }, /event/], [{ event: 'x'.repeat(65) }, /event/], [{ event: 5 }, /event/],
    [{ room: other.room }, /room/], [{ room: `user:${gm.id}` }, /room/], [{ room: 'session:nope' }, /room/],
    [{ room: 'junk' }, /room/], [{ room: undefined }, /room/],
    [{ afterMs: 0 }, /afterMs/], [{ afterMs: 31536000001 }, /afterMs/], [{ afterMs: 1.5 }, /afterMs/],
    [{ afterMs: undefined }, /exactly one/], [{ at: 10 }, /exactly one/],
    [{ payload: { big: 'x'.repeat(16400) } }, /payload/],
    [{ event: 'a\u0000b' }, /NUL/], [{ payload: { k: 'v\u0000' } }, /NUL/], [{ room: `${c.room}\u0000` }, /NUL/],
    [{ campaignId: `${c.id}\u0000x` }, /NUL/],
  ];
  for (const [patch, re] of cases) {
    const arg = { ...ok, ...patch };
    for (const k of Object.keys(arg)) if (arg[k] === undefined) delete arg[k];
    const err = expectError(await emitAck(gm.s, 'schedule:create', arg), 'VALIDATION_ERROR');
    assert.match(err.message, re, JSON.stringify(patch).slice(0, 60));
  }
  const s = expectOk(await emitAck(other.gm.s, 'gameSession:create', { campaignId: other.id, name: 'foreign' }));
  expectError(await emitAck(gm.s, 'schedule:create', { ...ok, room: `session:${s.id}` }), 'VALIDATION_ERROR');
  // at must be after the world time
  expectOk(await emitAck(gm.s, 'time:set', { campaignId: c.id, worldTime: 500 }));
  const { afterMs, ...worldOk } = ok;
  expectError(await emitAck(gm.s, 'schedule:create', { ...worldOk, at: 500 }), 'VALIDATION_ERROR');
  // a payload of exactly 16,384 bytes is fine
  const text = JSON.stringify({ p: '' });
  const fits = { p: 'y'.repeat(16384 - text.length) };
  assert.equal(JSON.stringify(fits).length, 16384);
  expectOk(await emitAck(gm.s, 'schedule:create', { ...worldOk, at: 10 ** 9, payload: fits }));
  assert.equal(expectOk(await emitAck(gm.s, 'schedule:list', { campaignId: c.id })).length, 1, 'nothing refused was stored');
  // 1,000 pending, then CONFLICT
  for (let i = 1; i < 1000; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, 1000 - i) }, (_, j) =>
      emitAck(gm.s, 'schedule:create', { ...worldOk, at: 10 ** 9 + i + j }).then(expectOk)));
  }
  expectError(await emitAck(gm.s, 'schedule:create', { ...worldOk, at: 10 ** 9 }), 'CONFLICT');
  expectError(await emitAck(gm.s, 'schedule:create', ok), 'CONFLICT');
  const all = expectOk(await emitAck(gm.s, 'schedule:list', { campaignId: c.id }));
  assert.equal(all.length, 1000);
  expectOk(await emitAck(gm.s, 'schedule:cancel', { campaignId: c.id, id: all[0].id }));
  expectOk(await emitAck(gm.s, 'schedule:create', { ...worldOk, at: 10 ** 9 }));
  expectError(await emitAck(other.gm.s, 'schedule:cancel', { campaignId: other.id, id: all[1].id }), 'NOT_FOUND');
  c.close();
  other.close();
});

h.test('SIGKILL the scheduler; an event falls due during the outage; after a restart it fires exactly once', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'sk' });
  const { gm, p1 } = c;
  const ev = expectOk(await emitAck(gm.s, 'schedule:create', { campaignId: c.id, event: 'during-outage', payload: 1, room: c.room, afterMs: 2000 }));
  const later = expectOk(await emitAck(gm.s, 'schedule:create', { campaignId: c.id, event: 'after-restart', payload: 2, room: c.room, afterMs: 6000 }));
  await sys.kill('scheduler', 'SIGKILL');
  // the premise: the kill came before ev's due time (dueAt is Redis's clock,
  // on this host); a box too loaded for 2 s says so instead of a false result
  assert.ok(Date.now() < ev.dueAt, `the scheduler was killed ${Date.now() - ev.dueAt} ms after ev fell due`);
  await sleep(ev.dueAt + 300 - Date.now());    // the outage: ev falls due in it
  assert.equal(p1.rec.count('schedule:fired'), 0, 'nobody fired it while no scheduler ran');
  await sys.start('scheduler');
  const f = await p1.rec.waitFor('schedule:fired', (x) => x.id === ev.id, 8000);
  assert.ok(f.firedAt >= ev.dueAt);
  await p1.rec.waitFor('schedule:fired', (x) => x.id === later.id, 8000);
  await quiet(1200);
  assert.deepEqual(p1.rec.data('schedule:fired').map((x) => x.id), [ev.id, later.id], 'each exactly once');
  c.close();
});

h.test('two schedulers: 1,000 events over ~2 s fire with 0 duplicates and 0 missing', async (t, sys) => {
  await sys.start('scheduler-2');
  await sys.waitHealth({ status: 200, pred: (b) => b?.services?.scheduler?.workers === 2 });
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 's2' });
  const { gm, p1 } = c;
  const gm2 = await tab(sys, gm);
  const ids = new Set();
  const start = Date.now();
  for (let i = 0; i < 1000; i += 40) {
    const acks = await Promise.all(Array.from({ length: 40 }, (_, j) => {
      const n = i + j;
      const afterMs = Math.max(1, 1500 + Math.floor((n / 1000) * 2000) - (Date.now() - start));
      return emitAck(n % 2 ? gm2.s : gm.s, 'schedule:create', { campaignId: c.id, event: 'mass', payload: n, room: c.room, afterMs });
    }));
    for (const a of acks) ids.add(expectOk(a).id);
  }
  assert.equal(ids.size, 1000);
  const done = () => new Set(p1.rec.data('schedule:fired').map((x) => x.id)).size >= 1000;
  const deadline = Date.now() + 20000;
  while (!done() && Date.now() < deadline) await p1.rec.waitFor('schedule:fired', () => done(), 20000).catch(() => {});
  await quiet(1500);
  const fired = p1.rec.data('schedule:fired').map((x) => x.id);
  const seen = new Set(fired);
  const dups = fired.length - seen.size;
  const missing = [...ids].filter((id) => !seen.has(id)).length;
  t.diagnostic(`fired ${fired.length}, duplicates ${dups}, missing ${missing}`);
  assert.equal(dups, 0, 'no duplicates');
  assert.equal(missing, 0, 'none missing');
  assert.equal(fired.length, 1000);
  assert.deepEqual(expectOk(await emitAck(gm.s, 'schedule:list', { campaignId: c.id })), []);
  gm2.s.disconnect();
  c.close();
  await sys.kill('scheduler-2');
});

h.test('turn timer: ticks down once a second, expires once; GM only; cancel', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, prefix: 'tt' });
  const { gm, p1, out } = c;
  const s = await session(c, [gm, p1]);
  expectError(await emitAck(p1.s, 'timer:start', { sessionId: s.id, seconds: 3 }), 'FORBIDDEN');
  expectError(await emitAck(out.s, 'timer:start', { sessionId: s.id, seconds: 3 }), 'NOT_FOUND');
  for (const bad of [{ seconds: 0 }, { seconds: 86401 }, { seconds: 1.5 }, { seconds: 3, label: '' },
    { seconds: 3, label: 'x'.repeat(201) }, { seconds: 3, label: 7 }]) {
    expectError(await emitAck(gm.s, 'timer:start', { sessionId: s.id, ...bad }), 'VALIDATION_ERROR');
  }
  expectError(await emitAck(gm.s, 'timer:start', { sessionId: 'nope', seconds: 3 }), 'NOT_FOUND');
  expectError(await emitAck(gm.s, 'timer:cancel', { sessionId: s.id }), 'NOT_FOUND');

  const tm = expectOk(await emitAck(gm.s, 'timer:start', { sessionId: s.id, seconds: 3, label: 'Round 1' }));
  assert.equal(tm.sessionId, s.id);
  assert.equal(tm.campaignId, c.id);
  assert.equal(tm.seconds, 3);
  assert.equal(tm.label, 'Round 1');
  assert.equal(tm.endsAt - tm.startedAt, 3000);
  const exp = await p1.rec.waitFor('timer:expired', () => true, 10000);
  assert.deepEqual(exp, { sessionId: s.id, label: 'Round 1' });
  await quiet(1300);
  const rem = checkTimer(p1.rec, s.id, 3, 'Round 1');
  t.diagnostic(`ticks ${rem.join(' ')}`);
  const ticks = p1.rec.of('timer:tick');
  const gaps = ticks.slice(1).map((e, i) => e.at - ticks[i].at);
  t.diagnostic(`tick gaps ${gaps.join(', ')} ms`);
  assert.deepEqual(out.rec.names('timer'), []);

  // cancel: no more ticks, no expiry
  p1.rec.clear();
  expectOk(await emitAck(gm.s, 'timer:start', { sessionId: s.id, seconds: 30 }));
  await p1.rec.waitFor('timer:tick', (x) => x.remaining < 30, 5000);
  assert.deepEqual(expectOk(await emitAck(gm.s, 'timer:cancel', { sessionId: s.id })), { sessionId: s.id });
  // a tick claimed just before the cancel may still be on its way: at most
  // that one; then a window in which a running timer would tick twice
  const n = p1.rec.count('timer:tick');
  await quiet(1500);
  const n2 = p1.rec.count('timer:tick');
  assert.ok(n2 <= n + 1, `at most one tick in flight after the cancel (${n2 - n})`);
  await quiet(2200);
  assert.equal(p1.rec.count('timer:tick'), n2, 'no tick after the cancel');
  assert.equal(p1.rec.count('timer:expired'), 0);
  assert.equal(p1.rec.data('timer:tick')[0].label, null, 'no label: null');
  // a start replaces the running timer
  p1.rec.clear();
  expectOk(await emitAck(gm.s, 'timer:start', { sessionId: s.id, seconds: 60, label: 'old' }));
  expectOk(await emitAck(gm.s, 'timer:start', { sessionId: s.id, seconds: 2, label: 'new' }));
  await p1.rec.waitFor('timer:expired', () => true, 10000);
  await quiet(1200);
  assert.deepEqual(p1.rec.data('timer:expired'), [{ sessionId: s.id, label: 'new' }]);
  const labels = p1.rec.data('timer:tick').map((x) => x.label);
  assert.equal(labels[0], 'old');
  assert.ok(labels.indexOf('new') > 0 && labels.slice(labels.indexOf('new')).every((l) => l === 'new'),
    `the old one ticks no more once the new one started: ${labels.join(' ')}`);
  const fresh = p1.rec.data('timer:tick').filter((x) => x.label === 'new').map((x) => x.remaining);
  assert.equal(fresh[0], 2);
  for (let i = 1; i < fresh.length; i++) assert.ok(fresh[i] < fresh[i - 1], `new: strictly decreasing ${fresh.join(' ')}`);
  c.close();
});

h.test('a running timer survives a scheduler SIGKILL and restart: no tick twice, expired once', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'tr' });
  const { gm, p1 } = c;
  const s = await session(c, [gm, p1]);
  expectOk(await emitAck(gm.s, 'timer:start', { sessionId: s.id, seconds: 5, label: 'Survivor' }));
  await p1.rec.waitFor('timer:tick', (x) => x.remaining < 5, 5000);
  await sys.kill('scheduler', 'SIGKILL');
  await sys.start('scheduler');
  const exp = await p1.rec.waitFor('timer:expired', () => true, 15000);
  assert.deepEqual(exp, { sessionId: s.id, label: 'Survivor' });
  await quiet(1300);
  const rem = checkTimer(p1.rec, s.id, 5, 'Survivor');
  t.diagnostic(`ticks ${rem.join(' ')}`);
  c.close();
});

/** A Redis command against the system's private server (redis-cli), its reply as text. */
function redis(sys, ...args) {
  return execFileSync('redis-cli', ['-s', path.join(sys.dir, 'redis.sock'), ...args], { encoding: 'utf8' }).trim();
}

h.test('a claim whose scheduler died before its acknowledgement fires again after its lease, once; a live lease is left alone', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'sl' });
  const { gm, p1 } = c;
  const mk = async (event) =>
    expectOk(await emitAck(gm.s, 'schedule:create', { campaignId: c.id, event, payload: event, room: c.room, afterMs: 600000 }));
  const dead = await mk('claimed:dead');
  const live = await mk('claimed:live');
  // as a claim leaves them (pl_sched.h): out of the due zset, into the firing
  // one scored by the lease deadline; dead's claimer died long ago (lease
  // expired), live's is still within its lease
  const lease = (e, score) => {
    const m = redis(sys, 'HGET', 'pl:sched:members', e.id);
    assert.match(m, new RegExp(`^\\d{20}:${e.id}:${c.id}$`));
    assert.equal(redis(sys, 'ZREM', 'pl:sched:real', m), '1');
    assert.equal(redis(sys, 'ZADD', 'pl:sched:firing', score, m), '1');
    return m;
  };
  lease(dead, '1');
  const liveMember = lease(live, String(Date.now() + 3600000));
  const f = await p1.rec.waitFor('schedule:fired', (x) => x.id === dead.id, 10000);
  assert.deepEqual(f, { id: dead.id, campaignId: c.id, event: 'claimed:dead', payload: 'claimed:dead', firedAt: f.firedAt });
  // acknowledged: gone from Redis (the next turns of the task), not fired again
  const deadline = Date.now() + 10000;
  while (redis(sys, 'HEXISTS', 'pl:sched:entries', dead.id) !== '0' && Date.now() < deadline) await sleep(50);
  assert.equal(redis(sys, 'HEXISTS', 'pl:sched:entries', dead.id), '0', 'acknowledged');
  assert.deepEqual(redis(sys, 'ZRANGE', 'pl:sched:firing', '0', '-1'), liveMember, 'only the live lease left');
  await quiet(2500);
  assert.deepEqual(p1.rec.data('schedule:fired').map((x) => x.id), [dead.id], 'once; the live lease is not fired');
  assert.deepEqual(expectOk(await emitAck(gm.s, 'schedule:list', { campaignId: c.id })), [], 'a leased entry is not listed');
  expectError(await emitAck(gm.s, 'schedule:cancel', { campaignId: c.id, id: live.id }), 'NOT_FOUND');
  c.close();
});

h.test('campaign:delete clears its scheduled events, world time and turn timers: nothing left to fire into its rooms', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'sd' });
  const keep = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'sk' });
  const { gm, p1 } = c;
  const s = await session(c, [gm, p1]);
  expectOk(await emitAck(gm.s, 'time:advance', { campaignId: c.id, seconds: 5 }));
  const real = expectOk(await emitAck(gm.s, 'schedule:create', { campaignId: c.id, event: 'dead:real', payload: 1, room: c.room, afterMs: 1500 }));
  const world = expectOk(await emitAck(gm.s, 'schedule:create', { campaignId: c.id, event: 'dead:world', payload: 2, room: `session:${s.id}`, at: 50 }));
  expectOk(await emitAck(gm.s, 'timer:start', { sessionId: s.id, seconds: 60, label: 'dead' }));
  const kept = expectOk(await emitAck(keep.gm.s, 'schedule:create', { campaignId: keep.id, event: 'alive', payload: 3, room: keep.room, afterMs: 2000 }));
  // stored, before: the entries, the campaign's index and clock, the timer
  assert.equal(redis(sys, 'HEXISTS', 'pl:sched:entries', real.id), '1');
  assert.equal(redis(sys, 'EXISTS', `pl:time:${c.id}`, `pl:sched:campaign:${c.id}`, `pl:sched:world:${c.id}`, `pl:timer:${s.id}`), '4');

  expectOk(await emitAck(gm.s, 'campaign:delete', c.id));
  // gone at once (the delete's follow-up), the other campaign's untouched
  for (const id of [real.id, world.id]) {
    assert.equal(redis(sys, 'HEXISTS', 'pl:sched:entries', id), '0', `entry ${id}`);
    assert.equal(redis(sys, 'HEXISTS', 'pl:sched:members', id), '0');
  }
  assert.equal(redis(sys, 'EXISTS', `pl:time:${c.id}`, `pl:sched:campaign:${c.id}`, `pl:sched:world:${c.id}`, `pl:timer:${s.id}`), '0');
  assert.equal(redis(sys, 'ZSCORE', 'pl:timers', s.id), '');
  assert.equal(redis(sys, 'HEXISTS', 'pl:sched:entries', kept.id), '1');
  // a GM of another campaign cannot schedule into it (no role: FORBIDDEN)
  expectError(await emitAck(gm.s, 'schedule:create', { campaignId: c.id, event: 'x', payload: 1, room: c.room, afterMs: 10 }), 'FORBIDDEN');
  // the positive control: the scheduler ran past the dead one's due time
  await keep.p1.rec.waitFor('schedule:fired', (x) => x.id === kept.id, 10000);
  assert.ok(Date.now() > real.dueAt);
  for (const u of [gm, p1]) assert.deepEqual(u.rec.data('schedule:fired').filter((x) => x.campaignId === c.id), []);
  c.close();
  keep.close();
});

h.test('REST: world time, schedules and timers', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'rs' });
  const { gm, p1 } = c;
  const gmTok = sys.token({ sub: gm.id, name: gm.name });
  const pTok = sys.token({ sub: p1.id, name: p1.name });
  let r = await rest(sys, pTok, 'GET', `/campaigns/${c.id}/time`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { campaignId: c.id, worldTime: 0 });
  r = await rest(sys, pTok, 'POST', `/campaigns/${c.id}/time/advance`, { seconds: 5 });
  assert.equal(r.status, 403);
  r = await rest(sys, gmTok, 'POST', `/campaigns/${c.id}/time/advance`, { seconds: 60 });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { campaignId: c.id, worldTime: 60, previous: 0 });
  await p1.rec.waitFor('world_time_changed', (x) => x.worldTime === 60);
  r = await rest(sys, gmTok, 'PATCH', `/campaigns/${c.id}/time`, { worldTime: 10 });
  assert.equal(r.status, 200);
  assert.equal(r.body.previous, 60);
  r = await rest(sys, gmTok, 'POST', `/campaigns/${c.id}/schedules`, { event: 'rest:made', payload: { a: 1 }, room: c.room, at: 20 });
  assert.equal(r.status, 201);
  const id = r.body.id;
  r = await rest(sys, gmTok, 'GET', `/campaigns/${c.id}/schedules`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.map((x) => x.id), [id]);
  r = await rest(sys, gmTok, 'POST', `/campaigns/${c.id}/schedules`, { event: 'bad name', room: c.room, at: 20 });
  assert.equal(r.status, 400);
  r = await rest(sys, gmTok, 'DELETE', `/campaigns/${c.id}/schedules/${id}`);
  assert.equal(r.status, 204);
  r = await rest(sys, gmTok, 'DELETE', `/campaigns/${c.id}/schedules/${id}`);
  assert.equal(r.status, 404);
  const s = await session(c, [gm, p1]);
  r = await rest(sys, pTok, 'POST', `/sessions/${s.id}/timer`, { seconds: 30 });
  assert.equal(r.status, 403);
  r = await rest(sys, gmTok, 'POST', `/sessions/${s.id}/timer`, { seconds: 30, label: 'REST' });
  assert.equal(r.status, 201);
  assert.equal(r.body.sessionId, s.id);
  assert.equal(r.body.seconds, 30);
  await p1.rec.waitFor('timer:tick', (x) => x.remaining === 30 && x.label === 'REST');
  r = await rest(sys, gmTok, 'DELETE', `/sessions/${s.id}/timer`);
  assert.equal(r.status, 204);
  r = await rest(sys, gmTok, 'DELETE', `/sessions/${s.id}/timer`);
  assert.equal(r.status, 404);
  c.close();
});
