import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { durableSuite } from "./durableConformance.js"

const dir = mkdtempSync(join(tmpdir(), "braid-durable-"))
let n = 0

durableSuite("SQLite single runner", () => SqliteEngine.layer({ filename: join(dir, `engine-${n++}.db`) }))

describe("SQLite engine start", () => {
  it.effect("a file that cannot be opened fails the layer with a typed EngineError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(SqliteEngine.layer({ filename: join(dir, "missing-dir", "x", "engine.db") })).pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "EngineError")
      assert.include(error.message, "sqlite")
    }))
})
