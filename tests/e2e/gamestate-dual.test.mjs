// The dual update end to end (issue 5, section 5), with the real
// socket.io-client: an actor embedded in a session state and the stored
// actor stay one truth whichever side changes.
//   - a GM's gameState:update that changes the copy writes the actor back
//     in the same commit (actor:updated to the campaign) and is the only
//     version: the server appends "set" of the copy to the stored actor,
//     so the GM's next update, based on the ack's newVersion, applies;
//   - a copy the store would refuse (invalid, hidden) refuses the update,
//     and hiding an actor with actor:update takes it out of the state;
//   - actor:update by the owner reaches every session member as a
//     gameState:updated with source "system";
//   - after a mixed sequence of both, actor:get equals the copy, and a
//     client that applied every gameState:updated holds the server's state;
//   - a GM of another campaign who embeds the actor's id changes nothing.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import { uid, setupCampaign, settle, quiet } from './lib/campaign.mjs';

const h = useSystem({ workers: 1 });

const updId = () => `dual-${crypto.randomBytes(6).toString('hex')}`;

// ---- helpers ---------------------------------------------------------

function update(socket, sessionId, version, operations) {
  return emitAck(socket, 'gameState:update', {
    id: updId(), sessionId, version, operations, timestamp: Date.now(), source: 'gm',
  });
}

async function full(socket, sessionId) {
  return expectOk(await emitAck(socket, 'gameState:requestFull', sessionId)).gameState;
}

const get = async (socket, id) => expectOk(await emitAck(socket, 'actor:get', id));

// A campaign with a session everyone joined, and an actor of player 1.
async function sessionWithActor(sys, fields = {}) {
  const c = await setupCampaign(sys, { players: 2 });
  const session = expectOk(await emitAck(c.gm.s, 'gameSession:create', { campaignId: c.id, name: uid('S') }));
  for (const u of [c.gm, ...c.players]) expectOk(await emitAck(u.s, 'gameSession:join', session.id));
  const actor = expectOk(await emitAck(c.p1.s, 'actor:create',
    { name: 'Ann', type: 'pc', campaignId: c.id, hp: 10, ...fields }));
  await settle();
  for (const u of c.all()) u.rec.clear();
  return { c, session, actor };
}

// A client's copy of the operation engine, applying only version == local + 1.
function applyUpdate(state, u) {
  assert.equal(BigInt(u.version), BigInt(state.stateVersion) + 1n, 'updates come in order');
  for (const op of u.operations) {
    const segs = op.path.split('.');
    let parent = state;
    for (const s of segs.slice(0, -1)) parent = parent[Array.isArray(parent) ? Number(s) : s];
    const key = Array.isArray(parent) ? Number(segs.at(-1)) : segs.at(-1);
    switch (op.operation) {
      case 'set': parent[key] = structuredClone(op.value); break;
      case 'unset': if (Array.isArray(parent)) parent.splice(key, 1); else delete parent[key]; break;
      case 'inc': parent[key] += op.value; break;
      case 'push': parent[key].push(structuredClone(op.value)); break;
      default: throw new Error(`unexpected operation ${op.operation}`);
    }
  }
  state.stateVersion = u.version;
  state.lastUpdated = u.lastUpdated;
}

// ---- tests -----------------------------------------------------------

h.test('a GM changes an embedded actor through the state: the stored actor follows', async (t, sys) => {
  const { c, session, actor } = await sessionWithActor(sys);
  t.after(c.close);
  // embedding the stored actor as it is writes nothing
  assert.deepEqual(await update(c.gm.s, session.id, '0',
    [{ path: 'actors', operation: 'push', value: await get(c.gm.s, actor.id) }]),
  { success: true, newVersion: '1' });
  await c.p2.rec.waitFor('gameState:updated', (e) => e.version === '1');
  assert.deepEqual(await get(c.p2.s, actor.id), actor);

  // inc hp: the GM's version 2 is the only one; the server appends the
  // stored actor as the same commit writes it (new version, updatedAt)
  assert.deepEqual(await update(c.gm.s, session.id, '1',
    [{ path: 'actors.0.hp', operation: 'inc', value: 5 }]),
  { success: true, newVersion: '2' });
  const written = await c.p2.rec.waitFor('actor:updated', (a) => a.id === actor.id);
  assert.equal(written.hp, 15);
  assert.equal(written.version, actor.version + 1);
  assert.equal(written.createdBy, c.p1.id);
  // everyone who may see it hears it, the GM who sent the update included
  for (const u of [c.gm, c.p1]) await u.rec.waitFor('actor:updated', (a) => a.id === actor.id && a.hp === 15);
  for (const u of [c.gm, c.p1, c.p2]) {
    const v2 = await u.rec.waitFor('gameState:updated', (e) => e.version === '2');
    assert.equal(v2.source, 'gm');
    assert.deepEqual(v2.operations, [
      { path: 'actors.0.hp', operation: 'inc', value: 5 },
      { path: 'actors.0', operation: 'set', value: written },
    ]);
  }
  await quiet();
  let state = await full(c.p2.s, session.id);
  assert.equal(state.stateVersion, '2', 'exactly one version');
  assert.deepEqual(await get(c.p2.s, actor.id), written);
  assert.deepEqual(state.actors[0], written);

  // the GM's next update, based on the first ack's newVersion, applies
  assert.deepEqual(await update(c.gm.s, session.id, '2',
    [{ path: 'actors.0.hp', operation: 'inc', value: -3 }]),
  { success: true, newVersion: '3' });
  const again = await c.p2.rec.waitFor('actor:updated', (a) => a.id === actor.id && a.hp === 12);
  assert.equal(again.version, actor.version + 2);
  await c.p2.rec.waitFor('gameState:updated', (e) => e.version === '3');
  await quiet();
  state = await full(c.p2.s, session.id);
  assert.equal(state.stateVersion, '3');
  assert.deepEqual(await get(c.gm.s, actor.id), state.actors[0]);
  assert.deepEqual(state.actors[0], again);
  assert.equal(c.p2.rec.count('actor:updated'), 2);
  assert.equal(c.p2.rec.count('gameState:updated'), 3);
  assert.equal(c.out.rec.count('actor:updated'), 0);
});

