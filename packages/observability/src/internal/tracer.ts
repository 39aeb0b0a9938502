/**
 * The tracer behind the console and in-memory layers: Effect spans that become OpenTelemetry
 * `ReadableSpan`s when they end, handed straight to span processors.
 *
 * The OpenTelemetry SDK route (`@effect/opentelemetry`'s tracer on a `NodeTracerProvider`) builds
 * two spans per span (Effect's bridge and the SDK's), validates and copies every attribute twice,
 * asks a sampler, and makes an OpenTelemetry context per span: most of a span's cost, for layers
 * whose spans never leave the process. Here a span is one object that keeps its attributes in
 * one map and is converted once, when it ends: status UNSET on success (OpenTelemetry's
 * Recording Errors: instrumentation leaves OK to the application), ERROR with an `exception` event
 * for a failure, UNSET with `braid.interrupted` for an interruption. The instrumentation scope is
 * the one named by the span's `otel.scope.name` / `otel.scope.version` attributes (which are then
 * dropped), else `@braid/observability`. Processors see finished spans (`onEnd`); `onStart` is not
 * called, since there is no SDK span to give them. The OTLP layer does not use this tracer.
 *
 * @internal
 */
import { Attributes as Names } from "@braid/core"
import type { Attributes, AttributeValue, HrTime, Link, SpanContext, SpanStatus } from "@opentelemetry/api"
import { context as otelContext, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api"
import type { Resource } from "@opentelemetry/resources"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { ReadableSpan, SpanProcessor, TimedEvent } from "@opentelemetry/sdk-trace-base"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import { Cause, Context, Effect, Inspectable, Layer, Option, Tracer } from "effect"
import type { Exit } from "effect"
import { version } from "./version.js"

const scopeNameKey = Names.General.otelScopeName
const scopeVersionKey = Names.General.otelScopeVersion

/** An OpenTelemetry instrumentation scope. */
export interface InstrumentationScope {
  readonly name: string
  readonly version?: string
}

/** The scope of spans that do not name one (spans of user code, say). */
export const defaultScope: InstrumentationScope = Object.freeze({ name: "@braid/observability", version })

const scopes = new Map<string, InstrumentationScope>()

/** The scope a span names in its attributes (one frozen object per name and version). */
const scopeOf = (attributes: ReadonlyMap<string, unknown>): InstrumentationScope => {
  const name = attributes.get(scopeNameKey)
  if (typeof name !== "string") return defaultScope
  const v = attributes.get(scopeVersionKey)
  const id = typeof v === "string" ? `${name}@${v}` : name
  let scope = scopes.get(id)
  if (scope === undefined) {
    scope = Object.freeze(typeof v === "string" ? { name, version: v } : { name })
    if (scopes.size < 1000) scopes.set(id, scope)
  }
  return scope
}

const kinds: Record<Tracer.SpanKind, SpanKind> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER
}

const hex8 = (): string => ((Math.random() * 0x100000000) >>> 0).toString(16).padStart(8, "0")

/** A random id of `words` × 8 hex digits, never all zeros (an invalid id in OpenTelemetry). */
const randomId = (words: number): string => {
  let id = ""
  let zero = true
  for (let i = 0; i < words; i++) {
    const word = hex8()
    if (word !== "00000000") zero = false
    id += word
  }
  return zero ? randomId(words) : id
}

const billion = BigInt(1_000_000_000)

const hrTime = (nanos: bigint): HrTime => {
  const seconds = nanos / billion
  return [Number(seconds), Number(nanos - seconds * billion)]
}

const isHomogeneous = (values: ReadonlyArray<unknown>): boolean => {
  if (values.length === 0) return true
  const type = typeof values[0]
  if (type !== "string" && type !== "number" && type !== "boolean") return false
  for (const v of values) if (typeof v !== type) return false
  return true
}

/** An attribute value as OpenTelemetry takes it (what the Effect bridge does, arrays kept when they can be). */
const toAttributeValue = (value: unknown): AttributeValue => {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value
    case "bigint":
      return value.toString()
  }
  if (Array.isArray(value) && isHomogeneous(value)) return [...value] as AttributeValue
  return Inspectable.toStringUnknown(value)
}

const toAttributes = (record: Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>): Attributes => {
  const out: Attributes = {}
  if (record instanceof Map) {
    for (const [k, v] of record) if (k !== scopeNameKey && k !== scopeVersionKey) out[k] = toAttributeValue(v)
  } else {
    for (const k in record) out[k] = toAttributeValue((record as Record<string, unknown>)[k])
  }
  return out
}

const contextOf = (span: Tracer.AnySpan): SpanContext => ({
  traceId: span.traceId,
  spanId: span.spanId,
  traceFlags: TraceFlags.SAMPLED
})

interface Sink {
  readonly processors: ReadonlyArray<SpanProcessor>
  readonly resource: Resource
}

class LeanSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId: string
  readonly traceId: string
  readonly sampled = true
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  status: Tracer.SpanStatus
  events: Array<TimedEvent> | undefined = undefined
  readonly remoteParent: SpanContext | undefined

  constructor(
    readonly sink: Sink,
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.links = links.length === 0 ? [] : [...links]
    this.status = { _tag: "Started", startTime }
    this.spanId = randomId(2)
    if (parent._tag === "Some") {
      this.traceId = parent.value.traceId
      this.remoteParent = undefined
    } else {
      // a span of non-Effect OpenTelemetry code active around this root (remote to us)
      const active = trace.getSpanContext(otelContext.active())
      this.remoteParent = active !== undefined && trace.isSpanContextValid(active)
        ? { ...active, isRemote: true }
        : undefined
      this.traceId = this.remoteParent?.traceId ?? randomId(4)
    }
  }

  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    const event: TimedEvent = { name, time: hrTime(startTime), droppedAttributesCount: 0 }
    if (attributes !== undefined) event.attributes = toAttributes(attributes)
    ;(this.events ??= []).push(event)
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    for (const link of links) this.links.push(link)
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    const startTime = this.status.startTime
    this.status = { _tag: "Ended", startTime, endTime, exit }
    const processors = this.sink.processors
    if (processors.length === 0) return
    const readable = new FinishedSpan(this, startTime, endTime, exit)
    for (const p of processors) p.onEnd(readable)
  }
}

const unset: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET })

interface Outcome {
  readonly attributes: Attributes
  readonly status: SpanStatus
  readonly events: Array<TimedEvent>
}

/**
 * A span as processors and exporters see it once it ended. Its OpenTelemetry forms (attributes,
 * status and exception event, times, links) are computed on first access: spans kept in memory
 * that nobody reads cost no conversion.
 */
class FinishedSpan implements ReadableSpan {
  readonly ended = true
  readonly kind: SpanKind
  readonly resource: Resource
  readonly instrumentationScope: InstrumentationScope
  readonly droppedAttributesCount = 0
  readonly droppedEventsCount = 0
  readonly droppedLinksCount = 0
  readonly parentSpanContext?: SpanContext
  private readonly context: SpanContext
  private outcomeCache: Outcome | undefined = undefined
  private linksCache: Array<Link> | undefined = undefined
  private timesCache: readonly [HrTime, HrTime, HrTime] | undefined = undefined

  constructor(
    private readonly span: LeanSpan,
    private readonly start: bigint,
    private readonly finish: bigint,
    private readonly exit: Exit.Exit<unknown, unknown>
  ) {
    this.kind = kinds[span.kind]
    this.resource = span.sink.resource
    this.instrumentationScope = scopeOf(span.attributes)
    this.context = contextOf(span)
    const parent = span.parent._tag === "Some" ? contextOf(span.parent.value) : span.remoteParent
    if (parent !== undefined) this.parentSpanContext = parent
  }

  get name(): string {
    return this.span.name
  }

  spanContext(): SpanContext {
    return this.context
  }

  get attributes(): Attributes {
    return this.outcome().attributes
  }

  get status(): SpanStatus {
    return this.outcome().status
  }

  get events(): Array<TimedEvent> {
    return this.outcome().events
  }

  get links(): Array<Link> {
    return this.linksCache ??= this.span.links.map((l) => ({
      context: contextOf(l.span),
      attributes: toAttributes(l.attributes)
    }))
  }

  get startTime(): HrTime {
    return this.times()[0]
  }

  get endTime(): HrTime {
    return this.times()[1]
  }

  get duration(): HrTime {
    return this.times()[2]
  }

  private times(): readonly [HrTime, HrTime, HrTime] {
    return this.timesCache ??= [hrTime(this.start), hrTime(this.finish), hrTime(this.finish - this.start)]
  }

  /** Attributes, status and events, as the Effect bridge sets them from the exit. */
  private outcome(): Outcome {
    if (this.outcomeCache !== undefined) return this.outcomeCache
    const attributes = toAttributes(this.span.attributes)
    const events = this.span.events ?? []
    let status: SpanStatus = unset
    const exit = this.exit
    if (exit._tag === "Failure") {
      if (Cause.isInterruptedOnly(exit.cause)) {
        attributes[Names.Braid.interrupted] = true
      } else {
        const error = Cause.prettyErrors(exit.cause)[0]
        if (error !== undefined) {
          const exception: Attributes = {}
          if (error.name !== "") exception["exception.type"] = error.name
          if (error.message !== "") exception["exception.message"] = error.message
          exception["exception.stacktrace"] = Cause.pretty(exit.cause, { renderErrorCause: true })
          events.push({
            name: "exception",
            time: hrTime(this.finish),
            attributes: exception,
            droppedAttributesCount: 0
          })
          status = { code: SpanStatusCode.ERROR, message: error.message }
        }
      }
    }
    return this.outcomeCache = { attributes, status, events }
  }

  /** What `JSON.stringify` shows (the computed fields, not the internals). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      spanContext: this.context,
      parentSpanContext: this.parentSpanContext,
      startTime: this.startTime,
      endTime: this.endTime,
      duration: this.duration,
      status: this.status,
      attributes: this.attributes,
      links: this.links,
      events: this.events
    }
  }
}

/**
 * A layer that installs the lean tracer, its finished spans going to `processors`; closing the
 * layer shuts the processors down.
 */
export const layer = (processors: ReadonlyArray<SpanProcessor>, serviceName: string): Layer.Layer<never> => {
  const sink: Sink = {
    processors,
    resource: resourceFromAttributes({
      "service.name": serviceName,
      "telemetry.sdk.name": "@braid/observability",
      "telemetry.sdk.language": "nodejs"
    })
  }
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) =>
      new LeanSpan(sink, name, parent, context, links, startTime, kind),
    context: (execution) => execution()
  })
  return Layer.unwrapScoped(
    Effect.as(
      Effect.addFinalizer(() => Effect.promise(() => Promise.all(processors.map((p) => p.shutdown())))),
      Layer.setTracer(tracer)
    )
  )
}

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
  /** Shuts the exporter down (which clears it) when the layer closes. */
  shutdown(): Promise<void> {
    return this.exporter.shutdown()
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
