import * as PostgresEngine from "@braid/durable/PostgresEngine"
import { DATABASE_URL, describeWith } from "@braid/testing"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { afterAll, beforeAll } from "vitest"
import { durableSuite } from "./durableConformance.js"

const describePg = await describeWith("postgres")

/** `url` whose connections use `schema` (created here: other test files use the same database). */
const inSchema = (url: string, schema: string): string => {
  const u = new URL(url)
  u.searchParams.set("options", `-c search_path=${schema}`)
  return u.toString()
}

const admin = (text: string) =>
  Effect.runPromise(
    Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(text)).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(DATABASE_URL), maxConnections: 1 })),
      Effect.scoped
    )
  )

describePg("Durable on PostgreSQL", () => {
  const schema = `braid_durable_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  let n = 0
  durableSuite("PostgreSQL single runner", () =>
    PostgresEngine.layer({
      url: inSchema(DATABASE_URL, schema),
      prefix: `t${n++}`,
      pollInterval: "200 millis",
      maxConnections: 4
    }))
})

it.live("an unreachable database fails the layer with a typed EngineError that does not show the password", () =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(
      Layer.build(PostgresEngine.layer({ url: "postgres://braid:s3cret-pw@127.0.0.1:1/test" })).pipe(
        Effect.scoped,
        Effect.timeoutFail({
          duration: "60 seconds",
          onTimeout: () => ({ _tag: "Timeout", message: "the layer neither failed nor started" })
        })
      )
    )
    assert.strictEqual(error._tag, "EngineError")
    assert.notInclude(error.message, "s3cret-pw")
  }))
