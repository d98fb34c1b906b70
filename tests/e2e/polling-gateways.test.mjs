// HTTP long-polling across 2 gateways on ONE port (PARLEY_REUSEPORT=1), with
// no sticky sessions: the kernel spreads connections, so a client's
// requests land on either gateway, and a request for a sid of the other
// gateway is handed to it over the broker (PL01 FWD / FWDREP).
// (a) socket.io-client with transports ["polling"], and (b) at its
// defaults (polling, then an upgrade that works only when the WebSocket
// lands on the session's own gateway, else it stays on polling), run
// requests and acks, room broadcasts and presence; both gateways must have
// forwarded and served requests (/healthz stats); (c) raw HTTP on
// keep-alive connections pinned to one gateway: the other gateway's sid
// works for POST and GET (held there, answered when a reply comes), an
// unknown gateway prefix is 400, a duplicate GET across gateways closes the
// session, a GET cancelled on the other gateway closes the session, and a
// WebSocket upgrade on the other gateway is refused (400) while polling
// goes on.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe } from 'node:test';
import { useSystem, emitAck, expectOk, eventually } from './lib/system.mjs';
import { setupCampaign, subscribeOk, settle, record } from './lib/campaign.mjs';

// sys.connect here is polling-only unless a test asks for the defaults
process.env.PARLEY_E2E_TRANSPORTS = 'polling';

/** An HTTP keep-alive connection pinned to one gateway (asserted on every
 *  request: the same socket), found by opening connections until /healthz
 *  names the gateway wanted. */
class Pinned {
  static async to(sys, gateway) {
    const want = sys.gatewayId(gateway);
    for (let i = 0; i < 64; i++) {
      const p = new Pinned(sys);
      const r = await p.request('/healthz');
      if (r.body.gateway === want) return p;
      p.close();
    }
    throw new Error(`64 connections, none reached ${want}`);
  }

  constructor(sys) {
    this.sys = sys;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.socket = null;
  }

