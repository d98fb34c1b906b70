// Campaigns end to end: a GM, two players and an outsider. CRUD, membership
// (GM only; FORBIDDEN for players, NOT_FOUND for outsiders), the last GM,
// memberAdded/memberRemoved pushes, a promotion to GM (and back) taking
// effect at once, and a member removed during a session losing access at
// once.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import {
  uid, record, quiet, settle, subscribeOk, createCampaign, addMember, setupCampaign, tab,
} from './lib/campaign.mjs';

const h = useSystem({ workers: 1, gateways: 2 });

const byUser = (a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);

h.test('create, list, get, update and delete a campaign', async (t, sys) => {
  const gmId = uid('cc-gm');
  const gm = await sys.user(gmId, 'The GM');
  const other = await sys.user(uid('cc-other'));
  const before = Date.now();
  const c = expectOk(await emitAck(gm, 'campaign:create', { name: 'Curse of Strahd', setting: { era: 'gothic' } }));
  assert.equal(typeof c.id, 'string');
  assert.ok(c.id.length > 0);
  assert.equal(c.name, 'Curse of Strahd');
  assert.deepEqual(c.setting, { era: 'gothic' }, 'other fields are kept');
  assert.equal(c.role, 'gm');
  assert.equal(c.createdBy, gmId);
  assert.equal(typeof c.createdAt, 'number');
  assert.ok(c.createdAt >= before - 2000 && c.createdAt <= Date.now() + 2000, 'createdAt in ms near now');
  assert.equal(typeof c.updatedAt, 'number');

  const c2 = expectOk(await emitAck(gm, 'campaign:create', { name: 'Second' }));
  assert.notEqual(c2.id, c.id, 'ids are unique');

  const list = expectOk(await emitAck(gm, 'campaign:list'));
  assert.deepEqual(list.map((x) => x.id), [c.id, c2.id], 'the caller\'s campaigns, oldest first');
  assert.deepEqual(list.map((x) => x.role), ['gm', 'gm']);
  assert.equal(list[0].name, 'Curse of Strahd');
  assert.deepEqual(expectOk(await emitAck(other, 'campaign:list')), [], 'a non-member lists none');

  const got = expectOk(await emitAck(gm, 'campaign:get', c.id));
  assert.equal(got.id, c.id);
  assert.equal(got.name, 'Curse of Strahd');
  assert.equal(got.role, 'gm');
  assert.deepEqual(got.members, [{ userId: gmId, role: 'gm' }]);

  const u = expectOk(await emitAck(gm, 'campaign:update', { id: c.id, name: 'Curse of Strahd II', level: 3 }));
  assert.equal(u.id, c.id);
  assert.equal(u.name, 'Curse of Strahd II');
  assert.equal(u.level, 3);
  assert.deepEqual(u.setting, { era: 'gothic' }, 'shallow merge keeps other fields');
  assert.equal(u.createdBy, gmId);
  assert.equal(u.createdAt, c.createdAt);
  assert.ok(u.updatedAt >= c.updatedAt);
  assert.equal(expectOk(await emitAck(gm, 'campaign:get', c.id)).name, 'Curse of Strahd II');

  // Server fields cannot be forged through update.
  const forged = await emitAck(gm, 'campaign:update', { id: c.id, createdBy: 'mallory', createdAt: 1 });
  if (forged.success) {
    assert.equal(forged.data.createdBy, gmId);
    assert.equal(forged.data.createdAt, c.createdAt);
  } else {
    expectError(forged, 'VALIDATION_ERROR');
  }

  expectOk(await emitAck(gm, 'campaign:delete', c2.id));
  expectError(await emitAck(gm, 'campaign:get', c2.id), 'NOT_FOUND');
  expectError(await emitAck(gm, 'campaign:delete', c2.id), 'NOT_FOUND');
  assert.deepEqual(expectOk(await emitAck(gm, 'campaign:list')).map((x) => x.id), [c.id]);
  gm.disconnect(); other.disconnect();
});

