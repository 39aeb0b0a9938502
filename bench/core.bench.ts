/**
 * Core benchmarks (issue 2): Braid combinators against raw Effect doing the same work, in one
 * process, measured alternately (see harness.interleaved).
 *
 * - seq10: a 10-step sequence of trivial steps. Each sample runs 1,000 invocations inside one
 *   fiber so that what is measured is the pipeline, not Effect.runPromise's start-up.
 * - fanout100: 100 parallel branches each sleeping 1 ms, then summed: wall time per invocation.
 * - fanout10k: forEach over 10,000 items, concurrency 100, each sleeping 1 ms: wall time and
 *   peak heap above the baseline.
 */
import { forEach, Instrumentation, parallel, Primitive, Runner, sequence } from "@braid/core"
import { NodeSdk } from "@effect/opentelemetry"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, ManagedRuntime } from "effect"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { interleaved, medianMillis, printTable, type Row } from "./harness.js"

v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

const BATCH = 1000

// ---- seq10 ------------------------------------------------------------------------------------
const steps = Array.from({ length: 10 }, (_, i) => Primitive.make(`s${i}`, (n: number) => Effect.succeed(n + 1)))
const seq10 = (sequence as unknown as (
  ...ps: ReadonlyArray<Primitive.Primitive<number, number>>
) => Primitive.Primitive<number, number>)(...steps)
const rawStep = (n: number) => Effect.succeed(n + 1)
const rawSeq10 = (n: number) => {
  let e = rawStep(n)
  for (let i = 1; i < 10; i++) e = Effect.flatMap(e, rawStep)
  return e
}
const noStack = { captureStackTrace: false } as const
const rawSeq10Spans = (n: number) => {
  let e = Effect.withSpan(rawStep(n), "s0", noStack)
  for (let i = 1; i < 10; i++) e = Effect.flatMap(e, (x) => Effect.withSpan(rawStep(x), `s${i}`, noStack))
  return Effect.withSpan(e, "sequence", noStack)
}

const loop = (one: (n: number) => Effect.Effect<number>) =>
  Effect.gen(function*() {
    let acc = 0
    for (let i = 0; i < BATCH; i++) acc += yield* one(i)
    return acc
  })

const exporter = new InMemorySpanExporter()
const otel = ManagedRuntime.make(
  NodeSdk.layer(() => ({ spanProcessor: new SimpleSpanProcessor(exporter) })) as Layer.Layer<never>
)

/** Batches per second measured over ~millis, converted to invocations per second. */
const rate = (run: () => Promise<unknown>, millis = 400) => async () => {
  const start = performance.now()
  let n = 0
  while (performance.now() - start < millis) {
    await run()
    n++
    if (exporter.getFinishedSpans().length > 50_000) exporter.reset()
  }
  return (n * BATCH * 1000) / (performance.now() - start)
}

// ---- fanout -------------------------------------------------------------------------------------
const sleeper = (i: number) => Primitive.make(`b${i}`, (_: number) => Effect.as(Effect.sleep("1 millis"), i))
const fanout100 = sequence(
  parallel(
    Array.from({ length: 100 }, (_, i) => sleeper(i)) as unknown as readonly [Primitive.Primitive<number, number>]
  ),
  Primitive.sync("sum", (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0))
)
const rawFanout100 = Effect.map(
  Effect.all(Array.from({ length: 100 }, (_, i) => Effect.as(Effect.sleep("1 millis"), i)), {
    concurrency: "unbounded"
  }),
  (xs) => xs.reduce((a, b) => a + b, 0)
)
const items = Array.from({ length: 10_000 }, (_, i) => i)
const fanout10k = forEach(Primitive.make("item", (i: number) => Effect.as(Effect.sleep("1 millis"), i)), {
  concurrency: 100
})
const rawFanout10k = Effect.forEach(items, (i) => Effect.as(Effect.sleep("1 millis"), i), { concurrency: 100 })
const rawFanout10kSpans = Effect.withSpan(
  Effect.forEach(items, (i) => Effect.withSpan(Effect.as(Effect.sleep("1 millis"), i), "item", noStack), {
    concurrency: 100
  }),
  "forEach",
  noStack
)

