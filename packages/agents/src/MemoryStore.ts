/**
 * `MemoryStore`: the one interface every memory backend implements (in-memory, SQLite,
 * PostgreSQL, Redis), and the in-memory store.
 *
 * A store is scope-explicit: every operation names the scope it works in, and never reads or
 * writes outside it. The `Memory` service resolves scopes from the `WorkflowContext`, so user
 * code cannot name another session's or user's scope. Time is passed in (`now`, epoch ms from
 * Effect's Clock), so expiry follows `TestClock` in tests.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { MemoryStoreError } from "./Errors.js"

/**
 * The kinds of scope, from narrowest to widest.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { MemoryStore } from "@braid/agents"
 *
 * const kind = Schema.decodeUnknownSync(MemoryStore.ScopeKind)("session")
 * ```
 *
 * @since 0.1.0
 */
export const ScopeKind = Schema.Literal("run", "session", "user", "global")

/**
 * @since 0.1.0
 */
export type ScopeKind = typeof ScopeKind.Type

/**
 * An isolation boundary: entries of one scope are never visible from another.
 *
 * @example
 * ```ts
 * import type { MemoryStore } from "@braid/agents"
 *
 * const scope: MemoryStore.Scope = { kind: "session", id: "s-42" }
 * ```
 *
 * @since 0.1.0
 */
export const Scope = Schema.Struct({ kind: ScopeKind, id: Schema.String })

/**
 * @since 0.1.0
 */
export type Scope = typeof Scope.Type

/**
 * A memory entry with its provenance. `value` is JSON (use `Memory.forSchema` for typed values).
 *
 * @example
 * ```ts
 * import type { MemoryStore } from "@braid/agents"
 *
 * const entry: MemoryStore.Entry = {
 *   id: "e-1", scope: { kind: "user", id: "u-1" }, key: "goal", value: "run 5k",
 *   agent: "coach", runId: "r-1", stepPath: "morning/coach", tags: ["goal"], createdAt: 0
 * }
 * ```
 *
 * @since 0.1.0
 */
