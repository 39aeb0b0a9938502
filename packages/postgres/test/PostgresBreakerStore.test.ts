import { Sql } from "@braid/core"
import { PostgresBreakerStore, PostgresDriver } from "@braid/postgres"
import { describeWith } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { suite } from "../../resilience/test/breakerStoreConformance.js"
import { freshSchema } from "./schemas.js"

const describePg = await describeWith("postgres")

describePg("CircuitBreaker (PostgreSQL store)", () => {
  const { url } = freshSchema("braid_breaker")
  // every "process" has its own pool, on the same table
  suite("PostgreSQL", () => PostgresBreakerStore.store({ url, max: 2 }))

  it.scoped("a stored state that does not decode is a StoreError naming it, not a defect", () =>
    Effect.gen(function*() {
      const store = yield* PostgresBreakerStore.store({ url, max: 1 })
      yield* Effect.flatMap(
        Sql.SqlDriver,
        (sql) =>
          sql.execute(
            "INSERT INTO braid_circuit_breakers (name, state, gen, until_ms, reopens, successes) VALUES ('garbled', 'ajar', 1, 0, 0, 0)"
          )
      ).pipe(Effect.provide(PostgresDriver.layer({ url, max: 1 })))
      const e = yield* Effect.flip(store.get("garbled"))
      assert.strictEqual(e._tag, "StoreError")
      assert.include(e.message, "does not decode")
    }))
})
