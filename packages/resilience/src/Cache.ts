/**
 * Cache: remembers a primitive's outputs by a key computed from its input.
 *
 * - **TTL** through Effect's `Clock`; **size cap** with least-recently-used eviction (memory and
 *   SQLite stores; for Redis use the server's `maxmemory-policy allkeys-lru`).
 * - **Single-flight**: concurrent calls with the same key run the underlying call once; the
 *   others wait for its result (per process). If the running call is interrupted, a waiting
 *   caller takes over.
 * - **Every value** is cached, `null` and `undefined` included (remote stores use a JSON envelope
 *   with an explicit `undefined` marker).
 * - **Decoded at every edge**: remote stores keep JSON written by `Json.encode` and read back
 *   through `Json.parse` (no prototype effects, bounded depth). With `schema`, values are encoded
 *   by it before they are stored and decoded by it on every hit (a `Date`, a class instance come
 *   back as such); with `errorSchema`, so are cached failures (a `Schema.TaggedError` class comes
 *   back as an instance with its `message`; its `stack` is the one of the rebuild).
 * - **Failures** are not cached unless `cacheFailures` says so. Without `errorSchema`, a failure
 *   read back from SQLite or Redis is its JSON form, a plain object and not an instance: a
 *   `Schema.TaggedError` or `Data.TaggedError` gives its `_tag` and fields (no `message` getter,
 *   no `stack`); a plain `Error` gives `{}`. The memory store keeps the failure itself.
 * - Stores: `memoryStore` (default) here; `SqliteCache.store` in @braid/sqlite (a file or
 *   `:memory:`) and `RedisCache.store` in @braid/redis. Every call to the SQLite and Redis stores
 *   is bounded by the store's `timeout` (default `Io.defaultTimeout`, 5 s).
 * - **A cache never fails a call, nor hangs it**: a store that fails or does not answer in time,
 *   an entry that does not decode, a value that cannot be encoded, all degrade to a miss (reads)
 *   or to not caching (writes), with the span event `cache.store_error` and the counter
 *   `Metrics.cacheStoreErrors`.
 *
 * Telemetry: the `cache(...)` span gets `cache.hit` (true/false) and `cache.key`, and
 * `cache.single_flight: true` when the call joined a running one; `Metrics.cacheHits` and
 * `Metrics.cacheMisses` (tag `cache`). On a hit the inner primitive does not run (no child span).
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Json, Primitive } from "@braid/core"
import { Cause, Clock, Duration, Effect, Either, Exit, Metric, Option, Schema } from "effect"
import { errorType, StoreError } from "./Errors.js"
import * as Check from "./internal/options.js"
import * as Metrics from "./Metrics.js"

const R = Attributes.Resilience

/**
 * A cached outcome.
 *
 * @category models
 * @since 0.1.0
 */
export type Entry =
  | { readonly _tag: "success"; readonly value: unknown }
  | { readonly _tag: "failure"; readonly error: unknown }

/**
 * Where entries live. A store that keeps text (SQLite, Redis) encodes entries with `encode` and
 * reads them back with `decode`; an entry that does not decode is a `StoreError` (the cache
 * makes it a miss), never a defect.
 *
 * @category models
 * @since 0.1.0
 */
export interface Store {
  readonly name: string
  readonly get: (key: string, nowMillis: number) => Effect.Effect<Option.Option<Entry>, StoreError>
  /** `expiresAt` in epoch ms, or undefined for no expiry. */
  readonly set: (
    key: string,
    entry: Entry,
    expiresAt: number | undefined,
    nowMillis: number
  ) => Effect.Effect<void, StoreError>
  readonly delete: (key: string) => Effect.Effect<void, StoreError>
  /** A synchronous read, for stores that have one (memory): lets a hit skip the effectful path. */
  readonly unsafeGet?: (key: string, nowMillis: number) => Option.Option<Entry>
}

