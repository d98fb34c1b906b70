// tests/corpus/capture.mjs - regenerate tests/corpus/sio/valid/ and expected/.
//
//   cd tests && node corpus/capture.mjs [--check]
//
// Valid frames are the exact WebSocket text frames that the real
// socket.io-client (tests/node_modules) sends: most are captured live from
// a socket.io-client connected to a throw-away `ws` server on 127.0.0.1 that
// plays the server's part of the handshake; a few shapes the live scenario
// cannot reach cheaply (ack id 15, a huge ack id) are made with the client's
// own encoders (socket.io-parser's Encoder + engine.io-parser's
// encodePacket), which is the code path the client uses to build a frame.
//
// For every valid frame, expected/NNN-name.json holds what the reference
// decoders (engine.io-parser + socket.io-parser) make of it.
//
// The hand-written invalid/ and edge/ frames are not touched; they are only
// run through the reference decoder and the verdicts printed, so a
// difference between Parley's rules and the reference shows up here.
//
// --check: write nothing; exit 1 if any file would change.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { io, Manager } from 'socket.io-client';
import { Encoder, Decoder, PacketType } from 'socket.io-parser';
import { encodePacket, decodePacket } from 'engine.io-parser';

const here = path.dirname(fileURLToPath(import.meta.url));
const sioDir = path.join(here, 'sio');
const check = process.argv.includes('--check');

// A fixed, well-formed HS256 JWT (dev secret, no exp) so the corpus is
// byte-for-byte reproducible.
function fixedToken() {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'corpus', name: 'Corpus' })}`;
  const sig = crypto.createHmac('sha256', 'parley-dev-secret-do-not-use-in-production')
    .update(input).digest('base64url');
  return `${input}.${sig}`;
}
const TOKEN = fixedToken();

// ---- the throw-away server -------------------------------------------------

function startServer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/socket.io/' });
  const state = { frames: [], waiters: [], conns: [], wss };
  let n = 0;
  wss.on('connection', (ws) => {
    state.conns.push(ws);
    n += 1;
    ws.send(`0${JSON.stringify({ sid: `corpus-eio-${n}`, upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 })}`);
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? null : data.toString('utf8');
      if (frame !== null && frame.startsWith('40')) {
        // CONNECT: answer like a server would, so the client goes on.
        const m = /^40(\/[^,]*,)?/.exec(frame);
        ws.send(`40${m[1] || ''}${JSON.stringify({ sid: `corpus-sio-${state.frames.length}` })}`);
      }
      const w = state.waiters.shift();
      if (w) w(frame); else state.frames.push(frame);
    });
  });
  return new Promise((resolve) => wss.on('listening', () => resolve(state)));
}

function nextFrame(state, timeoutMs = 3000) {
  if (state.frames.length) return Promise.resolve(state.frames.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no frame within ${timeoutMs} ms`)), timeoutMs);
    state.waiters.push((f) => { clearTimeout(timer); resolve(f); });
  });
}

const once = (emitter, ev) => new Promise((resolve) => emitter.once(ev, resolve));

// ---- the live scenario ---------------------------------------------------

