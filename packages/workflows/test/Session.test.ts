import { Session } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Ref, TestClock } from "effect"

describe("Session", () => {
  it.scoped("records messages with per-message and per-session accounting; the user ends it", () =>
    Effect.gen(function*() {
      const s = yield* Session.make({ id: "s1", userId: "ada", idleTimeout: "10 minutes" })
      yield* s.record({ role: "user", content: "hi" })
      const reply = yield* s.record({
        role: "assistant",
        content: "hello",
        usage: { inputTokens: 120, outputTokens: 30 },
        costUsd: 0.002
      })
      yield* s.record({ role: "assistant", content: "sorry", fallback: true })
      assert.strictEqual(reply.index, 1)
      assert.deepStrictEqual(yield* s.totals, {
        messages: 3,
        inputTokens: 120,
        outputTokens: 30,
        costUsd: 0.002,
        fallbacks: 1
      })
      assert.isTrue(yield* s.end("user"))
      assert.isFalse(yield* s.end("objective-met")) // the first reason wins
      const status = yield* s.status
      assert.strictEqual(status._tag === "Completed" && status.reason, "user")
      const e = yield* Effect.flip(s.record({ role: "user", content: "again?" }))
      assert.strictEqual(e._tag, "SessionCompleted")
      assert.strictEqual((yield* s.messages).length, 3) // nothing lost, nothing added after the end
    }))

  it.scoped("completes after the idle timeout (TestClock); activity resets the timer", () =>
    Effect.gen(function*() {
      const s = yield* Session.make({ id: "s2", userId: "ada", idleTimeout: "10 minutes" })
      const waiter = yield* Effect.fork(s.completed)
      yield* TestClock.adjust("9 minutes")
      yield* s.record({ role: "user", content: "still here" })
      yield* TestClock.adjust("9 minutes")
      assert.strictEqual((yield* s.status)._tag, "Active") // 18 min since start, 9 since activity
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiter)))
      yield* TestClock.adjust("1 minute")
      const done = yield* Fiber.join(waiter)
      assert.strictEqual(done.reason, "idle-timeout")
      assert.strictEqual(done.at, 19 * 60_000)
    }))

  it.scoped("objective met ends the session and stops the idle timer", () =>
    Effect.gen(function*() {
      const s = yield* Session.make({ id: "s3", userId: "ada", idleTimeout: "1 minute" })
      yield* s.end("objective-met")
      yield* TestClock.adjust("5 minutes")
      const status = yield* s.status
      assert.strictEqual(status._tag === "Completed" && status.reason, "objective-met")
    }))

  it.scoped("onEnd runs once, in the fiber that ended the session (the idle timer's too), with the reason, time and message", () =>
    Effect.gen(function*() {
      const ends = yield* Ref.make<ReadonlyArray<Session.Ended>>([])
      const onEnd = (e: Session.Ended) => Ref.update(ends, (xs) => [...xs, e])
      const idle = yield* Session.make({ id: "s4", userId: "ada", idleTimeout: "5 minutes", onEnd })
      yield* TestClock.adjust("5 minutes")
      assert.deepStrictEqual(yield* idle.completed, { reason: "idle-timeout", at: 300_000 })
      const outage = yield* Session.make({ id: "s5", userId: "ada", idleTimeout: "5 minutes", onEnd })
      assert.isTrue(yield* outage.end("model-outage", "the coach is unavailable"))
      assert.isFalse(yield* outage.end("user"))
      const status = yield* outage.status
      assert.strictEqual(status._tag === "Completed" && status.message, "the coach is unavailable")
      assert.deepStrictEqual(yield* Ref.get(ends), [
        { reason: "idle-timeout", at: 300_000 },
        { reason: "model-outage", at: 300_000, message: "the coach is unavailable" }
      ])
    }))
})
