/**
 * The typed errors of `@braid/agents`. Every error is a `Schema.TaggedError`, so it can be persisted
 * or sent across a process boundary and still be matched with `Effect.catchTag`.
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
 * import { Errors as CoordinationErrors } from "@braid/agents"
 *
 * const outcome = Schema.decodeUnknownSync(CoordinationErrors.BranchOutcome)({
 *   agent: "a", index: 0, status: "timed-out", reason: "no answer within 1s", durationMillis: 1000
 * })
 * ```
 *
 * @category errors
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
 * @category errors
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
 * @category errors
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
 * A tool called by an agent failed (after its policies: each attempt bounded by the tool's
 * timeout, transient failures retried), its result has no JSON form, or the model called a tool
 * the agent does not have. (Arguments that do not decode with the tool's parameter Schema are
 * the model's malformed output: `@effect/ai` refuses the response, a transient `ModelError`.)
 *
 * @example
 * ```ts
 * import { ToolError } from "@braid/agents/Errors"
 *
 * const e = new ToolError({ agent: "coach", tool: "lookup", message: "not found" })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ToolError extends Schema.TaggedError<ToolError>()("ToolError", {
  agent: Schema.String,
  tool: Schema.String,
  /** The id of the model's tool call, when the failure is that of a call. */
  callId: Schema.optional(Schema.String),
  message: Schema.String,
  /** The tool's own error (its handler's failure, a `TimeoutError`, a `RetryExhausted`). */
  error: Schema.optional(Schema.Unknown)
}) {}

/**
 * The model kept calling tools past the agent's `maxToolIterations`.
 *
 * @example
 * ```ts
 * import { ToolIterationsExceeded } from "@braid/agents/Errors"
 *
 * const e = new ToolIterationsExceeded({ agent: "coach", maxIterations: 5 })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ToolIterationsExceeded extends Schema.TaggedError<ToolIterationsExceeded>()("ToolIterationsExceeded", {
  agent: Schema.String,
  maxIterations: Schema.Number
}) {
  override get message(): string {
    return `${this.agent}: still calling tools after ${this.maxIterations} iterations`
  }
}

/**
 * A handoff payload did not decode with the handoff's payload Schema. `path` is the first bad
 * field.
 *
 * @example
 * ```ts
 * import { HandoffPayloadError } from "@braid/agents/Errors"
 *
 * const e = new HandoffPayloadError({ from: "triage", to: "billing", path: "invoiceId", message: "is missing" })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class HandoffPayloadError extends Schema.TaggedError<HandoffPayloadError>()("HandoffPayloadError", {
  from: Schema.String,
  to: Schema.String,
  path: Schema.String,
  message: Schema.String
}) {}

/**
 * A conditional handoff chose a target that is not among its candidates.
 *
 * @example
 * ```ts
 * import { UnknownHandoffTarget } from "@braid/agents/Errors"
 *
 * const e = new UnknownHandoffTarget({ from: "triage", target: "legal", candidates: ["billing", "tech"] })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class UnknownHandoffTarget extends Schema.TaggedError<UnknownHandoffTarget>()("UnknownHandoffTarget", {
  from: Schema.String,
  target: Schema.String,
  candidates: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `${this.from}: no handoff candidate named "${this.target}" (candidates: ${this.candidates.join(", ")})`
  }
}

/**
 * An agent's reply (`Agent.structured`) held no JSON, or its JSON did not decode with the
 * output Schema. `path` is the first bad field (`(root)` when there is no JSON at all),
 * `message` says what is wrong there, `reply` is the start of the reply (at most 500
 * characters). Transient, so `Retry.policy` asks again by default.
 *
 * @example
 * ```ts
 * import { StructuredOutputInvalid } from "@braid/agents/Errors"
 *
 * const e = new StructuredOutputInvalid({
 *   agent: "judge", path: "score", message: "invalid output at score: Expected number, actual \"high\"", reply: "{\"score\": \"high\"}"
 * })
 * e.transient // true
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class StructuredOutputInvalid extends Schema.TaggedError<StructuredOutputInvalid>()("StructuredOutputInvalid", {
  agent: Schema.String,
  path: Schema.String,
  message: Schema.String,
  reply: Schema.String,
  transient: Schema.optionalWith(Schema.Boolean, { default: () => true })
}) {}
