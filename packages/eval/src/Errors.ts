/**
 * The typed errors of `@braid/eval`. Every error is a `Schema.TaggedError`, so it can be persisted
 * or sent across a process boundary and still be matched with `Effect.catchTag`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A line of a dataset did not decode. `line` is 1-based; `path` is the path of the bad field in
 * that line's JSON (`messages[2].role`), or `(root)`; the message reads
 * `dataset.jsonl:7: messages[2].role: Expected "user" | "assistant", actual "robot"`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Dataset } from "@braid/eval"
 *
 * const program = Dataset.parse("bad.jsonl", "{}").pipe(
 *   Effect.catchTag("DatasetError", (e) => Effect.succeed(e.message))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class DatasetError extends Schema.TaggedError<DatasetError>()("DatasetError", {
  file: Schema.String,
  line: Schema.Number,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file}:${this.line}: ${this.path}: ${this.reason}`
  }
}

/**
 * A dataset file could not be read at all (missing, unreadable, empty).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/eval"
 *
 * new Errors.DatasetReadError({ file: "d.jsonl", reason: "no such file" }).message // "d.jsonl: no such file"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class DatasetReadError extends Schema.TaggedError<DatasetReadError>()("DatasetReadError", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/**
 * Two evaluation runs cannot be compared (a run is empty, or a metric is missing from one side).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/eval"
 *
 * new Errors.ComparisonError({ reason: "the baseline run has no conversations" }).message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ComparisonError extends Schema.TaggedError<ComparisonError>()("ComparisonError", {
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot compare runs: ${this.reason}`
  }
}

/**
 * The regression gate failed: at least one metric regressed beyond its threshold (or fell under
 * its minimum). `failures` holds one human-readable line per failing metric.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gate } from "@braid/eval"
 *
 * const program = Gate.enforce(Gate.check({ means: { relevance: 0.2 } }, { minimum: { relevance: 0.5 } })).pipe(
 *   Effect.catchTag("RegressionDetected", (e) => Effect.succeed(e.failures))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RegressionDetected extends Schema.TaggedError<RegressionDetected>()("RegressionDetected", {
  failures: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `regression gate failed:\n  ${this.failures.join("\n  ")}`
  }
}

/**
 * An evaluation of one conversation failed after its retries (the judge kept failing or its
 * verdict never decoded).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/eval"
 *
 * new Errors.EvaluationFailed({ conversationId: "c1", metric: "relevance", reason: "RetryExhausted" }).message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class EvaluationFailed extends Schema.TaggedError<EvaluationFailed>()("EvaluationFailed", {
  conversationId: Schema.String,
  metric: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `evaluation of ${this.conversationId} (${this.metric}) failed: ${this.reason}`
  }
}

/**
 * The evaluation result store failed (SQL error), with the operation that failed.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/eval"
 *
 * new Errors.ResultStoreError({ operation: "put", reason: "disk full" }).message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ResultStoreError extends Schema.TaggedError<ResultStoreError>()("ResultStoreError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `evaluation result store: ${this.operation} failed: ${this.reason}`
  }
}

/**
 * A judge's reply was not a valid verdict (not JSON, or not `{ score: 0..1, reason }`). Marked
 * transient, so the evaluation's retry policy asks again.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/eval"
 *
 * new Errors.JudgeVerdictInvalid({ metric: "relevance", reply: "great!", reason: "no JSON object in the reply" }).transient // true
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class JudgeVerdictInvalid extends Schema.TaggedError<JudgeVerdictInvalid>()("JudgeVerdictInvalid", {
  metric: Schema.String,
  reply: Schema.String,
  reason: Schema.String,
  transient: Schema.optionalWith(Schema.Boolean, { default: () => true })
}) {
  override get message(): string {
    return `judge "${this.metric}" gave an invalid verdict (${this.reason}): ${this.reply.slice(0, 120)}`
  }
}
