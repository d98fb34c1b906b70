// Dice end to end (issue 11, part 1): `roll` through the gateway, the broker
// and parley-rules. The faces are fair (chi-square over 20,000 rolls of
// 1d20), kh/kl keep the right dice, every limit is refused with a message
// naming the problem and nothing is sent or kept, an outsider cannot roll
// into a room, a secret roll reaches the GMs only, a public roll is in
// chat:history as kind "roll", and REST rolls too.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import { uid, quiet, setupCampaign, tab, subscribeOk, rest, expectRestError } from './lib/campaign.mjs';

const h = useSystem({ workers: 1 });

const ROLL_KEYS = ['expression', 'id', 'label', 'modifier', 'name', 'rolls', 'room', 'secret', 'total', 'ts', 'userId'];

// Chi-square critical value for 19 degrees of freedom at p = 0.001: a fair
// d20 exceeds it once in a thousand runs; a biased one (see the control in
// the test) by far.
const CHI2_19_P001 = 43.82;

function chiSquare(counts, expected) {
  return counts.reduce((acc, o) => acc + (o - expected) ** 2 / expected, 0);
}

// Send `count` requests of `event` with arg(i), at most `window` in flight
// on the socket; resolves with the acks in order.
async function pipelined(socket, event, count, arg, window = 32) {
  const acks = new Array(count);
  let next = 0;
  async function lane() {
    while (next < count) {
      const i = next++;
      acks[i] = await emitAck(socket, event, arg(i), 15000);
    }
  }
  await Promise.all(Array.from({ length: window }, lane));
  return acks;
}

const sumOf = (a) => a.reduce((x, y) => x + y, 0);
const desc = (a) => [...a].sort((x, y) => y - x);

h.test('20,000 rolls of 1d20 pass a chi-square test at p = 0.001 (and a biased die would not)', async (t, sys) => {
  // A member rolls into the campaign room without being subscribed: no
  // 20,000 pushes, the same handler.
  const c = await setupCampaign(sys, { players: 0, outsider: false, subscribe: false, prefix: 'dx' });
  const N = 20000;
  const acks = await pipelined(c.gm.s, 'roll', N, () => ({ room: c.room, expression: '1d20' }));
  const counts = new Array(20).fill(0);
  const ids = new Set();
  for (const ack of acks) {
    const r = expectOk(ack);
    assert.equal(r.rolls.length, 1);
    assert.equal(r.rolls[0].die, '1d20');
    assert.equal(r.rolls[0].results.length, 1);
    const face = r.rolls[0].results[0];
    assert.ok(Number.isInteger(face) && face >= 1 && face <= 20, `face ${face} in 1..20`);
    assert.deepEqual(r.rolls[0].kept, [face]);
    assert.equal(r.modifier, 0);
    assert.equal(r.total, face);
    counts[face - 1]++;
    ids.add(r.id);
  }
  assert.equal(ids.size, N, 'every roll has its own id');
  const chi2 = chiSquare(counts, N / 20);
  t.diagnostic(`1d20 x ${N}: counts ${counts.join(' ')}; chi-square ${chi2.toFixed(2)} (critical ${CHI2_19_P001})`);
  assert.ok(chi2 < CHI2_19_P001, `chi-square ${chi2.toFixed(2)} >= ${CHI2_19_P001}: the d20 is not fair (counts ${counts.join(' ')})`);
  // The control: the same statistic on counts with one face 25 % heavier
  // than the rest is far past the critical value, so this test can fail.
  const heavy = counts.map((_, i) => (i === 0 ? 1250 : (N - 1250) / 19));
  assert.ok(chiSquare(heavy, N / 20) > CHI2_19_P001, 'a 25 % heavier face is caught');
  // The history keeps only the last 100 of them, each as kind "roll".
  const hist = expectOk(await emitAck(c.gm.s, 'chat:history', { room: c.room }));
  assert.equal(hist.length, 100);
  assert.ok(hist.every((m) => m.kind === 'roll' && ids.has(m.id)), 'the history holds rolls of this test');
  c.close();
});