h.test('create and update validate their argument', async (t, sys) => {
  const gm = await sys.user(uid('cv-gm'));
  for (const bad of [{}, { name: '' }, { name: 7 }, { name: null }, { name: 'x'.repeat(201) }, 'name', 12, null, [{ name: 'a' }]]) {
    expectError(await emitAck(gm, 'campaign:create', bad), 'VALIDATION_ERROR');
  }
  expectError(await emitAck(gm, 'campaign:create'), 'VALIDATION_ERROR');
  assert.deepEqual(expectOk(await emitAck(gm, 'campaign:list')), [], 'nothing stored');
  const ok200 = expectOk(await emitAck(gm, 'campaign:create', { name: 'y'.repeat(200) }));
  assert.equal(ok200.name.length, 200, '200 characters is fine');

  for (const bad of [42, null, ['x'], { id: 7 }]) {
    expectError(await emitAck(gm, 'campaign:get', bad), 'VALIDATION_ERROR');
  }
  expectError(await emitAck(gm, 'campaign:get', 'no-such-campaign'), 'NOT_FOUND');
  expectError(await emitAck(gm, 'campaign:update', { name: 'no id' }), 'VALIDATION_ERROR');
  expectError(await emitAck(gm, 'campaign:update', { id: ok200.id, name: '' }), 'VALIDATION_ERROR');
  for (const bad of [{ campaignId: ok200.id, userId: 'p', role: 'admin' },
    { campaignId: ok200.id, userId: 'p' },
    { campaignId: ok200.id, role: 'player' },
    { campaignId: ok200.id, userId: 'has space', role: 'player' },
    { userId: 'p', role: 'player' }, 'x', null]) {
    expectError(await emitAck(gm, 'campaign:addMember', bad), 'VALIDATION_ERROR');
  }
  const got = expectOk(await emitAck(gm, 'campaign:get', ok200.id));
  assert.equal(got.members.length, 1, 'no bad member was added');
  gm.disconnect();
});

h.test('membership: GM only; players FORBIDDEN, outsiders NOT_FOUND', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, subscribe: false, prefix: 'cm' });
  const { gm, p1, p2, out } = c;

  // Players see the campaign with their role and the member list.
  const asP1 = expectOk(await emitAck(p1.s, 'campaign:get', c.id));
  assert.equal(asP1.role, 'player');
  assert.deepEqual([...asP1.members].sort(byUser),
    [{ userId: gm.id, role: 'gm' }, { userId: p1.id, role: 'player' }, { userId: p2.id, role: 'player' }].sort(byUser));
  const p1List = expectOk(await emitAck(p1.s, 'campaign:list'));
  assert.deepEqual(p1List.map((x) => [x.id, x.role]), [[c.id, 'player']]);

  // Outsider: the campaign does not exist for them.
  expectError(await emitAck(out.s, 'campaign:get', c.id), 'NOT_FOUND');
  expectError(await emitAck(out.s, 'campaign:update', { id: c.id, name: 'Mine' }), 'NOT_FOUND');
  expectError(await emitAck(out.s, 'campaign:delete', c.id), 'NOT_FOUND');
  expectError(await emitAck(out.s, 'campaign:addMember', { campaignId: c.id, userId: out.id, role: 'gm' }), 'NOT_FOUND');
  expectError(await emitAck(out.s, 'campaign:removeMember', { campaignId: c.id, userId: p1.id }), 'NOT_FOUND');
  assert.deepEqual(expectOk(await emitAck(out.s, 'campaign:list')), []);

  // Players: they see it, but may not manage it.
  expectError(await emitAck(p1.s, 'campaign:update', { id: c.id, name: 'Mine' }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'campaign:delete', c.id), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'campaign:addMember', { campaignId: c.id, userId: out.id, role: 'player' }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'campaign:addMember', { campaignId: c.id, userId: p1.id, role: 'gm' }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'campaign:removeMember', { campaignId: c.id, userId: p2.id }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'campaign:removeMember', { campaignId: c.id, userId: gm.id }), 'FORBIDDEN');

  // Nothing changed.
  const after = expectOk(await emitAck(gm.s, 'campaign:get', c.id));
  assert.equal(after.name, c.campaign.name);
  assert.equal(after.members.length, 3);
  assert.equal(after.members.find((m) => m.userId === p1.id).role, 'player');
  expectError(await emitAck(out.s, 'campaign:get', c.id), 'NOT_FOUND');

  // The GM removes a player and promotes the other.
  const rm = expectOk(await emitAck(gm.s, 'campaign:removeMember', { campaignId: c.id, userId: p2.id }));
  assert.deepEqual(rm, { campaignId: c.id, userId: p2.id });
  expectError(await emitAck(p2.s, 'campaign:get', c.id), 'NOT_FOUND');
  assert.deepEqual(expectOk(await emitAck(p2.s, 'campaign:list')), []);
  await addMember(gm.s, c.id, p1.id, 'gm');
  assert.equal(expectOk(await emitAck(p1.s, 'campaign:get', c.id)).role, 'gm');
  // A promoted GM may now manage.
  expectOk(await emitAck(p1.s, 'campaign:update', { id: c.id, name: 'Renamed by p1' }));
  assert.equal(expectOk(await emitAck(gm.s, 'campaign:get', c.id)).name, 'Renamed by p1');
  // Removing a non-member: NOT_FOUND (nothing to remove) or success; never a crash, never a member.
  const again = await emitAck(gm.s, 'campaign:removeMember', { campaignId: c.id, userId: p2.id });
  if (!again.success) expectError(again, 'NOT_FOUND');
  c.close();
});

