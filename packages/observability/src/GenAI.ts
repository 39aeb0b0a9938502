/**
 * OpenTelemetry GenAI semantic conventions for model calls. `@braid/llm` wraps every call in
 * `chat` (or `chatStream`): one `chat {model}` CLIENT span, nested under the running primitive's
 * span, with the `gen_ai.*` request and response attributes, the run attributes of Braid, and the
 * `gen_ai.client.token.usage` / `gen_ai.client.operation.duration` metrics. The spans opened
 * inside the call (`@effect/ai`'s `LanguageModel.generateText` / `streamText`, a provider's HTTP
 * spans) carry the run attributes too (`braid.run.id`, `braid.session.id` and
 * `gen_ai.conversation.id`, `braid.tenant.id`, `braid.user.id`, `braid.path`), as span
 * annotations.
 *
 * @since 0.1.0
 */
import { Attributes as Names, Instrumentation } from "@braid/core"
import type { Exit } from "effect"
import { Cause, Clock, Context, Effect, FiberRef, HashMap, Option, Stream, Tracer } from "effect"
import type { DefaultServices, MetricLabel } from "effect"
import { tag } from "./internal/tagged.js"
import { version } from "./internal/version.js"
import * as Metrics from "./Metrics.js"

/**
 * Attribute names used on model-call spans (from `@braid/core`'s `Attributes`, the one table of
 * Braid's telemetry names).
 *
 * @category constants
 * @since 0.1.0
 */
export const Attr = {
  operationName: Names.GenAI.operationName,
  providerName: Names.GenAI.providerName,
  conversationId: Names.GenAI.conversationId,
  requestModel: Names.GenAI.requestModel,
  requestMaxTokens: Names.GenAI.requestMaxTokens,
  requestTemperature: Names.GenAI.requestTemperature,
  requestStopSequences: Names.GenAI.requestStopSequences,
  responseId: Names.GenAI.responseId,
  responseModel: Names.GenAI.responseModel,
  responseFinishReasons: Names.GenAI.responseFinishReasons,
  inputTokens: Names.GenAI.usageInputTokens,
  outputTokens: Names.GenAI.usageOutputTokens,
  cacheReadTokens: Names.GenAI.usageCacheReadInputTokens,
  cacheWriteTokens: Names.GenAI.usageCacheCreationInputTokens,
  tokenType: Names.GenAI.tokenType,
  inputMessages: Names.GenAI.inputMessages,
  outputMessages: Names.GenAI.outputMessages,
  systemInstructions: Names.GenAI.systemInstructions,
  serverAddress: Names.General.serverAddress,
  serverPort: Names.General.serverPort,
  usageEstimated: Names.Braid.usageEstimated,
  cost: Names.Braid.costUsd,
  agent: Names.GenAI.agentName,
  errorType: Names.General.errorType
} as const

/**
 * The instrumentation scope of model-call spans that name none (`RequestInfo.scope`).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultScope = { name: "@braid/observability", version } as const

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
  /** `server.address`: the host the model is called on (see `serverOf`). */
  readonly serverAddress?: string
  /** `server.port`, set with `serverAddress`. */
  readonly serverPort?: number
  /**
   * The package that makes the call, the span's instrumentation scope (default `defaultScope`).
   * `@braid/llm` names itself.
   */
  readonly scope?: { readonly name: string; readonly version: string }
  /**
   * Record `gen_ai.client.token.usage` for estimated usage too (default `false`: the conventions
   * allow offline token counting only as an opt-in). Span attributes are set either way, marked
   * `braid.usage.estimated`.
   */
  readonly recordEstimatedTokens?: boolean
  /**
   * The chat history sent (`gen_ai.input.messages`, in the conventions' JSON form: see
   * `inputMessages`). Only set it when the user opted in to recording content: prompts and
   * replies are never recorded by default.
   */
  readonly inputMessages?: ReadonlyArray<unknown>
  /** The system instructions sent separately from the history (`gen_ai.system_instructions`), opt-in like `inputMessages`. */
  readonly systemInstructions?: ReadonlyArray<unknown>
}

