/**
 * Retry: runs a primitive (or any Effect) again when it fails with a retryable error, waiting a
 * backoff delay between attempts.
 *
 * **Only errors marked `transient: true` are retried by default.** Braid's own errors (model
 * overload, `TimeoutError`, ...) carry the mark; a plain error does not, so `Effect.tryPromise`
 * (which fails with `UnknownException`) is *not* retried unless you say so with
 * `retryOn: "any"` (every typed error) or a predicate:
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@braid/resilience"
 *
 * const fetchUser = Effect.tryPromise((signal) => fetch("https://example.com/user/1", { signal }).then((r) => r.json()))
 * const retried = Retry.effect(fetchUser, { retryOn: "any", maxAttempts: 3 }) // retries any failure
 * const notRetried = Retry.effect(fetchUser) // fails after one attempt: UnknownException is not transient
 * ```
 *
 * - Backoff families: `"constant"`, `"exponential"`, `"decorrelated"` (AWS decorrelated jitter,
 *   the default), `"full-jitter"` and `"half-jitter"`. The delay never exceeds `maxDelay`, jitter
 *   included; a server's retry-after hint (`retryAfterMillis` on the error) overrides the computed
 *   delay and is capped too. A delay of 0 retries at once, without a timer.
 * - `retryOn`: `"transient"` (default: a bad request fails at once, with its own error), `"any"`,
 *   or `(error, attempt) => boolean`.
 * - Options are checked where the policy is built: `InvalidOption` names any option out of range
 *   (`maxAttempts` an integer >= 1, delays finite durations >= 0 with `baseDelay <= maxDelay`,
 *   `factor` >= 1, ...).
 * - When every attempt failed, the policy fails with `RetryExhausted`, carrying every attempt's error.
 * - Time goes through Effect's `Clock` (`Effect.sleep`) and jitter through Effect's `Random`, so
 *   `TestClock` and `Random.make(seed)` make tests deterministic.
 * - Telemetry: each attempt is a child span of the `retry(...)` span (the single instrumentation
 *   point); each retry adds the event `retry.scheduled` {attempt, delay_ms, error.type} and bumps
 *   `Metrics.retries`; the span gets `retry.attempts`.
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Primitive } from "@braid/core"
import { Duration, Effect, Metric, Random } from "effect"
import { errorType, isTransient, retryAfterMillis, RetryExhausted } from "./Errors.js"
import * as Check from "./internal/options.js"
import * as Metrics from "./Metrics.js"

const R = Attributes.Resilience

/**
 * The backoff families.
 * - `constant`: `baseDelay` every time.
 * - `exponential`: `baseDelay * factor^(n-1)` for the n-th retry.
 * - `full-jitter`: uniform in `[0, exponential)`.
 * - `half-jitter`: `exponential / 2 + uniform in [0, exponential / 2)`.
 * - `decorrelated` (default): `uniform in [baseDelay, previous * 3)` (AWS "decorrelated jitter").
 * All are capped at `maxDelay`.
 *
 * @category models
 * @since 0.1.0
 */
export type Backoff = "constant" | "exponential" | "decorrelated" | "full-jitter" | "half-jitter"

