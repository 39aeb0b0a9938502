import { assert, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Redacted } from "effect"
import { createRequire } from "node:module"
import { afterAll } from "vitest"
import { PostgresMemoryStore } from "@braid/agents"
import { DATABASE_URL, describeWith } from "@braid/testing"
import { conformance } from "./memoryConformance.js"

/** node-postgres itself (no types installed), for pools the tests own. */
type TestPool = PostgresMemoryStore.Pool & { readonly ending: boolean }
const pg = createRequire(import.meta.url)("pg") as {
  readonly Pool: new(options: { readonly connectionString: string; readonly max?: number }) => TestPool
}

const describePg = await describeWith("postgres")
const table = `braid_memory_t${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
const url = Redacted.make(DATABASE_URL)

describePg("PostgreSQL memory store", () => {
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 })
  const sql = (text: string) => Effect.promise(() => admin.connect().then((c) => c.query(text).finally(() => c.release())))
  const drop = (t: string) => sql(`DROP TABLE IF EXISTS ${t}, ${t}_migrations`)
  afterAll(() => Effect.runPromise(drop(table)).finally(() => admin.end()))

  conformance("postgres", { layer: PostgresMemoryStore.layer({ url, table }), numRuns: 25 })

  /** A pool of the test's own (one connection), ended when the test's scope closes. */
  const ownPool = Effect.acquireRelease(
    Effect.sync(() => new pg.Pool({ connectionString: DATABASE_URL, max: 1 })),
    (pool) => Effect.promise(() => pool.end())
  )
  const scope = { kind: "global", id: "global" } as const
  const entry = (key: string) => ({ id: key, scope, key, value: { key }, tags: [], createdAt: 0 })

  it.effect("migrations are idempotent, also when several processes start at once", () =>
    Effect.gen(function*() {
      const t = `${table}_m`
      yield* Effect.all(Array.from({ length: 4 }, () => Effect.scoped(PostgresMemoryStore.make({ url, table: t }))), {
        concurrency: "unbounded"
      })
      yield* Effect.scoped(PostgresMemoryStore.make({ url, table: t }))
      const versions = yield* sql(`SELECT version FROM ${t}_migrations`)
      assert.deepStrictEqual(versions.rows.map((r) => Number((r as { version: number }).version)), [1])
      yield* drop(t)
    }))

  it.effect("a connection failure is a MemoryStoreError without the URL's credentials", () =>
    Effect.gen(function*() {
      const secretUrl = "postgres://braid:s3cret-pw@127.0.0.1:1/test"
      const error = yield* Effect.flip(Effect.scoped(PostgresMemoryStore.make({ url: Redacted.make(secretUrl), table })))
      assert.strictEqual(error._tag, "MemoryStoreError")
      assert.strictEqual(error.store, "postgres")
      assert.strictEqual(error.operation, "connect")
      assert.isNotEmpty(error.message)
      assert.notInclude(error.message, "s3cret-pw")
      assert.notInclude(error.message, secretUrl)
      assert.notInclude(String(error), "s3cret-pw")
    }))

  it.effect("a pool the caller gives is used and not ended by the store", () =>
    Effect.gen(function*() {
      const pool = yield* ownPool
      const t = `${table}_p`
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* PostgresMemoryStore.make({ pool, table: t })
        yield* store.put(entry("k"), { now: 0 })
        assert.deepStrictEqual(Option.map(yield* store.get(scope, "k", 0), (e) => e.value), Option.some({ key: "k" }))
      }))
      assert.isFalse(pool.ending)
      const rows = yield* Effect.promise(() => pool.connect().then((c) => c.query(`SELECT key FROM ${t}`).finally(() => c.release())))
      assert.deepStrictEqual(rows.rows, [{ key: "k" }])
      yield* drop(t)
    }).pipe(Effect.scoped))

  it.live("an interrupted read releases its connection, and its late result is dropped quietly", () =>
    Effect.gen(function*() {
      // One connection in the pool: a read after the interrupted one only runs if it was released.
      const store = yield* PostgresMemoryStore.make({ pool: yield* ownPool, table: `${table}_i` })
      yield* store.put(entry("k"), { now: 0 })
      // Another connection holds the table, so the read waits in the server.
      const blocker = yield* Effect.promise(() => admin.connect())
      yield* Effect.promise(() => blocker.query(`BEGIN; LOCK TABLE ${table}_i IN ACCESS EXCLUSIVE MODE`))
      const read = yield* Effect.fork(store.get(scope, "k", 0))
      yield* Effect.sleep("50 millis")
      const interrupted = yield* Fiber.interrupt(read)
      assert.isTrue(Exit.isInterrupted(interrupted))
      yield* Effect.promise(() => blocker.query("COMMIT").finally(() => blocker.release()))
      assert.deepStrictEqual(Option.map(yield* store.get(scope, "k", 0), (e) => e.key), Option.some("k"))
    }).pipe(Effect.scoped, Effect.ensuring(drop(`${table}_i`))))
})
