/**
 * The Anthropic SDK's errors as Braid's `ModelError`s, and the adapter's defaults
 * (`AnthropicLanguageModel`).
 *
 * @internal
 */
import Anthropic from "@anthropic-ai/sdk"
import * as Errors from "../Errors.js"
import { redact } from "./redact.js"

/** The default model. */
export const defaultModel = "claude-sonnet-5-5"

/** The default bound of a call: 10 minutes. */
export const defaultTimeoutMillis = 600_000

const retryAfterMillis = (headers: Headers | undefined): number | undefined => {
  if (!headers || typeof headers.get !== "function") return undefined
  const ms = headers.get("retry-after-ms")
  if (ms !== null && Number.isFinite(parseFloat(ms))) return Math.max(0, parseFloat(ms))
  const s = headers.get("retry-after")
  if (s === null) return undefined
  const seconds = parseFloat(s)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(s)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

/** Network failures as Node's fetch (undici) reports them: the message or the cause says so. */
const networkFailure =
  /fetch failed|terminated|socket|other side closed|ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR|network/i

const isNetworkError = (error: unknown): boolean => {
  const seen = new Set<unknown>()
  let e: unknown = error
  // the error and its causes (bounded: a cause chain may be cyclic)
  for (let i = 0; i < 5 && typeof e === "object" && e !== null && !seen.has(e); i++) {
    seen.add(e)
    const message = e instanceof Error ? e.message : ""
    const code = (e as { readonly code?: unknown }).code
    if (networkFailure.test(message) || (typeof code === "string" && networkFailure.test(code))) return true
    e = (e as { readonly cause?: unknown }).cause
  }
  return false
}

/** A mid-stream `error` event has no HTTP status: its error type says what happened. */
const fromErrorType = (type: string | null | undefined, message: string, hint: { retryAfterMillis?: number }) => {
  switch (type) {
    case "rate_limit_error":
      return new Errors.RateLimited({ message, ...hint })
    case "overloaded_error":
      return new Errors.Overloaded({ message, ...hint })
    case "api_error":
      return new Errors.ServerError({ message, status: 500, ...hint })
    case "authentication_error":
    case "permission_error":
      return new Errors.AuthenticationFailed({ message })
    case "timeout_error":
      return new Errors.ModelTimeout({ message })
    default:
      return new Errors.BadRequest({ message })
  }
}

/**
 * Maps anything the SDK throws to a `ModelError`, with a message scrubbed of `secrets` and of
 * anything that looks like a key or an auth header.
 */
export const toModelError = (
  error: unknown,
  secrets: ReadonlyArray<string>,
  timeoutMillis?: number
): Errors.ModelError => {
  if (Errors.isModelError(error)) return error
  const clean = (s: string) => redact(s, secrets)
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new Errors.ModelTimeout({
      message: `no answer within ${timeoutMillis ?? "the timeout"} ms`,
      ...(timeoutMillis !== undefined ? { timeoutMillis } : {})
    })
  }
  if (error instanceof Anthropic.APIConnectionError) {
    const cause = (error as { cause?: unknown }).cause
    const detail = cause instanceof Error ? cause.message : error.message
    return new Errors.ConnectionFailed({ message: clean(`connection failed: ${detail}`) })
  }
  if (error instanceof Anthropic.APIError) {
    const status = error.status ?? 0
    const apiMessage = error.apiMessage ?? (typeof error.type === "string" ? error.type : "")
    const message = clean(`HTTP ${status}${error.type ? ` ${error.type}` : ""}${apiMessage ? `: ${apiMessage}` : ""}`)
    const retryAfter = retryAfterMillis(error.headers)
    const hint = retryAfter !== undefined ? { retryAfterMillis: retryAfter } : {}
    if (error.status === undefined) return fromErrorType(error.type, message, hint)
    if (status === 401 || status === 403) return new Errors.AuthenticationFailed({ message, status })
    if (status === 429) return new Errors.RateLimited({ message, ...hint })
    if (status === 529 || error.type === "overloaded_error") return new Errors.Overloaded({ message, ...hint })
    if (status === 408) return new Errors.ModelTimeout({ message })
    if (status >= 500) return new Errors.ServerError({ message, status, ...hint })
    return new Errors.BadRequest({ message, status })
  }
  if (error instanceof SyntaxError) {
    return new Errors.MalformedResponse({ message: clean(`response is not valid JSON: ${error.message}`) })
  }
  const msg = error instanceof Error ? error.message : String(error)
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ""
  if (isNetworkError(error)) {
    return new Errors.ConnectionFailed({ message: clean(`connection failed: ${msg}${cause}`) })
  }
  // Not the network: the SDK refused to build or send this request (a TypeError from a value it
  // cannot serialize, its own option checks). Retrying the same request fails the same way.
  if (error instanceof TypeError || error instanceof Anthropic.AnthropicError) {
    return new Errors.InvalidRequest({
      message: clean(`the request could not be sent: ${msg}${cause}`),
      field: "(request)"
    })
  }
  return new Errors.MalformedResponse({ message: clean(`unexpected response: ${msg}${cause}`) })
}
