/**
 * The Anthropic adapter of the `LanguageModel` port, over the official `@anthropic-ai/sdk`.
 *
 * - The SDK is constructed with `maxRetries: 0`: Braid's resilience policies own retries (every
 *   error says whether it is `transient` and carries the `retry-after` hint).
 * - Interrupting the Effect aborts the HTTP request (the SDK gets the `AbortSignal` of
 *   `Effect.tryPromise`; a stream is aborted when its scope closes).
 * - The API key comes from `Config.redacted("ANTHROPIC_API_KEY")` and only reaches the SDK; error
 *   messages are built by Braid and scrubbed of the key and auth headers. The SDK's own
 *   OpenTelemetry spans and logs are turned off: Braid's `chat {model}` span is the only one.
 * - `system: { text, cache: true }` sends the system block with `cache_control: { type: "ephemeral" }`;
 *   `cache_read_input_tokens` / `cache_creation_input_tokens` are mapped to `Usage`.
 *
 * @since 0.1.0
 */
import Anthropic from "@anthropic-ai/sdk"
import type { ConfigError } from "effect"
import { Config, Effect, Layer, Option, Redacted, Stream } from "effect"
import * as Errors from "./Errors.js"
import type { Request, Response, Service, StopReason, StreamEvent, ToolCall, Usage } from "./LanguageModel.js"
import { LanguageModel, make as makeModel } from "./LanguageModel.js"
import { redact } from "./internal/redact.js"
import { estimate, estimateRequest } from "./Tokens.js"

/**
 * The default model.
 *
 * @since 0.1.0
 */
export const defaultModel = "claude-sonnet-5-5"

/**
 * @since 0.1.0
 */
export interface Options {
  /** Default model when a request names none. Default `claude-sonnet-5-5`. */
  readonly model?: string
  /** Overrides `ANTHROPIC_BASE_URL` (default `https://api.anthropic.com`). */
  readonly baseURL?: string
  /** Overrides `ANTHROPIC_API_KEY`. */
  readonly apiKey?: Redacted.Redacted<string>
  /** Per-request timeout; failing with `ModelTimeout`. Default 10 minutes. */
  readonly timeoutMillis?: number
  /** Default `max_tokens` when a request sets none. Default 1024. */
  readonly maxTokens?: number
  /** A custom fetch (tests, proxies). */
  readonly fetch?: (input: string | URL | globalThis.Request, init?: RequestInit) => Promise<globalThis.Response>
}

const mapStop = (reason: string | null | undefined): StopReason => {
  switch (reason) {
    case "end_turn":
    case "max_tokens":
    case "stop_sequence":
    case "tool_use":
    case "refusal":
      return reason
    default:
      return reason === null || reason === undefined ? "end_turn" : "other"
  }
}