/**
 * What `onRetry` receives before each retry.
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryInfo<E> {
  readonly primitive: string
  /** The attempt that just failed (1 for the first). */
  readonly attempt: number
  readonly error: E
  /** The delay before the next attempt. */
  readonly delayMillis: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options<E, A = unknown> {
  /** Total attempts, the first included. Default 3. */
  readonly maxAttempts?: number
  /** Default `"decorrelated"`. */
  readonly backoff?: Backoff
  /** Default 100 ms. `0` retries at once, without sleeping. */
  readonly baseDelay?: Duration.DurationInput
  /** The cap of every delay, jitter and retry-after hints included. Default 30 s. */
  readonly maxDelay?: Duration.DurationInput
  /** Growth factor of the exponential families (>= 1). Default 2. */
  readonly factor?: number
  /**
   * Which errors to retry. Default `"transient"`: only errors marked `transient: true` (see
   * `Errors.isTransient`), so a bad request fails at once. `"any"` retries every typed error
   * (e.g. the `UnknownException` of `Effect.tryPromise`). Or a predicate.
   */
  readonly retryOn?: "transient" | "any" | ((error: E, attempt: number) => boolean)
  /**
   * Retries a *success* whose value matches: `(result, attempt) => boolean` (e.g. a reply that
   * reports "overloaded"). Such a result is retried with the same backoff, jitter, `maxAttempts`
   * and telemetry as an error (the `retry.scheduled` event has `error.type` "result"; `onRetry` is
   * not called for it). When the attempts run out, **the last result is returned** (the span gets
   * `braid.retry.gave_up` "exhausted" and `Metrics.retriesExhausted` is bumped): the caller still
   * sees what the call said, and decides. Annotate the parameter's type (`(r: Reply) => ...`):
   * the step's output must be assignable to it. Default: no result is retried.
   *
   * @since 0.3.0
   */
  readonly retryOnResult?: (result: A, attempt: number) => boolean
  /** Honour `retryAfterMillis` on errors (capped at `maxDelay`). Default true. */
  readonly respectRetryAfter?: boolean
  /** Runs before each retry's delay. */
  readonly onRetry?: (info: RetryInfo<E>) => Effect.Effect<void>
  /** The name of the wrapper (default `retry(<inner>)`), or of the work in the Effect form (default "effect"). */
  readonly name?: string
}

/**
 * The delay in ms before the `retry`-th retry (1 for the first), given the previous delay (used
 * by `decorrelated`; start with `baseMillis`) and a random number in [0, 1). Never negative and
 * never above `maxMillis`.
 *
 * @example
 * ```ts
 * import { Retry } from "@braid/resilience"
 *
 * Retry.delayMillis({ backoff: "exponential", retry: 4, previousMillis: 0, baseMillis: 100, maxMillis: 500, factor: 2, random: 0.5 }) // 500
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const delayMillis = (args: {
  readonly backoff: Backoff
  readonly retry: number
  readonly previousMillis: number
  readonly baseMillis: number
  readonly maxMillis: number
  readonly factor: number
  readonly random: number
}): number => {
  const { backoff, baseMillis: base, factor, maxMillis: max, random: r } = args
  let d: number
  switch (backoff) {
    case "constant":
      d = base
      break
    case "exponential":
      d = base * Math.pow(factor, args.retry - 1)
      break
    case "full-jitter":
      d = r * Math.min(max, base * Math.pow(factor, args.retry - 1))
      break
    case "half-jitter": {
      const e = Math.min(max, base * Math.pow(factor, args.retry - 1))
      d = e / 2 + r * (e / 2)
      break
    }
    case "decorrelated": {
      const upper = Math.min(max, Math.max(base, args.previousMillis * 3))
      d = base + r * (upper - base)
      break
    }
  }
  if (!(d > 0)) return 0
  return d > max ? max : d
}

interface Resolved<E, A> {
  readonly name: string
  readonly retryOnResult: ((result: A, attempt: number) => boolean) | undefined
  readonly maxAttempts: number
  readonly backoff: Backoff
  readonly base: number
  readonly max: number
  readonly factor: number
  readonly retryOn: (error: E, attempt: number) => boolean
  readonly respectRetryAfter: boolean
  readonly onRetry: ((info: RetryInfo<E>) => Effect.Effect<void>) | undefined
  readonly retries: Metric.Metric.Counter<number>
  readonly exhausted: Metric.Metric.Counter<number>
}

const backoffs: ReadonlyArray<Backoff> = ["constant", "exponential", "decorrelated", "full-jitter", "half-jitter"]
const retryAny = (): boolean => true

/** The checked options (where the policy is built); throws `InvalidOption` naming the option. */
const check = <E, A>(policy: string, options: Options<E, A> | undefined) => {
  Check.options(policy, options)
  const o: Options<E, A> = options ?? {}
  if (o.name !== undefined) Check.name(policy, "name", o.name)
  const maxAttempts = Check.integer(policy, "maxAttempts", Check.or(o.maxAttempts, 3), 1)
  const backoff = Check.oneOf(policy, "backoff", Check.or(o.backoff, "decorrelated"), backoffs)
  const max = Check.duration(policy, "maxDelay", Check.or(o.maxDelay, "30 seconds")).millis
  const base = o.baseDelay === undefined ? Math.min(100, max) : Check.duration(policy, "baseDelay", o.baseDelay).millis
  if (base > max) Check.refuse(policy, "baseDelay", `must not exceed maxDelay (${max} ms)`, o.baseDelay)
  const factor = Check.finite(policy, "factor", Check.or(o.factor, 2), 1)
  const retryOn = Check.or(o.retryOn, "transient")
  const predicate: (error: E, attempt: number) => boolean = retryOn === "transient"
    ? isTransient
    : retryOn === "any"
    ? retryAny
    : typeof retryOn === "function"
    ? retryOn
    : Check.refuse(policy, "retryOn", `must be "transient", "any" or a function`, retryOn)
  return {
    maxAttempts,
    backoff,
    base,
    max,
    factor,
    retryOn: predicate,
    retryOnResult: Check.fn(policy, "retryOnResult", o.retryOnResult),
    respectRetryAfter: Check.boolean(policy, "respectRetryAfter", o.respectRetryAfter) ?? true,
    onRetry: Check.fn(policy, "onRetry", o.onRetry)
  }
}

