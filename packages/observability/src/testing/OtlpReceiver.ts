/**
 * A small local OTLP/HTTP receiver for tests and offline examples: accepts `POST /v1/traces`,
 * `/v1/metrics` and `/v1/logs`, decodes JSON payloads (`Observability.otlp({ protocol: "json" })`)
 * into flat spans, metric names and log lines, and counts protobuf payloads it does not decode.
 *
 * Import it from `@braid/observability/testing/OtlpReceiver`.
 *
 * @since 0.1.0
 */
import * as LocalServer from "@braid/core/testing/LocalServer"
import { Effect } from "effect"

/**
 * A span as received, flattened.
 *
 * @category testing
 * @since 0.1.0
 */
export interface ReceivedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly kind: number | string | undefined
  readonly attributes: Readonly<Record<string, unknown>>
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Readonly<Record<string, unknown>> }>
  readonly status: { readonly code?: number | string; readonly message?: string } | undefined
  readonly resource: Readonly<Record<string, unknown>>
  /** The instrumentation scope the span was sent under. */
  readonly scope: { readonly name?: string; readonly version?: string }
}

/**
 * A metric as received: its kind, unit and scope, and the attributes of its data points.
 *
 * @since 0.2.0
 * @category models
 */
export interface ReceivedMetric {
  readonly name: string
  readonly unit: string | undefined
  readonly kind: "sum" | "gauge" | "histogram" | "other"
  /** For sums: whether the sum is monotonic (a counter). */
  readonly isMonotonic: boolean | undefined
  readonly scope: { readonly name?: string; readonly version?: string }
  readonly dataPoints: ReadonlyArray<{ readonly attributes: Readonly<Record<string, unknown>> }>
}

/**
 * A running receiver.
 *
 * @category testing
 * @since 0.1.0
 */
export interface Receiver {
  /** Base URL to give `Observability.otlp({ url })`. */
  readonly url: string
  readonly spans: ReadonlyArray<ReceivedSpan>
  /** Names of the metrics received. */
  readonly metrics: ReadonlyArray<string>
  /** The metrics received, in detail (one entry per metric per export). */
  readonly metricDetails: ReadonlyArray<ReceivedMetric>
  /** Bodies of the log records received. */
  readonly logs: ReadonlyArray<string>
  /** Every raw request body received (to scan for secrets). */
  readonly raw: ReadonlyArray<string>
  readonly protobufRequests: () => number
  readonly close: () => Promise<void>
}

type AnyValue = {
  stringValue?: string
  intValue?: string | number
  doubleValue?: number
  boolValue?: boolean
  arrayValue?: { values?: ReadonlyArray<AnyValue> }
}

const value = (v: AnyValue | undefined): unknown => {
  if (v === undefined) return undefined
  if (v.stringValue !== undefined) return v.stringValue
  if (v.intValue !== undefined) return Number(v.intValue)
  if (v.doubleValue !== undefined) return v.doubleValue
  if (v.boolValue !== undefined) return v.boolValue
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value)
  return undefined
}

const attrs = (list: ReadonlyArray<{ key: string; value: AnyValue }> | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]))

/**
 * Starts a receiver on 127.0.0.1 on a free port.
 *
 * @example
 * ```ts
 * import { start } from "@braid/observability/testing/OtlpReceiver"
 *
 * const receiver = await start()
 * // Observability.otlp({ url: receiver.url, protocol: "json" }) ...
 * await receiver.close()
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const start = (): Promise<Receiver> => {
  const spans: Array<ReceivedSpan> = []
  const metrics: Array<string> = []
  const metricDetails: Array<ReceivedMetric> = []
  const logs: Array<string> = []
  const raw: Array<string> = []
  let protobuf = 0
  return LocalServer.start((req, body, res) => {
    raw.push(body.toString("utf8"))
    const type = String(req.headers["content-type"] ?? "")
    if (!type.includes("json")) {
      protobuf++
      res.writeHead(200, { "content-type": "application/x-protobuf" })
      res.end()
      return
    }
    try {
      const json = JSON.parse(body.toString("utf8"))
      if (req.url === "/v1/traces") {
        for (const rs of json.resourceSpans ?? []) {
          const resource = attrs(rs.resource?.attributes)
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                name: s.name,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId === undefined || s.parentSpanId === "" ? undefined : s.parentSpanId,
                kind: s.kind,
                attributes: attrs(s.attributes),
                events: (s.events ?? []).map((e: any) => ({ name: e.name, attributes: attrs(e.attributes) })),
                status: s.status,
                resource,
                scope: ss.scope ?? {}
              })
            }
          }
        }
      } else if (req.url === "/v1/metrics") {
        for (const rm of json.resourceMetrics ?? []) {
          for (const sm of rm.scopeMetrics ?? []) {
            for (const m of sm.metrics ?? []) {
              metrics.push(m.name)
              const data = m.sum ?? m.gauge ?? m.histogram
              metricDetails.push({
                name: m.name,
                unit: m.unit,
                kind: m.sum !== undefined
                  ? "sum"
                  : m.gauge !== undefined
                  ? "gauge"
                  : m.histogram
                  ? "histogram"
                  : "other",
                isMonotonic: m.sum?.isMonotonic,
                scope: sm.scope ?? {},
                dataPoints: (data?.dataPoints ?? []).map((d: any) => ({ attributes: attrs(d.attributes) }))
              })
            }
          }
        }
      } else if (req.url === "/v1/logs") {
        for (const rl of json.resourceLogs ?? []) {
          for (const sl of rl.scopeLogs ?? []) {
            for (const l of sl.logRecords ?? []) logs.push(String(value(l.body) ?? ""))
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    } catch {
      res.writeHead(400, { "content-type": "application/json" })
      res.end(JSON.stringify({ message: "payload is not OTLP JSON" }))
    }
  }).then((server) => ({
    url: server.url,
    spans,
    metrics,
    metricDetails,
    logs,
    raw,
    protobufRequests: () => protobuf,
    close: server.close
  }))
}

/**
 * The receiver as a scoped Effect resource.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { scoped } from "@braid/observability/testing/OtlpReceiver"
 *
 * const program = Effect.scoped(Effect.map(scoped(), (r) => r.url))
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const scoped = () => Effect.acquireRelease(Effect.promise(() => start()), (r) => Effect.promise(() => r.close()))
