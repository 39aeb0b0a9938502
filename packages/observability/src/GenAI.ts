/**
 * OpenTelemetry GenAI semantic conventions for model calls. `@braid/llm` wraps every call in
 * `chat` (or `chatStream`): one `chat {model}` CLIENT span, nested under the running primitive's
 * span, with the `gen_ai.*` request and response attributes, the run attributes of Braid, and the
 * `gen_ai.client.token.usage` / `gen_ai.client.operation.duration` metrics.
 *
 * @since 0.1.0
 */
import { Instrumentation } from "@braid/core"
import type { Exit } from "effect"
import { Clock, Context, Effect, FiberRef, Option, Stream, Tracer } from "effect"
import type { DefaultServices, MetricLabel } from "effect"
import { tag } from "./internal/tagged.js"
import * as Metrics from "./Metrics.js"

/**
 * Attribute names used on model-call spans.
 *
 * @category constants
 * @since 0.1.0
 */
export const Attr = {
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestTemperature: "gen_ai.request.temperature",
  requestStopSequences: "gen_ai.request.stop_sequences",
  responseModel: "gen_ai.response.model",
  responseFinishReasons: "gen_ai.response.finish_reasons",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  cacheReadTokens: "gen_ai.usage.cache_read.input_tokens",
  cacheWriteTokens: "gen_ai.usage.cache_creation.input_tokens",
  usageEstimated: "braid.usage.estimated",
  cost: "braid.cost.usd",
  agent: "braid.agent",
  errorType: "error.type"
} as const

/**
 * What is known of a model call before it runs.
 *
 * @category models
 * @since 0.1.0
 */
export interface RequestInfo {
  /** e.g. `"anthropic"`. */
  readonly provider: string
  readonly model: string
  /** Default `"chat"`. */
  readonly operation?: string
  readonly maxTokens?: number
  readonly temperature?: number
  readonly stopSequences?: ReadonlyArray<string>
  readonly agent?: string
}

/**
 * What is known of a model call after it answered.
 *
 * @category models
 * @since 0.1.0
 */
export interface ResponseInfo {
  readonly model: string
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens?: number
  readonly cacheWriteTokens?: number
  readonly finishReasons: ReadonlyArray<string>
  readonly estimated?: boolean
}

/**
 * Sets an attribute; arrays are kept as arrays on OpenTelemetry spans (the Effect bridge would
 * turn them into strings, so they are also set on the underlying OpenTelemetry span).
 */
const setAttribute = (span: Tracer.AnySpan, key: string, value: unknown): void => {
  if (span._tag !== "Span") return
  if (Array.isArray(value)) {
    const otel = (span as unknown as { readonly span?: { setAttribute?: (k: string, v: unknown) => void } }).span
    if (otel !== undefined && typeof otel.setAttribute === "function") {
      // what `span.attribute` does, without first setting the array's JSON text on the OpenTelemetry span
      otel.setAttribute(key, value)
      if (span.attributes instanceof Map) {
        span.attributes.set(key, value)
        return
      }
    }
  }
  span.attribute(key, value)
}

const spanName = (info: RequestInfo) => `${info.operation ?? "chat"} ${info.model}`

const metricLabels = (info: RequestInfo): Metrics.Labels => ({
  [Attr.operationName]: info.operation ?? "chat",
  [Attr.providerName]: info.provider,
  [Attr.requestModel]: info.model
})

/** The request attributes of a model-call span, with the run attributes found in `context`. */
const requestAttributes = (info: RequestInfo, context: Context.Context<never>): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    [Attr.operationName]: info.operation ?? "chat",
    [Attr.providerName]: info.provider,
    [Attr.requestModel]: info.model,
    "braid.primitive.name": spanName(info),
    "braid.primitive.kind": "model-call",
    ...Instrumentation.contextAttributes(context)
  }
  if (info.maxTokens !== undefined) attributes[Attr.requestMaxTokens] = info.maxTokens
  if (info.temperature !== undefined) attributes[Attr.requestTemperature] = info.temperature
  if (info.agent !== undefined) attributes[Attr.agent] = info.agent
  return attributes
}

const startAttributes = (info: RequestInfo): Effect.Effect<Record<string, unknown>> =>
  Effect.contextWith((context: Context.Context<never>) => requestAttributes(info, context))

/** The response attributes of a model-call span: model, token usage, finish reasons. */
const setResponseAttributes = (span: Tracer.Span, response: ResponseInfo): void => {
  span.attribute(Attr.responseModel, response.model)
  span.attribute(Attr.inputTokens, response.inputTokens)
  span.attribute(Attr.outputTokens, response.outputTokens)
  span.attribute(Attr.cacheReadTokens, response.cacheReadTokens ?? 0)
  span.attribute(Attr.cacheWriteTokens, response.cacheWriteTokens ?? 0)
  setAttribute(span, Attr.responseFinishReasons, [...response.finishReasons])
  if (response.estimated === true) span.attribute(Attr.usageEstimated, true)
}

