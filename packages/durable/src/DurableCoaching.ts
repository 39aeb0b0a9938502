/**
 * Coaching sessions as durable runs (`@braid/durable/DurableCoaching`): a live coaching session
 * of `@braid/workflows` (`Coaching.open`: one phase, morning or evening) run on the durable
 * engine, one run per session, so that it waits for its user for minutes or days without holding
 * a fiber, and survives a process restart.
 *
 * - each user message is a signal (`turn-N`, one name per turn), raced with a durable sleep: the
 *   idle timeout (past it the session ends with `idle-timeout`);
 * - the coach's model calls go through the model port in context: provide `DurableModel` and
 *   they are journaled (a resume does not call the model again for a completed call);
 * - every store write is a journaled step applied at most once per turn (a step that runs again
 *   after a crash finds its message in the store by its turn id);
 * - the coaching events (`SessionEvents`: `SessionStarted`, `CoachingUserMessage`,
 *   `CoachingAgentResponse`, `GoalsSet`, `SessionEnded`) are published from journaled steps with
 *   stable event ids (`<session>:started`, `<session>:<turn>:user`, ...), when an `EventBus` is in
 *   the runner's context: a step that runs again publishes the same id, consumers deduplicate;
 * - the session is a chain of bounded executions: `continueAsNew` every `turnsPerExecution`
 *   turns, carrying the session's state (the conversation is read back from the store);
 * - it ends with the same reasons and writes the same store records as `Coaching.open` (its
 *   pieces are reused: `Coaching.steps`, `Coaching.sessionInstructions`, `Coaching.turnMessages`,
 *   `Coaching.judgeReply`, `Coaching.recorder`).
 *
 * @since 0.3.0
 */
import { Primitive } from "@braid/core"
import type { Ai } from "@braid/llm"
import type { ClientProfile } from "@braid/workflows"
import { Coaching, Errors as WfErrors, SessionEvents, SessionStore, Transcript } from "@braid/workflows"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import type { Layer } from "effect"
import { Clock, Duration, Effect, Option, Schema } from "effect"
import * as Durable from "./Durable.js"
import type { SendError, Turn } from "./DurableSessions.js"
import type { RunNotFound, StatusStoreError } from "./Errors.js"
import { InvalidInput } from "./Errors.js"
import * as Runs from "./internal/sessionRuns.js"
import type * as RunStatus from "./RunStatus.js"

/**
 * The state of a durable coaching session, carried from one execution to the next.
 *
 * @category schemas
 * @since 0.3.0
 */
export const CoachingRun = Schema.Struct({
  ...Runs.runFields,
  phase: Schema.Literal("morning", "evening"),
  /** The coach's instructions for the session (profile, options, phase), fixed at the start. */
  instructions: Schema.String,
  ...Runs.turnFields
})

/**
 * @category schemas
 * @since 0.3.0
 */
export type CoachingRun = typeof CoachingRun.Type

/**
 * What `start` takes besides the caller: the client's profile (its `userId` is the caller's) and
 * the phase (default `morning`).
 *
 * @category schemas
 * @since 0.3.0
 */
export const StartInput = Schema.Struct({
  profile: Schema.Unknown,
  phase: Schema.optional(Schema.Literal("morning", "evening"))
})

/**
 * @category schemas
 * @since 0.3.0
 */
export type StartInput = typeof StartInput.Type

/**
 * The options of durable coaching sessions: those of `Coaching.Config` that apply to one session,
 * plus the length of an execution. Not applied: `breaker` (a breaker's in-memory state would make
 * replays non-deterministic), `rateLimits` and `capacity` (a runner bounds its sessions by its
 * shards), `relevance` (not stored) and `observer` (the observer track belongs to the coaching day).
 *
 * @category models
 * @since 0.3.0
 */
export interface CoachingOptions extends
  Pick<
    Coaching.Config,
    | "model"
    | "idleTimeout"
    | "retry"
    | "modelTimeout"
    | "fallbackReply"
    | "instructions"
    | "renderProfile"
    | "coach"
    | "outageAfter"
    | "outageMessage"
    | "turnLimit"
    | "sessionBudgetUsd"
  >
{
  /** User turns per execution before `continueAsNew` carries the session on. Default 10. */
  readonly turnsPerExecution?: number
  /** The workflow's name (one per deployment of a version). Default `braid-coaching`. */
  readonly name?: string
  /** How long `send` waits for the session to be ready and for the reply. Default 2 minutes. */
  readonly sendTimeout?: Duration.DurationInput
  /** The longest user message, in characters. Default 4000. */
  readonly maxMessageLength?: number
}

