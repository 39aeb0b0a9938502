/**
 * The model examples and apps start with: Claude (through `AnthropicModel`) when
 * `ANTHROPIC_API_KEY` is set, otherwise the deterministic offline `ScriptedModel`.
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer, Option, Redacted } from "effect"
import type { ConfigError } from "effect"
import * as AnthropicModel from "./AnthropicModel.js"
import type { LanguageModel } from "./LanguageModel.js"
import * as ScriptedModel from "./ScriptedModel.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /** Used offline. */
  readonly scripted?: ScriptedModel.Options
  /** Used when a key is set. */
  readonly anthropic?: AnthropicModel.Options
}

/**
 * Whether a real model will be used (`ANTHROPIC_API_KEY` is set and not empty).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DefaultModel } from "@braid/llm"
 *
 * const online = Effect.runSync(DefaultModel.isOnline)
 * ```
 *
 * @since 0.1.0
 */
export const isOnline: Effect.Effect<boolean> = Effect.map(
  Effect.orElseSucceed(Config.option(Config.redacted("ANTHROPIC_API_KEY")), () => Option.none()),
  (key) => Option.isSome(key) && Redacted.value(key.value).trim().length > 0
)

/**
 * Claude when `ANTHROPIC_API_KEY` is set, the scripted model otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert"
 * import { Effect } from "effect"
 * import { DefaultModel, LanguageModel } from "@braid/llm"
 *
 * const Model = DefaultModel.layer({ scripted: { rules: [{ when: "ping", reply: "pong" }] } })
 * const r = await Effect.runPromise(
 *   LanguageModel.generate({ messages: [LanguageModel.user("ping")] }).pipe(Effect.provide(Model))
 * )
 * if (!process.env["ANTHROPIC_API_KEY"]) assert.strictEqual(r.text, "pong")
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<LanguageModel, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(isOnline, (online) =>
      online ? AnthropicModel.layer(options.anthropic ?? {}) : ScriptedModel.layer(options.scripted ?? {}))
  )
