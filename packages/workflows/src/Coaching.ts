/**
 * The coaching workflow: a coaching day as one typed pipeline.
 *
 * ```
 * coaching
 *  └─ profile ─▶ morning session ───────────────────────▶ storeGoals ─▶ evening session ─▶ summarize
 *                 ├─ conversation: loop(exchange) ─▶ close     (remember)    recall(goals)
 *                 └─ observer track (insights)                                └─ conversation
 * ```
 *
 * - The client profile becomes the coach's instructions (`ClientProfile.toInstructions`).
 * - Morning: the conversation track agrees on today's goals while the observer agent writes
 *   insights on the parallel track: both tracks of the session's `StreamBuffer` (exchanges on
 *   `conversation`, insights on `insights`, a marker when the objective is met); the observer
 *   follows the conversation track as it grows.
 * - The goals are stored in memory (`Memory.remember`, user scope, tag `goal`); the evening
 *   reflection recalls them (`Memory.recall`: the coach agent sees them in its system prompt) and
 *   reviews progress.
 * - Every exchange is scored for relevance as it goes (a metric, lexical by default).
 * - Each session (morning, evening) has a lifecycle (`Session`): active, then completed by the
 *   user (`/end`, or no more messages), by the idle timeout (Effect Clock), or when its objective
 *   is met (the coach's `GOALS:` line in the morning, `REVIEW:` line in the evening). Every message
 *   carries its tokens and dollar cost; sessions and the day are totalled.
 * - Every coach reply goes through, outermost first: per-user and global rate limits
 *   (`RateLimited`), a concurrency cap with a bounded queue shared by all sessions
 *   (`CapacityExceeded`), a circuit breaker shared by all sessions (`breaker`), then retry with
 *   backoff of attempts each bounded by `modelTimeout` (`Models.policy`), and a fallback reply
 *   when the model keeps failing or the breaker is open, so the user always gets
 *   an answer and nothing is lost. A fallback reply says why (`Exchange.fallbackCause`, kept on
 *   the session's message). A spent budget is not an outage: `BudgetExceeded` is not caught by
 *   the fallback, the reply fails with it (typed), and so does the day.
 * - A model outage ends the session: after `outageAfter` (default 3) consecutive fallback
 *   replies the session completes with reason `model-outage` and the `outageMessage`, instead of
 *   answering every message with a fallback. `turnLimit` and `sessionBudgetUsd` end it too
 *   (`turn-limit`, `budget-exhausted`).
 * - One session model with practice: when a `SessionStore` is in context, every session is a
 *   stored session of kind `coaching` (status, end reason, start, end, duration, totals) and every
 *   message is appended with its seq, role, text, time, tokens (the user's estimated), cost, model
 *   and fallback flag; fallback replies and outages go to the store's error log (`model`
 *   source). A message that cannot be stored fails the exchange (typed `SessionStoreError`, ...)
 *   rather than be answered as if it were saved.
 * - Event-driven: when an `EventBus` is in context (in memory, or Redis across processes), the
 *   workflow publishes `SessionStarted`, `CoachingUserMessage`, `CoachingAgentResponse`,
 *   `GoalsSet`, `ReflectionStarted`, `Insight` and `SessionEnded` (`SessionEvents`), each with a
 *   generated id and time. Publishing is best effort: a bus that is down never fails a session.
 *
 * @since 0.1.0
 */
import { Agent } from "@braid/agents"
import type { DecodeError, Primitive as P } from "@braid/core"
import { loop, parallel, Primitive, sequence, WorkflowContext } from "@braid/core"
import * as Evaluation from "@braid/eval/Evaluation"
import * as Models from "@braid/eval/Models"
import type { Ai } from "@braid/llm"
import type { Errors as LlmErrors } from "@braid/llm"
import { Tokens } from "@braid/llm"
import { Memory } from "@braid/memory"
import { StreamBuffer } from "@braid/messaging"
import type { Errors as ResilienceErrors } from "@braid/resilience"
import type { Retry } from "@braid/resilience"
import { Bulkhead, CircuitBreaker, Errors as ResilienceErrorsValues, Fallback, RateLimit } from "@braid/resilience"
import type { Duration, Scope } from "effect"
import { Cause, Context, Effect, Exit, Option, Stream } from "effect"
import * as ClientProfile from "./ClientProfile.js"
import { SessionCompleted } from "./Errors.js"
import * as Recorder from "./internal/sessionRecorder.js"
import * as Session from "./Session.js"
import * as SessionEvents from "./SessionEvents.js"
import type * as SessionStore from "./SessionStore.js"
import type * as Settings from "./Settings.js"

/**
 * A message of the user: its text, optionally how long after the previous reply it arrives
 * (drives the idle timeout), or an explicit end of the session.
 *
 * @category models
 * @since 0.1.0
 */
export type UserTurn = string | { readonly text: string; readonly after?: Duration.DurationInput } | {
  readonly end: true
}

/**
 * The input of a coaching day.
 *
 * @category models
 * @since 0.1.0
 */
export interface DayInput {
  readonly profile: ClientProfile.ClientProfileInput
  readonly morning: ReadonlyArray<UserTurn>
  readonly evening: ReadonlyArray<UserTurn>
}

/**
 * One user message and the coach's reply, with its relevance score.
 *
 * @category models
 * @since 0.1.0
 */
export interface Exchange {
  readonly phase: Phase
  readonly user: string
  readonly reply: string
  readonly relevance: number
  readonly fallback: boolean
  /** Why the reply is the fallback (the model's last error), when it is. */
  readonly fallbackCause?: string
}

/**
 * @category models
 * @since 0.1.0
 */
export type Phase = "morning" | "evening"

/**
 * The report of one session.
 *
 * @category models
 * @since 0.1.0
 */
export interface SessionReport {
  readonly sessionId: string
  readonly phase: Phase
  readonly endedBy: Session.EndReason
  readonly messages: ReadonlyArray<Session.SessionMessage>
  readonly totals: Session.Totals
  readonly exchanges: ReadonlyArray<Exchange>
  /** Mean relevance of the exchanges (NaN without exchanges). */
  readonly relevance: number
  /** The content of the objective line (`GOALS:` / `REVIEW:`), if the coach wrote it. */
  readonly objective: string | undefined
}

