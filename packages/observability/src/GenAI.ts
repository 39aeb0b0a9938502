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
import { Clock, Context, Effect, Option, Stream, Tracer } from "effect"
import * as Metrics from "./Metrics.js"

/**
 * Attribute names used on model-call spans.
 *
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
  span.attribute(key, value)
  if (Array.isArray(value)) {
    const otel = (span as unknown as { readonly span?: { setAttribute?: (k: string, v: unknown) => void } }).span
    if (otel !== undefined && typeof otel.setAttribute === "function") otel.setAttribute(key, value)
  }
}

const spanName = (info: RequestInfo) => `${info.operation ?? "chat"} ${info.model}`

const metricLabels = (info: RequestInfo): Metrics.Labels => ({
  [Attr.operationName]: info.operation ?? "chat",
  [Attr.providerName]: info.provider,
  [Attr.requestModel]: info.model
})

/** The braid.path of the nearest enclosing span that has one (as core's `currentPath`). */
const startAttributes = (info: RequestInfo): Effect.Effect<Record<string, unknown>> =>
  Effect.contextWith((context: Context.Context<never>) => {
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
  })

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
 * @since 0.1.0
 */
export const annotateResponse = (info: RequestInfo, response: ResponseInfo): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
      if (Option.isSome(span)) {
        const s = span.value
        s.attribute(Attr.responseModel, response.model)
        s.attribute(Attr.inputTokens, response.inputTokens)
        s.attribute(Attr.outputTokens, response.outputTokens)
        s.attribute(Attr.cacheReadTokens, response.cacheReadTokens ?? 0)
        s.attribute(Attr.cacheWriteTokens, response.cacheWriteTokens ?? 0)
        setAttribute(s, Attr.responseFinishReasons, [...response.finishReasons])
        if (response.estimated === true) s.attribute(Attr.usageEstimated, true)
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
 * @since 0.1.0
 */
export const annotateCost = (usd: number, labels: { readonly model: string; readonly agent?: string | undefined }): Effect.Effect<void> =>
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
 * @since 0.1.0
 */
export const chat = <A, E, R>(
  info: RequestInfo,
  self: Effect.Effect<A, E, R>,
  describe: (a: A) => ResponseInfo
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Instrumentation.enabled, (on) => {
    if (!on) return self
    return Effect.flatMap(startAttributes(info), (attributes) =>
      Effect.flatMap(Clock.currentTimeMillis, (start) =>
        setStopSequences(info, self).pipe(
          Effect.onExit((exit) =>
            exit._tag === "Success"
              ? Effect.zipRight(annotateResponse(info, describe(exit.value)), finish(info, start, exit))
              : finish(info, start, exit)
          ),
          Effect.withSpan(spanName(info), { kind: "client", attributes, captureStackTrace: false })
        )))
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
