// Items held by a hidden actor: the holder's id is as hidden as the actor.
// A caller who may not see the holder (a player other than its creator)
// reads actorId null, in item:get, item:list, REST, every item:created /
// item:updated and every game-state copy; the GMs and the hidden actor's
// creator read the real id. When the holder is hidden later, the players
// get item:updated with actorId null, and when it is revealed, the id.
// (A security finding: before this, the id leaked to every member.)
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import { uid, quiet, settle, subscribeOk, setupCampaign, tab, rest } from './lib/campaign.mjs';

const h = useSystem({ workers: 1 });

const tokenOf = (sys, u) => sys.token({ sub: u.id, name: u.name });
const get = async (u, id) => expectOk(await emitAck(u.s, 'item:get', id));
const listed = async (u, id, arg) =>
  expectOk(await emitAck(u.s, 'item:list', arg)).find((x) => x.id === id);
// Does any payload this recorder got mention text (an id) anywhere?
const mentions = (rec, text) => rec.events.some((e) => JSON.stringify(e.args).includes(text));

h.test('a visible item of a hidden actor: players read actorId null in every read and event, the GM the id', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, prefix: 'hh' });
  t.after(c.close);
  const { gm, p1, p2 } = c;
  const gmb = await tab(sys, gm);                           // the GM's other tab, subscribed
  await subscribeOk(gmb.s, c.room);
  await settle();
  t.after(() => gmb.s.disconnect());

  const lich = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Lich', type: 'npc', campaignId: c.id, hidden: true }));
  const crown = expectOk(await emitAck(gm.s, 'item:create', { name: 'Crown', campaignId: c.id, actorId: lich.id }));
  assert.equal(crown.actorId, lich.id, 'the GM\'s ack names the holder');

  // item:created: the players' copy has actorId null and is otherwise the item
  for (const p of [p1, p2]) {
    assert.deepEqual(await p.rec.waitFor('item:created', (x) => x.id === crown.id), { ...crown, actorId: null });
  }
  assert.deepEqual(await gmb.rec.waitFor('item:created', (x) => x.id === crown.id), crown, 'the GM\'s tab: the id');

  // item:get, item:list {campaignId}
  for (const p of [p1, p2]) {
    assert.deepEqual(await get(p, crown.id), { ...crown, actorId: null });
    assert.deepEqual(await listed(p, crown.id, { campaignId: c.id }), { ...crown, actorId: null });
  }
  assert.deepEqual(await get(gm, crown.id), crown);
  assert.deepEqual(await listed(gm, crown.id, { campaignId: c.id }), crown);

  // REST: GET /items/{id} and /items?campaignId=
  const r1 = await rest(sys, tokenOf(sys, p1), 'GET', `/items/${crown.id}`);
  assert.equal(r1.status, 200);
  assert.equal(r1.body.actorId, null, 'REST get: null for a player');
  const r2 = await rest(sys, tokenOf(sys, p1), 'GET', `/items?campaignId=${c.id}`);
  assert.equal(r2.status, 200);
  assert.equal(r2.body.find((x) => x.id === crown.id).actorId, null, 'REST list: null for a player');
  const r3 = await rest(sys, tokenOf(sys, gm), 'GET', `/items/${crown.id}`);
  assert.equal(r3.body.actorId, lich.id, 'REST get: the id for the GM');

  // item:updated after a plain update by the GM
  const u1 = expectOk(await emitAck(gm.s, 'item:update', { id: crown.id, gems: 7 }));
  assert.equal(u1.actorId, lich.id);
  for (const p of [p1, p2]) {
    assert.deepEqual(await p.rec.waitFor('item:updated', (x) => x.id === crown.id), { ...u1, actorId: null });
  }
  assert.deepEqual(await gmb.rec.waitFor('item:updated', (x) => x.id === crown.id), u1);

  // An item moved to the hidden actor: item:updated says null to the players.
  const ring = expectOk(await emitAck(gm.s, 'item:create', { name: 'Ring', campaignId: c.id }));
  await p1.rec.waitFor('item:created', (x) => x.id === ring.id);
  const moved = expectOk(await emitAck(gm.s, 'item:update', { id: ring.id, actorId: lich.id }));
  assert.equal(moved.actorId, lich.id);
  for (const p of [p1, p2]) {
    assert.deepEqual(await p.rec.waitFor('item:updated', (x) => x.id === ring.id), { ...moved, actorId: null });
  }
  assert.deepEqual(await gmb.rec.waitFor('item:updated', (x) => x.id === ring.id), moved);
  await quiet();
  for (const [who, rec] of [['p1', p1.rec], ['p2', p2.rec]]) {
    assert.equal(mentions(rec, lich.id), false, `${who} never received the hidden actor's id`);
  }
  // Each audience got each event once.
  for (const u of [p1, p2, gmb]) {
    assert.equal(u.rec.count('item:created', (x) => x.id === crown.id), 1);
    assert.equal(u.rec.count('item:updated', (x) => x.id === crown.id), 1);
    assert.equal(u.rec.count('item:updated', (x) => x.id === ring.id), 1);
  }
});

