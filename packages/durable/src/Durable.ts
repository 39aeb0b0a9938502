/**
 * `Durable`: Braid pipelines as durable runs on `@effect/workflow`. A run survives a process
 * restart (the engine replays it from its journal), waits for outside signals and durable sleeps
 * without holding a fiber, and can be spread over several runner processes (see the engines in
 * `@braid/durable/SqliteEngine`, `@braid/durable/PostgresEngine` and `@braid/durable/PostgresRunners`).
 *
 * Braid writes no journal: the engine owns journal, replay, timers, storage, sharding and
 * takeover. Braid owns the rules of what is journaled and under which key:
 *
 * - every journaled step (`step`, `now`, `randomId`, the model calls of `DurableModel`) is an
 *   engine activity keyed `PATH/NAME#N`: the path of the running primitive (parallel, forEach and
 *   loop index their children), the step's name, and a counter of the calls with that path and
 *   name in this execution;
 * - the journal records the step's request hash; a replay that makes a different request at that
 *   key fails with `NonDeterminism` instead of returning the stale result;
 * - every journaled value is encoded with its Schema and decoded on replay (`IncompatibleVersion`
 *   when it no longer decodes); the run id is the engine's execution id; the start time is journaled.
 *
 * @since 0.3.0
 */
import { Attributes, Instrumentation, Journal, Primitive, WorkflowContext } from "@braid/core"
import * as Activity from "@effect/workflow/Activity"
import * as DurableClock from "@effect/workflow/DurableClock"
import * as DurableDeferred from "@effect/workflow/DurableDeferred"
import * as Workflow from "@effect/workflow/Workflow"
import * as WorkflowEngineModule from "@effect/workflow/WorkflowEngine"
import { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import { Cause, Clock, Context, Duration, Effect, Exit, Layer, Option, ParseResult, Schema } from "effect"
import {
  IncompatibleVersion,
  InvalidInput,
  NonDeterminism,
  RunCompleted,
  RunNotFound,
  SignalTimeout,
  StatusStoreError
} from "./Errors.js"
import { canonical, digest } from "./internal/hash.js"
import * as RunStatus from "./RunStatus.js"

/**
 * The errors a durable run can fail with besides the pipeline's own.
 *
 * @category errors
 * @since 0.3.0
 */
export type DurableError = NonDeterminism | IncompatibleVersion | InvalidInput | SignalTimeout

/**
 * The schema of `DurableError`: part of every durable workflow's error schema.
 *
 * @category errors
 * @since 0.3.0
 */
export const DurableError: Schema.Schema<DurableError, any> = Schema.Union(
  NonDeterminism,
  IncompatibleVersion,
  InvalidInput,
  SignalTimeout
)

// -----------------------------------------------------------------------------
// The running execution
// -----------------------------------------------------------------------------

interface RunState {
  readonly workflow: Workflow.Any
  readonly key: string
  readonly executionId: string
  readonly engine: WorkflowEngine["Type"]
  readonly status: RunStatus.RunStatusStore["Type"]
  readonly startedAt: number
  /** Calls per `PATH/NAME` in this execution (reset on every replay: the body runs again). */
  readonly counters: Map<string, number>
  /** The signal names awaited in this execution. */
  readonly signals: Set<string>
  /** What the run waits for now. */
  readonly waits: Map<string, number>
  /**
   * Whether this execution has written its status since it started replaying: the first wait it
   * finds settled in the journal replaces a record the previous execution left ("suspended" on
   * that wait) with "running", once.
   */
  readonly replay: { written: boolean }
  /** Every journal key used, in order (what `keys` reports). */
  readonly keys: Array<string>
}

class CurrentRun extends Context.Tag("@braid/durable/CurrentRun")<CurrentRun, RunState>() {}

/** The journaled step whose effect is running: its run and key. */
class CurrentStep extends Context.Tag("@braid/durable/CurrentStep")<CurrentStep, string>() {}

/**
 * Inside the effect of a journaled step (`step`, a `DurableModel` call): a key that is the same for
 * every attempt of that step, including the attempt that runs again after a crash
 * (`RUN_ID/PATH/NAME#N`); `None` elsewhere. Give it to a store write that applies it
 * insert-if-absent, and the write happens once even though the step may run twice.
 *
 * @example
 * ```ts
 * import { Effect, Option, Schema } from "effect"
 * import { Durable } from "@braid/durable"
 *
 * const saved = new Map<string, string>()
 * const write = (note: string) =>
 *   Effect.gen(function*() {
 *     const key = Option.getOrElse(yield* Durable.idempotencyKey, () => crypto.randomUUID())
 *     if (!saved.has(key)) saved.set(key, note) // insert-if-absent
 *     return key
 *   })
 * const save = (note: string) => Durable.step("save", write(note), Schema.String)
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const idempotencyKey: Effect.Effect<Option.Option<string>> = Effect.serviceOption(CurrentStep)

/**
 * The durable run the current fiber belongs to: its run id (the engine's execution id) and
 * workflow name, or `None` outside a durable run.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Durable } from "@braid/durable"
 *
 * const where = Effect.map(Durable.currentRun, Option.map((r) => r.runId))
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const currentRun: Effect.Effect<
  Option.Option<{ readonly runId: string; readonly workflow: string; readonly key: string }>
> = Effect.map(
  Effect.serviceOption(CurrentRun),
  Option.map((r) => ({ runId: r.executionId, workflow: r.workflow.name, key: r.key }))
)

/**
 * The journal keys used so far by the current execution, in order (empty outside a durable run):
 * for tests that check keys are the same between a run and its replay.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Durable } from "@braid/durable"
 *
 * const keys = Durable.journalKeys // Effect<ReadonlyArray<string>>
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const journalKeys: Effect.Effect<ReadonlyArray<string>> = Effect.map(
  Effect.serviceOption(CurrentRun),
  (run) => Option.isSome(run) ? [...run.value.keys] : []
)

const nextKey = (run: RunState, base: string): string => {
  const n = run.counters.get(base) ?? 0
  run.counters.set(base, n + 1)
  const key = `${base}#${n}`
  run.keys.push(key)
  return key
}

const pathBase = (name: string): Effect.Effect<string> =>
  Effect.map(Instrumentation.currentPath, (path) => `${path === "" ? "(root)" : path}/${name}`)

/** Runs an engine effect with the run's engine and the fiber's current workflow instance. */
const inEngine = <A, E>(
  run: RunState,
  effect: Effect.Effect<A, E, WorkflowEngine | WorkflowInstance>
): Effect.Effect<A, E> =>
  Effect.flatMap(Effect.serviceOption(WorkflowInstance), (instance) =>
    Option.isNone(instance)
      ? Effect.dieMessage("@braid/durable: a journaled step ran outside its workflow instance")
      : effect.pipe(
        Effect.provideService(WorkflowEngine, run.engine),
        Effect.provideService(WorkflowInstance, instance.value)
      ))

const formatIssue = (error: ParseResult.ParseError): { readonly path: string; readonly reason: string } => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = issue === undefined || issue.path.length === 0
    ? "(root)"
    : issue.path.map((p) => typeof p === "number" ? `[${p}]` : String(p)).join(".").replace(/\.\[/g, "[")
  return { path, reason: issue?.message ?? error.message }
}

const incompatible = (what: string) => (error: ParseResult.ParseError) =>
  new IncompatibleVersion({ what, ...formatIssue(error) })

const invalid = (where: string) => (error: ParseResult.ParseError) => new InvalidInput({ where, ...formatIssue(error) })

/** What the journal holds for a step: the request hash and the encoded value. */
const Journaled = Schema.Struct({ hash: Schema.String, value: Schema.Unknown })

// -----------------------------------------------------------------------------
// Journaled steps
// -----------------------------------------------------------------------------

/**
 * The schemas of a journaled step that can fail with a typed error: its value's and its error's
 * (the failure is journaled too and replayed as the same error).
 *
 * @category models
 * @since 0.3.0
 */
export interface StepSchemas<A, E> {
  readonly success: Schema.Schema<A, any>
  readonly error: Schema.Schema<E, any>
}

/**
 * Options of `step`.
 *
 * @category models
 * @since 0.3.0
 */
export interface StepOptions {
  /**
   * What the step asks for (a prompt, a tool call's arguments): its hash is journaled, and a
   * replay that asks for something else at the same key fails with `NonDeterminism`.
   * Default: the step's name only.
   */
  readonly request?: unknown
  /**
   * Applied to a value read back from the journal (a replay) instead of computed now: the model
   * layer uses it to report a replayed call's usage as zero (no new spend) and mark it replayed.
   */
  readonly onReplay?: (value: any) => any
}

/**
 * Runs `effect` as a journaled step of the current durable run: the first time it runs and its
 * value (or typed failure) is journaled under a key derived from the primitive's path, the
 * step's name and a counter; on replay the journaled value is returned without running `effect`.
 * Outside a durable run it is `effect` itself, so a pipeline runs the same plainly and durably.
 *
 * A step in flight when the process dies runs again on resume (at least once).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Durable } from "@braid/durable"
 *
 * const fetchProfile = Primitive.make("fetchProfile", (userId: string) =>
 *   Durable.step("profile", Effect.succeed({ userId, level: 3 }), Schema.Struct({ userId: Schema.String, level: Schema.Number }), {
 *     request: userId
 *   }))
 * ```
 *
 * @category execution
 * @since 0.3.0
 */
export const step: {
  <A, R>(
    name: string,
    effect: Effect.Effect<A, never, R>,
    schema: Schema.Schema<A, any>,
    options?: StepOptions
  ): Effect.Effect<A, NonDeterminism | IncompatibleVersion | InvalidInput, R>
  <A, E, R>(
    name: string,
    effect: Effect.Effect<A, E, R>,
    schemas: StepSchemas<A, E>,
    options?: StepOptions
  ): Effect.Effect<A, E | NonDeterminism | IncompatibleVersion | InvalidInput, R>
} = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  schemas: Schema.Schema<A, any> | StepSchemas<A, E>,
  options?: StepOptions
): Effect.Effect<A, E | NonDeterminism | IncompatibleVersion | InvalidInput, R> =>
  Effect.flatMap(
    Effect.serviceOption(CurrentRun),
    (run): Effect.Effect<A, E | NonDeterminism | IncompatibleVersion | InvalidInput, R> => {
      if (Option.isNone(run)) return effect
      const s = Schema.isSchema(schemas) ?
        { success: schemas as Schema.Schema<A, any>, error: undefined } :
        schemas as { readonly success: Schema.Schema<A, any>; readonly error?: Schema.Schema<E, any> }
      const hashed = canonical(options?.request === undefined ? name : [name, options.request])
      if ("error" in hashed) {
        return Effect.fail(new InvalidInput({ where: `step ${name}`, path: "request", reason: hashed.error }))
      }
      return Effect.flatMap(pathBase(name), (base) =>
        journal(
          run.value,
          nextKey(run.value, base),
          digest(hashed.text),
          effect,
          s.success,
          s.error,
          options?.onReplay
        ))
    }
  )

