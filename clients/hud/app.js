// app.js - the Parley HUD: sign in, campaigns and members, live Actors and
// Items, one game session's grid (tokens, state version), the world clock,
// dice, chat and presence. Plain ES modules over @parley/client; served by
// the gateway at / (README.md, clients/hud/README.md). Every value from the
// server is rendered as text (dom.js), never as HTML.
import { connectParley, gameSession, entityStore } from '@parley/client';
import { $, h, fill, showAll, showError, clearError, appendLog, formatWorldTime, tokenClaims } from './dom.js';
import { board, COLS, ROWS } from './board.js';

const KEY = { token: 'parley.hud.token', campaign: 'parley.hud.campaign', session: 'parley.hud.session' };
const ACK_MS = 7000;   // bound on every request's ack

const app = {
  socket: null,
  me: { sub: '', name: '' },
  campaigns: new Map(),   // id -> campaign ({id, name, role})
  campaignId: null,
  gen: 0,                 // bumped on every campaign or session switch: late answers are dropped
  actors: null,           // entityStore of the campaign's actors
  items: null,
  members: [],
  presence: new Map(),    // userId -> name
  seen: new Set(),        // chat and roll ids shown (an ack and its broadcast are one entry)
  sessions: new Map(),    // id -> game session
  sessionId: null,
  game: null,             // gameSession of sessionId
  overrides: new Map(),   // tokenId -> {x, y, newVersion?}: moves shown before the server has them
  offs: [],               // unsubscribes of the current campaign's stores
};

const editors = {};       // kind -> its edit form (editor()), made with the page's controls
const room = () => `campaign:${app.campaignId}`;
const isGM = () => app.campaigns.get(app.campaignId)?.role === 'gm' || app.game?.isGM === true;

/** Emit with an ack, bounded; resolves the ack's data, rejects an Error with .code. */
function request(event, arg) {
  return new Promise((resolve, reject) => {
    if (!app.socket) { reject(new Error('not signed in')); return; }
    const cb = (err, ack) => {
      if (err) { reject(Object.assign(new Error(`no answer to ${event} within ${ACK_MS / 1000} s`), { code: 'TIMEOUT' })); return; }
      if (!ack?.success) {
        reject(Object.assign(new Error(ack?.error?.message || 'refused'), { code: ack?.error?.code || 'ERROR', ack: ack?.error }));
        return;
      }
      resolve(ack.data ?? ack);
    };
    const s = app.socket.timeout(ACK_MS);
    if (arg === undefined) s.emit(event, cb); else s.emit(event, arg, cb);
  });
}

/** Run fn, showing its error (what: the action) instead of throwing. */
async function attempt(what, fn) {
  try {
    return await fn();
  } catch (e) {
    showError(e, what);
    return undefined;
  }
}

// ---- sign in / out ----

function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = params.get('token');
  if (t === null) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return t.trim();
}

function setConn(text, cls) {
  const el = $('conn-state');
  el.textContent = text;
  el.className = `conn ${cls || ''}`;
}

function signIn(token) {
  sessionStorage.setItem(KEY.token, token);
  const claims = tokenClaims(token);
  app.me = { sub: String(claims.sub ?? ''), name: String(claims.name ?? claims.sub ?? '') };
  $('signin').hidden = true;
  $('hud').hidden = false;
  showAll('.signed-in-only', true);
  $('user').textContent = app.me.sub ? `${app.me.name} (${app.me.sub})` : 'unknown user';
  setConn('connecting…', '');
  const socket = connectParley(location.origin, { token });
  app.socket = socket;
  // socket.io-client callbacks (the page's event loop).
  socket.on('connect', () => {
    setConn(socket.recovered ? 'connected (recovered)' : 'connected', 'connected');
    loadCampaigns(!socket.recovered);
  });
  socket.on('disconnect', (reason) => setConn(`disconnected: ${reason}`, 'disconnected'));
  socket.on('connect_error', (err) => {
    setConn(`cannot connect: ${err.message}`, 'disconnected');
    if (!socket.active) showError(Object.assign(new Error(err.message), { code: err.data?.code }), 'sign in');
  });
  listen(socket);
}

