/**
 * The Redis store of `RateLimit` (ioredis): counters shared by every process that uses the same
 * Redis and prefix. All keys of a call are checked and charged by one Lua script (atomic), with
 * the caller's clock reading (processes should have synchronised clocks). Every call is bounded by
 * the store's `timeout` (default `Io.defaultTimeout`, 5 s): a Redis that does not answer fails the
 * call with `StoreError` (cause `StoreTimeout`) instead of hanging it.
 *
 * @since 0.2.0
 */
import { RateLimit } from "@braid/resilience"
import { StoreError } from "@braid/resilience"
import type { Duration, Redacted, Scope } from "effect"
import { Effect } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { Redis } from "ioredis"
import * as RedisClient from "./internal/redis.js"

// ---------------------------------------------------------------------------------------------

const script = `
local now = tonumber(ARGV[1])
local n = #KEYS
local states = {}
for i = 1, n do
  local base = 1 + (i - 1) * 4
  local algo = ARGV[base + 1]
  local limit = tonumber(ARGV[base + 2])
  local window = tonumber(ARGV[base + 3])
  local cost = tonumber(ARGV[base + 4])
  if cost > limit then return {i, -1} end
  local h = redis.call('HMGET', KEYS[i], 'a', 'b')
  if algo == 'token-bucket' then
    local tokens = tonumber(h[1])
    local ts = tonumber(h[2])
    if tokens == nil or ts == nil then tokens = limit; ts = now end
    local rate = limit / window
    if now > ts then tokens = math.min(limit, tokens + (now - ts) * rate) end
    if tokens < cost then return {i, math.ceil((cost - tokens) / rate)} end
    states[i] = {tokens - cost, math.max(now, ts), window}
  else
    local start = math.floor(now / window) * window
    local count = 0
    if tonumber(h[1]) == start and tonumber(h[2]) ~= nil then count = tonumber(h[2]) end
    if count + cost > limit then return {i, start + window - now} end
    states[i] = {start, count + cost, window}
  end
end
for i = 1, n do
  redis.call('HSET', KEYS[i], 'a', string.format('%.17g', states[i][1]), 'b', string.format('%.17g', states[i][2]))
  redis.call('PEXPIRE', KEYS[i], math.ceil(states[i][3] * 2))
end
return {0, 0}
`

/**
 * Options of the Redis store.
 *
 * @category models
 * @since 0.2.0
 */
export interface Options {
  /** Prefix of every key (default `"braid:ratelimit:"`). */
  readonly prefix?: string
  /** The bound of one Redis call (default `Io.defaultTimeout`, 5 s); past it the call fails with `StoreError`. */
  readonly timeout?: Duration.DurationInput
}

const redisOptions = (owner: string, options: Options) => RedisClient.storeOptions(owner, options, "braid:ratelimit:")

/**
 * A store in Redis, shared by every process that uses the same Redis and prefix. All keys of a
 * call are checked and charged by one Lua script (atomic). In Redis Cluster, give the keys of one
 * policy a common hash tag (e.g. prefix `"{braid}:ratelimit:"`). Each call is bounded by
 * `timeout`; a Redis that does not answer in time fails the call with `StoreError` (cause
 * `StoreTimeout`). The client is the caller's: listen to its `'error'` events (ioredis logs them
 * otherwise); a failed command always reaches the call as a `StoreError`.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis"
 * import { RedisRateLimit } from "@braid/redis"
 *
 * const store = RedisRateLimit.store(new Redis("redis://127.0.0.1:6379", { lazyConnect: true }), { prefix: "myapp:rl:", timeout: "2 seconds" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const store = (client: Redis, options: Options = {}): RateLimit.Store => {
  const { prefix, timeout } = redisOptions("RedisRateLimit.store", options)
  return makeRedisStore(client, prefix, timeout)
}

const makeRedisStore = (client: Redis, prefix: string, timeout: Duration.Duration | undefined): RateLimit.Store => ({
  name: "redis",
  consume: (requests, now) =>
    Effect.suspend(() => {
      const invalid = RateLimit.refuseInvalid("redis", requests, now)
      if (invalid !== undefined) return Effect.fail(invalid)
      const keys = requests.map((r) => prefix + RateLimit.counterId(r))
      const args: Array<string | number> = [now]
      for (const r of requests) args.push(r.algorithm, r.limit, r.windowMillis, r.cost)
      return Effect.flatMap(
        RedisClient.attempt("ratelimit.consume", () => client.eval(script, keys.length, ...keys, ...args), timeout),
        (reply): Effect.Effect<RateLimit.Decision, StoreError> => {
          if (!Array.isArray(reply) || typeof reply[0] !== "number" || typeof reply[1] !== "number") {
            return Effect.fail(
              new StoreError({
                store: "redis",
                operation: "ratelimit.consume",
                cause: new TypeError("unexpected reply from the rate-limit script")
              })
            )
          }
          const [index, retryAfter] = reply as [number, number]
          return Effect.succeed(
            index === 0
              ? { allowed: true }
              : {
                allowed: false,
                index: index - 1,
                retryAfterMillis: retryAfter < 0 ? Number.POSITIVE_INFINITY : retryAfter
              }
          )
        }
      )
    })
})

/**
 * A Redis store connected to `url` (or `REDIS_URL` via `Config`; default
 * `redis://127.0.0.1:6379`) for the life of the scope. The connection and every call are bounded
 * by `timeout` (default `Io.defaultTimeout`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RedisRateLimit } from "@braid/redis"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const store = yield* RedisRateLimit.storeFromConfig({ prefix: "myapp:rl:" })
 *   // RateLimit.policy({ limits: [...], store })
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const storeFromConfig = (
  options: Options & { readonly url?: string | Redacted.Redacted<string> } = {}
): Effect.Effect<RateLimit.Store, StoreError | ConfigError, Scope.Scope> => {
  const checked = redisOptions("RedisRateLimit.storeFromConfig", options)
  return Effect.map(
    RedisClient.acquire(options.url, checked.timeout),
    (client) => makeRedisStore(client, checked.prefix, checked.timeout)
  )
}
