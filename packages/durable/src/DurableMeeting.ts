/**
 * Meetings as durable runs (`@braid/durable/DurableMeeting`): the meeting workflow of
 * `@braid/workflows` (`MeetingWorkflow`: discussion, then minutes, decisions and action items,
 * then the record) run on the durable engine, so that an hour-long meeting survives a process
 * restart and ends with the same outcome and the same records.
 *
 * The meeting driver races each speaker with its speaking timeout on the clock: replayed as is, a
 * speaker who timed out in the first run could answer in the replay, and the rest of the meeting
 * would differ. The durable meeting makes it deterministic:
 *
 * - **A turn is a journaled step** (`PATH/turn#N`, requested by speaker and turn): the speaker's
 *   answer raced with the speaking timeout, on the real clock, and the outcome journaled: spoke
 *   (the reply and how long it took), failed, or timed out. The speaker's model calls run inside
 *   it (journaled with it: a replay neither calls the model nor waits);
 * - **the discussion runs on a clock of its own**: it starts at a journaled time (`Durable.now`)
 *   and moves only by the journaled durations of the turns, so the driver's timer of a turn
 *   fires exactly when the journal says the speaker timed out, and every history entry has the
 *   same time on every replay;
 * - **the extractors' model calls are journaled by `DurableModel`** (distinct paths: they run
 *   under `parallel`);
 * - **writes happen once**: the history entries are written to the `MeetingStore` (and published
 *   on the `EventBus`) only when the store does not hold them yet (a replay rebuilds the same
 *   entries, with the same sequence numbers), and the record (`MeetingRecords.save`) is a
 *   journaled step. The driver's `interrupted` entry is not written: a durable meeting's driver
 *   is interrupted only when its process stops, and the resumed run carries on.
 *
 * The meeting id is the run's key: a durable meeting needs `meetingId` in its input.
 *
 * @since 0.3.0
 */
import type { Primitive as P } from "@braid/core"
import { Primitive } from "@braid/core"
import type { Ai } from "@braid/llm"
import { Meeting, MeetingStore } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { Errors as WfErrors, MeetingRecords, MeetingWorkflow } from "@braid/workflows"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Option, Schema } from "effect"
import * as Durable from "./Durable.js"
import type { StatusStoreError } from "./Errors.js"
import { IncompatibleVersion, InvalidInput, NonDeterminism } from "./Errors.js"
import type * as RunStatus from "./RunStatus.js"

/**
 * The input of a durable meeting: `MeetingWorkflow.MeetingInput` with its `meetingId` required
 * (it is the run's key).
 *
 * @category schemas
 * @since 0.3.0
 */
export const MeetingInput = Schema.Struct({
  ...MeetingWorkflow.MeetingInput.fields,
  meetingId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200), Schema.pattern(/^[^\u0000-\u001f]+$/))
})

/**
 * @category models
 * @since 0.3.0
 */
export type MeetingInput = typeof MeetingInput.Encoded

/**
 * What a turn's journal entry holds.
 *
 * @category schemas
 * @since 0.3.0
 */
export const TurnOutcome = Schema.Union(
  Schema.TaggedStruct("Spoke", { reply: Meeting.ReplySchema, elapsedMillis: Schema.Number }),
  Schema.TaggedStruct("Failed", { reason: Schema.String, elapsedMillis: Schema.Number }),
  Schema.TaggedStruct("TimedOut", {})
)

const Entry = Schema.Struct({
  tenant: Schema.optional(Schema.String),
  meetingId: Schema.String,
  seq: Schema.Number,
  at: Schema.Number,
  kind: Schema.String,
  participant: Schema.String,
  turn: Schema.optional(Schema.Number),
  text: Schema.optional(Schema.String),
  tokens: Schema.optional(Schema.Number),
  costUsd: Schema.optional(Schema.Number),
  reason: Schema.optional(Schema.String)
})

/**
 * The outcome of a meeting (`MeetingWorkflow.Outcome`), as a Schema (it is journaled).
 *
 * @category schemas
 * @since 0.3.0
 */
export const Outcome: Schema.Schema<MeetingWorkflow.Outcome, any> = Schema.Struct({
  meetingId: Schema.String,
  title: Schema.String,
  agenda: Schema.Array(Schema.String),
  endedBy: Schema.Struct({ condition: Schema.String, detail: Schema.String }),
  turns: Schema.Number,
  tokens: Schema.Number,
  costUsd: Schema.Number,
  history: Schema.Array(Entry),
  transcript: Schema.String,
  minutes: Schema.String,
  decisions: Schema.Array(MeetingRecords.Decision),
  actionItems: Schema.Array(MeetingRecords.ActionItem),
  timedOut: Schema.Array(Schema.String),
  left: Schema.Array(Schema.String)
}) as any