/**
 * The report of a coaching day.
 *
 * @category models
 * @since 0.1.0
 */
export interface DayReport {
  readonly userId: string
  readonly instructions: string
  readonly morning: SessionReport
  readonly goals: ReadonlyArray<string>
  readonly insights: ReadonlyArray<string>
  readonly evening: SessionReport
  readonly review: string | undefined
  readonly totals: Session.Totals
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Config {
  /** The model of the coach and the observer (default: the LanguageModel's default). */
  readonly model?: string
  /** Complete a session after this long without a user message. Default 15 minutes. */
  readonly idleTimeout?: Duration.DurationInput
  /** Retry of the coach's model calls. Default 3 attempts, exponential from 500 ms, capped at 5 s. */
  readonly retry?: Retry.Options<unknown>
  /**
   * The bound of one model call (coach and observer), inside the retry: a call that has not
   * answered by then is interrupted and retried, then the fallback reply is given, and the
   * capacity slot is free again. Default `Models.defaultTimeout` (30 s).
   */
  readonly modelTimeout?: Duration.DurationInput
  /** The reply when the model keeps failing. */
  readonly fallbackReply?: string
  /** Per-user and global limits on coach replies. Default 30/minute per user, 600/minute overall. */
  readonly rateLimits?: {
    readonly perUser?: { readonly limit: number; readonly window: Duration.DurationInput }
    readonly global?: { readonly limit: number; readonly window: Duration.DurationInput }
    readonly store?: RateLimit.Store
  }
  /** Coach replies in flight at once over all sessions, and callers that may wait. Default 20 and 5. */
  readonly capacity?: { readonly maxConcurrent: number; readonly maxQueued: number }
  /** The relevance metric applied to each exchange as it happens. Default `Evaluation.lexicalRelevanceMetric`. */
  readonly relevance?: Evaluation.Metric<unknown, never>
  /** Extra instructions for the coach, appended to the profile's. */
  readonly instructions?: string
  /** Renders the profile into the coach's instructions. Default `ClientProfile.toInstructions`. */
  readonly renderProfile?: (profile: ClientProfile.ClientProfile) => string
  /**
   * Your own coach agent. It receives the conversation with `context.instructions` (profile,
   * `instructions` and the session's instructions), `context.userId`, `context.phase`.
   * Default: an `Agent` named `coach` whose instructions are `context.instructions`.
   */
  readonly coach?: Agent.Any<unknown, Ai.LanguageModel.LanguageModel>
  /** Your own observer agent (it receives one user message: the exchange). */
  readonly observer?: Agent.Any<unknown, Ai.LanguageModel.LanguageModel>
  /**
   * The breaker around the coach's model calls (each after its retries), shared by every session
   * of this workflow: default one per `make`, opened by 5 failed replies in a row for 30 seconds,
   * so that while the model is down replies fall back at once instead of each waiting through
   * its retries. A spent budget does not count. `false` for none. Give it to `Admin.health`.
   */
  readonly breaker?: CircuitBreaker.CircuitBreaker | false
  /** End a session (`model-outage`) after this many consecutive fallback replies. Default 3. */
  readonly outageAfter?: number
  /** The message a session ends with on a model outage. Default `defaultOutageMessage`. */
  readonly outageMessage?: string
  /** End a session (`turn-limit`) after the reply to this many user messages. Default: no limit. */
  readonly turnLimit?: number
  /** End a session (`budget-exhausted`) once its messages cost this many dollars. Default: no limit. */
  readonly sessionBudgetUsd?: number
  /** The organization of the stored sessions when the run's context names none. Default `"default"`. */
  readonly tenant?: string
}

/**
 * The fallback reply used when none is configured.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const coaching = Coaching.make({ fallbackReply: Coaching.defaultFallbackReply })
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultFallbackReply =
  "Sorry, I lost my train of thought for a moment. Your message is saved: could you tell me once more what matters most to you right now?"

/**
 * The message a coaching session ends with when the model failed too many times in a row.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const coaching = Coaching.make({ outageAfter: 2, outageMessage: Coaching.defaultOutageMessage })
 * ```
 *
 * @category constants
 * @since 0.3.0
 */
export const defaultOutageMessage =
  "The coach is unavailable right now, so this session has ended. Everything you wrote is saved: start a new session in a little while."

/**
 * The workflow's configuration from the validated `Settings`: idle timeout, model-call timeout,
 * model-call concurrency and queue (`capacity`), outage threshold, turn limit, budget per
 * session, the coach's model and the tenant. Spread your own options over it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Coaching, Settings } from "@braid/workflows"
 *
 * const coaching = Effect.map(Settings.Settings, (s) => Coaching.make({ ...Coaching.fromSettings(s), fallbackReply: "One moment..." }))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const fromSettings = (settings: Settings.Shape): Config => ({
  idleTimeout: settings.timeouts.idle,
  modelTimeout: settings.timeouts.modelCall,
  capacity: { maxConcurrent: settings.modelConcurrency, maxQueued: settings.modelQueue },
  outageAfter: settings.thresholds.outageAfter,
  turnLimit: settings.thresholds.turnLimit,
  sessionBudgetUsd: settings.thresholds.budgetPerSessionUsd,
  tenant: settings.tenant,
  ...Option.match(settings.models.coach, { onNone: () => ({}), onSome: (model) => ({ model }) })
})

const phaseInstructions: Record<Phase, string> = {
  morning:
    "MORNING SESSION. Help the client agree on at most three goals for today. When the goals are agreed, end your reply with one line: `GOALS: <goal>; <goal>`.",
  evening:
    "EVENING SESSION. The goals of the morning are in your memory. Review them one by one: what was done, what got in the way. When the review is complete, end your reply with one line: `REVIEW: <n>/<m> goals done`."
}

const objectiveMarker: Record<Phase, RegExp> = {
  morning: /^\s*GOALS:\s*(.+?)\s*$/m,
  evening: /^\s*REVIEW:\s*(.+?)\s*$/m
}

/**
 * Reads the objective line of a reply (`GOALS: a; b` in the morning, `REVIEW: ...` in the
 * evening).
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * Coaching.objectiveLine("morning", "Great plan.\nGOALS: run 5k; read") // "run 5k; read"
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const objectiveLine = (phase: Phase, reply: string): string | undefined =>
  objectiveMarker[phase].exec(reply)?.[1]

/**
 * The goals of a `GOALS:` line.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * Coaching.parseGoals("run 5k; read 20 pages") // ["run 5k", "read 20 pages"]
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseGoals = (line: string): ReadonlyArray<string> =>
  line.split(/;|\n/).map((g) => g.trim().replace(/\.$/, "")).filter((g) => g !== "")

/**
 * The instructions of a session: the profile's (`base`), `config.instructions`, then the phase's
 * (the objective line the coach ends with), in that order.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const instructions = Coaching.sessionInstructions({}, "morning", "You are Ada's personal coach.")
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const sessionInstructions = (config: Config, phase: Phase, base: string): string =>
  [base, config.instructions, phaseInstructions[phase]].filter((x) => x !== undefined && x !== "").join("\n\n")

/**
 * The coach's instructions for a client profile (validated: a bad profile is a `DecodeError`),
 * rendered with `config.renderProfile` when given, and the client's user id.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const ada = Coaching.profileInstructions({}, { userId: "ada", name: "Ada", aspirations: ["run a 10k"] })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const profileInstructions = (
  config: Config,
  profile: ClientProfile.ClientProfileInput
): Effect.Effect<{ readonly instructions: string; readonly userId: string }, DecodeError> =>
  Effect.map(ClientProfile.instructions.invoke(profile), ({ instructions, profile }) => ({
    instructions: config.renderProfile === undefined ? instructions : config.renderProfile(profile),
    userId: profile.userId
  }))

/**
 * The conversation the coach answers: the messages so far and the session's context
 * (`instructions`, `userId`, `phase`, `sessionId`).
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 * import { Coaching } from "@braid/workflows"
 *
 * const conversation = Coaching.coachConversation([Agent.user("Morning!")], {
 *   instructions: "You are Ada's coach.",
 *   userId: "ada",
 *   phase: "morning",
 *   sessionId: "s-1"
 * })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const coachConversation = (
  messages: ReadonlyArray<Agent.Message>,
  context: { readonly instructions: string; readonly userId: string; readonly phase: Phase; readonly sessionId: string }
): Agent.Conversation => ({ messages: [...messages], context: { ...context } })

/**
 * The messages of a turn as a session records them: the user's (tokens estimated) and the
 * coach's reply (its usage, cost and model, or the fallback flag and cause).
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const message = Coaching.turnMessages.user("Morning!", "turn-1")
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const turnMessages = {
  user: (text: string, turnId: string): Session.NewMessage => ({
    role: "user",
    content: text,
    usage: { inputTokens: Tokens.estimate(text), outputTokens: 0 },
    estimated: true,
    turnId
  }),
  reply: (answer: CoachReply, turnId: string): Session.NewMessage => {
    const fallback = answer.fallbackCause !== undefined
    return {
      role: "assistant",
      content: answer.text,
      usage: {
        inputTokens: answer.usage.inputTokens + answer.usage.cacheReadTokens + answer.usage.cacheWriteTokens,
        outputTokens: answer.usage.outputTokens
      },
      costUsd: answer.costUsd, // priced by Metered (the reply sums its responses' cost)
      fallback,
      turnId,
      estimated: answer.usage.estimated,
      ...(fallback ? {} : { model: answer.model }),
      ...(answer.fallbackCause !== undefined ? { fallbackCause: answer.fallbackCause } : {})
    }
  }
}

/**
 * The conversation of a stored session, as the coach sees it: the user's messages and the coach's
 * replies (named `coachName`, see `steps`), in order; other messages (system notes) are not part of it.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const messages = Coaching.history([{ role: "user", text: "Morning!" }, { role: "assistant", text: "Hi Ada." }], "coach")
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const history = (
  stored: ReadonlyArray<{ readonly role: "user" | "assistant" | "system"; readonly text: string }>,
  coachName: string
): ReadonlyArray<Agent.Message> =>
  stored.flatMap((m) =>
    m.role === "user" ? [Agent.user(m.text)] : m.role === "assistant" ? [Agent.assistant(m.text, coachName)] : []
  )

/**
 * A message of a session as the `SessionStore` appends it (what a live session writes through),
 * stamped `at`.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const stored = Coaching.storedMessage(Coaching.turnMessages.user("Morning!", "turn-1"), 0)
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const storedMessage = (message: Session.NewMessage, at: number): SessionStore.NewMessage =>
  Recorder.toStored({
    index: 0,
    role: message.role,
    content: message.content,
    at,
    usage: message.usage ?? { inputTokens: 0, outputTokens: 0 },
    costUsd: message.costUsd ?? 0,
    fallback: message.fallback ?? false,
    ...(message.fallbackCause !== undefined ? { fallbackCause: message.fallbackCause } : {}),
    ...(message.model !== undefined ? { model: message.model } : {}),
    ...(message.turnId !== undefined ? { turnId: message.turnId } : {}),
    ...(message.estimated !== undefined ? { estimated: message.estimated } : {})
  })

/**
 * What a coach reply means for its session: the consecutive failed replies after it, the
 * objective line (not on a fallback), the goals it sets (morning), and the end it calls for, in
 * order: the objective met, a model outage (`outageAfter` failed replies in a row: the outage
 * message, and the `critical` line for the error log), the turn limit, the session's budget.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const judged = Coaching.judgeReply({ turnLimit: 5 }, {
 *   phase: "morning",
 *   reply: { text: "Great.\nGOALS: run; read" },
 *   failures: 0,
 *   exchanges: 1,
 *   costUsd: 0
 * })
 * judged.end?.reason // "objective-met"
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const judgeReply = (
  config: Pick<Config, "outageAfter" | "outageMessage" | "turnLimit" | "sessionBudgetUsd">,
  input: {
    readonly phase: Phase
    readonly reply: { readonly text: string; readonly fallbackCause?: string | undefined }
    /** Failed replies in a row before this one. */
    readonly failures: number
    /** The exchanges of the session, this one included. */
    readonly exchanges: number
    /** The session's cost, this reply included. */
    readonly costUsd: number
  }
): {
  readonly failures: number
  readonly objective: string | undefined
  readonly goals: ReadonlyArray<string> | undefined
  readonly end:
    | { readonly reason: Session.EndReason; readonly message?: string; readonly critical?: string }
    | undefined
} => {
  const fallback = input.reply.fallbackCause !== undefined
  const failures = fallback ? input.failures + 1 : 0
  const objective = fallback ? undefined : objectiveLine(input.phase, input.reply.text)
  const goals = objective !== undefined && input.phase === "morning" ? parseGoals(objective) : undefined
  const outageAfter = Math.max(1, config.outageAfter ?? 3)
  const end = objective !== undefined
    ? { reason: "objective-met" as const }
    : failures >= outageAfter
    ? {
      reason: "model-outage" as const,
      message: config.outageMessage ?? defaultOutageMessage,
      critical: `model outage: ${failures} consecutive failed replies; session ended (last: ${
        input.reply.fallbackCause ?? "unknown"
      })`
    }
    : config.turnLimit !== undefined && input.exchanges >= config.turnLimit
    ? { reason: "turn-limit" as const }
    : config.sessionBudgetUsd !== undefined && input.costUsd >= config.sessionBudgetUsd
    ? { reason: "budget-exhausted" as const }
    : undefined
  return { failures, objective, goals, end }
}

