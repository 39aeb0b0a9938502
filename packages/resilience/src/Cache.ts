/**
 * Cache: remembers a primitive's outputs by a key computed from its input.
 *
 * - **TTL** through Effect's `Clock`; **size cap** with least-recently-used eviction (memory and
 *   SQLite stores; for Redis use the server's `maxmemory-policy allkeys-lru`).
 * - **Single-flight**: concurrent calls with the same key run the underlying call once; the
 *   others wait for its result (per process). If the running call is interrupted, a waiting
 *   caller takes over.
 * - **Every value** is cached, `null` and `undefined` included (remote stores use a JSON envelope
 *   with an explicit `undefined` marker; values must be JSON-serialisable there).
 * - **Failures** are not cached unless `cacheFailures` says so.
 * - Stores: `memoryStore` (default), `sqliteStore` (@effect/sql-sqlite-node, a file or
 *   `:memory:`), `redisStore` (ioredis). A store that fails degrades to a miss (reads) or to not
 *   caching (writes), with the event `cache.store_error`: a cache never fails the call.
 *
 * Telemetry: the `cache(...)` span gets `cache.hit` (true/false) and `cache.key`, and
 * `cache.single_flight: true` when the call joined a running one; `Metrics.cacheHits` and
 * `Metrics.cacheMisses` (tag `cache`). On a hit the inner primitive does not run (no child span).
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Instrumentation, Primitive } from "@braid/core"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { Scope } from "effect"
import { Cause, Clock, Duration, Effect, Exit, Metric, Option } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { Redis } from "ioredis"
import { errorType, StoreError } from "./Errors.js"
import * as RedisClient from "./internal/redis.js"
import * as Metrics from "./Metrics.js"

/**
 * A cached outcome.
 *
 * @since 0.1.0
 */
export type Entry =
  | { readonly _tag: "success"; readonly value: unknown }
  | { readonly _tag: "failure"; readonly error: unknown }

/**
 * Where entries live.
 *
 * @since 0.1.0
 */
export interface Store {
  readonly name: string
  readonly get: (key: string, nowMillis: number) => Effect.Effect<Option.Option<Entry>, StoreError>
  /** `expiresAt` in epoch ms, or undefined for no expiry. */
  readonly set: (key: string, entry: Entry, expiresAt: number | undefined, nowMillis: number) => Effect.Effect<void, StoreError>
  readonly delete: (key: string) => Effect.Effect<void, StoreError>
  /** A synchronous read, for stores that have one (memory): lets a hit skip the effectful path. */
  readonly unsafeGet?: (key: string, nowMillis: number) => Option.Option<Entry>
}

/**
 * Encodes an entry as JSON so that `undefined` and `null` survive.
 *
 * @example
 * ```ts
 * import { Cache } from "@braid/resilience"
 *
 * const text = Cache.encode({ _tag: "success", value: undefined }) // '{"s":1,"u":1}'
 * Cache.decode(text) // { _tag: "success", value: undefined }
 * ```
 *
 * @since 0.1.0
 */
export const encode = (entry: Entry): string =>
  entry._tag === "success"
    ? entry.value === undefined ? `{"s":1,"u":1}` : JSON.stringify({ s: 1, v: entry.value })
    : JSON.stringify({ s: 0, e: entry.error === undefined ? null : entry.error })

/**
 * Decodes `encode`'s output.
 *
 * @example
 * ```ts
 * import { Cache } from "@braid/resilience"
 * Cache.decode('{"s":1,"v":null}') // { _tag: "success", value: null }
 * ```
 *
 * @since 0.1.0
 */
export const decode = (text: string): Entry => {
  const o = JSON.parse(text) as { s: 0 | 1; v?: unknown; u?: 1; e?: unknown }
  if (o.s === 1) return { _tag: "success", value: o.u === 1 ? undefined : o.v }
  return { _tag: "failure", error: o.e }
}

// ---------------------------------------------------------------------------------------------
// stores
// ---------------------------------------------------------------------------------------------

/**
 * An in-memory LRU store: at most `maxEntries` entries (default unbounded), the least recently
 * used evicted first; expired entries are dropped when read. Values are kept as they are.
 *
 * @example
 * ```ts
 * import { Cache } from "@braid/resilience"
 * const store = Cache.memoryStore({ maxEntries: 1000 })
 * ```
 *
 * @since 0.1.0
 */
