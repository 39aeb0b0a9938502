import { Runner, Sql } from "@braid/core"
import { Cache, Errors } from "@braid/resilience"
import { SqliteCache, SqliteDriver } from "@braid/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, FastCheck, Option, Ref } from "effect"
import { corrupted, counted, storeErrors, storeSuite } from "../../resilience/test/cacheConformance.js"

describe("SqliteCache", () => {
  storeSuite(
    "SQLite store",
    () => SqliteCache.store({ table: `cache_${Math.random().toString(36).slice(2)}` }),
    (self) => Effect.provide(self, SqliteDriver.layer({ filename: ":memory:" })),
    true
  )

  it.effect("SQLite store: TTL and least-recently-used size cap", () =>
    Effect.gen(function*() {
      const store = yield* SqliteCache.store({ maxEntries: 2 })
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
    }).pipe(Effect.provide(SqliteDriver.layer({ filename: ":memory:" }))))

  it.effect("SQLite store: least-recently-used holds with the clock frozen over more than 2,000 operations (TestClock)", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const store = yield* SqliteCache.store({ maxEntries: 2 })
      const p = counted(calls, (q) => q).pipe(Cache.policy({ store }))
      // the clock never moves: every recency stamp is made in the same millisecond
      const now = yield* Clock.currentTimeMillis
      for (let i = 0; i < 1050; i++) {
        yield* store.set(`k${i}`, { _tag: "success", value: i }, undefined, now)
        // the entry just written is the most recent one: it survived its own write
        assert.deepStrictEqual(
          yield* store.get(`k${i}`, now),
          Option.some({ _tag: "success", value: i } as const),
          `k${i}`
        )
      }
      // and the order of reads decides which entry goes
      yield* Runner.run(p, "a")
      yield* Runner.run(p, "b")
      yield* Runner.run(p, "a") // a is now the most recent
      yield* Runner.run(p, "c") // evicts b
      const before = yield* Ref.get(calls)
      yield* Runner.run(p, "a")
      yield* Runner.run(p, "c")
      assert.strictEqual(yield* Ref.get(calls), before, "a and c are cached")
      yield* Runner.run(p, "b")
      assert.strictEqual(yield* Ref.get(calls), before + 1, "b was evicted")
    }).pipe(Effect.provide(SqliteDriver.layer({ filename: ":memory:" }))))

  it.effect("SQLite store: a corrupted or foreign entry is a miss (event get), never a defect; the value replaces it", () =>
    Effect.gen(function*() {
      const sql = yield* Sql.SqlDriver
      const table = `cache_${Math.random().toString(36).slice(2)}`
      const cache = Cache.make({ name: "corrupt", store: yield* SqliteCache.store({ table, maxEntries: 10 }) })
      for (const value of [...corrupted, 42]) {
        yield* sql.execute(`DELETE FROM ${table}`)
        yield* sql.execute(`INSERT INTO ${table} (key, value, expires_at, last_used) VALUES ('k', ?, NULL, 1)`, [value])
        const { exit, events } = yield* storeErrors(
          Effect.withSpan(cache.get("k", Effect.succeed("fresh")), "outer"),
          "outer"
        )
        assert.deepStrictEqual(exit, Exit.succeed("fresh"), String(value).slice(0, 30))
        assert.strictEqual(events.length, 1)
        assert.strictEqual(events[0]![0], "get")
        assert.strictEqual(yield* cache.get("k", Effect.die("not called")), "fresh")
      }
    }).pipe(Effect.provide(SqliteDriver.layer({ filename: ":memory:" }))))

  it.effect("SQLite store: any table name is quoted as an identifier (spaces, quotes, SQL keywords)", () =>
    Effect.gen(function*() {
      for (const table of ["my cache", "it's \"quoted\"", "select"]) {
        const store = yield* SqliteCache.store({ table, maxEntries: 2 })
        yield* store.set("k", { _tag: "success", value: table }, undefined, 0)
        assert.deepStrictEqual(yield* store.get("k", 1), Option.some({ _tag: "success", value: table } as const))
        yield* store.delete("k")
        assert.isTrue(Option.isNone(yield* store.get("k", 1)))
      }
      const sql = yield* Sql.SqlDriver
      const tables = (yield* sql.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).map((r) =>
        r.name
      )
      assert.includeMembers(tables, ["it's \"quoted\"", "my cache", "select"])
    }).pipe(Effect.provide(SqliteDriver.layer({ filename: ":memory:" }))))

  it("options are checked where the store is built (an InvalidOption naming the option)", () => {
    assert.throws(
      () => SqliteCache.store({ maxEntries: 1.5 }),
      Errors.InvalidOption,
      "SqliteCache.store: option maxEntries must be an integer >= 1"
    )
    assert.throws(
      () => SqliteCache.store({ table: "" }),
      Errors.InvalidOption,
      "SqliteCache.store: option table must be a non-empty string"
    )
    assert.throws(
      () => SqliteCache.store({ timeout: 0 }),
      Errors.InvalidOption,
      "SqliteCache.store: option timeout must be a finite duration > 0"
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
        const build = () => SqliteCache.store({ maxEntries: maxEntries as number })
        if (ok) build()
        else assert.throws(build, Errors.InvalidOption, "option maxEntries must be an integer >= 1")
      }
    )))
})
