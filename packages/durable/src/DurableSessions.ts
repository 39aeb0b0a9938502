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
 * - `layerPractice` serves them as the `Practice` service (what the HTTP server consumes) from any
 *   process: a session cap shared across processes (its truth the session store, admission under
 *   the messaging `Lock`), the session events from journaled steps with stable ids, and the
 *   evaluation queued at the end and run by the layer's worker.
 *
 * @since 0.3.0
 */
import { Primitive } from "@braid/core"
import type { Ai } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import { Lock } from "@braid/messaging"
import type { Scenario as ScenarioNs } from "@braid/workflows"
import {
  Errors as WfErrors,
  Practice,
  PracticeEvaluation,
  Scenario,
  SessionCap,
  SessionEvents,
  SessionStore,
  Transcript
} from "@braid/workflows"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { Cause, Clock, Duration, Effect, Layer, Option, Schema } from "effect"
import * as Durable from "./Durable.js"
import type { RunNotFound, StatusStoreError } from "./Errors.js"
import { InvalidInput } from "./Errors.js"
import * as Runs from "./internal/sessionRuns.js"
import * as SharedCap from "./internal/sessionsCap.js"
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
export type LearnerSignal = Runs.LearnerSignal

/**
 * What a queued session's run waits for before it opens: its admission (a slot freed), or the
 * learner's end while it waits.
 *
 * @category schemas
 * @since 0.3.0
 */
export const AdmissionSignal = Schema.Union(
  Schema.TaggedStruct("Admitted", {}),
  Schema.TaggedStruct("End", {})
)

/**
 * @category schemas
 * @since 0.3.0
 */
export type AdmissionSignal = typeof AdmissionSignal.Type

/**
 * The state of a durable practice session, carried from one execution to the next.
 *
 * @category schemas
 * @since 0.3.0
 */
export const PracticeRun = Schema.Struct({
  ...Runs.runFields,
  scenarioId: Schema.String,
  ...Runs.turnFields
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
export type StoreFailure = Runs.StoreFailure

/**
 * The options of durable practice sessions: those of `Practice.Config` that apply to one
 * session, plus the length of an execution. Not applied: `breaker` (a breaker's in-memory state
 * would make replays non-deterministic) and `modelCalls`. `cap`: when given, a session that ends
 * admits the heads of its organization's queue (`layerPractice` always gives one). `evaluation`:
 * the end of a session queues its evaluation unless `false` (the worker runs in `layerPractice`).
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
    | "cap"
    | "evaluation"
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
export type Turn = Runs.StoredTurn

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
    SessionStore.SessionStore | Ai.LanguageModel.LanguageModel | WorkflowEngine | RunStatus.RunStatusStore
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
  /**
   * Waits (up to `sendTimeout`) until the session's run has opened it and waits for a learner
   * turn, or has ended.
   */
  readonly ready: (
    sessionId: string
  ) => Effect.Effect<
    void,
    InvalidInput | RunNotFound | StatusStoreError | WfErrors.SessionStoreError,
    WorkflowEngine | RunStatus.RunStatusStore
  >
  /** Sends a queued session's run its admission signal (`Admitted` or `End`); a run not found is ignored. */
  readonly admit: (
    sessionId: string,
    signal: AdmissionSignal
  ) => Effect.Effect<void, InvalidInput | StatusStoreError, WorkflowEngine | RunStatus.RunStatusStore>
}

/** The bound of one publication on the bus. */
const publishTimeout = "5 seconds"

/**
 * Publishes a session event with `eventId` when an `EventBus` is in context: bounded and best
 * effort (a bus that fails or hangs is logged, never the run's failure).
 */
const publishEvent = <E extends SessionEvents.Event>(
  Event: SessionEvents.EventClass<E>,
  fields: Omit<E, "_tag" | "eventId" | "at">,
  eventId: string
): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.serviceOption(EventBus.EventBus),
    (bus) =>
      Option.isNone(bus) ? Effect.void : SessionEvents.emit(Event, fields, { eventId }).pipe(
        Effect.provideService(EventBus.EventBus, bus.value),
        Effect.timeoutFail({
          duration: publishTimeout,
          onTimeout: () => `no answer from the bus in ${publishTimeout}`
        }),
        Effect.catchAllCause((cause) =>
          Effect.logWarning(`durable practice: could not publish ${Event._tag}: ${Runs.summarize(Cause.squash(cause))}`)
        )
      )
  )

