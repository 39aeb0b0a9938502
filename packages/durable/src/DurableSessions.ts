/**
 * Practice sessions as durable runs (`@braid/durable/DurableSessions`): the practice workflow of
 * `@braid/workflows` run on the durable engine, so that a session waits for its learner for
 * minutes or days without holding a fiber, and survives a process restart.
 *
 * - each learner message is a signal (`turn-N`, one name per turn), raced with a durable sleep:
 *   the idle timeout (past it the session ends with `idle-timeout`);
 * - the model calls (the client, the objective check) go through the model port in context:
 *   provide `DurableModel` and they are journaled (a resume does not call the model again for a
 *   completed call);
 * - every store write is a journaled step that applies at most once per turn (a step that runs
 *   again after a crash finds its message in the store by its turn id and does not append it
 *   again);
 * - the session is a chain of bounded executions: `continueAsNew` every `turnsPerExecution`
 *   turns, carrying the session's state;
 * - it ends with the same reasons and writes the same store records as `Practice` (its pieces are
 *   reused: `Practice.steps`, `Practice.clientPrompt`, `Practice.defaultEndMessages`).
 *
 * @since 0.3.0
 */
import { Primitive } from "@braid/core"
import type { Ai } from "@braid/llm"
import type { Scenario as ScenarioNs } from "@braid/workflows"
import { Errors as WfErrors, Practice, Scenario, SessionStore, Transcript } from "@braid/workflows"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import type { Layer } from "effect"
import { Clock, Duration, Effect, Option, Schema } from "effect"
import * as Durable from "./Durable.js"
import type { RunNotFound, StatusStoreError } from "./Errors.js"
import { InvalidInput } from "./Errors.js"
import * as Runs from "./internal/sessionRuns.js"
import type * as RunStatus from "./RunStatus.js"

/**
 * What a learner sends to a running session: a message, or the end of the session.
 *
 * @category schemas
 * @since 0.3.0
 */
export const LearnerSignal = Runs.LearnerSignal

/**
 * @category schemas
 * @since 0.3.0
 */
export type LearnerSignal = typeof LearnerSignal.Type

/**
 * The state of a durable practice session, carried from one execution to the next.
 *
 * @category schemas
 * @since 0.3.0
 */
export const PracticeRun = Schema.Struct({
  sessionId: Runs.SessionId,
  tenant: Schema.String,
  userId: Schema.String,
  scenarioId: Schema.String,
  /** The next learner turn (the signal `turn-N` it waits for). */
  turn: Schema.Int.pipe(Schema.nonNegative()),
  /** Failed replies in a row. */
  failures: Schema.Int.pipe(Schema.nonNegative()),
  /** The session is in the store (and the opening reply, if any, written). */
  opened: Schema.Boolean
})

/**
 * @category schemas
 * @since 0.3.0
 */
export type PracticeRun = typeof PracticeRun.Type

/**
 * The store failures a durable session can end with (journaled, replayed as the same error).
 *
 * @category schemas
 * @since 0.3.0
 */
export const StoreFailure = Runs.StoreFailure

/**
 * @category schemas
 * @since 0.3.0
 */
export type StoreFailure = typeof StoreFailure.Type

/**
 * The options of durable practice sessions: those of `Practice.Config` that apply to one
 * session, plus the length of an execution. Not applied: `breaker` (a breaker's in-memory state
 * would make replays non-deterministic), `modelCalls`, `cap` (a runner bounds its sessions by its
 * shards) and `evaluation` (evaluate ended sessions with `PracticeEvaluation`).
 *
 * @category models
 * @since 0.3.0
 */
export interface PracticeOptions extends
  Pick<
    Practice.Config,
    | "model"
    | "idleTimeout"
    | "maxTurns"
    | "outageAfter"
    | "modelTimeout"
    | "retry"
    | "objective"
    | "maxMessageLength"
    | "fallbackReply"
    | "endMessages"
  >
{
  /** Learner turns per execution before `continueAsNew` carries the session on. Default 10. */
  readonly turnsPerExecution?: number
  /** The workflow's name (one per deployment of a version). Default `braid-practice`. */
  readonly name?: string
  /** How long `send` waits for the session to be ready and for the reply. Default 2 minutes. */
  readonly sendTimeout?: Duration.DurationInput
}

/**
 * One turn as read back from the store: the learner's message, the reply (absent when the
 * session ended without one) and the session after the turn.
 *
 * @category models
 * @since 0.3.0
 */
export interface Turn {
  readonly turnId: string
  readonly message: SessionStore.MessageRecord
  readonly reply?: SessionStore.MessageRecord | undefined
  readonly session: SessionStore.SessionRecord
}