/**
 * Durable coaching sessions: the workflow (register `layer` on a runner) and the calls of the
 * user's side, from any process that reaches the engine's storage.
 *
 * @category models
 * @since 0.3.0
 */
export interface DurableCoaching {
  readonly workflow: Durable.DurableWorkflow<
    CoachingRun,
    SessionStore.SessionRecord,
    Runs.StoreFailure | Durable.DurableError,
    SessionStore.SessionStore | Ai.LanguageModel.LanguageModel
  >
  /** Registers the workflow with the runner of this process (an `EventBus` in context gets the events). */
  readonly layer: Layer.Layer<
    never,
    never,
    WorkflowEngine | RunStatus.RunStatusStore | SessionStore.SessionStore | Ai.LanguageModel.LanguageModel
  >
  /** Starts a coaching session of `principal` (the profile's user); returns at once with its id. */
  readonly start: (
    principal: unknown,
    input: unknown
  ) => Effect.Effect<
    { readonly sessionId: string; readonly runId: string },
    WfErrors.InvalidInput | InvalidInput | StatusStoreError,
    WorkflowEngine | RunStatus.RunStatusStore
  >
  /**
   * Delivers the user's message to the caller's session (a signal, from any process) and waits
   * for the turn to be done; the turn as the store has it. Another user's session is
   * `SessionNotFound`. A message `/end` ends the session (reason `user`).
   */
  readonly send: (
    principal: unknown,
    sessionId: string,
    text: unknown
  ) => Effect.Effect<Turn, SendError, SessionStore.SessionStore | WorkflowEngine | RunStatus.RunStatusStore>
  /** The user ends the caller's session (reason `user`); waits for the end. */
  readonly end: (
    principal: unknown,
    sessionId: string
  ) => Effect.Effect<
    SessionStore.SessionRecord,
    SendError | Runs.StoreFailure | Durable.DurableError,
    SessionStore.SessionStore | WorkflowEngine | RunStatus.RunStatusStore
  >
  /** Waits for the end of the session (through its chain of executions); the ended session. */
  readonly result: (
    sessionId: string
  ) => Effect.Effect<
    SessionStore.SessionRecord,
    Runs.StoreFailure | Durable.DurableError | InvalidInput | RunNotFound | StatusStoreError,
    WorkflowEngine | RunStatus.RunStatusStore
  >
  /** The status of the newest execution of the session (`RunNotFound` before it starts). */
  readonly currentRun: (sessionId: string) => Effect.Effect<
    Durable.Status<SessionStore.SessionRecord, Runs.StoreFailure | Durable.DurableError>,
    InvalidInput | RunNotFound | StatusStoreError,
    WorkflowEngine | RunStatus.RunStatusStore
  >
}

const where = "DurableCoaching.coaching"

