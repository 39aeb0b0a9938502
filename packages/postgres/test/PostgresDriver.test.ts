import { Sql } from "@braid/core"
import { PostgresDriver } from "@braid/postgres"
import { DATABASE_URL, describeWith, faultyProxy, silentServer, withPort } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Redacted, Schedule } from "effect"
import type { Duration } from "effect"

/** A failure that is typed (not a defect, not an interruption), with its error. */
const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  assert.isTrue(
    Option.isSome(failure),
    `expected a typed failure, got ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "success"}`
  )
  return (failure as Option.Some<E>).value
}

describe("PostgresDriver.numbered", () => {
  it("numbers ? placeholders, leaving quoted strings, identifiers, dollar-quoted bodies and comments alone", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["SELECT ?", "SELECT $1"],
      ["a = ? AND b = ?", "a = $1 AND b = $2"],
      ["x = '?' AND y = ?", "x = '?' AND y = $1"],
      ["x = 'it''s ?' AND y = ?", "x = 'it''s ?' AND y = $1"],
      [`x = E'\\' ?' AND y = ?`, `x = E'\\' ?' AND y = $1`],
      [`"odd?name" = ?`, `"odd?name" = $1`],
      ["a = ? -- why?\nAND b = ?", "a = $1 -- why?\nAND b = $2"],
      ["a = ? /* ? */ AND b = ?", "a = $1 /* ? */ AND b = $2"],
      ["DO $$ SELECT '?' $$; SELECT ?", "DO $$ SELECT '?' $$; SELECT $1"],
      ["DO $body$ ? $body$, ?", "DO $body$ ? $body$, $1"],
      ["no placeholders", "no placeholders"]
    ]
    for (const [text, expected] of cases) assert.strictEqual(PostgresDriver.numbered(text), expected, text)
  })
})

const describePg = await describeWith("postgres")

