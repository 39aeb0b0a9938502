import { RedisBreakerStore } from "@braid/redis"
import { Errors } from "@braid/resilience"
import { describeWith, redisTestClients } from "@braid/testing"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { suite } from "../../resilience/test/breakerStoreConformance.js"

describe("RedisBreakerStore options are checked where the store is built", () => {
  it("an InvalidOption naming the option", () => {
    assert.throws(
      () => RedisBreakerStore.store(null as never, { timeout: "never" as never }),
      Errors.InvalidOption,
      "RedisBreakerStore.store: option timeout must be a finite duration > 0"
    )
  })
})

const describeRedis = await describeWith("redis")

describeRedis("CircuitBreaker (Redis store, real Redis)", () => {
  const { cleanup, client, prefix } = redisTestClients()
  afterAll(cleanup)
  // every "process" has its own connection, on the same keys
  suite("Redis", () => Effect.sync(() => RedisBreakerStore.store(client(), { prefix: `${prefix}breaker:` })))

  it.effect("a stored state that does not decode is a StoreError naming it, not a defect", () =>
    Effect.gen(function*() {
      const c = client()
      yield* Effect.promise(() => c.hset(`${prefix}breaker:garbled`, { state: "ajar", gen: "x" }))
      const e = yield* Effect.flip(RedisBreakerStore.store(c, { prefix: `${prefix}breaker:` }).get("garbled"))
      assert.strictEqual(e._tag, "StoreError")
      assert.include(e.message, "does not decode")
    }))
})
