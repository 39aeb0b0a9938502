/**
 * Circuit breaker: stops calling a dependency that keeps failing, then probes it carefully.
 *
 * - **closed**: calls pass; outcomes feed the trigger. Triggers: `consecutive(n)` failures, or a
 *   failure rate over a sliding window of the last N calls (`countWindow`) or the last T
 *   (`timeWindow`), each with a minimum number of calls.
 * - **open**: calls fail at once with `CircuitOpen` (with `retryAfterMillis`) for `openFor`; each
 *   failed probe reopens it for longer (`openBackoff`).
 * - **half-open**: the first call after the open period moves the breaker to half-open. At most
 *   `halfOpenProbes` calls (default 1) run at once as probes, others get `CircuitOpen`; after
 *   `successesToClose` successful probes (default 1) it closes; a failed probe reopens it.
 * - **isolated**: `isolate` holds it open until `reset`.
 *
 * Admission is one `Ref.modify` (atomic: two concurrent callers can never both take the last
 * probe slot); in the closed state, where admission changes nothing, it is a synchronous read. Time is Effect's `Clock`. Interrupted calls count as neither success nor failure
 * (a probe's slot is released). Typed errors count as failures unless `isFailure` says otherwise
 * (then they count as successes: the dependency answered); defects count as failures.
 *
 * Sharing: `CircuitBreaker.named("anthropic", options)` returns the same breaker for the same name
 * everywhere in the process (a registry in a `GlobalValue`); the options of the first call win.
 *
 * Telemetry: the wrapper span gets `breaker.name` and `breaker.state` (the state at admission);
 * refusals add the event `breaker.rejected`; transitions add `breaker.state_changed` {from, to}
 * and set the gauge `Metrics.breakerState` (0 closed, 1 half-open, 2 open, 3 isolated).
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Primitive } from "@braid/core"
import { Cause, Clock, Duration, Effect, Exit, GlobalValue, Metric, Option, Ref } from "effect"
import type { InvalidOption } from "./Errors.js"
import { CircuitOpen } from "./Errors.js"
import * as Check from "./internal/options.js"
import * as Metrics from "./Metrics.js"

const R = Attributes.Resilience

/**
 * @category models
 * @since 0.1.0
 */
export type State = "closed" | "open" | "half-open" | "isolated"

/**
 * What opens a closed breaker.
 *
 * @category models
 * @since 0.1.0
 */
export type Trigger =
  | { readonly _tag: "consecutive"; readonly failures: number }
  | { readonly _tag: "count"; readonly size: number; readonly failureRate: number; readonly minimumCalls: number }
  | {
    readonly _tag: "time"
    readonly windowMillis: number
    readonly failureRate: number
    readonly minimumCalls: number
  }

/**
 * Opens after `failures` consecutive failures.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@braid/resilience"
 * const trigger = CircuitBreaker.consecutive(5)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const consecutive = (failures: number): Trigger => ({
  _tag: "consecutive",
  failures: Check.integer("consecutive", "failures", failures, 1)
})

/**
 * Opens when, over the last `size` calls (at least `minimumCalls` of them), the failure rate
 * reaches `failureRate`. `size` and `minimumCalls` are integers with `1 <= minimumCalls <= size`
 * (default `size`); `failureRate` is greater than 0 and at most 1 (0 would open on successes
 * alone, above 1 never). Anything else throws `InvalidOption` naming the option.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@braid/resilience"
 * const trigger = CircuitBreaker.countWindow({ size: 20, failureRate: 0.5, minimumCalls: 10 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const countWindow = (
  options: { readonly size: number; readonly failureRate: number; readonly minimumCalls?: number }
): Trigger =>
  checkTrigger("countWindow", {
    _tag: "count",
    ...Check.options("countWindow", options)!,
    minimumCalls: Check.or(options?.minimumCalls, options?.size)
  }, "")

/**
 * Opens when, over the calls that ended in the last `window` (at least `minimumCalls` of them),
 * the failure rate reaches `failureRate`. `window` is a finite duration > 0, `minimumCalls` an
 * integer >= 1, `failureRate` greater than 0 and at most 1; anything else throws `InvalidOption`.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@braid/resilience"
 * const trigger = CircuitBreaker.timeWindow({ window: "30 seconds", failureRate: 0.5, minimumCalls: 10 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const timeWindow = (
  options: { readonly window: Duration.DurationInput; readonly failureRate: number; readonly minimumCalls: number }
): Trigger => {
  Check.options("timeWindow", options)
  if (options === undefined) return Check.refuse("timeWindow", "options", "must be an object", options)
  const windowMillis = Check.duration("timeWindow", "window", options.window, { positive: true }).millis
  return checkTrigger("timeWindow", {
    _tag: "time",
    windowMillis,
    failureRate: options.failureRate,
    minimumCalls: options.minimumCalls
  }, "")
}

/**
 * Checks a trigger (built by the constructors above, or by hand): every field in range, or
 * `InvalidOption` naming it (`prefix` is the path of the trigger in the options, e.g. "trigger.").
 */
