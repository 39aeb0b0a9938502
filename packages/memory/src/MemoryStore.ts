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
import { Json } from "@braid/core"
import { Context, Effect, Either, Exit, Layer, Option, ParseResult, Schema } from "effect"
import { MemoryStoreError } from "./Errors.js"

/**
 * The kinds of scope, from narrowest to widest.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { MemoryStore } from "@braid/memory"
 *
 * const kind = Schema.decodeUnknownSync(MemoryStore.ScopeKind)("session")
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const ScopeKind = Schema.Literal("run", "session", "user", "global")

/**
 * @category models
 * @since 0.1.0
 */
export type ScopeKind = typeof ScopeKind.Type

/**
 * An isolation boundary: entries of one scope are never visible from another. A scope is its
 * kind, its tenant (absent when the run has none) and its id, three separate fields: tenant
 * `acme` with user `bob` is another scope than user `acme/bob` without a tenant, on every store.
 *
 * @example
 * ```ts
 * import type { MemoryStore } from "@braid/memory"
 *
 * const scope: MemoryStore.Scope = { kind: "session", id: "s-42" }
 * const tenants: MemoryStore.Scope = { kind: "user", tenant: "acme", id: "bob" }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Scope = Schema.Struct({ kind: ScopeKind, tenant: Schema.optional(Schema.String), id: Schema.String })

/**
 * @category models
 * @since 0.1.0
 */
export type Scope = typeof Scope.Type

/**
 * A memory entry with its provenance. `value` is JSON (use `Memory.forSchema` for typed values).
 *
 * @example
 * ```ts
 * import type { MemoryStore } from "@braid/memory"
 *
 * const entry: MemoryStore.Entry = {
 *   id: "e-1", scope: { kind: "user", id: "u-1" }, key: "goal", value: "run 5k",
 *   agent: "coach", runId: "r-1", stepPath: "morning/coach", tags: ["goal"], createdAt: 0
 * }
 * ```
 *
 * @category schemas
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
  createdAt: Schema.Finite,
  expiresAt: Schema.optional(Schema.Finite)
})

/**
 * @category models
 * @since 0.1.0
 */
export type Entry = typeof Entry.Type

/**
 * What to select within a scope. All given criteria must hold.
 *
 * @example
 * ```ts
 * import type { MemoryStore } from "@braid/memory"
 *
 * const filter: MemoryStore.Filter = { agent: "coach", tags: ["goal"], text: "5k", limit: 10 }
 * ```
 *
 * @category models
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
 * @category models
 * @since 0.1.0
 */
export interface PutOptions {
  /** The current time (epoch ms), to drop expired entries before counting. */
  readonly now: number
  /** Keep at most this many entries in the scope, evicting the oldest, atomically with the write. */
  readonly maxEntries?: number
  /**
   * `Json.encode(entry.value)`, when the caller already has it (`Memory` always does), so a
   * store that keeps text does not encode the value a second time. Without it the store encodes
   * the value under the same rules (`undefined` is `null`; a value with no lossless JSON form
   * fails the write).
   */
  readonly valueJson?: string
  /**
   * Applies the write at most once per scope: a store that has applied a write with this key in
   * this scope (within `idempotencyWindowMillis`) writes nothing and returns that first write's
   * entry. Insert-if-absent on a record kept apart from the entries, so a later rewrite or
   * delete of the entry's key does not make an old write apply again.
   *
   * @since 0.3.0
   */
  readonly idempotencyKey?: string
}

/**
 * How long a store remembers an applied idempotency key: 7 days. A write repeated later than
 * that applies again.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/memory"
 *
 * const days = MemoryStore.idempotencyWindowMillis / 86_400_000 // 7
 * ```
 *
 * @category constants
 * @since 0.3.0
 */
export const idempotencyWindowMillis = 7 * 24 * 60 * 60 * 1000

