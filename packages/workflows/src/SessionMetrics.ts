/**
 * The metrics of practice and coaching sessions, derived from the session events on the
 * `EventBus` (`SessionEvents`): install `SessionMetrics.layer` once per process and every
 * workflow that publishes its events is measured, without calling a metrics API.
 *
 * | metric | from | kind |
 * |---|---|---|
 * | `braid.session.started{braid.session.kind}` | `SessionStarted` | counter |
 * | `braid.session.ended{braid.session.end_reason}` | `SessionEnded` | counter |
 * | `braid.session.active` | started minus ended | gauge |
 * | `braid.session.termination.duration{braid.session.end_reason}` | `SessionEnded.at - requestedAt` | histogram, seconds |
 * | `braid.session.evaluation.duration{braid.session.evaluation_status}` | `EvaluationReady.at - queuedAt` | histogram, seconds |
 *
 * The completion rate is the `objective-met` share of the ended sessions (`snapshot` computes
 * it). The names live in `Attributes.Session` of @braid/core. These are Effect metrics: the OTLP
 * and in-memory layers of @braid/observability export them.
 *
 * @since 0.3.0
 */
import { Attributes } from "@braid/core"
import { EventBus } from "@braid/messaging"
import type { EventBusError, InvalidChannel } from "@braid/messaging/Errors"
import type { Scope } from "effect"
import { Effect, Layer, Metric, MetricBoundaries, MetricKey, MetricLabel, Ref } from "effect"
import * as SessionEvents from "./SessionEvents.js"
import * as SessionStore from "./SessionStore.js"

const unit = (u: string) => [MetricLabel.make("unit", u)]

/** Seconds, from 5 ms to about 45 minutes. */
const secondsBoundaries = MetricBoundaries.exponential({ start: 0.005, factor: 2, count: 20 })

/**
 * `braid.session.started`, tagged `braid.session.kind`.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SessionMetrics } from "@braid/workflows"
 *
 * const coaching = Metric.value(Metric.tagged(SessionMetrics.started, "braid.session.kind", "coaching"))
 * ```
 *
 * @since 0.3.0
 * @category metrics
 */
export const started = Metric.fromMetricKey(MetricKey.taggedWithLabels(
  MetricKey.counter(Attributes.Session.started, { description: "Sessions started", incremental: true }),
  unit("{session}")
))

/**
 * `braid.session.ended`, tagged `braid.session.end_reason`.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SessionMetrics } from "@braid/workflows"
 *
 * const met = Metric.value(Metric.tagged(SessionMetrics.ended, "braid.session.end_reason", "objective-met"))
 * ```
 *
 * @since 0.3.0
 * @category metrics
 */
export const ended = Metric.fromMetricKey(MetricKey.taggedWithLabels(
  MetricKey.counter(Attributes.Session.ended, { description: "Sessions ended, by reason", incremental: true }),
  unit("{session}")
))

/**
 * `braid.session.active`: sessions started and not ended, as seen on the bus by this process.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SessionMetrics } from "@braid/workflows"
 *
 * const now = Metric.value(SessionMetrics.active)
 * ```
 *
 * @since 0.3.0
 * @category metrics
 */
export const active = Metric.fromMetricKey(MetricKey.taggedWithLabels(
  MetricKey.gauge(Attributes.Session.active, { description: "Sessions active now" }),
  unit("{session}")
))

/**
 * `braid.session.termination.duration`: seconds from the decision to end a session (the idle
 * timer fired, the objective was judged met, the user asked) to its `SessionEnded` event.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SessionMetrics } from "@braid/workflows"
 *
 * const latency = Metric.value(Metric.tagged(SessionMetrics.terminationDuration, "braid.session.end_reason", "idle-timeout"))
 * ```
 *
 * @since 0.3.0
 * @category metrics
 */
export const terminationDuration = Metric.fromMetricKey(MetricKey.taggedWithLabels(
  MetricKey.histogram(
    Attributes.Session.terminationDuration,
    secondsBoundaries,
    "Time from the decision to end a session to its end event"
  ),
  unit("s")
))

/**
 * `braid.session.evaluation.duration`: seconds from an evaluation's enqueueing to its
 * `EvaluationReady` event.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SessionMetrics } from "@braid/workflows"
 *
 * const latency = Metric.value(Metric.tagged(SessionMetrics.evaluationDuration, "braid.session.evaluation_status", "completed"))
 * ```
 *
 * @since 0.3.0
 * @category metrics
 */
export const evaluationDuration = Metric.fromMetricKey(MetricKey.taggedWithLabels(
  MetricKey.histogram(
    Attributes.Session.evaluationDuration,
    secondsBoundaries,
    "Time from an evaluation's enqueueing to its result"
  ),
  unit("s")
))

const seconds = (from: number, to: number) => Math.max(0, to - from) / 1000