h.test('actor:update by its owner reaches every session member as a system update', async (t, sys) => {
  const { c, session, actor } = await sessionWithActor(sys);
  t.after(c.close);
  expectOk(await update(c.gm.s, session.id, '0', [{ path: 'actors', operation: 'push', value: actor }]));
  for (const u of [c.gm, ...c.players]) await u.rec.waitFor('gameState:updated', (e) => e.version === '1');

  const stored = expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, hp: 3, mood: 'grim' }));
  assert.equal(stored.version, actor.version + 1);
  for (const u of [c.gm, c.p1, c.p2]) {
    const ev = await u.rec.waitFor('gameState:updated', (e) => e.version === '2');
    assert.equal(ev.source, 'system');
    assert.equal(ev.previousVersion, '1');
    assert.deepEqual(ev.operations, [{ path: 'actors.0', operation: 'set', value: stored }]);
  }
  const state = await full(c.p2.s, session.id);
  assert.equal(state.stateVersion, '2');
  assert.deepEqual(state.actors[0], await get(c.p2.s, actor.id));
  assert.deepEqual(state.actors[0], stored);

  // deleting it takes the copy out of the state the same way
  expectOk(await emitAck(c.p1.s, 'actor:delete', actor.id));
  const gone = await c.p2.rec.waitFor('gameState:updated', (e) => e.version === '3');
  assert.equal(gone.source, 'system');
  assert.deepEqual(gone.operations, [{ path: 'actors.0', operation: 'unset' }]);
  assert.deepEqual((await full(c.gm.s, session.id)).actors, []);
});

h.test('after a mixed sequence of both sides, actor:get and the state agree', async (t, sys) => {
  const { c, session, actor } = await sessionWithActor(sys);
  t.after(c.close);
  // p2 keeps a replica by the client rule, from the state it joined with
  const replica = await full(c.p2.s, session.id);
  expectOk(await update(c.gm.s, session.id, '0', [{ path: 'actors', operation: 'push', value: actor }]));
  let expected = 1;
  for (let step = 0; step < 8; step++) {
    if (step % 2 === 0) {
      const base = (await full(c.gm.s, session.id)).stateVersion;
      assert.equal(base, String(expected));
      expectOk(await update(c.gm.s, session.id, base, [
        { path: 'actors.0.hp', operation: 'inc', value: step + 1 },
        { path: `actors.0.gm${step}`, operation: 'set', value: true },
      ]));
      expected += 1;                              // the GM's only
    } else {
      expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, [`p${step}`]: step, hp: 100 + step }));
      expected += 1;                              // the system one
    }
  }
  await c.p2.rec.waitFor('gameState:updated', (e) => e.version === String(expected));
  const state = await full(c.p2.s, session.id);
  assert.equal(state.stateVersion, String(expected), 'no lost and no extra version');
  const stored = await get(c.p2.s, actor.id);
  assert.deepEqual(state.actors[0], stored);
  assert.equal(stored.hp, 107);                   // step 7's actor:update came last
  assert.equal(stored.gm6, true);
  assert.equal(stored.p7, 7);
  assert.equal(stored.version, actor.version + 8);
  // the replica, fed only by gameState:updated, is the server's state
  for (const u of c.p2.rec.data('gameState:updated', (e) => e.sessionId === session.id)) applyUpdate(replica, u);
  assert.deepEqual(replica, state);
});

