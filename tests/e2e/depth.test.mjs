// JSON nesting (issue 10): cJSON accepts 1000 levels, and its parse,
// duplicate and print recurse once per level, on a worker handler's
// coroutine stack. The gateway and the workers refuse an argument nested
// deeper than 64 levels (proto/pl_proto.h, PL_PROTO_JSON_DEPTH_MAX): the
// client gets a VALIDATION_ERROR ack that says why, the connection stays
// up, nothing is written, and an argument at the limit works.
import assert from 'node:assert/strict';
import { useSystem, emitAck, expectOk, expectError } from './lib/system.mjs';
import { uid } from './lib/campaign.mjs';

const h = useSystem({ workers: 1 });

/** {name, type, x: [[...]]} with x nested `depth` arrays deep; the
 *  argument itself is one level more. */
function nested(depth) {
  let x = [];
  for (let i = 1; i < depth; i++) x = [x];
  return { name: 'deep', type: 'npc', x };
}

function depthOf(x) {
  let d = 0;
  while (Array.isArray(x)) { d++; x = x[0]; }
  return d;
}

h.test('an argument nested deeper than 64 levels is refused with an error ack, one at the limit works', async (t, sys) => {
  const s = await sys.user(uid('deep'), 'Deep');
  t.after(() => s.disconnect());
  for (const depth of [64, 100, 900]) {
    const err = expectError(await emitAck(s, 'actor:create', nested(depth)), 'VALIDATION_ERROR');
    assert.match(err.message, /deeper than 64/, `the message says why: ${err.message}`);
  }
  assert.ok(s.connected, 'the connection stays up');
  assert.deepEqual(expectOk(await emitAck(s, 'actor:list')), [], 'nothing was created');
  // the argument 64 deep: the object, then x 63 arrays deep
  const a = expectOk(await emitAck(s, 'actor:create', nested(63)));
  const got = expectOk(await emitAck(s, 'actor:get', a.id));
  assert.equal(depthOf(got.x), 63);
});
