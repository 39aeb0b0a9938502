/**
 * Statistics for evaluation runs: means, and the comparison of two runs (for example two
 * prompts or two models) with a confidence interval on the difference of their means.
 *
 * **Method.** The interval is a percentile bootstrap (default 2,000 resamples, 95 %), drawn
 * with Effect's `Random` seeded from `options.seed` (each resample set takes one draw of it to seed
 * a fast local generator), so the same inputs always give the same interval (reproducible CI
 * gates), and tests can pin it.
 * - *Paired* when both runs scored the same conversations (same ids): the bootstrap resamples the
 *   per-conversation differences `candidate - baseline`. Pairing removes the variance between
 *   conversations, so it detects smaller regressions with the same data.
 * - *Unpaired* otherwise: each run is resampled on its own and the means are subtracted.
 *
 * The bootstrap makes no normality assumption (scores in [0, 1] from a judge are often skewed or
 * bimodal); with fewer than about 10 conversations any interval is wide, and the report says `n`.
 *
 * @since 0.1.0
 */
import { Effect, Random } from "effect"
import { ComparisonError } from "./Errors.js"

/**
 * The scores of one conversation in a run, by metric name.
 *
 * @category models
 * @since 0.1.0
 */
export interface ScoredConversation {
  readonly conversationId: string
  readonly scores: Readonly<Record<string, number>>
}

/**
 * A confidence interval.
 *
 * @category models
 * @since 0.1.0
 */
export interface Interval {
  readonly lower: number
  readonly upper: number
  /** The confidence level, e.g. 0.95. */
  readonly level: number
}

/**
 * The comparison of one metric between two runs.
 *
 * @category models
 * @since 0.1.0
 */
export interface MetricComparison {
  readonly metric: string
  readonly baselineMean: number
  readonly candidateMean: number
  /** `candidateMean - baselineMean`: negative means the candidate is worse (scores: higher is better). */
  readonly meanDifference: number
  /** Bootstrap interval of the difference. */
  readonly interval: Interval
  /** Number of pairs (paired) or of candidate conversations (unpaired). */
  readonly n: number
  readonly paired: boolean
}

/**
 * @category models
 * @since 0.1.0
 */
export interface CompareOptions {
  /** Default 0.95. */
  readonly confidence?: number
  /** Default 2000. */
  readonly resamples?: number
  /** Seed of the bootstrap's `Random`. Default 42. */
  readonly seed?: number
  /** The metrics to compare. Default: every metric present in both runs. */
  readonly metrics?: ReadonlyArray<string>
}

/**
 * The arithmetic mean (NaN for an empty list).
 *
 * @example
 * ```ts
 * import { Statistics } from "@braid/eval"
 *
 * Statistics.mean([1, 2, 3]) // 2
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const mean = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  let s = 0
  for (const x of xs) s += x
  return s / xs.length
}

/**
 * The sample standard deviation (n - 1 in the denominator; 0 for fewer than two values).
 *
 * @example
 * ```ts
 * import { Statistics } from "@braid/eval"
 *
 * Statistics.standardDeviation([2, 4, 4, 4, 5, 5, 7, 9]) // ≈ 2.138
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const standardDeviation = (xs: ReadonlyArray<number>): number => {
  if (xs.length < 2) return 0
  const m = mean(xs)
  let s = 0
  for (const x of xs) s += (x - m) ** 2
  return Math.sqrt(s / (xs.length - 1))
}

/**
 * The `q`-quantile (0..1) of a list, by linear interpolation between order statistics.
 *
 * @example
 * ```ts
 * import { Statistics } from "@braid/eval"
 *
 * Statistics.quantile([1, 2, 3, 4], 0.5) // 2.5
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q))
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

/** mulberry32: a small, fast 32-bit PRNG, seeded from the ambient Effect `Random`. */
const mulberry32 = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Means of `resamples` resamples with replacement of `xs`. The indices come from a fast local
 * generator seeded by one draw of the ambient Effect `Random`: reproducible under
 * `Random.make(seed)`, and about 50 times faster than one Effect per draw.
 */
const resampleMeans = (xs: ReadonlyArray<number>, resamples: number): Effect.Effect<Array<number>> =>
  Effect.map(Random.nextIntBetween(0, 2 ** 31 - 1), (seed) => {
    const next = mulberry32(seed)
    const out = new Array<number>(resamples)
    const n = xs.length
    for (let b = 0; b < resamples; b++) {
      let s = 0
      for (let i = 0; i < n; i++) s += xs[Math.floor(next() * n)]!
      out[b] = s / n
    }
    return out
  })

