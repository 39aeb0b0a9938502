import { assert, describe, it } from "@effect/vitest"
import { Runner, Primitive } from "@braid/core"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { Memory, SqliteMemoryStore } from "@braid/agents"
import { conformance } from "./memoryConformance.js"

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
      const Client = SqliteClient.layer({ filename })
      const check = Effect.gen(function*() {
        yield* SqliteMemoryStore.make({ table: "braid_memory_m" })
        yield* SqliteMemoryStore.make({ table: "braid_memory_m" })
        const sql = yield* SqlClient.SqlClient
        return yield* sql.unsafe<{ version: number }>("SELECT version FROM braid_memory_m_migrations")
      })
      assert.deepStrictEqual((yield* Effect.provide(check, Client)).map((r) => r.version), [1])
      assert.deepStrictEqual((yield* Effect.provide(check, Client)).map((r) => r.version), [1], "after a reopen too")
    }))

  it("rejects table names that are not braid_memory identifiers", () => {
    assert.throws(() => SqliteMemoryStore.layer({ filename: ":memory:", table: "users; DROP TABLE x" }).pipe(Layer.build, Effect.scoped, Effect.runSync))
  })
})
