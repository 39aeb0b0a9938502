/**
 * What `ResultStore.layerSql` must do on every SQL driver (`resultStoreSuite`): run against
 * SQLite in @braid/sqlite and PostgreSQL in @braid/postgres (imported by relative path). The
 * driver factory gives a new connection to the same database on each call, on a database of its
 * own (a fresh file, a fresh schema): run ids here are fixed.
 */
import { Runner, Sql } from "@braid/core"
import { Evaluation, ResultStore, Samples } from "@braid/eval"
import { Metered, ScriptedLanguageModel as Scripted } from "@braid/llm"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Ref } from "effect"

/** A scripted judge that counts its calls. */
const countingJudge = (calls: Ref.Ref<number>) =>
  Metered.fromProvider(Effect.map(Scripted.provider(Samples.judgeScript), (model) => ({
    ...model,
    generateText: (o) => Effect.zipRight(Ref.update(calls, (n) => n + 1), model.generateText(o))
  })))

const metrics = [...Evaluation.defaultMetrics]

/** A failure that is typed (not a defect, not an interruption), with its error. */
export const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  assert.isTrue(
    Option.isSome(failure),
    `expected a typed failure, got ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "success"}`
  )
  return (failure as Option.Some<E>).value
}

const result = (conversationId: string, score = 1): ResultStore.ConversationResult => ({
  runId: "r1",
  conversationId,
  scores: { relevance: score },
  reasons: { relevance: "on topic" },
  evaluatedAt: 0
})

/** The suite, on `driver()`: each call a new connection to the one database of this suite. */
export const resultStoreSuite = (
  name: string,
  driver: () => Layer.Layer<Sql.SqlDriver, unknown>
) =>
  describe(`ResultStore.layerSql: ${name}`, () => {
    const store = () => ResultStore.layerSql.pipe(Layer.provide(driver()))

    it.live("idempotent: evaluating twice stores one result per conversation and the second run calls no model", () =>
      Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const runId = `idem-${crypto.randomUUID()}`
        const pipeline = Evaluation.make({ runId, metrics })
        const layer = () => Layer.merge(store(), countingJudge(calls))
        const first = yield* Runner.run(pipeline, Samples.promptV1).pipe(Effect.provide(layer()))
        const second = yield* Runner.run(pipeline, Samples.promptV1).pipe(Effect.provide(layer())) // a new connection
        assert.strictEqual(yield* Ref.get(calls), 8)
        assert.isTrue(first.results.every((r) => !r.reused))
        assert.isTrue(second.results.every((r) => r.reused))
        assert.deepStrictEqual(second.means, first.means)
        const stored = yield* Effect.flatMap(ResultStore.ResultStore, (s) => s.list(runId)).pipe(
          Effect.provide(store())
        )
        assert.strictEqual(stored.length, 8)
        // the same conversation in another run is another result
        const other = yield* Runner.run(Evaluation.make({ runId: `${runId}-2`, metrics }), Samples.promptV1.slice(0, 2))
          .pipe(Effect.provide(layer()))
        assert.isTrue(other.results.every((r) => !r.reused))
      }))

    it.live("idempotent under concurrency: the same conversation evaluated concurrently is stored once (ON CONFLICT)", () =>
      Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const runId = `conc-${crypto.randomUUID()}`
        const one = Evaluation.evaluateConversation({ runId, metrics })
        const c = Samples.promptV1[0]!
        const results = yield* Effect.all([Runner.run(one, c), Runner.run(one, c), Runner.run(one, c)], {
          concurrency: "unbounded"
        }).pipe(Effect.provide(Layer.merge(store(), countingJudge(calls))))
        // every caller gets the one stored result
        assert.strictEqual(new Set(results.map((r) => r.evaluatedAt)).size, 1)
        const stored = yield* Effect.flatMap(ResultStore.ResultStore, (s) => s.list(runId)).pipe(
          Effect.provide(store())
        )
        assert.strictEqual(stored.length, 1)
      }))

    it.live("a stored row that is not acceptable (a \"__proto__\" key, not JSON, not a result) is a typed error naming the operation", () =>
      Effect.gen(function*() {
        const s = yield* ResultStore.ResultStore
        const sql = yield* Sql.SqlDriver
        const runId = `rows-${crypto.randomUUID()}`
        yield* s.put({ ...result("c1"), runId })
        const set = (text: string) =>
          sql.execute("UPDATE braid_evaluation_results SET result = ? WHERE run_id = ?", [text, runId])
        yield* set(
          `{"runId":"${runId}","conversationId":"c1","scores":{"__proto__":{"isAdmin":1}},"reasons":{},"evaluatedAt":0}`
        )
        const got = typedFailure(yield* Effect.exit(s.get(runId, "c1")))
        assert.strictEqual(got._tag, "ResultStoreError")
        assert.strictEqual(got.operation, "get")
        assert.include(got.reason, `forbidden key "__proto__"`)
        assert.strictEqual(typedFailure(yield* Effect.exit(s.list(runId))).operation, "list")
        yield* set("not json")
        assert.include(typedFailure(yield* Effect.exit(s.get(runId, "c1"))).reason, "not acceptable JSON")
        yield* set(`{"runId":"${runId}"}`)
        assert.include(typedFailure(yield* Effect.exit(s.get(runId, "c1"))).reason, "does not decode")
      }).pipe(Effect.provide(ResultStore.layerSql.pipe(Layer.provideMerge(driver())))))

    it.live("a result without a JSON form (NaN, Infinity) is refused with a typed error, and nothing is stored", () =>
      Effect.gen(function*() {
        const s = yield* ResultStore.ResultStore
        const runId = `nan-${crypto.randomUUID()}`
        for (const score of [Number.NaN, Number.POSITIVE_INFINITY]) {
          const e = typedFailure(yield* Effect.exit(s.put({ ...result("c1", score), runId })))
          assert.strictEqual(e._tag, "ResultStoreError")
          assert.strictEqual(e.operation, "put")
          assert.include(e.reason, "scores.relevance")
        }
        assert.deepStrictEqual(yield* s.list(runId), [])
      }).pipe(Effect.provide(store())))
  })
