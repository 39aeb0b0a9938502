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
import type { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
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
