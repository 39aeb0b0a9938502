/**
 * The HTTP API of `braid serve`, as an `HttpApi` of `@effect/platform`: groups, endpoints, the
 * schemas of their bodies and answers, and their typed errors. The server (`Server`) implements
 * it, the web app and `HttpApiClient.make(Api.Api)` call it, and `OpenApi.fromApi(Api.Api)` is its
 * OpenAPI document (served at `/api/openapi.json`, with an interactive page at `/api/docs`).
 *
 * Every endpoint but `GET /api/health` needs a token (`Authorization: Bearer <token>`; the
 * server also takes `?token=<token>`, for `EventSource`, which cannot set headers).
 *
 * @since 0.3.0
 */
import { MeetingRecords, Scenario, SessionStore } from "@braid/workflows"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Context, Schema } from "effect"
import {
  AtCapacity,
  Conflict,
  Forbidden,
  Internal,
  InvalidInput,
  NotFound,
  PayloadTooLarge,
  RateLimited,
  Unauthorized,
  Unavailable
} from "./Errors.js"

// --- shared schemas ------------------------------------------------------------------------------

/**
 * The caller, as the token says: user id, role and organization (`tenant`), and when the token
 * expires (epoch seconds).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const me: Api.Me = { userId: "ada", role: "learner", tenant: "default", expiresAt: 1_900_000_000 }
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Me = Schema.Struct({
  userId: Schema.String,
  role: SessionStore.Role,
  tenant: Schema.String,
  expiresAt: Schema.Number
}).annotations({ identifier: "Me" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type Me = typeof Me.Type

/**
 * A page of a list and the cursor of the next one (absent on the last page).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Api } from "@braid/server"
 *
 * const Names = Api.Page(Schema.String)
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Page = <A, I>(item: Schema.Schema<A, I>) =>
  Schema.Struct({ items: Schema.Array(item), nextCursor: Schema.optional(Schema.String) })

const Limit = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))
const Cursor = Schema.String.pipe(Schema.maxLength(500))
const Id = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))

const { author: _a, createdAt: _c, id: scenarioId, tenant: _t, updatedAt: _u, version: _v, ...draftFields } =
  Scenario.Scenario.fields

/**
 * A scenario as a teacher writes it: the fields of `Scenario.Scenario` that a teacher sets (the
 * organization, author, version and times are set by the server). `id` is optional on create
 * (made from the title); on update the path's id wins.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Api } from "@braid/server"
 * import { Scripts } from "@braid/workflows"
 *
 * const draft = Schema.decodeUnknownSync(Api.ScenarioDraft)(Scripts.practiceScenario)
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const ScenarioDraft = Schema.Struct({ ...draftFields, id: Schema.optional(scenarioId) }).annotations({
  identifier: "ScenarioDraft"
})

/**
 * @category schemas
 * @since 0.3.0
 */
export type ScenarioDraft = typeof ScenarioDraft.Type

