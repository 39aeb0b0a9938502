/**
 * Timeout: bounds the time a primitive (or any Effect) may take. When the time is up the work is
 * interrupted (its finalizers run; an HTTP request made with Effect's `AbortSignal` is aborted) and
 * the policy fails with `TimeoutError` naming the primitive and the duration, or succeeds with the
 * optional fallback value.
 *
 * The duration must be > 0 (`Duration.infinity`: no bound); anything else throws
 * `Errors.InvalidOption` where the policy is built. The work runs in a fiber of its own, started
 * synchronously on the caller's context and FiberRefs (its FiberRef changes are passed back on
 * success), so only the work is interrupted, never the caller's other fibers; Effect's public API
 * only. A finished call leaves no timer or state behind; a pending one keeps the process alive.
 *
 * Telemetry: when the timeout fires, the span of `timeout(...)` gets the event `timeout.fired`
 * {duration_ms} (and `timeout.fallback` when a fallback value is used) and `Metrics.timeouts` is
 * bumped; the inner primitive's span ends with an interruption.
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Instrumentation, Primitive } from "@braid/core"
import type { Duration } from "effect"
import { Cause, Clock, Context, Effect, Equal, Exit, Fiber, FiberId, Metric, Runtime } from "effect"
import { TimeoutError } from "./Errors.js"
import * as Check from "./internal/options.js"
import * as Timers from "./internal/timers.js"
import * as Metrics from "./Metrics.js"

/**
 * @since 0.1.0
 */
export interface Options<Out2 = never> {
  /** The name of the wrapper (default `timeout(<inner>)`), or of the work in the Effect form. */
  readonly name?: string
  /** A value to succeed with instead of failing with `TimeoutError`. */
  readonly fallback?: () => Out2
}

/** The live clock: under it the timer is a `setTimeout`; under any other (`TestClock`) a sleep on it. */
const liveClock: Clock.Clock = Effect.runSync(Effect.clock)

/**
 * Nested timeouts start their work synchronously, one JavaScript frame deeper each; past this
 * depth the work starts on the scheduler instead (same result, no deep stack).
 */
const maxNesting = 64
let nesting = 0

/** Whether `exit` is an interruption by `id` and by nothing else. */
const interruptedBy = (exit: Exit.Exit<unknown, unknown>, id: FiberId.FiberId): boolean => {
  if (Exit.isSuccess(exit) || !Cause.isInterruptedOnly(exit.cause)) return false
  for (const other of Cause.interruptors(exit.cause)) if (!Equal.equals(other, id)) return false
  return true
}

/** The exit of `fiber`, observed directly (no message to the fiber). */
const awaitExit = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): Effect.Effect<Exit.Exit<A, E>> =>
  Effect.async<Exit.Exit<A, E>>((resume) => {
    const observer = (exit: Exit.Exit<A, E>) => resume(Effect.succeed(exit))
    fiber.addObserver(observer)
    return Effect.sync(() => fiber.removeObserver(observer))
  })

/**
 * Runs `self` in a fiber of its own and, when the time is up, interrupts that fiber (its
 * finalizers run, an in-flight request is aborted) and turns that interruption, and only that
 * one, into `onTimeout`. Public Effect API only.
 *
 * The fiber is started with `Runtime.runFork` on the caller's runtime (its context, FiberRefs
 * and runtime flags), which runs it synchronously until it completes or first suspends: work that
 * completes synchronously needs no timer at all (it cannot be interrupted in between anyway), and
 * no scheduler round trip. Work that suspends gets a timer, and the caller waits for the fiber;
 * an interruption of the caller interrupts the work and waits for it. On success the work's
 * FiberRef changes are inherited, as with Effect's `timeout`. The caller's other fibers (forked
 * before) are never touched: the timer interrupts only the work's fiber.
 */
const interruptAfter = <A, E, R, A2, E2>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  millis: number,
  onTimeout: () => Effect.Effect<A2, E2>
): Effect.Effect<A | A2, E | E2, R> =>
  Effect.withFiberRuntime<A | A2, E | E2, R>((caller, status) => {
    const runtime = Runtime.make({
      context: caller.currentContext as Context.Context<R>,
      runtimeFlags: status.runtimeFlags,
      fiberRefs: caller.getFiberRefs()
    })
    let work: Fiber.RuntimeFiber<A, E>
    nesting++
    try {
      work = Runtime.runFork(runtime, self, nesting > maxNesting ? { immediate: false } : undefined)
    } finally {
      nesting--
    }
    const done = work.unsafePoll()
    if (done !== null) return Exit.isSuccess(done) ? Effect.as(Effect.inheritFiberRefs(work.getFiberRefs()), done.value) : done
    const clock = Context.get(caller.currentDefaultServices, Clock.Clock)
    return Effect.uninterruptibleMask((restore) => {
      const timer = Timers.schedule(work, clock, clock === liveClock, duration, millis)
      return Effect.flatMap(
        Effect.onInterrupt(restore(awaitExit(work)), () => {
          timer.cancel()
          return Fiber.interrupt(work)
        }),
        (exit): Effect.Effect<A | A2, E | E2> => {
          timer.cancel()
          if (timer.fired !== undefined && interruptedBy(exit, timer.fired)) return onTimeout()
          return Exit.isSuccess(exit) ? Effect.as(Effect.inheritFiberRefs(work.getFiberRefs()), exit.value) : exit
        }
      )
    })
  })

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
  const fired = Effect.zipRight(Instrumentation.event("timeout.fired", { duration_ms: millis }), Metric.increment(counter))
  const onTimeout = (): Effect.Effect<A2, TimeoutError> =>
    Effect.zipRight(
      fired,
      fallback === undefined
        ? Effect.fail(new TimeoutError({ primitive: name, durationMillis: millis }))
        : Effect.zipRight(Instrumentation.event("timeout.fallback"), Effect.sync(fallback))
    )
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | A2, E | TimeoutError, R> =>
    millis === Number.POSITIVE_INFINITY ? self : interruptAfter(self, duration, millis, onTimeout)
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
 * @since 0.1.0
 */
export const effect: {
  <A, E, R, A2>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.DurationInput,
    options: Options<A2> & { readonly fallback: () => A2 }
  ): Effect.Effect<A | A2, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.DurationInput, options?: Options): Effect.Effect<A, E | TimeoutError, R>
} = <A, E, R, A2>(self: Effect.Effect<A, E, R>, duration: Duration.DurationInput, options: Options<A2> = {}): any => {
  const { duration: d, millis } = check(Check.label(options?.name, "Timeout.effect"), duration, options)
  const name = options.name ?? "effect"
  return bounder(d, millis, name, Metric.tagged(Metrics.timeouts, "braid.primitive", name), options.fallback)(self)
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
  const counter = Metric.tagged(Metrics.timeouts, "braid.primitive", self.name)
  const meta: Record<string, number | boolean> = { durationMillis: millis, fallback: options.fallback !== undefined }
  const bound = bounder(d, millis, self.name, counter, options.fallback)
  return Primitive.wrap(self, { kind: "timeout", name, meta }, (invoke) => (input: unknown) => bound(invoke(input)))
}
