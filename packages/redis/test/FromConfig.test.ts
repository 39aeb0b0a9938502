import { Primitive, Runner } from "@braid/core"
import { RedisCache, RedisRateLimit } from "@braid/redis"
import { Cache, RateLimit } from "@braid/resilience"
import { describeWith, REDIS_URL } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"

const describeRedis = await describeWith("redis")

describeRedis("stores from Config (REDIS_URL)", () => {
  it.scoped("RedisRateLimit.storeFromConfig and RedisCache.storeFromConfig connect to REDIS_URL", () =>
    Effect.gen(function*() {
      const prefix = `braid-test:${crypto.randomUUID()}:`
      const fromEnv = Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", REDIS_URL]])))
      const limits = yield* fromEnv(RedisRateLimit.storeFromConfig({ prefix: `${prefix}rl:` }))
      const cacheStore = yield* fromEnv(RedisCache.storeFromConfig({ prefix: `${prefix}c:` }))
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