/**
 * Publishes a session event from inside a journaled step, with an id derived from the step's
 * idempotency key: a step that runs again after a crash publishes the same id (consumers
 * deduplicate by `eventId`).
 */
const announce = <E extends SessionEvents.Event>(
  Event: SessionEvents.EventClass<E>,
  fields: Omit<E, "_tag" | "eventId" | "at">
): Effect.Effect<void> =>
  Effect.flatMap(Durable.idempotencyKey, (key) =>
    publishEvent(
      Event,
      fields,
      Option.isSome(key) ? `${key.value}/${Event._tag}` : crypto.randomUUID()
    ))

/**
 * Announces a stored message of the turn (`LearnerMessage` or `AiTurn`): the `tap` of its
 * journaled append, so its event id is stable across a re-run of the step.
 */
const announceMessage = (run: PracticeRun) => (m: SessionStore.MessageRecord): Effect.Effect<void> => {
  const base = { tenant: run.tenant, sessionId: run.sessionId, userId: run.userId, turnId: m.turnId ?? "" }
  return m.role === "user"
    ? announce(SessionEvents.LearnerMessage, { ...base, seq: m.seq, text: m.text })
    : announce(SessionEvents.AiTurn, { ...base, seq: m.seq, text: m.text, fallback: m.fallback })
}

/** The state of a new session's run on `scenarioId`. */
const firstRun = (
  owner: { readonly tenant: string; readonly userId: string },
  sessionId: string,
  scenarioId: string
): PracticeRun => ({ sessionId, tenant: owner.tenant, userId: owner.userId, scenarioId, ...Runs.firstTurn })

