/**
 * One line to see your runs: `Effect.provide(Observability.console())`.
 *
 * - `console()`: prints a readable tree of each run's spans (durations, tokens, cost) when the
 *   run's root span ends.
 * - `otlp({ url })`: exports spans, metrics and logs over OTLP/HTTP (through
 *   `@effect/opentelemetry`) to a collector, Jaeger, Tempo, Honeycomb ...
 * - `inMemory()`: keeps finished spans in memory, for tests.
 * - `off`: no tracing at all (spans become no-ops).
 *
 * @since 0.1.0
 */
import { Otlp, OtlpSerialization } from "@effect/opentelemetry"
import { FetchHttpClient } from "@effect/platform"
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import type { Duration } from "effect"
import { Layer } from "effect"
import { ConsoleTreeProcessor, render } from "./internal/consoleTree.js"
import { conformed } from "./internal/otlp.js"
import { DirectProcessor, layer as tracerLayer, SyncInMemorySpanExporter } from "./internal/tracer.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface ConsoleOptions {
  /** Where the tree goes. Default `console.log`. */
  readonly write?: (text: string) => void
  readonly serviceName?: string
}

/**
 * Prints a tree of each finished run: span names, durations, errors, and for model calls (and
 * the steps around them) tokens and cost.
 *
 * @example
 * ```ts
 * import assert from "node:assert"
 * import { Effect } from "effect"
 * import { Primitive, Runner, sequence } from "@braid/core"
 * import { Observability } from "@braid/observability"
 *
 * const lines: Array<string> = []
 * const pipeline = sequence(
 *   Primitive.sync("parse", (s: string) => s.trim()),
 *   Primitive.sync("shout", (s: string) => s.toUpperCase())
 * ).pipe(Primitive.named("greet"))
 * const out = await Effect.runPromise(
 *   Runner.run(pipeline, " hi ").pipe(Effect.provide(Observability.console({ write: (t) => lines.push(t) })))
 * )
 * assert.strictEqual(out, "HI")
 * assert.match(lines.join("\n"), /greet .*\n.*parse/)
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const console = (options: ConsoleOptions = {}): Layer.Layer<never> => {
  const write = options.write ?? ((text: string) => globalThis.console.log(text))
  return tracerLayer([new ConsoleTreeProcessor(write)], options.serviceName ?? "braid")
}

/**
 * @category models
 * @since 0.1.0
 */
export interface OtlpOptions {
  /** The collector's base URL, e.g. `http://127.0.0.1:4318` (`/v1/traces` etc. are appended). */
  readonly url: string
  readonly serviceName?: string
  readonly serviceVersion?: string
  /** Default `"protobuf"`. */
  readonly protocol?: "protobuf" | "json"
  readonly headers?: Readonly<Record<string, string>>
  /** How often batches are sent (default 5 seconds); everything left is sent when the layer closes. */
  readonly exportInterval?: Duration.DurationInput
}

/**
 * Exports spans, metrics and logs over OTLP/HTTP, through `@effect/opentelemetry`'s exporters,
 * with the status and scopes of the console and in-memory layers: UNSET on success and on
 * interruption (`braid.interrupted`), ERROR on failure; spans grouped by the package that made
 * them (`@braid/core`, `@braid/llm`, ...), metrics by the package that declares them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observability } from "@braid/observability"
 *
 * const Tracing = Observability.otlp({ url: "http://127.0.0.1:4318", serviceName: "coach" })
 * const program = Effect.log("hello").pipe(Effect.withSpan("hello"), Effect.provide(Tracing))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const otlp = (options: OtlpOptions): Layer.Layer<never> => {
  const base = Otlp.layer({
    baseUrl: options.url,
    resource: {
      serviceName: options.serviceName ?? "braid",
      ...(options.serviceVersion !== undefined ? { serviceVersion: options.serviceVersion } : {})
    },
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(options.exportInterval !== undefined
      ? {
        tracerExportInterval: options.exportInterval,
        metricsExportInterval: options.exportInterval,
        loggerExportInterval: options.exportInterval
      }
      : {})
  })
  return base.pipe(
    Layer.provide(
      conformed(options.protocol === "json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf)
    ),
    Layer.provide(FetchHttpClient.layer)
  )
}

/**
 * An in-memory exporter and the layer that feeds it (for tests). Read `spans()` inside the scope
 * that provides `layer`: closing it shuts the exporter down, which clears it.
 *
 * @category models
 * @since 0.1.0
 */
export interface InMemory {
  readonly layer: Layer.Layer<never>
  readonly exporter: InMemorySpanExporter
  readonly spans: () => ReadonlyArray<ReadableSpan>
  /** The tree of the spans so far, as `console()` prints it. */
  readonly tree: () => string
}

/**
 * Keeps finished spans in memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert"
 * import { Effect } from "effect"
 * import { Primitive, Runner } from "@braid/core"
 * import { Observability } from "@braid/observability"
 *
 * const mem = Observability.inMemory()
 * const names = await Effect.runPromise(
 *   Runner.run(Primitive.sync("step", (n: number) => n + 1), 1).pipe(
 *     Effect.zipRight(Effect.sync(() => mem.spans().map((s) => s.name))),
 *     Effect.provide(mem.layer)
 *   )
 * )
 * assert.deepStrictEqual(names, ["step"])
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const inMemory = (options: { readonly processors?: ReadonlyArray<SpanProcessor> } = {}): InMemory => {
  const exporter = new SyncInMemorySpanExporter()
  const layer = tracerLayer([new DirectProcessor(exporter), ...(options.processors ?? [])], "braid-test")
  return {
    layer,
    exporter,
    spans: () => exporter.getFinishedSpans(),
    tree: () => render(exporter.getFinishedSpans())
  }
}

/**
 * No tracing: spans are not recorded or exported (Effect's tracer is disabled).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Observability } from "@braid/observability"
 *
 * const quiet = Effect.succeed(1).pipe(Effect.withSpan("ignored"), Effect.provide(Observability.off))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const off: Layer.Layer<never> = Layer.setTracerEnabled(false)

/**
 * Renders spans as the console tree (for custom sinks).
 *
 * @example
 * ```ts
 * import { Observability } from "@braid/observability"
 *
 * const text = Observability.renderTree([])
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const renderTree = (spans: ReadonlyArray<ReadableSpan>): string => render(spans)