const retryAfterMillis = (headers: Headers | undefined): number | undefined => {
  if (!headers || typeof headers.get !== "function") return undefined
  const ms = headers.get("retry-after-ms")
  if (ms !== null && !Number.isNaN(parseFloat(ms))) return parseFloat(ms)
  const s = headers.get("retry-after")
  if (s === null) return undefined
  const seconds = parseFloat(s)
  if (!Number.isNaN(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(s)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

/**
 * Maps anything the SDK throws to a `ModelError`, with a message scrubbed of `secrets` and of
 * anything that looks like a key or an auth header.
 *
 * @example
 * ```ts
 * import { AnthropicModel } from "@braid/llm"
 *
 * const e = AnthropicModel.toModelError(new Error("socket hang up"), [])
 * // e._tag === "ConnectionFailed"
 * ```
 *
 * @since 0.1.0
 */
export const toModelError = (error: unknown, secrets: ReadonlyArray<string>, timeoutMillis?: number): Errors.ModelError => {
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
  if (error instanceof TypeError || /terminated|socket|ECONNRESET|ECONNREFUSED|closed/i.test(msg)) {
    return new Errors.ConnectionFailed({ message: clean(`connection failed: ${msg}${cause}`) })
  }
  return new Errors.MalformedResponse({ message: clean(`unexpected response: ${msg}${cause}`) })
}

/**
 * The Messages API request body for a port request.
 *
 * @example
 * ```ts
 * import { AnthropicModel, LanguageModel } from "@braid/llm"
 *
 * const body = AnthropicModel.toParams(
 *   { system: { text: "You are terse.", cache: true }, messages: [LanguageModel.user("Hi")] },
 *   "claude-sonnet-5-5", 1024
 * )
 * // body.system[0].cache_control → { type: "ephemeral" }
 * ```
 *
 * @since 0.1.0
 */
export const toParams = (request: Request, model: string, maxTokens: number): Anthropic.MessageCreateParamsNonStreaming => {
  const params: Anthropic.MessageCreateParamsNonStreaming = {
    model: request.model ?? model,
    max_tokens: request.maxTokens ?? maxTokens,
    messages: request.messages.map((m) => ({ role: m.role, content: m.content }))
  }
  const sys = request.system
  if (sys !== undefined) {
    if (typeof sys === "string") {
      if (sys !== "") params.system = sys
    } else {
      params.system = [{
        type: "text",
        text: sys.text,
        ...(sys.cache === true ? { cache_control: { type: "ephemeral" as const } } : {})
      }]
    }
  }
  // `temperature` is not in this SDK's typed params any more; the API still reads it when sent.
  if (request.temperature !== undefined) (params as unknown as Record<string, unknown>)["temperature"] = request.temperature
  if (request.stopSequences !== undefined && request.stopSequences.length > 0) params.stop_sequences = [...request.stopSequences]
  if (request.tools !== undefined && request.tools.length > 0) {
    params.tools = request.tools.map((t) => ({
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      input_schema: { type: "object" as const, ...t.inputSchema }
    }))
  }
  return params
}

interface WireUsage {
  readonly input_tokens?: number | null
  readonly output_tokens?: number | null
  readonly cache_read_input_tokens?: number | null
  readonly cache_creation_input_tokens?: number | null
}

const toUsage = (usage: WireUsage | null | undefined, request: Request, text: string): Usage =>
  usage === null || usage === undefined || typeof usage.input_tokens !== "number"
    ? { inputTokens: estimateRequest(request), outputTokens: estimate(text), cacheReadTokens: 0, cacheWriteTokens: 0, estimated: true }
    : {
      inputTokens: usage.input_tokens,
      outputTokens: usage.output_tokens ?? estimate(text),
      cacheReadTokens: usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
      estimated: typeof usage.output_tokens !== "number"
    }

const fromMessage = (message: unknown, request: Request): Response => {
  const m = message as Partial<Anthropic.Message> | null | undefined
  if (typeof m !== "object" || m === null || !Array.isArray(m.content)) {
    throw new Errors.MalformedResponse({ message: "response is not a Messages API message (no content array)" })
  }
  let text = ""
  const toolCalls: Array<ToolCall> = []
  for (const block of m.content) {
    if (block.type === "text") text += block.text
    else if (block.type === "tool_use") toolCalls.push({ id: block.id, name: block.name, input: block.input })
  }
  return {
    text,
    stopReason: mapStop(m.stop_reason),
    model: typeof m.model === "string" ? m.model : request.model ?? "unknown",
    usage: toUsage(m.usage as WireUsage | undefined, request, text),
    ...(toolCalls.length > 0 ? { toolCalls } : {})
  }
}

/**
 * Builds the adapter from resolved settings (no Config reads).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { AnthropicModel } from "@braid/llm"
 *
 * const model = AnthropicModel.makeWith({ apiKey: Redacted.make("sk-ant-..."), baseURL: "http://127.0.0.1:8080" })
 * ```
 *
 * @since 0.1.0
 */
export const makeWith = (
  options: Options & { readonly apiKey: Redacted.Redacted<string> }
): Service => {
  const model = options.model ?? defaultModel
  const maxTokens = options.maxTokens ?? 1024
  const secret = Redacted.value(options.apiKey)
  const secrets = [secret]
  const client = new Anthropic({
    apiKey: secret,
    maxRetries: 0,
    logLevel: "off",
    openTelemetry: false,
    ...(options.baseURL !== undefined ? { baseURL: options.baseURL } : {}),
    ...(options.timeoutMillis !== undefined ? { timeout: options.timeoutMillis } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch as any } : {})
  })
  const fail = (e: unknown) => toModelError(e, secrets, options.timeoutMillis)

  const generate = (request: Request): Effect.Effect<Response, Errors.ModelError> =>
    Effect.tryPromise({
      try: (signal) => client.messages.create(toParams(request, model, maxTokens), { signal }),
      catch: fail
    }).pipe(Effect.flatMap((message) =>
      Effect.try({ try: () => fromMessage(message, request), catch: fail })
    ))

  const stream = (request: Request): Stream.Stream<StreamEvent, Errors.ModelError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const controller = new AbortController()
      yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
      const sdkStream = yield* Effect.tryPromise({
        try: () => client.messages.create({ ...toParams(request, model, maxTokens), stream: true }, { signal: controller.signal }),
        catch: fail
      })
      let text = ""
      let responseModel = request.model ?? model
      let usage: WireUsage = {}
      let stopReason: string | null = null
      let finished = false
      const tools = new Map<number, { id: string; name: string; json: string }>()
      const events = Stream.fromAsyncIterable(sdkStream, fail).pipe(
        Stream.mapConcat((event): ReadonlyArray<StreamEvent> => {
          switch (event.type) {
            case "message_start":
              responseModel = event.message.model
              usage = { ...(event.message.usage as WireUsage) }
              return []
            case "content_block_start":
              if (event.content_block.type === "tool_use") {
                tools.set(event.index, { id: event.content_block.id, name: event.content_block.name, json: "" })
              }
              return []
            case "content_block_delta":
              if (event.delta.type === "text_delta") {
                text += event.delta.text
                return [{ _tag: "TextDelta", text: event.delta.text }]
              }
              if (event.delta.type === "input_json_delta") {
                const t = tools.get(event.index)
                if (t) t.json += event.delta.partial_json
              }
              return []
            case "message_delta": {
              stopReason = event.delta.stop_reason
              const u = event.usage as WireUsage
              usage = {
                ...usage,
                ...Object.fromEntries(Object.entries(u).filter(([, v]) => typeof v === "number"))
              }
              return []
            }
            case "message_stop": {
              finished = true
              const toolCalls: Array<ToolCall> = []
              for (const t of tools.values()) {
                let input: unknown = {}
                try {
                  input = t.json === "" ? {} : JSON.parse(t.json)
                } catch {
                  throw new Errors.MalformedResponse({ message: `tool ${t.name}: input is not valid JSON` })
                }
                toolCalls.push({ id: t.id, name: t.name, input })
              }
              return [{
                _tag: "Finish",
                response: {
                  text,
                  stopReason: mapStop(stopReason),
                  model: responseModel,
                  usage: toUsage(usage, request, text),
                  ...(toolCalls.length > 0 ? { toolCalls } : {})
                }
              }]
            }
            default:
              return []
          }
        }),
        // a MalformedResponse thrown while mapping events is a defect here: surface it typed
        Stream.catchAllCause((cause) =>
          cause._tag === "Die" && Errors.isModelError(cause.defect) ? Stream.fail(cause.defect) : Stream.failCause(cause)
        )
      )
      return Stream.concat(
        events,
        Stream.suspend(() =>
          finished
            ? Stream.empty
            : Stream.fail(new Errors.ConnectionFailed({ message: "the stream ended before message_stop" }))
        )
      )
    }))

  return makeModel({ provider: "anthropic", defaultModel: model, generate, stream })
}

/**
 * Builds the adapter, reading `ANTHROPIC_API_KEY` (redacted) and, unless `baseURL` is given,
 * `ANTHROPIC_BASE_URL`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AnthropicModel } from "@braid/llm"
 *
 * const model = Effect.runSync(Effect.either(AnthropicModel.make({ model: "claude-haiku-4-5" })))
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Service, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const apiKey = options.apiKey ?? (yield* Config.redacted("ANTHROPIC_API_KEY"))
    const baseURL = options.baseURL ?? Option.getOrUndefined(yield* Config.option(Config.string("ANTHROPIC_BASE_URL")))
    return makeWith({ ...options, apiKey, ...(baseURL !== undefined ? { baseURL } : {}) })
  })

/**
 * A layer with the Anthropic model.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AnthropicModel, LanguageModel } from "@braid/llm"
 *
 * const program = LanguageModel.generate({ messages: [LanguageModel.user("Hello, Claude")] }).pipe(
 *   Effect.provide(AnthropicModel.layer({ model: "claude-sonnet-5-5" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<LanguageModel, ConfigError.ConfigError> =>
  Layer.effect(LanguageModel, make(options))