/**
 * A percentile-bootstrap interval for the mean of `xs`, using the ambient Effect `Random`
 * (seed it with `Effect.withRandom(Random.make(seed))` for reproducible intervals).
 *
 * @example
 * ```ts
 * import { Effect, Random } from "effect"
 * import { Statistics } from "@braid/eval"
 *
 * const ci = Statistics.bootstrapMean([0.1, 0.2, 0.15, 0.3], { confidence: 0.9 }).pipe(
 *   Effect.withRandom(Random.make(7))
 * )
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const bootstrapMean = (
  xs: ReadonlyArray<number>,
  options: { readonly confidence?: number; readonly resamples?: number } = {}
): Effect.Effect<Interval> =>
  Effect.map(resampleMeans(xs, options.resamples ?? 2000), (means) => {
    const level = options.confidence ?? 0.95
    const alpha = 1 - level
    return { lower: quantile(means, alpha / 2), upper: quantile(means, 1 - alpha / 2), level }
  })

const metricsOf = (run: ReadonlyArray<ScoredConversation>): Set<string> => {
  const out = new Set<string>()
  for (const c of run) for (const k of Object.keys(c.scores)) out.add(k)
  return out
}

/**
 * Compares two runs metric by metric: the mean of each, the mean difference
 * (`candidate - baseline`) and its bootstrap confidence interval. Paired by conversation id
 * when both runs scored the same conversations, unpaired otherwise (see the module notes).
 * Deterministic for a given `seed`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Statistics } from "@braid/eval"
 *
 * const baseline = [
 *   { conversationId: "a", scores: { relevance: 0.9 } },
 *   { conversationId: "b", scores: { relevance: 0.8 } }
 * ]
 * const candidate = [
 *   { conversationId: "a", scores: { relevance: 0.6 } },
 *   { conversationId: "b", scores: { relevance: 0.5 } }
 * ]
 * const program = Statistics.compare(baseline, candidate, { seed: 1 })
 * // Effect<[{ metric: "relevance", meanDifference: -0.3, paired: true, interval: {...} }]>
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const compare = (
  baseline: ReadonlyArray<ScoredConversation>,
  candidate: ReadonlyArray<ScoredConversation>,
  options: CompareOptions = {}
): Effect.Effect<ReadonlyArray<MetricComparison>, ComparisonError> =>
  Effect.gen(function*() {
    if (baseline.length === 0) return yield* new ComparisonError({ reason: "the baseline run has no conversations" })
    if (candidate.length === 0) return yield* new ComparisonError({ reason: "the candidate run has no conversations" })
    const level = options.confidence ?? 0.95
    if (!(level > 0 && level < 1)) {
      return yield* new ComparisonError({ reason: `confidence must be in (0, 1), got ${level}` })
    }
    const resamples = options.resamples ?? 2000
    const bMetrics = metricsOf(baseline)
    const cMetrics = metricsOf(candidate)
    const metrics = options.metrics ?? [...bMetrics].filter((m) => cMetrics.has(m)).sort()
    for (const m of metrics) {
      if (!bMetrics.has(m)) {
        return yield* new ComparisonError({ reason: `metric "${m}" is missing from the baseline run` })
      }
      if (!cMetrics.has(m)) {
        return yield* new ComparisonError({ reason: `metric "${m}" is missing from the candidate run` })
      }
    }
    if (metrics.length === 0) return yield* new ComparisonError({ reason: "the runs have no metric in common" })

    const bById = new Map(baseline.map((c) => [c.conversationId, c]))
    const paired = baseline.length === candidate.length && candidate.every((c) => bById.has(c.conversationId))
    const alpha = 1 - level
    const out: Array<MetricComparison> = []
    for (const metric of metrics) {
      const values = (run: ReadonlyArray<ScoredConversation>) =>
        run.map((c) => c.scores[metric]).filter((x): x is number => typeof x === "number" && Number.isFinite(x))
      const bv = values(baseline)
      const cv = values(candidate)
      const baselineMean = mean(bv)
      const candidateMean = mean(cv)
      let diffs: Array<number>
      if (paired) {
        const d: Array<number> = []
        for (const c of candidate) {
          const x = c.scores[metric]
          const y = bById.get(c.conversationId)!.scores[metric]
          if (typeof x === "number" && typeof y === "number") d.push(x - y)
        }
        diffs = yield* resampleMeans(d, resamples)
        out.push({
          metric,
          baselineMean,
          candidateMean,
          meanDifference: mean(d),
          interval: { lower: quantile(diffs, alpha / 2), upper: quantile(diffs, 1 - alpha / 2), level },
          n: d.length,
          paired: true
        })
      } else {
        const bm = yield* resampleMeans(bv, resamples)
        const cm = yield* resampleMeans(cv, resamples)
        diffs = cm.map((x, i) => x - bm[i]!)
        out.push({
          metric,
          baselineMean,
          candidateMean,
          meanDifference: candidateMean - baselineMean,
          interval: { lower: quantile(diffs, alpha / 2), upper: quantile(diffs, 1 - alpha / 2), level },
          n: cv.length,
          paired: false
        })
      }
    }
    return out
  }).pipe(Effect.withRandom(Random.make(options.seed ?? 42)))
