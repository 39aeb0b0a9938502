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
 * Shared state (0.3): with `store` (`memoryStore()`, `sqlStoreWith` on PostgreSQL,
 * `RedisBreakerStore.store` of @braid/redis) the state lives in the store under the breaker's
 * name, so every process, and a restarted one, sees an open breaker at once. Admission reads the
 * store on every call. Closed-state outcomes are counted by each process (its own trigger
 * window); when they trip it, the process publishes the open state. When the open period ends,
 * the probe is claimed by an atomic compare-and-set on the state's generation: one probe at a
 * time across all processes (`halfOpenProbes` applies only without a store), held for
 * `probeLease` (default 1 minute) so that a probe whose process died is claimable again after
 * it; `successesToClose` successful probes, one after another, close it for everyone, a failed
 * one reopens it (with `openBackoff`). `isolate` and `reset` apply to every process. A store call
 * that fails (a `StoreError`, bounded by the store's timeout) goes to `onStoreError` (default: a
 * logged warning) and the call is admitted by this process's own breaker: the breaker fails
 * open on its store, so an outage of Redis or PostgreSQL never stops calls the local breaker
 * would let through.
 *
 * Telemetry: the wrapper span gets `breaker.name` and `breaker.state` (the state at admission);
 * refusals add the event `breaker.rejected`; transitions add `breaker.state_changed` {from, to}
 * and set the gauge `Metrics.breakerState` (0 closed, 1 half-open, 2 open, 3 isolated).
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Primitive, Sql } from "@braid/core"
import { Cause, Clock, Duration, Effect, Either, Exit, GlobalValue, Metric, Option, Ref, Schema } from "effect"
import type { InvalidOption } from "./Errors.js"
import { CircuitOpen, StoreError } from "./Errors.js"
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
  /**
   * Where the breaker's state lives when several processes must share it (`memoryStore()`,
   * `sqlStoreWith` on PostgreSQL, `RedisBreakerStore.store` of @braid/redis). Default: this
   * process only. See "Shared state" in the module's documentation.
   *
   * @since 0.3.0
   */
  readonly store?: Store
  /**
   * With a `store`: how long a claimed half-open probe holds its claim; a probe of a process
   * that died is re-claimable after it. Default 1 minute.
   *
   * @since 0.3.0
   */
  readonly probeLease?: Duration.DurationInput
  /**
   * With a `store`: runs when a store call fails (the breaker then uses this process's own
   * state for that call). Default: a logged warning.
   *
   * @since 0.3.0
   */
  readonly onStoreError?: (error: StoreError) => Effect.Effect<void>
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
  if (options.store === undefined) return makeLocal(options).breaker
  return makeShared(options, options.store)
}

/** The breaker of this process, and what the shared breaker reuses of it. */
const makeLocal = (options: Options): Local => {
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

  const reject = (state: "open" | "half-open" | "isolated", retryAfter: number) =>
    decide(Effect.void, { _tag: "reject", state, retryAfter }) as Effect.Effect<never, CircuitOpen>

  return {
    breaker: {
      name,
      state: Effect.map(Ref.get(ref), (s) => s._tag),
      stats,
      isolate: transition("isolated"),
      reset: transition("closed"),
      execute
    },
    announce,
    reject,
    openPeriod,
    successesToClose,
    causeIsFailure,
    probeAttributes: halfOpenAttributes
  }
}

// ---------------------------------------------------------------------------------------------
// shared state
// ---------------------------------------------------------------------------------------------

/** What `makeLocal` gives the shared breaker. */
interface Local {
  readonly breaker: CircuitBreaker
  readonly announce: (change: StateChange | undefined) => Effect.Effect<void>
  readonly reject: (state: "open" | "half-open" | "isolated", retryAfter: number) => Effect.Effect<never, CircuitOpen>
  readonly openPeriod: (reopens: number) => number
  readonly successesToClose: number
  readonly causeIsFailure: (cause: Cause.Cause<unknown>) => boolean | undefined
  readonly probeAttributes: Record<string, string>
}

/**
 * The state of a breaker as a shared store keeps it. `gen` grows by one with every transition
 * (the store's compare-and-set is on it); `until` is, when open, the time a probe may start and,
 * when half-open, the time the running probe's claim lapses (0: no probe running).
 *
 * @category models
 * @since 0.3.0
 */
export interface SharedState {
  readonly state: State
  readonly gen: number
  readonly until: number
  /** Failed probes since the breaker was last closed (the open period grows with `openBackoff`). */
  readonly reopens: number
  /** Successful probes so far (half-open). */
  readonly successes: number
}

