// The actors service end to end through socket.io-client: CRUD, validation,
// versions, ownership, unknown events and events sent without an ack.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError, eventually } from './lib/system.mjs';

const h = useSystem({ workers: 1 });

h.test('create, get, update twice, list and delete', async (t, sys) => {
  const s = await sys.user('crud-user', 'Crud User');
  const before = Date.now();
  const input = {
    name: 'Aragorn', type: 'pc',
    stats: { str: 18, dex: 14, nested: { deep: [1, 'two', { three: 3 }] } },
    tags: ['ranger', 'king'], hp: 42.5, alive: true, notes: null,
    bio: 'Strider — «Dúnadan» 🗡️ 王',
  };
  const created = expectOk(await emitAck(s, 'actor:create', input));
  const after = Date.now();

  assert.equal(typeof created.id, 'string');
  assert.ok(created.id.length > 0);
  assert.equal(created.createdBy, 'crud-user');
  assert.equal(created.version, 1);
  assert.equal(typeof created.createdAt, 'number');
  assert.ok(created.createdAt >= before - 2000 && created.createdAt <= after + 2000,
    `createdAt ${created.createdAt} is in ms near now (${before}..${after})`);
  assert.equal(typeof created.updatedAt, 'number');
  assert.ok(created.updatedAt >= created.createdAt);
  for (const [k, v] of Object.entries(input)) assert.deepEqual(created[k], v, `field ${k} kept`);

  const got = expectOk(await emitAck(s, 'actor:get', created.id));
  assert.deepEqual(got, created);

  const u1 = expectOk(await emitAck(s, 'actor:update', { id: created.id, name: 'Strider', level: 5 }));
  assert.equal(u1.id, created.id);
  assert.equal(u1.version, 2);
  assert.equal(u1.name, 'Strider');
  assert.equal(u1.level, 5);
  assert.equal(u1.type, 'pc', 'fields not in the update are kept (shallow merge)');
  assert.deepEqual(u1.stats, input.stats);
  assert.equal(u1.createdAt, created.createdAt);
  assert.equal(u1.createdBy, 'crud-user');
  assert.ok(u1.updatedAt >= created.updatedAt);

  const u2 = expectOk(await emitAck(s, 'actor:update', { id: created.id, stats: { str: 19 } }));
  assert.equal(u2.version, 3);
  assert.deepEqual(u2.stats, { str: 19 }, 'shallow merge replaces a nested object whole');
  assert.equal(u2.name, 'Strider');
  assert.deepEqual(expectOk(await emitAck(s, 'actor:get', created.id)), u2);

  const list = expectOk(await emitAck(s, 'actor:list'));
  assert.ok(Array.isArray(list));
  assert.deepEqual(list.find((a) => a.id === created.id), u2);

  const del = await emitAck(s, 'actor:delete', created.id);
  assert.equal(del.success, true);
  expectError(await emitAck(s, 'actor:get', created.id), 'NOT_FOUND');
  expectError(await emitAck(s, 'actor:delete', created.id), 'NOT_FOUND');
  expectError(await emitAck(s, 'actor:update', { id: created.id, name: 'Ghost' }), 'NOT_FOUND');
  const list2 = expectOk(await emitAck(s, 'actor:list'));
  assert.equal(list2.find((a) => a.id === created.id), undefined);
  s.disconnect();
});

h.test('list returns only the caller\'s actors, oldest first', async (t, sys) => {
  const s = await sys.user('lister');
  const other = await sys.user('someone-else');
  expectOk(await emitAck(other, 'actor:create', { name: 'Not yours', type: 'npc' }));
  assert.deepEqual(expectOk(await emitAck(s, 'actor:list')), []);
  const ids = [];
  for (const name of ['first', 'second', 'third']) {
    ids.push(expectOk(await emitAck(s, 'actor:create', { name, type: 'npc' })).id);
  }
  const list = expectOk(await emitAck(s, 'actor:list'));
  assert.deepEqual(list.map((a) => a.id), ids);
  assert.ok(list.every((a) => a.createdBy === 'lister'));
  assert.equal(new Set(ids).size, 3, 'ids are unique');
  s.disconnect(); other.disconnect();
});

h.test('create validation errors', async (t, sys) => {
  const s = await sys.user('validator');
  const cases = {
    'missing name': { type: 'pc' },
    'empty name': { name: '', type: 'pc' },
    'non-string name': { name: 7, type: 'pc' },
    'missing type': { name: 'Typeless' },
    'non-string type': { name: 'Bad type', type: 5 },
    'null type': { name: 'Bad type', type: null },
    'string argument': 'Aragorn',
    'array argument': [{ name: 'A', type: 'pc' }],
    'number argument': 12,
    'null argument': null,
    'true argument': true,
  };
  for (const [what, arg] of Object.entries(cases)) {
    const err = expectError(await emitAck(s, 'actor:create', arg), 'VALIDATION_ERROR');
    assert.ok(err.message, what);
  }
  // No argument at all.
  expectError(await emitAck(s, 'actor:create'), 'VALIDATION_ERROR');
  // None of those was stored.
  assert.deepEqual(expectOk(await emitAck(s, 'actor:list')), []);
  s.disconnect();
});