const checkTrigger = (policy: string, trigger: unknown, prefix: string): Trigger => {
  if (typeof trigger !== "object" || trigger === null) {
    return Check.refuse(
      policy,
      `${prefix || "trigger"}`,
      "must be a trigger (consecutive, countWindow or timeWindow)",
      trigger
    )
  }
  const t = trigger as Record<string, unknown>
  switch (t._tag) {
    case "consecutive":
      return { _tag: "consecutive", failures: Check.integer(policy, `${prefix}failures`, t.failures, 1) }
    case "count": {
      const size = Check.integer(policy, `${prefix}size`, t.size, 1)
      const failureRate = Check.rate(policy, `${prefix}failureRate`, t.failureRate)
      const minimumCalls = Check.integer(policy, `${prefix}minimumCalls`, t.minimumCalls, 1, size)
      return { _tag: "count", size, failureRate, minimumCalls }
    }
    case "time": {
      const windowMillis = Check.finite(policy, `${prefix}windowMillis`, t.windowMillis, 0)
      if (!(windowMillis > 0)) {
        return Check.refuse(policy, `${prefix}windowMillis`, "must be greater than 0", t.windowMillis)
      }
      const failureRate = Check.rate(policy, `${prefix}failureRate`, t.failureRate)
      const minimumCalls = Check.integer(policy, `${prefix}minimumCalls`, t.minimumCalls, 1)
      return { _tag: "time", windowMillis, failureRate, minimumCalls }
    }
    default:
      return Check.refuse(policy, `${prefix}_tag`, `must be "consecutive", "count" or "time"`, t._tag)
  }
}

/**
 * A state transition, given to `onStateChange`.
 *
 * @category models
 * @since 0.1.0
 */
export interface StateChange {
  readonly breaker: string
  readonly from: State
  readonly to: State
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The breaker's name (in errors, spans and metrics). */
  readonly name: string
  /** Default `consecutive(5)`. */
  readonly trigger?: Trigger
  /** How long the breaker stays open before admitting a probe. Default 30 s. */
  readonly openFor?: Duration.DurationInput
  /** Each failed probe multiplies the open period by `factor`, up to `max`. Default: no growth. */
  readonly openBackoff?: { readonly factor: number; readonly max: Duration.DurationInput }
  /** Concurrent probes admitted when half-open. Default 1. */
  readonly halfOpenProbes?: number
  /** Successful probes needed to close. Default 1. */
  readonly successesToClose?: number
  /** Which typed errors count as failures. Default: all of them. */
  readonly isFailure?: (error: unknown) => boolean
  /** Runs after every transition. */
  readonly onStateChange?: (change: StateChange) => Effect.Effect<void>
}

/**
 * A snapshot of a breaker, for dashboards and tests.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly state: State
  /**
   * Calls and failures currently counted by the trigger (closed state): the sliding window, or,
   * for `consecutive`, the current run of consecutive failures (both equal to it).
   */
  readonly calls: number
  readonly failures: number
  /** When an open breaker admits its next probe (epoch ms). */
  readonly openUntil: number | undefined
  /** Probes running (half-open state). */
  readonly probes: number
  /** Successful probes so far (half-open state). */
  readonly successes: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface CircuitBreaker {
  readonly name: string
  /** The current state (an open breaker becomes half-open on the first call after `openFor`). */
  readonly state: Effect.Effect<State>
  readonly stats: Effect.Effect<Stats>
  /** Holds the breaker open until `reset`. */
  readonly isolate: Effect.Effect<void>
  /** Closes the breaker and forgets past outcomes. */
  readonly reset: Effect.Effect<void>
  /** Runs an effect through the breaker. */
  readonly execute: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
}