/**
 * The state of a breaker no store has seen: closed, generation 0.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@braid/resilience"
 *
 * const fresh = CircuitBreaker.initialState // { state: "closed", gen: 0, until: 0, reopens: 0, successes: 0 }
 * ```
 *
 * @category constants
 * @since 0.3.0
 */
export const initialState: SharedState = { state: "closed", gen: 0, until: 0, reopens: 0, successes: 0 }

/**
 * Where breakers keep a shared state, by breaker name. `compareAndSet` must be atomic: it sets
 * `next` only if the stored generation is `expected` (a breaker with no record is at
 * `initialState`, generation 0), and says whether it did. That one operation makes the half-open
 * probe single across processes: of the callers that read the same open state, one wins the
 * claim. Calls are bounded by the store (a `StoreError` past its timeout).
 *
 * @category models
 * @since 0.3.0
 */
export interface Store {
  readonly name: string
  readonly get: (breaker: string) => Effect.Effect<SharedState, StoreError>
  readonly compareAndSet: (
    breaker: string,
    expected: number,
    next: SharedState
  ) => Effect.Effect<boolean, StoreError>
}

const SharedStateSchema = Schema.Struct({
  state: Schema.Literal("closed", "open", "half-open", "isolated"),
  gen: Schema.NonNegativeInt,
  until: Schema.NonNegative,
  reopens: Schema.NonNegativeInt,
  successes: Schema.NonNegativeInt
})
const decodeShared = Schema.decodeUnknownEither(SharedStateSchema)

/**
 * For store authors: a stored state (untrusted: from Redis or a table, numbers possibly as text)
 * checked, or the `StoreError` of `store` saying what was wrong.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@braid/resilience"
 *
 * const state = CircuitBreaker.decodeState("redis", { state: "open", gen: "3", until: "1000", reopens: "0", successes: "0" })
 * ```
 *
 * @category parsing
 * @since 0.3.0
 */
export const decodeState = (store: string, raw: Record<string, unknown>): Effect.Effect<SharedState, StoreError> => {
  const number = (v: unknown) => typeof v === "string" && v !== "" ? Number(v) : v
  return Either.match(
    decodeShared({
      state: raw.state,
      gen: number(raw.gen),
      until: number(raw.until),
      reopens: number(raw.reopens),
      successes: number(raw.successes)
    }),
    {
      onLeft: (e) =>
        Effect.fail(
          new StoreError({
            store,
            operation: "breaker.get",
            cause: new TypeError(`a stored breaker state does not decode: ${e.message}`)
          })
        ),
      onRight: Effect.succeed
    }
  )
}

