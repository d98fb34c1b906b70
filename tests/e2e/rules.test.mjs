// Declarative rules end to end (issue 11, section 2): rule:create/list/
// delete/test through the gateway and parley-rules, and the runner on the
// event bus - a rule fires once per transition (hp falling to 0 adds
// "unconscious" exactly once, and state_invalidated arrives), rules that
// trigger each other stop at depth 8 with reason "depth", and a burst of
// game-state updates with the rules worker SIGKILLed and restarted in the
// middle, or two rules workers at once, applies no effect twice (checked
// against the session's log, every update in order).
//
// "The runner has caught up" is never a sleep: a probe rule fires on a
// marker written last, and its state_invalidated says the runner has
// evaluated a version holding every write before it.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import { setupCampaign, rest, expectRestError } from './lib/campaign.mjs';

const h = useSystem({ workers: 1 });

const DOWN = 'hp <= 0 and not (conditions contains "unconscious")';

async function createRule(socket, campaignId, rule) {
  const r = expectOk(await emitAck(socket, 'rule:create', { campaignId, ...rule }));
  assert.equal(typeof r.id, 'string');
  assert.equal(r.campaignId, campaignId);
  return r;
}

const invalidated = (rec, pred, ms = 10000) => rec.waitFor('state_invalidated', pred, ms);

