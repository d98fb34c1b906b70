// The conformance server (parley-conformance sio|eio, gateway/pl_conformance.h):
// the gateway's own transports and protocol code with the reference test
// servers' application in front, checked against what the protocol documents
// say (engine.io-protocol v4, socket.io-protocol v5, their "Test suite"
// sections). Written from the documents; the official suites run outside the
// repository (docs/CONFORMANCE.md).
//
// Raw HTTP (fetch) and raw WebSockets (ws) for the packets, the real
// socket.io-client for the round trips a front-end makes.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { Proc, buildDir, freePort, waitEvent } from './lib/system.mjs';

const CONFORMANCE = path.join(buildDir, 'gateway/parley-conformance');

/** Start parley-conformance <mode> on a free port; stop() checks it exits 0
 * on SIGTERM and printed no sanitizer report. */
async function startConformance(mode) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-conf-'));
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PARLEY_')) env[k] = v;
  Object.assign(env, {
    PARLEY_PORT: String(port),
    PARLEY_BIND: '127.0.0.1',
    PARLEY_PATH: mode === 'eio' ? '/engine.io/' : '/socket.io/',
    PARLEY_PING_INTERVAL_MS: '300',
    PARLEY_PING_TIMEOUT_MS: '200',
    PARLEY_MAX_PAYLOAD: '1000000',
    PARLEY_LOG_LEVEL: 'info',
  });
  const proc = new Proc(`conformance-${mode}`, { bin: CONFORMANCE, args: [mode], env },
    path.join(dir, `conformance-${mode}.log`));
  proc.start();
  await proc.waitOutput(/listening on/, 20000);
  const base = `http://127.0.0.1:${port}${env.PARLEY_PATH}`;
  return {
    url: `http://127.0.0.1:${port}`,
    poll: `${base}?EIO=4&transport=polling`,
    ws: `${base.replace('http', 'ws')}?EIO=4&transport=websocket`,
    async stop() {
      proc.signal('SIGTERM');
      const rec = await proc.exited;
      assert.equal(proc.sanitizer, null, `sanitizer report: ${proc.sanitizer}`);
      assert.equal(rec.code, 0, `exit ${rec.code} ${rec.signal}\n${proc.tail()}`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw WebSocket that keeps every message, text or binary, in order. */
function rawSocket(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: 3000 });
    const c = { ws, queue: [], waiters: [], closed: null, autoPong: false };
    c.closed = new Promise((r) => ws.on('close', (code) => {
      for (const w of c.waiters) w.reject(new Error(`closed (${code})`));
      c.waiters = [];
      r(code);
    }));
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      const m = isBinary ? Buffer.from(data) : data.toString();
      if (m === '2' && c.autoPong) { ws.send('3'); return; }
      const w = c.waiters.shift();
      if (w) w.resolve(m); else c.queue.push(m);
    });
    c.next = (ms = 3000) => {
      if (c.queue.length) return Promise.resolve(c.queue.shift());
      return new Promise((res, rej) => {
        const w = { resolve: (v) => { clearTimeout(t); res(v); }, reject: (e) => { clearTimeout(t); rej(e); } };
        const t = setTimeout(() => { c.waiters = c.waiters.filter((x) => x !== w); rej(new Error(`no message within ${ms} ms`)); }, ms);
        c.waiters.push(w);
      });
    };
    /** The next message that is not a ping. */
    c.nextNonPing = async () => { for (;;) { const m = await c.next(); if (m !== '2') return m; } };
    c.send = (m) => ws.send(m);
    c.close = () => ws.terminate();
    ws.once('open', () => resolve(c));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