/**
 * Where a session writes through: the `SessionStore` and the `EventBus` when they are in context
 * (messages fail typed; the end, the error log and the events never fail the session; events
 * take a stable `eventId` where a durable step may publish them again).
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const recorder = Coaching.recorder({ tenant: "default", sessionId: "s-1", userId: "ada" })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const recorder: (identity: Recorder.Identity) => Effect.Effect<Recorder.Recorder> = Recorder.make

/** What the steps of a running session share. */
interface PhaseContext {
  readonly phase: Phase
  readonly session: Session.Session
  readonly instructions: string
  readonly userId: string
  /** The session's tracks: exchanges on `conversation`, the observer's insights on `insights`. */
  readonly buffer: StreamBuffer.StreamBuffer<TrackEntry>
  /** The store and the bus the session writes through to. */
  readonly recorder: Recorder.Recorder
  /** The coaching day (both sessions) the events belong to. */
  readonly conversationId: string
}

/**
 * What the tracks of a session hold: exchanges (and the end of the conversation) on the
 * `conversation` track, insights on the `insights` track.
 *
 * @category models
 * @since 0.1.0
 */
export type TrackEntry =
  | { readonly _tag: "Exchange"; readonly exchange: Exchange }
  | { readonly _tag: "End" }
  | { readonly _tag: "Insight"; readonly text: string }

