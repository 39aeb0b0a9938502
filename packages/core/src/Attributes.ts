/**
 * The one table of the telemetry names Braid uses: span names, span attributes, span events and
 * metric attributes. Every package takes its names from here, so a name is spelled once.
 *
 * The `gen_ai.*`, `server.*` and `error.type` names are those of the OpenTelemetry semantic
 * conventions for generative AI, version 1.41.0 (the last release of the GenAI conventions in
 * the main semantic-conventions repository; `gen_ai.provider.name` replaces `gen_ai.system`).
 * Everything Braid adds lives under `braid.`, and no name is both an attribute and the prefix
 * of other names (`braid.primitive.name`, not `braid.primitive`).
 *
 * @since 0.2.0
 */

/**
 * OpenTelemetry GenAI semantic-convention attributes (v1.41.0).
 *
 * @example
 * ```ts
 * import { Attributes } from "@braid/core"
 *
 * const key = Attributes.GenAI.requestModel // "gen_ai.request.model"
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const GenAI = {
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  conversationId: "gen_ai.conversation.id",
  requestModel: "gen_ai.request.model",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestTemperature: "gen_ai.request.temperature",
  requestStopSequences: "gen_ai.request.stop_sequences",
  responseId: "gen_ai.response.id",
  responseModel: "gen_ai.response.model",
  responseFinishReasons: "gen_ai.response.finish_reasons",
  usageInputTokens: "gen_ai.usage.input_tokens",
  usageOutputTokens: "gen_ai.usage.output_tokens",
  usageCacheReadInputTokens: "gen_ai.usage.cache_read.input_tokens",
  usageCacheCreationInputTokens: "gen_ai.usage.cache_creation.input_tokens",
  tokenType: "gen_ai.token.type",
  agentName: "gen_ai.agent.name",
  agentId: "gen_ai.agent.id",
  agentDescription: "gen_ai.agent.description",
  toolName: "gen_ai.tool.name",
  toolCallId: "gen_ai.tool.call.id",
  toolType: "gen_ai.tool.type",
  toolDescription: "gen_ai.tool.description",
  toolCallArguments: "gen_ai.tool.call.arguments",
  toolCallResult: "gen_ai.tool.call.result",
  inputMessages: "gen_ai.input.messages",
  outputMessages: "gen_ai.output.messages",
  systemInstructions: "gen_ai.system_instructions"
} as const

/**
 * Well-known values of `gen_ai.operation.name`.
 *
 * @example
 * ```ts
 * import { Attributes } from "@braid/core"
 *
 * const op = Attributes.GenAIOperation.invokeAgent // "invoke_agent"
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const GenAIOperation = {
  chat: "chat",
  invokeAgent: "invoke_agent",
  executeTool: "execute_tool",
  createAgent: "create_agent",
  embeddings: "embeddings"
} as const

/**
 * General OpenTelemetry attributes Braid sets.
 *
 * @example
 * ```ts
 * import { Attributes } from "@braid/core"
 *
 * const key = Attributes.General.errorType // "error.type"
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const General = {
  errorType: "error.type",
  serverAddress: "server.address",
  serverPort: "server.port",
  /**
   * The instrumentation scope (package) that made a span, as OpenTelemetry maps scopes to
   * non-OTLP formats. Braid's tracers (`@braid/observability`) lift it into the span's
   * instrumentation scope and drop it from the attributes; other tracers keep it as an attribute.
   */
  otelScopeName: "otel.scope.name",
  otelScopeVersion: "otel.scope.version"
} as const

/**
 * Braid's own attributes of runs, primitives and model calls.
 *
 * @example
 * ```ts
 * import { Attributes } from "@braid/core"
 *
 * const key = Attributes.Braid.costUsd // "braid.cost.usd"
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const Braid = {
  runId: "braid.run.id",
  sessionId: "braid.session.id",
  /** The turn of a conversation (a learner message and the reply to it). */
  turnId: "braid.turn.id",
  /** Why a session ended (`objective-met`, `idle-timeout`, ...). */
  sessionEndReason: "braid.session.end_reason",
  tenantId: "braid.tenant.id",
  userId: "braid.user.id",
  path: "braid.path",
  primitiveName: "braid.primitive.name",
  primitiveKind: "braid.primitive.kind",
  /** The cost of a model call (or of the calls an agent made), in US dollars. */
  costUsd: "braid.cost.usd",
  /** The model calls an agent's turn made (`invoke_agent` spans). */
  agentCalls: "braid.agent.calls",
  /** Event: a budget's warning threshold was crossed (also set as a boolean attribute). */
  costAlert: "braid.cost.alert",
  usageEstimated: "braid.usage.estimated",
  budgetSwitchedTo: "braid.budget.switched_to",
  budgetScope: "braid.budget.scope",
  /** The span ended because its fiber was interrupted (its status stays UNSET). */
  interrupted: "braid.interrupted"
} as const

