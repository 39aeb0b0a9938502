import { ResultStore } from "@braid/eval"
import { MeetingRecords } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"

// The SQL stores are tested on every driver by the conformance suites (eval/test/resultStoreConformance.ts,
// workflows/test/meetingRecordsConformance.ts), run in @braid/sqlite and @braid/postgres.

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

describe("ResultStore and MeetingRecords in memory: values must have a JSON form, as in the SQL stores", () => {
  it.effect("a result without a JSON form (NaN, Infinity) is refused with a typed error, and nothing is stored", () =>
    Effect.gen(function*() {
      const store = yield* ResultStore.ResultStore
      for (const score of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const e = typedFailure(yield* Effect.exit(store.put(result("c1", score))))
        assert.strictEqual(e._tag, "ResultStoreError")
        assert.strictEqual(e.operation, "put")
        assert.include(e.reason, "scores.relevance")
      }
      assert.deepStrictEqual(yield* store.list("r1"), [])
    }).pipe(Effect.provide(ResultStore.layerMemory)))

  it.effect("a record without a JSON form (NaN) is refused with a typed error, and nothing is stored", () =>
    Effect.gen(function*() {
      const records = yield* MeetingRecords.MeetingRecords
      const e = typedFailure(yield* Effect.exit(records.save({ ...record("m1"), turns: Number.NaN })))
      assert.strictEqual(e._tag, "HistoryStoreError")
      assert.include(e.reason, "turns")
      assert.deepStrictEqual(yield* records.list, [])
    }).pipe(Effect.provide(MeetingRecords.layerMemory)))
})