class CurrentPhase extends Context.Tag("@braid/workflows/Coaching/CurrentPhase")<CurrentPhase, PhaseContext>() {}

interface TrackState {
  readonly pending: ReadonlyArray<UserTurn>
  readonly messages: ReadonlyArray<Agent.Message>
  readonly exchanges: ReadonlyArray<Exchange>
  readonly objective: string | undefined
  readonly done: boolean
  /** Consecutive fallback replies (a model outage after `outageAfter`). */
  readonly failures: number
}

const initialTrack = (pending: ReadonlyArray<UserTurn>): TrackState => ({
  pending,
  messages: [],
  exchanges: [],
  objective: undefined,
  done: false,
  failures: 0
})

interface Day {
  readonly userId: string
  readonly instructions: string
  readonly turns: { readonly morning: ReadonlyArray<UserTurn>; readonly evening: ReadonlyArray<UserTurn> }
  readonly morning: SessionReport | undefined
  readonly evening: SessionReport | undefined
  readonly goals: ReadonlyArray<string>
  readonly insights: ReadonlyArray<string>
}

/**
 * A configured coaching workflow: the day pipeline and its parts.
 *
 * @category models
 * @since 0.1.0
 */
export interface Coaching {
  /** The whole day: profile, morning (conversation + observer), goals to memory, evening, summary. */
  readonly day: P.Primitive<
    DayInput,
    DayReport,
    ReplyError | PersistError | Memory.MemoryError | DecodeError,
    Ai.LanguageModel.LanguageModel | Memory.Memory | WorkflowContext.WorkflowContext
  >
  /** One coach reply behind the rate limits, the capacity cap, retry (bounded attempts) and fallback. */
  readonly reply: P.Primitive<Agent.Conversation, CoachReply, ReplyError, Ai.LanguageModel.LanguageModel>
  /** The bulkhead shared by every session of this workflow (inspect `active` / `queued`). */
  readonly bulkhead: Bulkhead.Bulkhead
  /** The circuit breaker of the coach's model calls (`undefined` with `breaker: false`). */
  readonly breaker: CircuitBreaker.CircuitBreaker | undefined
  /**
   * Opens a live session for a chat server: each `send` is one exchange (the same policies,
   * accounting and relevance scoring as in `day`); the session completes on `end`, on the idle
   * timeout, or when the coach writes the phase's objective line. Lives in the current scope.
   */
  readonly open: (options: {
    readonly profile: ClientProfile.ClientProfileInput
    readonly phase?: Phase
    readonly sessionId?: string
  }) => Effect.Effect<LiveSession, DecodeError | PersistError, Scope.Scope | WorkflowContext.WorkflowContext>
}

/**
 * A live coaching session (see `Coaching.open`).
 *
 * @category models
 * @since 0.1.0
 */
