// NUL in strings (a red-team finding): cJSON decodes "\u0000" into a 0
// byte, and C code that then treats the string as a C string cuts it there,
// so a string changed identity on its way in ("p1\u0000x" added p1). Every
// string that crosses the wire must keep its length: an id, user id, room,
// path or key with a NUL is VALIDATION_ERROR, an event name with one is
// UNKNOWN_EVENT, and free text with one is VALIDATION_ERROR too (a C string
// cannot hold it, and cutting it silently is what this forbids). Each
// refusal is checked to have written nothing. Over the real socket.io-client
// (which sends "\u0000" as the JSON escape), over a bare WebSocket with a
// raw 0x00 byte, and over REST.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import { uid, setupCampaign, rest, expectRestError } from './lib/campaign.mjs';
import { RawClient } from './lib/raw.mjs';

const h = useSystem({ workers: 1 });

const NUL_MESSAGE = /NUL/;
const updId = () => `upd-${crypto.randomBytes(6).toString('hex')}`;

/** A VALIDATION_ERROR ack that names the NUL. */
function expectNulRefused(ack) {
  const err = expectError(ack, 'VALIDATION_ERROR');
  assert.match(err.message, NUL_MESSAGE, `the message says why: ${err.message}`);
  return err;
}

async function newSession(c) {
  const session = expectOk(await emitAck(c.gm.s, 'gameSession:create', { campaignId: c.id, name: uid('S') }));
  expectOk(await emitAck(c.gm.s, 'gameSession:join', session.id));
  return session;
}

function update(socket, sessionId, version, operations, id = updId()) {
  return emitAck(socket, 'gameState:update', {
    id, sessionId, version, operations, timestamp: Date.now(), source: 'gm',
  });
}

async function stateOf(socket, sessionId) {
  return expectOk(await emitAck(socket, 'gameState:requestFull', sessionId)).gameState;
}

h.test('a name with a NUL is refused, not stored cut ("Eve\\u0000x" is not "Eve")', async (t, sys) => {
  const s = await sys.user(uid('nul-name'), 'Nul Name');
  t.after(() => s.disconnect());
  expectNulRefused(await emitAck(s, 'campaign:create', { name: 'Eve\u0000x' }));
  assert.deepEqual(expectOk(await emitAck(s, 'campaign:list')), [], 'no campaign was created');
  expectNulRefused(await emitAck(s, 'actor:create', { name: 'Eve\u0000x', type: 'npc' }));
  // a NUL in a key cuts the key just as well: {"name\u0000x": ..} is not {"name": ..}
  expectNulRefused(await emitAck(s, 'actor:create', { name: 'Ok', type: 'npc', 'bio\u0000x': 'b' }));
  assert.deepEqual(expectOk(await emitAck(s, 'actor:list')), [], 'no actor was created');
  // a NUL deep inside a value is refused too: the whole argument is
  const a = expectOk(await emitAck(s, 'actor:create', { name: 'Adam', type: 'npc' }));
  expectNulRefused(await emitAck(s, 'actor:update', { id: a.id, stats: { notes: ['x', 'y\u0000z'] } }));
  const got = expectOk(await emitAck(s, 'actor:get', a.id));
  assert.equal(got.version, 1, 'the actor was not updated');
  assert.equal(got.stats, undefined);
});

h.test('campaign:addMember with userId "p1\\u0000x" adds nobody', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: true });
  t.after(c.close);
  expectNulRefused(await emitAck(c.gm.s, 'campaign:addMember',
    { campaignId: c.id, userId: `${c.out.id}\u0000x`, role: 'player' }));
  // nor with the NUL in the campaign id
  expectNulRefused(await emitAck(c.gm.s, 'campaign:addMember',
    { campaignId: `${c.id}\u0000x`, userId: c.out.id, role: 'player' }));
  const camp = expectOk(await emitAck(c.gm.s, 'campaign:get', c.id));
  assert.deepEqual(camp.members.map((m) => m.userId).sort(), [c.gm.id, c.p1.id].sort(),
    'the outsider is not a member');
  expectError(await emitAck(c.out.s, 'campaign:get', c.id), 'NOT_FOUND', 'FORBIDDEN');
  // removing "p1\u0000x" does not remove p1
  expectNulRefused(await emitAck(c.gm.s, 'campaign:removeMember',
    { campaignId: c.id, userId: `${c.p1.id}\u0000x` }));
  const again = expectOk(await emitAck(c.gm.s, 'campaign:get', c.id));
  assert.ok(again.members.some((m) => m.userId === c.p1.id), 'p1 is still a member');
});