const journal = <A, E, R>(
  run: RunState,
  key: string,
  hash: string,
  effect: Effect.Effect<A, E, R>,
  success: Schema.Schema<A, any>,
  error: Schema.Schema<E, any> | undefined,
  onReplay?: (value: A) => A
): Effect.Effect<A, E | NonDeterminism | IncompatibleVersion, R> =>
  Effect.contextWithEffect((context: Context.Context<R>) => {
    let fresh = false
    const activity = Activity.make({
      name: key,
      success: Journaled,
      error: (error ?? Schema.Never) as Schema.Schema<E, any>,
      execute: Effect.flatMap(
        // Inside a step the run is not visible: a step nested in it is part of it (journaled
        // with it, not on its own), so a replay, which does not run it, keeps the same keys.
        // The journal hook (`Journal`) of the lower packages passes through inside a step too, and
        // gives them the step's idempotency key.
        Effect.mapInputContext(
          Effect.zipRight(Effect.sync(() => fresh = true), effect),
          (input: Context.Context<never>) =>
            Context.add(
              Context.omit(CurrentRun)(Context.merge(input, context)),
              Journal.Journal,
              insideStep(run.executionId, `${run.executionId}/${key}`)
            ) as Context.Context<R>
        ).pipe(
          Effect.provideService(CurrentStep, `${run.executionId}/${key}`)
        ),
        (value) => Effect.map(Effect.orDie(Schema.encode(success)(value)), (encoded) => ({ hash, value: encoded }))
      )
    })
    return Effect.flatMap(
      inEngine(run, activity as Effect.Effect<typeof Journaled.Type, E, WorkflowEngine | WorkflowInstance>),
      (recorded): Effect.Effect<A, NonDeterminism | IncompatibleVersion> =>
        recorded.hash !== hash
          ? Effect.fail(new NonDeterminism({ key, recorded: recorded.hash, replayed: hash }))
          : Effect.mapError(Schema.decodeUnknown(success)(recorded.value), incompatible(`step ${key}`)).pipe(
            Effect.map((value) => fresh || onReplay === undefined ? value : onReplay(value))
          )
    )
  })