/**
 * The record of an applied idempotent write, as one JSON text: the entry with its value's JSON
 * (`valueJson`, already encoded) spliced in. Stores keep it and hand it back with `decodeRecord`.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/memory"
 *
 * const text = MemoryStore.encodeRecord({ id: "1", scope: { kind: "user", id: "u" }, key: "k", value: 1, tags: [], createdAt: 0 }, "1")
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const encodeRecord = (entry: Entry, valueJson: string): string =>
  `{"entry":${JSON.stringify({ ...entry, value: null })},"value":${valueJson}}`

/**
 * The entry of a record written by `encodeRecord`, checked; the reason when it does not decode.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/memory"
 *
 * const entry = MemoryStore.decodeRecord('{"entry":{"id":"1","scope":{"kind":"user","id":"u"},"key":"k","value":null,"tags":[],"createdAt":0},"value":1}')
 * ```
 *
 * @category parsing
 * @since 0.3.0
 */
export const decodeRecord = (text: unknown): Either.Either<Entry, string> => {
  if (typeof text !== "string") return Either.left(`an idempotency record is text, got ${typeof text}`)
  const parsed = Json.parse(text)
  if (Either.isLeft(parsed)) return Either.left(parsed.left.message)
  const r = parsed.right as { entry?: unknown; value?: unknown } | null
  if (typeof r !== "object" || r === null || typeof r.entry !== "object" || r.entry === null) {
    return Either.left("an idempotency record has no entry")
  }
  return decodeEntry({ ...r.entry, value: r.value })
}

/**
 * The interface of a memory backend. Results are ordered oldest first (by write order);
 * expired entries (`expiresAt <= now`) are never returned. Writing an existing key replaces the
 * entry and makes it the newest. A scope is its kind, tenant and id, each kept apart (two scopes
 * that differ in any of them never share entries). What a store reads back it decodes
 * (`decodeEntry`), failing with a `MemoryStoreError` (reason "Corrupt") on garbage; a stored
 * `undefined` reads back as `null`. `Memory` checks keys, tags, ids and filters before it calls
 * a store (see `Memory.make`), so a store may assume them well-formed.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import type { MemoryStore } from "@braid/memory"
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
 * @category models
 * @since 0.1.0
 */
export interface MemoryStoreShape {
  /** A short name for errors and telemetry: "memory", "sqlite", "postgres", "redis". */
  readonly name: string
  /**
   * Writes an entry. With `options.idempotencyKey` already applied in the scope, writes nothing
   * and returns the first write's entry (a store written before 0.3 returns nothing and writes).
   */
  readonly put: (entry: Entry, options: PutOptions) => Effect.Effect<Entry | void, MemoryStoreError>
  readonly get: (scope: Scope, key: string, now: number) => Effect.Effect<Option.Option<Entry>, MemoryStoreError>
  readonly query: (scope: Scope, filter: Filter, now: number) => Effect.Effect<ReadonlyArray<Entry>, MemoryStoreError>
  /** Deletes one entry; whether it existed. */
  readonly delete: (scope: Scope, key: string) => Effect.Effect<boolean, MemoryStoreError>
  /** Deletes every entry of a scope, and its applied idempotency keys; how many entries there were. */
  readonly clear: (scope: Scope) => Effect.Effect<number, MemoryStoreError>
}

/**
 * The memory backend in use.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { MemoryStore } from "@braid/memory"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* MemoryStore.MemoryStore
 *   return yield* store.get({ kind: "global", id: "global" }, "motd", Date.now())
 * }).pipe(Effect.provide(MemoryStore.layerInMemory))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class MemoryStore extends Context.Tag("@braid/memory/MemoryStore")<MemoryStore, MemoryStoreShape>() {}

/** A segment of `scopeKey`: itself when plain, else every other UTF-16 unit as `%XXXX`. */
const plainSegment = /^[A-Za-z0-9_.-]*$/
const escapeSegment = (text: string): string => {
  if (plainSegment.test(text)) return text
  let out = ""
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const plain = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 ||
      c === 45
    out += plain ? text[i] : `%${c.toString(16).padStart(4, "0")}`
  }
  return out
}

