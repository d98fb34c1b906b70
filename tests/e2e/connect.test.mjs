// Connecting with socket.io-client: a good JWT gets in, every kind of bad
// one gets connect_error and no access.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { io, Manager } from 'socket.io-client';
import { useSystem, emitAck, expectOk, makeToken, nowSec, sleep, waitEvent, BIN } from './lib/system.mjs';

const h = useSystem({ workers: 1 });

h.test('a good token connects, gets a socket id and can make requests', async (t, sys) => {
  const s = await sys.connectOk(sys.token({ sub: 'alice', name: 'Alice' }));
  assert.equal(s.connected, true);
  assert.equal(typeof s.id, 'string');
  assert.ok(s.id.length > 0);
  const list = expectOk(await emitAck(s, 'actor:list'));
  assert.ok(Array.isArray(list));
  s.disconnect();
});

h.test('name is optional and a future exp is accepted', async (t, sys) => {
  const s = await sys.connectOk(sys.token({ sub: 'bob', exp: nowSec() + 600, iat: nowSec() }));
  assert.equal(s.connected, true);
  expectOk(await emitAck(s, 'actor:list'));
  s.disconnect();
});

h.test('two connections of one user get different socket ids', async (t, sys) => {
  const tok = sys.token({ sub: 'carol' });
  const a = await sys.connectOk(tok);
  const b = await sys.connectOk(tok);
  assert.notEqual(a.id, b.id);
  a.disconnect(); b.disconnect();
});

// Every rejected token: connect_error with a message, never connected, and
// the socket cannot be used.
const bad = {
  'signed with another secret': (sys) => makeToken({ sub: 'mallory' }, { secret: 'not-the-secret' }),
  'signed with the dev default secret': (sys) =>
    makeToken({ sub: 'mallory' }, { secret: 'parley-dev-secret-do-not-use-in-production' }),
  'expired exp': (sys) => sys.token({ sub: 'alice', exp: nowSec() - 60 }),
  'alg none': (sys) => sys.token({ sub: 'alice', alg: 'none' }),
  'alg none with the real signature': (sys) => {
    const real = sys.token({ sub: 'alice' }).split('.');
    const none = sys.token({ sub: 'alice', alg: 'none' }).split('.');
    return `${none[0]}.${none[1]}.${real[2]}`;
  },
  'HS512 with the right secret': (sys) => sys.token({ sub: 'alice', alg: 'HS512' }),
  'no sub': (sys) => sys.token({ name: 'Nobody' }),
  'sub not a string': (sys) => sys.token({ sub: 42 }),
  'sub of 300 bytes': (sys) => sys.token({ sub: 'a'.repeat(300) }),
  'sub with a character no user id has': (sys) => sys.token({ sub: 'eve:admin' }),
  'payload tampered after signing': (sys) => {
    const [hd, , sig] = sys.token({ sub: 'alice' }).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url');
    return `${hd}.${forged}.${sig}`;
  },
  'not a JWT': () => 'hello',
  'empty string': () => '',
  'two segments': (sys) => sys.token({ sub: 'alice' }).split('.').slice(0, 2).join('.'),
};

for (const [what, mk] of Object.entries(bad)) {
  h.test(`rejected: ${what}`, async (t, sys) => {
    const err = await sys.connectError(mk(sys));
    assert.ok(err instanceof Error);
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0, 'connect_error has a message');
  });
}

h.test('a sub must be a user id: 128 bytes of [A-Za-z0-9_.-|@+] get in, 129 or a space do not', async (t, sys) => {
  const s = await sys.connectOk(sys.token({ sub: `a|b@c+d.e_f-${'x'.repeat(116)}` }));
  expectOk(await emitAck(s, 'actor:list'));
  s.disconnect();
  for (const sub of ['x'.repeat(129), 'a b', 'caf\u00e9', 'user/1']) {
    const err = await sys.connectError(sys.token({ sub }));
    assert.match(err.message, /sub is not a valid user id/, sub);
  }
});

