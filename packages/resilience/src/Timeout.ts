/**
 * Timeout: bounds the time a primitive (or any Effect) may take. When the time is up the work is
 * interrupted (its finalizers run; an HTTP request made with Effect's `AbortSignal` is aborted) and
 * the policy fails with `TimeoutError` naming the primitive and the duration, or succeeds with the
 * optional fallback value.
 *
 * Telemetry: when the timeout fires, the span of `timeout(...)` gets the event `timeout.fired`
 * {duration_ms} (and `timeout.fallback` when a fallback value is used) and `Metrics.timeouts` is
 * bumped; the inner primitive's span ends with an interruption.
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Instrumentation, Primitive } from "@braid/core"
import { Cause, Clock, Context, Duration, Effect, Equal, Exit, Fiber, FiberId, FiberRef, Metric } from "effect"
import { TimeoutError } from "./Errors.js"
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

/**
 * The live clock. Under it a timeout schedules its timer directly (one shared `setTimeout` per
 * duration, see internal/timers.ts; the live clock's `sleep` is a `setTimeout` too); under any
 * other clock (`TestClock`) it sleeps on that clock in a fiber.
 */
const liveClock: Clock.Clock = Effect.runSync(Effect.clock)
const maxTimer = 2 ** 31 - 1


/**
 * Whether the running fiber has children of its own. Read synchronously from the fiber runtime
 * (`getChildren`, which the fiber may call on itself; the public `fiber.children` is a message to
 * the fiber and costs ~10 µs). If that method is ever missing, we answer "yes", which takes the
 * always-correct `Effect.timeoutFail` path.
 */
const hasChildren = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean => {
  const getChildren = (fiber as unknown as { readonly getChildren?: () => ReadonlySet<unknown> }).getChildren
  return typeof getChildren !== "function" || getChildren.call(fiber).size > 0
}

/** `cause` without the interruptions by `id` (the cause holds only interruptions). */
const withoutInterruptor = (cause: Cause.Cause<never>, id: FiberId.FiberId): Cause.Cause<never> => {
  let rest: Cause.Cause<never> = Cause.empty
  for (const other of Cause.interruptors(cause)) {
    if (!Equal.equals(other, id)) rest = Cause.parallel(rest, Cause.interrupt(other))
  }
  return rest
}

/**
 * Runs `self` in the current fiber and, when the time is up, interrupts it (its finalizers run,
 * an in-flight request is aborted), then turns that interruption, and only that one, into
 * `onTimeout`. This avoids forking a fiber per call (Effect's `timeout` forks two), which is
 * most of a timeout's cost. A fiber with children of its own (forked before the timed work, which
 * interrupting it would interrupt too) takes Effect's `timeoutFail` instead.
 */
const interruptAfter = <A, E, R, A2, E2>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  millis: number,
  onTimeout: () => Effect.Effect<A2, E2>
): Effect.Effect<A | A2, E | E2, R> =>
  Effect.withFiberRuntime<A | A2, E | E2, R>((fiber) => {
    if (hasChildren(fiber)) {
      const marker = {}
      return Effect.catchIf(
        Effect.timeoutFail(self, { duration, onTimeout: () => marker as never }),
        (e): e is never => e === marker,
        onTimeout
      )
    }
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    if (clock !== liveClock || millis > maxTimer) {
      return onClock(self, fiber, clock, duration, Timers.makeId(), onTimeout)
    }
    const queue = Timers.queueFor(millis)
    return Effect.uninterruptibleMask((restore) => {
      const entry = Timers.schedule(queue, fiber)
      return Effect.flatMap(Effect.exit(restore(self)), (exit) => {
        Timers.cancel(entry)
        return entry.id !== undefined ? settle(fiber, entry.id, exit, onTimeout) : exit
      })
    })
  })

/** Under another clock (`TestClock`): the timer is a fiber sleeping on that clock. */
const onClock = <A, E, R, A2, E2>(
  self: Effect.Effect<A, E, R>,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  clock: Clock.Clock,
  duration: Duration.Duration,
  id: FiberId.FiberId,
  onTimeout: () => Effect.Effect<A2, E2>
): Effect.Effect<A | A2, E | E2, R> =>
  Effect.uninterruptibleMask((restore) => {
    let fired = false
    const timer = Effect.runFork(Effect.zipRight(
      clock.sleep(duration),
      Effect.sync(() => {
        fired = true
        fiber.unsafeInterruptAsFork(id)
      })
    ))
    return Effect.flatMap(Effect.exit(restore(self)), (exit) => {
      timer.unsafeInterruptAsFork(fiber.id())
      return fired ? settle(fiber, id, exit, onTimeout) : exit
    })
  })

/** After the timer fired: forget our interruption; fail with the timeout if it is what ended the work. */
const settle = <A, E, A2, E2>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  id: FiberId.FiberId,
  exit: Exit.Exit<A, E>,
  onTimeout: () => Effect.Effect<A2, E2>
): Effect.Effect<A | A2, E | E2> => {
  const rest = withoutInterruptor(fiber.getFiberRef(FiberRef.interruptedCause), id)
  const ours = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) &&
    [...Cause.interruptors(exit.cause)].every((i) => Equal.equals(i, id))
  const result: Effect.Effect<A | A2, E | E2> = Cause.isEmpty(rest) && ours ? onTimeout() : exit
  return Effect.zipRight(FiberRef.set(FiberRef.interruptedCause, rest), result)
}

/**
 * The bound of one policy: everything that does not depend on the call (the duration, the
 * timeout's effect, its metric) is built once here, so a call only schedules and cancels.
 */
const bounder = <A2>(
  duration: Duration.Duration,
  name: string,
  counter: Metric.Metric.Counter<number>,
  fallback: (() => A2) | undefined
) => {
  const millis = Duration.toMillis(duration)
  const fired = Effect.zipRight(Instrumentation.event("timeout.fired", { duration_ms: millis }), Metric.increment(counter))
  const onTimeout = (): Effect.Effect<A2, TimeoutError> =>
    Effect.zipRight(
      fired,
      fallback === undefined
        ? Effect.fail(new TimeoutError({ primitive: name, durationMillis: millis }))
        : Effect.zipRight(Instrumentation.event("timeout.fallback"), Effect.sync(fallback))
    )
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | A2, E | TimeoutError, R> =>
    interruptAfter(self, duration, millis, onTimeout)
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
  const name = options.name ?? "effect"
  return bounder(Duration.decode(duration), name, Metric.tagged(Metrics.timeouts, "braid.primitive", name), options.fallback)(self)
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
} = (duration: Duration.DurationInput, options: Options<unknown> = {}) => (self: P.Any): any => {
  const d = Duration.decode(duration)
  const millis = Duration.toMillis(d)
  const name = options.name ?? `timeout(${self.name})`
  const counter = Metric.tagged(Metrics.timeouts, "braid.primitive", self.name)
  const meta: Record<string, number | boolean> = { durationMillis: millis, fallback: options.fallback !== undefined }
  const bound = bounder(d, self.name, counter, options.fallback)
  return Primitive.wrap(self, { kind: "timeout", name, meta }, (invoke) => (input: unknown) => bound(invoke(input)))
}