h.test('a player\'s own hidden actor: its items name it for that player and the GM, null for the others', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, prefix: 'ho' });
  t.after(c.close);
  const { gm, p1, p2 } = c;
  const p1b = await tab(sys, p1);                           // p1's other tab, subscribed
  await subscribeOk(p1b.s, c.room);
  await settle();
  t.after(() => p1b.s.disconnect());

  const spy = expectOk(await emitAck(p1.s, 'actor:create', { name: 'Spy', type: 'pc', campaignId: c.id, hidden: true }));
  const dagger = expectOk(await emitAck(p1.s, 'item:create', { name: 'Dagger', campaignId: c.id, actorId: spy.id }));
  assert.equal(dagger.actorId, spy.id);
  assert.deepEqual(await p2.rec.waitFor('item:created', (x) => x.id === dagger.id), { ...dagger, actorId: null });
  assert.deepEqual(await gm.rec.waitFor('item:created', (x) => x.id === dagger.id), dagger);
  assert.deepEqual(await p1b.rec.waitFor('item:created', (x) => x.id === dagger.id), dagger);
  assert.equal((await get(p2, dagger.id)).actorId, null);
  assert.equal((await get(p1, dagger.id)).actorId, spy.id);
  assert.equal((await get(gm, dagger.id)).actorId, spy.id);
  assert.equal((await listed(p2, dagger.id, { campaignId: c.id })).actorId, null);
  assert.equal((await listed(p1, dagger.id, { campaignId: c.id })).actorId, spy.id);

  // The GM updates it: p1's tabs get the id, p2 null.
  const u = expectOk(await emitAck(gm.s, 'item:update', { id: dagger.id, sharp: true }));
  assert.deepEqual(await p1.rec.waitFor('item:updated', (x) => x.id === dagger.id), u);
  assert.deepEqual(await p1b.rec.waitFor('item:updated', (x) => x.id === dagger.id), u);
  assert.deepEqual(await p2.rec.waitFor('item:updated', (x) => x.id === dagger.id), { ...u, actorId: null });
  await quiet();
  assert.equal(mentions(p2.rec, spy.id), false, 'p2 never received the hidden actor\'s id');
  assert.equal(p1b.rec.count('item:updated', (x) => x.id === dagger.id), 1, 'once per tab');
  assert.equal(p2.rec.count('item:updated', (x) => x.id === dagger.id), 1, 'once');
});

h.test('a player who may write an item the GM gave to a hidden actor: the ack says null, and null keeps the holder', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, prefix: 'hw' });
  t.after(c.close);
  const { gm, p1, p2 } = c;
  const lich = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Lich', type: 'npc', campaignId: c.id, hidden: true }));
  const coin = expectOk(await emitAck(p1.s, 'item:create', { name: 'Coin', campaignId: c.id }));
  expectOk(await emitAck(gm.s, 'item:update', { id: coin.id, actorId: lich.id }));
  const u1 = expectOk(await emitAck(p1.s, 'item:update', { id: coin.id, shiny: true }));
  assert.equal(u1.actorId, null, 'the writer\'s ack: null');
  assert.deepEqual(await p2.rec.waitFor('item:updated', (x) => x.id === coin.id && x.shiny), u1);
  assert.deepEqual(await gm.rec.waitFor('item:updated', (x) => x.id === coin.id && x.shiny), { ...u1, actorId: lich.id });
  // Sending back what it read (actorId null) changes nothing it cannot see.
  const u2 = expectOk(await emitAck(p1.s, 'item:update', { ...u1, name: 'Old coin' }));
  assert.equal(u2.actorId, null);
  assert.equal((await get(gm, coin.id)).actorId, lich.id, 'still held by the hidden actor');
  await quiet();
  for (const [who, rec] of [['p1', p1.rec], ['p2', p2.rec]]) {
    assert.equal(mentions(rec, lich.id), false, `${who} never received the hidden actor's id`);
  }
});

