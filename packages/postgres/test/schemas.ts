/**
 * A PostgreSQL schema of a test file's own: other test files use the same database at once, so
 * each works in a fresh schema (`search_path` set by the connection's `options`).
 */
import { Sql } from "@braid/core"
import { PostgresDriver } from "@braid/postgres"
import { DATABASE_URL } from "@braid/testing"
import { Effect } from "effect"

/** `url` whose connections use `schema` (created by the test: others test concurrently on the same database). */
export const inSchema = (url: string, schema: string): string => {
  const u = new URL(url)
  u.searchParams.set("options", `-c search_path=${schema}`)
  return u.toString()
}

/** Runs one statement on the database (outside the schemas). */
export const admin = (text: string) =>
  Effect.runPromise(
    Effect.flatMap(Sql.SqlDriver, (sql) => sql.execute(text)).pipe(
      Effect.provide(PostgresDriver.layer({ url: DATABASE_URL, max: 1 }))
    )
  )
