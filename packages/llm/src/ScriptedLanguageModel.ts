/**
 * A deterministic, offline provider of `@effect/ai`'s `LanguageModel`: answers come from rules
 * keyed on the prompt, so examples read naturally and tests are reproducible. It can script
 * tool calls (made when the toolkit offers the tool; the next turn, which carries their results,
 * gets the rule's reply, where `{{results}}` is the JSON of the results) and structured output
 * (`object`, returned as the JSON `generateObject` decodes). Usage is the token estimate of
 * `Tokens`, marked estimated, with prompt-cache reads and writes for system messages marked
 * `{ braid: { cache: true } }`. It honours `Ai.Settings` (model, max tokens, stop sequences),
 * can be slowed down (through Effect's Clock, so `TestClock` drives it) and can fail chosen
 * calls with a Braid error (carried by an `AiError`).
 *
 * @since 0.2.0
 */
import type { ProviderOptions } from "@effect/ai/LanguageModel"
import { LanguageModel as LanguageModelTag } from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import type { Duration } from "effect"
import { Duration as D, Effect, Layer, Ref, Stream } from "effect"
import type { BraidFinishMetadata, Provider } from "./Ai.js"
import { fromProvider, lastUserText, Settings, systemText } from "./Ai.js"
import { fromModelError } from "./AiErrors.js"
import type { ModelError } from "./Errors.js"
import { words as chunks } from "./internal/words.js"
import { estimate, estimatePrompt } from "./Tokens.js"

/**
 * A tool call a rule makes. `id` defaults to `call_{n}` (n counts the calls of the model).
 *
 * @since 0.2.0
 * @category models
 */
export interface ScriptedToolCall {
  readonly id?: string
  readonly name: string
  readonly params: unknown
}

/**
 * A reply rule. `when` matches the last user message: a string as a case-insensitive
 * substring, a RegExp is tested, a function sees the whole prompt. `reply` is a template where
 * `{{input}}` is the last user message, `{{system}}` the system prompt, `{{1}}`..`{{9}}` the
 * RegExp groups and `{{results}}` the JSON of the tool results of the turn; or a function of the
 * prompt.
 *
 * @since 0.2.0
 * @category models
 */
export interface Rule {
  readonly when: string | RegExp | ((prompt: Prompt.Prompt) => boolean)
  readonly reply?: string | ((prompt: Prompt.Prompt) => string)
  /** Tool calls to make when the prompt has no tool results yet (and the toolkit offers the tool). */
  readonly toolCalls?: ReadonlyArray<ScriptedToolCall> | ((prompt: Prompt.Prompt) => ReadonlyArray<ScriptedToolCall>)
  /** The structured answer to `generateObject` (encoded, as the Schema's JSON). */
  readonly object?: unknown
}

/**
 * An injected failure: fail the calls numbered `calls` (1-based) or those `when` selects.
 *
 * @since 0.2.0
 * @category models
 */
export interface Failure {
  readonly calls?: ReadonlyArray<number>
  readonly when?: (prompt: Prompt.Prompt, call: number) => boolean
  readonly error: ModelError
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly rules?: ReadonlyArray<Rule>
  /** The reply when no rule matches (default: `Scripted reply to "{{input}}"`). */
  readonly default?: string | ((prompt: Prompt.Prompt) => string)
  /** Default `braid-scripted` (priced like Claude Sonnet 5.5). */
  readonly model?: string
  readonly latency?: Duration.DurationInput
  readonly failures?: ReadonlyArray<Failure>
}

