/**
 * The Redis transport of `EventBus`: events are published with `PUBLISH` on one connection and
 * received with `PSUBSCRIBE` on a separate subscriber connection (a Redis connection in subscriber
 * mode can do nothing else), then dispatched to local subscriptions exactly like the in-memory
 * bus, so both behave the same and pass the same conformance suite: each subscription gets each
 * matching event once, also when a process holds overlapping subscriptions (`a.b.c` and `a.*.*`),
 * for which Redis sends one copy per pattern.
 *
 * Payloads travel as JSON (the channel schema's encoded form, written with `Json.encode`, read
 * with `Json.parse`: a payload with no JSON form is an `EventBusError` on publish, a message that
 * is not JSON is reported to the subscriptions as an invalid event). Every Redis channel is
 * `<prefix><channel>`: give each deployment (or test run) its own prefix (its glob characters
 * are escaped, so a prefix never matches other channels).
 *
 * Delivery is Redis pub/sub's: at most once. Events published while the subscriber connection is
 * down (between a reset and the automatic reconnection, which subscribes again) are lost; use
 * `Messaging` for messages that must arrive. Every call to Redis (connecting, publishing,
 * subscribing) is bounded by `timeout` (default `Io.defaultTimeout`, 5 s) and fails with a typed
 * `EventBusError`; a connection reset is never an uncaught error.
 *
 * @since 0.1.0
 */
import { Io, Json } from "@braid/core"
import { EventBusError } from "@braid/messaging/Errors"
import type { Envelope, Service } from "@braid/messaging/EventBus"
import { EventBus, makeWith } from "@braid/messaging/EventBus"
import { Config, Duration, Effect, Either, Layer, PubSub } from "effect"
import type { Redacted } from "effect"
import type { Scope } from "effect"
import * as RedisClient from "./internal/redis.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** e.g. `redis://127.0.0.1:6379` (default: `REDIS_URL`, else `redis://127.0.0.1:6379`). */
  readonly url?: string | Redacted.Redacted<string>
  /** Prepended to every channel on Redis (default `"braid:"`). */
  readonly prefix?: string
  /** The bound of every call to Redis. Default `Io.defaultTimeout` (5 s). */
  readonly timeout?: Duration.DurationInput
}

const busError = (operation: string) => (e: unknown) =>
  new EventBusError({ operation, reason: e instanceof Error ? e.message : String(e) })

/** Escapes Redis glob characters (`*`, `?`, `[`, `]`, `\`). */
const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, "\\$&")

/** A Redis client name (no spaces or newlines) that shows which bus a connection belongs to. */
const clientName = (role: string, prefix: string) =>
  `braid-bus-${role}:${prefix.replace(/[^A-Za-z0-9:_.-]/g, "_")}`.slice(0, 120)

const connect = (
  url: string | Redacted.Redacted<string> | undefined,
  name: string,
  timeout: Duration.DurationInput | undefined
) =>
  RedisClient.connect(url, {
    timeout,
    name,
    onError: ({ reason }) => new EventBusError({ operation: "connect", reason })
  })

/**
 * A Redis-backed bus, with its two connections closed when the scope closes.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { EventBus } from "@braid/messaging"
 * import { RedisEventBus } from "@braid/redis"
 *
 * const BusLive = Layer.scoped(EventBus.EventBus, RedisEventBus.make({ url: "redis://127.0.0.1:6379", prefix: "app:" }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Service, EventBusError, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "braid:"
    // Io.promise: the bound also holds in a finalizer (unsubscribing)
    const bounded = <A>(operation: string, f: () => Promise<A>) =>
      Io.promise(f, options.timeout, (millis) =>
        new EventBusError({ operation, reason: `no answer within ${millis} ms` }), busError(operation))
    const publisher = yield* connect(options.url, clientName("pub", prefix), options.timeout)
    const subscriber = yield* connect(options.url, clientName("sub", prefix), options.timeout)
    const dispatcher = yield* Effect.acquireRelease(PubSub.unbounded<Envelope>(), PubSub.shutdown)
    // Redis pattern -> the local pattern its copies are for (only patterns with subscriptions).
    const patterns = new Map<string, string>()
    subscriber.on("pmessage", (redisPattern: string, channel: string, message: string) => {
      const pattern = patterns.get(redisPattern)
      if (pattern === undefined || !channel.startsWith(prefix)) {
        return
      }
      const parsed = Json.parse(message)
      const envelope: Envelope = Either.isRight(parsed)
        ? { channel: channel.slice(prefix.length), payload: parsed.right, pattern }
        : {
          channel: channel.slice(prefix.length),
          payload: message.slice(0, 200),
          pattern,
          invalid: `not a JSON event: ${parsed.left.message}`
        }
      try {
        Effect.runSync(PubSub.publish(dispatcher, envelope))
      } catch {
        // the bus is shutting down
      }
    })
    // One Redis PSUBSCRIBE per pattern, shared by the local subscriptions to it.
    const refs = new Map<string, number>()
    const listen = (pattern: string) => {
      const redisPattern = globEscape(prefix) + pattern
      return Effect.acquireRelease(
        Effect.suspend(() => {
          const n = refs.get(pattern) ?? 0
          refs.set(pattern, n + 1)
          patterns.set(redisPattern, pattern)
          return n === 0
            ? bounded("subscribe", () =>
              subscriber.psubscribe(redisPattern)).pipe(
                Effect.tapError(() =>
                  Effect.sync(() => {
                    const left = (refs.get(pattern) ?? 1) - 1
                    if (left > 0) {
                      return refs.set(pattern, left)
                    }
                    refs.delete(pattern)
                    patterns.delete(redisPattern)
                  })
                ),
                Effect.asVoid
              )
            : Effect.void
        }),
        () =>
          Effect.suspend(() => {
            const n = (refs.get(pattern) ?? 1) - 1
            if (n > 0) {
              refs.set(pattern, n)
              return Effect.void
            }
            refs.delete(pattern)
            patterns.delete(redisPattern)
            return Effect.ignore(bounded("unsubscribe", () =>
              subscriber.punsubscribe(redisPattern)))
          })
      )
    }
    return makeWith({
      transport: "redis",
      dispatcher,
      send: (channel, payload) =>
        Effect.flatMap(
          Either.mapLeft(Json.encode(payload), (e) =>
            new EventBusError({ operation: "publish", reason: e.message })),
          (text) => bounded("publish", () => publisher.publish(prefix + channel, text))
        ).pipe(Effect.asVoid),
      listen
    })
  })

/**
 * A layer with the Redis bus.
 *
 * @example
 * ```ts
 * import { RedisEventBus } from "@braid/redis"
 *
 * const BusLive = RedisEventBus.layer({ url: "redis://127.0.0.1:6379", prefix: "app:" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<EventBus, EventBusError> => Layer.scoped(EventBus, make(options))

/**
 * A layer with the Redis bus configured from `REDIS_URL` (default `redis://127.0.0.1:6379`) and
 * `BRAID_BUS_PREFIX` (default `braid:`).
 *
 * @example
 * ```ts
 * import { RedisEventBus } from "@braid/redis"
 *
 * const BusLive = RedisEventBus.layerConfig
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<EventBus, EventBusError | import("effect/ConfigError").ConfigError> = Layer
  .scoped(
    EventBus,
    Effect.gen(function*() {
      const prefix = yield* Config.string("BRAID_BUS_PREFIX").pipe(Config.withDefault("braid:"))
      return yield* make({ prefix })
    })
  )
