/**
 * The model of a workflow run: `DefaultLanguageModel` (Claude when `ANTHROPIC_API_KEY` is set,
 * the scripted provider otherwise; metered) with a workflow's script, plus `offline` to force the scripted model;
 * and `policy`, the one way the workflows call a model: a timeout inside a retry, so a model
 * that never answers is interrupted at the bound, retried, and then fails (or falls back)
 * instead of holding a reply and its capacity slot forever.
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import type { Accounting, Ai } from "@braid/llm"
import { DefaultLanguageModel, Metered, ScriptedLanguageModel } from "@braid/llm"
import type { Errors as ResilienceErrors } from "@braid/resilience"
import { Retry, Timeout } from "@braid/resilience"
import type { ConfigError, Layer } from "effect"
import { Duration, Effect } from "effect"

/**
 * The default bound of one model call in the workflows: 30 seconds (a coach reply of 400 tokens
 * takes a few seconds; a call that has not answered in 30 is treated as lost and retried).
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { Models } from "@braid/eval"
 *
 * Duration.toSeconds(Models.defaultTimeout) // 30
 * ```
 *
 * @category constants
 * @since 0.2.0
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(30)

/**
 * Options of `policy`.
 *
 * @category models
 * @since 0.2.0
 */
export interface PolicyOptions {
  /** The bound of one attempt (default `defaultTimeout`). */
  readonly timeout?: Duration.DurationInput
  /** The retry around the bounded attempts (a `TimeoutError` is transient, so it is retried). */
  readonly retry: Retry.Options<unknown>
  /** The retry's name (default `retry(<inner>)`); the timeout is `timeout(<inner>)`. */
  readonly name?: string
}

/**
 * The policy of every model call of the workflows: `Timeout.within(timeout)` inside
 * `Retry.policy(retry)`. Each attempt is bounded; a stalled call is interrupted at the bound
 * (its finalizers run, its request is aborted) and fails with the transient `TimeoutError`,
 * which the retry asks again; after the last attempt the caller gets `RetryExhausted` (or its
 * fallback). Wrap the step that makes the call (an agent, `Agent.structured(...)`).
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 * import { Models } from "@braid/eval"
 *
 * const coach = Agent.make({ name: "coach", instructions: "You coach." }).pipe(
 *   Models.policy({ timeout: "20 seconds", retry: { maxAttempts: 3, backoff: "exponential", baseDelay: "500 millis" } })
 * )
 * ```
 *
 * @category combinators
 * @since 0.2.0
 */
export const policy = (options: PolicyOptions) =>
<In, Out, E, R>(
  self: P.Primitive<In, Out, E, R>
): P.Primitive<In, Out, E | ResilienceErrors.TimeoutError | ResilienceErrors.RetryExhausted, R> =>
  self.pipe(
    Timeout.within(options.timeout ?? defaultTimeout),
    Retry.policy<E | ResilienceErrors.TimeoutError>({
      ...options.retry,
      ...(options.name !== undefined ? { name: options.name } : {})
    })
  )

/**
 * Which model a run uses.
 *
 * @category models
 * @since 0.1.0
 */
export type Mode = "scripted" | "anthropic"

/**
 * `"anthropic"` when `ANTHROPIC_API_KEY` is configured and `offline` is not set, else `"scripted"`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Models } from "@braid/eval"
 *
 * const mode = Effect.runSync(Models.mode({ offline: true })) // "scripted"
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const mode = (options: { readonly offline?: boolean } = {}): Effect.Effect<Mode> =>
  options.offline === true
    ? Effect.succeed("scripted")
    : Effect.map(DefaultLanguageModel.isOnline, (online) => (online ? "anthropic" : "scripted"))

/**
 * The metered `LanguageModel` layer (and its `Accounting`): the scripted model with `script`, or
 * Anthropic (see `mode`).
 *
 * @example
 * ```ts
 * import { Models, Samples } from "@braid/eval"
 *
 * const Model = Models.layer(Samples.judgeScript, { offline: true })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  script: ScriptedLanguageModel.Options,
  options: { readonly offline?: boolean; readonly model?: string } = {}
): Layer.Layer<Ai.LanguageModel.LanguageModel | Accounting.Accounting, ConfigError.ConfigError> =>
  options.offline === true
    ? Metered.fromProvider(ScriptedLanguageModel.provider(script))
    : DefaultLanguageModel.layer({
      scripted: script,
      ...(options.model !== undefined ? { anthropic: { model: options.model } } : {})
    })
