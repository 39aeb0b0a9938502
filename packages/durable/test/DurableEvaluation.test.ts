/**
 * Durable evaluations: the same report as the plain evaluation; a restart on the SQLite engine
 * mid-run resumes at the first unfinished sample (samples stored before the restart are not
 * evaluated again, counted at the scripted model); results stored once; typed errors for bad input.
 */
import { Runner } from "@braid/core"
import { Durable, DurableModel } from "@braid/durable"
import * as DurableEvaluation from "@braid/durable/DurableEvaluation"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import type { Dataset } from "@braid/eval"
import { Evaluation, ResultStore, Samples } from "@braid/eval"
import type { Ai } from "@braid/llm"
import { ScriptedLanguageModel } from "@braid/llm"
import { assert, describe, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Effect, Exit, FastCheck as fc, Layer, ManagedRuntime } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const dir = mkdtempSync(join(tmpdir(), "braid-durable-eval-"))

/** `n` distinct samples (each judge prompt names its sample, so calls are counted per sample). */
export const dataset = (n: number): ReadonlyArray<Dataset.Conversation> =>
  Array.from({ length: n }, (_, i) => {
    const base = Samples.promptV1[i % Samples.promptV1.length]!
    return {
      ...base,
      id: `${base.id}-${i}`,
      messages: [
        { ...base.messages[0], content: `${base.messages[0].content} (sample ${i})` },
        ...base.messages.slice(1)
      ]
    }
  })

/** A scripted judge that logs every call's prompt when it starts and when it completes. */
const countingJudge = (latency?: Duration.DurationInput) => {
  const started: Array<string> = []
  const completed: Array<string> = []
  const provider = Effect.map(
    ScriptedLanguageModel.provider({ ...Samples.judgeScript, ...(latency !== undefined ? { latency } : {}) }),
    (p): Ai.Provider => ({
      ...p,
      generateText: (options) => {
        const prompt = JSON.stringify(options.prompt.content.map((m) => m.content))
        return Effect.sync(() => started.push(prompt)).pipe(
          Effect.zipRight(p.generateText(options)),
          Effect.tap(() => Effect.sync(() => completed.push(prompt)))
        )
      }
    })
  )
  return { started, completed, provider }
}

const metrics = [Evaluation.relevance, Evaluation.goalCoverage, Evaluation.questionQuality]

const withoutTimes = (report: Evaluation.Report) => ({
  ...report,
  results: report.results.map(({ evaluatedAt: _, ...r }) => r)
})