/**
 * Encodes an entry as JSON so that `undefined` and `null` survive, under `Json.encode`'s rules:
 * a value JSON cannot carry without loss (BigInt, a cycle, NaN, too deep) is a `JsonError`
 * naming its path.
 *
 * @example
 * ```ts
 * import { Cache } from "@braid/resilience"
 *
 * const text = Cache.encode({ _tag: "success", value: undefined }) // Either.right('{"s":1,"u":1}')
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const encode = (entry: Entry): Either.Either<string, Json.JsonError> =>
  entry._tag === "success"
    ? entry.value === undefined ? Either.right(`{"s":1,"u":1}`) : Json.encode({ s: 1, v: entry.value })
    : entry.error === undefined
    ? Either.right(`{"s":0,"u":1}`)
    : Json.encode({ s: 0, e: entry.error })

const notAnEntry = (detail: string) =>
  Either.left(new Json.JsonError({ reason: "Unsupported", path: "(root)", detail }))

/**
 * Decodes `encode`'s output under `Json.parse`'s rules; anything else (a syntax error, a
 * `"__proto__"` key, a document that is not an entry) is a `JsonError`.
 *
 * @example
 * ```ts
 * import { Cache } from "@braid/resilience"
 *
 * Cache.decode('{"s":1,"v":null}') // Either.right({ _tag: "success", value: null })
 * Cache.decode("garbage") // Either.left(JsonError { reason: "Syntax" })
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const decode = (text: string): Either.Either<Entry, Json.JsonError> =>
  Either.flatMap(Json.parse(text), (o): Either.Either<Entry, Json.JsonError> => {
    if (typeof o !== "object" || o === null || Array.isArray(o)) {
      return notAnEntry("not a cache entry (expected an object)")
    }
    const r = o as { readonly s?: unknown; readonly u?: unknown; readonly v?: unknown; readonly e?: unknown }
    if (r.s === 1) {
      if (r.u === 1) return Either.right({ _tag: "success", value: undefined })
      if ("v" in r) return Either.right({ _tag: "success", value: r.v })
    } else if (r.s === 0) {
      if (r.u === 1) return Either.right({ _tag: "failure", error: undefined })
      if ("e" in r) return Either.right({ _tag: "failure", error: r.e })
    }
    return notAnEntry("not a cache entry (expected s: 1 with v or u, or s: 0 with e or u)")
  })

// ---------------------------------------------------------------------------------------------
// stores
// ---------------------------------------------------------------------------------------------

/**
 * An in-memory LRU store: at most `maxEntries` entries (an integer >= 1; default unbounded), the
 * least recently used evicted first; expired entries are dropped when read. Values are kept as
 * they are (the same objects come back).
 *
 * @example
 * ```ts
 * import { Cache } from "@braid/resilience"
 * const store = Cache.memoryStore({ maxEntries: 1000 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const memoryStore = (
  options: { readonly maxEntries?: number } = {}
): Store & { readonly size: Effect.Effect<number> } => {
  if (typeof options !== "object" || options === null) {
    Check.refuse("Cache.memoryStore", "options", "must be an object", options)
  }
  const max = options.maxEntries === undefined
    ? Number.POSITIVE_INFINITY
    : Check.positiveInteger("Cache.memoryStore", "maxEntries", options.maxEntries)
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

/**
 * For store authors: the entry in `text` (as `encode` wrote it), or a `StoreError` of `store`'s
 * `operation` (a corrupted or foreign entry, which the cache makes a miss).
 *
 * @category parsing
 * @since 0.2.0
 */
export const readEntry = (store: string, operation: string, text: unknown): Effect.Effect<Entry, StoreError> => {
  if (typeof text !== "string") {
    return Effect.fail(
      new StoreError({ store, operation, cause: new TypeError(`stored entry is a ${typeof text}, not text`) })
    )
  }
  const entry = decode(text)
  return Either.isRight(entry)
    ? Effect.succeed(entry.right)
    : Effect.fail(new StoreError({ store, operation, cause: entry.left }))
}

/**
 * For store authors: the text of `entry`, or a `StoreError` naming what JSON cannot carry. A value
 * with an own `"__proto__"` key is refused here too: `decode` would refuse it, so it could never
 * be read.
 *
 * @category encoding
 * @since 0.2.0
 */
export const writeEntry = (store: string, operation: string, entry: Entry): Effect.Effect<string, StoreError> => {
  const text = Either.flatMap(
    encode(entry),
    (t) => t.includes("__proto__") ? Either.map(decode(t), () => t) : Either.right(t)
  )
  return Either.isRight(text)
    ? Effect.succeed(text.right)
    : Effect.fail(new StoreError({ store, operation, cause: text.left }))
}

