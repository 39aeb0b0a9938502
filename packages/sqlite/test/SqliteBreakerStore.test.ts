import { CircuitBreaker } from "@braid/resilience"
import { SqliteDriver } from "@braid/sqlite"
import { Effect, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { suite } from "../../resilience/test/breakerStoreConformance.js"

// every "process" opens its own connection to one SQLite file (the shared state lives in the file)
const filename = join(mkdtempSync(join(tmpdir(), "braid-breaker-")), "breakers.db")

suite("SQLite", () =>
  Effect.gen(function*() {
    // the connection lives in the test's scope, like a process's
    const driver = yield* Layer.build(SqliteDriver.layer({ filename }))
    return yield* CircuitBreaker.sqlStoreWith().pipe(Effect.provide(driver))
  }).pipe(Effect.orDie))