export const memoryStore = (options: { readonly maxEntries?: number } = {}): Store & { readonly size: Effect.Effect<number> } => {
  const max = options.maxEntries ?? Number.POSITIVE_INFINITY
  if (!(max >= 1)) throw new RangeError("memoryStore: maxEntries must be >= 1")
  const map = new Map<string, { readonly entry: Entry; readonly expiresAt: number | undefined }>()
  const unsafeGet = (key: string, now: number): Option.Option<Entry> => {
    const found = map.get(key)
    if (found === undefined) return Option.none()
    map.delete(key)
    if (found.expiresAt !== undefined && found.expiresAt <= now) return Option.none()
    map.set(key, found) // most recently used goes last
    return Option.some(found.entry)
  }
  return {
    name: "memory",
    size: Effect.sync(() => map.size),
    unsafeGet,
    get: (key, now) => Effect.sync(() => unsafeGet(key, now)),
    set: (key, entry, expiresAt) =>
      Effect.sync(() => {
        map.delete(key)
        map.set(key, { entry, expiresAt })
        while (map.size > max) map.delete(map.keys().next().value!)
      }),
    delete: (key) => Effect.sync(() => void map.delete(key))
  }
}

const sqlFailure = (operation: string) => (cause: SqlError) => new StoreError({ store: "sqlite", operation, cause })

/**
 * A store in SQLite (or any `@effect/sql` client with SQLite syntax): a table
 * (default `braid_cache`) created if missing, TTL by an `expires_at` column, and with
 * `maxEntries` least-recently-used eviction by a `last_used` column.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { Cache } from "@braid/resilience"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* Cache.sqliteStore({ maxEntries: 10_000 })
 *   // Cache.policy({ key: ..., store })
 * }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" })))
 * ```
 *
 * @since 0.1.0
 */
export const sqliteStore = (
  options: { readonly table?: string; readonly maxEntries?: number } = {}
): Effect.Effect<Store, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const table = sql(options.table ?? "braid_cache")
    const max = options.maxEntries
    yield* sql`CREATE TABLE IF NOT EXISTS ${table} (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL,
      expires_at INTEGER,
      last_used INTEGER NOT NULL
    )`
    let seq = 0
    const stamp = (now: number) => now * 1000 + (seq++ % 1000)
    return {
      name: "sqlite",
      get: (key, now) =>
        Effect.gen(function*() {
          const rows = yield* sql<{ value: string; expires_at: number | null }>`SELECT value, expires_at FROM ${table} WHERE key = ${key}`
          const row = rows[0]
          if (row === undefined) return Option.none<Entry>()
          if (row.expires_at !== null && row.expires_at <= now) {
            yield* sql`DELETE FROM ${table} WHERE key = ${key}`
            return Option.none<Entry>()
          }
          if (max !== undefined) yield* sql`UPDATE ${table} SET last_used = ${stamp(now)} WHERE key = ${key}`
          return Option.some(decode(row.value))
        }).pipe(Effect.mapError(sqlFailure("get"))),
      set: (key, entry, expiresAt, now) =>
        Effect.gen(function*() {
          yield* sql`INSERT OR REPLACE INTO ${table} (key, value, expires_at, last_used)
            VALUES (${key}, ${encode(entry)}, ${expiresAt ?? null}, ${stamp(now)})`
          if (max !== undefined) {
            yield* sql`DELETE FROM ${table} WHERE key NOT IN (SELECT key FROM ${table} ORDER BY last_used DESC LIMIT ${max})`
          }
        }).pipe(Effect.mapError(sqlFailure("set"))),
      delete: (key) => Effect.mapError(Effect.asVoid(sql`DELETE FROM ${table} WHERE key = ${key}`), sqlFailure("delete"))
    } satisfies Store
  })

/**
 * A store in Redis, shared by every process using the same prefix. TTL is Redis' own (`PX`).
 * There is no per-cache size cap: configure Redis with `maxmemory` and `allkeys-lru`.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis"
 * import { Cache } from "@braid/resilience"
 *
 * const store = Cache.redisStore(new Redis("redis://127.0.0.1:6379", { lazyConnect: true }), { prefix: "myapp:cache:" })
 * ```
 *
 * @since 0.1.0
 */
