// A client of @parley/client's API (clients/js/index.d.ts), type-checked by
// tests/e2e/client-types.test.mjs with `tsc --noEmit --strict`.
import {
  connectParley, gameSession, entityStore, applyOps, deepEqual,
  type ParleySocket, type GameSessionHandle, type UpdateError, type ActorStore, type GameState, type Actor, type Item,
} from '../../clients/js/index.js';

const socket: ParleySocket = connectParley('http://127.0.0.1:8080', { token: 'jwt', path: '/socket.io/', transports: ['websocket'] });
// the typed socket: events and acks of parley-events.d.ts
socket.emit('chat:send', { room: 'campaign:c1', text: 'hi' }, (r) => { if (r.success) r.data.ts.toFixed(); });
socket.on('actor:created', (a) => a.version);

const game: GameSessionHandle = gameSession(socket, 's1', {
  ackTimeoutMs: 2000,
  maxAttempts: 3,
  onConflict: (u, state) => (state.pluginData.locked ? 'drop' : u.operations.length > 1 ? 'resend' : u.operations),
});
async function play(): Promise<string | null> {
  await game.ready;
  const off = game.subscribe((state, { version, cause, pending }) => console.log(state?.stateVersion, version, cause, pending));
  const r = await game.update([{ path: 'pluginData.round', operation: 'inc', value: 1 }]);
  await game.update((s: GameState) => [{ path: 'pluginData.hp', operation: 'set', value: Number(s.pluginData.hp) - 3 }]);
  try {
    await game.update([{ path: 'characters', operation: 'push', value: 'c' }]);
  } catch (e) {
    const err = e as UpdateError;
    if (err.code === 'OUTCOME_UNKNOWN' && err.id) console.log(game.outcome(err.id));
    else if (err.code === 'VERSION_CONFLICT') console.log(err.ack?.message);
  }
  await game.sync({ full: true });
  off();
  game.close();
  console.log(game.isGM, game.pending, game.stats.resends, game.lastError?.code);
  return r.newVersion ?? game.version;
}
void play;

const actors: ActorStore = entityStore(socket, 'actor', 'c1', { includeHidden: true });
const items = entityStore(socket, 'item', 'c1');
async function list(): Promise<number> {
  await Promise.all([actors.ready, items.ready]);
  actors.subscribe((list: Actor[], { cause }) => console.log(list.length, cause));
  const a: Actor = await actors.create({ name: 'Goblin', type: 'npc', hp: 7 });
  const i: Item = await items.update({ id: 'i1', actorId: a.id });
  await actors.remove(a.id);
  console.log(actors.get(a.id)?.name, items.items[0]?.actorId, i.name, actors.lastError?.code);
  return applyOps({ n: 1 }, [{ path: 'n', operation: 'inc', value: 1 }]).n + (deepEqual(1, 1) ? 1 : 0);
}
void list;
