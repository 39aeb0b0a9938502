/**
 * The typed errors of `@braid/memory`. Every error is a `Schema.TaggedError`, so it can be persisted
 * or sent across a process boundary and still be matched with `Effect.catchTag`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Why a memory store call failed, when it is known: `"Timeout"` (no answer within the store's
 * `timeout`), `"Corrupt"` (what the store holds does not decode as an entry).
 *
 * @category errors
 * @since 0.2.0
 */
export const MemoryStoreErrorReason = Schema.Literal("Timeout", "Corrupt")

/**
 * @category errors
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
 * import { MemoryStoreError } from "@braid/memory/Errors"
 *
 * const failed = Effect.fail(new MemoryStoreError({ store: "sqlite", operation: "put", message: "disk full" }))
 * const slow = new MemoryStoreError({ store: "redis", operation: "get", message: "no answer within 5000 ms", reason: "Timeout" })
 * ```
 *
 * @category errors
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
 * import { MemoryInputError } from "@braid/memory/Errors"
 *
 * const e = new MemoryInputError({ operation: "store", field: "value.n", key: "\"goal\"", reason: "a BigInt has no JSON form" })
 * e.message // Memory.store "goal": value.n: a BigInt has no JSON form
 * ```
 *
 * @category errors
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
 * import { MemoryDecodeError } from "@braid/memory/Errors"
 *
 * const e = new MemoryDecodeError({ key: "goals", issue: "Expected string, actual 42" })
 * ```
 *
 * @category errors
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
 * import { MemoryScopeUnavailable } from "@braid/memory/Errors"
 *
 * const e = new MemoryScopeUnavailable({ scope: "user" })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class MemoryScopeUnavailable extends Schema.TaggedError<MemoryScopeUnavailable>()("MemoryScopeUnavailable", {
  scope: Schema.String
}) {
  override get message(): string {
    return `no ${this.scope} id in the WorkflowContext: start the run with a ${this.scope}Id to use the ${this.scope} scope`
  }
}
