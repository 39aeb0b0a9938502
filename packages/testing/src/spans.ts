import { NodeSdk } from "@effect/opentelemetry"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Exit } from "effect"

/**
 * Runs `self` with an OpenTelemetry tracer exporting to memory and returns its exit with the
 * finished spans (read inside the scope that provides the SDK layer: its shutdown clears them).
 */
export const withSpans = <A, E, R>(self: Effect.Effect<A, E, R>) => {
  const exporter = new InMemorySpanExporter()
  return Effect.gen(function*() {
    const exit = yield* Effect.exit(self)
    return { exit, spans: exporter.getFinishedSpans() as ReadonlyArray<ReadableSpan> }
  }).pipe(Effect.provide(NodeSdk.layer(() => ({ spanProcessor: new SimpleSpanProcessor(exporter) }))))
}

export const byName = (spans: ReadonlyArray<ReadableSpan>, name: string): ReadableSpan => {
  const found = spans.filter((s) => s.name === name)
  if (found.length !== 1) {
    throw new Error(`expected one span named ${name}, found ${found.length}: ${spans.map((s) => s.name).join(", ")}`)
  }
  return found[0]!
}

export const parentOf = (spans: ReadonlyArray<ReadableSpan>, span: ReadableSpan): ReadableSpan | undefined =>
  spans.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId)

export const successValue = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`expected success, got ${String(exit.cause)}`)
}
