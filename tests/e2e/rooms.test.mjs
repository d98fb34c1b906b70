// Rooms end to end: subscribe/unsubscribe acks, who may join which room
// (FORBIDDEN, VALIDATION_ERROR), leaving on unsubscribe and on disconnect,
// rooms shared by two gateways, the 64-room cap per connection, and the
// per-connection rate limit on
// subscribe, unsubscribe and gameSession:join/leave (a second system with
// a small burst).
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useSystem, emitAck, expectOk, expectError, sleep } from './lib/system.mjs';
import {
  uid, quiet, settle, subscribeOk, unsubscribeOk, setupCampaign, tab,
} from './lib/campaign.mjs';

describe('rooms', () => {
  const h = useSystem({ workers: 1, gateways: 2 });

  h.test('subscribe and unsubscribe ack {room}; events flow only while subscribed', async (t, sys) => {
    const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false, prefix: 'rs' });
    const { gm, p1 } = c;
    await subscribeOk(gm.s, c.room);
    await subscribeOk(p1.s, c.room);
    // Subscribing twice is harmless.
    await subscribeOk(p1.s, c.room);
    await settle();
    const m1 = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: 'one' }));
    await p1.rec.waitFor('chat:message', (m) => m.id === m1.id);

    // One unsubscribe leaves, however many subscribes came before.
    await unsubscribeOk(p1.s, c.room);
    await settle();
    const m2 = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: 'two' }));
    await gm.rec.waitFor('chat:message', (m) => m.id === m2.id);   // positive control
    await quiet();
    assert.deepEqual(p1.rec.data('chat:message').map((m) => m.text), ['one'], 'nothing after unsubscribe');
    assert.equal(p1.rec.count('chat:message', (m) => m.id === m1.id), 1, 'subscribing twice delivers once');
    // Leaving a room one is not in succeeds too.
    await unsubscribeOk(p1.s, c.room);
    await unsubscribeOk(p1.s, `campaign:${uid('never')}`);

    // Own user room: subscribing is a no-op success; it cannot be left.
    await subscribeOk(p1.s, `user:${p1.id}`);
    const leaveOwn = await emitAck(p1.s, 'unsubscribe', { room: `user:${p1.id}` });
    if (!leaveOwn.success) expectError(leaveOwn, 'FORBIDDEN', 'VALIDATION_ERROR');
    // Still in it: a personal actor made on another tab reaches this one.
    const p1b = await tab(sys, p1);
    await settle();
    const a = expectOk(await emitAck(p1b.s, 'actor:create', { name: 'Mine', type: 'pc' }));
    await p1.rec.waitFor('actor:created', (x) => x.id === a.id);
    p1b.s.disconnect();
    c.close();
  });

  h.test('FORBIDDEN: an outsider, the GM room, other users\' rooms and reserved kinds', async (t, sys) => {
    const c = await setupCampaign(sys, { players: 1, prefix: 'rf' });
    const { gm, p1, out } = c;
    const cases = [
      [out, c.room, 'an outsider in a campaign room'],
      [out, `campaign:${uid('nonexistent')}`, 'a campaign that does not exist'],
      [p1, `${c.room}:gm`, 'a player in the GM room'],
      [gm, `${c.room}:gm`, 'even a GM: the GM room is internal'],
      [p1, `user:${gm.id}`, 'another user\'s room'],
      [p1, `session:${uid('nosession')}`, 'a session that does not exist'],
      [gm, `actor:${uid('a')}`, 'reserved kind actor'],
      [gm, `item:${uid('i')}`, 'reserved kind item'],
      [gm, `scene:${uid('s')}`, 'reserved kind scene'],
      [gm, `encounter:${uid('e')}`, 'reserved kind encounter'],
    ];
    for (const [u, room, why] of cases) {
      const ack = await emitAck(u.s, 'subscribe', { room });
      assert.equal(ack.success, false, `${why}: ${room} refused, got ${JSON.stringify(ack)}`);
      expectError(ack, 'FORBIDDEN');
    }
    // A refused outsider did not join: the room's chat does not reach them.
    await settle();
    const m = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: 'members only' }));
    await p1.rec.waitFor('chat:message', (x) => x.id === m.id);
    // ... and a refused player did not join the GM room: a hidden actor's events skip them.
    const hidden = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Secret', type: 'npc', campaignId: c.id, hidden: true }));
    const gmTab = await tab(sys, gm);
    await subscribeOk(gmTab.s, c.room);
    await settle();
    const u = expectOk(await emitAck(gm.s, 'actor:update', { id: hidden.id, hp: 9 }));
    await gmTab.rec.waitFor('actor:updated', (x) => x.id === hidden.id && x.version === u.version);
    await quiet();
    assert.deepEqual(out.rec.events.map((e) => e.event), [], 'the outsider received nothing');
    assert.deepEqual(p1.rec.names('actor:'), [], 'the player received nothing about the hidden actor');
    gmTab.s.disconnect();
    c.close();
  });

  h.test('VALIDATION_ERROR for junk room names and arguments', async (t, sys) => {
    const s = await sys.user(uid('rv'));
    const junk = [
      { room: '' }, { room: 'campaign:' }, { room: 'nokind' }, { room: 'weird:1' },
      { room: 'campaign:has space' }, { room: 'campaign:a/b' }, { room: `campaign:${'x'.repeat(129)}` },
      { room: 7 }, { room: null }, {}, 'campaign:x', 42, null, [{ room: 'campaign:x' }],
    ];
    for (const arg of junk) {
      const ack = await emitAck(s, 'subscribe', arg);
      assert.equal(ack.success, false, `subscribe ${JSON.stringify(arg)} refused`);
      expectError(ack, 'VALIDATION_ERROR');
    }
    expectError(await emitAck(s, 'subscribe'), 'VALIDATION_ERROR');
    expectError(await emitAck(s, 'unsubscribe', { room: 'nokind' }), 'VALIDATION_ERROR');
    expectError(await emitAck(s, 'unsubscribe', 5), 'VALIDATION_ERROR');
    expectError(await emitAck(s, 'presence:list', { room: '' }), 'VALIDATION_ERROR');
    // The connection is still fine.
    expectOk(await emitAck(s, 'actor:list'));
    s.disconnect();
  });

  h.test('leaving on disconnect: room membership is per connection and ends with it', async (t, sys) => {
    const c = await setupCampaign(sys, { players: 2, outsider: false, prefix: 'rd' });
    const { gm, p1, p2 } = c;
    // p1 has a second tab that never subscribed.
    const p1b = await tab(sys, p1);
    await settle();
    const m1 = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: 'before' }));
    await p1.rec.waitFor('chat:message', (m) => m.id === m1.id);
    await p2.rec.waitFor('chat:message', (m) => m.id === m1.id);

    p1.s.disconnect();
    // Members see p1 leave (last connection in the room).
    const left = await p2.rec.waitFor('presence:left', (d) => d.room === c.room && d.userId === p1.id, 5000);
    assert.deepEqual(left, { room: c.room, userId: p1.id, name: p1.name });
    const m2 = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: 'after' }));
    await p2.rec.waitFor('chat:message', (m) => m.id === m2.id);
    const a = expectOk(await emitAck(gm.s, 'actor:create', { name: 'After', type: 'npc', campaignId: c.id }));
    await p2.rec.waitFor('actor:created', (x) => x.id === a.id);
    await quiet();
    assert.deepEqual(p1b.rec.names('chat:'), [], 'the unsubscribed tab never gets room traffic');
    assert.deepEqual(p1b.rec.names('actor:'), []);
    const present = expectOk(await emitAck(gm.s, 'presence:list', { room: c.room }));
    assert.deepEqual(present.map((x) => x.userId), [gm.id, p2.id].sort());
    p1b.s.disconnect();
    c.close();
  });

  h.test('two gateways share rooms: a write on gateway 1 reaches members on gateway 2', async (t, sys) => {
    const c = await setupCampaign(sys, {
      players: 2, outsider: true, prefix: 'rg',
      gateways: { gm: 'gateway', p1: 'gateway-2', p2: 'gateway', out: 'gateway-2' },
    });
    const { gm, p1, p2, out } = c;
    // p1 also has an unsubscribed tab on gateway 2, p2 a subscribed tab on gateway 2.
    const p1b = await tab(sys, p1, 'gateway-2');
    const p2b = await tab(sys, p2, 'gateway-2');
    await subscribeOk(p2b.s, c.room);
    await settle();

    const a = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Cross', type: 'npc', campaignId: c.id }));
    assert.deepEqual(await p1.rec.waitFor('actor:created', (x) => x.id === a.id), a);
    assert.deepEqual(await p2.rec.waitFor('actor:created', (x) => x.id === a.id), a);
    assert.deepEqual(await p2b.rec.waitFor('actor:created', (x) => x.id === a.id), a);
    // A write on gateway 2 reaches gateway 1 as well.
    const m = expectOk(await emitAck(p1.s, 'chat:send', { room: c.room, text: 'from gw2' }));
    await gm.rec.waitFor('chat:message', (x) => x.id === m.id);
    await p2.rec.waitFor('chat:message', (x) => x.id === m.id);
    await p1.rec.waitFor('chat:message', (x) => x.id === m.id);
    await quiet();
    for (const [who, rec] of [['p1', p1.rec], ['p2', p2.rec], ['p2b', p2b.rec]]) {
      assert.equal(rec.count('actor:created', (x) => x.id === a.id), 1, `${who}: exactly once`);
      assert.equal(rec.count('chat:message', (x) => x.id === m.id), 1, `${who}: chat exactly once`);
    }
    assert.equal(gm.rec.count('actor:created'), 0, 'not to the sender');
    assert.deepEqual(p1b.rec.names('actor:'), [], 'an unsubscribed tab on gateway 2 gets nothing');
    assert.deepEqual(out.rec.events.map((e) => e.event), [], 'the outsider on gateway 2 gets nothing');

    // Unsubscribing on gateway 2 stops delivery there, the other gateway-2 member still gets it.
    await unsubscribeOk(p2b.s, c.room);
    await settle();
    const u = expectOk(await emitAck(gm.s, 'actor:update', { id: a.id, hp: 3 }));
    await p1.rec.waitFor('actor:updated', (x) => x.id === a.id);
    await p2.rec.waitFor('actor:updated', (x) => x.id === a.id);
    await quiet();
    assert.equal(p2b.rec.count('actor:updated'), 0, `unsubscribed tab: nothing (update v${u.version})`);
    p1b.s.disconnect(); p2b.s.disconnect();
    c.close();
  });

  h.test('a connection in 64 rooms: the next join is a CONFLICT that leaves no presence behind', async (t, sys) => {
    const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false, prefix: 'rl' });
    t.after(c.close);
    const { gm, p1 } = c;
    const sessions = [];
    for (let i = 0; i < 64; i++) {
      sessions.push(expectOk(await emitAck(gm.s, 'gameSession:create', { campaignId: c.id, name: `s${i}` })));
    }
    // within the subscribe rate limit: a RATE_LIMITED ack is retried
    const join = async (s, id) => {
      for (;;) {
        const ack = await emitAck(s, 'gameSession:join', id);
        if (ack.success || ack.error.code !== 'RATE_LIMITED') return ack;
        await sleep(100);
      }
    };
    // user:<id> plus 63 session rooms: 64
    for (const s of sessions.slice(0, 63)) expectOk(await join(p1.s, s.id));
    const last = sessions[63];
    const err = expectError(await join(p1.s, last.id), 'CONFLICT');
    assert.match(err.message, /64/);
    await settle();
    const present = expectOk(await emitAck(gm.s, 'presence:list', { room: `session:${last.id}` }));
    assert.deepEqual(present, [], 'the refused join left no presence');
    assert.equal(expectOk(await emitAck(gm.s, 'presence:list', { room: `session:${sessions[0].id}` })).length, 1);
    // leaving one makes room for it
    expectOk(await emitAck(p1.s, 'gameSession:leave', sessions[0].id));
    expectOk(await join(p1.s, last.id));
    assert.deepEqual(expectOk(await emitAck(gm.s, 'presence:list', { room: `session:${last.id}` })).map((x) => x.userId),
      [p1.id]);
  });
});

