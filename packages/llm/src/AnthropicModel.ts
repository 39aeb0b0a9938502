/**
 * The Anthropic adapter of the `LanguageModel` port, over the official `@anthropic-ai/sdk`.
 *
 * - The SDK is constructed with `maxRetries: 0`: Braid's resilience policies own retries (every
 *   error says whether it is `transient` and carries the `retry-after` hint).
 * - Interrupting the Effect aborts the HTTP request (the SDK gets the `AbortSignal` of
 *   `Effect.tryPromise`; a stream aborts its request first when its scope closes, before it
 *   releases the SDK's iterator, so a stalled body never holds an interruption).
 * - `timeoutMillis` (default 10 minutes) is a bound through Effect's `Clock` (`Io.bounded`):
 *   for `generate` it covers the whole call, headers and body; for `stream` it covers the wait
 *   for the response headers and then, separately, the wait for each next event (an idle bound:
 *   a stream that keeps delivering events may run longer in total; SSE comments and `ping`
 *   events are not events). Past it the call fails with `ModelTimeout` and the request is
 *   aborted.
 * - Requests are validated by `LanguageModel.make` before anything is sent (`InvalidRequest`);
 *   the provider's answer is decoded with Schema (`MalformedResponse` naming the field), never
 *   cast.
 * - Only network failures are `ConnectionFailed` (transient); any other error the SDK throws
 *   while building a request is a non-transient `InvalidRequest`.
 * - The API key comes from `Config.redacted("ANTHROPIC_API_KEY")` and only reaches the SDK; error
 *   messages are built by Braid and scrubbed of the key and auth headers. The SDK's own
 *   OpenTelemetry spans and logs are turned off: Braid's `chat {model}` span is the only one.
 * - `system: { text, cache: true }` sends the system block with `cache_control: { type: "ephemeral" }`;
 *   `cache_read_input_tokens` / `cache_creation_input_tokens` are mapped to `Usage`.
 *
 * @since 0.1.0
 */
import Anthropic from "@anthropic-ai/sdk"
import { Io, Json } from "@braid/core"
import type { ConfigError } from "effect"
import { Config, Duration, Effect, Either, Layer, Option, Redacted, Schema, Stream } from "effect"
import * as Errors from "./Errors.js"
import * as internal from "./internal/anthropic.js"
import { redact } from "./internal/redact.js"
import { firstIssue } from "./internal/schema.js"
import type { Request, Response, Service, StopReason, StreamEvent, ToolCall, Usage } from "./LanguageModel.js"
import { LanguageModel, make as makeModel } from "./LanguageModel.js"
import { estimate, estimateRequest } from "./Tokens.js"

/**
 * The default model.
 *
 * @since 0.1.0
 */
export const defaultModel: string = internal.defaultModel

/**
 * The default bound of a call (`Options.timeoutMillis`): 10 minutes.
 *
 * @since 0.2.0
 */
