// tests/e2e/lib/campaign.mjs - helpers for the multi-user tests (campaigns,
// rooms, presence, chat, entities, REST): unique ids, an event recorder that
// can wait for a matching event or prove one did not come, a campaign with
// its members set up in one call, and a REST client.
//
//   const rec = record(socket);                  // before the action
//   ... action ...
//   await rec.waitFor('actor:created', (a) => a.id === id);
//   await quiet();                               // after a positive control
//   assert.equal(rec.count('actor:created'), 1);
//
// Absence is only ever checked after a positive control event proved that
// the same kind of delivery happened elsewhere, plus QUIET_MS for reordering.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { emitAck, expectOk, sleep } from './system.mjs';

// Time allowed for an event that must NOT arrive to show up anyway.
export const QUIET_MS = 400;
// A subscription travels gateway SUB -> broker XPUB/XSUB -> worker PUB
// asynchronously (ZeroMQ's "slow joiner"); give it a moment after the acks
// before the first event a new member must see.
export const SETTLE_MS = 200;

export const quiet = (ms = QUIET_MS) => sleep(ms);
export const settle = (ms = SETTLE_MS) => sleep(ms);

/** A unique id with a readable prefix (valid as a user id and a room id). */
export function uid(prefix = 'u') {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Every event a socket receives, with helpers to wait for and count them. */
export class Recorder {
  constructor(socket, label = '') {
    this.socket = socket;
    this.label = label;
    this.events = [];               // {event, args, data, at}
    this.waiters = new Set();
    socket.onAny((event, ...args) => {
      const e = { event, args, data: args[0], at: Date.now() };
      this.events.push(e);
      for (const w of [...this.waiters]) w(e);
    });
  }

  /** The recorded events named `event` whose payload satisfies pred. */
  of(event, pred = () => true) {
    return this.events.filter((e) => e.event === event && pred(e.data, e.args));
  }

  count(event, pred) { return this.of(event, pred).length; }

  /** Payloads of `event` (matching pred), in arrival order. */
  data(event, pred) { return this.of(event, pred).map((e) => e.data); }

  /** Names of all recorded events whose name starts with prefix. */
  names(prefix = '') {
    return this.events.filter((e) => e.event.startsWith(prefix)).map((e) => e.event);
  }

  /**
   * Resolve with the payload of the first event named `event` matching pred,
   * already recorded or arriving within ms; reject otherwise.
   */
  waitFor(event, pred = () => true, ms = 3000) {
    const found = this.events.find((e) => e.event === event && pred(e.data, e.args));
    if (found) return Promise.resolve(found.data);
    return new Promise((resolve, reject) => {
      const on = (e) => {
        if (e.event !== event || !pred(e.data, e.args)) return;
        clearTimeout(timer);
        this.waiters.delete(on);
        resolve(e.data);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(on);
        const got = this.events.map((x) => x.event).join(', ') || 'nothing';
        reject(new Error(`${this.label || 'socket'}: no matching ${event} within ${ms} ms (received: ${got})`));
      }, ms);
      this.waiters.add(on);
    });
  }

  /** Forget what was recorded so far. */
  clear() { this.events.length = 0; }
}

export const record = (socket, label) => new Recorder(socket, label);

/** subscribe and assert the ack is `{success:true, data:{room}}`. */
export async function subscribeOk(socket, room) {
  const ack = await emitAck(socket, 'subscribe', { room });
  const data = expectOk(ack);
  assert.deepEqual(data, { room }, `subscribe ack data for ${room}`);
  return data;
}

export async function unsubscribeOk(socket, room) {
  const data = expectOk(await emitAck(socket, 'unsubscribe', { room }));
  assert.deepEqual(data, { room }, `unsubscribe ack data for ${room}`);
  return data;
}

/** Create a campaign as `gm` (a socket); returns the campaign (role gm). */
export async function createCampaign(gm, name = uid('Campaign')) {
  const c = expectOk(await emitAck(gm, 'campaign:create', { name }));
  assert.equal(typeof c.id, 'string');
  assert.equal(c.name, name);
  assert.equal(c.role, 'gm');
  return c;
}

export async function addMember(gm, campaignId, userId, role = 'player') {
  const data = expectOk(await emitAck(gm, 'campaign:addMember', { campaignId, userId, role }));
  assert.deepEqual(data, { campaignId, userId, role });
  return data;
}

/**
 * A campaign with a GM and players, everyone connected and (unless
 * subscribe: false) subscribed to campaign:<id>.
 *   const c = await setupCampaign(sys, { players: 2, outsider: true });
 *   c.id, c.room, c.gm / c.p1 / c.p2 / c.out: {id, name, s (socket), rec}
 * opts.gateways: for each user key, the gateway to connect to.
 */
