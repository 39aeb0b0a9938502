import { Statistics } from "@braid/eval"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"

const run = (id: string, relevance: number, coverage = 0.5) => ({ conversationId: id, scores: { relevance, coverage } })
const ids = Array.from({ length: 20 }, (_, i) => `c${i}`)
// A deterministic, noisy baseline; the candidate is worse by 0.2 on relevance only.
const baseline = ids.map((id, i) => run(id, 0.7 + ((i * 37) % 11) / 50, 0.6 + ((i * 13) % 7) / 40))
const worse = baseline.map((c) => run(c.conversationId, c.scores.relevance - 0.2, c.scores.coverage))

describe("Statistics", () => {
  it("mean, standard deviation and quantiles", () => {
    assert.strictEqual(Statistics.mean([1, 2, 3]), 2)
    assert.isTrue(Number.isNaN(Statistics.mean([])))
    assert.closeTo(Statistics.standardDeviation([2, 4, 4, 4, 5, 5, 7, 9]), 2.138, 0.001)
    assert.strictEqual(Statistics.quantile([4, 1, 3, 2], 0.5), 2.5)
    assert.strictEqual(Statistics.quantile([4, 1, 3, 2], 1), 4)
  })

  it.effect("paired comparison: a uniform drop of 0.2 gives a difference of -0.2 with a tight interval around it", () =>
    Effect.gen(function*() {
      const [coverage, relevance] = yield* Statistics.compare(baseline, worse, { seed: 1 })
      assert.strictEqual(relevance!.metric, "relevance")
      assert.isTrue(relevance!.paired)
      assert.strictEqual(relevance!.n, 20)
      assert.closeTo(relevance!.meanDifference, -0.2, 1e-9)
      // every paired difference is exactly -0.2, so every resample mean is -0.2
      assert.closeTo(relevance!.interval.lower, -0.2, 1e-9)
      assert.closeTo(relevance!.interval.upper, -0.2, 1e-9)
      assert.strictEqual(coverage!.meanDifference, 0)
    }))

  it.effect("the interval contains the mean difference, is reproducible for a seed, and widens with confidence", () =>
    Effect.gen(function*() {
      const noisy = baseline.map((c, i) => run(c.conversationId, c.scores.relevance + (i % 2 === 0 ? 0.1 : -0.15)))
      const a = yield* Statistics.compare(baseline, noisy, { seed: 3, metrics: ["relevance"] })
      const b = yield* Statistics.compare(baseline, noisy, { seed: 3, metrics: ["relevance"] })
      const wide = yield* Statistics.compare(baseline, noisy, { seed: 3, metrics: ["relevance"], confidence: 0.99 })
      const r = a[0]!
      assert.deepStrictEqual(a, b)
      assert.isTrue(r.interval.lower < r.meanDifference && r.meanDifference < r.interval.upper)
      assert.isTrue(r.interval.lower < 0 && r.interval.upper > -0.1)
      assert.isTrue(wide[0]!.interval.upper - wide[0]!.interval.lower > r.interval.upper - r.interval.lower)
    }))

  it.effect("different conversation ids: an unpaired comparison", () =>
    Effect.gen(function*() {
      const other = worse.map((c) => ({ ...c, conversationId: `x-${c.conversationId}` }))
      const [, relevance] = yield* Statistics.compare(baseline, other, { seed: 1 })
      assert.isFalse(relevance!.paired)
      assert.closeTo(relevance!.meanDifference, -0.2, 1e-9)
      assert.isTrue(relevance!.interval.upper < 0)
      assert.isTrue(relevance!.interval.lower < -0.2 && relevance!.interval.upper > -0.2)
    }))

  it.effect("an empty run or a missing metric is a ComparisonError", () =>
    Effect.gen(function*() {
      const empty = yield* Effect.exit(Statistics.compare([], worse))
      assert.isTrue(Exit.isFailure(empty))
      const missing = yield* Effect.flip(Statistics.compare(baseline, worse, { metrics: ["tone"] }))
      assert.strictEqual(missing._tag, "ComparisonError")
      assert.include(missing.message, `metric "tone" is missing from the baseline run`)
    }))
})