/**
 * The typed errors a durable meeting ends with (besides the engine's `DurableError`s).
 *
 * @category schemas
 * @since 0.3.0
 */
export const MeetingError = Schema.Union(
  WfErrors.MeetingConfigInvalid,
  WfErrors.ExtractionInvalid,
  WfErrors.HistoryStoreError,
  Schema.Struct({ _tag: Schema.Literal("MeetingActionRejected") }).pipe(Schema.extend(Schema.Record({
    key: Schema.String,
    value: Schema.Unknown
  }))),
  Schema.Struct({ _tag: Schema.Literal("RetryExhausted") }).pipe(Schema.extend(Schema.Record({
    key: Schema.String,
    value: Schema.Unknown
  })))
)

// -----------------------------------------------------------------------------
// The discussion's clock
// -----------------------------------------------------------------------------

/**
 * A clock that moves only when told: the discussion's. It starts at a journaled time and is moved
 * by each turn's journaled duration; a sleep on it ends when it is moved past its end.
 */
class TurnClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private waiters: Array<{ readonly at: number; readonly wake: () => void }> = []
  constructor(private now: number) {}
  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  get currentTimeMillis(): Effect.Effect<number> {
    return Effect.sync(() => this.now)
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.now)) * 1_000_000n
  }
  get currentTimeNanos(): Effect.Effect<bigint> {
    return Effect.sync(() => this.unsafeCurrentTimeNanos())
  }
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() => {
      const at = this.now + Duration.toMillis(duration)
      if (at <= this.now) return Effect.void
      return Effect.async<void>((resume) => {
        const waiter = { at, wake: () => resume(Effect.void) }
        this.waiters.push(waiter)
        return Effect.sync(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter)
        })
      })
    })
  }
  advance(millis: number): void {
    if (!(millis > 0)) return
    this.now += millis
    const due = this.waiters.filter((w) => w.at <= this.now)
    this.waiters = this.waiters.filter((w) => w.at > this.now)
    for (const w of due) w.wake()
  }
}

/** What a turn of the durable discussion needs: the clocks, the timeout, where a journal error goes. */
class Discussion extends Context.Tag("@braid/durable/DurableMeeting/Discussion")<Discussion, {
  readonly outer: Clock.Clock
  readonly clock: TurnClock
  readonly timeoutMillis: number
  failed: Durable.DurableError | undefined
  readonly stop: Deferred.Deferred<void>
}>() {}

const isDurableError = (e: unknown): e is NonDeterminism | IncompatibleVersion | InvalidInput =>
  e instanceof NonDeterminism || e instanceof IncompatibleVersion || e instanceof InvalidInput

/** The speaker of a durable meeting: the turn (answer or timeout) is one journaled step. */
const durableSpeaker = (
  _name: string,
  speak: P.Primitive<Meeting.TurnView, Meeting.Reply, unknown, Ai.LanguageModel.LanguageModel>
): P.Primitive<Meeting.TurnView, Meeting.Reply, unknown, Ai.LanguageModel.LanguageModel> =>
  Primitive.make(
    `turn(${speak.name})`,
    (view: Meeting.TurnView) =>
      Effect.flatMap(Effect.serviceOption(Discussion), (discussion) => {
        if (Option.isNone(discussion)) return speak.invoke(view)
        const d = discussion.value
        const timed = Effect.gen(function*() {
          const start = yield* Clock.currentTimeMillis
          const answered = yield* Effect.timeoutOption(Effect.exit(speak.invoke(view)), d.timeoutMillis)
          const elapsedMillis = Math.min(Math.max(0, (yield* Clock.currentTimeMillis) - start), d.timeoutMillis - 1)
          if (Option.isNone(answered)) return { _tag: "TimedOut" as const }
          const exit = answered.value
          if (Exit.isFailure(exit)) {
            return { _tag: "Failed" as const, reason: Cause.pretty(exit.cause).split("\n")[0] ?? "", elapsedMillis }
          }
          return Schema.is(Meeting.ReplySchema)(exit.value)
            ? { _tag: "Spoke" as const, reply: exit.value, elapsedMillis }
            : { _tag: "Failed" as const, reason: "invalid reply", elapsedMillis }
        }).pipe(Effect.withClock(d.outer))
        return Durable.step("turn", timed, TurnOutcome, { request: [view.speaker, view.turn] }).pipe(
          Effect.catchIf(isDurableError, (e) => {
            d.failed ??= e
            return Effect.zipRight(Deferred.succeed(d.stop, undefined), Effect.never)
          }),
          Effect.flatMap((outcome): Effect.Effect<Meeting.Reply, unknown> => {
            switch (outcome._tag) {
              case "Spoke":
                d.clock.advance(outcome.elapsedMillis)
                return Effect.succeed(outcome.reply)
              case "Failed":
                d.clock.advance(outcome.elapsedMillis)
                return Effect.fail(new Error(outcome.reason))
              case "TimedOut":
                // the driver's timer of this turn fires at its deadline: it records the timeout
                d.clock.advance(d.timeoutMillis)
                return Effect.never
            }
          })
        )
      }),
    { kind: "participant", children: [{ key: speak.name, primitive: speak }] }
  )

