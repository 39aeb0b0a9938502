/**
 * A PostgreSQL schema of a test file's own: other test files (and other checkouts' tests) use the
 * same database at once, and a store's migration must not rebuild tables they are using, so each
 * file works in a fresh schema (`search_path` set by the connection's `options`).
 */
import { Sql } from "@braid/core"
import { PostgresDriver } from "@braid/postgres"
import { DATABASE_URL } from "@braid/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"

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

/** A new schema name starting with `prefix`. */
export const schemaName = (prefix: string): string => `${prefix}_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`

/**
 * Creates a schema for the enclosing `describe` (dropped after it); returns its name and the URL
 * whose connections use it.
 */
export const freshSchema = (prefix: string): { readonly schema: string; readonly url: string } => {
  const schema = schemaName(prefix)
  beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  return { schema, url: inSchema(DATABASE_URL, schema) }
}
