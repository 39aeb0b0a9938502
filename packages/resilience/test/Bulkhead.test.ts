import { Primitive, Runner } from "@braid/core"
import { Bulkhead, CapacityExceeded } from "@braid/resilience"
import { byName, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, FastCheck, Fiber, Ref, TestClock } from "effect"

describe("Bulkhead", () => {
  it.effect("20 active and 5 queued: the 26th call is rejected at once with a clear CapacityExceeded", () =>
    Effect.gen(function*() {
      const sessions = Bulkhead.unsafeMake({ name: "sessions", maxConcurrent: 20, maxQueued: 5 })
      const session = Primitive.make("session", (_: number) => Effect.as(Effect.sleep("1 minute"), "done"))
        .pipe(Bulkhead.limit(sessions))
      const fibers = yield* Effect.forEach(
        Array.from({ length: 25 }, (_, i) => i),
        (i) => Effect.fork(Runner.run(session, i))
      )
      yield* Effect.yieldNow()
      assert.strictEqual(yield* sessions.active, 20)
      assert.strictEqual(yield* sessions.queued, 5)
      const error = yield* Effect.flip(Runner.run(session, 26))
      assert.instanceOf(error, CapacityExceeded)
      if (!(error instanceof CapacityExceeded)) return
      assert.deepStrictEqual([error.active, error.queued, error.maxActive, error.maxQueued], [20, 5, 20, 5])
      assert.strictEqual(error.message, "bulkhead sessions is full: 20/20 active, 5/5 queued; call rejected")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* sessions.active, 5, "the queued five got slots when the first twenty ended")
      yield* TestClock.adjust("1 minute")
      const outs = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(outs.length, 25)
      assert.strictEqual(yield* sessions.active, 0)
    }))

  it.effect("queued calls start first come, first served", () =>
    Effect.gen(function*() {
      const b = Bulkhead.unsafeMake({ name: "fifo", maxConcurrent: 1, maxQueued: 3 })
      const order = yield* Ref.make<Array<number>>([])
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(b.execute(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const rest = yield* Effect.forEach([1, 2, 3], (i) =>
        Effect.fork(b.execute(Ref.update(order, (xs) => [...xs, i]))).pipe(Effect.tap(() => Effect.yieldNow())))
      assert.strictEqual(yield* b.queued, 3)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* Effect.forEach(rest, Fiber.join)
      assert.deepStrictEqual(yield* Ref.get(order), [1, 2, 3])
    }))

  it.effect("interrupting a waiting caller frees its queue slot", () =>
    Effect.gen(function*() {
      const b = Bulkhead.unsafeMake({ name: "interrupt", maxConcurrent: 1, maxQueued: 1 })
      const ran = yield* Ref.make(false)
      const holder = yield* Effect.fork(b.execute(Effect.sleep("1 minute")))
      yield* Effect.yieldNow()
      const waiter = yield* Effect.fork(b.execute(Ref.set(ran, true)))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* b.queued, 1)
      assert.instanceOf(yield* Effect.flip(b.execute(Effect.void)), CapacityExceeded)
      yield* Fiber.interrupt(waiter)
      assert.strictEqual(yield* b.queued, 0)
      const next = yield* Effect.fork(b.execute(Effect.succeed("queued again")))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* b.queued, 1, "the freed slot is usable")
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(holder)
      assert.strictEqual(yield* Fiber.join(next), "queued again")
      assert.isFalse(yield* Ref.get(ran), "the interrupted waiter never ran")
      assert.strictEqual(yield* b.active, 0)
    }))

  it.effect("a queued call's span carries its queue position", () =>
    Effect.gen(function*() {
      const b = Bulkhead.unsafeMake({ name: "traced", maxConcurrent: 1, maxQueued: 2 })
      const step = Primitive.make("work", (_: number) => Effect.sleep("1 second")).pipe(Bulkhead.limit(b))
      const { spans } = yield* withSpans(
        Effect.gen(function*() {
          const f1 = yield* Effect.fork(Runner.run(step, 1))
          yield* Effect.yieldNow()
          const f2 = yield* Effect.fork(Runner.run(step.pipe(Primitive.named("second")), 2))
          yield* Effect.yieldNow()
          yield* TestClock.adjust("2 seconds")
          yield* Fiber.join(f1)
          yield* Fiber.join(f2)
        })
      )
      assert.strictEqual(byName(spans, "second").attributes["braid.bulkhead.queue_position"], 1)
      assert.isUndefined(byName(spans, "bulkhead(work)").attributes["braid.bulkhead.queue_position"])
    }))

  it.effect.prop(
    "property: never more than N active or Q queued; exactly the excess is rejected",
    {
      n: FastCheck.integer({ min: 1, max: 6 }),
      q: FastCheck.integer({ min: 0, max: 6 }),
      calls: FastCheck.integer({ min: 1, max: 30 }),
      durations: FastCheck.array(FastCheck.integer({ min: 1, max: 5 }), { minLength: 30, maxLength: 30 })
    },
    ({ calls, durations, n, q }) =>
      Effect.gen(function*() {
        const b = Bulkhead.unsafeMake({ name: "prop", maxConcurrent: n, maxQueued: q })
        const running = yield* Ref.make(0)
        const maxRunning = yield* Ref.make(0)
        let maxQueued = 0
        const work = (i: number) =>
          Effect.gen(function*() {
            const now = yield* Ref.updateAndGet(running, (x) => x + 1)
            yield* Ref.update(maxRunning, (m) => Math.max(m, now))
            maxQueued = Math.max(maxQueued, yield* b.queued)
            yield* Effect.sleep(`${durations[i]!} seconds`)
            yield* Ref.update(running, (x) => x - 1)
          })
        const fibers = yield* Effect.forEach(Array.from({ length: calls }, (_, i) => i), (i) =>
          Effect.fork(Effect.exit(b.execute(work(i)))).pipe(Effect.tap(() =>
            Effect.sync(() => {
              maxQueued = Math.max(maxQueued, Effect.runSync(b.queued))
            })
          )))
        yield* Effect.yieldNow()
        yield* TestClock.adjust(`${6 * (calls + 1)} seconds`)
        const exits = yield* Effect.forEach(fibers, Fiber.join)
        const rejected = exits.filter((e) =>
          Exit.isFailure(e)
        ).length
        assert.strictEqual(rejected, Math.max(0, calls - n - q))
        assert.isTrue((yield* Ref.get(maxRunning)) <= n)
        assert.isTrue(maxQueued <= q)
        assert.strictEqual(yield* b.active, 0)
        assert.strictEqual(yield* b.queued, 0)
      }),
    { fastCheck: { numRuns: 60 } }
  )
})