describe("DurableEvaluation", () => {
  it.live("gives the same report as the plain evaluation, across a chain of executions, each result stored once", () =>
    Effect.gen(function*() {
      const samples = dataset(7)
      const plainJudge = countingJudge()
      const plain = yield* Runner.run(Evaluation.make({ runId: "v1", metrics, concurrency: 2 }), samples).pipe(
        Effect.provide(ResultStore.layerMemory),
        Effect.provide(DurableModel.layer(plainJudge.provider))
      )
      const judge = countingJudge()
      const evaluation = yield* DurableEvaluation.make({ runId: "v1", metrics, concurrency: 2, samplesPerExecution: 3 })
      const { durable, stored, continued } = yield* Effect.gen(function*() {
        const durable = yield* evaluation.run(samples)
        const stored = yield* ResultStore.ResultStore.pipe(Effect.flatMap((s) => s.list("v1")))
        const first = yield* evaluation.workflow.runId({ conversations: samples, next: 0, results: [], failures: [] })
        const continued = yield* evaluation.workflow.status(first)
        return { durable, stored, continued }
      }).pipe(
        Effect.provide(evaluation.layer.pipe(Layer.provideMerge(Durable.layerMemory))),
        Effect.provide(ResultStore.layerMemory),
        Effect.provide(DurableModel.layer(judge.provider))
      )
      assert.deepStrictEqual(withoutTimes(durable), withoutTimes(plain))
      assert.strictEqual(durable.results.length, 7)
      assert.strictEqual(stored.length, 7)
      assert.strictEqual(continued._tag, "Continued") // 7 samples, 3 per execution: a chain of three
      assert.strictEqual(judge.started.length, 7) // one judge call per sample
      assert.strictEqual(plainJudge.started.length, 7)
    }))

  it.live(
    "a restart of the SQLite engine mid-run resumes at the first unfinished sample: no stored sample is evaluated again",
    () =>
      Effect.gen(function*() {
        const samples = dataset(24)
        const judge = countingJudge("40 millis")
        // one result store across the restart (it is the user's database, not the engine's)
        const store = yield* Layer.build(ResultStore.layerMemory)
        const evaluation = yield* DurableEvaluation.make({
          runId: "restart",
          metrics,
          concurrency: 2,
          samplesPerExecution: 5
        })
        const filename = join(dir, "restart.db")
        const open = () =>
          ManagedRuntime.make(
            evaluation.layer.pipe(
              Layer.provideMerge(SqliteEngine.layer({ filename, pollInterval: "200 millis" })),
              Layer.provideMerge(Layer.succeedContext(store)),
              Layer.provide(DurableModel.layer(judge.provider))
            )
          )
        const first = open()
        const storedBefore = yield* Effect.promise(() =>
          first.runPromise(Effect.gen(function*() {
            yield* evaluation.start(samples)
            // wait until the run is well into its second execution
            while ((yield* evaluation.progress).stored < 8) yield* Effect.sleep("20 millis")
            return yield* ResultStore.ResultStore.pipe(Effect.flatMap((s) => s.list("restart")))
          }))
        )
        yield* Effect.promise(() => first.dispose())
        const callsBefore = judge.started.length
        const second = open()
        const report = yield* Effect.promise(() => second.runPromise(evaluation.run(samples)))
        const storedAfter = yield* Effect.promise(() => second.runPromise(evaluation.progress))
        yield* Effect.promise(() => second.dispose())

        assert.isAtLeast(storedBefore.length, 8)
        assert.isBelow(storedBefore.length, 24, "the run had finished before the restart: nothing was tested")
        assert.strictEqual(report.results.length, 24)
        assert.strictEqual(storedAfter.stored, 24) // each result stored once
        // the results stored before the restart are those of the report (the first write wins)
        for (const r of storedBefore) {
          assert.deepStrictEqual(report.results.find((x) => x.conversationId === r.conversationId), {
            ...r,
            reused: false
          })
        }
        assert.strictEqual(report.failures.length, 0)
        assert.isTrue(report.results.every((r) => !r.reused))
        // every sample stored before the restart had its judge called once, in all
        const promptOf = (id: string) => judge.started.find((p) => p.includes(`(sample ${id.split("-").at(-1)})`))!
        for (const r of storedBefore) {
          const prompt = promptOf(r.conversationId)
          assert.strictEqual(
            judge.started.filter((p) => p === prompt).length,
            1,
            `sample ${r.conversationId} was judged again after the restart`
          )
        }
        // a completed call is not made again; only calls in flight at the restart (at most `concurrency`) are
        const repeated = new Set(judge.started.filter((p, i) => judge.started.indexOf(p) !== i))
        for (const p of repeated) {
          assert.isBelow(
            judge.completed.slice(0, callsBefore).filter((c) => c === p).length,
            2,
            "a call completed twice before the restart"
          )
        }
        assert.isAtMost(judge.started.length, 24 + 2)
        assert.isAtLeast(callsBefore, storedBefore.length)
      }).pipe(Effect.scoped),
    240_000
  )

  it.effect("bad options and a dataset with a duplicate id fail with InvalidInput naming where", () =>
    Effect.gen(function*() {
      const noRun = yield* Effect.exit(DurableEvaluation.make({ runId: "", metrics }))
      assert.isTrue(Exit.isFailure(noRun))
      const chunk = yield* Effect.flip(DurableEvaluation.make({ runId: "x", metrics, samplesPerExecution: 0 }))
      assert.strictEqual(chunk._tag, "InvalidInput")
      assert.include(chunk.where, "samplesPerExecution")
      const none = yield* Effect.flip(DurableEvaluation.make({ runId: "x", metrics: [] }))
      assert.strictEqual(none.path, "metrics")
      const evaluation = yield* DurableEvaluation.make({ runId: "dup", metrics })
      const twice = [...dataset(2), dataset(1)[0]!]
      const dup = yield* Effect.flip(evaluation.start(twice)).pipe(
        Effect.provide(evaluation.layer.pipe(Layer.provideMerge(Durable.layerMemory))),
        Effect.provide(ResultStore.layerMemory),
        Effect.provide(DurableModel.layer(countingJudge().provider))
      )
      assert.strictEqual(dup._tag, "InvalidInput")
      assert.strictEqual((dup as { path: string }).path, "[2].id")
      const bad = yield* Effect.flip(
        evaluation.start([{ id: "x", scenario: { objective: "o", goals: [] }, messages: "nope" } as never])
      ).pipe(
        Effect.provide(evaluation.layer.pipe(Layer.provideMerge(Durable.layerMemory))),
        Effect.provide(ResultStore.layerMemory),
        Effect.provide(DurableModel.layer(countingJudge().provider))
      )
      assert.strictEqual(bad._tag, "InvalidInput")
      assert.include((bad as { path: string }).path, "messages")
    }))

  it.effect("fuzz: any options and any dataset give a durable evaluation or a typed InvalidInput, never a defect", () =>
    Effect.gen(function*() {
      const hostile = fc.anything({ withBigInt: true, withNullPrototype: true, maxDepth: 3 })
      const cases = [
        ["x", Object.create(null), undefined], // no primitive value: named by its type, not converted
        ...fc.sample(fc.tuple(hostile, hostile, hostile), 60)
      ]
      for (const [runId, samplesPerExecution, concurrency] of cases) {
        const exit = yield* Effect.exit(
          DurableEvaluation.make({ runId, metrics, samplesPerExecution, concurrency } as never)
        )
        if (Exit.isFailure(exit)) {
          const e = yield* Effect.flip(exit)
          assert.strictEqual(e._tag, "InvalidInput")
        }
      }
      const evaluation = yield* DurableEvaluation.make({ runId: "fuzz", metrics })
      for (const data of fc.sample(hostile, 60)) {
        const exit = yield* Effect.exit(evaluation.start(data as never)).pipe(
          Effect.provide(evaluation.layer.pipe(Layer.provideMerge(Durable.layerMemory))),
          Effect.provide(ResultStore.layerMemory),
          Effect.provide(DurableModel.layer(countingJudge().provider))
        )
        // a run can start only from an array of conversations; anything else is InvalidInput
        if (Exit.isFailure(exit)) assert.strictEqual((yield* Effect.flip(exit))._tag, "InvalidInput")
        else assert.isTrue(Array.isArray(data) && data.length === 0)
      }
    }))
})
