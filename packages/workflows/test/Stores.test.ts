import { ResultStore } from "@braid/eval"
import { DATABASE_URL, describeWith, faultyProxy } from "@braid/testing"
import { MeetingRecords } from "@braid/workflows"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, Redacted, Schedule } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const tmpDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-stores-")), "stores.db")
const result = (conversationId: string, score = 1): ResultStore.ConversationResult => ({
  runId: "r1",
  conversationId,
  scores: { relevance: score },
  reasons: { relevance: "on topic" },
  evaluatedAt: 0
})
const record = (meetingId: string): MeetingRecords.Record => ({
  meetingId,
  title: "Launch review",
  agenda: ["Ship?"],
  endedBy: "adjourned",
  turns: 3,
  minutes: "ok",
  decisions: [],
  actionItems: [{ owner: "Grace", task: "write the plan" }],
  recordedAt: 1
})

/** A failure that is typed (not a defect, not an interruption), with its error. */
const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  assert.isTrue(
    Option.isSome(failure),
    `expected a typed failure, got ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "success"}`
  )
  return (failure as Option.Some<E>).value
}

describe("ResultStore and MeetingRecords: rows are untrusted, values must have a JSON form", () => {
  it.effect("a stored row with a \"__proto__\" key is a typed error, never applied to an object's prototype", () =>
    Effect.gen(function*() {
      const file = tmpDb()
      const sqlite = SqliteClient.layer({ filename: file })
      const program = Effect.gen(function*() {
        const store = yield* ResultStore.ResultStore
        const records = yield* MeetingRecords.MeetingRecords
        const sql = yield* SqlClient.SqlClient
        yield* store.put(result("c1"))
        yield* records.save(record("m1"))
        yield* sql`UPDATE braid_evaluation_results SET result = ${`{"runId":"r1","conversationId":"c1","scores":{"__proto__":{"isAdmin":1}},"reasons":{},"evaluatedAt":0}`}`
        yield* sql`UPDATE braid_meeting_records SET record = ${`{"__proto__":{"isAdmin":true},"meetingId":"m1"}`}`
        const got = typedFailure(yield* Effect.exit(store.get("r1", "c1")))
        assert.strictEqual(got._tag, "ResultStoreError")
        assert.strictEqual(got.operation, "get")
        assert.include(got.reason, `forbidden key "__proto__"`)
        const listed = typedFailure(yield* Effect.exit(store.list("r1")))
        assert.strictEqual(listed.operation, "list")
        const meeting = typedFailure(yield* Effect.exit(records.get("m1")))
        assert.strictEqual(meeting._tag, "HistoryStoreError")
        assert.include(meeting.reason, `forbidden key "__proto__"`)
        // a row that is not JSON at all, or does not decode, is typed too
        yield* sql`UPDATE braid_evaluation_results SET result = ${"not json"}`
        assert.include(typedFailure(yield* Effect.exit(store.get("r1", "c1"))).reason, "not acceptable JSON")
        yield* sql`UPDATE braid_evaluation_results SET result = ${`{"runId":"r1"}`}`
        assert.include(typedFailure(yield* Effect.exit(store.get("r1", "c1"))).reason, "does not decode")
      })
      yield* program.pipe(
        Effect.provide(
          Layer.mergeAll(ResultStore.layerSql, MeetingRecords.layerSql, sqlite).pipe(Layer.provideMerge(sqlite))
        )
      )
    }))

  it.effect("a result without a JSON form (NaN, Infinity) is refused by every store with a typed error, and nothing is stored", () =>
    Effect.gen(function*() {
      for (
        const layer of [
          ResultStore.layerMemory,
          ResultStore.layerSql.pipe(Layer.provide(SqliteClient.layer({ filename: tmpDb() })))
        ]
      ) {
        yield* Effect.gen(function*() {
          const store = yield* ResultStore.ResultStore
          for (const score of [Number.NaN, Number.POSITIVE_INFINITY]) {
            const e = typedFailure(yield* Effect.exit(store.put(result("c1", score))))
            assert.strictEqual(e._tag, "ResultStoreError")
            assert.strictEqual(e.operation, "put")
            assert.include(e.reason, "scores.relevance")
          }
          assert.deepStrictEqual(yield* store.list("r1"), [])
        }).pipe(Effect.provide(layer))
      }
      for (
        const layer of [
          MeetingRecords.layerMemory,
          MeetingRecords.layerSql.pipe(Layer.provide(SqliteClient.layer({ filename: tmpDb() })))
        ]
      ) {
        yield* Effect.gen(function*() {
          const records = yield* MeetingRecords.MeetingRecords
          const e = typedFailure(yield* Effect.exit(records.save({ ...record("m1"), turns: Number.NaN })))
          assert.strictEqual(e._tag, "HistoryStoreError")
          assert.include(e.reason, "turns")
          assert.deepStrictEqual(yield* records.list, [])
        }).pipe(Effect.provide(layer))
      }
    }))
})

