import { Describe, Primitive, Runner } from "@braid/core"
import type { CircuitOpen, RetryExhausted, TimeoutError } from "@braid/resilience"
import { CircuitBreaker, Metrics, Retry, Timeout } from "@braid/resilience"
import { byName, parentOf, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Fiber, Metric, Ref, TestClock } from "effect"

class Overloaded extends Data.TaggedError("Overloaded")<{ readonly transient: true }> {}

describe("policies compose", () => {
  it.effect("step.pipe(Retry.policy(...), Timeout.within(...), CircuitBreaker.guard(breaker)): types, spans and description", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const step = Primitive.make(
        "callModel",
        (prompt: string) =>
          Effect.flatMap(
            Ref.getAndUpdate(calls, (n) => n + 1),
            (n) => n === 0 ? Effect.fail(new Overloaded({ transient: true })) : Effect.succeed(`echo ${prompt}`)
          )
      )
      const breaker = CircuitBreaker.unsafeMake({ name: "compose" })
      const p = step.pipe(
        Retry.policy({ maxAttempts: 3, backoff: "constant", baseDelay: "10 millis" }),
        Timeout.within("5 seconds"),
        CircuitBreaker.guard(breaker)
      )
      // the error type is inferred through the whole stack
      const typed: Primitive.Primitive<string, string, Overloaded | RetryExhausted | TimeoutError | CircuitOpen> = p
      assert.strictEqual(typed.kind, "circuit-breaker")
      const { exit, spans } = yield* withSpans(Effect.gen(function*() {
        const fiber = yield* Effect.fork(Runner.run(p, "hi"))
        yield* TestClock.adjust("10 millis")
        return yield* Fiber.join(fiber)
      }))
      assert.deepStrictEqual(exit._tag === "Success" && exit.value, "echo hi")
      const b = byName(spans, "breaker(timeout(retry(callModel)))")
      const t = byName(spans, "timeout(retry(callModel))")
      const r = byName(spans, "retry(callModel)")
      assert.strictEqual(parentOf(spans, t), b)
      assert.strictEqual(parentOf(spans, r), t)
      const attempts = spans.filter((s) => s.name === "callModel")
      assert.strictEqual(attempts.length, 2)
      for (const a of attempts) assert.strictEqual(parentOf(spans, a), r)
      assert.strictEqual(
        attempts[0]!.attributes["braid.path"],
        "breaker(timeout(retry(callModel)))/timeout(retry(callModel))/retry(callModel)/callModel"
      )
      const text = Describe.toText(p)
      assert.include(text, "(circuit-breaker) {breaker=compose}")
      assert.include(text, "(timeout) {durationMillis=5000, fallback=false}")
      assert.include(text, "(retry) {maxAttempts=3, backoff=constant, baseDelayMillis=10, maxDelayMillis=30000}")
    }))

  it.effect("metrics: retries are counted per primitive", () =>
    Effect.gen(function*() {
      const name = `metered-${Math.random().toString(36).slice(2)}`
      let n = 0
      const step = Primitive.make("s", (_: string) =>
        Effect.suspend(() =>
          ++n < 3 ? Effect.fail(new Overloaded({ transient: true })) : Effect.succeed(n)
        ))
      yield* Runner.run(step.pipe(Retry.policy({ name, baseDelay: "0 millis" })), "x")
      const counted = yield* Metric.value(Metric.tagged(Metrics.retries, "braid.primitive.name", name))
      assert.strictEqual(counted.count, 2)
    }))
})