export interface LiveSession {
  readonly session: Session.Session
  /** One exchange: fails with `SessionCompleted` once the session has completed. */
  readonly send: (
    text: string
  ) => Effect.Effect<Exchange, ReplyError | PersistError | SessionCompleted, Ai.LanguageModel.LanguageModel>
  /** The objective line, once the coach has written it. */
  readonly objective: Effect.Effect<string | undefined>
}

/**
 * Why a coach reply could not be given at all: a rate limit, the capacity cap, or a spent budget
 * (`BudgetExceeded`, never hidden behind the fallback reply). A model failure (an outage, a bad
 * key, a call that never answers) gives the fallback reply instead.
 *
 * @category errors
 * @since 0.1.0
 */
export type ReplyError =
  | ResilienceErrors.RateLimited
  | ResilienceErrors.StoreError
  | ResilienceErrors.CapacityExceeded
  | ResilienceErrors.InvalidRateLimitInput
  | LlmErrors.BudgetExceeded

/**
 * Why a message could not be written through to the `SessionStore` (when one is in context).
 *
 * @category errors
 * @since 0.3.0
 */
export type PersistError = Recorder.PersistError

/**
 * A coach reply: the agent's reply, or the fallback reply (`agent: "fallback"`) with the cause.
 *
 * @category models
 * @since 0.2.0
 */
export interface CoachReply extends Agent.Reply {
  /** Why the fallback reply was given: the model's last error (`RetryExhausted: ... TimeoutError ...`). */
  readonly fallbackCause?: string
}

/**
 * The `BudgetExceeded` behind an error (itself, or the last error of a `RetryExhausted`).
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * Coaching.budgetExceeded(new Error("boom")) // undefined
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const budgetExceeded = (error: unknown): LlmErrors.BudgetExceeded | undefined => {
  if (typeof error !== "object" || error === null || !("_tag" in error)) return undefined
  if (error._tag === "BudgetExceeded") return error as LlmErrors.BudgetExceeded
  if (error instanceof ResilienceErrorsValues.RetryExhausted) {
    return error.errors.map(budgetExceeded).find((b) => b !== undefined)
  }
  return undefined
}

/**
 * One line saying what an error was (its tag and message): the cause kept on a fallback reply.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * Coaching.describeFailure(new Error("boom")) // "Error: boom"
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const describeFailure = (error: unknown): string => {
  const type = ResilienceErrorsValues.errorType(error)
  const message = typeof error === "object" && error !== null && "message" in error ? String(error.message) : ""
  return message === "" || message === type ? type : `${type}: ${message}`
}

/**
 * The coach's reply without the limits of a shared service: the coach agent (`config.coach`, or
 * the default `coach`), retried with each attempt bounded (`Models.policy`), behind the breaker
 * (`config.breaker`; `false` for none), else the fallback reply with the coach's last error as its
 * cause (`fallbackCause`). A spent budget is not hidden: `answered` fails with `BudgetExceeded`.
 * `make` puts the rate limits and the capacity cap around `answered`; a durable session
 * (`@braid/durable/DurableCoaching`) calls it as it is, without the breaker.
 *
 * @example
 * ```ts
 * import { Coaching } from "@braid/workflows"
 *
 * const { answered } = Coaching.steps({ breaker: false, fallbackReply: "One moment..." })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const steps = (config: Config = {}): {
  readonly coach: Agent.Any<unknown, Ai.LanguageModel.LanguageModel>
  readonly answered: P.Primitive<
    Agent.Conversation,
    CoachReply,
    LlmErrors.BudgetExceeded,
    Ai.LanguageModel.LanguageModel
  >
  readonly breaker: CircuitBreaker.CircuitBreaker | undefined
  /** The coach's name on its messages of the conversation. */
  readonly coachName: string
} => {
  const fallbackText = config.fallbackReply ?? defaultFallbackReply
  const coach: Agent.Any<unknown, Ai.LanguageModel.LanguageModel> = config.coach ?? Agent.make({
    name: "coach",
    description: "The personal coach",
    instructions: (c: Agent.Conversation) => String(c.context?.["instructions"] ?? ""),
    maxTokens: 400,
    ...(config.model !== undefined ? { model: config.model } : {})
  })
  const retried = coach.pipe(Models.policy({
    ...(config.modelTimeout !== undefined ? { timeout: config.modelTimeout } : {}),
    retry: { maxAttempts: 3, backoff: "exponential", baseDelay: "500 millis", maxDelay: "5 seconds", ...config.retry },
    name: "retry(coach)"
  }))
  const breaker = config.breaker === false ? undefined : config.breaker ?? CircuitBreaker.unsafeMake({
    name: "coach-model",
    trigger: CircuitBreaker.consecutive(5),
    openFor: "30 seconds",
    isFailure: (e) => budgetExceeded(e) === undefined
  })
  const guarded = breaker === undefined ? retried : retried.pipe(CircuitBreaker.guard(breaker))
  const fallbackReply = Primitive.sync("fallbackReply", (cause: string): CoachReply => ({
    text: fallbackText,
    agent: "fallback",
    model: "none",
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, estimated: false },
    costUsd: 0,
    calls: 0,
    finishReason: "other",
    messages: [Agent.assistant(fallbackText, "fallback")],
    fallbackCause: cause
  }))
  // The coach, else the fallback reply with the coach's last error as its cause. A spent budget
  // does not fall through (`when`): it is the reply's typed error. The last alternative cannot
  // fail, so the chain's FallbackExhausted is unreachable.
  const answered = Primitive.make(
    "coachOrFallback",
    (
      conversation: Agent.Conversation
    ): Effect.Effect<CoachReply, LlmErrors.BudgetExceeded, Ai.LanguageModel.LanguageModel> =>
      Effect.suspend(() => {
        let failure: unknown
        return Fallback.effect<CoachReply, unknown, Ai.LanguageModel.LanguageModel>([
          Effect.tapError(guarded.invoke(conversation), (e) =>
            Effect.sync(() => {
              failure = e
            })),
          Effect.suspend(() => fallbackReply.invoke(describeFailure(failure)))
        ], {
          name: "coachOrFallback",
          names: [guarded.name, fallbackReply.name],
          when: (e) => budgetExceeded(e) === undefined
        }).pipe(
          Effect.catchAll((e) => {
            const budget = budgetExceeded(e)
            return budget !== undefined ? Effect.fail(budget) : Effect.die(e) // unreachable: the fallback reply cannot fail
          })
        )
      }),
    {
      kind: "fallback",
      meta: { alternatives: 2 },
      children: [{ key: guarded.name, primitive: guarded }, { key: fallbackReply.name, primitive: fallbackReply }]
    }
  )
  return { coach, answered, breaker, coachName: Agent.nameOf(coach) }
}

