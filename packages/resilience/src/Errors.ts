/**
 * The typed errors of `@braid/resilience`, and the *transient* convention that the retry policy
 * uses by default.
 *
 * Every error names the primitive (or breaker, bulkhead, rate-limit key) that raised it. They are
 * `Schema.TaggedError` classes, so they can be persisted and matched with `Effect.catchTag`.
 *
 * ## The transient contract
 * An error is *transient* (worth retrying) when it is an object with `transient: true`. An error
 * may also carry `retryAfterMillis: number`, a server's hint of how long to wait before retrying;
 * `Retry` honours it (capped at its maximum delay). The LLM package's errors follow this contract;
 * so can yours. `TimeoutError` is transient; `CircuitOpen`, `CapacityExceeded` and `RateLimited`
 * are not (retrying into an open breaker, a full bulkhead or an exhausted limit only adds load),
 * but `CircuitOpen` and `RateLimited` carry `retryAfterMillis` for callers who opt in.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Whether an error is transient: an object with `transient: true`.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * Errors.isTransient({ _tag: "Overloaded", transient: true }) // true
 * Errors.isTransient({ _tag: "BadRequest", transient: false }) // false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isTransient = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { readonly transient?: unknown }).transient === true

/**
 * A server's retry-after hint carried by an error (`retryAfterMillis: number`), if any.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * Errors.retryAfterMillis({ transient: true, retryAfterMillis: 2000 }) // 2000
 * Errors.retryAfterMillis(new Error("x")) // undefined
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const retryAfterMillis = (error: unknown): number | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const hint = (error as { readonly retryAfterMillis?: unknown }).retryAfterMillis
  return typeof hint === "number" && Number.isFinite(hint) && hint >= 0 ? hint : undefined
}

/**
 * The `_tag` of an error, or its constructor name, or its type: the `error.type` recorded on spans.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * Errors.errorType({ _tag: "Overloaded" }) // "Overloaded"
 * Errors.errorType(new TypeError("x")) // "TypeError"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const errorType = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const tag = (error as { readonly _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    return error instanceof Error ? error.name : "object"
  }
  return typeof error
}

const describeError = (error: unknown): string => {
  if (
    typeof error === "object" && error !== null && "message" in error && typeof error.message === "string" &&
    error.message !== ""
  ) {
    return `${errorType(error)}: ${error.message}`
  }
  return errorType(error)
}

/**
 * A policy was built with an option that is out of range or of the wrong type (NaN, a negative
 * or infinite number where a finite one is needed, a rate above 1, a string where a function
 * is expected...). Thrown by the constructor of the policy (`Retry.policy`, `Timeout.within`,
 * `CircuitBreaker.unsafeMake`, `countWindow`, `Bulkhead.unsafeMake`, `Hedge.make`, `Saga.make`,
 * ...) as soon as it is called, before anything runs; the Effect constructors (`make`) fail
 * with it instead. `option` is the option's path, `policy` the policy it belongs to.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.InvalidOption({ policy: "retry(callModel)", option: "baseDelay", reason: "must be a duration >= 0", received: "-1" })
 * e.message // "retry(callModel): option baseDelay must be a duration >= 0 (got -1)"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  policy: Schema.String,
  option: Schema.String,
  reason: Schema.String,
  received: Schema.String
}) {
  override get message(): string {
    return `${this.policy}: option ${this.option} ${this.reason} (got ${this.received})`
  }
}

/**
 * Every attempt allowed by a retry policy failed with a retryable error. `errors` holds each
 * attempt's error, in order.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.RetryExhausted({ primitive: "callModel", attempts: 3, errors: ["a", "b", "c"] })
 * e.message // "callModel: failed after 3 attempts (last error: string)"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RetryExhausted extends Schema.TaggedError<RetryExhausted>()("RetryExhausted", {
  primitive: Schema.String,
  attempts: Schema.Number,
  errors: Schema.Array(Schema.Unknown)
}) {
  /** The error of the last attempt. */
  get lastError(): unknown {
    return this.errors[this.errors.length - 1]
  }
  override get message(): string {
    return `${this.primitive}: failed after ${this.attempts} attempts (last error: ${describeError(this.lastError)})`
  }
}

/**
 * The work bounded by a timeout did not finish in time and was interrupted. Transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.TimeoutError({ primitive: "callModel", durationMillis: 5000 })
 * e.message // "callModel: timed out after 5000 ms"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  primitive: Schema.String,
  durationMillis: Schema.Number
}) {
  /**
   * Timeouts are worth retrying.
   *
   * @since 0.1.0
   */
  readonly transient = true
  override get message(): string {
    return `${this.primitive}: timed out after ${this.durationMillis} ms`
  }
}

