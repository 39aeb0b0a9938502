/**
 * Hedge: when a call is slow, start a second attempt after a delay and take the first success;
 * the loser is interrupted (its finalizers run, an HTTP request is aborted). The delay is fixed,
 * or adaptive: a percentile (e.g. p95) of the latencies this policy observed, once it has enough
 * samples. If the first attempt fails before the delay, the second starts at once. If both fail,
 * the hedge fails with the typed error of one of them (both are in the cause).
 *
 * Use it for idempotent, latency-sensitive reads (it can double the load on the slow tail).
 *
 * Telemetry: both attempts are child spans of the `hedge(...)` span; it gets `hedge.delay_ms`
 * and `hedge.winner` ("primary" or "hedge"); starting the second attempt adds the event
 * `hedge.started` and bumps `Metrics.hedges`.
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Primitive } from "@braid/core"
import { Clock, Deferred, Duration, Effect, FiberId, Metric } from "effect"
import * as Check from "./internal/options.js"
import * as Metrics from "./Metrics.js"

const R = Attributes.Resilience

/**
 * An adaptive delay: the `percentile` (0..1) of the last `window` observed latencies, or
 * `initial` until `minSamples` were observed.
 *
 * @category models
 * @since 0.1.0
 */
export interface Adaptive {
  readonly percentile: number
  readonly initial: Duration.DurationInput
  /** Default 100. */
  readonly window?: number
  /** Default 10. */
  readonly minSamples?: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** A fixed delay, or an adaptive one (e.g. `{ percentile: 0.95, initial: "200 millis" }`). */
  readonly delay: Duration.DurationInput | Adaptive
  /** The name of the wrapper (default `hedge(<inner>)`), or of the work in the Effect form. */
  readonly name?: string
}

const isAdaptive = (d: Duration.DurationInput | Adaptive): d is Adaptive =>
  typeof d === "object" && d !== null && !Array.isArray(d) && !Duration.isDuration(d)

/**
 * Checks the options where the hedge is built: a fixed delay is a finite duration >= 0; an
 * adaptive one has `percentile` in (0, 1], `initial` a finite duration >= 0, `window` an integer
 * >= 1 and `minSamples` an integer from 1 to `window`. Otherwise `InvalidOption` naming the option.
 */
const check = (policy: string, options: Options) => {
  if (typeof options !== "object" || options === null) {
    return Check.refuse(policy, "options", "must be an object", options)
  }
  const label = options.name === undefined ? policy : Check.name(policy, "name", options.name)
  const delay = options.delay
  if (!isAdaptive(delay)) {
    return { adaptive: undefined, fixed: Check.duration(label, "delay", delay).millis, size: 100, minSamples: 10 }
  }
  const percentile = Check.rate(label, "delay.percentile", delay.percentile)
  const fixed = Check.duration(label, "delay.initial", delay.initial).millis
  const size = Check.integer(label, "delay.window", Check.or(delay.window, 100), 1)
  const minSamples = Check.integer(label, "delay.minSamples", Check.or(delay.minSamples, Math.min(10, size)), 1, size)
  return { adaptive: { ...delay, percentile }, fixed, size, minSamples }
}

/**
 * The state of one hedge policy: its observed latencies.
 *
 * @category models
 * @since 0.1.0
 */
export interface Hedger {
  readonly name: string
  /** The delay the next call would use, in ms. */
  readonly currentDelayMillis: () => number
  readonly run: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * Creates a hedger (used by `policy` and `effect`; create one yourself to share observed
 * latencies between call sites).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Hedge } from "@braid/resilience"
 *
 * const hedger = Hedge.make({ name: "search", delay: { percentile: 0.95, initial: "200 millis" } })
 * const fast = hedger.run(Effect.succeed("results"))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options & { readonly name: string }): Hedger => {
  const checked = check("Hedge.make", options)
  const name = Check.name("Hedge.make", "name", options?.name)
  const counter = Metric.tagged(Metrics.hedges, Attributes.Braid.primitiveName, name)
  const { adaptive, fixed, minSamples, size } = checked
  const samples: Array<number> = []
  let next = 0

  const record = (millis: number) => {
    if (adaptive === undefined) return
    if (samples.length < size) samples.push(millis)
    else samples[next] = millis
    next = (next + 1) % size
  }

  const currentDelayMillis = (): number => {
    if (adaptive === undefined || samples.length < minSamples) return fixed
    const sorted = samples.slice().sort((a, b) => a - b)
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(adaptive.percentile * sorted.length) - 1))
    return sorted[rank]!
  }

  const run = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      const delay = currentDelayMillis()
      const primaryFailed = Deferred.unsafeMake<void>(FiberId.none)
      const timed = (label: "primary" | "hedge") =>
        Effect.flatMap(Clock.currentTimeMillis, (t0) =>
          Effect.flatMap(self, (a) =>
            Effect.map(Clock.currentTimeMillis, (t1) => {
              record(t1 - t0)
              return [a, label] as const
            })))
      const primary = Effect.tapErrorCause(timed("primary"), () =>
        Deferred.succeed(primaryFailed, undefined))
      const hedge = Effect.zipRight(
        Effect.raceFirst(Effect.sleep(Duration.millis(delay)), Deferred.await(primaryFailed)),
        Effect.zipRight(
          Effect.zipRight(
            Instrumentation.event(R.hedgeStarted, { [R.hedgeDelayMs]: delay }),
            Metric.increment(counter)
          ),
          timed("hedge")
        )
      )
      return Effect.zipRight(
        Instrumentation.annotate({ [R.hedgeDelayMs]: delay }),
        Effect.flatMap(
          Effect.race(primary, hedge),
          ([a, label]) =>
            Effect.as(Instrumentation.annotate({ [R.hedgeWinner]: label }), a)
        )
      )
    })

  return { name, currentDelayMillis, run }
}

/**
 * Hedges any Effect. The same implementation as `policy`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Hedge } from "@braid/resilience"
 *
 * const lookup = Effect.as(Effect.sleep("50 millis"), "row")
 * const hedged = Hedge.effect(lookup, { delay: "20 millis" })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const effect = <A, E, R>(self: Effect.Effect<A, E, R>, options: Options | Hedger): Effect.Effect<A, E, R> =>
  isHedger(options) ? options.run(self) : make({ ...options, name: Check.or(options?.name, "effect") }).run(self)

const isHedger = (u: unknown): u is Hedger =>
  typeof u === "object" && u !== null && "run" in u && typeof u.run === "function"

/**
 * The hedge policy for primitives: `search.pipe(Hedge.policy({ delay: "200 millis" }))`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Hedge } from "@braid/resilience"
 *
 * const search = Primitive.make("search", (q: string) => Effect.succeed([`result for ${q}`]))
 * const hedged = search.pipe(Hedge.policy({ delay: { percentile: 0.95, initial: "300 millis" } }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const policy = (options: Options) => {
  check("Hedge.policy", options)
  return <In, Out, E, R>(self: P.Primitive<In, Out, E, R>): P.Primitive<In, Out, E, R> => wrap(self, options)
}

const wrap = <In, Out, E, R>(self: P.Primitive<In, Out, E, R>, options: Options): P.Primitive<In, Out, E, R> => {
  const name = options.name ?? `hedge(${self.name})`
  const hedger = make({ ...options, name })
  return Primitive.wrap(
    self,
    {
      kind: "hedge",
      name,
      meta: {
        delay: isAdaptive(options.delay)
          ? `p${Math.round(options.delay.percentile * 100)}`
          : Duration.toMillis(options.delay)
      }
    },
    (invoke) => (input: In) => hedger.run(invoke(input))
  )
}