function signOut() {
  closeCampaign();
  app.socket?.disconnect();
  app.socket = null;
  app.campaigns.clear();
  for (const k of Object.values(KEY)) sessionStorage.removeItem(k);
  renderCampaignPicker();
  $('hud').hidden = true;
  $('signin').hidden = false;
  showAll('.signed-in-only', false);
  $('user').textContent = '';
  setConn('signed out', '');
  clearError();
}

// ---- campaigns ----

async function loadCampaigns(reloadRooms) {
  const list = await attempt('campaign:list', () => request('campaign:list'));
  if (!list) return;
  app.campaigns = new Map(list.map((c) => [c.id, c]));
  renderCampaignPicker();
  const want = app.campaignId || sessionStorage.getItem(KEY.campaign);
  if (want && app.campaigns.has(want)) {
    if (want !== app.campaignId) await selectCampaign(want, sessionStorage.getItem(KEY.session));
    else if (reloadRooms) await loadCampaignRoom(app.gen);
  } else if (app.campaignId) {
    closeCampaign();
  }
}

function renderCampaignPicker() {
  const sel = $('campaign-select');
  const opts = [h('option', { value: '' }, app.campaigns.size ? '— choose —' : '— none yet —')];
  for (const c of app.campaigns.values()) opts.push(h('option', { value: c.id }, `${c.name}${c.role === 'gm' ? ' (GM)' : ''}`));
  fill(sel, opts);
  sel.value = app.campaignId && app.campaigns.has(app.campaignId) ? app.campaignId : '';
}

function closeCampaign() {
  closeSession();
  for (const off of app.offs) off();
  app.offs = [];
  app.actors?.close();
  app.items?.close();
  app.actors = app.items = null;
  if (app.campaignId && app.socket?.connected) app.socket.emit('unsubscribe', { room: room() });
  app.campaignId = null;
  app.gen++;
  app.members = [];
  app.presence.clear();
  app.seen.clear();
  app.sessions.clear();
  editors.actor?.close();
  editors.item?.close();
  fill($('actor-list'), []);
  fill($('item-list'), []);
  fill($('member-list'), []);
  fill($('presence'), []);
  fill($('chat-log'), []);
  fill($('roll-log'), []);
  $('world-clock').textContent = '–';
  renderSessionPicker();
  showAll('.gm-only', false);
}

/** Show campaign id (none: ''); then its session wantSession, when it has one. */
async function selectCampaign(id, wantSession = null) {
  closeCampaign();
  if (!id || !app.campaigns.has(id)) {
    sessionStorage.removeItem(KEY.campaign);
    sessionStorage.removeItem(KEY.session);
    renderCampaignPicker();
    return;
  }
  app.campaignId = id;
  const gen = app.gen;
  sessionStorage.setItem(KEY.campaign, id);
  renderCampaignPicker();
  showAll('.gm-only', isGM());
  const includeHidden = isGM();
  app.actors = entityStore(app.socket, 'actor', id, { includeHidden, ackTimeoutMs: ACK_MS });
  app.items = entityStore(app.socket, 'item', id, { includeHidden, ackTimeoutMs: ACK_MS });
  // The board too: tokens are labelled, and made movable, from the actors.
  app.offs.push(app.actors.subscribe(renderGame), app.items.subscribe(renderItems));
  app.actors.ready.then(renderGame, (e) => showError(e, 'actor:list'));
  app.items.ready.then(renderItems, (e) => showError(e, 'item:list'));
  await loadCampaignRoom(gen);
  if (gen !== app.gen) return;
  await loadSessions(gen, wantSession);
}

