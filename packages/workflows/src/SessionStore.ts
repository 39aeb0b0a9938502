/**
 * The session store: practice and coaching sessions, their messages, their evaluations, the
 * scenario catalogue, and the error log that the admin views read. One model for both workflows;
 * SQLite is the embedded default, PostgreSQL the shared one (`layerSqlWith` on the `Sql.SqlDriver`
 * in context), and `layerMemory` is for tests.
 *
 * Ownership is enforced here, not in the caller: every read or delete takes the caller's
 * `Principal`. A learner sees only their own sessions (another user's session is
 * `SessionNotFound`, indistinguishable from a missing one); an admin sees every session of their
 * organization (`tenant`); nobody sees another organization's data. Writes made by the workflows
 * themselves (create, append, end, evaluation status) take no principal.
 *
 * Lists are keyset-paginated: a page carries an opaque `nextCursor`, and rows inserted while a
 * user pages never shift or repeat the rows already seen.
 *
 * @since 0.3.0
 */
import { Sql } from "@braid/core"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import type { Forbidden, InvalidInput, ScenarioNotFound, SessionNotFound } from "./Errors.js"
import { SessionStoreError } from "./Errors.js"
import { EndReason as EndReasonSchema } from "./internal/endReason.js"
import * as memory from "./internal/sessionStoreMemory.js"
import * as sql from "./internal/sessionStoreSql.js"
import type * as Scenario from "./Scenario.js"
import type * as SessionEvents from "./SessionEvents.js"

/**
 * What a caller may do: a learner reads their own sessions, a teacher also writes scenarios, an
 * admin reads everything of their organization.
 *
 * @example
 * ```ts
 * import { SessionStore } from "@braid/workflows"
 *
 * const role: SessionStore.Role = "learner"
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Role = Schema.Literal("learner", "teacher", "admin")

/**
 * @since 0.3.0
 * @category models
 */
export type Role = typeof Role.Type

/**
 * Who is calling: a user with a role, in an organization (`tenant`, default `"default"`).
 *
 * @example
 * ```ts
 * import { SessionStore } from "@braid/workflows"
 *
 * const ada: SessionStore.Principal = { userId: "ada", role: "learner", tenant: "default" }
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Principal = Schema.Struct({
  userId: Schema.NonEmptyString,
  role: Role,
  tenant: Schema.optionalWith(Schema.NonEmptyString, { default: () => "default" })
})

/**
 * @since 0.3.0
 * @category models
 */
export type Principal = typeof Principal.Type

/**
 * The principal the workflows use for their own reads in `tenant` (an admin of that organization
 * only).
 *
 * @example
 * ```ts
 * import { SessionStore } from "@braid/workflows"
 *
 * const system = SessionStore.system("default")
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const system = (tenant: string = "default"): Principal => ({ userId: "system", role: "admin", tenant })

/**
 * The workflow a session belongs to.
 *
 * @since 0.3.0
 * @category schemas
 */
export const Kind = Schema.Literal("practice", "coaching")

/**
 * @since 0.3.0
 * @category models
 */
export type Kind = typeof Kind.Type

/**
 * A session's status: `queued` (waiting for a slot under the session cap), `active`, `completed`.
 *
 * @since 0.3.0
 * @category schemas
 */
export const Status = Schema.Literal("queued", "active", "completed")

/**
 * @since 0.3.0
 * @category models
 */
export type Status = typeof Status.Type

/**
 * Why a session ended: the objective was met, the user (learner) ended it, it was idle too long, it
 * reached its turn limit, its budget ran out, or the model failed too many times in a row.
 *
 * @example
 * ```ts
 * import { SessionStore } from "@braid/workflows"
 *
 * const reason: SessionStore.EndReason = "model-outage"
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const EndReason: Schema.Literal<
  ["objective-met", "user", "idle-timeout", "turn-limit", "budget-exhausted", "model-outage"]
> = EndReasonSchema

/**
 * @since 0.3.0
 * @category models
 */
export type EndReason = typeof EndReason.Type

/**
 * The accounting of a session (sums over its messages).
 *
 * @since 0.3.0
 * @category schemas
 */
export const Totals = Schema.Struct({
  messages: Schema.Int,
  inputTokens: Schema.Int,
  outputTokens: Schema.Int,
  costUsd: Schema.Number,
  fallbacks: Schema.Int
})

/**
 * @since 0.3.0
 * @category models
 */
export type Totals = typeof Totals.Type