h.test('rejected: no token at all, or a token that is not a string', async (t, sys) => {
  for (const io of [{}, { auth: {} }, { auth: { token: 42 } }, { auth: { token: null } }, { auth: { jwt: sys.token({ sub: 'a' }) } }]) {
    const err = await sys.connectError(undefined, { io });
    assert.ok(err.message.length > 0, `message for ${JSON.stringify(io)}`);
  }
});

h.test('a rejected socket gets no access', async (t, sys) => {
  const s = sys.connect(makeToken({ sub: 'mallory' }, { secret: 'wrong' }));
  await new Promise((resolve) => s.once('connect_error', resolve));
  assert.equal(s.connected, false);
  assert.equal(s.id, undefined);
  // socket.io-client buffers emits until connected; nothing may come back.
  let acked = false;
  s.timeout(500).emit('actor:list', (err) => { if (!err) acked = true; });
  await sleep(700);
  assert.equal(acked, false);
  s.disconnect();
});

// A JWT over header and payload JSON written by hand, signed with the
// system's secret: makeToken's JSON.stringify cannot write a name twice or
// a number such as 1e400.
function signRaw(sys, payloadText, headerText = '{"alg":"HS256","typ":"JWT"}') {
  const b64 = (text) => Buffer.from(text).toString('base64url');
  const input = `${b64(headerText)}.${b64(payloadText)}`;
  return `${input}.${crypto.createHmac('sha256', sys.secret).update(input).digest('base64url')}`;
}

// Correctly signed tokens that would read differently here than in the
// issuer's library are malformed: a NUL cut the C string ("alice\u0000evil"
// was alice), the first of two subs won, an exp of 1e400 (infinity) or 2^64
// never expired, and an exp written as a string was called "expired".
const malformed = {
  'a NUL in sub': [(sys) => sys.token({ sub: 'alice\u0000evil' }), /NUL/],
  'a NUL in name': [(sys) => sys.token({ sub: 'alice', name: 'Alice\u0000Admin' }), /NUL/],
  'a NUL in a member name': [(sys) => signRaw(sys, '{"sub\\u0000":"mallory","sub":"alice"}'), /NUL/],
  'sub twice': [(sys) => signRaw(sys, '{"sub":"bob","sub":"alice"}'), /occurs twice/],
  'sub twice, one escaped': [(sys) => signRaw(sys, '{"sub":"bob","s\\u0075b":"alice"}'), /occurs twice/],
  'alg twice in the header': [(sys) => signRaw(sys, '{"sub":"alice"}', '{"alg":"HS256","alg":"none"}'), /occurs twice/],
  'exp 1e400': [(sys) => signRaw(sys, '{"sub":"alice","exp":1e400}'), /exp must be an integer NumericDate/],
  'exp 2^64': [(sys) => signRaw(sys, '{"sub":"alice","exp":18446744073709551616}'), /exp must be an integer NumericDate/],
  'exp past year 9999': [(sys) => sys.token({ sub: 'alice', exp: 253402300800 }), /exp must be an integer NumericDate/],
  'exp as a string': [(sys) => sys.token({ sub: 'alice', exp: String(nowSec() + 600) }), /exp must be an integer NumericDate/],
  'exp with a fraction': [(sys) => sys.token({ sub: 'alice', exp: nowSec() + 600.5 }), /exp must be an integer NumericDate/],
  'nbf -1e400': [(sys) => signRaw(sys, '{"sub":"alice","nbf":-1e400}'), /nbf must be an integer NumericDate/],
};

for (const [what, [mk, re]] of Object.entries(malformed)) {
  h.test(`rejected as malformed: ${what}`, async (t, sys) => {
    const err = await sys.connectError(mk(sys));
    assert.match(err.message, /^unauthorized: malformed token/);
    assert.match(err.message, re);
  });
}

h.test('the latest exp accepted is 9999-12-31T23:59:59Z, in any integer spelling', async (t, sys) => {
  for (const exp of ['253402300799', '2.53402300799e11']) {
    const s = await sys.connectOk(signRaw(sys, `{"sub":"far-future","exp":${exp}}`));
    expectOk(await emitAck(s, 'actor:list'));
    s.disconnect();
  }
});