h.test('the last GM cannot leave or be demoted (CONFLICT); with two GMs one may', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false, prefix: 'cl' });
  const { gm, p1 } = c;
  expectError(await emitAck(gm.s, 'campaign:removeMember', { campaignId: c.id, userId: gm.id }), 'CONFLICT');
  expectError(await emitAck(gm.s, 'campaign:addMember', { campaignId: c.id, userId: gm.id, role: 'player' }), 'CONFLICT');
  assert.equal(expectOk(await emitAck(gm.s, 'campaign:get', c.id)).role, 'gm', 'still GM');

  await addMember(gm.s, c.id, p1.id, 'gm');
  // Two GMs: the first may step down to player...
  await addMember(gm.s, c.id, gm.id, 'player');
  assert.equal(expectOk(await emitAck(gm.s, 'campaign:get', c.id)).role, 'player');
  expectError(await emitAck(gm.s, 'campaign:addMember', { campaignId: c.id, userId: gm.id, role: 'gm' }), 'FORBIDDEN');
  // ...and now p1 is the last GM.
  expectError(await emitAck(p1.s, 'campaign:removeMember', { campaignId: c.id, userId: p1.id }), 'CONFLICT');
  expectError(await emitAck(p1.s, 'campaign:addMember', { campaignId: c.id, userId: p1.id, role: 'player' }), 'CONFLICT');
  // p1 may remove the former GM.
  expectOk(await emitAck(p1.s, 'campaign:removeMember', { campaignId: c.id, userId: gm.id }));
  const got = expectOk(await emitAck(p1.s, 'campaign:get', c.id));
  assert.deepEqual(got.members, [{ userId: p1.id, role: 'gm' }]);
  c.close();
});

h.test('a player promoted to GM hears hidden actors at once on every subscribed tab; demoted, no more', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'cp' });
  t.after(c.close);
  const { gm, p1 } = c;
  const p1b = await tab(sys, p1, 'gateway-2');     // subscribed, on the other gateway
  const p1c = await tab(sys, p1);                  // not subscribed
  t.after(() => { p1b.s.disconnect(); p1c.s.disconnect(); });
  await subscribeOk(p1b.s, c.room);
  await settle();
  const hidden = () => emitAck(gm.s, 'actor:create', { name: uid('Spy'), type: 'npc', campaignId: c.id, hidden: true });
  const h1 = expectOk(await hidden());
  await quiet();
  assert.equal(p1.rec.count('actor:created', (a) => a.id === h1.id), 0, 'a player does not hear it');

  expectOk(await emitAck(gm.s, 'campaign:addMember', { campaignId: c.id, userId: p1.id, role: 'gm' }));
  await p1.rec.waitFor('campaign:memberAdded', (m) => m.userId === p1.id && m.role === 'gm');
  await settle();
  const h2 = expectOk(await hidden());
  await p1.rec.waitFor('actor:created', (a) => a.id === h2.id);
  await p1b.rec.waitFor('actor:created', (a) => a.id === h2.id);
  await quiet();
  assert.equal(p1c.rec.count('actor:created'), 0, 'a tab not in the campaign room is not granted it');

  expectOk(await emitAck(gm.s, 'campaign:addMember', { campaignId: c.id, userId: p1.id, role: 'player' }));
  await p1.rec.waitFor('campaign:memberAdded', (m) => m.userId === p1.id && m.role === 'player');
  await settle();
  p1.rec.clear(); p1b.rec.clear();
  const h3 = expectOk(await hidden());
  const open = expectOk(await emitAck(gm.s, 'actor:create', { name: uid('Open'), type: 'npc', campaignId: c.id }));
  await p1.rec.waitFor('actor:created', (a) => a.id === open.id);     // the control: still subscribed
  await p1b.rec.waitFor('actor:created', (a) => a.id === open.id);
  await quiet();
  assert.equal(p1.rec.count('actor:created', (a) => a.id === h3.id), 0);
  assert.equal(p1b.rec.count('actor:created', (a) => a.id === h3.id), 0);
});