/**
 * A store in memory: breakers built with the same instance share their state (one process;
 * for tests and for several pipelines of one process).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@braid/resilience"
 *
 * const store = CircuitBreaker.memoryStore()
 * const a = CircuitBreaker.unsafeMake({ name: "anthropic", store })
 * const b = CircuitBreaker.unsafeMake({ name: "anthropic", store }) // sees a's state
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const memoryStore = (): Store => {
  const states = new Map<string, SharedState>()
  return {
    name: "memory",
    get: (breaker) => Effect.sync(() => states.get(breaker) ?? initialState),
    compareAndSet: (breaker, expected, next) =>
      Effect.sync(() => {
        if ((states.get(breaker) ?? initialState).gen !== expected) return false
        states.set(breaker, next)
        return true
      })
  }
}

/**
 * A store on the `Sql.SqlDriver` in context (PostgreSQL: `PostgresBreakerStore` of
 * @braid/postgres; SQLite works too): table `braid_circuit_breakers`, created if missing. The
 * compare-and-set is one conditional statement (an upsert whose update holds only at the expected
 * generation). Every call is bounded by `timeout` (default `Io.defaultTimeout`, 5 s): past it the
 * call is a `StoreError` (cause `StoreTimeout`).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { CircuitBreaker } from "@braid/resilience"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // PostgresDriver.layer(...)
 *
 * const store = CircuitBreaker.sqlStoreWith({ timeout: "2 seconds" }).pipe(Effect.provide(DriverLive))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const sqlStoreWith = (options: Sql.StoreOptions = {}): Effect.Effect<Store, StoreError, Sql.SqlDriver> =>
  Effect.gen(function*() {
    const driver = yield* Sql.SqlDriver
    const store = driver.dialect
    const call = <A>(operation: string, self: Effect.Effect<A, Sql.SqlFailure>) =>
      Sql.bounded(options.timeout)(
        Effect.mapError(self, (cause) => new StoreError({ store, operation, cause }))
      )
    yield* call(
      "breaker.migrate",
      driver.execute(`CREATE TABLE IF NOT EXISTS braid_circuit_breakers (
        name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        gen BIGINT NOT NULL,
        until_ms BIGINT NOT NULL,
        reopens INTEGER NOT NULL,
        successes INTEGER NOT NULL
      )`)
    )
    const columns = (next: SharedState) =>
      [next.state, next.gen, Math.ceil(next.until), next.reopens, next.successes] as const
    return {
      name: store,
      get: (breaker) =>
        Effect.flatMap(
          call(
            "breaker.get",
            driver.query(
              "SELECT state, gen, until_ms AS until, reopens, successes FROM braid_circuit_breakers WHERE name = ?",
              [breaker]
            )
          ),
          (rows) => rows.length === 0 ? Effect.succeed(initialState) : decodeState(store, rows[0]!)
        ),
      compareAndSet: (breaker, expected, next) =>
        Effect.map(
          call(
            "breaker.compareAndSet",
            expected === 0
              // no record is generation 0: insert, or update a record still at 0
              ? driver.execute(
                `INSERT INTO braid_circuit_breakers (name, state, gen, until_ms, reopens, successes)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET state = excluded.state, gen = excluded.gen,
                  until_ms = excluded.until_ms, reopens = excluded.reopens, successes = excluded.successes
                WHERE braid_circuit_breakers.gen = 0`,
                [breaker, ...columns(next)]
              )
              : driver.execute(
                `UPDATE braid_circuit_breakers SET state = ?, gen = ?, until_ms = ?, reopens = ?, successes = ?
                WHERE name = ? AND gen = ?`,
                [...columns(next), breaker, expected]
              )
          ),
          (changed) => changed === 1
        )
    }
  })

const checkStore = (policy: string, store: unknown): Store => {
  const s = store as Partial<Store> | null
  if (
    typeof s !== "object" || s === null || typeof s.get !== "function" || typeof s.compareAndSet !== "function"
  ) {
    return Check.refuse(policy, "store", "must be a CircuitBreaker store (get, compareAndSet)", store)
  }
  return s as Store
}

/**
 * The breaker whose state lives in `store`: admission reads the shared state on every call; the
 * closed state's outcomes are counted by this process (its own trigger window), and when they
 * trip it the open state is published; probes are claimed by compare-and-set. A failed store
 * call falls back to this process's own breaker for that call.
 */