h.test('rule:create/list/delete/test: GMs only, refusals name the problem, nothing stored on a refusal', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: true, prefix: 'rc' });
  t.after(c.close);
  const def = { name: 'Down', on: 'actor', when: DOWN, then: [{ operation: 'push', path: 'conditions', value: 'unconscious' }] };
  // players and outsiders may not manage (nor read) rules
  for (const u of [c.p1, c.out]) {
    for (const [ev, arg] of [['rule:create', { campaignId: c.id, ...def }], ['rule:list', { campaignId: c.id }],
      ['rule:delete', { campaignId: c.id, id: 'r1' }], ['rule:test', { campaignId: c.id, rule: def, entity: {} }]]) {
      expectError(await emitAck(u.s, ev, arg), 'FORBIDDEN');
    }
  }
  // refusals
  const bad = async (rule, needle) => {
    const err = expectError(await emitAck(c.gm.s, 'rule:create', { campaignId: c.id, ...rule }), 'VALIDATION_ERROR');
    assert.match(err.message, needle);
  };
  await bad({ ...def, when: 'hp <= ' }, /when: position 7/);
  await bad({ ...def, when: 'hp <= 0 and' }, /when: position \d+/);
  await bad({ ...def, on: 'scene' }, /on must be/);
  await bad({ ...def, name: '' }, /name must be/);
  await bad({ ...def, name: 'x'.repeat(201) }, /name must be/);
  await bad({ ...def, then: [] }, /1 to 16/);
  await bad({ ...def, then: Array(17).fill({ operation: 'unset', path: 'x' }) }, /1 to 16/);
  await bad({ ...def, then: [{ operation: 'set', path: 'version', value: 3 }] }, /may not change version/);
  await bad({ ...def, then: [{ operation: 'set', path: 'hidden', value: true }] }, /may not change hidden/);
  await bad({ ...def, then: [{ operation: 'inc', path: 'hp', value: 'x' }] }, /finite number/);
  await bad({ ...def, then: [{ operation: 'set', path: 'a..b', value: 1 }] }, /then\.0: path segment 1 is empty/);
  await bad({ ...def, on: 'gameState', then: [{ operation: 'set', path: 'hp', value: 1 }] }, /unknown top-level key/);
  await bad({ ...def, when: 'x'.repeat(1001) }, /when: /);
  // a NUL would cut the when short ("true", firing on everything): refused
  // before the rules worker (the gateway and the worker runtime refuse it)
  await bad({ ...def, when: 'true\u0000 and false' }, /NUL/);
  await bad({ ...def, name: 'a\u0000b' }, /NUL/);
  expectError(await emitAck(c.gm.s, 'rule:create', { campaignId: 'bad id', ...def }), 'VALIDATION_ERROR');
  assert.deepEqual(expectOk(await emitAck(c.gm.s, 'rule:list', { campaignId: c.id })), [], 'nothing stored');

  // create, list, test, delete
  const r = await createRule(c.gm.s, c.id, def);
  assert.equal(r.createdBy, c.gm.id);
  assert.deepEqual(Object.keys(r).sort(), ['campaignId', 'createdAt', 'createdBy', 'id', 'name', 'on', 'then', 'when']);
  assert.deepEqual(expectOk(await emitAck(c.gm.s, 'rule:list', { campaignId: c.id })), [r]);
  const fires = expectOk(await emitAck(c.gm.s, 'rule:test', { campaignId: c.id, rule: def, entity: { hp: 0, conditions: ['prone'] } }));
  assert.deepEqual(fires, { fires: true, operations: def.then, result: { hp: 0, conditions: ['prone', 'unconscious'] } });
  const not = expectOk(await emitAck(c.gm.s, 'rule:test', { campaignId: c.id, rule: def, entity: { hp: 0, conditions: ['unconscious'] } }));
  assert.deepEqual(not, { fires: false, operations: def.then, result: null });
  expectError(await emitAck(c.gm.s, 'rule:test', { campaignId: c.id, rule: { ...def, when: '(' }, entity: {} }), 'VALIDATION_ERROR');
  expectError(await emitAck(c.gm.s, 'rule:test', { campaignId: c.id, rule: def, entity: 3 }), 'VALIDATION_ERROR');
  const inapplicable = expectError(await emitAck(c.gm.s, 'rule:test', { campaignId: c.id, rule: def, entity: { hp: 0 } }), 'VALIDATION_ERROR');
  assert.match(inapplicable.message, /push at conditions: no such target/);
  expectOk(await emitAck(c.gm.s, 'rule:delete', { campaignId: c.id, id: r.id }));
  expectError(await emitAck(c.gm.s, 'rule:delete', { campaignId: c.id, id: r.id }), 'NOT_FOUND');
  assert.deepEqual(expectOk(await emitAck(c.gm.s, 'rule:list', { campaignId: c.id })), []);

  // at most 100 per campaign
  for (let i = 0; i < 100; i++) expectOk(await emitAck(c.gm.s, 'rule:create', { campaignId: c.id, ...def, name: `r${i}` }));
  expectError(await emitAck(c.gm.s, 'rule:create', { campaignId: c.id, ...def, name: 'r100' }), 'CONFLICT');
  const list = expectOk(await emitAck(c.gm.s, 'rule:list', { campaignId: c.id }));
  assert.equal(list.length, 100);
  assert.ok(list.every((x, i) => i === 0 || list[i - 1].createdAt <= x.createdAt), 'oldest first');
});