/** Join the campaign's room and read what it holds (after a select, or a reconnect that lost the rooms). */
async function loadCampaignRoom(gen) {
  const ok = await attempt('subscribe', () => request('subscribe', { room: room() }));
  if (ok === undefined || gen !== app.gen) return;
  const [camp, present, history, time] = await Promise.all([
    attempt('campaign:get', () => request('campaign:get', app.campaignId)),
    attempt('presence:list', () => request('presence:list', { room: room() })),
    attempt('chat:history', () => request('chat:history', { room: room(), limit: 50 })),
    attempt('time:get', () => request('time:get', { campaignId: app.campaignId })),
  ]);
  if (gen !== app.gen) return;
  if (camp) { app.members = Array.isArray(camp.members) ? camp.members : []; renderMembers(); }
  if (present) { app.presence = new Map(present.map((p) => [p.userId, p.name])); renderPresence(); }
  if (history) for (const m of history) (m.kind === 'roll' ? addRoll(m) : addChat(m));
  if (time) showTime(time.worldTime);
}

// ---- game sessions ----

async function loadSessions(gen, want) {
  const list = await attempt('gameSession:list', () => request('gameSession:list', { campaignId: app.campaignId }));
  if (!list || gen !== app.gen) return;
  app.sessions = new Map(list.map((s) => [s.id, s]));
  renderSessionPicker();
  if (want && app.sessions.has(want) && want !== app.sessionId) selectSession(want);
}

function renderSessionPicker() {
  const sel = $('session-select');
  const opts = [h('option', { value: '' }, app.sessions.size ? '— choose —' : '— none —')];
  for (const s of app.sessions.values()) opts.push(h('option', { value: s.id }, s.name));
  fill(sel, opts);
  sel.value = app.sessionId && app.sessions.has(app.sessionId) ? app.sessionId : '';
}

function closeSession() {
  app.game?.close();
  app.game = null;
  app.sessionId = null;
  app.overrides.clear();
  renderGame();
}

function selectSession(id) {
  closeSession();
  if (!id || !app.sessions.has(id)) {
    sessionStorage.removeItem(KEY.session);
    renderSessionPicker();
    return;
  }
  app.sessionId = id;
  sessionStorage.setItem(KEY.session, id);
  renderSessionPicker();
  const game = gameSession(app.socket, id, { ackTimeoutMs: ACK_MS });
  app.game = game;
  game.subscribe(() => { if (app.game === game) renderGame(); });
  game.ready.then(() => { if (app.game === game) { renderGame(); showAll('.gm-only', isGM()); } },
    (e) => { if (app.game === game) showError(e, 'gameSession:join'); });
  renderGame();
}

const boardView = board($('board'), {
  canMove(token) {
    if (!app.game?.state) return false;
    if (isGM()) return true;
    const actor = app.actors?.get(token.actorId);
    return !!actor && actor.createdBy === app.me.sub;
  },
  label(token) {
    const actor = typeof token.actorId === 'string' ? app.actors?.get(token.actorId) : null;
    return String(actor?.name ?? token.name ?? '?');
  },
  onMove(token, x, y) {
    const o = { x, y };
    const sessionId = app.sessionId;
    app.overrides.set(token.id, o);
    renderGame();
    request('token:move', { sessionId, tokenId: token.id, x, y }).then((d) => {
      o.newVersion = d.newVersion;
      renderGame();
    }, (e) => {
      if (app.overrides.get(token.id) === o) app.overrides.delete(token.id);
      renderGame();
      showError(e, 'token:move');
    });
  },
});

const tokensOf = (state) => (Array.isArray(state?.currentEncounter?.tokens) ? state.currentEncounter.tokens : []);

function renderGame() {
  const game = app.game;
  const state = game?.state ?? null;
  const version = game?.version ?? null;
  // A move leaves the overrides once the confirmed state is at its version.
  for (const [id, o] of app.overrides) {
    if (o.newVersion !== undefined && version !== null && BigInt(version) >= BigInt(o.newVersion)) app.overrides.delete(id);
  }
  $('state-version').textContent = version ?? '–';
  $('pending').textContent = game?.pending ? `(${game.pending} pending)` : '';
  $('board-empty').hidden = !!state;
  $('board-empty').textContent = app.campaignId ? 'Pick or create a game session.' : 'Pick a campaign and a game session.';
  boardView.render(state ? tokensOf(state).filter(drawn) : [], app.overrides);
  renderActors();
  editors.actor?.sync();
}