  /** A request on this connection: {status, text, body}; opts.signal aborts. */
  request(path, { method = 'GET', body, headers = {}, timeoutMs = 5000, onRequest } = {}) {
    return new Promise((resolve, reject) => {
      const req = http.request(`${this.sys.url()}${path}`, { method, headers, agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => {
          clearTimeout(timer);
          let parsed;
          try { parsed = JSON.parse(text); } catch { parsed = text; }
          resolve({ status: res.statusCode, text, body: parsed });
        });
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('socket', (s) => {
        if (!this.socket) this.socket = s;
        else if (this.socket !== s) req.destroy(new Error('the pinned connection was replaced'));
      });
      req.on('error', (e) => { clearTimeout(timer); reject(e); });
      onRequest?.(req);
      req.end(body);
    });
  }

  eio(sid, opts = {}) {
    const q = `${this.sys.eioPath}?EIO=4&transport=polling${sid ? `&sid=${encodeURIComponent(sid)}` : ''}`;
    return this.request(q, opts);
  }

  post(sid, body, timeoutMs = 5000) {
    return this.eio(sid, { method: 'POST', body, timeoutMs, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
  }

  close() { this.agent.destroy(); }
}

/** The /healthz stats of each gateway (by id). */
async function stats(sys) {
  const out = {};
  for (const gw of sys.gatewayNames) out[sys.gatewayId(gw)] = (await sys.health(gw)).body.stats;
  return out;
}

describe('polling across 2 gateways on one port', () => {
  const h = useSystem({ workers: 1, gateways: 2, sharedPort: true, env: { PARLEY_MAX_PAYLOAD: '100000' } });

  h.test('polling-only clients on both gateways: requests and acks, room broadcasts, presence; both gateways forward and serve', async (t, sys) => {
    const before = await stats(sys);
    const c = await setupCampaign(sys, { players: 2, outsider: false, subscribe: false, prefix: 'xg' });
    const { gm, p1, p2 } = c;
    for (const u of [gm, p1, p2]) assert.equal(u.s.io.engine.transport.name, 'polling');
    // sessions on both gateways (each sid names its own), so that both
    // forward and both serve: more of p1's tabs until then
    const extra = [];
    const owners = () => new Set([gm.s, p1.s, p2.s, ...extra].map((s) => s.io.engine.id.split('.')[0]));
    for (let i = 0; i < 32 && owners().size < 2; i++) {
      extra.push(await sys.connectOk(sys.token({ sub: p1.id, name: p1.name })));
    }
    assert.deepEqual([...owners()].sort(), ['gw-1', 'gw-2'], 'sessions on both gateways');
    await subscribeOk(gm.s, c.room);
    await settle();
    await subscribeOk(p1.s, c.room);
    await gm.rec.waitFor('presence:joined', (d) => d.room === c.room && d.userId === p1.id);
    await subscribeOk(p2.s, c.room);
    await gm.rec.waitFor('presence:joined', (d) => d.room === c.room && d.userId === p2.id);
    await settle();
    // every one sends, every one hears every message, in order, once
    const sent = [];
    for (let i = 0; i < 4; i++) {
      for (const u of [gm, p1, p2]) {
        sent.push(expectOk(await emitAck(u.s, 'chat:send', { room: c.room, text: `${u.id} ${i}` })).id);
      }
    }
    for (const u of [gm, p1, p2]) {
      await eventually(() => u.rec.events.filter((e) => e.event === 'chat:message').length >= sent.length,
        { timeoutMs: 10000, what: `${u.id}: ${sent.length} messages` });
      assert.deepEqual(u.rec.events.filter((e) => e.event === 'chat:message').map((e) => e.data.id), sent);
    }
    // an actor created by the GM reaches the players
    const actor = expectOk(await emitAck(gm.s, 'actor:create', { name: 'Boromir', type: 'npc', campaignId: c.id }));
    await p1.rec.waitFor('actor:created', (a) => a.id === actor.id);
    await p2.rec.waitFor('actor:created', (a) => a.id === actor.id);
    const list = expectOk(await emitAck(p2.s, 'presence:list', { room: c.room }));
    assert.deepEqual(list.map((u) => u.userId).sort(), [gm.id, p1.id, p2.id].sort());
    for (const s of extra) {
      for (let i = 0; i < 4; i++) assert.ok(Array.isArray(expectOk(await emitAck(s, 'campaign:list'))));
      s.disconnect();
    }
    p2.s.disconnect();
    await gm.rec.waitFor('presence:left', (d) => d.room === c.room && d.userId === p2.id);
    const after = await stats(sys);
    for (const id of ['gw-1', 'gw-2']) {
      assert.ok(after[id].poll_forwarded > before[id].poll_forwarded, `${id} forwarded requests`);
      assert.ok(after[id].poll_forwards_served > before[id].poll_forwards_served, `${id} served forwards`);
    }
    c.close();
  });

  h.test('default clients: polling, then an upgrade where the WebSocket lands on the session\'s gateway; requests and broadcasts either way', async (t, sys) => {
    const c = await setupCampaign(sys, { players: 1, outsider: false, subscribe: false, prefix: 'xd' });
    await subscribeOk(c.gm.s, c.room);
    const clients = [];
    for (let i = 0; i < 6; i++) {
      const s = await sys.connectOk(sys.token({ sub: c.p1.id, name: c.p1.name }),
        { io: { transports: ['polling', 'websocket'] } });
      clients.push({ s, rec: record(s, `d${i}`) });
    }
    for (const { s } of clients) expectOk(await emitAck(s, 'subscribe', { room: c.room }));
    await settle();
    const m = expectOk(await emitAck(c.gm.s, 'chat:send', { room: c.room, text: 'to all' }));
    for (const { s, rec } of clients) {
      await rec.waitFor('chat:message', (x) => x.id === m.id);
      const own = expectOk(await emitAck(s, 'chat:send', { room: c.room, text: `from ${s.id}` }));
      await c.gm.rec.waitFor('chat:message', (x) => x.id === own.id);
      assert.ok(['polling', 'websocket'].includes(s.io.engine.transport.name));
    }
    for (const { s } of clients) s.disconnect();
    c.close();
  });

  h.test('raw HTTP: the other gateway\'s sid works for POST and GET; a held GET there gets the reply; unknown gateway prefix is 400', async (t, sys) => {
    const a = await Pinned.to(sys, 'gateway');      // gw-1
    const b = await Pinned.to(sys, 'gateway-2');    // gw-2
    const b2 = await Pinned.to(sys, 'gateway-2');
    try {
      const hs = await a.eio();
      assert.equal(hs.status, 200);
      const sid = JSON.parse(hs.text.slice(1)).sid;
      assert.ok(sid.startsWith('gw-1.'), sid);
      // CONNECT posted on gw-2, its answer read on gw-2
      assert.deepEqual(await b.post(sid, `40{"token":"${sys.token({ sub: 'xr-1' })}"}`).then((r) => [r.status, r.text]), [200, 'ok']);
      const open = await b.eio(sid);
      assert.equal(open.status, 200);
      assert.match(open.text, /^40\{"sid":"/);
      // a GET held on gw-2, answered when the reply to a request posted on gw-1 comes
      const held = b.eio(sid);
      await new Promise((r) => setTimeout(r, 200));   // the GET is waiting (no event says so)
      assert.deepEqual(await a.post(sid, '421["campaign:list"]').then((r) => [r.status, r.text]), [200, 'ok']);
      const got = await held;
      assert.equal(got.status, 200);
      assert.match(got.text, /^431\[\{"success":true,"data":\[\]\}\]$/);
      // a POST on gw-2 with a request; its ack read from gw-2 too
      assert.equal((await b2.post(sid, '422["campaign:list"]')).text, 'ok');
      assert.match((await b2.eio(sid)).text, /^432\[\{"success":true/);
      // unknown gateway, malformed prefix: 400 as an unknown sid, on both
      for (const p of [a, b]) {
        for (const bad of ['gw-9.AAAAAAAAAAAAAAAAAAAA', 'gw!1.AAAA', 'nodot']) {
          const r = await p.eio(bad);
          assert.equal(r.status, 400, `${bad}: ${r.text}`);
          assert.deepEqual(r.body, { code: 1, message: 'Session ID unknown' });
          const rp = await p.post(bad, '3');
          assert.equal(rp.status, 400);
        }
      }
      // the session goes on; the client's close ends it
      assert.equal((await b.post(sid, '1')).text, 'ok');
      await eventually(async () => (await a.post(sid, '3')).status === 400, { what: 'the session gone after 1' });
    } finally {
      a.close(); b.close(); b2.close();
    }
  });

  h.test('raw HTTP: a GET cancelled on the other gateway closes the session; a duplicate GET across gateways closes it too', async (t, sys) => {
    const a = await Pinned.to(sys, 'gateway');
    const b = await Pinned.to(sys, 'gateway-2');
    try {
      // cancelled: the client drops the GET held on gw-2
      const sid = JSON.parse((await a.eio()).text.slice(1)).sid;
      assert.equal((await a.post(sid, '3')).status, 200, 'alive');
      let req;
      const held = b.eio(sid, { onRequest: (r) => { req = r; } }).catch((e) => e);
      await new Promise((r) => setTimeout(r, 200));
      req.destroy();
      await held;
      await eventually(async () => (await a.post(sid, '3')).status === 400,
        { timeoutMs: 5000, what: 'the session closed by the cancelled GET' });
      // duplicate: a GET held on gw-2, a second one on gw-1
      const a2 = await Pinned.to(sys, 'gateway');
      const b2 = await Pinned.to(sys, 'gateway-2');
      try {
        const sid2 = JSON.parse((await a2.eio()).text.slice(1)).sid;
        const first = b2.eio(sid2);
        await new Promise((r) => setTimeout(r, 200));
        const second = await a2.eio(sid2);
        assert.equal(second.status, 400);
        assert.deepEqual(await first.then((r) => [r.status, r.text]), [200, '1']);
        assert.equal((await a2.post(sid2, '3')).status, 400);
      } finally {
        a2.close(); b2.close();
      }
    } finally {
      a.close(); b.close();
    }
  });

  h.test('a WebSocket upgrade for the other gateway\'s sid is refused (400); polling goes on', async (t, sys) => {
    const a = await Pinned.to(sys, 'gateway');
    try {
      const sid = JSON.parse((await a.eio()).text.slice(1)).sid;
      assert.ok(sid.startsWith('gw-1.'));
      // new connections until one reaches gw-2 (401 Unauthorized / 101 tell
      // nothing here: gw-1 answers 101 and is closed before any probe)
      const head = (key) => `GET ${sys.eioPath}?EIO=4&transport=websocket&sid=${encodeURIComponent(sid)} HTTP/1.1\r\n`
        + `Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n`
        + 'Sec-WebSocket-Version: 13\r\n\r\n';
      const attempt = () => new Promise((resolve, reject) => {
        const s = net.connect(Number(new URL(sys.url()).port), '127.0.0.1');
        let text = '';
        const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer to the upgrade')); }, 3000);
        s.on('data', (d) => {
          text += d.toString('latin1');
          if (text.includes('\r\n')) { clearTimeout(timer); s.destroy(); resolve(Number(text.split(' ')[1])); }
        });
        s.on('error', (e) => { clearTimeout(timer); reject(e); });
        s.write(head('dGhlIHNhbXBsZSBub25jZQ=='));
      });
      const seen = new Set();
      for (let i = 0; i < 64 && !(seen.has(400) && seen.has(101)); i++) seen.add(await attempt());
      assert.deepEqual([...seen].sort(), [101, 400], 'gw-1 upgrades, gw-2 refuses');
      // the session still polls
      assert.equal((await a.post(sid, '3')).status, 200);
      assert.equal((await a.post(sid, `40{"token":"${sys.token({ sub: 'xw-1' })}"}`)).text, 'ok');
      assert.match((await a.eio(sid)).text, /^40\{"sid":"/);
    } finally {
      a.close();
    }
  });

  h.test('the other gateway stopped: a forward gets 503 at its deadline; gone: 400 as an unknown sid', { timeout: 45000 }, async (t, sys) => {
    const a = await Pinned.to(sys, 'gateway');
    const b = await Pinned.to(sys, 'gateway-2');
    try {
      const sid = JSON.parse((await b.eio()).text.slice(1)).sid;
      assert.ok(sid.startsWith('gw-2.'), sid);
      assert.equal((await a.post(sid, '3')).text, 'ok', 'forwarded while gw-2 runs');
      // stopped (its DEALER still connected): no answer, 503 with a clear body
      await sys.kill('gateway-2', 'SIGSTOP');
      let r;
      try {
        r = await a.post(sid, '3', 20000);
      } finally {
        await sys.kill('gateway-2', 'SIGCONT');
      }
      assert.equal(r.status, 503);
      assert.deepEqual(r.body, { code: 0, message: 'the gateway holding the session did not answer' });
      // gone: the broker knows no gw-2, so its sids are unknown
      await sys.kill('gateway-2');
      await eventually(async () => (await a.eio(sid)).status === 400, { what: 'GET 400 once gw-2 is gone' });
      const g = await a.eio(sid);
      assert.deepEqual(g.body, { code: 1, message: 'Session ID unknown' });
      assert.equal((await a.post(sid, '3')).status, 400);
    } finally {
      a.close(); b.close();
      if (!sys.proc('gateway-2').running) await sys.start('gateway-2');
      await sys.waitHealth({ gateway: 'gateway-2', status: 200 });
    }
  });
});