async function captureLive() {
  const srv = await startServer();
  const url = `http://127.0.0.1:${srv.wss.address().port}`;
  const out = [];
  const step = async (name, action) => {
    await action();
    out.push([name, await nextFrame(srv)]);
  };

  const base = { transports: ['websocket'], reconnection: false, forceNew: true };

  // Connection 1: with auth, root namespace then /admin on the same manager.
  // autoConnect off: Socket.connect() on an auto-connecting socket sends a
  // second CONNECT (a real client quirk, but not what we want to record).
  const manager = new Manager(url, { transports: ['websocket'], reconnection: false, autoConnect: false });
  const sock = manager.socket('/', { auth: { token: TOKEN } });
  sock.on('server:ask', (arg, cb) => cb({ ok: true, echo: arg }));
  await step('connect-auth', async () => { sock.connect(); });
  await once(sock, 'connect');
  const server1 = srv.conns[0];

  await step('pong', () => server1.send('2'));
  await step('event-create-noack', () => sock.emit('actor:create', { name: 'Aragorn', type: 'pc' }));
  await step('event-list-ack0', () => sock.emit('actor:list', () => {}));
  await step('event-get-ack1', () => sock.emit('actor:get', 'f3b1c2d4-0001', () => {}));
  await step('event-update-nested-ack2', () => sock.emit('actor:update', {
    id: 'f3b1c2d4-0001', name: 'Strider',
    stats: { str: 18, dex: 14, saves: { fort: 5, ref: [2, 3], will: { base: 1, bonus: null } } },
    tags: ['ranger', 'king', ''], alive: true, dead: false,
  }, () => {}));
  await step('event-delete-ack3', () => sock.emit('actor:delete', 'f3b1c2d4-0001', () => {}));
  await step('event-unicode-ack4', () => sock.emit('actor:create', {
    name: 'Éowyn 🛡️', type: 'pc',
    bio: '王 — «guillemets» "double" \\ back\nnewline\ttab\u0001ctl\u0000nul \u2028ls \u2029ps \uFEFFbom 𝄞',
  }, () => {}));
  await step('event-numbers-ack5', () => sock.emit('numbers', {
    zero: 0, neg: -17, maxSafe: 9007199254740991, minSafe: -9007199254740991,
    float: 3.14159, sum: 0.1 + 0.2, exp: 1e21, small: 1e-7, negZero: -0, nan: NaN, inf: Infinity,
  }, () => {}));
  await step('event-arrays-noack', () => sock.emit('arrays', [], [[]], [1, [2, [3, [4]]]], { a: [{ b: [{ c: null }] }] }));
  await step('event-multi-args-noack', () => sock.emit('misc', true, false, null, 0, '', {}));
  await step('event-name-only', () => sock.emit('ping:me'));
  await step('event-unicode-name', () => sock.emit('événement:日本', { k: 'v' }));
  await step('event-empty-object', () => sock.emit('actor:create', {}, () => {}));
  await step('event-large-string', () => sock.emit('actor:create', { name: 'Big', type: 'npc', notes: 'lorem ipsum '.repeat(700) }));
  await step('event-many-keys', () => {
    const o = {};
    for (let i = 0; i < 200; i++) o[`k${i}`] = i % 3 === 0 ? `v${i}` : i;
    sock.emit('actor:update', { id: 'f3b1c2d4-0002', ...o });
  });
  await step('event-deep-nesting', () => {
    let o = { leaf: true };
    for (let i = 0; i < 64; i++) o = { d: o };
    sock.emit('deep', o);
  });
  await step('ack-from-client', () => server1.send('427["server:ask",{"q":1}]'));
  await step('ack-from-client-bigger-id', () => server1.send('42123456["server:ask","x"]'));

  const admin = manager.socket('/admin', { auth: { token: TOKEN } });
  await step('connect-admin-auth', async () => { admin.connect(); });
  await once(admin, 'connect');
  await step('admin-event-noack', () => admin.emit('x', {}));
  await step('admin-event-ack0', () => admin.emit('x', () => {}));
  await step('admin-disconnect', () => admin.disconnect());
  await step('disconnect', () => sock.disconnect());

  // Connection 2: no auth at all.
  const bare = io(url, base);
  await step('connect-noauth', () => {});
  await once(bare, 'connect');
  const bareAdmin = bare.io.socket('/admin');
  await step('connect-admin-noauth', () => {});   // auto-connects
  await once(bareAdmin, 'connect');
  bareAdmin.disconnect();
  await nextFrame(srv);         // its 41/admin, (already captured above)
  bare.disconnect();
  await nextFrame(srv);         // 41

  srv.wss.close();
  for (const c of srv.conns) c.terminate();
  return out;
}

// ---- frames made with the client's own encoders --------------------------

function encodeFrame(packet) {
  const parts = new Encoder().encode(packet);
  if (parts.length !== 1) throw new Error('binary packet in the text corpus');
  let text;
  encodePacket({ type: 'message', data: parts[0] }, false, (s) => { text = s; });
  return text;
}

function encoded() {
  const frame = encodeFrame;
  return [
    ['encoded-event-ack15-two-args', frame({ type: PacketType.EVENT, nsp: '/', id: 15, data: ['x', 1, 2] })],
    ['encoded-event-ack-int32-max', frame({ type: PacketType.EVENT, nsp: '/', id: 2147483647, data: ['actor:list'] })],
    ['encoded-event-ack-uint32-max', frame({ type: PacketType.EVENT, nsp: '/', id: 4294967295, data: ['actor:list'] })],
    ['encoded-ack-empty-array', frame({ type: PacketType.ACK, nsp: '/', id: 3, data: [] })],
    ['encoded-admin-event-ack9', frame({ type: PacketType.EVENT, nsp: '/admin', id: 9, data: ['x', { y: [1] }] })],
    ['encoded-connect-empty-object', frame({ type: PacketType.CONNECT, nsp: '/', data: {} })],
    ['encoded-connect-admin-empty-object', frame({ type: PacketType.CONNECT, nsp: '/admin', data: {} })],
  ];
}