/**
 * A session with its place in the queue (0 when it is not waiting) and its evaluation, if any.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.SessionDetail
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const SessionDetail = Schema.Struct({
  session: SessionStore.SessionRecord,
  position: Schema.Number,
  evaluation: Schema.optional(SessionStore.EvaluationRecord)
}).annotations({ identifier: "SessionDetail" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type SessionDetail = typeof SessionDetail.Type

/**
 * A started session: active (`position` 0, with the AI's opening message when the scenario says
 * the AI speaks first) or queued (`position` 1 is next).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.Started
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Started = Schema.Struct({
  session: SessionStore.SessionRecord,
  position: Schema.Number,
  opening: Schema.optional(SessionStore.MessageRecord)
}).annotations({ identifier: "Started" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type Started = typeof Started.Type

/**
 * One turn: the learner's message, the reply (absent when the session ended without one) and the
 * session after the turn.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.Turn
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Turn = Schema.Struct({
  turnId: Schema.String,
  message: SessionStore.MessageRecord,
  reply: Schema.optional(SessionStore.MessageRecord),
  verdict: Schema.optional(Schema.Struct({ met: Schema.Boolean, reason: Schema.String })),
  session: SessionStore.SessionRecord
}).annotations({ identifier: "Turn" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type Turn = typeof Turn.Type

/**
 * The evaluation of a session: `none` before the session ends, then the job (pending, running,
 * completed with its result, failed).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.EvaluationView
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const EvaluationView = Schema.Struct({
  sessionId: Schema.String,
  status: Schema.Literal("none", "pending", "running", "completed", "failed"),
  evaluation: Schema.optional(SessionStore.EvaluationRecord)
}).annotations({ identifier: "EvaluationView" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type EvaluationView = typeof EvaluationView.Type

const UsageTotals = Schema.Struct({
  messages: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number
})

const UsageBucket = Schema.Struct({ start: Schema.Number, ...UsageTotals.fields })

const Check = Schema.Struct({
  status: Schema.Literal("up", "degraded", "down", "unknown"),
  detail: Schema.String,
  latencyMs: Schema.optional(Schema.Number)
})

/**
 * The session metrics of this server process (see `SessionMetrics.Snapshot`).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.Metrics
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Metrics = Schema.Struct({
  started: Schema.Struct({ practice: Schema.Number, coaching: Schema.Number }),
  ended: Schema.Record({ key: Schema.String, value: Schema.Number }),
  completionRate: Schema.optional(Schema.Number),
  active: Schema.Number,
  meanTerminationSeconds: Schema.optional(Schema.Number),
  meanEvaluationSeconds: Schema.optional(Schema.Number)
}).annotations({ identifier: "Metrics" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type Metrics = typeof Metrics.Type

/**
 * The admin dashboard (see `Admin.Overview`): live sessions, today's and hourly usage over 24
 * hours, recent errors, health and metrics.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.Overview
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Overview = Schema.Struct({
  at: Schema.Number,
  sessions: Schema.Struct({ active: Schema.Number, queued: Schema.Number }),
  usage: Schema.Struct({ today: UsageTotals, hourly: Schema.Array(UsageBucket) }),
  errors: Schema.Array(SessionStore.ErrorEntry),
  health: Schema.Struct({ model: Check, database: Check, redis: Schema.optional(Check) }),
  metrics: Metrics
}).annotations({ identifier: "Overview" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type Overview = typeof Overview.Type

/**
 * One span of a run's trace: its parent, times, status, GenAI usage and attributes.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.Span
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Span = Schema.Struct({
  spanId: Schema.String,
  parentSpanId: Schema.optional(Schema.String),
  name: Schema.String,
  startMs: Schema.Number,
  durationMs: Schema.Number,
  status: Schema.Literal("ok", "error"),
  error: Schema.optional(Schema.String),
  inputTokens: Schema.optional(Schema.Number),
  outputTokens: Schema.optional(Schema.Number),
  costUsd: Schema.optional(Schema.Number),
  attributes: Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean) })
}).annotations({ identifier: "Span" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type Span = typeof Span.Type

/**
 * A pipeline the run viewer can start, with its Mermaid diagram (`Describe.toMermaid`).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.Pipeline
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Pipeline = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  diagram: Schema.String
}).annotations({ identifier: "Pipeline" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type Pipeline = typeof Pipeline.Type

/**
 * A run of a pipeline: status, diagram, the spans of its trace (flat, linked by `parentSpanId`,
 * in start order) and its totals.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.Run
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Run = Schema.Struct({
  id: Schema.String,
  pipeline: Schema.String,
  status: Schema.Literal("running", "completed", "failed"),
  startedAt: Schema.Number,
  endedAt: Schema.optional(Schema.Number),
  diagram: Schema.String,
  spans: Schema.Array(Span),
  totals: Schema.Struct({
    spans: Schema.Number,
    errors: Schema.Number,
    inputTokens: Schema.Number,
    outputTokens: Schema.Number,
    costUsd: Schema.Number
  }),
  output: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String)
}).annotations({ identifier: "Run" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type Run = typeof Run.Type

/**
 * What starts a run: the pipeline's name and, for `coaching`, the user's message.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const body: Api.RunInput = { pipeline: "coaching", message: "I keep missing deadlines." }
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const RunInput = Schema.Struct({
  pipeline: Schema.Literal("coaching"),
  message: Schema.optional(Schema.Trim.pipe(Schema.nonEmptyString(), Schema.maxLength(4000)))
}).annotations({ identifier: "RunInput" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type RunInput = typeof RunInput.Type

// --- coaching, meetings, evaluation runs ---------------------------------------------------------

const Line = (max: number) => Schema.Trim.pipe(Schema.nonEmptyString(), Schema.maxLength(max))

/**
 * What starts a coaching session: the phase (`morning`: agree on today's goals; `evening`:
 * review them) and the learner's profile as the coach should see it (the user id is the caller's).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const body: Api.CoachingStart = { phase: "morning", name: "Ada", aspirations: ["run a 10k"] }
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const CoachingStart = Schema.Struct({
  phase: Schema.optional(Schema.Literal("morning", "evening")),
  name: Schema.optional(Line(100)),
  aspirations: Schema.optional(Schema.Array(Line(300)).pipe(Schema.maxItems(10))),
  challenges: Schema.optional(Schema.Array(Line(300)).pipe(Schema.maxItems(10))),
  tone: Schema.optional(Schema.Literal("warm", "direct", "playful"))
}).annotations({ identifier: "CoachingStart" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type CoachingStart = typeof CoachingStart.Type

/**
 * One coaching exchange: the learner's message, the coach's reply (the fallback reply, with its
 * cause, when the model kept failing), its relevance score when it could be scored, and the
 * session after it (completed when the coach wrote the phase's objective line).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.CoachingTurn
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const CoachingTurn = Schema.Struct({
  message: Schema.String,
  reply: Schema.String,
  fallback: Schema.Boolean,
  fallbackCause: Schema.optional(Schema.String),
  relevance: Schema.optional(Schema.Number),
  /** The objective line once the coach wrote it (`GOALS: ...` in the morning, `REVIEW: ...` in the evening). */
  objective: Schema.optional(Schema.String),
  session: SessionStore.SessionRecord
}).annotations({ identifier: "CoachingTurn" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type CoachingTurn = typeof CoachingTurn.Type

/**
 * The meeting presets the server can run (their host and participants): `launch-review`, a
 * product lead hosting an engineering lead and a support lead.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const preset: Api.MeetingPreset = "launch-review"
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const MeetingPreset = Schema.Literal("launch-review").annotations({ identifier: "MeetingPreset" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type MeetingPreset = typeof MeetingPreset.Type

/**
 * What starts a meeting: a preset (host and participants) and, optionally, its title and agenda
 * (the preset's otherwise).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const body: Api.MeetingStart = { preset: "launch-review", title: "Beta review", agenda: ["Ship the beta?"] }
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const MeetingStart = Schema.Struct({
  preset: MeetingPreset,
  title: Schema.optional(Line(200)),
  agenda: Schema.optional(Schema.Array(Line(500)).pipe(Schema.minItems(1), Schema.maxItems(10)))
}).annotations({ identifier: "MeetingStart" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type MeetingStart = typeof MeetingStart.Type

/**
 * A meeting run: who started it, its topic and participants, its status.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.MeetingRun
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const MeetingRun = Schema.Struct({
  id: Schema.String,
  preset: MeetingPreset,
  title: Schema.String,
  agenda: Schema.Array(Schema.String),
  host: Schema.String,
  participants: Schema.Array(Schema.String),
  userId: Schema.String,
  status: Schema.Literal("running", "completed", "failed"),
  startedAt: Schema.Number,
  endedAt: Schema.optional(Schema.Number),
  turns: Schema.optional(Schema.Number),
  error: Schema.optional(Schema.String)
}).annotations({ identifier: "MeetingRun" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type MeetingRun = typeof MeetingRun.Type

/**
 * The result of a meeting: minutes, decisions, action items (as `MeetingRecords` keeps them)
 * and the transcript.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.MeetingResult
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const MeetingResult = Schema.Struct({
  id: Schema.String,
  title: Schema.String,
  agenda: Schema.Array(Schema.String),
  endedBy: Schema.String,
  turns: Schema.Number,
  minutes: Schema.String,
  decisions: Schema.Array(MeetingRecords.Decision),
  actionItems: Schema.Array(MeetingRecords.ActionItem),
  transcript: Schema.optional(Schema.String),
  recordedAt: Schema.Number
}).annotations({ identifier: "MeetingResult" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type MeetingResult = typeof MeetingResult.Type

/**
 * The sample conversations an evaluation run may score: `prompt-v1` and `prompt-v2`, the
 * conversations of two versions of the coach's prompt on the `coaching-prompts` topics.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const target: Api.EvaluationTarget = "prompt-v2"
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const EvaluationTarget = Schema.Literal("prompt-v1", "prompt-v2").annotations({
  identifier: "EvaluationTarget"
})

/**
 * @category schemas
 * @since 0.3.0
 */
export type EvaluationTarget = typeof EvaluationTarget.Type

/**
 * What starts an evaluation run: the sample dataset, the target whose conversations are scored
 * and, optionally, a baseline target to compare with (the regression gate).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const body: Api.EvaluationRunStart = { dataset: "coaching-prompts", target: "prompt-v2", baseline: "prompt-v1" }
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const EvaluationRunStart = Schema.Struct({
  dataset: Schema.Literal("coaching-prompts"),
  target: EvaluationTarget,
  baseline: Schema.optional(EvaluationTarget)
}).annotations({ identifier: "EvaluationRunStart" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type EvaluationRunStart = typeof EvaluationRunStart.Type

/**
 * An evaluation run: its status and progress (conversations scored of the total, baseline
 * included).
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.EvaluationRun
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const EvaluationRun = Schema.Struct({
  id: Schema.String,
  dataset: Schema.String,
  target: EvaluationTarget,
  baseline: Schema.optional(EvaluationTarget),
  userId: Schema.String,
  status: Schema.Literal("running", "completed", "failed"),
  startedAt: Schema.Number,
  endedAt: Schema.optional(Schema.Number),
  progress: Schema.Struct({ done: Schema.Number, total: Schema.Number }),
  error: Schema.optional(Schema.String)
}).annotations({ identifier: "EvaluationRun" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type EvaluationRun = typeof EvaluationRun.Type

const Scores = Schema.Record({ key: Schema.String, value: Schema.Number })

/**
 * The report of an evaluation run: the mean of each metric, each conversation's scores and
 * reasons, the conversations that could not be scored, and with a baseline the gate's verdict.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.EvaluationReport
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const EvaluationReport = Schema.Struct({
  id: Schema.String,
  target: EvaluationTarget,
  means: Scores,
  results: Schema.Array(Schema.Struct({
    conversationId: Schema.String,
    scores: Scores,
    reasons: Schema.Record({ key: Schema.String, value: Schema.String }),
    reused: Schema.Boolean
  })),
  failures: Schema.Array(
    Schema.Struct({ conversationId: Schema.String, metric: Schema.String, reason: Schema.String })
  ),
  baseline: Schema.optional(Schema.Struct({ target: EvaluationTarget, means: Scores })),
  gate: Schema.optional(Schema.Struct({
    passed: Schema.Boolean,
    verdicts: Schema.Array(Schema.Struct({ metric: Schema.String, status: Schema.String, reason: Schema.String })),
    failures: Schema.Array(Schema.String)
  }))
}).annotations({ identifier: "EvaluationReport" })

/**
 * @category schemas
 * @since 0.3.0
 */
export type EvaluationReport = typeof EvaluationReport.Type

// --- authentication ------------------------------------------------------------------------------

/**
 * The authenticated caller, provided to every handler behind `Authentication`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Api } from "@braid/server"
 *
 * const whoAmI = Effect.map(Api.CurrentUser, (me) => me.userId)
 * ```
 *
 * @category services
 * @since 0.3.0
 */
export class CurrentUser extends Context.Tag("@braid/server/CurrentUser")<CurrentUser, Me>() {}

/**
 * The authentication middleware: a bearer token (or `?token=`), verified by the server; 401 when
 * it is missing, malformed, forged or expired.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const security = Api.Authentication.security
 * ```
 *
 * @category services
 * @since 0.3.0
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("@braid/server/Authentication", {
  failure: Unauthorized,
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

// --- groups ---------------------------------------------------------------------------------------

const IdPath = Schema.Struct({ id: Id })

/**
 * Health and identity: `GET /api/health` (no token), `GET /api/me`.
 *
 * @category models
 * @since 0.3.0
 */
export class System extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("health", "/health").addSuccess(
      Schema.Struct({ status: Schema.Literal("ok"), version: Schema.String })
    )
  )
  .add(HttpApiEndpoint.get("me", "/me").addSuccess(Me).addError(Unauthorized).middleware(Authentication))
  .annotate(OpenApi.Description, "Health and identity")
{}

/**
 * The scenario catalogue: everyone of the organization lists and reads; teachers and admins
 * create, update and delete.
 *
 * @category models
 * @since 0.3.0
 */
export class Scenarios extends HttpApiGroup.make("scenarios")
  .add(
    HttpApiEndpoint.get("list", "/scenarios")
      .setUrlParams(Schema.Struct({
        search: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
        skill: Schema.optional(Schema.String.pipe(Schema.maxLength(64))),
        difficulty: Schema.optional(Scenario.Difficulty),
        limit: Schema.optional(Limit),
        cursor: Schema.optional(Cursor)
      }))
      .addSuccess(Page(Scenario.Scenario))
  )
  .add(HttpApiEndpoint.get("get", "/scenarios/:id").setPath(IdPath).addSuccess(Scenario.Scenario).addError(NotFound))
  .add(
    HttpApiEndpoint.post("create", "/scenarios")
      .setPayload(ScenarioDraft)
      .addSuccess(Scenario.Scenario, { status: 201 })
      .addError(Forbidden)
      .addError(Conflict)
  )
  .add(
    HttpApiEndpoint.put("update", "/scenarios/:id")
      .setPath(IdPath)
      .setPayload(ScenarioDraft)
      .addSuccess(Scenario.Scenario)
      .addError(Forbidden)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.del("remove", "/scenarios/:id")
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(Forbidden)
      .addError(NotFound)
  )
  .middleware(Authentication)
  .annotate(OpenApi.Description, "Practice scenarios (client personas, objectives, skills)")
{}

/**
 * The filters of `GET /api/sessions`.
 *
 * @example
 * ```ts
 * import { Api } from "@braid/server"
 *
 * const schema = Api.SessionFilter
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const SessionFilter = Schema.Struct({
  /** Admins: another user of the organization (learners: only themselves). */
  userId: Schema.optional(Id),
  status: Schema.optional(SessionStore.Status),
  kind: Schema.optional(SessionStore.Kind),
  scenarioId: Schema.optional(Id),
  /** Case-insensitive substring of the title (filtered on the page the store returns). */
  search: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
  from: Schema.optional(Schema.NumberFromString.pipe(Schema.nonNegative())),
  to: Schema.optional(Schema.NumberFromString.pipe(Schema.nonNegative())),
  order: Schema.optional(Schema.Literal("newest", "oldest")),
  limit: Schema.optional(Limit),
  cursor: Schema.optional(Cursor)
})