/**
 * Durable coaching sessions with `options` (validated: a bad limit is `InvalidInput`). Register
 * `layer` on a runner with `SessionStore` and a model port (`DurableModel.provider(...)`) in
 * context, and an `EventBus` for the coaching events.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Durable, DurableModel } from "@braid/durable"
 * import * as DurableCoaching from "@braid/durable/DurableCoaching"
 * import { Metered, ScriptedLanguageModel } from "@braid/llm"
 * import { Scripts, SessionStore } from "@braid/workflows"
 *
 * const program = Effect.gen(function*() {
 *   const sessions = yield* DurableCoaching.coaching({ idleTimeout: "2 days" })
 *   const ada = { userId: "ada", role: "learner" }
 *   return yield* Effect.gen(function*() {
 *     const { sessionId } = yield* sessions.start(ada, { profile: { userId: "ada", name: "Ada" } })
 *     return yield* sessions.send(ada, sessionId, "Good morning! I want today to count.")
 *   }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
 * }).pipe(Effect.provide(Layer.merge(
 *   SessionStore.layerMemory,
 *   Metered.fromProvider(Effect.map(ScriptedLanguageModel.provider(Scripts.coaching), DurableModel.provider))
 * )))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const coaching = (options: CoachingOptions = {}): Effect.Effect<DurableCoaching, InvalidInput> =>
  Effect.gen(function*() {
    const idle = yield* Effect.mapError(
      Effect.try(() => Duration.decode(options.idleTimeout ?? "15 minutes")),
      () => new InvalidInput({ where, path: "idleTimeout", reason: "not a duration" })
    )
    yield* Runs.positive(where, "outageAfter", options.outageAfter ?? 3)
    if (options.turnLimit !== undefined) yield* Runs.positive(where, "turnLimit", options.turnLimit)
    if (options.sessionBudgetUsd !== undefined && !(options.sessionBudgetUsd >= 0)) {
      return yield* new InvalidInput({
        where,
        path: "sessionBudgetUsd",
        reason: `must be a non-negative number, got ${options.sessionBudgetUsd}`
      })
    }
    const perExecution = yield* Runs.positive(where, "turnsPerExecution", options.turnsPerExecution ?? 10)
    const maxLength = yield* Runs.positive(where, "maxMessageLength", options.maxMessageLength ?? 4000)
    const sendTimeout = options.sendTimeout ?? "2 minutes"
    const { answered, coachName } = Coaching.steps({ ...options, breaker: false })

    const session = Primitive.make("coaching-session", (input: CoachingRun) =>
      Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const principal = SessionStore.system(input.tenant)
        const recorder = yield* Coaching.recorder({
          tenant: input.tenant,
          sessionId: input.sessionId,
          userId: input.userId
        })
        let run = input
        const event = <E extends SessionEvents.Event>(
          Event: SessionEvents.EventClass<E>,
          fields: Omit<E, "_tag" | "eventId" | "at" | "tenant" | "sessionId" | "userId">,
          eventId: string
        ) => Durable.step("event", recorder.emit(Event, fields, { eventId }), Schema.Void, { request: eventId })
        const logError = (severity: "error" | "critical", message: string) =>
          Durable.step("error", recorder.error({ severity, source: "model", message }), Schema.Void)
        /** Ends the session in the store (and publishes `SessionEnded`), once: the ended session. */
        const endStep = (reason: SessionStore.EndReason, message?: string) =>
          Runs.storeStep(
            "end",
            Effect.gen(function*() {
              const at = yield* Clock.currentTimeMillis
              yield* recorder.end({ reason, at, ...(message !== undefined ? { message } : {}) }, {
                eventId: `${run.sessionId}:ended`
              })
              return yield* store.getSession(principal, run.sessionId)
            }),
            SessionStore.SessionRecord,
            reason
          )

        /** The session's messages so far (the conversation, the turns, the cost). */
        const stored: Array<SessionStore.MessageRecord> = []
        if (!run.opened) {
          yield* Runs.storeStep(
            "open",
            Effect.gen(function*() {
              const now = yield* Clock.currentTimeMillis
              const existing = yield* Runs.findSession(principal, run.sessionId)
              const created = Option.isSome(existing) ? existing.value : yield* store.createSession({
                id: run.sessionId,
                tenant: run.tenant,
                userId: run.userId,
                kind: "coaching",
                title: `coaching: ${run.phase}`,
                status: "active",
                createdAt: now,
                ...(options.model !== undefined ? { model: options.model } : {})
              })
              yield* recorder.emit(SessionEvents.SessionStarted, { kind: "coaching" }, {
                eventId: `${run.sessionId}:started`
              })
              return created
            }),
            SessionStore.SessionRecord
          )
          run = { ...run, opened: true }
        } else {
          stored.push(
            ...(yield* Runs.storeStep("transcript", Transcript.messages(principal, run.sessionId), Runs.Messages))
          )
        }
        const conversation = [...Coaching.history(stored, coachName)]
        const identity = { tenant: run.tenant, sessionId: run.sessionId }
        for (let executed = 0;; executed++) {
          if (executed >= perExecution) return yield* Durable.continueAsNew(run)
          const signal = yield* Runs.awaitTurn(run.turn, idle)
          if (signal._tag === "Idle") return yield* endStep("idle-timeout")
          if (signal._tag === "End" || /^\s*\/end\b/i.test(signal.text)) return yield* endStep("user")
          const text = signal.text
          const turnId = `${run.sessionId}:${run.turn}`
          stored.push(
            yield* Runs.appendStep(
              "user",
              identity,
              (at) => Coaching.storedMessage(Coaching.turnMessages.user(text, turnId), at),
              { request: text }
            )
          )
          yield* event(SessionEvents.CoachingUserMessage, { conversationId: run.sessionId, text }, `${turnId}:user`)
          conversation.push(...Coaching.history([{ role: "user", text }], coachName))
          const outcome = yield* Effect.either(answered.invoke(Coaching.coachConversation(conversation, {
            instructions: run.instructions,
            userId: run.userId,
            phase: run.phase,
            sessionId: run.sessionId
          })))
          // A spent budget is not an outage: the session ends with it (as `Coaching.open`'s does).
          if (outcome._tag === "Left") return yield* endStep("budget-exhausted", outcome.left.message)
          const answer = outcome.right
          const reply = yield* Runs.appendStep(
            "reply",
            identity,
            (at) => Coaching.storedMessage(Coaching.turnMessages.reply(answer, turnId), at)
          )
          stored.push(reply)
          yield* event(SessionEvents.CoachingAgentResponse, {
            conversationId: run.sessionId,
            agent: reply.fallback ? "fallback" : answer.agent,
            text: reply.text,
            fallback: reply.fallback
          }, `${turnId}:reply`)
          if (reply.fallbackCause !== undefined) yield* logError("error", reply.fallbackCause)
          conversation.push(...Coaching.history([{ role: "assistant", text: reply.text }], coachName))
          // judged on the stored reply (a replay reads it from the journal, not from a new call)
          const judged = Coaching.judgeReply(options, {
            phase: run.phase,
            reply: { text: reply.text, fallbackCause: reply.fallback ? (reply.fallbackCause ?? "") : undefined },
            failures: run.failures,
            exchanges: stored.filter((m) => m.role === "user").length,
            costUsd: stored.reduce((sum, m) => sum + m.costUsd, 0)
          })
          run = { ...run, failures: judged.failures }
          if (judged.end !== undefined) {
            if (judged.goals !== undefined) {
              yield* event(SessionEvents.GoalsSet, { goals: judged.goals }, `${turnId}:goals`)
            }
            if (judged.end.critical !== undefined) yield* logError("critical", judged.end.critical)
            return yield* endStep(judged.end.reason, judged.end.message)
          }
          run = { ...run, turn: run.turn + 1 }
        }
      }))

    const workflow = Durable.workflow(
      options.name ?? "braid-coaching",
      session,
      Runs.workflowOptions(CoachingRun, (run) => ({ kind: "coaching", phase: run.phase }))
    )

    /** Only the key (the session id) decides the run id. */
    const keyOnly = (sessionId: string): CoachingRun => ({
      sessionId,
      tenant: "",
      userId: "",
      phase: "morning",
      instructions: "",
      ...Runs.firstTurn
    })

    const { currentRun, end, result, send } = Runs.runCalls(
      workflow,
      keyOnly,
      { where: "DurableCoaching", sendTimeout, maxMessageLength: maxLength }
    )

    const start: DurableCoaching["start"] = (principalInput, input) =>
      Effect.gen(function*() {
        const principal = yield* Runs.decodePrincipal(principalInput)
        const { phase, profile } = yield* Effect.mapError(
          Schema.decodeUnknown(StartInput)(input),
          (e) => new WfErrors.InvalidInput({ field: "input", reason: e.message })
        )
        const client = yield* Effect.mapError(
          Coaching.profileInstructions(options, profile as ClientProfile.ClientProfileInput),
          (e) => new WfErrors.InvalidInput({ field: "profile", reason: e.message })
        )
        if (client.userId !== principal.userId) {
          return yield* new WfErrors.InvalidInput({
            field: "profile.userId",
            reason: "must be the caller's user id"
          })
        }
        const sessionId = crypto.randomUUID()
        const runId = yield* workflow.start({
          sessionId,
          tenant: principal.tenant,
          userId: principal.userId,
          phase: phase ?? "morning",
          instructions: Coaching.sessionInstructions(options, phase ?? "morning", client.instructions),
          ...Runs.firstTurn
        })
        return { sessionId, runId }
      }).pipe(Effect.withSpan("DurableCoaching.start"))

    return { workflow, layer: workflow.layer, start, send, end, result, currentRun } satisfies DurableCoaching
  })