// A token whose actor this page does not know (deleted, by its creator or in
// another session; hidden from this user) is not drawn: there is nothing to
// label it with or to move. A token without an actorId keeps its own name.
const drawn = (t) => typeof t?.actorId !== 'string' || !!app.actors?.get(t.actorId);

function freeCell(tokens) {
  const used = new Set(tokens.map((t) => `${t.x},${t.y}`));
  for (let y = 0; y < ROWS; y++) for (let x = 0; x < COLS; x++) if (!used.has(`${x},${y}`)) return { x, y };
  return { x: 0, y: 0 };
}

function placeToken(actor) {
  const game = app.game;
  if (!game?.state) return;
  const { x, y } = freeCell(tokensOf(game.state));
  // No name in the token: every member reads the state, and the label comes
  // from the actor store (which holds only what this user may see).
  const token = { id: `tok-${crypto.randomUUID()}`, actorId: actor.id, x, y };
  attempt('place token', () => game.update((s) => {
    const enc = s.currentEncounter;
    if (enc && typeof enc === 'object' && Array.isArray(enc.tokens)) return [{ path: 'currentEncounter.tokens', operation: 'push', value: token }];
    if (enc && typeof enc === 'object') return [{ path: 'currentEncounter.tokens', operation: 'set', value: [token] }];
    return [{ path: 'currentEncounter', operation: 'set', value: { tokens: [token] } }];
  }));
}

// ---- actors, items, members ----

function renderActors() {
  const list = app.actors?.items ?? [];
  const onBoard = new Set(tokensOf(app.game?.state).map((t) => t.actorId));
  const gm = isGM();
  fill($('actor-list'), list.map((a) => {
    const mine = a.createdBy === app.me.sub;
    const edit = (gm || mine) ? h('button', { type: 'button', dataset: { testid: 'actor-edit-btn' } }, 'Edit') : null;
    edit?.addEventListener('click', () => editors.actor.open(a.id));
    // A hidden actor stays off the board: every member reads the state.
    const place = gm && app.game?.state && !onBoard.has(a.id) && a.hidden !== true ? h('button', { type: 'button', dataset: { testid: 'actor-place' } }, 'Place') : null;
    place?.addEventListener('click', () => placeToken(a));
    return h('li', { dataset: { testid: 'actor', actorId: a.id } },
      h('span', { class: 'name', dataset: { testid: 'actor-label' } }, a.name),
      typeof a.hp === 'number' ? h('span', { class: 'tag', dataset: { testid: 'actor-hp' } }, `HP ${a.hp}`) : null,
      a.hidden === true ? h('span', { class: 'tag hidden' }, 'hidden') : null,
      edit, place);
  }));
}

/** Delete an actor; a GM also takes its tokens off the open session's grid. */
async function deleteActor(id) {
  await app.actors.remove(id);
  // Players may not update the state: their deleted actor's token stays in
  // it (and in the GM's other sessions), undrawn (drawn()) until a GM's update.
  const game = app.game;
  if (!isGM() || !game?.state || !tokensOf(game.state).some((t) => t?.actorId === id)) return;
  await game.update((s) => {
    if (!Array.isArray(s.currentEncounter?.tokens)) throw new Error('the encounter has no tokens any more');
    return [{ path: 'currentEncounter.tokens', operation: 'set', value: s.currentEncounter.tokens.filter((t) => t?.actorId !== id) }];
  });
}

