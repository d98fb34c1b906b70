// REST parity under /api/v1: bearer auth (401), campaigns/actors/items
// CRUD with the right statuses (200/201/204), errors as
// {error:{code,message}} (400/403/404/405/409/413/415), room presence and
// chat, REST writes seen by socket clients exactly as socket writes, and
// the per-user rate limit (429 with Retry-After).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe } from 'node:test';
import { useSystem, emitAck, expectOk, sleep } from './lib/system.mjs';
import {
  uid, quiet, settle, record, subscribeOk, setupCampaign, rest, rawRequest, expectRestError,
} from './lib/campaign.mjs';

const h = useSystem({ workers: 1, gateways: 2 });

const tokenOf = (sys, u) => sys.token({ sub: u.id, name: u.name });

h.test('401 without a token, with a bad one, or a wrong scheme', async (t, sys) => {
  const good = sys.token({ sub: uid('r401') });
  expectRestError(await rest(sys, undefined, 'GET', '/campaigns'), 401, 'UNAUTHORIZED');
  expectRestError(await rest(sys, sys.token({ sub: 'x', secret: 'wrong-secret' }), 'GET', '/campaigns'), 401, 'UNAUTHORIZED');
  expectRestError(await rest(sys, 'not.a.jwt', 'GET', '/campaigns'), 401, 'UNAUTHORIZED');
  expectRestError(await rest(sys, sys.token({ sub: 'x', exp: Math.floor(Date.now() / 1000) - 60 }), 'GET', '/actors'), 401, 'UNAUTHORIZED');
  expectRestError(await rest(sys, sys.token({ sub: 'x', alg: 'none' }), 'GET', '/actors'), 401, 'UNAUTHORIZED');
  expectRestError(await rest(sys, undefined, 'GET', '/campaigns', undefined, { headers: { authorization: `Basic ${good}` } }), 401, 'UNAUTHORIZED');
  expectRestError(await rest(sys, undefined, 'POST', '/campaigns', { name: 'x' }), 401, 'UNAUTHORIZED');
  // A sub that is no user id: 300 bytes, or a character user ids do not have.
  for (const sub of ['a'.repeat(300), 'eve:admin', 'a b']) {
    const r = await rest(sys, sys.token({ sub }), 'GET', '/campaigns');
    expectRestError(r, 401, 'UNAUTHORIZED');
    assert.match(r.body.error.message, /sub is not a valid user id/);
  }
  // The same token with the right scheme works.
  const ok = await rest(sys, good, 'GET', '/campaigns');
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, []);
});

