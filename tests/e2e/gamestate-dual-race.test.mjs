// The dual update under concurrency (issue 5, section 5: "after any
// sequence, actor:get and the session state agree"), with the real
// socket.io-client, two actors workers and two gamestate workers: one
// actor embedded in two sessions of its campaign, changed at the same
// time by the GM through both states and by its owner from two tabs with
// actor:update. Every acknowledged change must survive, and once the
// writes stop, every copy must equal the stored actor.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { useSystem, emitAck, expectOk, eventually } from './lib/system.mjs';
import { setupCampaign, tab, settle } from './lib/campaign.mjs';

const h = useSystem({ workers: 2, services: { gamestate: 2 } });

const updId = () => `race-${crypto.randomBytes(6).toString('hex')}`;

async function full(socket, sessionId) {
  return expectOk(await emitAck(socket, 'gameState:requestFull', sessionId)).gameState;
}

// A GM writer on one session: n updates, each based on the last version it
// knows; a VERSION_CONFLICT (the other writers' system updates) is retried
// on the current version, as a client would after a sync.
async function gmWriter(socket, sessionId, field, n) {
  let version = (await full(socket, sessionId)).stateVersion;
  for (let i = 0; i < n; i++) {
    const operations = [
      { path: `actors.0.${field}`, operation: 'inc', value: 1 },
      { path: `actors.0.${field}_${i}`, operation: 'set', value: true },
    ];
    const id = updId();
    for (let tries = 0; ; tries++) {
      assert.ok(tries < 200, 'a GM update gets through');
      const ack = await emitAck(socket, 'gameState:update', { id, sessionId, version, operations });
      if (ack.success) { version = ack.newVersion; break; }
      assert.equal(ack.error.code, 'VERSION_CONFLICT', JSON.stringify(ack));
      version = ack.error.currentVersion;
    }
  }
}

async function ownerWriter(socket, actorId, tag, n) {
  for (let i = 0; i < n; i++) expectOk(await emitAck(socket, 'actor:update', { id: actorId, [`${tag}_${i}`]: i, mood: `${tag}${i}` }));
}

h.test('GM updates through two sessions and owner updates from two tabs, all at once: nothing acknowledged is lost and every copy ends equal to the store', { timeout: 120000 }, async (t, sys) => {
  await sys.waitHealth({ pred: (b) => b?.services?.gamestate?.workers === 2 && b?.services?.actors?.workers === 2 });
  const c = await setupCampaign(sys, { players: 1, outsider: false });
  t.after(c.close);
  const actor = expectOk(await emitAck(c.p1.s, 'actor:create',
    { name: 'Ann', type: 'pc', campaignId: c.id, hp: 10, s1: 0, s2: 0 }));
  const sessions = [];
  for (const name of ['one', 'two']) {
    const s = expectOk(await emitAck(c.gm.s, 'gameSession:create', { campaignId: c.id, name }));
    expectOk(await emitAck(c.gm.s, 'gameSession:join', s.id));
    sessions.push(s);
  }
  // embedding takes the stored actor, whatever the pushed copy says
  const stale = { ...actor, hp: 999, name: 'Stale' };
  for (const s of sessions) {
    expectOk(await emitAck(c.gm.s, 'gameState:update', {
      id: updId(), sessionId: s.id, version: '0', operations: [{ path: 'actors', operation: 'push', value: stale }],
    }));
    assert.deepEqual((await full(c.gm.s, s.id)).actors[0], actor);
  }
  assert.deepEqual(expectOk(await emitAck(c.gm.s, 'actor:get', actor.id)), actor, 'the push wrote nothing');

  const gm2 = (await tab(sys, c.gm)).s;
  const p1b = (await tab(sys, c.p1)).s;
  t.after(() => { gm2.disconnect(); p1b.disconnect(); });
  const n = 12;
  await Promise.all([
    gmWriter(c.gm.s, sessions[0].id, 's1', n),
    gmWriter(gm2, sessions[1].id, 's2', n),
    ownerWriter(c.p1.s, actor.id, 'a', n),
    ownerWriter(p1b, actor.id, 'b', n),
  ]);
  await settle();

  const stored = expectOk(await emitAck(c.gm.s, 'actor:get', actor.id));
  // every acknowledged change is in the store: each GM's own counter and
  // flags, each owner tab's fields
  assert.equal(stored.s1, n, 'the GM increments through session one');
  assert.equal(stored.s2, n, 'the GM increments through session two');
  for (let i = 0; i < n; i++) {
    assert.equal(stored[`s1_${i}`], true);
    assert.equal(stored[`s2_${i}`], true);
    assert.equal(stored[`a_${i}`], i);
    assert.equal(stored[`b_${i}`], i);
  }
  assert.equal(stored.version, actor.version + 4 * n, 'one stored version per acknowledged write');
  // and the copies converge on it: no stale sync left either session behind
  await eventually(async () => {
    for (const s of sessions) {
      const state = await full(c.gm.s, s.id);
      assert.deepEqual(state.actors[0], expectOk(await emitAck(c.gm.s, 'actor:get', actor.id)));
    }
    return true;
  }, { timeoutMs: 5000, what: 'every copy equal to the stored actor' });
});