function renderItems() {
  const gm = isGM();
  fill($('item-list'), (app.items?.items ?? []).map((it) => {
    const edit = (gm || it.createdBy === app.me.sub) ? h('button', { type: 'button', dataset: { testid: 'item-edit-btn' } }, 'Edit') : null;
    edit?.addEventListener('click', () => editors.item.open(it.id));
    return h('li', { dataset: { testid: 'item', itemId: it.id } },
      h('span', { class: 'name', dataset: { testid: 'item-label' } }, it.name),
      it.type ? h('span', { class: 'tag', dataset: { testid: 'item-type' } }, it.type) : null,
      it.hidden === true ? h('span', { class: 'tag hidden' }, 'hidden') : null,
      edit);
  }));
  editors.item?.sync();
}

/**
 * The edit form of kind ('actor', 'item'; elements #<kind>-edit...): open(id)
 * loads the entity with load(form, entity); Save sends store().update with
 * fields(form); Delete shows a confirm row in the form, whose Delete calls
 * remove(id). sync() closes it once the entity left the store (deleted, or
 * hidden from this user, elsewhere).
 */
function editor(kind, { store, load, fields, remove }) {
  const form = $(`${kind}-edit`);
  const confirmRow = $(`${kind}-delete-confirm`);
  let id = null;
  const close = () => { form.hidden = true; confirmRow.hidden = true; id = null; };
  // Form and button callbacks (the page's event loop).
  onSubmit(`${kind}-edit`, (f) => attempt(`${kind}:update`, async () => {
    if (id === null || !store()) return;
    await store().update({ id, ...fields(f) });
    close();
  }));
  $(`${kind}-edit-cancel`).addEventListener('click', close);
  $(`${kind}-delete`).addEventListener('click', () => { confirmRow.hidden = false; });
  $(`${kind}-delete-no`).addEventListener('click', () => { confirmRow.hidden = true; });
  $(`${kind}-delete-yes`).addEventListener('click', () => {
    clearError();
    const target = id;
    if (target === null || !store()) return;
    confirmRow.hidden = true;
    attempt(`${kind}:delete`, async () => {
      await remove(target);
      if (id === target) close();
    });
  });
  return {
    open(eid) {
      const e = store()?.get(eid);
      if (!e) return;
      id = eid;
      $(`${kind}-edit-title`).textContent = e.name;
      load(form, e);
      confirmRow.hidden = true;
      form.hidden = false;
    },
    close,
    sync() { if (id !== null && !store()?.get(id)) close(); },
  };
}

function renderMembers() {
  const gm = isGM();
  fill($('member-list'), app.members.map((m) => {
    const rm = gm ? h('button', { type: 'button', title: `remove ${m.userId}` }, 'Remove') : null;
    rm?.addEventListener('click', () => attempt('campaign:removeMember',
      () => request('campaign:removeMember', { campaignId: app.campaignId, userId: m.userId })
        .then(() => { app.members = app.members.filter((x) => x.userId !== m.userId); renderMembers(); })));
    return h('li', { dataset: { testid: 'member', userId: m.userId } },
      h('span', { class: 'name' }, m.userId),
      h('span', { class: m.role === 'gm' ? 'tag gm' : 'tag' }, m.role), rm);
  }));
}

function upsertMember(userId, role) {
  app.members = app.members.filter((m) => m.userId !== userId).concat([{ userId, role }]);
  renderMembers();
}

// ---- presence, chat, dice, time ----

function renderPresence() {
  fill($('presence'), [...app.presence].map(([userId, name]) => h('li', { dataset: { testid: 'present', userId } },
    h('span', { class: 'name' }, name || userId), userId === app.me.sub ? h('span', { class: 'tag' }, 'you') : null)));
}

const clock = (ts) => (typeof ts === 'number' ? new Date(ts).toLocaleTimeString() : '');

function addChat(m) {
  if (!m || typeof m.id !== 'string' || app.seen.has(m.id)) return;
  app.seen.add(m.id);
  appendLog($('chat-log'), h('li', { dataset: { testid: 'chat', messageId: m.id } },
    h('span', { class: 'muted' }, `${clock(m.ts)} `), h('span', { class: 'who' }, m.name || m.userId), `: ${m.text}`));
}

