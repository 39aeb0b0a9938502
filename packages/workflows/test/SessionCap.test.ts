import { SessionCap } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream } from "effect"

const settle = Effect.repeatN(Effect.yieldNow(), 50)

describe("SessionCap", () => {
  it.effect("admits up to maxActive, queues up to maxQueued, refuses the next with AtCapacity", () =>
    Effect.gen(function*() {
      const cap = yield* SessionCap.make({ maxActive: 2, maxQueued: 1 })
      assert.strictEqual((yield* cap.enter("a")).status, "active")
      assert.strictEqual((yield* cap.enter("b")).status, "active")
      const c = yield* cap.enter("c")
      assert.deepStrictEqual([c.status, c.position], ["queued", 1])
      const refused = yield* Effect.flip(cap.enter("d"))
      assert.deepStrictEqual([refused.active, refused.queued, refused.maxActive, refused.maxQueued], [2, 1, 2, 1])
      assert.include(refused.message, "at capacity")
      // entering again is idempotent
      assert.strictEqual((yield* cap.enter("a")).status, "active")
      assert.strictEqual((yield* cap.enter("c")).position, 1)
      assert.deepStrictEqual(yield* cap.stats, { active: 2, queued: 1 })
    }))

  it.effect("a freed slot goes to the head of the queue; positions count down to 0", () =>
    Effect.gen(function*() {
      const cap = yield* SessionCap.make({ maxActive: 1, maxQueued: 3 })
      yield* cap.enter("a")
      const b = yield* cap.enter("b")
      yield* cap.enter("c")
      const d = yield* cap.enter("d")
      const watching = yield* Effect.fork(Stream.runCollect(cap.positions("d")))
      const waiting = yield* Effect.fork(d.active)
      yield* settle
      yield* cap.leave("a") // b becomes active
      yield* b.active
      yield* settle
      assert.strictEqual(yield* cap.position("b"), 0)
      assert.strictEqual(yield* cap.position("d"), 2)
      yield* cap.leave("c") // c leaves the queue: d is next
      yield* settle
      assert.strictEqual(yield* cap.position("d"), 1)
      yield* cap.leave("b")
      yield* Fiber.join(waiting)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(watching)), [3, 2, 1, 0])
      assert.deepStrictEqual(yield* cap.stats, { active: 1, queued: 0 })
      assert.strictEqual(yield* cap.position("zzz"), undefined)
      assert.strictEqual(Chunk.size(yield* Stream.runCollect(cap.positions("zzz"))), 0)
    }))

  it.effect("a session that leaves the queue is never admitted, and its positions end", () =>
    Effect.gen(function*() {
      const cap = yield* SessionCap.make({ maxActive: 1, maxQueued: 1 })
      yield* cap.enter("a")
      const b = yield* cap.enter("b")
      const watching = yield* Effect.fork(Stream.runCollect(cap.positions("b")))
      const waiting = yield* Effect.fork(Effect.exit(b.active))
      yield* settle
      yield* cap.leave("b")
      const exit = yield* Fiber.join(waiting)
      assert.strictEqual(exit._tag, "Failure")
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(watching)), [1])
      yield* cap.leave("a")
      assert.deepStrictEqual(yield* cap.stats, { active: 0, queued: 0 })
    }))

  it.effect("bad limits are InvalidInput naming the option", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(SessionCap.make({ maxActive: -1 }))
      assert.strictEqual(e.field, "maxActive")
      const f = yield* Effect.flip(SessionCap.make({ maxQueued: Number.NaN }))
      assert.strictEqual(f.field, "maxQueued")
    }))
})
