// The generated schemas against a real system: every client event is sent
// (as the GM and a player of one campaign), and every ack and every push
// the two connections get is validated with Ajv against its message's
// payload schema in docs/asyncapi.yaml (as @asyncapi/parser resolves it).
// The same tables make clients/js/parley-events.d.ts, so a type that does
// not describe what the server sends fails here.
import assert from 'node:assert/strict';
import path from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';
import Ajv from 'ajv';
import { useSystem, emitAck, expectOk, repoRoot } from './lib/system.mjs';
import { setupCampaign, uid } from './lib/campaign.mjs';

const h = useSystem({ workers: 1 });

async function schemas() {
  const { document } = await fromFile(new Parser(), path.join(repoRoot, 'docs/asyncapi.yaml')).parse();
  assert.ok(document, 'docs/asyncapi.yaml parses');
  const ajv = new Ajv({ strict: false, allErrors: true });
  const byName = new Map();
  for (const m of document.messages().all())
    if (m.hasPayload()) byName.set(m.name(), ajv.compile(m.payload().json()));
  return byName;
}

h.test('every ack and every push matches its schema in docs/asyncapi.yaml', async (t, sys) => {
  const validate = await schemas();
  const c = await setupCampaign(sys, { players: 2, outsider: false, prefix: 'ty' });
  const { gm, p1, p2 } = c;
  const checked = new Map();          // name -> count
  const failures = [];
  const check = (name, value) => {
    const v = validate.get(name);
    if (!v) return;
    checked.set(name, (checked.get(name) || 0) + 1);
    if (!v(value)) failures.push(`${name}: ${JSON.stringify(v.errors)} for ${JSON.stringify(value)}`);
  };
  for (const u of [gm, p1]) u.s.onAny((event, payload) => check(event, payload));
  const call = async (u, event, arg) => {
    const res = await emitAck(u.s, event, arg);
    check(`${event} ack`, res);
    return res;
  };
  const ok = async (u, event, arg) => expectOk(await call(u, event, arg));

  const cid = c.id, room = c.room;
  await ok(gm, 'campaign:list');
  await call(p1, 'campaign:get', 'no-such-campaign');          // the error branch
  await ok(gm, 'campaign:get', cid);
  await ok(gm, 'campaign:update', { id: cid, name: 'Renamed', setting: 'kept' });
  await ok(p1, 'subscribe', { room });
  await ok(p1, 'presence:list', { room });
  await ok(p1, 'chat:send', { room, text: 'hello' });
  await ok(p1, 'chat:history', { room, limit: 10 });
  await ok(p1, 'roll', { room, expression: '4d6kh3 + 2', label: 'stats' });
  await ok(gm, 'roll', { room, expression: 'd20', secret: true });
  await ok(p1, 'chat:history', { room });                       // now with a roll in it
  const rule = await ok(gm, 'rule:create', { campaignId: cid, name: 'down', on: 'actor', when: 'hp <= 0',
    then: [{ operation: 'set', path: 'down', value: true }] });
  await ok(gm, 'rule:list', { campaignId: cid });
  await ok(gm, 'rule:test', { campaignId: cid, rule: { name: 't', on: 'actor', when: 'hp <= 0',
    then: [{ operation: 'set', path: 'down', value: true }] }, entity: { hp: 0 } });
  await ok(p1, 'actor:list');
  const actor = await ok(p1, 'actor:create', { name: 'Hero', type: 'pc', campaignId: cid, hp: 5 });
  const hidden = await ok(gm, 'actor:create', { name: 'Lurker', type: 'npc', campaignId: cid, hidden: true });
  await ok(p1, 'actor:get', actor.id);
  await ok(p1, 'actor:update', { id: actor.id, hp: 0 });       // fires the rule: state_invalidated
  await ok(p1, 'actor:list', { campaignId: cid });
  const item = await ok(p1, 'item:create', { name: 'Sword', campaignId: cid, actorId: actor.id });
  const held = await ok(gm, 'item:create', { name: 'Ring', campaignId: cid, actorId: hidden.id });
  await ok(p1, 'item:get', held.id);                            // actorId null to the player
  await ok(p1, 'item:update', { id: item.id, actorId: null });
  await ok(p1, 'item:list', { campaignId: cid });
  await ok(p1, 'item:list', { actorId: actor.id });
  await ok(p1, 'item:list');
  const session = await ok(gm, 'gameSession:create', { campaignId: cid, name: 'Night 1' });
  await ok(p1, 'gameSession:list', { campaignId: cid });
  await ok(gm, 'gameSession:join', session.id);
  await ok(p1, 'gameSession:join', session.id);
  await ok(p1, 'gameState:requestFull', session.id);
  const r1 = await call(gm, 'gameState:update', { id: uid('up'), sessionId: session.id, version: '0',
    operations: [{ path: 'currentEncounter', operation: 'set',
      value: { encounter: 'e', map: 'm', tokens: [{ id: 't1', actorId: actor.id, x: 0, y: 0 }] } },
    { path: 'actors', operation: 'push', value: actor }] });
  assert.equal(r1.success, true, JSON.stringify(r1));
  await call(gm, 'gameState:update', { id: uid('up'), sessionId: session.id, version: '0',
    operations: [{ path: 'pluginData.x', operation: 'set', value: 1 }] });   // VERSION_CONFLICT
  await ok(p1, 'token:move', { sessionId: session.id, tokenId: 't1', x: 2.5, y: 3 });
  await ok(p1, 'gameState:sync', { sessionId: session.id, sinceVersion: '0' });
  await ok(p1, 'gameState:sync', { sessionId: session.id, sinceVersion: '99' });   // full
  await ok(p1, 'time:get', { campaignId: cid });
  await ok(gm, 'time:advance', { campaignId: cid, seconds: 60 });
  await ok(gm, 'time:set', { campaignId: cid, worldTime: 120 });
  await ok(gm, 'schedule:create', { campaignId: cid, event: 'dawn', payload: { n: 1 }, room, at: 180 });
  const later = await ok(gm, 'schedule:create', { campaignId: cid, event: 'dusk', room: `session:${session.id}`,
    afterMs: 3_600_000 });
  await ok(gm, 'schedule:list', { campaignId: cid });
  await ok(gm, 'schedule:cancel', { campaignId: cid, id: later.id });
  await ok(gm, 'time:advance', { campaignId: cid, seconds: 100 });   // fires 'dawn'
  await p1.rec.waitFor('schedule:fired', (e) => e.event === 'dawn', 5000);
  await ok(gm, 'timer:start', { sessionId: session.id, seconds: 1, label: 'turn' });
  await p1.rec.waitFor('timer:expired', () => true, 5000);
  await ok(gm, 'timer:start', { sessionId: session.id, seconds: 60 });
  await ok(gm, 'timer:cancel', { sessionId: session.id });
  await ok(p1, 'gameSession:leave', session.id);
  await ok(p1, 'unsubscribe', { room });
  await ok(p1, 'subscribe', { room });
  await ok(gm, 'item:delete', held.id);
  await ok(p1, 'item:delete', item.id);
  await ok(gm, 'actor:delete', hidden.id);
  await ok(p1, 'actor:delete', actor.id);
  await ok(gm, 'rule:delete', { campaignId: cid, id: rule.id });
  await ok(gm, 'campaign:removeMember', { campaignId: cid, userId: p2.id });
  await ok(gm, 'campaign:addMember', { campaignId: cid, userId: p2.id, role: 'gm' });
  const other = await ok(gm, 'campaign:create', { name: 'Second', setting: 'x' });
  await ok(gm, 'campaign:delete', other.id);
  await p1.rec.waitFor('item:deleted', () => true, 5000);
  await gm.rec.waitFor('actor:deleted', (id) => id === actor.id, 5000);   // to the others

  assert.deepEqual(failures, [], 'every ack and push matches its schema');
  const acks = [...validate.keys()].filter((n) => n.endsWith(' ack'));
  const missing = acks.filter((n) => !checked.has(n));
  assert.deepEqual(missing, [], 'an ack of every client event was checked');
  for (const push of ['campaign:updated', 'campaign:memberAdded', 'campaign:memberRemoved', 'presence:joined',
    'presence:left', 'chat:message', 'roll:result', 'state_invalidated', 'gameState:updated',
    'gameSession:created', 'actor:created', 'actor:updated', 'actor:deleted', 'item:created', 'item:updated',
    'item:deleted', 'world_time_changed', 'schedule:fired', 'timer:tick', 'timer:expired'])
    assert.ok(checked.has(push), `a ${push} push was checked`);
  c.close();
});
