/**
 * The Anthropic adapter of `@effect/ai`'s `LanguageModel`, over the official `@anthropic-ai/sdk`.
 *
 * - Prompt: system messages become the system blocks; user text, images (`image/*`: base64
 *   or URL) and documents (`application/pdf`, `text/plain`) become content blocks; assistant
 *   tool calls become `tool_use` blocks and tool results `tool_result` blocks (in the user turn
 *   that follows, paired by id). `{ braid: { cache: true } }` on a message or a part sends
 *   `cache_control: { type: "ephemeral" }` on it (on a message: on its last block).
 * - Tools come from the toolkit (their JSON Schema from the parameters Schema); `toolChoice`
 *   maps to `auto`, `any` (required), `tool` (one named tool) and `none`. Several tool calls in
 *   one turn become several `tool-call` parts.
 * - Structured output (`generateObject`) forces a tool named after the object; its input comes
 *   back as the text part `LanguageModel` decodes with the Schema (streamed as text deltas).
 * - Streaming emits `text-start/delta/end`, `tool-params-start/delta/end` (with the tool call's
 *   id) and, when a tool's input is complete, its `tool-call` part; then `finish`.
 * - Finish: the reason (`end_turn`/`stop_sequence` → `stop`, `max_tokens` → `length`,
 *   `tool_use` → `tool-calls`, `refusal` → `content-filter`, `pause_turn` → `pause`) and the
 *   usage: `inputTokens` counts all input tokens (cache reads and writes included, as other
 *   providers count them), `cachedInputTokens` the cache reads; the finish metadata `braid`
 *   carries the model, cache reads and writes, the provider's stop reason and whether usage was
 *   estimated. The cache counts are set only when the API reported them (undefined otherwise,
 *   so the `chat` span carries the cache attributes only then).
 * - Settings (`Ai.withSettings`): model, max tokens, temperature, stop sequences.
 * - Errors: the SDK is built with `maxRetries: 0`; every failure is a Braid `ModelError`
 *   (transient or not, with the retry-after hint) carried by an `AiError` (see `AiErrors`).
 *   Interruption aborts the HTTP request. `timeoutMillis` bounds a call through Effect's Clock
 *   (a `generate` as a whole; a stream's headers, then each next event).
 *
 * @since 0.2.0
 */
import Anthropic from "@anthropic-ai/sdk"
import { Io, Json } from "@braid/core"
import type * as AiError from "@effect/ai/AiError"
import type { ConstructorParams, ProviderOptions } from "@effect/ai/LanguageModel"
import { LanguageModel as LanguageModelTag, make as makeLanguageModel } from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import * as Tool from "@effect/ai/Tool"
import type { ConfigError } from "effect"
import { Config, Duration, Effect, Either, Encoding, Layer, Option, Redacted, Schema, Stream } from "effect"
import type { BraidFinishMetadata, Provider, SettingsShape } from "./Ai.js"
import { Settings } from "./Ai.js"
import { fromModelError } from "./AiErrors.js"
import * as Errors from "./Errors.js"
import { defaultModel, defaultTimeoutMillis, toModelError } from "./internal/anthropic.js"
import { redact } from "./internal/redact.js"
import { firstIssue } from "./internal/schema.js"

/**
 * The adapter's options.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Default model when `Settings.model` is not set. Default `claude-sonnet-5-5`. */
  readonly model?: string
  /** Overrides `ANTHROPIC_BASE_URL` (default `https://api.anthropic.com`). */
  readonly baseURL?: string
  /** Overrides `ANTHROPIC_API_KEY`. */
  readonly apiKey?: Redacted.Redacted<string>
  /** The bound of a call (default 10 minutes), failing with `ModelTimeout`. */
  readonly timeoutMillis?: number
  /** Default `max_tokens` when `Settings.maxTokens` is not set. Default 1024. */
  readonly maxTokens?: number
  /** A custom fetch (tests, proxies). */
  readonly fetch?: (input: string | URL | globalThis.Request, init?: RequestInit) => Promise<globalThis.Response>
}

const moduleName = "AnthropicLanguageModel"

type Params = Anthropic.MessageCreateParamsNonStreaming & { temperature?: number }
type Block = Anthropic.ContentBlockParam
type CacheControl = { readonly type: "ephemeral" }

const ephemeral: CacheControl = { type: "ephemeral" }