/** Runs the discussion on its own clock, starting at a journaled time. */
const durableDiscussion = <A, E, R>(
  run: Effect.Effect<A, E, R>,
  resolved: { readonly speakingTimeout: Duration.DurationInput }
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    if (Option.isNone(yield* Durable.currentRun)) return yield* run
    const start = yield* Effect.orDie(Durable.now)
    const outer = yield* Effect.clock
    const clock = new TurnClock(start)
    const discussion = {
      outer,
      clock,
      timeoutMillis: Duration.toMillis(Duration.decode(resolved.speakingTimeout)),
      failed: undefined as Durable.DurableError | undefined,
      stop: yield* Deferred.make<void>()
    }
    // a journal error in a turn stops the meeting (its speaker never answers) and ends the run with it
    return yield* Effect.raceFirst(
      run.pipe(Effect.withClock(clock), Effect.provideService(Discussion, discussion)),
      Effect.zipRight(Deferred.await(discussion.stop), Effect.suspend(() => Effect.die(discussion.failed)))
    )
  })

// -----------------------------------------------------------------------------
// Writes once
// -----------------------------------------------------------------------------

/**
 * The store and bus of one execution of a durable meeting: an entry is written (and published)
 * only when the store did not hold it when the execution began (a replay rebuilds the same
 * entries with the same sequence numbers); the status is saved after a written entry.
 */
const writeOnce = (meetingId: string, store: MeetingStore.Service, bus: EventBus.Service) => {
  let before: number | undefined
  let fresh = false
  const storedBefore = (tenant: string | undefined) =>
    before !== undefined ? Effect.succeed(before) : Effect.map(
      store.history(meetingId, tenant),
      (entries) => before = entries.reduce((m, e) => Math.max(m, e.seq), 0)
    )
  const onceStore: MeetingStore.Service = {
    ...store,
    append: (entry) =>
      entry.meetingId !== meetingId ? store.append(entry) : Effect.flatMap(storedBefore(entry.tenant), (max) => {
        // the driver of a durable meeting is interrupted only when its process stops or the run
        // suspends: not a meeting event (the resumed run carries on from its journal)
        if (entry.seq <= max || entry.kind === "interrupted") return Effect.void
        fresh = true
        return store.append(entry)
      }),
    saveStatus: (status) =>
      Effect.suspend(() => {
        if (!fresh && before !== undefined) return Effect.void
        fresh = false
        return store.saveStatus(status)
      })
  }
  const onceBus: EventBus.Service = {
    ...bus,
    publishEncoded: (channel, payload) => {
      const p = payload as { readonly meetingId?: unknown; readonly seq?: unknown } | null
      return channel.startsWith("meeting.") && p?.meetingId === meetingId && typeof p.seq === "number" &&
          ((before !== undefined && p.seq <= before) || channel === Meeting.channelOf.interrupted)
        ? Effect.void
        : bus.publishEncoded(channel, payload)
    }
  }
  return { store: onceStore, bus: onceBus }
}

/** The record of the meeting, saved in a journaled step. */
const recordOnce = (records: MeetingRecords.Service): MeetingRecords.Service => ({
  ...records,
  save: (record) =>
    Durable.step("records.save", records.save(record), { success: Schema.Void, error: WfErrors.HistoryStoreError }, {
      request: record.meetingId
    }).pipe(Effect.catchIf(isDurableError, Effect.die))
})

// -----------------------------------------------------------------------------
// The durable meeting
// -----------------------------------------------------------------------------

/**
 * Options of `make`: the meeting's configuration (`MeetingWorkflow.Config`) and the workflow's name.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options extends MeetingWorkflow.Config {
  /** The durable workflow's name (one per meeting configuration in an engine). Default `meeting`. */
  readonly name?: string
}

/**
 * A durable meeting: its workflow (register `layer` with the engine), and how to run one.
 *
 * @category models
 * @since 0.3.0
 */
