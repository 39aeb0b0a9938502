/**
 * The regression gate: decides, from the comparison of a candidate run with a baseline run (and
 * optional absolute minimums), whether the candidate may ship. Pure logic with a typed result;
 * `enforce` turns a failed gate into a typed error and `exitCode` into a process exit code for CI
 * (`braid eval` exits 1 when the gate fails).
 *
 * **Rule.** Scores are "higher is better". A metric *regresses* when the candidate's mean is lower
 * than the baseline's by more than its threshold (`meanDifference < -maxRegression`) and, with
 * `requireSignificance` (the default), the whole confidence interval of the difference is below
 * zero: the drop is both large and not noise. A large drop whose interval still crosses zero is a
 * `warning` (reported, not failing). A metric whose candidate mean is under its `minimum` fails
 * whatever the baseline.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { RegressionDetected } from "./Errors.js"
import type { MetricComparison } from "./Statistics.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface GateOptions {
  /** The largest drop tolerated, on the metric's scale: one number for every metric, or per metric (others default to 0.05). Default 0.05. */
  readonly maxRegression?: number | Readonly<Record<string, number>>
  /** Absolute floors for the candidate's means, by metric. */
  readonly minimum?: Readonly<Record<string, number>>
  /** Fail only when the interval of the difference is entirely below zero. Default true. */
  readonly requireSignificance?: boolean
}

/**
 * The verdict on one metric.
 *
 * @category models
 * @since 0.1.0
 */
export interface MetricVerdict {
  readonly metric: string
  readonly status: "pass" | "warning" | "regressed" | "below-minimum"
  readonly reason: string
  readonly comparison: MetricComparison | undefined
}

/**
 * The gate's result: `passed` is false when any verdict is `regressed` or `below-minimum`.
 *
 * @category models
 * @since 0.1.0
 */
export interface GateResult {
  readonly passed: boolean
  readonly verdicts: ReadonlyArray<MetricVerdict>
  readonly failures: ReadonlyArray<string>
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : String(x))
const signed = (x: number) => (x >= 0 ? "+" : "") + fmt(x)

const thresholdOf = (metric: string, maxRegression: GateOptions["maxRegression"]): number =>
  typeof maxRegression === "number" ? maxRegression : maxRegression?.[metric] ?? 0.05

/**
 * Applies the gate to the comparisons of two runs (`Statistics.compare`) and/or to the
 * candidate's means (for minimums without a baseline).
 *
 * @example
 * ```ts
 * import { Gate } from "@braid/eval"
 *
 * const result = Gate.check({
 *   comparisons: [{
 *     metric: "relevance", baselineMean: 0.85, candidateMean: 0.55, meanDifference: -0.3,
 *     interval: { lower: -0.4, upper: -0.2, level: 0.95 }, n: 20, paired: true
 *   }]
 * }, { maxRegression: 0.05 })
 * result.passed // false
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const check = (
  input: {
    readonly comparisons?: ReadonlyArray<MetricComparison>
    readonly means?: Readonly<Record<string, number>>
  },
  options: GateOptions = {}
): GateResult => {
  const requireSignificance = options.requireSignificance ?? true
  const verdicts: Array<MetricVerdict> = []
  const seen = new Set<string>()
  for (const c of input.comparisons ?? []) {
    seen.add(c.metric)
    const threshold = thresholdOf(c.metric, options.maxRegression)
    const ci = `${Math.round(c.interval.level * 100)}% CI [${signed(c.interval.lower)}, ${signed(c.interval.upper)}]`
    const summary = `${fmt(c.baselineMean)} -> ${fmt(c.candidateMean)} (${signed(c.meanDifference)}, ${ci}, n=${c.n}${
      c.paired ? ", paired" : ""
    })`
    const min = options.minimum?.[c.metric]
    let status: MetricVerdict["status"] = "pass"
    let reason = `${summary}`
    if (min !== undefined && c.candidateMean < min) {
      status = "below-minimum"
      reason = `${summary}: mean ${fmt(c.candidateMean)} is below the minimum ${fmt(min)}`
    } else if (c.meanDifference < -threshold) {
      const significant = c.interval.upper < 0
      if (significant || !requireSignificance) {
        status = "regressed"
        reason = `${summary}: dropped by ${fmt(-c.meanDifference)}, more than the tolerated ${fmt(threshold)}`
      } else {
        status = "warning"
        reason = `${summary}: dropped by ${fmt(-c.meanDifference)} but the interval crosses 0 (not significant)`
      }
    }
    verdicts.push({ metric: c.metric, status, reason, comparison: c })
  }
  for (const [metric, value] of Object.entries(input.means ?? {})) {
    if (seen.has(metric)) continue
    const min = options.minimum?.[metric]
    const below = min !== undefined && value < min
    verdicts.push({
      metric,
      status: below ? "below-minimum" : "pass",
      reason: below
        ? `mean ${fmt(value)} is below the minimum ${fmt(min)}`
        : `mean ${fmt(value)}${min !== undefined ? ` (minimum ${fmt(min)})` : ""}`,
      comparison: undefined
    })
  }
  const failures = verdicts
    .filter((v) => v.status === "regressed" || v.status === "below-minimum")
    .map((v) => `${v.metric}: ${v.reason}`)
  return { passed: failures.length === 0, verdicts, failures }
}

/**
 * Fails with `RegressionDetected` when the gate did not pass.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gate } from "@braid/eval"
 *
 * const program = Gate.enforce(Gate.check({ means: { relevance: 0.4 } }, { minimum: { relevance: 0.7 } })).pipe(
 *   Effect.catchTag("RegressionDetected", (e) => Effect.succeed(e.failures.length)) // 1
 * )
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const enforce = (result: GateResult): Effect.Effect<GateResult, RegressionDetected> =>
  result.passed ? Effect.succeed(result) : Effect.fail(new RegressionDetected({ failures: [...result.failures] }))

/**
 * The process exit code for CI: 0 when the gate passed, 1 otherwise.
 *
 * @example
 * ```ts
 * import { Gate } from "@braid/eval"
 *
 * Gate.exitCode(Gate.check({ means: { relevance: 0.9 } })) // 0
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const exitCode = (result: GateResult): 0 | 1 => (result.passed ? 0 : 1)

/**
 * A plain-text report of the gate, one line a metric, then PASSED or FAILED.
 *
 * @example
 * ```ts
 * import { Gate } from "@braid/eval"
 *
 * console.log(Gate.format(Gate.check({ means: { relevance: 0.9 } })))
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const format = (result: GateResult): string => {
  const mark = { pass: "ok  ", warning: "warn", regressed: "FAIL", "below-minimum": "FAIL" } as const
  const lines = result.verdicts.map((v) => `  ${mark[v.status]} ${v.metric}: ${v.reason}`)
  lines.push(
    result.passed
      ? "gate PASSED"
      : `gate FAILED (${result.failures.length} metric${result.failures.length === 1 ? "" : "s"})`
  )
  return lines.join("\n")
}
