import { Runner } from "@braid/core"
import { Evaluation, Gate, ResultStore } from "@braid/eval"
import { Samples } from "@braid/eval"
import type { ScriptedLanguageModel } from "@braid/llm"
import { Ai, Errors as LlmErrors, Metered, ScriptedLanguageModel as Scripted } from "@braid/llm"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref, Stream, TestClock } from "effect"

/** A scripted judge that counts its calls. */
const countingJudge = (calls: Ref.Ref<number>, options: ScriptedLanguageModel.Options = Samples.judgeScript) =>
  Metered.fromProvider(Effect.map(Scripted.provider(options), (model) => ({
    ...model,
    generateText: (o) => Effect.zipRight(Ref.update(calls, (n) => n + 1), model.generateText(o))
  })))

const metrics = [...Evaluation.defaultMetrics]

describe("Evaluation", () => {
  it.effect("scores every conversation on every metric with reasons; the judge's verdict is Schema-decoded", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const report = yield* Runner.run(Evaluation.make({ runId: "v1", metrics }), Samples.promptV1).pipe(
        Effect.provide(Layer.merge(ResultStore.layerMemory, countingJudge(calls)))
      )
      assert.strictEqual(report.results.length, 8)
      assert.strictEqual(report.failures.length, 0)
      assert.strictEqual(yield* Ref.get(calls), 8) // one judge call per conversation (relevance)
      const first = report.results.find((r) => r.conversationId === "coaching-run")!
      assert.deepStrictEqual(Object.keys(first.scores).sort(), [
        "goalCoverage",
        "objectiveMet",
        "questionQuality",
        "relevance"
      ])
      assert.strictEqual(first.scores["relevance"], 1)
      assert.strictEqual(first.reasons["relevance"], "2 of 2 replies respond to the user's previous message")
      assert.strictEqual(first.reasons["objectiveMet"], "objective met: agree on one running goal for this week")
      assert.strictEqual(report.means["relevance"], 1)
    }))

  it.effect("parseVerdict rejects replies that are not a verdict, naming the problem", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Evaluation.parseVerdict("r", `Here: {"score": 0.25, "reason": "drifts"}`), {
        score: 0.25,
        reason: "drifts"
      })
      const noJson = yield* Effect.flip(Evaluation.parseVerdict("r", "I think it is good"))
      assert.strictEqual(noJson.reason, "no JSON object in the reply")
      assert.isTrue(noJson.transient)
      const outOfRange = yield* Effect.flip(Evaluation.parseVerdict("r", `{"score": 7, "reason": "x"}`))
      assert.include(outOfRange.reason, "score")
    }))

  it.effect("idempotent: evaluating twice with one store stores one result per conversation and the second run calls no model (memory; SQL stores: resultStoreConformance)", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const store = yield* Layer.build(ResultStore.layerMemory)
      const pipeline = Evaluation.make({ runId: "v1", metrics })
      const run = Runner.run(pipeline, Samples.promptV1).pipe(
        Effect.provide(countingJudge(calls)),
        Effect.provide(store)
      )
      const first = yield* run
      const second = yield* run
      assert.strictEqual(yield* Ref.get(calls), 8)
      assert.isTrue(first.results.every((r) => !r.reused))
      assert.isTrue(second.results.every((r) => r.reused))
      assert.deepStrictEqual(second.means, first.means)
    }).pipe(Effect.scoped))

  it.effect("retries a failing judge with backoff (TestClock) and succeeds", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const outage = {
        ...Samples.judgeScript,
        failures: [{ calls: [1, 2], error: new LlmErrors.Overloaded({ message: "simulated outage" }) }]
      }
      const fiber = yield* Runner.run(Evaluation.make({ runId: "v1", metrics }), Samples.promptV1.slice(0, 1)).pipe(
        Effect.provide(Layer.merge(ResultStore.layerMemory, countingJudge(calls, outage))),
        Effect.fork
      )
      yield* TestClock.adjust("200 millis") // first retry after 200 ms
      yield* TestClock.adjust("400 millis") // second after 400 ms more (exponential)
      const report = yield* Fiber.join(fiber)
      assert.strictEqual(yield* Ref.get(calls), 3)
      assert.strictEqual(report.failures.length, 0)
      assert.strictEqual(report.results[0]!.scores["relevance"], 1)
    }))

  it.effect("a conversation whose judge keeps failing is reported, not stored, and retried by the next run", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const broken = { ...Samples.judgeScript, rules: [{ when: () => true, reply: "I'd rather not say." }] }
      const store = yield* Layer.build(ResultStore.layerMemory)
      const pipeline = Evaluation.make({
        runId: "v1",
        metrics,
        retry: { maxAttempts: 2, baseDelay: "1 millis", backoff: "constant" }
      })
      const fiber = yield* Runner.run(pipeline, Samples.promptV1.slice(0, 2)).pipe(
        Effect.provide(countingJudge(calls, broken)),
        Effect.provide(store),
        Effect.fork
      )
      yield* TestClock.adjust("1 second")
      const bad = yield* Fiber.join(fiber)
      assert.strictEqual(bad.results.length, 0)
      assert.strictEqual(bad.failures.length, 2)
      assert.strictEqual(bad.failures[0]!.metric, "relevance")
      assert.include(bad.failures[0]!.reason, "RetryExhausted")
      assert.strictEqual(yield* Ref.get(calls), 4)
      const good = yield* Runner.run(pipeline, Samples.promptV1.slice(0, 2)).pipe(
        Effect.provide(countingJudge(calls)),
        Effect.provide(store)
      )
      assert.strictEqual(good.results.length, 2)
      assert.isTrue(good.results.every((r) => !r.reused))
    }).pipe(Effect.scoped))

  it.effect("the regression gate fails on a worse run and passes on the same run", () =>
    Effect.gen(function*() {
      const layer = Layer.merge(ResultStore.layerMemory, Metered.fromProvider(Scripted.provider(Samples.judgeScript)))
      const v1 = yield* Runner.run(Evaluation.make({ runId: "v1", metrics }), Samples.promptV1).pipe(
        Effect.provide(layer)
      )
      const v2 = yield* Runner.run(Evaluation.make({ runId: "v2", metrics }), Samples.promptV2).pipe(
        Effect.provide(layer)
      )
      const worse = yield* Evaluation.compareRuns(v1, v2, { maxRegression: 0.05, seed: 7 })
      assert.isFalse(worse.gate.passed)
      assert.strictEqual(Gate.exitCode(worse.gate), 1)
      const relevance = worse.comparisons.find((c) => c.metric === "relevance")!
      assert.isTrue(relevance.paired)
      assert.isTrue(relevance.interval.upper < 0)
      const regressed = worse.gate.verdicts.filter((v) => v.status === "regressed").map((v) => v.metric)
      assert.includeMembers(regressed, ["questionQuality", "relevance"])
      assert.notInclude(regressed, "objectiveMet") // 1 -> 0.875 with an interval crossing 0: a warning at most
      const same = yield* Evaluation.compareRuns(v1, v1, { maxRegression: 0.05 })
      assert.isTrue(same.gate.passed)
    }))

  it.effect("a judge that never answers: each attempt is bounded (modelTimeout inside the retry), the conversation fails at the bound and frees its slot for the next", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const never = Layer.effect(
        Ai.LanguageModel.LanguageModel,
        Ai.fromProvider({
          name: "test",
          defaultModel: "stalled",
          generateText: () => Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.never),
          streamText: () => Stream.never
        })
      )
      const pipeline = Evaluation.make({
        runId: "stalled",
        metrics: [Evaluation.relevance, Evaluation.goalCoverage],
        modelTimeout: "10 seconds",
        retry: { maxAttempts: 2, backoff: "constant", baseDelay: "1 second" },
        concurrency: 1
      })
      const fiber = yield* Runner.run(pipeline, Samples.promptV1.slice(0, 2)).pipe(
        Effect.provide(Layer.merge(ResultStore.layerMemory, never)),
        Effect.fork
      )
      yield* TestClock.adjust("20 seconds")
      assert.strictEqual(
        yield* Ref.get(calls),
        2,
        "the first conversation: two bounded attempts; the second waits for the slot"
      )
      yield* TestClock.adjust("1 second") // 21 s: the first conversation fails, the second takes its slot
      assert.strictEqual(yield* Ref.get(calls), 3)
      yield* TestClock.adjust("21 seconds")
      const report = yield* Fiber.join(fiber)
      assert.strictEqual(report.results.length, 0)
      assert.strictEqual(report.failures.length, 2)
      for (const f of report.failures) {
        assert.strictEqual(f.metric, "relevance")
        assert.include(f.reason, "TimeoutError: relevance: timed out after 10000 ms")
      }
    }))
})
