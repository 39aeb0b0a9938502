/**
 * The part of the event bus shared by every transport: channel validation, a local dispatcher
 * (an Effect PubSub of encoded envelopes), and subscriptions that match, decode and run their
 * handler in their own fiber, isolated from each other.
 *
 * @internal
 */
import { Cause, Effect, ParseResult, PubSub, Queue, Schema } from "effect"
import type { Scope } from "effect"
import { InvalidChannel, InvalidEvent } from "../Errors.js"

const SEGMENT = /^[a-z][a-z0-9_-]*$/

/** Validates `domain.entity.action`; `*` segments only when `pattern` is true. */
export const checkChannel = (channel: string, pattern: boolean): InvalidChannel | undefined => {
  if (typeof channel !== "string") return new InvalidChannel({ channel: String(channel), reason: "not a string" })
  const segments = channel.split(".")
  if (segments.length !== 3) {
    return new InvalidChannel({
      channel,
      reason: `expected 3 dot-separated segments (domain.entity.action), got ${segments.length}`
    })
  }
  for (const s of segments) {
    if (s === "*") {
      if (!pattern) return new InvalidChannel({ channel, reason: "wildcards are allowed in subscriptions only" })
      continue
    }
    if (!SEGMENT.test(s)) {
      return new InvalidChannel({
        channel,
        reason: `segment "${s}" must be lower-case letters, digits, "_" or "-", starting with a letter`
      })
    }
  }
  return undefined
}

/** Does a (possibly wildcard) pattern match a concrete channel? */
export const matches = (pattern: string, channel: string): boolean => {
  if (pattern === channel) return true
  if (!pattern.includes("*")) return false
  const p = pattern.split(".")
  const c = channel.split(".")
  return p.length === c.length && p.every((s, i) => s === "*" || s === c[i])
}

/**
 * What travels on the bus: the concrete channel and the encoded event. A transport that receives
 * one copy per matching pattern (Redis `PSUBSCRIBE`) names the `pattern` each copy is for, and
 * only the subscriptions to that pattern take it: every subscription gets an event once, as on
 * the in-memory bus. `invalid` says why a payload could not be read (reported as an invalid event).
 */
export interface Envelope {
  readonly channel: string
  readonly payload: unknown
  readonly pattern?: string
  readonly invalid?: string
}

export interface Stats {
  readonly received: number
  readonly handled: number
  readonly failed: number
  readonly invalid: number
}

export interface SubscribeOptions<E> {
  readonly onInvalid?: (error: InvalidEvent) => Effect.Effect<void>
  readonly onError?: (cause: Cause.Cause<E>, channel: string) => Effect.Effect<void>
}

/**
 * Subscribes to the local dispatcher (active when this returns) and forks, in the caller's scope,
 * a fiber that runs `handler` on every matching, decoded event, one at a time, in order. A handler
 * failure or defect is reported and counted; the subscription goes on.
 */
export const subscribeLocal = <A, I, E, R>(
  pubsub: PubSub.PubSub<Envelope>,
  pattern: string,
  schema: Schema.Schema<A, I, never>,
  handler: (event: A, channel: string) => Effect.Effect<void, E, R>,
  options: SubscribeOptions<E>
): Effect.Effect<Effect.Effect<Stats>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const queue = yield* PubSub.subscribe(pubsub)
    // Counters are only written by the subscription's own fiber.
    const stats = { received: 0, handled: 0, failed: 0, invalid: 0 }
    const decode = Schema.decodeUnknownEither(schema, { errors: "all" })
    const onInvalid = options.onInvalid ?? ((e: InvalidEvent) => Effect.logWarning(e.message))
    const onError = options.onError ??
      ((cause: Cause.Cause<E>, channel: string) =>
        Effect.logWarning(`event handler failed on ${channel}`, Cause.pretty(cause)))
    const handle = (envelope: Envelope): Effect.Effect<void, never, R> => {
      if (
        envelope.pattern !== undefined
          ? envelope.pattern !== pattern
          : !matches(pattern, envelope.channel)
      ) return Effect.void
      stats.received++
      if (envelope.invalid !== undefined) {
        stats.invalid++
        return onInvalid(
          new InvalidEvent({ channel: envelope.channel, issues: [envelope.invalid], payload: envelope.payload })
        )
      }
      const decoded = decode(envelope.payload)
      if (decoded._tag === "Left") {
        stats.invalid++
        const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((i) =>
          `${i.path.length ? i.path.join(".") + ": " : ""}${i.message}`
        )
        return onInvalid(new InvalidEvent({ channel: envelope.channel, issues, payload: envelope.payload }))
      }
      return Effect.matchCauseEffect(Effect.suspend(() => handler(decoded.right, envelope.channel)), {
        onFailure: (cause) => {
          stats.failed++
          return Effect.catchAllCause(onError(cause, envelope.channel), () => Effect.void)
        },
        onSuccess: () => {
          stats.handled++
          return Effect.void
        }
      })
    }
    // Take what is there in one go, then handle it in order.
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.flatMap(Queue.takeBetween(queue, 1, 1024), (batch) => Effect.forEach(batch, handle, { discard: true }))
      )
    )
    return Effect.sync(() => ({ ...stats }))
  })
