import { ResultStore } from "@braid/eval"
import { SqliteDriver, SqliteMeetingRecords, SqliteResultStore } from "@braid/sqlite"
import { MeetingRecords } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { resultStoreSuite, typedFailure } from "../../eval/test/resultStoreConformance.js"
import { meetingRecordsSuite } from "../../workflows/test/meetingRecordsConformance.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-sqlite-stores-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
const tmpDb = () => path.join(fs.mkdtempSync(path.join(dir, "db-")), "stores.db")

// The conformance suites of the SQL stores, each on a file of its own (a new connection per layer).
const results = tmpDb()
resultStoreSuite("sqlite", () => SqliteDriver.layer({ filename: results }))
const meetings = tmpDb()
meetingRecordsSuite("sqlite", () => SqliteDriver.layer({ filename: meetings }))

describe("SqliteResultStore / SqliteMeetingRecords", () => {
  it.live("a result and a record stored in a file are read back through a new layer", () =>
    Effect.gen(function*() {
      const file = tmpDb()
      const result: ResultStore.ConversationResult = {
        runId: "r1",
        conversationId: "c1",
        scores: { relevance: 1 },
        reasons: { relevance: "on topic" },
        evaluatedAt: 0
      }
      yield* Effect.flatMap(ResultStore.ResultStore, (s) => s.put(result)).pipe(
        Effect.provide(SqliteResultStore.layer(file))
      )
      const stored = yield* Effect.flatMap(ResultStore.ResultStore, (s) => s.list("r1")).pipe(
        Effect.provide(SqliteResultStore.layer(file, { timeout: "2 seconds" }))
      )
      assert.deepStrictEqual(stored, [result])
      const record: MeetingRecords.Record = {
        meetingId: "m1",
        title: "Launch review",
        agenda: ["Ship?"],
        endedBy: "adjourned",
        turns: 3,
        minutes: "ok",
        decisions: [],
        actionItems: [{ owner: "Grace", task: "write the plan" }],
        recordedAt: 1
      }
      yield* Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.save(record)).pipe(
        Effect.provide(SqliteMeetingRecords.layer(file))
      )
      const got = yield* Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.get("m1")).pipe(
        Effect.provide(SqliteMeetingRecords.layer(file))
      )
      assert.deepStrictEqual(got, record)
    }))

  it.live("a file that cannot be opened is a typed failure of the store (operation open)", () =>
    Effect.gen(function*() {
      const missing = path.join(dir, "no-such-dir", "x", "stores.db")
      const results = typedFailure(
        yield* Effect.exit(
          Effect.flatMap(ResultStore.ResultStore, (s) => s.list("r1")).pipe(
            Effect.provide(SqliteResultStore.layer(missing))
          )
        )
      )
      assert.strictEqual(results._tag, "ResultStoreError")
      assert.strictEqual(results.operation, "open")
      const records = typedFailure(
        yield* Effect.exit(
          Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.list).pipe(
            Effect.provide(SqliteMeetingRecords.layer(missing))
          )
        )
      )
      assert.strictEqual(records._tag, "HistoryStoreError")
      assert.strictEqual(records.operation, "open")
    }))

  it.live("a database locked by another connection is the store's typed error within its bound, and the store recovers", () =>
    Effect.gen(function*() {
      const file = tmpDb()
      const Database = (yield* Effect.promise(() => import("node:module"))).createRequire(import.meta.url)(
        "better-sqlite3"
      ) as new(filename: string) => { exec(sql: string): void; close(): void }
      yield* Effect.gen(function*() {
        const store = yield* ResultStore.ResultStore
        const other = new Database(file)
        other.exec("BEGIN IMMEDIATE")
        const locked = typedFailure(
          yield* Effect.exit(store.put({ runId: "r", conversationId: "c", scores: {}, reasons: {}, evaluatedAt: 0 }))
        )
        other.exec("ROLLBACK")
        other.close()
        assert.strictEqual(locked._tag, "ResultStoreError")
        assert.include(locked.reason, "database is locked")
        yield* store.put({ runId: "r", conversationId: "c", scores: {}, reasons: {}, evaluatedAt: 0 })
        assert.strictEqual((yield* store.list("r")).length, 1)
      }).pipe(Effect.provide(SqliteResultStore.layer(file, { timeout: "200 millis" })))
    }))
})
