/**
 * The Redis store of `Cache` (ioredis): entries shared by every process using the same Redis and
 * prefix, TTL by Redis' own `PX`, no per-cache size cap (configure Redis with `maxmemory` and
 * `allkeys-lru`). Entries are `Cache.encode` text read back through `Cache.decode`; every call is
 * bounded by the store's `timeout` (default `Io.defaultTimeout`, 5 s).
 *
 * @since 0.2.0
 */
import { Cache } from "@braid/resilience"
import type { StoreError } from "@braid/resilience"
import type { Duration, Redacted, Scope } from "effect"
import { Effect, Option } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { Redis } from "ioredis"
import * as RedisClient from "./internal/redis.js"

/**
 * Options of the Redis store.
 *
 * @category models
 * @since 0.2.0
 */
export interface Options {
  /** Prefix of every key (default `"braid:cache:"`). */
  readonly prefix?: string
  /** The bound of one Redis call (default `Io.defaultTimeout`, 5 s). */
  readonly timeout?: Duration.DurationInput
}

const redisOptions = (owner: string, options: Options) => RedisClient.storeOptions(owner, options, "braid:cache:")

const makeRedisStore = (client: Redis, prefix: string, timeout: Duration.Duration | undefined): Cache.Store => ({
  name: "redis",
  get: (key) =>
    Effect.flatMap(
      RedisClient.attempt("cache.get", () => client.get(prefix + key), timeout),
      (text) =>
        text === null
          ? Effect.succeed(Option.none())
          : Effect.map(Cache.readEntry("redis", "cache.get", text), Option.some)
    ),
  set: (key, entry, expiresAt, now) =>
    Effect.flatMap(
      Cache.writeEntry("redis", "cache.set", entry),
      (text) =>
        Effect.asVoid(RedisClient.attempt("cache.set", () =>
          expiresAt === undefined
            ? client.set(prefix + key, text)
            : client.set(prefix + key, text, "PX", Math.max(1, Math.ceil(expiresAt - now))), timeout))
    ),
  delete: (key) => Effect.asVoid(RedisClient.attempt("cache.delete", () => client.del(prefix + key), timeout))
})

/**
 * A store in Redis, shared by every process using the same prefix. TTL is Redis' own (`PX`).
 * There is no per-cache size cap: configure Redis with `maxmemory` and `allkeys-lru`. Every call
 * is bounded by `timeout`; an entry that is not a cache entry (written by something else,
 * truncated) is a `StoreError`, which the cache turns into a miss. The client is the caller's:
 * listen to its `'error'` events (ioredis logs them otherwise).
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis"
 * import { RedisCache } from "@braid/redis"
 *
 * const store = RedisCache.store(new Redis("redis://127.0.0.1:6379", { lazyConnect: true }), { prefix: "myapp:cache:", timeout: "1 second" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const store = (client: Redis, options: Options = {}): Cache.Store => {
  const { prefix, timeout } = redisOptions("RedisCache.store", options)
  return makeRedisStore(client, prefix, timeout)
}

/**
 * A Redis store connected to `url` (or `REDIS_URL` via `Config`; default
 * `redis://127.0.0.1:6379`) for the life of the scope. The connection and every call are
 * bounded by `timeout` (default `Io.defaultTimeout`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RedisCache } from "@braid/redis"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const store = yield* RedisCache.storeFromConfig({ prefix: "myapp:cache:" })
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const storeFromConfig = (
  options: Options & { readonly url?: string | Redacted.Redacted<string> } = {}
): Effect.Effect<Cache.Store, StoreError | ConfigError, Scope.Scope> => {
  const checked = redisOptions("RedisCache.storeFromConfig", options)
  return Effect.map(
    RedisClient.acquire(options.url, checked.timeout),
    (client) => makeRedisStore(client, checked.prefix, checked.timeout)
  )
}