/**
 * The attributes and events of the resilience policies (`@braid/resilience`).
 *
 * @example
 * ```ts
 * import { Attributes } from "@braid/core"
 *
 * const key = Attributes.Resilience.retryAttempts // "braid.retry.attempts"
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const Resilience = {
  retryAttempts: "braid.retry.attempts",
  retryGaveUp: "braid.retry.gave_up",
  retryScheduled: "braid.retry.scheduled",
  retryAttempt: "braid.retry.attempt",
  retryDelayMs: "braid.retry.delay_ms",
  retryAfterMs: "braid.retry.retry_after_ms",
  cacheKey: "braid.cache.key",
  cacheHit: "braid.cache.hit",
  cacheSingleFlight: "braid.cache.single_flight",
  cacheStoreError: "braid.cache.store_error",
  cacheName: "braid.cache.name",
  cacheOperation: "braid.cache.operation",
  breakerName: "braid.breaker.name",
  breakerState: "braid.breaker.state",
  breakerStateChanged: "braid.breaker.state_changed",
  breakerFrom: "braid.breaker.from",
  breakerTo: "braid.breaker.to",
  breakerRejected: "braid.breaker.rejected",
  breakerRetryAfterMs: "braid.breaker.retry_after_ms",
  bulkheadName: "braid.bulkhead.name",
  bulkheadQueuePosition: "braid.bulkhead.queue_position",
  bulkheadRejected: "braid.bulkhead.rejected",
  bulkheadQueued: "braid.bulkhead.queued",
  bulkheadActive: "braid.bulkhead.active",
  bulkheadQueueLength: "braid.bulkhead.queue_length",
  ratelimitRejected: "braid.ratelimit.rejected",
  ratelimitWaiting: "braid.ratelimit.waiting",
  ratelimitKey: "braid.ratelimit.key",
  ratelimitRetryAfterMs: "braid.ratelimit.retry_after_ms",
  ratelimitDelayMs: "braid.ratelimit.delay_ms",
  hedgeDelayMs: "braid.hedge.delay_ms",
  hedgeWinner: "braid.hedge.winner",
  hedgeStarted: "braid.hedge.started",
  fallbackUsed: "braid.fallback.used",
  fallbackNext: "braid.fallback.next",
  fallbackFrom: "braid.fallback.from",
  fallbackTo: "braid.fallback.to",
  timeoutFired: "braid.timeout.fired",
  timeoutFallback: "braid.timeout.fallback",
  timeoutDurationMs: "braid.timeout.duration_ms",
  sagaCompensating: "braid.saga.compensating",
  sagaCompensationFailed: "braid.saga.compensation_failed",
  sagaFailedStep: "braid.saga.failed_step",
  sagaSteps: "braid.saga.steps",
  sagaStep: "braid.saga.step"
} as const

/**
 * The metrics of practice and coaching sessions (`SessionMetrics` in @braid/workflows derives
 * them from the session events on the bus) and their attributes.
 *
 * | metric | kind | unit | attributes |
 * |---|---|---|---|
 * | `braid.session.started` | counter | `{session}` | `braid.session.kind` |
 * | `braid.session.ended` | counter | `{session}` | `braid.session.end_reason` |
 * | `braid.session.active` | gauge | `{session}` | |
 * | `braid.session.termination.duration` | histogram | `s` | `braid.session.end_reason` |
 * | `braid.session.evaluation.duration` | histogram | `s` | `braid.session.evaluation_status` |
 *
 * The completion rate is `braid.session.ended{braid.session.end_reason="objective-met"}` over
 * the sum of `braid.session.ended`.
 *
 * @example
 * ```ts
 * import { Attributes } from "@braid/core"
 *
 * const name = Attributes.Session.ended // "braid.session.ended"
 * ```
 *
 * @since 0.3.0
 * @category constants
 */
export const Session = {
  /** Counter: sessions started (created active, or out of the queue). */
  started: "braid.session.started",
  /** Counter: sessions ended, by reason. */
  ended: "braid.session.ended",
  /** Gauge: sessions active now. */
  active: "braid.session.active",
  /** Histogram: from the decision to end a session to its `SessionEnded` event, in seconds. */
  terminationDuration: "braid.session.termination.duration",
  /** Histogram: from an evaluation's enqueueing to its `EvaluationReady` event, in seconds. */
  evaluationDuration: "braid.session.evaluation.duration",
  /** Attribute: `practice` or `coaching`. */
  kind: "braid.session.kind",
  /** Attribute: why a session ended (`objective-met`, `user`, `idle-timeout`, ...). */
  endReason: "braid.session.end_reason",
  /** Attribute: `completed` or `failed`. */
  evaluationStatus: "braid.session.evaluation_status"
} as const