h.test('4d6kh3 keeps the three highest, 2d20kl1 the lowest, d% is 1d100, modifiers add up', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 0, outsider: false, subscribe: false, prefix: 'dk' });
  const acks = await pipelined(c.gm.s, 'roll', 300, (i) => ({
    room: c.room, expression: ['4d6kh3', '2d20kl1', 'd% + 3 - 1d4'][i % 3],
  }));
  for (const [i, ack] of acks.entries()) {
    const r = expectOk(ack);
    if (i % 3 === 0) {
      assert.equal(r.expression, '4d6kh3');
      const [d] = r.rolls;
      assert.equal(d.die, '4d6kh3');
      assert.equal(d.results.length, 4);
      assert.ok(d.results.every((f) => Number.isInteger(f) && f >= 1 && f <= 6));
      assert.equal(d.kept.length, 3);
      assert.deepEqual(desc(d.kept), desc(d.results).slice(0, 3), `kept ${d.kept} of ${d.results}: the three highest`);
      assert.equal(r.total, sumOf(d.kept));
    } else if (i % 3 === 1) {
      const [d] = r.rolls;
      assert.equal(d.die, '2d20kl1');
      assert.equal(d.results.length, 2);
      assert.deepEqual(d.kept, [Math.min(...d.results)]);
      assert.equal(r.total, Math.min(...d.results));
    } else {
      assert.equal(r.expression, '1d100+3-1d4');
      assert.equal(r.rolls.length, 2);
      const [pct, d4] = r.rolls;
      assert.equal(pct.die, '1d100');
      assert.ok(pct.results[0] >= 1 && pct.results[0] <= 100);
      assert.equal(d4.die, '-1d4');
      assert.ok(d4.results[0] >= 1 && d4.results[0] <= 4);
      assert.equal(r.modifier, 3);
      assert.equal(r.total, pct.kept[0] + 3 - d4.kept[0]);
    }
  }
  // Across 100 rolls of 4d6kh3 the dropped die is not always the last one
  // drawn: kept is chosen by value, not by position.
  const dropped = acks.filter((_, i) => i % 3 === 0).map((a) => {
    const d = a.data.rolls[0];
    return d.results.indexOf(Math.min(...d.results));
  });
  assert.ok(new Set(dropped).size > 1, 'the lowest die is found wherever it was drawn');
  // Whitespace and case are allowed; the ack names the canonical form.
  const r = expectOk(await emitAck(c.gm.s, 'roll', { room: c.room, expression: ' 3D8  + 2 ', label: 'Fireball' }));
  assert.equal(r.expression, '3d8+2');
  assert.equal(r.label, 'Fireball');
  assert.equal(r.total, sumOf(r.rolls[0].kept) + 2);
  c.close();
});

h.test('the roll reaches every member of the room, the roller included; the ack is the same roll', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, prefix: 'dr' });
  const { gm, p1, p2, out } = c;
  const before = Date.now();
  const r = expectOk(await emitAck(p1.s, 'roll', { room: c.room, expression: '1d20+5', label: 'Initiative' }));
  assert.deepEqual(Object.keys(r).sort(), ROLL_KEYS);
  assert.equal(r.room, c.room);
  assert.equal(r.userId, p1.id);
  assert.equal(r.name, p1.name);
  assert.equal(r.label, 'Initiative');
  assert.equal(r.secret, false);
  assert.equal(r.expression, '1d20+5');
  assert.equal(r.modifier, 5);
  assert.equal(r.total, r.rolls[0].results[0] + 5);
  assert.ok(r.ts >= before - 2000 && r.ts <= Date.now() + 2000);
  for (const u of [gm, p1, p2]) {
    assert.deepEqual(await u.rec.waitFor('roll:result', (x) => x.id === r.id), r, `${u.id} got the roll`);
  }
  const plain = expectOk(await emitAck(gm.s, 'roll', { room: c.room, expression: 'd6' }));
  assert.equal(plain.label, null, 'no label: null');
  for (const u of [gm, p1, p2]) await u.rec.waitFor('roll:result', (x) => x.id === plain.id);
  await quiet();
  for (const u of [gm, p1, p2]) assert.equal(u.rec.count('roll:result'), 2, `${u.id}: each roll once`);
  assert.deepEqual(out.rec.names('roll'), [], 'not to an outsider');
  c.close();
});

