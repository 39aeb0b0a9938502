/**
 * The typed errors of `@braid/agents`. Every error is a `Schema.TaggedError`, so it can be
 * persisted or sent across a process boundary and still be matched with `Effect.catchTag`.
 *
 * This file is shared: each part of the package appends its own section below.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

/**
 * Why a memory store call failed, when it is known: `"Timeout"` (no answer within the store's
 * `timeout`), `"Corrupt"` (what the store holds does not decode as an entry).
 *
 * @since 0.2.0
 */
export const MemoryStoreErrorReason = Schema.Literal("Timeout", "Corrupt")

/**
 * @since 0.2.0
 */
export type MemoryStoreErrorReason = typeof MemoryStoreErrorReason.Type

/**
 * A memory store failed (connection, SQL, Redis, a call that timed out, stored data that does
 * not decode). `reason` says which, when it is one of the known kinds.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MemoryStoreError } from "@braid/agents/Errors"
 *
 * const failed = Effect.fail(new MemoryStoreError({ store: "sqlite", operation: "put", message: "disk full" }))
 * const slow = new MemoryStoreError({ store: "redis", operation: "get", message: "no answer within 5000 ms", reason: "Timeout" })
 * ```
 *
 * @since 0.1.0
 */
export class MemoryStoreError extends Schema.TaggedError<MemoryStoreError>()("MemoryStoreError", {
  store: Schema.String,
  operation: Schema.String,
  message: Schema.String,
  reason: Schema.optional(MemoryStoreErrorReason)
}) {}

/**
 * A memory operation was given something it refuses, before anything was stored or read: a key,
 * tag, agent or scope id that is not well-formed text (a lone surrogate, a NUL, empty or too
 * long), a value with no lossless JSON form (a BigInt, a cycle, NaN, a `"__proto__"` key), or a
 * query or store option of the wrong kind (`limit: 1.5`, `from: NaN`, a `ttl` that is no
 * duration). `operation` is the `Memory` operation, `field` what was wrong (`key`, `tags[1]`,
 * `value.a[2]`, `limit`, `tenantId`), `key` the entry's key (JSON-quoted, shortened) when there
 * is one, `reason` why.
 *
 * @example
 * ```ts
 * import { MemoryInputError } from "@braid/agents/Errors"
 *
 * const e = new MemoryInputError({ operation: "store", field: "value.n", key: "\"goal\"", reason: "a BigInt has no JSON form" })
 * e.message // Memory.store "goal": value.n: a BigInt has no JSON form
 * ```
 *
 * @since 0.2.0
 */
export class MemoryInputError extends Schema.TaggedError<MemoryInputError>()("MemoryInputError", {
  operation: Schema.String,
  field: Schema.String,
  key: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `Memory.${this.operation}${this.key === undefined ? "" : ` ${this.key}`}: ${this.field}: ${this.reason}`
  }
}

/**
 * A typed memory entry (`Memory.forSchema`) did not decode. `key` names the entry.
 *
 * @example
 * ```ts
 * import { MemoryDecodeError } from "@braid/agents/Errors"
 *
 * const e = new MemoryDecodeError({ key: "goals", issue: "Expected string, actual 42" })
 * ```
 *
 * @since 0.1.0
 */
export class MemoryDecodeError extends Schema.TaggedError<MemoryDecodeError>()("MemoryDecodeError", {
  key: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `memory entry "${this.key}" did not decode: ${this.issue}`
  }
}

/**
 * A memory operation asked for a scope the current run has no id for (for example the "user"
 * scope in a run started without a `userId`).
 *
 * @example
 * ```ts
 * import { MemoryScopeUnavailable } from "@braid/agents/Errors"
 *
 * const e = new MemoryScopeUnavailable({ scope: "user" })
 * ```
 *
 * @since 0.1.0
 */
export class MemoryScopeUnavailable extends Schema.TaggedError<MemoryScopeUnavailable>()("MemoryScopeUnavailable", {
  scope: Schema.String
}) {
  override get message(): string {
    return `no ${this.scope} id in the WorkflowContext: start the run with a ${this.scope}Id to use the ${this.scope} scope`
  }
}

// ---------------------------------------------------------------------------------------------
// Agents and tools
// ---------------------------------------------------------------------------------------------

/**
 * A tool called by an agent failed, or the model called a tool that does not exist, or its
 * arguments did not decode with the tool's parameter Schema.
 *
 * @example
 * ```ts
 * import { ToolError } from "@braid/agents/Errors"
 *
 * const e = new ToolError({ agent: "coach", tool: "lookup", message: "not found" })
 * ```
 *
 * @since 0.1.0
 */
export class ToolError extends Schema.TaggedError<ToolError>()("ToolError", {
  agent: Schema.String,
  tool: Schema.String,
  message: Schema.String
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

// ---------------------------------------------------------------------------------------------
// Handoff
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Structured output
// ---------------------------------------------------------------------------------------------

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
 * @since 0.1.0
 */
export class StructuredOutputInvalid extends Schema.TaggedError<StructuredOutputInvalid>()("StructuredOutputInvalid", {
  agent: Schema.String,
  path: Schema.String,
  message: Schema.String,
  reply: Schema.String,
  transient: Schema.optionalWith(Schema.Boolean, { default: () => true })
}) {}
