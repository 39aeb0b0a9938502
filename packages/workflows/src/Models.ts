/**
 * The model of a workflow run: offline by default with the scripted model (whose scripts make
 * the conversations read naturally), the real Claude model when `ANTHROPIC_API_KEY` is set
 * (read through `Config`), unless `offline` forces the scripted one.
 *
 * @since 0.1.0
 */
import type { ConfigError } from "effect"
import { Config, Effect, Layer, Option } from "effect"
import type { LanguageModel } from "@braid/llm"
import { AnthropicModel, ScriptedModel } from "@braid/llm"

/**
 * Which model a run uses.
 *
 * @since 0.1.0
 */
export type Mode = "scripted" | "anthropic"

/**
 * `"anthropic"` when `ANTHROPIC_API_KEY` is configured and `offline` is not set, else `"scripted"`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Models } from "@braid/workflows"
 *
 * const mode = Effect.runSync(Models.mode({ offline: true })) // "scripted"
 * ```
 *
 * @since 0.1.0
 */
export const mode = (options: { readonly offline?: boolean } = {}): Effect.Effect<Mode> =>
  options.offline === true
    ? Effect.succeed("scripted")
    : Effect.map(
      Effect.orElseSucceed(Config.option(Config.nonEmptyString("ANTHROPIC_API_KEY")), () => Option.none()),
      (key) => (Option.isSome(key) ? "anthropic" : "scripted")
    )

/**
 * The `LanguageModel` layer: the scripted model with `script`, or Anthropic (see `mode`).
 *
 * @example
 * ```ts
 * import { Models, Scripts } from "@braid/workflows"
 *
 * const Model = Models.layer(Scripts.judge, { offline: true })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  script: ScriptedModel.Options,
  options: { readonly offline?: boolean; readonly model?: string } = {}
): Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(mode(options), (m) =>
      m === "anthropic"
        ? AnthropicModel.layer(options.model !== undefined ? { model: options.model } : {})
        : ScriptedModel.layer(script))
  )
