// Presence end to end: several tabs of one user are one presence (one
// joined, one left, no flapping), presence:list across two gateways, and a
// SIGKILLed gateway's users cleaned up within a bounded time, while a
// broker outage longer than the TTL sweeps nobody. Two rooms
// workers, so the gateway-death purge must still publish each left once.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import {
  uid, quiet, settle, subscribeOk, unsubscribeOk, setupCampaign, tab,
} from './lib/campaign.mjs';

const TTL_MS = 1500;
const h = useSystem({ workers: 1, gateways: 2, services: { rooms: 2 }, env: { PARLEY_PRESENCE_TTL_MS: String(TTL_MS) } });

const about = (room, userId) => (d) => d && d.room === room && d.userId === userId;

h.test('two tabs of one user: one joined, no left while a tab remains, one left at the end', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, outsider: false, subscribe: false, prefix: 'pt' });
  const { gm, p1, p2 } = c;
  await subscribeOk(gm.s, c.room);
  await settle();
  const tabA = p1;
  const tabB = await tab(sys, p1, 'gateway-2');
  const joined = about(c.room, p1.id);

  await subscribeOk(tabA.s, c.room);
  const j = await gm.rec.waitFor('presence:joined', joined);
  assert.deepEqual(j, { room: c.room, userId: p1.id, name: p1.name });
  await subscribeOk(tabB.s, c.room);
  // Positive control: p2 joining afterwards is announced.
  await subscribeOk(p2.s, c.room);
  await gm.rec.waitFor('presence:joined', about(c.room, p2.id));
  await quiet();
  assert.equal(gm.rec.count('presence:joined', joined), 1, 'the second tab adds no presence:joined');

  const list1 = expectOk(await emitAck(p2.s, 'presence:list', { room: c.room }));
  assert.deepEqual(list1, [
    { userId: gm.id, name: gm.name }, { userId: p1.id, name: p1.name }, { userId: p2.id, name: p2.name },
  ].sort((a, b) => (a.userId < b.userId ? -1 : 1)), 'one entry per user, sorted by user id');

  // Closing one tab: no presence:left. Unsubscribing p2: a left (the control).
  tabA.s.disconnect();
  await unsubscribeOk(p2.s, c.room);
  await gm.rec.waitFor('presence:left', about(c.room, p2.id));
  await quiet();
  assert.equal(gm.rec.count('presence:left', joined), 0, 'a remaining tab keeps the user present');
  const list2 = expectOk(await emitAck(gm.s, 'presence:list', { room: c.room }));
  assert.deepEqual(list2.map((x) => x.userId), [gm.id, p1.id].sort());

  // Closing the last tab: exactly one presence:left.
  tabB.s.disconnect();
  const l = await gm.rec.waitFor('presence:left', joined, 5000);
  assert.deepEqual(l, { room: c.room, userId: p1.id, name: p1.name });
  await quiet();
  assert.equal(gm.rec.count('presence:left', joined), 1, 'exactly one presence:left');
  assert.equal(gm.rec.count('presence:joined', joined), 1, 'no flapping');
  assert.deepEqual(expectOk(await emitAck(gm.s, 'presence:list', { room: c.room })).map((x) => x.userId), [gm.id]);
  c.close();
});

h.test('a user coming back after leaving is announced again; unsubscribe of one tab keeps the presence', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'pb' });
  const { gm, p1 } = c;
  const p1b = await tab(sys, p1);
  await subscribeOk(p1b.s, c.room);            // p1 now has two subscribed tabs
  await unsubscribeOk(p1.s, c.room);           // one leaves: still present
  await unsubscribeOk(p1b.s, c.room);          // the other: gone
  await gm.rec.waitFor('presence:left', about(c.room, p1.id));
  await subscribeOk(p1.s, c.room);             // back
  await gm.rec.waitFor('presence:joined', about(c.room, p1.id));
  await quiet();
  assert.equal(gm.rec.count('presence:left', about(c.room, p1.id)), 1);
  assert.equal(gm.rec.count('presence:joined', about(c.room, p1.id)), 1, 'the second tab\'s subscribe added none, the return one');
  // Outsiders may not list presence.
  const out = await sys.user(uid('pb-out'));
  expectError(await emitAck(out, 'presence:list', { room: c.room }), 'FORBIDDEN');
  out.disconnect(); p1b.s.disconnect();
  c.close();
});