/**
 * The key of a scope as one string, `kind:tenant:id`, unambiguous for any ids: the tenant and
 * the id are escaped (every character other than `A-Z a-z 0-9 _ . -` becomes `%` and four hex
 * digits of its UTF-16 unit, lone surrogates included), and a scope without a tenant has `~` in
 * its place, which no escaped tenant can be. Two scopes have the same key exactly when they are
 * equal. The Redis store names its keys with it.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/memory"
 *
 * MemoryStore.scopeKey({ kind: "user", id: "ada" }) // "user:~:ada"
 * MemoryStore.scopeKey({ kind: "user", tenant: "acme", id: "bob/1" }) // "user:acme:bob%002f1"
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const scopeKey = (scope: Scope): string =>
  `${scope.kind}:${scope.tenant === undefined ? "~" : escapeSegment(scope.tenant)}:${escapeSegment(scope.id)}`

const isEntry = Schema.is(Entry)
const decodeEntryEither = Schema.decodeUnknownEither(Entry)

/**
 * Checks that a value read from a store is an `Entry` (the stores' read paths run it on what
 * they decode, so stored garbage is a typed failure, never a defect); the reason when it is not.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { MemoryStore } from "@braid/memory"
 *
 * const ok = MemoryStore.decodeEntry({ id: "1", scope: { kind: "user", id: "u" }, key: "k", value: 1, tags: [], createdAt: 0 })
 * const bad = MemoryStore.decodeEntry({ id: 1 }) // Either.left("... id ...")
 * ```
 *
 * @category parsing
 * @since 0.2.0
 */
export const decodeEntry = (u: unknown): Either.Either<Entry, string> => {
  if (isEntry(u)) return Either.right(u)
  return Either.mapLeft(decodeEntryEither(u, { errors: "first" }), (e) => ParseResult.TreeFormatter.formatErrorSync(e))
}

/**
 * Whether an entry is live at `now`.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/memory"
 *
 * const live = (e: MemoryStore.Entry) => MemoryStore.isLive(e, Date.now())
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isLive = (entry: Entry, now: number): boolean => entry.expiresAt === undefined || entry.expiresAt > now

/**
 * Applies a filter (other than `limit`) to one entry. Stores that cannot express a criterion in
 * their query language use this to finish the selection.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@braid/memory"
 *
 * const isGoal = (e: MemoryStore.Entry) => MemoryStore.matches(e, { tags: ["goal"], text: "run" })
 * ```
 *
 * @category utils
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
    if (
      !entry.key.toLowerCase().includes(needle) &&
      !(JSON.stringify(entry.value) ?? "null").toLowerCase().includes(needle)
    ) {
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
 * import { MemoryStore } from "@braid/memory"
 *
 * MemoryStore.applyLimit([1, 2, 3, 4], 2) // [3, 4]
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const applyLimit = <A>(entries: ReadonlyArray<A>, limit: number | undefined): ReadonlyArray<A> =>
  limit === undefined || entries.length <= limit ? entries : entries.slice(entries.length - Math.max(0, limit))

/**
 * The JSON text of an entry's value under `Json.encode`'s rules (`undefined` is `null`):
 * `valueJson` when the caller has it, else the value encoded here. A value with no lossless JSON
 * form fails the write with a `MemoryStoreError` naming the path.
 *
 * @internal
 */
export const valueJsonOf = (
  store: string,
  entry: Entry,
  valueJson: string | undefined
): Either.Either<string, MemoryStoreError> =>
  valueJson !== undefined ?
    Either.right(valueJson) :
    Either.mapLeft(Json.encode(entry.value), (e) =>
      new MemoryStoreError({
        store,
        operation: "put",
        message: `the value of ${JSON.stringify(entry.key)} has no JSON form: ${e.message}`
      }))

/**
 * An entry as the in-memory store keeps it: the value's JSON text as written, turned into a
 * private decoded copy on the first read; every read returns a fresh copy of that.
 */