const wantsCache = (options: { readonly braid?: { readonly cache?: boolean | undefined } | undefined }): boolean =>
  options.braid?.cache === true

const withCache = <B extends Block>(
  block: B,
  cache: boolean
): B => (cache ? { ...block, cache_control: ephemeral } : block)

const imageTypes = ["image/jpeg", "image/png", "image/gif", "image/webp"] as const

const base64 = (data: string | Uint8Array): string => (typeof data === "string" ? data : Encoding.encodeBase64(data))

const textOf = (data: string | Uint8Array): string => (typeof data === "string" ? data : new TextDecoder().decode(data))

const fileBlock = (part: Prompt.FilePart, where: string): Either.Either<Block, Errors.InvalidRequest> => {
  const cache = wantsCache(part.options)
  const media = part.mediaType.toLowerCase()
  if ((imageTypes as ReadonlyArray<string>).includes(media)) {
    return Either.right(withCache<Anthropic.ImageBlockParam>({
      type: "image",
      source: part.data instanceof URL
        ? { type: "url", url: part.data.toString() }
        : { type: "base64", media_type: media as (typeof imageTypes)[number], data: base64(part.data) }
    }, cache))
  }
  if (media === "application/pdf") {
    return Either.right(withCache<Anthropic.DocumentBlockParam>({
      type: "document",
      source: part.data instanceof URL
        ? { type: "url", url: part.data.toString() }
        : { type: "base64", media_type: "application/pdf", data: base64(part.data) },
      ...(part.fileName !== undefined ? { title: part.fileName } : {})
    }, cache))
  }
  if (media === "text/plain" && !(part.data instanceof URL)) {
    return Either.right(withCache<Anthropic.DocumentBlockParam>({
      type: "document",
      source: { type: "text", media_type: "text/plain", data: textOf(part.data) },
      ...(part.fileName !== undefined ? { title: part.fileName } : {})
    }, cache))
  }
  return Either.left(
    new Errors.InvalidRequest({
      message: `invalid model request: ${where}.mediaType: ${part.mediaType} is not supported by Anthropic ` +
        `(images: ${imageTypes.join(", ")}; documents: application/pdf, text/plain)`,
      field: `${where}.mediaType`
    })
  )
}

const toolResultContent = (result: unknown): string => (typeof result === "string" ? result : JSON.stringify(result))

/** The cache mark of a message goes on its last block. */
const markLast = (blocks: Array<Block>, cache: boolean): Array<Block> => {
  if (!cache || blocks.length === 0) return blocks
  const last = blocks[blocks.length - 1]!
  return [...blocks.slice(0, -1), { ...last, cache_control: ephemeral } as Block]
}

/**
 * The Messages API system blocks and messages of a prompt. Consecutive user and tool messages
 * make one user turn (tool results first, as the API requires them to open the turn).
 */
const toMessages = (
  prompt: Prompt.Prompt
): Either.Either<
  { system: Array<Anthropic.TextBlockParam>; messages: Array<Anthropic.MessageParam> },
  Errors.InvalidRequest
> => {
  const system: Array<Anthropic.TextBlockParam> = []
  const messages: Array<Anthropic.MessageParam> = []
  const push = (role: "user" | "assistant", blocks: Array<Block>) => {
    if (blocks.length === 0) return
    const last = messages[messages.length - 1]
    if (last !== undefined && last.role === role) {
      last.content = [...(last.content as Array<Block>), ...blocks]
    } else {
      messages.push({ role, content: blocks })
    }
  }
  for (let i = 0; i < prompt.content.length; i++) {
    const message = prompt.content[i]!
    const where = `prompt.content[${i}]`
    switch (message.role) {
      case "system": {
        if (message.content !== "") {
          system.push(withCache({ type: "text", text: message.content }, wantsCache(message.options)))
        }
        break
      }
      case "user": {
        const blocks: Array<Block> = []
        for (let j = 0; j < message.content.length; j++) {
          const part = message.content[j]!
          if (part.type === "text") {
            blocks.push(
              withCache<Anthropic.TextBlockParam>({ type: "text", text: part.text }, wantsCache(part.options))
            )
          } else {
            const block = fileBlock(part, `${where}.content[${j}]`)
            if (Either.isLeft(block)) return Either.left(block.left)
            blocks.push(block.right)
          }
        }
        push("user", markLast(blocks, wantsCache(message.options)))
        break
      }
      case "assistant": {
        const blocks: Array<Block> = []
        for (const part of message.content) {
          if (part.type === "text") {
            if (part.text !== "") blocks.push({ type: "text", text: part.text })
          } else if (part.type === "tool-call" && !part.providerExecuted) {
            blocks.push({ type: "tool_use", id: part.id, name: part.name, input: part.params ?? {} })
          }
          // reasoning, files and provider-executed results are not sent back
        }
        push("assistant", markLast(blocks, wantsCache(message.options)))
        break
      }
      case "tool": {
        const blocks: Array<Block> = message.content.map((part) =>
          withCache<Anthropic.ToolResultBlockParam>({
            type: "tool_result",
            tool_use_id: part.id,
            content: toolResultContent(part.result),
            ...(part.isFailure ? { is_error: true } : {})
          }, wantsCache(part.options))
        )
        push("user", markLast(blocks, wantsCache(message.options)))
        break
      }
    }
  }
  return Either.right({ system, messages })
}