function addRoll(r) {
  if (!r || typeof r.id !== 'string' || app.seen.has(r.id)) return;
  app.seen.add(r.id);
  const faces = Array.isArray(r.rolls) ? r.rolls.map((d) => `${d.die} [${(d.results || []).join(', ')}]`).join(' ') : '';
  appendLog($('roll-log'), h('li', { dataset: { testid: 'roll', rollId: r.id, total: String(r.total) } },
    h('span', { class: 'who' }, r.name || r.userId), `: ${r.label ? `${r.label} ` : ''}${r.expression} = `,
    h('span', { class: 'total', dataset: { testid: 'roll-total' } }, String(r.total)), ' ',
    h('span', { class: 'faces' }, faces), r.secret ? h('span', { class: 'tag hidden' }, 'secret') : null));
}

function showTime(worldTime) {
  const el = $('world-clock');
  el.textContent = formatWorldTime(worldTime);
  el.dataset.seconds = String(worldTime);
}

// ---- server pushes (socket.io-client callbacks, the page's event loop) ----

function listen(socket) {
  const here = (campaignId) => campaignId && campaignId === app.campaignId;
  socket.on('campaign:memberAdded', ({ campaignId, userId, role, campaign }) => {
    if (userId === app.me.sub) {
      const c = { ...(app.campaigns.get(campaignId) || campaign || { id: campaignId, name: campaignId }), role };
      app.campaigns.set(campaignId, c);
      renderCampaignPicker();
      if (here(campaignId)) showAll('.gm-only', isGM());
    }
    if (here(campaignId)) upsertMember(userId, role);
  });
  socket.on('campaign:memberRemoved', ({ campaignId, userId }) => {
    if (userId === app.me.sub) {
      app.campaigns.delete(campaignId);
      if (here(campaignId)) { closeCampaign(); showError(new Error('you were removed from this campaign')); }
      renderCampaignPicker();
      return;
    }
    if (here(campaignId)) { app.members = app.members.filter((m) => m.userId !== userId); renderMembers(); }
  });
  socket.on('campaign:updated', (c) => {
    if (!c?.id || !app.campaigns.has(c.id)) return;
    app.campaigns.set(c.id, { ...app.campaigns.get(c.id), name: c.name });
    renderCampaignPicker();
  });
  socket.on('campaign:deleted', ({ id }) => {
    if (!app.campaigns.delete(id)) return;
    if (here(id)) closeCampaign();
    renderCampaignPicker();
  });
  socket.on('gameSession:created', (s) => {
    if (!here(s?.campaignId)) return;
    app.sessions.set(s.id, s);
    renderSessionPicker();
  });
  socket.on('presence:joined', ({ room: r, userId, name }) => {
    if (app.campaignId && r === room()) { app.presence.set(userId, name); renderPresence(); }
  });
  socket.on('presence:left', ({ room: r, userId }) => {
    if (app.campaignId && r === room()) { app.presence.delete(userId); renderPresence(); }
  });
  socket.on('chat:message', (m) => { if (app.campaignId && m?.room === room()) addChat(m); });
  socket.on('roll:result', (r) => { if (app.campaignId && r?.room === room()) addRoll(r); });
  socket.on('world_time_changed', (t) => { if (here(t?.campaignId)) showTime(t.worldTime); });
}

// ---- the page's controls ----

function onSubmit(id, fn) {
  const form = $(id);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearError();
    fn(form);
  });
}

onSubmit('signin-form', (f) => {
  const t = f.elements.token.value.trim();
  if (t) { f.reset(); signIn(t); }
});
$('sign-out').addEventListener('click', signOut);
$('error-close').addEventListener('click', clearError);
$('campaign-select').addEventListener('change', (ev) => { clearError(); selectCampaign(ev.target.value); });
$('session-select').addEventListener('change', (ev) => { clearError(); selectSession(ev.target.value); });

