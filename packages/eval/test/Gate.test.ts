import { Gate, Statistics } from "@braid/eval"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

const ids = Array.from({ length: 12 }, (_, i) => `c${i}`)
const baseline = ids.map((id, i) => ({ conversationId: id, scores: { relevance: 0.8 + (i % 3) / 20, coverage: 0.7 } }))

describe("Gate", () => {
  it.effect("fails on a run that is worse beyond the threshold, passes on an equal one", () =>
    Effect.gen(function*() {
      const worse = baseline.map((c) => ({ ...c, scores: { ...c.scores, relevance: c.scores.relevance - 0.15 } }))
      const bad = Gate.check({ comparisons: yield* Statistics.compare(baseline, worse) }, { maxRegression: 0.05 })
      assert.isFalse(bad.passed)
      assert.strictEqual(Gate.exitCode(bad), 1)
      assert.strictEqual(bad.failures.length, 1)
      assert.match(bad.failures[0]!, /^relevance: .*dropped by 0\.150, more than the tolerated 0\.050/)
      const failure = yield* Effect.flip(Gate.enforce(bad))
      assert.strictEqual(failure._tag, "RegressionDetected")

      const same = Gate.check({ comparisons: yield* Statistics.compare(baseline, baseline) }, { maxRegression: 0.05 })
      assert.isTrue(same.passed)
      assert.strictEqual(Gate.exitCode(same), 0)
      assert.include(Gate.format(same), "gate PASSED")
    }))

  it.effect("a drop within the tolerance passes; per-metric thresholds apply", () =>
    Effect.gen(function*() {
      const slightly = baseline.map((c) => ({ ...c, scores: { ...c.scores, relevance: c.scores.relevance - 0.03 } }))
      const comparisons = yield* Statistics.compare(baseline, slightly)
      assert.isTrue(Gate.check({ comparisons }, { maxRegression: 0.05 }).passed)
      assert.isFalse(Gate.check({ comparisons }, { maxRegression: { relevance: 0.01 } }).passed)
    }))

  it("a large drop whose interval crosses zero is a warning unless significance is not required", () => {
    const comparison = {
      metric: "relevance",
      baselineMean: 0.8,
      candidateMean: 0.7,
      meanDifference: -0.1,
      interval: { lower: -0.3, upper: 0.1, level: 0.95 },
      n: 3,
      paired: true
    }
    const lenient = Gate.check({ comparisons: [comparison] })
    assert.isTrue(lenient.passed)
    assert.strictEqual(lenient.verdicts[0]!.status, "warning")
    assert.isFalse(Gate.check({ comparisons: [comparison] }, { requireSignificance: false }).passed)
  })

  it("minimums apply to the candidate's means with or without a baseline", () => {
    const r = Gate.check({ means: { relevance: 0.4, coverage: 0.9 } }, { minimum: { relevance: 0.6 } })
    assert.isFalse(r.passed)
    assert.deepStrictEqual(r.verdicts.map((v) => v.status), ["below-minimum", "pass"])
    assert.include(Gate.format(r), "FAIL relevance")
  })
})