export const Entry = Schema.Struct({
  id: Schema.String,
  scope: Scope,
  key: Schema.String,
  value: Schema.Unknown,
  agent: Schema.optional(Schema.String),
  runId: Schema.optional(Schema.String),
  stepPath: Schema.optional(Schema.String),
  tags: Schema.Array(Schema.String),
  createdAt: Schema.Number,
  expiresAt: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 */
export type Entry = typeof Entry.Type

/**
 * What to select within a scope. All given criteria must hold.
 *
 * @example
 * ```ts
 * import type { MemoryStore } from "@braid/agents"
 *
 * const filter: MemoryStore.Filter = { agent: "coach", tags: ["goal"], text: "5k", limit: 10 }
 * ```
 *
 * @since 0.1.0
 */
export interface Filter {
  /** Entries written by this agent. */
  readonly agent?: string
  /** Entries that carry every one of these tags. */
  readonly tags?: ReadonlyArray<string>
  /** Entries created at or after this time (epoch ms). */
  readonly from?: number
  /** Entries created before this time (epoch ms). */
  readonly to?: number
  /** Case-insensitive substring of the key or of the JSON text of the value. */
  readonly text?: string
  /** At most this many entries: the most recent ones. */
  readonly limit?: number
}

/**
 * Options of `put`.
 *
 * @since 0.1.0
 */
export interface PutOptions {
  /** The current time (epoch ms), to drop expired entries before counting. */
  readonly now: number
  /** Keep at most this many entries in the scope, evicting the oldest, atomically with the write. */
  readonly maxEntries?: number
  /**
   * `JSON.stringify(entry.value)`, when the caller already has it (`Memory` always does), so a
   * store that keeps text does not encode the value a second time.
   */
  readonly valueJson?: string
}

/**
 * The interface of a memory backend. Results are ordered oldest first (by write order);
 * expired entries (`expiresAt <= now`) are never returned. Writing an existing key replaces the
 * entry and makes it the newest.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import type { MemoryStore } from "@braid/agents"
 *
 * const nothing: MemoryStore.MemoryStoreShape = {
 *   name: "null",
 *   put: () => Effect.void,
 *   get: () => Effect.succeed(Option.none()),
 *   query: () => Effect.succeed([]),
 *   delete: () => Effect.succeed(false),
 *   clear: () => Effect.succeed(0)
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface MemoryStoreShape {
  /** A short name for errors and telemetry: "memory", "sqlite", "postgres", "redis". */
  readonly name: string
  readonly put: (entry: Entry, options: PutOptions) => Effect.Effect<void, MemoryStoreError>
  readonly get: (scope: Scope, key: string, now: number) => Effect.Effect<Option.Option<Entry>, MemoryStoreError>
  readonly query: (scope: Scope, filter: Filter, now: number) => Effect.Effect<ReadonlyArray<Entry>, MemoryStoreError>
  /** Deletes one entry; whether it existed. */
  readonly delete: (scope: Scope, key: string) => Effect.Effect<boolean, MemoryStoreError>
  /** Deletes every entry of a scope; how many there were. */
  readonly clear: (scope: Scope) => Effect.Effect<number, MemoryStoreError>
}

/**
 * The memory backend in use.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { MemoryStore } from "@braid/agents"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* MemoryStore.MemoryStore
 *   return yield* store.get({ kind: "global", id: "global" }, "motd", Date.now())
 * }).pipe(Effect.provide(MemoryStore.layerInMemory))
 * ```
 *
 * @since 0.1.0
 */
export class MemoryStore extends Context.Tag("@braid/agents/MemoryStore")<MemoryStore, MemoryStoreShape>() {}

/**
 * The key of a scope as one string (`kind:id`).
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/agents"
 *
 * MemoryStore.scopeKey({ kind: "user", id: "ada" }) // "user:ada"
 * ```
 *
 * @since 0.1.0
 */
export const scopeKey = (scope: Scope): string => `${scope.kind}:${scope.id}`

/**
 * Whether an entry is live at `now`.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/agents"
 *
 * const live = (e: MemoryStore.Entry) => MemoryStore.isLive(e, Date.now())
 * ```
 *
 * @since 0.1.0
 */
export const isLive = (entry: Entry, now: number): boolean => entry.expiresAt === undefined || entry.expiresAt > now

/**
 * Applies a filter (other than `limit`) to one entry. Stores that cannot express a criterion in
 * their query language use this to finish the selection.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/agents"
 *
 * const isGoal = (e: MemoryStore.Entry) => MemoryStore.matches(e, { tags: ["goal"], text: "run" })
 * ```
 *
 * @since 0.1.0
 */
export const matches = (entry: Entry, filter: Filter): boolean => {
  if (filter.agent !== undefined && entry.agent !== filter.agent) return false
  if (filter.from !== undefined && entry.createdAt < filter.from) return false
  if (filter.to !== undefined && entry.createdAt >= filter.to) return false
  if (filter.tags !== undefined && filter.tags.length > 0) {
    for (const tag of filter.tags) if (!entry.tags.includes(tag)) return false
  }
  if (filter.text !== undefined && filter.text !== "") {
    const needle = filter.text.toLowerCase()
    if (!entry.key.toLowerCase().includes(needle) && !JSON.stringify(entry.value ?? null).toLowerCase().includes(needle)) {
      return false
    }
  }
  return true
}

/**
 * Keeps the most recent `limit` entries of an oldest-first list.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/agents"
 *
 * MemoryStore.applyLimit([1, 2, 3, 4], 2) // [3, 4]
 * ```
 *
 * @since 0.1.0
 */
export const applyLimit = <A>(entries: ReadonlyArray<A>, limit: number | undefined): ReadonlyArray<A> =>
  limit === undefined || entries.length <= limit ? entries : entries.slice(entries.length - Math.max(0, limit))

/** An entry as the in-memory store keeps it: its value as JSON text, decoded on every read. */
interface Stored {
  readonly entry: Entry
  readonly json: string
}

/** A fresh copy of a stored entry, its value decoded (readers never share an object). */
const materialize = (stored: Stored): Entry => {
  const e = stored.entry
  const out: { -readonly [K in keyof Entry]: Entry[K] } = {
    id: e.id,
    scope: e.scope,
    key: e.key,
    value: JSON.parse(stored.json),
    tags: e.tags,
    createdAt: e.createdAt
  }
  if (e.agent !== undefined) out.agent = e.agent
  if (e.runId !== undefined) out.runId = e.runId
  if (e.stepPath !== undefined) out.stepPath = e.stepPath
  if (e.expiresAt !== undefined) out.expiresAt = e.expiresAt
  return out
}

/**
 * A store in process memory: fast, gone when the process ends. It keeps each value as JSON
 * text, as the other stores do, so what it returns is a fresh copy: neither the writer nor a
 * reader can change a stored entry by mutating an object. Writes are atomic (each is one
 * synchronous step), so eviction never races a concurrent writer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MemoryStore } from "@braid/agents"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* MemoryStore.makeInMemory
 *   yield* store.put({ id: "1", scope: { kind: "global", id: "global" }, key: "k", value: 1, tags: [], createdAt: 0 }, { now: 0 })
 * })
 * ```
 *
 * @since 0.1.0
 */
export const makeInMemory: Effect.Effect<MemoryStoreShape> = Effect.sync(() => {
  // Per scope, entries by key; a JS Map keeps insertion order, and a rewrite deletes then sets,
  // so iteration order is write order (oldest first).
  const scopes = new Map<string, Map<string, Stored>>()
  return {
    name: "memory",
    put: (entry, options) =>
      Effect.sync(() => {
        const k = scopeKey(entry.scope)
        let m = scopes.get(k)
        if (m === undefined) {
          m = new Map()
          scopes.set(k, m)
        }
        m.delete(entry.key)
        m.set(entry.key, { entry, json: options.valueJson ?? JSON.stringify(entry.value ?? null) })
        if (options.maxEntries !== undefined) {
          for (const [key, stored] of m) if (!isLive(stored.entry, options.now)) m.delete(key)
          const excess = m.size - options.maxEntries
          if (excess > 0) {
            let i = 0
            for (const key of m.keys()) {
              if (i++ >= excess) break
              m.delete(key)
            }
          }
        }
      }),
    get: (scope, key, now) =>
      Effect.sync(() => {
        const stored = scopes.get(scopeKey(scope))?.get(key)
        return stored !== undefined && isLive(stored.entry, now) ? Option.some(materialize(stored)) : Option.none()
      }),
    query: (scope, filter, now) =>
      Effect.sync(() => {
        const m = scopes.get(scopeKey(scope))
        if (m === undefined) return []
        const out: Array<Entry> = []
        for (const stored of m.values()) {
          if (!isLive(stored.entry, now)) continue
          const e = materialize(stored)
          if (matches(e, filter)) out.push(e)
        }
        return applyLimit(out, filter.limit)
      }),
    delete: (scope, key) => Effect.sync(() => scopes.get(scopeKey(scope))?.delete(key) ?? false),
    clear: (scope) =>
      Effect.sync(() => {
        const k = scopeKey(scope)
        const n = scopes.get(k)?.size ?? 0
        scopes.delete(k)
        return n
      })
  }
})

/**
 * A fresh in-memory store.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory, MemoryStore } from "@braid/agents"
 *
 * const MemoryLive = Memory.layer().pipe(Layer.provide(MemoryStore.layerInMemory))
 * ```
 *
 * @since 0.1.0
 */
export const layerInMemory: Layer.Layer<MemoryStore> = Layer.effect(MemoryStore, makeInMemory)
