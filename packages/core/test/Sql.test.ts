import { Io, Sql } from "@braid/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, FiberRef, TestClock } from "effect"

/** A statement that never answers, counting how often it is abandoned. */
const fake = (counts: { abandoned: number }) => Sql.statement<number>(() => () => void counts.abandoned++, "10 seconds")

describe("Sql.statement and Sql.call: a call's bound is a deadline over all its statements", () => {
  it.effect("a statement outside any call is bounded by its fallback; past it: reason Timeout, abandoned", () =>
    Effect.gen(function*() {
      const counts = { abandoned: 0 }
      const fiber = yield* Effect.fork(Effect.exit(fake(counts)))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber).pipe(Effect.flatten))
      assert.strictEqual(error._tag, "SqlFailure")
      assert.strictEqual(error.reason, "Timeout")
      assert.strictEqual(error.message, "no answer within 10000 ms")
      assert.strictEqual(counts.abandoned, 1)
    }))

  it.effect("a call's deadline covers all it does: after 800 ms of work a statement has the 200 ms left of a 1 s bound", () =>
    Effect.gen(function*() {
      const counts = { abandoned: 0 }
      let done = 0
      const step = Effect.zipRight(Effect.sleep("400 millis"), Effect.sync(() => done++))
      // a statement that never answers after two 400 ms steps: the deadline leaves it 200 ms
      const call = Effect.gen(function*() {
        yield* step
        yield* step
        yield* fake(counts)
      }).pipe(Sql.call("1 second", (reason) => ({ _tag: "StoreError" as const, reason })))
      const fiber = yield* Effect.fork(Effect.exit(call))
      yield* TestClock.adjust("800 millis")
      assert.strictEqual(done, 2)
      yield* TestClock.adjust("199 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(
        yield* Fiber.join(fiber),
        Exit.fail({ _tag: "StoreError" as const, reason: "no answer within 1000 ms" })
      )
      assert.strictEqual(counts.abandoned, 1)
    }))

  it.effect("past the deadline a statement fails at once without starting; the bound holds where the caller is uninterruptible", () =>
    Effect.gen(function*() {
      const counts = { abandoned: 0 }
      let started = 0
      const counted = Sql.statement<number>(() => {
        started++
      }, "10 seconds")
      const late = Effect.zipRight(Effect.sleep("2 seconds"), counted).pipe(Sql.bounded("1 second"))
      const fiber = yield* Effect.fork(Effect.exit(late))
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(started, 0)
      const stuck = yield* Effect.fork(Effect.exit(Effect.uninterruptible(fake(counts).pipe(Sql.bounded("1 second")))))
      yield* TestClock.adjust("1 second")
      const failure = yield* Fiber.join(stuck)
      assert.isTrue(Exit.isFailure(failure))
      assert.strictEqual(counts.abandoned, 1)
    }))

  it.effect("a call nested in another is bounded by its own; after it the outer bound applies again; no timer is left", () =>
    Effect.gen(function*() {
      const counts = { abandoned: 0 }
      const inner = fake(counts).pipe(Sql.bounded("3 seconds"), Effect.either)
      const outer = Effect.gen(function*() {
        const a = yield* inner // fails at 3 s, its own bound
        const b = yield* Effect.either(fake(counts)) // the outer's deadline: 5 s from the start
        return [a, b] as const
      }).pipe(Sql.bounded("5 seconds"))
      const fiber = yield* Effect.fork(outer)
      yield* TestClock.adjust("3 seconds")
      yield* TestClock.adjust("2 seconds")
      const [a, b] = yield* Fiber.join(fiber)
      assert.strictEqual(a._tag === "Left" && a.left.message, "no answer within 3000 ms")
      assert.strictEqual(b._tag === "Left" && b.left.message, "no answer within 5000 ms")
      assert.strictEqual(counts.abandoned, 2)
      assert.isUndefined(yield* FiberRef.get(Sql.currentBound))
      assert.strictEqual(Io.pendingTimers(), 0)
    }))
})
