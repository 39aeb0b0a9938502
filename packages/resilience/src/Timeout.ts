/**
 * Timeout: bounds the time a primitive (or any Effect) may take. When the time is up the work is
 * interrupted (its finalizers run; an HTTP request made with Effect's `AbortSignal` is aborted) and
 * the policy fails with `TimeoutError` naming the primitive and the duration, or succeeds with the
 * optional fallback value.
 *
 * The duration must be > 0 (`Duration.infinity`: no bound); anything else throws
 * `Errors.InvalidOption` where the policy is built. It is core's one timeout mechanism
 * (`Io.within`): the work runs in a fiber of its own, started synchronously on the caller's
 * context and FiberRefs (its FiberRef changes are passed back on success), so only the work is
 * interrupted, never the caller's other fibers; Effect's public API only. A finished call leaves
 * no timer or state behind; a pending one keeps the process alive.
 *
 * Telemetry: when the timeout fires, the span of `timeout(...)` gets the event `timeout.fired`
 * {duration_ms} (and `timeout.fallback` when a fallback value is used) and `Metrics.timeouts` is
 * bumped; the inner primitive's span ends with an interruption.
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Io, Primitive } from "@braid/core"
import type { Duration } from "effect"
import { Effect, Metric } from "effect"
import { TimeoutError } from "./Errors.js"
import * as Check from "./internal/options.js"
import * as Metrics from "./Metrics.js"

const R = Attributes.Resilience

/**
 * @category models
 * @since 0.1.0
 */
export interface Options<Out2 = never> {
  /** The name of the wrapper (default `timeout(<inner>)`), or of the work in the Effect form. */
  readonly name?: string
  /** A value to succeed with instead of failing with `TimeoutError`. */
  readonly fallback?: () => Out2
}

/**
 * The bound of one policy: everything that does not depend on the call (the duration, the
 * timeout's effect, its metric) is built once here, so a call only schedules and cancels.
 */
const bounder = <A2>(
  duration: Duration.Duration,
  millis: number,
  name: string,
  counter: Metric.Metric.Counter<number>,
  fallback: (() => A2) | undefined
) => {
  const fired = Effect.zipRight(
    Instrumentation.event(R.timeoutFired, { [R.timeoutDurationMs]: millis }),
    Metric.increment(counter)
  )
  const onTimeout = (): Effect.Effect<A2, TimeoutError> =>
    Effect.zipRight(
      fired,
      fallback === undefined
        ? Effect.fail(new TimeoutError({ primitive: name, durationMillis: millis }))
        : Effect.zipRight(Instrumentation.event(R.timeoutFallback), Effect.sync(fallback))
    )
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | A2, E | TimeoutError, R> =>
    millis === Number.POSITIVE_INFINITY ? self : Io.within(self, duration, onTimeout)
}

/** Checks the duration and options of a timeout (where it is built). */
const check = (policy: string, duration: unknown, options: Options<unknown> | undefined) => {
  Check.options(policy, options)
  if (options?.name !== undefined) Check.name(policy, "name", options.name)
  Check.fn(policy, "fallback", options?.fallback)
  return Check.duration(policy, "duration", duration, { positive: true, infinite: true })
}

/**
 * Bounds any Effect. The same implementation as `within`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Timeout } from "@braid/resilience"
 *
 * const slow = Effect.as(Effect.sleep("1 minute"), "late")
 * const bounded = Timeout.effect(slow, "50 millis", { name: "slowCall" }) // fails with TimeoutError
 * const withDefault = Timeout.effect(slow, "50 millis", { fallback: () => "default" }) // "default"
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const effect: {
  <A, E, R, A2>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.DurationInput,
    options: Options<A2> & { readonly fallback: () => A2 }
  ): Effect.Effect<A | A2, E, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.DurationInput,
    options?: Options
  ): Effect.Effect<A, E | TimeoutError, R>
} = <A, E, R, A2>(self: Effect.Effect<A, E, R>, duration: Duration.DurationInput, options: Options<A2> = {}): any => {
  const { duration: d, millis } = check(Check.label(options?.name, "Timeout.effect"), duration, options)
  const name = options.name ?? "effect"
  return bounder(
    d,
    millis,
    name,
    Metric.tagged(Metrics.timeouts, Attributes.Braid.primitiveName, name),
    options.fallback
  )(self)
}

/**
 * The timeout policy for primitives: `step.pipe(Timeout.within("5 seconds"))`. With
 * `{ fallback }` the wrapper succeeds with the fallback value instead of failing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Timeout } from "@braid/resilience"
 *
 * const callModel = Primitive.make("callModel", (prompt: string) => Effect.succeed(`echo ${prompt}`))
 * const bounded = callModel.pipe(Timeout.within("5 seconds"))
 * const orCanned = callModel.pipe(Timeout.within("5 seconds", { fallback: () => "Sorry, try again later." }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const within: {
  <Out2>(
    duration: Duration.DurationInput,
    options: Options<Out2> & { readonly fallback: () => Out2 }
  ): <In, Out, E, R>(self: P.Primitive<In, Out, E, R>) => P.Primitive<In, Out | Out2, E, R>
  (duration: Duration.DurationInput, options?: Options): <In, Out, E, R>(
    self: P.Primitive<In, Out, E, R>
  ) => P.Primitive<In, Out, E | TimeoutError, R>
} = (duration: Duration.DurationInput, options: Options<unknown> = {}) => {
  const { duration: d, millis } = check(Check.label(options?.name, "Timeout.within"), duration, options)
  return (self: P.Any): any => wrap(self, d, millis, options)
}

const wrap = (self: P.Any, d: Duration.Duration, millis: number, options: Options<unknown>): P.Any => {
  const name = options.name ?? `timeout(${self.name})`
  const counter = Metric.tagged(Metrics.timeouts, Attributes.Braid.primitiveName, self.name)
  const meta: Record<string, number | boolean> = { durationMillis: millis, fallback: options.fallback !== undefined }
  const bound = bounder(d, millis, self.name, counter, options.fallback)
  return Primitive.wrap(self, { kind: "timeout", name, meta }, (invoke) => (input: unknown) => bound(invoke(input)))
}
