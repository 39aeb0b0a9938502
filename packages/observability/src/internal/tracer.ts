/**
 * The OpenTelemetry tracer behind the console and in-memory layers: the spans of
 * `@effect/opentelemetry`'s tracer on a `NodeTracerProvider`, without making each span the
 * active OpenTelemetry context on every fiber step (that hook only serves non-Effect OpenTelemetry
 * instrumentations, and costs an allocation per step). The OTLP layer does not use it.
 *
 * @internal
 */
import { NodeSdk, Resource, Tracer as OtelTracer } from "@effect/opentelemetry"
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Tracer } from "effect"

export const layer = (processors: ReadonlyArray<SpanProcessor>, serviceName: string): Layer.Layer<never> =>
  Layer.unwrapEffect(Effect.map(OtelTracer.make, (otel) =>
    Layer.setTracer(Tracer.make({ span: otel.span, context: (execution) => execution() })))).pipe(
      Layer.provide(OtelTracer.layerTracer),
      Layer.provide(NodeSdk.layerTracerProvider(processors as [SpanProcessor, ...Array<SpanProcessor>])),
      Layer.provide(Resource.layer({ serviceName }))
    )

/** Pushes each finished span straight into an in-memory exporter (no export promise, no context switch). */
export class DirectProcessor implements SpanProcessor {
  constructor(private readonly exporter: InMemorySpanExporter) {}
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.exporter.export([span], () => {})
  }
  forceFlush(): Promise<void> {
    return Promise.resolve()
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

type ExportCallback = Parameters<InMemorySpanExporter["export"]>[1]

/**
 * The SDK's in-memory exporter, except that `export` reports success at once: the SDK's reports
 * it from a `setTimeout(0)`, that is one timer (a 1 ms timeout in Node) per exported span, which
 * the event loop then has to run among the program's own timers. Same storage semantics:
 * `getFinishedSpans`, `reset`, and `shutdown` (which clears and stops it; later exports fail).
 */
export class SyncInMemorySpanExporter extends InMemorySpanExporter {
  private finished: Array<ReadableSpan> = []

  override export(spans: Array<ReadableSpan>, resultCallback: ExportCallback): void {
    if (this._stopped) return super.export(spans, resultCallback)
    for (const span of spans) this.finished.push(span)
    resultCallback({ code: 0 /* ExportResultCode.SUCCESS */ })
  }

  override shutdown(): Promise<void> {
    this.finished = []
    return super.shutdown()
  }

  override reset(): void {
    this.finished = []
  }

  override getFinishedSpans(): Array<ReadableSpan> {
    return this.finished
  }
}
