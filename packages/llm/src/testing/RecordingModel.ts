/**
 * A metered `LanguageModel` over any provider (a scripted one, typically) that records every
 * request it is asked (the prompt, the settings in scope, the tools offered), for tests that
 * assert what the model was sent.
 *
 * Import it from `@braid/llm/testing/RecordingModel`.
 *
 * @since 0.2.0
 */
import type { LanguageModel } from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type { Layer } from "effect"
import { Effect, Ref, Stream } from "effect"
import type { Accounting } from "../Accounting.js"
import type { Provider, SettingsShape } from "../Ai.js"
import { lastUserText, Settings, systemText } from "../Ai.js"
import * as Metered from "../Metered.js"

/**
 * One recorded request.
 *
 * @example
 * ```ts
 * import type * as RecordingModel from "@braid/llm/testing/RecordingModel"
 *
 * const coachCalls = (rs: ReadonlyArray<RecordingModel.Request>) => rs.filter((r) => r.agent === "coach")
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export interface Request {
  readonly prompt: Prompt.Prompt
  readonly settings: SettingsShape
  /** The names of the tools offered. */
  readonly tools: ReadonlyArray<string>
  /** `Ai.systemText` of the prompt. */
  readonly system: string
  /** `Ai.lastUserText` of the prompt. */
  readonly lastUser: string
  /** `settings.agent`. */
  readonly agent: string | undefined
}

/**
 * The request a prompt and settings stand for.
 *
 * @example
 * ```ts
 * import { Ai } from "@braid/llm"
 * import * as RecordingModel from "@braid/llm/testing/RecordingModel"
 *
 * const r = RecordingModel.request(Ai.Prompt.make("hi"), { agent: "coach" }) // r.lastUser === "hi"
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const request = (
  prompt: Prompt.Prompt,
  settings: SettingsShape,
  tools: ReadonlyArray<string> = []
): Request => ({
  prompt,
  settings,
  tools,
  system: systemText(prompt),
  lastUser: lastUserText(prompt),
  agent: settings.agent
})

/**
 * A provider that records each request to `requests` before its `generateText` and `streamText`.
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { ScriptedLanguageModel } from "@braid/llm"
 * import * as RecordingModel from "@braid/llm/testing/RecordingModel"
 *
 * const recorded = Effect.gen(function*() {
 *   const requests = yield* Ref.make<ReadonlyArray<RecordingModel.Request>>([])
 *   return RecordingModel.provider(yield* ScriptedLanguageModel.provider(), requests)
 * })
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const provider = (inner: Provider, requests: Ref.Ref<ReadonlyArray<Request>>): Provider => {
  const record = (
    options: { readonly prompt: Prompt.Prompt; readonly tools: ReadonlyArray<{ readonly name: string }> }
  ) =>
    Effect.flatMap(
      Settings,
      (settings) =>
        Ref.update(requests, (rs) => [...rs, request(options.prompt, settings, options.tools.map((t) => t.name))])
    )
  return {
    ...inner,
    generateText: (options) => Effect.zipRight(record(options), inner.generateText(options)),
    streamText: (options) => Stream.unwrap(Effect.as(record(options), inner.streamText(options)))
  }
}

/**
 * A metered layer of `inner` that records every request to `requests`.
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { Ai, ScriptedLanguageModel } from "@braid/llm"
 * import * as RecordingModel from "@braid/llm/testing/RecordingModel"
 *
 * const program = Effect.gen(function*() {
 *   const requests = yield* Ref.make<ReadonlyArray<RecordingModel.Request>>([])
 *   yield* Ai.LanguageModel.generateText({ prompt: "hi" }).pipe(
 *     Effect.provide(RecordingModel.layer(ScriptedLanguageModel.provider(), requests))
 *   )
 *   return (yield* Ref.get(requests)).length // 1
 * })
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const layer = <E, R>(
  inner: Effect.Effect<Provider, E, R>,
  requests: Ref.Ref<ReadonlyArray<Request>>,
  options: Metered.Options = {}
): Layer.Layer<LanguageModel | Accounting, E, R> =>
  Metered.fromProvider(Effect.map(inner, (p) => provider(p, requests)), options)
