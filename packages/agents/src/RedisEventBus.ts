/**
 * The Redis transport of `EventBus`: events are published with `PUBLISH` on one connection and
 * received with `PSUBSCRIBE` on a separate subscriber connection (a Redis connection in subscriber
 * mode can do nothing else), then dispatched to local subscriptions exactly like the in-memory
 * bus, so both behave the same and pass the same conformance suite.
 *
 * Payloads travel as JSON (the channel schema's encoded form). Every Redis channel is
 * `<prefix><channel>`: give each deployment (or test run) its own prefix.
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer, PubSub } from "effect"
import type { Scope } from "effect"
import { Redis } from "ioredis"
import { EventBusError } from "./CoordinationErrors.js"
import type { Service } from "./EventBus.js"
import { EventBus, makeWith } from "./EventBus.js"
import type { Envelope } from "./internal/busCore.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /** e.g. `redis://127.0.0.1:6379`. */
  readonly url: string
  /** Prepended to every channel on Redis (default `"braid:"`). */
  readonly prefix?: string
}

const busError = (operation: string) => (e: unknown) =>
  new EventBusError({ operation, reason: e instanceof Error ? e.message : String(e) })

const connect = (url: string, name: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectionName: name })
        client.on("error", () => {}) // errors surface on the commands that hit them
        try {
          await client.connect()
        } catch (e) {
          client.disconnect() // stop reconnecting in the background
          throw e
        }
        return client
      },
      catch: busError("connect")
    }),
    (client) => Effect.promise(() => client.quit().catch(() => client.disconnect()))
  )

/**
 * A Redis-backed bus, with its two connections closed when the scope closes.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { EventBus, RedisEventBus } from "@braid/agents"
 *
 * const BusLive = Layer.scoped(EventBus.EventBus, RedisEventBus.make({ url: "redis://127.0.0.1:6379", prefix: "app:" }))
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Service, EventBusError, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "braid:"
    const publisher = yield* connect(options.url, "braid-bus-pub")
    const subscriber = yield* connect(options.url, "braid-bus-sub")
    const dispatcher = yield* Effect.acquireRelease(PubSub.unbounded<Envelope>(), PubSub.shutdown)
    subscriber.on("pmessage", (_pattern: string, channel: string, message: string) => {
      if (!channel.startsWith(prefix)) return
      let payload: unknown
      try {
        payload = JSON.parse(message)
      } catch {
        payload = message // not JSON: the subscription's decoder reports it
      }
      try {
        Effect.runSync(PubSub.publish(dispatcher, { channel: channel.slice(prefix.length), payload }))
      } catch {
        // the bus is shutting down
      }
    })
    // One Redis PSUBSCRIBE per pattern, shared by the local subscriptions to it.
    const refs = new Map<string, number>()
    const listen = (pattern: string) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          const n = refs.get(pattern) ?? 0
          refs.set(pattern, n + 1)
          return n === 0
            ? Effect.tryPromise({ try: () => subscriber.psubscribe(prefix + pattern), catch: busError("subscribe") }).pipe(
              Effect.tapError(() => Effect.sync(() => refs.set(pattern, (refs.get(pattern) ?? 1) - 1))),
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
            return Effect.promise(() => subscriber.punsubscribe(prefix + pattern).catch(() => undefined))
          })
      )
    return makeWith({
      transport: "redis",
      dispatcher,
      send: (channel, payload) =>
        Effect.tryPromise({
          try: () => publisher.publish(prefix + channel, JSON.stringify(payload)),
          catch: busError("publish")
        }).pipe(Effect.asVoid),
      listen
    })
  })

/**
 * A layer with the Redis bus.
 *
 * @example
 * ```ts
 * import { RedisEventBus } from "@braid/agents"
 *
 * const BusLive = RedisEventBus.layer({ url: "redis://127.0.0.1:6379", prefix: "app:" })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<EventBus, EventBusError> => Layer.scoped(EventBus, make(options))

/**
 * A layer with the Redis bus configured from `REDIS_URL` (default `redis://127.0.0.1:6379`) and
 * `BRAID_BUS_PREFIX` (default `braid:`).
 *
 * @example
 * ```ts
 * import { RedisEventBus } from "@braid/agents"
 *
 * const BusLive = RedisEventBus.layerConfig
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<EventBus, EventBusError | import("effect/ConfigError").ConfigError> = Layer.scoped(
  EventBus,
  Effect.gen(function*() {
    const url = yield* Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379"))
    const prefix = yield* Config.string("BRAID_BUS_PREFIX").pipe(Config.withDefault("braid:"))
    return yield* make({ url, prefix })
  })
)
