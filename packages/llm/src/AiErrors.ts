/**
 * How Braid's typed errors travel through `@effect/ai`'s port.
 *
 * `@effect/ai` fixes the error channel of a `LanguageModel` call to `AiError` (plus the
 * handler errors of the tools). Braid does not widen it: a Braid adapter fails with an
 * `AiError` that **carries** the Braid `ModelError`:
 *
 * - it is the `AiError` variant that says the same thing to any `@effect/ai` user
 *   (`RateLimited` → `HttpResponseError` with status 429 and a `retry-after-ms` header,
 *   `ConnectionFailed` / `ModelTimeout` → `HttpRequestError` `Transport`, `InvalidRequest` →
 *   `MalformedInput`, `MalformedResponse` → `MalformedOutput`, budgets and cassettes →
 *   `UnknownError`), its `description` the Braid message (already scrubbed of secrets);
 * - and it has three more fields: `transient`, `retryAfterMillis` (the structural contract
 *   of `@braid/resilience`'s retry policy, so `Retry` works on these errors unchanged) and
 *   `modelError`, the Braid error itself.
 *
 * `toModelError` is the classifier back: it returns the carried error, and classifies the
 * `AiError`s of other providers (e.g. `@effect/ai-openai`) by variant, status and headers, so
 * every provider's errors read as Braid's `ModelError` with `transient` and `retryAfterMillis`.
 *
 * @since 0.2.0
 */
import * as AiError from "@effect/ai/AiError"
import { Effect, Option, Predicate } from "effect"
import * as Errors from "./Errors.js"
import { redact, redactUrl } from "./internal/redact.js"

/**
 * The fields an `AiError` raised by Braid carries on top of its variant's.
 *
 * @since 0.2.0
 * @category models
 */
export interface Carried {
  /** Should a retry policy try again? */
  readonly transient: boolean
  /** The provider's retry-after hint, when it sent one. */
  readonly retryAfterMillis?: number | undefined
  /** The Braid error. */
  readonly modelError: Errors.ModelError
}

/**
 * An `AiError` that carries a Braid `ModelError`.
 *
 * @since 0.2.0
 * @category models
 */
export type CarryingAiError = AiError.AiError & Carried

/**
 * Where an error happened, for the `module` / `method` of the `AiError` (and the URL of an HTTP
 * error, without query or credentials).
 *
 * @since 0.2.0
 * @category models
 */
export interface Where {
  readonly module: string
  readonly method: string
  readonly url?: string | undefined
}

const statusOf = (error: Errors.ModelError): number | undefined => {
  switch (error._tag) {
    case "BadRequest":
      return error.status ?? 400
    case "AuthenticationFailed":
      return error.status ?? 401
    case "RateLimited":
      return 429
    case "Overloaded":
      return 529
    case "ServerError":
      return error.status
    default:
      return undefined
  }
}

const retryAfterOf = (error: Errors.ModelError): number | undefined =>
  "retryAfterMillis" in error && typeof error.retryAfterMillis === "number" ? error.retryAfterMillis : undefined

const request = (where: Where) => ({
  method: "POST" as const,
  url: where.url ?? "",
  urlParams: [] as ReadonlyArray<readonly [string, string]>,
  hash: Option.none<string>(),
  headers: {}
})

