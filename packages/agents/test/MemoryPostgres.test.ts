import { assert, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { afterAll } from "vitest"
import { PostgresMemoryStore } from "@braid/agents"
import { DATABASE_URL, describeWith } from "@braid/testing"
import { conformance } from "./memoryConformance.js"

const describePg = await describeWith("postgres")
const table = `braid_memory_t${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
const url = Redacted.make(DATABASE_URL)
const Client = PgClient.layer({ url })

describePg("PostgreSQL memory store", () => {
  afterAll(() =>
    Effect.runPromise(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`DROP TABLE IF EXISTS ${table}`)
      yield* sql.unsafe(`DROP TABLE IF EXISTS ${table}_migrations`)
    }).pipe(Effect.provide(Client))))

  conformance("postgres", { layer: PostgresMemoryStore.layer({ url, table }), numRuns: 25 })

  it.effect("migrations are idempotent, also when several processes start at once", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = `${table}_m`
      yield* Effect.all(Array.from({ length: 4 }, () => PostgresMemoryStore.make({ table: t })), { concurrency: "unbounded" })
      yield* PostgresMemoryStore.make({ table: t })
      const versions = yield* sql.unsafe<{ version: number }>(`SELECT version FROM ${t}_migrations`)
      assert.deepStrictEqual(versions.map((r) => Number(r.version)), [1])
      yield* sql.unsafe(`DROP TABLE ${t}`)
      yield* sql.unsafe(`DROP TABLE ${t}_migrations`)
    }).pipe(Effect.provide(Layer.fresh(Client))))
})