/**
 * What is known of a model call after it answered.
 *
 * @category models
 * @since 0.1.0
 */
export interface ResponseInfo {
  readonly model: string
  /** `gen_ai.response.id`, the provider's id of the completion. */
  readonly id?: string
  /**
   * All input tokens, cached ones included (`gen_ai.usage.input_tokens`: the conventions count
   * cache reads and writes in it).
   */
  readonly inputTokens: number
  readonly outputTokens: number
  /** Input tokens read from the provider's cache; leave it out when the provider did not report it. */
  readonly cacheReadTokens?: number
  /** Input tokens written to the provider's cache; leave it out when the provider did not report it. */
  readonly cacheWriteTokens?: number
  readonly finishReasons: ReadonlyArray<string>
  /** `true` when the usage is an estimate (no token metric then, unless `recordEstimatedTokens`). */
  readonly estimated?: boolean
  /** The reply (`gen_ai.output.messages`), only when the user opted in to recording content. */
  readonly outputMessages?: ReadonlyArray<unknown>
}

/**
 * `server.address` and `server.port` of a base URL (the port defaults to the scheme's), or
 * nothing for a URL that does not parse.
 *
 * @example
 * ```ts
 * import { GenAI } from "@braid/observability"
 *
 * GenAI.serverOf("https://api.anthropic.com") // { serverAddress: "api.anthropic.com", serverPort: 443 }
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const serverOf = (
  baseUrl: string
): { readonly serverAddress: string; readonly serverPort: number } | undefined => {
  let url: URL
  try {
    url = new URL(baseUrl)
  } catch {
    return undefined
  }
  if (url.hostname === "") return undefined
  const port = url.port !== ""
    ? Number(url.port)
    : url.protocol === "http:"
    ? 80
    : url.protocol === "https:"
    ? 443
    : NaN
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  return Number.isFinite(port) ? { serverAddress: host, serverPort: port } : undefined
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
  [Attr.requestModel]: info.model,
  [Attr.serverAddress]: info.serverAddress,
  [Attr.serverPort]: info.serverAddress !== undefined && info.serverPort !== undefined
    ? String(info.serverPort)
    : undefined
})

const jsonOf = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? "null"
  } catch {
    return "null"
  }
}

/**
 * The run attributes of a model call found in `context`: `braid.path`, `braid.run.id`,
 * `braid.session.id` (also as `gen_ai.conversation.id`), `braid.tenant.id`, `braid.user.id`.
 */
const runAttributes = (context: Context.Context<never>): Record<string, string> => {
  const attributes = Instrumentation.contextAttributes(context)
  const session = attributes[Names.Braid.sessionId]
  if (session !== undefined) attributes[Attr.conversationId] = session
  return attributes
}

/** The request attributes of a model-call span, with its run attributes. */
const requestAttributes = (info: RequestInfo, run: Record<string, string>): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    [Attr.operationName]: info.operation ?? "chat",
    [Attr.providerName]: info.provider,
    [Attr.requestModel]: info.model,
    [Names.Braid.primitiveName]: spanName(info),
    [Names.Braid.primitiveKind]: "model-call",
    ...run,
    ...Instrumentation.scopeAttributes(
      info.scope?.name ?? defaultScope.name,
      info.scope?.version ?? defaultScope.version
    )
  }
  if (info.serverAddress !== undefined) {
    attributes[Attr.serverAddress] = info.serverAddress
    if (info.serverPort !== undefined) attributes[Attr.serverPort] = info.serverPort
  }
  if (info.maxTokens !== undefined) attributes[Attr.requestMaxTokens] = info.maxTokens
  if (info.temperature !== undefined) attributes[Attr.requestTemperature] = info.temperature
  if (info.agent !== undefined) attributes[Attr.agent] = info.agent
  // opt-in content: JSON text (the Effect span API has no structured attribute values)
  if (info.systemInstructions !== undefined) attributes[Attr.systemInstructions] = jsonOf(info.systemInstructions)
  if (info.inputMessages !== undefined) attributes[Attr.inputMessages] = jsonOf(info.inputMessages)
  return attributes
}

