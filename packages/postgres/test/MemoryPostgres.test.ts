import type { MemoryStore } from "@braid/memory"
import type { MemoryStoreError } from "@braid/memory/Errors"
import { PostgresMemoryStore } from "@braid/postgres"
import { DATABASE_URL, describeWith, faultyProxy, silentServer } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Redacted } from "effect"
import { createRequire } from "node:module"
import { afterAll } from "vitest"
import { conformance } from "../../memory/test/memoryConformance.js"

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
  const sql = (text: string) =>
    Effect.promise(() => admin.connect().then((c) => c.query(text).finally(() => c.release())))
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
      assert.deepStrictEqual(versions.rows.map((r) => Number((r as { version: number }).version)).sort(), [1, 2, 3])
      yield* drop(t)
    }))

  it.effect("a connection failure is a MemoryStoreError without the URL's credentials", () =>
    Effect.gen(function*() {
      const secretUrl = "postgres://braid:s3cret-pw@127.0.0.1:1/test"
      const error = yield* Effect.flip(
        Effect.scoped(PostgresMemoryStore.make({ url: Redacted.make(secretUrl), table }))
      )
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
      const rows = yield* Effect.promise(() =>
        pool.connect().then((c) => c.query(`SELECT key FROM ${t}`).finally(() => c.release()))
      )
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

  it.live("a connection reset during a bounded write (its backend terminated) is a MemoryStoreError, and the process lives on", () =>
    Effect.gen(function*() {
      const t = `${table}_r`
      const pool = yield* ownPool
      const store = yield* PostgresMemoryStore.make({ pool, table: t })
      yield* store.put(entry("a"), { now: 0, maxEntries: 5 })
      // Another connection holds the table, so the bounded write waits inside its transaction.
      const blocker = yield* Effect.promise(() => admin.connect())
      yield* Effect.promise(() => blocker.query(`BEGIN; LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`))
      const write = yield* Effect.fork(store.put(entry("b"), { now: 0, maxEntries: 5 }))
      // Find the waiting backend, then terminate it: the client sees its connection end mid-query.
      let pid: number | undefined = undefined
      while (pid === undefined) {
        yield* Effect.sleep("20 millis")
        const rows = yield* sql(
          `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO ${t} %'`
        )
        pid = (rows.rows[0] as { pid?: number } | undefined)?.pid
      }
      yield* sql(`SELECT pg_terminate_backend(${pid})`)
      const error = yield* Effect.flip(Fiber.join(write))
      yield* Effect.promise(() => blocker.query("COMMIT").finally(() => blocker.release()))
      assert.strictEqual(error._tag, "MemoryStoreError")
      assert.strictEqual(error.operation, "put")
      // The pool replaced the connection: the store keeps working.
      yield* Effect.sleep("50 millis")
      yield* store.put(entry("c"), { now: 0, maxEntries: 5 })
      assert.deepStrictEqual((yield* store.query(scope, {}, 0)).map((e) => e.key), ["a", "c"])
    }).pipe(Effect.scoped, Effect.ensuring(drop(`${table}_r`))))

  it.live("a connection reset (ECONNRESET) during a bounded write is a MemoryStoreError, not an uncaught 'error' event", () =>
    Effect.gen(function*() {
      const t = `${table}_e`
      const proxy = yield* faultyProxy(Number(new URL(DATABASE_URL).port || 5432))
      const proxied = new URL(DATABASE_URL)
      proxied.hostname = "127.0.0.1"
      proxied.port = String(proxy.port)
      const store = yield* PostgresMemoryStore.make({ url: Redacted.make(proxied.toString()), table: t })
      yield* store.put(entry("a"), { now: 0, maxEntries: 5 })
      const blocker = yield* Effect.promise(() => admin.connect())
      yield* Effect.promise(() => blocker.query(`BEGIN; LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`))
      const write = yield* Effect.fork(store.put(entry("b"), { now: 0, maxEntries: 5 }))
      let waiting = false
      while (!waiting) {
        yield* Effect.sleep("20 millis")
        waiting = (yield* sql(
          `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO ${t} %'`
        )).rows.length > 0
      }
      proxy.reset()
      const error = yield* Effect.flip(Fiber.join(write))
      yield* Effect.promise(() => blocker.query("COMMIT").finally(() => blocker.release()))
      assert.strictEqual(error._tag, "MemoryStoreError")
      assert.strictEqual(error.operation, "put")
      yield* store.put(entry("c"), { now: 0, maxEntries: 5 })
      assert.deepStrictEqual((yield* store.query(scope, {}, 0)).map((e) => e.key), ["a", "c"])
    }).pipe(Effect.scoped, Effect.ensuring(drop(`${table}_e`))))

  it.live("on a server that accepts and never answers, making the store fails with a typed Timeout", () =>
    Effect.gen(function*() {
      const { port } = yield* silentServer
      const error = yield* Effect.flip(
        Effect.scoped(
          PostgresMemoryStore.make({
            url: Redacted.make(`postgres://postgres@127.0.0.1:${port}/test`),
            table,
            timeout: "200 millis"
          })
        )
      )
      assert.strictEqual(error._tag, "MemoryStoreError")
      assert.strictEqual(error.reason, "Timeout")
      assert.strictEqual(error.operation, "connect")
    }).pipe(Effect.scoped))

  it.live("on a link that goes silent, every store call fails with a typed Timeout (and the scope still closes)", () =>
    Effect.gen(function*() {
      const t = `${table}_s`
      const proxy = yield* faultyProxy(Number(new URL(DATABASE_URL).port || 5432))
      const proxied = new URL(DATABASE_URL)
      proxied.hostname = "127.0.0.1"
      proxied.port = String(proxy.port)
      yield* Effect.scoped(PostgresMemoryStore.make({ url, table: t })) // the table exists: the proxied store only checks it
      yield* Effect.scoped(Effect.gen(function*() {
        // Setting up through the proxy may itself meet the bound on a loaded machine: try again.
        const store = yield* PostgresMemoryStore.make({
          url: Redacted.make(proxied.toString()),
          table: t,
          timeout: "1 second"
        }).pipe(Effect.retry({ times: 5 }))
        yield* store.put(entry("k"), { now: 0 }).pipe(Effect.retry({ times: 5 }))
        proxy.silence()
        const calls: ReadonlyArray<readonly [string, Effect.Effect<unknown, MemoryStoreError>]> = [
          ["put", store.put(entry("x"), { now: 0 })],
          ["put", store.put(entry("y"), { now: 0, maxEntries: 3 })],
          ["get", store.get(scope, "k", 0)],
          ["query", store.query(scope, {}, 0)],
          ["delete", store.delete(scope, "k")],
          ["clear", store.clear(scope)]
        ]
        for (const [operation, call] of calls) {
          const error = yield* Effect.flip(call)
          assert.strictEqual(error.reason, "Timeout", `${operation}: ${error.message}`)
          assert.strictEqual(error.operation, operation)
        }
      }))
    }).pipe(Effect.scoped, Effect.ensuring(drop(`${table}_s`))))

  it.effect("a row that does not decode fails get, query and list with a typed Corrupt error", () =>
    Effect.gen(function*() {
      const t = `${table}_c`
      const store = yield* PostgresMemoryStore.make({ url, table: t })
      yield* store.put(entry("bad"), { now: 0 })
      yield* sql(`UPDATE ${t} SET value = '{"__proto__": {"admin": true}}' WHERE key = 'bad'`)
      const reads: ReadonlyArray<Effect.Effect<unknown, MemoryStoreError>> = [
        store.get(scope, "bad", 0),
        store.query(scope, {}, 0),
        store.query(scope, { limit: 1 }, 0)
      ]
      for (const read of reads) {
        const error = yield* Effect.flip(read)
        assert.strictEqual(error.reason, "Corrupt")
        assert.include(error.message, "\"bad\"")
      }
      yield* sql(`UPDATE ${t} SET value = '1', tags = '{"not": "a list"}' WHERE key = 'bad'`)
      assert.strictEqual((yield* Effect.flip(store.get(scope, "bad", 0))).reason, "Corrupt")
    }).pipe(Effect.scoped, Effect.ensuring(drop(`${table}_c`))))

  it.effect("migration 2 moves the tenant of 0.1 ids into its own column (T/x split at the first /, T/global)", () =>
    Effect.gen(function*() {
      const t = `${table}_v`
      yield* sql(
        `CREATE TABLE ${t} (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, scope_kind TEXT NOT NULL, scope_id TEXT NOT NULL,
        key TEXT NOT NULL, value TEXT NOT NULL, agent TEXT, run_id TEXT, step_path TEXT, tags TEXT NOT NULL, created_at BIGINT NOT NULL,
        expires_at BIGINT, UNIQUE (scope_kind, scope_id, key));
        CREATE TABLE ${t}_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);
        INSERT INTO ${t}_migrations VALUES (1, 0);
        INSERT INTO ${t} (id, scope_kind, scope_id, key, value, tags, created_at) VALUES
          ('1', 'user', 'acme/bob', 'k', '"acme bob"', '[]', 1), ('2', 'user', 'ada', 'k', '"ada"', '[]', 2),
          ('3', 'global', 'a/b/global', 'k', '"a/b global"', '[]', 3), ('4', 'session', 'a/b/c', 'k', '"a b/c"', '[]', 4)`
      )
      const store = yield* PostgresMemoryStore.make({ url, table: t })
      const value = (s: MemoryStore.Scope) => Effect.map(store.get(s, "k", 0), Option.map((e) => e.value))
      assert.deepStrictEqual(yield* value({ kind: "user", tenant: "acme", id: "bob" }), Option.some("acme bob"))
      assert.isTrue(Option.isNone(yield* value({ kind: "user", id: "acme/bob" })))
      assert.deepStrictEqual(yield* value({ kind: "user", id: "ada" }), Option.some("ada"))
      assert.deepStrictEqual(yield* value({ kind: "global", tenant: "a/b", id: "global" }), Option.some("a/b global"))
      assert.deepStrictEqual(yield* value({ kind: "session", tenant: "a", id: "b/c" }), Option.some("a b/c"))
      // the sequence continues after the copied rows: a new write is the newest
      yield* store.put({ ...entry("new"), scope: { kind: "user", id: "ada" } }, { now: 0 })
      assert.deepStrictEqual((yield* store.query({ kind: "user", id: "ada" }, {}, 0)).map((e) => e.key), ["k", "new"])
    }).pipe(Effect.scoped, Effect.ensuring(drop(`${table}_v`))))
})