/**
 * Practice sessions: start, send a message, end, read, list, delete, practise again, export,
 * and the live events of a session (SSE).
 *
 * @category models
 * @since 0.3.0
 */
export class Sessions extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.post("start", "/sessions")
      .setPayload(Schema.Struct({ scenarioId: Id }))
      .addSuccess(Started, { status: 201 })
      .addError(NotFound)
      .addError(AtCapacity)
  )
  .add(
    HttpApiEndpoint.get("list", "/sessions")
      .setUrlParams(SessionFilter)
      .addSuccess(Page(SessionStore.SessionRecord))
      .addError(Forbidden)
  )
  .add(HttpApiEndpoint.get("get", "/sessions/:id").setPath(IdPath).addSuccess(SessionDetail).addError(NotFound))
  .add(
    HttpApiEndpoint.post("send", "/sessions/:id/messages")
      .setPath(IdPath)
      .setPayload(Schema.Struct({ text: Schema.String.pipe(Schema.maxLength(20_000)) }))
      .addSuccess(Turn)
      .addError(NotFound)
      .addError(Conflict)
      .addError(RateLimited)
  )
  .add(
    HttpApiEndpoint.get("messages", "/sessions/:id/messages")
      .setPath(IdPath)
      .setUrlParams(Schema.Struct({
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500))),
        cursor: Schema.optional(Cursor)
      }))
      .addSuccess(Page(SessionStore.MessageRecord))
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("end", "/sessions/:id/end")
      .setPath(IdPath)
      .addSuccess(SessionStore.SessionRecord)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.del("remove", "/sessions/:id")
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("again", "/sessions/:id/again")
      .setPath(IdPath)
      .addSuccess(Started, { status: 201 })
      .addError(NotFound)
      .addError(AtCapacity)
  )
  .add(
    HttpApiEndpoint.get("export", "/sessions/:id/export")
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.Text({ contentType: "text/markdown" }))
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.get("events", "/sessions/:id/events")
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Server-sent events of the session: `AiTurnDelta` as the reply streams, `AiTurn`, `SessionEnded`, `EvaluationReady` (and `SessionStarted`, `LearnerMessage`). Each event has `event: <_tag>`, `id: <its sequence number in the session, stored: the same on every server process and after a restart>` (none on `AiTurnDelta`, which is live only) and `data: <JSON of the event>`. Reconnect with `Last-Event-ID` (EventSource does it) to resume after the last event seen. The same events over a WebSocket: `GET /api/sessions/{id}/ws` (see docs/serve.md). Pass the token as `?token=` (EventSource cannot set headers)."
      )
  )
  .add(
    HttpApiEndpoint.get("evaluation", "/sessions/:id/evaluation")
      .setPath(IdPath)
      .addSuccess(EvaluationView)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("requeue", "/sessions/:id/evaluation/requeue")
      .setPath(IdPath)
      .addSuccess(EvaluationView)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(Conflict)
      .annotate(OpenApi.Description, "Puts a failed evaluation back in the queue (admins).")
  )
  .middleware(Authentication)
  .annotate(OpenApi.Description, "Practice sessions and their evaluations")
{}