export const defaultTimeoutMillis: number = internal.defaultTimeoutMillis

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
  /**
   * The bound of a call, failing with `ModelTimeout` (default 10 minutes): `generate` as a whole
   * (headers and body); `stream` for its headers and then for each next event (idle bound).
   */
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
export const toModelError: (
  error: unknown,
  secrets: ReadonlyArray<string>,
  timeoutMillis?: number
) => Errors.ModelError = internal.toModelError

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
export const toParams = (
  request: Request,
  model: string,
  maxTokens: number
): Anthropic.MessageCreateParamsNonStreaming => {
  // `temperature` is not in this SDK's typed params any more; the API still reads it when sent.
  const params: Anthropic.MessageCreateParamsNonStreaming & { temperature?: number } = {
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
  if (request.temperature !== undefined) params.temperature = request.temperature
  if (request.stopSequences !== undefined && request.stopSequences.length > 0) {
    params.stop_sequences = [...request.stopSequences]
  }
  if (request.tools !== undefined && request.tools.length > 0) {
    params.tools = request.tools.map((t) => ({
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      input_schema: { type: "object" as const, ...t.inputSchema }
    }))
  }
  return params
}

const Count = Schema.NullOr(Schema.Finite.pipe(Schema.nonNegative()))

const WireUsage = Schema.Struct({
  input_tokens: Schema.optional(Count),
  output_tokens: Schema.optional(Count),
  cache_read_input_tokens: Schema.optional(Count),
  cache_creation_input_tokens: Schema.optional(Count)
})
type WireUsage = typeof WireUsage.Type

/** The catch-all member of a union keyed on `type`: any type but `known`, decoded as `"(other)"`. */
const other = (...known: ReadonlyArray<string>) =>
  Schema.Struct({
    type: Schema.transform(
      Schema.String.pipe(Schema.filter((t) => !known.includes(t), { message: () => `an unknown type` })),
      Schema.Literal("(other)"),
      { strict: true, decode: () => "(other)" as const, encode: (t) => t }
    )
  })

const WireMessage = Schema.Struct({
  content: Schema.Array(Schema.Union(
    Schema.Struct({ type: Schema.Literal("text"), text: Schema.String }),
    Schema.Struct({ type: Schema.Literal("tool_use"), id: Schema.String, name: Schema.String, input: Schema.Unknown }),
    other("text", "tool_use")
  )),
  stop_reason: Schema.optional(Schema.NullOr(Schema.String)),
  model: Schema.optional(Schema.String),
  usage: Schema.optional(Schema.NullOr(WireUsage))
})

const Index = Schema.Int.pipe(Schema.nonNegative())

const WireEvent = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("message_start"),
    message: Schema.Struct({ model: Schema.String, usage: Schema.optional(Schema.NullOr(WireUsage)) })
  }),
  Schema.Struct({
    type: Schema.Literal("content_block_start"),
    index: Index,
    content_block: Schema.Union(
      Schema.Struct({ type: Schema.Literal("tool_use"), id: Schema.String, name: Schema.String }),
      other("tool_use")
    )
  }),
  Schema.Struct({
    type: Schema.Literal("content_block_delta"),
    index: Index,
    delta: Schema.Union(
      Schema.Struct({ type: Schema.Literal("text_delta"), text: Schema.String }),
      Schema.Struct({ type: Schema.Literal("input_json_delta"), partial_json: Schema.String }),
      other("text_delta", "input_json_delta")
    )
  }),
  Schema.Struct({
    type: Schema.Literal("message_delta"),
    delta: Schema.Struct({ stop_reason: Schema.optional(Schema.NullOr(Schema.String)) }),
    usage: Schema.optional(Schema.NullOr(WireUsage))
  }),
  Schema.Struct({ type: Schema.Literal("message_stop") }),
  // content_block_stop and any event a later API version adds: nothing to do
  other("message_start", "content_block_start", "content_block_delta", "message_delta", "message_stop")
)

/** A decoder of something the provider sent, failing with `MalformedResponse` naming the field. */
const decodeWire = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (u: unknown, secrets: ReadonlyArray<string>): Either.Either<A, Errors.MalformedResponse> =>
    Either.mapLeft(decode(u), (error) => {
      const { field, problem } = firstIssue(error)
      return new Errors.MalformedResponse({ message: redact(`${what} is not valid: ${field}: ${problem}`, secrets) })
    })
}

const decodeMessage = decodeWire(WireMessage, "the Messages API response")
const decodeEvent = decodeWire(WireEvent, "a Messages API stream event")

const toUsage = (usage: WireUsage | null | undefined, request: Request, text: string): Usage =>
  usage === null || usage === undefined || typeof usage.input_tokens !== "number"
    ? {
      inputTokens: estimateRequest(request),
      outputTokens: estimate(text),
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      estimated: true
    }
    : {
      inputTokens: usage.input_tokens,
      outputTokens: usage.output_tokens ?? estimate(text),
      cacheReadTokens: usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
      estimated: typeof usage.output_tokens !== "number"
    }

