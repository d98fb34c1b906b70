// session.js - the client half of Parley's game-state protocol (README.md,
// "Game sessions and the game state"; "The client recovery rule").
//
// A gameSession holds two things:
//   confirmed  the server's state at stateVersion, built only from the join's
//              (or a full sync's) snapshot and gameState:updated applied
//              strictly at version local + 1;
//   pending    this client's own updates not yet seen in `confirmed`, in the
//              order they were made, each with its idempotent id.
// What the app sees, `state`, is confirmed with the pending operations
// applied over it (optimistic). An update leaves `pending` once confirmed
// holds it (its broadcast arrived, or a snapshot at or past its newVersion),
// or when the server refuses it (rolled back).
//
// One update is in flight at a time, based on the newest version known;
// updates made while disconnected wait, and are sent after the reconnect
// with the same ids, so the server's idempotency applies none twice.
//
// Timers, besides socket.io-client's ack timeouts (ackTimeoutMs), at most
// one of each: catchUpTimer (the next join after a retryable failure),
// retryTimer (the head update's resend after a retryable error) and
// confirmTimer (a function update waiting for this client's broadcasts
// syncs if they do not come within ackTimeoutMs). All are cleared on
// disconnect and close; the backoff is 50 ms doubling to 2 s.

const MAX_BUFFER = 1024;             // out-of-order updates held while a sync runs
const RETRY_CODES = new Set(['TIMEOUT', 'SERVICE_UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED']);
const BACKOFF_MS = 50;               // the first retry's delay, doubling up to BACKOFF_MAX_MS
const BACKOFF_MAX_MS = 2000;

/** The delay before retry number n (1, 2...): 50 ms doubling, at most 2 s. */
export function backoffMs(n) {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_MS * 2 ** Math.max(0, n - 1));
}

/** Deep equality of JSON values (as the server's `pull` compares). */
export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

function walk(state, path) {
  const segs = String(path).split('.');
  let parent = state;
  for (const s of segs.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') throw new Error(`path ${path}: no such parent`);
    parent = parent[Array.isArray(parent) ? Number(s) : s];
  }
  if (parent === null || typeof parent !== 'object') throw new Error(`path ${path}: no such parent`);
  const last = segs.at(-1);
  return [parent, Array.isArray(parent) ? Number(last) : last];
}

/**
 * Apply operations to state in place, as the server does (set, unset, inc,
 * push, pull). Throws on an operation that cannot apply; callers that need
 * all-or-none apply to a copy.
 */
export function applyOps(state, ops) {
  for (const op of ops) {
    const [parent, key] = walk(state, op.path);
    switch (op.operation) {
      case 'set': parent[key] = structuredClone(op.value); break;
      case 'unset': if (Array.isArray(parent)) parent.splice(key, 1); else delete parent[key]; break;
      case 'inc':
        if (typeof parent[key] !== 'number') throw new Error(`inc on a non-number at ${op.path}`);
        parent[key] += op.value;
        break;
      case 'push':
        if (!Array.isArray(parent[key])) throw new Error(`push to a non-array at ${op.path}`);
        parent[key].push(structuredClone(op.value));
        break;
      case 'pull':
        if (!Array.isArray(parent[key])) throw new Error(`pull from a non-array at ${op.path}`);
        parent[key] = parent[key].filter((e) => !deepEqual(e, op.value));
        break;
      default: throw new Error(`unknown operation ${op.operation}`);
    }
  }
  return state;
}

const big = (v) => BigInt(v);
const maxVersion = (a, b) => (a === null ? b : b === null ? a : (big(a) >= big(b) ? a : b));

