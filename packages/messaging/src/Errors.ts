/**
 * The typed errors of `@braid/messaging`. Every error is a `Schema.TaggedError`, so it can be persisted
 * or sent across a process boundary and still be matched with `Effect.catchTag`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A channel name is not of the form `domain.entity.action` (three lower-case segments of
 * letters, digits, `_` or `-`, each starting with a letter; `*` is allowed as a whole segment in
 * subscriptions only).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 *
 * const program = EventBus.validateChannel("Meeting.Joined").pipe(
 *   Effect.catchTag("InvalidChannel", (e) => Effect.succeed(e.channel))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidChannel extends Schema.TaggedError<InvalidChannel>()("InvalidChannel", {
  channel: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid channel "${this.channel}": ${this.reason}`
  }
}

/**
 * An event received on a channel did not decode with the channel's schema (reported to the
 * subscription's `onInvalid`, never a crash).
 *
 * @example
 * ```ts
 * import { Errors as CoordinationErrors } from "@braid/messaging"
 *
 * const e = new CoordinationErrors.InvalidEvent({ channel: "a.b.c", issues: ["expected string"], payload: 1 })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidEvent extends Schema.TaggedError<InvalidEvent>()("InvalidEvent", {
  channel: Schema.String,
  issues: Schema.Array(Schema.String),
  payload: Schema.Unknown
}) {
  override get message(): string {
    return `invalid event on ${this.channel}: ${this.issues.join("; ")}`
  }
}

/**
 * The event bus transport failed (Redis connection, encoding an event).
 *
 * @example
 * ```ts
 * import { Errors as CoordinationErrors } from "@braid/messaging"
 *
 * const e = new CoordinationErrors.EventBusError({ operation: "publish", reason: "connection closed" })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EventBusError extends Schema.TaggedError<EventBusError>()("EventBusError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `event bus ${this.operation} failed: ${this.reason}`
  }
}

/**
 * A request did not get its reply in time.
 *
 * @example
 * ```ts
 * import { Errors as CoordinationErrors } from "@braid/messaging"
 *
 * const e = new CoordinationErrors.RequestTimedOut({ from: "planner", to: "critic", requestId: "r1", timeoutMillis: 1000 })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RequestTimedOut extends Schema.TaggedError<RequestTimedOut>()("RequestTimedOut", {
  from: Schema.String,
  to: Schema.String,
  requestId: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `${this.from} got no reply from ${this.to} to request ${this.requestId} within ${this.timeoutMillis} ms`
  }
}

/**
 * The message store failed (SQL error, bad stored row).
 *
 * @example
 * ```ts
 * import { Errors as CoordinationErrors } from "@braid/messaging"
 *
 * const e = new CoordinationErrors.MessageStoreError({ operation: "append", reason: "disk full" })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class MessageStoreError extends Schema.TaggedError<MessageStoreError>()("MessageStoreError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `message store ${this.operation} failed: ${this.reason}`
  }
}

/**
 * A message was refused before anything was stored: its body has no lossless JSON form (a
 * BigInt, a cycle, NaN, nesting too deep, a `"__proto__"` key), or an address is not a
 * non-empty string. `field` is `from`, `to` or `body`; `path` is where in the body (`(root)`,
 * `items[2].n`).
 *
 * @example
 * ```ts
 * import { Errors as CoordinationErrors } from "@braid/messaging"
 *
 * const e = new CoordinationErrors.MessageInvalid({ field: "body", path: "n", reason: "a BigInt has no JSON form" })
 * ```
 *
 * @category errors
 * @since 0.2.0
 */
export class MessageInvalid extends Schema.TaggedError<MessageInvalid>()("MessageInvalid", {
  field: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `message refused: ${this.field}${this.field === "body" ? ` at ${this.path}` : ""}: ${this.reason}`
  }
}
