import { assert, describe, it } from "@effect/vitest"
import { Runner, Primitive } from "@braid/core"
import { Effect, Layer, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { Memory, SqliteMemoryStore } from "@braid/agents"
import { conformance } from "./memoryConformance.js"

/** better-sqlite3 itself (it ships no types), to look at the file from outside the store. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string, options?: { readonly readonly?: boolean }) => {
  prepare(sql: string): { all(...params: ReadonlyArray<unknown>): Array<unknown> }
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
          return db.prepare("SELECT version FROM braid_memory_m_migrations").all().map((r) => (r as { version: number }).version)
        } finally {
          db.close()
        }
      }
      // Two stores on the file at once (two connections), then a reopen.
      yield* Effect.scoped(Effect.zip(
        SqliteMemoryStore.make({ filename, table: "braid_memory_m" }),
        SqliteMemoryStore.make({ filename, table: "braid_memory_m" })
      ))
      assert.deepStrictEqual(versions(), [1])
      yield* Effect.scoped(SqliteMemoryStore.make({ filename, table: "braid_memory_m" }))
      assert.deepStrictEqual(versions(), [1], "after a reopen too")
    }))

  it.effect("two stores on the same file see each other's writes", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = join(dir, "shared.db")
      const a = yield* SqliteMemoryStore.make({ filename })
      const b = yield* SqliteMemoryStore.make({ filename })
      const scope = { kind: "global", id: "shared" } as const
      const entry = (key: string, value: unknown) => ({ id: crypto.randomUUID(), scope, key, value, tags: [], createdAt: 1 })
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
      const viaLayer = yield* Effect.flip(Layer.build(SqliteMemoryStore.layer({ filename: join(dir, "missing-dir", "x.db") })).pipe(Effect.scoped))
      assert.strictEqual(viaLayer.operation, "connect")
    }))

  it("rejects table names that are not braid_memory identifiers", () => {
    assert.throws(() => SqliteMemoryStore.layer({ filename: ":memory:", table: "users; DROP TABLE x" }).pipe(Layer.build, Effect.scoped, Effect.runSync))
  })
})