/**
 * The admin views (admins of the organization only).
 *
 * @category models
 * @since 0.3.0
 */
export class Admin extends HttpApiGroup.make("admin")
  .add(HttpApiEndpoint.get("overview", "/admin/overview").addSuccess(Overview).addError(Forbidden))
  .add(HttpApiEndpoint.get("metrics", "/admin/metrics").addSuccess(Metrics).addError(Forbidden))
  .middleware(Authentication)
  .annotate(OpenApi.Description, "Dashboard: live sessions, usage, errors, health, metrics (admins)")
{}

/**
 * The run viewer: pipelines with their diagrams, runs with their traces (teachers and admins).
 *
 * @category models
 * @since 0.3.0
 */
export class Runs extends HttpApiGroup.make("runs")
  .add(HttpApiEndpoint.get("pipelines", "/pipelines").addSuccess(Schema.Array(Pipeline)).addError(Forbidden))
  .add(
    HttpApiEndpoint.post("start", "/runs")
      .setPayload(RunInput)
      .addSuccess(Run, { status: 201 })
      .addError(Forbidden)
      .addError(RateLimited)
  )
  .add(HttpApiEndpoint.get("list", "/runs").addSuccess(Schema.Array(Run)).addError(Forbidden))
  .add(HttpApiEndpoint.get("get", "/runs/:id").setPath(IdPath).addSuccess(Run).addError(NotFound).addError(Forbidden))
  .middleware(Authentication)
  .annotate(OpenApi.Description, "Developer run viewer: pipeline diagrams and run traces (teachers and admins)")
{}