// Parley serves the main namespace only. Another one is refused with a
// CONNECT_ERROR for that namespace, which socket.io-client routes to the
// socket that asked (an error for "/" left it waiting for ever).
h.test('io(url + "/admin") gets connect_error "Invalid namespace"', async (t, sys) => {
  const s = io(`${sys.url()}/admin`, {
    transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5000,
    auth: { token: sys.token({ sub: 'alice' }) },
  });
  try {
    const err = await waitEvent(s, 'connect_error', 3000);
    assert.equal(err.message, 'Invalid namespace');
    assert.equal(s.connected, false);
  } finally {
    s.disconnect();
  }
});

h.test('a namespace refused on a connection already in "/" leaves "/" working', async (t, sys) => {
  const m = new Manager(sys.url(), { transports: ['websocket'], reconnection: false, timeout: 5000 });
  const auth = { token: sys.token({ sub: 'multiplexed' }) };
  const root = m.socket('/', { auth });
  try {
    await waitEvent(root, 'connect', 3000);
    const admin = m.socket('/admin', { auth });
    const err = await waitEvent(admin, 'connect_error', 3000);
    assert.equal(err.message, 'Invalid namespace');
    assert.equal(root.connected, true);
    expectOk(await emitAck(root, 'actor:list'));
  } finally {
    root.disconnect();
    m.engine?.close();
  }
});

// parley-token (the C minting tool) and Node's crypto agree on HS256.
function runToken(sys, args, env = {}) {
  const r = spawnSync(BIN.token, args, {
    env: { PATH: process.env.PATH, PARLEY_JWT_SECRET: sys.secret, PARLEY_LOG_LEVEL: 'error', ...env },
    encoding: 'utf8', timeout: 5000,
  });
  return r;
}

h.test('parley-token mints a JWT that Node verifies and the gateway accepts', async (t, sys) => {
  const r = runToken(sys, ['--sub', 'cli-user', '--name', 'CLI User', '--ttl', '120']);
  assert.equal(r.status, 0, r.stderr);
  const tok = r.stdout.trim();
  const [hd, pl, sig] = tok.split('.');
  const expect = crypto.createHmac('sha256', sys.secret).update(`${hd}.${pl}`).digest('base64url');
  assert.equal(sig, expect, 'HS256 signature made with PARLEY_JWT_SECRET');
  assert.equal(JSON.parse(Buffer.from(hd, 'base64url')).alg, 'HS256');
  const claims = JSON.parse(Buffer.from(pl, 'base64url'));
  assert.equal(claims.sub, 'cli-user');
  assert.equal(claims.name, 'CLI User');
  assert.ok(Math.abs(claims.exp - (nowSec() + 120)) <= 5, `exp ${claims.exp} is now + 120 s`);
  const s = await sys.connectOk(tok);
  const a = expectOk(await emitAck(s, 'actor:create', { name: 'From CLI', type: 'pc' }));
  assert.equal(a.createdBy, 'cli-user');
  s.disconnect();
});

h.test('parley-token without PARLEY_JWT_SECRET signs with the dev secret, which this gateway refuses', async (t, sys) => {
  const r = runToken(sys, ['--sub', 'dev'], { PARLEY_JWT_SECRET: '' });
  assert.equal(r.status, 0, r.stderr);
  const [hd, pl, sig] = r.stdout.trim().split('.');
  const dev = crypto.createHmac('sha256', 'parley-dev-secret-do-not-use-in-production').update(`${hd}.${pl}`).digest('base64url');
  assert.equal(sig, dev);
  await sys.connectError(r.stdout.trim());
});

h.test('parley-token refuses to run without --sub', async (t, sys) => {
  const r = runToken(sys, ['--name', 'No Sub']);
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout.trim(), '', 'no token printed');
  assert.ok(r.stderr.length > 0, 'says why');
});