// Correctly signed tokens that read differently here than in the issuer's
// library are malformed: 401 with the reason (see connect.test.mjs for the
// same rules on CONNECT). The JSON is written by hand: JSON.stringify can
// write neither a name twice nor 1e400.
h.test('401 for a signed token with a NUL, a claim twice or an exp that is no integer date', async (t, sys) => {
  const signRaw = (payloadText) => {
    const input = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(payloadText).toString('base64url')}`;
    return `${input}.${crypto.createHmac('sha256', sys.secret).update(input).digest('base64url')}`;
  };
  const sub = uid('rjwt');
  const cases = [
    [sys.token({ sub: `${sub}\u0000evil` }), /NUL/],
    [sys.token({ sub, name: 'A\u0000B' }), /NUL/],
    [signRaw(`{"sub":"mallory","sub":"${sub}"}`), /occurs twice/],
    [signRaw(`{"sub":"${sub}","exp":1e400}`), /exp must be an integer NumericDate/],
    [signRaw(`{"sub":"${sub}","exp":18446744073709551616}`), /exp must be an integer NumericDate/],
    [sys.token({ sub, exp: String(Math.floor(Date.now() / 1000) + 600) }), /exp must be an integer NumericDate/],
    [signRaw(`{"sub":"${sub}","nbf":-1e400}`), /nbf must be an integer NumericDate/],
  ];
  for (const [token, re] of cases) {
    const r = await rest(sys, token, 'GET', '/campaigns');
    expectRestError(r, 401, 'UNAUTHORIZED');
    assert.match(r.body.error.message, /malformed token/, token);
    assert.match(r.body.error.message, re, token);
  }
  // the same user with a plain token is served
  assert.equal((await rest(sys, sys.token({ sub }), 'GET', '/campaigns')).status, 200);
});

h.test('campaigns over REST: list, create 201, get, PATCH, members, DELETE 204, and their errors', async (t, sys) => {
  const gm = { id: uid('rc-gm'), name: 'REST GM' };
  const pl = { id: uid('rc-pl'), name: 'REST Player' };
  const out = { id: uid('rc-out'), name: 'Outsider' };
  const [tg, tp, to] = [gm, pl, out].map((u) => tokenOf(sys, u));

  const created = await rest(sys, tg, 'POST', '/campaigns', { name: 'Over REST', extra: { a: 1 } });
  assert.equal(created.status, 201, created.text);
  assert.match(created.headers.get('content-type'), /application\/json/);
  const c = created.body;
  assert.equal(c.name, 'Over REST');
  assert.equal(c.role, 'gm');
  assert.equal(c.createdBy, gm.id);
  assert.deepEqual(c.extra, { a: 1 });

  const list = await rest(sys, tg, 'GET', '/campaigns');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.map((x) => [x.id, x.role]), [[c.id, 'gm']]);
  const got = await rest(sys, tg, 'GET', `/campaigns/${c.id}`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body.members, [{ userId: gm.id, role: 'gm' }]);

  // The socket sees the same campaign.
  const sock = await sys.connectOk(tg);
  const viaSocket = expectOk(await emitAck(sock, 'campaign:get', c.id));
  assert.deepEqual(viaSocket, got.body);

  const patched = await rest(sys, tg, 'PATCH', `/campaigns/${c.id}`, { name: 'Patched' });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.body.name, 'Patched');
  assert.equal(patched.body.id, c.id);
  assert.deepEqual(patched.body.extra, { a: 1 });

  const added = await rest(sys, tg, 'POST', `/campaigns/${c.id}/members`, { userId: pl.id, role: 'player' });
  assert.equal(added.status, 200, `addMember (routes.def: 200) ${added.text}`);
  assert.deepEqual(added.body, { campaignId: c.id, userId: pl.id, role: 'player' });

  // 403 for a player, 404 for an outsider, 409 for the last GM.
  expectRestError(await rest(sys, tp, 'PATCH', `/campaigns/${c.id}`, { name: 'Mine' }), 403, 'FORBIDDEN');
  expectRestError(await rest(sys, tp, 'DELETE', `/campaigns/${c.id}`), 403, 'FORBIDDEN');
  expectRestError(await rest(sys, tp, 'POST', `/campaigns/${c.id}/members`, { userId: out.id, role: 'player' }), 403, 'FORBIDDEN');
  expectRestError(await rest(sys, to, 'GET', `/campaigns/${c.id}`), 404, 'NOT_FOUND');
  expectRestError(await rest(sys, to, 'PATCH', `/campaigns/${c.id}`, { name: 'Mine' }), 404, 'NOT_FOUND');
  expectRestError(await rest(sys, to, 'DELETE', `/campaigns/${c.id}`), 404, 'NOT_FOUND');
  expectRestError(await rest(sys, tg, 'DELETE', `/campaigns/${c.id}/members/${gm.id}`), 409, 'CONFLICT');
  expectRestError(await rest(sys, tg, 'GET', '/campaigns/no-such-campaign'), 404, 'NOT_FOUND');
  expectRestError(await rest(sys, tg, 'POST', '/campaigns', { name: '' }), 400, 'VALIDATION_ERROR');
  expectRestError(await rest(sys, tg, 'POST', `/campaigns/${c.id}/members`, { userId: pl.id, role: 'king' }), 400, 'VALIDATION_ERROR');

  // 409 while it holds an actor.
  const a = await rest(sys, tg, 'POST', '/actors', { name: 'Keeper', type: 'npc', campaignId: c.id });
  assert.equal(a.status, 201, a.text);
  expectRestError(await rest(sys, tg, 'DELETE', `/campaigns/${c.id}`), 409, 'CONFLICT');
  assert.equal((await rest(sys, tg, 'DELETE', `/actors/${a.body.id}`)).status, 204);

  const removed = await rest(sys, tg, 'DELETE', `/campaigns/${c.id}/members/${pl.id}`);
  assert.equal(removed.status, 204, `removeMember (routes.def: 204) ${removed.text}`);
  assert.equal(removed.text, '');
  expectRestError(await rest(sys, tp, 'GET', `/campaigns/${c.id}`), 404, 'NOT_FOUND');

  const del = await rest(sys, tg, 'DELETE', `/campaigns/${c.id}`);
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, '', '204 has no body');
  expectRestError(await rest(sys, tg, 'GET', `/campaigns/${c.id}`), 404, 'NOT_FOUND');
  assert.deepEqual((await rest(sys, tg, 'GET', '/campaigns')).body, []);
  sock.disconnect();
});

h.test('actors and items over REST: list, get, create 201, PATCH, DELETE 204, filters', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 1, outsider: true, subscribe: false, prefix: 'ra' });
  const tg = tokenOf(sys, c.gm);
  const tp = tokenOf(sys, c.p1);
  const to = tokenOf(sys, c.out);

  // Personal actor.
  const mine = await rest(sys, tp, 'POST', '/actors', { name: 'Solo', type: 'pc' });
  assert.equal(mine.status, 201, mine.text);
  assert.equal(mine.body.createdBy, c.p1.id);
  assert.equal(mine.body.version, 1);
  const personal = await rest(sys, tp, 'GET', '/actors');
  assert.equal(personal.status, 200);
  assert.deepEqual(personal.body.map((x) => x.id), [mine.body.id]);
  assert.deepEqual((await rest(sys, tp, 'GET', `/actors/${mine.body.id}`)).body, mine.body);
  expectRestError(await rest(sys, tg, 'GET', `/actors/${mine.body.id}`), 404, 'NOT_FOUND');

  // Campaign actors with ?campaignId=.
  const hero = (await rest(sys, tp, 'POST', '/actors', { name: 'Hero', type: 'pc', campaignId: c.id })).body;
  const hidden = (await rest(sys, tg, 'POST', '/actors', { name: 'Spy', type: 'npc', campaignId: c.id, hidden: true })).body;
  assert.equal(hidden.hidden, true);
  const asGm = await rest(sys, tg, 'GET', `/actors?campaignId=${encodeURIComponent(c.id)}`);
  assert.equal(asGm.status, 200);
  assert.deepEqual(asGm.body.map((x) => x.id), [hero.id, hidden.id]);
  const asPl = await rest(sys, tp, 'GET', `/actors?campaignId=${encodeURIComponent(c.id)}`);
  assert.deepEqual(asPl.body.map((x) => x.id), [hero.id], 'hidden left out for a player');
  expectRestError(await rest(sys, tp, 'GET', `/actors/${hidden.id}`), 404, 'NOT_FOUND');
  expectRestError(await rest(sys, to, 'GET', `/actors?campaignId=${encodeURIComponent(c.id)}`), 403, 'FORBIDDEN');
  expectRestError(await rest(sys, to, 'POST', '/actors', { name: 'X', type: 'pc', campaignId: c.id }), 403, 'FORBIDDEN');
  expectRestError(await rest(sys, tp, 'PATCH', `/actors/${hidden.id}`, { name: 'x' }), 404, 'NOT_FOUND');
  expectRestError(await rest(sys, tp, 'POST', '/actors', { name: 'No type' }), 400, 'VALIDATION_ERROR');

  const patched = await rest(sys, tg, 'PATCH', `/actors/${hero.id}`, { hp: 12 });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.body.hp, 12);
  assert.equal(patched.body.version, 2);
  assert.equal(patched.body.id, hero.id, 'the id comes from the path');

  // Items, with ?actorId=.
  const sword = await rest(sys, tp, 'POST', '/items', { name: 'Sword', campaignId: c.id, actorId: hero.id });
  assert.equal(sword.status, 201, sword.text);
  assert.equal(sword.body.actorId, hero.id);
  const ring = (await rest(sys, tg, 'POST', '/items', { name: 'Ring', campaignId: c.id, actorId: hero.id, hidden: true })).body;
  const byActor = await rest(sys, tg, 'GET', `/items?actorId=${encodeURIComponent(hero.id)}`);
  assert.equal(byActor.status, 200, byActor.text);
  assert.deepEqual(byActor.body.map((x) => x.id), [sword.body.id, ring.id]);
  assert.deepEqual((await rest(sys, tp, 'GET', `/items?actorId=${encodeURIComponent(hero.id)}`)).body.map((x) => x.id), [sword.body.id]);
  assert.deepEqual((await rest(sys, tp, 'GET', `/items?campaignId=${encodeURIComponent(c.id)}`)).body.map((x) => x.id), [sword.body.id]);
  assert.deepEqual((await rest(sys, tp, 'GET', `/items/${sword.body.id}`)).body, sword.body);
  const moved = await rest(sys, tp, 'PATCH', `/items/${sword.body.id}`, { actorId: null });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.body.actorId, null);
  expectRestError(await rest(sys, tp, 'DELETE', `/items/${ring.id}`), 404, 'NOT_FOUND');
  const delItem = await rest(sys, tp, 'DELETE', `/items/${sword.body.id}`);
  assert.equal(delItem.status, 204);
  assert.equal(delItem.text, '');
  expectRestError(await rest(sys, tp, 'GET', `/items/${sword.body.id}`), 404, 'NOT_FOUND');
  // Players may not delete the GM's actors.
  const gmVisible = (await rest(sys, tg, 'POST', '/actors', { name: 'Guard', type: 'npc', campaignId: c.id })).body;
  expectRestError(await rest(sys, tp, 'DELETE', `/actors/${gmVisible.id}`), 403, 'FORBIDDEN');
  c.close();
});

h.test('routing errors: 404 unknown path, 405 wrong method, 400 bad JSON or query, 415, 413', async (t, sys) => {
  const tok = sys.token({ sub: uid('rr') });
  expectRestError(await rest(sys, tok, 'GET', '/nope'), 404, 'NOT_FOUND');
  expectRestError(await rest(sys, tok, 'GET', '/campaigns/a/b/c/d'), 404, 'NOT_FOUND');
  expectRestError(await rest(sys, tok, 'GET', '/campaign'), 404, 'NOT_FOUND');
  const m1 = await rest(sys, tok, 'PUT', '/campaigns');
  expectRestError(m1, 405);
  assert.match(m1.headers.get('allow') || '', /GET/, 'a 405 names the allowed methods');
  assert.match(m1.headers.get('allow') || '', /POST/);
  const m2 = await rest(sys, tok, 'POST', '/campaigns/some-id', { name: 'x' });
  expectRestError(m2, 405);
  assert.equal(m2.headers.get('allow')?.split(/,\s*/).sort().join(','), 'DELETE,GET,PATCH', 'Allow lists the methods of /campaigns/{id}');
  const m3 = await rest(sys, tok, 'PUT', '/actors/some-id', { name: 'x' });
  expectRestError(m3, 405);

  expectRestError(await rest(sys, tok, 'POST', '/campaigns', '{"name": "broken', { raw: true }), 400, 'VALIDATION_ERROR');
  expectRestError(await rest(sys, tok, 'POST', '/actors', 'not json at all', { raw: true }), 400, 'VALIDATION_ERROR');
  expectRestError(await rest(sys, tok, 'GET', '/items?actorId='), 400, 'VALIDATION_ERROR');
  const r415 = await rest(sys, tok, 'POST', '/campaigns', 'name=x', { raw: true, headers: { 'content-type': 'text/plain' } });
  expectRestError(r415, 415);
  const big = JSON.stringify({ name: 'Big', type: 'pc', blob: 'x'.repeat(1_100_000) });
  // The gateway may answer before reading the whole body and close: fetch
  // would fail writing, so this one goes through node:http.
  const r413 = await rawRequest(sys, tok, 'POST', '/actors', big);
  expectRestError(r413, 413);
  // None of those created anything.
  assert.deepEqual((await rest(sys, tok, 'GET', '/campaigns')).body, []);
  assert.deepEqual((await rest(sys, tok, 'GET', '/actors')).body, []);
  // /healthz still served next to /api/v1.
  assert.equal((await sys.health()).status, 200);
});

h.test('room presence and chat over REST', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, prefix: 'rp', gateways: { p2: 'gateway-2' } });
  const tg = tokenOf(sys, c.gm);
  const enc = encodeURIComponent(c.room);
  assert.match(enc, /%3A/i, 'the room is percent-encoded');
  const pres = await rest(sys, tg, 'GET', `/rooms/${enc}/presence`);
  assert.equal(pres.status, 200, pres.text);
  assert.deepEqual(pres.body, [c.gm, c.p1, c.p2].map((u) => ({ userId: u.id, name: u.name }))
    .sort((a, b) => (a.userId < b.userId ? -1 : 1)));
  // Same answer from the other gateway.
  assert.deepEqual((await rest(sys, tg, 'GET', `/rooms/${enc}/presence`, undefined, { gateway: 'gateway-2' })).body, pres.body);
  expectRestError(await rest(sys, tokenOf(sys, c.out), 'GET', `/rooms/${enc}/presence`), 403, 'FORBIDDEN');
  expectRestError(await rest(sys, tg, 'GET', `/rooms/${encodeURIComponent(`${c.room}:gm`)}/presence`), 403, 'FORBIDDEN');
  expectRestError(await rest(sys, tg, 'GET', `/rooms/${encodeURIComponent('junk')}/presence`), 400, 'VALIDATION_ERROR');

  const sent = await rest(sys, tokenOf(sys, c.p1), 'POST', `/rooms/${enc}/messages`, { text: 'via REST' });
  assert.equal(sent.status, 201, `chat:send (routes.def: 201) ${sent.text}`);
  assert.equal(sent.body.text, 'via REST');
  assert.equal(sent.body.userId, c.p1.id);
  assert.equal(sent.body.name, c.p1.name, 'the name comes from the token, as on the socket');
  assert.equal(sent.body.room, c.room);
  for (const u of [c.gm, c.p1, c.p2]) {
    assert.deepEqual(await u.rec.waitFor('chat:message', (m) => m.id === sent.body.id), sent.body);
  }
  const hist = await rest(sys, tg, 'GET', `/rooms/${enc}/messages?limit=1`);
  assert.equal(hist.status, 200, hist.text);
  assert.deepEqual(hist.body, [sent.body]);
  expectRestError(await rest(sys, tg, 'GET', `/rooms/${enc}/messages?limit=abc`), 400, 'VALIDATION_ERROR');
  c.close();
});

h.test('a REST write is seen by socket clients exactly as the socket write would be', async (t, sys) => {
  const c = await setupCampaign(sys, { players: 2, prefix: 'rw', gateways: { p2: 'gateway-2' } });
  const { gm, p1, p2, out } = c;
  const tp1 = tokenOf(sys, p1);
  await settle();

  // p1 creates over REST: every subscribed member, p1's own socket included
  // (a REST call is no socket connection, so nobody is excluded).
  const created = await rest(sys, tp1, 'POST', '/actors', { name: 'Rest Hero', type: 'pc', campaignId: c.id });
  assert.equal(created.status, 201, created.text);
  const a = created.body;
  for (const u of [gm, p1, p2]) assert.deepEqual(await u.rec.waitFor('actor:created', (x) => x.id === a.id), a);

  const patched = (await rest(sys, tp1, 'PATCH', `/actors/${a.id}`, { hp: 5 })).body;
  for (const u of [gm, p1, p2]) assert.deepEqual(await u.rec.waitFor('actor:updated', (x) => x.id === a.id), patched);

  // Flipping hidden over REST: p2 gets actor:deleted, the GM actor:updated.
  const hid = await rest(sys, tp1, 'PATCH', `/actors/${a.id}`, { hidden: true });
  assert.equal(hid.status, 200, hid.text);
  assert.equal(await p2.rec.waitFor('actor:deleted', (x) => x === a.id), a.id);
  assert.deepEqual(await gm.rec.waitFor('actor:updated', (x) => x.id === a.id && x.version === hid.body.version), hid.body);

  const del = await rest(sys, tp1, 'DELETE', `/actors/${a.id}`);
  assert.equal(del.status, 204);
  assert.equal(await gm.rec.waitFor('actor:deleted', (x) => x === a.id), a.id);

  // Campaign membership over REST pushes the same events.
  const newbie = { id: uid('rw-new'), name: 'Newbie' };
  const ns = await sys.connectOk(tokenOf(sys, newbie));
  const rec = record(ns, 'newbie');
  await settle();
  const added = await rest(sys, tokenOf(sys, gm), 'POST', `/campaigns/${c.id}/members`, { userId: newbie.id, role: 'player' });
  assert.equal(added.status, 200, added.text);
  await rec.waitFor('campaign:memberAdded', (d) => d.campaignId === c.id && d.userId === newbie.id);
  await p2.rec.waitFor('campaign:memberAdded', (d) => d.campaignId === c.id && d.userId === newbie.id);
  await subscribeOk(ns, c.room);
  await settle();
  // Items too.
  const item = (await rest(sys, tokenOf(sys, gm), 'POST', '/items', { name: 'Torch', campaignId: c.id })).body;
  for (const u of [gm, p1, p2]) assert.deepEqual(await u.rec.waitFor('item:created', (x) => x.id === item.id), item);
  await rec.waitFor('item:created', (x) => x.id === item.id);

  await quiet();
  for (const u of [gm, p2]) {
    assert.deepEqual(u.rec.names('actor:'), u === gm
      ? ['actor:created', 'actor:updated', 'actor:updated', 'actor:deleted']
      : ['actor:created', 'actor:updated', 'actor:deleted'], `${u.id}: exactly the socket write's events`);
  }
  assert.deepEqual(out.rec.events.map((e) => e.event), [], 'nothing to the outsider');
  ns.disconnect();
  c.close();
});