/**
 * Builds the coaching workflow. Build it once and share it: its bulkhead and rate limits apply
 * to every session run with it.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Runner } from "@braid/core"
 * import { Memory } from "@braid/memory"
 * import { Metered, ScriptedLanguageModel } from "@braid/llm"
 * import { Coaching, Scripts } from "@braid/workflows"
 *
 * const coaching = Coaching.make({ idleTimeout: "10 minutes", capacity: { maxConcurrent: 20, maxQueued: 5 } })
 * const report = Runner.run(coaching.day, {
 *   profile: { userId: "ada", name: "Ada", aspirations: ["run a 10k"] },
 *   morning: ["Good morning! I slept badly but I want today to count."],
 *   evening: ["Evening! The report is done, but I skipped the run."]
 * }, { userId: "ada" }).pipe(Effect.provide(Layer.merge(Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.coaching)), Memory.layerInMemory())))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: Config = {}): Coaching => {
  const idleTimeout = config.idleTimeout ?? "15 minutes"
  const relevanceMetric = config.relevance ?? Evaluation.lexicalRelevanceMetric

  // --- one coach reply: rate limits ▸ bulkhead ▸ fallback(retry(coach)) ---
  const { answered, breaker, coach } = steps(config)
  const bulkhead = Bulkhead.unsafeMake({
    name: "coach",
    maxConcurrent: config.capacity?.maxConcurrent ?? 20,
    maxQueued: config.capacity?.maxQueued ?? 5
  })
  const perUser = config.rateLimits?.perUser ?? { limit: 30, window: "1 minute" }
  const global = config.rateLimits?.global ?? { limit: 600, window: "1 minute" }
  const reply = answered.pipe(
    Primitive.named("answer"),
    Bulkhead.limit(bulkhead),
    RateLimit.policy<Agent.Conversation>({
      name: "rateLimit(coach)",
      limits: [
        {
          key: (c) => `user:${String(c.context?.["userId"] ?? "anonymous")}`,
          limit: perUser.limit,
          window: perUser.window,
          name: "per-user"
        },
        { key: "global", limit: global.limit, window: global.window, name: "global" }
      ],
      ...(config.rateLimits?.store !== undefined ? { store: config.rateLimits.store } : {})
    }),
    Primitive.named("reply")
  )

  // --- one exchange of a conversation track ---
  const exchange = Primitive.make(
    "exchange",
    (
      s: TrackState
    ): Effect.Effect<TrackState, ReplyError | PersistError, Ai.LanguageModel.LanguageModel | CurrentPhase> =>
      Effect.gen(function*() {
        const ctx = yield* CurrentPhase
        const { recorder, session } = ctx
        const stop = (reason: Session.EndReason) => Effect.as(session.end(reason), { ...s, pending: [], done: true })
        const turn = s.pending[0]
        if (turn === undefined) return yield* stop("user") // the user has nothing more to say
        const rest = s.pending.slice(1)
        if (typeof turn !== "string" && "end" in turn) return yield* stop("user")
        const text = typeof turn === "string" ? turn : turn.text
        if (typeof turn !== "string" && turn.after !== undefined) {
          // The user writes after a pause; the session may time out first.
          const arrived = yield* Effect.raceFirst(
            Effect.as(Effect.sleep(turn.after), true),
            Effect.as(session.completed, false)
          )
          if (!arrived) return { ...s, pending: [], done: true }
        }
        if (/^\s*\/end\b/i.test(text)) return yield* stop("user")
        const turnId = crypto.randomUUID()
        const recorded = yield* Effect.either(session.record(turnMessages.user(text, turnId)))
        if (recorded._tag === "Left") return { ...s, pending: [], done: true } // completed meanwhile (idle)
        yield* recorder.message(recorded.right)
        yield* recorder.emit(SessionEvents.CoachingUserMessage, { conversationId: ctx.conversationId, text })
        const messages = [...s.messages, Agent.user(text)]
        const coachName = Agent.nameOf(coach)
        const answer = yield* reply.invoke(
          coachConversation(messages, {
            instructions: ctx.instructions,
            userId: ctx.userId,
            phase: ctx.phase,
            sessionId: session.id
          })
        )
        const fallback = answer.fallbackCause !== undefined
        const saved = yield* Effect.option(session.record(turnMessages.reply(answer, turnId)))
        if (Option.isSome(saved)) yield* recorder.message(saved.value)
        yield* recorder.emit(SessionEvents.CoachingAgentResponse, {
          conversationId: ctx.conversationId,
          agent: answer.agent,
          text: answer.text,
          fallback
        })
        if (answer.fallbackCause !== undefined) {
          yield* recorder.error({ severity: "error", source: "model", message: answer.fallbackCause })
        }
        const verdict = yield* Effect.orElseSucceed(
          relevanceMetric.primitive.invoke({
            conversation: {
              id: session.id,
              messages: [{ role: "user", content: text }, { role: "assistant", content: answer.text }]
            }
          }),
          () => ({ score: Number.NaN, reason: "relevance could not be scored" })
        )
        const done: Exchange = {
          phase: ctx.phase,
          user: text,
          reply: answer.text,
          relevance: verdict.score,
          fallback,
          ...(answer.fallbackCause !== undefined ? { fallbackCause: answer.fallbackCause } : {})
        }
        yield* ctx.buffer.append("conversation", { _tag: "Exchange", exchange: done })
        const judged = judgeReply(config, {
          phase: ctx.phase,
          reply: answer,
          failures: s.failures,
          exchanges: s.exchanges.length + 1,
          costUsd: (yield* session.totals).costUsd
        })
        const { failures, objective } = judged
        const next: TrackState = {
          pending: rest,
          messages: [...messages, Agent.assistant(answer.text, coachName)],
          exchanges: [...s.exchanges, done],
          objective: objective ?? s.objective,
          done: false,
          failures
        }
        if (judged.end === undefined) return next
        if (judged.end.reason === "objective-met") yield* ctx.buffer.mark("objective-met")
        if (judged.goals !== undefined) yield* recorder.emit(SessionEvents.GoalsSet, { goals: judged.goals })
        if (judged.end.critical !== undefined) {
          yield* recorder.error({ severity: "critical", source: "model", message: judged.end.critical })
        }
        yield* session.end(judged.end.reason, judged.end.message)
        return { ...next, done: true }
      }),
    {
      kind: "exchange",
      children: [{ key: "reply", primitive: reply }, {
        key: relevanceMetric.name,
        primitive: relevanceMetric.primitive
      }]
    }
  )
  const conversation = sequence(
    loop(exchange, { while: (s) => !s.done, maxIterations: 100 }),
    Primitive.make("closeTrack", (s: TrackState) =>
      Effect.gen(function*() {
        const ctx = yield* CurrentPhase
        yield* ctx.session.end("user") // no-op when already completed
        yield* ctx.buffer.append("conversation", { _tag: "End" })
        return s
      }))
  ).pipe(Primitive.named("conversation"))

  // --- the observer track ---
  const observer: Agent.Any<unknown, Ai.LanguageModel.LanguageModel> = config.observer ?? Agent.make({
    name: "observer",
    description: "Writes insights about the client while the coach talks",
    instructions:
      "You are the observer of a coaching session. From the latest exchange, write one insight (at most 25 words) about the client's energy, motivation or obstacles. Start with `Insight:`.",
    maxTokens: 120,
    ...(config.model !== undefined ? { model: config.model } : {})
  })
  const observe = observer.pipe(Models.policy({
    ...(config.modelTimeout !== undefined ? { timeout: config.modelTimeout } : {}),
    retry: { maxAttempts: 2, backoff: "constant", baseDelay: "200 millis" },
    name: "retry(observer)"
  }))
  const observerTrack = Primitive.make(
    "observerTrack",
    (
      _: unknown
    ): Effect.Effect<
      ReadonlyArray<string>,
      Memory.MemoryError,
      Ai.LanguageModel.LanguageModel | CurrentPhase | Memory.Memory | WorkflowContext.WorkflowContext
    > =>
      Effect.gen(function*() {
        const ctx = yield* CurrentPhase
        const insights: Array<string> = []
        // Follow the conversation track (what is there, then what comes) until its end entry.
        yield* ctx.buffer.follow("conversation").pipe(
          Stream.takeWhile((item) => !(item._tag === "Entry" && item.value._tag === "End")),
          Stream.runForEach((item) =>
            Effect.gen(function*() {
              if (item._tag !== "Entry" || item.value._tag !== "Exchange") return
              const ex = item.value.exchange
              if (ex.fallback) return // nothing to learn from a fallback reply
              const written = yield* Effect.either(
                observe.invoke({ messages: [Agent.user(`CLIENT: ${ex.user}\nCOACH: ${ex.reply}`)] })
              )
              if (written._tag === "Left") {
                // the observer is best effort: the session goes on
                return yield* ctx.recorder.error({
                  severity: "warning",
                  source: "observer",
                  message: describeFailure(written.left)
                })
              }
              const insight = written.right.text.trim()
              insights.push(insight)
              yield* ctx.recorder.emit(SessionEvents.Insight, { text: insight })
              yield* ctx.buffer.append("insights", { _tag: "Insight", text: insight })
              yield* Memory.store(`insight:${ctx.session.id}:${insights.length}`, insight, {
                scope: "user",
                tags: ["insight", ctx.phase]
              })
            })
          )
        )
        return insights
      }),
    { kind: "track", children: [{ key: observe.name, primitive: observe }] }
  )

  // --- a session (morning or evening) with its lifecycle, written through to the store ---
  const startSession = (options: {
    readonly phase: Phase
    readonly userId: string
    readonly instructions: string
    readonly sessionId?: string
  }) =>
    Effect.gen(function*() {
      const wf = yield* WorkflowContext.WorkflowContext
      const conversationId = wf.sessionId ?? wf.runId
      const sessionId = options.sessionId ?? `${conversationId}:${options.phase}`
      const recorder = yield* Recorder.make({
        tenant: wf.tenantId ?? config.tenant ?? "default",
        sessionId,
        userId: options.userId
      })
      yield* recorder.start({
        kind: "coaching",
        title: `coaching: ${options.phase}`,
        ...(config.model !== undefined ? { model: config.model } : {})
      })
      const session = yield* Session.make({ id: sessionId, userId: options.userId, idleTimeout, onEnd: recorder.end })
      const buffer = yield* StreamBuffer.make<TrackEntry>()
      const phaseCtx: PhaseContext = {
        phase: options.phase,
        session,
        instructions: sessionInstructions(config, options.phase, options.instructions),
        userId: options.userId,
        buffer,
        recorder,
        conversationId
      }
      return { phaseCtx, session, sessionId }
    })

  /** Ends a session whose conversation stopped (no-op when it completed already). */
  const endOnExit = (session: Session.Session) => (exit: Exit.Exit<unknown, unknown>) => {
    if (Exit.isSuccess(exit)) return session.end("user")
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure) && budgetExceeded(failure.value) !== undefined) {
      return session.end("budget-exhausted", budgetExceeded(failure.value)!.message)
    }
    return session.end(
      "user",
      Option.isSome(failure) ? `stopped by ${describeFailure(failure.value)}` : "stopped (interrupted)"
    )
  }

  const runSession = <Out, E, R>(
    phase: Phase,
    inner: P.Primitive<TrackState, Out, E, R>,
    conversationOf: (out: Out) => TrackState
  ) =>
    Primitive.make(
      phase,
      (
        day: Day
      ): Effect.Effect<
        { readonly day: Day; readonly out: Out; readonly report: SessionReport },
        E | PersistError,
        Exclude<R, CurrentPhase> | WorkflowContext.WorkflowContext
      > =>
        Effect.scoped(Effect.gen(function*() {
          const { phaseCtx, session, sessionId } = yield* startSession({
            phase,
            userId: day.userId,
            instructions: day.instructions
          })
          if (phase === "evening") {
            yield* phaseCtx.recorder.emit(SessionEvents.ReflectionStarted, { goals: day.goals })
          }
          const buffer = phaseCtx.buffer
          const out = yield* Effect.provideService(inner.invoke(initialTrack(day.turns[phase])), CurrentPhase, phaseCtx)
            .pipe(
              Effect.onExit(endOnExit(session)) // a failed or interrupted session is ended too
            ) as Effect.Effect<Out, E, Exclude<R, CurrentPhase> | Scope.Scope>
          yield* buffer.close
          const status = yield* session.status
          const state = conversationOf(out)
          const scores = state.exchanges.map((e) => e.relevance).filter((x) => Number.isFinite(x))
          const report: SessionReport = {
            sessionId,
            phase,
            endedBy: status._tag === "Completed" ? status.reason : "user",
            messages: yield* session.messages,
            totals: yield* session.totals,
            exchanges: state.exchanges,
            relevance: scores.length === 0 ? Number.NaN : scores.reduce((a, b) => a + b, 0) / scores.length,
            objective: state.objective
          }
          return { day, out, report }
        })),
      { kind: "session", meta: { idleTimeout: String(idleTimeout) }, children: [{ key: inner.name, primitive: inner }] }
    )

  const morning = runSession(
    "morning",
    parallel({ conversation, observer: observerTrack }).pipe(Primitive.named("tracks")),
    (o) => o.conversation
  )
  const afterMorning = sequence(
    morning,
    Primitive.sync(
      "collectGoals",
      (
        { day, out, report }: {
          readonly day: Day
          readonly out: { readonly conversation: TrackState; readonly observer: ReadonlyArray<string> }
          readonly report: SessionReport
        }
      ): Day => ({
        ...day,
        morning: report,
        goals: report.objective === undefined ? [] : parseGoals(report.objective),
        insights: out.observer
      })
    )
  ).pipe(Primitive.named("morningFlow"))
  const storeGoals = Primitive.sync("storeGoals", (day: Day) => day).pipe(
    Memory.remember({ key: "goals", scope: "user", tags: ["goal"], value: (day: Day) => day.goals }),
    Primitive.named("storeGoals")
  )
  const evening = runSession("evening", conversation, (o) => o).pipe(
    Memory.recall({ scope: "user", tags: ["goal"] }),
    Primitive.named("eveningReflection")
  )
  const summarize = Primitive.sync(
    "summarize",
    ({ day, report }: { readonly day: Day; readonly report: SessionReport }): DayReport => {
      const morningReport = day.morning!
      const all = [...morningReport.messages, ...report.messages]
      return {
        userId: day.userId,
        instructions: day.instructions,
        morning: morningReport,
        goals: day.goals,
        insights: day.insights,
        evening: report,
        review: report.objective,
        totals: Session.total(all)
      }
    }
  )
  const profile = Primitive.make(
    "profile",
    (input: DayInput) =>
      Effect.map(ClientProfile.instructions.invoke(input.profile), ({ instructions, profile }): Day => ({
        userId: profile.userId,
        instructions: config.renderProfile === undefined ? instructions : config.renderProfile(profile),
        turns: { morning: input.morning, evening: input.evening },
        morning: undefined,
        evening: undefined,
        goals: [],
        insights: []
      })),
    { kind: "step", children: [{ key: ClientProfile.instructions.name, primitive: ClientProfile.instructions }] }
  )
  const pipeline = sequence(profile, afterMorning, storeGoals, evening, summarize).pipe(Primitive.named("day"))
  // The run's user is the client: memory's user scope needs it.
  const day = Primitive.make(
    "coaching",
    (input: DayInput) =>
      Effect.flatMap(WorkflowContext.WorkflowContext, (ctx) =>
        ctx.userId !== undefined
          ? pipeline.invoke(input)
          : Effect.provideService(pipeline.invoke(input), WorkflowContext.WorkflowContext, {
            ...ctx,
            userId: String(input.profile.userId)
          })),
    { kind: "workflow", children: [{ key: pipeline.name, primitive: pipeline }] }
  )
  const open: Coaching["open"] = (options) =>
    Effect.gen(function*() {
      const { instructions, userId } = yield* profileInstructions(config, options.profile)
      const { phaseCtx, session } = yield* startSession({
        phase: options.phase ?? "morning",
        userId,
        instructions,
        ...(options.sessionId !== undefined ? { sessionId: options.sessionId } : {})
      })
      // A live session still open when its scope closes ends then (the user left).
      yield* Effect.addFinalizer(() => session.end("user"))
      const lock = yield* Effect.makeSemaphore(1)
      let state: TrackState = initialTrack([])
      const send = (text: string) =>
        lock.withPermits(1)(Effect.gen(function*() {
          const status = yield* session.status
          if (status._tag === "Completed") {
            return yield* new SessionCompleted({ sessionId: session.id, reason: status.reason })
          }
          const next = yield* Effect.provideService(
            exchange.invoke({ ...state, pending: [text], done: false }),
            CurrentPhase,
            phaseCtx
          )
          const added = next.exchanges.length > state.exchanges.length
          state = { ...next, pending: [] }
          if (!added) {
            const now = yield* session.status
            return yield* new SessionCompleted({
              sessionId: session.id,
              reason: now._tag === "Completed" ? now.reason : "user"
            })
          }
          return next.exchanges[next.exchanges.length - 1]!
        }))
      return { session, send, objective: Effect.sync(() => state.objective) } satisfies LiveSession
    })

  return { day, reply, bulkhead, breaker, open }
}
