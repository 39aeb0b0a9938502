import { ResultStore } from "@braid/eval"
import { SqliteMeetingRecords, SqliteResultStore } from "@braid/sqlite"
import { MeetingRecords } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const tmpDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-sqlite-stores-")), "stores.db")

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

  it.live("a file that cannot be opened is a typed failure (operation open)", () =>
    Effect.gen(function*() {
      const missing = path.join(os.tmpdir(), `braid-no-such-dir-${process.pid}`, "x", "stores.db")
      const results = yield* Effect.exit(
        Effect.flatMap(ResultStore.ResultStore, (s) => s.list("r1")).pipe(
          Effect.provide(SqliteResultStore.layer(missing))
        )
      )
      assert.isTrue(Exit.isFailure(results))
      const records = yield* Effect.exit(
        Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.list).pipe(
          Effect.provide(SqliteMeetingRecords.layer(missing))
        )
      )
      assert.isTrue(Exit.isFailure(records))
    }))
})
