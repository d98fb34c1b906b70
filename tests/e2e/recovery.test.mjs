// Connection-state recovery (Socket.IO 4.6+) end to end, with the real
// socket.io-client on 2 gateways: a player whose transport drops while the GM
// changes an actor and chats comes back, to the same gateway or to the other
// one, with socket.recovered === true, gets every missed room event once and
// in order, then live ones. Refused cases: another user's token, an expired
// session, recovery turned off, and a player removed while away does not get
// the campaign's room back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  useSystem, startSystem, emitAck, expectOk, sleep, OFFSET_RE,
} from './lib/system.mjs';
import { uid, record, createCampaign, addMember, subscribeOk, settle, quiet } from './lib/campaign.mjs';
import { scrape } from './lib/metrics.mjs';

const h = useSystem({ workers: 1, gateways: 2 });

/** Resolve with the reason of socket's next disconnect. */
function nextDisconnect(s) {
  return new Promise((resolve) => s.once('disconnect', (reason) => resolve(reason)));
}

/** Resolve once socket is connected again (bounded). */
function nextConnect(s, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connect within ${ms} ms`)), ms);
    s.once('connect', () => { clearTimeout(timer); resolve(); });
    s.once('connect_error', (e) => { clearTimeout(timer); reject(new Error(`connect_error: ${e.message}`)); });
  });
}

/** Drop s's transport as a network failure would (not a DISCONNECT, so
 * the session may be recovered); resolves once the client has seen it
 * (its reason: "forced close"). */
async function dropTransport(s) {
  const dropped = nextDisconnect(s);
  s.io.engine.close();
  await dropped;
}

/** s.connect() and wait until it is connected again (bounded). */
async function reconnect(s) {
  const back = nextConnect(s);
  s.connect();
  await back;
}

/** A GM with a campaign and an actor in it, and a player subscribed to its room. */
async function table(sys, { playerGateway, playerIo } = {}) {
  const gmId = uid('rc-gm');
  const pId = uid('rc-p');
  const gm = await sys.connectOk(sys.token({ sub: gmId, name: 'GM' }));
  const campaign = await createCampaign(gm);
  const room = `campaign:${campaign.id}`;
  await addMember(gm, campaign.id, pId, 'player');
  const player = await sys.connectOk(sys.token({ sub: pId, name: 'P' }), { gateway: playerGateway, io: playerIo });
  await subscribeOk(gm, room);
  await subscribeOk(player, room);
  const actor = expectOk(await emitAck(gm, 'actor:create', { name: 'Orc', type: 'npc', campaignId: campaign.id }));
  await settle();
  return { gm, gmId, player, pId, campaign, room, actor, rec: record(player, 'player') };
}

/** Room events of interest a recorder got after index from, as [name, key]. */
function seenSince(rec, from) {
  return rec.events.slice(from)
    .filter((e) => e.event === 'actor:updated' || e.event === 'chat:message')
    .map((e) => ({ name: e.event, key: e.event === 'chat:message' ? e.data.text : e.data.version, offset: e.args.at(-1), n: e.args.length }));
}

/** The GM's changes while the player is away: one actor update, two chats. */
async function missWhileAway(t) {
  expectOk(await emitAck(t.gm, 'actor:update', { id: t.actor.id, hp: 7 }));
  expectOk(await emitAck(t.gm, 'chat:send', { room: t.room, text: 'missed 1' }));
  expectOk(await emitAck(t.gm, 'chat:send', { room: t.room, text: 'missed 2' }));
}

/** A gateway's /healthz stats. */
async function stats(sys, gateway) {
  const r = await fetch(`${sys.url(gateway)}/healthz`, { signal: AbortSignal.timeout(3000) });
  return (await r.json()).stats;
}

/** A gateway's parley_gateway_delivery_seconds_count. */
async function deliveriesTimed(sys, gateway) {
  const m = await scrape(sys, { gateway, scope: 'local' });
  return m.all('parley_gateway_delivery_seconds_count').reduce((a, x) => a + x.value, 0);
}

async function recoverAndCheck(sys, t, otherGateway) {
  const { player, rec } = t;
  // a live event first: the client keeps its offset
  expectOk(await emitAck(t.gm, 'chat:send', { room: t.room, text: 'before' }));
  await rec.waitFor('chat:message', (m) => m.text === 'before');
  const before = rec.of('chat:message', (m) => m.text === 'before')[0];
  assert.match(before.args.at(-1), OFFSET_RE, 'a room event carries its offset last');
  assert.equal(typeof player._pid, 'string', 'the CONNECT ack carried a pid');
  assert.equal(player.recovered, false);
  const pid = player._pid;

  await dropTransport(player);
  const mark = rec.events.length;
  await missWhileAway(t);

  const target = otherGateway ? 'gateway-2' : 'gateway';
  if (otherGateway) player.io.uri = sys.url('gateway-2');   // as a load balancer would
  const recoveries = (await stats(sys, target)).recoveries;
  const timedBefore = await deliveriesTimed(sys, target);
  await reconnect(player);
  assert.equal(player.recovered, true, 'socket.recovered');
  assert.equal((await stats(sys, target)).recoveries, recoveries + 1, `recovered by ${target}`);
  assert.equal(player._pid, pid, 'same pid');
  await rec.waitFor('chat:message', (m) => m.text === 'missed 2', 5000);

  // live events continue after the replay
  expectOk(await emitAck(t.gm, 'chat:send', { room: t.room, text: 'live' }));
  await rec.waitFor('chat:message', (m) => m.text === 'live');
  await quiet();
  const seen = seenSince(rec, mark);
  assert.deepEqual(seen.map((e) => [e.name, e.key, e.n]), [
    ['actor:updated', 2, 2], ['chat:message', 'missed 1', 2], ['chat:message', 'missed 2', 2],
    ['chat:message', 'live', 2],
  ], 'missed events once each, in order, then the live one');
  const offsets = seen.map((e) => e.offset);
  assert.ok(offsets.every((o) => OFFSET_RE.test(o)));
  assert.ok(offsets.every((o, i) => i === 0 || o > offsets[i - 1]), 'offsets increase');
  assert.ok(offsets[0] > before.args.at(-1));
  if (otherGateway) {
    // the player is gateway-2's only member: every event it got since the
    // reconnect was written there. The replay (up to 'missed 2', with the
    // player's own presence:left) comes first; only what follows is live
    // and timed: a replayed event has no publish time (docs/METRICS.md)
    const since = rec.events.slice(mark);
    const replayed = since.findIndex((e) => e.event === 'chat:message' && e.data.text === 'missed 2') + 1;
    assert.equal(await deliveriesTimed(sys, target) - timedBefore, since.length - replayed,
      `timed: the live ones of ${since.map((e) => e.event)}`);
  }
  // the recovered connection is a normal one: requests work
  expectOk(await emitAck(player, 'actor:get', t.actor.id));
}

h.test('recovery on the same gateway: recovered, missed events once and in order, then live ones', async (t, sys) => {
  const tb = await table(sys);
  await recoverAndCheck(sys, tb, false);
  tb.gm.disconnect();
  tb.player.disconnect();
});

h.test('recovery on the other gateway of the deployment', async (t, sys) => {
  const tb = await table(sys);
  await recoverAndCheck(sys, tb, true);
  tb.gm.disconnect();
  tb.player.disconnect();
});

for (const target of ['gateway', 'gateway-2']) h.test(`a burst during the reconnect (to ${target}): the player sees exactly what the GM sees, in the same order`, async (t, sys) => {
  // 20 messages while away, then 200 more sent while the player reconnects:
  // some are replayed, some held and delivered after the replay, some arrive
  // both ways and must be dropped once (on the GM's gateway the room is
  // subscribed already, so the live ones up to the replay's end arrive too)
  const tb = await table(sys);
  const { player, rec } = tb;
  const gmRec = record(tb.gm, 'gm');
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'before' }));
  await rec.waitFor('chat:message', (m) => m.text === 'before');
  await dropTransport(player);
  const mark = rec.events.length;
  for (let i = 0; i < 20; i++) expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: `away ${i}` }));
  player.io.uri = sys.url(target);
  const back = nextConnect(player);
  player.connect();
  for (let b = 0; b < 5; b++) {          // 40 at a time: PARLEY_MAX_INFLIGHT is 64
    const acks = [];
    for (let i = 40 * b; i < 40 * (b + 1); i++) acks.push(emitAck(tb.gm, 'chat:send', { room: tb.room, text: `burst ${i}` }));
    for (const a of await Promise.all(acks)) expectOk(a);
  }
  await back;
  assert.equal(player.recovered, true);
  await gmRec.waitFor('chat:message', () => gmRec.count('chat:message', (m) => m.text.startsWith('burst')) === 200, 10000);
  const want = gmRec.data('chat:message', (m) => m.text !== 'before').map((m) => m.text);
  await rec.waitFor('chat:message', () => rec.count('chat:message', (m) => m.text !== 'before') >= want.length, 10000);
  await quiet();
  const got = rec.events.slice(mark).filter((e) => e.event === 'chat:message').map((e) => e.data.text);
  assert.equal(got.length, 220);
  assert.deepEqual(got, want, 'the same messages, once each, in the same order');
  for (const s of [tb.gm, player]) s.disconnect();
});

h.test('another user\'s token with the pid is not recovered and gets none of the events', async (t, sys) => {
  const tb = await table(sys);
  const { player, rec } = tb;
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'before' }));
  await rec.waitFor('chat:message', (m) => m.text === 'before');
  const pid = player._pid;
  await dropTransport(player);
  const mark = rec.events.length;
  await missWhileAway(tb);
  const thief = uid('rc-thief');
  player.auth = { token: sys.token({ sub: thief }) };   // pid and offset are still sent
  await reconnect(player);
  assert.equal(player.recovered, false);
  assert.notEqual(player._pid, pid, 'a new pid');
  await quiet();
  assert.deepEqual(seenSince(rec, mark), [], 'nothing replayed to another user');
  // the rightful owner can still recover it
  const owner = sys.connect(sys.token({ sub: tb.pId, name: 'P' }), { io: { autoConnect: false } });
  owner._pid = pid;
  owner._lastOffset = rec.of('chat:message', (m) => m.text === 'before')[0].args.at(-1);
  const orec = record(owner, 'owner');
  const ok = nextConnect(owner);
  owner.connect();
  await ok;
  assert.equal(owner.recovered, true);
  await orec.waitFor('chat:message', (m) => m.text === 'missed 2');
  assert.deepEqual(seenSince(orec, 0).map((e) => e.key), [2, 'missed 1', 'missed 2']);
  for (const s of [tb.gm, player, owner]) s.disconnect();
});

h.test('a recovered player is present again: others see presence:joined, presence:list lists it', async (t, sys) => {
  const tb = await table(sys);
  const { player, rec } = tb;
  const grec = record(tb.gm, 'gm');
  const ids = async () => expectOk(await emitAck(tb.gm, 'presence:list', { room: tb.room })).map((u) => u.userId);
  assert.ok((await ids()).includes(tb.pId));
  await dropTransport(player);
  await grec.waitFor('presence:left', (e) => e.room === tb.room && e.userId === tb.pId, 5000);
  assert.ok(!(await ids()).includes(tb.pId), 'gone while away');
  grec.clear();
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'missed 1' }));
  await reconnect(player);
  assert.equal(player.recovered, true);
  await rec.waitFor('chat:message', (m) => m.text === 'missed 1', 5000);
  await grec.waitFor('presence:joined', (d) => d.room === tb.room && d.userId === tb.pId, 5000);
  assert.ok((await ids()).includes(tb.pId), 'listed again');
  // and its room still works both ways
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'live' }));
  await rec.waitFor('chat:message', (m) => m.text === 'live');
  for (const s of [tb.gm, player]) s.disconnect();
});

for (const [label, transports] of [['polling only', ['polling']], ['polling upgraded to websocket', ['polling', 'websocket']]]) h.test(`recovery over HTTP long-polling (${label}): recovered with the missed events`, async (t, sys) => {
  const tb = await table(sys, { playerIo: { transports } });
  const { player, rec } = tb;
  const engine = player.io.engine;
  const want = transports.at(-1);
  if (engine.transport.name !== want) await new Promise((resolve) => engine.once('upgrade', resolve));
  assert.equal(engine.transport.name, want);
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'before' }));
  await rec.waitFor('chat:message', (m) => m.text === 'before');
  const dropped = nextDisconnect(player);
  engine.close();
  await dropped;
  const mark = rec.events.length;
  await missWhileAway(tb);
  await reconnect(player);
  assert.equal(player.recovered, true, 'socket.recovered');
  await rec.waitFor('chat:message', (m) => m.text === 'missed 2', 5000);
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'live' }));
  await rec.waitFor('chat:message', (m) => m.text === 'live');
  await quiet();
  assert.deepEqual(seenSince(rec, mark).map((e) => [e.name, e.key]), [
    ['actor:updated', 2], ['chat:message', 'missed 1'], ['chat:message', 'missed 2'], ['chat:message', 'live'],
  ]);
  expectOk(await emitAck(player, 'actor:get', tb.actor.id));
  for (const s of [tb.gm, player]) s.disconnect();
});

h.test('a player removed from the campaign while away does not get its room back', async (t, sys) => {
  const tb = await table(sys);
  const { player, rec } = tb;
  const other = uid('rc-p2');
  await addMember(tb.gm, tb.campaign.id, other, 'player');
  const witness = await sys.connectOk(sys.token({ sub: other }));
  await subscribeOk(witness, tb.room);
  const wrec = record(witness, 'witness');
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'before' }));
  await rec.waitFor('chat:message', (m) => m.text === 'before');
  await dropTransport(player);
  const mark = rec.events.length;
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'missed 1' }));
  expectOk(await emitAck(tb.gm, 'campaign:removeMember', { campaignId: tb.campaign.id, userId: tb.pId }));
  // A worker acks before it publishes, and the bus orders one publisher's
  // messages only: the chat worker's next message could be stamped before
  // the campaigns worker's eviction, and then every member, connected or
  // recovering, rightly gets it. So the message after the removal is sent
  // once the eviction is surely on the bus: the witness has seen a later
  // message of the same (single) campaigns worker.
  expectOk(await emitAck(tb.gm, 'campaign:update', { id: tb.campaign.id, name: 'after the removal' }));
  await wrec.waitFor('campaign:updated', (c) => c.name === 'after the removal', 5000);
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'after removal' }));
  await reconnect(player);
  assert.equal(player.recovered, true);
  await rec.waitFor('campaign:memberRemoved', (m) => m.userId === tb.pId, 5000);
  // a positive control: the witness, still a member, gets the next message
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'live' }));
  await wrec.waitFor('chat:message', (m) => m.text === 'live');
  await quiet();
  // on failure, the offsets tell a bus order where the chat came before
  // the removal (its push and eviction stamped later: no client could
  // tell) from a delivery after the eviction (a gateway bug)
  const removed = rec.of('campaign:memberRemoved', (m) => m.userId === tb.pId).map((e) => e.args.at(-1));
  assert.deepEqual(seenSince(rec, mark).map((e) => e.key), ['missed 1'],
    `the message before the removal, nothing after it (seen ${JSON.stringify(seenSince(rec, mark))}, memberRemoved at ${removed})`);
  for (const s of [tb.gm, player, witness]) s.disconnect();
});

h.test('a reconnect that overtakes the old transport\'s close waits for its save, then recovers', async (t, sys) => {
  // the client is back (here through the other gateway) before the old
  // transport is known closed: the broker holds the claim until the save
  const tb = await table(sys);
  const { player, rec } = tb;
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'before' }));
  await rec.waitFor('chat:message', (m) => m.text === 'before');
  const offset = rec.of('chat:message', (m) => m.text === 'before')[0].args.at(-1);
  const again = sys.connect(sys.token({ sub: tb.pId, name: 'P' }), { gateway: 'gateway-2', io: { autoConnect: false } });
  again._pid = player._pid;               // what the same client would send
  again._lastOffset = offset;
  const arec = record(again, 'again');
  const back = nextConnect(again);
  again.connect();
  await sleep(300);                       // the claim is waiting by now
  assert.equal(again.connected, false, 'not answered before the save');
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'while both' }));
  await rec.waitFor('chat:message', (m) => m.text === 'while both');
  player.io.engine.close();               // the old transport's close: the save
  await back;
  assert.equal(again.recovered, true);
  await arec.waitFor('chat:message', (m) => m.text === 'while both');
  await quiet();
  assert.deepEqual(seenSince(arec, 0).map((e) => e.key), ['while both']);
  for (const s of [tb.gm, player, again]) s.disconnect();
});

h.test('hostile pid and offset in auth: connected as a new session', async (t, sys) => {
  const token = sys.token({ sub: uid('rc-h') });
  for (const extra of [
    { pid: 'x'.repeat(5000), offset: '0' },
    { pid: '../../etc', offset: '0' },
    { pid: 'abc', offset: { a: 1 } },
    { pid: 'abc', offset: 'zz"\\' },
    { pid: 42 },
    { pid: 'nosuchpid0123456789a', offset: '000000000000-000000000001' },
  ]) {
    const s = await sys.connectOk(undefined, { io: { auth: { token, ...extra } } });
    assert.equal(s.connected, true);
    assert.equal(typeof s._pid, 'string');
    assert.notEqual(s._pid, extra.pid);
    expectOk(await emitAck(s, 'actor:list'));
    s.disconnect();
  }
});

h.test('an explicit disconnect ends the session: connecting again is not a recovery', async (t, sys) => {
  const tb = await table(sys);
  const { player } = tb;
  expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'before' }));
  await tb.rec.waitFor('chat:message', (m) => m.text === 'before');
  const pid = player._pid;
  player.disconnect();
  await sleep(100);
  await reconnect(player);
  assert.equal(player.recovered, false);
  assert.notEqual(player._pid, pid);
  tb.gm.disconnect();
  player.disconnect();
});

test('a session older than PARLEY_RECOVERY_MS is not recovered', { timeout: 60000 }, async () => {
  const sys = await startSystem({ workers: 1, env: { PARLEY_RECOVERY_MS: '1000' } });
  try {
    const tb = await table(sys);
    const { player, rec } = tb;
    expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'before' }));
    await rec.waitFor('chat:message', (m) => m.text === 'before');
    await dropTransport(player);
    const mark = rec.events.length;
    await missWhileAway(tb);
    await sleep(2500);                  // the recovery window (1 s) and a tick pass
    await reconnect(player);
    assert.equal(player.recovered, false);
    await quiet();
    assert.deepEqual(seenSince(rec, mark), []);
    tb.gm.disconnect();
    player.disconnect();
  } catch (e) {
    sys.dumpLogs('expiry test failed');
    throw e;
  } finally {
    await sys.stop();
  }
});

test('PARLEY_RECOVERY_MS=0: no pid, no offsets', { timeout: 60000 }, async () => {
  const sys = await startSystem({ workers: 1, env: { PARLEY_RECOVERY_MS: '0' } });
  try {
    const tb = await table(sys);
    expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'plain' }));
    await tb.rec.waitFor('chat:message', (m) => m.text === 'plain');
    assert.equal(tb.player._pid, undefined);
    assert.deepEqual(tb.rec.of('chat:message').map((e) => e.args.length), [1]);
    await dropTransport(tb.player);
    await reconnect(tb.player);
    assert.ok(!tb.player.recovered);
    assert.equal(tb.player._pid, undefined);
    tb.gm.disconnect();
    tb.player.disconnect();
  } catch (e) {
    sys.dumpLogs('recovery-off test failed');
    throw e;
  } finally {
    await sys.stop();
  }
});

test('a gateway stopping (SIGTERM) saves its sessions: the client recovers on the other one', { timeout: 60000 }, async () => {
  const sys = await startSystem({ workers: 1, gateways: 2 });
  try {
    const tb = await table(sys, { playerGateway: 'gateway-2' });
    const { player, rec } = tb;
    expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'before' }));
    await rec.waitFor('chat:message', (m) => m.text === 'before');
    player.io.reconnection(false);                // reconnect by hand, after the misses
    const dropped = nextDisconnect(player);
    await sys.kill('gateway-2', 'SIGTERM');
    await dropped;
    const mark = rec.events.length;
    expectOk(await emitAck(tb.gm, 'chat:send', { room: tb.room, text: 'missed 1' }));
    player.io.uri = sys.url('gateway');           // as a load balancer would
    await reconnect(player);
    assert.equal(player.recovered, true, 'socket.recovered');
    await rec.waitFor('chat:message', (m) => m.text === 'missed 1', 5000);
    await quiet();
    assert.deepEqual(seenSince(rec, mark).map((e) => e.key), ['missed 1']);
    tb.gm.disconnect();
    player.disconnect();
  } finally {
    await sys.stop();
  }
});