/**
 * A persisted session. Times are epoch milliseconds on Effect's `Clock`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SessionStore } from "@braid/workflows"
 *
 * const mine = Effect.flatMap(SessionStore.SessionStore, (store) =>
 *   store.listSessions({ userId: "ada", role: "learner", tenant: "default" }, { status: "completed" }))
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const SessionRecord = Schema.Struct({
  id: Schema.NonEmptyString,
  tenant: Schema.NonEmptyString,
  userId: Schema.NonEmptyString,
  kind: Kind,
  /** The practice scenario (practice sessions). */
  scenarioId: Schema.optional(Schema.String),
  title: Schema.optional(Schema.String),
  status: Status,
  endReason: Schema.optional(EndReason),
  /** The message the session ended with (e.g. the outage notice). */
  endMessage: Schema.optional(Schema.String),
  createdAt: Schema.Number,
  /** When it became active (after waiting in the queue, if it did). */
  startedAt: Schema.optional(Schema.Number),
  endedAt: Schema.optional(Schema.Number),
  /** `endedAt - startedAt` (absent when the session ended while still queued). */
  durationMs: Schema.optional(Schema.Number),
  totals: Totals,
  /** The session this one practises again. */
  previousSessionId: Schema.optional(Schema.String),
  /** The model that plays the client or the coach. */
  model: Schema.optional(Schema.String),
  metadata: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    default: () => ({})
  })
})

/**
 * @since 0.3.0
 * @category models
 */
export type SessionRecord = typeof SessionRecord.Type

/**
 * What a new session is created with (the store fills in the totals).
 *
 * @since 0.3.0
 * @category models
 */
export interface NewSession {
  readonly id: string
  readonly tenant?: string
  readonly userId: string
  readonly kind: Kind
  readonly scenarioId?: string
  readonly title?: string
  /** `queued` or `active` (the default). */
  readonly status?: "queued" | "active"
  readonly createdAt: number
  readonly previousSessionId?: string
  readonly model?: string
  readonly metadata?: Readonly<Record<string, string>>
}

/**
 * Who wrote a message.
 *
 * @since 0.3.0
 * @category schemas
 */
export const MessageRole = Schema.Literal("user", "assistant", "system")

/**
 * @since 0.3.0
 * @category models
 */
export type MessageRole = typeof MessageRole.Type

/**
 * A persisted message, numbered from 0 in its session (`seq`). Tokens are counted for the user's
 * messages too (`inputTokens` of a user message is its own size in tokens, `estimated` when it
 * was estimated rather than reported by a provider).
 *
 * @since 0.3.0
 * @category schemas
 */
export const MessageRecord = Schema.Struct({
  sessionId: Schema.NonEmptyString,
  seq: Schema.Int.pipe(Schema.nonNegative()),
  role: MessageRole,
  text: Schema.String,
  createdAt: Schema.Number,
  /** The turn this message belongs to (a user message and the reply to it share one). */
  turnId: Schema.optional(Schema.String),
  inputTokens: Schema.Int.pipe(Schema.nonNegative()),
  outputTokens: Schema.Int.pipe(Schema.nonNegative()),
  costUsd: Schema.Number.pipe(Schema.nonNegative()),
  estimated: Schema.Boolean,
  model: Schema.optional(Schema.String),
  /** The reply is a fallback (the model failed). */
  fallback: Schema.Boolean,
  fallbackCause: Schema.optional(Schema.String)
})

/**
 * @since 0.3.0
 * @category models
 */
export type MessageRecord = typeof MessageRecord.Type

/**
 * What a message is appended with (the store numbers it).
 *
 * @since 0.3.0
 * @category models
 */
export type NewMessage = Omit<MessageRecord, "sessionId" | "seq">

/**
 * The score of one skill.
 *
 * @since 0.3.0
 * @category schemas
 */
export const SkillScore = Schema.Struct({
  skillId: Schema.String,
  /** 1 (poor) to 5 (excellent). */
  score: Schema.Number.pipe(Schema.between(1, 5)),
  notes: Schema.String
})

/**
 * @since 0.3.0
 * @category models
 */
export type SkillScore = typeof SkillScore.Type

/**
 * The evaluation of a learner in a session.
 *
 * @since 0.3.0
 * @category schemas
 */
export const EvaluationResult = Schema.Struct({
  skills: Schema.Array(SkillScore),
  /** The mean of the skill scores. */
  overall: Schema.Number,
  summary: Schema.String,
  model: Schema.optional(Schema.String),
  costUsd: Schema.optionalWith(Schema.Number, { default: () => 0 })
})

/**
 * @since 0.3.0
 * @category models
 */
export type EvaluationResult = typeof EvaluationResult.Type

/**
 * The status of an evaluation job.
 *
 * @since 0.3.0
 * @category schemas
 */