export interface DurableMeeting {
  readonly workflow: Durable.DurableWorkflow<
    typeof MeetingInput.Type,
    MeetingWorkflow.Outcome,
    typeof MeetingError.Type | Durable.DurableError,
    | Ai.LanguageModel.LanguageModel
    | EventBus.EventBus
    | MeetingStore.MeetingStore
    | MeetingRecords.MeetingRecords
  >
  /** Registers the meeting with the engine of the runner: provide it where runs execute. */
  readonly layer: DurableMeeting["workflow"]["layer"]
  /** Starts the meeting if it is not started (by its `meetingId`) and returns its run id. */
  readonly start: (
    input: MeetingInput
  ) => Effect.Effect<string, InvalidInput | StatusStoreError, WorkflowEngine | RunStatus.RunStatusStore>
  /** Starts the meeting or attaches to it, and waits for its outcome. */
  readonly run: (
    input: MeetingInput
  ) => Effect.Effect<
    MeetingWorkflow.Outcome,
    typeof MeetingError.Type | Durable.DurableError | StatusStoreError,
    WorkflowEngine | RunStatus.RunStatusStore
  >
}

/**
 * Builds the durable meeting for `config`. Needs, where runs execute, a `LanguageModel` (provide
 * `DurableModel`: the extractors' calls are journaled), an `EventBus`, a `MeetingStore` and
 * `MeetingRecords`. A bad name fails with `InvalidInput`; a bad configuration fails the run with
 * `MeetingConfigInvalid`, as the plain workflow does.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Durable, DurableModel } from "@braid/durable"
 * import * as DurableMeeting from "@braid/durable/DurableMeeting"
 * import { ScriptedLanguageModel } from "@braid/llm"
 * import { MeetingStore } from "@braid/meetings"
 * import { EventBus } from "@braid/messaging"
 * import { MeetingRecords, Samples, Scripts } from "@braid/workflows"
 *
 * const program = Effect.gen(function*() {
 *   const meeting = yield* DurableMeeting.make({ host: Samples.launchReview.host, participants: Samples.launchReview.participants })
 *   const runner = meeting.layer.pipe(
 *     Layer.provideMerge(Durable.layerMemory),
 *     Layer.provideMerge(Layer.mergeAll(EventBus.layerMemory, MeetingStore.layerMemory, MeetingRecords.layerMemory)),
 *     Layer.provide(DurableModel.layer(ScriptedLanguageModel.provider(Scripts.meeting)))
 *   )
 *   return yield* Effect.provide(meeting.run(Samples.launchReview.input), runner)
 * })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (options: Options): Effect.Effect<DurableMeeting, InvalidInput> =>
  Effect.gen(function*() {
    const name = options.name ?? "meeting"
    if (typeof name !== "string" || name === "" || name.length > 200) {
      return yield* new InvalidInput({
        where: "DurableMeeting.make",
        path: "name",
        reason: "expected a non-empty string of at most 200 characters"
      })
    }
    if (options.speakingTimeout !== undefined) {
      const t = Duration.decodeUnknown(options.speakingTimeout)
      if (Option.isNone(t) || !Duration.greaterThan(t.value, Duration.zero) || !Duration.isFinite(t.value)) {
        return yield* new InvalidInput({
          where: "DurableMeeting.make",
          path: "speakingTimeout",
          reason: "expected a positive, finite duration"
        })
      }
    }
    const { pipeline } = MeetingWorkflow.make(options, { speaker: durableSpeaker, discussion: durableDiscussion })
    const durable = Primitive.make(
      "durableMeeting",
      (input: typeof MeetingInput.Type) =>
        Effect.gen(function*() {
          const once = writeOnce(input.meetingId, yield* MeetingStore.MeetingStore, yield* EventBus.EventBus)
          const records = recordOnce(yield* MeetingRecords.MeetingRecords)
          return yield* pipeline.invoke(input).pipe(
            Effect.provideService(MeetingStore.MeetingStore, once.store),
            Effect.provideService(EventBus.EventBus, once.bus),
            Effect.provideService(MeetingRecords.MeetingRecords, records),
            // a journal error (a changed meeting replayed over an old journal) ends the run with it
            Effect.catchSomeDefect((d) => isDurableError(d) ? Option.some(Effect.fail(d)) : Option.none())
          )
        }),
      { kind: "meeting", children: [{ key: pipeline.name, primitive: pipeline }] }
    )
    const workflow = Durable.workflow(name, durable as any, {
      input: MeetingInput,
      output: Outcome,
      error: MeetingError as any,
      key: (input) => input.meetingId
    }) as unknown as DurableMeeting["workflow"]
    return {
      workflow,
      layer: workflow.layer,
      start: (input) =>
        Effect.flatMap(
          Effect.mapError(
            Schema.decodeUnknown(MeetingInput)(input),
            (e) => new InvalidInput({ where: `input of meeting ${name}`, path: "(root)", reason: e.message })
          ),
          workflow.start
        ),
      run: (input) =>
        Effect.flatMap(
          Effect.mapError(
            Schema.decodeUnknown(MeetingInput)(input),
            (e) => new InvalidInput({ where: `input of meeting ${name}`, path: "(root)", reason: e.message })
          ),
          workflow.run
        )
    }
  })
