// Types of store.js (@parley/client/store), written by hand beside the code.
import type { Actor, ActorDraft, EntityPatch, Item, ItemDraft, ParleyError, ParleyErrorCode } from './parley-events.js';
import type { ParleySocket, SocketLike } from './session.js';

export interface EntityStoreOptions {
  /** keep hidden entities (default false) */
  includeHidden?: boolean;
  /** bound on every request (default 5000) */
  ackTimeoutMs?: number;
}

export interface StoreError extends Error { code?: ParleyErrorCode; ack?: ParleyError }

export interface EntityStore<E, Draft> {
  /** resolves once listed; rejects on a definite refusal of the first list, or close() before it */
  readonly ready: Promise<void>;
  /** oldest first */
  readonly items: E[];
  get(id: string): E | undefined;
  /** the error the last subscribe/list was refused with, null once one succeeds */
  readonly lastError: StoreError | null;
  subscribe(fn: (items: E[], info: { cause: 'list' | 'event' | 'local' | 'error' }) => void): () => boolean;
  refresh(): Promise<void>;
  create(fields: Omit<Draft, 'campaignId'>): Promise<E>;
  update(fields: EntityPatch): Promise<E>;
  remove(id: string): Promise<void>;
  close(): void;
}

export type ActorStore = EntityStore<Actor, ActorDraft>;
export type ItemStore = EntityStore<Item, ItemDraft>;

export function entityStore(socket: ParleySocket | SocketLike, kind: 'actor', campaignId: string, opts?: EntityStoreOptions): ActorStore;
export function entityStore(socket: ParleySocket | SocketLike, kind: 'item', campaignId: string, opts?: EntityStoreOptions): ItemStore;
