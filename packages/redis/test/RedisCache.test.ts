import { Runner } from "@braid/core"
import { RedisCache } from "@braid/redis"
import { Cache, Errors } from "@braid/resilience"
import { describeWith, redisTestClients } from "@braid/testing"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Ref } from "effect"
import { corrupted, counted, storeErrors, storeSuite } from "../../resilience/test/cacheConformance.js"

describe("RedisCache options are checked where the store is built", () => {
  it("an InvalidOption naming the option", () => {
    assert.throws(
      () => RedisCache.store(null as never, { timeout: Number.NaN }),
      Errors.InvalidOption,
      "RedisCache.store: option timeout must be a finite duration > 0"
    )
  })
})

const describeRedis = await describeWith("redis")

describeRedis("Cache (Redis store, real Redis)", () => {
  const { cleanup, client, prefix } = redisTestClients()
  afterAll(cleanup)

  let n = 0
  storeSuite(
    "Redis store",
    () => Effect.succeed(RedisCache.store(client(), { prefix: `${prefix}${++n}:` })),
    (self) => self,
    true
  )

  it.effect("a corrupted or foreign entry is a miss (event get, JsonError), never a defect; the value replaces it", () =>
    Effect.gen(function*() {
      const raw = client()
      const keyPrefix = `${prefix}corrupt:`
      const cache = Cache.make({ name: "corrupt", store: RedisCache.store(raw, { prefix: keyPrefix }) })
      for (const text of corrupted) {
        yield* Effect.promise(() => raw.set(`${keyPrefix}k`, text))
        const { exit, events } = yield* storeErrors(
          Effect.withSpan(cache.get("k", Effect.succeed("fresh")), "outer"),
          "outer"
        )
        assert.deepStrictEqual(exit, Exit.succeed("fresh"), text.slice(0, 30))
        assert.deepStrictEqual(events, [["get", "JsonError"]])
        assert.strictEqual(yield* cache.get("k", Effect.die("not called")), "fresh")
      }
    }))

  it.live("two processes (two clients) share entries; Redis expires them after the TTL", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const shared = `${prefix}shared:`
      const a = counted(calls, (q) => ({ q })).pipe(
        Cache.policy({ store: RedisCache.store(client(), { prefix: shared }), ttl: "300 millis" })
      )
      const b = counted(calls, (q) => ({ q })).pipe(
        Cache.policy({ store: RedisCache.store(client(), { prefix: shared }), ttl: "300 millis" })
      )
      assert.deepStrictEqual(yield* Runner.run(a, "x"), { q: "x" })
      assert.deepStrictEqual(yield* Runner.run(b, "x"), { q: "x" })
      assert.strictEqual(yield* Ref.get(calls), 1)
      yield* Effect.sleep("400 millis")
      yield* Runner.run(b, "x")
      assert.strictEqual(yield* Ref.get(calls), 2)
    }))
})
