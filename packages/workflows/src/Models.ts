/**
 * The model of a workflow run: `DefaultModel` (Claude when `ANTHROPIC_API_KEY` is set, the
 * scripted model otherwise) with a workflow's script, plus `offline` to force the scripted model.
 *
 * @since 0.1.0
 */
import type { ConfigError, Layer } from "effect"
import { Effect } from "effect"
import type { LanguageModel } from "@braid/llm"
import { DefaultModel, ScriptedModel } from "@braid/llm"

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
    : Effect.map(DefaultModel.isOnline, (online) => (online ? "anthropic" : "scripted"))

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
  options.offline === true
    ? ScriptedModel.layer(script)
    : DefaultModel.layer({ scripted: script, ...(options.model !== undefined ? { anthropic: { model: options.model } } : {}) })