/**
 * Live coaching sessions: start one, send a message (one exchange with the coach), end it. The
 * session is a stored session of kind `coaching`: read, list (`kind=coaching`), export and delete
 * it through the session endpoints; its events (`CoachingUserMessage`, `CoachingAgentResponse`,
 * `GoalsSet`, `SessionEnded`) are on `GET /api/sessions/:id/events`.
 *
 * @category models
 * @since 0.3.0
 */
export class Coaching extends HttpApiGroup.make("coaching")
  .add(
    HttpApiEndpoint.post("start", "/coaching")
      .setPayload(CoachingStart)
      .addSuccess(SessionStore.SessionRecord, { status: 201 })
      .addError(AtCapacity)
  )
  .add(
    HttpApiEndpoint.post("send", "/coaching/:id/messages")
      .setPath(IdPath)
      .setPayload(Schema.Struct({ text: Line(20_000) }))
      .addSuccess(CoachingTurn)
      .addError(NotFound)
      .addError(Conflict)
      .addError(RateLimited)
  )
  .add(
    HttpApiEndpoint.post("end", "/coaching/:id/end")
      .setPath(IdPath)
      .addSuccess(SessionStore.SessionRecord)
      .addError(NotFound)
  )
  .middleware(Authentication)
  .annotate(OpenApi.Description, "Coaching sessions with the coach agent (read them through /sessions)")
{}