export const EvaluationStatus = Schema.Literal("pending", "running", "completed", "failed")

/**
 * @since 0.3.0
 * @category models
 */
export type EvaluationStatus = typeof EvaluationStatus.Type

/**
 * An evaluation job and, once completed, its result. One per session.
 *
 * @since 0.3.0
 * @category schemas
 */
export const EvaluationRecord = Schema.Struct({
  sessionId: Schema.NonEmptyString,
  tenant: Schema.NonEmptyString,
  userId: Schema.NonEmptyString,
  status: EvaluationStatus,
  attempts: Schema.Int.pipe(Schema.nonNegative()),
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  /** When a pending job may run next (backoff after a failed attempt). */
  nextAttemptAt: Schema.optional(Schema.Number),
  completedAt: Schema.optional(Schema.Number),
  /** The last failure. */
  error: Schema.optional(Schema.String),
  result: Schema.optional(EvaluationResult)
})

/**
 * @since 0.3.0
 * @category models
 */
export type EvaluationRecord = typeof EvaluationRecord.Type

/**
 * How bad a logged error is.
 *
 * @since 0.3.0
 * @category schemas
 */
export const Severity = Schema.Literal("warning", "error", "critical")

/**
 * An entry of the error log that the admin views read.
 *
 * @since 0.3.0
 * @category schemas
 */
export const ErrorEntry = Schema.Struct({
  tenant: Schema.NonEmptyString,
  at: Schema.Number,
  severity: Severity,
  /** Where it happened (`model`, `evaluation`, `store`, ...). */
  source: Schema.String,
  /** What happened, without secrets. */
  message: Schema.String,
  sessionId: Schema.optional(Schema.String)
})

/**
 * @since 0.3.0
 * @category models
 */
export type ErrorEntry = typeof ErrorEntry.Type

/**
 * One page of a list, and the cursor of the next page (absent on the last page).
 *
 * @since 0.3.0
 * @category models
 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor?: string
}

/**
 * A filter on a user's sessions. Learners may only ask for their own (`userId` defaults to the
 * caller); admins may name any user of their organization or none (all users).
 *
 * @since 0.3.0
 * @category models
 */
export interface SessionQuery {
  readonly userId?: string
  readonly status?: Status
  readonly kind?: Kind
  readonly scenarioId?: string
  /** `createdAt >= from`. */
  readonly from?: number
  /** `createdAt < to`. */
  readonly to?: number
  /** By `createdAt` (then id): `newest` first (the default) or `oldest`. */
  readonly order?: "newest" | "oldest"
  /** 1 to 100, default 20. */
  readonly limit?: number
  readonly cursor?: string
}

/**
 * A filter on the scenario catalogue.
 *
 * @since 0.3.0
 * @category models
 */
export interface ScenarioQuery {
  /** Case-insensitive substring of the title. */
  readonly search?: string
  /** Scenarios that assess this skill id. */
  readonly skill?: string
  readonly difficulty?: Scenario.Difficulty
  /** 1 to 100, default 20. */
  readonly limit?: number
  readonly cursor?: string
}

/**
 * A persisted session event (`SessionEvents.Event`) and its sequence number in its session (1, 2,
 * ...: assigned by the store, without gaps). Events are kept as long as their session: deleting
 * the session deletes them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SessionStore } from "@braid/workflows"
 *
 * const ada = { userId: "ada", role: "learner", tenant: "default" } as const
 * const replay = Effect.flatMap(SessionStore.SessionStore, (store) => store.events(ada, "s-1", { after: 0 }))
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface StoredEvent {
  readonly seq: number
  readonly event: SessionEvents.Event
}

/**
 * Tokens and dollars over a period (from the messages' times).
 *
 * @since 0.3.0
 * @category models
 */
export interface UsageBucket {
  /** Start of the period (epoch millis; hour-aligned for `hourly`). */
  readonly start: number
  readonly messages: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number
}

/**
 * The session store.
 *
 * @since 0.3.0
 * @category models
 */
export interface Service {
  // Scenarios ------------------------------------------------------------------------------------
  /**
   * Adds a scenario, or updates the one with its id (its `version` is incremented). Teachers and
   * admins only. The input is decoded; a bad field is `InvalidInput` naming it.
   */
  readonly putScenario: (
    principal: Principal,
    input: unknown,
    at: number
  ) => Effect.Effect<Scenario.Scenario, SessionStoreError | InvalidInput | Forbidden>
  readonly getScenario: (
    principal: Principal,
    id: string
  ) => Effect.Effect<Scenario.Scenario, SessionStoreError | ScenarioNotFound>
  /** Ordered by title, then id. */
  readonly listScenarios: (
    principal: Principal,
    query?: ScenarioQuery
  ) => Effect.Effect<Page<Scenario.Scenario>, SessionStoreError | InvalidInput>
  readonly deleteScenario: (
    principal: Principal,
    id: string
  ) => Effect.Effect<void, SessionStoreError | ScenarioNotFound | Forbidden>