h.test('two tabs subscribing and closing at the same moment, on two gateways: one joined, one left', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, outsider: false, subscribe: false, prefix: 'pc' });
  const { gm, p1, p2 } = c;
  await subscribeOk(gm.s, c.room);
  await settle();
  const tabs = [p1, await tab(sys, p1, 'gateway-2'), await tab(sys, p1), await tab(sys, p1, 'gateway-2')];
  await Promise.all(tabs.map((u) => subscribeOk(u.s, c.room)));
  await gm.rec.waitFor('presence:joined', about(c.room, p1.id));
  await subscribeOk(p2.s, c.room);                          // control
  await gm.rec.waitFor('presence:joined', about(c.room, p2.id));
  await quiet();
  assert.equal(gm.rec.count('presence:joined', about(c.room, p1.id)), 1, 'four tabs at once: one joined');
  for (const u of tabs) u.s.disconnect();
  await gm.rec.waitFor('presence:left', about(c.room, p1.id), 5000);
  await unsubscribeOk(p2.s, c.room);                        // control
  await gm.rec.waitFor('presence:left', about(c.room, p2.id));
  await quiet();
  assert.equal(gm.rec.count('presence:left', about(c.room, p1.id)), 1, 'four tabs closing at once: one left');
  assert.deepEqual(expectOk(await emitAck(gm.s, 'presence:list', { room: c.room })).map((x) => x.userId), [gm.id]);
  c.close();
});

h.test('a subscribe racing a disconnect leaks no presence', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false, prefix: 'pr' });
  const { gm, p1 } = c;
  await subscribeOk(gm.s, c.room);
  await settle();
  // Several rounds: send the subscribe and close the connection without waiting for the ack.
  for (let i = 0; i < 5; i++) {
    const x = await tab(sys, p1, i % 2 ? 'gateway-2' : 'gateway');
    x.s.emit('subscribe', { room: c.room }, () => {});
    if (i >= 2) await new Promise((r) => setImmediate(r));
    x.s.disconnect();
  }
  // Whatever was announced must be taken back: eventually p1 is not listed.
  const deadline = Date.now() + 5000;
  let ids;
  for (;;) {
    ids = expectOk(await emitAck(gm.s, 'presence:list', { room: c.room })).map((x) => x.userId);
    if (!ids.includes(p1.id) || Date.now() > deadline) break;
    await quiet(200);
  }
  assert.deepEqual(ids, [gm.id], 'no presence left behind by a connection that is gone');
  await quiet();
  assert.equal(gm.rec.count('presence:joined', about(c.room, p1.id)), gm.rec.count('presence:left', about(c.room, p1.id)),
    'every joined has its left');
  c.close();
});

h.test('presence:list is the same on both gateways', async (t, sys) => {
  const c = await setupCampaign(sys, {
    players: 2, outsider: false, prefix: 'pl',
    gateways: { gm: 'gateway', p1: 'gateway-2', p2: 'gateway-2' },
  });
  const { gm, p1, p2 } = c;
  const want = [gm, p1, p2].map((u) => ({ userId: u.id, name: u.name }))
    .sort((a, b) => (a.userId < b.userId ? -1 : 1));
  assert.deepEqual(expectOk(await emitAck(gm.s, 'presence:list', { room: c.room })), want, 'asked on gateway 1');
  assert.deepEqual(expectOk(await emitAck(p1.s, 'presence:list', { room: c.room })), want, 'asked on gateway 2');
  // A user whose tabs are on both gateways is one entry; leaving one gateway keeps it.
  const p2a = await tab(sys, p2, 'gateway');
  await subscribeOk(p2a.s, c.room);
  assert.deepEqual(expectOk(await emitAck(gm.s, 'presence:list', { room: c.room })), want);
  p2.s.disconnect();
  // The disconnect is handled asynchronously: p2 must stay listed (p2a remains).
  await quiet();
  assert.deepEqual(expectOk(await emitAck(p1.s, 'presence:list', { room: c.room })), want);
  assert.equal(gm.rec.count('presence:left', about(c.room, p2.id)), 0);
  p2a.s.disconnect();
  await gm.rec.waitFor('presence:left', about(c.room, p2.id), 5000);
  assert.deepEqual(expectOk(await emitAck(p1.s, 'presence:list', { room: c.room })),
    want.filter((x) => x.userId !== p2.id));
  c.close();
});

