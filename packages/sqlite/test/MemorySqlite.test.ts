import { Primitive, Runner, Sql, WorkflowContext } from "@braid/core"
import { Memory } from "@braid/memory"
import type { MemoryStoreError } from "@braid/memory/Errors"
import { SqliteDriver, SqliteMemoryStore } from "@braid/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { conformance } from "../../memory/test/memoryConformance.js"

/** better-sqlite3 itself (it ships no types), to look at the file from outside the store. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(
  filename: string,
  options?: { readonly readonly?: boolean }
) => {
  prepare(
    sql: string
  ): { all(...params: ReadonlyArray<unknown>): Array<unknown>; run(...params: ReadonlyArray<unknown>): unknown }
  exec(sql: string): void
  close(): void
}

const dir = mkdtempSync(join(tmpdir(), "braid-memory-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

conformance("sqlite", { layer: SqliteMemoryStore.layer({ filename: join(dir, "conformance.db") }) })

describe("SQLite memory store", () => {
  it.effect("entries survive closing and reopening the file", () =>
    Effect.gen(function*() {
      const filename = join(dir, "restart.db")
      const save = Primitive.make("save", (goal: string) => Memory.store("goal", goal, { scope: "user", ttl: "1 day" }))
      const load = Primitive.make("load", (_: void) => Memory.retrieve("goal", { scope: "user" }))
      const MemoryOn = () => Memory.layer().pipe(Layer.provide(SqliteMemoryStore.layer({ filename })))
      // Each Effect.provide builds and closes its own connection: a restart in between.
      yield* Effect.provide(Runner.run(save, "run 5k", { userId: "ada" }), MemoryOn())
      const got = yield* Effect.provide(Runner.run(load, undefined, { userId: "ada" }), MemoryOn())
      assert.strictEqual(Option.getOrThrow(got).value, "run 5k")
      const other = yield* Effect.provide(Runner.run(load, undefined, { userId: "bob" }), MemoryOn())
      assert.isTrue(Option.isNone(other))
    }))

  it.effect("migrations are idempotent and recorded once", () =>
    Effect.gen(function*() {
      const filename = join(dir, "migrations.db")
      const versions = () => {
        const db = new Database(filename, { readonly: true })
        try {
          return db.prepare("SELECT version FROM braid_memory_m_migrations").all().map((r) =>
            (r as { version: number }).version
          )
        } finally {
          db.close()
        }
      }
      // Two stores on the file at once (two connections), then a reopen.
      yield* Effect.scoped(Effect.zip(
        SqliteMemoryStore.make({ filename, table: "braid_memory_m" }),
        SqliteMemoryStore.make({ filename, table: "braid_memory_m" })
      ))
      assert.deepStrictEqual(versions(), [1, 2, 3])
      yield* Effect.scoped(SqliteMemoryStore.make({ filename, table: "braid_memory_m" }))
      assert.deepStrictEqual(versions(), [1, 2, 3], "after a reopen too")
    }))

  it.effect("two stores on the same file see each other's writes", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = join(dir, "shared.db")
      const a = yield* SqliteMemoryStore.make({ filename })
      const b = yield* SqliteMemoryStore.make({ filename })
      const scope = { kind: "global", id: "shared" } as const
      const entry = (key: string, value: unknown) => ({
        id: crypto.randomUUID(),
        scope,
        key,
        value,
        tags: [],
        createdAt: 1
      })
      yield* a.put(entry("x", "from a"), { now: 1 })
      assert.strictEqual(Option.getOrThrow(yield* b.get(scope, "x", 1)).value, "from a")
      yield* b.put(entry("y", "from b"), { now: 1, maxEntries: 10 })
      assert.deepStrictEqual((yield* a.query(scope, {}, 1)).map((e) => e.value), ["from a", "from b"])
      assert.isTrue(yield* b.delete(scope, "x"))
      assert.isTrue(Option.isNone(yield* a.get(scope, "x", 1)))
      assert.strictEqual(yield* a.clear(scope), 1)
      assert.deepStrictEqual(yield* b.query(scope, {}, 1), [])
    })))

  it.effect("a file that cannot be opened fails with a typed connect error", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(Effect.scoped(SqliteMemoryStore.make({ filename: dir })))
      assert.strictEqual(err._tag, "MemoryStoreError")
      assert.strictEqual(err.store, "sqlite")
      assert.strictEqual(err.operation, "connect")
      const viaLayer = yield* Effect.flip(
        Layer.build(SqliteMemoryStore.layer({ filename: join(dir, "missing-dir", "x.db") })).pipe(Effect.scoped)
      )
      assert.strictEqual(viaLayer.operation, "connect")
    }))

  it.effect("migration 2 moves the tenant of 0.1 ids (\"T/x\", \"T/global\") into its own column, by the documented rule", () =>
    Effect.gen(function*() {
      const filename = join(dir, "v1.db")
      // A table as 0.1 left it: version 1 only, tenants joined into the scope ids.
      const db = new Database(filename)
      db.exec(
        `CREATE TABLE braid_memory (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, scope_kind TEXT NOT NULL,
        scope_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, agent TEXT, run_id TEXT, step_path TEXT, tags TEXT NOT NULL,
        created_at INTEGER NOT NULL, expires_at INTEGER, UNIQUE (scope_kind, scope_id, key));
        CREATE TABLE braid_memory_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
        INSERT INTO braid_memory_migrations VALUES (1, 0);`
      )
      const insert = db.prepare(
        "INSERT INTO braid_memory (id, scope_kind, scope_id, key, value, tags, created_at) VALUES (?, ?, ?, 'k', ?, '[]', 1)"
      )
      const rows: ReadonlyArray<readonly [string, string]> = [
        ["user", "acme/bob"], // tenant acme, user bob
        ["user", "ada"], // no tenant
        ["session", "a/b/c"], // tenant a, session b/c (split at the first "/")
        ["global", "acme/global"], // tenant acme
        ["global", "a/b/global"], // tenant a/b (global ids are unambiguous)
        ["global", "global"], // no tenant
        ["run", "r/1"] // run ids never had a tenant
      ]
      rows.forEach(([kind, id], i) => insert.run(`e${i}`, kind, id, JSON.stringify(`${kind} ${id}`)))
      db.close()
      const read = (o: WorkflowContext.ContextOptions, scope: "user" | "session" | "global" | "run") =>
        Effect.provide(
          Effect.map(Memory.retrieve("k", { scope }), Option.map((e) => e.value)),
          Memory.layer().pipe(
            Layer.provideMerge(SqliteMemoryStore.layer({ filename })),
            Layer.merge(WorkflowContext.layer(o))
          )
        )
      assert.deepStrictEqual(yield* read({ tenantId: "acme", userId: "bob" }, "user"), Option.some("user acme/bob"))
      assert.isTrue(Option.isNone(yield* read({ userId: "acme/bob" }, "user")))
      assert.deepStrictEqual(yield* read({ userId: "ada" }, "user"), Option.some("user ada"))
      assert.deepStrictEqual(yield* read({ tenantId: "a", sessionId: "b/c" }, "session"), Option.some("session a/b/c"))
      assert.deepStrictEqual(yield* read({ tenantId: "acme" }, "global"), Option.some("global acme/global"))
      assert.deepStrictEqual(yield* read({ tenantId: "a/b" }, "global"), Option.some("global a/b/global"))
      assert.deepStrictEqual(yield* read({}, "global"), Option.some("global global"))
      assert.deepStrictEqual(yield* read({ runId: "r/1" }, "run"), Option.some("run r/1"))
    }))

  it.effect("a row that does not decode (written by something else) fails every read path with a typed Corrupt error", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = join(dir, "corrupt.db")
      const store = yield* SqliteMemoryStore.make({ filename })
      const scope = { kind: "user", id: "u" } as const
      const entry = (key: string) => ({ id: key, scope, key, value: key, tags: [], createdAt: 1 })
      yield* store.put(entry("good"), { now: 1 })
      yield* store.put(entry("bad"), { now: 1 })
      const db = new Database(filename)
      for (
        const [column, garbage] of [
          ["value", "{not json"],
          ["value", "{\"__proto__\": {\"x\": 1}}"],
          ["tags", "[\"a\", 1]"],
          ["scope_kind", "tenant"],
          ["created_at", "soon"]
        ]
      ) {
        db.prepare(
          `UPDATE braid_memory SET value = '1', tags = '[]', scope_kind = 'user', created_at = 1 WHERE key = 'bad'`
        ).run()
        db.prepare(`UPDATE braid_memory SET ${column} = ? WHERE key = 'bad'`).run(garbage)
        // the scope_kind garbage moves the row out of the scope: nothing to read there
        if (column === "scope_kind") continue
        const reads: ReadonlyArray<Effect.Effect<unknown, MemoryStoreError>> = [
          store.get(scope, "bad", 1),
          store.query(scope, {}, 1),
          store.query(scope, { tags: ["a"] }, 1),
          store.query(scope, { limit: 1 }, 1)
        ]
        for (const read of reads) {
          const error = yield* Effect.flip(read)
          assert.strictEqual(error._tag, "MemoryStoreError")
          assert.strictEqual(error.reason, "Corrupt", `${column}: ${error.message}`)
          assert.include(error.message, "\"bad\"")
        }
      }
      db.close()
      assert.strictEqual(Option.getOrThrow(yield* store.get(scope, "good", 1)).value, "good")
    })))

  it.effect("on a shared driver (layerDriver): the memory store and another SQL store use one connection; the file holds both", () =>
    Effect.gen(function*() {
      const filename = join(dir, "shared-driver.db")
      const Driver = SqliteDriver.layer({ filename })
      const program = Effect.gen(function*() {
        yield* Memory.store("goal", "run 5k", { scope: "user" })
        const sql = yield* Sql.SqlDriver
        yield* sql.execute("CREATE TABLE IF NOT EXISTS notes (body TEXT NOT NULL)")
        yield* sql.transaction((tx) => tx.execute("INSERT INTO notes (body) VALUES (?)", ["beside the memory"]))
        return yield* sql.query("SELECT key, value FROM braid_memory")
      })
      const rows = yield* program.pipe(
        Effect.provide(
          Layer.mergeAll(
            Memory.layer().pipe(Layer.provide(SqliteMemoryStore.layerDriver())),
            WorkflowContext.layer({ userId: "ada" })
          )
            .pipe(Layer.provideMerge(Driver))
        )
      )
      assert.deepStrictEqual(rows, [{ key: "goal", value: "\"run 5k\"" }])
      const db = new Database(filename, { readonly: true })
      try {
        assert.deepStrictEqual(db.prepare("SELECT body FROM notes").all(), [{ body: "beside the memory" }])
      } finally {
        db.close()
      }
      assert.throws(
        () => SqliteMemoryStore.fromDriver({ dialect: "postgres" } as Sql.Driver),
        TypeError,
        "a sqlite driver is needed"
      )
    }))

  it.effect("a value without a JSON form is refused by put with a typed error naming the key; nothing is written", () =>
    Effect.scoped(Effect.gen(function*() {
      const store = yield* SqliteMemoryStore.make({ filename: ":memory:" })
      const scope = { kind: "user", id: "u" } as const
      const error = yield* Effect.flip(
        store.put({ id: "1", scope, key: "big", value: 10n, tags: [], createdAt: 1 }, { now: 1 })
      )
      assert.strictEqual(error._tag, "MemoryStoreError")
      assert.strictEqual(error.operation, "put")
      assert.include(error.message, "\"big\" has no JSON form")
      const bounded = yield* Effect.flip(
        store.put({ id: "2", scope, key: "nan", value: Number.NaN, tags: [], createdAt: 1 }, { now: 1, maxEntries: 5 })
      )
      assert.include(bounded.message, "\"nan\" has no JSON form")
      const empty = yield* Effect.flip(store.get({ kind: "user", tenant: "", id: "u" }, "big", 1))
      assert.strictEqual(empty.operation, "get")
      assert.deepStrictEqual(yield* store.query(scope, {}, 1), [])
    })))

  it("rejects table names that are not braid_memory identifiers", () => {
    assert.throws(() =>
      SqliteMemoryStore.layer({ filename: ":memory:", table: "users; DROP TABLE x" }).pipe(
        Layer.build,
        Effect.scoped,
        Effect.runSync
      )
    )
  })
})
