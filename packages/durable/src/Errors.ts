/**
 * The typed errors of `@braid/durable`. Every error is a `Schema.TaggedError`: a run's failure is
 * journaled by the engine and read back by another process, so it must encode.
 *
 * @since 0.3.0
 */
import { Schema } from "effect"

/**
 * A replay reached a journaled step whose recorded request differs from the one the code makes
 * now (the code changed between the run and its replay, or it is not deterministic): the run
 * fails instead of returning the stale journaled result.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/durable"
 *
 * const e = new Errors.NonDeterminism({ key: "plan/callModel#0", recorded: "ab12", replayed: "cd34" })
 * e.message // "Non-determinism at plan/callModel#0: the journal recorded request ab12, the code now makes cd34"
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class NonDeterminism extends Schema.TaggedError<NonDeterminism>()("NonDeterminism", {
  /** The journal key of the step (path, name and counter). */
  key: Schema.String,
  /** The request hash recorded in the journal. */
  recorded: Schema.String,
  /** The request hash the code made on replay. */
  replayed: Schema.String
}) {
  override get message(): string {
    return `Non-determinism at ${this.key}: the journal recorded request ${this.recorded}, the code now makes ${this.replayed}`
  }
}

/**
 * A journaled value (a run's input, a step's result, a signal's payload) no longer decodes with
 * the schema the code has now: an incompatible schema change. Adding an optional field is
 * compatible; removing or retyping a required one is not.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/durable"
 *
 * new Errors.IncompatibleVersion({ what: "input of workflow session", path: "turns", reason: "is missing" }).message
 * // "Incompatible schema change: input of workflow session at turns: is missing"
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class IncompatibleVersion extends Schema.TaggedError<IncompatibleVersion>()("IncompatibleVersion", {
  /** Which journaled value: `input of workflow X`, `step Y`, `signal Z`. */
  what: Schema.String,
  /** The path of the first bad field, `(root)` for the value itself. */
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Incompatible schema change: ${this.what} at ${this.path}: ${this.reason}`
  }
}

/**
 * No run with this id was started (a signal or a status query for an unknown run).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/durable"
 *
 * new Errors.RunNotFound({ workflow: "session", runId: "r1" }).message // "No run r1 of workflow session"
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()("RunNotFound", {
  workflow: Schema.String,
  runId: Schema.String
}) {
  override get message(): string {
    return `No run ${this.runId} of workflow ${this.workflow}`
  }
}

/**
 * A signal was sent to a run that has already completed.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/durable"
 *
 * new Errors.RunCompleted({ workflow: "session", runId: "r1", signal: "turn-2" }).message
 * // "Run r1 of workflow session has completed: signal turn-2 not delivered"
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class RunCompleted extends Schema.TaggedError<RunCompleted>()("RunCompleted", {
  workflow: Schema.String,
  runId: Schema.String,
  signal: Schema.String
}) {
  override get message(): string {
    return `Run ${this.runId} of workflow ${this.workflow} has completed: signal ${this.signal} not delivered`
  }
}

/**
 * A wait for a signal ended at its timeout without the signal.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/durable"
 *
 * new Errors.SignalTimeout({ signal: "turn-2", timeoutMillis: 60000 }).message
 * // "No signal turn-2 within 60000 ms"
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class SignalTimeout extends Schema.TaggedError<SignalTimeout>()("SignalTimeout", {
  signal: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `No signal ${this.signal} within ${this.timeoutMillis} ms`
  }
}

/**
 * Bad input at a public entry of `@braid/durable`: a value that does not encode with its schema
 * (a run's input, a signal's payload), a signal name or key that is not usable.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/durable"
 *
 * new Errors.InvalidInput({ where: "signal turn-1", path: "text", reason: "Expected string, actual 3" }).message
 * // "Invalid input to signal turn-1 at text: Expected string, actual 3"
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  where: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid input to ${this.where} at ${this.path}: ${this.reason}`
  }
}

/**
 * The store of Braid's run status (not the journal: the engine owns that) failed or did not
 * answer within its bound.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/durable"
 *
 * new Errors.StatusStoreError({ operation: "get", reason: "timed out after 5000 ms" }).message
 * // "Run status store get failed: timed out after 5000 ms"
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class StatusStoreError extends Schema.TaggedError<StatusStoreError>()("StatusStoreError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Run status store ${this.operation} failed: ${this.reason}`
  }
}

/**
 * A durable engine could not start: its database did not open, its tables could not be created,
 * its configuration is invalid.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/durable"
 *
 * new Errors.EngineError({ engine: "sqlite", reason: "unable to open database file" }).message
 * // "The sqlite durable engine did not start: unable to open database file"
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class EngineError extends Schema.TaggedError<EngineError>()("EngineError", {
  engine: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `The ${this.engine} durable engine did not start: ${this.reason}`
  }
}
