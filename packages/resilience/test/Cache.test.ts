import { Attributes, Json, Primitive, Runner } from "@braid/core"
import { Cache, Errors, Metrics, StoreError } from "@braid/resilience"
import { byName, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Data, Deferred, Effect, Either, Exit, FastCheck, Fiber, Metric, Ref, TestClock } from "effect"
import { corrupted, counted, storeErrors, storeSuite } from "./cacheConformance.js"

class NotFound extends Data.TaggedError("NotFound")<{ readonly id: string }> {}

describe("Cache", () => {
  it.effect("a second call with the same key is a hit: the step does not run (no child span)", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const p = counted(calls, (q) => `answer to ${q}`).pipe(Cache.policy({ key: (q) => q.toLowerCase() }))
      assert.strictEqual(yield* Runner.run(p, "Hello"), "answer to Hello")
      const { exit, spans } = yield* withSpans(Runner.run(p, "HELLO"))
      assert.deepStrictEqual(exit, Exit.succeed("answer to Hello"))
      assert.strictEqual(yield* Ref.get(calls), 1)
      const span = byName(spans, "cache(lookup)")
      assert.strictEqual(span.attributes["braid.cache.hit"], true)
      assert.strictEqual(span.attributes["braid.cache.key"], "hello")
      assert.strictEqual(spans.filter((s) => s.name === "lookup").length, 0)
    }))

  it.effect("caches null and undefined", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const p = counted(calls, (q) => (q === "n" ? null : undefined)).pipe(Cache.policy())
      for (let i = 0; i < 3; i++) {
        assert.isNull(yield* Runner.run(p, "n"))
        assert.isUndefined(yield* Runner.run(p, "u"))
      }
      assert.strictEqual(yield* Ref.get(calls), 2)
    }))

  it.effect("entries expire after the TTL (TestClock)", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const p = counted(calls, (q) => q).pipe(Cache.policy({ ttl: "10 seconds" }))
      yield* Runner.run(p, "a")
      yield* TestClock.adjust("9999 millis")
      yield* Runner.run(p, "a")
      assert.strictEqual(yield* Ref.get(calls), 1)
      yield* TestClock.adjust("1 millis")
      yield* Runner.run(p, "a")
      assert.strictEqual(yield* Ref.get(calls), 2)
    }))

  it.effect("the size cap evicts the least recently used entry", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const store = Cache.memoryStore({ maxEntries: 2 })
      const p = counted(calls, (q) => q).pipe(Cache.policy({ store }))
      yield* Runner.run(p, "a")
      yield* Runner.run(p, "b")
      yield* Runner.run(p, "a") // a is now the most recent
      yield* Runner.run(p, "c") // evicts b
      assert.strictEqual(yield* store.size, 2)
      assert.strictEqual(yield* Ref.get(calls), 3)
      yield* Runner.run(p, "a")
      assert.strictEqual(yield* Ref.get(calls), 3, "a survived")
      yield* Runner.run(p, "b")
      assert.strictEqual(yield* Ref.get(calls), 4, "b was evicted")
    }))

  it.effect("failures are not cached unless asked", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const failing = Primitive.make("find", (id: string) =>
        Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.fail(new NotFound({ id }))))
      const plain = failing.pipe(Cache.policy())
      yield* Effect.flip(Runner.run(plain, "x"))
      yield* Effect.flip(Runner.run(plain, "x"))
      assert.strictEqual(yield* Ref.get(calls), 2)
      const caching = failing.pipe(Cache.policy({
        cacheFailures: (e) =>
          (e as NotFound)._tag === "NotFound"
      }))
      const e1 = yield* Effect.flip(Runner.run(caching, "y"))
      const e2 = yield* Effect.flip(Runner.run(caching, "y"))
      assert.strictEqual(yield* Ref.get(calls), 3)
      assert.deepStrictEqual(e1, e2)
    }))

  it.effect.prop(
    "property: single-flight runs the underlying call once for any number of concurrent identical calls",
    { callers: FastCheck.integer({ min: 1, max: 50 }), keys: FastCheck.integer({ min: 1, max: 4 }) },
    ({ callers, keys }) =>
      Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const step = Primitive.make("slow", (k: string) =>
          Effect.as(Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.sleep("1 second")), `v-${k}`))
        const p = step.pipe(Cache.policy())
        const fibers = yield* Effect.forEach(
          Array.from({ length: callers }, (_, i) =>
            `k${i % keys}`),
          (k) => Effect.fork(Runner.run(p, k))
        )
        yield* Effect.yieldNow()
        yield* TestClock.adjust("1 second")
        const outs = yield* Effect.forEach(fibers, Fiber.join)
        assert.deepStrictEqual(
          outs,
          Array.from({ length: callers }, (_, i) => `v-k${i % keys}`)
        )
        assert.strictEqual(yield* Ref.get(calls), Math.min(callers, keys))
      }),
    { fastCheck: { numRuns: 50 } }
  )

  it.effect("single-flight: if the running call is interrupted, a waiting caller takes over", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const step = Primitive.make(
        "slow",
        (_: string) =>
          Effect.zipRight(
            Ref.update(calls, (n) => n + 1),
            Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Effect.sleep("1 second"), "v"))
          )
      )
      const p = step.pipe(Cache.policy())
      const leader = yield* Effect.fork(Runner.run(p, "k"))
      yield* Deferred.await(started)
      const follower = yield* Effect.fork(Runner.run(p, "k"))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(leader)
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(follower), "v")
      assert.strictEqual(yield* Ref.get(calls), 2)
    }))

  it.effect("a failing store degrades to computing; the call does not fail", () =>
    Effect.gen(function*() {
      const broken: Cache.Store = {
        name: "broken",
        get: () => Effect.fail(new StoreError({ store: "broken", operation: "get", cause: new Error("down") })),
        set: () => Effect.fail(new StoreError({ store: "broken", operation: "set", cause: new Error("down") })),
        delete: () => Effect.void
      }
      const calls = yield* Ref.make(0)
      const p = counted(calls, (q) => q).pipe(Cache.policy({ store: broken }))
      const { exit, spans } = yield* withSpans(Runner.run(p, "a"))
      assert.deepStrictEqual(exit, Exit.succeed("a"))
      assert.sameMembers(byName(spans, "cache(lookup)").events.map((e) => e.name), [
        "braid.cache.store_error",
        "braid.cache.store_error"
      ])
    }))

  it.effect("Cache.effect and a shared cache", () =>
    Effect.gen(function*() {
      const cache = Cache.make({ name: "shared" })
      let n = 0
      const compute = Effect.sync(() => ++n)
      assert.strictEqual(yield* Cache.effect(compute, "x", cache), 1)
      assert.strictEqual(yield* Cache.effect(compute, "x", cache), 1)
      yield* cache.invalidate("x")
      assert.strictEqual(yield* Cache.effect(compute, "x", cache), 2)
    }))

  storeSuite("memory store", () => Effect.succeed(Cache.memoryStore()), (self) => self, false)

  it.effect("a key that is not a string runs the call uncached (event key); the default key of an unencodable input too", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const p = counted(calls, (q) => q).pipe(Cache.policy({ name: "badkey", key: () => 42 as never }))
      const { exit, events } = yield* storeErrors(Runner.run(p, "a"), "badkey")
      assert.deepStrictEqual(exit, Exit.succeed("a"))
      assert.deepStrictEqual(events, [["key", "TypeError"]])
      const big = Primitive.make("big", (n: { readonly n: bigint }) => Effect.as(Ref.update(calls, (c) => c + 1), n.n))
        .pipe(Cache.policy({ name: "bigkey" }))
      const second = yield* storeErrors(Runner.run(big, { n: 1n }), "bigkey")
      assert.deepStrictEqual(second.exit, Exit.succeed(1n))
      assert.deepStrictEqual(second.events, [["key", "JsonError"]])
      yield* Runner.run(big, { n: 1n })
      assert.strictEqual(yield* Ref.get(calls), 3, "neither was cached")
      const lost = yield* Metric.value(
        Metric.tagged(
          Metric.tagged(Metrics.cacheStoreErrors, Attributes.Resilience.cacheName, "bigkey"),
          Attributes.Resilience.cacheOperation,
          "key"
        )
      )
      assert.strictEqual(lost.count, 2)
    }))

  it.effect.prop(
    "property: any input (BigInt, cycles, symbols, __proto__ keys, deep nesting) is cached under its JSON text or run uncached; the call never fails",
    {
      input: FastCheck.oneof(
        FastCheck.anything({
          withBigInt: true,
          withNullPrototype: true,
          withBoxedValues: true,
          withMap: true,
          withSet: true,
          withSparseArray: true,
          withTypedArray: true,
          withDate: true
        }),
        FastCheck.constantFrom<unknown>(
          Number.NaN,
          Symbol("s"),
          JSON.parse("{\"__proto__\": {\"x\": 1}}"),
          JSON.parse("[".repeat(2000) + "]".repeat(2000)),
          (() => {
            const c: Array<unknown> = []
            c.push(c)
            return c
          })()
        )
      )
    },
    ({ input }) =>
      Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const p = Primitive.make("any", (_: unknown) => Effect.as(Ref.update(calls, (n) => n + 1), "ok")).pipe(
          Cache.policy()
        )
        assert.deepStrictEqual(yield* Effect.exit(Runner.run(p, input)), Exit.succeed("ok"))
        assert.deepStrictEqual(yield* Effect.exit(Runner.run(p, input)), Exit.succeed("ok"))
        const keyable = input === undefined || Either.isRight(Json.encode(input))
        assert.strictEqual(yield* Ref.get(calls), keyable ? 1 : 2)
      }),
    { fastCheck: { numRuns: 80 } }
  )

  it("Cache.decode never throws: any text is an entry or a JsonError", () =>
    FastCheck.assert(
      FastCheck.property(
        FastCheck.oneof(FastCheck.string(), FastCheck.json(), FastCheck.constantFrom(...corrupted)),
        (text) => {
          const entry = Cache.decode(text)
          if (Either.isRight(entry)) assert.include(["success", "failure"], entry.right._tag)
          else assert.strictEqual(entry.left._tag, "JsonError")
        }
      )
    ))

  describe("options are checked where they are given (an InvalidOption naming the option)", () => {
    it("Cache.make, Cache.policy and the stores", () => {
      const step = Primitive.make("s", (n: number) => Effect.succeed(n))
      assert.throws(
        () => Cache.make({ name: "" }),
        Errors.InvalidOption,
        "Cache.make: option name must be a non-empty string"
      )
      assert.throws(
        () => Cache.make({ name: "c", ttl: 0 }),
        Errors.InvalidOption,
        "c: option ttl must be a finite duration > 0"
      )
      assert.throws(
        () => Cache.make({ name: "c", ttl: -5 }),
        Errors.InvalidOption,
        "c: option ttl must be a finite duration > 0"
      )
      assert.throws(
        () => Cache.make({ name: "c", ttl: Number.POSITIVE_INFINITY }),
        Errors.InvalidOption,
        "c: option ttl must be a finite duration > 0"
      )
      assert.throws(
        () => Cache.make({ name: "c", ttl: "a while" as never }),
        Errors.InvalidOption,
        "c: option ttl must be a finite duration > 0"
      )
      assert.throws(
        () => Cache.make({ name: "c", maxEntries: 0 }),
        Errors.InvalidOption,
        "c: option maxEntries must be an integer >= 1"
      )
      assert.throws(
        () => Cache.make({ name: "c", maxEntries: 2.5 }),
        Errors.InvalidOption,
        "c: option maxEntries must be an integer >= 1"
      )
      assert.throws(() => Cache.make({ name: "c", maxEntries: Number.NaN }), Errors.InvalidOption, "(got NaN)")
      assert.throws(
        () => Cache.make({ name: "c", store: Cache.memoryStore(), maxEntries: 5 }),
        Errors.InvalidOption,
        "c: option maxEntries sizes the default memory store"
      )
      assert.throws(
        () => Cache.make({ name: "c", store: {} as never }),
        Errors.InvalidOption,
        "c: option store must be a Cache.Store"
      )
      assert.throws(
        () => Cache.make({ name: "c", cacheFailures: "yes" as never }),
        Errors.InvalidOption,
        "c: option cacheFailures must be a boolean or a predicate"
      )
      assert.throws(
        () => Cache.make({ name: "c", schema: {} as never }),
        Errors.InvalidOption,
        "c: option schema must be a Schema"
      )
      assert.throws(
        () => Cache.make({ name: "c", errorSchema: 1 as never }),
        Errors.InvalidOption,
        "c: option errorSchema must be a Schema"
      )
      assert.throws(
        () => step.pipe(Cache.policy({ ttl: "-1 seconds" })),
        Errors.InvalidOption,
        "cache(s): option ttl must be a finite duration > 0"
      )
      assert.throws(
        () => step.pipe(Cache.policy({ ttl: "forever" as never })),
        Errors.InvalidOption,
        "cache(s): option ttl must be a finite duration > 0"
      )
      assert.throws(
        () => step.pipe(Cache.policy({ key: "id" as never })),
        Errors.InvalidOption,
        "cache(s): option key must be a function of the input"
      )
      assert.throws(
        () => Cache.memoryStore({ maxEntries: -1 }),
        Errors.InvalidOption,
        "Cache.memoryStore: option maxEntries must be an integer >= 1"
      )
    })

    it("property: maxEntries is accepted exactly when it is a safe integer >= 1", () =>
      FastCheck.assert(FastCheck.property(
        FastCheck.oneof(
          FastCheck.double(),
          FastCheck.integer({ min: -3, max: 5000 }),
          FastCheck.bigInt(),
          FastCheck.string(),
          FastCheck.constant(null)
        ),
        (maxEntries) => {
          const ok = typeof maxEntries === "number" && Number.isSafeInteger(maxEntries) && maxEntries >= 1
          for (
            const build of [
              () => Cache.make({ name: "c", maxEntries: maxEntries as number }),
              () => Cache.memoryStore({ maxEntries: maxEntries as number })
            ]
          ) {
            if (ok) build()
            else assert.throws(build, Errors.InvalidOption, "option maxEntries must be an integer >= 1")
          }
        }
      )))
  })
})