h.test('memberAdded reaches the campaign room and the added user exactly once', async (t, sys) => {
  const gmId = uid('ma-gm');
  const gm = await sys.user(gmId, 'GM');
  const gmTab2 = await sys.user(gmId, 'GM');
  const newbieId = uid('ma-new');
  const newbie = await sys.user(newbieId, 'Newbie');
  const newbieTab2 = await sys.user(newbieId, 'Newbie');
  const stranger = await sys.user(uid('ma-stranger'));
  const c = await createCampaign(gm);
  await subscribeOk(gmTab2, `campaign:${c.id}`);
  await settle();
  const rec = { gmTab2: record(gmTab2), newbie: record(newbie), newbieTab2: record(newbieTab2), stranger: record(stranger) };

  await addMember(gm, c.id, newbieId, 'player');
  const isIt = (d) => d && d.campaignId === c.id && d.userId === newbieId;
  const pushed = await rec.newbie.waitFor('campaign:memberAdded', isIt);
  assert.equal(pushed.role, 'player');
  assert.equal(pushed.campaign?.id, c.id, 'carries the campaign');
  assert.equal(pushed.campaign?.name, c.name);
  await rec.newbieTab2.waitFor('campaign:memberAdded', isIt);
  const toRoom = await rec.gmTab2.waitFor('campaign:memberAdded', isIt);
  assert.equal(toRoom.role, 'player');

  // The newcomer subscribes and is later promoted: one memberAdded per connection,
  // even though that connection is now in both campaign:<id> and user:<id>.
  await subscribeOk(newbie, `campaign:${c.id}`);
  await settle();
  await addMember(gm, c.id, newbieId, 'gm');
  const isPromo = (d) => isIt(d) && d.role === 'gm';
  await rec.newbie.waitFor('campaign:memberAdded', isPromo);
  await rec.newbieTab2.waitFor('campaign:memberAdded', isPromo);
  await rec.gmTab2.waitFor('campaign:memberAdded', isPromo);
  await quiet();
  assert.equal(rec.newbie.count('campaign:memberAdded', isIt), 2, 'subscribed tab: exactly one per change');
  assert.equal(rec.newbieTab2.count('campaign:memberAdded', isIt), 2, 'other tab: exactly one per change');
  assert.equal(rec.gmTab2.count('campaign:memberAdded', isIt), 2, 'GM tab: exactly one per change');
  assert.deepEqual(rec.stranger.names('campaign:'), [], 'a non-member hears nothing');
  for (const s of [gm, gmTab2, newbie, newbieTab2, stranger]) s.disconnect();
});

h.test('campaign:create tells the creator\'s other connections (memberAdded), not the creating one', async (t, sys) => {
  const gmId = uid('mc-gm');
  const tab1 = await sys.user(gmId, 'GM');
  const tab2 = await sys.connectOk(sys.token({ sub: gmId, name: 'GM' }), { gateway: 'gateway-2' });
  const other = await sys.user(uid('mc-other'));
  const [r1, r2, ro] = [record(tab1), record(tab2), record(other)];
  await settle();
  const c = await createCampaign(tab1);
  const pushed = await r2.waitFor('campaign:memberAdded', (d) => d.campaignId === c.id);
  assert.equal(pushed.userId, gmId);
  assert.equal(pushed.role, 'gm');
  assert.equal(pushed.campaign?.id, c.id);
  assert.equal(pushed.campaign?.name, c.name);
  await quiet();
  assert.equal(r2.count('campaign:memberAdded'), 1);
  assert.equal(r1.count('campaign:memberAdded'), 0, 'not to the creating connection');
  assert.deepEqual(ro.names('campaign:'), []);
  for (const s of [tab1, tab2, other]) s.disconnect();
});