h.test('get, update and delete validate their argument', async (t, sys) => {
  const s = await sys.user('validator2');
  for (const bad of [42, { id: 'x' }, null, ['x']]) {
    expectError(await emitAck(s, 'actor:get', bad), 'VALIDATION_ERROR');
    expectError(await emitAck(s, 'actor:delete', bad), 'VALIDATION_ERROR');
  }
  expectError(await emitAck(s, 'actor:get'), 'VALIDATION_ERROR');
  for (const bad of ['id-as-string', { name: 'no id' }, { id: 7, name: 'x' }, null, [1]]) {
    expectError(await emitAck(s, 'actor:update', bad), 'VALIDATION_ERROR');
  }
  const a = expectOk(await emitAck(s, 'actor:create', { name: 'Valid', type: 'pc' }));
  expectError(await emitAck(s, 'actor:update', { id: a.id, name: '' }), 'VALIDATION_ERROR');
  expectError(await emitAck(s, 'actor:update', { id: a.id, type: 3 }), 'VALIDATION_ERROR');
  const still = expectOk(await emitAck(s, 'actor:get', a.id));
  assert.equal(still.version, 1, 'a rejected update changes nothing');
  assert.equal(still.name, 'Valid');
  expectError(await emitAck(s, 'actor:get', 'no-such-id'), 'NOT_FOUND');
  s.disconnect();
});

h.test('server-set fields cannot be forged by the client', async (t, sys) => {
  const s = await sys.user('forger');
  const ack = await emitAck(s, 'actor:create',
    { name: 'Forged', type: 'pc', id: 'chosen-id', createdBy: 'admin', createdAt: 1, updatedAt: 1, version: 99 });
  if (ack.success) {
    const a = ack.data;
    assert.equal(a.createdBy, 'forger');
    assert.equal(a.version, 1);
    assert.ok(a.createdAt > 1);
    assert.notEqual(a.id, 'chosen-id');
    const u = await emitAck(s, 'actor:update', { id: a.id, createdBy: 'admin', version: 50, createdAt: 2 });
    if (u.success) {
      assert.equal(u.data.createdBy, 'forger');
      assert.equal(u.data.version, 2);
      assert.equal(u.data.createdAt, a.createdAt);
    } else {
      expectError(u, 'VALIDATION_ERROR');
    }
  } else {
    expectError(ack, 'VALIDATION_ERROR');
  }
  s.disconnect();
});

h.test('an unknown event with an ack gets UNKNOWN_EVENT', async (t, sys) => {
  const s = await sys.user('explorer');
  for (const ev of ['actor:explode', 'nope', 'actors:list', 'actor:list ']) {
    expectError(await emitAck(s, ev, { x: 1 }), 'UNKNOWN_EVENT');
  }
  // The connection is still fine afterwards.
  expectOk(await emitAck(s, 'actor:list'));
  s.disconnect();
});

h.test('an event sent without an ack callback is still processed', async (t, sys) => {
  const s = await sys.user('fire-and-forget');
  s.emit('actor:create', { name: 'No ack', type: 'npc' });
  const found = await eventually(async () => {
    const list = expectOk(await emitAck(s, 'actor:list'));
    return list.find((a) => a.name === 'No ack');
  }, { timeoutMs: 3000, what: 'the actor created without an ack shows in actor:list' });
  assert.equal(found.createdBy, 'fire-and-forget');
  assert.equal(found.version, 1);
  s.emit('actor:update', { id: found.id, name: 'Still no ack' });
  await eventually(async () => {
    const a = expectOk(await emitAck(s, 'actor:get', found.id));
    return a.version === 2 && a.name === 'Still no ack';
  }, { timeoutMs: 3000, what: 'the update sent without an ack is applied' });
  s.emit('actor:delete', found.id);
  await eventually(async () => (await emitAck(s, 'actor:get', found.id)).success === false,
    { timeoutMs: 3000, what: 'the delete sent without an ack is applied' });
  s.disconnect();
});

h.test('many requests in flight on one connection all get their own answer', async (t, sys) => {
  const s = await sys.user('burst');
  const n = 40;
  const acks = await Promise.all(Array.from({ length: n }, (_, i) =>
    emitAck(s, 'actor:create', { name: `burst-${i}`, type: 'npc', i })));
  const made = acks.map(expectOk);
  made.forEach((a, i) => assert.equal(a.i, i, 'each ack belongs to its own request'));
  assert.equal(new Set(made.map((a) => a.id)).size, n);
  const list = expectOk(await emitAck(s, 'actor:list'));
  assert.equal(list.length, n);
  s.disconnect();
});
