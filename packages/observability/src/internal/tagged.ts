/**
 * Metrics tagged with label sets, cached per label set (shared by `Metrics` and `GenAI`).
 *
 * @internal
 */
import type { MetricKeyType } from "effect"
import { Metric, MetricKey, MetricLabel } from "effect"

/**
 * Labels of one measurement.
 */
export type Labels = Readonly<Record<string, string | undefined>>

const keys = new WeakMap<object, MetricKey.MetricKey<any>>()
const tagged = new WeakMap<object, Map<string, unknown>>()

export const declare = <Type extends MetricKeyType.MetricKeyType<any, any>>(key: MetricKey.MetricKey<Type>) => {
  const metric = Metric.fromMetricKey(key)
  keys.set(metric, key)
  return metric
}

/**
 * The metric tagged with `labels`, cached per label set: a metric made from its full key keeps
 * its registry hook, where chained `Metric.tagged` would look the hook up again on every update.
 */
export const tag = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  labels: Labels
): Metric.Metric<Type, In, Out> => {
  let byLabels = tagged.get(metric)
  if (byLabels === undefined) {
    byLabels = new Map()
    tagged.set(metric, byLabels)
  }
  let id = ""
  for (const k in labels) if (labels[k] !== undefined) id += `${k}\u0000${labels[k]}\u0001`
  const cached = byLabels.get(id)
  if (cached !== undefined) return cached as Metric.Metric<Type, In, Out>
  const list: Array<MetricLabel.MetricLabel> = []
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) list.push(MetricLabel.make(k, v))
  const key = keys.get(metric)
  const m = (key === undefined
    ? Metric.taggedWithLabels(metric, list)
    : Metric.fromMetricKey(MetricKey.taggedWithLabels(key, list))) as unknown as Metric.Metric<Type, In, Out>
  if (byLabels.size < 10_000) byLabels.set(id, m)
  return m
}
