/**
 * The client helpers of the Redis stores of `Cache` and `RateLimit`: a scoped ioredis client, its URL read from `REDIS_URL` through `Config`, and the one way to
 * run a command: bounded by the store's timeout (`store.bounded`) and failing with `StoreError`.
 *
 * @internal
 */
import { Io } from "@braid/core"
import { StoreError, StoreSupport, StoreTimeout } from "@braid/resilience"
import type { Duration, Scope } from "effect"
import { Config, Duration as DurationValue, Effect, Redacted } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { Redis } from "ioredis"

/** `REDIS_URL` (redacted: it may hold a password), default `redis://127.0.0.1:6379`. */
export const redisUrl: Config.Config<Redacted.Redacted<string>> = Config.redacted("REDIS_URL").pipe(
  Config.withDefault(Redacted.make("redis://127.0.0.1:6379"))
)

/** Runs a Redis command within `timeout`, mapping its failure (or its silence) to `StoreError`. */
export const attempt = <A>(
  operation: string,
  f: () => Promise<A>,
  timeout: Duration.DurationInput | undefined
): Effect.Effect<A, StoreError> =>
  Io.promise(
    f,
    timeout,
    (timeoutMillis) => new StoreError({ store: "redis", operation, cause: new StoreTimeout({ timeoutMillis }) }),
    (cause) => new StoreError({ store: "redis", operation, cause })
  )

/**
 * Closes a client: a polite QUIT when it is connected (bounded: a link that stopped answering
 * cannot hold the scope open), then a hard disconnect, which also stops reconnection attempts.
 */
const close = (client: Redis, timeout: Duration.DurationInput | undefined): Effect.Effect<void> =>
  Effect.ensuring(
    client.status === "ready" ? Effect.ignore(attempt("quit", () => client.quit(), timeout)) : Effect.void,
    Effect.sync(() => client.disconnect())
  )

/**
 * Connects to Redis (at `url`, or `REDIS_URL`) for the life of the scope. The connection and
 * every later command are bounded by `timeout`. Connection errors never surface as unhandled
 * 'error' events: the client keeps the last one, and a failed connect reports it as a `StoreError`.
 */
export const acquire = (
  url: string | Redacted.Redacted<string> | undefined,
  timeout: Duration.DurationInput | undefined
): Effect.Effect<Redis, StoreError | ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const u = url === undefined ? yield* redisUrl : url
    let lastError: unknown = undefined
    const client = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const c = new Redis(Redacted.isRedacted(u) ? Redacted.value(u) : u, {
            lazyConnect: true,
            maxRetriesPerRequest: 2
          })
          c.on("error", (e: unknown) => {
            lastError = e
          })
          return c
        },
        catch: (cause) => new StoreError({ store: "redis", operation: "connect", cause })
      }),
      (c) => close(c, timeout)
    )
    yield* StoreSupport.bounded(
      "redis",
      "connect",
      Effect.tryPromise({
        try: () => client.connect(),
        catch: (cause) => new StoreError({ store: "redis", operation: "connect", cause: lastError ?? cause })
      }),
      timeout
    )
    return client
  })

/** The checked options of a Redis store (`prefix`, default `defaultPrefix`; `timeout`), refused with `InvalidOption`. */
export const storeOptions = (
  owner: string,
  options: { readonly prefix?: string; readonly timeout?: Duration.DurationInput },
  defaultPrefix: string
): { readonly prefix: string; readonly timeout: Duration.Duration | undefined } => {
  if (typeof options !== "object" || options === null) {
    StoreSupport.refuse(owner, "options", "must be an object", options)
  }
  return {
    prefix: options.prefix === undefined ? defaultPrefix : StoreSupport.string(owner, "prefix", options.prefix),
    timeout: options.timeout === undefined
      ? undefined
      : DurationValue.millis(StoreSupport.positiveDuration(owner, "timeout", options.timeout))
  }
}