h.test('hp falling to 0 adds "unconscious" exactly once; a transition fires once; state_invalidated arrives', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'rd' });
  t.after(c.close);
  const down = await createRule(c.gm.s, c.id, { name: 'Down', on: 'actor', when: DOWN,
    then: [{ operation: 'push', path: 'conditions', value: 'unconscious' }] });
  // no guard: only the once-per-transition mark keeps it from counting twice
  const falls = await createRule(c.gm.s, c.id, { name: 'Falls', on: 'actor', when: 'hp <= 0',
    then: [{ operation: 'inc', path: 'falls', value: 1 }] });
  const probe = await createRule(c.gm.s, c.id, { name: 'Probe', on: 'actor', when: 'probe > 0',
    then: [{ operation: 'set', path: 'probed', value: true }] });
  const actor = expectOk(await emitAck(c.p1.s, 'actor:create', { campaignId: c.id, name: 'Hero', type: 'pc', hp: 5, conditions: [], falls: 0 }));
  let probes = 0;
  // the runner has evaluated every write before this (see the header)
  const caughtUp = async () => {
    probes += 1;
    const n = probes;
    expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, probe: n }));
    await invalidated(c.gm.rec, (e) => e.rule === probe.id && e.id === actor.id
      && c.gm.rec.count('state_invalidated', (x) => x.rule === probe.id) >= n);
    expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, probe: 0 }));
  };

  expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, hp: 0 }));
  const inv = await invalidated(c.gm.rec, (e) => e.rule === down.id);
  assert.deepEqual(inv, { campaignId: c.id, entity: 'actor', id: actor.id, reason: 'rule', rule: down.id });
  // the player sees it too, and the change arrives as a normal actor:updated
  await invalidated(c.p1.rec, (e) => e.rule === down.id);
  await c.p1.rec.waitFor('actor:updated', (a) => a.id === actor.id && a.conditions.includes('unconscious'));
  // more updates keeping hp at 0 add nothing
  for (let i = 0; i < 5; i++) expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, name: `Hero ${i}`, hp: -i }));
  await caughtUp();
  let a = expectOk(await emitAck(c.p1.s, 'actor:get', actor.id));
  assert.deepEqual(a.conditions, ['unconscious']);
  assert.equal(a.falls, 1);
  assert.equal(c.gm.rec.count('state_invalidated', (e) => e.rule === down.id), 1);
  assert.equal(c.gm.rec.count('state_invalidated', (e) => e.rule === falls.id), 1);
  // up again, and down again: a new transition
  expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, hp: 3 }));
  await caughtUp();
  expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, hp: 0 }));
  await invalidated(c.gm.rec, (e) => e.rule === falls.id && c.gm.rec.count('state_invalidated', (x) => x.rule === falls.id) === 2);
  await caughtUp();
  a = expectOk(await emitAck(c.p1.s, 'actor:get', actor.id));
  assert.equal(a.falls, 2);
  assert.deepEqual(a.conditions, ['unconscious'], 'the guard holds: still once');
  assert.equal(c.gm.rec.count('state_invalidated', (e) => e.rule === down.id), 1);

  // a hidden actor's rule: its state_invalidated reaches the GMs only
  const npc = expectOk(await emitAck(c.gm.s, 'actor:create', { campaignId: c.id, name: 'Orc', type: 'npc', hidden: true, hp: 4, conditions: [] }));
  expectOk(await emitAck(c.gm.s, 'actor:update', { id: npc.id, hp: 0 }));
  await invalidated(c.gm.rec, (e) => e.rule === down.id && e.id === npc.id);
  const stored = expectOk(await emitAck(c.gm.s, 'actor:get', npc.id));
  assert.deepEqual(stored.conditions, ['unconscious']);
  assert.equal(stored.hidden, true);
  await caughtUp();
  assert.equal(c.p1.rec.count('state_invalidated', (e) => e.id === npc.id), 0, 'the player hears nothing of the hidden orc');


  // an application is a debug line, not an info one (a busy campaign would
  // flood the log), and counted: the worker says how many when it stops
  const rules = sys.proc('rules');
  assert.doesNotMatch(rules.output, /INFO rule \S+ applied/);
  assert.doesNotMatch(rules.output, /INFO a rule by/);
  const said = rules.waitOutput(/INFO rules: \d+ versions evaluated, \d+ rules applied/, 10000);
  await sys.kill('rules', 'SIGTERM');
  await said;
  const applied = Number(rules.output.match(/INFO rules: \d+ versions evaluated, (\d+) rules applied/)[1]);
  assert.equal(applied, c.gm.rec.count('state_invalidated', (e) => e.reason === 'rule'));
  await sys.start('rules');
  await sys.waitHealth({ status: 200, pred: (b) => b?.services?.rules?.workers === 1 });
  // and it hears the bus before the next test: its subscription takes a
  // moment to reach the publishers (ZeroMQ's slow joiner), so the probe
  // goes again until it is heard
  const before = c.gm.rec.count('state_invalidated', (e) => e.rule === probe.id);
  for (let n = 1; ; n++) {
    expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, probe: n }));
    try {
      await invalidated(c.gm.rec, (e) => e.rule === probe.id
        && c.gm.rec.count('state_invalidated', (x) => x.rule === probe.id) > before, 3000);
      break;
    } catch (e) {
      if (n === 5) throw e;
    }
    expectOk(await emitAck(c.p1.s, 'actor:update', { id: actor.id, probe: 0 }));
  }
});