interface Stored {
  /** The entry with `value: null` (the writer's object is not kept). */
  entry: Entry
  json: string | undefined
  decoded: unknown
  /** Write order: a rewrite gets a new one (and so becomes the newest). */
  seq: number
}

const bySeq = (a: Stored, b: Stored): number => a.seq - b.seq

/** A deep copy of a JSON value (plain objects, arrays and primitives), about 4x faster than `JSON.parse`. */
const copyJson = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i])
    return out
  }
  const out: Record<string, unknown> = {}
  for (const key in value) {
    const v = copyJson((value as Record<string, unknown>)[key])
    // `out.__proto__ = v` would set the prototype: JSON's "__proto__" key is an own property
    if (key === "__proto__") {
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true })
    } else out[key] = v
  }
  return out
}

/**
 * A store in process memory: fast, gone when the process ends. It keeps each value as JSON
 * text, as the other stores do (decoded with `Json.parse` once, on the first read), and every
 * read returns a fresh copy: neither the writer nor a reader can change a stored entry by
 * mutating an object. Writes are atomic (each is one synchronous step), so eviction never races
 * a concurrent writer. Scopes are kept by kind, tenant and id separately.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MemoryStore } from "@braid/memory"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* MemoryStore.makeInMemory
 *   yield* store.put({ id: "1", scope: { kind: "global", id: "global" }, key: "k", value: 1, tags: [], createdAt: 0 }, { now: 0 })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeInMemory: Effect.Effect<MemoryStoreShape> = Effect.sync(() => {
  // Per kind, per tenant (`undefined`: none; a Map tells it from ""), per id: entries by key,
  // each with its write order (`seq`). A rewrite updates the entry in place with a new `seq`
  // rather than deleting and re-inserting the key, which would leave a hole in the Map's table
  // on every rewrite (and a rehash every few dozen).
  let seq = 0
  const kinds = new Map<string, Map<string | undefined, Map<string, Map<string, Stored>>>>()
  // Applied idempotency keys, per scope (`scopeKey`): the record of the first write and when it lapses.
  const applied = new Map<string, Map<string, { readonly record: string; readonly expiresAt: number }>>()
  const scopeOf = (scope: Scope): Map<string, Stored> | undefined =>
    kinds.get(scope.kind)?.get(scope.tenant)?.get(scope.id)
  const scopeFor = (scope: Scope): Map<string, Stored> => {
    let tenants = kinds.get(scope.kind)
    if (tenants === undefined) {
      tenants = new Map()
      kinds.set(scope.kind, tenants)
    }
    let ids = tenants.get(scope.tenant)
    if (ids === undefined) {
      ids = new Map()
      tenants.set(scope.tenant, ids)
    }
    let m = ids.get(scope.id)
    if (m === undefined) {
      m = new Map()
      ids.set(scope.id, m)
    }
    return m
  }
  /** The live entries of a scope, oldest first. */
  const liveOf = (m: Map<string, Stored>, now: number): Array<Stored> => {
    const out: Array<Stored> = []
    for (const stored of m.values()) if (isLive(stored.entry, now)) out.push(stored)
    return out.sort(bySeq)
  }
  const corrupt = (operation: string, stored: Stored, detail: string) =>
    new MemoryStoreError({
      store: "memory",
      operation,
      reason: "Corrupt",
      message: `entry ${JSON.stringify(stored.entry.key)} does not decode: ${detail}`
    })
  /** A fresh copy of a stored entry, its value decoded (readers never share an object). */
  const materialize = (operation: string, stored: Stored): Either.Either<Entry, MemoryStoreError> => {
    if (stored.json !== undefined) {
      const parsed = Json.parse(stored.json)
      if (Either.isLeft(parsed)) return Either.left(corrupt(operation, stored, parsed.left.message))
      stored.decoded = parsed.right
      stored.json = undefined
    }
    return Either.right({ ...stored.entry, value: copyJson(stored.decoded) })
  }
  const put = (entry: Entry, options: PutOptions): Exit.Exit<Entry | void, MemoryStoreError> => {
    const json = valueJsonOf("memory", entry, options.valueJson)
    if (Either.isLeft(json)) return Exit.fail(json.left)
    const idempotencyKey = options.idempotencyKey
    if (idempotencyKey !== undefined) {
      const sk = scopeKey(entry.scope)
      let records = applied.get(sk)
      if (records === undefined) {
        records = new Map()
        applied.set(sk, records)
      }
      const first = records.get(idempotencyKey)
      if (first !== undefined && first.expiresAt > options.now) {
        const decoded = decodeRecord(first.record)
        return Either.isRight(decoded) ? Exit.succeed(decoded.right) : Exit.fail(
          new MemoryStoreError({
            store: "memory",
            operation: "put",
            reason: "Corrupt",
            message: `the record of idempotency key ${JSON.stringify(idempotencyKey)} does not decode: ${decoded.left}`
          })
        )
      }
      // records lapse in the order they were written (each lives one window): drop the lapsed head
      for (const [k, r] of records) {
        if (r.expiresAt > options.now) break
        records.delete(k)
      }
      records.set(idempotencyKey, {
        record: encodeRecord(entry, json.right),
        expiresAt: options.now + idempotencyWindowMillis
      })
    }
    const m = scopeFor(entry.scope)
    const meta: Entry = { ...entry, value: null }
    const existing = m.get(entry.key)
    if (existing !== undefined) {
      existing.entry = meta
      existing.json = json.right
      existing.decoded = null
      existing.seq = ++seq
    } else {
      m.set(entry.key, { entry: meta, json: json.right, decoded: null, seq: ++seq })
    }
    const maxEntries = options.maxEntries
    if (maxEntries !== undefined && m.size > maxEntries) {
      // over the limit: drop the expired entries, then the oldest live ones
      const now = options.now
      for (const [key, stored] of m) if (!isLive(stored.entry, now)) m.delete(key)
      const live = liveOf(m, now)
      for (let i = 0; i < live.length - maxEntries; i++) m.delete(live[i]!.entry.key)
    }
    return Exit.void
  }
  const get = (scope: Scope, key: string, now: number): Exit.Exit<Option.Option<Entry>, MemoryStoreError> => {
    const stored = scopeOf(scope)?.get(key)
    if (stored === undefined || !isLive(stored.entry, now)) return Exit.succeed(Option.none())
    const entry = materialize("get", stored)
    return Either.isRight(entry) ? Exit.succeed(Option.some(entry.right)) : Exit.fail(entry.left)
  }
  const query = (scope: Scope, filter: Filter, now: number): Exit.Exit<ReadonlyArray<Entry>, MemoryStoreError> => {
    const m = scopeOf(scope)
    if (m === undefined) return Exit.succeed([])
    const out: Array<Entry> = []
    for (const stored of liveOf(m, now)) {
      const e = materialize("query", stored)
      if (Either.isLeft(e)) return Exit.fail(e.left)
      if (matches(e.right, filter)) out.push(e.right)
    }
    return Exit.succeed(applyLimit(out, filter.limit))
  }
  return {
    name: "memory",
    put: (entry, options) => Effect.suspend(() => put(entry, options)),
    get: (scope, key, now) => Effect.suspend(() => get(scope, key, now)),
    query: (scope, filter, now) => Effect.suspend(() => query(scope, filter, now)),
    delete: (scope, key) => Effect.sync(() => scopeOf(scope)?.delete(key) ?? false),
    clear: (scope) =>
      Effect.sync(() => {
        const n = scopeOf(scope)?.size ?? 0
        kinds.get(scope.kind)?.get(scope.tenant)?.delete(scope.id)
        applied.delete(scopeKey(scope))
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
 * import { Memory, MemoryStore } from "@braid/memory"
 *
 * const MemoryLive = Memory.layer().pipe(Layer.provide(MemoryStore.layerInMemory))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerInMemory: Layer.Layer<MemoryStore> = Layer.effect(MemoryStore, makeInMemory)
