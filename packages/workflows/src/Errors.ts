/**
 * The typed errors of `@braid/workflows`. Every error is a `Schema.TaggedError`, so it can be persisted
 * or sent across a process boundary and still be matched with `Effect.catchTag`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A message was sent to a coaching session that has already completed.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.SessionCompleted({ sessionId: "s1", reason: "idle-timeout" }).message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class SessionCompleted extends Schema.TaggedError<SessionCompleted>()("SessionCompleted", {
  sessionId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `session ${this.sessionId} is completed (${this.reason}); start a new session`
  }
}

/**
 * The meeting history store failed (SQL error), with the operation that failed.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.HistoryStoreError({ operation: "save", reason: "disk full" }).message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class HistoryStoreError extends Schema.TaggedError<HistoryStoreError>()("HistoryStoreError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `meeting history store: ${this.operation} failed: ${this.reason}`
  }
}

/**
 * An extractor's reply (minutes, decisions, action items) did not decode into its Schema.
 * Transient, so the extraction's retry asks again.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.ExtractionInvalid({ extractor: "decisions", reply: "none", reason: "no JSON object in the reply" }).transient // true
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ExtractionInvalid extends Schema.TaggedError<ExtractionInvalid>()("ExtractionInvalid", {
  extractor: Schema.String,
  reply: Schema.String,
  reason: Schema.String,
  transient: Schema.optionalWith(Schema.Boolean, { default: () => true })
}) {
  override get message(): string {
    return `extractor "${this.extractor}" gave an invalid reply (${this.reason}): ${this.reply.slice(0, 120)}`
  }
}

/**
 * The meeting's input was invalid (no agenda, duplicate participant names, ...).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.MeetingConfigInvalid({ reason: "participant names must be unique" }).message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class MeetingConfigInvalid extends Schema.TaggedError<MeetingConfigInvalid>()("MeetingConfigInvalid", {
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid meeting: ${this.reason}`
  }
}