/** A Redis command against the system's private server (redis-cli), its reply as text. */
function redis(sys, ...args) {
  return execFileSync('redis-cli', ['-s', path.join(sys.dir, 'redis.sock'), ...args], { encoding: 'utf8' }).trim();
}

// A campaign (its GM, `players` players) with a guard-less rule (hp <= 0:
// inc falls) and a probe (probe > 0: set probed) on actors.
async function fallsCampaign(t, sys, prefix, players = 0) {
  const c = await setupCampaign(sys, { players, outsider: false, prefix });
  t.after(c.close);
  const falls = await createRule(c.gm.s, c.id, { name: 'Falls', on: 'actor', when: 'hp <= 0',
    then: [{ operation: 'inc', path: 'falls', value: 1 }] });
  const probe = await createRule(c.gm.s, c.id, { name: 'Probe', on: 'actor', when: 'probe > 0',
    then: [{ operation: 'set', path: 'probed', value: true }] });
  return { c, falls, probe };
}

h.test('a deleted rule leaves no mark behind: the record drops it when it is next rewritten', async (t, sys) => {
  const { c, falls: gone, probe } = await fallsCampaign(t, sys, 'rp');
  const actor = expectOk(await emitAck(c.gm.s, 'actor:create', { campaignId: c.id, name: 'Mark', type: 'pc', hp: 0, falls: 0 }));
  await invalidated(c.gm.rec, (e) => e.rule === gone.id && e.id === actor.id);
  const record = `pl:rules:actor:${actor.id}`;
  const fields = () => redis(sys, 'HKEYS', record).split('\n');
  // state_invalidated goes out after the commit that set the mark
  assert.ok(fields().includes(`m:${gone.id}`), 'the mark of Gone is set');
  expectOk(await emitAck(c.gm.s, 'rule:delete', { campaignId: c.id, id: gone.id }));
  // a rewrite of the record: the probe's transition
  expectOk(await emitAck(c.gm.s, 'actor:update', { id: actor.id, probe: 1 }));
  await invalidated(c.gm.rec, (e) => e.rule === probe.id && e.id === actor.id);
  assert.ok(fields().includes(`m:${probe.id}`), 'the probe is marked');
  assert.ok(!fields().includes(`m:${gone.id}`), `the mark of the deleted rule is gone: ${fields().join(' ')}`);
  assert.equal(expectOk(await emitAck(c.gm.s, 'actor:get', actor.id)).falls, 1);
});

