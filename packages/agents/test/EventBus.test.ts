import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { describeWith, REDIS_URL } from "@braid/testing"
import { EventBus, RedisEventBus } from "@braid/agents"
import { Redis } from "ioredis"
import { conformance } from "./EventBusConformance.js"

conformance("memory", () => EventBus.layerMemory)

const describeRedis = await describeWith("redis")
const runPrefix = `braid-test-${process.pid}-${Date.now()}:`
let n = 0

describeRedis("Redis", () => {
  // Each test gets its own prefix (and its own two connections).
  conformance("redis", () => RedisEventBus.layer({ url: REDIS_URL, prefix: `${runPrefix}${n++}:` }))

  it.live("events travel through Redis: a raw Redis subscriber sees the prefixed channel and the JSON payload", () =>
    Effect.gen(function*() {
      const raw = new Redis(REDIS_URL)
      const seen: Array<[string, string]> = []
      const prefix = `${runPrefix}raw:`
      yield* Effect.promise(() => raw.psubscribe(`${prefix}*`))
      raw.on("pmessage", (_p, ch, msg) => seen.push([ch, msg]))
      yield* EventBus.publishEncoded("demo.raw.sent", { x: 1 }).pipe(
        Effect.provide(RedisEventBus.layer({ url: REDIS_URL, prefix }))
      )
      for (let i = 0; i < 250 && seen.length === 0; i++) yield* Effect.sleep(20)
      yield* Effect.promise(() => raw.quit())
      assert.deepStrictEqual(seen, [[`${prefix}demo.raw.sent`, `{"x":1}`]])
    }))

  it.live("a bad URL is a typed EventBusError", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(EventBus.publishEncoded("a.b.c", 1).pipe(
        Effect.provide(RedisEventBus.layer({ url: "redis://127.0.0.1:1", prefix: "x:" }))
      ))
      assert.strictEqual(err._tag, "EventBusError")
    }))
})

describe("EventBus.validateChannel", () => {
  it.effect("accepts domain.entity.action names", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* EventBus.validateChannel("meeting.participant.timed_out"), "meeting.participant.timed_out")
      assert.strictEqual(yield* EventBus.validateChannel("a1.b-2.c_3"), "a1.b-2.c_3")
    }))
})
