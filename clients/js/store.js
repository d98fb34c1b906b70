// store.js - a live store of a campaign's actors or items (issue 14,
// section 2): read with <kind>:list, kept live from the campaign room's
// <kind>:created / :updated / :deleted, read again after a reconnect that was
// not recovered. Hidden entities are left out unless opts.includeHidden (the
// server sends them to GMs and their creator only; a player never sees them).
// The server broadcasts a change to the others, not to its sender, so
// changes made through the store's own create/update/remove apply their ack.

// Errors that may pass: the list is tried again (no ack counts as one too).
const RETRY_CODES = new Set(['TIMEOUT', 'SERVICE_UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED']);

/**
 * entityStore(socket, 'actor' | 'item', campaignId, opts)
 *   opts.includeHidden  keep hidden entities (default false)
 *   opts.ackTimeoutMs   bound on every request (default 5000)
 * Returns {ready, items (array, oldest first), get(id), lastError, subscribe(fn),
 * create(fields), update(fields), remove(id), refresh(), close()}.
 */
export function entityStore(socket, kind, campaignId, opts = {}) {
  if (kind !== 'actor' && kind !== 'item') throw new TypeError(`entityStore: kind ${kind}`);
  const includeHidden = opts.includeHidden === true;
  const ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
  const byId = new Map();          // id -> entity (visible ones only)
  const hiddenAt = new Map();      // id -> version at which it was hidden (a store without includeHidden)
  const lists = new Set();         // per list in flight: Map id -> {version, entity or null (deleted)}
  let closed = false;
  let readyResolve, readyReject;
  let loaded = false;
  let gen = 0;                     // connection generation: an older one's list is not retried
  let retryTimer = null;           // the next try of a failed subscribe/list
  let lastError = null;            // a definite refusal of the last list, until one succeeds
  const ready = new Promise((res, rej) => { readyResolve = res; readyReject = rej; });
  ready.catch(() => {});
  const listeners = new Set();

  function request(event, arg) {
    return new Promise((resolve, reject) => {
      socket.timeout(ackTimeoutMs).emit(event, arg, (err, ack) => {
        if (err) { reject(new Error(`no ack for ${event} within ${ackTimeoutMs} ms`)); return; }
        if (!ack?.success) {
          const e = new Error(`${ack?.error?.code}: ${ack?.error?.message}`);
          e.code = ack?.error?.code;
          e.ack = ack?.error;
          reject(e);
          return;
        }
        resolve(ack.data);
      });
    });
  }

  const items = () => [...byId.values()].sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)) || String(a.id).localeCompare(String(b.id)));

  function notify(cause) {
    const list = items();
    for (const fn of [...listeners]) {
      try { fn(list, { cause }); } catch { /* a listener's bug is its own */ }
    }
  }

  const older = (a, b) => typeof a === 'number' && typeof b === 'number' && a < b;

  // Keep e unless it is older than what is held (or than its hiding);
  // hidden ones leave, remembering the version they were hidden at.
  function put(e) {
    if (!e || e.campaignId !== campaignId || typeof e.id !== 'string') return false;
    const have = byId.get(e.id);
    if (have && older(e.version, have.version)) return false;
    if (!have && hiddenAt.has(e.id) && !older(hiddenAt.get(e.id), e.version)) return false;
    if (e.hidden === true && !includeHidden) {
      hiddenAt.set(e.id, e.version);
      return byId.delete(e.id);
    }
    hiddenAt.delete(e.id);
    byId.set(e.id, e);
    return true;
  }

  // Every list in flight hears what happened meanwhile: the newest version
  // of each id an event touched, or null when it was deleted (a later
  // created, e.g. a hidden one revealed, replaces that).
  function touch(id, e) {
    for (const seen of lists) {
      const was = seen.get(id);
      if (e && was?.entity && older(e.version, was.entity.version)) continue;
      seen.set(id, { entity: e });
    }
  }

  // socket.io-client event callbacks (the app's event loop); a room
  // event's offset may follow the payload and is not read.
  const onChanged = (e) => {
    if (closed || !e || e.campaignId !== campaignId || typeof e.id !== 'string') return;
    touch(e.id, e);
    if (put(e)) notify('event');
  };
  const onDeleted = (id) => {
    if (closed) return;
    touch(id, null);
    hiddenAt.delete(id);
    if (byId.delete(id)) notify('event');
  };

  // The store's own write, from its ack (the server sends it no event).
  function local(e) {
    if (e && e.campaignId === campaignId && typeof e.id === 'string') touch(e.id, e);
    if (put(e)) notify('local');
  }

  // The list, merged with what the events said while it was in flight:
  // an id deleted meanwhile stays out, one created or changed meanwhile is
  // kept (the newer version wins), a hidden one leaves a store without
  // includeHidden. Each refresh has its own record, so two may overlap.
  async function refresh() {
    await request('subscribe', { room: `campaign:${campaignId}` });
    const seen = new Map();
    lists.add(seen);
    try {
      const list = await request(`${kind}:list`, { campaignId });
      if (closed) return;
      const fresh = new Map();
      for (const e of list) if (e && typeof e.id === 'string') fresh.set(e.id, e);
      for (const [id, { entity }] of seen) {
        const listed = fresh.get(id);
        if (!entity) fresh.delete(id);
        else if (!listed || !older(entity.version, listed.version)) fresh.set(id, entity);
      }
      byId.clear();
      for (const [id, e] of fresh) {
        if (e.hidden === true && !includeHidden) { hiddenAt.set(id, e.version); continue; }
        byId.set(id, e);
      }
    } finally {
      lists.delete(seen);
    }
    notify('list');
  }

  // socket.io-client's connect event (app's event loop): the first connect
  // lists; a reconnect that was not recovered lists again.
  function onConnect() {
    stopRetry();
    if (closed || (loaded && socket.recovered)) return;
    gen += 1;
    load(gen, 0);
  }

  // Subscribe and list on connection myGen. A failure that may pass (no
  // ack, TIMEOUT, SERVICE_UNAVAILABLE, INTERNAL, RATE_LIMITED) is tried
  // again after a backoff (50 ms doubling, at most 2 s) while the
  // connection lasts; a definite refusal (FORBIDDEN, NOT_FOUND...) sets
  // lastError, rejects ready if it was pending and tells subscribers 'error'.
  function load(myGen, tries) {
    retryTimer = null;
    refresh().then(() => {
      if (closed || myGen !== gen) return;
      loaded = true;
      lastError = null;
      readyResolve();
    }, (e) => {
      if (closed || myGen !== gen || !socket.connected) return;   // the next connect lists again
      if (!e.code || RETRY_CODES.has(e.code)) {
        retryTimer = setTimeout(() => load(myGen, tries + 1), Math.min(2000, 50 * 2 ** tries));
        return;
      }
      lastError = e;
      if (!loaded) readyReject(e);
      notify('error');
    });
  }

  function stopRetry() {
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
  }

  // socket.io-client's disconnect event (app's event loop): a retry waits
  // for the next connection.
  function onDisconnect() {
    gen += 1;
    stopRetry();
  }

  socket.on(`${kind}:created`, onChanged);
  socket.on(`${kind}:updated`, onChanged);
  socket.on(`${kind}:deleted`, onDeleted);
  socket.on('connect', onConnect);
  socket.on('disconnect', onDisconnect);
  if (socket.connected) onConnect();

  return {
    ready,
    get items() { return items(); },
    get(id) { return byId.get(id); },
    /** The error the last subscribe/list was refused with (FORBIDDEN...), null once one succeeds. */
    get lastError() { return lastError; },
    /** fn(items, {cause}) on every change; returns the unsubscribe. */
    subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); },
    refresh,
    async create(fields) { const e = await request(`${kind}:create`, { ...fields, campaignId }); local(e); return e; },
    async update(fields) { const e = await request(`${kind}:update`, fields); local(e); return e; },
    async remove(id) {
      await request(`${kind}:delete`, id);
      touch(id, null);
      hiddenAt.delete(id);
      if (byId.delete(id)) notify('local');
    },
    close() {
      closed = true;
      readyReject(new Error('store closed'));
      socket.off(`${kind}:created`, onChanged);
      socket.off(`${kind}:updated`, onChanged);
      socket.off(`${kind}:deleted`, onDeleted);
      socket.off('connect', onConnect);
      socket.off('disconnect', onDisconnect);
      stopRetry();
      listeners.clear();
    },
  };
}