  // Sessions (written by the workflows) -----------------------------------------------------------
  /** Creates a session; an existing id is `InvalidInput` (`id`). */
  readonly createSession: (session: NewSession) => Effect.Effect<SessionRecord, SessionStoreError | InvalidInput>
  /** A queued session becomes active at `at` (no-op when already active or completed). */
  readonly activateSession: (
    sessionId: string,
    at: number
  ) => Effect.Effect<SessionRecord, SessionStoreError | SessionNotFound>
  /**
   * Ends a session; the first end wins (a later call returns the record unchanged with
   * `ended: false`).
   */
  readonly endSession: (
    sessionId: string,
    end: { readonly reason: EndReason; readonly at: number; readonly message?: string }
  ) => Effect.Effect<{ readonly session: SessionRecord; readonly ended: boolean }, SessionStoreError | SessionNotFound>
  /**
   * Appends a message with the next `seq` of its session, and adds it to the session's totals atomically.
   * A completed session still takes messages (the closing message of an outage or a goodbye).
   */
  readonly appendMessage: (
    sessionId: string,
    message: NewMessage
  ) => Effect.Effect<MessageRecord, SessionStoreError | SessionNotFound | InvalidInput>

  // Sessions (read by users) ----------------------------------------------------------------------
  readonly getSession: (
    principal: Principal,
    sessionId: string
  ) => Effect.Effect<SessionRecord, SessionStoreError | SessionNotFound>
  readonly listSessions: (
    principal: Principal,
    query?: SessionQuery
  ) => Effect.Effect<Page<SessionRecord>, SessionStoreError | InvalidInput | Forbidden>
  /** The queued or active session of the caller on a scenario, if any. */
  readonly activeSession: (
    principal: Principal,
    scenarioId: string
  ) => Effect.Effect<SessionRecord | undefined, SessionStoreError>
  /** Messages in `seq` order, after `cursor`; `limit` 1 to 500, default 100. */
  readonly messages: (
    principal: Principal,
    sessionId: string,
    page?: { readonly limit?: number; readonly cursor?: string }
  ) => Effect.Effect<Page<MessageRecord>, SessionStoreError | SessionNotFound | InvalidInput>
  /** Deletes a session with its messages, events and evaluation. */
  readonly deleteSession: (
    principal: Principal,
    sessionId: string
  ) => Effect.Effect<void, SessionStoreError | SessionNotFound>

  // Session events ---------------------------------------------------------------------------------
  /**
   * Persists an event of a session (`event.sessionId`) with the next sequence number of the
   * session (1, 2, ..., atomic also under concurrent appends from several processes), unless an
   * event with the same `eventId` is already stored in that session: then nothing is written and
   * the stored one's `seq` is returned with `inserted: false`. The event is stored encoded
   * (`SessionEvents.Event`); one that does not encode is `InvalidInput`.
   */
  readonly appendEvent: (
    event: SessionEvents.Event
  ) => Effect.Effect<
    { readonly seq: number; readonly inserted: boolean },
    SessionStoreError | SessionNotFound | InvalidInput
  >
  /**
   * The stored events of a session with `seq > after` (default 0: all), in `seq` order, at most
   * `limit` (1 to 1000, default 100). Ownership as for `messages`.
   */
  readonly events: (
    principal: Principal,
    sessionId: string,
    options?: { readonly after?: number; readonly limit?: number }
  ) => Effect.Effect<ReadonlyArray<StoredEvent>, SessionStoreError | SessionNotFound | InvalidInput>

  // Evaluations -----------------------------------------------------------------------------------
  /** Creates the evaluation job of a session if it has none (idempotent); returns the job. */
  readonly enqueueEvaluation: (
    record: EvaluationRecord
  ) => Effect.Effect<EvaluationRecord, SessionStoreError>
  /**
   * Replaces a job if it is still as the caller last read it (same `status`, `attempts` and
   * `updatedAt`): a compare-and-set, so two workers cannot both claim one job. Returns whether it
   * was replaced.
   */
  readonly updateEvaluation: (
    expected: EvaluationRecord,
    next: EvaluationRecord
  ) => Effect.Effect<boolean, SessionStoreError>
  readonly getEvaluation: (
    principal: Principal,
    sessionId: string
  ) => Effect.Effect<EvaluationRecord | undefined, SessionStoreError | SessionNotFound>
  /** Jobs with this status (all tenants), `pending` ones only when due at `now`, oldest first. */
  readonly evaluationsByStatus: (
    status: EvaluationStatus,
    options?: { readonly now?: number; readonly limit?: number }
  ) => Effect.Effect<ReadonlyArray<EvaluationRecord>, SessionStoreError>