// ---------------------------------------------------------------------------------------------

interface Window {
  calls: number
  failures: number
  consecutive: number
  /** count window: ring of outcomes (1 failure, 0 success) */
  ring: Array<0 | 1> | undefined
  head: number
  /** time window: outcomes with their end times */
  times: Array<{ readonly t: number; readonly f: 0 | 1 }> | undefined
}

type Internal =
  | { readonly _tag: "closed"; readonly gen: number; readonly window: Window }
  | { readonly _tag: "open"; readonly gen: number; readonly until: number; readonly reopens: number }
  | {
    readonly _tag: "half-open"
    readonly gen: number
    readonly probes: number
    readonly successes: number
    readonly reopens: number
  }
  | { readonly _tag: "isolated"; readonly gen: number }

type Admission =
  | { readonly _tag: "pass"; readonly gen: number; readonly state: State; readonly change: StateChange | undefined }
  | { readonly _tag: "reject"; readonly state: "open" | "half-open" | "isolated"; readonly retryAfter: number }

const stateCode: Record<State, number> = { closed: 0, "half-open": 1, open: 2, isolated: 3 }

const newWindow = (trigger: Trigger): Window => ({
  calls: 0,
  failures: 0,
  consecutive: 0,
  ring: trigger._tag === "count" ? [] : undefined,
  head: 0,
  times: trigger._tag === "time" ? [] : undefined
})

/** Records one outcome in a closed window; returns whether the trigger fires. */
const recordOutcome = (trigger: Trigger, w: Window, failed: boolean, now: number): boolean => {
  const f: 0 | 1 = failed ? 1 : 0
  switch (trigger._tag) {
    case "consecutive":
      w.consecutive = failed ? w.consecutive + 1 : 0
      w.calls = w.consecutive
      w.failures = w.consecutive
      return w.consecutive >= trigger.failures
    case "count": {
      const ring = w.ring!
      if (ring.length < trigger.size) {
        ring.push(f)
        w.calls++
        w.failures += f
      } else {
        w.failures += f - ring[w.head]!
        ring[w.head] = f
        w.head = (w.head + 1) % trigger.size
      }
      return w.calls >= trigger.minimumCalls && w.failures / w.calls >= trigger.failureRate
    }
    case "time": {
      const times = w.times!
      times.push({ t: now, f })
      w.calls++
      w.failures += f
      pruneTimes(trigger, w, now)
      return w.calls >= trigger.minimumCalls && w.failures / w.calls >= trigger.failureRate
    }
  }
}

const pruneTimes = (trigger: Trigger & { readonly _tag: "time" }, w: Window, now: number): void => {
  const times = w.times!
  let drop = 0
  while (drop < times.length && times[drop]!.t <= now - trigger.windowMillis) {
    w.calls--
    w.failures -= times[drop]!.f
    drop++
  }
  if (drop > 0) times.splice(0, drop)
}

const registry = GlobalValue.globalValue(
  Symbol.for("@braid/resilience/CircuitBreaker/registry"),
  () => new Map<string, CircuitBreaker>()
)

