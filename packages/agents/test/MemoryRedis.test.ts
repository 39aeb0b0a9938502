import { assert, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Redis } from "ioredis"
import { afterAll } from "vitest"
import { MemoryStore, RedisMemoryStore } from "@braid/agents"
import { describeWith, REDIS_URL } from "@braid/testing"
import { conformance } from "./memoryConformance.js"

const describeRedis = await describeWith("redis")
const prefix = `braid:memory:test-${crypto.randomUUID().slice(0, 8)}:`
const url = Redacted.make(REDIS_URL)

const keysUnder = async (p: string) => {
  const client = new Redis(REDIS_URL)
  try {
    const found: Array<string> = []
    let cursor = "0"
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", `${p}*`, "COUNT", 1000)
      cursor = next
      found.push(...batch)
    } while (cursor !== "0")
    return { client, found }
  } catch (e) {
    client.disconnect()
    throw e
  }
}

describeRedis("Redis memory store", () => {
  afterAll(async () => {
    const { client, found } = await keysUnder(prefix)
    if (found.length > 0) await client.del(...found)
    await client.quit()
  })

  conformance("redis", { layer: RedisMemoryStore.layer({ url, prefix }), numRuns: 25 })

  it.effect("keys live under the configured prefix, one hash tag per scope", () =>
    Effect.gen(function*() {
      const p = `${prefix}layout:`
      const program = Effect.gen(function*() {
        const s = yield* MemoryStore.MemoryStore
        yield* s.put({ id: "1", scope: { kind: "user", id: "a:b" }, key: "k", value: 1, tags: [], createdAt: 0, expiresAt: 10 }, { now: 0 })
        yield* s.put({ id: "2", scope: { kind: "user", tenant: "t/1", id: "b" }, key: "k", value: 1, tags: [], createdAt: 0 }, { now: 0 })
      })
      yield* Effect.provide(program, RedisMemoryStore.layer({ url, prefix: p }))
      const { client, found } = yield* Effect.promise(() => keysUnder(p))
      yield* Effect.promise(() => client.quit())
      assert.sameMembers(found, [
        `${p}schema`,
        ...["e", "o", "x", "n"].map((k) => `${p}{user:~:a%003ab}:${k}`),
        ...["e", "o", "n"].map((k) => `${p}{user:t%002f1:b}:${k}`)
      ])
    }))

  it.effect("an entry that does not decode (written by something else) fails the read with a typed error, not a defect", () =>
    Effect.gen(function*() {
      const p = `${prefix}garbled:`
      const scope = { kind: "user", id: "u" } as const
      const client = new Redis(REDIS_URL)
      yield* Effect.promise(() => client.hset(`${p}{user:u}:e`, "bad", "1\n{not json"))
      yield* Effect.promise(() => client.quit())
      const error = yield* Effect.flip(Effect.provide(
        Effect.flatMap(MemoryStore.MemoryStore, (s) => s.get(scope, "bad", 0)),
        RedisMemoryStore.layer({ url, prefix: p })
      ))
      assert.strictEqual(error._tag, "MemoryStoreError")
      assert.strictEqual(error.operation, "get")
    }))
})
