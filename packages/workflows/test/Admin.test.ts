import { EventBus } from "@braid/messaging"
import { CircuitBreaker } from "@braid/resilience"
import { Admin, SessionEvents, SessionMetrics, SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, TestClock } from "effect"
import * as fc from "fast-check"

const HOUR = 3_600_000
/** 2026-12-06 10:30 UTC */
const now = Date.UTC(2026, 11, 6, 10, 30)
const midnight = Date.UTC(2026, 11, 6)

const root = SessionStore.system("acme")
const ada: SessionStore.Principal = { userId: "ada", role: "learner", tenant: "acme" }

const message = (createdAt: number, inputTokens: number, outputTokens: number, costUsd: number) => ({
  role: "assistant" as const,
  text: "ok",
  createdAt,
  inputTokens,
  outputTokens,
  costUsd,
  estimated: false,
  fallback: false
})

/** Two sessions of acme (one active, one queued), one of another organization, messages over two days. */
const seed = Effect.gen(function*() {
  const store = yield* SessionStore.SessionStore
  yield* store.createSession({ id: "s-1", tenant: "acme", userId: "ada", kind: "coaching", createdAt: now - 30 * HOUR })
  yield* store.createSession({
    id: "s-2",
    tenant: "acme",
    userId: "bob",
    kind: "practice",
    status: "queued",
    createdAt: now - HOUR
  })
  yield* store.createSession({ id: "x-1", tenant: "other", userId: "eve", kind: "coaching", createdAt: now - HOUR })
  yield* store.appendMessage("s-1", message(now - 26 * HOUR, 1000, 1000, 1)) // outside the 24 hours
  yield* store.appendMessage("s-1", message(midnight - 2 * HOUR, 100, 10, 0.1)) // yesterday 22:00, in the 24 hours
  yield* store.appendMessage("s-1", message(midnight + HOUR, 200, 20, 0.2)) // today 01:00
  yield* store.appendMessage("s-1", message(now - 10 * 60_000, 300, 30, 0.3)) // today 10:20
  yield* store.appendMessage("x-1", message(now - 10 * 60_000, 5000, 5000, 5)) // another organization
  yield* store.recordError({
    tenant: "acme",
    at: now - 60_000,
    severity: "critical",
    source: "model",
    message: "model outage",
    sessionId: "s-1"
  })
  yield* store.recordError({
    tenant: "acme",
    at: now - 120_000,
    severity: "warning",
    source: "observer",
    message: "observer timed out"
  })
  yield* store.recordError({ tenant: "other", at: now, severity: "error", source: "model", message: "not yours" })
})

/** The clock at `now`, the data seeded. */
const seeded = Effect.zipRight(TestClock.setTime(now), seed)

const layer = Layer.mergeAll(SessionStore.layerMemory, EventBus.layerMemory)

