// A client of every event of clients/js/parley-events.d.ts, type-checked by
// tests/e2e/client-types.test.mjs with `tsc --noEmit --strict`. The test
// also checks that every client event and server push is named here.
import { io, type Socket } from 'socket.io-client';
import type {
  ClientToServerEvents, ServerToClientEvents, ParleyErrorCode, Actor, GameState,
} from '../../clients/js/parley-events.js';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> =
  io('http://127.0.0.1:8080', { auth: { token: 'jwt' }, autoConnect: false });

function code(e: ParleyErrorCode): string { return e; }
const log = (what: string) => (r: { success: boolean }) => console.log(what, r.success);

// ---- client events ----
socket.emit('campaign:create', { name: 'Dragons', setting: 'kept' }, (r) => {
  if (r.success) console.log(r.data.id, r.data.role);
  else console.log(code(r.error.code), r.error.message);
});
socket.emit('campaign:list', (r) => { if (r.success) r.data.forEach((c) => c.name); });
socket.emit('campaign:get', 'c1', (r) => { if (r.success) r.data.members?.map((m) => m.role); });
socket.emit('campaign:update', { id: 'c1', name: 'New' }, log('update'));
socket.emit('campaign:delete', 'c1', log('delete'));
socket.emit('campaign:addMember', { campaignId: 'c1', userId: 'u2', role: 'player' }, log('add'));
socket.emit('campaign:removeMember', { campaignId: 'c1', userId: 'u2' }, log('remove'));
socket.emit('subscribe', { room: 'campaign:c1' }, (r) => { if (r.success) console.log(r.data.room); });
socket.emit('unsubscribe', { room: 'campaign:c1' }, log('unsubscribe'));
socket.emit('presence:list', { room: 'campaign:c1' }, (r) => { if (r.success) r.data[0]?.userId; });
socket.emit('chat:send', { room: 'campaign:c1', text: 'hi' }, (r) => { if (r.success) r.data.ts.toFixed(); });
socket.emit('chat:history', { room: 'campaign:c1', limit: 10 }, log('history'));
socket.emit('roll', { room: 'session:s1', expression: '4d6kh3 + 2', secret: false }, (r) => {
  if (r.success) console.log(r.data.total, r.data.rolls[0]?.kept);
});
socket.emit('rule:create', { campaignId: 'c1', name: 'down', on: 'actor', when: 'hp <= 0',
  then: [{ operation: 'push', path: 'conditions', value: 'unconscious' }] }, log('rule'));
socket.emit('rule:list', { campaignId: 'c1' }, log('rules'));
socket.emit('rule:delete', { campaignId: 'c1', id: 'r1' }, log('rule delete'));
socket.emit('rule:test', { campaignId: 'c1', rule: { name: 't', on: 'item', when: 'true', then: [] },
  entity: { hp: 1 } }, (r) => { if (r.success) console.log(r.data.fires); });
socket.emit('gameSession:create', { campaignId: 'c1', name: 'Night 1' }, log('session'));
socket.emit('gameSession:list', { campaignId: 'c1' }, log('sessions'));
socket.emit('gameSession:join', 's1', (r) => {
  if (!r.success) return;
  const state: GameState = r.data.gameState;
  const actors: Actor[] = state.actors;
  console.log(r.data.isGM, state.stateVersion, actors.length);
});
socket.emit('gameSession:leave', 's1', log('leave'));
socket.emit('gameState:requestFull', 's1', (r) => { if (r.success) r.data.gameState.lastUpdated; });
socket.emit('gameState:update', { id: 'u-1', sessionId: 's1', version: '3',
  operations: [{ path: 'pluginData.x', operation: 'set', value: 1 }] }, (r) => {
  if (r.success) console.log(r.newVersion);
  else if (r.error.code === 'VERSION_CONFLICT') console.log(r.error.currentVersion);
});
socket.emit('gameState:sync', { sessionId: 's1', sinceVersion: '3' }, (r) => {
  if (!r.success) return;
  if ('full' in r.data) console.log(r.data.gameState.stateVersion);
  else r.data.updates.forEach((u) => u.version);
});
socket.emit('token:move', { sessionId: 's1', tokenId: 't1', x: 1.5, y: 2 }, log('move'));
socket.emit('actor:list', log('personal actors'));
socket.emit('actor:list', { campaignId: 'c1' }, log('campaign actors'));
socket.emit('actor:get', 'a1', log('actor'));
socket.emit('actor:create', { name: 'Goblin', type: 'npc', campaignId: 'c1', hidden: true, hp: 7 }, (r) => {
  if (r.success) console.log(r.data.version + 1);
});
socket.emit('actor:update', { id: 'a1', hp: 3 }, log('actor update'));
socket.emit('actor:delete', 'a1', log('actor delete'));
socket.emit('item:list', { actorId: 'a1' }, log('items'));
socket.emit('item:get', 'i1', (r) => { if (r.success) console.log(r.data.actorId ?? 'nobody'); });
socket.emit('item:create', { name: 'Sword', actorId: 'a1' }, log('item'));
socket.emit('item:update', { id: 'i1', actorId: null }, log('item update'));
socket.emit('item:delete', 'i1', log('item delete'));
socket.emit('time:get', { campaignId: 'c1' }, (r) => { if (r.success) r.data.worldTime.toFixed(); });
socket.emit('time:advance', { campaignId: 'c1', seconds: 60 }, log('advance'));
socket.emit('time:set', { campaignId: 'c1', worldTime: 0 }, log('set'));
socket.emit('schedule:create', { campaignId: 'c1', event: 'dawn', room: 'campaign:c1', at: 3600 }, log('schedule'));
socket.emit('schedule:list', { campaignId: 'c1' }, log('schedules'));
socket.emit('schedule:cancel', { campaignId: 'c1', id: 'e1' }, log('cancel'));
socket.emit('timer:start', { sessionId: 's1', seconds: 30, label: 'turn' }, log('timer'));
socket.emit('timer:cancel', { sessionId: 's1' }, log('timer cancel'));

// the promise form of socket.io-client takes the same types
async function read(): Promise<string> {
  const r = await socket.emitWithAck('actor:get', 'a1');
  return r.success ? r.data.name : r.error.code;
}
void read;

// ---- server pushes ----
socket.on('campaign:updated', (c) => c.name);
socket.on('campaign:deleted', (p) => p.id);
socket.on('campaign:memberAdded', (p) => p.campaign.id + p.role);
socket.on('campaign:memberRemoved', (p) => p.userId);
socket.on('presence:joined', (p) => p.name);
socket.on('presence:left', (p) => p.room);
socket.on('chat:message', (m) => m.text);
socket.on('roll:result', (r) => r.total);
socket.on('state_invalidated', (p) => p.reason === 'depth');
socket.on('gameState:updated', (u) => u.previousVersion);
socket.on('gameSession:created', (s) => s.campaignId);
socket.on('actor:created', (a) => a.hidden);
socket.on('actor:updated', (a) => a.version);
socket.on('actor:deleted', (id) => id.length);
socket.on('item:created', (i) => i.actorId);
socket.on('item:updated', (i) => i.name);
socket.on('item:deleted', (id) => id.toUpperCase());
socket.on('world_time_changed', (p) => p.worldTime - p.previous);
socket.on('schedule:fired', (p) => p.firedAt);
socket.on('timer:tick', (p) => p.remaining);
socket.on('timer:expired', (p) => p.label);
