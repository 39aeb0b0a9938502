import { Sql } from "@braid/core"
import { SqliteDriver, SqliteSessionStore } from "@braid/sqlite"
import { SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
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
  persistent: true,
  driver: () => SqliteDriver.layer({ filename: file })
})

describe("SqliteSessionStore", () => {
  it.live("stores that open a new file at once (connections of their own) migrate it once, and all of them work", () =>
    Effect.gen(function*() {
      const fresh = path.join(fs.mkdtempSync(path.join(dir, "fresh-")), "sessions.db")
      const ids = yield* Effect.forEach(
        [0, 1, 2, 3],
        (i) =>
          Effect.flatMap(
            SessionStore.SessionStore,
            (store) => store.createSession({ id: `s${i}`, userId: "ada", kind: "practice", createdAt: i })
          ).pipe(Effect.provide(SqliteSessionStore.layer(fresh, { timeout: "20 seconds" })), Effect.map((s) => s.id)),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(ids, ["s0", "s1", "s2", "s3"])
      const versions = yield* Effect.flatMap(
        Sql.SqlDriver,
        (sql) => sql.query("SELECT version FROM braid_session_migrations")
      ).pipe(
        Effect.provide(SqliteDriver.layer({ filename: fresh }))
      )
      assert.deepStrictEqual(versions.map((r) => Number(r["version"])), [1])
      const all = yield* Effect.flatMap(SessionStore.SessionStore, (store) => store.listSessions(SessionStore.system()))
        .pipe(
          Effect.provide(SqliteSessionStore.layer(fresh))
        )
      assert.deepStrictEqual(all.items.map((s) => s.id), ["s3", "s2", "s1", "s0"])
    }))

  it.live("a file that cannot be opened is a SessionStoreError (operation open)", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(
        Effect.flatMap(SessionStore.SessionStore, (s) => s.countLive(SessionStore.system())).pipe(
          Effect.provide(SqliteSessionStore.layer(path.join(dir, "missing-dir", "x", "sessions.db")))
        )
      )
      assert.strictEqual(e._tag, "SessionStoreError")
      assert.strictEqual(e.operation, "open")
    }))
})