/**
 * The `AiError` carrying `error` (see the module's documentation for the variant chosen).
 *
 * @example
 * ```ts
 * import { AiErrors, Errors } from "@braid/llm"
 *
 * const e = AiErrors.fromModelError(
 *   new Errors.RateLimited({ message: "HTTP 429", retryAfterMillis: 2000 }),
 *   { module: "AnthropicLanguageModel", method: "generateText" }
 * )
 * // e._tag === "HttpResponseError", e.response.status === 429, e.transient === true, e.retryAfterMillis === 2000
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromModelError = (error: Errors.ModelError, where: Where): CarryingAiError => {
  const base = { module: where.module, method: where.method, description: error.message }
  const retryAfterMillis = retryAfterOf(error)
  const status = statusOf(error)
  let out: AiError.AiError
  if (status !== undefined) {
    out = new AiError.HttpResponseError({
      ...base,
      reason: "StatusCode",
      request: request(where),
      response: {
        status,
        headers: retryAfterMillis !== undefined ? { "retry-after-ms": String(retryAfterMillis) } : {}
      }
    }, { disableValidation: true })
  } else {
    switch (error._tag) {
      case "ConnectionFailed":
      case "ModelTimeout":
        out = new AiError.HttpRequestError({ ...base, reason: "Transport", request: request(where) }, {
          disableValidation: true
        })
        break
      case "InvalidRequest":
        out = new AiError.MalformedInput(base, { disableValidation: true })
        break
      case "MalformedResponse":
        out = new AiError.MalformedOutput(base, { disableValidation: true })
        break
      default:
        out = new AiError.UnknownError(base, { disableValidation: true })
    }
  }
  // the carried fields are set once, right after construction: the value is never seen without them
  return Object.assign(out, {
    transient: error.transient,
    ...(retryAfterMillis !== undefined ? { retryAfterMillis } : {}),
    modelError: error
  })
}

/**
 * Does this `AiError` (or any value) carry a Braid error?
 *
 * @example
 * ```ts
 * import { AiErrors, Errors } from "@braid/llm"
 *
 * AiErrors.isCarrying(AiErrors.fromModelError(new Errors.Overloaded({ message: "busy" }), { module: "m", method: "x" })) // true
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isCarrying = (u: unknown): u is CarryingAiError =>
  AiError.isAiError(u) && Predicate.hasProperty(u, "modelError") && Errors.isModelError(u.modelError)

const header = (headers: Readonly<Record<string, string>>, name: string): string | undefined => {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v
  return undefined
}

/**
 * The retry-after hint of HTTP response headers (`retry-after-ms`, else `retry-after` in
 * seconds or as an HTTP date), in milliseconds.
 *
 * @example
 * ```ts
 * import { AiErrors } from "@braid/llm"
 *
 * AiErrors.retryAfterFromHeaders({ "retry-after": "3" }) // 3000
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const retryAfterFromHeaders = (
  headers: Readonly<Record<string, string>>,
  now: number = Date.now()
): number | undefined => {
  const ms = header(headers, "retry-after-ms")
  if (ms !== undefined && Number.isFinite(parseFloat(ms))) return Math.max(0, parseFloat(ms))
  const s = header(headers, "retry-after")
  if (s === undefined) return undefined
  const seconds = parseFloat(s)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(s)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const describeAi = (error: AiError.AiError): string => {
  const d = "description" in error && typeof error.description === "string" ? error.description : undefined
  const reason = error._tag === "HttpResponseError"
    ? `${error._tag} ${error.reason} (status ${error.response.status})`
    : error._tag === "HttpRequestError"
    ? `${error._tag} ${error.reason}`
    : error._tag
  // scrubbed: foreign providers put request headers (the API key) in descriptions and bodies
  return redact(`${error.module}.${error.method}: ${d === undefined ? reason : `${reason}: ${d}`}`)
}

/** The body of a failed read names a transport failure (the connection dropped midway). */
const transportFailure = /terminated|ECONNRESET|socket hang up|other side closed|premature close|aborted|EPIPE/i

