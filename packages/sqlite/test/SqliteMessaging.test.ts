import { Lock } from "@braid/messaging"
import { SqliteDriver, SqliteMessaging } from "@braid/sqlite"
import { afterAll } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { agentsSuite, lockSuite } from "../../messaging/test/agentsConformance.js"
import { suite } from "../../messaging/test/messagingConformance.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-inbox-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
const filename = path.join(dir, "inbox.db")
suite("SQLite", () => SqliteMessaging.layer({ filename, pollInterval: "20 millis" }))
agentsSuite("SQLite", () => SqliteMessaging.layer({ filename, pollInterval: "20 millis" }))
lockSuite(
  "SQLite",
  () =>
    Effect.flatMap(
      Layer.build(SqliteDriver.layer({ filename: path.join(dir, "locks.db") })),
      (driver) => Effect.provide(Lock.sqlLockStoreWith(), driver)
    )
)