describe('REST when the service does not answer', () => {
  const REQUEST_TIMEOUT_MS = 1500;
  const QUEUE_TIMEOUT_MS = 800;
  const h2 = useSystem({
    workers: 1,
    env: { PARLEY_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), PARLEY_QUEUE_TIMEOUT_MS: String(QUEUE_TIMEOUT_MS) },
  });

  h2.test('504 TIMEOUT from a stuck worker, 503 SERVICE_UNAVAILABLE with none, 200 again after a restart', async (t, sys) => {
    const tok = sys.token({ sub: uid('r5') });
    assert.equal((await rest(sys, tok, 'GET', '/campaigns')).status, 200);
    await sys.kill('campaigns', 'SIGSTOP');
    const t0 = Date.now();
    const r504 = await rest(sys, tok, 'GET', '/campaigns');
    const took = Date.now() - t0;
    // The broker may already count the stopped worker dead (heartbeats): 503 then.
    if (r504.status === 504) expectRestError(r504, 504, 'TIMEOUT');
    else expectRestError(r504, 503, 'SERVICE_UNAVAILABLE');
    assert.ok(took <= REQUEST_TIMEOUT_MS + 1000, `answered after ${took} ms`);
    t.diagnostic(`${r504.status} after ${took} ms`);
    await sys.kill('campaigns', 'SIGKILL');
    await sys.waitHealth({ status: 503, pred: (b) => (b?.services?.campaigns?.workers ?? 0) === 0, timeoutMs: 10000 });
    const r503 = await rest(sys, tok, 'POST', '/campaigns', { name: 'Nobody home' });
    expectRestError(r503, 503, 'SERVICE_UNAVAILABLE');
    await sys.start('campaigns');
    await sys.waitHealth({ status: 200, timeoutMs: 10000 });
    await sleep(100);
    const ok = await rest(sys, tok, 'POST', '/campaigns', { name: 'Back' });
    assert.equal(ok.status, 201, ok.text);
  });
});