/**
 * The errors of `send` and `end`.
 *
 * @category errors
 * @since 0.3.0
 */
export type SendError =
  | WfErrors.InvalidInput
  | WfErrors.SessionCompleted
  | WfErrors.SessionNotFound
  | WfErrors.SessionStoreError
  | InvalidInput
  | RunNotFound
  | StatusStoreError

/**
 * Durable practice sessions: the workflow (register `layer` on a runner) and the calls of the
 * learner's side, from any process that reaches the engine's storage.
 *
 * @category models
 * @since 0.3.0
 */
export interface DurablePractice {
  readonly workflow: Durable.DurableWorkflow<
    PracticeRun,
    SessionStore.SessionRecord,
    StoreFailure | Durable.DurableError,
    SessionStore.SessionStore | Ai.LanguageModel.LanguageModel
  >
  /** Registers the workflow with the runner of this process. */
  readonly layer: Layer.Layer<
    never,
    never,
    WorkflowEngine | RunStatus.RunStatusStore | SessionStore.SessionStore | Ai.LanguageModel.LanguageModel
  >
  /** Starts a session of `principal` on a scenario; returns at once with its id. */
  readonly start: (
    principal: unknown,
    scenarioId: unknown
  ) => Effect.Effect<
    { readonly sessionId: string; readonly runId: string },
    | WfErrors.InvalidInput
    | WfErrors.ScenarioNotFound
    | WfErrors.SessionStoreError
    | InvalidInput
    | StatusStoreError,
    SessionStore.SessionStore | WorkflowEngine | RunStatus.RunStatusStore
  >
  /**
   * Delivers the learner's message to the caller's session (a signal, from any process) and
   * waits for the turn to be done; the turn as the store has it. Another user's session is
   * `SessionNotFound`.
   */
  readonly send: (
    principal: unknown,
    sessionId: string,
    text: unknown
  ) => Effect.Effect<Turn, SendError, SessionStore.SessionStore | WorkflowEngine | RunStatus.RunStatusStore>
  /** The learner ends the caller's session (reason `user`); waits for the end. */
  readonly end: (
    principal: unknown,
    sessionId: string
  ) => Effect.Effect<
    SessionStore.SessionRecord,
    SendError | StoreFailure | Durable.DurableError,
    SessionStore.SessionStore | WorkflowEngine | RunStatus.RunStatusStore
  >
  /** Waits for the end of the session (through its chain of executions); the ended session. */
  readonly result: (
    sessionId: string
  ) => Effect.Effect<
    SessionStore.SessionRecord,
    StoreFailure | Durable.DurableError | InvalidInput | RunNotFound | StatusStoreError,
    WorkflowEngine | RunStatus.RunStatusStore
  >
  /** The status of the newest execution of the session (`RunNotFound` before it starts). */
  readonly currentRun: (sessionId: string) => Effect.Effect<
    Durable.Status<SessionStore.SessionRecord, StoreFailure | Durable.DurableError>,
    InvalidInput | RunNotFound | StatusStoreError,
    WorkflowEngine | RunStatus.RunStatusStore
  >
}

const positive = (field: string, n: number) => Runs.positive("DurableSessions.practice", field, n)
const { appendStep, storeStep, summarize } = Runs

const Messages = Runs.Messages