h.test('limits: 101 dice, 1001 sides, 21 terms, 201 characters, garbage, NUL -> VALIDATION_ERROR naming the problem; nothing sent or kept', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'dl' });
  const { gm, p1 } = c;
  // at the limits: accepted
  const max = expectOk(await emitAck(gm.s, 'roll', { room: c.room, expression: '100d1000' }));
  assert.equal(max.rolls[0].results.length, 100);
  assert.ok(max.rolls[0].results.every((f) => f >= 1 && f <= 1000));
  const twenty = `1d2${'+1'.repeat(19)}`;
  expectOk(await emitAck(gm.s, 'roll', { room: c.room, expression: twenty }));
  const long200 = `d6${' '.repeat(198)}`;
  assert.equal(long200.length, 200);
  expectOk(await emitAck(gm.s, 'roll', { room: c.room, expression: long200 }));
  expectOk(await emitAck(gm.s, 'roll', { room: c.room, expression: '50d6+50d6', label: 'x'.repeat(200) }));
  const accepted = 4;
  // past them: refused, each with its reason
  const cases = [
    ['101d6', /more than 100 dice/],
    ['60d6+41d6', /more than 100 dice/],
    ['1d1001', /more than 1000/],
    [`1d2${'+1'.repeat(20)}`, /more than 20 terms/],
    [`d6${' '.repeat(199)}`, /longer than 200/],
    ['fireball', /at 1: expected/],
    ['2d6 3', /at 5: expected \+ or -/],
    ['4d6kh5', /can keep 1 to 4 of 4 dice/],
    ['d0', /at least one side/],
    ['7', /at least one die/],
    ['', /empty/],
    ['1d6\u0000+2', /NUL/],
    ['\u0000', /NUL/],
  ];
  for (const [expression, why] of cases) {
    const err = expectError(await emitAck(gm.s, 'roll', { room: c.room, expression }), 'VALIDATION_ERROR');
    assert.match(err.message, why, `${JSON.stringify(expression).slice(0, 40)}: ${err.message}`);
  }
  for (const [arg, why] of [
    [{ room: c.room, expression: 20 }, /expression a string/],
    [{ room: c.room }, /expression a string/],
    [{ expression: '1d6' }, /room a string/],
    [{ room: 'nowhere', expression: '1d6' }, /./],
    [{ room: c.room, expression: '1d6', label: 'x'.repeat(201) }, /label/],
    [{ room: c.room, expression: '1d6', label: 7 }, /label/],
    [{ room: c.room, expression: '1d6', secret: 'yes' }, /secret/],
    [{ room: `${c.room}\u0000`, expression: '1d6' }, /NUL/],
    ['1d6', /expression a string/],
    [null, /./],
  ]) {
    const err = expectError(await emitAck(gm.s, 'roll', arg), 'VALIDATION_ERROR');
    assert.match(err.message, why, `${JSON.stringify(arg).slice(0, 60)}: ${err.message}`);
  }
  // the positive control: a roll after the refusals arrives
  const last = expectOk(await emitAck(gm.s, 'roll', { room: c.room, expression: '1d4' }));
  await p1.rec.waitFor('roll:result', (x) => x.id === last.id);
  await quiet();
  assert.equal(p1.rec.count('roll:result'), accepted + 1, 'refused rolls are not sent');
  const hist = expectOk(await emitAck(p1.s, 'chat:history', { room: c.room }));
  assert.equal(hist.length, accepted + 1, 'nor kept');
  c.close();
});