describe('REST rate limit', () => {
  const BURST = 5;
  const PER_SEC = 2;
  const h3 = useSystem({
    workers: 1,
    env: { PARLEY_RATE_BURST: String(BURST), PARLEY_RATE_PER_SEC: String(PER_SEC) },
  });

  h3.test('past PARLEY_RATE_BURST a user gets 429 RATE_LIMITED with Retry-After; others are not affected; it refills', async (t, sys) => {
    const tok = sys.token({ sub: uid('rl') });
    const N = 15;
    // Reads and writes share the bucket: a burst of both, all at once.
    const started = Date.now();
    const all = await Promise.all(Array.from({ length: N }, (_, i) => (i % 3 === 0
      ? rest(sys, tok, 'POST', '/campaigns', { name: `Burst ${i}` })
      : rest(sys, tok, 'GET', '/campaigns'))));
    // The bucket refills PER_SEC tokens a second while the burst is served
    // (slowly, on a loaded machine): those may be served too, and no more.
    const refills = Math.ceil(((Date.now() - started) / 1000) * PER_SEC) + 1;
    const ok = all.filter((r) => r.status === 200 || r.status === 201);
    const limited = all.filter((r) => r.status === 429);
    t.diagnostic(`${ok.length} ok, ${limited.length} 429 of ${N} (up to ${refills} refilled)`);
    assert.equal(ok.length + limited.length, N, `only 2xx and 429: ${all.map((r) => r.status)}`);
    assert.ok(ok.length >= 1 && ok.length <= BURST + refills, `the burst (+${refills} refilled) is served, got ${ok.length}`);
    for (const r of limited) {
      const err = expectRestError(r, 429, 'RATE_LIMITED');
      assert.match(err.message, /too many requests/);
      const retry = Number(r.headers.get('retry-after'));
      assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After in whole seconds, got ${r.headers.get('retry-after')}`);
    }
    // A 429 holds a body of its own: a refused write with a body keeps the
    // connection in step (keep-alive) and created nothing.
    // A token may have refilled since: a write that gets through is counted
    // as created, and the next one is refused (at 2 a second, one of a few
    // back-to-back requests is).
    let refused, refusedName, served = 0;
    for (let i = 0; i < 5; i++) {
      refusedName = `Late ${i}`;
      refused = await rest(sys, tok, 'POST', '/campaigns', { name: refusedName });
      if (refused.status !== 201) break;
      served++;
    }
    expectRestError(refused, 429, 'RATE_LIMITED');

    // Another user has a bucket of their own.
    const other = sys.token({ sub: uid('rl-other') });
    assert.equal((await rest(sys, other, 'GET', '/campaigns')).status, 200);

    // After Retry-After the user is served again.
    await sleep(Number(limited[0].headers.get('retry-after')) * 1000 + 100);
    const again = await rest(sys, tok, 'GET', '/campaigns');
    assert.equal(again.status, 200, again.text);
    assert.ok(!again.body.some((c) => c.name === refusedName), 'the refused write created nothing');
    assert.equal(again.body.length, all.filter((r) => r.status === 201).length + served,
      'only the served writes created');

    const health = await sys.health();
    assert.ok(health.body.stats.rest_rate_limited >= limited.length + 1, 'counted in /healthz');
  });
});
