/**
 * Resilience benchmarks (issue 3): the cost each policy adds on the success path, versus the
 * bare step, in one process, measured alternately (see harness.interleaved).
 *
 * Each figure is CPU time (see microsPerOp), the best of 9 alternating samples of ~150 ms (see alternateBest); each sample
 * runs 1,000 invocations of the primitive inside one fiber (so Effect.runPromise's
 * start-up is not measured), with the same settings for the wrapped and the bare step: once with
 * Braid's instrumentation off (the policies' own logic) and once with it on and no tracer
 * installed (the wrapper adds one span of its own, as every primitive does).
 *
 * Target: retry, timeout, breaker and bulkhead each add at most 2 µs per call (instrumentation off).
 * Timeout misses it (about 4 µs): it uses Effect's public API only, see docs/resilience.md, "Cost".
 */
import { Instrumentation, Primitive } from "@braid/core"
import { Bulkhead, Cache, CircuitBreaker, Fallback, RateLimit, Retry, Timeout } from "@braid/resilience"
import { Effect } from "effect"
import { printTable, type Row } from "./harness.js"

const BATCH = 1000

const step = Primitive.make("step", (n: number) => Effect.succeed(n + 1))

const policies: ReadonlyArray<
  { readonly name: string; readonly p: Primitive.Primitive<number, number, unknown>; readonly target?: number }
> = [
  { name: "retry", p: step.pipe(Retry.policy({ maxAttempts: 3 })), target: 2 },
  { name: "timeout", p: step.pipe(Timeout.within("5 seconds")), target: 2 },
  { name: "breaker", p: step.pipe(CircuitBreaker.guard(CircuitBreaker.unsafeMake({ name: "bench" }))), target: 2 },
  {
    name: "bulkhead",
    p: step.pipe(Bulkhead.limit(Bulkhead.unsafeMake({ name: "bench", maxConcurrent: 10, maxQueued: 10 }))),
    target: 2
  },
  { name: "fallback", p: Fallback.chain([step, Primitive.sync("canned", (_: number) => 0)]) },
  {
    name: "rate limit (memory, 2 limits)",
    p: step.pipe(RateLimit.policy({
      limits: [{ key: (n) => `user:${n % 10}`, limit: 1e12, window: "1 second" }, {
        key: "global",
        limit: 1e12,
        window: "1 second"
      }]
    }))
  },
  { name: "cache (hit, memory)", p: step.pipe(Cache.policy({ key: (n) => String(n % 100) })) }
]

const loop = (p: Primitive.Primitive<number, number, unknown>) =>
  Effect.gen(function*() {
    let acc = 0
    for (let i = 0; i < BATCH; i++) acc += yield* Effect.orDie(p.invoke(i))
    return acc
  })

/**
 * CPU µs per invocation (this process's user + system time), measured over about `millis` ms of
 * wall time. CPU time rather than wall time, because the development machines are shared: other
 * processes stretch wall time but not our CPU time.
 */
const microsPerOp =
  (p: Primitive.Primitive<number, number, unknown>, instrumentation: boolean, millis = 300) => async () => {
    const program = instrumentation ? loop(p) : Instrumentation.disabled(loop(p))
    const start = performance.now()
    const cpu = process.cpuUsage()
    let n = 0
    while (performance.now() - start < millis) {
      await Effect.runPromise(program)
      n++
    }
    const used = process.cpuUsage(cpu)
    return (used.user + used.system) / (n * BATCH)
  }

/**
 * Measures A and B alternately and keeps each side's best (lowest) figure: on a shared machine,
 * interference only ever adds time, so the minimum is the figure least distorted by it.
 */
const alternateBest = async (
  a: () => Promise<number>,
  b: () => Promise<number>,
  rounds = 9
): Promise<readonly [number, number]> => {
  let bestA = Number.POSITIVE_INFINITY
  let bestB = Number.POSITIVE_INFINITY
  for (let i = 0; i < rounds; i++) {
    bestA = Math.min(bestA, await a())
    bestB = Math.min(bestB, await b())
  }
  return [bestA, bestB]
}

export default async function(): Promise<void> {
  const rows: Array<Row> = []
  for (const instrumentation of [false, true]) {
    // warm up
    await microsPerOp(step, instrumentation, 200)()
    for (const { name, p, target } of policies) {
      await microsPerOp(p, instrumentation, 100)()
      const [braid, baseline] = await alternateBest(
        microsPerOp(p, instrumentation, 150),
        microsPerOp(step, instrumentation, 150)
      )
      const overhead = braid - baseline
      const verdict = target === undefined || instrumentation
        ? ""
        : overhead <= target
        ? ` (target <= ${target} µs: ok)`
        : ` (target <= ${target} µs: MISSED)`
      rows.push({
        name: `${name} (instrumentation ${instrumentation ? "on" : "off"})`,
        braid,
        baseline,
        unit: "µs/op",
        note: `+${overhead.toFixed(2)} µs/call${verdict}`
      })
    }
  }
  printTable("Resilience: success-path cost of each policy vs the bare step (µs per call)", rows)
}