/** The journal hook inside a step's effect: no journaling of its own, the step's idempotency key. */
const insideStep = (runId: string, stepKey: string): Journal.JournalShape => {
  let writes = 0
  return {
    journaling: false,
    step: (_name, effect) => effect,
    idempotencyKey: Option.some(stepKey),
    nextWriteKey: () => {
      const key = ++writes === 1 ? stepKey : `${stepKey}~${writes}`
      // the stores take keys of up to 1,024 characters: a longer one (a deep path) is hashed
      return Option.some(key.length <= maxWriteKeyLength ? key : `${runId}/#${digest(key)}`)
    }
  }
}
const maxWriteKeyLength = 512

const isJournalFailure = (u: unknown): u is NonDeterminism | IncompatibleVersion | InvalidInput =>
  u instanceof NonDeterminism || u instanceof IncompatibleVersion || u instanceof InvalidInput

/**
 * The journal hook of a durable run (installed for the whole run): the steps of the lower
 * packages (tool calls, memory, messaging) are `step`s. Their error types do not carry the
 * journal's failures, so a journal failure travels as a defect to the run's body, which fails
 * the run with it (`fromJournalDefect`).
 */
const runJournal: Journal.JournalShape = {
  journaling: true,
  step: (name, effect, schemas, options) =>
    Effect.catchIf(
      step(name, effect, schemas, options?.request === undefined ? undefined : { request: options.request }),
      isJournalFailure,
      Effect.die
    ) as any,
  idempotencyKey: Option.none(),
  nextWriteKey: () => Option.none()
}