/** The JSON Schemas of tool parameters, built once per Schema (a toolkit's tools are sent on every call). */
const jsonSchemas = new WeakMap<Schema.Schema.Any["ast"], Anthropic.Tool.InputSchema>()

const jsonSchemaOf = (ast: Schema.Schema.Any["ast"]): Anthropic.Tool.InputSchema => {
  let cached = jsonSchemas.get(ast)
  if (cached === undefined) {
    const schema = Tool.getJsonSchemaFromSchemaAst(ast) as unknown as Record<string, unknown>
    const { $schema: _ignored, ...rest } = schema
    cached = { ...rest, type: "object" } as Anthropic.Tool.InputSchema
    jsonSchemas.set(ast, cached)
  }
  return cached
}

/**
 * The Messages API request body of `@effect/ai` provider options (with the settings in scope).
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Ai, AnthropicLanguageModel } from "@braid/llm"
 *
 * const body = AnthropicLanguageModel.toParams(
 *   {
 *     prompt: Ai.Prompt.make([{ role: "system", content: "Be terse.", options: { braid: { cache: true } } }, { role: "user", content: "Hi" }]),
 *     tools: [], toolChoice: "none", responseFormat: { type: "text" }
 *   },
 *   { model: "claude-haiku-5-5" },
 *   { model: "claude-sonnet-5-5", maxTokens: 1024 }
 * )
 * // Either.right({ model: "claude-haiku-5-5", system: [{ type: "text", text: "Be terse.", cache_control: { type: "ephemeral" } }], ... })
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const toParams = (
  options: Pick<ProviderOptions, "prompt" | "tools" | "toolChoice" | "responseFormat">,
  settings: SettingsShape,
  defaults: { readonly model: string; readonly maxTokens: number }
): Either.Either<Params, Errors.InvalidRequest> => {
  const converted = toMessages(options.prompt)
  if (Either.isLeft(converted)) return Either.left(converted.left)
  const { messages, system } = converted.right
  const params: Params = {
    model: settings.model ?? defaults.model,
    max_tokens: settings.maxTokens ?? defaults.maxTokens,
    messages
  }
  if (system.length > 0) params.system = system
  if (settings.temperature !== undefined) params.temperature = settings.temperature
  if (settings.stopSequences !== undefined && settings.stopSequences.length > 0) {
    params.stop_sequences = [...settings.stopSequences]
  }
  const tools: Array<Anthropic.Tool> = []
  for (const tool of options.tools) {
    if (Tool.isProviderDefined(tool)) {
      return Either.left(
        new Errors.InvalidRequest({
          message:
            `invalid model request: tools.${tool.name}: provider-defined tools are not supported by this adapter`,
          field: `tools.${tool.name}`
        })
      )
    }
    tools.push({
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      input_schema: jsonSchemaOf(tool.parametersSchema.ast)
    })
  }
  if (options.responseFormat.type === "json") {
    const description = Tool.getDescriptionFromSchemaAst(options.responseFormat.schema.ast)
    tools.push({
      name: options.responseFormat.objectName,
      description: description ?? "Respond with a JSON object",
      input_schema: jsonSchemaOf(options.responseFormat.schema.ast)
    })
    params.tools = tools
    params.tool_choice = { type: "tool", name: options.responseFormat.objectName }
    return Either.right(params)
  }
  if (tools.length > 0) {
    params.tools = tools
    const choice = options.toolChoice
    params.tool_choice = choice === "auto"
      ? { type: "auto" }
      : choice === "none"
      ? { type: "none" }
      : choice === "required"
      ? { type: "any" }
      : "tool" in choice
      ? { type: "tool", name: choice.tool }
      : { type: choice.mode === "required" ? "any" : "auto" }
  }
  return Either.right(params)
}

const Count = Schema.NullOr(Schema.Finite.pipe(Schema.nonNegative()))

const WireUsage = Schema.Struct({
  input_tokens: Schema.optional(Count),
  output_tokens: Schema.optional(Count),
  cache_read_input_tokens: Schema.optional(Count),
  cache_creation_input_tokens: Schema.optional(Count)
})
type WireUsage = typeof WireUsage.Type

/** Any `type` but the known ones, decoded as `"(other)"`. */
const other = (...known: ReadonlyArray<string>) =>
  Schema.Struct({
    type: Schema.transform(
      Schema.String.pipe(Schema.filter((t) => !known.includes(t), { message: () => `an unknown type` })),
      Schema.Literal("(other)"),
      { strict: true, decode: () => "(other)" as const, encode: (t) => t }
    )
  })