h.test('hiding an entity (actor:deleted to the players) keeps its rules record: a rule true all along does not fire again', async (t, sys) => {
  const { c, falls, probe } = await fallsCampaign(t, sys, 'rh', 1);
  const actor = expectOk(await emitAck(c.gm.s, 'actor:create', { campaignId: c.id, name: 'Shade', type: 'npc', hp: 0, falls: 0 }));
  await invalidated(c.gm.rec, (e) => e.rule === falls.id && e.id === actor.id);
  expectOk(await emitAck(c.gm.s, 'actor:update', { id: actor.id, hidden: true }));
  await c.p1.rec.waitFor('actor:deleted', (id) => id === actor.id);
  expectOk(await emitAck(c.gm.s, 'actor:update', { id: actor.id, name: 'Shade (hidden)', hp: -1 }));
  expectOk(await emitAck(c.gm.s, 'actor:update', { id: actor.id, probe: 1 }));
  await invalidated(c.gm.rec, (e) => e.rule === probe.id && e.id === actor.id);
  const a = expectOk(await emitAck(c.gm.s, 'actor:get', actor.id));
  assert.equal(a.falls, 1, 'hp stayed at 0 or less: one transition, one application');
  assert.equal(c.gm.rec.count('state_invalidated', (e) => e.rule === falls.id), 1);
  // a real delete forgets the record
  const record = `pl:rules:actor:${actor.id}`;
  assert.equal(redis(sys, 'EXISTS', record), '1');
  expectOk(await emitAck(c.gm.s, 'actor:delete', actor.id));
  const other = expectOk(await emitAck(c.gm.s, 'actor:create', { campaignId: c.id, name: 'Marker', type: 'npc', probe: 1 }));
  await invalidated(c.gm.rec, (e) => e.rule === probe.id && e.id === other.id);
  assert.equal(redis(sys, 'EXISTS', record), '0', 'the deleted actor\'s record is gone');
});

h.test('a rule whose creator is no longer a GM is skipped and logged; another GM\'s rule still applies', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'ra' });
  t.after(c.close);
  expectOk(await emitAck(c.gm.s, 'campaign:addMember', { campaignId: c.id, userId: c.p1.id, role: 'gm' }));
  const theirs = await createRule(c.p1.s, c.id, { name: 'Theirs', on: 'actor', when: 'hp <= 0',
    then: [{ operation: 'inc', path: 'falls', value: 1 }] });
  const mine = await createRule(c.gm.s, c.id, { name: 'Mine', on: 'actor', when: 'hp <= 0',
    then: [{ operation: 'set', path: 'down', value: true }] });
  expectOk(await emitAck(c.gm.s, 'campaign:addMember', { campaignId: c.id, userId: c.p1.id, role: 'player' }));
  const actor = expectOk(await emitAck(c.gm.s, 'actor:create', { campaignId: c.id, name: 'Judged', type: 'npc', hp: 3, falls: 0 }));
  const logged = sys.proc('rules').waitOutput(new RegExp(`WARN rule ${theirs.id} of campaign ${c.id}: ${c.p1.id} is no longer a GM of it; not applied`), 10000);
  expectOk(await emitAck(c.gm.s, 'actor:update', { id: actor.id, hp: 0 }));
  await invalidated(c.gm.rec, (e) => e.rule === mine.id && e.id === actor.id);
  await logged;
  const a = expectOk(await emitAck(c.gm.s, 'actor:get', actor.id));
  assert.equal(a.down, true, 'the GM\'s rule applied');
  assert.equal(a.falls, 0, 'the demoted creator\'s rule did not');
  assert.equal(c.gm.rec.count('state_invalidated', (e) => e.rule === theirs.id), 0);
});

h.test('a game-state rule runs on a new session (version 0), once', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 0, outsider: false, prefix: 'rs' });
  t.after(c.close);
  const start = await createRule(c.gm.s, c.id, { name: 'Start', on: 'gameState', when: 'pluginData.round == null',
    then: [{ operation: 'set', path: 'pluginData.round', value: 1 }] });
  const session = expectOk(await emitAck(c.gm.s, 'gameSession:create', { campaignId: c.id, name: 'Fresh' }));
  await invalidated(c.gm.rec, (e) => e.rule === start.id && e.id === session.id);
  const state = expectOk(await emitAck(c.gm.s, 'gameState:requestFull', session.id)).gameState;
  assert.equal(state.pluginData.round, 1);
  assert.equal(state.stateVersion, '1', 'one rule write on version 0');
});

