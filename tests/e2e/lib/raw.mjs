// tests/e2e/lib/raw.mjs - a bare WebSocket client (the `ws` package) for
// checking Parley's Engine.IO / Socket.IO framing byte by byte, without
// socket.io-client smoothing anything over.
//
//   const c = await RawClient.open(sys.wsUrl());
//   const open = await c.next();           // '0{"sid":...}'
//   c.send('40{"token":"..."}');
//   assert.match(await c.next(), /^40\{/);
//   await c.closed(2000);                  // resolves {code, reason} or rejects

import WebSocket from 'ws';

export class RawClient {
  constructor(ws) {
    this.ws = ws;
    this.queue = [];          // text frames received and not yet taken
    this.waiters = [];        // pending next() calls
    this.isClosed = false;
    this.closeInfo = null;
    this.autoPong = false;    // answer every '2' with '3' (and keep it out of the queue)
    this.pings = 0;
    this._closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.isClosed = true;
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters) w.reject(new Error(`closed (${code}) while waiting for a frame`));
        this.waiters = [];
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => { /* 'close' follows and is what tests look at */ });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? `<binary ${data.length} bytes>` : data.toString();
      if (text === '2') {
        this.pings += 1;
        if (this.autoPong) { this.send('3'); return; }
      }
      const w = this.waiters.shift();
      if (w) w.resolve(text); else this.queue.push(text);
    });
  }

  /** Open a WebSocket; resolves once the upgrade is done (bounded). */
  static open(url, timeoutMs = 3000) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
      const client = new RawClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} instead of an upgrade`)));
      ws.once('error', reject);
    });
  }

  send(text) { this.ws.send(text); }

  /** One binary frame (a Socket.IO attachment). */
  sendBinary(bytes) { this.ws.send(bytes, { binary: true }); }

  /** The next text frame (bounded). */
  next(timeoutMs = 3000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.isClosed) return Promise.reject(new Error(`closed (${this.closeInfo.code}), no more frames`));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Next frame that is not an Engine.IO ping. */
  async nextNonPing(timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.next(Math.max(1, deadline - Date.now()));
      if (f !== '2') return f;
    }
  }

  /** Resolve when the server closes the connection, reject if not within timeoutMs. */
  closed(timeoutMs = 3000) {
    let timer;
    return Promise.race([
      this._closed.finally(() => clearTimeout(timer)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  }

  close() {
    if (!this.isClosed) this.ws.terminate();
  }

  /** Open + read the Engine.IO open packet; returns [client, parsed handshake]. */
  static async handshake(url) {
    const c = await RawClient.open(url);
    const open = await c.next();
    if (!open.startsWith('0{')) throw new Error(`expected an Engine.IO open packet, got ${open}`);
    return [c, JSON.parse(open.slice(1))];
  }

  /** Handshake + Socket.IO CONNECT with a token; returns [client, eio handshake, sio sid]. */
  static async connected(url, token) {
    const [c, hs] = await RawClient.handshake(url);
    c.send(`40${JSON.stringify({ token })}`);
    const reply = await c.nextNonPing();
    if (!reply.startsWith('40{')) throw new Error(`expected 40{...}, got ${reply}`);
    return [c, hs, JSON.parse(reply.slice(2)).sid];
  }
}