h.test('hiding the holder later: players get item:updated with actorId null; revealing it: the id', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, prefix: 'hf' });
  t.after(c.close);
  const { gm, p1, p2 } = c;
  const orc = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Orc', type: 'npc', campaignId: c.id }));
  const axe = expectOk(await emitAck(gm.s, 'item:create', { name: 'Axe', campaignId: c.id, actorId: orc.id }));
  assert.equal((await p1.rec.waitFor('item:created', (x) => x.id === axe.id)).actorId, orc.id, 'visible: the id');
  for (const u of c.all()) u.rec.clear();

  expectOk(await emitAck(gm.s, 'actor:update', { id: orc.id, hidden: true }));
  for (const p of [p1, p2]) {
    assert.equal(await p.rec.waitFor('actor:deleted', (x) => x === orc.id), orc.id);
    assert.deepEqual(await p.rec.waitFor('item:updated', (x) => x.id === axe.id), { ...axe, actorId: null });
    assert.equal((await get(p, axe.id)).actorId, null);
  }
  assert.equal((await get(gm, axe.id)).actorId, orc.id);

  expectOk(await emitAck(gm.s, 'actor:update', { id: orc.id, hidden: false }));
  for (const p of [p1, p2]) {
    await p.rec.waitFor('actor:created', (x) => x.id === orc.id);
    assert.deepEqual(await p.rec.waitFor('item:updated', (x) => x.id === axe.id && x.actorId !== null), axe);
    assert.equal((await get(p, axe.id)).actorId, orc.id);
  }
  await quiet();
  for (const p of [p1, p2]) assert.equal(p.rec.count('item:updated', (x) => x.id === axe.id), 2, 'one per flip');
  assert.equal(gm.rec.count('item:updated', (x) => x.id === axe.id), 0, 'the GM\'s view never changed');
});

h.test('game states: a copy of an item held by a hidden actor says actorId null, in every update and read', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, prefix: 'hs' });
  t.after(c.close);
  const { gm, p1 } = c;
  const session = expectOk(await emitAck(gm.s, 'gameSession:create', { campaignId: c.id, name: uid('S') }));
  for (const u of [gm, p1]) expectOk(await emitAck(u.s, 'gameSession:join', session.id));
  const lich = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Lich', type: 'npc', campaignId: c.id, hidden: true }));
  const crown = expectOk(await emitAck(gm.s, 'item:create', { name: 'Crown', campaignId: c.id, actorId: lich.id }));
  const update = (version, operations) => emitAck(gm.s, 'gameState:update', {
    id: `hs-${crypto.randomBytes(6).toString('hex')}`, sessionId: session.id, version, operations,
  });
  const copy = async (u) => expectOk(await emitAck(u.s, 'gameState:requestFull', session.id))
    .gameState.items.find((x) => x.id === crown.id);

  // Embedded as a player reads it: the copy is that (the server's own
  // "set" of the copy to the stored item must not add the id).
  const ok = await update('0', [{ path: 'items', operation: 'push', value: { ...crown, actorId: null } }]);
  assert.equal(ok.newVersion, '1', JSON.stringify(ok));
  await p1.rec.waitFor('gameState:updated', (x) => x.version === '1');
  assert.deepEqual(await copy(p1), { ...crown, actorId: null });
  // Embedding a copy that names the hidden holder would show it to every member: refused.
  const named = await update('1', [{ path: 'items', operation: 'push', value: crown }]);
  expectError(named, 'VALIDATION_ERROR');

  // item:update: the system update sets the copy, actorId still null.
  const u1 = expectOk(await emitAck(gm.s, 'item:update', { id: crown.id, gems: 3 }));
  const sys1 = await p1.rec.waitFor('gameState:updated', (x) => x.source === 'system');
  assert.deepEqual(sys1.operations, [{ path: 'items.0', operation: 'set', value: { ...u1, actorId: null } }]);
  // A GM change through the state writes back, and keeps the holder.
  const ok2 = await update(sys1.version, [{ path: 'items.0.gems', operation: 'inc', value: 1 }]);
  assert.ok(ok2.success, JSON.stringify(ok2));
  assert.equal((await get(gm, crown.id)).actorId, lich.id, 'the store keeps the holder');
  assert.equal((await get(gm, crown.id)).gems, 4);
  await p1.rec.waitFor('gameState:updated', (x) => x.version === ok2.newVersion);
  assert.equal((await copy(p1)).actorId, null);
  assert.equal((await copy(p1)).gems, 4);
  // Join again (read repair compares the copy with what a member may read).
  expectOk(await emitAck(p1.s, 'gameSession:join', session.id));
  await quiet();
  assert.equal(mentions(p1.rec, lich.id), false, 'the player never received the hidden actor\'s id');

  // Revealed: the copy names it; hidden again: null.
  p1.rec.clear();
  expectOk(await emitAck(gm.s, 'actor:update', { id: lich.id, hidden: false }));
  await p1.rec.waitFor('gameState:updated', (x) => x.source === 'system'
    && x.operations.some((o) => o.value?.id === crown.id && o.value.actorId === lich.id));
  assert.equal((await copy(p1)).actorId, lich.id);
  expectOk(await emitAck(gm.s, 'actor:update', { id: lich.id, hidden: true }));
  await p1.rec.waitFor('gameState:updated', (x) => x.source === 'system'
    && x.operations.some((o) => o.value?.id === crown.id && o.value.actorId === null));
  assert.equal((await copy(p1)).actorId, null);
});
