import { Primitive, Runner } from "@braid/core"
import { Hedge } from "@braid/resilience"
import { byName, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref, TestClock } from "effect"

/** Each call takes the next latency of the script (ms) and reports which call it was. */
const scripted = (latencies: ReadonlyArray<number>, calls: Ref.Ref<number>, interrupted: Ref.Ref<Array<number>>) =>
  Primitive.make(
    "search",
    (_: string) =>
      Effect.flatMap(Ref.getAndUpdate(calls, (n) => n + 1), (i) =>
        Effect.sleep(`${latencies[i] ?? 0} millis`).pipe(
          Effect.as(`call ${i}`),
          Effect.onInterrupt(() => Ref.update(interrupted, (xs) => [...xs, i]))
        ))
  )

describe("Hedge", () => {
  it.effect("a slow first attempt: a second one starts after the delay, the first success wins, the loser is interrupted", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const interrupted = yield* Ref.make<Array<number>>([])
      const p = scripted([1000, 50], calls, interrupted).pipe(Hedge.policy({ delay: "100 millis" }))
      const fiber = yield* Effect.fork(Runner.run(p, "q"))
      yield* TestClock.adjust("99 millis")
      assert.strictEqual(yield* Ref.get(calls), 1, "no hedge before the delay")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(calls), 2)
      yield* TestClock.adjust("50 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "call 1")
      assert.deepStrictEqual(yield* Ref.get(interrupted), [0], "the slow primary was interrupted")
    }))

  it.effect("a fast first attempt: no hedge", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const interrupted = yield* Ref.make<Array<number>>([])
      const p = scripted([30], calls, interrupted).pipe(Hedge.policy({ delay: "100 millis" }))
      const fiber = yield* Effect.fork(Runner.run(p, "q"))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "call 0")
      assert.strictEqual(yield* Ref.get(calls), 1)
    }))

  it.effect("the primary can still win after the hedge started", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const interrupted = yield* Ref.make<Array<number>>([])
      const p = scripted([150, 500], calls, interrupted).pipe(Hedge.policy({ delay: "100 millis" }))
      const { exit, spans } = yield* withSpans(Effect.gen(function*() {
        const fiber = yield* Effect.fork(Runner.run(p, "q"))
        yield* TestClock.adjust("1 second")
        return yield* Fiber.join(fiber)
      }))
      assert.deepStrictEqual(exit._tag === "Success" && exit.value, "call 0")
      assert.deepStrictEqual(yield* Ref.get(interrupted), [1])
      const wrapper = byName(spans, "hedge(search)")
      assert.strictEqual(wrapper.attributes["braid.hedge.winner"], "primary")
      assert.strictEqual(wrapper.attributes["braid.hedge.delay_ms"], 100)
      assert.isTrue(wrapper.events.some((e) => e.name === "braid.hedge.started"))
      assert.strictEqual(spans.filter((s) => s.name === "search").length, 2)
    }))

  it.effect("if the first attempt fails before the delay, the second starts at once", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const p = Primitive.make("flaky", (_: string) =>
        Effect.flatMap(
          Ref.getAndUpdate(calls, (n) => n + 1),
          (i) => i === 0 ? Effect.fail("down") : Effect.succeed("ok")
        ))
        .pipe(Hedge.policy({ delay: "10 seconds" }))
      assert.strictEqual(yield* Runner.run(p, "q"), "ok")
    }))

  it.effect("adaptive delay: the observed p95 latency replaces the initial delay once there are enough samples", () =>
    Effect.gen(function*() {
      const hedger = Hedge.make({
        name: "adaptive",
        delay: { percentile: 0.95, initial: "500 millis", minSamples: 20, window: 20 }
      })
      assert.strictEqual(hedger.currentDelayMillis(), 500)
      for (let i = 1; i <= 20; i++) {
        const fiber = yield* Effect.fork(hedger.run(Effect.sleep(`${i * 10} millis`)))
        yield* TestClock.adjust(`${i * 10} millis`)
        yield* Fiber.join(fiber)
      }
      assert.strictEqual(hedger.currentDelayMillis(), 190, "p95 of 10..200 ms")
      const calls = yield* Ref.make(0)
      const fiber = yield* Effect.fork(
        Hedge.effect(Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.sleep("1 second")), hedger)
      )
      yield* TestClock.adjust("189 millis")
      assert.strictEqual(yield* Ref.get(calls), 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(calls), 2)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
    }))
})