export async function setupCampaign(sys, opts = {}) {
  const { players = 2, outsider = true, subscribe = true, gateways = {}, prefix = 'c' } = opts;
  const mk = async (key) => {
    const id = uid(`${prefix}-${key}`);
    const name = `Name of ${id}`;
    const s = await sys.connectOk(sys.token({ sub: id, name }), { gateway: gateways[key] });
    return { id, name, s, rec: record(s, key) };
  };
  const c = {};
  c.gm = await mk('gm');
  c.campaign = await createCampaign(c.gm.s);
  c.id = c.campaign.id;
  c.room = `campaign:${c.id}`;
  c.players = [];
  for (let i = 1; i <= players; i++) {
    const p = await mk(`p${i}`);
    await addMember(c.gm.s, c.id, p.id, 'player');
    c[`p${i}`] = p;
    c.players.push(p);
  }
  if (outsider) c.out = await mk('out');
  if (subscribe) {
    for (const u of [c.gm, ...c.players]) await subscribeOk(u.s, c.room);
    await settle();
  }
  // The set-up's own pushes (memberAdded, presence) are not the test's.
  for (const u of [c.gm, ...c.players, c.out].filter(Boolean)) u.rec.clear();
  c.all = () => [c.gm, ...c.players, c.out].filter(Boolean);
  c.close = () => { for (const u of c.all()) u.s.disconnect(); };
  return c;
}

/** Another connection (tab) of an existing user; gets its own recorder. */
export async function tab(sys, user, gateway) {
  const s = await sys.connectOk(sys.token({ sub: user.id, name: user.name }), { gateway });
  return { id: user.id, name: user.name, s, rec: record(s, `${user.id}-tab`) };
}

// ---- REST -----------------------------------------------------------------

/**
 * fetch against a gateway's /api/v1 with a bearer token. Returns
 * {status, body (parsed JSON, or the text when not JSON, or null when
 * empty), text, headers}.
 *   await rest(sys, token, 'POST', '/campaigns', { name: 'X' })
 * opts: {gateway, headers, raw (send body as is), auth: false (no header)}
 */
export async function rest(sys, token, method, path, body, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (token !== undefined && opts.auth !== false) headers.authorization ??= `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    payload = opts.raw ? body : JSON.stringify(body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${sys.url(opts.gateway)}/api/v1${path}`, {
    method, headers, body: payload, signal: AbortSignal.timeout(opts.timeoutMs ?? 8000),
  });
  const text = await res.text();
  let parsed = null;
  if (text.length) {
    try { parsed = JSON.parse(text); } catch { parsed = text; }
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/**
 * Assert a REST error response: status, {error:{code, message}}, JSON.
 * code undefined: any non-empty code (statuses errors.def has no code of
 * its own for: 405, 413, 415).
 */
export function expectRestError(res, status, code) {
  assert.equal(res.status, status, `HTTP status (body ${res.text})`);
  assert.ok(res.body && typeof res.body === 'object' && res.body.error,
    `error body is {error:{...}}, got ${res.text}`);
  if (code === undefined) assert.ok(typeof res.body.error.code === 'string' && res.body.error.code.length > 0, `error code (body ${res.text})`);
  else assert.equal(res.body.error.code, code, `error code (body ${res.text})`);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0, 'error has a message');
  assert.match(res.headers.get('content-type') || '', /application\/json/);
  return res.body.error;
}

/**
 * A request with node:http that reads the response even when the server
 * answers before the whole body was sent and closes (a 413 for an oversized
 * body): fetch fails with EPIPE there. Resolves {status, body, text, headers
 * (a Headers)}.
 */
export function rawRequest(sys, token, method, path, body, { headers = {}, gateway, timeoutMs = 8000 } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(`${sys.url(gateway)}/api/v1${path}`);
    const h = { ...headers };
    if (token !== undefined) h.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      h['content-type'] ??= 'application/json';
      h['content-length'] = Buffer.byteLength(body);
    }
    let answered = false;
    const req = http.request(url, { method, headers: h, timeout: timeoutMs }, (res) => {
      answered = true;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed = null;
        if (text.length) {
          try { parsed = JSON.parse(text); } catch { parsed = text; }
        }
        const hdrs = new Headers();
        for (const [k, v] of Object.entries(res.headers)) hdrs.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode, body: parsed, text, headers: hdrs });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    // EPIPE/ECONNRESET while still writing is expected once the server has answered.
    req.on('error', (e) => { if (!answered) reject(e); });
    if (body !== undefined) req.write(body);
    req.end();
  });
}
