// Chat end to end: chat:send reaches every member of the room including the
// sender, the ack carries the message, the 2,000 character limit, who may
// chat, and chat:history (the last 100, oldest first, limit honoured).
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import { uid, quiet, setupCampaign, tab, subscribeOk, settle } from './lib/campaign.mjs';

const h = useSystem({ workers: 1, gateways: 2 });

h.test('chat:send: every member gets chat:message, the sender included; the ack is the message', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, prefix: 'hs', gateways: { p2: 'gateway-2' } });
  const { gm, p1, p2, out } = c;
  const p1b = await tab(sys, p1);              // a tab of a member that did not subscribe
  await settle();
  const before = Date.now();
  const msg = expectOk(await emitAck(p1.s, 'chat:send', { room: c.room, text: 'Hello, table! ¿Qué tal? 🎲' }));
  assert.equal(typeof msg.id, 'string');
  assert.ok(msg.id.length > 0);
  assert.equal(msg.room, c.room);
  assert.equal(msg.userId, p1.id);
  assert.equal(msg.name, p1.name);
  assert.equal(msg.text, 'Hello, table! ¿Qué tal? 🎲');
  assert.equal(typeof msg.ts, 'number');
  assert.ok(msg.ts >= before - 2000 && msg.ts <= Date.now() + 2000, 'ts in ms near now');
  assert.deepEqual(Object.keys(msg).sort(), ['id', 'name', 'room', 'text', 'ts', 'userId']);
  for (const u of [gm, p1, p2]) {
    assert.deepEqual(await u.rec.waitFor('chat:message', (m) => m.id === msg.id), msg, `${u.id} got the message`);
  }
  const m2 = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: 'second' }));
  assert.notEqual(m2.id, msg.id);
  for (const u of [gm, p1, p2]) await u.rec.waitFor('chat:message', (m) => m.id === m2.id);
  await quiet();
  for (const u of [gm, p1, p2]) {
    assert.deepEqual(u.rec.data('chat:message').map((m) => m.text), ['Hello, table! ¿Qué tal? 🎲', 'second'],
      `${u.id}: each once, in order`);
  }
  assert.deepEqual(p1b.rec.names('chat:'), [], 'not to a connection that did not subscribe');
  assert.deepEqual(out.rec.names('chat:'), [], 'not to an outsider');
  p1b.s.disconnect();
  c.close();
});

h.test('text limits: 2,000 characters ok, 2,001 VALIDATION_ERROR, empty or non-string refused', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'hl' });
  const { gm, p1 } = c;
  const max = 'x'.repeat(2000);
  const m = expectOk(await emitAck(gm.s, 'chat:send', { room: c.room, text: max }));
  assert.equal(m.text, max);
  assert.equal((await p1.rec.waitFor('chat:message', (x) => x.id === m.id)).text.length, 2000);
  for (const bad of [{ room: c.room, text: 'x'.repeat(2001) }, { room: c.room, text: '' }, { room: c.room, text: 5 },
    { room: c.room }, { text: 'no room' }, { room: 'not a room', text: 'x' }, 'hello', null]) {
    const ack = await emitAck(gm.s, 'chat:send', bad);
    assert.equal(ack.success, false, `${JSON.stringify(bad).slice(0, 60)} refused`);
    expectError(ack, 'VALIDATION_ERROR');
  }
  await quiet();
  assert.deepEqual(p1.rec.data('chat:message').map((x) => x.text.length), [2000], 'refused messages are not sent');
  const hist = expectOk(await emitAck(p1.s, 'chat:history', { room: c.room }));
  assert.deepEqual(hist.map((x) => x.id), [m.id], 'nor kept');
  c.close();
});

h.test('the limit counts characters, not bytes', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 0, outsider: false, prefix: 'hc' });
  const text = 'é'.repeat(2000);                    // 2,000 characters, 4,000 bytes
  const m = expectOk(await emitAck(c.gm.s, 'chat:send', { room: c.room, text }));
  assert.equal(m.text, text);
  expectError(await emitAck(c.gm.s, 'chat:send', { room: c.room, text: `${text}é` }), 'VALIDATION_ERROR');
  c.close();
});

