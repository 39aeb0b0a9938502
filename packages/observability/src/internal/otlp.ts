/**
 * What the OTLP layer changes in the payloads `@effect/opentelemetry` builds, before they are
 * serialized (through its public `OtlpSerialization` service):
 *
 * - span status: UNSET on success (the exporter sets OK, which OpenTelemetry leaves to the
 *   application); an interruption is UNSET with `braid.interrupted` (the exporter sets OK, and
 *   marks failures, not interruptions, with `status.interrupted` and a `span.label`: both are
 *   dropped from failed spans);
 * - instrumentation scope: spans are grouped by the scope their `otel.scope.name` /
 *   `otel.scope.version` attributes name (then dropped), else `@braid/observability`; metrics
 *   by the package that declares them;
 * - the `unit` label, which only carries a metric's unit, is dropped from data points.
 *
 * @internal
 */
import { Attributes as Names } from "@braid/core"
import { OtlpSerialization } from "@effect/opentelemetry"
import { Effect, Layer } from "effect"
import { defaultScope, type InstrumentationScope } from "./tracer.js"

interface KeyValue {
  readonly key: string
  readonly value: { readonly stringValue?: string; readonly boolValue?: boolean }
}

interface OtlpSpan {
  attributes?: Array<KeyValue>
  status?: { code?: number; message?: string }
}

interface ScopeSpans {
  readonly scope?: unknown
  readonly spans?: ReadonlyArray<OtlpSpan>
}

interface DataPoint {
  attributes?: Array<KeyValue>
}

interface OtlpMetric {
  readonly name: string
  readonly sum?: { readonly dataPoints?: ReadonlyArray<DataPoint> }
  readonly gauge?: { readonly dataPoints?: ReadonlyArray<DataPoint> }
  readonly histogram?: { readonly dataPoints?: ReadonlyArray<DataPoint> }
}

const Unset = 0
const Ok = 1
const Error = 2

const scopeName = Names.General.otelScopeName
const scopeVersion = Names.General.otelScopeVersion

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/** Fixes the status of `span` and takes its scope out of its attributes. */
const conformSpan = (span: OtlpSpan): InstrumentationScope => {
  let name: string | undefined
  let version: string | undefined
  const status = span.status
  const failed = status?.code === Error
  const kept: Array<KeyValue> = []
  for (const a of span.attributes ?? []) {
    if (a.key === scopeName) name = a.value.stringValue
    else if (a.key === scopeVersion) version = a.value.stringValue
    else if (!(failed && (a.key === "status.interrupted" || a.key === "span.label"))) kept.push(a)
  }
  if (status?.code === Ok) {
    // the exporter's OK carries a message only for an interruption
    if (status.message !== undefined) kept.push({ key: Names.Braid.interrupted, value: { boolValue: true } })
    span.status = { code: Unset }
  }
  span.attributes = kept
  if (name === undefined) return defaultScope
  return version === undefined ? { name } : { name, version }
}

/** A trace payload with UNSET statuses and spans grouped by their scope. */
export const conformTraces = (data: unknown): unknown => {
  if (!isObject(data) || !Array.isArray(data["resourceSpans"])) return data
  for (const rs of data["resourceSpans"] as Array<Record<string, unknown>>) {
    const groups = new Map<string, { scope: InstrumentationScope; spans: Array<OtlpSpan> }>()
    for (const ss of (rs["scopeSpans"] ?? []) as ReadonlyArray<ScopeSpans>) {
      for (const span of ss.spans ?? []) {
        const scope = conformSpan(span)
        const id = `${scope.name}@${scope.version ?? ""}`
        let group = groups.get(id)
        if (group === undefined) groups.set(id, group = { scope, spans: [] })
        group.spans.push(span)
      }
    }
    rs["scopeSpans"] = [...groups.values()]
  }
  return data
}

/** The package that declares a metric (its instrumentation scope). */
const metricScope = (name: string): InstrumentationScope =>
  name.startsWith("braid.resilience.") ? { name: "@braid/resilience" } : defaultScope

const dropUnit = (points: ReadonlyArray<DataPoint> | undefined): void => {
  for (const p of points ?? []) {
    if (p.attributes !== undefined) p.attributes = p.attributes.filter((a) => a.key !== "unit")
  }
}

/** A metrics payload without `unit` attributes, metrics grouped by the package that declares them. */
export const conformMetrics = (data: unknown): unknown => {
  if (!isObject(data) || !Array.isArray(data["resourceMetrics"])) return data
  for (const rm of data["resourceMetrics"] as Array<Record<string, unknown>>) {
    const groups = new Map<string, { scope: InstrumentationScope; metrics: Array<OtlpMetric> }>()
    for (const sm of (rm["scopeMetrics"] ?? []) as ReadonlyArray<{ readonly metrics?: ReadonlyArray<OtlpMetric> }>) {
      for (const metric of sm.metrics ?? []) {
        dropUnit(metric.sum?.dataPoints)
        dropUnit(metric.gauge?.dataPoints)
        dropUnit(metric.histogram?.dataPoints)
        const scope = metricScope(metric.name)
        let group = groups.get(scope.name)
        if (group === undefined) groups.set(scope.name, group = { scope, metrics: [] })
        group.metrics.push(metric)
      }
    }
    rm["scopeMetrics"] = [...groups.values()]
  }
  return data
}

/** `OtlpSerialization` that conforms the payloads, then serializes them with `base`. */
export const conformed = (
  base: Layer.Layer<OtlpSerialization.OtlpSerialization>
): Layer.Layer<OtlpSerialization.OtlpSerialization> =>
  Layer.effect(
    OtlpSerialization.OtlpSerialization,
    Effect.map(OtlpSerialization.OtlpSerialization, (s) =>
      OtlpSerialization.OtlpSerialization.of({
        traces: (data) => s.traces(conformTraces(data)),
        metrics: (data) => s.metrics(conformMetrics(data)),
        logs: (data) => s.logs(data)
      }))
  ).pipe(Layer.provide(base))