describe("Admin", () => {
  it.effect("active sessions, today's and hourly tokens and dollars over 24 hours, recent errors: the organization's only", () =>
    Effect.gen(function*() {
      yield* seeded
      assert.deepStrictEqual(yield* Admin.activeSessions(root), { active: 1, queued: 1 })

      const usage = yield* Admin.usage(root)
      assert.strictEqual(usage.hourly.length, 24)
      assert.strictEqual(usage.hourly[0]!.start, Date.UTC(2026, 11, 5, 11)) // 23 hours before the current hour
      assert.strictEqual(usage.hourly[23]!.start, Date.UTC(2026, 11, 6, 10)) // the current hour
      const hourly = usage.hourly.filter((b) => b.messages > 0).map((b) => [b.start, b.inputTokens, b.outputTokens])
      assert.deepStrictEqual(hourly, [
        [midnight - 2 * HOUR, 100, 10],
        [midnight + HOUR, 200, 20],
        [Date.UTC(2026, 11, 6, 10), 300, 30]
      ])
      assert.strictEqual(usage.today.messages, 2)
      assert.strictEqual(usage.today.inputTokens, 500)
      assert.strictEqual(usage.today.outputTokens, 50)
      assert.closeTo(usage.today.costUsd, 0.5, 1e-12)

      const errors = yield* Admin.errors(root)
      assert.deepStrictEqual(errors.map((e) => [e.severity, e.message]), [
        ["critical", "model outage"],
        ["warning", "observer timed out"]
      ])

      // an hour later the window moves: the current hour is empty, yesterday 22:00 still in it
      yield* TestClock.adjust("1 hour")
      const later = yield* Admin.usage(root)
      assert.strictEqual(later.hourly[23]!.start, Date.UTC(2026, 11, 6, 11))
      assert.strictEqual(later.hourly[23]!.messages, 0)
      assert.strictEqual(later.today.messages, 2)
    }).pipe(Effect.provide(layer)))

  it.effect("admins only: a learner is Forbidden before anything is read; a malformed principal is InvalidInput", () =>
    Effect.gen(function*() {
      yield* seeded
      const views: ReadonlyArray<Effect.Effect<unknown, Admin.AdminError, SessionStore.SessionStore>> = [
        Admin.activeSessions(ada),
        Admin.usage(ada),
        Admin.errors(ada),
        Admin.health(ada),
        Admin.overview(ada)
      ]
      for (const view of views) {
        const e = yield* Effect.flip(view)
        assert.strictEqual(e._tag, "Forbidden")
      }
      const teacher = yield* Effect.flip(Admin.usage({ userId: "t", role: "teacher", tenant: "acme" }))
      assert.strictEqual(teacher._tag, "Forbidden")
      const bad = yield* Effect.flip(Admin.usage({ userId: "", role: "admin", tenant: "acme" }))
      assert.strictEqual(bad._tag === "InvalidInput" && bad.field, "principal.userId")
      // fuzz: whatever the principal, a typed error or (for a real admin) a view, never a crash
      fc.assert(fc.property(fc.anything(), (principal) => {
        const exit = Effect.runSyncExit(
          Admin.activeSessions(principal as SessionStore.Principal).pipe(Effect.provide(SessionStore.layerMemory))
        )
        if (exit._tag === "Failure") {
          const failure = exit.cause._tag === "Fail" ? exit.cause.error._tag : "defect"
          assert.include(["Forbidden", "InvalidInput"], failure)
        } else {
          assert.isTrue(Admin.isAdmin(principal))
        }
      }))
    }).pipe(Effect.provide(layer)))

  it.effect("health: the model's breaker state, a timed database probe, an optional Redis ping; a silent database is down at the bound", () =>
    Effect.gen(function*() {
      const breaker = CircuitBreaker.unsafeMake({ name: "admin-test-model", trigger: CircuitBreaker.consecutive(1) })
      const healthy = yield* Admin.health(root, { breaker, redis: Effect.void })
      assert.strictEqual(healthy.model.status, "up")
      assert.strictEqual(healthy.database.status, "up")
      assert.strictEqual(healthy.redis?.status, "up")

      yield* Effect.ignore(breaker.execute(Effect.fail("overloaded")))
      const open = yield* Admin.health(root, { breaker, redis: Effect.fail(new Error("ECONNREFUSED 127.0.0.1:6379")) })
      assert.strictEqual(open.model.status, "down")
      assert.strictEqual(open.model.detail, "circuit breaker admin-test-model is open")
      assert.strictEqual(open.redis?.status, "down")
      assert.strictEqual(open.redis?.detail, "ECONNREFUSED 127.0.0.1:6379")
      assert.strictEqual((yield* Admin.health(root)).model.status, "unknown")
      assert.isUndefined((yield* Admin.health(root)).redis)

      // a database that never answers: down at the bound, the view itself answers
      const silent = Layer.effect(
        SessionStore.SessionStore,
        Effect.map(SessionStore.SessionStore, (s): SessionStore.Service => ({ ...s, countLive: () => Effect.never }))
      ).pipe(Layer.provide(SessionStore.layerMemory))
      const fiber = yield* Admin.health(root, { timeout: "2 seconds" }).pipe(Effect.provide(silent), Effect.fork)
      yield* TestClock.adjust("2 seconds")
      const down = yield* Fiber.join(fiber)
      assert.strictEqual(down.database.status, "down")
      assert.strictEqual(down.database.detail, "no answer within 2000 ms")
      assert.strictEqual(down.database.latencyMs, 2000)
    }).pipe(Effect.provide(layer)))

  it.scoped("overview: all the views and the session metrics in one answer", () =>
    Effect.gen(function*() {
      yield* seeded
      const subscription = yield* SessionMetrics.track
      const base = { tenant: "acme", userId: "ada" }
      yield* SessionEvents.emit(SessionEvents.SessionStarted, { ...base, sessionId: "o-1", kind: "coaching" })
      yield* SessionEvents.emit(SessionEvents.SessionEnded, {
        ...base,
        sessionId: "o-1",
        reason: "objective-met",
        requestedAt: now
      })
      while ((yield* subscription.stats).handled < 2) yield* Effect.yieldNow()
      const page = yield* Admin.overview(root, { errors: 1 })
      assert.strictEqual(page.at, now)
      assert.deepStrictEqual(page.sessions, { active: 1, queued: 1 })
      assert.strictEqual(page.usage.hourly.length, 24)
      assert.strictEqual(page.errors.length, 1)
      assert.strictEqual(page.health.database.status, "up")
      assert.isTrue(page.metrics.ended["objective-met"] >= 1)
      assert.isTrue(Option.isSome(Option.fromNullable(page.metrics.completionRate)))
    }).pipe(Effect.provide(layer)))
})
