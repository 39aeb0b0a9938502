/**
 * `@braid/llm`: the model port (`@effect/ai`'s `LanguageModel`, as `Ai`), its providers (Anthropic,
 * scripted, recorded), and `Metered`: token and cost accounting, budgets, the guard.
 *
 * @since 0.1.0
 */

/** Typed errors of model calls, each marked transient or not. @since 0.1.0 */
export * as Errors from "./Errors.js"
/** Token estimates. @since 0.1.0 */
export * as Tokens from "./Tokens.js"
/** Prices of models, per million tokens. @since 0.1.0 */
export * as Pricing from "./Pricing.js"
/** The books Metered keeps: token and cost totals, budgets. @since 0.1.0 */
export * as Accounting from "./Accounting.js"
/** The model port on `@effect/ai` (re-exports, settings, Braid's prompt options and finish metadata). @since 0.2.0 */
export * as Ai from "./Ai.js"
/** How Braid's typed errors travel through `@effect/ai`'s `AiError`, and the classifier back. @since 0.2.0 */
export * as AiErrors from "./AiErrors.js"
/** The Anthropic adapter of `@effect/ai`'s `LanguageModel`, over the official SDK. @since 0.2.0 */
export * as AnthropicLanguageModel from "./AnthropicLanguageModel.js"
/** Money and the guard around any `LanguageModel`: budgets, degrade, pricing, accounting, telemetry. @since 0.2.0 */
export * as Metered from "./Metered.js"
/** The deterministic offline provider of `@effect/ai`'s `LanguageModel` (tool calls, structured output). @since 0.2.0 */
export * as ScriptedLanguageModel from "./ScriptedLanguageModel.js"
/** Record a provider's exchanges to a cassette and replay them offline. @since 0.2.0 */
export * as RecordedLanguageModel from "./RecordedLanguageModel.js"
/** Claude with a key, the scripted provider without, metered: on the port of `@effect/ai`. @since 0.2.0 */
export * as DefaultLanguageModel from "./DefaultLanguageModel.js"
