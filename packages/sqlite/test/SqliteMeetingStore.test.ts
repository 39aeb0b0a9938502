import { SqliteDriver, SqliteMeetingStore } from "@braid/sqlite"
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { roundTrip, storedAndRead } from "../../meetings/test/meetingStoreConformance.js"

describe("MeetingStore: SQLite", () => {
  it.live("history and status survive and can be inspected through a new connection; migrations are idempotent", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-meeting-"))
      const filename = path.join(dir, "meetings.db")
      yield* roundTrip(() => SqliteDriver.layer({ filename }))
      yield* roundTrip(() => SqliteDriver.layer({ filename })) // tables already exist
      fs.rmSync(dir, { recursive: true, force: true })
    }))
})

describe("SqliteMeetingStore.layer", () => {
  it.live("a meeting stored in a SQLite file is read back", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-meeting-"))
      yield* storedAndRead(() => SqliteMeetingStore.layer({ filename: path.join(dir, "m.db") }))
      fs.rmSync(dir, { recursive: true, force: true })
    }))
})
