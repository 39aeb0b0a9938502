/**
 * Time bounds: the one timeout mechanism of Braid, and the bound on every call Braid makes to a
 * store, a cache or a network service.
 *
 * - `within` runs an effect in a fiber of its own and, when the time is up, interrupts that fiber
 *   and turns that interruption (and only that one) into what `onTimeout` returns. `Timeout` in
 *   `@braid/resilience` is built on it.
 * - `bounded` is the bound of an I/O call: a call that does not answer within its bound fails with
 *   the caller's typed error at once, even where the caller is uninterruptible (a write in a
 *   finalizer), and the interrupted call winds down in the background (a driver may wait seconds
 *   for its cancel request). Every Braid store takes a `timeout` option whose default is
 *   `defaultTimeout`.
 *
 * Cost: work that completes without suspending needs no timer; work that suspends gets one
 * `setTimeout` under the live clock (a sleep on the clock under `TestClock`), cleared when it
 * ends: no registry, nothing kept per duration. Public Effect API only.
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import * as Timers from "./internal/timers.js"

/**
 * The default bound of one store call: 5 seconds.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(5)

const liveClock = Timers.liveClock

/**
 * Nested bounds start their work synchronously, one JavaScript frame deeper each; past this
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

const timedOut: unique symbol = Symbol.for("@braid/core/Io/timedOut")

/**
 * The exit of `fiber`, observed directly (no message to the fiber); with `detach`, the timer's
 * firing resumes at once with `timedOut` instead of waiting for the interrupted fiber to end.
 */
const awaitExit = <A, E>(
  fiber: Fiber.RuntimeFiber<A, E>,
  timer: Timers.Timer,
  detach: boolean
): Effect.Effect<Exit.Exit<A, E> | typeof timedOut> =>
  Effect.async<Exit.Exit<A, E> | typeof timedOut>((resume) => {
    const observer = (exit: Exit.Exit<A, E>) => resume(Effect.succeed(exit))
    fiber.addObserver(observer)
    if (detach) {
      timer.onFire = () => {
        fiber.removeObserver(observer)
        resume(Effect.succeed(timedOut))
      }
    }
    return Effect.sync(() => fiber.removeObserver(observer))
  })

/**
 * Options of `within`.
 *
 * @since 0.2.0
 * @category models
 */
export interface WithinOptions {
  /**
   * When the time is up, resume at once (the interrupted work winds down in the background)
   * instead of waiting for the work's finalizers. Default false.
   */
  readonly detach?: boolean
  /** Run the work interruptibly even where the caller is uninterruptible. Default false. */
  readonly interruptible?: boolean
}