/**
 * The default model name.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultModel = "braid-scripted"

const toolResults = (prompt: Prompt.Prompt): ReadonlyArray<Prompt.ToolResultPart> => {
  const out: Array<Prompt.ToolResultPart> = []
  for (let i = prompt.content.length - 1; i >= 0; i--) {
    const m = prompt.content[i]!
    if (m.role === "user") break
    if (m.role === "tool") out.unshift(...m.content)
  }
  return out
}

const fill = (template: string, prompt: Prompt.Prompt, groups: ReadonlyArray<string>): string =>
  template.replace(/\{\{(input|system|results|[1-9])\}\}/g, (_m, key: string) => {
    if (key === "input") return lastUserText(prompt)
    if (key === "system") return systemText(prompt)
    if (key === "results") {
      return JSON.stringify(toolResults(prompt).map((r) => ({ name: r.name, result: r.result })))
    }
    return groups[Number(key)] ?? ""
  })

interface Matched {
  readonly text: string
  readonly toolCalls: ReadonlyArray<ScriptedToolCall>
  readonly object: { readonly value: unknown } | undefined
}

const match = (options: Options, prompt: Prompt.Prompt): Matched => {
  const input = lastUserText(prompt)
  const answered = toolResults(prompt).length > 0
  for (const rule of options.rules ?? []) {
    let groups: ReadonlyArray<string> | undefined
    if (typeof rule.when === "string") {
      if (input.toLowerCase().includes(rule.when.toLowerCase())) groups = []
    } else if (rule.when instanceof RegExp) {
      const m = input.match(rule.when)
      if (m !== null) groups = Array.from(m)
    } else if (rule.when(prompt)) groups = []
    if (groups === undefined) continue
    const text = rule.reply === undefined
      ? ""
      : typeof rule.reply === "string"
      ? fill(rule.reply, prompt, groups)
      : rule.reply(prompt)
    const calls = rule.toolCalls === undefined || answered
      ? []
      : typeof rule.toolCalls === "function"
      ? rule.toolCalls(prompt)
      : rule.toolCalls
    return { text, toolCalls: calls, object: "object" in rule ? { value: rule.object } : undefined }
  }
  const d = options.default
  const text = d === undefined
    ? `Scripted reply to "${input.length > 80 ? input.slice(0, 77) + "..." : input}"`
    : typeof d === "string"
    ? fill(d, prompt, [])
    : d(prompt)
  return { text, toolCalls: [], object: undefined }
}

const promptTokens = (prompt: Prompt.Prompt, tools: ProviderOptions["tools"]): number => {
  let total = estimatePrompt(prompt)
  for (const t of tools) total += estimate(t.name + (t.description ?? ""))
  return total
}

/**
 * Builds a scripted provider (each has its own call counter and prompt cache).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ai, ScriptedLanguageModel } from "@braid/llm"
 *
 * const program = Effect.gen(function*() {
 *   const model = yield* Ai.fromProvider(yield* ScriptedLanguageModel.provider({ rules: [{ when: "weather", reply: "Sunny." }] }))
 *   return yield* model.generateText({ prompt: "How is the weather?" })
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const provider = (options: Options = {}): Effect.Effect<Provider> =>
  Effect.gen(function*() {
    const calls = yield* Ref.make(0)
    const cached = yield* Ref.make<ReadonlySet<string>>(new Set())
    const model = options.model ?? defaultModel
    const latency = options.latency === undefined ? undefined : D.decode(options.latency)

    const answer = (
      method: string,
      providerOptions: ProviderOptions
    ): Effect.Effect<ReadonlyArray<Response.PartEncoded>, ReturnType<typeof fromModelError>> =>
      Effect.gen(function*() {
        const call = yield* Ref.updateAndGet(calls, (n) => n + 1)
        const settings = yield* Settings
        const prompt = providerOptions.prompt
        if (latency !== undefined && D.toMillis(latency) > 0) yield* Effect.sleep(latency)
        for (const f of options.failures ?? []) {
          const hit = (f.calls?.includes(call) ?? false) || (f.when?.(prompt, call) ?? false)
          if (hit) return yield* Effect.fail(fromModelError(f.error, { module: "ScriptedLanguageModel", method }))
        }
        const matched = match(options, prompt)
        const structured = providerOptions.responseFormat.type === "json"
        const offered = new Set(providerOptions.toolChoice === "none" ? [] : providerOptions.tools.map((t) => t.name))
        const toolCalls = structured ? [] : matched.toolCalls.filter((c) => offered.has(c.name))

        let text = structured && matched.object !== undefined ? JSON.stringify(matched.object.value) : matched.text
        let reason: Response.FinishReason = toolCalls.length > 0 ? "tool-calls" : "stop"
        let stopReason = toolCalls.length > 0 ? "tool_use" : "end_turn"
        if (!structured) {
          let cut = -1
          for (const s of settings.stopSequences ?? []) {
            const i = s === "" ? -1 : text.indexOf(s)
            if (i >= 0 && (cut < 0 || i < cut)) cut = i
          }
          if (cut >= 0) {
            text = text.slice(0, cut)
            stopReason = "stop_sequence"
          }
          const max = settings.maxTokens ?? 1024
          if (estimate(text) > max) {
            text = text.slice(0, max * 4)
            reason = "length"
            stopReason = "max_tokens"
          }
        }

        let cacheReadTokens = 0
        let cacheWriteTokens = 0
        for (const m of prompt.content) {
          if (m.role !== "system" || m.options.braid?.cache !== true || m.content === "") continue
          const tokens = estimate(m.content)
          const seen = yield* Ref.modify(cached, (s) => [s.has(m.content), new Set(s).add(m.content)] as const)
          if (seen) cacheReadTokens += tokens
          else cacheWriteTokens += tokens
        }
        const usedModel = settings.model ?? model
        const inputTokens = promptTokens(prompt, providerOptions.tools)
        const outputTokens = estimate(text) + toolCalls.reduce((n, c) => n + estimate(JSON.stringify(c.params)), 0)
        const braid: BraidFinishMetadata = {
          model: usedModel,
          cacheReadTokens,
          cacheWriteTokens,
          estimated: true,
          stopReason
        }
        const parts: Array<Response.PartEncoded> = [{ type: "response-metadata", modelId: usedModel }]
        if (text !== "") parts.push({ type: "text", text })
        toolCalls.forEach((c, i) =>
          parts.push({ type: "tool-call", id: c.id ?? `call_${call}_${i + 1}`, name: c.name, params: c.params })
        )
        parts.push({
          type: "finish",
          reason,
          usage: {
            inputTokens,
            outputTokens,
            totalTokens: inputTokens + outputTokens,
            cachedInputTokens: cacheReadTokens
          },
          metadata: { braid } as Response.FinishPartEncoded["metadata"]
        })
        return parts
      })

    return {
      name: "braid.scripted",
      defaultModel: model,
      generateText: (o) => Effect.map(answer("generateText", o), (parts) => [...parts]),
      streamText: (o) =>
        Stream.unwrap(Effect.map(answer("streamText", o), (parts) =>
          Stream.fromIterable(parts.flatMap((part): ReadonlyArray<Response.StreamPartEncoded> => {
            switch (part.type) {
              case "text":
                return [
                  { type: "text-start", id: "0" },
                  ...chunks(part.text).map((delta): Response.StreamPartEncoded => ({
                    type: "text-delta",
                    id: "0",
                    delta
                  })),
                  { type: "text-end", id: "0" }
                ]
              case "tool-call":
                return [
                  { type: "tool-params-start", id: part.id, name: part.name },
                  { type: "tool-params-delta", id: part.id, delta: JSON.stringify(part.params) },
                  { type: "tool-params-end", id: part.id },
                  part
                ]
              case "response-metadata":
              case "finish":
                return [part]
              default:
                return []
            }
          })).pipe(Stream.rechunk(1))))
    }
  })

/**
 * A layer with a scripted `LanguageModel` (wrap it with `Metered.layer`, or use
 * `Metered.fromProvider(ScriptedLanguageModel.provider(...))`, for accounting and telemetry).
 *
 * @example
 * ```ts
 * import assert from "node:assert"
 * import { Effect, Schema } from "effect"
 * import { Ai, ScriptedLanguageModel } from "@braid/llm"
 *
 * const Add = Ai.Tool.make("Add", { parameters: { a: Schema.Number, b: Schema.Number }, success: Schema.Number })
 * const Tools = Ai.Toolkit.make(Add)
 * const Model = ScriptedLanguageModel.layer({
 *   rules: [{ when: "2 + 3", toolCalls: [{ name: "Add", params: { a: 2, b: 3 } }], reply: "It is {{results}}" }]
 * })
 * const r = await Effect.runPromise(
 *   Ai.LanguageModel.generateText({ prompt: "What is 2 + 3?", toolkit: Tools }).pipe(
 *     Effect.provide(Tools.toLayer({ Add: ({ a, b }) => Effect.succeed(a + b) })),
 *     Effect.provide(Model)
 *   )
 * )
 * assert.strictEqual(r.toolResults[0]?.result, 5)
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<LanguageModelTag> =>
  Layer.effect(LanguageModelTag, Effect.flatMap(provider(options), fromProvider))
