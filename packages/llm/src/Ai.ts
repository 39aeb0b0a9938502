/**
 * The model port of Braid: `@effect/ai`'s `LanguageModel` (with its `Prompt`, `Response`, `Tool`,
 * `Toolkit` and `AiError`), re-exported as it is, plus the few things Braid adds on top:
 *
 * - `Settings`: the per-call settings every Braid adapter honours (model, max tokens,
 *   temperature, stop sequences) and the agent a call is made for (per-agent accounting), set
 *   for a scope with `withSettings`;
 * - the `braid` namespace of provider options on prompt messages and parts
 *   (`{ braid: { cache: true } }`: cache the prompt up to here, Anthropic's `cache_control`);
 * - the `braid` namespace of metadata on the finish part, where `Metered` puts each response's
 *   usage and cost (read it with `Metered.costOf` / `Metered.usageOf`).
 *
 * @since 0.2.0
 */
import type * as LanguageModelNs from "@effect/ai/LanguageModel"
import { make as makeLanguageModel } from "@effect/ai/LanguageModel"
import type * as PromptNs from "@effect/ai/Prompt"
import { Context, Effect, Stream } from "effect"
import { dual } from "effect/Function"

/**
 * `@effect/ai`'s typed errors (`HttpRequestError`, `HttpResponseError`, `MalformedInput`,
 * `MalformedOutput`, `UnknownError`). Braid's errors travel inside them: see `AiErrors`.
 *
 * @since 0.2.0
 * @category models
 */
export * as AiError from "@effect/ai/AiError"

/**
 * `@effect/ai`'s `LanguageModel` service: `generateText`, `generateObject`, `streamText`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ai, ScriptedLanguageModel } from "@braid/llm"
 *
 * const program = Ai.LanguageModel.generateText({ prompt: "Say hi" }).pipe(
 *   Effect.map((response) => response.text),
 *   Effect.provide(ScriptedLanguageModel.layer({ rules: [{ when: "hi", reply: "Hi!" }] }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export * as LanguageModel from "@effect/ai/LanguageModel"

/**
 * `@effect/ai`'s prompts: messages (system, user, assistant, tool) made of parts (text, file,
 * tool call, tool result).
 *
 * @since 0.2.0
 * @category models
 */
export * as Prompt from "@effect/ai/Prompt"

/**
 * `@effect/ai`'s response parts (text, tool call, tool result, finish with usage, ...).
 *
 * @since 0.2.0
 * @category models
 */
export * as Response from "@effect/ai/Response"

/**
 * `@effect/ai`'s tools: a name, a description and Schemas of parameters, success and failure.
 *
 * @since 0.2.0
 * @category models
 */
export * as Tool from "@effect/ai/Tool"

/**
 * `@effect/ai`'s toolkits: tools with their handlers.
 *
 * @since 0.2.0
 * @category models
 */
export * as Toolkit from "@effect/ai/Toolkit"

/**
 * Braid's provider options on prompt messages and parts.
 *
 * @since 0.2.0
 * @category models
 */
// A type alias, not an interface: it must fit @effect/ai's index-signature option records in a
// consumer's type-check of the declarations (an interface has no implicit index signature).
export type BraidPromptOptions = {
  /** Cache the prompt up to and including this message or part (Anthropic: `cache_control`). */
  readonly cache?: boolean | undefined
}

/**
 * The usage and cost of one response, as `Metered` computes it (on the finish part's
 * `metadata.braid`).
 *
 * @since 0.2.0
 * @category models
 */
export interface BraidUsage {
  /** The model that answered (the one priced). */
  readonly model: string
  /** Input tokens, excluding cache reads and writes. */
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
  /** `true` when the provider reported no usage and these are estimates. */
  readonly estimated: boolean
  /** The cost in USD (0 for a model missing from the price table: then `priced` is `false`). */
  readonly costUsd: number
  readonly priced: boolean
  /** `true` when the response was replayed from a durable journal (no model was called, no spend). */
  readonly replayed?: boolean
}

/**
 * What a Braid adapter reports on the finish part's `metadata.braid` (usage the standard
 * `Usage` cannot carry); `Metered` adds the cost.
 *
 * @since 0.2.0
 * @category models
 */
// A type alias for the same reason as `BraidPromptOptions`.
export type BraidFinishMetadata = {
  readonly model?: string | undefined
  readonly cacheReadTokens?: number | undefined
  readonly cacheWriteTokens?: number | undefined
  readonly estimated?: boolean | undefined
  /** The provider's own stop reason (e.g. Anthropic's `end_turn`, `tool_use`, `refusal`). */
  readonly stopReason?: string | undefined
  /**
   * The response was replayed from a durable journal (`DurableModel` of @braid/durable): no
   * model was called; `Metered` counts it as a replay, not as a call.
   */
  readonly replayed?: boolean | undefined
  /** Set by `Metered`. */
  readonly usage?: BraidUsage | undefined
}

