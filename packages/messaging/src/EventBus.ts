/**
 * `EventBus`: publish/subscribe on channels named `domain.entity.action`, with events described by
 * a Schema. In memory (an Effect PubSub) by default, Redis pub/sub with `RedisEventBus`; both pass
 * the same conformance suite.
 *
 * - Channel names are validated: three lower-case segments (`meeting.participant.joined`); a bad
 *   name is an `InvalidChannel` error. Subscriptions may use `*` for a whole segment.
 * - Events are encoded with the channel's schema on publish and decoded on delivery; a payload that
 *   does not decode is reported to the subscription's `onInvalid` (default: a warning log) and
 *   counted, never a crash.
 * - Each subscription has its own fiber: its handler runs on its events one at a time, in order;
 *   a handler that fails or dies is reported (`onError`) and counted, and neither it nor any other
 *   subscription stops.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Layer, PubSub, Queue, Schema, Stream } from "effect"
import type { Scope } from "effect"
import type { EventBusError, InvalidEvent } from "./Errors.js"
import { InvalidChannel } from "./Errors.js"
import type { Envelope, Stats } from "./internal/busCore.js"

export type {
  /**
   * For transport authors (`RedisEventBus` in @braid/redis): what travels on the bus, the concrete
   * channel and the encoded event, as `makeWith` dispatches it.
   *
   * @category models
   * @since 0.2.0
   */
  Envelope
} from "./internal/busCore.js"
import { checkChannel, subscribeLocal } from "./internal/busCore.js"

/**
 * A typed channel: its name (or, for subscriptions, a pattern with `*` segments) and the Schema
 * of its events.
 *
 * @category models
 * @since 0.1.0
 */
export interface Channel<A, I = A> {
  readonly name: string
  readonly schema: Schema.Schema<A, I, never>
}

/**
 * Declares a typed channel. The name is checked when it is used (publish/subscribe fail with
 * `InvalidChannel`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { EventBus } from "@braid/messaging"
 *
 * const OrderPlaced = EventBus.channel("shop.order.placed", Schema.Struct({ id: Schema.String, total: Schema.Number }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const channel = <A, I>(name: string, schema: Schema.Schema<A, I, never>): Channel<A, I> => ({ name, schema })

/**
 * Checks a concrete channel name (`domain.entity.action`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 *
 * const ok = EventBus.validateChannel("meeting.participant.joined") // succeeds
 * const bad = EventBus.validateChannel("Meeting.joined") // fails with InvalidChannel
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const validateChannel = (name: string): Effect.Effect<string, InvalidChannel> => {
  const error = checkChannel(name, false)
  return error ? Effect.fail(error) : Effect.succeed(name)
}

/**
 * Per-subscription counters: events that matched, were handled, failed in the handler, or did
 * not decode.
 *
 * @category models
 * @since 0.1.0
 */
export type SubscriptionStats = Stats

/**
 * A live subscription (it ends when the scope it was created in closes).
 *
 * @category models
 * @since 0.1.0
 */
export interface Subscription {
  readonly pattern: string
  readonly stats: Effect.Effect<SubscriptionStats>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface SubscribeOptions<E> {
  /** Called with each event that does not decode. Default: a warning log. */
  readonly onInvalid?: (error: InvalidEvent) => Effect.Effect<void>
  /** Called when the handler fails or dies. Default: a warning log. */
  readonly onError?: (cause: Cause.Cause<E>, channel: string) => Effect.Effect<void>
}

/**
 * A received event with the concrete channel it came on.
 *
 * @category models
 * @since 0.1.0
 */
export interface Received<A> {
  readonly channel: string
  readonly event: A
}

/**
 * The operations of the bus.
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  /** `"memory"` or `"redis"`. */
  readonly transport: string
  /** Publishes an already encoded payload on a concrete channel (no Schema check). */
  readonly publishEncoded: (channel: string, payload: unknown) => Effect.Effect<void, InvalidChannel | EventBusError>
  /** Subscribes to a channel or pattern; active when this returns; ends with the scope. */
  readonly subscribe: <A, I, E, R>(
    channel: Channel<A, I>,
    handler: (event: A, channel: string) => Effect.Effect<void, E, R>,
    options?: SubscribeOptions<E>
  ) => Effect.Effect<Subscription, InvalidChannel | EventBusError, Scope.Scope | R>
}