/** A journal failure raised through the `Journal` hook (a defect there) as the run's typed error. */
const fromJournalDefect = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | NonDeterminism | IncompatibleVersion | InvalidInput, R> =>
  Effect.catchSomeDefect(
    self,
    (defect) => isJournalFailure(defect) ? Option.some(Effect.fail(defect)) : Option.none()
  )

/**
 * The current time (epoch milliseconds), journaled: a replay sees the time of the first run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Durable } from "@braid/durable"
 *
 * const stamp = Effect.map(Durable.now, (millis) => new Date(millis).toISOString())
 * ```
 *
 * @category execution
 * @since 0.3.0
 */
export const now: Effect.Effect<number, NonDeterminism | IncompatibleVersion | InvalidInput> = step(
  "now",
  Clock.currentTimeMillis,
  Schema.Number
)

/**
 * A random UUID, journaled: a replay sees the id of the first run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Durable } from "@braid/durable"
 *
 * const orderId = Effect.map(Durable.randomId, (id) => `order-${id}`)
 * ```
 *
 * @category execution
 * @since 0.3.0
 */
export const randomId: Effect.Effect<string, NonDeterminism | IncompatibleVersion | InvalidInput> = step(
  "randomId",
  Effect.sync(() => crypto.randomUUID()),
  Schema.String
)

// -----------------------------------------------------------------------------
// Sleep and signals
// -----------------------------------------------------------------------------

const setWaiting = (run: RunState, what: string, waiting: boolean): Effect.Effect<void> =>
  Effect.suspend(() => {
    run.replay.written = true
    const n = run.waits.get(what) ?? 0
    if (waiting) run.waits.set(what, n + 1)
    else if (n <= 1) run.waits.delete(what)
    else run.waits.set(what, n - 1)
    return Effect.flatMap(Clock.currentTimeMillis, (updatedAt) =>
      run.status.update({
        workflow: run.workflow.name,
        runId: run.executionId,
        key: run.key,
        state: run.waits.size > 0 ? "suspended" : "running",
        waitingOn: [...run.waits.keys()],
        startedAt: run.startedAt,
        updatedAt
      }))
  }).pipe(
    // The status is a view for users; the journal decides. A failed write is logged, not fatal.
    Effect.catchAll((e) => Effect.logWarning(`@braid/durable: ${e.message}`))
  )

/**
 * Records that the run waits for `what` while `effect` runs. A suspension of the run is an
 * interruption of its fiber: the record stays (the run still waits); any other end clears it.
 */
