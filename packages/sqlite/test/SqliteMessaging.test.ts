import { Sql } from "@braid/core"
import { Lock, Messaging } from "@braid/messaging"
import { SqliteDriver, SqliteMessaging } from "@braid/sqlite"
import { afterAll, assert, describe, it } from "@effect/vitest"
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

describe("SqliteMessaging: an inbox of 0.2", () => {
  it.live("gets its organization column on start; its pending messages stay readable, in the default organization", () =>
    Effect.gen(function*() {
      const old = path.join(dir, "inbox-0.2.db")
      yield* Effect.gen(function*() {
        const sql = yield* Sql.SqlDriver
        yield* sql.execute(`CREATE TABLE braid_inbox_messages (id TEXT PRIMARY KEY, recipient TEXT NOT NULL,
          sender TEXT NOT NULL, kind TEXT NOT NULL, correlation_id TEXT, body TEXT NOT NULL, sent_at BIGINT NOT NULL,
          read_at BIGINT)`)
        yield* sql.execute(
          "INSERT INTO braid_inbox_messages (id, recipient, sender, kind, body, sent_at) VALUES ('m1', 'critic', 'planner', 'message', '{\"draft\":\"v0\"}', 1)"
        )
      }).pipe(Effect.provide(SqliteDriver.layer({ filename: old })))
      yield* Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        assert.deepStrictEqual((yield* m.inbox("critic").unread).map((x) => [x.id, x.body]), [["m1", { draft: "v0" }]])
        const acme = yield* m.forOrganization("acme")
        assert.deepStrictEqual(yield* acme.inbox("critic").unread, [])
        yield* m.registry.register({ name: "critic" })
        yield* m.send("planner", "critic", "new")
        assert.strictEqual((yield* m.inbox("critic").unread).length, 2)
        // and its idempotency key column: a repeated send with a key stores nothing
        const first = yield* m.send("planner", "critic", "once", { idempotencyKey: "k" })
        assert.strictEqual(yield* m.send("planner", "critic", "once", { idempotencyKey: "k" }), first)
        assert.strictEqual((yield* m.inbox("critic").unread).length, 3)
      }).pipe(Effect.provide(SqliteMessaging.layer({ filename: old })))
      // a second start is idempotent
      yield* Effect.flatMap(Messaging.Messaging, (m) => m.inbox("critic").unread).pipe(
        Effect.provide(SqliteMessaging.layer({ filename: old }))
      )
    }))
})