h.test('a SIGKILLed gateway\'s users get presence:left within the bound, once', async (t, sys) => {
  const c = await setupCampaign(sys, {
    players: 2, outsider: false, prefix: 'pk',
    gateways: { gm: 'gateway', p1: 'gateway-2', p2: 'gateway' },
  });
  const { gm, p1, p2 } = c;
  // p2 also has a tab on gateway 2: they stay present through gateway 1.
  const p2b = await tab(sys, p2, 'gateway-2');
  await subscribeOk(p2b.s, c.room);
  await settle();
  const t0 = Date.now();
  await sys.kill('gateway-2', 'SIGKILL');
  const left = await gm.rec.waitFor('presence:left', about(c.room, p1.id), 3 * TTL_MS + 1000);
  const took = Date.now() - t0;
  t.diagnostic(`presence:left ${took} ms after SIGKILL (TTL ${TTL_MS} ms)`);
  assert.deepEqual(left, { room: c.room, userId: p1.id, name: p1.name });
  assert.ok(took <= 3 * TTL_MS, `within 3 x TTL (${took} ms)`);
  await p2.rec.waitFor('presence:left', about(c.room, p1.id));
  await quiet(TTL_MS);    // long enough for a second rooms worker's purge to show up, if it wrongly does
  assert.equal(gm.rec.count('presence:left', about(c.room, p1.id)), 1, 'exactly once with two rooms workers');
  assert.equal(gm.rec.count('presence:left', about(c.room, p2.id)), 0, 'p2 is still present on gateway 1');
  assert.deepEqual(expectOk(await emitAck(gm.s, 'presence:list', { room: c.room })).map((x) => x.userId),
    [gm.id, p2.id].sort());

  // The gateway comes back (a new boot): its new users are present again.
  await sys.start('gateway-2');
  await sys.waitHealth({ gateway: 'gateway-2', status: 200 });
  const p1again = await tab(sys, p1, 'gateway-2');
  await subscribeOk(p1again.s, c.room);
  await gm.rec.waitFor('presence:joined', about(c.room, p1.id));
  assert.deepEqual(expectOk(await emitAck(gm.s, 'presence:list', { room: c.room })).map((x) => x.userId),
    [gm.id, p1.id, p2.id].sort());
  // Still present after a few TTLs: the new gateway says it is alive.
  await quiet(2 * TTL_MS);
  assert.deepEqual(expectOk(await emitAck(p1again.s, 'presence:list', { room: c.room })).map((x) => x.userId),
    [gm.id, p1.id, p2.id].sort());
  assert.equal(gm.rec.count('presence:left', about(c.room, p1.id)), 1, 'no spurious left for the live gateway');
  p1again.s.disconnect();
  c.close();
});

h.test('a gateway SIGKILLed and restarted at once: its old connections\' presence is dropped within the bound', async (t, sys) => {
  const c = await setupCampaign(sys, {
    players: 1, outsider: false, prefix: 'pn', gateways: { gm: 'gateway', p1: 'gateway-2' },
  });
  const { gm, p1 } = c;
  await sys.kill('gateway-2', 'SIGKILL');
  const t0 = Date.now();
  await sys.start('gateway-2');
  const left = await gm.rec.waitFor('presence:left', about(c.room, p1.id), 3 * TTL_MS + 1000);
  assert.equal(left.userId, p1.id);
  t.diagnostic(`presence:left ${Date.now() - t0} ms after the restart`);
  await sys.waitHealth({ gateway: 'gateway-2', status: 200 });
  await quiet();
  assert.equal(gm.rec.count('presence:left', about(c.room, p1.id)), 1);
  c.close();
});

h.test('the broker down for longer than the presence TTL: nobody is swept, presence holds', async (t, sys) => {
  const c = await setupCampaign(sys, {
    players: 1, outsider: false, prefix: 'pb', gateways: { gm: 'gateway', p1: 'gateway-2' },
  });
  const { gm, p1 } = c;
  t.after(c.close);
  const everyone = [gm.id, p1.id].sort();
  assert.deepEqual(expectOk(await emitAck(gm.s, 'presence:list', { room: c.room })).map((x) => x.userId), everyone);
  // No alive gets through for 3 TTLs: the rooms workers still sweep, but
  // they hear from no gateway, so a lapsed alive says nothing.
  await sys.kill('broker', 'SIGKILL');
  await quiet(3 * TTL_MS);
  await sys.start('broker');
  await sys.waitHealth({ status: 200, timeoutMs: 10000 });
  await sys.waitHealth({ gateway: 'gateway-2', status: 200, timeoutMs: 10000 });
  await quiet(2 * TTL_MS);            // past the sweep's wait after the path is back
  assert.equal(gm.rec.count('presence:left'), 0, 'no presence:left for anyone');
  assert.deepEqual(expectOk(await emitAck(p1.s, 'presence:list', { room: c.room })).map((x) => x.userId), everyone);
});