  // Admin views -----------------------------------------------------------------------------------
  readonly recordError: (entry: ErrorEntry) => Effect.Effect<void, SessionStoreError>
  /** The newest entries of the caller's organization. Admins only. */
  readonly recentErrors: (
    principal: Principal,
    options?: { readonly limit?: number; readonly since?: number }
  ) => Effect.Effect<ReadonlyArray<ErrorEntry>, SessionStoreError | Forbidden>
  /** How many sessions of the organization are `active` and `queued` now. Admins only. */
  readonly countLive: (
    principal: Principal
  ) => Effect.Effect<{ readonly active: number; readonly queued: number }, SessionStoreError | Forbidden>
  /**
   * Tokens and dollars of the organization's messages per hour in `[since, until)`, one bucket per
   * hour (hours without messages included, with zeros). Admins only.
   */
  readonly hourlyUsage: (
    principal: Principal,
    range: { readonly since: number; readonly until: number }
  ) => Effect.Effect<ReadonlyArray<UsageBucket>, SessionStoreError | InvalidInput | Forbidden>
}

/**
 * The session store service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SessionStore } from "@braid/workflows"
 *
 * const ada = { userId: "ada", role: "learner", tenant: "default" } as const
 * const last = Effect.flatMap(SessionStore.SessionStore, (store) => store.listSessions(ada, { limit: 1 }))
 * ```
 *
 * @since 0.3.0
 * @category services
 */
export class SessionStore extends Context.Tag("@braid/workflows/SessionStore")<SessionStore, Service>() {}

/**
 * In memory, one store per layer build: the SQL stores' semantics (it passes the same
 * conformance suite), for tests and single-process demos. Nothing survives the process.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SessionStore } from "@braid/workflows"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* SessionStore.SessionStore
 *   yield* store.createSession({ id: "s1", userId: "ada", kind: "coaching", createdAt: 0 })
 *   return yield* store.getSession({ userId: "ada", role: "learner", tenant: "default" }, "s1")
 * }).pipe(Effect.provide(SessionStore.layerMemory))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory: Layer.Layer<SessionStore> = Layer.effect(SessionStore, Effect.sync(memory.make))

/**
 * The options of the SQL session store: `timeout`, the bound of every call (default
 * `Io.defaultTimeout`, 5 s).
 *
 * @example
 * ```ts
 * import { SessionStore } from "@braid/workflows"
 *
 * const options: SessionStore.SqlOptions = { timeout: "2 seconds" }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export type SqlOptions = Sql.StoreOptions

/**
 * On the `Sql.SqlDriver` in context (SQLite or PostgreSQL). Building the layer applies the
 * store's migrations (tables `braid_scenarios`, `braid_sessions`, `braid_session_messages`,
 * `braid_session_evaluations`, `braid_session_errors`, `braid_session_events`, versions in `braid_session_migrations`)
 * in one transaction; processes that start at once apply each migration once. Every call is
 * bounded by `timeout` (default `Io.defaultTimeout`, 5 s) and every failure (an SQL error, a
 * dropped connection, no answer in time, a stored row that does not decode) is a
 * `SessionStoreError` naming the operation; the store recovers once the database answers again.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { SessionStore } from "@braid/workflows"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const Sessions = SessionStore.layerSqlWith({ timeout: "2 seconds" }).pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerSqlWith = (
  options: SqlOptions = {}
): Layer.Layer<SessionStore, SessionStoreError, Sql.SqlDriver> =>
  Layer.effect(
    SessionStore,
    Effect.gen(function*() {
      const driver = yield* Sql.SqlDriver
      const now = yield* Clock.currentTimeMillis
      yield* sql.migrate(driver, now).pipe(
        Sql.call(options.timeout, (reason) => new SessionStoreError({ operation: "migrate", reason }))
      )
      return sql.make(driver, options.timeout)
    })
  )

/**
 * `layerSqlWith()`: on the `Sql.SqlDriver` in context with the default bound.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { SessionStore } from "@braid/workflows"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const Sessions = SessionStore.layerSql.pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerSql: Layer.Layer<SessionStore, SessionStoreError, Sql.SqlDriver> = layerSqlWith()