/**
 * Runs `self` within `duration`; when the time is up `self` is interrupted (its finalizers run)
 * and the result is `onTimeout(millis)`. The work runs in a fiber of its own, started at once on
 * the caller's context, FiberRefs and runtime flags (its FiberRef changes are passed back on
 * success, as with `Effect.timeout`); only that fiber is interrupted, never the caller's other
 * fibers. An infinite duration is no bound. Interrupting the caller interrupts the work.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Io } from "@braid/core"
 *
 * const answer = Io.within(Effect.never, "2 seconds", (millis) => Effect.succeed(`no answer in ${millis} ms`))
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const within = <A, E, R, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.DurationInput,
  onTimeout: (millis: number) => Effect.Effect<A2, E2, R2>,
  options?: WithinOptions
): Effect.Effect<A | A2, E | E2, R | R2> => {
  const d = Duration.decode(duration)
  const millis = Duration.toMillis(d)
  if (millis === Number.POSITIVE_INFINITY) return self
  const detach = options?.detach === true
  const work0 = options?.interruptible === true ? Effect.interruptible(self) : self
  return Effect.withFiberRuntime<A | A2, E | E2, R | R2>((caller, status) => {
    const runtime = Runtime.make({
      context: caller.currentContext as Context.Context<R>,
      runtimeFlags: status.runtimeFlags,
      fiberRefs: caller.getFiberRefs()
    })
    let work: Fiber.RuntimeFiber<A, E>
    nesting++
    try {
      work = Runtime.runFork(runtime, work0, nesting > maxNesting ? { immediate: false } : undefined)
    } finally {
      nesting--
    }
    const done = work.unsafePoll()
    if (done !== null) {
      return Exit.isSuccess(done)
        ? Effect.as(Effect.inheritFiberRefs(work.getFiberRefs()), done.value)
        : done
    }
    const clock = Context.get(caller.currentDefaultServices, Clock.Clock)
    return Effect.uninterruptibleMask((restore) => {
      const timer = Timers.interruptAfter(work, clock, clock === liveClock, d, millis)
      return Effect.flatMap(
        Effect.onInterrupt(restore(awaitExit(work, timer, detach)), () => {
          timer.cancel()
          return detach ? Effect.sync(() => work.unsafeInterruptAsFork(caller.id())) : Fiber.interrupt(work)
        }),
        (exit): Effect.Effect<A | A2, E | E2, R2> => {
          timer.cancel()
          if (exit === timedOut) return onTimeout(millis)
          if (timer.fired !== undefined && interruptedBy(exit, timer.fired)) return onTimeout(millis)
          return Exit.isSuccess(exit) ? Effect.as(Effect.inheritFiberRefs(work.getFiberRefs()), exit.value) : exit
        }
      )
    })
  })
}

/**
 * Runs an I/O call within `timeout` (default `defaultTimeout`); past it the result is the
 * failure `onTimeout` makes (given the bound in milliseconds), at once, and the call is
 * interrupted in the background. The bound holds even where the caller is uninterruptible.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Io } from "@braid/core"
 *
 * class StoreDown { readonly _tag = "StoreDown"; constructor(readonly millis: number) {} }
 * const read = Io.bounded(Effect.never, "50 millis", (millis) => new StoreDown(millis))
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const bounded = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  timeout: Duration.DurationInput | undefined,
  onTimeout: (millis: number) => E2
): Effect.Effect<A, E | E2, R> =>
  within(self, timeout === undefined ? defaultTimeout : timeout, (millis) => Effect.fail(onTimeout(millis)), detached)

const detached: WithinOptions = { detach: true, interruptible: true }

/**
 * A bounded callback-style call: `register` starts the call and hands its outcome to `resume`
 * once (later calls are ignored); what it returns is called if the call is abandoned, at the
 * bound or on interruption (to close a connection, abort a request). At the bound the result is
 * `onTimeout(millis)` at once, even where the caller is uninterruptible. `bounded` without a fiber
 * of its own: one Effect step and one timer, for the hot paths of the stores.
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import { Io } from "@braid/core"
 *
 * const tick = Io.callback<string, never, string>((resume) => {
 *   const handle = setTimeout(() => resume(Exit.succeed("tick")), 10)
 *   return () => clearTimeout(handle)
 * }, "1 second", (millis) => `no tick within ${millis} ms`)
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const callback = <A, E, E2>(
  register: (resume: (exit: Exit.Exit<A, E>) => void) => (() => void) | void,
  timeout: Duration.DurationInput | undefined,
  onTimeout: (millis: number) => E2
): Effect.Effect<A, E | E2> => {
  const d = timeout === undefined ? defaultTimeout : Duration.decode(timeout)
  const millis = Duration.toMillis(d)
  return Effect.withFiberRuntime<A, E | E2>((fiber) => {
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    return Timers.race(register, clock, d, millis, Effect.failSync(() => onTimeout(millis)))
  })
}

/**
 * A bounded promise-returning call (a driver's query, a Redis command): `callback` for promises.
 * The call gets an `AbortSignal` that is aborted at the bound and on interruption; a late answer
 * is dropped.
 *
 * @example
 * ```ts
 * import { Io } from "@braid/core"
 *
 * const ping = Io.promise(
 *   (signal) => fetch("http://127.0.0.1:9/ping", { signal }),
 *   "2 seconds",
 *   (millis) => `no answer within ${millis} ms`,
 *   (cause) => `request failed: ${String(cause)}`
 * )
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const promise = <A, E, E2>(
  evaluate: (signal: AbortSignal) => PromiseLike<A>,
  timeout: Duration.DurationInput | undefined,
  onTimeout: (millis: number) => E2,
  onError: (cause: unknown) => E
): Effect.Effect<A, E | E2> =>
  callback<A, E, E2>(
    (resume) => {
      const controller = new AbortController()
      try {
        evaluate(controller.signal).then((a) => resume(Exit.succeed(a)), (e) => resume(Exit.fail(onError(e))))
      } catch (e) {
        resume(Exit.fail(onError(e)))
      }
      return () => controller.abort()
    },
    timeout,
    onTimeout
  )

/**
 * How many timers of `within` and `bounded` are pending right now: 0 once every bounded call has
 * ended, whatever the durations were (a diagnostic, for tests of leaks).
 *
 * @since 0.2.0
 * @category diagnostics
 */
export const pendingTimers = (): number => Timers.pending()