declare module "@effect/ai/Prompt" {
  export interface SystemMessageOptions extends ProviderOptions {
    readonly braid?: BraidPromptOptions | undefined
  }
  export interface UserMessageOptions extends ProviderOptions {
    readonly braid?: BraidPromptOptions | undefined
  }
  export interface AssistantMessageOptions extends ProviderOptions {
    readonly braid?: BraidPromptOptions | undefined
  }
  export interface ToolMessageOptions extends ProviderOptions {
    readonly braid?: BraidPromptOptions | undefined
  }
  export interface TextPartOptions extends ProviderOptions {
    readonly braid?: BraidPromptOptions | undefined
  }
  export interface FilePartOptions extends ProviderOptions {
    readonly braid?: BraidPromptOptions | undefined
  }
  export interface ToolResultPartOptions extends ProviderOptions {
    readonly braid?: BraidPromptOptions | undefined
  }
}

declare module "@effect/ai/Response" {
  export interface FinishPartMetadata extends ProviderMetadata {
    readonly braid?: BraidFinishMetadata | undefined
  }
}

/**
 * Per-call settings, honoured by every Braid adapter. `model` overrides the adapter's default
 * model (`Metered` sets it to switch to a cheaper model); `agent` names the agent making the
 * call (per-agent accounting, the `gen_ai.agent.name` attribute).
 *
 * @since 0.2.0
 * @category models
 */
export interface SettingsShape {
  readonly model?: string | undefined
  readonly maxTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly stopSequences?: ReadonlyArray<string> | undefined
  readonly agent?: string | undefined
}

/**
 * The settings in scope (empty by default: each adapter's defaults apply).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ai } from "@braid/llm"
 *
 * const model = Effect.map(Ai.Settings, (s) => s.model ?? "the adapter's default")
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class Settings extends Context.Reference<Settings>()("@braid/llm/Ai/Settings", {
  defaultValue: (): SettingsShape => ({})
}) {}

/**
 * Runs an effect (or a stream) with these settings merged over the ones in scope.
 *
 * @example
 * ```ts
 * import { Ai } from "@braid/llm"
 *
 * const answer = Ai.LanguageModel.generateText({ prompt: "Summarize this" }).pipe(
 *   Ai.withSettings({ model: "claude-haiku-5-5", maxTokens: 200, agent: "summarizer" })
 * )
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const withSettings: {
  (settings: SettingsShape): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, settings: SettingsShape): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, settings: SettingsShape): Effect.Effect<A, E, R> =>
    Effect.flatMap(Settings, (current) => Effect.provideService(self, Settings, merge(current, settings)))
)

/**
 * `withSettings` for a stream.
 *
 * @example
 * ```ts
 * import { Ai } from "@braid/llm"
 *
 * const parts = Ai.LanguageModel.streamText({ prompt: "Tell me a story" }).pipe(
 *   Ai.withStreamSettings({ temperature: 0.9 })
 * )
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const withStreamSettings: {
  (settings: SettingsShape): <A, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<A, E, R>
  <A, E, R>(self: Stream.Stream<A, E, R>, settings: SettingsShape): Stream.Stream<A, E, R>
} = dual(2, <A, E, R>(self: Stream.Stream<A, E, R>, settings: SettingsShape): Stream.Stream<A, E, R> =>
  Stream.unwrap(
    Effect.map(Settings, (current) => Stream.provideService(self, Settings, merge(current, settings)))
  ))

const merge = (current: SettingsShape, next: SettingsShape): SettingsShape => {
  const out: { -readonly [K in keyof SettingsShape]: SettingsShape[K] } = { ...current }
  for (const [k, v] of Object.entries(next)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v
  }
  return out
}

/**
 * A `LanguageModel` provider: what an adapter implements (`@effect/ai`'s constructor
 * parameters) with its name and default model. `LanguageModel.make(provider)` builds the
 * service; `RecordedLanguageModel` records and replays one.
 *
 * @since 0.2.0
 * @category models
 */
export interface Provider extends LanguageModelNs.ConstructorParams {
  /** e.g. `"anthropic"`, `"braid.scripted"` (`gen_ai.provider.name`). */
  readonly name: string
  /** The model used when `Settings.model` is not set. */
  readonly defaultModel: string
  /** The base URL the provider calls (`server.address` / `server.port` on model-call spans). */
  readonly baseUrl?: string
}

/**
 * Builds the `LanguageModel` service of a provider.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Ai } from "@braid/llm"
 *
 * const service = Ai.fromProvider({
 *   name: "echo",
 *   defaultModel: "echo-1",
 *   generateText: () => Effect.succeed([{ type: "text", text: "echo" }]),
 *   streamText: () => Stream.empty
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromProvider = (provider: Provider): Effect.Effect<LanguageModelNs.Service> => makeLanguageModel(provider)

/**
 * The text of the system messages of a prompt, joined with a blank line.
 *
 * @example
 * ```ts
 * import { Ai } from "@braid/llm"
 *
 * Ai.systemText(Ai.Prompt.make([{ role: "system", content: "Be brief" }])) // "Be brief"
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const systemText = (prompt: PromptNs.Prompt): string =>
  prompt.content.flatMap((m) => (m.role === "system" ? [m.content] : [])).join("\n\n")

/**
 * The text of the last user message of a prompt ("" when there is none).
 *
 * @example
 * ```ts
 * import { Ai } from "@braid/llm"
 *
 * Ai.lastUserText(Ai.Prompt.make("hello")) // "hello"
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const lastUserText = (prompt: PromptNs.Prompt): string => {
  for (let i = prompt.content.length - 1; i >= 0; i--) {
    const m = prompt.content[i]!
    if (m.role === "user") {
      return m.content.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("")
    }
  }
  return ""
}
