import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Data, Effect, Fiber, Metric, Ref, TestClock } from "effect"
import { Describe, Primitive, Runner } from "@braid/core"
import type { CircuitOpen, RetryExhausted, TimeoutError } from "@braid/resilience"
import { Cache, CircuitBreaker, Metrics, RateLimit, Retry, Timeout } from "@braid/resilience"
import { byName, describeWith, parentOf, REDIS_URL, withSpans } from "@braid/testing"

class Overloaded extends Data.TaggedError("Overloaded")<{ readonly transient: true }> {}

describe("policies compose", () => {
  it.effect("step.pipe(Retry.policy(...), Timeout.within(...), CircuitBreaker.guard(breaker)): types, spans and description", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const step = Primitive.make("callModel", (prompt: string) =>
        Effect.flatMap(Ref.getAndUpdate(calls, (n) => n + 1), (n) => n === 0 ? Effect.fail(new Overloaded({ transient: true })) : Effect.succeed(`echo ${prompt}`)))
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
      assert.strictEqual(attempts[0]!.attributes["braid.path"], "breaker(timeout(retry(callModel)))/timeout(retry(callModel))/retry(callModel)/callModel")
      const text = Describe.toText(p)
      assert.include(text, "(circuit-breaker) {breaker=compose}")
      assert.include(text, "(timeout) {durationMillis=5000, fallback=false}")
      assert.include(text, "(retry) {maxAttempts=3, backoff=constant, baseDelayMillis=10, maxDelayMillis=30000}")
    }))

  it.effect("metrics: retries are counted per primitive", () =>
    Effect.gen(function*() {
      const name = `metered-${Math.random().toString(36).slice(2)}`
      let n = 0
      const step = Primitive.make("s", (_: string) => Effect.suspend(() => ++n < 3 ? Effect.fail(new Overloaded({ transient: true })) : Effect.succeed(n)))
      yield* Runner.run(step.pipe(Retry.policy({ name, baseDelay: "0 millis" })), "x")
      const counted = yield* Metric.value(Metric.tagged(Metrics.retries, "braid.primitive", name))
      assert.strictEqual(counted.count, 2)
    }))
})

const describeRedis = await describeWith("redis")

describeRedis("stores from Config (REDIS_URL)", () => {
  it.scoped("RateLimit.redisStoreFromConfig and Cache.redisStoreFromConfig connect to REDIS_URL", () =>
    Effect.gen(function*() {
      const prefix = `braid-test:${crypto.randomUUID()}:`
      const fromEnv = Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", REDIS_URL]])))
      const limits = yield* fromEnv(RateLimit.redisStoreFromConfig({ prefix: `${prefix}rl:` }))
      const cacheStore = yield* fromEnv(Cache.redisStoreFromConfig({ prefix: `${prefix}c:` }))
      const p = Primitive.make("x", (n: number) => Effect.succeed(n)).pipe(
        Cache.policy({ store: cacheStore, ttl: "1 minute" }),
        RateLimit.policy({ limits: [{ key: "k", limit: 1, window: "1 minute" }], store: limits })
      )
      assert.strictEqual(yield* Runner.run(p, 1), 1)
      const e = yield* Effect.flip(Runner.run(p, 1))
      assert.strictEqual(e._tag, "RateLimited")
      yield* cacheStore.delete("1")
      // clean up the rate-limit keys through the same connection's store prefix
      yield* Effect.promise(async () => {
        const { Redis } = await import("ioredis")
        const c = new Redis(REDIS_URL)
        const keys = await c.keys(`${prefix}*`)
        if (keys.length > 0) await c.del(...keys)
        await c.quit()
      })
    }))
})
