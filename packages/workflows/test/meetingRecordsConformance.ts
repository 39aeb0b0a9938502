/**
 * What the SQL stores of a meeting (`MeetingStore.layerSql` and `MeetingRecords.layerSql`) must
 * do on every SQL driver (`meetingRecordsSuite`): run against SQLite in @braid/sqlite and
 * PostgreSQL in @braid/postgres (imported by relative path), with the launch review of
 * MeetingWorkflow.test.ts. The driver factory gives a new connection to one database of the
 * suite's own (a fresh file, a fresh schema) on each call: meeting ids here are fixed.
 */
import { Runner, Sql } from "@braid/core"
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { MeetingStore } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { MeetingRecords, MeetingWorkflow, Samples, Scripts } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"

/** The scripted model and an in-memory bus: the meeting runs offline. */
export const offline = Layer.mergeAll(
  Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.meeting)),
  EventBus.layerMemory
)

/** The launch review meeting of the samples. */
export const meeting = () =>
  MeetingWorkflow.make({ host: Samples.launchReview.host, participants: Samples.launchReview.participants })

/** What the launch review ends with. */
export const assertLaunchReview = (outcome: MeetingWorkflow.Outcome) => {
  assert.strictEqual(outcome.meetingId, "launch-review-1")
  assert.strictEqual(outcome.endedBy.condition, `mention("MEETING ADJOURNED")`)
  assert.strictEqual(outcome.turns, 7)
  assert.deepStrictEqual(outcome.left, ["Linus"])
  assert.deepStrictEqual(outcome.decisions.map((d) => d.decision), [
    "we ship on Friday at 10:00 with the new feature behind a flag, off by default"
  ])
  assert.deepStrictEqual(outcome.actionItems, [
    { owner: "Linus", task: "brief the support team", due: "Thursday noon" },
    { owner: "Grace", task: "write the rollback plan and rehearse it on staging", due: "Thursday" }
  ])
  assert.include(outcome.minutes, "Launch readiness review: Maya, Grace, Linus took part.")
  assert.isTrue(outcome.tokens > 0 && outcome.costUsd > 0)
}

/** What its history holds, read back later. */
export const assertLaunchReviewHistory = (past: Effect.Effect.Success<ReturnType<typeof MeetingWorkflow.history>>) => {
  assert.strictEqual(past.status?.state, "ended")
  assert.deepStrictEqual(past.entries.filter((e) => e.kind === "spoke").map((e) => e.participant), [
    "Maya",
    "Grace",
    "Linus",
    "Maya",
    "Grace",
    "Linus",
    "Maya"
  ])
  assert.strictEqual(past.record?.decisions.length, 1)
}

/** Grace's action items, with their meeting. */
export const graceItems = [{
  owner: "Grace",
  task: "write the rollback plan and rehearse it on staging",
  due: "Thursday",
  meetingId: "launch-review-1"
}]

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

/** The suite, on `driver()`: each call a new connection to the one database of this suite. */
export const meetingRecordsSuite = (name: string, driver: () => Layer.Layer<Sql.SqlDriver, unknown>) =>
  describe(`MeetingStore and MeetingRecords on SQL: ${name}`, () => {
    const stores = () => Layer.merge(MeetingStore.layerSql, MeetingRecords.layerSql).pipe(Layer.provide(driver()))

    it.live("a meeting's history and record are persisted, and read back through a new connection", () =>
      Effect.gen(function*() {
        const outcome = yield* Runner.run(meeting().pipeline, Samples.launchReview.input).pipe(
          Effect.provide(Layer.merge(offline, stores()))
        )
        assertLaunchReview(outcome)
        const past = yield* MeetingWorkflow.history("launch-review-1").pipe(Effect.provide(stores()))
        assertLaunchReviewHistory(past)
        const grace = yield* Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.actionItemsOf("grace")).pipe(
          Effect.provide(MeetingRecords.layerSql.pipe(Layer.provide(driver())))
        )
        assert.deepStrictEqual(grace, graceItems)
      }))

    it.live("a stored record that is not acceptable (a \"__proto__\" key, not JSON) is a typed error, never applied to a prototype", () =>
      Effect.gen(function*() {
        const records = yield* MeetingRecords.MeetingRecords
        const sql = yield* Sql.SqlDriver
        const id = `rows-${crypto.randomUUID()}`
        yield* records.save(record(id))
        yield* sql.execute("UPDATE braid_meeting_records SET record = ? WHERE meeting_id = ?", [
          `{"__proto__":{"isAdmin":true},"meetingId":"${id}"}`,
          id
        ])
        const got = typedFailure(yield* Effect.exit(records.get(id)))
        assert.strictEqual(got._tag, "HistoryStoreError")
        assert.strictEqual(got.operation, "get")
        assert.include(got.reason, `forbidden key "__proto__"`)
        assert.strictEqual(typedFailure(yield* Effect.exit(records.list)).operation, "list")
        yield* sql.execute("UPDATE braid_meeting_records SET record = ? WHERE meeting_id = ?", ["not json", id])
        assert.include(typedFailure(yield* Effect.exit(records.get(id))).reason, "not acceptable JSON")
        yield* sql.execute("DELETE FROM braid_meeting_records WHERE meeting_id = ?", [id])
      }).pipe(Effect.provide(MeetingRecords.layerSql.pipe(Layer.provideMerge(driver())))))

    it.live("a record without a JSON form (NaN) is refused with a typed error, and nothing is stored", () =>
      Effect.gen(function*() {
        const records = yield* MeetingRecords.MeetingRecords
        const id = `nan-${crypto.randomUUID()}`
        const e = typedFailure(yield* Effect.exit(records.save({ ...record(id), turns: Number.NaN })))
        assert.strictEqual(e._tag, "HistoryStoreError")
        assert.strictEqual(e.operation, "save")
        assert.include(e.reason, "turns")
        assert.strictEqual(yield* records.get(id), undefined)
      }).pipe(Effect.provide(MeetingRecords.layerSql.pipe(Layer.provide(driver())))))
  })
