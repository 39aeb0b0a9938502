import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { durableSuite } from "./durableConformance.js"

const dir = mkdtempSync(join(tmpdir(), "braid-durable-"))
let n = 0

durableSuite("SQLite single runner", () => SqliteEngine.layer({ filename: join(dir, `engine-${n++}.db`) }))
