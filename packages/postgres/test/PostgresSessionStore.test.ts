import { Sql } from "@braid/core"
import { PostgresDriver } from "@braid/postgres"
import { DATABASE_URL, describeWith } from "@braid/testing"
import { SessionStore } from "@braid/workflows"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll } from "vitest"
import { sessionStoreSuite } from "../../workflows/test/sessionStoreConformance.js"

const describePg = await describeWith("postgres")

/** `url` whose connections use `schema` (created by the test: others test concurrently on the same database). */
const inSchema = (url: string, schema: string): string => {
  const u = new URL(url)
  u.searchParams.set("options", `-c search_path=${schema}`)
  return u.toString()
}

/** Runs one statement on the database (outside the schemas). */
const admin = (text: string) =>
  Effect.runPromise(
    Effect.flatMap(Sql.SqlDriver, (sql) => sql.execute(text)).pipe(
      Effect.provide(PostgresDriver.layer({ url: DATABASE_URL, max: 1 }))
    )
  )

describePg("SessionStore on PostgresDriver", () => {
  const schema = `braid_ss_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  const url = inSchema(DATABASE_URL, schema)

  sessionStoreSuite("postgres", () => SessionStore.layerSql.pipe(Layer.provide(PostgresDriver.layer({ url }))), {
    persistent: true
  })
})
