// The generated schemas against a real system: every client event is sent
// (as the GM and a player of one campaign), and every ack and every push
// the two connections get is validated with Ajv against its message's
// payload schema in docs/asyncapi.yaml (as @asyncapi/parser resolves it).
// The same tables make clients/js/parley-events.d.ts, so a type that does
// not describe what the server sends fails here. The REST half does the
// same for a walk through /api/v1 against docs/openapi.yaml.
import assert from 'node:assert/strict';
import path from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv from 'ajv';
import { useSystem, emitAck, expectOk, repoRoot } from './lib/system.mjs';
import { setupCampaign, uid, rest } from './lib/campaign.mjs';

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

h.test('REST answers match their responses in docs/openapi.yaml', async (t, sys) => {
  const api = await SwaggerParser.dereference(path.join(repoRoot, 'docs/openapi.yaml'));
  const ajv = new Ajv({ strict: false, allErrors: true });
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'tr' });
  const gm = sys.token({ sub: c.gm.id, name: c.gm.name });
  const p1 = sys.token({ sub: c.p1.id, name: c.p1.name });
  const seen = [];
  // pattern: the path as in the document; the actual path fills it in
  const call = async (token, method, pattern, fill, body) => {
    let actual = pattern;
    for (const [k, v] of Object.entries(fill)) actual = actual.replace(`{${k}}`, encodeURIComponent(v));
    const res = await rest(sys, token, method, actual.replace('/api/v1', ''), body);
    const op = api.paths[pattern.split('?')[0]]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${pattern} is in the document`);
    const doc = op.responses[String(res.status)];
    assert.ok(doc, `${method} ${pattern}: status ${res.status} is documented (${res.text})`);
    const schema = doc.content?.['application/json']?.schema;
    if (res.status === 204) assert.equal(res.text, '', '204: no body');
    else {
      assert.ok(schema, `${method} ${pattern} ${res.status}: a schema`);
      const v = ajv.compile(schema);
      assert.ok(v(res.body), `${method} ${pattern} ${res.status}: ${JSON.stringify(v.errors)} for ${res.text}`);
    }
    seen.push(`${method} ${res.status}`);
    return res.body;
  };
  const cid = c.id;
  await call(gm, 'GET', '/api/v1/campaigns', {});
  const other = await call(gm, 'POST', '/api/v1/campaigns', {}, { name: 'Via REST' });
  await call(gm, 'GET', '/api/v1/campaigns/{id}', { id: cid });
  await call(gm, 'PATCH', '/api/v1/campaigns/{id}', { id: cid }, { name: 'Patched' });
  await call(p1, 'GET', '/api/v1/campaigns/{id}', { id: 'nope' });                     // 404
  await call(undefined, 'GET', '/api/v1/campaigns', {});                             // 401
  await call(p1, 'PATCH', '/api/v1/campaigns/{id}', { id: cid }, { name: 'x' });      // 403
  await call(gm, 'POST', '/api/v1/campaigns', {}, { name: '' });                      // 400
  const actor = await call(p1, 'POST', '/api/v1/actors', {}, { name: 'Hero', type: 'pc', campaignId: cid });
  await call(p1, 'GET', '/api/v1/actors?campaignId={campaignId}', { campaignId: cid });
  await call(p1, 'PATCH', '/api/v1/actors/{id}', { id: actor.id }, { hp: 3 });
  const item = await call(p1, 'POST', '/api/v1/items', {}, { name: 'Sword', campaignId: cid, actorId: actor.id });
  await call(p1, 'GET', '/api/v1/items/{id}', { id: item.id });
  await call(p1, 'GET', '/api/v1/rooms/{room}/presence', { room: c.room });
  await call(p1, 'POST', '/api/v1/rooms/{room}/messages', { room: c.room }, { text: 'hi' });
  await call(p1, 'GET', '/api/v1/rooms/{room}/messages?limit={n}', { room: c.room, n: 5 });
  await call(p1, 'POST', '/api/v1/rooms/{room}/rolls', { room: c.room }, { expression: '2d6' });
  await call(gm, 'GET', '/api/v1/campaigns/{campaignId}/time', { campaignId: cid });
  await call(gm, 'POST', '/api/v1/campaigns/{campaignId}/time/advance', { campaignId: cid }, { seconds: 5 });
  await call(gm, 'POST', '/api/v1/campaigns/{campaignId}/rules', { campaignId: cid },
    { name: 'r', on: 'actor', when: 'hp <= 0', then: [{ operation: 'set', path: 'down', value: true }] });
  await call(gm, 'POST', '/api/v1/campaigns/{campaignId}/schedules', { campaignId: cid },
    { event: 'e', room: c.room, afterMs: 3_600_000 });
  await call(p1, 'DELETE', '/api/v1/items/{id}', { id: item.id });
  await call(p1, 'DELETE', '/api/v1/actors/{id}', { id: actor.id });
  await call(gm, 'DELETE', '/api/v1/campaigns/{id}', { id: other.id });
  for (const s of ['GET 200', 'POST 201', 'PATCH 200', 'DELETE 204', 'GET 404', 'GET 401', 'PATCH 403', 'POST 400'])
    assert.ok(seen.includes(s), `a ${s} was checked (${seen.join(', ')})`);
  c.close();
});