/**
 * Creates a breaker (not registered: see `named` to share one by name). Every option is checked
 * here: an option out of range or of the wrong type throws `InvalidOption` naming it.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@braid/resilience"
 *
 * const breaker = CircuitBreaker.unsafeMake({
 *   name: "search-api",
 *   trigger: CircuitBreaker.countWindow({ size: 20, failureRate: 0.5, minimumCalls: 10 }),
 *   openFor: "10 seconds",
 *   halfOpenProbes: 2,
 *   successesToClose: 2
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const unsafeMake = (options: Options): CircuitBreaker => {
  if (typeof options !== "object" || options === null) {
    return Check.refuse("CircuitBreaker", "options", "must be an object", options)
  }
  const name = Check.name("CircuitBreaker", "name", options.name)
  const policy = `breaker ${name}`
  const trigger = options.trigger === undefined ? consecutive(5) : checkTrigger(policy, options.trigger, "trigger.")
  const openFor = Check.duration(policy, "openFor", Check.or(options.openFor, "30 seconds")).millis
  const backoff = options.openBackoff
  if (backoff !== undefined && (typeof backoff !== "object" || backoff === null)) {
    Check.refuse(policy, "openBackoff", "must be an object", backoff)
  }
  const backoffFactor = backoff === undefined ? 1 : Check.finite(policy, "openBackoff.factor", backoff.factor, 1)
  const backoffMax = backoff === undefined ? openFor : Check.duration(policy, "openBackoff.max", backoff.max).millis
  if (backoffMax < openFor) {
    Check.refuse(policy, "openBackoff.max", `must be at least openFor (${openFor} ms)`, backoff?.max)
  }
  const maxProbes = Check.integer(policy, "halfOpenProbes", Check.or(options.halfOpenProbes, 1), 1)
  const successesToClose = Check.integer(policy, "successesToClose", Check.or(options.successesToClose, 1), 1)
  const isFailure = Check.fn(policy, "isFailure", options.isFailure)
  const onStateChange = Check.fn(policy, "onStateChange", options.onStateChange)
  const gauge = Metric.tagged(Metrics.breakerState, Attributes.Resilience.breakerName, name)
  const rejections = Metric.tagged(Metrics.breakerRejections, Attributes.Resilience.breakerName, name)
  const openPeriod = (reopens: number): number =>
    Math.min(Math.max(openFor, backoffMax), openFor * Math.pow(backoffFactor, reopens))

  const ref = Ref.unsafeMake<Internal>({ _tag: "closed", gen: 0, window: newWindow(trigger) })

  const announce = (change: StateChange | undefined): Effect.Effect<void> => {
    if (change === undefined) return Effect.void
    let effect = Effect.zipRight(
      Metric.set(gauge, stateCode[change.to]),
      Instrumentation.event(R.breakerStateChanged, {
        [R.breakerName]: name,
        [R.breakerFrom]: change.from,
        [R.breakerTo]: change.to
      })
    )
    if (onStateChange) effect = Effect.zipRight(effect, onStateChange(change))
    return effect
  }

  /** Admission. `clock` is read only when the state needs the time (open). */
  const admit = (s: Internal, clock: Clock.Clock | undefined): readonly [Admission | "needs-clock", Internal] => {
    switch (s._tag) {
      case "closed":
        return [closedPass(s.gen), s]
      case "open": {
        if (clock === undefined) return ["needs-clock", s]
        const now = clock.unsafeCurrentTimeMillis()
        if (now < s.until) return [{ _tag: "reject", state: "open", retryAfter: s.until - now }, s]
        return [
          {
            _tag: "pass",
            gen: s.gen + 1,
            state: "half-open",
            change: { breaker: name, from: "open", to: "half-open" }
          },
          { _tag: "half-open", gen: s.gen + 1, probes: 1, successes: 0, reopens: s.reopens }
        ]
      }
      case "half-open":
        if (s.probes >= maxProbes) return [{ _tag: "reject", state: "half-open", retryAfter: 0 }, s]
        return [{ _tag: "pass", gen: s.gen, state: "half-open", change: undefined }, { ...s, probes: s.probes + 1 }]
      case "isolated":
        return [{ _tag: "reject", state: "isolated", retryAfter: Number.POSITIVE_INFINITY }, s]
    }
  }

  let lastClosedPass: Admission & { readonly _tag: "pass" } = {
    _tag: "pass",
    gen: 0,
    state: "closed",
    change: undefined
  }
  const closedPass = (gen: number): Admission => {
    if (lastClosedPass.gen !== gen) lastClosedPass = { _tag: "pass", gen, state: "closed", change: undefined }
    return lastClosedPass
  }

  const causeIsFailure = (cause: Cause.Cause<unknown>): boolean | undefined => {
    if (Cause.isInterruptedOnly(cause)) return undefined
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) return isFailure === undefined ? true : isFailure(failure.value)
    return true
  }

  const record =
    (gen: number, failed: boolean | undefined, clock: Clock.Clock) =>
    (s: Internal): readonly [StateChange | undefined, Internal] => {
      if (s.gen !== gen) return [undefined, s]
      switch (s._tag) {
        case "closed": {
          if (failed === undefined) return [undefined, s]
          if (
            !recordOutcome(trigger, s.window, failed, trigger._tag === "time" ? clock.unsafeCurrentTimeMillis() : 0)
          ) return [undefined, s]
          return [
            { breaker: name, from: "closed", to: "open" },
            { _tag: "open", gen: gen + 1, until: clock.unsafeCurrentTimeMillis() + openPeriod(0), reopens: 0 }
          ]
        }
        case "half-open": {
          if (failed === undefined) return [undefined, { ...s, probes: s.probes - 1 }]
          if (failed) {
            const reopens = s.reopens + 1
            return [
              { breaker: name, from: "half-open", to: "open" },
              { _tag: "open", gen: gen + 1, until: clock.unsafeCurrentTimeMillis() + openPeriod(reopens), reopens }
            ]
          }
          const successes = s.successes + 1
          if (successes >= successesToClose) {
            return [{ breaker: name, from: "half-open", to: "closed" }, {
              _tag: "closed",
              gen: gen + 1,
              window: newWindow(trigger)
            }]
          }
          return [undefined, { ...s, probes: s.probes - 1, successes }]
        }
        default:
          return [undefined, s]
      }
    }

  const recordEffect = (gen: number, failed: boolean | undefined): Effect.Effect<void> =>
    Effect.clockWith((clock) => Effect.flatMap(modify(record(gen, failed, clock)), announce))

  /** The current state, read without an effect (only to skip no-op bookkeeping). */
  let current: Internal = Ref.get(ref).pipe(Effect.runSync)
  const closedAttributes = { [R.breakerName]: name, [R.breakerState]: "closed" }
  const halfOpenAttributes = { [R.breakerName]: name, [R.breakerState]: "half-open" }

  /** The outcome handlers of closed-state calls, built once per generation (not per call). */
  interface Handlers {
    readonly gen: number
    readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<never, unknown>
    readonly onSuccess: (a: unknown) => Effect.Effect<unknown>
  }
  const makeClosedHandlers = (gen: number): Handlers => ({
    gen,
    onFailure: (cause) => Effect.zipRight(recordEffect(gen, causeIsFailure(cause)), Effect.failCause(cause)),
    onSuccess: (a) =>
      trigger._tag === "consecutive" && current._tag === "closed" && current.gen === gen &&
        current.window.consecutive === 0
        ? Effect.succeed(a)
        : Effect.as(recordEffect(gen, false), a)
  })
  let lastHandlers = makeClosedHandlers(0)
  const closedHandlers = (gen: number): Handlers => {
    if (lastHandlers.gen !== gen) lastHandlers = makeClosedHandlers(gen)
    return lastHandlers
  }

  const decide = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    admission: Admission
  ): Effect.Effect<A, E | CircuitOpen, R> => {
    if (admission._tag === "reject") {
      return Effect.zipRight(
        Effect.zipRight(
          Instrumentation.event(R.breakerRejected, {
            [R.breakerName]: name,
            [R.breakerState]: admission.state,
            [R.breakerRetryAfterMs]: admission.retryAfter
          }),
          Metric.increment(rejections)
        ),
        Effect.fail(new CircuitOpen({ breaker: name, state: admission.state, retryAfterMillis: admission.retryAfter }))
      )
    }
    const gen = admission.gen
    if (admission.state === "closed") {
      // closed: an interruption counts as nothing, so success and failure handlers are enough; a
      // success that changes nothing (consecutive trigger, no failures pending) skips the bookkeeping
      return Effect.zipRight(
        Instrumentation.annotate(closedAttributes),
        Effect.matchCauseEffect(self, closedHandlers(gen)) as Effect.Effect<A, E, R>
      )
    }
    // a probe: its slot must be released however it ends, interruption included
    const probe = Effect.zipRight(
      Instrumentation.annotate(halfOpenAttributes),
      Effect.onExit(self, (exit) => recordEffect(gen, Exit.isSuccess(exit) ? false : causeIsFailure(exit.cause)))
    )
    return admission.change === undefined ? probe : Effect.zipRight(announce(admission.change), probe)
  }

  const modify = <B>(f: (s: Internal) => readonly [B, Internal]): Effect.Effect<B> =>
    Ref.modify(ref, (s) => {
      const out = f(s)
      current = out[1]
      return out
    })

  const execute = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
    Effect.suspend(() => {
      // closed: admission changes nothing, so reading the state is enough (and atomic: it is
      // one synchronous read); every other state goes through one atomic Ref.modify
      const s = current
      if (s._tag === "closed") return decide(self, closedPass(s.gen))
      return Effect.flatMap(modify((s) => admit(s, undefined)), (admission) =>
        admission === "needs-clock"
          ? Effect.clockWith((clock) =>
            Effect.flatMap(modify((s) => admit(s, clock) as readonly [Admission, Internal]), (a) => decide(self, a))
          )
          : decide(self, admission))
    })

  const transition = (to: "closed" | "isolated") =>
    Effect.flatMap(
      modify((s): readonly [StateChange | undefined, Internal] => {
        const next: Internal = to === "closed"
          ? { _tag: "closed", gen: s.gen + 1, window: newWindow(trigger) }
          : { _tag: "isolated", gen: s.gen + 1 }
        return [s._tag === to ? undefined : { breaker: name, from: s._tag, to }, next]
      }),
      announce
    )

  const stats = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.map(Ref.get(ref), (s): Stats => {
      if (s._tag === "closed" && trigger._tag === "time") pruneTimes(trigger, s.window, now)
      return {
        state: s._tag,
        calls: s._tag === "closed" ? s.window.calls : 0,
        failures: s._tag === "closed" ? s.window.failures : 0,
        openUntil: s._tag === "open" ? s.until : undefined,
        probes: s._tag === "half-open" ? s.probes : 0,
        successes: s._tag === "half-open" ? s.successes : 0
      }
    }))

  return {
    name,
    state: Effect.map(Ref.get(ref), (s) => s._tag),
    stats,
    isolate: transition("isolated"),
    reset: transition("closed"),
    execute
  }
}