/**
 * Subscribes the metrics to every session event on the bus, for the life of the current scope.
 * Returns the subscription (its `stats` count the events handled).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 * import { SessionMetrics } from "@braid/workflows"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const subscription = yield* SessionMetrics.track
 *   return yield* subscription.stats
 * })).pipe(Effect.provide(EventBus.layerMemory))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const track: Effect.Effect<
  EventBus.Subscription,
  InvalidChannel | EventBusError,
  EventBus.EventBus | Scope.Scope
> = Effect.gen(function*() {
  const live = yield* Ref.make<ReadonlySet<string>>(new Set())
  const setLive = (f: (s: Set<string>) => void) =>
    Effect.flatMap(
      Ref.updateAndGet(live, (s) => {
        const next = new Set(s)
        f(next)
        return next
      }),
      (s) => Metric.set(active, s.size)
    )
  return yield* EventBus.subscribe(SessionEvents.sessions, (event) => {
    switch (event._tag) {
      case "SessionStarted":
        return Effect.zipRight(
          Metric.increment(Metric.tagged(started, Attributes.Session.kind, event.kind)),
          setLive((s) => s.add(event.sessionId))
        )
      case "SessionEnded":
        return Effect.all([
          Metric.increment(Metric.tagged(ended, Attributes.Session.endReason, event.reason)),
          Metric.update(
            Metric.tagged(terminationDuration, Attributes.Session.endReason, event.reason),
            seconds(event.requestedAt, event.at)
          ),
          setLive((s) => s.delete(event.sessionId))
        ], { discard: true })
      case "EvaluationReady":
        return Metric.update(
          Metric.tagged(evaluationDuration, Attributes.Session.evaluationStatus, event.status),
          seconds(event.queuedAt, event.at)
        )
      default:
        return Effect.void
    }
  })
})

/**
 * The session metrics, subscribed for the life of the layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { EventBus } from "@braid/messaging"
 * import { SessionMetrics } from "@braid/workflows"
 *
 * const Observed = SessionMetrics.layer.pipe(Layer.provideMerge(EventBus.layerMemory))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<never, InvalidChannel | EventBusError, EventBus.EventBus> = Layer.scopedDiscard(track)

/**
 * The session metrics of this process, read back.
 *
 * @since 0.3.0
 * @category models
 */
export interface Snapshot {
  readonly started: { readonly practice: number; readonly coaching: number }
  /** Ended sessions by reason. */
  readonly ended: Readonly<Record<SessionStore.EndReason, number>>
  /** `objective-met` over all ended sessions; `undefined` before the first end. */
  readonly completionRate: number | undefined
  readonly active: number
  /** Mean termination latency in seconds over all reasons; `undefined` before the first end. */
  readonly meanTerminationSeconds: number | undefined
  /** Mean evaluation queue-to-done latency in seconds; `undefined` before the first result. */
  readonly meanEvaluationSeconds: number | undefined
}

const mean = (states: ReadonlyArray<{ readonly count: number; readonly sum: number }>) => {
  const count = states.reduce((a, s) => a + s.count, 0)
  return count === 0 ? undefined : states.reduce((a, s) => a + s.sum, 0) / count
}

/**
 * Reads the session metrics (process-wide, since the process started).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SessionMetrics } from "@braid/workflows"
 *
 * const rate = Effect.map(SessionMetrics.snapshot, (s) => s.completionRate)
 * ```
 *
 * @since 0.3.0
 * @category accessors
 */
export const snapshot: Effect.Effect<Snapshot> = Effect.gen(function*() {
  const reasons = SessionStore.EndReason.literals
  const endedBy = {} as Record<SessionStore.EndReason, number>
  const terminations: Array<{ count: number; sum: number }> = []
  for (const reason of reasons) {
    endedBy[reason] = (yield* Metric.value(Metric.tagged(ended, Attributes.Session.endReason, reason))).count
    terminations.push(yield* Metric.value(Metric.tagged(terminationDuration, Attributes.Session.endReason, reason)))
  }
  const evaluations = yield* Effect.forEach(
    ["completed", "failed"],
    (status) => Metric.value(Metric.tagged(evaluationDuration, Attributes.Session.evaluationStatus, status))
  )
  const total = reasons.reduce((a, r) => a + endedBy[r], 0)
  return {
    started: {
      practice: (yield* Metric.value(Metric.tagged(started, Attributes.Session.kind, "practice"))).count,
      coaching: (yield* Metric.value(Metric.tagged(started, Attributes.Session.kind, "coaching"))).count
    },
    ended: endedBy,
    completionRate: total === 0 ? undefined : endedBy["objective-met"] / total,
    active: (yield* Metric.value(active)).value,
    meanTerminationSeconds: mean(terminations),
    meanEvaluationSeconds: mean(evaluations)
  }
})