h.test('subscribe to "campaign:<id>\\u0000x" joins nothing', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false });
  t.after(c.close);
  expectNulRefused(await emitAck(c.p1.s, 'subscribe', { room: `${c.room}\u0000x` }));
  // not in the room: a chat message there does not reach p1
  expectOk(await emitAck(c.gm.s, 'subscribe', { room: c.room }));
  c.p1.rec.clear();
  expectOk(await emitAck(c.gm.s, 'chat:send', { room: c.room, text: 'hello' }));
  await c.gm.rec.waitFor('chat:message', (m) => m.text === 'hello');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(c.p1.rec.count('chat:message'), 0, 'p1 did not join the room');
  // and chat text with a NUL is refused, not cut
  expectNulRefused(await emitAck(c.gm.s, 'chat:send', { room: c.room, text: 'secret\u0000 hidden tail' }));
  const history = expectOk(await emitAck(c.gm.s, 'chat:history', { room: c.room }));
  assert.deepEqual(history.map((m) => m.text), ['hello']);
});

h.test('gameState:update id "abc\\u0000def" is refused, so a later update with id "abc" is applied', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false });
  t.after(c.close);
  const session = await newSession(c);
  const abc = updId();
  const ops = [{ path: 'pluginData.round', operation: 'set', value: 1 }];
  expectNulRefused(await update(c.gm.s, session.id, '0', ops, `${abc}\u0000def`));
  assert.equal((await stateOf(c.gm.s, session.id)).stateVersion, '0', 'nothing was applied');
  const ack = await update(c.gm.s, session.id, '0',
    [{ path: 'pluginData.round', operation: 'set', value: 2 }], abc);
  assert.equal(ack.success, true, JSON.stringify(ack));
  assert.equal(ack.newVersion, '1', 'applied as a new update, not answered as a repeat');
  const state = await stateOf(c.gm.s, session.id);
  assert.equal(state.stateVersion, '1');
  assert.deepEqual(state.pluginData, { round: 2 });
});

h.test('an op path "pluginData.hp\\u0000junk" writes nothing (not pluginData.hp)', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false });
  t.after(c.close);
  const session = await newSession(c);
  expectNulRefused(await update(c.gm.s, session.id, '0',
    [{ path: 'pluginData.hp\u0000junk', operation: 'set', value: 99 }]));
  // nor in an operation's name, nor in a value
  expectNulRefused(await update(c.gm.s, session.id, '0',
    [{ path: 'pluginData.hp', operation: 'set\u0000x', value: 99 }]));
  expectNulRefused(await update(c.gm.s, session.id, '0',
    [{ path: 'pluginData.note', operation: 'set', value: 'a\u0000b' }]));
  const state = await stateOf(c.gm.s, session.id);
  assert.equal(state.stateVersion, '0');
  assert.deepEqual(state.pluginData, {});
  // the same update without the NUL goes through
  const ack = await update(c.gm.s, session.id, '0', [{ path: 'pluginData.hp', operation: 'set', value: 7 }]);
  assert.equal(ack.newVersion, '1', JSON.stringify(ack));
});

h.test('the event "actor:create\\u0000junk" is UNKNOWN_EVENT and runs nothing', async (t, sys) => {
  const s = await sys.user(uid('nul-ev'), 'Nul Event');
  t.after(() => s.disconnect());
  const err = expectError(await emitAck(s, 'actor:create\u0000junk', { name: 'Ghost', type: 'npc' }),
    'UNKNOWN_EVENT');
  assert.ok(err.message.length > 0);
  // a reserved name with a NUL is no reserved name either: just unknown
  expectError(await emitAck(s, 'connect\u0000x', {}), 'UNKNOWN_EVENT');
  assert.deepEqual(expectOk(await emitAck(s, 'actor:list')), [], 'no actor was created');
  // the connection is still fine
  expectOk(await emitAck(s, 'actor:create', { name: 'Real', type: 'npc' }));
});

h.test('the text \\\\u0000 (an escaped backslash, no NUL) is kept as it is', async (t, sys) => {
  const s = await sys.user(uid('nul-esc'), 'Nul Escape');
  t.after(() => s.disconnect());
  const name = 'a\\u0000b \\\\u0000 c';        // backslashes, no NUL
  const a = expectOk(await emitAck(s, 'actor:create', { name, type: 'npc' }));
  assert.equal(a.name, name);
  assert.equal(expectOk(await emitAck(s, 'actor:get', a.id)).name, name);
});

