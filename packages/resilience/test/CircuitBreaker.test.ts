import { Attributes, Primitive, Runner } from "@braid/core"
import { CircuitBreaker, CircuitOpen, Errors, Metrics, StoreError } from "@braid/resilience"
import { byName, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, FastCheck, Fiber, Metric, Ref, TestClock } from "effect"
import { suite } from "./breakerStoreConformance.js"

/** One memory store for the shared-state suite (each "process" connects to the same one). */
const sharedMemory = CircuitBreaker.memoryStore()

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- Data.TaggedError takes {} for an error without fields
class Down extends Data.TaggedError("Down")<{}> {}

let counter = 0
const uniqueName = (prefix: string) => `${prefix}-${++counter}-${Math.random().toString(36).slice(2)}`

/** A step whose outcome is read from a Ref: "fail" or "ok". */
const controlled = (mode: Ref.Ref<"ok" | "fail">, calls: Ref.Ref<number>) =>
  Primitive.make(
    "dependency",
    (_: string) =>
      Effect.zipRight(
        Ref.update(calls, (n) => n + 1),
        Effect.flatMap(Ref.get(mode), (m) => m === "ok" ? Effect.succeed("ok") : Effect.fail(new Down()))
      )
  )

describe("CircuitBreaker", () => {
  it.effect("opens after N consecutive failures and then refuses at once with CircuitOpen", () =>
    Effect.gen(function*() {
      const mode = yield* Ref.make<"ok" | "fail">("fail")
      const calls = yield* Ref.make(0)
      const breaker = CircuitBreaker.unsafeMake({
        name: uniqueName("api"),
        trigger: CircuitBreaker.consecutive(3),
        openFor: "10 seconds"
      })
      const p = controlled(mode, calls).pipe(CircuitBreaker.guard(breaker))
      for (let i = 0; i < 3; i++) assert.instanceOf(yield* Effect.flip(Runner.run(p, "x")), Down)
      assert.strictEqual(yield* breaker.state, "open")
      const refused = yield* Effect.flip(Runner.run(p, "x"))
      assert.instanceOf(refused, CircuitOpen)
      if (!(refused instanceof CircuitOpen)) return
      assert.strictEqual(refused.retryAfterMillis, 10_000)
      assert.strictEqual(refused.state, "open")
      assert.match(refused.message, /circuit breaker api-\S+ is open: call refused \(retry after 10000 ms\)/)
      assert.strictEqual(yield* Ref.get(calls), 3, "an open breaker does not call the dependency")
    }))

  it.effect("a success resets the consecutive count", () =>
    Effect.gen(function*() {
      const mode = yield* Ref.make<"ok" | "fail">("fail")
      const calls = yield* Ref.make(0)
      const breaker = CircuitBreaker.unsafeMake({ name: uniqueName("api"), trigger: CircuitBreaker.consecutive(2) })
      const p = controlled(mode, calls).pipe(CircuitBreaker.guard(breaker))
      yield* Effect.exit(Runner.run(p, "x"))
      yield* Ref.set(mode, "ok")
      yield* Runner.run(p, "x")
      yield* Ref.set(mode, "fail")
      yield* Effect.exit(Runner.run(p, "x"))
      assert.strictEqual(yield* breaker.state, "closed")
      yield* Effect.exit(Runner.run(p, "x"))
      assert.strictEqual(yield* breaker.state, "open")
    }))

  it.effect("open -> half-open after openFor (TestClock); probe successes close it; a failed probe reopens with backoff", () =>
    Effect.gen(function*() {
      const mode = yield* Ref.make<"ok" | "fail">("fail")
      const calls = yield* Ref.make(0)
      const changes: Array<string> = []
      const breaker = CircuitBreaker.unsafeMake({
        name: uniqueName("api"),
        trigger: CircuitBreaker.consecutive(1),
        openFor: "10 seconds",
        openBackoff: { factor: 2, max: "30 seconds" },
        successesToClose: 2,
        onStateChange: (c) => Effect.sync(() => changes.push(`${c.from}->${c.to}`))
      })
      const p = controlled(mode, calls).pipe(CircuitBreaker.guard(breaker))
      yield* Effect.exit(Runner.run(p, "x"))
      assert.strictEqual(yield* breaker.state, "open")
      yield* TestClock.adjust("9999 millis")
      assert.instanceOf(yield* Effect.flip(Runner.run(p, "x")), CircuitOpen)
      yield* TestClock.adjust("1 millis")
      // probe fails: reopen for 20 s (backoff factor 2)
      assert.instanceOf(yield* Effect.flip(Runner.run(p, "x")), Down)
      assert.strictEqual(yield* breaker.state, "open")
      const e = yield* Effect.flip(Runner.run(p, "x"))
      assert.strictEqual((e as CircuitOpen).retryAfterMillis, 20_000)
      yield* TestClock.adjust("20 seconds")
      yield* Ref.set(mode, "ok")
      assert.strictEqual(yield* Runner.run(p, "x"), "ok")
      assert.strictEqual(yield* breaker.state, "half-open", "one success is not enough with successesToClose = 2")
      assert.strictEqual(yield* Runner.run(p, "x"), "ok")
      assert.strictEqual(yield* breaker.state, "closed")
      assert.deepStrictEqual(changes, [
        "closed->open",
        "open->half-open",
        "half-open->open",
        "open->half-open",
        "half-open->closed"
      ])
    }))

  it.effect("count window: opens on the failure rate over the last N calls, once the minimum is reached", () =>
    Effect.gen(function*() {
      const mode = yield* Ref.make<"ok" | "fail">("ok")
      const calls = yield* Ref.make(0)
      const breaker = CircuitBreaker.unsafeMake({
        name: uniqueName("api"),
        trigger: CircuitBreaker.countWindow({ size: 4, failureRate: 0.5, minimumCalls: 4 })
      })
      const p = controlled(mode, calls).pipe(CircuitBreaker.guard(breaker))
      const call = (m: "ok" | "fail") => Effect.zipRight(Ref.set(mode, m), Effect.exit(Runner.run(p, "x")))
      yield* call("fail")
      yield* call("fail")
      assert.strictEqual(yield* breaker.state, "closed", "2 calls are below the minimum of 4")
      yield* call("ok")
      yield* call("ok") // window [f, f, ok, ok] -> 50 % -> open
      assert.strictEqual(yield* breaker.state, "open")
      yield* breaker.reset
      for (const m of ["fail", "ok", "ok", "ok", "fail", "ok"] as const) yield* call(m) // last 4: ok ok fail ok = 25 %
      assert.strictEqual(yield* breaker.state, "closed")
      assert.deepStrictEqual((yield* breaker.stats).failures, 1, "the window slid past the first failure")
    }))

  it.effect("time window: failures older than the window no longer count", () =>
    Effect.gen(function*() {
      const mode = yield* Ref.make<"ok" | "fail">("fail")
      const calls = yield* Ref.make(0)
      const breaker = CircuitBreaker.unsafeMake({
        name: uniqueName("api"),
        trigger: CircuitBreaker.timeWindow({ window: "10 seconds", failureRate: 0.6, minimumCalls: 3 })
      })
      const p = controlled(mode, calls).pipe(CircuitBreaker.guard(breaker))
      yield* Effect.exit(Runner.run(p, "x"))
      yield* Effect.exit(Runner.run(p, "x"))
      yield* TestClock.adjust("11 seconds")
      yield* Effect.exit(Runner.run(p, "x"))
      assert.strictEqual(yield* breaker.state, "closed", "the two old failures expired: 1 call < minimum 3")
      yield* Effect.exit(Runner.run(p, "x"))
      yield* Ref.set(mode, "ok")
      yield* Effect.exit(Runner.run(p, "x"))
      assert.strictEqual(yield* breaker.state, "open", "2 failures of 3 calls in the window = 67 % >= 60 %")
    }))

  it.effect("isolate holds it open until reset; the state gauge follows", () =>
    Effect.gen(function*() {
      const name = uniqueName("api")
      const breaker = CircuitBreaker.unsafeMake({ name })
      const gauge = Metric.tagged(Metrics.breakerState, Attributes.Resilience.breakerName, name)
      yield* breaker.isolate
      assert.strictEqual(yield* breaker.state, "isolated")
      assert.strictEqual((yield* Metric.value(gauge)).value, 3)
      const e = yield* Effect.flip(breaker.execute(Effect.succeed(1)))
      assert.strictEqual(e.state, "isolated")
      assert.strictEqual(e.retryAfterMillis, Number.POSITIVE_INFINITY)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* breaker.state, "isolated")
      yield* breaker.reset
      assert.strictEqual(yield* breaker.state, "closed")
      assert.strictEqual((yield* Metric.value(gauge)).value, 0)
      assert.strictEqual(yield* CircuitBreaker.effect(Effect.succeed(1), breaker), 1)
    }))

  it.effect("errors excluded by isFailure do not open it; interruptions count as nothing", () =>
    Effect.gen(function*() {
      const breaker = CircuitBreaker.unsafeMake({
        name: uniqueName("api"),
        trigger: CircuitBreaker.consecutive(1),
        isFailure: (e) => (e as { _tag?: string })._tag !== "NotFound"
      })
      yield* Effect.exit(breaker.execute(Effect.fail({ _tag: "NotFound" })))
      assert.strictEqual(yield* breaker.state, "closed")
      const fiber = yield* Effect.fork(breaker.execute(Effect.never))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* breaker.state, "closed")
      yield* Effect.exit(breaker.execute(Effect.fail(new Down())))
      assert.strictEqual(yield* breaker.state, "open")
    }))

  it.effect("named breakers are shared across pipelines in the process", () =>
    Effect.gen(function*() {
      const name = uniqueName("shared")
      const a = CircuitBreaker.named(name, { trigger: CircuitBreaker.consecutive(2) })
      const b = CircuitBreaker.named(name)
      assert.strictEqual(a, b)
      const failing = Primitive.make("one", (_: string) => Effect.fail(new Down()))
      const other = Primitive.make("two", (_: string) => Effect.succeed("two"))
      const p1 = failing.pipe(CircuitBreaker.guard(CircuitBreaker.named(name)))
      const p2 = other.pipe(CircuitBreaker.guard(CircuitBreaker.named(name)))
      yield* Effect.exit(Runner.run(p1, "x"))
      yield* Effect.exit(Runner.run(p1, "x"))
      assert.instanceOf(
        yield* Effect.flip(Runner.run(p2, "x")),
        CircuitOpen,
        "the other pipeline sees the open breaker"
      )
      assert.isTrue(CircuitBreaker.unregister(name))
    }))

  it.effect("the wrapper span carries breaker.state; transitions and refusals are events", () =>
    Effect.gen(function*() {
      const breaker = CircuitBreaker.unsafeMake({ name: "traced", trigger: CircuitBreaker.consecutive(1) })
      const p = Primitive.make("dep", (_: string) => Effect.fail(new Down())).pipe(CircuitBreaker.guard(breaker))
      const first = yield* withSpans(Runner.run(p, "x"))
      const span = byName(first.spans, "breaker(dep)")
      assert.strictEqual(span.attributes["braid.breaker.state"], "closed")
      assert.deepStrictEqual(span.events.find((e) => e.name === "braid.breaker.state_changed")?.attributes, {
        "braid.breaker.name": "traced",
        "braid.breaker.from": "closed",
        "braid.breaker.to": "open"
      })
      const second = yield* withSpans(Runner.run(p, "x"))
      const refused = byName(second.spans, "breaker(dep)")
      assert.strictEqual(
        refused.events.find((e) => e.name === "braid.breaker.rejected")?.attributes?.["braid.breaker.state"],
        "open"
      )
      assert.strictEqual(refused.attributes["error.type"], "CircuitOpen")
      assert.strictEqual(second.spans.filter((s) => s.name === "dep").length, 0)
    }))

  it.effect.prop(
    "property: half-open never admits more than the configured probes under concurrent calls",
    { probes: FastCheck.integer({ min: 1, max: 5 }), callers: FastCheck.integer({ min: 1, max: 40 }) },
    ({ callers, probes }) =>
      Effect.gen(function*() {
        const breaker = CircuitBreaker.unsafeMake({
          name: uniqueName("probe"),
          trigger: CircuitBreaker.consecutive(1),
          openFor: "1 second",
          halfOpenProbes: probes,
          successesToClose: 1000
        })
        yield* Effect.exit(breaker.execute(Effect.fail(new Down())))
        yield* TestClock.adjust("1 second")
        const running = yield* Ref.make(0)
        const maxRunning = yield* Ref.make(0)
        const probe = Effect.gen(function*() {
          const now = yield* Ref.updateAndGet(running, (n) => n + 1)
          yield* Ref.update(maxRunning, (m) => Math.max(m, now))
          yield* Effect.sleep("100 millis")
          yield* Ref.update(running, (n) => n - 1)
        })
        const fibers = yield* Effect.forEach(Array.from({ length: callers }), () =>
          Effect.fork(Effect.exit(breaker.execute(probe))), {
          concurrency: "unbounded"
        })
        yield* Effect.yieldNow()
        yield* TestClock.adjust("100 millis")
        const exits = yield* Effect.forEach(fibers, Fiber.join)
        const admitted = exits.filter((e) =>
          e._tag === "Success"
        ).length
        assert.strictEqual(admitted, Math.min(probes, callers))
        assert.isTrue((yield* Ref.get(maxRunning)) <= probes)
        for (const e of exits) {
          if (e._tag === "Failure") assert.strictEqual(e.cause._tag === "Fail" && e.cause.error._tag, "CircuitOpen")
        }
        assert.strictEqual((yield* breaker.stats).probes, 0, "every probe slot was released")
      }),
    { fastCheck: { numRuns: 60 } }
  )
})

