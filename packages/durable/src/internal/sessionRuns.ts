/**
 * What the durable sessions (practice, coaching) share: the learner's signal and the durable wait
 * for it, the session id, the fields of a run's state, the workflow's options, the store
 * failures, the store calls as journaled steps applied once per turn, and the calls of
 * the learner's side on a session's run (its status through the chain of executions, waiting for
 * it to open, ownership, the turn a message goes to, waiting for the end of a turn, sending a
 * message, ending a session, waiting for its result).
 *
 * @internal
 */
import { Errors as WfErrors, SessionStore, Transcript } from "@braid/workflows"
import { Clock, Duration, Effect, Option, Schema } from "effect"
import * as Durable from "../Durable.js"
import type { RunCompleted } from "../Errors.js"
import { InvalidInput } from "../Errors.js"

/** What a learner sends to a running session: a message, or the end of the session. */
export const LearnerSignal = Schema.Union(
  Schema.TaggedStruct("Message", { text: Schema.String }),
  Schema.TaggedStruct("End", {})
)

export type LearnerSignal = typeof LearnerSignal.Type

/**
 * Waits (durably) for the learner's signal of `turn`, up to `idle`: the signal, or `Idle` past it.
 */
export const awaitTurn = (turn: number, idle: Duration.DurationInput) =>
  Durable.awaitSignal(`turn-${turn}`, LearnerSignal, { timeout: idle }).pipe(
    Effect.catchTag("SignalTimeout", () => Effect.succeed({ _tag: "Idle" as const }))
  )

/** A session id: no control characters (the engine's keys use one as a separator). */
export const SessionId = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(200),
  Schema.pattern(/^[^\u0000-\u001f]+$/)
)
export const decodeSessionId = Schema.decodeUnknown(SessionId)

/** The fields of a durable session's run state that say whose session it is. */
export const runFields = {
  sessionId: SessionId,
  tenant: Schema.String,
  userId: Schema.String
}

/** The fields of a durable session's run state that say where it is, carried from one execution to the next. */
export const turnFields = {
  /** The next learner turn (the signal `turn-N` it waits for). */
  turn: Schema.Int.pipe(Schema.nonNegative()),
  /** Failed (fallback) replies in a row. */
  failures: Schema.Int.pipe(Schema.nonNegative()),
  /** The session is in the store (and its opening reply, if any, written). */
  opened: Schema.Boolean
}

/** Where a new session's run is: at its first turn, no failed reply, not opened yet. */
export const firstTurn = { turn: 0, failures: 0, opened: false } as const

/** The store failures a durable session can end with (journaled, replayed as the same error). */
export const StoreFailure = Schema.Union(
  WfErrors.SessionStoreError,
  WfErrors.SessionNotFound,
  WfErrors.ScenarioNotFound
)

export type StoreFailure = typeof StoreFailure.Type

export const Messages = Schema.Array(SessionStore.MessageRecord)

/** `n` as a positive integer option of `where`, else `InvalidInput` naming the option. */
export const positive = (where: string, field: string, n: number): Effect.Effect<number, InvalidInput> =>
  Number.isInteger(n) && n >= 1
    ? Effect.succeed(n)
    : Effect.fail(new InvalidInput({ where, path: field, reason: `must be a positive integer, got ${n}` }))

/** One line saying what an error was (its message). */
export const summarize = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

/** A store call as a journaled step; a record the store refuses is a defect (the workflow wrote it). */
export const storeStep = <A, R = SessionStore.SessionStore>(
  name: string,
  effect: Effect.Effect<A, StoreFailure | WfErrors.InvalidInput, R>,
  success: Schema.Schema<A, any>,
  request?: unknown
) =>
  Durable.step(
    name,
    Effect.catchIf(effect, (e): e is WfErrors.InvalidInput => e instanceof WfErrors.InvalidInput, Effect.die),
    { success, error: StoreFailure },
    request === undefined ? undefined : { request }
  )

/** The session a run writes to. */
export interface RunIdentity {
  readonly tenant: string
  readonly sessionId: string
}

/**
 * Appends `message` unless the session already has the message of its turn and role: a step
 * that runs again after a crash (at least once) writes once.
 */
export const appendOnce = (run: RunIdentity, message: SessionStore.NewMessage) =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const existing = (yield* Transcript.messages(SessionStore.system(run.tenant), run.sessionId)).find((m) =>
      m.turnId === message.turnId && m.role === message.role
    )
    return existing ?? (yield* store.appendMessage(run.sessionId, message))
  })

/**
 * A message of the turn, stamped with the step's time, appended once: a journaled step. `tap`
 * runs inside the step with the stored message (e.g. to announce it with an event id derived
 * from the step's idempotency key, stable across a re-run of the step).
 */
