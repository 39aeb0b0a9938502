/**
 * The model examples and apps start with, on the port of `@effect/ai`: Claude (through
 * `AnthropicLanguageModel`) when `ANTHROPIC_API_KEY` is set, otherwise the deterministic offline
 * `ScriptedLanguageModel`; either way metered (`Metered`: cost, budgets, accounting, the guard).
 *
 * @since 0.2.0
 */
import type { LanguageModel } from "@effect/ai/LanguageModel"
import type { ConfigError, Layer } from "effect"
import { Config, Effect, Option, Redacted } from "effect"
import type { Accounting } from "./Accounting.js"
import type { Provider } from "./Ai.js"
import * as AnthropicLanguageModel from "./AnthropicLanguageModel.js"
import * as Metered from "./Metered.js"
import * as ScriptedLanguageModel from "./ScriptedLanguageModel.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Used offline. */
  readonly scripted?: ScriptedLanguageModel.Options
  /** Used when a key is set. */
  readonly anthropic?: AnthropicLanguageModel.Options
  /** Budgets and alert of the metering (see `Metered.Options`). */
  readonly metered?: Metered.Options
}

/**
 * Whether a real model will be used (`ANTHROPIC_API_KEY` is set and not empty).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DefaultLanguageModel } from "@braid/llm"
 *
 * const online = Effect.runSync(DefaultLanguageModel.isOnline)
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isOnline: Effect.Effect<boolean> = Effect.map(
  Effect.orElseSucceed(Config.option(Config.redacted("ANTHROPIC_API_KEY")), () => Option.none()),
  (key) => Option.isSome(key) && Redacted.value(key.value).trim().length > 0
)

/**
 * The provider: Anthropic when a key is set, the scripted one otherwise.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DefaultLanguageModel } from "@braid/llm"
 *
 * const name = Effect.map(DefaultLanguageModel.provider(), (p) => p.name) // "anthropic" or "braid.scripted"
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const provider = (options: Options = {}): Effect.Effect<Provider, ConfigError.ConfigError> =>
  Effect.flatMap(isOnline, (online): Effect.Effect<Provider, ConfigError.ConfigError> =>
    online
      ? AnthropicLanguageModel.provider(options.anthropic ?? {})
      : ScriptedLanguageModel.provider(options.scripted ?? {}))

/**
 * The metered `LanguageModel` (and its `Accounting`): Claude when `ANTHROPIC_API_KEY` is set,
 * the scripted model otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert"
 * import { Effect } from "effect"
 * import { Ai, DefaultLanguageModel } from "@braid/llm"
 *
 * const Model = DefaultLanguageModel.layer({ scripted: { rules: [{ when: "ping", reply: "pong" }] } })
 * const r = await Effect.runPromise(
 *   Ai.LanguageModel.generateText({ prompt: "ping" }).pipe(Effect.provide(Model))
 * )
 * if (!process.env["ANTHROPIC_API_KEY"]) assert.strictEqual(r.text, "pong")
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<LanguageModel | Accounting, ConfigError.ConfigError> =>
  Metered.fromProvider(provider(options), options.metered ?? {})
