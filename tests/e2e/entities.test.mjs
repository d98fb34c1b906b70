// Actors and items in campaigns: broadcasts to the campaign's members
// (not the sender), hidden entities (only GMs and the creator ever see them,
// in get, list and every event), flipping hidden, who may write what, items
// held by actors. The same rules for actors and items.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import {
  quiet, settle, subscribeOk, addMember, setupCampaign, tab,
} from './lib/campaign.mjs';

const h = useSystem({ workers: 1, gateways: 2 });

const KINDS = [
  { kind: 'actor', make: (extra) => ({ name: 'Goblin', type: 'npc', ...extra }) },
  { kind: 'item', make: (extra) => ({ name: 'Sword', type: 'weapon', ...extra }) },
];

for (const { kind, make } of KINDS) {
  const ev = (what) => `${kind}:${what}`;

  h.test(`${kind}s: a campaign ${kind} broadcasts to the members, not the sender nor outsiders`, async (t, sys) => {
    const c = await setupCampaign(sys, { players: 2, prefix: `eb${kind[0]}`, gateways: { p2: 'gateway-2' } });
    const { gm, p1, p2, out } = c;
    // The sender's second tab is subscribed and hears it; a member's unsubscribed tab does not.
    const p1b = await tab(sys, p1, 'gateway-2');
    await subscribeOk(p1b.s, c.room);
    const p2b = await tab(sys, p2);
    await settle();

    const e = expectOk(await emitAck(p1.s, ev('create'), make({ campaignId: c.id })));
    assert.equal(e.campaignId, c.id);
    assert.equal(e.createdBy, p1.id);
    assert.equal(e.hidden ?? false, false);
    for (const u of [gm, p2, p1b]) assert.deepEqual(await u.rec.waitFor(ev('created'), (x) => x.id === e.id), e);

    const u1 = expectOk(await emitAck(p1.s, ev('update'), { id: e.id, hp: 7 }));
    assert.equal(u1.version, 2);
    for (const u of [gm, p2, p1b]) assert.deepEqual(await u.rec.waitFor(ev('updated'), (x) => x.id === e.id), u1);

    expectOk(await emitAck(p1.s, ev('delete'), e.id));
    for (const u of [gm, p2, p1b]) assert.equal(await u.rec.waitFor(ev('deleted'), (x) => x === e.id), e.id);
    await quiet();
    for (const u of [gm, p2, p1b]) {
      assert.deepEqual(u.rec.names(`${kind}:`), [ev('created'), ev('updated'), ev('deleted')], 'exactly one of each');
    }
    assert.deepEqual(p1.rec.names(`${kind}:`), [], 'not to the sender');
    assert.deepEqual(p2b.rec.names(`${kind}:`), [], 'not to an unsubscribed tab of a member');
    assert.deepEqual(out.rec.names(`${kind}:`), [], 'not to an outsider');
    p1b.s.disconnect(); p2b.s.disconnect();
    c.close();
  });

  h.test(`${kind}s: membership rules for create, list, get, update and delete`, async (t, sys) => {
    const c = await setupCampaign(sys, { players: 2, prefix: `er${kind[0]}` });
    const { gm, p1, p2, out } = c;
    // Outsiders may not act in the campaign.
    expectError(await emitAck(out.s, ev('create'), make({ campaignId: c.id })), 'FORBIDDEN');
    expectError(await emitAck(out.s, ev('list'), { campaignId: c.id }), 'FORBIDDEN');
    expectError(await emitAck(p1.s, ev('create'), make({ campaignId: 'no-such-campaign' })), 'FORBIDDEN');

    const mine = expectOk(await emitAck(p1.s, ev('create'), make({ campaignId: c.id, name: 'P1 owns' })));
    const gms = expectOk(await emitAck(gm.s, ev('create'), make({ campaignId: c.id, name: 'GM owns' })));
    // Every member sees both, in creation order; the outsider sees neither.
    for (const u of [gm, p1, p2]) {
      const list = expectOk(await emitAck(u.s, ev('list'), { campaignId: c.id }));
      assert.deepEqual(list.map((x) => x.id), [mine.id, gms.id], `${u.id} lists both`);
      assert.deepEqual(expectOk(await emitAck(u.s, ev('get'), mine.id)), mine);
    }
    expectError(await emitAck(out.s, ev('get'), mine.id), 'NOT_FOUND');
    expectError(await emitAck(out.s, ev('update'), { id: mine.id, name: 'x' }), 'NOT_FOUND');
    expectError(await emitAck(out.s, ev('delete'), mine.id), 'NOT_FOUND');
    // Campaign entities are not in anyone's personal list.
    const personal = expectOk(await emitAck(p1.s, ev('list')));
    assert.equal(personal.find((x) => x.id === mine.id), undefined, 'not in the personal list');

    // Another player sees it but may not write it.
    expectError(await emitAck(p2.s, ev('update'), { id: mine.id, name: 'Stolen' }), 'FORBIDDEN');
    expectError(await emitAck(p2.s, ev('delete'), mine.id), 'FORBIDDEN');
    expectError(await emitAck(p1.s, ev('update'), { id: gms.id, name: 'Mine now' }), 'FORBIDDEN');
    expectError(await emitAck(p1.s, ev('delete'), gms.id), 'FORBIDDEN');
    assert.deepEqual(expectOk(await emitAck(gm.s, ev('get'), mine.id)), mine, 'unchanged');
    // A player cannot move an entity to another campaign or make it personal.
    const moved = await emitAck(p1.s, ev('update'), { id: mine.id, campaignId: 'elsewhere' });
    if (moved.success) assert.equal(moved.data.campaignId, c.id, 'campaignId cannot change');
    else expectError(moved, 'VALIDATION_ERROR', 'FORBIDDEN');

    // The GM may update and delete a player's entity; the player hears about it.
    const byGm = expectOk(await emitAck(gm.s, ev('update'), { id: mine.id, name: 'GM edit' }));
    assert.equal(byGm.name, 'GM edit');
    assert.equal(byGm.createdBy, p1.id, 'the creator stays');
    assert.deepEqual(await p1.rec.waitFor(ev('updated'), (x) => x.id === mine.id && x.name === 'GM edit'), byGm);
    expectOk(await emitAck(gm.s, ev('delete'), mine.id));
    assert.equal(await p1.rec.waitFor(ev('deleted'), (x) => x === mine.id), mine.id);
    expectError(await emitAck(p1.s, ev('get'), mine.id), 'NOT_FOUND');
    // The player deletes their own.
    const own = expectOk(await emitAck(p2.s, ev('create'), make({ campaignId: c.id })));
    expectOk(await emitAck(p2.s, ev('delete'), own.id));
    assert.deepEqual(expectOk(await emitAck(gm.s, ev('list'), { campaignId: c.id })).map((x) => x.id), [gms.id]);
    c.close();
  });

  h.test(`${kind}s: hidden ones are seen only by GMs and the creator, in get, list and events`, async (t, sys) => {
    const c = await setupCampaign(sys, { players: 2, prefix: `eh${kind[0]}` });
    const { gm, p1, p2, out } = c;
    const p1b = await tab(sys, p1, 'gateway-2');            // A's other tab: not subscribed
    const gmb = await tab(sys, gm, 'gateway-2');            // GM's other tab: subscribed
    await subscribeOk(gmb.s, c.room);
    await settle();
    const watchers = [gm, gmb, p1b];                        // who must see it (sender p1 excluded)

    const visible = expectOk(await emitAck(p1.s, ev('create'), make({ campaignId: c.id, name: 'Visible' })));
    const hid = expectOk(await emitAck(p1.s, ev('create'), make({ campaignId: c.id, name: 'Hidden', hidden: true })));
    assert.equal(hid.hidden, true);
    for (const u of [gm, gmb, p1b]) assert.deepEqual(await u.rec.waitFor(ev('created'), (x) => x.id === hid.id), hid);
    await p2.rec.waitFor(ev('created'), (x) => x.id === visible.id);      // control: p2 hears the campaign

    // get and list
    expectError(await emitAck(p2.s, ev('get'), hid.id), 'NOT_FOUND');
    expectError(await emitAck(out.s, ev('get'), hid.id), 'NOT_FOUND');
    assert.deepEqual(expectOk(await emitAck(gm.s, ev('get'), hid.id)), hid);
    assert.deepEqual(expectOk(await emitAck(p1b.s, ev('get'), hid.id)), hid);
    const ids = async (u) => expectOk(await emitAck(u.s, ev('list'), { campaignId: c.id })).map((x) => x.id);
    assert.deepEqual(await ids(p2), [visible.id], 'p2 does not list the hidden one');
    assert.deepEqual(await ids(gm), [visible.id, hid.id]);
    assert.deepEqual(await ids(p1), [visible.id, hid.id]);
    // Not even its existence leaks through writes.
    expectError(await emitAck(p2.s, ev('update'), { id: hid.id, name: 'x' }), 'NOT_FOUND');
    expectError(await emitAck(p2.s, ev('delete'), hid.id), 'NOT_FOUND');

    // updated: GM tabs and the creator's other tab, never p2
    const u1 = expectOk(await emitAck(p1.s, ev('update'), { id: hid.id, note: 'trap' }));
    for (const u of watchers) assert.deepEqual(await u.rec.waitFor(ev('updated'), (x) => x.id === hid.id), u1);
    // The GM updates it: the creator's tabs hear it, the GM's other tab too.
    const u2 = expectOk(await emitAck(gm.s, ev('update'), { id: hid.id, note: 'gm says' }));
    for (const u of [gmb, p1, p1b]) assert.deepEqual(await u.rec.waitFor(ev('updated'), (x) => x.id === hid.id && x.version === u2.version), u2);
    // A visible change as a positive control for p2.
    const v1 = expectOk(await emitAck(gm.s, ev('update'), { id: visible.id, hp: 1 }));
    await p2.rec.waitFor(ev('updated'), (x) => x.id === visible.id && x.version === v1.version);
    await quiet();
    const aboutHidden = (rec) => rec.of(ev('created'), (x) => x.id === hid.id).length
      + rec.of(ev('updated'), (x) => x.id === hid.id).length + rec.of(ev('deleted'), (x) => x === hid.id).length;
    assert.equal(aboutHidden(p2.rec), 0, 'p2 never receives a hidden entity\'s events');
    assert.equal(aboutHidden(out.rec), 0);
    assert.equal(gm.rec.count(ev('updated'), (x) => x.id === hid.id), 1, 'GM: exactly once (own update excluded)');
    assert.equal(gmb.rec.count(ev('updated'), (x) => x.id === hid.id), 2, 'GM tab 2: exactly once per update');
    assert.equal(p1b.rec.count(ev('updated'), (x) => x.id === hid.id), 2, 'creator tab 2: exactly once per update');
    assert.equal(p1.rec.count(ev('updated'), (x) => x.id === hid.id), 1, 'creator: only the GM\'s update');

    // Hidden delete: GMs and the creator's other tab hear it, p2 does not.
    expectOk(await emitAck(p1.s, ev('delete'), hid.id));
    for (const u of watchers) assert.equal(await u.rec.waitFor(ev('deleted'), (x) => x === hid.id), hid.id);
    const v2 = expectOk(await emitAck(gm.s, ev('update'), { id: visible.id, hp: 2 }));
    await p2.rec.waitFor(ev('updated'), (x) => x.id === visible.id && x.version === v2.version);
    await quiet();
    assert.equal(aboutHidden(p2.rec), 0, 'nor its deletion');

    // A GM's own hidden entity: the GM's other tab is in both the GM room and
    // the GM's user room, and still hears each change once.
    const gmHid = expectOk(await emitAck(gm.s, ev('create'), make({ campaignId: c.id, name: 'GM secret', hidden: true })));
    assert.deepEqual(await gmb.rec.waitFor(ev('created'), (x) => x.id === gmHid.id), gmHid);
    const g1 = expectOk(await emitAck(gm.s, ev('update'), { id: gmHid.id, hp: 3 }));
    assert.deepEqual(await gmb.rec.waitFor(ev('updated'), (x) => x.id === gmHid.id), g1);
    const v3 = expectOk(await emitAck(gm.s, ev('update'), { id: visible.id, hp: 3 }));
    await p2.rec.waitFor(ev('updated'), (x) => x.id === visible.id && x.version === v3.version);
    await p1.rec.waitFor(ev('updated'), (x) => x.id === visible.id && x.version === v3.version);
    await quiet();
    assert.equal(gmb.rec.count(ev('created'), (x) => x.id === gmHid.id), 1, 'GM tab 2: created once');
    assert.equal(gmb.rec.count(ev('updated'), (x) => x.id === gmHid.id), 1, 'GM tab 2: updated once');
    for (const [who, rec] of [['p1', p1.rec], ['p1b', p1b.rec], ['p2', p2.rec]]) {
      assert.equal(rec.count(ev('created'), (x) => x.id === gmHid.id) + rec.count(ev('updated'), (x) => x.id === gmHid.id), 0,
        `${who} never hears of the GM's hidden ${kind}`);
    }
    p1b.s.disconnect(); gmb.s.disconnect();
    c.close();
  });

  h.test(`${kind}s: flipping hidden sends deleted / created to the players, updated to GMs and the creator`, async (t, sys) => {
    const c = await setupCampaign(sys, { players: 2, prefix: `ef${kind[0]}` });
    const { gm, p1, p2 } = c;
    const p1b = await tab(sys, p1);
    await settle();
    const e = expectOk(await emitAck(p1.s, ev('create'), make({ campaignId: c.id })));
    await p2.rec.waitFor(ev('created'), (x) => x.id === e.id);
    await gm.rec.waitFor(ev('created'), (x) => x.id === e.id);
    await quiet();                                         // p1b (not subscribed) gets nothing for it
    assert.deepEqual(p1b.rec.names(`${kind}:`), []);
    p2.rec.clear(); gm.rec.clear(); p1b.rec.clear();

    // visible -> hidden: p2 gets <kind>:deleted (the id) and nothing else
    const hid = expectOk(await emitAck(p1.s, ev('update'), { id: e.id, hidden: true }));
    assert.equal(hid.hidden, true);
    assert.equal(await p2.rec.waitFor(ev('deleted'), (x) => x === e.id), e.id);
    assert.deepEqual(await gm.rec.waitFor(ev('updated'), (x) => x.id === e.id), hid);
    assert.deepEqual(await p1b.rec.waitFor(ev('updated'), (x) => x.id === e.id), hid);
    expectError(await emitAck(p2.s, ev('get'), e.id), 'NOT_FOUND');
    assert.equal(expectOk(await emitAck(p2.s, ev('list'), { campaignId: c.id })).find((x) => x.id === e.id), undefined);
    await quiet();
    assert.deepEqual(p2.rec.names(`${kind}:`), [ev('deleted')], 'the player: exactly one deleted');
    assert.deepEqual(gm.rec.names(`${kind}:`), [ev('updated')], 'the GM: exactly one updated, no deleted');
    assert.deepEqual(p1b.rec.names(`${kind}:`), [ev('updated')], 'the creator\'s tab: exactly one updated');

    // hidden -> visible (by the GM this time): p2 gets <kind>:created with the entity
    p2.rec.clear(); gm.rec.clear(); p1b.rec.clear(); p1.rec.clear();
    const vis = expectOk(await emitAck(gm.s, ev('update'), { id: e.id, hidden: false }));
    assert.equal(vis.hidden, false);
    assert.deepEqual(await p2.rec.waitFor(ev('created'), (x) => x.id === e.id), vis);
    assert.deepEqual(await p1.rec.waitFor(ev('updated'), (x) => x.id === e.id), vis);
    assert.deepEqual(await p1b.rec.waitFor(ev('updated'), (x) => x.id === e.id), vis);
    assert.deepEqual(expectOk(await emitAck(p2.s, ev('get'), e.id)), vis);
    await quiet();
    assert.deepEqual(p2.rec.names(`${kind}:`), [ev('created')], 'the player: exactly one created');
    assert.deepEqual(p1.rec.names(`${kind}:`), [ev('updated')], 'the creator: exactly one updated');
    assert.deepEqual(p1b.rec.names(`${kind}:`), [ev('updated')]);
    assert.deepEqual(gm.rec.names(`${kind}:`), [], 'the sender: nothing');
    p1b.s.disconnect();
    c.close();
  });
}