describe('rate limit', () => {
  const BURST = 5;
  const PER_SEC = 2;
  const h = useSystem({ workers: 1, env: { PARLEY_RATE_BURST: String(BURST), PARLEY_RATE_PER_SEC: String(PER_SEC) } });

  h.test('a burst of subscribes past PARLEY_RATE_BURST gets RATE_LIMITED acks; the bucket refills', async (t, sys) => {
    const c = await setupCampaign(sys, { players: 0, outsider: false, subscribe: false, prefix: 'rl' });
    const s = c.gm.s;
    const N = 20;
    const acks = await Promise.all(Array.from({ length: N }, () => emitAck(s, 'subscribe', { room: c.room })));
    const ok = acks.filter((a) => a.success === true);
    const limited = acks.filter((a) => a.success === false);
    for (const a of ok) assert.deepEqual(a.data, { room: c.room });
    for (const a of limited) expectError(a, 'RATE_LIMITED');
    t.diagnostic(`${ok.length} ok, ${limited.length} RATE_LIMITED of ${N}`);
    assert.ok(ok.length >= 1, 'the burst allowance is served');
    assert.ok(ok.length <= BURST + 1, `at most the burst (+1 for refill) succeeds, got ${ok.length}`);
    assert.ok(limited.length >= N - BURST - 1, `the rest is RATE_LIMITED, got ${limited.length}`);

    // Unrated events are not limited on the same connection.
    expectOk(await emitAck(s, 'presence:list', { room: c.room }));
    expectOk(await emitAck(s, 'campaign:get', c.id));
    // Unsubscribe counts too.
    const more = await Promise.all(Array.from({ length: N }, () => emitAck(s, 'unsubscribe', { room: c.room })));
    assert.ok(more.some((a) => a.success === false && a.error.code === 'RATE_LIMITED'), 'unsubscribe is rate-limited');

    // Another connection has its own bucket.
    const other = await sys.connectOk(sys.token({ sub: c.gm.id, name: c.gm.name }));
    await subscribeOk(other, c.room);

    // After a pause the bucket has refilled (PER_SEC per second).
    await sleep(Math.ceil(1000 / PER_SEC) + 300);
    await subscribeOk(s, c.room);
    other.disconnect();
    c.close();
  });

  h.test('gameSession:join and gameSession:leave count against the same limit', async (t, sys) => {
    const c = await setupCampaign(sys, { players: 0, outsider: false, subscribe: false, prefix: 'rlg' });
    const s = c.gm.s;
    const N = 20;
    // No such session: the ones let through are NOT_FOUND, the rest RATE_LIMITED.
    for (const event of ['gameSession:join', 'gameSession:leave']) {
      const acks = await Promise.all(Array.from({ length: N }, () => emitAck(s, event, 'no-such-session')));
      const limited = acks.filter((a) => a.success === false && a.error.code === 'RATE_LIMITED');
      t.diagnostic(`${event}: ${limited.length} RATE_LIMITED of ${N}`);
      assert.ok(limited.length >= N - BURST - 1, `${event} is rate-limited, got ${limited.length}`);
      await sleep(Math.ceil(1000 / PER_SEC) * (BURST + 1) + 300);     // refilled
    }
    c.close();
  });
});