// ---- reference decoding ----------------------------------------------------

/** What engine.io-parser + socket.io-parser make of a frame, or {error}. */
function referenceDecode(frame) {
  const eio = decodePacket(frame);
  if (eio.type === 'error') return { error: 'engine.io: parser error' };
  if (eio.type !== 'message') return { eio: eio.type, ...(eio.data !== undefined ? { data: eio.data } : {}) };
  const dec = new Decoder();
  let packet = null;
  dec.on('decoded', (p) => { packet = p; });
  try {
    dec.add(eio.data);
  } catch (e) {
    return { error: `socket.io: ${e.message}` };
  }
  if (!packet) return { error: 'socket.io: incomplete (binary packet waiting for attachments)' };
  const sio = { type: packet.type, typeName: PacketType[packet.type], nsp: packet.nsp };
  if (packet.id !== undefined) sio.id = packet.id;
  if (packet.data !== undefined) sio.data = packet.data;
  return { eio: 'message', sio };
}

// ---- write -----------------------------------------------------------------

function writeAll(dir, files) {
  // files: Map name -> content (string). Removes stale generated files.
  let changed = 0;
  fs.mkdirSync(dir, { recursive: true });
  const want = new Set(files.keys());
  for (const f of fs.readdirSync(dir)) {
    if (!want.has(f)) {
      changed += 1;
      if (!check) fs.unlinkSync(path.join(dir, f));
      else console.error(`would remove ${path.join(dir, f)}`);
    }
  }
  for (const [name, content] of files) {
    const p = path.join(dir, name);
    const old = fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : null;
    if (old !== content) {
      changed += 1;
      if (check) console.error(`would write ${p}`);
      else fs.writeFileSync(p, content);
    }
  }
  return changed;
}

async function main() {
  const live = await captureLive();
  const all = [...live, ...encoded()];
  const valid = new Map();
  const expected = new Map();
  let bad = 0;
  all.forEach(([name, frame], i) => {
    const base = `${String(i + 1).padStart(3, '0')}-${name}`;
    const ref = referenceDecode(frame);
    if (ref.error) {
      console.error(`reference decoder rejects valid/${base}.txt: ${ref.error}: ${frame}`);
      bad += 1;
    }
    // The client's encoders must give back the same bytes from the decoded
    // packet: proof that live capture and encoder agree on the framing.
    if (!ref.error && ref.sio) {
      const again = encodeFrame({ type: ref.sio.type, nsp: ref.sio.nsp, id: ref.sio.id, data: ref.sio.data });
      if (again !== frame) {
        console.error(`re-encoding valid/${base}.txt differs:\n  ${frame}\n  ${again}`);
        bad += 1;
      }
    }
    valid.set(`${base}.txt`, frame);
    expected.set(`${base}.json`, `${JSON.stringify(ref, null, 2)}\n`);
  });
  let changed = writeAll(path.join(sioDir, 'valid'), valid);
  changed += writeAll(path.join(sioDir, 'expected'), expected);
  console.log(`${valid.size} valid frames${check ? ' checked' : ' written'}, ${changed} file(s) ${check ? 'differ' : 'changed'}`);

  // Report what the reference decoder thinks of the hand-written sets.
  for (const set of ['invalid', 'edge']) {
    const dir = path.join(sioDir, set);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.txt')).sort()) {
      const frame = fs.readFileSync(path.join(dir, f), 'utf8');
      const ref = referenceDecode(frame);
      const shown = JSON.stringify(ref);
      const verdict = ref.error ? `rejected (${ref.error})`
        : `ACCEPTED as ${shown.length > 160 ? `${shown.slice(0, 160)}...` : shown}`;
      console.log(`  reference on ${set}/${f}: ${verdict}`);
    }
  }
  if (bad || (check && changed)) process.exit(1);
}

main().catch((e) => { console.error(e); process.exit(1); });