h.test('a copy the store would refuse refuses the update; a hidden actor leaves the state', async (t, sys) => {
  const { c, session, actor } = await sessionWithActor(sys);
  t.after(c.close);
  expectOk(await update(c.gm.s, session.id, '0', [{ path: 'actors', operation: 'push', value: actor }]));
  await c.p2.rec.waitFor('gameState:updated', (e) => e.version === '1');
  // an empty name is no actor: the whole update is refused, with the index
  const bad = expectError(await update(c.gm.s, session.id, '1', [
    { path: 'pluginData.round', operation: 'set', value: 2 },
    { path: 'actors.0.name', operation: 'set', value: '' },
  ]), 'VALIDATION_ERROR');
  assert.equal(bad.index, 1);
  assert.match(bad.message, /name/);
  // so is hiding it through the state: every member reads the state
  const hide = expectError(await update(c.gm.s, session.id, '1',
    [{ path: 'actors.0.hidden', operation: 'set', value: true }]), 'VALIDATION_ERROR');
  assert.equal(hide.index, 0);
  assert.match(hide.message, /hidden/);
  let state = await full(c.p2.s, session.id);
  assert.equal(state.stateVersion, '1');
  assert.deepEqual(state.actors[0], await get(c.p2.s, actor.id));
  // hiding it with actor:update takes its copy out, for everyone
  const hidden = expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, hidden: true }));
  await c.p2.rec.waitFor('actor:deleted', (id) => id === actor.id);
  const gone = await c.p2.rec.waitFor('gameState:updated', (e) => e.version === '2');
  assert.equal(gone.source, 'system');
  assert.deepEqual(gone.operations, [{ path: 'actors.0', operation: 'unset' }]);
  state = await full(c.p2.s, session.id);
  assert.deepEqual(state.actors, []);
  assert.equal(JSON.stringify(state).includes(actor.id), false, 'nothing of it reaches a player');
  expectError(await emitAck(c.p2.s, 'actor:get', actor.id), 'NOT_FOUND');
  // and embedding it while hidden is refused
  expectError(await update(c.gm.s, session.id, '2',
    [{ path: 'actors', operation: 'push', value: hidden }]), 'VALIDATION_ERROR');
  await quiet();
  assert.equal((await full(c.gm.s, session.id)).stateVersion, '2');
});

h.test("a GM of another campaign embedding a foreign actor's id cannot change it", async (t, sys) => {
  const { c, session, actor } = await sessionWithActor(sys);
  t.after(c.close);
  expectOk(await update(c.gm.s, session.id, '0', [{ path: 'actors', operation: 'push', value: actor }]));
  await c.p2.rec.waitFor('gameState:updated', (e) => e.version === '1');
  const other = await setupCampaign(sys, { players: 0, outsider: false, prefix: 'x' });
  t.after(other.close);
  const foreign = expectOk(await emitAck(other.gm.s, 'gameSession:create', { campaignId: other.id, name: 'B' }));
  expectOk(await emitAck(other.gm.s, 'gameSession:join', foreign.id));
  await settle();
  for (const u of c.all()) u.rec.clear();

  const fake = { ...actor, name: 'Stolen', hp: 999 };
  assert.deepEqual(await update(other.gm.s, foreign.id, '0', [{ path: 'actors', operation: 'push', value: fake }]),
    { success: true, newVersion: '1' });
  assert.deepEqual(await update(other.gm.s, foreign.id, '1', [{ path: 'actors.0.hp', operation: 'inc', value: 1 }]),
    { success: true, newVersion: '2' });
  expectError(await emitAck(other.gm.s, 'actor:get', actor.id), 'NOT_FOUND');
  assert.deepEqual(await get(c.p1.s, actor.id), actor, 'the stored actor is untouched');

  // the actor's own updates reach its campaign's session, not the stranger's
  await other.gm.rec.waitFor('gameState:updated', (e) => e.version === '2');
  other.gm.rec.clear();
  const stored = expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, secret: 'campaign A only' }));
  await c.p2.rec.waitFor('gameState:updated', (e) => e.sessionId === session.id && e.version === '2');
  await quiet();
  assert.equal(c.p2.rec.count('actor:updated'), 1);
  assert.equal(c.p2.rec.count('gameState:updated'), 1);
  assert.equal(other.gm.rec.count('gameState:updated'), 0);
  assert.equal(other.gm.rec.count('actor:updated'), 0);
  const theirs = await full(other.gm.s, foreign.id);
  assert.equal(theirs.stateVersion, '2');
  assert.deepEqual(theirs.actors[0], { ...fake, hp: 1000 });
  assert.deepEqual((await full(c.gm.s, session.id)).actors[0], stored);
});