// each read yields, as a networked store's would, so concurrent callers interleave between read and claim
suite("memory", () =>
  Effect.succeed({
    ...sharedMemory,
    get: (breaker: string) => Effect.zipLeft(sharedMemory.get(breaker), Effect.yieldNow())
  }))

describe("CircuitBreaker with a shared store that fails", () => {
  it.effect("the breaker fails open on its store: each call runs under this process's own breaker, onStoreError gets the typed error", () =>
    Effect.gen(function*() {
      const errors: Array<StoreError> = []
      const broken: CircuitBreaker.Store = {
        name: "broken",
        get: () =>
          Effect.fail(new StoreError({ store: "broken", operation: "breaker.get", cause: new Error("refused") })),
        compareAndSet: () =>
          Effect.fail(
            new StoreError({ store: "broken", operation: "breaker.compareAndSet", cause: new Error("refused") })
          )
      }
      const breaker = CircuitBreaker.unsafeMake({
        name: uniqueName("broken-store"),
        trigger: CircuitBreaker.consecutive(2),
        store: broken,
        onStoreError: (e) => Effect.sync(() => void errors.push(e))
      })
      assert.strictEqual(yield* breaker.execute(Effect.succeed("ran")), "ran")
      for (let i = 0; i < 2; i++) assert.instanceOf(yield* Effect.flip(breaker.execute(Effect.fail(new Down()))), Down)
      assert.instanceOf(yield* Effect.flip(breaker.execute(Effect.succeed("ran"))), CircuitOpen)
      assert.strictEqual(yield* breaker.state, "open")
      assert.deepStrictEqual(
        errors.map((e) => e.operation),
        ["breaker.get", "breaker.get", "breaker.get", "breaker.compareAndSet", "breaker.get", "breaker.get"]
      )
    }))

  it("a store or probeLease that is not one is an InvalidOption naming it", () => {
    assert.throws(
      () => CircuitBreaker.unsafeMake({ name: "x", store: {} as never }),
      Errors.InvalidOption,
      "option store must be a CircuitBreaker store"
    )
    assert.throws(
      () => CircuitBreaker.unsafeMake({ name: "x", store: CircuitBreaker.memoryStore(), probeLease: -1 }),
      Errors.InvalidOption,
      "probeLease"
    )
  })
})
