/**
 * Bulkhead: at most `maxConcurrent` executions at once and at most `maxQueued` waiting for a slot
 * (first come, first served). A call beyond that fails at once with `CapacityExceeded` (with 20
 * active sessions and 5 queued, the 26th is rejected). A waiting caller that is interrupted
 * frees its queue slot; a slot is handed directly to the next waiter when a call ends.
 *
 * Telemetry: a queued call adds the event `bulkhead.queued` and the attribute
 * `bulkhead.queue_position` (1 = next) to its span; a rejection adds `bulkhead.rejected`.
 * Gauge `Metrics.bulkheadQueueDepth` (updated whenever the queue changes) and counter
 * `Metrics.bulkheadRejections`, both tagged `bulkhead`; read `bulkhead.active` for the running
 * count (it is not a gauge, to keep the success path under a microsecond or two).
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Primitive } from "@braid/core"
import type { Cause } from "effect"
import { Effect, Metric } from "effect"
import type { InvalidOption } from "./Errors.js"
import { CapacityExceeded } from "./Errors.js"
import * as Check from "./internal/options.js"
import * as Metrics from "./Metrics.js"

const R = Attributes.Resilience

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly name: string
  /** Executions at once. */
  readonly maxConcurrent: number
  /** Callers allowed to wait for a slot. Default 0. */
  readonly maxQueued?: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Bulkhead {
  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueued: number
  /** Executions running now. */
  readonly active: Effect.Effect<number>
  /** Callers waiting now. */
  readonly queued: Effect.Effect<number>
  /** Runs an effect inside the bulkhead. */
  readonly execute: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CapacityExceeded, R>
}

interface Waiter {
  resume: ((effect: Effect.Effect<void>) => void) | undefined
  handed: boolean
}

/**
 * Creates a bulkhead. `maxConcurrent` is an integer >= 1 and `maxQueued` an integer >= 0; anything
 * else throws `InvalidOption` naming the option.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@braid/resilience"
 *
 * const sessions = Bulkhead.unsafeMake({ name: "sessions", maxConcurrent: 20, maxQueued: 5 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const unsafeMake = (options: Options): Bulkhead => {
  if (typeof options !== "object" || options === null) {
    return Check.refuse("Bulkhead", "options", "must be an object", options)
  }
  const name = Check.name("Bulkhead", "name", options.name)
  const maxConcurrent = Check.integer(`bulkhead ${name}`, "maxConcurrent", options.maxConcurrent, 1)
  const maxQueued = Check.integer(`bulkhead ${name}`, "maxQueued", Check.or(options.maxQueued, 0), 0)
  const depthGauge = Metric.tagged(Metrics.bulkheadQueueDepth, Attributes.Resilience.bulkheadName, name)
  const rejections = Metric.tagged(Metrics.bulkheadRejections, Attributes.Resilience.bulkheadName, name)

  let active = 0
  const queue: Array<Waiter> = []

  /** Frees a slot: hands it to the next waiter, or decrements `active`. */
  const release = (): void => {
    const next = queue.shift()
    if (next !== undefined) {
      next.handed = true
      next.resume!(Effect.void)
    } else {
      active--
    }
  }

  const gauges = (): Effect.Effect<void> => Metric.set(depthGauge, queue.length)

  const releaseEffect = Effect.suspend(() => {
    const hadWaiters = queue.length > 0
    release()
    return hadWaiters ? gauges() : Effect.void
  })

  /** Releases the slot however the call ended (we are inside the mask). Built once, not per call. */
  const releasing = {
    onFailure: (cause: Cause.Cause<unknown>): Effect.Effect<never, unknown> =>
      Effect.zipRight(releaseEffect, Effect.failCause(cause)),
    onSuccess: (a: unknown): Effect.Effect<unknown> => {
      if (queue.length === 0) {
        active--
        return Effect.succeed(a)
      }
      return Effect.as(releaseEffect, a)
    }
  }
  const runThenRelease = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.matchCauseEffect(self, releasing) as Effect.Effect<A, E, R>

  const rejected = () =>
    Effect.zipRight(
      Effect.zipRight(
        Instrumentation.event(R.bulkheadRejected, {
          [R.bulkheadName]: name,
          [R.bulkheadActive]: active,
          [R.bulkheadQueueLength]: queue.length
        }),
        Metric.increment(rejections)
      ),
      Effect.fail(
        new CapacityExceeded({ bulkhead: name, active, queued: queue.length, maxActive: maxConcurrent, maxQueued })
      )
    )

  const wait = (restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>): Effect.Effect<void> => {
    const waiter: Waiter = { resume: undefined, handed: false }
    queue.push(waiter)
    const position = queue.length
    return Effect.zipRight(
      Effect.zipRight(
        gauges(),
        Effect.zipRight(
          Instrumentation.annotate({ [R.bulkheadQueuePosition]: position }),
          Instrumentation.event(R.bulkheadQueued, { [R.bulkheadName]: name, [R.bulkheadQueuePosition]: position })
        )
      ),
      restore(Effect.async<void>((resume) => {
        waiter.resume = resume
        return Effect.suspend(() => {
          // interrupted while waiting: give up the queue slot (or the execution slot just handed over)
          const i = queue.indexOf(waiter)
          if (i >= 0) queue.splice(i, 1)
          else if (waiter.handed) release()
          return gauges()
        })
      }))
    )
  }

  const execute = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CapacityExceeded, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend((): Effect.Effect<A, E | CapacityExceeded, R> => {
        if (active < maxConcurrent && queue.length === 0) {
          active++
          return runThenRelease(restore(self))
        }
        if (queue.length >= maxQueued) return rejected()
        return Effect.zipRight(wait(restore), runThenRelease(restore(self)))
      })
    )

  return {
    name,
    maxConcurrent,
    maxQueued,
    active: Effect.sync(() => active),
    queued: Effect.sync(() => queue.length),
    execute
  }
}