/**
 * The classifier: the Braid `ModelError` of any error of the port. An `AiError` raised by Braid
 * gives back the error it carries; another provider's `AiError` is classified by variant
 * (`HttpResponseError` by status: 401/403 authentication, 408 timeout, 429 rate limited with
 * the retry-after header, 529 overloaded, other 5xx server error, other 4xx bad request;
 * `Decode` / `EmptyBody` malformed; `HttpRequestError` `Transport` connection failed, else
 * invalid request; `MalformedInput` invalid request; `MalformedOutput` malformed response,
 * transient; `UnknownError` a malformed response that is not transient). A `ModelError` is
 * returned as it is; anything else is a non-transient `MalformedResponse`.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Ai, AiErrors } from "@braid/llm"
 *
 * const foreign = new Ai.AiError.HttpResponseError({
 *   module: "OpenAiClient", method: "createResponse", reason: "StatusCode",
 *   request: { method: "POST", url: "https://api.openai.com/v1/responses", urlParams: [], hash: Option.none(), headers: {} },
 *   response: { status: 429, headers: { "retry-after": "2" } }
 * })
 * const e = AiErrors.toModelError(foreign) // RateLimited, retryAfterMillis 2000, transient
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const toModelError = (error: unknown): Errors.ModelError => {
  if (Errors.isModelError(error)) return error
  if (isCarrying(error)) return error.modelError
  if (!AiError.isAiError(error)) {
    return new Errors.MalformedResponse({
      message: redact(`unexpected error: ${error instanceof Error ? error.message : String(error)}`),
      transient: false
    })
  }
  const message = describeAi(error)
  switch (error._tag) {
    case "HttpResponseError": {
      const status = error.response.status
      if (error.reason === "Decode") {
        // a stream's body failing to read is a dropped connection (its undecodable events are skipped)
        return error.method === "streamRequest" || transportFailure.test(error.body ?? "")
          ? new Errors.ConnectionFailed({ message })
          : new Errors.MalformedResponse({ message })
      }
      if (error.reason !== "StatusCode") return new Errors.MalformedResponse({ message })
      const hint = retryAfterFromHeaders(error.response.headers)
      const retry = hint !== undefined ? { retryAfterMillis: hint } : {}
      if (status === 401 || status === 403) return new Errors.AuthenticationFailed({ message, status })
      if (status === 408) return new Errors.ModelTimeout({ message })
      if (status === 429) return new Errors.RateLimited({ message, ...retry })
      if (status === 529) return new Errors.Overloaded({ message, ...retry })
      if (status >= 500) return new Errors.ServerError({ message, status, ...retry })
      return new Errors.BadRequest({ message, status })
    }
    case "HttpRequestError":
      return error.reason === "Transport"
        ? new Errors.ConnectionFailed({ message })
        : new Errors.InvalidRequest({ message, field: "(request)" })
    case "MalformedInput":
      return new Errors.InvalidRequest({ message, field: "(input)" })
    case "MalformedOutput":
      return new Errors.MalformedResponse({ message })
    case "UnknownError":
      return new Errors.MalformedResponse({ message, transient: false })
  }
}

/**
 * Any error of the port as an `AiError` carrying its Braid error: a carrying error as it is, a
 * `ModelError` wrapped, another provider's `AiError` classified (`toModelError`) and rebuilt with
 * its module, method and URL (without query), so nothing of the original request (its headers,
 * the API key) or of its body travels on. `Metered` does this to every error that leaves it.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Ai, AiErrors } from "@braid/llm"
 *
 * const foreign = new Ai.AiError.HttpResponseError({
 *   module: "OpenAiClient", method: "createResponse", reason: "StatusCode",
 *   request: {
 *     method: "POST", url: "https://api.openai.com/v1/responses", urlParams: [], hash: Option.none(),
 *     headers: { authorization: "Bearer sk-secret-key-0000" }
 *   },
 *   response: { status: 503, headers: {} }
 * })
 * const e = AiErrors.toCarrying(foreign) // e.modelError._tag === "ServerError", e.request.headers {}
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const toCarrying = (error: AiError.AiError | Errors.ModelError): CarryingAiError => {
  if (isCarrying(error)) return error
  if (Errors.isModelError(error)) return fromModelError(error, { module: "Braid", method: "call" })
  const url = error._tag === "HttpRequestError" || error._tag === "HttpResponseError"
    ? redactUrl(error.request.url)
    : undefined
  return fromModelError(toModelError(error), { module: error.module, method: error.method, url })
}

/**
 * Should a retry policy try again? Any error of the port (carried, foreign `AiError` by its
 * classification, or a `ModelError`); `false` for anything else.
 *
 * @example
 * ```ts
 * import { AiErrors, Errors } from "@braid/llm"
 *
 * AiErrors.isTransient(new Errors.Overloaded({ message: "busy" })) // true
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isTransient = (error: unknown): boolean =>
  (Errors.isModelError(error) || AiError.isAiError(error)) && toModelError(error).transient

/**
 * The retry-after hint of any error of the port, in milliseconds.
 *
 * @example
 * ```ts
 * import { AiErrors, Errors } from "@braid/llm"
 *
 * AiErrors.retryAfterMillis(new Errors.RateLimited({ message: "slow down", retryAfterMillis: 500 })) // 500
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const retryAfterMillis = (error: unknown): number | undefined =>
  Errors.isModelError(error) || AiError.isAiError(error) ? retryAfterOf(toModelError(error)) : undefined

/**
 * Maps the `AiError`s of an effect to Braid's `ModelError` (other errors, e.g. a tool handler's,
 * pass through).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ai, AiErrors } from "@braid/llm"
 *
 * const typed = Ai.LanguageModel.generateText({ prompt: "hi" }).pipe(AiErrors.mapToModelError)
 * // Effect<GenerateTextResponse<{}>, ModelError, LanguageModel>
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const mapToModelError = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, AiError.AiError> | Errors.ModelError, R> =>
  Effect.mapError(
    self,
    (e): Exclude<E, AiError.AiError> | Errors.ModelError =>
      AiError.isAiError(e) ? toModelError(e) : e as Exclude<E, AiError.AiError>
  )