export const appendStep = (
  name: string,
  run: RunIdentity,
  build: (at: number) => SessionStore.NewMessage,
  options: {
    readonly request?: unknown
    readonly tap?: (message: SessionStore.MessageRecord) => Effect.Effect<void>
  } = {}
) => {
  const { request, tap } = options
  const append = Effect.flatMap(Clock.currentTimeMillis, (at) => appendOnce(run, build(at)))
  return storeStep(
    name,
    tap === undefined ? append : Effect.tap(append, tap),
    SessionStore.MessageRecord,
    request
  )
}

/**
 * The session `sessionId` as the store has it for `principal`, if any. (Any store failure reads
 * as none: the step that follows, which writes, is the one that fails with it.)
 */
export const findSession = (principal: SessionStore.Principal, sessionId: string) =>
  Effect.flatMap(
    SessionStore.SessionStore,
    (store) =>
      Effect.option(Effect.catchTag(
        store.getSession(principal, sessionId),
        "SessionNotFound",
        () => Effect.fail(Option.none())
      ))
  )

/** The caller as a store principal, else `InvalidInput` naming `principal`. */
export const decodePrincipal = (input: unknown) =>
  Effect.mapError(
    Schema.decodeUnknown(SessionStore.Principal)(input),
    (e) => new WfErrors.InvalidInput({ field: "principal", reason: e.message })
  )

/** A session id of the caller's input, else `InvalidInput` naming `sessionId`. */
export const decodeInputSessionId = (input: unknown) =>
  Effect.mapError(decodeSessionId(input), (e) => new WfErrors.InvalidInput({ field: "sessionId", reason: e.message }))

/** The one-turn result of a send: the learner's message, the reply (if any), the session after it. */
export interface StoredTurn {
  readonly turnId: string
  readonly message: SessionStore.MessageRecord
  readonly reply?: SessionStore.MessageRecord | undefined
  readonly session: SessionStore.SessionRecord
}

/** What every durable session's run carries: its session, organization and learner. */
export interface SessionRun extends RunIdentity {
  readonly userId: string
}

/**
 * The options of a durable session's workflow: its run ends with the session's record or a
 * store failure, one run per session (keyed by its id), the run's context names the session,
 * organization, learner and `metadata`.
 */
export const workflowOptions = <In extends SessionRun, II>(
  input: Schema.Schema<In, II>,
  metadata: (run: In) => Readonly<Record<string, unknown>>
) => ({
  input,
  output: SessionStore.SessionRecord,
  error: StoreFailure,
  key: (run: In) => run.sessionId,
  context: (run: In) => ({
    sessionId: run.sessionId,
    tenantId: run.tenant,
    userId: run.userId,
    metadata: metadata(run)
  })
})

/**
 * The calls of the learner's side on the runs of `workflow` (one run per session, keyed by the
 * session id): `keyOnly` builds an input whose key is the session id.
 */