h.test('two rules triggering each other stop at depth 8 with reason "depth"', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 0, outsider: false, prefix: 'rn' });
  t.after(c.close);
  const even = await createRule(c.gm.s, c.id, { name: 'Even', on: 'item', when: 'n % 2 == 0', then: [{ operation: 'inc', path: 'n', value: 1 }] });
  const odd = await createRule(c.gm.s, c.id, { name: 'Odd', on: 'item', when: 'n % 2 == 1', then: [{ operation: 'inc', path: 'n', value: 1 }] });
  const item = expectOk(await emitAck(c.gm.s, 'item:create', { campaignId: c.id, name: 'Ping', type: 'gear', n: 1 }));
  const stop = await invalidated(c.gm.rec, (e) => e.reason === 'depth' && e.id === item.id, 15000);
  // 1 (odd) -> odd fires -> 2 -> even fires -> ... -> 9 (depth 8): odd would fire
  assert.deepEqual(stop, { campaignId: c.id, entity: 'item', id: item.id, reason: 'depth', rule: odd.id });
  const got = expectOk(await emitAck(c.gm.s, 'item:get', item.id));
  assert.equal(got.n, 9, 'eight rule writes: 1 -> 9');
  assert.equal(got.version, 9);
  const fired = c.gm.rec.data('state_invalidated', (e) => e.id === item.id && e.reason === 'rule');
  assert.equal(fired.length, 8);
  assert.deepEqual(fired.map((e) => e.rule), [odd.id, even.id, odd.id, even.id, odd.id, even.id, odd.id, even.id]);
  // a client's write starts a new chain (depth 0 again)
  expectOk(await emitAck(c.gm.s, 'item:update', { id: item.id, n: 100 }));
  await invalidated(c.gm.rec, (e) => e.reason === 'depth' && e.id === item.id
    && c.gm.rec.count('state_invalidated', (x) => x.reason === 'depth' && x.id === item.id) === 2, 15000);
  assert.equal(expectOk(await emitAck(c.gm.s, 'item:get', item.id)).n, 108);
});

h.test('a chain through a game state stops at depth 8 too', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 0, outsider: false, prefix: 'rg' });
  t.after(c.close);
  const even = await createRule(c.gm.s, c.id, { name: 'Even', on: 'gameState', when: 'pluginData.n % 2 == 0',
    then: [{ operation: 'inc', path: 'pluginData.n', value: 1 }] });
  const odd = await createRule(c.gm.s, c.id, { name: 'Odd', on: 'gameState', when: 'pluginData.n % 2 == 1',
    then: [{ operation: 'inc', path: 'pluginData.n', value: 1 }] });
  const session = expectOk(await emitAck(c.gm.s, 'gameSession:create', { campaignId: c.id, name: 'Ping' }));
  const ack = await emitAck(c.gm.s, 'gameState:update', { id: crypto.randomUUID(), sessionId: session.id,
    version: '0', operations: [{ operation: 'set', path: 'pluginData.n', value: 1 }], timestamp: Date.now() });
  assert.equal(ack.success, true, JSON.stringify(ack));
  assert.equal(ack.newVersion, '1');
  const stop = await invalidated(c.gm.rec, (e) => e.reason === 'depth' && e.id === session.id, 15000);
  assert.deepEqual(stop, { campaignId: c.id, entity: 'gameState', id: session.id, reason: 'depth', rule: odd.id });
  const state = expectOk(await emitAck(c.gm.s, 'gameState:requestFull', session.id)).gameState;
  assert.equal(state.pluginData.n, 9, 'eight rule writes: 1 -> 9');
  assert.equal(state.stateVersion, '9');
  const fired = c.gm.rec.data('state_invalidated', (e) => e.id === session.id && e.reason === 'rule');
  assert.deepEqual(fired.map((e) => e.rule), [odd.id, even.id, odd.id, even.id, odd.id, even.id, odd.id, even.id]);
});

// ---- a burst of game-state updates with the rules worker dying -------------

const HP = 'pluginData.hp';

