/**
 * Synchronous operations of a store that has them (the in-memory store), so the `Memory` service
 * can run a write or a read inside its own single Effect step instead of adding the store's.
 * A store registers them once, when it is made; stores without them are used through their
 * Effects. Not part of the store interface: a custom store never needs it.
 *
 * @internal
 */
import type { Option } from "effect"
import type { Entry, MemoryStoreShape, Scope } from "../MemoryStore.js"

export interface SyncOps {
  /** `put` with its options as arguments (no options object per write). */
  readonly put: (entry: Entry, now: number, maxEntries: number | undefined, valueJson: string | undefined) => void
  readonly get: (scope: Scope, key: string, now: number) => Option.Option<Entry>
}

const registry = new WeakMap<MemoryStoreShape, SyncOps>()

export const register = (store: MemoryStoreShape, ops: SyncOps): void => {
  registry.set(store, ops)
}

export const of = (store: MemoryStoreShape): SyncOps | undefined => registry.get(store)