const resolve = <E, A>(name: string, checked: ReturnType<typeof check<E, A>>): Resolved<E, A> => ({
  name,
  ...checked,
  retries: Metric.tagged(Metrics.retries, Attributes.Braid.primitiveName, name),
  exhausted: Metric.tagged(Metrics.retriesExhausted, Attributes.Braid.primitiveName, name)
})

const run = <A, E, R>(self: Effect.Effect<A, E, R>, cfg: Resolved<E, A>): Effect.Effect<A, E | RetryExhausted, R> => {
  /** Waits the backoff before the next attempt (event, metric, `onRetry`, sleep), then runs it. */
  const retryAfter = (
    attempt: number,
    previous: number,
    errors: Array<E>,
    hint: number | undefined,
    type: string,
    notify: ((delay: number) => Effect.Effect<void>) | undefined
  ): Effect.Effect<A, E | RetryExhausted, R> =>
    Effect.flatMap(Random.next, (random) => {
      const computed = delayMillis({
        backoff: cfg.backoff,
        retry: attempt,
        previousMillis: previous,
        baseMillis: cfg.base,
        maxMillis: cfg.max,
        factor: cfg.factor,
        random
      })
      const delay = hint === undefined ? computed : Math.min(cfg.max, hint)
      const attributes: Record<string, Instrumentation.AttributeValue> = {
        [R.retryAttempt]: attempt,
        [R.retryDelayMs]: delay,
        [Attributes.General.errorType]: type
      }
      if (hint !== undefined) attributes[R.retryAfterMs] = hint
      let effect: Effect.Effect<void> = Effect.zipRight(
        Instrumentation.event(R.retryScheduled, attributes),
        Metric.increment(cfg.retries)
      )
      if (notify) effect = Effect.zipRight(effect, notify(delay))
      // a zero delay retries at once: no timer (a 0 ms sleep is still a trip through the timers)
      if (delay > 0) effect = Effect.zipRight(effect, Effect.sleep(Duration.millis(delay)))
      return Effect.zipRight(effect, loop(attempt + 1, computed, errors))
    })
  const gaveUp = (attempt: number) =>
    Effect.zipRight(
      Instrumentation.annotate({ [R.retryAttempts]: attempt, [R.retryGaveUp]: "exhausted" }),
      Metric.increment(cfg.exhausted)
    )
  const onResult = cfg.retryOnResult
  const checkResult = onResult === undefined ?
    undefined :
    (attempt: number, previous: number, errors: Array<E>) => (result: A): Effect.Effect<A, E | RetryExhausted, R> => {
      if (!onResult(result, attempt)) return Effect.succeed(result)
      if (attempt >= cfg.maxAttempts) return Effect.as(gaveUp(attempt), result)
      return retryAfter(attempt, previous, errors, undefined, "result", undefined)
    }
  const loop = (attempt: number, previous: number, errors: Array<E>): Effect.Effect<A, E | RetryExhausted, R> => {
    const work: Effect.Effect<A, E, R> = attempt === 1
      ? self
      : Effect.tap(self, () => Instrumentation.annotate({ [R.retryAttempts]: attempt }))
    const onFailure = (error: E): Effect.Effect<A, E | RetryExhausted, R> => {
      errors.push(error)
      if (!cfg.retryOn(error, attempt)) {
        return attempt === 1
          ? Effect.fail(error)
          : Effect.zipRight(
            Instrumentation.annotate({ [R.retryAttempts]: attempt, [R.retryGaveUp]: "not retryable" }),
            Effect.fail(error)
          )
      }
      if (attempt >= cfg.maxAttempts) {
        return Effect.zipRight(
          gaveUp(attempt),
          Effect.fail(new RetryExhausted({ primitive: cfg.name, attempts: attempt, errors: errors.slice() }))
        )
      }
      const onRetry = cfg.onRetry
      return retryAfter(
        attempt,
        previous,
        errors,
        cfg.respectRetryAfter ? retryAfterMillis(error) : undefined,
        errorType(error),
        onRetry && ((delayMillis) => onRetry({ primitive: cfg.name, attempt, error, delayMillis }))
      )
    }
    if (checkResult === undefined) return Effect.catchAll(work, onFailure)
    return Effect.matchEffect(work, { onFailure, onSuccess: checkResult(attempt, previous, errors) })
  }
  return Effect.suspend(() => loop(1, cfg.base, []))
}