// A GM's writer of one session that follows the version (rules write too).
function writer(socket, sessionId) {
  let version = '0';
  return async (operations) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const ack = await emitAck(socket, 'gameState:update', {
        id: crypto.randomUUID(), sessionId, version, operations, timestamp: Date.now(),
      }, 10000);
      if (ack.success) { version = ack.newVersion; return version; }
      const err = expectError(ack, 'VERSION_CONFLICT');
      version = err.currentVersion;
    }
    throw new Error('50 version conflicts in a row');
  };
}

// Every applied update of the session, in order (the log holds them all).
async function history(socket, sessionId) {
  const sync = expectOk(await emitAck(socket, 'gameState:sync', { sessionId, sinceVersion: '0' }));
  assert.equal(sync.full, undefined, 'the log holds every update');
  return sync.updates;
}

// Replay the log: every rules update must be justified - its rule's when
// was true at the version it was based on, and false at some version
// between the previous application and it (the mark was cleared). A
// duplicated or restarted runner applying one transition twice breaks it.
function checkOnce(updates, t) {
  let hp = null;
  const hpAt = new Map([[0, null]]);
  let rulesApplied = 0, lastApplied = -1, falseSince = true;
  const falseAt = [];
  for (const u of updates) {
    const v = Number(u.version);
    assert.equal(Number(u.previousVersion), v - 1, 'versions follow each other');
    if (u.source === 'rules' && u.operations[0].path !== 'pluginData.probed') {
      assert.deepEqual(u.operations, [{ operation: 'inc', path: 'pluginData.downs', value: 1 }]);
      const base = v - 1;
      assert.ok(hpAt.get(base) !== null && hpAt.get(base) <= 0, `rules update ${v}: when was true at ${base}`);
      assert.ok(falseSince, `rules update ${v}: no version with hp > 0 since the last application at ${lastApplied}: applied twice`);
      rulesApplied += 1;
      lastApplied = v;
      falseSince = false;
    }
    for (const op of u.operations) if (op.path === HP) hp = op.value;
    hpAt.set(v, hp);
    if (hp !== null && hp > 0) { falseSince = true; falseAt.push(v); }
  }
  t.diagnostic(`${updates.length} updates, ${rulesApplied} by the rules, ${falseAt.length} versions with hp > 0`);
  return rulesApplied;
}

async function burst(t, sys, c, { kill }) {
  const rule = await createRule(c.gm.s, c.id, { name: 'Downs', on: 'gameState', when: `${HP} <= 0`,
    then: [{ operation: 'inc', path: 'pluginData.downs', value: 1 }] });
  const probe = await createRule(c.gm.s, c.id, { name: 'Probe', on: 'gameState', when: 'pluginData.probe == 1',
    then: [{ operation: 'set', path: 'pluginData.probed', value: true }] });
  const session = expectOk(await emitAck(c.gm.s, 'gameSession:create', { campaignId: c.id, name: 'Burst' }));
  const write = writer(c.gm.s, session.id);
  await write([{ operation: 'set', path: HP, value: 5 }, { operation: 'set', path: 'pluginData.downs', value: 0 }]);
  // the broker counts a SIGKILLed worker until its liveness runs out, and
  // routes requests to it meanwhile: the test ends once it is dropped, so
  // the next one's requests meet live workers only
  const dropped = kill && sys.proc('broker').waitOutput(/INFO worker \S+ lost \(silent for \d+ ms\): service 'rules'/, 20000);
  for (let i = 0; i < 200; i++) {
    if (kill && i === 80) await sys.kill('rules', 'SIGKILL');
    if (kill && i === 110) await sys.start('rules');
    // hp stays at 0 for three writes, then 5 for one: a runner that fired
    // again while the when stays true would apply twice in a row
    await write([{ operation: 'set', path: HP, value: i % 4 === 3 ? 5 : 0 },
      { operation: 'set', path: 'pluginData.tick', value: i }]);
  }
  // the runner (a new one after the kill) has evaluated the last write. A
  // restarted worker's subscription takes a moment to reach the publishers
  // (ZeroMQ's slow joiner; the bus is lossy by design): what it published
  // before is never heard, so the probe goes again (a new transition: 0,
  // then 1) until it is
  for (let n = 1; ; n++) {
    await write([{ operation: 'set', path: 'pluginData.probe', value: 1 }]);
    try {
      await invalidated(c.gm.rec, (e) => e.rule === probe.id && e.id === session.id, 3000);
      break;
    } catch (e) {
      if (n === 5) throw e;
      t.diagnostic(`probe ${n} not heard: again`);
    }
    await write([{ operation: 'set', path: 'pluginData.probe', value: 0 }]);
  }
  const updates = await history(c.gm.s, session.id);
  const applied = checkOnce(updates, t);
  assert.ok(applied >= 1, 'the rule applied');
  const state = expectOk(await emitAck(c.gm.s, 'gameState:requestFull', session.id)).gameState;
  assert.equal(state.pluginData.downs, applied, 'each application counted once');
  assert.equal(state.pluginData.probed, true);
  assert.ok(c.gm.rec.count('state_invalidated', (e) => e.rule === rule.id) <= applied,
    'no state_invalidated without its application');
  if (dropped) await dropped;
}

