// Types of @parley/client, written by hand beside index.js; the events
// come from the generated ./parley-events.d.ts (proto/, not edited here).
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import type { ParleySocket } from './session.js';

export * from './session.js';
export * from './store.js';
export type * from './parley-events.js';

/** io(url, {reconnection: true, ...opts, auth: {...opts.auth, token}}), typed. */
export function connectParley(url: string, opts: Partial<ManagerOptions & SocketOptions> & { token: string }): ParleySocket;
