/**
 * The measured reason for Braid's own SQL port (docs/stores.md): the same work through
 * `@effect/sql` (`@effect/sql-sqlite-node`, `@effect/sql-pg`) and through the port (`Sql.Driver`
 * of @braid/core, `SqliteDriver` on better-sqlite3, `PostgresDriver` on pg), in the same process,
 * measured alternately (harness.interleaved), each side in one Effect program per batch:
 *
 * - "insert + select": insert a row with a JSON text column, then select it back by its key;
 * - "10-row transaction": one transaction inserting 10 such rows.
 *
 * "braid" is the port, "baseline" @effect/sql: a ratio below 1 means the port is faster. Each
 * side writes to a table of its own (SQLite: a file of its own). The root keeps @effect/sql,
 * @effect/sql-sqlite-node and @effect/sql-pg as devDependencies for this benchmark only.
 */
import { Sql } from "@braid/core"
import { PostgresDriver } from "@braid/postgres"
import { SqliteDriver } from "@braid/sqlite"
import { DATABASE_URL } from "@braid/testing/urls"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { interleaved, median, printTable, rate, type Row } from "./harness.js"

const document = { title: "run 5k", minutes: 35, tags: ["fitness", "morning"], notes: "x".repeat(200) }

interface Side {
  /** `size` inserts each followed by a select of the row. */
  readonly roundTrip: () => Promise<unknown>
  /** `size` transactions of 10 inserts. */
  readonly transaction: () => Promise<unknown>
  readonly dispose: () => Promise<void>
}

const create = (t: string) =>
  `CREATE TABLE IF NOT EXISTS ${t} (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL)`

let ids = 0
const nextId = (side: string) => `${side}-${process.pid}-${ids++}`

/** The port's side: a `Sql.Driver` from `layer`. */
const portSide = async (layer: Layer.Layer<Sql.SqlDriver, unknown>, t: string, size: number): Promise<Side> => {
  const runtime = ManagedRuntime.make(layer)
  const driver = await runtime.runPromise(Sql.SqlDriver)
  await runtime.runPromise(driver.execute(create(t)))
  const insert = `INSERT INTO ${t} (id, body, created_at) VALUES (?, ?, ?)`
  const select = `SELECT body FROM ${t} WHERE id = ?`
  return {
    roundTrip: () =>
      runtime.runPromise(Effect.gen(function*() {
        for (let n = 0; n < size; n++) {
          const id = nextId("port")
          yield* driver.execute(insert, [id, JSON.stringify(document), Date.now()])
          const rows = yield* driver.query(select, [id])
          JSON.parse(rows[0]!["body"] as string)
        }
      })),
    transaction: () =>
      runtime.runPromise(Effect.gen(function*() {
        for (let n = 0; n < size; n++) {
          yield* driver.transaction((tx) =>
            Effect.gen(function*() {
              for (let k = 0; k < 10; k++) {
                yield* tx.execute(insert, [nextId("port"), JSON.stringify(document), Date.now()])
              }
            })
          )
        }
      })),
    dispose: async () => {
      await runtime.runPromise(driver.execute(`DROP TABLE IF EXISTS ${t}`))
      await runtime.dispose()
    }
  }
}

/** @effect/sql's side: the `SqlClient` from `layer`. */
const effectSqlSide = async (
  layer: Layer.Layer<SqlClient.SqlClient, unknown>,
  t: string,
  size: number
): Promise<Side> => {
  const runtime = ManagedRuntime.make(layer)
  const sql = await runtime.runPromise(SqlClient.SqlClient)
  await runtime.runPromise(sql.unsafe(create(t)))
  return {
    roundTrip: () =>
      runtime.runPromise(Effect.gen(function*() {
        for (let n = 0; n < size; n++) {
          const id = nextId("effect")
          yield* sql`INSERT INTO ${sql(t)} (id, body, created_at) VALUES (${id}, ${
            JSON.stringify(document)
          }, ${Date.now()})`
          const rows = yield* sql<{ body: string }>`SELECT body FROM ${sql(t)} WHERE id = ${id}`
          JSON.parse(rows[0]!.body)
        }
      })),
    transaction: () =>
      runtime.runPromise(Effect.gen(function*() {
        for (let n = 0; n < size; n++) {
          yield* sql.withTransaction(Effect.gen(function*() {
            for (let k = 0; k < 10; k++) {
              yield* sql`INSERT INTO ${sql(t)} (id, body, created_at) VALUES (${nextId("effect")}, ${
                JSON.stringify(document)
              }, ${Date.now()})`
            }
          }))
        }
      })),
    dispose: async () => {
      await runtime.runPromise(sql.unsafe(`DROP TABLE IF EXISTS ${t}`))
      await runtime.dispose()
    }
  }
}

const compare = async (name: string, port: Side, effectSql: Side, size: number, rows: Array<Row>) => {
  const note = "(baseline: @effect/sql; < 1x: the port is faster)"
  for (const [what, run] of [["insert + select", "roundTrip"], ["10-row transaction", "transaction"]] as const) {
    const portCpu: Array<number> = []
    const effectCpu: Array<number> = []
    const [p, e] = await interleaved(rate(port[run], size, portCpu), rate(effectSql[run], size, effectCpu), 5)
    rows.push({ name: `${name} ${what}`, braid: p, baseline: e, unit: "ops/s", note })
    rows.push({
      name: `${name} ${what}, client CPU`,
      braid: median(portCpu),
      baseline: median(effectCpu),
      unit: "µs/op",
      note
    })
  }
}

export default async function main(): Promise<void> {
  const rows: Array<Row> = []
  const notes: Array<string> = []

  // ---- SQLite (a file each) -------------------------------------------------------------------
  {
    const dir = mkdtempSync(join(tmpdir(), "braid-bench-sql-"))
    const port = await portSide(SqliteDriver.layer({ filename: join(dir, "port.db") }), "bench_port", 50)
    const effectSql = await effectSqlSide(SqliteClient.layer({ filename: join(dir, "effect.db") }), "bench_effect", 50)
    await compare("sqlite (file)", port, effectSql, 50, rows)
    await port.dispose()
    await effectSql.dispose()
    rmSync(dir, { recursive: true, force: true })
  }

  // ---- PostgreSQL -------------------------------------------------------------------------------
  {
    const probe = ManagedRuntime.make(PostgresDriver.layer({ url: DATABASE_URL, timeout: "2 seconds" }))
    const up = await probe.runPromise(
      Effect.flatMap(Sql.SqlDriver, (d) => d.query("SELECT 1")).pipe(Sql.bounded("2 seconds"), Effect.either)
    )
    await probe.dispose()
    if (up._tag === "Right") {
      const t = `braid_bench_sql_${process.pid}`
      const port = await portSide(PostgresDriver.layer({ url: DATABASE_URL }), `${t}_port`, 10)
      const effectSql = await effectSqlSide(PgClient.layer({ url: Redacted.make(DATABASE_URL) }), `${t}_effect`, 10)
      await compare("postgres", port, effectSql, 10, rows)
      await port.dispose()
      await effectSql.dispose()
    } else notes.push(`PostgreSQL not reachable at ${new URL(DATABASE_URL).host}: skipped`)
  }

  printTable("SQL: Braid's port (Sql.Driver) vs @effect/sql, the same statements", rows)
  for (const n of notes) console.log(`- ${n}`)
}
