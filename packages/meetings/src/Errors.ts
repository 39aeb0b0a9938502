/**
 * The typed errors of `@braid/meetings`. Every error is a `Schema.TaggedError`, so it can be persisted
 * or sent across a process boundary and still be matched with `Effect.catchTag`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A meeting action was taken out of order: starting twice, speaking out of turn, the host
 * leaving, a non-host ending, joining an ended meeting, ...; or its input did not decode (a
 * reply that is neither a string nor `{ text, tokens?, costUsd? }`, `tokens: NaN`, a name that
 * is not a non-empty string): then `path` says where, and nothing in the meeting changed.
 *
 * @example
 * ```ts
 * import { Errors as CoordinationErrors } from "@braid/meetings"
 *
 * const e = new CoordinationErrors.MeetingActionRejected({
 *   meetingId: "m1", action: "start", participant: "bob", state: "scheduled", reason: "only the host can start"
 * })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class MeetingActionRejected extends Schema.TaggedError<MeetingActionRejected>()("MeetingActionRejected", {
  meetingId: Schema.String,
  action: Schema.Literal("make", "attend", "start", "speak", "leave", "end", "run", "invite", "accept", "decline"),
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
 * import { Errors as CoordinationErrors } from "@braid/meetings"
 *
 * const e = new CoordinationErrors.MeetingStoreError({ operation: "append", reason: "locked" })
 * ```
 *
 * @category errors
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

/**
 * A remote participant (an agent in another process, reached over the `EventBus`) did not answer
 * its turn within its bound, or answered with an error: its turn is recorded as `failed` with
 * this reason, and the meeting moves on.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/meetings"
 *
 * const e = new Errors.RemoteParticipantError({ meetingId: "m1", participant: "ann", reason: "no reply within 30s" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class RemoteParticipantError extends Schema.TaggedError<RemoteParticipantError>()("RemoteParticipantError", {
  meetingId: Schema.String,
  participant: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `meeting ${this.meetingId}: remote participant ${this.participant}: ${this.reason}`
  }
}