h.test('a GM demoted to player stops seeing hidden actors; a promoted player sees them after re-subscribing', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, outsider: false, prefix: 'ed' });
  const { gm, p1, p2 } = c;
  await addMember(gm.s, c.id, p1.id, 'gm');
  await subscribeOk(p1.s, c.room);                          // joins the GM room now
  await settle();
  const hid = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Lich', type: 'npc', campaignId: c.id, hidden: true }));
  await p1.rec.waitFor('actor:created', (x) => x.id === hid.id);

  // Demote p1: the connection leaves the GM room at once.
  await addMember(gm.s, c.id, p1.id, 'player');
  expectError(await emitAck(p1.s, 'actor:get', hid.id), 'NOT_FOUND');
  assert.equal(expectOk(await emitAck(p1.s, 'actor:list', { campaignId: c.id })).find((x) => x.id === hid.id), undefined);
  await settle();
  expectOk(await emitAck(gm.s, 'actor:update', { id: hid.id, hp: 1 }));
  const vis = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Control', type: 'npc', campaignId: c.id }));
  await p1.rec.waitFor('actor:created', (x) => x.id === vis.id);
  await quiet();
  assert.equal(p1.rec.count('actor:updated', (x) => x.id === hid.id), 0, 'a demoted GM gets no hidden events');

  // Promote p2: get works at once; events after re-subscribing.
  await addMember(gm.s, c.id, p2.id, 'gm');
  assert.deepEqual(expectOk(await emitAck(p2.s, 'actor:get', hid.id)).id, hid.id);
  await subscribeOk(p2.s, c.room);
  await settle();
  const u = expectOk(await emitAck(gm.s, 'actor:update', { id: hid.id, hp: 2 }));
  assert.deepEqual(await p2.rec.waitFor('actor:updated', (x) => x.id === hid.id && x.version === u.version), u);
  c.close();
});

