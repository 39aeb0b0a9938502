/**
 * The metrics of Braid, declared once here so every package records through the same
 * instruments (they are Effect metrics; the OTLP and in-memory layers export them).
 *
 * | name | kind | unit | attributes |
 * |---|---|---|---|
 * | `gen_ai.client.token.usage` | histogram | `{token}` | `gen_ai.token.type` (`input`/`output`), `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`, `server.address`, `server.port` |
 * | `gen_ai.client.operation.duration` | histogram | `s` | as above without `gen_ai.token.type`, plus `error.type` on failure |
 * | `braid.llm.cost` | monotonic counter | `{USD}` | `gen_ai.response.model`, `gen_ai.agent.name` |
 * | `braid.llm.budget.alerts` | monotonic counter | `{alert}` | `braid.budget.scope` (`run`/`session`) |
 * | `braid.resilience.retry.retries` | counter | `{retry}` | `braid.primitive.name` |
 * | `braid.resilience.breaker.state` | gauge | 0 closed, 1 half-open, 2 open, 3 isolated | `breaker` |
 * | `braid.resilience.bulkhead.queue_depth` | gauge | `{call}` | `bulkhead` |
 *
 * The three resilience instruments have the same names, descriptions and options as those of
 * `@braid/resilience`'s `Metrics`, so both modules update the same registry entries.
 *
 * @since 0.1.0
 */
import { Effect, Metric, MetricBoundaries, MetricKey, MetricLabel } from "effect"
import type { MetricKeyType } from "effect"
import { declare, tag } from "./internal/tagged.js"

/**
 * Labels of one measurement.
 *
 * @category models
 * @since 0.1.0
 */
export type Labels = Readonly<Record<string, string | undefined>>

/**
 * A metric key with its unit. Effect's metrics carry no unit of their own: the `unit` label is
 * how `@effect/opentelemetry` gives a metric its OTLP unit (the OTLP layer of this package then
 * drops it from the data points' attributes).
 */
const withUnit = <Type extends MetricKeyType.MetricKeyType<any, any>>(
  key: MetricKey.MetricKey<Type>,
  unit: string
): MetricKey.MetricKey<Type> => MetricKey.taggedWithLabels(key, [MetricLabel.make("unit", unit)])

/**
 * `gen_ai.client.token.usage`: tokens per call (semantic-convention buckets).
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { Metrics } from "@braid/observability"
 *
 * const snapshot = Metric.value(Metrics.tokenUsage)
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const tokenUsage = declare(withUnit(
  MetricKey.histogram(
    "gen_ai.client.token.usage",
    MetricBoundaries.fromIterable([
      1,
      4,
      16,
      64,
      256,
      1024,
      4096,
      16384,
      65536,
      262144,
      1048576,
      4194304,
      16777216,
      67108864
    ]),
    "Number of input and output tokens used"
  ),
  "{token}"
))

/**
 * `gen_ai.client.operation.duration`: seconds per model call (semantic-convention buckets).
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { Metrics } from "@braid/observability"
 *
 * const snapshot = Metric.value(Metrics.operationDuration)
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const operationDuration = declare(withUnit(
  MetricKey.histogram(
    "gen_ai.client.operation.duration",
    MetricBoundaries.fromIterable([
      0.01,
      0.02,
      0.04,
      0.08,
      0.16,
      0.32,
      0.64,
      1.28,
      2.56,
      5.12,
      10.24,
      20.48,
      40.96,
      81.92
    ]),
    "GenAI operation duration"
  ),
  "s"
))

/**
 * `braid.llm.cost`: dollars spent on model calls, a monotonic counter. Its unit is `{USD}`: UCUM
 * has no currency units, and OpenTelemetry units follow UCUM, so the currency is an annotation
 * (a plain `USD` would read as an unknown UCUM unit).
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/observability"
 *
 * const record = Metrics.recordCost(0.0042, { "gen_ai.request.model": "claude-sonnet-5-5" })
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const cost = declare(withUnit(
  MetricKey.counter("braid.llm.cost", { description: "Cost of model calls in US dollars", incremental: true }),
  "{USD}"
))

/**
 * `braid.llm.budget.alerts`: budget warning thresholds crossed.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/observability"
 *
 * const m = Metrics.budgetAlerts
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const budgetAlerts = declare(withUnit(
  MetricKey.counter("braid.llm.budget.alerts", { description: "Budget warning thresholds crossed", incremental: true }),
  "{alert}"
))

/**
 * Records the tokens of one model call (`input` and `output` measurements).
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/observability"
 *
 * const record = Metrics.recordTokens(120, 40, { "gen_ai.request.model": "claude-sonnet-5-5" })
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const recordTokens = (input: number, output: number, labels: Labels): Effect.Effect<void> =>
  Effect.zipRight(
    Metric.update(tag(tokenUsage, { ...labels, "gen_ai.token.type": "input" }), input),
    Metric.update(tag(tokenUsage, { ...labels, "gen_ai.token.type": "output" }), output)
  )

/**
 * Records the duration of one model call, in seconds.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/observability"
 *
 * const record = Metrics.recordDuration(0.25, { "gen_ai.request.model": "claude-sonnet-5-5" })
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const recordDuration = (seconds: number, labels: Labels): Effect.Effect<void> =>
  Metric.update(tag(operationDuration, labels), seconds)

/**
 * Adds dollars to `braid.llm.cost`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/observability"
 *
 * const record = Metrics.recordCost(0.01, { "gen_ai.agent.name": "coach" })
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const recordCost = (usd: number, labels: Labels = {}): Effect.Effect<void> =>
  Metric.update(tag(cost, labels), usd)

/**
 * Counts one budget alert.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/observability"
 *
 * const record = Metrics.recordBudgetAlert({ "braid.budget.scope": "run" })
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const recordBudgetAlert = (labels: Labels = {}): Effect.Effect<void> =>
  Metric.update(tag(budgetAlerts, labels), 1)
