import { Primitive, Runner } from "@braid/core"
import { MemoryStore } from "@braid/memory"
import { EventBus } from "@braid/messaging"
import { RedisCache, RedisEventBus, RedisMemoryStore, RedisRateLimit } from "@braid/redis"
import { Cache, RateLimit } from "@braid/resilience"
import { describeWith, REDIS_URL } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"

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

describeRedis("REDIS_URL is read in one place, the same way, by every Redis store", () => {
  const fromEnv = (url: string) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", url]])))

  it.scoped("RedisEventBus.layerConfig and RedisMemoryStore.layer connect to REDIS_URL", () =>
    Effect.gen(function*() {
      const prefix = `braid-test:${crypto.randomUUID()}:`
      const bus = yield* fromEnv(REDIS_URL)(Layer.build(RedisEventBus.layerConfig))
      assert.ok(Context.get(bus, EventBus.EventBus))
      const memory = yield* fromEnv(REDIS_URL)(Layer.build(RedisMemoryStore.layer({ prefix: `${prefix}m:` })))
      assert.ok(Context.get(memory, MemoryStore.MemoryStore))
    }))

  it.scoped("a REDIS_URL holding a password that cannot connect: every store fails typed, the password in no error", () =>
    Effect.gen(function*() {
      const url = "redis://braid:s3cret-pass@127.0.0.1:1/"
      const failures = [
        yield* Effect.flip(fromEnv(url)(Layer.build(RedisEventBus.layerConfig))),
        yield* Effect.flip(fromEnv(url)(Layer.build(RedisMemoryStore.layer({ timeout: "2 seconds" })))),
        yield* Effect.flip(fromEnv(url)(RedisCache.storeFromConfig({ timeout: "2 seconds" }))),
        yield* Effect.flip(fromEnv(url)(RedisRateLimit.storeFromConfig({ timeout: "2 seconds" })))
      ]
      assert.deepStrictEqual(failures.map((e) => e._tag), [
        "EventBusError",
        "MemoryStoreError",
        "StoreError",
        "StoreError"
      ])
      for (const e of failures) {
        const shown = `${String(e)} ${JSON.stringify(e)} ${e.message}`
        assert.notInclude(shown, "s3cret-pass")
      }
    }))
})