/**
 * Creates a bulkhead in an Effect; options out of range fail it with `InvalidOption`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "@braid/resilience"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "pdf", maxConcurrent: 2, maxQueued: 10 })
 *   return yield* bulkhead.execute(Effect.succeed("rendered"))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Bulkhead, InvalidOption> => Check.build(() => unsafeMake(options))

/**
 * Runs any Effect inside a bulkhead (same as `bulkhead.execute`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "@braid/resilience"
 *
 * const bulkhead = Bulkhead.unsafeMake({ name: "pdf", maxConcurrent: 2 })
 * const limited = Bulkhead.effect(Effect.succeed("rendered"), bulkhead)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const effect = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  bulkhead: Bulkhead
): Effect.Effect<A, E | CapacityExceeded, R> => bulkhead.execute(self)

/**
 * The bulkhead policy for primitives: `step.pipe(Bulkhead.limit(bulkhead))`. Share one bulkhead
 * between primitives to bound them together.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Bulkhead } from "@braid/resilience"
 *
 * const sessions = Bulkhead.unsafeMake({ name: "sessions", maxConcurrent: 20, maxQueued: 5 })
 * const coach = Primitive.make("coach", (msg: string) => Effect.succeed(`ok: ${msg}`))
 * const bounded = coach.pipe(Bulkhead.limit(sessions))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const limit =
  (bulkhead: Bulkhead) =>
  <In, Out, E, R>(self: P.Primitive<In, Out, E, R>): P.Primitive<In, Out, E | CapacityExceeded, R> =>
    Primitive.wrap(
      self,
      {
        kind: "bulkhead",
        name: `bulkhead(${self.name})`,
        meta: { bulkhead: bulkhead.name, maxConcurrent: bulkhead.maxConcurrent, maxQueued: bulkhead.maxQueued }
      },
      (invoke) => (input: In) => bulkhead.execute(invoke(input))
    )