h.test('an outsider cannot roll into a room (FORBIDDEN); nor anyone into another user\'s room or the GM room', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, prefix: 'do' });
  const { gm, p1, out } = c;
  const err = expectError(await emitAck(out.s, 'roll', { room: c.room, expression: '1d20' }), 'FORBIDDEN');
  assert.match(err.message, /not a member/);
  expectError(await emitAck(out.s, 'roll', { room: c.room, expression: '1d20', secret: true }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'roll', { room: `user:${gm.id}`, expression: '1d20' }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'roll', { room: `${c.room}:gm`, expression: '1d20' }), 'FORBIDDEN');
  expectError(await emitAck(out.s, 'roll', { room: `campaign:${uid('nope')}`, expression: '1d20' }), 'FORBIDDEN');
  // a member may roll in their own user room: only their connections hear it
  const own = expectOk(await emitAck(p1.s, 'roll', { room: `user:${p1.id}`, expression: '1d20' }));
  await p1.rec.waitFor('roll:result', (x) => x.id === own.id);
  // the positive control in the campaign room
  const ok = expectOk(await emitAck(p1.s, 'roll', { room: c.room, expression: '1d20' }));
  await gm.rec.waitFor('roll:result', (x) => x.id === ok.id);
  await quiet();
  assert.deepEqual(gm.rec.data('roll:result').map((x) => x.id), [ok.id], 'the GM heard only the campaign roll');
  assert.deepEqual(out.rec.names('roll'), []);
  const hist = expectOk(await emitAck(gm.s, 'chat:history', { room: c.room }));
  assert.deepEqual(hist.map((m) => m.id), [ok.id], 'the refused rolls left nothing');
  c.close();
});

h.test('a secret roll reaches only the GMs: the player receives nothing, the GM\'s other tab receives roll:result', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'ds' });
  const { gm, p1 } = c;
  const gm2 = await tab(sys, gm);                          // the GM's other tab
  await subscribeOk(gm2.s, c.room);                         // joins campaign:<id>:gm with it
  // the subscription reaches the bus asynchronously: wait until the other
  // tab hears a secret roll (not a fixed sleep); these reach no player either
  let probe = null;
  for (let i = 0; i < 20 && !probe; i++) {
    const p = expectOk(await emitAck(gm.s, 'roll', { room: c.room, expression: '1d4', label: 'probe', secret: true }));
    probe = await gm2.rec.waitFor('roll:result', (x) => x.id === p.id, 500).catch(() => null);
  }
  assert.ok(probe, 'the other tab hears the GM room');
  const s = expectOk(await emitAck(gm.s, 'roll', { room: c.room, expression: '1d20', label: 'Perception (hidden)', secret: true }));
  assert.equal(s.secret, true);
  assert.equal(s.room, c.room);
  assert.deepEqual(await gm2.rec.waitFor('roll:result', (x) => x.id === s.id), s, 'the other tab has it');
  assert.deepEqual(await gm.rec.waitFor('roll:result', (x) => x.id === s.id), s);
  // positive control: a public roll reaches the player
  const pub = expectOk(await emitAck(gm.s, 'roll', { room: c.room, expression: '1d20' }));
  await p1.rec.waitFor('roll:result', (x) => x.id === pub.id);
  await quiet();
  assert.equal(p1.rec.count('roll:result', (x) => x.id === s.id), 0, 'the player never hears the secret roll');
  assert.equal(p1.rec.count('roll:result'), 1);
  // nor reads it in the history
  const hist = expectOk(await emitAck(p1.s, 'chat:history', { room: c.room }));
  assert.deepEqual(hist.map((m) => m.id), [pub.id], 'a secret roll is not kept in the room\'s history');
  // a player may not roll secretly; a room with no campaign cannot hold one
  const f = expectError(await emitAck(p1.s, 'roll', { room: c.room, expression: '1d20', secret: true }), 'FORBIDDEN');
  assert.match(f.message, /GM/);
  const v = expectError(await emitAck(gm.s, 'roll', { room: `user:${gm.id}`, expression: '1d20', secret: true }), 'VALIDATION_ERROR');
  assert.match(v.message, /campaign/);
  // secret: false is a public roll
  const nf = expectOk(await emitAck(p1.s, 'roll', { room: c.room, expression: '1d6', secret: false }));
  assert.equal(nf.secret, false);
  await gm2.rec.waitFor('roll:result', (x) => x.id === nf.id);
  // in a game session's room, a secret roll goes to that campaign's GMs
  const sess = expectOk(await emitAck(gm.s, 'gameSession:create', { campaignId: c.id, name: 'Night one' }));
  expectOk(await emitAck(p1.s, 'gameSession:join', sess.id));
  const ss = expectOk(await emitAck(gm.s, 'roll', { room: `session:${sess.id}`, expression: '2d20kh1', secret: true }));
  await gm2.rec.waitFor('roll:result', (x) => x.id === ss.id);
  const sp = expectOk(await emitAck(gm.s, 'roll', { room: `session:${sess.id}`, expression: '1d8' }));
  await p1.rec.waitFor('roll:result', (x) => x.id === sp.id);
  expectError(await emitAck(p1.s, 'roll', { room: `session:${sess.id}`, expression: '1d8', secret: true }), 'FORBIDDEN');
  await quiet();
  assert.equal(p1.rec.count('roll:result', (x) => x.secret), 0, 'the player heard no secret roll at all');
  gm2.s.disconnect();
  c.close();
});

