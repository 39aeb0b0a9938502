import { Runner } from "@braid/core"
import { RedisRateLimit } from "@braid/redis"
import { Errors, RateLimit, RateLimited } from "@braid/resilience"
import { describeWith, redisTestClients } from "@braid/testing"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ask, suite } from "../../resilience/test/rateLimitConformance.js"

describe("RedisRateLimit options are checked where the store is built", () => {
  it("an InvalidOption naming the option", () => {
    assert.throws(
      () => RedisRateLimit.store(null as never, { timeout: "never" as never }),
      Errors.InvalidOption,
      "RedisRateLimit.store: option timeout must be a finite duration > 0"
    )
  })
})

const describeRedis = await describeWith("redis")

describeRedis("RateLimit (Redis store, real Redis)", () => {
  const { cleanup, client, prefix } = redisTestClients()
  let n = 0
  const fresh = () => RedisRateLimit.store(client(), { prefix: `${prefix}${++n}:` })
  afterAll(cleanup)

  suite(fresh)

  it.effect("two processes (two clients) share one limit", () =>
    Effect.gen(function*() {
      const shared = `${prefix}shared:`
      const limits = [{ key: "global", limit: 5, window: "1 minute", algorithm: "fixed-window" as const }] as const
      const a = ask.pipe(RateLimit.policy({ limits, store: RedisRateLimit.store(client(), { prefix: shared }) }))
      const b = ask.pipe(RateLimit.policy({ limits, store: RedisRateLimit.store(client(), { prefix: shared }) }))
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
      const exits = yield* Effect.forEach(Array.from({ length: 30 }), () =>
        Effect.exit(Runner.run(p, { user: "x", tokens: 1 })), {
        concurrency: 30
      })
      assert.strictEqual(
        exits.filter((e) =>
          e._tag === "Success"
        ).length,
        7
      )
    }))
})