export const runCalls = <In, Out, E, R>(
  workflow: Durable.DurableWorkflow<In, Out, E, R>,
  keyOnly: (sessionId: string) => In,
  options: {
    readonly where: string
    readonly sendTimeout: Duration.DurationInput
    readonly maxMessageLength: number
  }
) => {
  const { maxMessageLength, sendTimeout, where } = options

  /** The status of the newest execution of the session (`RunNotFound` before it starts). */
  const currentRun = (sessionId: string) =>
    Effect.gen(function*() {
      yield* Effect.mapError(
        decodeSessionId(sessionId),
        (e) => new InvalidInput({ where, path: "sessionId", reason: e.message })
      )
      let status = yield* workflow.status(yield* workflow.runId(keyOnly(sessionId)))
      while (status._tag === "Continued") status = yield* workflow.status(status.next)
      return status
    })

  const timedOut = (sessionId: string, what: string) =>
    new WfErrors.SessionStoreError({
      operation: `send to ${sessionId}`,
      reason: `${what} took longer than ${Duration.format(Duration.decode(sendTimeout))}`
    })

  /**
   * Waits until the session has opened (its run waits for a signal, or has ended). Which turn it
   * waits for is not read from the run's status (a view written as the run goes): the store is
   * the record of which turns were taken.
   */
  const opened = (sessionId: string) =>
    Effect.gen(function*() {
      while (true) {
        const status = yield* currentRun(sessionId)
        if (status._tag === "Complete") return status
        if (status._tag === "Suspended" && status.waitingOn.some((w) => w.startsWith("signal:turn-"))) return status
        yield* Effect.sleep("25 millis")
      }
    }).pipe(
      Effect.timeoutFail({ duration: sendTimeout, onTimeout: () => timedOut(sessionId, "waiting for the session") })
    )

  /**
   * The caller's session (ownership checked by the store), its run, and the turn a message goes
   * to: the number of learner messages stored (turn N's message is stored as soon as the run
   * takes it, before it waits for turn N + 1; a signal sent before its wait is kept).
   */
  const ownedTurn = (principalInput: unknown, sessionId: string) =>
    Effect.gen(function*() {
      const principal = yield* decodePrincipal(principalInput)
      const store = yield* SessionStore.SessionStore
      const status = yield* opened(sessionId)
      // another user's session is SessionNotFound, whatever state its run is in
      const session = yield* store.getSession(principal, sessionId)
      if (status._tag === "Complete" || session.status === "completed") {
        return yield* new WfErrors.SessionCompleted({ sessionId, reason: session.endReason ?? "completed" })
      }
      const all = yield* Transcript.messages(principal, sessionId)
      return { runId: status.runId, turn: all.filter((m) => m.role === "user").length, principal }
    })

  const signalTurn = (runId: string, sessionId: string, turn: number, value: LearnerSignal) =>
    Effect.catchTag(
      workflow.signal(runId, `turn-${turn}`, LearnerSignal, value),
      "RunCompleted",
      (e: RunCompleted) => Effect.fail(new WfErrors.SessionCompleted({ sessionId, reason: e.message }))
    )

  /**
   * Waits until the run has finished `turn`: it waits for the next one, or it is complete. (A
   * status read while the run replays shows waits it already got past, never one ahead: waiting
   * on `turn-${turn + 1}` means the turn is stored, its checks done, and the session still on.)
   */
  const turnDone = (sessionId: string, turn: number) =>
    Effect.gen(function*() {
      while (true) {
        const status = yield* currentRun(sessionId)
        if (status._tag === "Complete") return
        if (status._tag === "Suspended" && status.waitingOn.includes(`signal:turn-${turn + 1}`)) return
        yield* Effect.sleep("25 millis")
      }
    }).pipe(
      Effect.timeoutFail({ duration: sendTimeout, onTimeout: () => timedOut(sessionId, "waiting for the reply") })
    )

  /** The turn as the store has it after `turnDone`: the learner's message, the reply, the session. */
  const storedTurn = (principal: SessionStore.Principal, sessionId: string, turn: number) =>
    Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      const turnId = `${sessionId}:${turn}`
      const session = yield* store.getSession(principal, sessionId)
      const all = yield* Transcript.messages(principal, sessionId)
      const message = all.find((m) => m.turnId === turnId && m.role === "user")
      if (message === undefined) {
        return yield* new WfErrors.SessionCompleted({ sessionId, reason: session.endReason ?? "failed" })
      }
      const reply = all.find((m) => m.turnId === turnId && m.role === "assistant")
      return { turnId, message, reply, session }
    })

  /** Waits (up to `sendTimeout`) until the session's run has opened it, or has ended. */
  const ready = (sessionId: string) => Effect.asVoid(opened(sessionId))

  const decodeText = Schema.decodeUnknown(Schema.Trim.pipe(Schema.nonEmptyString(), Schema.maxLength(maxMessageLength)))

  /**
   * Delivers the learner's message to the caller's session (a signal) and waits for the turn to
   * be done; the turn as the store has it.
   */
  const send = (principalInput: unknown, sessionId: string, textInput: unknown) =>
    Effect.gen(function*() {
      const text = yield* Effect.mapError(
        decodeText(textInput),
        (e) => new WfErrors.InvalidInput({ field: "text", reason: e.message })
      )
      const { principal, runId, turn } = yield* ownedTurn(principalInput, sessionId)
      yield* signalTurn(runId, sessionId, turn, { _tag: "Message", text })
      yield* turnDone(sessionId, turn)
      return (yield* storedTurn(principal, sessionId, turn)) satisfies StoredTurn
    }).pipe(Effect.withSpan(`${where}.send`))

  /** Waits for the end of the session (through its chain of executions); only a started one. */
  const result = (sessionId: string) =>
    // `run` on a key alone would start one.
    Effect.zipRight(currentRun(sessionId), workflow.run(keyOnly(sessionId)))

  /** The learner ends the caller's session (reason `user`); waits for the end. */
  const end = (principalInput: unknown, sessionId: string) =>
    Effect.gen(function*() {
      const { runId, turn } = yield* ownedTurn(principalInput, sessionId)
      yield* signalTurn(runId, sessionId, turn, { _tag: "End" })
      return yield* result(sessionId)
    }).pipe(Effect.withSpan(`${where}.end`))

  return { currentRun, ready, send, result, end }
}