// ---------------------------------------------------------------------------------------------
// the cache
// ---------------------------------------------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export interface CacheOptions {
  /** The cache's name in spans and metrics. */
  readonly name: string
  /** How long an entry lives: a finite duration > 0. Default: forever. */
  readonly ttl?: Duration.DurationInput
  /** Default: `memoryStore({ maxEntries })`. */
  readonly store?: Store
  /** The size cap of the default memory store (an integer >= 1; default 1000). Not with `store`. */
  readonly maxEntries?: number
  /** Cache typed failures too (all of them, or those the predicate accepts). Default false. */
  readonly cacheFailures?: boolean | ((error: unknown) => boolean)
  /**
   * The Schema of the values: each value is encoded by it before it is stored and decoded by it
   * on every hit (in every store). A value it cannot encode is not cached; an entry it cannot
   * decode is a miss. Without it, the memory store keeps values as they are and the other stores
   * keep their JSON form.
   */
  readonly schema?: Schema.Schema.AnyNoContext
  /**
   * The Schema of the cached failures (a `Schema.TaggedError` class, or a union of them): the
   * failures come back as instances. Without it, see the module notes for what comes back.
   */
  readonly errorSchema?: Schema.Schema.AnyNoContext
}

/**
 * A cache: a store plus single-flight bookkeeping. Share one between primitives to share entries.
 *
 * @category models
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

const isStore = (s: unknown): s is Store =>
  typeof s === "object" && s !== null && typeof (s as Store).get === "function" &&
  typeof (s as Store).set === "function" &&
  typeof (s as Store).delete === "function"

const checkOptions = (owner: string, options: Partial<CacheOptions>) => {
  if (options.store !== undefined && !isStore(options.store)) {
    Check.refuse(owner, "store", "must be a Cache.Store", options.store)
  }
  if (options.store !== undefined && options.maxEntries !== undefined) {
    Check.refuse(
      owner,
      "maxEntries",
      "sizes the default memory store; give the size cap to the store instead",
      options.maxEntries
    )
  }
  const maxEntries = options.maxEntries === undefined
    ? 1000
    : Check.positiveInteger(owner, "maxEntries", options.maxEntries)
  const ttl = options.ttl === undefined ? undefined : Check.positiveDuration(owner, "ttl", options.ttl)
  const cacheFailures = options.cacheFailures ?? false
  if (typeof cacheFailures !== "boolean" && typeof cacheFailures !== "function") {
    Check.refuse(owner, "cacheFailures", "must be a boolean or a predicate", cacheFailures)
  }
  if (options.schema !== undefined && !Schema.isSchema(options.schema)) {
    Check.refuse(owner, "schema", "must be a Schema", options.schema)
  }
  if (options.errorSchema !== undefined && !Schema.isSchema(options.errorSchema)) {
    Check.refuse(owner, "errorSchema", "must be a Schema", options.errorSchema)
  }
  return { maxEntries, ttl, cacheFailures }
}

/** A store operation a call goes on without: the span event `cache.store_error` and a counter. */
const degradedEvent = (cache: string, operation: string, cause: unknown): Effect.Effect<void> =>
  Effect.zipRight(
    Instrumentation.event(R.cacheStoreError, {
      [R.cacheName]: cache,
      [R.cacheOperation]: operation,
      [Attributes.General.errorType]: errorType(cause)
    }),
    Metric.increment(
      Metric.tagged(
        Metric.tagged(Metrics.cacheStoreErrors, Attributes.Resilience.cacheName, cache),
        Attributes.Resilience.cacheOperation,
        operation
      )
    )
  )

type Codec = (u: unknown) => Either.Either<unknown, unknown>