const makeShared = (options: Options, rawStore: Store): CircuitBreaker => {
  const name = Check.name("CircuitBreaker", "name", options.name)
  const policy = `breaker ${name}`
  const store = checkStore(policy, rawStore)
  const probeLease = Check.duration(policy, "probeLease", Check.or(options.probeLease, "1 minute"), {
    positive: true
  }).millis
  const onStoreError = Check.fn(policy, "onStoreError", options.onStoreError) ??
    ((e: StoreError) => Effect.logWarning(`breaker ${name}: ${e.message}; this call uses this process's state`))
  const userHook = options.onStateChange
  /** The shared generation this process last read. */
  let lastGen = 0
  /** The shared generation at which this process's own breaker tripped, until the open state is published. */
  let tripGen: number | undefined
  /** Set while this process's breaker is brought in line with the shared state (no announcement). */
  let syncing = false

  const local: Local = makeLocal({
    ...options,
    onStateChange: (change) => {
      if (syncing) return Effect.void
      const forward = userHook === undefined ? Effect.void : userHook(change)
      if (change.from !== "closed" || change.to !== "open") return forward
      tripGen = lastGen
      return Effect.zipRight(publishTrip, forward)
    }
  })
  const fallback = (e: StoreError) => onStoreError(e)

  /** Publishes this process's trip (closed to open at `tripGen`) unless another process moved first. */
  const publishTrip: Effect.Effect<void> = Effect.suspend(() => {
    const gen = tripGen
    if (gen === undefined) return Effect.void
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      store.compareAndSet(name, gen, {
        state: "open",
        gen: gen + 1,
        until: now + local.openPeriod(0),
        reopens: 0,
        successes: 0
      }).pipe(
        Effect.matchEffect({
          onFailure: fallback,
          onSuccess: () => Effect.sync(() => void (tripGen = undefined))
        })
      ))
  })

  /** Brings this process's breaker to `to` without announcing it (the shared transition was announced). */
  const syncLocal = (to: "closed" | "isolated") =>
    Effect.flatMap(local.breaker.state, (state) =>
      state === to ? Effect.void : Effect.acquireUseRelease(
        Effect.sync(() => void (syncing = true)),
        () => to === "closed" ? local.breaker.reset : local.breaker.isolate,
        () => Effect.sync(() => void (syncing = false))
      ))

  /** Sets `next` if the shared state is still `from`; announces the transition when it did. */
  const move = (from: SharedState, next: SharedState): Effect.Effect<boolean, StoreError> =>
    Effect.tap(
      store.compareAndSet(name, from.gen, next),
      (won) =>
        won && from.state !== next.state
          ? local.announce({ breaker: name, from: from.state, to: next.state })
          : Effect.void
    )

  /** Records a probe's outcome: closes, reopens, or frees the claim for the next probe. */
  const settle = (claimed: SharedState, failed: boolean | undefined) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const gen = claimed.gen + 1
      if (failed === undefined) return move(claimed, { ...claimed, gen, until: 0 })
      if (failed) {
        const reopens = claimed.reopens + 1
        return move(claimed, { state: "open", gen, until: now + local.openPeriod(reopens), reopens, successes: 0 })
      }
      const successes = claimed.successes + 1
      return successes >= local.successesToClose
        ? Effect.tap(
          move(claimed, { ...initialState, gen }),
          (won) => won ? syncLocal("closed") : Effect.void
        )
        : move(claimed, { ...claimed, gen, until: 0, successes })
    }).pipe(Effect.catchAll(fallback))

  const probe = <A, E, R>(self: Effect.Effect<A, E, R>, s: SharedState, now: number) =>
    Effect.flatMap(
      Effect.either(move(s, {
        state: "half-open",
        gen: s.gen + 1,
        until: now + probeLease,
        reopens: s.reopens,
        successes: s.state === "half-open" ? s.successes : 0
      })),
      (claim): Effect.Effect<A, E | CircuitOpen, R> => {
        if (Either.isLeft(claim)) return Effect.zipRight(fallback(claim.left), local.breaker.execute(self))
        // another caller (here or in another process) claimed the probe first
        if (!claim.right) return local.reject("half-open", 0)
        const claimed: SharedState = {
          state: "half-open",
          gen: s.gen + 1,
          until: now + probeLease,
          reopens: s.reopens,
          successes: s.state === "half-open" ? s.successes : 0
        }
        return Effect.zipRight(
          Instrumentation.annotate(local.probeAttributes),
          Effect.onExit(
            self,
            (exit) => settle(claimed, Exit.isSuccess(exit) ? false : local.causeIsFailure(exit.cause))
          )
        )
      }
    )

  const execute = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
    Effect.flatMap(Effect.either(store.get(name)), (read) => {
      if (Either.isLeft(read)) return Effect.zipRight(fallback(read.left), local.breaker.execute(self))
      const s = read.right
      lastGen = s.gen
      return Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<A, E | CircuitOpen, R> => {
        switch (s.state) {
          case "closed":
            if (tripGen === s.gen) return Effect.zipRight(publishTrip, local.breaker.execute(self))
            tripGen = undefined
            return Effect.zipRight(syncLocal("closed"), local.breaker.execute(self))
          case "isolated":
            return local.reject("isolated", Number.POSITIVE_INFINITY)
          case "open":
            return now < s.until ? local.reject("open", s.until - now) : probe(self, s, now)
          case "half-open":
            return now < s.until ? local.reject("half-open", s.until - now) : probe(self, s, now)
        }
      })
    })

  /** Moves the shared state to `to` (a few attempts against concurrent transitions), and this process's. */
  const transition = (to: "closed" | "isolated"): Effect.Effect<void> =>
    Effect.gen(function*() {
      for (let attempt = 0; attempt < 8; attempt++) {
        const s = yield* store.get(name)
        const next: SharedState = { ...initialState, state: to, gen: s.gen + 1 }
        if (yield* move(s, next)) break
      }
      tripGen = undefined
    }).pipe(Effect.catchAll(fallback), Effect.zipRight(syncLocal(to)))

  const withShared = <A>(f: (s: SharedState) => A, orElse: Effect.Effect<A>) =>
    Effect.matchEffect(store.get(name), {
      onFailure: (e) => Effect.zipRight(fallback(e), orElse),
      onSuccess: (s) => Effect.succeed(f(s))
    })

  return {
    name,
    state: withShared((s) => s.state, local.breaker.state),
    stats: Effect.flatMap(
      local.breaker.stats,
      (mine) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          withShared((s): Stats => ({
            state: s.state,
            calls: s.state === "closed" ? mine.calls : 0,
            failures: s.state === "closed" ? mine.failures : 0,
            openUntil: s.state === "open" ? s.until : undefined,
            probes: s.state === "half-open" && s.until > now ? 1 : 0,
            successes: s.state === "half-open" ? s.successes : 0
          }), Effect.succeed(mine)))
    ),
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
