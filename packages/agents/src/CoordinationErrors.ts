/**
 * The typed errors of the coordination, event bus, messaging and meeting modules of
 * `@braid/agents` (kept apart from `Errors.ts`, which holds the errors of agents, handoff and
 * memory). All are `Schema.TaggedError` classes: they can cross process boundaries, be persisted
 * and be matched with `Effect.catchTag`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * What happened to one branch of a coordination.
 *
 * - `succeeded`: the branch returned `value`;
 * - `failed`: the branch failed with `error` (a typed error or a defect, or its budget ran out);
 * - `interrupted`: the coordination stopped the branch (strategy decided, or unsatisfiable);
 * - `timed-out`: the per-branch timeout elapsed.
 *
 * `reason` always says why, in words.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CoordinationErrors } from "@braid/agents"
 *
 * const outcome = Schema.decodeUnknownSync(CoordinationErrors.BranchOutcome)({
 *   agent: "a", index: 0, status: "timed-out", reason: "no answer within 1s", durationMillis: 1000
 * })
 * ```
 *
 * @since 0.1.0
 */
export const BranchOutcome = Schema.Struct({
  agent: Schema.String,
  index: Schema.Number,
  status: Schema.Literal("succeeded", "failed", "interrupted", "timed-out"),
  value: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.Unknown),
  reason: Schema.String,
  durationMillis: Schema.Number
})

/**
 * @since 0.1.0
 */
export type BranchOutcome = typeof BranchOutcome.Type

/**
 * A coordination strategy could not be satisfied (too many branches failed or timed out, no
 * majority, an unresolved tie, no consensus). Carries every branch's outcome: nothing is dropped.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Coordination } from "@braid/agents"
 *
 * const bad = Primitive.make("bad", (_: string) => Effect.fail("no"))
 * const program = Coordination.coordinate([bad], Coordination.first()).invoke("task").pipe(
 *   Effect.catchTag("CoordinationFailed", (e) => Effect.succeed(e.outcomes.map((o) => o.status)))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class CoordinationFailed extends Schema.TaggedError<CoordinationFailed>()("CoordinationFailed", {
  strategy: Schema.String,
  /** How many successful branches the strategy needed. */
  required: Schema.Number,
  reason: Schema.String,
  outcomes: Schema.Array(BranchOutcome)
}) {
  override get message(): string {
    const counts = this.outcomes.map((o) => `${o.agent}: ${o.status} (${o.reason})`).join("; ")
    return `coordinate(${this.strategy}) failed: ${this.reason} [${counts}]`
  }
}

/**
 * A channel name is not of the form `domain.entity.action` (three lower-case segments of
 * letters, digits, `_` or `-`, each starting with a letter; `*` is allowed as a whole segment in
 * subscriptions only).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/agents"
 *
 * const program = EventBus.validateChannel("Meeting.Joined").pipe(
 *   Effect.catchTag("InvalidChannel", (e) => Effect.succeed(e.channel))
 * )
 * ```
 *
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
 * import { CoordinationErrors } from "@braid/agents"
 *
 * const e = new CoordinationErrors.InvalidEvent({ channel: "a.b.c", issues: ["expected string"], payload: 1 })
 * ```
 *
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
 * import { CoordinationErrors } from "@braid/agents"
 *
 * const e = new CoordinationErrors.EventBusError({ operation: "publish", reason: "connection closed" })
 * ```
 *
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
 * import { CoordinationErrors } from "@braid/agents"
 *
 * const e = new CoordinationErrors.RequestTimedOut({ from: "planner", to: "critic", requestId: "r1", timeoutMillis: 1000 })
 * ```
 *
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
 * import { CoordinationErrors } from "@braid/agents"
 *
 * const e = new CoordinationErrors.MessageStoreError({ operation: "append", reason: "disk full" })
 * ```
 *
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
 * import { CoordinationErrors } from "@braid/agents"
 *
 * const e = new CoordinationErrors.MessageInvalid({ field: "body", path: "n", reason: "a BigInt has no JSON form" })
 * ```
 *
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
 * A meeting action was taken out of order: starting twice, speaking out of turn, the host
 * leaving, a non-host ending, joining an ended meeting, ...; or its input did not decode (a
 * reply that is neither a string nor `{ text, tokens?, costUsd? }`, `tokens: NaN`, a name that
 * is not a non-empty string): then `path` says where, and nothing in the meeting changed.
 *
 * @example
 * ```ts
 * import { CoordinationErrors } from "@braid/agents"
 *
 * const e = new CoordinationErrors.MeetingActionRejected({
 *   meetingId: "m1", action: "start", participant: "bob", state: "scheduled", reason: "only the host can start"
 * })
 * ```
 *
 * @since 0.1.0
 */
export class MeetingActionRejected extends Schema.TaggedError<MeetingActionRejected>()("MeetingActionRejected", {
  meetingId: Schema.String,
  action: Schema.Literal("make", "attend", "start", "speak", "leave", "end", "run"),
  participant: Schema.String,
  state: Schema.String,
  reason: Schema.String,
  /** For an invalid input: where in it (`(root)`, `tokens`, `host.name`). */
  path: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const where = this.path !== undefined ? ` (at ${this.path})` : ""
    return `meeting ${this.meetingId}: ${this.participant} cannot ${this.action} (${this.state}): ${this.reason}${where}`
  }
}

/**
 * The meeting store failed (SQL error).
 *
 * @example
 * ```ts
 * import { CoordinationErrors } from "@braid/agents"
 *
 * const e = new CoordinationErrors.MeetingStoreError({ operation: "append", reason: "locked" })
 * ```
 *
 * @since 0.1.0
 */
export class MeetingStoreError extends Schema.TaggedError<MeetingStoreError>()("MeetingStoreError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `meeting store ${this.operation} failed: ${this.reason}`
  }
}
