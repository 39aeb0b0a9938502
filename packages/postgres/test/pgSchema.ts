/**
 * A fresh PostgreSQL schema per test file (others test concurrently on the same database, and
 * a store's migration must not rebuild tables another worktree's tests are using).
 */
import { Sql } from "@braid/core"
import { PostgresDriver } from "@braid/postgres"
import { DATABASE_URL } from "@braid/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"

/** `url` whose connections use `schema`. */
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

/** Creates a schema for the enclosing `describe` (dropped after it) and returns the URL that uses it. */
export const freshSchema = (prefix: string): string => {
  const schema = `${prefix}_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  return inSchema(DATABASE_URL, schema)
}
