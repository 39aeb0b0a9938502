/**
 * The typed errors of a model call.
 *
 * Every error carries `transient: boolean` as a field (and, where the provider sends one, a
 * `retryAfterMillis` hint), so a retry policy can decide structurally without importing this
 * package: "retry when `error.transient === true`, wait at least `error.retryAfterMillis`".
 *
 * Messages are sanitized: they never contain the API key, the `Authorization` / `x-api-key`
 * headers or the request body.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const transient = (value: boolean) => Schema.optionalWith(Schema.Boolean, { default: () => value })

/**
 * The request was rejected as invalid (HTTP 400, 404, 413, 422 ...). Not transient: retrying the
 * same request fails the same way.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.BadRequest({ message: "max_tokens: must be positive", status: 400 })
 * // e.transient === false
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  message: Schema.String,
  status: Schema.optional(Schema.Number),
  transient: transient(false)
}) {}

/**
 * The API key is missing, invalid or not allowed to do this (HTTP 401, 403). Not transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.AuthenticationFailed({ message: "invalid x-api-key", status: 401 })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthenticationFailed extends Schema.TaggedError<AuthenticationFailed>()("AuthenticationFailed", {
  message: Schema.String,
  status: Schema.optional(Schema.Number),
  transient: transient(false)
}) {}

/**
 * Too many requests (HTTP 429). Transient; `retryAfterMillis` is the provider's `retry-after` hint.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.RateLimited({ message: "rate limited", retryAfterMillis: 2000 })
 * // e.transient === true
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  message: Schema.String,
  retryAfterMillis: Schema.optional(Schema.Number),
  transient: transient(true)
}) {}

/**
 * The provider is overloaded (Anthropic's HTTP 529). Transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.Overloaded({ message: "overloaded" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {
  message: Schema.String,
  retryAfterMillis: Schema.optional(Schema.Number),
  transient: transient(true)
}) {}

/**
 * The provider failed (HTTP 5xx other than 529). Transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.ServerError({ message: "internal error", status: 500 })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  message: Schema.String,
  status: Schema.Number,
  retryAfterMillis: Schema.optional(Schema.Number),
  transient: transient(true)
}) {}

/**
 * The call took longer than the adapter's timeout. Transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.ModelTimeout({ message: "no answer within 60000 ms", timeoutMillis: 60000 })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ModelTimeout extends Schema.TaggedError<ModelTimeout>()("ModelTimeout", {
  message: Schema.String,
  timeoutMillis: Schema.optional(Schema.Number),
  transient: transient(true)
}) {}

/**
 * The connection could not be made or was dropped (also mid-stream). Transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.ConnectionFailed({ message: "socket hang up" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionFailed extends Schema.TaggedError<ConnectionFailed>()("ConnectionFailed", {
  message: Schema.String,
  transient: transient(true)
}) {}

/**
 * The provider answered with something that is not a valid Messages API response (bad JSON, an
 * unknown stream event order). Transient by default: it is almost always a proxy or network
 * hiccup, and the request itself was valid.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.MalformedResponse({ message: "response body is not JSON" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedResponse extends Schema.TaggedError<MalformedResponse>()("MalformedResponse", {
  message: Schema.String,
  transient: transient(true)
}) {}

/**
 * A run or session spent more than its budget (see `Budget`). Not transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.BudgetExceeded({
 *   message: "run r-1 spent 1200 of 1000 tokens", scope: "run", key: "r-1", unit: "tokens", limit: 1000, spent: 1200
 * })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  message: Schema.String,
  /** `"scope"`: a budget set for part of a program with `Metered.withBudget` (`key` is its name). */
  scope: Schema.Literal("run", "session", "scope"),
  key: Schema.String,
  unit: Schema.Literal("tokens", "usd"),
  limit: Schema.Number,
  spent: Schema.Number,
  transient: transient(false)
}) {}

/**
 * A recorded model was asked for a request that its cassette does not hold. Names the request
 * (fingerprint and a short summary). Not transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.CassetteMiss({ message: "no entry", fingerprint: "ab12", request: "user: hello" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CassetteMiss extends Schema.TaggedError<CassetteMiss>()("CassetteMiss", {
  message: Schema.String,
  fingerprint: Schema.String,
  request: Schema.String,
  transient: transient(false)
}) {}

/**
 * The request itself is not a valid `LanguageModel.Request` (a missing or mistyped field, a
 * non-finite number, a tool schema JSON cannot carry): checked by `LanguageModel.make` before
 * anything is sent, for every adapter. `field` names where (`messages`, `messages[2].content`,
 * `tools[0].inputSchema.x`). Not transient: the same request fails the same way.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.InvalidRequest({ message: "messages: is missing", field: "messages" })
 * // e.transient === false
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  message: Schema.String,
  field: Schema.String,
  transient: transient(false)
}) {}

/**
 * A cassette file of `RecordedLanguageModel` could not be read, is not a cassette (bad JSON, a wrong
 * shape: `reason` says which) or could not be written. Names the file. Not transient.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * const e = new Errors.CassetteError({
 *   message: "the cassette test/c.json is not a cassette: entries[0].kind: expected generate or stream",
 *   file: "test/c.json", reason: "Decode"
 * })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class CassetteError extends Schema.TaggedError<CassetteError>()("CassetteError", {
  message: Schema.String,
  file: Schema.String,
  reason: Schema.Literal("Read", "Parse", "Decode", "Write"),
  transient: transient(false)
}) {}

/**
 * Every error a `LanguageModel` call can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type ModelError =
  | BadRequest
  | AuthenticationFailed
  | RateLimited
  | Overloaded
  | ServerError
  | ModelTimeout
  | ConnectionFailed
  | MalformedResponse
  | BudgetExceeded
  | CassetteMiss
  | InvalidRequest
  | CassetteError

/**
 * The schema of `ModelError` (to persist or send errors).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ModelError = Schema.Union(
  BadRequest,
  AuthenticationFailed,
  RateLimited,
  Overloaded,
  ServerError,
  ModelTimeout,
  ConnectionFailed,
  MalformedResponse,
  BudgetExceeded,
  CassetteMiss,
  InvalidRequest,
  CassetteError
)

const tags: ReadonlySet<string> = new Set([
  "BadRequest",
  "AuthenticationFailed",
  "RateLimited",
  "Overloaded",
  "ServerError",
  "ModelTimeout",
  "ConnectionFailed",
  "MalformedResponse",
  "BudgetExceeded",
  "CassetteMiss",
  "InvalidRequest",
  "CassetteError"
])

/**
 * Is this value a `ModelError`?
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * Errors.isModelError(new Errors.Overloaded({ message: "busy" })) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isModelError = (u: unknown): u is ModelError =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && tags.has(u._tag) &&
  "transient" in u

/**
 * Should a retry policy try again? (`transient === true`.)
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/llm"
 *
 * Errors.isTransient(new Errors.RateLimited({ message: "slow down" })) // true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isTransient = (error: ModelError): boolean => error.transient