/** The response attributes of a model-call span: model, token usage, finish reasons. */
const setResponseAttributes = (span: Tracer.Span, response: ResponseInfo): void => {
  span.attribute(Attr.responseModel, response.model)
  if (response.id !== undefined) span.attribute(Attr.responseId, response.id)
  span.attribute(Attr.inputTokens, response.inputTokens)
  span.attribute(Attr.outputTokens, response.outputTokens)
  if (response.cacheReadTokens !== undefined) span.attribute(Attr.cacheReadTokens, response.cacheReadTokens)
  if (response.cacheWriteTokens !== undefined) span.attribute(Attr.cacheWriteTokens, response.cacheWriteTokens)
  setAttribute(span, Attr.responseFinishReasons, [...response.finishReasons])
  if (response.estimated === true) span.attribute(Attr.usageEstimated, true)
  if (response.outputMessages !== undefined) span.attribute(Attr.outputMessages, jsonOf(response.outputMessages))
}

/** Whether the token metric records this response (estimates only on opt-in). */
const recordsTokens = (info: RequestInfo, response: ResponseInfo): boolean =>
  response.estimated !== true || info.recordEstimatedTokens === true

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
    recordsTokens(info, response)
      ? Metrics.recordTokens(response.inputTokens, response.outputTokens, {
        ...metricLabels(info),
        [Attr.responseModel]: response.model
      })
      : Effect.void
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

const isEmpty = (record: Record<string, unknown>): boolean => {
  for (const _ in record) return false
  return true
}

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
  readonly info: RequestInfo
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
  const id = `${
    info.operation ?? "chat"
  }\u0000${info.provider}\u0000${info.model}\u0000${info.serverAddress}\u0000${info.serverPort}\u0000${
    info.recordEstimatedTokens === true
  }`
  let m = byRequest.get(id)
  if (m === undefined) {
    const labels = metricLabels(info)
    m = { info, labels, duration: tag(Metrics.operationDuration, labels), failed: new Map(), tokens: new Map() }
    if (byRequest.size < maxCached) byRequest.set(id, m)
  }
  return m
}

