/**
 * Observability benchmark (issue 4): instrumentation overhead on a pipeline whose model calls
 * take 1 ms (the scripted model with a 1 ms latency, real clock).
 *
 * The pipeline: a 5-step sequence, each step one model call (plus accounting). One sample runs
 * the pipeline 20 times. Braid = spans exported to memory (`Observability.inMemory()`: one span
 * per primitive, one `chat {model}` span per call, GenAI attributes, metrics); baseline = the
 * same pipeline with `Observability.off`. Measured alternately in one process; target <= 1.05x.
 */
import { Primitive, Runner, sequence } from "@braid/core"
import { Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
import { Observability } from "@braid/observability"
import { Effect, Layer, ManagedRuntime } from "effect"
import { interleaved, medianMillis, printTable } from "./harness.js"

const RUNS = 20

const step = (name: string) =>
  Primitive.make(
    name,
    (text: string) =>
      Effect.map(Ai.LanguageModel.generateText({ prompt: text }).pipe(Ai.withSettings({ agent: name })), (r) => r.text)
  )

const pipeline = (sequence as unknown as (
  ...ps: ReadonlyArray<Primitive.Primitive<string, string, unknown, Ai.LanguageModel.LanguageModel>>
) => Primitive.Primitive<string, string, unknown, Ai.LanguageModel.LanguageModel>)(
  step("outline"),
  step("draft"),
  step("critique"),
  step("revise"),
  step("summarize")
).pipe(Primitive.named("article"))

const model = Metered.fromProvider(
  ScriptedLanguageModel.provider({ default: "A short answer about {{input}}.", latency: "1 millis" })
)

export default async function(): Promise<void> {
  const mem = Observability.inMemory()
  const traced = ManagedRuntime.make(Layer.merge(model, mem.layer))
  const off = ManagedRuntime.make(Layer.merge(model, Observability.off))
  const runAll = (rt: typeof traced | typeof off) => () =>
    rt.runPromise(
      Effect.forEach(Array.from({ length: RUNS }, (_, i) => i), (i) => Runner.run(pipeline, `topic ${i}`), {
        discard: true
      })
    )

  // sanity: the traced runtime really exports spans (1 root + 5 steps + 5 chat spans, each with
  // @effect/ai's LanguageModel.generateText span under it, per run)
  await runAll(traced)()
  const perRun = mem.spans().length / RUNS
  if (perRun !== 16) throw new Error(`expected 16 spans per run, got ${perRun}`)
  await runAll(off)()

  const [withSpans, withoutSpans] = await interleaved(
    async () => {
      const ms = await medianMillis(runAll(traced), 5)
      mem.exporter.reset()
      return ms
    },
    () => medianMillis(runAll(off), 5),
    7
  )
  printTable("Observability: instrumentation overhead (5 model calls of 1 ms per run, 20 runs per sample)", [
    {
      name: "pipeline, spans exported in memory vs off",
      braid: withSpans,
      baseline: withoutSpans,
      unit: "ms",
      maxRatio: 1.05,
      note: `${perRun} spans per run; ${
        (((withSpans - withoutSpans) / (RUNS * 5)) * 1000).toFixed(0)
      } µs more per model call`
    }
  ])
  await traced.dispose()
  await off.dispose()
}