/**
 * Every alternative of a fallback chain failed. `errors` holds each alternative's error, in order.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.FallbackExhausted({ primitive: "reply", alternatives: ["large", "small"], errors: ["x", "y"] })
 * e.message // "reply: all 2 alternatives failed (large: string; small: string)"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class FallbackExhausted extends Schema.TaggedError<FallbackExhausted>()("FallbackExhausted", {
  primitive: Schema.String,
  alternatives: Schema.Array(Schema.String),
  errors: Schema.Array(Schema.Unknown)
}) {
  override get message(): string {
    const detail = this.errors.map((e, i) => `${this.alternatives[i] ?? i}: ${describeError(e)}`).join("; ")
    return `${this.primitive}: all ${this.errors.length} alternatives failed (${detail})`
  }
}

/**
 * A circuit breaker refused the call: it is open, isolated, or half-open with every probe slot
 * taken. `retryAfterMillis` is the time until it admits a probe (`Infinity` when isolated).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.CircuitOpen({ breaker: "anthropic", state: "open", retryAfterMillis: 30000 })
 * e.message // "circuit breaker anthropic is open: call refused (retry after 30000 ms)"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  breaker: Schema.String,
  state: Schema.Literal("open", "half-open", "isolated"),
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    const after = Number.isFinite(this.retryAfterMillis)
      ? ` (retry after ${this.retryAfterMillis} ms)`
      : " (until reset)"
    return `circuit breaker ${this.breaker} is ${this.state}: call refused${after}`
  }
}

/**
 * A bulkhead was full: `maxActive` calls running and `maxQueued` waiting. Raised at once.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.CapacityExceeded({ bulkhead: "sessions", active: 20, queued: 5, maxActive: 20, maxQueued: 5 })
 * e.message // "bulkhead sessions is full: 20/20 active, 5/5 queued; call rejected"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CapacityExceeded extends Schema.TaggedError<CapacityExceeded>()("CapacityExceeded", {
  bulkhead: Schema.String,
  active: Schema.Number,
  queued: Schema.Number,
  maxActive: Schema.Number,
  maxQueued: Schema.Number
}) {
  override get message(): string {
    return `bulkhead ${this.bulkhead} is full: ${this.active}/${this.maxActive} active, ${this.queued}/${this.maxQueued} queued; call rejected`
  }
}

/**
 * A rate limit refused the call. `key` is the limit that refused (e.g. `user:42` or `global`);
 * `retryAfterMillis` is when enough capacity will be back (`Infinity` if the cost exceeds the limit).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.RateLimited({ primitive: "callModel", key: "user:42", retryAfterMillis: 1500 })
 * e.message // "callModel: rate limit user:42 exceeded (retry after 1500 ms)"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  primitive: Schema.String,
  key: Schema.String,
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    const after = Number.isFinite(this.retryAfterMillis)
      ? `retry after ${this.retryAfterMillis} ms`
      : "cost exceeds the limit"
    return `${this.primitive}: rate limit ${this.key} exceeded (${after})`
  }
}

/**
 * A compensation that failed while a saga was rolling back.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const failure: Errors.CompensationFailure = { step: "charge", error: "refund refused" }
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const CompensationFailure = Schema.Struct({ step: Schema.String, error: Schema.Unknown })

/**
 * @category errors
 * @since 0.1.0
 */
export type CompensationFailure = typeof CompensationFailure.Type

/**
 * A saga step failed. The compensations of the steps completed before it ran in reverse order;
 * those that failed are listed in `compensationFailures`.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.SagaFailed({ primitive: "booking", failedStep: "charge", error: "declined", compensationFailures: [] })
 * e.message // "booking: step charge failed (string); all compensations ran"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class SagaFailed extends Schema.TaggedError<SagaFailed>()("SagaFailed", {
  primitive: Schema.String,
  failedStep: Schema.String,
  error: Schema.Unknown,
  compensationFailures: Schema.Array(CompensationFailure)
}) {
  override get message(): string {
    const comp = this.compensationFailures.length === 0
      ? "all compensations ran"
      : `compensations failed: ${
        this.compensationFailures.map((f) => `${f.step} (${describeError(f.error)})`).join(", ")
      }`
    return `${this.primitive}: step ${this.failedStep} failed (${describeError(this.error)}); ${comp}`
  }
}

/**
 * A store behind a cache or a rate limiter (SQLite, Redis) failed.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.StoreError({ store: "redis", operation: "get", cause: new Error("ECONNREFUSED") })
 * e.message // "redis store: get failed: ECONNREFUSED"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  store: Schema.String,
  operation: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    const c = this.cause
    return `${this.store} store: ${this.operation} failed: ${c instanceof Error ? c.message : String(c)}`
  }
}

/**
 * The cause of a `StoreError` when the store did not answer within its bound (the store's
 * `timeout` option, default `Io.defaultTimeout` from `@braid/core`): the call was abandoned.
 * Transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.StoreError({ store: "redis", operation: "cache.get", cause: new Errors.StoreTimeout({ timeoutMillis: 5000 }) })
 * e.message // "redis store: cache.get failed: no answer within 5000 ms"
 * ```
 *
 * @category errors
 * @since 0.2.0
 */
export class StoreTimeout extends Schema.TaggedError<StoreTimeout>()("StoreTimeout", {
  timeoutMillis: Schema.Number
}) {
  /**
   * A store that did not answer in time may answer the next call.
   *
   * @since 0.2.0
   */
  readonly transient = true
  override get message(): string {
    return `no answer within ${this.timeoutMillis} ms`
  }
}

/**
 * A rate-limited call's own input was not acceptable: its cost (from the `cost` option) is not a
 * finite number >= 0, or a limit's key function did not return a string. Nothing was charged.
 * `limit` names the limit concerned (its `name`, or `limit<index>`), when there is one.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/resilience"
 *
 * const e = new Errors.InvalidRateLimitInput({ primitive: "ask", field: "cost", detail: "NaN is not a finite number >= 0" })
 * e.message // "ask: invalid rate-limit cost: NaN is not a finite number >= 0"
 * ```
 *
 * @category errors
 * @since 0.2.0
 */
export class InvalidRateLimitInput extends Schema.TaggedError<InvalidRateLimitInput>()("InvalidRateLimitInput", {
  primitive: Schema.String,
  field: Schema.Literal("cost", "key"),
  limit: Schema.optional(Schema.String),
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.primitive}: invalid rate-limit ${this.field}${
      this.limit === undefined ? "" : ` of ${this.limit}`
    }: ${this.detail}`
  }
}
