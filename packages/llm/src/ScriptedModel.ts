/**
 * A deterministic, offline `LanguageModel`: replies come from rules keyed on the prompt, so
 * examples read naturally and tests are reproducible. It reports usage as the real model would
 * (input, output, prompt-cache reads and writes), from the token estimate of `Tokens`, marked
 * `estimated: true`. It honours `maxTokens` and `stopSequences`, can be slowed down with a
 * latency (through Effect's Clock, so `TestClock` drives it) and can fail on chosen calls to
 * simulate outages.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Ref, Stream } from "effect"
import type { ModelError } from "./Errors.js"
import { words } from "./internal/words.js"
import type { Request, Response, Service, StopReason, StreamEvent, ToolCall } from "./LanguageModel.js"
import { LanguageModel, lastUserText, make as makeModel, systemText } from "./LanguageModel.js"
import { estimate, estimateRequest } from "./Tokens.js"

/**
 * A reply rule. `when` matches the last user message: a string matches as a case-insensitive
 * substring, a RegExp is tested, a function sees the whole request. `reply` is a template where
 * `{{input}}` is the last user message, `{{system}}` the system prompt and `{{1}}`..`{{9}}` the
 * RegExp groups; or a function of the request.
 *
 * @since 0.1.0
 */
export interface Rule {
  readonly when: string | RegExp | ((request: Request) => boolean)
  readonly reply: string | ((request: Request) => string)
  /** Tool calls to make (the response then stops with `"tool_use"`). */
  readonly toolCalls?: ReadonlyArray<ToolCall> | ((request: Request) => ReadonlyArray<ToolCall>)
}

/**
 * An injected failure: fail the calls numbered `calls` (1-based, counting generate and stream
 * calls of this layer) or those matching `when`, with `error`.
 *
 * @since 0.1.0
 */
export interface Failure {
  readonly calls?: ReadonlyArray<number>
  readonly when?: (request: Request, call: number) => boolean
  readonly error: ModelError | ((request: Request, call: number) => ModelError)
}

/**
 * @since 0.1.0
 */
export interface Options {
  readonly rules?: ReadonlyArray<Rule>
  /** The reply when no rule matches; default: `Scripted reply to "<the last user message>"`. */
  readonly default?: string | ((request: Request) => string)
  /** The model name reported. Default `"braid-scripted"`. */
  readonly model?: string
  /** Delay before answering (generate) or before the first delta (stream). */
  readonly latency?: Duration.DurationInput
  readonly failures?: ReadonlyArray<Failure>
}

/**
 * The default model name of the scripted model.
 *
 * @since 0.1.0
 */
export const defaultModelName = "braid-scripted"

const fill = (template: string, request: Request, groups: ReadonlyArray<string | undefined>): string =>
  template.replace(/\{\{\s*(input|system|\d)\s*\}\}/g, (_, key: string) => {
    if (key === "input") return lastUserText(request)
    if (key === "system") return systemText(request.system)
    return groups[Number(key)] ?? ""
  })

/**
 * The reply the rules give for a request (before `maxTokens` and stop sequences apply).
 *
 * @example
 * ```ts
 * import { ScriptedModel, LanguageModel } from "@braid/llm"
 *
 * const text = ScriptedModel.replyFor(
 *   { rules: [{ when: /my name is (\w+)/i, reply: "Nice to meet you, {{1}}." }] },
 *   { messages: [LanguageModel.user("Hi, my name is Ada")] }
 * ) // "Nice to meet you, Ada."
 * ```
 *
 * @since 0.1.0
 */
export const replyFor = (options: Options, request: Request): string => match(options, request).text

const match = (options: Options, request: Request): { text: string; toolCalls?: ReadonlyArray<ToolCall> } => {
  const input = lastUserText(request)
  for (const rule of options.rules ?? []) {
    let groups: ReadonlyArray<string | undefined> | undefined
    if (typeof rule.when === "string") {
      if (input.toLowerCase().includes(rule.when.toLowerCase())) groups = []
    } else if (rule.when instanceof RegExp) {
      const m = input.match(rule.when)
      if (m !== null) groups = Array.from(m)
    } else if (rule.when(request)) groups = []
    if (groups !== undefined) {
      const text = typeof rule.reply === "string" ? fill(rule.reply, request, groups) : rule.reply(request)
      if (rule.toolCalls === undefined) return { text }
      return { text, toolCalls: typeof rule.toolCalls === "function" ? rule.toolCalls(request) : rule.toolCalls }
    }
  }
  const d = options.default
  if (d === undefined) return { text: `Scripted reply to "${input.length > 80 ? input.slice(0, 77) + "..." : input}"` }
  return { text: typeof d === "string" ? fill(d, request, []) : d(request) }
}