const WireMessage = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  content: Schema.Array(Schema.Union(
    Schema.Struct({ type: Schema.Literal("text"), text: Schema.String }),
    Schema.Struct({ type: Schema.Literal("tool_use"), id: Schema.String, name: Schema.String, input: Schema.Unknown }),
    Schema.Struct({ type: Schema.Literal("thinking"), thinking: Schema.String }),
    other("text", "tool_use", "thinking")
  )),
  stop_reason: Schema.optional(Schema.NullOr(Schema.String)),
  usage: Schema.optional(Schema.NullOr(WireUsage))
})

const Index = Schema.Int.pipe(Schema.nonNegative())

const WireEvent = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("message_start"),
    message: Schema.Struct({
      id: Schema.optional(Schema.String),
      model: Schema.String,
      usage: Schema.optional(Schema.NullOr(WireUsage))
    })
  }),
  Schema.Struct({
    type: Schema.Literal("content_block_start"),
    index: Index,
    content_block: Schema.Union(
      Schema.Struct({ type: Schema.Literal("text") }),
      Schema.Struct({ type: Schema.Literal("tool_use"), id: Schema.String, name: Schema.String }),
      Schema.Struct({ type: Schema.Literal("thinking") }),
      other("text", "tool_use", "thinking")
    )
  }),
  Schema.Struct({
    type: Schema.Literal("content_block_delta"),
    index: Index,
    delta: Schema.Union(
      Schema.Struct({ type: Schema.Literal("text_delta"), text: Schema.String }),
      Schema.Struct({ type: Schema.Literal("input_json_delta"), partial_json: Schema.String }),
      Schema.Struct({ type: Schema.Literal("thinking_delta"), thinking: Schema.String }),
      other("text_delta", "input_json_delta", "thinking_delta")
    )
  }),
  Schema.Struct({ type: Schema.Literal("content_block_stop"), index: Index }),
  Schema.Struct({
    type: Schema.Literal("message_delta"),
    delta: Schema.Struct({ stop_reason: Schema.optional(Schema.NullOr(Schema.String)) }),
    usage: Schema.optional(Schema.NullOr(WireUsage))
  }),
  Schema.Struct({ type: Schema.Literal("message_stop") }),
  other(
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop"
  )
)

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

