import { Sql } from "@braid/core"
import { SqliteDriver } from "@braid/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, TestClock } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"

/** better-sqlite3 itself (it ships no types): a second connection, from outside the driver. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  exec(sql: string): void
  close(): void
}

const dir = mkdtempSync(join(tmpdir(), "braid-sqlite-driver-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const memory = SqliteDriver.layer({ filename: ":memory:" })
const withTable = (driver: Sql.Driver) =>
  driver.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, flag INTEGER)")
const names = (driver: Sql.Driver) =>
  Effect.map(driver.query("SELECT name FROM t ORDER BY id"), (rows) => rows.map((r) => r.name))

describe("SqliteDriver", () => {
  it.effect("? placeholders bind in order; booleans are stored as 0/1, null as NULL; execute counts changed rows", () =>
    Effect.gen(function*() {
      const driver = yield* Sql.SqlDriver
      assert.strictEqual(driver.dialect, "sqlite")
      yield* withTable(driver)
      assert.strictEqual(yield* driver.execute("INSERT INTO t (name, flag) VALUES (?, ?)", ["a", true]), 1)
      assert.strictEqual(yield* driver.execute("INSERT INTO t (name, flag) VALUES (?, ?)", ["b", false]), 1)
      assert.strictEqual(yield* driver.execute("INSERT INTO t (name, flag) VALUES (?, ?)", ["c?", null]), 1)
      assert.deepStrictEqual(
        yield* driver.query("SELECT name, flag FROM t WHERE name <> ? ORDER BY id", ["b"]),
        [{ name: "a", flag: 1 }, { name: "c?", flag: null }]
      )
      assert.strictEqual(yield* driver.execute("UPDATE t SET flag = ? WHERE flag IS NOT NULL", [7]), 2)
      // a statement that returns no rows through query: it runs, no rows
      assert.deepStrictEqual(yield* driver.query("DELETE FROM t WHERE name = ?", ["c?"]), [])
      assert.deepStrictEqual(yield* names(driver), ["a", "b"])
      // RETURNING through query gives the rows
      assert.deepStrictEqual(
        yield* driver.query("INSERT INTO t (name) VALUES (?) RETURNING id, name", ["d"]),
        [{ id: 3, name: "d" }] // the deleted row's id is reused (no AUTOINCREMENT)
      )
    }).pipe(Effect.provide(memory)))

  it.effect("a query ending in LIMIT 1 gives its one row or none, like any query; other limits and comments are read whole", () =>
    Effect.gen(function*() {
      const driver = yield* Sql.SqlDriver
      yield* withTable(driver)
      for (const name of ["a", "b", "c"]) yield* driver.execute("INSERT INTO t (name) VALUES (?)", [name])
      assert.deepStrictEqual(yield* driver.query("SELECT name FROM t ORDER BY id LIMIT 1"), [{ name: "a" }])
      assert.deepStrictEqual(yield* driver.query("SELECT name FROM t WHERE name = ? limit 1;", ["c"]), [{ name: "c" }])
      assert.deepStrictEqual(yield* driver.query("SELECT name FROM t WHERE name = ? LIMIT 1", ["z"]), [])
      assert.deepStrictEqual(
        (yield* driver.query("SELECT name FROM t ORDER BY id LIMIT 10")).map((r) => r.name),
        ["a", "b", "c"]
      )
      assert.deepStrictEqual(
        (yield* driver.query("SELECT name FROM t ORDER BY id -- LIMIT 1")).map((r) => r.name),
        ["a", "b", "c"]
      )
      assert.deepStrictEqual(
        (yield* driver.query("SELECT name FROM t WHERE id IN (SELECT id FROM t ORDER BY id DESC LIMIT 1)")).map((r) =>
          r.name
        ),
        ["c"]
      )
    }).pipe(Effect.provide(memory)))

  it.effect("a bad statement or the wrong number of parameters is a typed SqlFailure with SQLite's message", () =>
    Effect.gen(function*() {
      const driver = yield* Sql.SqlDriver
      const missing = yield* Effect.flip(driver.query("SELECT * FROM nowhere"))
      assert.instanceOf(missing, Sql.SqlFailure)
      assert.include(missing.message, "no such table: nowhere")
      yield* withTable(driver)
      const params = yield* Effect.flip(driver.execute("INSERT INTO t (name) VALUES (?)", ["x", "y"]))
      assert.strictEqual(params._tag, "SqlFailure")
      const constraint = yield* Effect.flip(driver.execute("INSERT INTO t (name) VALUES (?)", [null]))
      assert.include(constraint.message, "NOT NULL")
      assert.include(constraint.message, "SQLITE_CONSTRAINT")
      assert.notInclude(constraint.message, "secret-param")
      const secret = yield* Effect.flip(driver.execute("INSERT INTO t (id, name) VALUES (1, ?), (1, ?)", [
        "secret-param",
        "secret-param"
      ]))
      assert.notInclude(secret.message, "secret-param", "parameters never appear in a failure")
    }).pipe(Effect.provide(memory)))

  it.effect("transaction: committed when the body succeeds, rolled back when it fails", () =>
    Effect.gen(function*() {
      const driver = yield* Sql.SqlDriver
      yield* withTable(driver)
      const n = yield* driver.transaction((tx) =>
        Effect.gen(function*() {
          yield* tx.execute("INSERT INTO t (name) VALUES (?)", ["kept"])
          return yield* tx.execute("INSERT INTO t (name) VALUES (?)", ["kept too"])
        })
      )
      assert.strictEqual(n, 1)
      const failed = yield* Effect.flip(driver.transaction((tx) =>
        Effect.gen(function*() {
          yield* tx.execute("INSERT INTO t (name) VALUES (?)", ["lost"])
          return yield* Effect.fail("the body's own error" as const)
        })
      ))
      assert.strictEqual(failed, "the body's own error")
      // a failing statement inside rolls back what came before it
      const sqlFailed = yield* Effect.flip(driver.transaction((tx) =>
        Effect.zipRight(
          tx.execute("INSERT INTO t (name) VALUES (?)", ["lost"]),
          tx.execute("INSERT INTO t (name) VALUES (?)", [null])
        )
      ))
      assert.strictEqual(sqlFailed._tag, "SqlFailure")
      // a defect too, and a body that throws instead of returning an Effect (in a savepoint as well)
      const died = yield* Effect.exit(driver.transaction((tx) =>
        Effect.zipRight(tx.execute("INSERT INTO t (name) VALUES (?)", ["lost"]), Effect.die("boom"))
      ))
      assert.isTrue(Exit.isFailure(died) && Cause.isDie(died.cause))
      const thrown = yield* Effect.exit(driver.transaction((): Effect.Effect<void> => {
        throw new Error("not an Effect")
      }))
      assert.isTrue(Exit.isFailure(thrown) && Cause.isDie(thrown.cause))
      const thrownInside = yield* Effect.exit(driver.transaction((tx) =>
        Effect.zipRight(
          tx.execute("INSERT INTO t (name) VALUES (?)", ["lost"]),
          tx.transaction((): Effect.Effect<void> => {
            throw new Error("not an Effect")
          })
        )
      ))
      assert.isTrue(Exit.isFailure(thrownInside) && Cause.isDie(thrownInside.cause))
      assert.deepStrictEqual(yield* names(driver), ["kept", "kept too"])
      // and the connection is usable after each
      assert.strictEqual(yield* driver.execute("INSERT INTO t (name) VALUES (?)", ["after"]), 1)
    }).pipe(Effect.provide(memory)))

  it.effect("transaction: an interrupted body is rolled back, and other fibers' statements wait for the transaction to end", () =>
    Effect.gen(function*() {
      const driver = yield* Sql.SqlDriver
      yield* withTable(driver)
      const inside = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(driver.transaction((tx) =>
        Effect.zipRight(
          tx.execute("INSERT INTO t (name) VALUES (?)", ["interrupted"]),
          Effect.zipRight(Deferred.succeed(inside, undefined), Effect.never)
        )
      ))
      yield* Deferred.await(inside)
      // another fiber's write waits: it would otherwise run inside the open transaction
      const outside = yield* Effect.fork(driver.execute("INSERT INTO t (name) VALUES (?)", ["outside"]))
      yield* Effect.yieldNow()
      assert.isNull(outside.unsafePoll(), "waits while the transaction is open")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* Fiber.join(outside), 1)
      assert.deepStrictEqual(yield* names(driver), ["outside"])
    }).pipe(Effect.provide(memory)))

  it.effect("waiting for another fiber's transaction is bounded by the store call's deadline, else by the busy timeout (TestClock)", () =>
    Effect.gen(function*() {
      const driver = yield* SqliteDriver.make({ filename: ":memory:", busyTimeout: "3 seconds" })
      yield* withTable(driver)
      const inside = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(
        driver.transaction(() => Effect.zipRight(Deferred.succeed(inside, undefined), Effect.never))
      )
      yield* Deferred.await(inside)
      const bounded = yield* Effect.fork(
        driver.execute("INSERT INTO t (name) VALUES ('late')").pipe(Sql.bounded("1 second"), Effect.flip)
      )
      const unbounded = yield* Effect.fork(Effect.flip(driver.query("SELECT name FROM t")))
      const tx = yield* Effect.fork(
        Effect.flip(
          driver.transaction((tx) => tx.execute("INSERT INTO t (name) VALUES ('x')")).pipe(Sql.bounded("2 seconds"))
        )
      )
      yield* TestClock.adjust("1 second")
      const first = yield* Fiber.join(bounded)
      assert.strictEqual(first.reason, "Timeout")
      assert.strictEqual(first.message, "no answer within 1000 ms")
      assert.isNull(unbounded.unsafePoll())
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(tx)).reason, "Timeout")
      yield* TestClock.adjust("1 second")
      const third = yield* Fiber.join(unbounded)
      assert.strictEqual(third.reason, "Timeout", "the busy timeout bounds a wait outside any store call")
      yield* Fiber.interrupt(holder)
      // the connection is free again; the timed-out waiters left nothing behind
      assert.strictEqual(yield* driver.execute("INSERT INTO t (name) VALUES ('now')"), 1)
      assert.deepStrictEqual(yield* names(driver), ["now"])
    }).pipe(Effect.scoped))

  it.effect("transaction: inside one, a transaction is a savepoint; the body's own statements and its children's on tx go through", () =>
    Effect.gen(function*() {
      const driver = yield* Sql.SqlDriver
      yield* withTable(driver)
      yield* driver.transaction((tx) =>
        Effect.gen(function*() {
          yield* tx.execute("INSERT INTO t (name) VALUES (?)", ["outer"])
          const inner = yield* Effect.flip(tx.transaction((inner) =>
            Effect.zipRight(inner.execute("INSERT INTO t (name) VALUES (?)", ["inner lost"]), Effect.fail("no"))
          ))
          assert.strictEqual(inner, "no")
          yield* tx.transaction((inner) =>
            inner.execute("INSERT INTO t (name) VALUES (?)", ["inner kept"])
          )
          // the outer driver, used by mistake in the body's own fiber, does not deadlock
          yield* driver.execute("INSERT INTO t (name) VALUES (?)", ["via outer"])
          // nor does the outer driver's transaction there: a savepoint too
          yield* driver.transaction((inner) => inner.execute("INSERT INTO t (name) VALUES (?)", ["outer nested"]))
          // a forked fiber's statements on tx, and its savepoints
          yield* Effect.forkScoped(Effect.zipRight(
            tx.execute("INSERT INTO t (name) VALUES (?)", ["child"]),
            tx.transaction((inner) => inner.execute("INSERT INTO t (name) VALUES (?)", ["child nested"]))
          )).pipe(
            Effect.flatMap(Fiber.join),
            Effect.scoped
          )
        })
      )
      assert.deepStrictEqual(yield* names(driver), [
        "outer",
        "inner kept",
        "via outer",
        "outer nested",
        "child",
        "child nested"
      ])
    }).pipe(Effect.provide(memory)))

  it.effect("statement cache: bounded, and each cached statement answers for its own text and parameters", () =>
    Effect.gen(function*() {
      const driver = yield* SqliteDriver.make({ filename: ":memory:", statementCacheSize: 2 })
      yield* withTable(driver)
      for (const name of ["a", "b", "c"]) yield* driver.execute("INSERT INTO t (name) VALUES (?)", [name])
      const texts = [
        "SELECT name FROM t WHERE name = ?",
        "SELECT upper(name) AS name FROM t WHERE name = ?",
        "SELECT name || name AS name FROM t WHERE name = ?"
      ]
      // more texts than the cache holds, in turn, many times: every answer is its own text's
      for (let round = 0; round < 5; round++) {
        for (const name of ["a", "b", "c"]) {
          assert.deepStrictEqual(
            (yield* Effect.forEach(texts, (text) => driver.query(text, [name]))).map((rows) => rows[0]?.name),
            [name, name.toUpperCase(), name + name]
          )
        }
      }
      // a statement cached before a schema change sees the new schema
      const star = "SELECT * FROM t WHERE name = ?"
      assert.deepStrictEqual(Object.keys((yield* driver.query(star, ["a"]))[0]!), ["id", "name", "flag"])
      yield* driver.execute("ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'x'")
      assert.deepStrictEqual(yield* driver.query(star, ["a"]), [{ id: 1, name: "a", flag: null, extra: "x" }])
      const bad = yield* Effect.flip(SqliteDriver.make({ filename: ":memory:", statementCacheSize: 0 }))
      assert.include(bad.message, "statementCacheSize")
    }).pipe(Effect.scoped))

  it.effect("a database locked by another connection is a typed failure within the busy timeout", () =>
    Effect.gen(function*() {
      const filename = join(dir, "locked.db")
      const driver = yield* SqliteDriver.make({ filename, busyTimeout: "100 millis" })
      yield* withTable(driver)
      const other = new Database(filename)
      other.exec("BEGIN IMMEDIATE")
      try {
        const locked = yield* Effect.flip(driver.execute("INSERT INTO t (name) VALUES (?)", ["x"]))
        assert.strictEqual(locked._tag, "SqlFailure")
        assert.include(locked.message, "database is locked")
        const tx = yield* Effect.flip(driver.transaction((tx) => tx.execute("INSERT INTO t (name) VALUES ('y')")))
        assert.include(tx.message, "SQLITE_BUSY")
        // reads go on under WAL
        assert.deepStrictEqual(yield* names(driver), [])
      } finally {
        other.exec("ROLLBACK")
        other.close()
      }
      // the lock gone, the same driver writes again (the failed transaction left nothing open)
      assert.strictEqual(yield* driver.execute("INSERT INTO t (name) VALUES (?)", ["x"]), 1)
    }).pipe(Effect.scoped))

  it.effect("a file that is not a database, or cannot be opened, is a typed failure when the layer is built", () =>
    Effect.gen(function*() {
      const corrupt = join(dir, "corrupt.db")
      writeFileSync(corrupt, "this is not a SQLite database, it is text long enough to fill a header".repeat(20))
      const notDb = yield* Effect.flip(Layer.build(SqliteDriver.layer({ filename: corrupt })).pipe(Effect.scoped))
      assert.instanceOf(notDb, Sql.SqlFailure)
      assert.include(notDb.message, "not a database")
      const directory = yield* Effect.flip(Effect.scoped(SqliteDriver.make({ filename: dir })))
      assert.strictEqual(directory._tag, "SqlFailure")
      const noDir = yield* Effect.flip(Effect.scoped(SqliteDriver.make({ filename: join(dir, "no", "such", "x.db") })))
      assert.strictEqual(noDir._tag, "SqlFailure")
      const readonlyMissing = yield* Effect.flip(
        Effect.scoped(SqliteDriver.make({ filename: join(dir, "missing.db"), readonly: true }))
      )
      assert.strictEqual(readonlyMissing._tag, "SqlFailure")
    }))

  it.effect("the database closes with the scope; a file's rows survive a reopen; WAL journal", () =>
    Effect.gen(function*() {
      const filename = join(dir, "reopen.db")
      const escaped = yield* Effect.scoped(Effect.gen(function*() {
        const driver = yield* SqliteDriver.make({ filename })
        yield* withTable(driver)
        yield* driver.execute("INSERT INTO t (name) VALUES (?)", ["persisted"])
        assert.deepStrictEqual(yield* driver.query("PRAGMA journal_mode"), [{ journal_mode: "wal" }])
        return driver
      }))
      const closed = yield* Effect.flip(escaped.query("SELECT 1"))
      assert.include(closed.message, "not open")
      const ro = yield* Effect.scoped(
        Effect.flatMap(
          SqliteDriver.make({ filename, readonly: true }),
          (driver) => Effect.zip(names(driver), Effect.flip(driver.execute("INSERT INTO t (name) VALUES ('no')")))
        )
      )
      assert.deepStrictEqual(ro[0], ["persisted"])
      assert.include(ro[1].message, "readonly")
    }))
})
