// @parley/client - a small ESM library over socket.io-client (issue 14, section 2).
//
//   import { connectParley, gameSession } from '@parley/client';
//   const socket = connectParley('https://parley.example', { token });
//   const game = gameSession(socket, sessionId);
//   await game.ready;
//   game.subscribe((state, info) => render(state));
//   await game.update([{ path: 'pluginData.round', operation: 'inc', value: 1 }]);
//
// The game-state logic lives in session.js, which imports nothing, so it can
// run over any socket-like object (socket.io-client's, or a test double).
import { io } from 'socket.io-client';

export { gameSession, applyOps, deepEqual, backoffMs } from './session.js';
export { entityStore } from './store.js';

/**
 * Connect to a Parley gateway: a socket.io-client socket, connecting, with
 * the JWT in the handshake's auth ({token}). Every other option goes to
 * io() as is (path, transports, reconnection...). Reconnection is on (a
 * gameSession resyncs and resends its queue on every reconnect).
 */
export function connectParley(url, { token, ...opts } = {}) {
  if (typeof token !== 'string' || token.length === 0) throw new TypeError('connectParley: a token is required');
  return io(url, { reconnection: true, ...opts, auth: { ...(opts.auth || {}), token } });
}
