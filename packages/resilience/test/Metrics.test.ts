import { Primitive, Runner } from "@braid/core"
import { Bulkhead, Cache, CircuitBreaker, RateLimit, Saga } from "@braid/resilience"
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Fiber, Metric, TestClock } from "effect"

class Declined extends Data.TaggedError("Declined")<{ readonly reason: string }> {}

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2)}`

/** The label sets of the `braid.resilience.*` metrics in the registry, as `name -> [{ key: value }]`. */
const labelsOf = Effect.map(Metric.snapshot, (pairs) => {
  const out = new Map<string, Array<Record<string, string>>>()
  for (const pair of pairs) {
    if (!pair.metricKey.name.startsWith("braid.resilience.")) continue
    const labels = Object.fromEntries(pair.metricKey.tags.map((t) => [t.key, t.value]))
    out.set(pair.metricKey.name, [...(out.get(pair.metricKey.name) ?? []), labels])
  }
  return out
})

describe("resilience metrics", () => {
  it.effect("every label is named under braid. (the names of the spans), with the policy's name as its value", () =>
    Effect.gen(function*() {
      const names = {
        breaker: unique("breaker"),
        bulkhead: unique("bulkhead"),
        limit: unique("limit"),
        cache: unique("cache"),
        saga: unique("saga")
      }
      // a breaker isolated and a call refused
      const breaker = CircuitBreaker.unsafeMake({ name: names.breaker })
      yield* breaker.isolate
      yield* Effect.flip(breaker.execute(Effect.void))
      // a bulkhead with one slot and a queue of one: the second call waits, the third is rejected
      const bulkhead = Bulkhead.unsafeMake({ name: names.bulkhead, maxConcurrent: 1, maxQueued: 1 })
      const slow = Primitive.make("slow", (_: number) => Effect.sleep("1 minute")).pipe(Bulkhead.limit(bulkhead))
      const holders = yield* Effect.forEach([1, 2], (i) => Effect.fork(Runner.run(slow, i)))
      yield* Effect.yieldNow()
      yield* Effect.flip(Runner.run(slow, 3))
      yield* TestClock.adjust("2 minutes")
      yield* Effect.forEach(holders, Fiber.join)
      // a rate limit of one call: the second is rejected
      const limited = Primitive.make("ask", (_: number) => Effect.void).pipe(
        RateLimit.policy({ limits: [{ name: names.limit, key: "k", limit: 1, window: "1 hour" }] })
      )
      yield* Runner.run(limited, 1)
      yield* Effect.flip(Runner.run(limited, 2))
      // a cache miss then a hit
      const cached = Primitive.make("lookup", (q: string) => Effect.succeed(q.length)).pipe(
        Cache.policy({ name: names.cache })
      )
      yield* Runner.run(cached, "a")
      yield* Runner.run(cached, "a")
      // a saga whose second step fails: the first is compensated
      const saga = Saga.make(
        names.saga,
        Saga.step(Primitive.make("a", (n: number) => Effect.succeed(n)), () => Effect.void),
        Saga.step(Primitive.make("b", (_: number) => Effect.fail(new Declined({ reason: "card" }))), () => Effect.void)
      )
      yield* Effect.flip(Runner.run(saga, 1))

      const labels = yield* labelsOf
      for (const [metric, sets] of labels) {
        for (const set of sets) {
          for (const key of Object.keys(set)) {
            assert.isTrue(key.startsWith("braid."), `${metric} has a label ${key} outside braid.`)
          }
        }
      }
      const has = (metric: string, expected: Record<string, string>) =>
        assert.isTrue(
          (labels.get(metric) ?? []).some((set) => Object.entries(expected).every(([k, v]) => set[k] === v)),
          `${metric} has no data point with ${JSON.stringify(expected)}: ${JSON.stringify(labels.get(metric))}`
        )
      has("braid.resilience.breaker.state", { "braid.breaker.name": names.breaker })
      has("braid.resilience.breaker.rejections", { "braid.breaker.name": names.breaker })
      has("braid.resilience.bulkhead.rejections", { "braid.bulkhead.name": names.bulkhead })
      has("braid.resilience.bulkhead.queue_depth", { "braid.bulkhead.name": names.bulkhead })
      has("braid.resilience.ratelimit.limited", {
        "braid.ratelimit.name": names.limit,
        "braid.ratelimit.outcome": "rejected"
      })
      has("braid.resilience.cache.hits", { "braid.cache.name": names.cache })
      has("braid.resilience.cache.misses", { "braid.cache.name": names.cache })
      has("braid.resilience.saga.compensations", {
        "braid.primitive.name": names.saga,
        "braid.saga.compensation.outcome": "ok"
      })
    }))
})