describePg("PostgresDriver", () => {
  const table = `braid_driver_t${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  /** A driver of the test's own with one connection: a statement only runs if the one before gave it back. */
  const single = (url: string = DATABASE_URL, timeout: Duration.DurationInput = "5 seconds") =>
    PostgresDriver.make({ url, max: 1, timeout })
  const withTable = <A, E>(body: (driver: Sql.Driver) => Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const driver = yield* single()
      yield* driver.execute(`CREATE TABLE ${table} (id TEXT PRIMARY KEY, n INTEGER)`)
      return yield* body(driver).pipe(Effect.ensuring(Effect.ignore(driver.execute(`DROP TABLE ${table}`))))
    }).pipe(Effect.scoped)
  const ids = (driver: Sql.Driver) =>
    Effect.map(driver.query(`SELECT id FROM ${table} ORDER BY id`), (rows) => rows.map((r) => r["id"]))

  it.live("? placeholders carry their parameters; a ? in a string is text; booleans are 0/1", () =>
    Effect.gen(function*() {
      const driver = yield* single()
      const rows = yield* driver.query("SELECT ?::text AS a, '?' AS b, ?::int AS c, ?::int AS t, ?::int AS f", [
        "x'; DROP TABLE nothing; --",
        7,
        true,
        false
      ])
      assert.deepStrictEqual(rows, [{ a: "x'; DROP TABLE nothing; --", b: "?", c: 7, t: 1, f: 0 }])
    }).pipe(Effect.scoped))

  it.live("a transaction commits; a failed one rolls back and its typed failure passes through; the connection serves on", () =>
    withTable((driver) =>
      Effect.gen(function*() {
        const n = yield* driver.transaction((tx) =>
          Effect.gen(function*() {
            yield* tx.execute(`INSERT INTO ${table} (id, n) VALUES (?, ?), (?, ?)`, ["a", 1, "b", 2])
            return yield* tx.execute(`UPDATE ${table} SET n = n + 1`)
          })
        )
        assert.strictEqual(n, 2)
        const failed = yield* Effect.flip(driver.transaction((tx) =>
          Effect.zipRight(
            tx.execute(`INSERT INTO ${table} (id, n) VALUES (?, ?)`, ["c", 3]),
            Effect.fail("changed my mind" as const)
          )
        ))
        assert.strictEqual(failed, "changed my mind")
        // an SQL error inside is a typed SqlFailure, rolled back too
        const duplicate = yield* Effect.flip(driver.transaction((tx) =>
          Effect.zipRight(
            tx.execute(`INSERT INTO ${table} (id, n) VALUES (?, ?)`, ["d", 4]),
            tx.execute(`INSERT INTO ${table} (id, n) VALUES (?, ?)`, ["a", 5])
          )
        ))
        assert.strictEqual(duplicate._tag, "SqlFailure")
        assert.include(duplicate.message, "duplicate key")
        assert.notInclude(duplicate.message, "(a)") // the failure carries no parameters
        assert.deepStrictEqual(yield* ids(driver), ["a", "b"])
      })
    ))

  it.live("a transaction inside a transaction is a savepoint: its failure rolls back only its own writes", () =>
    withTable((driver) =>
      Effect.gen(function*() {
        yield* driver.transaction((tx) =>
          Effect.gen(function*() {
            yield* tx.execute(`INSERT INTO ${table} (id) VALUES (?)`, ["outer"])
            const inner = yield* Effect.either(
              tx.transaction((inner) =>
                Effect.zipRight(inner.execute(`INSERT INTO ${table} (id) VALUES (?)`, ["inner"]), Effect.fail("no"))
              )
            )
            assert.isTrue(inner._tag === "Left")
            yield* tx.transaction((inner) => inner.execute(`INSERT INTO ${table} (id) VALUES (?)`, ["kept"]))
          })
        )
        assert.deepStrictEqual(yield* ids(driver), ["kept", "outer"])
      })
    ))

  it.live("an interrupted transaction is rolled back and its connection replaced: the pool of one serves on", () =>
    withTable((driver) =>
      Effect.gen(function*() {
        const marker = `braid_marker_${crypto.randomUUID().replace(/-/g, "")}`
        const fiber = yield* Effect.fork(driver.transaction((tx) =>
          Effect.zipRight(
            tx.execute(`INSERT INTO ${table} (id) VALUES (?)`, ["lost"]),
            tx.query(`SELECT pg_sleep(30) AS ${marker}`)
          )
        ))
        yield* Effect.sleep("300 millis")
        assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(fiber)))
        // one connection only: this runs only because the interrupted one was destroyed and replaced
        assert.deepStrictEqual(yield* ids(driver).pipe(Sql.bounded("5 seconds")), [])
        // and the server stopped the statement (its transaction's locks are gone: the table can be dropped)
        yield* cancelled(driver, marker)
      })
    ))

  /** How many server processes still run a statement holding `marker`. */
  const running = (driver: Sql.Driver, marker: string) =>
    Effect.map(
      driver.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE ? AND pid <> pg_backend_pid()",
        [`%${marker}%`]
      ),
      (rows) => rows[0]!["n"] as number
    )
  /** Passes once nothing runs `marker` any more (retried for a few seconds: the cancel runs in the background). */
  const cancelled = (driver: Sql.Driver, marker: string) =>
    Effect.flatMap(running(driver, marker), (n) => n === 0 ? Effect.void : Effect.fail(`${n} still running`)).pipe(
      Effect.retry({ times: 25, schedule: Schedule.spaced("200 millis") })
    )

  it.live("a statement past its call's bound fails with reason Timeout; its connection is destroyed, not returned busy, and the server cancels it", () =>
    Effect.gen(function*() {
      const driver = yield* single()
      const marker = `braid_marker_${crypto.randomUUID().replace(/-/g, "")}`
      const slow = typedFailure(
        yield* Effect.exit(driver.query(`SELECT pg_sleep(30) AS ${marker}`).pipe(Sql.bounded("300 millis")))
      )
      assert.strictEqual(slow._tag, "SqlFailure")
      assert.strictEqual(slow.reason, "Timeout")
      assert.strictEqual(slow.message, "no answer within 300 ms")
      // the one connection was destroyed: the next statement gets a new one instead of waiting 30 s
      assert.deepStrictEqual(yield* driver.query("SELECT 1 AS one").pipe(Sql.bounded("5 seconds")), [{ one: 1 }])
      yield* cancelled(driver, marker)
    }).pipe(Effect.scoped))

  it.live("the bound of a call covers all its statements: a transaction of short statements past it fails, rolled back", () =>
    withTable((driver) =>
      Effect.gen(function*() {
        const error = typedFailure(
          yield* Effect.exit(
            driver.transaction((tx) =>
              Effect.gen(function*() {
                yield* tx.execute(`INSERT INTO ${table} (id) VALUES (?)`, ["partial"])
                for (let i = 0; i < 10; i++) yield* tx.query("SELECT pg_sleep(0.2)")
              })
            ).pipe(Sql.call("1 second", (reason) => ({ _tag: "StoreError" as const, reason })))
          )
        )
        assert.deepStrictEqual(error, { _tag: "StoreError", reason: "no answer within 1000 ms" })
        assert.deepStrictEqual(yield* ids(driver).pipe(Sql.bounded("5 seconds")), [])
      })
    ))

  it.live("a connection reset (ECONNRESET) during a statement is a typed SqlFailure, not an uncaught error; the driver serves on", () =>
    Effect.gen(function*() {
      const uncaught: Array<unknown> = []
      const onUncaught = (e: unknown) => void uncaught.push(e)
      process.on("uncaughtException", onUncaught)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("uncaughtException", onUncaught)))
      const target = new URL(DATABASE_URL)
      const proxy = yield* faultyProxy(Number(target.port || 5432), target.hostname || "127.0.0.1")
      const driver = yield* single(withPort(DATABASE_URL, proxy.port))
      yield* driver.query("SELECT 1")
      const inFlight = yield* Effect.fork(Effect.exit(driver.query("SELECT pg_sleep(10)")))
      yield* Effect.sleep("300 millis")
      proxy.reset()
      const error = typedFailure(yield* Fiber.join(inFlight))
      assert.strictEqual(error._tag, "SqlFailure")
      // and inside a transaction
      const tx = yield* Effect.fork(Effect.exit(driver.transaction((t) => t.query("SELECT pg_sleep(10)"))))
      yield* Effect.sleep("300 millis")
      proxy.reset()
      assert.strictEqual(typedFailure(yield* Fiber.join(tx))._tag, "SqlFailure")
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(yield* driver.query("SELECT 2 AS two").pipe(Sql.bounded("5 seconds")), [{ two: 2 }])
      assert.deepStrictEqual(uncaught, [])
    }).pipe(Effect.scoped))

  it.live("a link that goes silent: a statement fails with reason Timeout at its call's bound, or at the driver's own outside any call", () =>
    Effect.gen(function*() {
      const target = new URL(DATABASE_URL)
      const proxy = yield* faultyProxy(Number(target.port || 5432), target.hostname || "127.0.0.1")
      const driver = yield* single(withPort(DATABASE_URL, proxy.port), "2 seconds")
      yield* driver.query("SELECT 1")
      proxy.silence()
      const bounded = typedFailure(yield* Effect.exit(driver.query("SELECT 1").pipe(Sql.bounded("2 seconds"))))
      assert.strictEqual(bounded.reason, "Timeout")
      const unbounded = typedFailure(yield* Effect.exit(driver.query("SELECT 1")))
      assert.strictEqual(unbounded.reason, "Timeout")
      assert.strictEqual(unbounded.message, "no answer within 2000 ms")
      const tx = typedFailure(yield* Effect.exit(driver.transaction((t) => t.query("SELECT 1"))))
      assert.strictEqual(tx.reason, "Timeout")
    }).pipe(Effect.scoped))

  it.live("a server that accepts and never answers: getting a connection fails typed within the bound", () =>
    Effect.gen(function*() {
      const { port } = yield* silentServer
      const driver = yield* single(`postgres://postgres@127.0.0.1:${port}/test`, "2 seconds")
      const error = typedFailure(yield* Effect.exit(driver.query("SELECT 1")))
      assert.strictEqual(error._tag, "SqlFailure")
    }).pipe(Effect.scoped))

  it.live("a URL with a password never appears in a failure (refused, unparsable, rejected credentials)", () =>
    Effect.gen(function*() {
      const secret = "s3cret-pw"
      const refused = new URL(withPort(DATABASE_URL, 1))
      refused.username = "braid_nobody"
      refused.password = secret
      const wrongUser = new URL(DATABASE_URL)
      wrongUser.username = "braid_no_such_role"
      wrongUser.password = secret
      const urls = [
        refused.toString(),
        wrongUser.toString(),
        `postgres://braid_nobody:${secret}@127.0.0.1:notaport/test`,
        `postgres://braid_nobody:${encodeURIComponent(secret + "/?")}@127.0.0.1:1/test`
      ]
      for (const url of urls) {
        const exit = yield* Effect.exit(
          Effect.flatMap(
            PostgresDriver.make({ url: Redacted.make(url), timeout: "2 seconds" }),
            (d) => d.query("SELECT 1")
          )
            .pipe(Effect.scoped)
        )
        const error = typedFailure(exit)
        assert.strictEqual(error._tag, "SqlFailure", url)
        for (const text of [error.message, String(error), JSON.stringify(error), Cause.pretty(Cause.fail(error))]) {
          assert.notInclude(text, secret, url)
          assert.notInclude(text, url)
        }
      }
    }))
})