/**
 * Sets the response attributes of the current model-call span and records the token metric.
 *
 * @example
 * ```ts
 * import { GenAI } from "@braid/observability"
 *
 * const annotate = GenAI.annotateResponse(
 *   { provider: "anthropic", model: "claude-sonnet-5-5" },
 *   { model: "claude-sonnet-5-5", inputTokens: 120, outputTokens: 40, finishReasons: ["end_turn"] }
 * )
 * ```
 *
 * @category instrumentation
 * @since 0.1.0
 */
export const annotateResponse = (info: RequestInfo, response: ResponseInfo): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
      if (Option.isSome(span)) {
        setResponseAttributes(span.value, response)
      }
      return Effect.void
    }),
    Metrics.recordTokens(response.inputTokens, response.outputTokens, {
      ...metricLabels(info),
      [Attr.responseModel]: response.model
    })
  )

/**
 * Sets the cost of the current model call (`braid.cost.usd`) and adds it to `braid.llm.cost`.
 *
 * @example
 * ```ts
 * import { GenAI } from "@braid/observability"
 *
 * const annotate = GenAI.annotateCost(0.0012, { model: "claude-sonnet-5-5", agent: "coach" })
 * ```
 *
 * @category instrumentation
 * @since 0.1.0
 */
export const annotateCost = (
  usd: number,
  labels: { readonly model: string; readonly agent?: string | undefined }
): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.annotateCurrentSpan(Attr.cost, usd),
    Metrics.recordCost(usd, { [Attr.responseModel]: labels.model, [Attr.agent]: labels.agent })
  )

const setStopSequences = <A, E, R>(info: RequestInfo, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  info.stopSequences === undefined || info.stopSequences.length === 0
    ? self
    : Effect.zipRight(
      Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
        if (Option.isSome(span)) setAttribute(span.value, Attr.requestStopSequences, [...info.stopSequences!])
        return Effect.void
      }),
      self
    )

const errorType = Instrumentation.errorType

const finish = (info: RequestInfo, startMillis: number, exit: Exit.Exit<unknown, unknown>) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const labels: Record<string, string | undefined> = { ...metricLabels(info) }
    let annotate: Effect.Effect<void> = Effect.void
    if (exit._tag === "Failure") {
      labels[Attr.errorType] = errorType(exit.cause)
      annotate = Effect.annotateCurrentSpan(Attr.errorType, labels[Attr.errorType]!)
    }
    return Effect.zipRight(annotate, Metrics.recordDuration(Math.max(0, now - startMillis) / 1000, labels))
  })

type Histogram = typeof Metrics.tokenUsage

/** The tagged metrics of the calls of one operation, provider and model (cached, see `callMetrics`). */
interface CallMetrics {
  readonly labels: Metrics.Labels
  readonly duration: Histogram
  /** Duration by `error.type`. */
  readonly failed: Map<string, Histogram>
  /** Input and output token usage by response model. */
  readonly tokens: Map<string, readonly [Histogram, Histogram]>
}

const byRequest = new Map<string, CallMetrics>()
const maxCached = 10_000

/**
 * The metrics `chat` records, tagged with the same labels as `annotateResponse` and `finish`
 * (and so the same registry entries), looked up once per operation, provider and model rather
 * than by building and hashing the label set of each measurement.
 */
const callMetrics = (info: RequestInfo): CallMetrics => {
  const id = `${info.operation ?? "chat"}\u0000${info.provider}\u0000${info.model}`
  let m = byRequest.get(id)
  if (m === undefined) {
    const labels = metricLabels(info)
    m = { labels, duration: tag(Metrics.operationDuration, labels), failed: new Map(), tokens: new Map() }
    if (byRequest.size < maxCached) byRequest.set(id, m)
  }
  return m
}

const tokenMetrics = (m: CallMetrics, responseModel: string): readonly [Histogram, Histogram] => {
  let t = m.tokens.get(responseModel)
  if (t === undefined) {
    const labels = { ...m.labels, [Attr.responseModel]: responseModel }
    t = [
      tag(Metrics.tokenUsage, { ...labels, "gen_ai.token.type": "input" }),
      tag(Metrics.tokenUsage, { ...labels, "gen_ai.token.type": "output" })
    ]
    if (m.tokens.size < maxCached) m.tokens.set(responseModel, t)
  }
  return t
}

const failedMetric = (m: CallMetrics, type: string): Histogram => {
  let d = m.failed.get(type)
  if (d === undefined) {
    d = tag(Metrics.operationDuration, { ...m.labels, [Attr.errorType]: type })
    if (m.failed.size < maxCached) m.failed.set(type, d)
  }
  return d
}