/**
 * The event bus service.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { EventBus } from "@braid/messaging"
 *
 * const Pinged = EventBus.channel("demo.ping.sent", Schema.Struct({ n: Schema.Number }))
 * const program = Effect.scoped(Effect.gen(function*() {
 *   yield* EventBus.subscribe(Pinged, (e) => Effect.log(`got ${e.n}`))
 *   yield* EventBus.publish(Pinged, { n: 1 })
 * })).pipe(Effect.provide(EventBus.layerMemory))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class EventBus extends Context.Tag("@braid/messaging/EventBus")<EventBus, Service>() {}

/**
 * Encodes `event` with the channel's schema and publishes it.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { EventBus } from "@braid/messaging"
 *
 * const Done = EventBus.channel("job.run.finished", Schema.Struct({ id: Schema.String }))
 * const publish = EventBus.publish(Done, { id: "j1" })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const publish = <A, I>(
  channel: Channel<A, I>,
  event: A
): Effect.Effect<void, InvalidChannel | EventBusError, EventBus> =>
  Effect.flatMap(EventBus, (bus) => {
    const encoded = Schema.encodeEither(channel.schema)(event)
    // The type says the event is valid; an event that does not encode is a defect of the caller.
    return encoded._tag === "Left" ? Effect.die(encoded.left) : bus.publishEncoded(channel.name, encoded.right)
  })

/**
 * Publishes an encoded payload without checking it (for bridges and tests of invalid payloads).
 *
 * @example
 * ```ts
 * import { EventBus } from "@braid/messaging"
 *
 * const raw = EventBus.publishEncoded("job.run.finished", { id: "j1" })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const publishEncoded = (
  channel: string,
  payload: unknown
): Effect.Effect<void, InvalidChannel | EventBusError, EventBus> =>
  Effect.flatMap(EventBus, (bus) => bus.publishEncoded(channel, payload))

/**
 * Subscribes `handler` to a channel (or a pattern such as `meeting.*.*`) for the life of the
 * current scope.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { EventBus } from "@braid/messaging"
 *
 * const Any = EventBus.channel("meeting.*.*", Schema.Unknown)
 * const audit = EventBus.subscribe(Any, (event, channel) => Effect.log(channel, event))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const subscribe = <A, I, E, R>(
  channel: Channel<A, I>,
  handler: (event: A, channel: string) => Effect.Effect<void, E, R>,
  options?: SubscribeOptions<E>
): Effect.Effect<Subscription, InvalidChannel | EventBusError, EventBus | Scope.Scope | R> =>
  Effect.flatMap(EventBus, (bus) => bus.subscribe(channel, handler, options))

/**
 * The events of a channel as a Stream (subscribed when the stream starts; the stream never ends
 * by itself: bound it with `Stream.take` or `Stream.interruptWhen`).
 *
 * @example
 * ```ts
 * import { Schema, Stream } from "effect"
 * import { EventBus } from "@braid/messaging"
 *
 * const Tick = EventBus.channel("clock.tick.fired", Schema.Number)
 * const firstThree = EventBus.stream(Tick).pipe(Stream.take(3), Stream.runCollect)
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const stream = <A, I>(
  channel: Channel<A, I>
): Stream.Stream<Received<A>, InvalidChannel | EventBusError, EventBus> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Received<A>>()
    yield* subscribe(channel, (event, name) => Queue.offer(queue, { channel: name, event }))
    return Stream.fromQueue(queue)
  }))

/**
 * Builds a bus from a transport that delivers into a local dispatcher (used by the in-memory and
 * the Redis buses).
 *
 * @internal
 */
export const makeWith = (options: {
  readonly transport: string
  readonly dispatcher: PubSub.PubSub<Envelope>
  readonly send: (channel: string, payload: unknown) => Effect.Effect<void, EventBusError>
  /** Called before a local subscription to `pattern` starts and after it ends. */
  readonly listen?: (pattern: string) => Effect.Effect<void, EventBusError, Scope.Scope>
}): Service => ({
  transport: options.transport,
  publishEncoded: (name, payload) => {
    const error = checkChannel(name, false)
    return error ? Effect.fail(error) : options.send(name, payload)
  },
  subscribe: (ch, handler, subscribeOptions) => {
    const error = checkChannel(ch.name, true)
    if (error) return Effect.fail(error)
    return Effect.gen(function*() {
      const stats = yield* subscribeLocal(options.dispatcher, ch.name, ch.schema, handler, subscribeOptions ?? {})
      if (options.listen) yield* options.listen(ch.name)
      return { pattern: ch.name, stats }
    })
  }
})

/**
 * The in-memory bus (an Effect PubSub): events reach the subscriptions of this process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 *
 * const program = Effect.provide(EventBus.validateChannel("a.b.c"), EventBus.layerMemory)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory: Effect.Effect<Service, never, Scope.Scope> = Effect.gen(function*() {
  const dispatcher = yield* Effect.acquireRelease(PubSub.unbounded<Envelope>(), PubSub.shutdown)
  return makeWith({
    transport: "memory",
    dispatcher,
    send: (channel, payload) => Effect.asVoid(PubSub.publish(dispatcher, { channel, payload }))
  })
})

/**
 * A layer with the in-memory bus.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { EventBus } from "@braid/messaging"
 *
 * const Hello = EventBus.channel("demo.greeting.sent", Schema.String)
 * const program = EventBus.publish(Hello, "hi").pipe(Effect.provide(EventBus.layerMemory))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<EventBus> = Layer.scoped(EventBus, makeMemory)

export {
  /**
   * Re-exported for type annotations.
   *
   * @category errors
   * @since 0.1.0
   */
  InvalidChannel
}
