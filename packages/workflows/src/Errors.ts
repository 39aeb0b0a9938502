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

/**
 * A session store call failed (an SQL error, a dropped connection, no answer within the bound, a
 * stored row that does not decode), with the operation that failed.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.SessionStoreError({ operation: "appendMessage", reason: "connection reset" }).message
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class SessionStoreError extends Schema.TaggedError<SessionStoreError>()("SessionStoreError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `session store: ${this.operation} failed: ${this.reason}`
  }
}

/**
 * No session with this id is visible to the caller: it does not exist, was deleted, or belongs to
 * another user (a learner cannot tell another user's session from a missing one).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.SessionNotFound({ sessionId: "s-1" }).message
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  sessionId: Schema.String
}) {
  override get message(): string {
    return `session ${this.sessionId} not found`
  }
}

/**
 * No scenario with this id exists in the caller's organization.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.ScenarioNotFound({ scenarioId: "first-session" }).message
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class ScenarioNotFound extends Schema.TaggedError<ScenarioNotFound>()("ScenarioNotFound", {
  scenarioId: Schema.String
}) {
  override get message(): string {
    return `scenario ${this.scenarioId} not found`
  }
}

/**
 * A value given to the session store or a practice operation is invalid: `field` is the path of
 * the field at fault (`persona.name`, `skills[0].id`, `limit`), `reason` says what is wrong.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.InvalidInput({ field: "persona.name", reason: "Expected a non empty string" }).message
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid ${this.field === "" ? "input" : this.field}: ${this.reason}`
  }
}

/**
 * The caller's role does not allow the operation (e.g. a learner asking for every user's
 * sessions, or for the usage views).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.Forbidden({ operation: "listSessions", reason: "only an admin can list other users' sessions" }).message
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.operation} is not allowed: ${this.reason}`
  }
}

/**
 * The practice service is at capacity: every session slot is taken and the waiting queue is
 * full, so a new session is refused. Try again when a session ends.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/workflows"
 *
 * new Errors.AtCapacity({ active: 20, queued: 5, maxActive: 20, maxQueued: 5 }).message
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class AtCapacity extends Schema.TaggedError<AtCapacity>()("AtCapacity", {
  active: Schema.Number,
  queued: Schema.Number,
  maxActive: Schema.Number,
  maxQueued: Schema.Number
}) {
  override get message(): string {
    return `the service is at capacity: ${this.active} of ${this.maxActive} sessions active and ${this.queued} of ${this.maxQueued} waiting; try again when a session ends`
  }
}