export const redisStore = (client: Redis, options: { readonly prefix?: string } = {}): Store => {
  const prefix = options.prefix ?? "braid:cache:"
  return {
    name: "redis",
    get: (key) =>
      Effect.map(RedisClient.attempt("cache.get", () => client.get(prefix + key)), (text) =>
        text === null ? Option.none() : Option.some(decode(text))),
    set: (key, entry, expiresAt, now) =>
      Effect.asVoid(RedisClient.attempt("cache.set", () =>
        expiresAt === undefined
          ? client.set(prefix + key, encode(entry))
          : client.set(prefix + key, encode(entry), "PX", Math.max(1, Math.ceil(expiresAt - now))))),
    delete: (key) => Effect.asVoid(RedisClient.attempt("cache.delete", () => client.del(prefix + key)))
  }
}

/**
 * A Redis store connected to `REDIS_URL` (via `Config`) for the life of the scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cache } from "@braid/resilience"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const store = yield* Cache.redisStoreFromConfig({ prefix: "myapp:cache:" })
 * }))
 * ```
 *
 * @since 0.1.0
 */
export const redisStoreFromConfig = (
  options: { readonly prefix?: string; readonly url?: string } = {}
): Effect.Effect<Store, StoreError | ConfigError, Scope.Scope> =>
  Effect.map(RedisClient.acquire(options.url), (client) => redisStore(client, options.prefix === undefined ? {} : { prefix: options.prefix }))

// ---------------------------------------------------------------------------------------------
// the cache
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 */
export interface CacheOptions {
  /** The cache's name in spans and metrics. */
  readonly name: string
  /** How long an entry lives. Default: forever. */
  readonly ttl?: Duration.DurationInput
  /** Default: `memoryStore({ maxEntries })`. */
  readonly store?: Store
  /** The size cap of the default memory store. Default 1000. */
  readonly maxEntries?: number
  /** Cache typed failures too (all of them, or those the predicate accepts). Default false. */
  readonly cacheFailures?: boolean | ((error: unknown) => boolean)
}

/**
 * A cache: a store plus single-flight bookkeeping. Share one between primitives to share entries.
 *
 * @since 0.1.0
 */
export interface Cache {
  readonly name: string
  readonly store: Store
  /** The cached outcome for `key`, or the outcome of `compute` (run once for concurrent callers). */
  readonly get: <A, E, R>(key: string, compute: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly invalidate: (key: string) => Effect.Effect<void>
}

interface InFlight {
  readonly waiters: Array<(exit: Exit.Exit<unknown, unknown>) => void>
}

/**
 * Creates a cache.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cache } from "@braid/resilience"
 *
 * const profiles = Cache.make({ name: "profiles", ttl: "5 minutes", maxEntries: 500 })
 * const load = (id: string) => profiles.get(id, Effect.succeed({ id, name: "Ada" }))
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: CacheOptions): Cache => {
  const name = options.name
  const store = options.store ?? memoryStore({ maxEntries: options.maxEntries ?? 1000 })
  const ttl = options.ttl === undefined ? undefined : Duration.toMillis(options.ttl)
  const cacheFailures = options.cacheFailures ?? false
  const shouldCacheFailure = typeof cacheFailures === "function" ? cacheFailures : () => cacheFailures
  const hits = Metric.tagged(Metrics.cacheHits, "cache", name)
  const misses = Metric.tagged(Metrics.cacheMisses, "cache", name)
  /** Single-flight: the calls running now, by key, with the callers waiting for them. */
  const inflight = new Map<string, InFlight>()

  const storeError = (e: StoreError) => Instrumentation.event("cache.store_error", { cache: name, operation: e.operation, "error.type": errorType(e.cause) })

  const fromEntry = <A, E>(entry: Entry): Effect.Effect<A, E> =>
    entry._tag === "success" ? Effect.succeed(entry.value as A) : Effect.fail(entry.error as E)

  const join = <A, E>(running: InFlight): Effect.Effect<Exit.Exit<A, E>> =>
    Effect.async<Exit.Exit<A, E>>((resume) => {
      const waiter = (exit: Exit.Exit<unknown, unknown>) => resume(Effect.succeed(exit as Exit.Exit<A, E>))
      running.waiters.push(waiter)
      return Effect.sync(() => {
        const i = running.waiters.indexOf(waiter)
        if (i >= 0) running.waiters.splice(i, 1)
      })
    })

  const hit = <A, E>(key: string, entry: Entry): Effect.Effect<A, E> =>
    Effect.zipRight(
      Effect.zipRight(Instrumentation.annotate({ "cache.key": key, "cache.hit": true }), Metric.increment(hits)),
      fromEntry<A, E>(entry)
    )