/**
 * `@effect/ai`'s finish reason of an Anthropic stop reason.
 *
 * @example
 * ```ts
 * import { AnthropicLanguageModel } from "@braid/llm"
 *
 * AnthropicLanguageModel.finishReason("tool_use") // "tool-calls"
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const finishReason = (reason: string | null | undefined): Response.FinishReason => {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop"
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "tool_use":
      return "tool-calls"
    case "refusal":
      return "content-filter"
    case "pause_turn":
      return "pause"
    case null:
    case undefined:
      return "unknown"
    default:
      return "other"
  }
}

const finishPart = (
  usage: WireUsage | null | undefined,
  stopReason: string | null | undefined,
  model: string,
  structured: boolean
): Response.FinishPartEncoded => {
  const input = usage?.input_tokens ?? undefined
  const output = usage?.output_tokens ?? undefined
  // the cache counts only when the API reported them (undefined otherwise: no cache attributes)
  const cacheRead = usage?.cache_read_input_tokens ?? undefined
  const cacheWrite = usage?.cache_creation_input_tokens ?? undefined
  const allInput = input === undefined ? undefined : input + (cacheRead ?? 0) + (cacheWrite ?? 0)
  const braid: BraidFinishMetadata = {
    model,
    ...(cacheRead !== undefined ? { cacheReadTokens: cacheRead } : {}),
    ...(cacheWrite !== undefined ? { cacheWriteTokens: cacheWrite } : {}),
    estimated: input === undefined || output === undefined,
    ...(stopReason !== null && stopReason !== undefined ? { stopReason } : {})
  }
  return {
    type: "finish",
    // a structured answer arrives as a forced tool call: it is the answer, not a tool call
    reason: structured && stopReason === "tool_use" ? "stop" : finishReason(stopReason),
    usage: {
      inputTokens: allInput,
      outputTokens: output,
      totalTokens: allInput !== undefined && output !== undefined ? allInput + output : undefined,
      cachedInputTokens: cacheRead
    },
    metadata: { braid } as Response.FinishPartEncoded["metadata"]
  }
}

/**
 * Builds the adapter's provider from resolved settings (no Config reads).
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Ai, AnthropicLanguageModel } from "@braid/llm"
 *
 * const service = Ai.fromProvider(
 *   AnthropicLanguageModel.makeProvider({ apiKey: Redacted.make("sk-ant-..."), baseURL: "http://127.0.0.1:8080" })
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeProvider = (options: Options & { readonly apiKey: Redacted.Redacted<string> }): Provider => {
  const model = options.model ?? defaultModel
  const maxTokens = options.maxTokens ?? 1024
  const timeoutMillis = options.timeoutMillis ?? defaultTimeoutMillis
  const secret = Redacted.value(options.apiKey)
  const secrets = [secret]
  const baseURL = options.baseURL ?? "https://api.anthropic.com"
  const url = `${baseURL.replace(/\/+$/, "")}/v1/messages`
  const client = new Anthropic({
    apiKey: secret,
    maxRetries: 0,
    logLevel: "off",
    openTelemetry: false,
    timeout: Math.max(1, Math.ceil(timeoutMillis)),
    baseURL,
    ...(options.fetch !== undefined ? { fetch: options.fetch as any } : {})
  })
  const carry = (method: string) => (error: Errors.ModelError): AiError.AiError =>
    fromModelError(error, { module: moduleName, method, url })
  const fail = (e: unknown) => toModelError(e, secrets, timeoutMillis)
  /** A bounded SDK call (`Io.promise`): its signal is aborted at the bound and on interruption. */
  const call = <A>(what: string, evaluate: (signal: AbortSignal) => PromiseLike<A>) =>
    Io.promise(
      evaluate,
      Duration.millis(timeoutMillis),
      (ms) => new Errors.ModelTimeout({ message: `${what} within ${ms} ms`, timeoutMillis: ms }),
      fail
    )
  const prepare = (options: ProviderOptions) =>
    Effect.flatMap(Settings, (settings) => toParams(options, settings, { model, maxTokens }))

  const generateText: ConstructorParams["generateText"] = (providerOptions) =>
    Effect.gen(function*() {
      const params = yield* prepare(providerOptions)
      const structured = providerOptions.responseFormat.type === "json"
        ? providerOptions.responseFormat.objectName
        : undefined
      // the signal aborts the request when the call is abandoned (at the bound, or interrupted)
      const raw = yield* call("no answer", (signal) => client.messages.create(params, { signal }))
      const message = yield* decodeMessage(raw, secrets)
      const parts: Array<Response.PartEncoded> = [{
        type: "response-metadata",
        ...(message.id !== undefined ? { id: message.id } : {}),
        modelId: message.model ?? params.model
      }]
      for (const block of message.content) {
        if (block.type === "text") {
          if (structured === undefined) parts.push({ type: "text", text: block.text })
        } else if (block.type === "tool_use") {
          if (block.name === structured) parts.push({ type: "text", text: JSON.stringify(block.input) })
          else parts.push({ type: "tool-call", id: block.id, name: block.name, params: block.input })
        } else if (block.type === "thinking") {
          parts.push({ type: "reasoning", text: block.thinking })
        }
      }
      parts.push(
        finishPart(message.usage, message.stop_reason, message.model ?? params.model, structured !== undefined)
      )
      return parts
    }).pipe(Effect.mapError(carry("generateText")))

  const streamText: ConstructorParams["streamText"] = (providerOptions) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const params = yield* prepare(providerOptions)
      const structured = providerOptions.responseFormat.type === "json"
        ? providerOptions.responseFormat.objectName
        : undefined
      const controller = new AbortController()
      // eslint-disable-next-line prefer-const -- assigned below, after the finalizer that reads it
      let iterator: AsyncIterator<unknown> | undefined
      // Abort first: the SDK's iterator is an async generator whose `return()` waits behind a
      // pending `next()` on the socket; aborting ends that wait. Then release it without waiting.
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          controller.abort()
          iterator?.return?.().catch(() => {})
        })
      )
      // a wait abandoned (at the bound, or interrupted) aborts the whole request
      const linked = (signal: AbortSignal) => signal.addEventListener("abort", () => controller.abort(), { once: true })
      const sdkStream = yield* call("no answer", (signal) => {
        linked(signal)
        return client.messages.create({ ...params, stream: true }, { signal: controller.signal })
      })
      const events: AsyncIterator<unknown> = sdkStream[Symbol.asyncIterator]()
      iterator = events
      // the idle bound: each next event within `timeoutMillis` (pings never reach here)
      const nextEvent = call("no stream event", (signal) => {
        linked(signal)
        return events.next()
      })

      let responseModel = params.model
      let usage: WireUsage = {}
      let stopReason: string | null | undefined = null
      let finished = false
      /** Open blocks by index: text (or the structured answer), reasoning, or a tool call's input. */
      const blocks = new Map<
        number,
        | { readonly kind: "text"; readonly id: string }
        | { readonly kind: "reasoning"; readonly id: string }
        | { readonly kind: "tool"; readonly id: string; readonly name: string; json: string }
        | { readonly kind: "ignored" }
      >()

      const handle = (raw: unknown): Either.Either<ReadonlyArray<Response.StreamPartEncoded>, Errors.ModelError> => {
        const decoded = decodeEvent(raw, secrets)
        if (Either.isLeft(decoded)) return Either.left(decoded.left)
        const event = decoded.right
        switch (event.type) {
          case "message_start":
            responseModel = event.message.model
            usage = { ...event.message.usage }
            return Either.right([{
              type: "response-metadata",
              ...(event.message.id !== undefined ? { id: event.message.id } : {}),
              modelId: event.message.model
            }])
          case "content_block_start": {
            const block = event.content_block
            const id = String(event.index)
            if (block.type === "text") {
              // with a structured answer, the answer is the forced tool's input: other text is dropped
              if (structured !== undefined) {
                blocks.set(event.index, { kind: "ignored" })
                return Either.right([])
              }
              blocks.set(event.index, { kind: "text", id })
              return Either.right([{ type: "text-start", id }])
            }
            if (block.type === "tool_use") {
              if (block.name === structured) {
                blocks.set(event.index, { kind: "text", id })
                return Either.right([{ type: "text-start", id }])
              }
              blocks.set(event.index, { kind: "tool", id: block.id, name: block.name, json: "" })
              return Either.right([{ type: "tool-params-start", id: block.id, name: block.name }])
            }
            if (block.type === "thinking") {
              blocks.set(event.index, { kind: "reasoning", id })
              return Either.right([{ type: "reasoning-start", id }])
            }
            blocks.set(event.index, { kind: "ignored" })
            return Either.right([])
          }
          case "content_block_delta": {
            const block = blocks.get(event.index)
            const delta = event.delta
            if (block === undefined) {
              return Either.left(
                new Errors.MalformedResponse({
                  message: `a stream delta for block ${event.index}, which was not started`
                })
              )
            }
            if (block.kind === "text" && delta.type === "text_delta") {
              return Either.right([{ type: "text-delta", id: block.id, delta: delta.text }])
            }
            if (block.kind === "text" && delta.type === "input_json_delta") {
              // the structured answer, streamed as text
              return Either.right([{ type: "text-delta", id: block.id, delta: delta.partial_json }])
            }
            if (block.kind === "tool" && delta.type === "input_json_delta") {
              block.json += delta.partial_json
              return Either.right([{ type: "tool-params-delta", id: block.id, delta: delta.partial_json }])
            }
            if (block.kind === "reasoning" && delta.type === "thinking_delta") {
              return Either.right([{ type: "reasoning-delta", id: block.id, delta: delta.thinking }])
            }
            return Either.right([])
          }
          case "content_block_stop": {
            const block = blocks.get(event.index)
            blocks.delete(event.index)
            if (block === undefined || block.kind === "ignored") return Either.right([])
            if (block.kind === "text") return Either.right([{ type: "text-end", id: block.id }])
            if (block.kind === "reasoning") return Either.right([{ type: "reasoning-end", id: block.id }])
            const input = block.json === "" ? Either.right({}) : Json.parse(block.json)
            if (Either.isLeft(input)) {
              return Either.left(
                new Errors.MalformedResponse({
                  message: `tool ${block.name} (${block.id}): input is not valid JSON (${input.left.message})`
                })
              )
            }
            return Either.right([
              { type: "tool-params-end", id: block.id },
              { type: "tool-call", id: block.id, name: block.name, params: input.right }
            ])
          }
          case "message_delta":
            stopReason = event.delta.stop_reason
            usage = {
              ...usage,
              ...Object.fromEntries(Object.entries(event.usage ?? {}).filter(([, v]) => typeof v === "number"))
            }
            return Either.right([])
          case "message_stop": {
            finished = true
            // A tool call whose input never ended is a malformed stream, not a finished reply: the
            // call would be lost without a word. (An unclosed text or thinking block loses nothing.)
            for (const block of blocks.values()) {
              if (block.kind !== "tool") continue
              return Either.left(
                new Errors.MalformedResponse({
                  message: `the stream ended with tool ${block.name} (${block.id}) still open`
                })
              )
            }
            return Either.right([finishPart(usage, stopReason, responseModel, structured !== undefined)])
          }
          default:
            return Either.right([])
        }
      }

      const step: Effect.Effect<ReadonlyArray<Response.StreamPartEncoded>, Option.Option<Errors.ModelError>> = Effect
        .suspend(() =>
          finished
            ? Effect.fail(Option.none())
            : Effect.flatMap(Effect.mapError(nextEvent, Option.some), (result) =>
              result.done === true
                ? Effect.fail(
                  Option.some(new Errors.ConnectionFailed({ message: "the stream ended before message_stop" }))
                )
                : Either.match(handle(result.value), {
                  onLeft: (e) => Effect.fail(Option.some(e)),
                  onRight: Effect.succeed
                }))
        )
      return Stream.flattenIterables(Stream.repeatEffectOption(step))
    })).pipe(Stream.mapError(carry("streamText")))

  return { name: "anthropic", defaultModel: model, baseUrl: baseURL, generateText, streamText }
}