const peakHeap = async (run: () => Promise<unknown>): Promise<number> => {
  gc()
  const base = process.memoryUsage().heapUsed
  let peak = base
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 2)
  await run()
  peak = Math.max(peak, process.memoryUsage().heapUsed)
  clearInterval(timer)
  return (peak - base) / 1024 / 1024
}

export default async function(): Promise<void> {
  // seq10, instrumentation off, primitive invoked from Effect code
  const [offBraid, offRaw] = await interleaved(
    rate(() => Effect.runPromise(Instrumentation.disabled(loop((n) => seq10.invoke(n))))),
    rate(() => Effect.runPromise(loop(rawSeq10)))
  )
  // seq10 through the runner (a fresh WorkflowContext per invocation), instrumentation off
  const [runnerBraid, runnerRaw] = await interleaved(
    rate(() =>
      Effect.runPromise(loop((n) => Runner.run(seq10, n, { instrumentation: "off" }) as Effect.Effect<number>))
    ),
    rate(() => Effect.runPromise(loop(rawSeq10)))
  )
  // seq10 with spans exported to memory, against raw Effect without spans and with the same spans
  const [spanBraid, spanRaw, spanRawSpans] = await (async () => {
    const braid: Array<number> = []
    const raw: Array<number> = []
    const rawSpans: Array<number> = []
    for (let i = 0; i < 5; i++) {
      braid.push(await rate(() => otel.runPromise(loop((n) => seq10.invoke(n))))())
      raw.push(await rate(() => otel.runPromise(loop(rawSeq10)))())
      rawSpans.push(await rate(() => otel.runPromise(loop(rawSeq10Spans)))())
    }
    const med = (xs: Array<number>) => xs.sort((a, b) => a - b)[2]!
    return [med(braid), med(raw), med(rawSpans)]
  })()
  exporter.reset()

  const [f100Braid, f100Raw] = await interleaved(
    () => medianMillis(() => Effect.runPromise(Runner.run(fanout100, 0)), 15),
    () => medianMillis(() => Effect.runPromise(rawFanout100), 15)
  )
  const [f10kBraid, f10kRaw] = await interleaved(
    () => medianMillis(() => Effect.runPromise(Runner.run(fanout10k, items)), 3),
    () => medianMillis(() => Effect.runPromise(rawFanout10k), 3),
    3
  )
  const [f10kOnBraid, f10kOnRaw] = await interleaved(
    () => medianMillis(() => Effect.runPromise(Runner.run(fanout10k, items, { instrumentation: "on" })), 3),
    () => medianMillis(() => Effect.runPromise(rawFanout10kSpans), 3),
    3
  )
  const heapBraid = await peakHeap(() => Effect.runPromise(Runner.run(fanout10k, items)))
  const heapRaw = await peakHeap(() => Effect.runPromise(rawFanout10k))
  await otel.dispose()

  const rows: Array<Row> = [
    { name: "seq10, instrumentation off (invoke)", braid: offBraid, baseline: offRaw, unit: "ops/s", maxRatio: 1.5 },
    {
      name: "seq10, instrumentation off (Runner.run: new context per run)",
      braid: runnerBraid,
      baseline: runnerRaw,
      unit: "ops/s"
    },
    {
      name: "seq10, spans to in-memory exporter, vs raw Effect without spans",
      braid: spanBraid,
      baseline: spanRaw,
      unit: "ops/s"
    },
    {
      name: "seq10, spans to in-memory exporter, vs raw Effect with the same spans",
      braid: spanBraid,
      baseline: spanRawSpans,
      unit: "ops/s",
      maxRatio: 3
    },
    {
      name: "fanout100 wall time, default mode (no tracer layer)",
      braid: f100Braid,
      baseline: f100Raw,
      unit: "ms",
      maxRatio: 1.15
    },
    {
      name: "fanout10k wall time, default mode (no tracer layer)",
      braid: f10kBraid,
      baseline: f10kRaw,
      unit: "ms",
      maxRatio: 1.15
    },
    {
      name: "fanout10k wall time, spans forced on, vs raw Effect with the same spans",
      braid: f10kOnBraid,
      baseline: f10kOnRaw,
      unit: "ms"
    },
    { name: "fanout10k peak heap above baseline, default mode", braid: heapBraid, baseline: heapRaw, unit: "MB" }
  ]
  printTable("core: combinators versus raw Effect", rows)
}