function randomId() {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `u-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** An Error for a failed ack: .code, .ack (the server's error object). */
function ackError(error) {
  const e = new Error(`${error?.code || 'ERROR'}: ${error?.message || 'update refused'}`);
  e.code = error?.code;
  e.ack = error;
  return e;
}

/**
 * Join game session `sessionId` on socket and hold its state.
 *   opts.ackTimeoutMs  bound on every request's ack (default 5000)
 *   opts.maxAttempts   sends of one update whose outcome stays unknown (no
 *                      ack, TIMEOUT, SERVICE_UNAVAILABLE, INTERNAL), each
 *                      resent after a backoff, before its promise rejects
 *                      with code OUTCOME_UNKNOWN (default 5; the update
 *                      is not rolled back as refused: see giveUp); also
 *                      the RATE_LIMITED answers before it is rolled back
 *   opts.onConflict    (update, state) => 'resend' | 'drop' | operations:
 *                      what to do with an array update after a
 *                      VERSION_CONFLICT and the sync (default 'resend');
 *                      an update given as a function is evaluated again
 *                      when it is sent, on the state it is based on
 *   opts.maxPending    updates queued at most (default 1000)
 * Returns {ready, state, version, isGM, pending, subscribe, update, sync, close}.
 */
export function gameSession(socket, sessionId, opts = {}) {
  const ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
  const maxAttempts = opts.maxAttempts ?? 5;
  const maxPending = opts.maxPending ?? 1000;
  const onConflict = opts.onConflict ?? (() => 'resend');

  let confirmed = null;            // the server's state at confirmed.stateVersion
  let view = null;                 // confirmed + pending operations (what the app sees)
  let isGM = false;
  let pending = [];                // {id, make, ops, status: queued|inflight|waiting|rebasing|acked, newVersion, sends, unknown, limited, resolve, reject}
  let ackedVersion = null;         // the newest newVersion of our acks
  const buffer = new Map();        // version -> gameState:updated payload ahead of confirmed
  let syncing = null;              // the running sync or join, if any
  let gen = 0;                     // connection generation: acks of an older one are ignored
  let closed = false;
  let inRoom = false;              // the last join was acknowledged (a recovered connection is still in the room)
  let live = false;                // joined (or synced) on the current connection
  let catchUpTries = 0;            // failed joins on the current connection
  let lastError = null;            // the refusal that ended the last catch-up, until one succeeds
  let refusedGen = -1;             // the connection on which the session was refused
  let catchUpTimer = null;         // the next try, if one is due
  let confirmTimer = null;         // a function update waits for our broadcasts: sync if they don't come
  let retryTimer = null;           // the head update's resend after a retryable error (backoff)
  const given = new Map();         // id -> 'unknown' | 'applied': updates rejected OUTCOME_UNKNOWN, still watched
  const listeners = new Set();
  const stats = { conflicts: 0, syncs: 0, joins: 0, resends: 0 };
  let readyResolve, readyReject;
  const ready = new Promise((res, rej) => { readyResolve = res; readyReject = rej; });
  ready.catch(() => {});

  function request(event, arg) {
    return new Promise((resolve, reject) => {
      socket.timeout(ackTimeoutMs).emit(event, arg, (err, ack) => {
        if (err) reject(new Error(`no ack for ${event} within ${ackTimeoutMs} ms`));
        else resolve(ack);
      });
    });
  }

  function notify(cause) {
    if (closed) return;
    for (const fn of [...listeners]) {
      try { fn(view, { version: confirmed?.stateVersion, cause, pending: pending.length }); } catch (e) { /* a listener's bug is its own */ }
    }
  }

  function recompute() {
    if (!confirmed) { view = null; return; }
    let v = structuredClone(confirmed);
    for (const p of pending) {
      try { v = applyOps(structuredClone(v), p.ops); } catch { /* the server will refuse it; shown without it */ }
    }
    view = v;
  }

  // Pending updates the confirmed state already holds leave the queue.
  function prune() {
    const at = confirmed ? big(confirmed.stateVersion) : -1n;
    pending = pending.filter((p) => !(p.status === 'acked' && big(p.newVersion) <= at));
  }

  // Apply u to confirmed if it is exactly the next version; true if applied.
  function applyNext(u) {
    if (big(u.version) !== big(confirmed.stateVersion) + 1n) return false;
    const next = applyOps(structuredClone(confirmed), u.operations);
    next.stateVersion = u.version;
    next.lastUpdated = u.lastUpdated;
    confirmed = next;
    if (given.has(u.id)) given.set(u.id, 'applied');
    const mine = pending.find((p) => p.id === u.id);
    if (mine) { mine.status = 'acked'; mine.newVersion = u.version; mine.resolve?.({ id: mine.id, newVersion: u.version }); }
    return true;
  }

  function drainBuffer() {
    for (const k of [...buffer.keys()]) if (big(k) <= big(confirmed.stateVersion)) buffer.delete(k);
    for (;;) {
      const next = buffer.get((big(confirmed.stateVersion) + 1n).toString());
      if (!next) break;
      buffer.delete(next.version);
      applyNext(next);
    }
  }

  function settle(cause) {
    if (closed) return;
    drainBuffer();
    prune();
    recompute();
    notify(cause);
  }

  // socket.io-client's event callback (the app's JS event loop): a room
  // event's offset may follow the payload; only the payload is read.
  function onUpdated(u) {
    if (closed || !u || u.sessionId !== sessionId || !confirmed) return;
    if (big(u.version) <= big(confirmed.stateVersion)) return;
    if (syncing || big(u.version) !== big(confirmed.stateVersion) + 1n) {
      if (buffer.size >= MAX_BUFFER) buffer.clear();
      buffer.set(String(u.version), u);
      if (!syncing) sync().catch(() => {});
      return;
    }
    try {
      applyNext(u);
    } catch {
      sync({ full: true }).catch(() => {});
      return;
    }
    settle('update');
    pump();
  }

  async function runExclusive(fn) {
    while (syncing) await syncing.catch(() => {});
    const p = fn();
    syncing = p;
    try { return await p; } finally {
      if (syncing === p) syncing = null;
      afterExclusive();
      pump();
    }
  }

  // An update that arrived after a sync or join drained the buffer, but
  // before it ended, was only buffered: apply it now, or sync again.
  function afterExclusive() {
    if (closed || syncing || !confirmed || buffer.size === 0) return;
    settle('update');
    if (buffer.size > 0) sync().catch(() => {});
  }

  async function join() {
    return runExclusive(async () => {
      inRoom = false;                   // until this join's ack says so
      const ack = await request('gameSession:join', sessionId);
      if (!ack?.success) throw ackError(ack?.error);
      stats.joins += 1;
      inRoom = true;
      isGM = ack.data.isGM === true;
      if (!confirmed || big(ack.data.gameState.stateVersion) >= big(confirmed.stateVersion)) confirmed = ack.data.gameState;
      settle('join');
    });
  }

  /** Bring confirmed up to the server's version (gameState:sync; full when told). */
  function sync({ full = false } = {}) {
    if (!confirmed) return join();
    return runExclusive(async () => {
      for (let round = 0; round < 4; round++) {
        stats.syncs += 1;
        if (full) {
          const ack = await request('gameState:requestFull', sessionId);
          if (!ack?.success) throw ackError(ack?.error);
          confirmed = ack.data.gameState;
        } else {
          const ack = await request('gameState:sync', { sessionId, sinceVersion: confirmed.stateVersion });
          if (!ack?.success) throw ackError(ack?.error);
          if (ack.data.full) confirmed = ack.data.gameState;
          else {
            for (const u of ack.data.updates) {
              if (big(u.version) <= big(confirmed.stateVersion)) continue;
              if (!applyNext(u)) { full = true; break; }
            }
          }
        }
        drainBuffer();
        if (buffer.size === 0) break;   // else updates beyond a new gap: again
      }
      settle('sync');
    });
  }

  // Send the first queued update if nothing is in flight (app's event loop).
  function pump() {
    if (closed || syncing || !live || !confirmed || !socket.connected) return;
    // strictly in order: the first unacknowledged update, only when it waits
    // (not in flight, not being rebased), so a later one never overtakes it
    const p = pending.find((x) => x.status !== 'acked');
    if (!p || p.status !== 'queued') return;
    if (p.make && !derive(p)) return;
    p.status = 'inflight';
    p.sends += 1;
    if (p.sends > 1) stats.resends += 1;
    const myGen = gen;
    const base = maxVersion(confirmed.stateVersion, ackedVersion);
    socket.timeout(ackTimeoutMs).emit('gameState:update',
      { id: p.id, sessionId, version: base, operations: p.ops, timestamp: Date.now() },
      (err, ack) => onAck(p, myGen, err, ack));
  }

  // A function update is derived from the server's state at the version it
  // is sent on, so it must wait until the confirmed state holds this
  // client's acknowledged updates (their gameState:updated came back): an
  // update queued behind one that was rebased would otherwise go out
  // computed from a state the server never had, and the version check
  // could not catch it. False when p must wait (or was rolled back).
  function derive(p) {
    if (ackedVersion !== null && big(ackedVersion) > big(confirmed.stateVersion)) {
      // our broadcasts are on their way; if one never comes, sync
      if (!confirmTimer) {
        confirmTimer = setTimeout(() => {
          confirmTimer = null;
          if (closed) return;
          if (ackedVersion !== null && big(ackedVersion) > big(confirmed.stateVersion)) sync().catch(() => {});
          else pump();
        }, ackTimeoutMs);
      }
      return false;
    }
    let ops;
    try {
      ops = p.make(structuredClone(confirmed));
      if (!Array.isArray(ops)) throw new TypeError('update: the function must return an array of operations');
    } catch (e) {
      rollback(p, e);
      return false;
    }
    if (!deepEqual(ops, p.ops)) { p.ops = ops; recompute(); notify('rebase'); }
    return true;
  }

  // The ack of one send (socket.io-client's ack callback, app's event loop).
  function onAck(p, myGen, err, ack) {
    if (closed || myGen !== gen || p.status !== 'inflight') return;   // a lost connection's: resent since
    if (err && !socket.connected) {     // the connection dropped under it: resent after the reconnect
      p.status = 'queued';
      return;
    }
    if (!err && ack?.success) {
      p.status = 'acked';
      p.newVersion = ack.newVersion;
      ackedVersion = maxVersion(ackedVersion, ack.newVersion);
      p.resolve?.({ id: p.id, newVersion: ack.newVersion });
      settle('ack');
      pump();
      return;
    }
    const code = err ? 'TIMEOUT' : ack?.error?.code;
    if (code === 'VERSION_CONFLICT') {
      stats.conflicts += 1;
      p.status = 'rebasing';            // not sent again before rebase() decides
      sync().catch(() => {}).then(() => rebase(p)).catch((e) => rollback(p, e)).finally(pump);
      return;
    }
    if (RETRY_CODES.has(code)) {
      // RATE_LIMITED: refused before it ran, so not applied; the others (and
      // no ack) leave the outcome unknown. Only these sends count towards
      // maxAttempts (a conflict's or a dropped connection's resend does not).
      const n = code === 'RATE_LIMITED' ? ++p.limited : ++p.unknown;
      if (n < maxAttempts) {
        // the same id is safe to resend, after a delay: a server that is
        // overloaded or failing is not hammered
        p.status = 'waiting';
        retryTimer = setTimeout(() => {
          retryTimer = null;
          if (p.status === 'waiting') p.status = 'queued';
          pump();
        }, backoffMs(n));
        return;
      }
      if (code !== 'RATE_LIMITED') { giveUp(p, err ? `no ack within ${ackTimeoutMs} ms` : `${code}: ${ack?.error?.message}`); return; }
    }
    rollback(p, ackError(ack?.error));
  }

  // maxAttempts sends of p all ended with an unknown outcome: the server may
  // have applied it, so it is not rolled back as refused. It leaves the queue
  // (the view is the confirmed state without it, and the confirmed state is
  // the server's: if it was applied, its gameState:updated or a sync brings
  // it in), its promise rejects with code OUTCOME_UNKNOWN and .id, and
  // outcome(id) says 'applied' once an update with that id is seen.
  function giveUp(p, why) {
    pending = pending.filter((x) => x !== p);
    if (given.size >= MAX_BUFFER) given.delete(given.keys().next().value);
    given.set(p.id, 'unknown');
    recompute();
    notify('unknown');
    const e = new Error(`OUTCOME_UNKNOWN: update ${p.id} may or may not have been applied (${why}); it is not resent`);
    e.code = 'OUTCOME_UNKNOWN';
    e.id = p.id;
    p.reject?.(e);
    pump();
  }

  // After a conflict and the sync: re-derive p's operations as the app chose.
  function rebase(p) {
    if (!pending.includes(p)) return;
    p.status = 'queued';
    if (p.make) return;                 // derived again when it is sent (pump)
    let r;
    try {
      r = onConflict({ id: p.id, operations: p.ops }, stateBefore(p));
    } catch (e) {
      rollback(p, e);                   // the app's policy failed: its error, not a resend of stale operations
      return;
    }
    if (r === 'drop') { rollback(p, ackError({ code: 'VERSION_CONFLICT', message: 'dropped after a conflict' })); return; }
    if (Array.isArray(r)) { p.ops = r; recompute(); notify('rebase'); }
  }

  // confirmed with the pending updates made before p.
  function stateBefore(p) {
    let v = structuredClone(confirmed);
    for (const q of pending) {
      if (q === p) break;
      try { v = applyOps(structuredClone(v), q.ops); } catch { /* skipped, as in the view */ }
    }
    return v;
  }

  function rollback(p, error) {
    pending = pending.filter((x) => x !== p);
    recompute();
    notify('rollback');
    p.reject?.(error);
    pump();
  }

  // socket.io-client's connect event (app's event loop): the first connect
  // joins; a reconnect joins again (or syncs, when the connection state was
  // recovered and the room kept), then the queue goes out with the same ids.
  function onConnect() {
    if (closed) return;
    gen += 1;
    live = false;
    catchUpTries = 0;
    stopRetry();
    for (const p of pending) if (p.status === 'inflight') p.status = 'queued';
    catchUp();
  }

  // Join (or, recovered, sync) on this connection; nothing is sent before
  // it succeeds. A failure that may pass (no ack, TIMEOUT, SERVICE_UNAVAILABLE,
  // INTERNAL, RATE_LIMITED) is tried again on a timer (backoff, for as long
  // as the connection lasts); a definite refusal (NOT_FOUND, FORBIDDEN...)
  // ends it: the queued updates reject with it and subscribers hear 'error'.
  // A new connection starts over.
  function catchUp() {
    catchUpTimer = null;
    const myGen = gen;
    // A recovered connection keeps the rooms it had when it dropped, which
    // lack the session when a join was still unanswered then: join again.
    const joinNow = () => join().then(() => true);
    const step = confirmed && inRoom && socket.recovered && catchUpTries === 0 ? sync().then(() => false, joinNow) : joinNow();
    step.then((joined) => {
      if (myGen !== gen || closed) return;
      live = true;
      lastError = null;
      readyResolve();
      // With more than one gamestate worker, an update committed between
      // the join's snapshot and the gateway putting this socket in the
      // session's room is broadcast before it is there: one sync after
      // each join brings it (pump waits for it).
      if (joined) sync().catch(() => {});
      pump();
    }, (e) => {
      stats.lastError = e.message;
      if (closed || myGen !== gen || !socket.connected) return;   // the next connect catches up
      catchUpTries += 1;
      if (!e.code || RETRY_CODES.has(e.code)) { catchUpTimer = setTimeout(catchUp, backoffMs(catchUpTries)); return; }
      fail(e);
    });
  }

  // The session was refused on this connection: nothing queued can go out.
  function fail(e) {
    lastError = e;
    refusedGen = gen;
    readyReject(e);
    const refused = pending;
    pending = [];
    recompute();
    notify('error');
    for (const p of refused) p.reject?.(e);
  }

  // socket.io-client's disconnect event (app's event loop).
  function onDisconnect() {
    gen += 1;
    live = false;
    if (catchUpTimer) { clearTimeout(catchUpTimer); catchUpTimer = null; }
    if (confirmTimer) { clearTimeout(confirmTimer); confirmTimer = null; }
    stopRetry();
    for (const p of pending) if (p.status === 'inflight') p.status = 'queued';
  }

  // A resend waiting for its backoff goes out on the next connection instead.
  function stopRetry() {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    for (const p of pending) if (p.status === 'waiting') p.status = 'queued';
  }

  socket.on('gameState:updated', onUpdated);
  socket.on('connect', onConnect);
  socket.on('disconnect', onDisconnect);
  if (socket.connected) onConnect();

  /**
   * An optimistic update: ops (an array of {path, operation, value}) or a
   * function (state) => ops, evaluated now (for the view) and again when it is
   * sent, on the server's state at the version it is based on. The
   * view changes at once; resolves {id, newVersion} once acknowledged,
   * rejects (and the view drops it) when refused.
   */
  function update(opsOrFn) {
    if (closed) return Promise.reject(new Error('session closed'));
    if (refusedGen === gen) return Promise.reject(lastError);
    if (pending.length >= maxPending) return Promise.reject(ackError({ code: 'RATE_LIMITED', message: 'too many pending updates' }));
    if (!confirmed) return Promise.reject(new Error('not joined yet (await session.ready)'));
    const make = typeof opsOrFn === 'function' ? opsOrFn : null;
    const p = { id: randomId(), make, ops: null, status: 'queued', newVersion: null, sends: 0, unknown: 0, limited: 0 };
    try { p.ops = make ? make(structuredClone(view)) : opsOrFn; } catch (e) { return Promise.reject(e); }
    if (!Array.isArray(p.ops)) return Promise.reject(new TypeError('update: operations must be an array'));
    const done = new Promise((resolve, reject) => {
      p.resolve = (r) => { p.resolve = null; resolve(r); };
      p.reject = (e) => { p.reject = null; reject(e); };
    });
    pending.push(p);
    recompute();
    notify('local');
    pump();
    return done;
  }

  return {
    ready,
    get state() { return view; },
    get version() { return confirmed?.stateVersion ?? null; },
    get isGM() { return isGM; },
    /** The error a join was refused with (NOT_FOUND, FORBIDDEN...), null once one succeeds. */
    get lastError() { return lastError; },
    get pending() { return pending.length; },
    get stats() { return { ...stats, buffered: buffer.size, syncing: !!syncing, queue: pending.map((p) => p.status).join(',') }; },
    /** fn(state, {version, cause, pending}) on every change; returns the unsubscribe. */
    subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); },
    /** For an update rejected OUTCOME_UNKNOWN: 'applied' once its gameState:updated (or a sync's) was seen, else 'unknown'. */
    outcome(id) { return given.get(id); },
    update,
    sync,
    /** Stop listening (and leave the session's room when connected): pending updates and a pending ready reject, no listener is called again. */
    close() {
      closed = true;
      if (catchUpTimer) clearTimeout(catchUpTimer);
      if (confirmTimer) clearTimeout(confirmTimer);
      if (retryTimer) clearTimeout(retryTimer);
      socket.off('gameState:updated', onUpdated);
      socket.off('connect', onConnect);
      socket.off('disconnect', onDisconnect);
      if (socket.connected) socket.emit('gameSession:leave', sessionId);
      for (const p of pending) p.reject?.(new Error('session closed'));
      pending = [];
      listeners.clear();
      readyReject(new Error('session closed'));   // when it had not resolved yet
    },
  };
}
