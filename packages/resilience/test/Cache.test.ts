import { afterAll, assert, describe, it } from "@effect/vitest"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Data, Deferred, Effect, Exit, Fiber, FastCheck, Option, Ref, TestClock } from "effect"
import { Primitive, Runner } from "@braid/core"
import { Cache, StoreError } from "@braid/resilience"
import { byName, describeWith, redisTestClients, withSpans } from "@braid/testing"

class NotFound extends Data.TaggedError("NotFound")<{ readonly id: string }> {}

/** A step that counts its runs and returns what `reply` gives. */
const counted = <A>(calls: Ref.Ref<number>, reply: (input: string) => A) =>
  Primitive.make("lookup", (input: string) => Effect.as(Ref.update(calls, (n) => n + 1), reply(input)))

const storeSuite = <R>(
  label: string,
  makeStore: () => Effect.Effect<Cache.Store, unknown, R>,
  provide: <A, E>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, never>
) => {
  describe(label, () => {
    it.effect("round-trips every value, null and undefined included", () =>
      provide(Effect.gen(function*() {
        const store = yield* makeStore()
        const values: ReadonlyArray<unknown> = [undefined, null, 0, "", false, "text", { a: [1, null, "x"] }, [1, 2]]
        for (let i = 0; i < values.length; i++) yield* store.set(`k${i}`, { _tag: "success", value: values[i] }, undefined, 0)
        for (let i = 0; i < values.length; i++) {
          const found = yield* store.get(`k${i}`, 0)
          assert.isTrue(Option.isSome(found), `k${i} was stored`)
          assert.deepStrictEqual(Option.getOrThrow(found), { _tag: "success", value: values[i] })
        }
        assert.isTrue(Option.isNone(yield* store.get("missing", 0)))
        yield* store.delete("k0")
        assert.isTrue(Option.isNone(yield* store.get("k0", 0)))
      })))

    it.effect("a cached undefined is a hit: the step runs once", () =>
      provide(Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const p = counted(calls, () => undefined).pipe(Cache.policy({ store: yield* makeStore() }))
        assert.isUndefined(yield* Runner.run(p, "a"))
        assert.isUndefined(yield* Runner.run(p, "a"))
        assert.strictEqual(yield* Ref.get(calls), 1)
      })))
  })
}

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
      assert.strictEqual(span.attributes["cache.hit"], true)
      assert.strictEqual(span.attributes["cache.key"], "hello")
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
      const failing = Primitive.make("find", (id: string) => Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.fail(new NotFound({ id }))))
      const plain = failing.pipe(Cache.policy())
      yield* Effect.flip(Runner.run(plain, "x"))
      yield* Effect.flip(Runner.run(plain, "x"))
      assert.strictEqual(yield* Ref.get(calls), 2)
      const caching = failing.pipe(Cache.policy({ cacheFailures: (e) => (e as NotFound)._tag === "NotFound" }))
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
        const step = Primitive.make("slow", (k: string) => Effect.as(Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.sleep("1 second")), `v-${k}`))
        const p = step.pipe(Cache.policy())
        const fibers = yield* Effect.forEach(Array.from({ length: callers }, (_, i) => `k${i % keys}`), (k) => Effect.fork(Runner.run(p, k)))
        yield* Effect.yieldNow()
        yield* TestClock.adjust("1 second")
        const outs = yield* Effect.forEach(fibers, Fiber.join)
        assert.deepStrictEqual(outs, Array.from({ length: callers }, (_, i) => `v-k${i % keys}`))
        assert.strictEqual(yield* Ref.get(calls), Math.min(callers, keys))
      }),
    { fastCheck: { numRuns: 50 } }
  )

  it.effect("single-flight: if the running call is interrupted, a waiting caller takes over", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const step = Primitive.make("slow", (_: string) =>
        Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Effect.sleep("1 second"), "v"))))
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
      assert.sameMembers(byName(spans, "cache(lookup)").events.map((e) => e.name), ["cache.store_error", "cache.store_error"])
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

  storeSuite("memory store", () => Effect.succeed(Cache.memoryStore()), (self) => self)

  storeSuite(
    "SQLite store",
    () => Cache.sqliteStore({ table: `cache_${Math.random().toString(36).slice(2)}` }),
    (self) => Effect.provide(self, SqliteClient.layer({ filename: ":memory:" }))
  )

  it.effect("SQLite store: TTL and least-recently-used size cap", () =>
    Effect.gen(function*() {
      const store = yield* Cache.sqliteStore({ maxEntries: 2 })
      yield* store.set("a", { _tag: "success", value: 1 }, 1000, 0)
      assert.isTrue(Option.isSome(yield* store.get("a", 999)))
      assert.isTrue(Option.isNone(yield* store.get("a", 1000)), "expired")
      yield* store.set("a", { _tag: "success", value: 1 }, undefined, 1)
      yield* store.set("b", { _tag: "success", value: 2 }, undefined, 2)
      yield* store.get("a", 3)
      yield* store.set("c", { _tag: "success", value: 3 }, undefined, 4)
      assert.isTrue(Option.isSome(yield* store.get("a", 5)))
      assert.isTrue(Option.isNone(yield* store.get("b", 5)), "b was least recently used")
      assert.isTrue(Option.isSome(yield* store.get("c", 5)))
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" }))))
})

const describeRedis = await describeWith("redis")

describeRedis("Cache (Redis store, real Redis)", () => {
  const { cleanup, client, prefix } = redisTestClients()
  afterAll(cleanup)

  let n = 0
  storeSuite("Redis store", () => Effect.succeed(Cache.redisStore(client(), { prefix: `${prefix}${++n}:` })), (self) => self)

  it.live("two processes (two clients) share entries; Redis expires them after the TTL", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const shared = `${prefix}shared:`
      const a = counted(calls, (q) => ({ q })).pipe(Cache.policy({ store: Cache.redisStore(client(), { prefix: shared }), ttl: "300 millis" }))
      const b = counted(calls, (q) => ({ q })).pipe(Cache.policy({ store: Cache.redisStore(client(), { prefix: shared }), ttl: "300 millis" }))
      assert.deepStrictEqual(yield* Runner.run(a, "x"), { q: "x" })
      assert.deepStrictEqual(yield* Runner.run(b, "x"), { q: "x" })
      assert.strictEqual(yield* Ref.get(calls), 1)
      yield* Effect.sleep("400 millis")
      yield* Runner.run(b, "x")
      assert.strictEqual(yield* Ref.get(calls), 2)
    }))
})