h.test('raw frames: a 0x00 byte in a string, in the event name, and after a token', async (t, sys) => {
  const user = uid('nul-raw');
  const [c] = await RawClient.connected(sys.wsUrl(), sys.token({ sub: user }));
  t.after(() => c.close());
  c.autoPong = true;
  const ackOf = async (id) => {
    const f = await c.nextNonPing();
    assert.ok(f.startsWith(`43${id}[`), `an ack for ${id}: ${JSON.stringify(f)}`);
    return JSON.parse(f.slice(`43${id}`.length))[0];
  };
  c.send('421["actor:create",{"name":"Raw\u0000Tail","type":"npc"}]');
  expectNulRefused(await ackOf(1));
  c.send('422["actor:create\u0000junk",{"name":"Raw","type":"npc"}]');
  expectError(await ackOf(2), 'UNKNOWN_EVENT');
  c.send('423["actor:create",{"name":"Esc\\u0000Tail","type":"npc"}]');
  expectNulRefused(await ackOf(3));
  c.send('424["actor:list"]');
  assert.deepEqual(expectOk(await ackOf(4)), [], 'nothing was created');

  // CONNECT: a valid token followed by a NUL and junk is not that token
  const [d] = await RawClient.handshake(sys.wsUrl());
  t.after(() => d.close());
  d.send(`40${JSON.stringify({ token: `${sys.token({ sub: user })}\u0000junk` })}`);
  const reply = await d.nextNonPing();
  assert.ok(reply.startsWith('44{'), `connect_error, got ${reply}`);
  assert.match(JSON.parse(reply.slice(2)).message, NUL_MESSAGE);
});

h.test('REST: a name or a key with a NUL is 400 VALIDATION_ERROR, and nothing is written', async (t, sys) => {
  const token = sys.token({ sub: uid('nul-rest'), name: 'Nul Rest' });
  let r = await rest(sys, token, 'POST', '/campaigns', { name: 'Eve\u0000x' });
  assert.match(expectRestError(r, 400, 'VALIDATION_ERROR').message, NUL_MESSAGE);
  r = await rest(sys, token, 'GET', '/campaigns');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, [], 'no campaign was created');
  r = await rest(sys, token, 'POST', '/actors', { name: 'Eve\u0000x', type: 'npc' });
  assert.match(expectRestError(r, 400, 'VALIDATION_ERROR').message, NUL_MESSAGE);
  // raw 0x00 in the body text
  r = await rest(sys, token, 'POST', '/actors', '{"name":"Eve\u0000x","type":"npc"}', { raw: true });
  expectRestError(r, 400, 'VALIDATION_ERROR');
  r = await rest(sys, token, 'GET', '/actors');
  assert.deepEqual(r.body, [], 'no actor was created');

  const a = (await rest(sys, token, 'POST', '/actors', { name: 'Adam', type: 'npc' })).body;
  r = await rest(sys, token, 'PATCH', `/actors/${a.id}`, { 'name\u0000junk': 'Mallory' });
  assert.match(expectRestError(r, 400, 'VALIDATION_ERROR').message, NUL_MESSAGE);
  r = await rest(sys, token, 'GET', `/actors/${a.id}`);
  assert.equal(r.body.name, 'Adam');
  assert.equal(r.body.version, 1);
});

// The HTTP front (pl_h1) refuses a %00 anywhere in the URI, path or query,
// before any route is matched: 400 VALIDATION_ERROR. What matters here is
// that the id cut at the NUL is never acted on.
async function expectRefusedUri(sys, token, method, path) {
  const r = await rest(sys, token, method, path);
  expectRestError(r, 400, 'VALIDATION_ERROR');
}

h.test('REST: a NUL in a member id (body) or in the URL (%00) never names the cut id', async (t, sys) => {
  const gm = uid('nul-rgm');
  const token = sys.token({ sub: gm, name: 'GM' });
  const a = (await rest(sys, token, 'POST', '/actors', { name: 'Adam', type: 'npc' })).body;
  const c = (await rest(sys, token, 'POST', '/campaigns', { name: 'C' })).body;
  const p1 = uid('nul-rp1');
  let r = await rest(sys, token, 'POST', `/campaigns/${c.id}/members`, { userId: `${p1}\u0000x`, role: 'player' });
  assert.match(expectRestError(r, 400, 'VALIDATION_ERROR').message, NUL_MESSAGE);
  // the id cut at %00 would be the actor's, the member's, the campaign's
  await expectRefusedUri(sys, token, 'GET', `/actors/${a.id}%00junk`);
  await expectRefusedUri(sys, token, 'DELETE', `/actors/${a.id}%00junk`);
  await expectRefusedUri(sys, token, 'DELETE', `/campaigns/${c.id}/members/${gm}%00x`);
  await expectRefusedUri(sys, token, 'GET', `/actors?campaignId=${c.id}%00x`);
  assert.equal((await rest(sys, token, 'GET', `/actors/${a.id}`)).status, 200, 'the actor is still there');
  const members = (await rest(sys, token, 'GET', `/campaigns/${c.id}`)).body.members.map((m) => m.userId);
  assert.deepEqual(members, [gm], 'nobody was added or removed');
});
