import { ResultStore } from "@braid/eval"
import { PostgresDriver, PostgresMeetingRecords, PostgresResultStore } from "@braid/postgres"
import { DATABASE_URL, describeWith, faultyProxy, withPort } from "@braid/testing"
import { MeetingRecords } from "@braid/workflows"
import { assert, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Layer, Schedule } from "effect"
import { afterAll, beforeAll } from "vitest"
import { resultStoreSuite, typedFailure } from "../../eval/test/resultStoreConformance.js"
import { meetingRecordsSuite } from "../../workflows/test/meetingRecordsConformance.js"
import { admin, inSchema } from "./schemas.js"

const describePg = await describeWith("postgres")

describePg("ResultStore, MeetingStore and MeetingRecords on PostgresDriver", () => {
  const schema = `braid_st_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  const driver = () => PostgresDriver.layer({ url: inSchema(DATABASE_URL, schema) })

  resultStoreSuite("postgres", driver)
  meetingRecordsSuite("postgres", driver)

  const result = (conversationId: string): ResultStore.ConversationResult => ({
    runId: "bounded",
    conversationId,
    scores: { relevance: 1 },
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

  it.live("a store call on a link that never answers fails with the store's typed error at the configured bound; a dropped connection is typed and the store recovers", () =>
    Effect.gen(function*() {
      const target = new URL(DATABASE_URL)
      const p = yield* faultyProxy(Number(target.port || 5432), target.hostname || "127.0.0.1")
      const url = inSchema(withPort(DATABASE_URL, p.port), schema)
      const stores = Layer.merge(
        PostgresResultStore.layer({ url, timeout: "2 seconds" }),
        PostgresMeetingRecords.layer({ url, timeout: "2 seconds" })
      )
      yield* Effect.gen(function*() {
        const store = yield* ResultStore.ResultStore
        const records = yield* MeetingRecords.MeetingRecords
        yield* store.put(result("c1"))
        yield* records.save(record("bounded-m1"))
        assert.deepStrictEqual((yield* store.list("bounded")).map((r) => r.conversationId), ["c1"])

        p.silence()
        const stalled = typedFailure(yield* Effect.exit(store.get("bounded", "c1")))
        assert.strictEqual(stalled._tag, "ResultStoreError")
        assert.strictEqual(stalled.operation, "get")
        assert.strictEqual(stalled.reason, "no answer within 2000 ms")
        const stalledRecords = typedFailure(yield* Effect.exit(records.list))
        assert.strictEqual(stalledRecords._tag, "HistoryStoreError")
        assert.strictEqual(stalledRecords.reason, "no answer within 2000 ms")

        // the connection dropped under a call (still no answer): the call fails typed, never a defect;
        // whether the drop or the bound ends it first depends on when the call reached the socket
        const inFlight = yield* Effect.fork(Effect.exit(store.list("bounded")))
        yield* Effect.yieldNow()
        p.drop()
        const dropped = typedFailure(yield* Fiber.join(inFlight))
        assert.strictEqual(dropped._tag, "ResultStoreError")
        assert.strictEqual(dropped.operation, "list")
        // the link answers again: the store recovers on a new connection
        p.resume()
        const recovered = yield* Effect.retry(store.list("bounded"), {
          times: 20,
          schedule: Schedule.spaced("200 millis")
        })
        assert.deepStrictEqual(recovered.map((r) => r.conversationId), ["c1"])
        assert.strictEqual((yield* records.get("bounded-m1"))?.title, "Launch review")
      }).pipe(Effect.provide(stores))
    }).pipe(Effect.scoped))

  it.live("layerConfig reads DATABASE_URL through Config; a refused URL with a password is a typed error without it", () =>
    Effect.gen(function*() {
      const config = (url: string) => Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DATABASE_URL", url]])))
      const stored = yield* Effect.flatMap(
        ResultStore.ResultStore,
        (s) => Effect.zipRight(s.put(result("config")), s.get("bounded", "config"))
      ).pipe(
        Effect.provide(PostgresResultStore.layerConfig().pipe(Layer.provide(config(inSchema(DATABASE_URL, schema)))))
      )
      assert.strictEqual(stored?.conversationId, "config")
      const refused = new URL(withPort(DATABASE_URL, 1))
      refused.username = "braid_nobody"
      refused.password = "s3cret-pw"
      const error = yield* Effect.flip(
        Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.list).pipe(
          Effect.provide(
            PostgresMeetingRecords.layerConfig({ timeout: "2 seconds" }).pipe(
              Layer.provide(config(refused.toString()))
            )
          )
        )
      )
      assert.strictEqual(error._tag, "HistoryStoreError")
      assert.notInclude(JSON.stringify(error), "s3cret-pw")
      assert.notInclude(String(error), "s3cret-pw")
    }))
})
