import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { Primitive, Runner } from "@braid/core"
import { RateLimit, RateLimited } from "@braid/resilience"
import { byName, withSpans } from "@braid/testing"
import { describeWith, redisTestClients } from "@braid/testing"

interface Ask {
  readonly user: string
  readonly tokens: number
}
const ask = Primitive.make("ask", (req: Ask) => Effect.succeed(`ok ${req.user}`))

/** The shared behaviour, run against each store. */
const suite = (makeStore: () => RateLimit.Store) => {
  it.effect("fixed window: at most `limit` per window, then RateLimited until the next window", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({ limits: [{ key: "global", limit: 3, window: "1 minute", algorithm: "fixed-window" }], store: makeStore() }))
      yield* TestClock.adjust("10 seconds")
      for (let i = 0; i < 3; i++) yield* Runner.run(p, { user: "a", tokens: 1 })
      const e = yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 }))
      assert.instanceOf(e, RateLimited)
      if (!(e instanceof RateLimited)) return
      assert.strictEqual(e.key, "global")
      assert.strictEqual(e.retryAfterMillis, 50_000)
      assert.strictEqual(e.message, "ratelimit(ask): rate limit global exceeded (retry after 50000 ms)")
      yield* TestClock.adjust("50 seconds")
      assert.strictEqual(yield* Runner.run(p, { user: "a", tokens: 1 }), "ok a")
    }))

  it.effect("token bucket: bursts up to the limit, then refills continuously", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({ limits: [{ key: "global", limit: 10, window: "1 minute" }], store: makeStore() }))
      for (let i = 0; i < 10; i++) yield* Runner.run(p, { user: "a", tokens: 1 })
      const e = yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 }))
      assert.strictEqual((e as RateLimited).retryAfterMillis, 6000)
      yield* TestClock.adjust("6 seconds")
      yield* Runner.run(p, { user: "a", tokens: 1 })
      assert.instanceOf(yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 })), RateLimited)
    }))

  it.effect("per-key and global limits together; a refusal by one charges neither", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({
        limits: [
          { key: (r) => `user:${r.user}`, limit: 2, window: "1 minute", algorithm: "fixed-window" },
          { key: "global", limit: 3, window: "1 minute", algorithm: "fixed-window" }
        ],
        store: makeStore()
      }))
      yield* Runner.run(p, { user: "a", tokens: 1 })
      yield* Runner.run(p, { user: "a", tokens: 1 })
      const byUser = yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 }))
      assert.strictEqual((byUser as RateLimited).key, "user:a")
      // the refused call did not charge the global limit: one global slot is left
      assert.strictEqual(yield* Runner.run(p, { user: "b", tokens: 1 }), "ok b")
      const byGlobal = yield* Effect.flip(Runner.run(p, { user: "c", tokens: 1 }))
      assert.strictEqual((byGlobal as RateLimited).key, "global")
      // ... and the global refusal did not charge user c
      yield* TestClock.adjust("1 minute")
      yield* Runner.run(p, { user: "c", tokens: 1 })
      yield* Runner.run(p, { user: "c", tokens: 1 })
      const again = yield* Effect.flip(Runner.run(p, { user: "c", tokens: 1 }))
      assert.strictEqual((again as RateLimited).key, "user:c")
    }))

  it.effect("a cost per call (tokens); a cost above the limit can never pass", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({
        limits: [{ key: "tokens", limit: 100, window: "1 minute", algorithm: "fixed-window" }],
        cost: (r) => r.tokens,
        store: makeStore()
      }))
      yield* Runner.run(p, { user: "a", tokens: 60 })
      assert.instanceOf(yield* Effect.flip(Runner.run(p, { user: "a", tokens: 50 })), RateLimited)
      yield* Runner.run(p, { user: "a", tokens: 40 })
      const never = yield* Effect.flip(Runner.run(p, { user: "a", tokens: 101 }))
      assert.strictEqual((never as RateLimited).retryAfterMillis, Number.POSITIVE_INFINITY)
    }))

  it.effect("wait: sleeps (on the Clock) until capacity is back instead of failing", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({
        limits: [{ key: "global", limit: 1, window: "1 second", algorithm: "fixed-window" }],
        onExceeded: "wait",
        store: makeStore()
      }))
      yield* Runner.run(p, { user: "a", tokens: 1 })
      const fiber = yield* Effect.fork(Runner.run(p, { user: "b", tokens: 1 }))
      yield* TestClock.adjust("999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "ok b")
    }))
}

describe("RateLimit (memory store)", () => {
  suite(RateLimit.memoryStore)

  it.effect("refusals are span events on the wrapper; the step does not run", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({ limits: [{ key: "global", limit: 1, window: "1 minute" }] }))
      yield* Runner.run(p, { user: "a", tokens: 1 })
      const { spans } = yield* withSpans(Runner.run(p, { user: "a", tokens: 1 }))
      const wrapper = byName(spans, "ratelimit(ask)")
      assert.deepStrictEqual(wrapper.events.find((e) => e.name === "ratelimit.rejected")?.attributes, { key: "global", retry_after_ms: 60_000 })
      assert.strictEqual(spans.filter((s) => s.name === "ask").length, 0)
    }))

  it.effect("RateLimit.effect limits any Effect", () =>
    Effect.gen(function*() {
      const store = RateLimit.memoryStore()
      const call = RateLimit.effect(Effect.succeed(1), { name: "search", limits: [{ key: "k", limit: 1, window: "1 hour" }], store })
      assert.strictEqual(yield* call, 1)
      const e = yield* Effect.flip(call)
      assert.strictEqual(e._tag, "RateLimited")
    }))
})

const describeRedis = await describeWith("redis")

describeRedis("RateLimit (Redis store, real Redis)", () => {
  const { cleanup, client, prefix } = redisTestClients()
  let n = 0
  const fresh = () => RateLimit.redisStore(client(), { prefix: `${prefix}${++n}:` })
  afterAll(cleanup)

  suite(fresh)

  it.effect("two processes (two clients) share one limit", () =>
    Effect.gen(function*() {
      const shared = `${prefix}shared:`
      const limits = [{ key: "global", limit: 5, window: "1 minute", algorithm: "fixed-window" as const }] as const
      const a = ask.pipe(RateLimit.policy({ limits, store: RateLimit.redisStore(client(), { prefix: shared }) }))
      const b = ask.pipe(RateLimit.policy({ limits, store: RateLimit.redisStore(client(), { prefix: shared }) }))
      for (let i = 0; i < 3; i++) yield* Runner.run(a, { user: "a", tokens: 1 })
      yield* Runner.run(b, { user: "b", tokens: 1 })
      yield* Runner.run(b, { user: "b", tokens: 1 })
      assert.instanceOf(yield* Effect.flip(Runner.run(b, { user: "b", tokens: 1 })), RateLimited)
      assert.instanceOf(yield* Effect.flip(Runner.run(a, { user: "a", tokens: 1 })), RateLimited)
    }))

  it.effect("concurrent calls never overshoot the limit (atomic script)", () =>
    Effect.gen(function*() {
      const store = fresh()
      const p = ask.pipe(RateLimit.policy({ limits: [{ key: "global", limit: 7, window: "1 minute" }], store }))
      const exits = yield* Effect.forEach(Array.from({ length: 30 }), () => Effect.exit(Runner.run(p, { user: "x", tokens: 1 })), {
        concurrency: 30
      })
      assert.strictEqual(exits.filter((e) => e._tag === "Success").length, 7)
    }))
})