/**
 * Creates a breaker in an Effect; options out of range fail it with `InvalidOption`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "@braid/resilience"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "db", trigger: CircuitBreaker.consecutive(3) })
 *   return yield* breaker.execute(Effect.succeed(1))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<CircuitBreaker, InvalidOption> =>
  Check.build(() => unsafeMake(options))

/**
 * The breaker registered under `name` in this process, created with `options` on first use (later
 * calls return the same breaker and ignore their options). Pipelines that name the same breaker
 * share its state.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@braid/resilience"
 *
 * const a = CircuitBreaker.named("anthropic", { trigger: CircuitBreaker.consecutive(5) })
 * const b = CircuitBreaker.named("anthropic")
 * // a === b
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const named = (name: string, options: Omit<Options, "name"> = {}): CircuitBreaker => {
  Check.name("CircuitBreaker.named", "name", name)
  const existing = registry.get(name)
  if (existing) return existing
  const breaker = unsafeMake({ ...options, name })
  registry.set(name, breaker)
  return breaker
}

/**
 * Removes a breaker from the process-wide registry (tests, reconfiguration).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@braid/resilience"
 * CircuitBreaker.unregister("anthropic")
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const unregister = (name: string): boolean => registry.delete(name)

/**
 * Runs any Effect through a breaker (same as `breaker.execute`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "@braid/resilience"
 *
 * const breaker = CircuitBreaker.unsafeMake({ name: "db" })
 * const guarded = CircuitBreaker.effect(Effect.succeed("row"), breaker)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const effect = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  breaker: CircuitBreaker
): Effect.Effect<A, E | CircuitOpen, R> => breaker.execute(self)

/**
 * The breaker policy for primitives: `step.pipe(CircuitBreaker.guard(breaker))`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { CircuitBreaker } from "@braid/resilience"
 *
 * const callModel = Primitive.make("callModel", (prompt: string) => Effect.succeed(`echo ${prompt}`))
 * const guarded = callModel.pipe(CircuitBreaker.guard(CircuitBreaker.named("anthropic")))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const guard =
  (breaker: CircuitBreaker) =>
  <In, Out, E, R>(self: P.Primitive<In, Out, E, R>): P.Primitive<In, Out, E | CircuitOpen, R> =>
    Primitive.wrap(
      self,
      { kind: "circuit-breaker", name: `breaker(${self.name})`, meta: { breaker: breaker.name } },
      (invoke) => (input: In) => breaker.execute(invoke(input))
    )