/**
 * Meetings (teachers and admins): start one on a preset in the background, read its status and,
 * once it has ended, its minutes, decisions and action items.
 *
 * @category models
 * @since 0.3.0
 */
export class Meetings extends HttpApiGroup.make("meetings")
  .add(
    HttpApiEndpoint.post("start", "/meetings")
      .setPayload(MeetingStart)
      .addSuccess(MeetingRun, { status: 201 })
      .addError(Forbidden)
      .addError(RateLimited)
  )
  .add(HttpApiEndpoint.get("list", "/meetings").addSuccess(Schema.Array(MeetingRun)).addError(Forbidden))
  .add(
    HttpApiEndpoint.get("get", "/meetings/:id").setPath(IdPath).addSuccess(MeetingRun).addError(NotFound).addError(
      Forbidden
    )
  )
  .add(
    HttpApiEndpoint.get("result", "/meetings/:id/result")
      .setPath(IdPath)
      .addSuccess(MeetingResult)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(Conflict)
  )
  .middleware(Authentication)
  .annotate(OpenApi.Description, "Meetings of agents on a preset: status, minutes, decisions (teachers and admins)")
{}

/**
 * Evaluation runs (teachers and admins): score a sample dataset's conversations in the
 * background, with progress, and read the report.
 *
 * @category models
 * @since 0.3.0
 */