h.test('items held by actors: actorId, item:list {actorId}, hidden items filtered', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, prefix: 'ei' });
  const { gm, p1, p2, out } = c;
  const hero = expectOk(await emitAck(p1.s, 'actor:create', { name: 'Hero', type: 'pc', campaignId: c.id }));
  const villain = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Villain', type: 'npc', campaignId: c.id, hidden: true }));

  const sword = expectOk(await emitAck(p1.s, 'item:create', { name: 'Sword', campaignId: c.id, actorId: hero.id }));
  assert.equal(sword.actorId, hero.id);
  assert.deepEqual(await p2.rec.waitFor('item:created', (x) => x.id === sword.id), sword);
  const secret = expectOk(await emitAck(p1.s, 'item:create', { name: 'Cursed ring', campaignId: c.id, actorId: hero.id, hidden: true }));
  const loose = expectOk(await emitAck(p1.s, 'item:create', { name: 'Rope', campaignId: c.id }));
  assert.equal(loose.actorId ?? null, null, 'held by nobody');
  const gmItem = expectOk(await emitAck(gm.s, 'item:create', { name: 'Phylactery', campaignId: c.id, actorId: villain.id }));

  const list = async (u, arg) => expectOk(await emitAck(u.s, 'item:list', arg)).map((x) => x.id);
  assert.deepEqual(await list(p1, { actorId: hero.id }), [sword.id, secret.id]);
  assert.deepEqual(await list(gm, { actorId: hero.id }), [sword.id, secret.id]);
  assert.deepEqual(await list(p2, { actorId: hero.id }), [sword.id], 'a hidden item is left out for other players');
  assert.deepEqual(await list(gm, { actorId: villain.id }), [gmItem.id]);
  assert.deepEqual(await list(gm, { campaignId: c.id }), [sword.id, secret.id, loose.id, gmItem.id]);
  assert.deepEqual(await list(p2, { campaignId: c.id }), [sword.id, loose.id, gmItem.id],
    'a visible item of a hidden actor is visible; the hidden item is not');
  // The hidden actor's items cannot be listed through it by a player who cannot see it.
  const viaHidden = await emitAck(p2.s, 'item:list', { actorId: villain.id });
  expectError(viaHidden, 'NOT_FOUND', 'FORBIDDEN');
  expectError(await emitAck(out.s, 'item:list', { actorId: hero.id }), 'NOT_FOUND', 'FORBIDDEN');

  // actorId must be an actor the caller may see, in the same campaign.
  const bad1 = await emitAck(p2.s, 'item:create', { name: 'Sneaky', campaignId: c.id, actorId: villain.id });
  expectError(bad1, 'NOT_FOUND', 'VALIDATION_ERROR', 'FORBIDDEN');
  const personalActor = expectOk(await emitAck(p1.s, 'actor:create', { name: 'Personal', type: 'pc' }));
  const bad2 = await emitAck(p1.s, 'item:create', { name: 'Mismatch', campaignId: c.id, actorId: personalActor.id });
  expectError(bad2, 'VALIDATION_ERROR', 'NOT_FOUND', 'FORBIDDEN', 'CONFLICT');
  expectError(await emitAck(p1.s, 'item:create', { name: 'Ghost', campaignId: c.id, actorId: 'no-such-actor' }),
    'NOT_FOUND', 'VALIDATION_ERROR');
  for (const bad of [{ campaignId: c.id }, { name: '', campaignId: c.id }, { name: 3 }, 'x', null]) {
    expectError(await emitAck(p1.s, 'item:create', bad), 'VALIDATION_ERROR');
  }
  assert.deepEqual(await list(gm, { campaignId: c.id }), [sword.id, secret.id, loose.id, gmItem.id], 'nothing stored');

  // Moving an item between holders: actorId may change, null drops it.
  const given = expectOk(await emitAck(p1.s, 'item:update', { id: loose.id, actorId: hero.id }));
  assert.equal(given.actorId, hero.id);
  assert.deepEqual(await p2.rec.waitFor('item:updated', (x) => x.id === loose.id), given);
  assert.deepEqual(await list(p2, { actorId: hero.id }), [sword.id, loose.id]);
  const dropped = expectOk(await emitAck(p1.s, 'item:update', { id: sword.id, actorId: null }));
  assert.equal(dropped.actorId, null);
  assert.deepEqual(await list(p1, { actorId: hero.id }), [secret.id, loose.id]);
  const noHide = await emitAck(p2.s, 'item:update', { id: loose.id, actorId: villain.id });
  expectError(noHide, 'FORBIDDEN', 'NOT_FOUND', 'VALIDATION_ERROR');

  // Personal items stay personal.
  const mine = expectOk(await emitAck(p2.s, 'item:create', { name: 'Diary' }));
  assert.equal(mine.campaignId ?? null, null);
  assert.ok((await list(p2)).includes(mine.id));
  expectError(await emitAck(p1.s, 'item:get', mine.id), 'NOT_FOUND');
  c.close();
});
