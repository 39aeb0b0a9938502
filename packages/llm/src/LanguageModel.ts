/**
 * The `LanguageModel` port: the one service every Braid component calls a model through.
 *
 * Adapters (Anthropic, scripted, recorded) all build it with `LanguageModel.make`, which is the
 * single place where a model call gets its GenAI span (`chat {model}`) and metrics. Accounting
 * and budgets wrap it once more (see `Accounting.layer`).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Stream } from "effect"
import type { ModelError } from "./Errors.js"
import { MalformedResponse } from "./Errors.js"
import { validateRequest } from "./internal/schema.js"
import { instrumentGenerate, instrumentStream } from "./internal/telemetry.js"

/**
 * One turn of the conversation.
 *
 * @since 0.1.0
 */
export interface Message {
  readonly role: "user" | "assistant"
  readonly content: string
}

/**
 * The system prompt. With `cache: true` the adapter asks the provider to cache it (Anthropic:
 * `cache_control: { type: "ephemeral" }`); cache reads and writes show up in `Usage`.
 *
 * @since 0.1.0
 */
export type SystemPrompt = string | { readonly text: string; readonly cache?: boolean }

/**
 * A tool the model may call. `inputSchema` is a JSON Schema object.
 *
 * @since 0.1.0
 */
export interface ToolDefinition {
  readonly name: string
  readonly description?: string
  readonly inputSchema: Readonly<Record<string, unknown>>
}

/**
 * A tool call made by the model (`stopReason === "tool_use"`).
 *
 * @since 0.1.0
 */
export interface ToolCall {
  readonly id: string
  readonly name: string
  readonly input: unknown
}

/**
 * A model request. Only `messages` is required; `model` defaults to the adapter's model.
 * `metadata.agent` names the agent making the call (used for per-agent accounting).
 *
 * @since 0.1.0
 */
export interface Request {
  readonly model?: string
  readonly system?: SystemPrompt
  readonly messages: ReadonlyArray<Message>
  /** Default 1024. */
  readonly maxTokens?: number
  readonly temperature?: number
  readonly stopSequences?: ReadonlyArray<string>
  readonly tools?: ReadonlyArray<ToolDefinition>
  readonly metadata?: { readonly agent?: string }
}

/**
 * Why the model stopped. Provider reasons outside this list are reported as `"other"`.
 *
 * @since 0.1.0
 */
export type StopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "refusal" | "other"

/**
 * Tokens used by one call. `estimated` is `true` when the numbers are an estimate (the scripted
 * model, or a provider response without usage), not the provider's count.
 *
 * @since 0.1.0
 */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
  /** Input tokens read from the prompt cache. */
  readonly cacheReadTokens: number
  /** Input tokens written to the prompt cache. */
  readonly cacheWriteTokens: number
  readonly estimated: boolean
}

/**
 * The answer of a `generate` call. `model` is the model that answered (which may differ from
 * the requested one, e.g. after a budget switch to a cheaper model).
 *
 * @since 0.1.0
 */
export interface Response {
  readonly text: string
  readonly stopReason: StopReason
  readonly model: string
  readonly usage: Usage
  readonly toolCalls?: ReadonlyArray<ToolCall>
}

/**
 * What `stream` emits: text deltas as they arrive, then exactly one `Finish` carrying the whole
 * response (full text, stop reason, usage).
 *
 * @since 0.1.0
 */
export type StreamEvent =
  | { readonly _tag: "TextDelta"; readonly text: string }
  | { readonly _tag: "Finish"; readonly response: Response }

/**
 * The operations of the port.
 *
 * @since 0.1.0
 */
export interface Service {
  /** e.g. `"anthropic"`, `"braid.scripted"`; reported as `gen_ai.provider.name`. */
  readonly provider: string
  /** The model used when a request names none. */
  readonly defaultModel: string
  readonly generate: (request: Request) => Effect.Effect<Response, ModelError>
  readonly stream: (request: Request) => Stream.Stream<StreamEvent, ModelError>
}

/**
 * The language model service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LanguageModel, ScriptedModel } from "@braid/llm"
 *
 * const program = Effect.gen(function*() {
 *   const model = yield* LanguageModel.LanguageModel
 *   return yield* model.generate({ messages: [LanguageModel.user("Say hi")] })
 * }).pipe(Effect.provide(ScriptedModel.layer({ rules: [{ when: "hi", reply: "Hi!" }] })))
 * ```
 *
 * @since 0.1.0
 */
export class LanguageModel extends Context.Tag("@braid/llm/LanguageModel")<LanguageModel, Service>() {}

/**
 * Calls the model in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LanguageModel, ScriptedModel } from "@braid/llm"
 *
 * const answer = await Effect.runPromise(
 *   LanguageModel.generate({ messages: [LanguageModel.user("What is 2 + 2?")] }).pipe(
 *     Effect.provide(ScriptedModel.layer({ rules: [{ when: /2 \+ 2/, reply: "4" }] }))
 *   )
 * )
 * // answer.text === "4"
 * ```
 *
 * @since 0.1.0
 */
export const generate = (request: Request): Effect.Effect<Response, ModelError, LanguageModel> =>
  Effect.flatMap(LanguageModel, (model) => model.generate(request))

