import * as PostgresEngine from "@braid/durable/PostgresEngine"
import { DATABASE_URL, describeWith } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { afterAll } from "vitest"
import { durableSuite } from "./durableConformance.js"
import { dropPrefix, uniquePrefix } from "./pg.js"

const describePg = await describeWith("postgres")

describePg("Durable on PostgreSQL", () => {
  // a fresh table prefix per engine (other test files use the same database), dropped afterwards
  const prefixes: Array<string> = []
  afterAll(() => Promise.all(prefixes.map(dropPrefix)))
  durableSuite("PostgreSQL single runner", () => {
    const prefix = uniquePrefix("pg")
    prefixes.push(prefix)
    return PostgresEngine.layer({ url: DATABASE_URL, prefix, pollInterval: "200 millis", maxConnections: 4 })
  })
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
