/**
 * The client helpers of every Redis store: the one way to connect (`connect`: a scoped ioredis
 * client, its URL read from `REDIS_URL` through `Config`, the one place that variable is read), and
 * for `Cache` and `RateLimit` the one way to run a command: bounded by the store's timeout and
 * failing with `StoreError`.
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

/** Why a connection could not be opened: the reason in words (the URL is never in it). */
export interface ConnectFailure {
  readonly reason: string
  /** The error the client reported, when there is one. */
  readonly cause?: unknown
  /** Set when connecting did not answer within the bound. */
  readonly timeoutMillis?: number
}

const reasonOf = (e: unknown): string =>
  (e instanceof Error ? e.message : String(e)).replace(/(\w+:\/\/)[^@\s/]*@/g, "$1***@")

/**
 * Closes a client: a polite QUIT when it is connected (bounded: a link that stopped answering
 * cannot hold the scope open), then a hard disconnect, which also stops reconnection attempts.
 */
const close = (client: Redis, timeout: Duration.DurationInput | undefined): Effect.Effect<void> =>
  Effect.ensuring(
    client.status === "ready"
      ? Effect.ignore(Io.promise(() => client.quit(), timeout, () => "timeout", () => "failed"))
      : Effect.void,
    Effect.sync(() => client.disconnect())
  )

/**
 * The one way every Braid Redis store connects: to `url`, or `REDIS_URL` read through `Config`
 * (redacted, default `redis://127.0.0.1:6379`), for the life of the scope. Connecting is bounded
 * by `timeout`; connection errors never surface as unhandled 'error' events (the client keeps the
 * last one, and a failed connect reports it through `onError`, credentials masked); the client
 * is closed (bounded QUIT, then disconnect) with the scope, or at once when connecting fails.
 */
export const connect = <E>(
  url: string | Redacted.Redacted<string> | undefined,
  options: {
    readonly timeout: Duration.DurationInput | undefined
    readonly onError: (failure: ConnectFailure) => E
    readonly name?: string
    /** Bounds each command on the client itself (ioredis' `commandTimeout`), in addition to the store's own bound. */
    readonly commandTimeout?: boolean
  }
): Effect.Effect<Redis, E, Scope.Scope> =>
  Effect.gen(function*() {
    const u = url === undefined
      ? yield* Effect.mapError(redisUrl, (e) => options.onError({ reason: `REDIS_URL: ${String(e)}` }))
      : url
    const millis = Math.max(
      1,
      Math.ceil(DurationValue.toMillis(DurationValue.decode(options.timeout ?? Io.defaultTimeout)))
    )
    let lastError: unknown = undefined
    const client = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const c = new Redis(Redacted.isRedacted(u) ? Redacted.value(u) : u, {
            lazyConnect: true,
            maxRetriesPerRequest: 2,
            connectTimeout: millis,
            ...(options.commandTimeout === true ? { commandTimeout: millis } : {}),
            ...(options.name !== undefined ? { connectionName: options.name } : {})
          })
          c.on("error", (e: unknown) => {
            lastError = e
          })
          return c
        },
        catch: (cause) => options.onError({ reason: reasonOf(cause), cause })
      }),
      (c) => close(c, options.timeout)
    )
    yield* Io.bounded(
      Effect.tryPromise({
        try: () => client.connect(),
        catch: (cause) => options.onError({ reason: reasonOf(lastError ?? cause), cause: lastError ?? cause })
      }),
      options.timeout,
      (timeoutMillis) => options.onError({ reason: `no answer within ${timeoutMillis} ms`, timeoutMillis })
    ).pipe(Effect.tapError(() => Effect.sync(() => client.disconnect()))) // stop ioredis from reconnecting in the background
    return client
  })

/** Connects for the `Cache` and `RateLimit` stores: failures are `StoreError`s. */
export const acquire = (
  url: string | Redacted.Redacted<string> | undefined,
  timeout: Duration.DurationInput | undefined
): Effect.Effect<Redis, StoreError | ConfigError, Scope.Scope> =>
  connect(url, {
    timeout,
    onError: (failure) =>
      new StoreError({
        store: "redis",
        operation: "connect",
        cause: failure.timeoutMillis !== undefined
          ? new StoreTimeout({ timeoutMillis: failure.timeoutMillis })
          : failure.cause
      })
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