/**
 * Retries any Effect. The same implementation as `policy`; events land on the current span.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@braid/resilience"
 *
 * let calls = 0
 * const flaky = Effect.suspend(() => ++calls < 3 ? Effect.fail({ transient: true }) : Effect.succeed("ok"))
 * const program = Retry.effect(flaky, { maxAttempts: 5, baseDelay: "10 millis", name: "flaky" })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const effect = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  options: Options<E, NoInfer<A>> = {}
): Effect.Effect<A, E | RetryExhausted, R> =>
  run(self, resolve(options?.name ?? "effect", check(Check.label(options?.name, "Retry.effect"), options)))

/**
 * The retry policy for primitives: `step.pipe(Retry.policy({ maxAttempts: 4 }))`. The wrapper is
 * a primitive of kind "retry" named `retry(<step>)`; each attempt is its own child span.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Retry } from "@braid/resilience"
 *
 * const callModel = Primitive.make("callModel", (prompt: string) => Effect.succeed(`echo ${prompt}`))
 * const resilient = callModel.pipe(Retry.policy({ maxAttempts: 4, backoff: "decorrelated", maxDelay: "10 seconds" }))
 *
 * // retry a reply that says "overloaded" (the last reply is returned when the attempts run out)
 * const status = Primitive.make("status", (_: string) => Effect.succeed({ status: "overloaded" as "ok" | "overloaded" }))
 * const patient = status.pipe(
 *   Retry.policy({ maxAttempts: 3, retryOnResult: (r: { status: string }) => r.status === "overloaded" })
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const policy = <E, A = unknown>(options: Options<NoInfer<E>, A> = {}) => {
  const checked = check<E, A>(Check.label(options?.name, "Retry.policy"), options)
  return <In, Out extends A, R>(self: P.Primitive<In, Out, E, R>): P.Primitive<In, Out, E | RetryExhausted, R> => {
    const name = options.name ?? `retry(${self.name})`
    const cfg = resolve<E, Out>(name, checked)
    return Primitive.wrap(
      self,
      {
        kind: "retry",
        name,
        meta: { maxAttempts: cfg.maxAttempts, backoff: cfg.backoff, baseDelayMillis: cfg.base, maxDelayMillis: cfg.max }
      },
      (invoke) => (input: In) => run(invoke(input), cfg)
    )
  }
}
