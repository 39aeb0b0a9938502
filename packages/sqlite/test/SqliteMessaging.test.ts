import { SqliteMessaging } from "@braid/sqlite"
import { afterAll } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { suite } from "../../messaging/test/messagingConformance.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-inbox-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
suite("SQLite", () => SqliteMessaging.layer({ filename: path.join(dir, "inbox.db"), pollInterval: "20 millis" }))