h.test('SIGKILL the rules worker in the middle of a burst of 200 updates, start a new one: no effect applied twice', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 0, outsider: false, prefix: 'rk' });
  t.after(c.close);
  await burst(t, sys, c, { kill: true });
});

h.test('two rules workers at once apply each transition once', async (t, sys) => {
  // (the SIGKILLed worker of the test before has been dropped by now)
  await sys.start('rules-2');
  await sys.proc('rules-2').waitOutput(/INFO registered with broker/, 10000);
  await sys.waitHealth({ status: 200, pred: (b) => b?.services?.rules?.workers === 2 });
  const c = await setupCampaign(sys, { players: 0, outsider: false, prefix: 'r2' });
  t.after(c.close);
  await burst(t, sys, c, { kill: false });
});

h.test('REST: rules of a campaign (create, list, test, delete) for its GMs', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'rr' });
  t.after(c.close);
  const gm = sys.token({ sub: c.gm.id });
  const def = { name: 'Down', on: 'actor', when: DOWN, then: [{ operation: 'push', path: 'conditions', value: 'unconscious' }] };
  const made = await rest(sys, gm, 'POST', `/campaigns/${c.id}/rules`, def);
  assert.equal(made.status, 201, made.text);
  assert.equal(made.body.name, 'Down');
  const listed = await rest(sys, gm, 'GET', `/campaigns/${c.id}/rules`);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body, [made.body]);
  const tested = await rest(sys, gm, 'POST', `/campaigns/${c.id}/rules/test`, { rule: def, entity: { hp: 0, conditions: [] } });
  assert.equal(tested.status, 200, tested.text);
  assert.equal(tested.body.fires, true);
  expectRestError(await rest(sys, sys.token({ sub: c.p1.id }), 'GET', `/campaigns/${c.id}/rules`), 403, 'FORBIDDEN');
  expectRestError(await rest(sys, gm, 'POST', `/campaigns/${c.id}/rules`, { ...def, when: 'hp <' }), 400, 'VALIDATION_ERROR');
  const nul = await rest(sys, gm, 'POST', `/campaigns/${c.id}/rules`, { ...def, when: 'true\u0000 and false' });
  expectRestError(nul, 400, 'VALIDATION_ERROR');
  assert.match(nul.body.error.message, /NUL/);
  assert.deepEqual((await rest(sys, gm, 'GET', `/campaigns/${c.id}/rules`)).body, [made.body], 'nothing stored');
  const del = await rest(sys, gm, 'DELETE', `/campaigns/${c.id}/rules/${made.body.id}`);
  assert.ok(del.status === 200 || del.status === 204, del.text);
  expectRestError(await rest(sys, gm, 'DELETE', `/campaigns/${c.id}/rules/${made.body.id}`), 404, 'NOT_FOUND');
});