/**
 * Durable practice sessions with `options` (validated: a bad limit is `InvalidInput`). Register
 * `layer` on a runner with `SessionStore` and a model port (`DurableModel.layer(...)`) in context.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Durable, DurableModel } from "@braid/durable"
 * import * as DurableSessions from "@braid/durable/DurableSessions"
 * import { Metered, ScriptedLanguageModel } from "@braid/llm"
 * import { Scripts, SessionStore } from "@braid/workflows"
 *
 * const program = Effect.gen(function*() {
 *   const sessions = yield* DurableSessions.practice({ idleTimeout: "2 days" })
 *   const ada = { userId: "ada", role: "learner" }
 *   return yield* Effect.gen(function*() {
 *     const { sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
 *     return yield* sessions.send(ada, sessionId, "What brings you here today?")
 *   }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
 * }).pipe(Effect.provide(Layer.merge(
 *   SessionStore.layerMemory,
 *   Metered.fromProvider(Effect.map(ScriptedLanguageModel.provider(Scripts.practice), DurableModel.provider))
 * )))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const practice = (options: PracticeOptions = {}): Effect.Effect<DurablePractice, InvalidInput> =>
  Effect.gen(function*() {
    const bad = (path: string, reason: string) => new InvalidInput({ where: "DurableSessions.practice", path, reason })
    const idle = yield* Effect.mapError(
      Effect.try(() => Duration.decode(options.idleTimeout ?? "10 minutes")),
      () => bad("idleTimeout", "not a duration")
    )
    const outageAfter = yield* positive("outageAfter", options.outageAfter ?? 3)
    const defaultMaxTurns = yield* positive("maxTurns", options.maxTurns ?? 20)
    const perExecution = yield* positive("turnsPerExecution", options.turnsPerExecution ?? 10)
    const maxLength = yield* positive("maxMessageLength", options.maxMessageLength ?? 4000)
    const sendTimeout = options.sendTimeout ?? "2 minutes"
    const endMessages = { ...Practice.defaultEndMessages, ...options.endMessages }
    const fallbackText = options.fallbackReply ?? Practice.defaultFallbackReply
    const { client, judge } = Practice.steps({ ...options, breaker: false })

    const endStep = (run: PracticeRun, reason: SessionStore.EndReason) =>
      storeStep(
        "end",
        Effect.gen(function*() {
          const store = yield* SessionStore.SessionStore
          const at = yield* Clock.currentTimeMillis
          return (yield* store.endSession(run.sessionId, { reason, at, message: endMessages[reason] })).session
        }),
        SessionStore.SessionRecord,
        reason
      )

    const logFailure = (run: PracticeRun, source: string, severity: "warning" | "error", error: unknown) =>
      Effect.ignore(storeStep(
        "error",
        Effect.gen(function*() {
          const store = yield* SessionStore.SessionStore
          const at = yield* Clock.currentTimeMillis
          yield* Effect.ignore(store.recordError({
            tenant: run.tenant,
            at,
            severity,
            source,
            message: summarize(error),
            sessionId: run.sessionId
          }))
        }),
        Schema.Void
      ))

    /** The client's reply, persisted: the reply, a fallback reply, or the end (outage, budget). */
    const replyTurn = (
      run: PracticeRun,
      scenario: ScenarioNs.Scenario,
      messages: ReadonlyArray<SessionStore.MessageRecord>,
      turnId: string
    ) =>
      Effect.gen(function*() {
        const outcome = yield* Effect.either(client.invoke({
          prompt: Practice.clientPrompt(scenario, messages),
          onDelta: () => Effect.void
        }))
        if (outcome._tag === "Left") {
          const error = outcome.left
          const budget = Practice.budgetExhausted(error)
          if (budget !== undefined) {
            yield* logFailure(run, "model", "warning", budget)
            return { ended: yield* endStep(run, "budget-exhausted") } as const
          }
          const failures = run.failures + 1
          yield* logFailure(run, "model", failures >= outageAfter ? "error" : "warning", error)
          if (failures >= outageAfter) return { ended: yield* endStep(run, "model-outage") } as const
          const reply = yield* appendStep("reply", run, (at) =>
            Practice.turnMessages.fallback({ text: fallbackText, cause: summarize(error), turnId, at }))
          return { reply, failures } as const
        }
        const { text, usage } = outcome.right
        const reply = yield* appendStep("reply", run, (at) =>
          Practice.turnMessages.reply({ text, usage, turnId, at }))
        return { reply, failures: 0 } as const
      })

    const session = Primitive.make("practice-session", (input: PracticeRun) =>
      Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const principal = SessionStore.system(input.tenant)
        let run = input
        const scenario = yield* storeStep("scenario", store.getScenario(principal, run.scenarioId), Scenario.Scenario)
        const messages: Array<SessionStore.MessageRecord> = []
        if (!run.opened) {
          yield* storeStep(
            "open",
            Effect.gen(function*() {
              const now = yield* Clock.currentTimeMillis
              const existing = yield* Effect.option(Effect.catchTag(
                store.getSession(principal, run.sessionId),
                "SessionNotFound",
                () => Effect.fail(Option.none())
              ))
              if (Option.isNone(existing)) {
                yield* store.createSession({
                  id: run.sessionId,
                  tenant: run.tenant,
                  userId: run.userId,
                  kind: "practice",
                  scenarioId: run.scenarioId,
                  title: scenario.title,
                  status: "active",
                  createdAt: now,
                  ...(options.model !== undefined ? { model: options.model } : {})
                })
              }
              return yield* store.activateSession(run.sessionId, now)
            }),
            SessionStore.SessionRecord
          )
          if (scenario.aiSpeaksFirst) {
            const r = yield* replyTurn(run, scenario, messages, `${run.sessionId}:opening`)
            if ("ended" in r) return r.ended
            messages.push(r.reply)
            run = { ...run, failures: r.failures }
          }
          run = { ...run, opened: true }
        } else {
          messages.push(...(yield* storeStep("transcript", Transcript.messages(principal, run.sessionId), Messages)))
        }
        for (let executed = 0;; executed++) {
          if (executed >= perExecution) return yield* Durable.continueAsNew(run)
          const signal = yield* Durable.awaitSignal(`turn-${run.turn}`, LearnerSignal, { timeout: idle }).pipe(
            Effect.catchTag("SignalTimeout", () => Effect.succeed({ _tag: "Idle" as const }))
          )
          if (signal._tag === "Idle") return yield* endStep(run, "idle-timeout")
          if (signal._tag === "End") return yield* endStep(run, "user")
          const turnId = `${run.sessionId}:${run.turn}`
          const text = signal.text
          const message = yield* appendStep("learner", run, (at) =>
            Practice.turnMessages.learner({ text, turnId, at }), text)
          messages.push(message)
          const r = yield* replyTurn(run, scenario, messages, turnId)
          if ("ended" in r) {
            return r.ended
          }
          messages.push(r.reply)
          run = { ...run, failures: r.failures }
          let met = false
          if (!r.reply.fallback) {
            const judged = yield* Effect.either(judge.invoke({ scenario, messages }))
            if (judged._tag === "Right") {
              met = judged.right.met
            } else yield* logFailure(run, "objective", "warning", judged.left)
          }
          const learnerTurns = messages.filter((m) =>
            m.role === "user"
          ).length
          if (met) {
            return yield* endStep(run, "objective-met")
          }
          if (learnerTurns >= (scenario.maxTurns ?? defaultMaxTurns)) {
            return yield* endStep(run, "turn-limit")
          }
          run = { ...run, turn: run.turn + 1 }
        }
      }))

    const workflow = Durable.workflow(options.name ?? "braid-practice", session, {
      input: PracticeRun,
      output: SessionStore.SessionRecord,
      error: StoreFailure,
      key: (run) => run.sessionId,
      context: (run) => ({
        sessionId: run.sessionId,
        tenantId: run.tenant,
        userId: run.userId,
        metadata: { kind: "practice", scenarioId: run.scenarioId }
      })
    })

    /** Only the key (the session id) decides the run id. */
    const keyOnly = (sessionId: string): PracticeRun => ({
      sessionId,
      tenant: "",
      userId: "",
      scenarioId: "",
      turn: 0,
      failures: 0,
      opened: false
    })

    const { currentRun, decodePrincipal, ownedTurn, signalTurn, storedTurn, turnDone } = Runs.runCalls(
      workflow,
      keyOnly,
      { where: "DurableSessions", sendTimeout }
    )
    const decodeText = Schema.decodeUnknown(Schema.Trim.pipe(Schema.nonEmptyString(), Schema.maxLength(maxLength)))
    const send: DurablePractice["send"] = (principalInput, sessionId, textInput) =>
      Effect.gen(function*() {
        const text = yield* Effect.mapError(
          decodeText(textInput),
          (e) => new WfErrors.InvalidInput({ field: "text", reason: e.message })
        )
        const { principal, runId, turn } = yield* ownedTurn(principalInput, sessionId)
        yield* signalTurn(runId, sessionId, turn, { _tag: "Message", text })
        yield* turnDone(sessionId, turn)
        return (yield* storedTurn(principal, sessionId, turn)) satisfies Turn
      }).pipe(Effect.withSpan("DurableSessions.send"))

    const result: DurablePractice["result"] = (sessionId) =>
      // Only a started session: `run` on a key alone would start one.
      Effect.zipRight(currentRun(sessionId), workflow.run(keyOnly(sessionId)))

    const end: DurablePractice["end"] = (principalInput, sessionId) =>
      Effect.gen(function*() {
        const { runId, turn } = yield* ownedTurn(principalInput, sessionId)
        yield* signalTurn(runId, sessionId, turn, { _tag: "End" })
        return yield* result(sessionId)
      }).pipe(Effect.withSpan("DurableSessions.end"))

    const start: DurablePractice["start"] = (principalInput, scenarioInput) =>
      Effect.gen(function*() {
        const principal = yield* decodePrincipal(principalInput)
        const scenarioId = yield* Effect.mapError(
          Schema.decodeUnknown(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)))(scenarioInput),
          (e) => new WfErrors.InvalidInput({ field: "scenarioId", reason: e.message })
        )
        const store = yield* SessionStore.SessionStore
        yield* store.getScenario(principal, scenarioId)
        const sessionId = crypto.randomUUID()
        const runId = yield* workflow.start({
          sessionId,
          tenant: principal.tenant,
          userId: principal.userId,
          scenarioId,
          turn: 0,
          failures: 0,
          opened: false
        })
        return { sessionId, runId }
      }).pipe(Effect.withSpan("DurableSessions.start"))

    return {
      workflow,
      layer: workflow.layer,
      start,
      send,
      end,
      result,
      currentRun
    } satisfies DurablePractice
  })
