/**
 * A durable evaluation (`@braid/durable/DurableEvaluation`) of 200 samples on the embedded SQLite
 * engine, against the same evaluation run plainly (`Evaluation.make` with `Runner.run`): the
 * scripted judge without latency, the relevance judge and two computed metrics, concurrency 4,
 * 50 samples per execution (a chain of four). Each sample costs two journaled store steps and one
 * journaled model call. Figures in ms (lower is better); no target: this is what durability costs.
 */
import { Runner } from "@braid/core"
import { DurableModel } from "@braid/durable"
import * as DurableEvaluation from "@braid/durable/DurableEvaluation"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import type { Dataset } from "@braid/eval"
import { Evaluation, ResultStore, Samples } from "@braid/eval"
import { ScriptedLanguageModel } from "@braid/llm"
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { median, printTable, type Row } from "./harness.js"

const samples = 200
const metrics = [Evaluation.relevance, Evaluation.goalCoverage, Evaluation.questionQuality]
const dataset: ReadonlyArray<Dataset.Conversation> = Array.from({ length: samples }, (_, i) => {
  const base = Samples.promptV1[i % Samples.promptV1.length]!
  return {
    ...base,
    id: `${base.id}-${i}`,
    messages: [{ ...base.messages[0], content: `${base.messages[0].content} (sample ${i})` }, ...base.messages.slice(1)]
  }
})
const judge = DurableModel.layer(ScriptedLanguageModel.provider(Samples.judgeScript))

const time = async (f: () => Promise<unknown>): Promise<number> => {
  const start = performance.now()
  await f()
  return performance.now() - start
}

export default async () => {
  const dir = mkdtempSync(join(tmpdir(), "braid-bench-durable-eval-"))
  const plain: Array<number> = []
  const durable: Array<number> = []
  for (let round = 0; round < 3; round++) {
    plain.push(
      await time(() =>
        Effect.runPromise(
          Runner.run(Evaluation.make({ runId: `plain-${round}`, metrics, concurrency: 4 }), dataset).pipe(
            Effect.provide(Layer.merge(ResultStore.layerMemory, judge))
          )
        )
      )
    )
    const evaluation = await Effect.runPromise(
      DurableEvaluation.make({ runId: `durable-${round}`, metrics, concurrency: 4, samplesPerExecution: 50 })
    )
    const runtime = ManagedRuntime.make(
      evaluation.layer.pipe(
        Layer.provideMerge(SqliteEngine.layer({ filename: join(dir, `eval-${round}.db`) })),
        Layer.provideMerge(ResultStore.layerMemory),
        Layer.provide(judge)
      )
    )
    await runtime.runPromise(Effect.void) // the engine opened before the clock starts
    durable.push(await time(() => runtime.runPromise(evaluation.run(dataset))))
    await runtime.dispose()
  }
  rmSync(dir, { recursive: true, force: true })
  const rows: Array<Row> = [{
    name: `evaluation of ${samples} samples, durable on SQLite (plain)`,
    braid: median(durable),
    baseline: median(plain),
    unit: "ms",
    note: "median of 3; 50 samples per execution, concurrency 4, scripted judge without latency"
  }]
  printTable("durable evaluation: cost of journaling an evaluation", rows)
}