h.test('campaign:updated reaches the other members, not the sender nor outsiders', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, prefix: 'cu' });
  const u = expectOk(await emitAck(c.gm.s, 'campaign:update', { id: c.id, name: 'New name' }));
  const pushed = await c.p1.rec.waitFor('campaign:updated', (d) => d.id === c.id);
  assert.equal(pushed.name, 'New name');
  assert.equal(pushed.updatedAt, u.updatedAt);
  await quiet();
  assert.equal(c.p1.rec.count('campaign:updated'), 1);
  assert.equal(c.gm.rec.count('campaign:updated'), 0, 'not to the sender');
  assert.deepEqual(c.out.rec.names('campaign:'), []);
  c.close();
});

h.test('delete: CONFLICT while it holds actors; then campaign:deleted and every access gone', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'cd' });
  const a = expectOk(await emitAck(c.p1.s, 'actor:create', { name: 'Holder', type: 'pc', campaignId: c.id }));
  expectError(await emitAck(c.gm.s, 'campaign:delete', c.id), 'CONFLICT');
  assert.equal(expectOk(await emitAck(c.gm.s, 'campaign:get', c.id)).id, c.id, 'still there');
  expectOk(await emitAck(c.gm.s, 'actor:delete', a.id));
  expectOk(await emitAck(c.gm.s, 'campaign:delete', c.id));
  const d = await c.p1.rec.waitFor('campaign:deleted', (x) => x && x.id === c.id);
  assert.deepEqual(d, { id: c.id });
  expectError(await emitAck(c.p1.s, 'campaign:get', c.id), 'NOT_FOUND');
  assert.deepEqual(expectOk(await emitAck(c.p1.s, 'campaign:list')), []);
  assert.deepEqual(expectOk(await emitAck(c.gm.s, 'campaign:list')), []);
  expectError(await emitAck(c.p1.s, 'subscribe', { room: c.room }), 'FORBIDDEN');
  expectError(await emitAck(c.gm.s, 'subscribe', { room: c.room }), 'FORBIDDEN');
  expectError(await emitAck(c.p1.s, 'actor:create', { name: 'Late', type: 'pc', campaignId: c.id }), 'FORBIDDEN');
  c.close();
});

