import { SqliteDriver, SqliteMeetingStore } from "@braid/sqlite"
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { migratesFrom02, roundTrip, storedAndRead, tenantsApart } from "../../meetings/test/meetingStoreConformance.js"

/** A fresh directory for one test's database files, removed afterwards. */
const inTempDir = <A, E>(body: (dir: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "braid-meeting-"))),
    body,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

describe("MeetingStore: SQLite", () => {
  it.live("history and status survive and can be inspected through a new connection; migrations are idempotent", () =>
    inTempDir((dir) =>
      Effect.gen(function*() {
        const filename = path.join(dir, "meetings.db")
        yield* roundTrip(() => SqliteDriver.layer({ filename }))
        yield* roundTrip(() => SqliteDriver.layer({ filename })) // tables already exist
      })
    ))

  it.live("meetings are partitioned by tenant: the same id in two tenants is two meetings", () =>
    inTempDir((dir) => tenantsApart(() => SqliteMeetingStore.layer({ filename: path.join(dir, "t.db") }))))

  it.live("tables written by 0.2 are rebuilt with the tenant in the key; their meetings are the default tenant's", () =>
    inTempDir((dir) => migratesFrom02(() => SqliteDriver.layer({ filename: path.join(dir, "old.db") }))))
})

describe("SqliteMeetingStore.layer", () => {
  it.live("a meeting stored in a SQLite file is read back", () =>
    inTempDir((dir) => storedAndRead(() => SqliteMeetingStore.layer({ filename: path.join(dir, "m.db") }))))
})