/** The scenario id of the caller's input, else `InvalidInput` naming `scenarioId`. */
const decodeScenarioId = (input: unknown) =>
  Effect.mapError(
    Schema.decodeUnknown(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)))(input),
    (e) => new WfErrors.InvalidInput({ field: "scenarioId", reason: e.message })
  )

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
    const where = "DurableSessions.practice"
    const bad = (path: string, reason: string) => new InvalidInput({ where, path, reason })
    const idle = yield* Effect.mapError(
      Effect.try(() => Duration.decode(options.idleTimeout ?? "10 minutes")),
      () => bad("idleTimeout", "not a duration")
    )
    const outageAfter = yield* Runs.positive(where, "outageAfter", options.outageAfter ?? 3)
    const defaultMaxTurns = yield* Runs.positive(where, "maxTurns", options.maxTurns ?? 20)
    const perExecution = yield* Runs.positive(where, "turnsPerExecution", options.turnsPerExecution ?? 10)
    const maxLength = yield* Runs.positive(where, "maxMessageLength", options.maxMessageLength ?? 4000)
    const sendTimeout = options.sendTimeout ?? "2 minutes"
    const endMessages = { ...Practice.defaultEndMessages, ...options.endMessages }
    const fallbackText = options.fallbackReply ?? Practice.defaultFallbackReply
    const { client, judge } = Practice.steps({ ...options, breaker: false })
    const limits = options.cap === undefined ? undefined : yield* Effect.mapError(
      SessionCap.make(options.cap),
      (e) => bad(`cap.${e.field}`, e.reason)
    )
    const queueEvaluation = options.evaluation !== false

    /**
     * The end of the session, once: the store's end, then `SessionEnded` (from `requestedAt`, when
     * the end was decided, to now: the termination latency) and the evaluation queued (the store's
     * enqueue is idempotent), all in one journaled step.
     */
    const endStep = (run: PracticeRun, reason: SessionStore.EndReason) =>
      Runs.storeStep(
        "end",
        Effect.gen(function*() {
          const store = yield* SessionStore.SessionStore
          const requestedAt = yield* Clock.currentTimeMillis
          const message = endMessages[reason]
          const { session } = yield* store.endSession(run.sessionId, { reason, at: requestedAt, message })
          yield* announce(SessionEvents.SessionEnded, {
            tenant: run.tenant,
            sessionId: run.sessionId,
            userId: run.userId,
            reason: session.endReason ?? reason,
            message: session.endMessage ?? message,
            requestedAt,
            ...(session.durationMs !== undefined ? { durationMs: session.durationMs } : {})
          })
          if (queueEvaluation) {
            // (queuing a job needs none of the worker's options)
            const evaluator = yield* Effect.orDie(PracticeEvaluation.make())
            yield* evaluator.enqueue(session).pipe(
              Effect.catchAll((e) =>
                Effect.logWarning(`durable practice: could not queue the evaluation of ${run.sessionId}: ${e.message}`)
              )
            )
          }
          return session
        }),
        SessionStore.SessionRecord,
        reason
      ).pipe(Effect.tap(() => admitNext(run)))

    /**
     * After an end: the heads of the organization's queue take the freed slots (a journaled step,
     * under the cap's lock), then each one's run gets its admission signal (a journaled step too:
     * a signal is idempotent, the first one wins). A store failure here is logged: the next end
     * admits them.
     */
    const admitNext = (run: PracticeRun) =>
      limits === undefined ? Effect.void : Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const cap = yield* SharedCap.make(limits, { store })
        const promoted = yield* Durable.step("promote", cap.promote(run.tenant), {
          success: Schema.Array(Schema.String),
          error: Runs.StoreFailure
        })
        yield* Durable.step(
          "admit",
          Effect.forEach(promoted, (id) => Effect.ignore(admit(id, { _tag: "Admitted" })), { discard: true }),
          Schema.Void
        )
      }).pipe(
        Effect.catchIf(
          (e): e is StoreFailure => e._tag === "SessionStoreError" || e._tag === "SessionNotFound",
          (e) => Effect.logWarning(`durable practice: could not admit the next session: ${Runs.summarize(e)}`)
        )
      )

    const logFailure = (run: PracticeRun, source: string, severity: "warning" | "error", error: unknown) =>
      Effect.ignore(Runs.storeStep(
        "error",
        Effect.gen(function*() {
          const store = yield* SessionStore.SessionStore
          const at = yield* Clock.currentTimeMillis
          yield* Effect.ignore(store.recordError({
            tenant: run.tenant,
            at,
            severity,
            source,
            message: Runs.summarize(error),
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
        // Deltas are live only: a replay of a completed call (its journaled step) publishes none.
        const live = yield* Durable.step("live", Effect.succeed(true), Schema.Boolean, { onReplay: () => false })
        let piece = 0
        const outcome = yield* Effect.either(client.invoke({
          prompt: Practice.clientPrompt(scenario, messages),
          onDelta: (delta) =>
            live
              ? publishEvent(SessionEvents.AiTurnDelta, {
                tenant: run.tenant,
                sessionId: run.sessionId,
                userId: run.userId,
                turnId,
                delta
              }, `${turnId}/AiTurnDelta/${piece++}`)
              : Effect.void
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
          const reply = yield* Runs.appendStep(
            "reply",
            run,
            (at) => Practice.turnMessages.fallback({ text: fallbackText, cause: Runs.summarize(error), turnId, at }),
            { tap: announceMessage(run) }
          )
          return { reply, failures } as const
        }
        const { text, usage } = outcome.right
        const reply = yield* Runs.appendStep(
          "reply",
          run,
          (at) => Practice.turnMessages.reply({ text, usage, turnId, at }),
          { tap: announceMessage(run) }
        )
        return { reply, failures: 0 } as const
      })

    const session = Primitive.make("practice-session", (input: PracticeRun) =>
      Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const principal = SessionStore.system(input.tenant)
        let run = input
        const scenario = yield* Runs.storeStep(
          "scenario",
          store.getScenario(principal, run.scenarioId),
          Scenario.Scenario
        )
        const messages: Array<SessionStore.MessageRecord> = []
        if (!run.opened) {
          // A session recorded as queued (the cap was full) waits for its admission.
          const recorded = yield* Runs.storeStep(
            "admission",
            Effect.map(
              Runs.findSession(principal, run.sessionId),
              Option.match({ onNone: () => "none", onSome: (s) => s.status })
            ),
            Schema.String
          )
          if (recorded === "queued") {
            const admission = yield* Durable.awaitSignal("admission", AdmissionSignal)
            if (admission._tag === "End") return yield* endStep(run, "user")
          }
          yield* Runs.storeStep(
            "open",
            Effect.gen(function*() {
              const now = yield* Clock.currentTimeMillis
              const existing = yield* Runs.findSession(principal, run.sessionId)
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
              const active = yield* store.activateSession(run.sessionId, now)
              yield* announce(SessionEvents.SessionStarted, {
                tenant: run.tenant,
                sessionId: run.sessionId,
                userId: run.userId,
                kind: "practice",
                scenarioId: run.scenarioId
              })
              return active
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
          messages.push(
            ...(yield* Runs.storeStep("transcript", Transcript.messages(principal, run.sessionId), Runs.Messages))
          )
        }
        for (let executed = 0;; executed++) {
          if (executed >= perExecution) return yield* Durable.continueAsNew(run)
          const signal = yield* Runs.awaitTurn(run.turn, idle)
          if (signal._tag === "Idle") return yield* endStep(run, "idle-timeout")
          if (signal._tag === "End") return yield* endStep(run, "user")
          const turnId = `${run.sessionId}:${run.turn}`
          const text = signal.text
          const message = yield* Runs.appendStep(
            "learner",
            run,
            (at) => Practice.turnMessages.learner({ text, turnId, at }),
            { request: text, tap: announceMessage(run) }
          )
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
          const learnerTurns = messages.filter((m) => m.role === "user").length
          if (met) {
            return yield* endStep(run, "objective-met")
          }
          if (learnerTurns >= (scenario.maxTurns ?? defaultMaxTurns)) {
            return yield* endStep(run, "turn-limit")
          }
          run = { ...run, turn: run.turn + 1 }
        }
      }))

    const workflow = Durable.workflow(
      options.name ?? "braid-practice",
      session,
      Runs.workflowOptions(PracticeRun, (run) => ({ kind: "practice", scenarioId: run.scenarioId }))
    )

    /** Only the key (the session id) decides the run id. */
    const keyOnly = (sessionId: string): PracticeRun => firstRun({ tenant: "", userId: "" }, sessionId, "")

    const { currentRun, end, ready, result, send } = Runs.runCalls(
      workflow,
      keyOnly,
      { where: "DurableSessions", sendTimeout, maxMessageLength: maxLength }
    )

    const admit: DurablePractice["admit"] = (sessionId, signal) =>
      Effect.gen(function*() {
        const runId = yield* workflow.runId(keyOnly(sessionId))
        yield* Effect.catchTags(workflow.signal(runId, "admission", AdmissionSignal, signal), {
          RunNotFound: () => Effect.void, // not started yet: it finds itself active in the store
          RunCompleted: () => Effect.void
        })
      })

    const start: DurablePractice["start"] = (principalInput, scenarioInput) =>
      Effect.gen(function*() {
        const principal = yield* Runs.decodePrincipal(principalInput)
        const scenarioId = yield* decodeScenarioId(scenarioInput)
        const store = yield* SessionStore.SessionStore
        yield* store.getScenario(principal, scenarioId)
        const sessionId = crypto.randomUUID()
        const runId = yield* workflow.start(firstRun(principal, sessionId, scenarioId))
        return { sessionId, runId }
      }).pipe(Effect.withSpan("DurableSessions.start"))

    return {
      workflow,
      layer: workflow.layer,
      start,
      send,
      end,
      result,
      currentRun,
      ready,
      admit
    } satisfies DurablePractice
  })

/**
 * The options of `layerPractice`: those of `practice`; `cap` defaults to 20 active and 5 queued
 * sessions per organization, `evaluation` to the worker's defaults (`false`: none queued, no worker).
 *
 * @category models
 * @since 0.3.0
 */
export interface ServiceOptions extends PracticeOptions {
  /** How often `positions` (and `cap.enter(...).active`) read a queued session's place in the store. Default 1 second. */
  readonly positionPoll?: Duration.DurationInput
}

type Kept = WfErrors.InvalidInput | WfErrors.SessionNotFound | WfErrors.SessionStoreError

/** A durable failure as one of the `Practice` service's errors (naming the operation). */
const asPracticeError = (operation: string) => (e: unknown): Kept => {
  if (
    e instanceof WfErrors.InvalidInput || e instanceof WfErrors.SessionNotFound ||
    e instanceof WfErrors.SessionStoreError
  ) return e
  if (e instanceof InvalidInput) return new WfErrors.InvalidInput({ field: e.path, reason: e.reason })
  return new WfErrors.SessionStoreError({ operation, reason: Runs.summarize(e) })
}

/**
 * Durable practice sessions as the `Practice` service (what the HTTP server consumes), served
 * from any process of a cluster, and their workflow registered on this process's runner:
 *
 * - **the session cap across processes**: per organization, its truth the session store (the
 *   live sessions, the queue by creation time), admission atomic under the `Lock` in context
 *   (`Lock.layerSql` on the database the processes share; `Lock.layerMemory` for one process). A
 *   queued session is recorded `queued` and its run waits for its admission; the end of a session
 *   admits the head of the queue (journaled steps) and signals its run;
 * - **the session events** on the `EventBus` in context, if any (`SessionStarted`,
 *   `LearnerMessage`, `AiTurnDelta` live as the reply streams, `AiTurn`, `SessionEnded`,
 *   `EvaluationReady`), published from journaled steps with stable event ids;
 * - **the evaluation** queued when a session ends, run by the worker of this layer.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Durable, DurableModel } from "@braid/durable"
 * import * as DurableSessions from "@braid/durable/DurableSessions"
 * import { Metered, ScriptedLanguageModel } from "@braid/llm"
 * import { Lock } from "@braid/messaging"
 * import { Practice, Scripts, SessionStore } from "@braid/workflows"
 *
 * const PracticeLive = DurableSessions.layerPractice({ idleTimeout: "2 days", cap: { maxActive: 20, maxQueued: 5 } }).pipe(
 *   Layer.provideMerge(Layer.mergeAll(Durable.layerMemory, Lock.layerMemory, SessionStore.layerMemory)),
 *   Layer.provide(Metered.fromProvider(Effect.map(ScriptedLanguageModel.provider(Scripts.practice), DurableModel.provider)))
 * )
 * const ada = { userId: "ada", role: "learner" }
 * const program = Effect.gen(function*() {
 *   const practice = yield* Practice.Practice
 *   const { session } = yield* practice.start(ada, Scripts.practiceScenario.id)
 *   return yield* practice.send(ada, session.id, "What brings you here today?")
 * }).pipe(Effect.provide(PracticeLive))
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layerPractice = (
  options: ServiceOptions = {}
): Layer.Layer<
  Practice.Practice,
  InvalidInput,
  | SessionStore.SessionStore
  | Ai.LanguageModel.LanguageModel
  | WorkflowEngine
  | RunStatus.RunStatusStore
  | Lock.Lock
> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const bad = (path: string, reason: string) =>
      new InvalidInput({ where: "DurableSessions.layerPractice", path, reason })
    const sessions = yield* practice({ ...options, cap: options.cap ?? {} })
    const limits = yield* Effect.mapError(SessionCap.make(options.cap), (e) => bad(`cap.${e.field}`, e.reason))
    const poll = yield* Effect.mapError(
      Effect.try(() => Duration.decode(options.positionPoll ?? "1 second")),
      () => bad("positionPoll", "not a duration")
    )
    const store = yield* SessionStore.SessionStore
    const cap = yield* SharedCap.make(limits, { store, poll })
    const evaluation = options.evaluation === false ? undefined : yield* Effect.mapError(
      PracticeEvaluation.make(options.evaluation ?? {}),
      (e) => bad(`evaluation.${e.field}`, e.reason)
    )
    const scope = yield* Effect.scope
    if (evaluation !== undefined) yield* Effect.forkIn(evaluation.worker, scope)
    const context = yield* Effect.context<
      SessionStore.SessionStore | WorkflowEngine | RunStatus.RunStatusStore | Lock.Lock
    >()
    const sendTimeout = Duration.decode(options.sendTimeout ?? "2 minutes")

    /** The evaluation of an ended session, at once (the worker would take it at its next poll). */
    const evaluateSoon = (session: SessionStore.SessionRecord) =>
      evaluation === undefined || session.status !== "completed"
        ? Effect.void
        : Effect.asVoid(Effect.forkIn(Effect.ignore(evaluation.process(session.id)), scope))

    const start = (
      principalInput: unknown,
      scenarioInput: unknown,
      startOptions: { readonly previousSessionId?: string } = {}
    ) =>
      Effect.gen(function*() {
        const principal = yield* Runs.decodePrincipal(principalInput)
        const scenarioId = yield* decodeScenarioId(scenarioInput)
        const scenario = yield* store.getScenario(principal, scenarioId)
        const previousSessionId = startOptions.previousSessionId
        if (previousSessionId !== undefined) yield* store.getSession(principal, previousSessionId)
        const existing = yield* store.activeSession(principal, scenarioId)
        if (existing !== undefined && previousSessionId === undefined) {
          return { session: existing, position: (yield* cap.position(existing.id)) ?? 0 } satisfies Practice.Started
        }
        const sessionId = SharedCap.newSessionId(principal.tenant)
        // created under the cap's lock, stamped there: the queue's order (by creation) is the admission order
        const { position, session } = yield* cap.admit(principal.tenant, (status) =>
          Effect.flatMap(Clock.currentTimeMillis, (createdAt) =>
            store.createSession({
              id: sessionId,
              tenant: principal.tenant,
              userId: principal.userId,
              kind: "practice",
              scenarioId,
              title: scenario.title,
              status,
              createdAt,
              ...(previousSessionId !== undefined ? { previousSessionId } : {}),
              ...(options.model !== undefined ? { model: options.model } : {})
            })))
        yield* Effect.mapError(
          sessions.workflow.start(firstRun(principal, sessionId, scenarioId)),
          asPracticeError(`start the run of ${sessionId}`)
        )
        if (session.status === "queued") return { session, position } satisfies Practice.Started
        yield* Effect.mapError(sessions.ready(sessionId), asPracticeError(`start ${sessionId}`))
        const after = yield* store.getSession(principal, sessionId)
        const opening = scenario.aiSpeaksFirst
          ? (yield* Transcript.messages(principal, sessionId)).find((m) =>
            m.turnId === `${sessionId}:opening` && m.role === "assistant"
          )
          : undefined
        yield* evaluateSoon(after)
        return { session: after, position: 0, opening } satisfies Practice.Started
      }).pipe(Effect.withSpan("DurableSessions.start"))

    const send: Practice.Service["send"] = (principalInput, sessionIdInput, text) =>
      Effect.gen(function*() {
        const principal = yield* Runs.decodePrincipal(principalInput)
        const sessionId = yield* Runs.decodeInputSessionId(sessionIdInput)
        const found = yield* store.getSession(principal, sessionId)
        if (found.status === "completed") {
          return yield* new WfErrors.SessionCompleted({ sessionId, reason: found.endReason ?? "completed" })
        }
        if (found.status === "queued") {
          const position = yield* cap.position(sessionId)
          return yield* new WfErrors.InvalidInput({
            field: "sessionId",
            reason: `the session is waiting for a slot (position ${position ?? "unknown"}); send when it has started`
          })
        }
        const turn = yield* Effect.mapError(
          sessions.send(principal, sessionId, text),
          (e) =>
            e instanceof WfErrors.SessionCompleted ? e : asPracticeError(`send to ${sessionId}`)(e)
        )
        yield* evaluateSoon(turn.session)
        return turn
      }).pipe(Effect.provide(context), Effect.withSpan("DurableSessions.send"))

    /** Waits (up to `sendTimeout`) until a queued session is no longer queued; the session then. */
    const leftQueue = (principal: SessionStore.Principal, sessionId: string) =>
      Effect.gen(function*() {
        while (true) {
          const s = yield* store.getSession(principal, sessionId)
          if (s.status !== "queued") return s
          yield* Effect.sleep("25 millis")
        }
      }).pipe(Effect.timeoutFail({
        duration: sendTimeout,
        onTimeout: () =>
          new WfErrors.SessionStoreError({
            operation: `end ${sessionId}`,
            reason: `the queued session did not take its end within ${Duration.format(sendTimeout)}`
          })
      }))

    const end: Practice.Service["end"] = (principalInput, sessionIdInput) =>
      Effect.gen(function*() {
        const principal = yield* Runs.decodePrincipal(principalInput)
        const sessionId = yield* Runs.decodeInputSessionId(sessionIdInput)
        let found = yield* store.getSession(principal, sessionId)
        if (found.status === "queued") {
          // Its run waits for its admission: the end goes there (unless admitted first, then as a turn).
          yield* Effect.mapError(sessions.admit(sessionId, { _tag: "End" }), asPracticeError(`end ${sessionId}`))
          found = yield* leftQueue(principal, sessionId)
        }
        if (found.status === "completed") return found
        const ended = yield* sessions.end(principal, sessionId).pipe(
          Effect.catchTag("SessionCompleted", () => store.getSession(principal, sessionId)),
          Effect.mapError(asPracticeError(`end ${sessionId}`))
        )
        yield* evaluateSoon(ended)
        return ended
      }).pipe(Effect.provide(context), Effect.withSpan("DurableSessions.end"))

    const practiceAgain: Practice.Service["practiceAgain"] = (principalInput, sessionIdInput) =>
      Effect.gen(function*() {
        const principal = yield* Runs.decodePrincipal(principalInput)
        const sessionId = yield* Runs.decodeInputSessionId(sessionIdInput)
        const previous = yield* store.getSession(principal, sessionId)
        if (previous.scenarioId === undefined) {
          return yield* new WfErrors.InvalidInput({
            field: "sessionId",
            reason: "the session has no scenario to practise again"
          })
        }
        return yield* start(principal, previous.scenarioId, { previousSessionId: previous.id })
      }).pipe(Effect.provide(context), Effect.withSpan("DurableSessions.practiceAgain"))

    const exportMarkdown: Practice.Service["exportMarkdown"] = (principalInput, sessionIdInput) =>
      Effect.gen(function*() {
        const principal = yield* Runs.decodePrincipal(principalInput)
        const sessionId = yield* Runs.decodeInputSessionId(sessionIdInput)
        return yield* Transcript.exportMarkdown(principal, sessionId)
      }).pipe(Effect.provide(context), Effect.withSpan("DurableSessions.exportMarkdown"))

    const service: Practice.Service = {
      start: (p, s, o) => Effect.provide(start(p, s, o), context),
      send,
      end,
      practiceAgain,
      positions: cap.positions,
      exportMarkdown,
      cap,
      evaluation
    }
    return Layer.merge(Layer.succeed(Practice.Practice, service), sessions.layer)
  }))
