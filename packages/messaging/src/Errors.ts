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

/**
 * The recipient of a message, a request or a conversation is not registered in the sender's
 * organization (an agent of another organization is not found either: organizations do not see
 * each other).
 *
 * @example
 * ```ts
 * import { Errors as MessagingErrors } from "@braid/messaging"
 *
 * const e = new MessagingErrors.AgentNotFound({ organization: "default", agent: "critic" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class AgentNotFound extends Schema.TaggedError<AgentNotFound>()("AgentNotFound", {
  organization: Schema.String,
  agent: Schema.String
}) {
  override get message(): string {
    return `agent ${JSON.stringify(this.agent)} is not registered in organization ${JSON.stringify(this.organization)}`
  }
}

/**
 * An agent is engaged (its lock is held by `holder`, e.g. a conversation) and the engagement
 * asked for could not get it: at once (the default) or within the bounded wait.
 *
 * @example
 * ```ts
 * import { Errors as MessagingErrors } from "@braid/messaging"
 *
 * const e = new MessagingErrors.AgentBusy({ organization: "default", agent: "critic", holder: "c-1", waitedMillis: 0 })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class AgentBusy extends Schema.TaggedError<AgentBusy>()("AgentBusy", {
  organization: Schema.String,
  agent: Schema.String,
  /** The current holder, when known. */
  holder: Schema.optional(Schema.String),
  waitedMillis: Schema.Number
}) {
  override get message(): string {
    return `agent ${JSON.stringify(this.agent)} is busy${this.holder !== undefined ? ` (held by ${this.holder})` : ""}${
      this.waitedMillis > 0 ? ` after waiting ${this.waitedMillis} ms` : ""
    }`
  }
}

/**
 * An argument of a registry, conversation, history or lock call was refused before anything
 * was stored: `field` names it (`name`, `capabilities[1]`, `cursor`, `limit`, `organization`).
 *
 * @example
 * ```ts
 * import { Errors as MessagingErrors } from "@braid/messaging"
 *
 * const e = new MessagingErrors.InvalidInput({ operation: "register", field: "name", reason: "expected a non-empty string" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  operation: Schema.String,
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.operation}: ${this.field}: ${this.reason}`
  }
}

/**
 * No conversation with this id in the organization.
 *
 * @example
 * ```ts
 * import { Errors as MessagingErrors } from "@braid/messaging"
 *
 * const e = new MessagingErrors.ConversationNotFound({ organization: "default", conversationId: "c-1" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class ConversationNotFound extends Schema.TaggedError<ConversationNotFound>()("ConversationNotFound", {
  organization: Schema.String,
  conversationId: Schema.String
}) {
  override get message(): string {
    return `no conversation ${JSON.stringify(this.conversationId)} in organization ${JSON.stringify(this.organization)}`
  }
}

/**
 * A message or an end was refused by a conversation: it has ended (`reason: "ended"`), or the
 * sender is not one of its two participants (`reason: "not a participant"`).
 *
 * @example
 * ```ts
 * import { Errors as MessagingErrors } from "@braid/messaging"
 *
 * const e = new MessagingErrors.ConversationRefused({ conversationId: "c-1", agent: "critic", reason: "ended" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class ConversationRefused extends Schema.TaggedError<ConversationRefused>()("ConversationRefused", {
  conversationId: Schema.String,
  agent: Schema.String,
  reason: Schema.Literal("ended", "not a participant")
}) {
  override get message(): string {
    return `conversation ${this.conversationId} refused ${JSON.stringify(this.agent)}: ${this.reason}`
  }
}

/**
 * A received message's body does not decode with the Schema of its channel or conversation
 * (for the receiver; never a crash). `path` is where in the body (`(root)`, `draft.words`).
 *
 * @example
 * ```ts
 * import { Errors as MessagingErrors } from "@braid/messaging"
 *
 * const e = new MessagingErrors.BodyInvalid({ messageId: "m-1", path: "draft", reason: "is missing" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class BodyInvalid extends Schema.TaggedError<BodyInvalid>()("BodyInvalid", {
  messageId: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `message ${this.messageId}: body at ${this.path} does not decode: ${this.reason}`
  }
}