/**
 * Streams from the model in context.
 *
 * @example
 * ```ts
 * import { Option, Stream } from "effect"
 * import { LanguageModel } from "@braid/llm"
 *
 * const deltas = LanguageModel.stream({ messages: [LanguageModel.user("Tell me a story")] }).pipe(
 *   Stream.filterMap((e) => e._tag === "TextDelta" ? Option.some(e.text) : Option.none())
 * )
 * ```
 *
 * @since 0.1.0
 */
export const stream = (request: Request): Stream.Stream<StreamEvent, ModelError, LanguageModel> =>
  Stream.unwrap(Effect.map(LanguageModel, (model) => model.stream(request)))

/**
 * Streams and collects: the text deltas in order and the final response. A stream that ends
 * without its `Finish` event fails with `MalformedResponse`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LanguageModel, ScriptedModel } from "@braid/llm"
 *
 * const program = LanguageModel.streamCollect({ messages: [LanguageModel.user("hello")] }).pipe(
 *   Effect.provide(ScriptedModel.layer({ rules: [], default: "hello there" }))
 * )
 * // { deltas: ["hello ", "there"], response: { text: "hello there", ... } }
 * ```
 *
 * @since 0.1.0
 */
export const streamCollect = (
  request: Request
): Effect.Effect<{ readonly deltas: ReadonlyArray<string>; readonly response: Response }, ModelError, LanguageModel> =>
  Effect.flatMap(Stream.runCollect(stream(request)), (chunk) => {
    const deltas: Array<string> = []
    let response: Response | undefined
    for (const e of chunk) {
      if (e._tag === "TextDelta") deltas.push(e.text)
      else response = e.response
    }
    return response === undefined
      ? Effect.fail(new MalformedResponse({ message: "the model's stream ended without a Finish event" }))
      : Effect.succeed({ deltas, response })
  })

/**
 * A user message.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "@braid/llm"
 *
 * const m = LanguageModel.user("Hello") // { role: "user", content: "Hello" }
 * ```
 *
 * @since 0.1.0
 */
export const user = (content: string): Message => ({ role: "user", content })

/**
 * An assistant message.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "@braid/llm"
 *
 * const m = LanguageModel.assistant("Hi, how can I help?")
 * ```
 *
 * @since 0.1.0
 */
export const assistant = (content: string): Message => ({ role: "assistant", content })

/**
 * The text of the system prompt, whichever form it was given in.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "@braid/llm"
 *
 * LanguageModel.systemText({ text: "Be brief", cache: true }) // "Be brief"
 * ```
 *
 * @since 0.1.0
 */
export const systemText = (system: SystemPrompt | undefined): string =>
  system === undefined ? "" : typeof system === "string" ? system : system.text

/**
 * The text of the last user message ("" when there is none).
 *
 * @example
 * ```ts
 * import { LanguageModel } from "@braid/llm"
 *
 * LanguageModel.lastUserText({ messages: [LanguageModel.user("a"), LanguageModel.user("b")] }) // "b"
 * ```
 *
 * @since 0.1.0
 */
export const lastUserText = (request: Request): string => {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]!
    if (m.role === "user") return m.content
  }
  return ""
}

/**
 * Builds the service from an adapter's raw operations. Every adapter goes through here, and so
 * every call gets, in this order: the validation of the request (a request that is not a valid
 * `Request` fails with `InvalidRequest` naming the field, before anything is sent), the budgets of `Accounting` when it is provided (which may fail
 * with `BudgetExceeded` before anything is sent, or switch to a cheaper model), one
 * `chat {model}` span nested under the running primitive with the GenAI attributes and the
 * `gen_ai.client.*` metrics, and the accounting of its usage and cost (inside that span).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { LanguageModel } from "@braid/llm"
 *
 * const echo = LanguageModel.make({
 *   provider: "echo",
 *   defaultModel: "echo-1",
 *   generate: (req) => Effect.succeed({
 *     text: LanguageModel.lastUserText(req), stopReason: "end_turn", model: "echo-1",
 *     usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, estimated: true }
 *   }),
 *   stream: () => Stream.empty
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make = (raw: Service): Service => ({
  provider: raw.provider,
  defaultModel: raw.defaultModel,
  generate: (request) =>
    Effect.flatMap(
      Effect.suspend(() => validateRequest(request)),
      (valid) => instrumentGenerate(raw.provider, raw.defaultModel, valid, raw.generate)
    ),
  stream: (request) =>
    Stream.unwrap(Effect.map(
      Effect.suspend(() => validateRequest(request)),
      (valid) => instrumentStream(raw.provider, raw.defaultModel, valid, raw.stream)
    ))
})

/**
 * A layer from an adapter's raw operations (see `make`).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { LanguageModel } from "@braid/llm"
 *
 * const Silent = LanguageModel.layer({
 *   provider: "silent", defaultModel: "silent-1",
 *   generate: () => Effect.succeed({
 *     text: "", stopReason: "end_turn", model: "silent-1",
 *     usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, estimated: true }
 *   }),
 *   stream: () => Stream.empty
 * })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (raw: Service): Layer.Layer<LanguageModel> => Layer.succeed(LanguageModel, make(raw))
