import { SqliteDriver } from "@braid/sqlite"
import { SessionStore } from "@braid/workflows"
import { Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { sessionStoreSuite } from "../../workflows/test/sessionStoreConformance.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-sqlite-sessions-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

// The conformance suite on one file (a new connection, and a new store, per layer build).
const file = path.join(dir, "sessions.db")
sessionStoreSuite("sqlite", () => SessionStore.layerSql.pipe(Layer.provide(SqliteDriver.layer({ filename: file }))), {
  persistent: true
})
