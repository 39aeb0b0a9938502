/**
 * The Redis store of `CircuitBreaker` (ioredis): a breaker's state shared by every process that
 * uses the same Redis and prefix, so that when a dependency is down every runner, and a restarted
 * process, knows it at once. One hash per breaker; the compare-and-set on its generation is one
 * Lua script (atomic), which keeps the half-open probe single across processes. Every call is
 * bounded by the store's `timeout` (default `Io.defaultTimeout`, 5 s): a Redis that does not
 * answer fails the call with `StoreError` (cause `StoreTimeout`), and the breaker uses its
 * process's own state for that call.
 *
 * @since 0.3.0
 */
import { CircuitBreaker, StoreError } from "@braid/resilience"
import type { Duration, Redacted, Scope } from "effect"
import { Effect } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { Redis } from "ioredis"
import * as RedisClient from "./internal/redis.js"

const compareAndSet = `
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
if gen ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'gen', ARGV[3], 'until', ARGV[4], 'reopens', ARGV[5], 'successes', ARGV[6])
return 1
`

/**
 * Options of the Redis store.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** Prefix of every key (default `"braid:breaker:"`). */
  readonly prefix?: string
  /** The bound of one Redis call (default `Io.defaultTimeout`, 5 s); past it the call fails with `StoreError`. */
  readonly timeout?: Duration.DurationInput
}

const redisOptions = (owner: string, options: Options) => RedisClient.storeOptions(owner, options, "braid:breaker:")

/**
 * A breaker store in Redis on the caller's client (listen to its `'error'` events; a failed
 * command always reaches the call as a `StoreError`).
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis"
 * import { CircuitBreaker } from "@braid/resilience"
 * import { RedisBreakerStore } from "@braid/redis"
 *
 * const store = RedisBreakerStore.store(new Redis("redis://127.0.0.1:6379", { lazyConnect: true }))
 * const breaker = CircuitBreaker.unsafeMake({ name: "anthropic", store })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const store = (client: Redis, options: Options = {}): CircuitBreaker.Store => {
  const { prefix, timeout } = redisOptions("RedisBreakerStore.store", options)
  return makeRedisStore(client, prefix, timeout)
}

const makeRedisStore = (
  client: Redis,
  prefix: string,
  timeout: Duration.Duration | undefined
): CircuitBreaker.Store => ({
  name: "redis",
  get: (breaker) =>
    Effect.flatMap(
      RedisClient.attempt("breaker.get", () => client.hgetall(prefix + breaker), timeout),
      (hash) =>
        hash === null || typeof hash !== "object" || Object.keys(hash).length === 0
          ? Effect.succeed(CircuitBreaker.initialState)
          : CircuitBreaker.decodeState("redis", hash)
    ),
  compareAndSet: (breaker, expected, next) =>
    Effect.flatMap(
      RedisClient.attempt(
        "breaker.compareAndSet",
        () =>
          client.eval(
            compareAndSet,
            1,
            prefix + breaker,
            expected,
            next.state,
            next.gen,
            Math.ceil(next.until),
            next.reopens,
            next.successes
          ),
        timeout
      ),
      (reply) =>
        reply === 0 || reply === 1
          ? Effect.succeed(reply === 1)
          : Effect.fail(
            new StoreError({
              store: "redis",
              operation: "breaker.compareAndSet",
              cause: new TypeError("unexpected reply from the compare-and-set script")
            })
          )
    )
})

/**
 * A breaker store in Redis connected to `url` (or `REDIS_URL` via `Config`; default
 * `redis://127.0.0.1:6379`) for the life of the scope. The connection and every call are
 * bounded by `timeout` (default `Io.defaultTimeout`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "@braid/resilience"
 * import { RedisBreakerStore } from "@braid/redis"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const store = yield* RedisBreakerStore.storeFromConfig({ prefix: "myapp:breaker:" })
 *   const breaker = CircuitBreaker.unsafeMake({ name: "anthropic", store })
 *   return yield* breaker.execute(Effect.succeed("answer"))
 * }))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const storeFromConfig = (
  options: Options & { readonly url?: string | Redacted.Redacted<string> } = {}
): Effect.Effect<CircuitBreaker.Store, StoreError | ConfigError, Scope.Scope> => {
  const checked = redisOptions("RedisBreakerStore.storeFromConfig", options)
  return Effect.map(
    RedisClient.acquire(options.url, checked.timeout),
    (client) => makeRedisStore(client, checked.prefix, checked.timeout)
  )
}
