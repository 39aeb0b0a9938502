/**
 * Tutorial 11: the evaluation workflow.
 *
 * We changed the coach's prompt ("be more concise") and want to know, before shipping, whether
 * the conversations got worse. The evaluation workflow scores finished conversations on metrics
 * (relevance judged by a model with a Schema-typed verdict, goal coverage, question quality, and
 * an objective check against each scenario), persists one result per conversation and run
 * (evaluating twice stores one result), compares the two runs with a confidence interval, and a
 * regression gate turns that into a pass or a fail, exactly what `npx braid eval` does in CI.
 *
 * Run it: npx tsx examples/11-evaluation.ts                              (offline, scripted judge)
 *         ANTHROPIC_API_KEY=sk-ant-... npx tsx examples/11-evaluation.ts (Claude judges)
 */
import { Runner } from "@braid/core"
import { Dataset, Evaluation, Gate, Models, ResultStore, Samples } from "@braid/eval"
import { Accounting } from "@braid/llm"
import { SqliteResultStore } from "@braid/sqlite"
import { Effect, Layer } from "effect"
import assert from "node:assert"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const online = (await Effect.runPromise(Models.mode())) === "anthropic"

// 1. The data: the same eight coaching scenarios, coached with prompt v1 and with prompt v2.
//    On disk they are JSONL, one conversation a line; a bad line is an error naming line and field.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-tutorial-11-"))
const v1File = path.join(dir, "prompt-v1.jsonl")
const v2File = path.join(dir, "prompt-v2.jsonl")
fs.writeFileSync(v1File, Dataset.toJsonl(Samples.promptV1))
fs.writeFileSync(v2File, Dataset.toJsonl(Samples.promptV2))

// 2. The metrics: three built in, plus one of our own.
const brevity = Evaluation.metric("brevity", (c) => {
  const replies = c.messages.filter((m) => m.role === "assistant")
  const long = replies.filter((m) => m.content.split(/\s+/).length > 40).length
  return Effect.succeed({
    score: replies.length === 0 ? 1 : 1 - long / replies.length,
    reason: `${long} of ${replies.length} replies over 40 words`
  })
})
const metrics = [
  Evaluation.relevance,
  Evaluation.goalCoverage,
  Evaluation.questionQuality,
  Evaluation.objectiveMet,
  brevity
]

const main = Effect.gen(function*() {
  console.log(`== Tutorial 11: evaluation (${online ? "Claude as judge" : "scripted judge, offline"}) ==\n`)
  const v1 = yield* Dataset.load(v1File)
  const v2 = yield* Dataset.load(v2File)
  console.log(`loaded ${v1.length} + ${v2.length} conversations from ${dir}`)

  const bad = path.join(dir, "bad.jsonl")
  fs.writeFileSync(
    bad,
    `${JSON.stringify(Samples.promptV1[0])}\n{"id":"x","messages":[{"role":"coach","content":"hi"}]}\n`
  )
  const error = yield* Effect.flip(Dataset.load(bad))
  console.log(`a malformed dataset is rejected clearly: ${error.message}\n`)
  assert.ok(error.message.endsWith(`bad.jsonl:2: messages[0].role: Expected "user" | "assistant", actual "coach"`))

  // 3. Evaluate both runs. Each conversation is one forEach item: stored result reused, or every
  //    metric scored (each under a retry policy) and persisted.
  const baseline = yield* Runner.run(Evaluation.make({ runId: "prompt-v1", metrics }), v1)
  const candidate = yield* Runner.run(Evaluation.make({ runId: "prompt-v2", metrics }), v2)
  const show = (name: string, r: Evaluation.Report) =>
    console.log(`${name}: ${Object.entries(r.means).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(" · ")}`)
  show("prompt v1", baseline)
  show("prompt v2", candidate)
  const worst = candidate.results.find((r) => r.conversationId === "coaching-run")!
  console.log(`\nwhy coaching-run scored as it did with prompt v2:`)
  for (const [metric, reason] of Object.entries(worst.reasons)) {
    console.log(`  ${metric} ${worst.scores[metric]!.toFixed(2)}: ${reason}`)
  }

  // 4. Idempotent: evaluating prompt v1 again reuses the stored results (no model call).
  const before = (yield* Accounting.report).total.calls
  const again = yield* Runner.run(Evaluation.make({ runId: "prompt-v1", metrics }), v1)
  const after = (yield* Accounting.report).total.calls
  const stored = yield* Effect.flatMap(ResultStore.ResultStore, (s) => s.list("prompt-v1"))
  console.log(
    `\nre-evaluating prompt v1: ${again.results.filter((r) => r.reused).length} results reused, ${
      after - before
    } model calls, ${stored.length} results stored`
  )
  assert.strictEqual(after - before, 0)
  assert.strictEqual(stored.length, v1.length)

  // 5. Compare with a confidence interval (paired bootstrap, seeded) and apply the gate.
  const { comparisons, gate } = yield* Evaluation.compareRuns(baseline, candidate, { maxRegression: 0.05, seed: 42 })
  console.log("\nprompt v2 against prompt v1 (difference of means, 95% bootstrap interval):")
  for (const c of comparisons) {
    console.log(
      `  ${c.metric.padEnd(16)} ${c.meanDifference >= 0 ? "+" : ""}${c.meanDifference.toFixed(3)}  [${
        c.interval.lower.toFixed(3)
      }, ${c.interval.upper.toFixed(3)}]`
    )
  }
  console.log(`\n${Gate.format(gate)}`)
  console.log(
    `\nIn CI: npx braid eval ${path.basename(v2File)} --baseline ${
      path.basename(v1File)
    } --max-regression 0.05  ->  exit code ${Gate.exitCode(gate)}`
  )

  assert.strictEqual(baseline.results.length, 8)
  if (!online) {
    assert.strictEqual(gate.passed, false)
    assert.ok(gate.failures.some((f) => f.startsWith("relevance:")))
    const same = yield* Evaluation.compareRuns(baseline, again)
    assert.strictEqual(same.gate.passed, true)
  }
})

// Results persist in SQLite: a second process would reuse them too.
const Store = SqliteResultStore.layer(path.join(dir, "evaluations.db"))
await Effect.runPromise(
  main.pipe(Effect.provide(Layer.mergeAll(Store, Models.layer(Samples.judgeScript))))
)
console.log("\nDone.")