h.test('chat:history shows a public roll as a message of kind "roll", between the text messages', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'dh' });
  const { gm, p1 } = c;
  const m1 = expectOk(await emitAck(p1.s, 'chat:send', { room: c.room, text: 'I attack the ogre' }));
  const r = expectOk(await emitAck(p1.s, 'roll', { room: c.room, expression: '1d20+7', label: 'Attack' }));
  const m2 = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: 'It hits.' }));
  const hist = expectOk(await emitAck(gm.s, 'chat:history', { room: c.room }));
  assert.deepEqual(hist.map((m) => m.id), [m1.id, r.id, m2.id], 'in order');
  assert.equal(hist[0].kind, undefined, 'a text message has no kind');
  const { kind, text, ...rest } = hist[1];
  assert.equal(kind, 'roll');
  assert.deepEqual(rest, r, 'the history entry is the roll');
  assert.equal(text, `Attack: 1d20+7 = ${r.total}`);
  // the session room has a history of its own
  const sess = expectOk(await emitAck(gm.s, 'gameSession:create', { campaignId: c.id, name: 'S' }));
  const sr = expectOk(await emitAck(p1.s, 'roll', { room: `session:${sess.id}`, expression: 'd%' }));
  const sh = expectOk(await emitAck(p1.s, 'chat:history', { room: `session:${sess.id}` }));
  assert.deepEqual(sh.map((m) => [m.id, m.kind, m.text]), [[sr.id, 'roll', `1d100 = ${sr.total}`]]);
  c.close();
});

h.test('REST: POST /api/v1/rooms/{room}/rolls rolls like the event, 201, and the room hears it', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, prefix: 'dw' });
  const { gm, p1, out } = c;
  const tok = sys.token({ sub: gm.id, name: gm.name });
  const room = encodeURIComponent(c.room);
  const res = await rest(sys, tok, 'POST', `/rooms/${room}/rolls`, { expression: '4d6kh3', label: 'REST' });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ROLL_KEYS);
  assert.equal(res.body.room, c.room);
  assert.equal(res.body.userId, gm.id);
  assert.deepEqual(await p1.rec.waitFor('roll:result', (x) => x.id === res.body.id), res.body);
  expectRestError(await rest(sys, tok, 'POST', `/rooms/${room}/rolls`, { expression: '101d6' }), 400, 'VALIDATION_ERROR');
  expectRestError(await rest(sys, sys.token({ sub: out.id }), 'POST', `/rooms/${room}/rolls`, { expression: '1d6' }), 403, 'FORBIDDEN');
  expectRestError(await rest(sys, sys.token({ sub: p1.id }), 'POST', `/rooms/${room}/rolls`, { expression: '1d6', secret: true }), 403, 'FORBIDDEN');
  const hist = await rest(sys, tok, 'GET', `/rooms/${room}/messages`);
  assert.equal(hist.status, 200);
  assert.deepEqual(hist.body.map((m) => [m.id, m.kind]), [[res.body.id, 'roll']]);
  c.close();
});
