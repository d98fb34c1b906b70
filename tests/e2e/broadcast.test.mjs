// Change broadcasts: a user's other tabs (on this gateway and on another
// one) hear about actor:created/updated/deleted, the sending tab does not,
// and nobody else does. Other users cannot see or touch the actor.
import assert from 'node:assert/strict';
import {
  useSystem, emitAck, expectOk, expectError, recordEvents, waitEvent, sleep, OFFSET_RE,
} from './lib/system.mjs';

const h = useSystem({ workers: 1, gateways: 2 });

// Time allowed for an event that must NOT arrive to show up anyway. The
// positive deliveries are awaited first, so this only covers reordering.
const QUIET_MS = 400;
// A new tab's room subscription travels gateway SUB -> broker XPUB/XSUB ->
// worker PUB asynchronously (ZeroMQ's "slow joiner"); delivery is at most
// once, so give it a moment before the first change a new tab must see.
const SETTLE_MS = 150;

function actorEvents(seen) {
  return seen.filter((e) => e.event.startsWith('actor:'));
}

h.test('other tabs of the creator get created/updated/deleted; the sender and others do not', async (t, sys) => {
  const tab1 = await sys.user('alice', 'Alice');                      // sender, gateway 1
  const tab2 = await sys.user('alice', 'Alice');                      // gateway 1
  const tab3 = await sys.connectOk(sys.token({ sub: 'alice' }), { gateway: 'gateway-2' });
  const bob1 = await sys.user('bob');
  const bob2 = await sys.connectOk(sys.token({ sub: 'bob' }), { gateway: 'gateway-2' });
  // A sub that is a prefix of the creator's must not match its room.
  const al1 = await sys.user('al');
  const al2 = await sys.connectOk(sys.token({ sub: 'al' }), { gateway: 'gateway-2' });
  const quiet = { tab1: recordEvents(tab1), bob1: recordEvents(bob1), bob2: recordEvents(bob2), al1: recordEvents(al1), al2: recordEvents(al2) };
  const seen2 = recordEvents(tab2);
  const seen3 = recordEvents(tab3);
  await sleep(SETTLE_MS);

  // created
  let p2 = waitEvent(tab2, 'actor:created');
  let p3 = waitEvent(tab3, 'actor:created');
  const actor = expectOk(await emitAck(tab1, 'actor:create', { name: 'Gimli', type: 'pc', axe: { dmg: 8 } }));
  assert.deepEqual(await p2, actor);
  assert.deepEqual(await p3, actor);

  // updated
  p2 = waitEvent(tab2, 'actor:updated');
  p3 = waitEvent(tab3, 'actor:updated');
  const updated = expectOk(await emitAck(tab1, 'actor:update', { id: actor.id, name: 'Gimli son of Glóin' }));
  assert.equal(updated.version, 2);
  assert.deepEqual(await p2, updated);
  assert.deepEqual(await p3, updated);

  // deleted: the payload is the id as a plain string
  p2 = waitEvent(tab2, 'actor:deleted');
  p3 = waitEvent(tab3, 'actor:deleted');
  expectOk(await emitAck(tab1, 'actor:delete', actor.id));
  assert.equal(await p2, actor.id);
  assert.equal(await p3, actor.id);

  await sleep(QUIET_MS);
  for (const [who, seen] of Object.entries(quiet)) {
    assert.deepEqual(actorEvents(seen), [], `${who} received nothing`);
  }
  // Exactly one of each, each with exactly one argument, then its offset
  // (connection-state recovery, on by default), offsets in order.
  for (const seen of [seen2, seen3]) {
    assert.deepEqual(actorEvents(seen).map((e) => [e.event, e.args.length, OFFSET_RE.test(e.args[1])]),
      [['actor:created', 2, true], ['actor:updated', 2, true], ['actor:deleted', 2, true]]);
    const offsets = actorEvents(seen).map((e) => e.args[1]);
    assert.deepEqual([...offsets].sort(), offsets);
  }
  for (const s of [tab1, tab2, tab3, bob1, bob2, al1, al2]) s.disconnect();
});

h.test('a create sent without an ack still reaches the other tabs', async (t, sys) => {
  const tab1 = await sys.user('dora');
  const tab2 = await sys.connectOk(sys.token({ sub: 'dora' }), { gateway: 'gateway-2' });
  await sleep(SETTLE_MS);
  const p = waitEvent(tab2, 'actor:created');
  tab1.emit('actor:create', { name: 'Unacked', type: 'npc' });
  const a = await p;
  assert.equal(a.name, 'Unacked');
  assert.equal(a.createdBy, 'dora');
  tab1.disconnect(); tab2.disconnect();
});

h.test('another user gets NOT_FOUND on get, update and delete, and changes nothing', async (t, sys) => {
  const owner = await sys.user('owner');
  const ownerTab2 = await sys.user('owner');
  const intruder = await sys.user('intruder');
  const seenOwner2 = recordEvents(ownerTab2);
  await sleep(SETTLE_MS);
  const created = waitEvent(ownerTab2, 'actor:created');
  const a = expectOk(await emitAck(owner, 'actor:create', { name: 'Private', type: 'pc' }));
  assert.deepEqual(await created, a);

  expectError(await emitAck(intruder, 'actor:get', a.id), 'NOT_FOUND');
  expectError(await emitAck(intruder, 'actor:update', { id: a.id, name: 'Pwned' }), 'NOT_FOUND');
  expectError(await emitAck(intruder, 'actor:delete', a.id), 'NOT_FOUND');
  const theirs = expectOk(await emitAck(intruder, 'actor:list'));
  assert.equal(theirs.find((x) => x.id === a.id), undefined);

  const still = expectOk(await emitAck(owner, 'actor:get', a.id));
  assert.deepEqual(still, a, 'unchanged: same name, same version');
  await sleep(QUIET_MS);
  assert.deepEqual(actorEvents(seenOwner2).map((e) => e.event), ['actor:created'],
    'failed attempts broadcast nothing');
  for (const s of [owner, ownerTab2, intruder]) s.disconnect();
});

h.test('a tab that disconnected gets nothing, a new tab gets the next change', async (t, sys) => {
  const tab1 = await sys.user('erin');
  const old = await sys.user('erin');
  const a = expectOk(await emitAck(tab1, 'actor:create', { name: 'E', type: 'pc' }));
  old.disconnect();
  const fresh = await sys.connectOk(sys.token({ sub: 'erin' }), { gateway: 'gateway-2' });
  await sleep(SETTLE_MS);
  const p = waitEvent(fresh, 'actor:updated');
  const u = expectOk(await emitAck(tab1, 'actor:update', { id: a.id, hp: 3 }));
  assert.deepEqual(await p, u);
  tab1.disconnect(); fresh.disconnect();
});
