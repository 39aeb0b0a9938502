import { EventBus } from "@braid/messaging"
import { SessionEvents, SessionMetrics, SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, TestClock } from "effect"

/** Waits until the subscription has handled `n` events (its handler runs on its own fiber). */
const handled = (subscription: EventBus.Subscription, n: number) =>
  Effect.gen(function*() {
    while ((yield* subscription.stats).handled < n) yield* Effect.yieldNow()
  })

const base = { tenant: "default", userId: "ada" }
const ended = (sessionId: string, reason: SessionStore.EndReason, requestedAt: number) =>
  SessionEvents.emit(SessionEvents.SessionEnded, { ...base, sessionId, reason, requestedAt })
const termination = (reason: string) =>
  Metric.value(Metric.tagged(SessionMetrics.terminationDuration, "braid.session.end_reason", reason))

describe("SessionMetrics", () => {
  it.scoped("derives completion, termination latency, evaluation latency and active sessions from the events on the bus", () =>
    Effect.gen(function*() {
      // The registry is process-wide: measure what this test adds.
      const before = yield* SessionMetrics.snapshot
      const idleBefore = yield* termination("idle-timeout")
      const subscription = yield* SessionMetrics.track

      yield* SessionEvents.emit(SessionEvents.SessionStarted, { ...base, sessionId: "m-1", kind: "coaching" })
      yield* SessionEvents.emit(SessionEvents.SessionStarted, { ...base, sessionId: "m-2", kind: "practice" })
      yield* SessionEvents.emit(SessionEvents.SessionStarted, { ...base, sessionId: "m-3", kind: "practice" })
      yield* handled(subscription, 3)
      assert.strictEqual((yield* SessionMetrics.snapshot).active, 3)

      // m-1: the objective is judged met at t=60 s; the end event is published 250 ms later.
      yield* TestClock.adjust("60 seconds")
      const judgedAt = 60_000
      yield* TestClock.adjust("250 millis")
      yield* ended("m-1", "objective-met", judgedAt)
      // m-2: the idle timer fired at t=60.25 s, the end is published 2 s later.
      const firedAt = yield* TestClock.currentTimeMillis
      yield* TestClock.adjust("2 seconds")
      yield* ended("m-2", "idle-timeout", firedAt)
      // an evaluation queued at t=0 is ready now (62.25 s)
      yield* SessionEvents.emit(SessionEvents.EvaluationReady, {
        ...base,
        sessionId: "m-2",
        status: "completed",
        overall: 4,
        queuedAt: 0
      })
      // an ended event for a session this process never saw start does not make the gauge negative
      yield* ended("elsewhere", "user", yield* TestClock.currentTimeMillis)
      yield* handled(subscription, 7)

      const after = yield* SessionMetrics.snapshot
      assert.strictEqual(after.started.coaching - before.started.coaching, 1)
      assert.strictEqual(after.started.practice - before.started.practice, 2)
      assert.strictEqual(after.ended["objective-met"] - before.ended["objective-met"], 1)
      assert.strictEqual(after.ended["idle-timeout"] - before.ended["idle-timeout"], 1)
      assert.strictEqual(after.ended.user - before.ended.user, 1)
      assert.strictEqual(after.active, 1) // m-3
      const idle = yield* termination("idle-timeout")
      assert.strictEqual(idle.count - idleBefore.count, 1)
      assert.closeTo(idle.sum - idleBefore.sum, 2, 1e-9)
      const met = yield* termination("objective-met")
      assert.isTrue(met.max >= 0.25 && met.min <= 0.25)
      const evaluation = yield* Metric.value(
        Metric.tagged(SessionMetrics.evaluationDuration, "braid.session.evaluation_status", "completed")
      )
      assert.isTrue(evaluation.count >= 1)
      assert.closeTo(evaluation.max, 62.25, 1e-9)
      // completion rate: objective-met over all ended sessions
      const total = Object.values(after.ended).reduce((a, b) => a + b, 0)
      assert.closeTo(after.completionRate!, after.ended["objective-met"] / total, 1e-12)
      assert.strictEqual((yield* subscription.stats).failed, 0)
    }).pipe(Effect.provide(EventBus.layerMemory)))

  it.scoped("events that are not session events, or do not decode, are ignored and counted, never a crash", () =>
    Effect.gen(function*() {
      const subscription = yield* SessionMetrics.track
      yield* EventBus.publishEncoded("session.lifecycle.ended", { _tag: "SessionEnded", sessionId: 42 })
      yield* EventBus.publishEncoded("session.lifecycle.started", { __proto__: { kind: "coaching" } })
      yield* SessionEvents.emit(SessionEvents.LearnerMessage, {
        ...base,
        sessionId: "x",
        turnId: "t",
        seq: 0,
        text: "hi"
      })
      while ((yield* subscription.stats).received < 3) yield* Effect.yieldNow()
      const stats = yield* subscription.stats
      assert.strictEqual(stats.invalid, 2)
      assert.strictEqual(stats.failed, 0)
    }).pipe(Effect.provide(EventBus.layerMemory)))
})
