// Types of session.js (@parley/client/session): written by hand beside the
// code; the protocol's types come from the generated ./parley-events.d.ts.
import type { Socket } from 'socket.io-client';
import type { ClientToServerEvents, GameState, Operation, ParleyError, ParleyErrorCode, ServerToClientEvents } from './parley-events.js';

/** A socket.io-client socket typed with Parley's events and their acks (connectParley's). */
export type ParleySocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * What gameSession and entityStore need of a socket: socket.io-client's
 * (connectParley's ParleySocket) or any object that behaves like one
 * (a test double).
 */
export interface SocketLike {
  readonly connected: boolean;
  readonly recovered?: boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: any[]): unknown;
  timeout(ms: number): { emit(event: string, ...args: any[]): unknown };
}

/** An update as onConflict sees it. */
export interface PendingUpdate { id: string; operations: Operation[] }

export interface GameSessionOptions {
  /** bound on every request's ack (default 5000) */
  ackTimeoutMs?: number;
  /** sends of one update with an unknown outcome before it rejects OUTCOME_UNKNOWN (default 5) */
  maxAttempts?: number;
  /** updates queued at most (default 1000) */
  maxPending?: number;
  /** what to do with an array update after a VERSION_CONFLICT and the sync (default 'resend') */
  onConflict?: (update: PendingUpdate, state: GameState) => 'resend' | 'drop' | Operation[];
}

export type SessionChangeCause = 'join' | 'sync' | 'update' | 'ack' | 'local' | 'rebase' | 'rollback' | 'unknown' | 'error';

export interface SessionChange {
  /** the confirmed state's version */
  version: string | undefined;
  cause: SessionChangeCause;
  /** updates of this client not yet confirmed */
  pending: number;
}

export interface UpdateResult { id: string; newVersion: string }

/** How update() rejects: the server's code (and error), OUTCOME_UNKNOWN with the update's id, or none (session closed...). */
export interface UpdateError extends Error {
  code?: ParleyErrorCode | 'OUTCOME_UNKNOWN';
  ack?: ParleyError;
  id?: string;
}

export interface GameSessionStats {
  conflicts: number;
  syncs: number;
  joins: number;
  resends: number;
  lastError?: string;
  buffered: number;
  syncing: boolean;
  queue: string;
}

export interface GameSessionHandle {
  /** resolves once joined; rejects on a definite refusal of the first join, or close() before it */
  readonly ready: Promise<void>;
  /** the confirmed state with this client's pending operations over it (null before the join) */
  readonly state: GameState | null;
  readonly version: string | null;
  readonly isGM: boolean;
  readonly pending: number;
  /** the error a join was refused with, null once one succeeds */
  readonly lastError: UpdateError | null;
  readonly stats: GameSessionStats;
  subscribe(fn: (state: GameState | null, info: SessionChange) => void): () => boolean;
  /** optimistic: operations, or a function of the state evaluated again when sent */
  update(ops: Operation[] | ((state: GameState) => Operation[])): Promise<UpdateResult>;
  /** for an update rejected OUTCOME_UNKNOWN: 'applied' once the server's broadcast of it was seen */
  outcome(id: string): 'applied' | 'unknown' | undefined;
  sync(opts?: { full?: boolean }): Promise<void>;
  close(): void;
}

export function gameSession(socket: ParleySocket | SocketLike, sessionId: string, opts?: GameSessionOptions): GameSessionHandle;

/** Apply operations to state in place, as the server does; throws on one that cannot apply. */
export function applyOps<T extends object>(state: T, ops: Operation[]): T;

/** Deep equality of JSON values (as the server's pull compares). */
export function deepEqual(a: unknown, b: unknown): boolean;

/** The delay before retry number n (1, 2...): 50 ms doubling, at most 2 s. */
export function backoffMs(n: number): number;