for (const tab of document.querySelectorAll('[data-tab]')) {
  tab.addEventListener('click', () => {
    for (const t of document.querySelectorAll('[data-tab]')) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      $(`tab-${t.dataset.tab}`).hidden = !on;
    }
  });
}

onSubmit('campaign-create', (f) => attempt('campaign:create', async () => {
  const c = await request('campaign:create', { name: f.elements.name.value.trim() });
  f.reset();
  app.campaigns.set(c.id, { ...c, role: 'gm' });
  await selectCampaign(c.id);
}));

onSubmit('member-add', (f) => attempt('campaign:addMember', async () => {
  const m = await request('campaign:addMember', { campaignId: app.campaignId, userId: f.elements.userId.value.trim(), role: f.elements.role.value });
  f.elements.userId.value = '';
  upsertMember(m.userId, m.role);
}));

onSubmit('session-create', (f) => attempt('gameSession:create', async () => {
  const s = await request('gameSession:create', { campaignId: app.campaignId, name: f.elements.name.value.trim() });
  f.reset();
  app.sessions.set(s.id, s);
  selectSession(s.id);
}));

onSubmit('actor-create', (f) => attempt('actor:create', async () => {
  if (!app.actors) throw new Error('pick a campaign first');
  const fields = { name: f.elements.name.value.trim(), type: f.elements.type.value.trim() || 'npc' };
  if (isGM() && f.elements.hidden.checked) fields.hidden = true;
  await app.actors.create(fields);
  f.elements.name.value = '';
  f.elements.hidden.checked = false;
}));

editors.actor = editor('actor', {
  store: () => app.actors,
  load(f, a) {
    f.elements.name.value = a.name;
    f.elements.hp.value = typeof a.hp === 'number' ? String(a.hp) : '';
    f.elements.hidden.checked = a.hidden === true;
  },
  fields(f) {
    const fields = { name: f.elements.name.value.trim() };
    const hp = f.elements.hp.value.trim();
    if (hp !== '') fields.hp = Number(hp);
    if (isGM()) fields.hidden = f.elements.hidden.checked;
    return fields;
  },
  remove: deleteActor,
});

onSubmit('item-create', (f) => attempt('item:create', async () => {
  if (!app.items) throw new Error('pick a campaign first');
  const fields = { name: f.elements.name.value.trim(), type: f.elements.type.value.trim() || undefined };
  if (isGM() && f.elements.hidden.checked) fields.hidden = true;
  await app.items.create(fields);
  f.elements.name.value = '';
  f.elements.hidden.checked = false;
}));

editors.item = editor('item', {
  store: () => app.items,
  load(f, it) {
    f.elements.name.value = it.name;
    f.elements.type.value = typeof it.type === 'string' ? it.type : '';
    f.elements.hidden.checked = it.hidden === true;
  },
  fields(f) {
    const fields = { name: f.elements.name.value.trim() };
    const type = f.elements.type.value.trim();
    if (type !== '') fields.type = type;
    if (isGM()) fields.hidden = f.elements.hidden.checked;
    return fields;
  },
  remove: (id) => app.items.remove(id),
});

onSubmit('dice-form', (f) => attempt('roll', async () => {
  if (!app.campaignId) throw new Error('pick a campaign first');
  const arg = { room: room(), expression: f.elements.expression.value.trim() };
  const label = f.elements.label.value.trim();
  if (label) arg.label = label;
  addRoll(await request('roll', arg));
}));

onSubmit('chat-form', (f) => attempt('chat:send', async () => {
  if (!app.campaignId) throw new Error('pick a campaign first');
  addChat(await request('chat:send', { room: room(), text: f.elements.text.value }));
  f.reset();
}));

for (const b of document.querySelectorAll('[data-advance]')) {
  b.addEventListener('click', () => attempt('time:advance', async () => {
    const t = await request('time:advance', { campaignId: app.campaignId, seconds: Number(b.dataset.advance) });
    showTime(t.worldTime);
  }));
}

// ---- start ----
const token = tokenFromFragment() || sessionStorage.getItem(KEY.token);
if (token) signIn(token);