h.test('who may chat: members of the room; outsiders and other users\' rooms FORBIDDEN', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, prefix: 'hw' });
  const { gm, p1, out } = c;
  expectError(await emitAck(out.s, 'chat:send', { room: c.room, text: 'let me in' }), 'FORBIDDEN');
  expectError(await emitAck(out.s, 'chat:history', { room: c.room }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'chat:send', { room: `${c.room}:gm`, text: 'psst' }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'chat:send', { room: `user:${gm.id}`, text: 'dm?' }), 'FORBIDDEN');
  expectError(await emitAck(p1.s, 'chat:send', { room: `campaign:${uid('nope')}`, text: 'x' }), 'FORBIDDEN');
  // A member may chat without being subscribed; they just do not hear it.
  const p1b = await tab(sys, p1);
  const m = expectOk(await emitAck(p1b.s, 'chat:send', { room: c.room, text: 'from an unsubscribed tab' }));
  assert.equal(m.userId, p1.id);
  await gm.rec.waitFor('chat:message', (x) => x.id === m.id);
  await p1.rec.waitFor('chat:message', (x) => x.id === m.id);
  // One's own user room is a room one may subscribe to.
  await subscribeOk(p1b.s, `user:${p1.id}`);
  const own = expectOk(await emitAck(p1.s, 'chat:send', { room: `user:${p1.id}`, text: 'note to self' }));
  await p1b.rec.waitFor('chat:message', (x) => x.id === own.id);
  await quiet();
  assert.deepEqual(out.rec.names('chat:'), []);
  assert.equal(gm.rec.count('chat:message', (x) => x.id === own.id), 0, 'a user room is private');
  p1b.s.disconnect();
  c.close();
});

h.test('chat:history keeps the last 100, oldest first, and honours limit', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: false, prefix: 'hh' });
  const { gm, p1 } = c;
  assert.deepEqual(expectOk(await emitAck(p1.s, 'chat:history', { room: c.room })), [], 'empty at first');
  const N = 105;
  const sent = [];
  for (let i = 0; i < N; i++) {
    const who = i % 2 ? p1 : gm;
    sent.push(expectOk(await emitAck(who.s, 'chat:send', { room: c.room, text: `message ${i}` })));
  }
  const all = expectOk(await emitAck(p1.s, 'chat:history', { room: c.room }));
  assert.equal(all.length, 100);
  assert.deepEqual(all.map((m) => m.text), sent.slice(N - 100).map((m) => m.text), 'the last 100, oldest first');
  assert.deepEqual(all, sent.slice(N - 100), 'stored exactly as acked');
  const ten = expectOk(await emitAck(gm.s, 'chat:history', { room: c.room, limit: 10 }));
  assert.deepEqual(ten.map((m) => m.id), sent.slice(N - 10).map((m) => m.id), 'limit: the last n');
  const one = expectOk(await emitAck(gm.s, 'chat:history', { room: c.room, limit: 1 }));
  assert.deepEqual(one, [sent[N - 1]]);
  const hundred = expectOk(await emitAck(gm.s, 'chat:history', { room: c.room, limit: 100 }));
  assert.equal(hundred.length, 100);
  for (const bad of [0, 101, -1, 'ten', 2.5]) {
    expectError(await emitAck(gm.s, 'chat:history', { room: c.room, limit: bad }), 'VALIDATION_ERROR');
  }
  expectError(await emitAck(gm.s, 'chat:history', { room: 'junk' }), 'VALIDATION_ERROR');
  // History is per room.
  const c2 = await setupCampaign(sys, { players: 0, outsider: false, subscribe: false, prefix: 'hh2' });
  assert.deepEqual(expectOk(await emitAck(c2.gm.s, 'chat:history', { room: c2.room })), []);
  c2.close();
  c.close();
});