const fromMessage = (
  message: unknown,
  request: Request,
  secrets: ReadonlyArray<string>
): Either.Either<Response, Errors.MalformedResponse> =>
  Either.map(decodeMessage(message, secrets), (m) => {
    let text = ""
    const toolCalls: Array<ToolCall> = []
    for (const block of m.content) {
      if (block.type === "text") text += block.text
      else if (block.type === "tool_use") toolCalls.push({ id: block.id, name: block.name, input: block.input })
    }
    return {
      text,
      stopReason: mapStop(m.stop_reason),
      model: m.model ?? request.model ?? "unknown",
      usage: toUsage(m.usage, request, text),
      ...(toolCalls.length > 0 ? { toolCalls } : {})
    }
  })

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
  const timeoutMillis = options.timeoutMillis ?? defaultTimeoutMillis
  const secret = Redacted.value(options.apiKey)
  const secrets = [secret]
  const client = new Anthropic({
    apiKey: secret,
    maxRetries: 0,
    logLevel: "off",
    openTelemetry: false,
    // The SDK bounds the wait for the headers in real time; `bounded` below is the bound of
    // the whole call, through Effect's Clock.
    timeout: Math.max(1, Math.ceil(timeoutMillis)),
    ...(options.baseURL !== undefined ? { baseURL: options.baseURL } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch as any } : {})
  })
  const fail = (e: unknown) => toModelError(e, secrets, timeoutMillis)
  const bounded = <A>(what: string, self: Effect.Effect<A, Errors.ModelError>) =>
    Io.bounded(
      self,
      Duration.millis(timeoutMillis),
      (ms) => new Errors.ModelTimeout({ message: `${what} within ${ms} ms`, timeoutMillis: ms })
    )

  const generate = (request: Request): Effect.Effect<Response, Errors.ModelError> =>
    bounded(
      "no answer",
      Effect.tryPromise({
        // the signal aborts the request when the call is interrupted (by the bound, or by the caller)
        try: (signal) => client.messages.create(toParams(request, model, maxTokens), { signal }),
        catch: fail
      })
    ).pipe(Effect.flatMap((message) => fromMessage(message, request, secrets)))

  const stream = (request: Request): Stream.Stream<StreamEvent, Errors.ModelError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const controller = new AbortController()
      // eslint-disable-next-line prefer-const -- assigned below, after the finalizer that reads it
      let iterator: AsyncIterator<unknown> | undefined
      // Abort first. The SDK's iterator is an async generator: its `return()` is queued behind a
      // pending `next()`, which waits on the socket; aborting ends that wait. The iterator is
      // then released without waiting on it.
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          controller.abort()
          iterator?.return?.().catch(() => {})
        })
      )
      const sdkStream = yield* bounded(
        "no answer",
        Effect.tryPromise({
          try: () =>
            client.messages.create({ ...toParams(request, model, maxTokens), stream: true }, {
              signal: controller.signal
            }),
          catch: fail
        })
      )
      const events: AsyncIterator<unknown> = sdkStream[Symbol.asyncIterator]()
      iterator = events
      // the idle bound: each next event within `timeoutMillis` (pings never reach here)
      const nextEvent = bounded(
        "no stream event",
        Effect.tryPromise({ try: () => events.next(), catch: fail })
      )

      let text = ""
      let responseModel = request.model ?? model
      let usage: WireUsage = {}
      let stopReason: string | null | undefined = null
      let finished = false
      const tools = new Map<number, { id: string; name: string; json: string }>()

      const finish = Effect.suspend((): Effect.Effect<ReadonlyArray<StreamEvent>, Errors.ModelError> => {
        finished = true
        const toolCalls: Array<ToolCall> = []
        for (const t of tools.values()) {
          if (t.json === "") {
            toolCalls.push({ id: t.id, name: t.name, input: {} })
            continue
          }
          const input = Json.parse(t.json)
          if (Either.isLeft(input)) {
            return Effect.fail(
              new Errors.MalformedResponse({
                message: `tool ${t.name}: input is not valid JSON (${input.left.message})`
              })
            )
          }
          toolCalls.push({ id: t.id, name: t.name, input: input.right })
        }
        return Effect.succeed([{
          _tag: "Finish",
          response: {
            text,
            stopReason: mapStop(stopReason),
            model: responseModel,
            usage: toUsage(usage, request, text),
            ...(toolCalls.length > 0 ? { toolCalls } : {})
          }
        }])
      })

      const handle = (raw: unknown): Effect.Effect<ReadonlyArray<StreamEvent>, Errors.ModelError> => {
        const decoded = decodeEvent(raw, secrets)
        if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
        const event = decoded.right
        switch (event.type) {
          case "message_start":
            responseModel = event.message.model
            usage = { ...event.message.usage }
            return Effect.succeed([])
          case "content_block_start":
            if (event.content_block.type === "tool_use") {
              tools.set(event.index, { id: event.content_block.id, name: event.content_block.name, json: "" })
            }
            return Effect.succeed([])
          case "content_block_delta": {
            const delta = event.delta
            if (delta.type === "text_delta") {
              text += delta.text
              return Effect.succeed([{ _tag: "TextDelta", text: delta.text }])
            }
            if (delta.type === "input_json_delta") {
              const t = tools.get(event.index)
              if (t) t.json += delta.partial_json
            }
            return Effect.succeed([])
          }
          case "message_delta":
            stopReason = event.delta.stop_reason
            usage = {
              ...usage,
              ...Object.fromEntries(Object.entries(event.usage ?? {}).filter(([, v]) => typeof v === "number"))
            }
            return Effect.succeed([])
          case "message_stop":
            return finish
          default:
            return Effect.succeed([])
        }
      }

      const step: Effect.Effect<ReadonlyArray<StreamEvent>, Option.Option<Errors.ModelError>> = Effect.suspend(() =>
        finished
          ? Effect.fail(Option.none())
          : Effect.flatMap(Effect.mapError(nextEvent, Option.some), (result) =>
            result.done === true
              ? Effect.fail(
                Option.some(new Errors.ConnectionFailed({ message: "the stream ended before message_stop" }))
              )
              : Effect.mapError(handle(result.value), Option.some))
      )
      return Stream.flattenIterables(Stream.repeatEffectOption(step))
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