h.test('a member removed during a session loses access at once and hears nothing more', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, outsider: false, prefix: 'cr' });
  const { gm, p1, p2 } = c;
  // p1 has a second tab that is not subscribed: it still hears the removal
  // (user room); and a third, subscribed, on the other gateway.
  const p1b = await tab(sys, p1);
  const p1c = await tab(sys, p1, 'gateway-2');
  await subscribeOk(p1c.s, c.room);
  await settle();
  const a = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Shared NPC', type: 'npc', campaignId: c.id }));
  await p1.rec.waitFor('actor:created', (x) => x.id === a.id);
  await p1c.rec.waitFor('actor:created', (x) => x.id === a.id);
  await p2.rec.waitFor('actor:created', (x) => x.id === a.id);
  // p1's own hidden actor: p1's tabs hear it while p1 is a member.
  const secret = expectOk(await emitAck(p1.s, 'actor:create', { name: 'Secret PC', type: 'pc', campaignId: c.id, hidden: true }));
  await p1b.rec.waitFor('actor:created', (x) => x.id === secret.id);
  await gm.rec.waitFor('actor:created', (x) => x.id === secret.id);

  const rm = expectOk(await emitAck(gm.s, 'campaign:removeMember', { campaignId: c.id, userId: p1.id }));
  assert.deepEqual(rm, { campaignId: c.id, userId: p1.id });
  const isRm = (d) => d && d.campaignId === c.id && d.userId === p1.id;
  assert.deepEqual(await p1.rec.waitFor('campaign:memberRemoved', isRm), { campaignId: c.id, userId: p1.id });
  await p1b.rec.waitFor('campaign:memberRemoved', isRm);
  await p1c.rec.waitFor('campaign:memberRemoved', isRm);
  await p2.rec.waitFor('campaign:memberRemoved', isRm);
  // The others see the removed user's presence end.
  const left = await p2.rec.waitFor('presence:left', (d) => d.room === c.room && d.userId === p1.id);
  assert.equal(left.name, p1.name);

  // After the removal, the GM changes the shared actor and chats: p2 hears both, p1 nothing.
  const u = expectOk(await emitAck(gm.s, 'actor:update', { id: a.id, hp: 1 }));
  const msg = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: 'after the removal' }));
  assert.deepEqual(await p2.rec.waitFor('actor:updated', (x) => x.id === a.id), u);
  await p2.rec.waitFor('chat:message', (m) => m.id === msg.id);
  const a2 = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Second NPC', type: 'npc', campaignId: c.id }));
  await p2.rec.waitFor('actor:created', (x) => x.id === a2.id);
  // The GM changes p1's hidden actor: a creator who is no longer a member hears nothing.
  const su = expectOk(await emitAck(gm.s, 'actor:update', { id: secret.id, hp: 0 }));
  const gmTab = await tab(sys, gm, 'gateway-2');
  await subscribeOk(gmTab.s, c.room);
  await settle();
  const su2 = expectOk(await emitAck(gm.s, 'actor:update', { id: secret.id, hp: -1 }));
  await gmTab.rec.waitFor('actor:updated', (x) => x.id === secret.id && x.version === su2.version);
  assert.equal(su2.version, su.version + 1);
  await quiet();
  assert.equal(p1.rec.count('campaign:memberRemoved', isRm), 1, 'the subscribed tab got memberRemoved exactly once');
  assert.equal(p1b.rec.count('campaign:memberRemoved', isRm), 1);
  const afterRemoval = (rec) => {
    const i = rec.events.findIndex((e) => e.event === 'campaign:memberRemoved');
    return rec.events.slice(i + 1).map((e) => e.event);
  };
  assert.deepEqual(afterRemoval(p1.rec), [], 'nothing after memberRemoved on the subscribed tab');
  assert.deepEqual(afterRemoval(p1b.rec), [], 'nothing after memberRemoved on the other tab');
  assert.equal(p1c.rec.count('campaign:memberRemoved', isRm), 1);
  assert.deepEqual(afterRemoval(p1c.rec), [], 'nothing after memberRemoved on the subscribed tab on gateway 2');

  // Every way back in is closed.
  expectError(await emitAck(p1.s, 'subscribe', { room: c.room }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'campaign:get', c.id), 'NOT_FOUND');
  expectError(await emitAck(p1.s, 'actor:get', a.id), 'NOT_FOUND');
  expectError(await emitAck(p1.s, 'actor:get', secret.id), 'NOT_FOUND');   // their own hidden actor too
  expectError(await emitAck(p1.s, 'actor:update', { id: a.id, hp: 100 }), 'NOT_FOUND');
  expectError(await emitAck(p1.s, 'actor:list', { campaignId: c.id }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'chat:send', { room: c.room, text: 'let me in' }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'presence:list', { room: c.room }), 'FORBIDDEN');
  const present = expectOk(await emitAck(p2.s, 'presence:list', { room: c.room }));
  assert.deepEqual(present.map((x) => x.userId), [gm.id, p2.id].sort());

  // Re-added, p1 may subscribe again and hears the campaign again.
  await addMember(gm.s, c.id, p1.id, 'player');
  await p1.rec.waitFor('campaign:memberAdded', (d) => d.campaignId === c.id && d.userId === p1.id);
  await subscribeOk(p1.s, c.room);
  await settle();
  const u2 = expectOk(await emitAck(gm.s, 'actor:update', { id: a.id, hp: 2 }));
  assert.deepEqual(await p1.rec.waitFor('actor:updated', (x) => x.id === a.id && x.version === u2.version), u2);
  p1b.s.disconnect(); p1c.s.disconnect(); gmTab.s.disconnect();
  c.close();
});