const tokenMetrics = (m: CallMetrics, responseModel: string): readonly [Histogram, Histogram] => {
  let t = m.tokens.get(responseModel)
  if (t === undefined) {
    const labels = { ...m.labels, [Attr.responseModel]: responseModel }
    t = [
      tag(Metrics.tokenUsage, { ...labels, [Attr.tokenType]: "input" }),
      tag(Metrics.tokenUsage, { ...labels, [Attr.tokenType]: "output" })
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
    if (recordsTokens(m.info, response)) {
      const [input, output] = tokenMetrics(m, response.model)
      input.unsafeUpdate(response.inputTokens, extraTags)
      output.unsafeUpdate(response.outputTokens, extraTags)
    }
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
      const run = runAttributes(fiber.getFiberRef(FiberRef.currentContext))
      const attributes = requestAttributes(info, run)
      const start = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
      const metrics = callMetrics(info)
      // the spans the call opens (`@effect/ai`'s `LanguageModel.generateText`, a provider's HTTP
      // spans) carry the run attributes too
      const body = isEmpty(run) ? self : Effect.annotateSpans(self, run)
      return Instrumentation.withSpan(setStopSequences(info, body), spanName(info), {
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
    const run = runAttributes(yield* Effect.context<never>())
    const attributes = requestAttributes(info, run)
    // the spans the stream opens (`@effect/ai`'s `LanguageModel.streamText`) carry the run
    // attributes too, for as long as the stream runs
    if (!isEmpty(run)) {
      yield* Effect.locallyScopedWith(FiberRef.currentTracerSpanAnnotations, (annotations) => {
        let next = annotations
        for (const [k, v] of Object.entries(run)) next = HashMap.set(next, k, v)
        return next
      })
    }
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

/**
 * A tool call an agent runs (`executeTool`).
 *
 * @since 0.2.0
 * @category models
 */
export interface ToolCallInfo {
  /** `gen_ai.tool.name`; the span is `execute_tool {name}`. */
  readonly name: string
  /** `gen_ai.tool.call.id`: the id the model gave the call, when it gave one. */
  readonly callId?: string
  /**
   * `gen_ai.tool.type`: `"function"` (default: the model asks, the application runs it),
   * `"extension"` (run by the agent against an external API) or `"datastore"` (retrieval).
   */
  readonly type?: "function" | "extension" | "datastore"
  /** `gen_ai.tool.description`. */
  readonly description?: string
  /** `gen_ai.agent.name` of the agent that calls the tool. */
  readonly agent?: string
  /**
   * The call's arguments (`gen_ai.tool.call.arguments`, JSON text). Only pass them when the user
   * opted in to recording content: they are never recorded by default.
   */
  readonly arguments?: unknown
  /** Record the tool's result (`gen_ai.tool.call.result`, JSON text): opt-in, like `arguments`. */
  readonly captureResult?: boolean
  /** The package that runs the tool, the span's instrumentation scope (default `defaultScope`). */
  readonly scope?: { readonly name: string; readonly version: string }
}

/**
 * Runs a tool call (`self`) inside an `execute_tool {name}` INTERNAL span, as the GenAI agent
 * conventions describe it: `gen_ai.operation.name` `execute_tool`, `gen_ai.tool.name`,
 * `gen_ai.tool.call.id`, `gen_ai.tool.type`, the run attributes of Braid, and `error.type` (and
 * ERROR status) when the tool fails. Nested under the current span (the agent's `invoke_agent`
 * span). Arguments and result are recorded only when passed / asked for (content opt-in). With
 * primitive instrumentation off (no tracer layer) it is `self`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { GenAI } from "@braid/observability"
 *
 * const weather = (city: string) => Effect.succeed({ city, sky: "clear" })
 * const traced = GenAI.executeTool(
 *   { name: "get_weather", callId: "toolu_01", type: "function", agent: "planner" },
 *   weather("Paris")
 * )
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const executeTool = <A, E, R>(tool: ToolCallInfo, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Instrumentation.enabled, (on) => {
    if (!on) return self
    return Effect.withFiberRuntime<A, E, R>((fiber) => {
      const name = `${Names.GenAIOperation.executeTool} ${tool.name}`
      const attributes: Record<string, unknown> = {
        [Attr.operationName]: Names.GenAIOperation.executeTool,
        [Names.GenAI.toolName]: tool.name,
        [Names.GenAI.toolType]: tool.type ?? "function",
        [Names.Braid.primitiveName]: name,
        [Names.Braid.primitiveKind]: "tool-call",
        ...runAttributes(fiber.getFiberRef(FiberRef.currentContext)),
        ...Instrumentation.scopeAttributes(
          tool.scope?.name ?? defaultScope.name,
          tool.scope?.version ?? defaultScope.version
        )
      }
      if (tool.callId !== undefined) attributes[Names.GenAI.toolCallId] = tool.callId
      if (tool.description !== undefined) attributes[Names.GenAI.toolDescription] = tool.description
      if (tool.agent !== undefined) attributes[Attr.agent] = tool.agent
      if (tool.arguments !== undefined) attributes[Names.GenAI.toolCallArguments] = jsonOf(tool.arguments)
      return Instrumentation.withSpan(self, name, {
        kind: "internal",
        attributes,
        onEnd: (exit, span) => {
          if (exit._tag === "Success") {
            if (tool.captureResult === true) span.attribute(Names.GenAI.toolCallResult, jsonOf(exit.value))
          } else if (!Cause.isInterruptedOnly(exit.cause)) span.attribute(Attr.errorType, errorType(exit.cause))
        }
      })
    })
  })