const shape = (text: string, request: Request): { text: string; stopReason: StopReason } => {
  let stopReason: StopReason = "end_turn"
  let out = text
  let cut = -1
  for (const s of request.stopSequences ?? []) {
    const i = s === "" ? -1 : out.indexOf(s)
    if (i >= 0 && (cut < 0 || i < cut)) cut = i
  }
  if (cut >= 0) {
    out = out.slice(0, cut)
    stopReason = "stop_sequence"
  }
  const max = request.maxTokens ?? 1024
  if (estimate(out) > max) {
    out = out.slice(0, max * 4)
    stopReason = "max_tokens"
  }
  return { text: out, stopReason }
}

/**
 * Splits a text into stream deltas (one word with its trailing space each).
 *
 * @example
 * ```ts
 * import { ScriptedModel } from "@braid/llm"
 *
 * ScriptedModel.chunks("hello there") // ["hello ", "there"]
 * ```
 *
 * @since 0.1.0
 */
export const chunks: (text: string) => ReadonlyArray<string> = words

/**
 * Builds a scripted model (each built model has its own call counter and prompt cache).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LanguageModel, ScriptedModel } from "@braid/llm"
 *
 * const program = Effect.gen(function*() {
 *   const model = yield* ScriptedModel.make({ rules: [{ when: "weather", reply: "Sunny." }] })
 *   return yield* model.generate({ messages: [LanguageModel.user("How is the weather?")] })
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const calls = yield* Ref.make(0)
    const cached = yield* Ref.make<ReadonlySet<string>>(new Set())
    const modelName = options.model ?? defaultModelName
    const latency = options.latency === undefined ? undefined : Duration.decode(options.latency)

    const answer = (request: Request): Effect.Effect<Response, ModelError> =>
      Effect.gen(function*() {
        const call = yield* Ref.updateAndGet(calls, (n) => n + 1)
        if (latency !== undefined && Duration.toMillis(latency) > 0) yield* Effect.sleep(latency)
        for (const f of options.failures ?? []) {
          const hit = (f.calls?.includes(call) ?? false) || (f.when?.(request, call) ?? false)
          if (hit) return yield* Effect.fail(typeof f.error === "function" ? f.error(request, call) : f.error)
        }
        const matched = match(options, request)
        const shaped = shape(matched.text, request)
        const text = shaped.text
        const toolCalls = matched.toolCalls !== undefined && matched.toolCalls.length > 0
          ? matched.toolCalls
          : undefined
        const stopReason: StopReason = toolCalls !== undefined ? "tool_use" : shaped.stopReason
        let cacheReadTokens = 0
        let cacheWriteTokens = 0
        const sys = request.system
        if (sys !== undefined && typeof sys !== "string" && sys.cache === true && sys.text !== "") {
          const tokens = estimate(sys.text)
          const seen = yield* Ref.modify(cached, (s) => [s.has(sys.text), new Set(s).add(sys.text)] as const)
          if (seen) cacheReadTokens = tokens
          else cacheWriteTokens = tokens
        }
        return {
          text,
          stopReason,
          model: request.model ?? modelName,
          usage: {
            inputTokens: estimateRequest(request) - cacheReadTokens - cacheWriteTokens,
            outputTokens: estimate(text),
            cacheReadTokens,
            cacheWriteTokens,
            estimated: true
          },
          ...(toolCalls !== undefined ? { toolCalls } : {})
        } satisfies Response
      })

    return makeModel({
      provider: "braid.scripted",
      defaultModel: modelName,
      generate: answer,
      stream: (request) =>
        Stream.unwrap(Effect.map(answer(request), (response) =>
          Stream.concat(
            Stream.fromIterable(chunks(response.text).map((text): StreamEvent => ({ _tag: "TextDelta", text }))),
            Stream.succeed<StreamEvent>({ _tag: "Finish", response })
          )))
    })
  })

/**
 * A layer with a scripted model.
 *
 * @example
 * ```ts
 * import assert from "node:assert"
 * import { Effect } from "effect"
 * import { Errors, LanguageModel, ScriptedModel } from "@braid/llm"
 *
 * const Model = ScriptedModel.layer({
 *   rules: [{ when: /capital of (\w+)/i, reply: "I believe it is the capital of {{1}}." }],
 *   failures: [{ calls: [2], error: new Errors.Overloaded({ message: "simulated outage" }) }]
 * })
 * const ask = LanguageModel.generate({ messages: [LanguageModel.user("What is the capital of France?")] })
 * const [first, second] = await Effect.runPromise(
 *   Effect.all([ask, Effect.either(ask)]).pipe(Effect.provide(Model))
 * )
 * assert.strictEqual(first.text, "I believe it is the capital of France.")
 * assert.strictEqual(second._tag, "Left")
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<LanguageModel> => Layer.effect(LanguageModel, make(options))