export class EvaluationRuns extends HttpApiGroup.make("evaluationRuns")
  .add(
    HttpApiEndpoint.post("start", "/evaluations/runs")
      .setPayload(EvaluationRunStart)
      .addSuccess(EvaluationRun, { status: 201 })
      .addError(Forbidden)
      .addError(RateLimited)
  )
  .add(HttpApiEndpoint.get("list", "/evaluations/runs").addSuccess(Schema.Array(EvaluationRun)).addError(Forbidden))
  .add(
    HttpApiEndpoint.get("get", "/evaluations/runs/:id")
      .setPath(IdPath)
      .addSuccess(EvaluationRun)
      .addError(NotFound)
      .addError(Forbidden)
  )
  .add(
    HttpApiEndpoint.get("result", "/evaluations/runs/:id/result")
      .setPath(IdPath)
      .addSuccess(EvaluationReport)
      .addError(NotFound)
      .addError(Forbidden)
      .addError(Conflict)
  )
  .middleware(Authentication)
  .annotate(OpenApi.Description, "Evaluation runs on sample datasets: progress and reports (teachers and admins)")
{}

/**
 * The whole API, under `/api`. Errors every endpoint may answer with: 400 `InvalidInput`,
 * 401 `Unauthorized`, 404 `NotFound` (an unknown path), 413 `PayloadTooLarge`, 503
 * `Unavailable`, 500 `Internal`.
 *
 * @example
 * ```ts
 * import { OpenApi } from "@effect/platform"
 * import { Api } from "@braid/server"
 *
 * const spec = OpenApi.fromApi(Api.Api)
 * ```
 *
 * @category models
 * @since 0.3.0
 */
export class Api extends HttpApi.make("braid")
  .add(System)
  .add(Scenarios)
  .add(Sessions)
  .add(Admin)
  .add(Runs)
  .add(Coaching)
  .add(Meetings)
  .add(EvaluationRuns)
  .addError(InvalidInput)
  .addError(Unauthorized)
  .addError(NotFound)
  .addError(PayloadTooLarge)
  .addError(Unavailable)
  .addError(Internal)
  .prefix("/api")
  .annotate(OpenApi.Title, "Braid")
  .annotate(
    OpenApi.Description,
    "The HTTP API of `braid serve`: practice scenarios and sessions, evaluations, admin views and the run viewer."
  )
{}