  const unsafeGet = store.unsafeGet
  const get = <A, E, R>(key: string, compute: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    unsafeGet === undefined ? getSlow(key, compute) : Effect.clockWith((clock) => {
      const found = unsafeGet(key, clock.unsafeCurrentTimeMillis())
      return Option.isSome(found) ? hit<A, E>(key, found.value) : getSlow(key, compute)
    })

  const getSlow = <A, E, R>(key: string, compute: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend((): Effect.Effect<A, E, R> => {
      const running = inflight.get(key)
      if (running !== undefined) {
        return Effect.zipRight(
          Instrumentation.annotate({ "cache.key": key, "cache.hit": true, "cache.single_flight": true }),
          Effect.flatMap(join<A, E>(running), (exit): Effect.Effect<A, E, R> =>
            Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? get(key, compute) : exit)
        )
      }
      const mine: InFlight = { waiters: [] }
      inflight.set(key, mine)
      const done = (exit: Exit.Exit<A, E>): Effect.Effect<void> =>
        Effect.sync(() => {
          if (inflight.get(key) === mine) inflight.delete(key)
          for (const w of mine.waiters) w(exit)
          mine.waiters.length = 0
        })
      const miss = Effect.zipRight(
        Effect.zipRight(Instrumentation.annotate({ "cache.key": key, "cache.hit": false }), Metric.increment(misses)),
        Effect.onExit(compute, (exit) => {
          if (Exit.isSuccess(exit)) return save(key, { _tag: "success", value: exit.value })
          const failure = Cause.failureOption(exit.cause)
          if (Option.isSome(failure) && shouldCacheFailure(failure.value)) return save(key, { _tag: "failure", error: failure.value })
          return Effect.void
        })
      )
      const lookup = Effect.clockWith((clock) =>
        Effect.flatMap(
          Effect.catchAll(store.get(key, clock.unsafeCurrentTimeMillis()), (e) => Effect.as(storeError(e), Option.none<Entry>())),
          (found): Effect.Effect<A, E, R> => Option.isSome(found) ? hit<A, E>(key, found.value) : miss
        ))
      return Effect.onExit(lookup, done)
    })

  const save = (key: string, entry: Entry): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.catchAll(store.set(key, entry, ttl === undefined ? undefined : now + ttl, now), storeError))

  return {
    name,
    store,
    get,
    invalidate: (key) => Effect.catchAll(store.delete(key), storeError)
  }
}

/**
 * Caches any Effect under `key` in `cache` (same as `cache.get`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cache } from "@braid/resilience"
 *
 * const cache = Cache.make({ name: "weather" })
 * const today = Cache.effect(Effect.succeed("sunny"), "paris", cache)
 * ```
 *
 * @since 0.1.0
 */
export const effect = <A, E, R>(self: Effect.Effect<A, E, R>, key: string, cache: Cache): Effect.Effect<A, E, R> => cache.get(key, self)

/**
 * @since 0.1.0
 */
export interface PolicyOptions<In> extends Partial<CacheOptions> {
  /** The cache key of an input. Default `JSON.stringify(input)`. */
  readonly key?: (input: In) => string
  /** Use this cache (and its options) instead of creating one. */
  readonly cache?: Cache
}

/**
 * The cache policy for primitives: `step.pipe(Cache.policy({ key: (q) => q.id, ttl: "10 minutes" }))`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Cache } from "@braid/resilience"
 *
 * const embed = Primitive.make("embed", (text: string) => Effect.succeed([text.length, 0.5]))
 * const cached = embed.pipe(Cache.policy({ key: (text) => text, ttl: "1 hour", maxEntries: 10_000 }))
 * ```
 *
 * @since 0.1.0
 */
export const policy = <In>(options: PolicyOptions<NoInfer<In>> = {}) =>
<Out, E, R>(self: P.Primitive<In, Out, E, R>): P.Primitive<In, Out, E, R> => {
  const name = options.name ?? `cache(${self.name})`
  const cache = options.cache ?? make({ ...options, name })
  const key = options.key ?? ((input: In) => JSON.stringify(input) ?? "undefined")
  return Primitive.wrap(
    self,
    { kind: "cache", name, meta: { cache: cache.name, store: cache.store.name } },
    (invoke) => (input: In) => cache.get(key(input), invoke(input))
  )
}