/**
 * The adapter's provider, reading `ANTHROPIC_API_KEY` (redacted) and, unless `baseURL` is given,
 * `ANTHROPIC_BASE_URL`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AnthropicLanguageModel } from "@braid/llm"
 *
 * const provider = Effect.runSync(Effect.either(AnthropicLanguageModel.provider({ model: "claude-haiku-5-5" })))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const provider = (options: Options = {}): Effect.Effect<Provider, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const apiKey = options.apiKey ?? (yield* Config.redacted("ANTHROPIC_API_KEY"))
    const baseURL = options.baseURL ?? Option.getOrUndefined(yield* Config.option(Config.string("ANTHROPIC_BASE_URL")))
    return makeProvider({ ...options, apiKey, ...(baseURL !== undefined ? { baseURL } : {}) })
  })

/**
 * A layer with `@effect/ai`'s `LanguageModel` on Anthropic. Wrap it with `Metered.layer` for
 * telemetry, accounting and budgets.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ai, AnthropicLanguageModel } from "@braid/llm"
 *
 * const program = Ai.LanguageModel.generateText({ prompt: "Hello, Claude" }).pipe(
 *   Effect.provide(AnthropicLanguageModel.layer({ model: "claude-sonnet-5-5" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<LanguageModelTag, ConfigError.ConfigError> =>
  Layer.effect(LanguageModelTag, Effect.flatMap(provider(options), makeLanguageModel))