/**
 * Creates a cache. Its options are checked here (an `InvalidOption` naming the option).
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
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: CacheOptions): Cache => {
  if (typeof options !== "object" || options === null) {
    Check.refuse("Cache.make", "options", "must be an object", options)
  }
  const name = Check.nonEmptyString("Cache.make", "name", options.name)
  const checked = checkOptions(name, options)
  const store = options.store ?? memoryStore({ maxEntries: checked.maxEntries })
  const ttl = checked.ttl
  const cacheFailures = checked.cacheFailures
  const shouldCacheFailure = typeof cacheFailures === "function" ? cacheFailures : () => cacheFailures
  const hits = Metric.tagged(Metrics.cacheHits, Attributes.Resilience.cacheName, name)
  const misses = Metric.tagged(Metrics.cacheMisses, Attributes.Resilience.cacheName, name)
  const codec = (schema: Schema.Schema.AnyNoContext | undefined, direction: "encode" | "decode"): Codec | undefined =>
    schema === undefined
      ? undefined
      : direction === "encode"
      ? Schema.encodeUnknownEither(schema)
      : Schema.decodeUnknownEither(schema)
  const encodeValue = codec(options.schema, "encode")
  const decodeValue = codec(options.schema, "decode")
  const encodeError = codec(options.errorSchema, "encode")
  const decodeError = codec(options.errorSchema, "decode")
  /** Single-flight: the calls running now, by key, with the callers waiting for them. */
  const inflight = new Map<string, InFlight>()

  const degraded = (operation: string, cause: unknown) => degradedEvent(name, operation, cause)
  const storeError = (e: StoreError): Effect.Effect<void> => degraded(e.operation.replace(/^cache\./, ""), e.cause)

  /** The stored form of an outcome, through the schemas; `undefined` when it cannot be encoded. */
  const toEntry = (exit: Exit.Exit<unknown, unknown>): Either.Either<Entry, unknown> | undefined => {
    if (Exit.isSuccess(exit)) {
      return encodeValue === undefined
        ? Either.right({ _tag: "success", value: exit.value })
        : Either.map(encodeValue(exit.value), (value): Entry => ({ _tag: "success", value }))
    }
    const failure = Cause.failureOption(exit.cause)
    if (Option.isNone(failure) || !shouldCacheFailure(failure.value)) return undefined
    return encodeError === undefined
      ? Either.right({ _tag: "failure", error: failure.value })
      : Either.map(encodeError(failure.value), (error): Entry => ({ _tag: "failure", error }))
  }

  /** The outcome of a stored entry, through the schemas; a `Left` when it does not decode. */
  const fromEntry = (entry: Entry): Either.Either<Exit.Exit<unknown, unknown>, unknown> =>
    entry._tag === "success"
      ? decodeValue === undefined
        ? Either.right(Exit.succeed(entry.value))
        : Either.map(decodeValue(entry.value), Exit.succeed)
      : decodeError === undefined
      ? Either.right(Exit.fail(entry.error))
      : Either.map(decodeError(entry.error), Exit.fail)

  const join = <A, E>(running: InFlight): Effect.Effect<Exit.Exit<A, E>> =>
    Effect.async<Exit.Exit<A, E>>((resume) => {
      const waiter = (exit: Exit.Exit<unknown, unknown>) => resume(Effect.succeed(exit as Exit.Exit<A, E>))
      running.waiters.push(waiter)
      return Effect.sync(() => {
        const i = running.waiters.indexOf(waiter)
        if (i >= 0) running.waiters.splice(i, 1)
      })
    })

  const hit = <A, E>(key: string, outcome: Exit.Exit<unknown, unknown>): Effect.Effect<A, E> =>
    Effect.zipRight(
      Effect.zipRight(Instrumentation.annotate({ [R.cacheKey]: key, [R.cacheHit]: true }), Metric.increment(hits)),
      outcome as Exit.Exit<A, E>
    )

  const unsafeGet = store.unsafeGet
  const plain = decodeValue === undefined && decodeError === undefined
  const get = <A, E, R>(key: string, compute: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    if (typeof key !== "string") {
      return Effect.zipRight(degraded("key", new TypeError(`cache key is a ${typeof key}, not a string`)), compute)
    }
    return unsafeGet === undefined ? getSlow(key, compute) : Effect.clockWith((clock) => {
      const found = unsafeGet(key, clock.unsafeCurrentTimeMillis())
      if (Option.isNone(found)) return getSlow(key, compute)
      const entry = found.value
      // without schemas nothing can fail to decode: no Either on the hot path
      if (plain) return hit<A, E>(key, entry._tag === "success" ? Exit.succeed(entry.value) : Exit.fail(entry.error))
      const outcome = fromEntry(entry)
      // an entry that does not decode: the slow path reports it and computes
      return Either.isRight(outcome) ? hit<A, E>(key, outcome.right) : getSlow(key, compute)
    })
  }

  const getSlow = <A, E, R>(key: string, compute: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend((): Effect.Effect<A, E, R> => {
      const running = inflight.get(key)
      if (running !== undefined) {
        return Effect.zipRight(
          Instrumentation.annotate({ [R.cacheKey]: key, [R.cacheHit]: true, [R.cacheSingleFlight]: true }),
          Effect.flatMap(
            join<A, E>(running),
            (exit): Effect.Effect<A, E, R> =>
              Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? get(key, compute) : exit
          )
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
        Effect.zipRight(Instrumentation.annotate({ [R.cacheKey]: key, [R.cacheHit]: false }), Metric.increment(misses)),
        Effect.onExit(compute, (exit) => {
          const entry = toEntry(exit)
          if (entry === undefined) return Effect.void
          return Either.isRight(entry) ? save(key, entry.right) : degraded("encode", entry.left)
        })
      )
      const lookup = Effect.clockWith((clock) =>
        Effect.flatMap(
          Effect.catchAll(store.get(key, clock.unsafeCurrentTimeMillis()), (e) =>
            Effect.as(storeError(e), Option.none<Entry>())),
          (found): Effect.Effect<A, E, R> => {
            if (Option.isNone(found)) {
              return miss
            }
            const outcome = fromEntry(found.value)
            return Either.isRight(outcome)
              ? hit<A, E>(key, outcome.right)
              : Effect.zipRight(degraded("decode", outcome.left), miss)
          }
        )
      )
      return Effect.onExit(lookup, done)
    })

  const save = (key: string, entry: Entry): Effect.Effect<void> =>
    Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => Effect.catchAll(store.set(key, entry, ttl === undefined ? undefined : now + ttl, now), storeError)
    )

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
 * @category combinators
 * @since 0.1.0
 */
export const effect = <A, E, R>(self: Effect.Effect<A, E, R>, key: string, cache: Cache): Effect.Effect<A, E, R> =>
  cache.get(key, self)

/**
 * @category models
 * @since 0.1.0
 */
export interface PolicyOptions<In> extends Partial<CacheOptions> {
  /**
   * The cache key of an input. Default: its `Json.encode` text (`"undefined"` for `undefined`);
   * an input without one (a BigInt, a cycle) runs uncached, with the event `cache.store_error`
   * (operation `key`).
   */
  readonly key?: (input: In) => string
  /** Use this cache (and its options) instead of creating one. */
  readonly cache?: Cache
}

const defaultKey = (input: unknown): Either.Either<string, Json.JsonError> =>
  input === undefined ? Either.right("undefined") : Json.encode(input)

/**
 * The cache policy for primitives: `step.pipe(Cache.policy({ key: (q) => q.id, ttl: "10 minutes" }))`.
 * Its options are checked here (an `InvalidOption` naming the option).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Cache } from "@braid/resilience"
 *
 * const embed = Primitive.make("embed", (text: string) => Effect.succeed([text.length, 0.5]))
 * const cached = embed.pipe(Cache.policy({ key: (text) => text, ttl: "1 hour", maxEntries: 10_000, schema: Schema.Array(Schema.Number) }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const policy =
  <In>(options: PolicyOptions<NoInfer<In>> = {}) =>
  <Out, E, R>(self: P.Primitive<In, Out, E, R>): P.Primitive<In, Out, E, R> => {
    if (typeof options !== "object" || options === null) {
      Check.refuse("Cache.policy", "options", "must be an object", options)
    }
    const name = options.name === undefined
      ? `cache(${self.name})`
      : Check.nonEmptyString("Cache.policy", "name", options.name)
    if (options.key !== undefined && typeof options.key !== "function") {
      Check.refuse(name, "key", "must be a function of the input", options.key)
    }
    if (
      options.cache !== undefined &&
      (typeof options.cache !== "object" || options.cache === null || typeof options.cache.get !== "function")
    ) {
      Check.refuse(name, "cache", "must be a Cache (from Cache.make)", options.cache)
    }
    const cache = options.cache ?? make({ ...options, name })
    const userKey = options.key
    const key = (input: In): Either.Either<string, unknown> => {
      if (userKey === undefined) return defaultKey(input)
      const k = userKey(input)
      return typeof k === "string"
        ? Either.right(k)
        : Either.left(new TypeError(`the key function returned a ${typeof k}, not a string`))
    }
    return Primitive.wrap(
      self,
      { kind: "cache", name, meta: { cache: cache.name, store: cache.store.name } },
      (invoke) => (input: In) => {
        const k = key(input)
        return Either.isRight(k)
          ? cache.get(k.right, invoke(input))
          : Effect.zipRight(degradedEvent(cache.name, "key", k.left), invoke(input))
      }
    )
  }