const waiting = <A, E>(
  run: RunState,
  what: string,
  settledBy: DurableDeferred.DurableDeferred<any, any>,
  effect: Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.flatMap(
    // A wait whose result is already in the journal is one the run got past before (it replays
    // after a resume): it is not recorded, so the status never shows a wait behind the run.
    inEngine(run, Effect.flatMap(WorkflowEngine, (engine) => engine.deferredResult(settledBy))),
    (settled) =>
      settled !== undefined
        ? (run.replay.written ? effect : Effect.zipRight(setWaiting(run, what, false), effect))
        : Effect.zipRight(
          setWaiting(run, what, true),
          Effect.onExit(
            effect,
            (exit) =>
              Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? Effect.void : setWaiting(run, what, false)
          )
        )
  )

const checkName = (kind: string, name: string): InvalidInput | undefined =>
  typeof name !== "string" || name === "" || name.length > 200
    ? new InvalidInput({ where: kind, path: "name", reason: `expected a non-empty name of at most 200 characters` })
    : undefined

/**
 * Sleeps durably: the run suspends (holding no fiber), the engine's timer wakes it, and the sleep
 * survives a restart. Every sleep of a run is durable, however short (the engine's default keeps
 * sleeps of 60 s or less in memory; Braid lowers that threshold to zero). Outside a durable run
 * it is `Effect.sleep`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Durable } from "@braid/durable"
 *
 * const remind = Effect.zipRight(Durable.sleep("reminder", "1 day"), Effect.log("time to practise"))
 * ```
 *
 * @category execution
 * @since 0.3.0
 */
export const sleep = (name: string, duration: Duration.DurationInput): Effect.Effect<void, InvalidInput> =>
  Effect.flatMap(Effect.serviceOption(CurrentRun), (run) => {
    if (Option.isNone(run)) return Effect.sleep(duration)
    const bad = checkName("Durable.sleep", name)
    if (bad !== undefined) return Effect.fail(bad)
    return Effect.flatMap(pathBase(`sleep:${name}`), (base) => {
      const key = nextKey(run.value, base)
      return waiting(
        run.value,
        `sleep:${name}`,
        DurableClock.make({ name: key, duration }).deferred,
        inEngine(run.value, DurableClock.sleep({ name: key, duration, inMemoryThreshold: Duration.zero }))
      )
    })
  })

/**
 * Options of `awaitSignal`.
 *
 * @category models
 * @since 0.3.0
 */
export interface AwaitOptions {
  /** How long to wait (durably) before failing with `SignalTimeout`. Default: for ever. */
  readonly timeout?: Duration.DurationInput
}

const signalDeferred = (name: string) => DurableDeferred.make(`signal/${name}`, { success: Schema.Unknown })

const Race = Schema.Union(
  Schema.TaggedStruct("Received", { value: Schema.Unknown }),
  Schema.TaggedStruct("TimedOut", {})
)

/**
 * Waits for the signal `name` sent to this run (from this process or another, with
 * `DurableWorkflow.signal`), decoded with `schema`. The run suspends while it waits and holds no
 * fiber. A signal sent before the wait begins is kept and returned at once. Each wait needs its own
 * name (one per conversation turn, say: `turn-3`): a name is answered once per run.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Durable } from "@braid/durable"
 *
 * const Message = Schema.Struct({ text: Schema.String })
 * const nextTurn = (turn: number) => Durable.awaitSignal(`turn-${turn}`, Message, { timeout: "2 days" })
 * ```
 *
 * @category execution
 * @since 0.3.0
 */
export const awaitSignal = <A, I>(
  name: string,
  schema: Schema.Schema<A, I>,
  options: AwaitOptions = {}
): Effect.Effect<A, SignalTimeout | IncompatibleVersion | InvalidInput> =>
  Effect.flatMap(
    Effect.serviceOption(CurrentRun),
    (maybeRun): Effect.Effect<A, SignalTimeout | IncompatibleVersion | InvalidInput> => {
      if (Option.isNone(maybeRun)) {
        return Effect.dieMessage(`Durable.awaitSignal("${name}") outside a durable run: nothing can deliver it`)
      }
      const run = maybeRun.value
      const bad = checkName("Durable.awaitSignal", name)
      if (bad !== undefined) return Effect.fail(bad)
      if (run.signals.has(name)) {
        return Effect.fail(
          new InvalidInput({
            where: `Durable.awaitSignal("${name}")`,
            path: "name",
            reason: "this run already waited for a signal of this name: each wait needs its own name"
          })
        )
      }
      run.signals.add(name)
      const deferred = signalDeferred(name)
      const wait: Effect.Effect<unknown, SignalTimeout> = options.timeout === undefined
        ? inEngine(run, DurableDeferred.await(deferred))
        : Effect.flatMap(
          inEngine(
            run,
            DurableDeferred.raceAll({
              name: `signal/${name}`,
              success: Race,

              error: Schema.Never as any,
              effects: [
                Effect.map(DurableDeferred.await(deferred), (value) => ({ _tag: "Received" as const, value })),
                Effect.as(
                  DurableClock.sleep({
                    name: `signal-timeout/${name}`,
                    duration: options.timeout,
                    inMemoryThreshold: Duration.zero
                  }),
                  { _tag: "TimedOut" as const }
                )
              ]
            })
          ),
          (result) =>
            result._tag === "Received"
              ? Effect.succeed(result.value)
              : Effect.fail(
                new SignalTimeout({ signal: name, timeoutMillis: Duration.toMillis(Duration.decode(options.timeout!)) })
              )
        )
      return Effect.flatMap(
        waiting(
          run,
          `signal:${name}`,
          options.timeout === undefined
            ? deferred
            : DurableDeferred.make(`raceAll/signal/${name}`, { success: Race }),
          wait
        ),
        (value) => Effect.mapError(Schema.decodeUnknown(schema)(value), incompatible(`signal ${name}`))
      )
    }
  )

// -----------------------------------------------------------------------------
// Workflows
// -----------------------------------------------------------------------------

/**
 * What a run is doing, by Braid's own record and the engine's result.
 *
 * @category models
 * @since 0.3.0
 */
export type Status<A, E> =
  | { readonly _tag: "Running"; readonly runId: string; readonly startedAt: number }
  | {
    readonly _tag: "Suspended"
    readonly runId: string
    readonly startedAt: number
    /** `signal:NAME` and `sleep:NAME` entries. */
    readonly waitingOn: ReadonlyArray<string>
  }
  | { readonly _tag: "Complete"; readonly runId: string; readonly exit: Exit.Exit<A, E> }
  | {
    readonly _tag: "Continued"
    readonly runId: string
    /** The run that carries on (see `continueAsNew`). */
    readonly next: string
  }

/**
 * Ends this execution of the run and starts the next one on `input` (the state carried forward):
 * a long session runs as a chain of bounded executions (one per turn or per day), because a
 * resume replays the whole journal of the current execution. The next execution has its own run
 * id; `run` waits through the chain, `signal` goes to the newest execution, `status` says
 * `Continued` with the next id.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Durable } from "@braid/durable"
 *
 * const day = Primitive.make("day", (state: { readonly day: number }) =>
 *   state.day < 30 ? Durable.continueAsNew({ day: state.day + 1 }) : Effect.succeed(state.day))
 * ```
 *
 * @category execution
 * @since 0.3.0
 */
export const continueAsNew = <In>(input: In): Effect.Effect<never, ContinueAsNew<In>> =>
  Effect.fail(new ContinueAsNew(input))

/**
 * The failure `continueAsNew` ends an execution with; the durable workflow turns it into the next
 * execution (it never reaches the caller of `run`).
 *
 * @category models
 * @since 0.3.0
 */
export class ContinueAsNew<In> {
  /**
   * @since 0.3.0
   */
  readonly _tag = "ContinueAsNew"
  constructor(
    /**
     * The input of the next execution.
     *
     * @since 0.3.0
     */
    readonly input: In
  ) {}
}

/**
 * A pipeline registered as a durable workflow.
 *
 * @category models
 * @since 0.3.0
 */
export interface DurableWorkflow<In, Out, E, R> {
  readonly name: string
  /** The engine's workflow (for engine-level tools). */
  readonly workflow: Workflow.Any
  /** Registers the workflow with the engine of the runner: provide it where runs execute. */
  readonly layer: Layer.Layer<never, never, WorkflowEngine | RunStatus.RunStatusStore | R>
  /** The run id (engine execution id) of the run for `input`: the same input key, the same id. */
  readonly runId: (input: In) => Effect.Effect<string, InvalidInput>
  /** Starts the run for `input` if it is not started yet, and returns its id without waiting. */
  readonly start: (
    input: In
  ) => Effect.Effect<string, InvalidInput | StatusStoreError, WorkflowEngine | RunStatus.RunStatusStore>
  /** Starts the run for `input` or attaches to it, and waits for its result. */
  readonly run: (
    input: In
  ) => Effect.Effect<Out, E | InvalidInput | StatusStoreError, WorkflowEngine | RunStatus.RunStatusStore>
  /** Sends the signal `name` to the run `runId` (then resumes it, idempotently). */
  readonly signal: <A, I>(
    runId: string,
    name: string,
    schema: Schema.Schema<A, I>,
    value: A
  ) => Effect.Effect<
    void,
    RunNotFound | RunCompleted | InvalidInput | StatusStoreError,
    WorkflowEngine | RunStatus.RunStatusStore
  >
  /** The run's status: running, suspended (and on what), or complete with its exit. */
  readonly status: (
    runId: string
  ) => Effect.Effect<Status<Out, E>, RunNotFound | StatusStoreError, WorkflowEngine | RunStatus.RunStatusStore>
  /** Resumes a suspended run now (a no-op for a running or complete one). */
  readonly resume: (runId: string) => Effect.Effect<void, never, WorkflowEngine>
}

/**
 * Options of `workflow`.
 *
 * @category models
 * @since 0.3.0
 */
export interface WorkflowOptions<In, II, Out, OI, EE, EI> {
  /** The input's schema: the input is journaled encoded and decoded on every replay. */
  readonly input: Schema.Schema<In, II>
  readonly output: Schema.Schema<Out, OI>
  /** The schema of the pipeline's typed errors (required when it has any). */
  readonly error?: Schema.Schema<EE, EI>
  /** The idempotency key of a run: starting the same key again attaches to the existing run. */
  readonly key: (input: In) => string
  /** What the run's `WorkflowContext` carries besides its run id and start time. */
  readonly context?: (input: In) => Omit<WorkflowContext.ContextOptions, "runId" | "deadline" | "state">
}

const Payload = Schema.Struct({
  key: Schema.String,
  input: Schema.Unknown,
  /** 0 (absent) for the first execution of a run, then one more per `continueAsNew`. */
  generation: Schema.optional(Schema.Number)
})

/**
 * Registers `pipeline` as the durable workflow `name`. The pipeline does not change: its model
 * calls are journaled by `DurableModel.layer`, its own journaled steps by `step`, `now` and
 * `randomId`, its waits by `awaitSignal` and `sleep`. Everything else (the combinators, pure code)
 * runs again on every replay and must be deterministic given the journaled values.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Durable } from "@braid/durable"
 *
 * const greet = Primitive.make("greet", (name: string) =>
 *   Effect.map(Durable.awaitSignal("reply", Schema.String), (reply) => `${name} said ${reply}`))
 *
 * const Greeting = Durable.workflow("greeting", greet, {
 *   input: Schema.String,
 *   output: Schema.String,
 *   key: (name) => name
 * })
 *
 * const program = Effect.gen(function*() {
 *   const runId = yield* Greeting.start("Ada")
 *   yield* Greeting.signal(runId, "reply", Schema.String, "hello")
 *   return yield* Greeting.run("Ada") // "Ada said hello"
 * }).pipe(Effect.provide(Greeting.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const workflow = <In, Out, E, R, II, OI, EE = never, EI = never>(
  name: string,
  pipeline:
    & Primitive.Primitive<In, Out, E, R>
    & ([Exclude<E, DurableError | EE | ContinueAsNew<any>>] extends [never] ? unknown : {
      readonly "typed errors without a schema (give it in options.error)": Exclude<
        E,
        DurableError | EE | ContinueAsNew<any>
      >
    }),
  options: WorkflowOptions<In, II, Out, OI, EE, EI>
): DurableWorkflow<In, Out, EE | DurableError, Exclude<R, WorkflowContext.WorkflowContext>> => {
  const errorSchema = options.error === undefined
    ? DurableError
    : Schema.Union(options.error as Schema.Schema<EE, any>, DurableError)
  const Outcome = Schema.Union(
    Schema.TaggedStruct("Done", { value: options.output as Schema.Schema<Out, any> }),
    Schema.TaggedStruct("Continued", { key: Schema.String, input: Schema.Unknown, generation: Schema.Number })
  )
  const engineWorkflow = Workflow.make({
    name,
    payload: Payload,
    success: Outcome,
    error: errorSchema as Schema.Schema<EE | DurableError, any>,
    idempotencyKey: (p) => p.generation === undefined || p.generation === 0 ? p.key : `${p.key}\u001f${p.generation}`
  })
  const encodeInput = Schema.encode(options.input)
  const decodeInput = Schema.decodeUnknown(options.input)

  const payloadOf = (input: In): Effect.Effect<typeof Payload.Type, InvalidInput> =>
    Effect.flatMap(
      Effect.try({
        try: () => options.key(input),
        catch: (e) => new InvalidInput({ where: `key of workflow ${name}`, path: "(root)", reason: String(e) })
      }),
      (key) =>
        typeof key !== "string" || key === ""
          ? Effect.fail(
            new InvalidInput({
              where: `key of workflow ${name}`,
              path: "(root)",
              reason: "expected a non-empty string"
            })
          )
          : Effect.map(Effect.mapError(encodeInput(input), invalid(`input of workflow ${name}`)), (encoded) => ({
            key,
            input: encoded
          }))
    )

  const body = (payload: typeof Payload.Type, executionId: string) =>
    Effect.gen(function*() {
      const engine = yield* WorkflowEngine
      const status = yield* RunStatus.RunStatusStore
      const input = yield* Effect.mapError(decodeInput(payload.input), incompatible(`input of workflow ${name}`))
      const run: RunState = {
        workflow: engineWorkflow,
        key: payload.key,
        executionId,
        engine,
        status,
        startedAt: 0,
        counters: new Map(),
        signals: new Set(),
        waits: new Map(),
        replay: { written: false },
        keys: []
      }
      const startedAt = yield* Effect.provideService(
        journal(run, nextKey(run, "(run)/startedAt"), "start", Clock.currentTimeMillis, Schema.Number, undefined),
        CurrentRun,
        run
      )
      const state: RunState = { ...run, startedAt }
      const ctx = WorkflowContext.makeAt({ ...options.context?.(input), runId: executionId }, startedAt)
      // A root span: the engine may resume the run from any fiber (a timer's, a signal sender's),
      // and the pipeline's paths must not nest under whatever span that fiber was in.
      return yield* Instrumentation.withMode(pipeline.invoke(input), "on").pipe(
        fromJournalDefect,
        Effect.map((value) => ({ _tag: "Done" as const, value })),
        Effect.catchIf(
          (e: unknown) => e instanceof ContinueAsNew,
          (c) => continueWith(state, payload, (c as ContinueAsNew<In>).input)
        ),
        Effect.provideService(WorkflowContext.WorkflowContext, ctx),
        Effect.provideService(Journal.Journal, runJournal),
        Effect.provideService(CurrentRun, state),
        Effect.withSpan(`durable ${name}`, {
          root: true,
          attributes: { [Attributes.Braid.runId]: executionId },
          captureStackTrace: false
        })
      )
    }) as Effect.Effect<typeof Outcome.Type, EE | DurableError, Exclude<R, WorkflowContext.WorkflowContext>>

  /** Starts the next execution once (a journaled step) and ends this one as `Continued`. */
  const continueWith = (run: RunState, payload: typeof Payload.Type, nextInput: In) =>
    Effect.gen(function*() {
      const encoded = yield* Effect.mapError(encodeInput(nextInput), invalid(`continueAsNew of workflow ${name}`))
      const next = { key: payload.key, input: encoded, generation: (payload.generation ?? 0) + 1 }
      const started = Effect.gen(function*() {
        const id = yield* engineWorkflow.executionId(next)
        yield* record(next, id)
        // started outside this execution's instance: the next execution is not a child of this one
        yield* Effect.mapInputContext(
          engineWorkflow.execute(next, { discard: true }),
          (c: Context.Context<WorkflowEngine>) => Context.omit(WorkflowInstance)(c) as Context.Context<WorkflowEngine>
        )
        return id
      }).pipe(
        Effect.provideService(WorkflowEngine, run.engine),
        Effect.provideService(RunStatus.RunStatusStore, run.status)
      )
      yield* journal(
        run,
        nextKey(run, "(run)/continueAsNew"),
        "continue",
        Effect.orDie(started),
        Schema.String,
        undefined
      )
      return { _tag: "Continued" as const, ...next }
    })

  const layer = engineWorkflow.toLayer(body) as Layer.Layer<
    never,
    never,
    WorkflowEngine | RunStatus.RunStatusStore | Exclude<R, WorkflowContext.WorkflowContext>
  >

  const record = (payload: typeof Payload.Type, runId: string) =>
    Effect.gen(function*() {
      const status = yield* RunStatus.RunStatusStore
      const at = yield* Clock.currentTimeMillis
      yield* status.create({
        workflow: name,
        runId,
        key: payload.key,
        state: "running",
        waitingOn: [],
        startedAt: at,
        updatedAt: at
      })
    })

  const runId = (input: In) => Effect.flatMap(payloadOf(input), (p) => engineWorkflow.executionId(p))

  const start = (input: In) =>
    Effect.gen(function*() {
      const payload = yield* payloadOf(input)
      const id = yield* engineWorkflow.executionId(payload)
      yield* record(payload, id)
      yield* engineWorkflow.execute(payload, { discard: true })
      return id
    })

  const runToEnd = (input: In) =>
    Effect.gen(function*() {
      let payload: typeof Payload.Type = yield* payloadOf(input)
      yield* record(payload, yield* engineWorkflow.executionId(payload))
      while (true) {
        const outcome = yield* engineWorkflow.execute(payload)
        if (outcome._tag === "Done") return outcome.value as Out
        payload = { key: outcome.key, input: outcome.input, generation: outcome.generation }
      }
    })

  const find = (id: string) =>
    Effect.flatMap(RunStatus.RunStatusStore, (s) => s.get(name, id)).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.fail(new RunNotFound({ workflow: name, runId: id })),
        onSome: Effect.succeed
      }))
    )

  const statusOf = (id: string) =>
    Effect.gen(function*() {
      const rec = yield* find(id)
      const result = yield* engineWorkflow.poll(id)
      if (result !== undefined && result._tag === "Complete") {
        const exit = result.exit
        if (Exit.isSuccess(exit) && exit.value._tag === "Continued") {
          const next = yield* engineWorkflow.executionId(exit.value)
          return { _tag: "Continued", runId: id, next } as Status<Out, EE | DurableError>
        }
        return {
          _tag: "Complete",
          runId: id,
          exit: Exit.map(exit, (o) => (o as { readonly value: Out }).value)
        } as Status<Out, EE | DurableError>
      }
      if (rec.state === "suspended" || result?._tag === "Suspended") {
        return { _tag: "Suspended", runId: id, startedAt: rec.startedAt, waitingOn: rec.waitingOn } as const
      }
      return { _tag: "Running", runId: id, startedAt: rec.startedAt } as const
    })

  const signal = <A, I>(id: string, signalName: string, schema: Schema.Schema<A, I>, value: A) =>
    Effect.gen(function*() {
      const bad = checkName(`signal of workflow ${name}`, signalName)
      if (bad !== undefined) return yield* bad
      const encoded = yield* Effect.mapError(Schema.encode(schema)(value), invalid(`signal ${signalName}`))
      let status = yield* statusOf(id)
      // a run that continued as new takes its signals in its newest execution
      while (status._tag === "Continued") status = yield* statusOf(status.next)
      if (status._tag === "Complete") {
        return yield* new RunCompleted({ workflow: name, runId: id, signal: signalName })
      }
      const deferred = signalDeferred(signalName)
      yield* DurableDeferred.done(deferred, {
        token: DurableDeferred.tokenFromExecutionId(deferred, { workflow: engineWorkflow, executionId: status.runId }),
        exit: Exit.succeed(encoded)
      })
      // A signal that lands while the run is suspending could leave it waiting: resume it again
      // (a no-op for a run that is already running or complete).
      yield* engineWorkflow.resume(status.runId)
    })

  return {
    name,
    workflow: engineWorkflow,
    layer,
    runId,
    start,
    run: runToEnd as DurableWorkflow<In, Out, EE | DurableError, never>["run"],
    signal,
    status: statusOf,
    resume: (id) => engineWorkflow.resume(id)
  }
}

/**
 * The in-memory engine (`@effect/workflow`'s) with in-memory run status: for tests. Nothing
 * survives the process.
 *
 * @example
 * ```ts
 * import { Durable } from "@braid/durable"
 *
 * const engine = Durable.layerMemory
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layerMemory: Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore> = Layer.merge(
  WorkflowEngineModule.layerMemory,
  RunStatus.layerMemory
)