const describePg = await describeWith("postgres")

describePg("ResultStore and MeetingRecords over PostgreSQL: bounded calls, dropped connections", () => {
  const target = new URL(DATABASE_URL)
  const schema = `braid_wf_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  /** A client through the proxy whose tables live in a schema of this test (others test concurrently). */
  const client = (port: number) => {
    const url = new URL(DATABASE_URL)
    url.hostname = "127.0.0.1"
    url.port = String(port)
    url.searchParams.set("options", `-c search_path=${schema}`)
    return PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 1, connectTimeout: "5 seconds" })
  }
  const admin = PgClient.layer({ url: Redacted.make(DATABASE_URL), maxConnections: 1 })
  const withSchema = <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`)).pipe(
        Effect.provide(admin)
      ),
      () => self,
      () =>
        Effect.orDie(
          Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).pipe(
            Effect.provide(admin)
          )
        )
    )

  it.live("a store call on a link that never answers fails with the store's typed error at the configured bound; a dropped connection is typed and the store recovers", () =>
    withSchema(Effect.scoped(Effect.gen(function*() {
      const p = yield* faultyProxy(Number(target.port || 5432), target.hostname || "127.0.0.1")
      const stores = Layer.merge(
        ResultStore.layerSqlWith({ timeout: "2 seconds" }),
        MeetingRecords.layerSqlWith({ timeout: "2 seconds" })
      ).pipe(
        Layer.provide(client(p.port))
      )
      yield* Effect.gen(function*() {
        const store = yield* ResultStore.ResultStore
        const records = yield* MeetingRecords.MeetingRecords
        yield* store.put(result("c1"))
        yield* records.save(record("m1"))
        assert.deepStrictEqual((yield* store.list("r1")).map((r) => r.conversationId), ["c1"])

        p.silence()
        const stalled = typedFailure(yield* Effect.exit(store.get("r1", "c1")))
        assert.strictEqual(stalled._tag, "ResultStoreError")
        assert.strictEqual(stalled.operation, "get")
        assert.strictEqual(stalled.reason, "no answer within 2000 ms")
        const stalledRecords = typedFailure(yield* Effect.exit(records.list))
        assert.strictEqual(stalledRecords._tag, "HistoryStoreError")
        assert.strictEqual(stalledRecords.reason, "no answer within 2000 ms")

        // the connection dropped under a call (still no answer): the call fails typed, never a defect;
        // whether the drop or the bound ends it first depends on when the call reached the socket
        const inFlight = yield* Effect.fork(Effect.exit(store.list("r1")))
        yield* Effect.yieldNow()
        p.drop()
        const dropped = typedFailure(yield* Fiber.join(inFlight))
        assert.strictEqual(dropped._tag, "ResultStoreError")
        assert.strictEqual(dropped.operation, "list")
        // the link answers again: the store recovers on a new connection
        p.resume()
        // (a connection opened while the link was stalled waits for the pool's connect timeout)
        const recovered = yield* Effect.retry(store.list("r1"), { times: 20, schedule: Schedule.spaced("200 millis") })
        assert.deepStrictEqual(recovered.map((r) => r.conversationId), ["c1"])
        assert.strictEqual((yield* records.get("m1"))?.title, "Launch review")
      }).pipe(Effect.provide(stores))
    }))))
})