/** A WebSocket past the Engine.IO open packet (returned parsed). */
async function opened(url) {
  const c = await rawSocket(url);
  const open = await c.next();
  assert.match(open, /^0\{/);
  return [c, JSON.parse(open.slice(1))];
}

/** A WebSocket connected to "/" (CONNECT, its answer and the auth emit read). */
async function connectedMain(url) {
  const [c] = await opened(url);
  c.send('40');
  assert.match(await c.nextNonPing(), /^40\{"sid":"[^"]+"\}$/);
  assert.equal(await c.nextNonPing(), '42["auth",{}]');
  return c;
}

const text = async (res) => ({ status: res.status, body: await res.text() });

function checkOpen(open, upgrades) {
  assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.equal(typeof open.sid, 'string');
  assert.deepEqual(open.upgrades, upgrades);
  assert.equal(open.pingInterval, 300);
  assert.equal(open.pingTimeout, 200);
  assert.equal(open.maxPayload, 1000000);
}

describe('conformance server, Socket.IO (parley-conformance sio)', () => {
  let srv;
  const sockets = [];
  before(async () => { srv = await startConformance('sio'); });
  after(async () => {
    for (const s of sockets) s.close();
    await srv.stop();
  });
  const client = (nsp = '', opts = {}) => {
    const s = io(`${srv.url}${nsp}`, { reconnection: false, forceNew: true, ...opts });
    sockets.push(s);
    return s;
  };

  test('handshake: the open packet over polling and over WebSocket', async () => {
    const r = await text(await fetch(srv.poll));
    assert.equal(r.status, 200);
    assert.match(r.body, /^0\{/);
    checkOpen(JSON.parse(r.body.slice(1)), ['websocket']);
    const [c, open] = await opened(srv.ws);
    checkOpen(open, []);
    c.close();
    assert.equal((await fetch(`${srv.url}/socket.io/?transport=polling`)).status, 400);
    assert.equal((await fetch(`${srv.url}/socket.io/?EIO=4&transport=abc`)).status, 400);
    assert.equal((await fetch(srv.poll, { method: 'PUT' })).status, 400);
  });

  test('a sid naming another gateway is an unknown sid: there is no broker to forward through', async () => {
    for (const method of ['GET', 'POST']) {
      const r = await text(await fetch(`${srv.poll}&sid=gw-other.abcdefghij0123456789`,
        { method, body: method === 'POST' ? '4x' : undefined }));
      assert.equal(r.status, 400, method);
      assert.deepEqual(JSON.parse(r.body), { code: 1, message: 'Session ID unknown' });
    }
    assert.equal((await text(await fetch(srv.poll))).status, 200);   // still up
  });

  test('CONNECT: "/" and "/custom" answered with a sid, then the handshake auth emitted as "auth"', async () => {
    const [c] = await opened(srv.ws);
    c.send('40{"token":"123"}');
    assert.match(await c.nextNonPing(), /^40\{"sid":"[^"]+"\}$/);
    assert.equal(await c.nextNonPing(), '42["auth",{"token":"123"}]');
    c.send('40/custom,{"token":"abc"}');
    assert.match(await c.nextNonPing(), /^40\/custom,\{"sid":"[^"]+"\}$/);
    assert.equal(await c.nextNonPing(), '42/custom,["auth",{"token":"abc"}]');
    c.close();
    // /custom alone, without a comma or a payload
    const [d] = await opened(srv.ws);
    d.send('40/custom');
    assert.match(await d.nextNonPing(), /^40\/custom,\{"sid":"[^"]+"\}$/);
    assert.equal(await d.nextNonPing(), '42/custom,["auth",{}]');
    d.close();
  });

  test('an unknown namespace is refused for that namespace, and the connection goes on', async () => {
    const [c] = await opened(srv.ws);
    c.send('40/random');
    assert.equal(await c.nextNonPing(), '44/random,{"message":"Invalid namespace"}');
    c.send('40');
    assert.match(await c.nextNonPing(), /^40\{"sid"/);
    c.close();
  });

  test('message -> message-back and message-with-ack acked, on "/" and "/custom"', async () => {
    const c = await connectedMain(srv.ws);
    c.send('42["message",1,"2",{"3":[true]}]');
    assert.equal(await c.nextNonPing(), '42["message-back",1,"2",{"3":[true]}]');
    c.send('42456["message-with-ack",1,"2",{"3":[false]}]');
    assert.equal(await c.nextNonPing(), '43456[1,"2",{"3":[false]}]');
    c.send('40/custom,');
    await c.nextNonPing();
    await c.nextNonPing();
    c.send('42/custom,["message","x"]');
    assert.equal(await c.nextNonPing(), '42/custom,["message-back","x"]');
    c.send('42/custom,9["message-with-ack",[1]]');
    assert.equal(await c.nextNonPing(), '43/custom,9[[1]]');
    c.close();
  });

  test('binary attachments are echoed with the packet, with and without an ack', async () => {
    const c = await connectedMain(srv.ws);
    c.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    c.send(Uint8Array.from([1, 2, 3]));
    c.send(Uint8Array.from([4, 5, 6]));
    assert.equal(await c.nextNonPing(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.deepEqual(await c.nextNonPing(), Buffer.from([1, 2, 3]));
    assert.deepEqual(await c.nextNonPing(), Buffer.from([4, 5, 6]));
    c.send('451-789["message-with-ack",{"_placeholder":true,"num":0}]');
    c.send(Uint8Array.from([9]));
    assert.equal(await c.nextNonPing(), '461-789[{"_placeholder":true,"num":0}]');
    assert.deepEqual(await c.nextNonPing(), Buffer.from([9]));
    // text where an attachment was announced closes
    c.send('451-["message",{"_placeholder":true,"num":0}]');
    c.send('42["message"]');
    await c.closed;
  });

  test('DISCONNECT leaves the namespace and the connection goes on', async () => {
    const c = await connectedMain(srv.ws);
    c.send('40/custom');
    await c.nextNonPing();
    await c.nextNonPing();
    c.send('41/custom');
    c.send('42["message","still here"]');
    assert.equal(await c.nextNonPing(), '42["message-back","still here"]');
    // an event for the namespace it left closes the connection
    c.send('42/custom,["message"]');
    await c.closed;
    // "41" for "/" leaves it: the next thing the server sends is a ping
    const d = await connectedMain(srv.ws);
    d.send('41');
    assert.equal(await d.next(), '2');
    d.close();
  });

  test('invalid packets close the connection; no CONNECT within connectTimeout closes it', async () => {
    for (const bad of ['4abc', '42{}', '42abc["message-with-ack",1]']) {
      const c = await connectedMain(srv.ws);
      c.send(bad);
      await c.closed;
    }
    const [c] = await opened(srv.ws);
    c.autoPong = true;      // the heartbeat is kept: only the CONNECT deadline (1 s) closes it
    const t0 = Date.now();
    await c.closed;
    assert.ok(Date.now() - t0 >= 900, `closed after ${Date.now() - t0} ms`);
  });

  test('socket.io-client at its defaults (polling, then upgrade): auth, echo, ack, binary, /custom', async () => {
    const s = client('', { auth: { token: 'tok' } });
    const auth = waitEvent(s, 'auth');
    await waitEvent(s, 'connect');
    assert.deepEqual(await auth, { token: 'tok' });
    const back = waitEvent(s, 'message-back');
    s.emit('message', 1, 'two', { three: [true] }, Buffer.from([7, 8]));
    const args = await back;
    assert.deepEqual(args.slice(0, 3), [1, 'two', { three: [true] }]);
    assert.deepEqual(Buffer.from(args[3]), Buffer.from([7, 8]));
    const acked = await new Promise((resolve) => s.emit('message-with-ack', 'x', Buffer.from([1]), (...a) => resolve(a)));
    assert.equal(acked[0], 'x');
    assert.deepEqual(Buffer.from(acked[1]), Buffer.from([1]));
    if (s.io.engine.transport.name !== 'websocket') await waitEvent(s.io.engine, 'upgrade');
    assert.equal(s.io.engine.transport.name, 'websocket');
    const custom = client('/custom', { auth: { room: 'c' } });
    assert.deepEqual(await waitEvent(custom, 'auth'), { room: 'c' });
    const back2 = waitEvent(custom, 'message-back');
    custom.emit('message', 'on custom');
    assert.equal(await back2, 'on custom');
  });

  test('socket.io-client with transports ["polling"]: echo and binary echo through held GETs', async () => {
    const s = client('', { transports: ['polling'] });
    await waitEvent(s, 'connect');
    const back = waitEvent(s, 'message-back');
    s.emit('message', Buffer.from([0, 255, 10]), 'tail');
    const args = await back;
    assert.deepEqual(Buffer.from(args[0]), Buffer.from([0, 255, 10]));
    assert.equal(args[1], 'tail');
    assert.equal(s.io.engine.transport.name, 'polling');
  });
});

describe('conformance server, Engine.IO (parley-conformance eio)', () => {
  let srv;
  before(async () => { srv = await startConformance('eio'); });
  after(async () => { await srv.stop(); });

  const post = async (sid, body) => text(await fetch(`${srv.poll}&sid=${sid}`, { method: 'POST', body }));
  const get = async (sid) => text(await fetch(`${srv.poll}&sid=${sid}`));

  test('path /engine.io/; every message echoed over polling, text and binary', async () => {
    assert.equal((await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`)).status, 404);
    const r = await text(await fetch(srv.poll));
    const open = JSON.parse(r.body.slice(1));
    checkOpen(open, ['websocket']);
    assert.deepEqual(await post(open.sid, '4hello'), { status: 200, body: 'ok' });
    assert.deepEqual(await get(open.sid), { status: 200, body: '4hello' });
    assert.deepEqual(await post(open.sid, '4a\x1e4b\x1ebAQIDBA=='), { status: 200, body: 'ok' });
    assert.deepEqual(await get(open.sid), { status: 200, body: '4a\x1e4b\x1ebAQIDBA==' });
    // no Socket.IO parsing: "4" + anything is a message
    assert.deepEqual(await post(open.sid, '4not a socket.io packet'), { status: 200, body: 'ok' });
    assert.deepEqual(await get(open.sid), { status: 200, body: '4not a socket.io packet' });
    // a body that is no Engine.IO packet closes the session
    assert.equal((await post(open.sid, 'abc')).status, 400);
    assert.equal((await get(open.sid)).status, 400);
  });

  test('every message echoed over WebSocket; the upgrade from polling keeps echoing', async () => {
    const [c, open] = await opened(srv.ws);
    checkOpen(open, []);
    c.send('4hello');
    assert.equal(await c.nextNonPing(), '4hello');
    c.send(Uint8Array.from([1, 2, 3, 4]));
    assert.deepEqual(await c.nextNonPing(), Buffer.from([1, 2, 3, 4]));
    c.send('abc');
    await c.closed;

    const sid = JSON.parse((await (await fetch(srv.poll)).text()).slice(1)).sid;
    const held = get(sid);
    const u = await rawSocket(`${srv.ws}&sid=${sid}`);
    u.send('2probe');
    assert.equal(await u.next(), '3probe');
    assert.deepEqual(await held, { status: 200, body: '6' });
    u.send('5');
    u.send('4after');
    assert.equal(await u.nextNonPing(), '4after');
    assert.equal((await get(sid)).status, 400);
    // a second WebSocket with that sid is opened and closed at once
    const second = await rawSocket(`${srv.ws}&sid=${sid}`);
    await second.closed;
    assert.deepEqual(second.queue, []);
    u.close();
  });

  test('the client\'s close: a POST of "1" sent with a GET answers the GET "6", then 400', async () => {
    const sid = JSON.parse((await (await fetch(srv.poll)).text()).slice(1)).sid;
    const [g, p] = await Promise.all([get(sid), post(sid, '1')]);
    assert.deepEqual(g, { status: 200, body: '6' });
    assert.equal(p.status, 200);
    assert.equal((await get(sid)).status, 400);
  });

  test('heartbeat: pings over polling and WebSocket, silence closes', async () => {
    const sid = JSON.parse((await (await fetch(srv.poll)).text()).slice(1)).sid;
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await get(sid), { status: 200, body: '2' });
      assert.deepEqual(await post(sid, '3'), { status: 200, body: 'ok' });
    }
    const [c] = await opened(srv.ws);
    assert.equal(await c.next(), '2');
    c.send('3');
    assert.equal(await c.next(), '2');
    await c.closed;           // no pong this time
  });
});