interface FiberLike {
  getFiberRef<X>(ref: FiberRef.FiberRef<X>): X
  readonly currentDefaultServices: Context.Context<DefaultServices.DefaultServices>
}

/**
 * The end of a `chat` call, in one step (as `annotateResponse` then `finish`): the response
 * attributes or `error.type` on the call's span, the token and duration metrics.
 */
const completed = <A, E>(
  fiber: FiberLike,
  span: Tracer.Span,
  m: CallMetrics,
  startMillis: number,
  exit: Exit.Exit<A, E>,
  describe: (a: A) => ResponseInfo
): void => {
  const extraTags: ReadonlyArray<MetricLabel.MetricLabel> = fiber.getFiberRef(FiberRef.currentMetricLabels)
  let duration = m.duration
  if (exit._tag === "Success") {
    const response = describe(exit.value)
    setResponseAttributes(span, response)
    const [input, output] = tokenMetrics(m, response.model)
    input.unsafeUpdate(response.inputTokens, extraTags)
    output.unsafeUpdate(response.outputTokens, extraTags)
  } else {
    const type = errorType(exit.cause)
    span.attribute(Attr.errorType, type)
    duration = failedMetric(m, type)
  }
  const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
  duration.unsafeUpdate(Math.max(0, now - startMillis) / 1000, extraTags)
}

/** `completed` as a span's `onEnd` (a factory, so no named closure is made per call). */
const onCompleted =
  <A, E>(m: CallMetrics, startMillis: number, describe: (a: A) => ResponseInfo) =>
  (exit: Exit.Exit<A, E>, span: Tracer.Span, fiber: FiberLike): void =>
    completed(fiber, span, m, startMillis, exit, describe)

/**
 * Runs `self` (a model call) inside a `chat {model}` CLIENT span with the GenAI request
 * attributes; on success `describe` gives the response attributes; failures set `error.type`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GenAI } from "@braid/observability"
 *
 * const call = GenAI.chat(
 *   { provider: "anthropic", model: "claude-sonnet-5-5", maxTokens: 256 },
 *   Effect.succeed({ text: "hi", input: 10, output: 2 }),
 *   (r) => ({ model: "claude-sonnet-5-5", inputTokens: r.input, outputTokens: r.output, finishReasons: ["end_turn"] })
 * )
 * ```
 *
 * @category instrumentation
 * @since 0.1.0
 */
export const chat = <A, E, R>(
  info: RequestInfo,
  self: Effect.Effect<A, E, R>,
  describe: (a: A) => ResponseInfo
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Instrumentation.enabled, (on) => {
    if (!on) return self
    return Effect.withFiberRuntime<A, E, R>((fiber) => {
      const attributes = requestAttributes(info, fiber.getFiberRef(FiberRef.currentContext))
      const start = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
      const metrics = callMetrics(info)
      return Instrumentation.withSpan(setStopSequences(info, self), spanName(info), {
        kind: "client",
        attributes,
        onEnd: onCompleted(metrics, start, describe)
      })
    })
  })

/**
 * Runs a streamed model call inside a `chat {model}` span that stays open while the stream is
 * consumed. `describe` returns the response attributes for the final element (and `undefined`
 * for the others). `body(span-scoped stream)` runs under the span, so effects inside it (e.g.
 * accounting) annotate it.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { GenAI } from "@braid/observability"
 *
 * const streamed = GenAI.chatStream(
 *   { provider: "anthropic", model: "claude-sonnet-5-5" },
 *   Stream.make("Hel", "lo"),
 *   (chunk) => chunk === "lo" ? { model: "claude-sonnet-5-5", inputTokens: 3, outputTokens: 2, finishReasons: ["end_turn"] } : undefined
 * )
 * ```
 *
 * @category instrumentation
 * @since 0.1.0
 */
export const chatStream = <A, E, R>(
  info: RequestInfo,
  self: Stream.Stream<A, E, R>,
  describe: (a: A) => ResponseInfo | undefined
): Stream.Stream<A, E, R> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const on = yield* Instrumentation.enabled
    if (!on) return self
    const attributes = yield* startAttributes(info)
    const start = yield* Clock.currentTimeMillis
    const span = yield* Effect.makeSpanScoped(spanName(info), { kind: "client", attributes, captureStackTrace: false })
    yield* Effect.addFinalizer((exit) => Effect.withParentSpan(finish(info, start, exit), span))
    if (info.stopSequences !== undefined && info.stopSequences.length > 0) {
      setAttribute(span, Attr.requestStopSequences, [...info.stopSequences])
    }
    return self.pipe(
      Stream.tap((a) => {
        const r = describe(a)
        return r === undefined ? Effect.void : annotateResponse(info, r)
      }),
      Stream.provideService(Tracer.ParentSpan, span)
    )
  }))
