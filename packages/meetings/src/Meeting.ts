/**
 * Multi-agent meetings: a host and participants take turns under a turn policy until a
 * termination condition holds.
 *
 * A meeting is a state machine (`scheduled` -> `running` -> `ended`):
 * - `attend` (join; also while running: the joiner goes to the end of the turn order),
 * - `start` (host only, once),
 * - `speak` (only the current speaker, only in a turn opened by `nextTurn`),
 * - `leave` (anyone but the host; the turn order adjusts; a speaker mid-turn finishes the turn
 *   first and leaves right after it),
 * - `end` (host only; a turn in progress is interrupted and recorded as such);
 * any action out of order fails with `MeetingActionRejected` naming the action, the state and why.
 *
 * Every public input is decoded with a Schema before anything changes: a reply that is neither a
 * string nor `{ text, tokens?, costUsd? }` (tokens and cost finite and not negative), a name that
 * is not a non-empty string, a participant without a primitive, a configuration with the wrong
 * shape: each fails with `MeetingActionRejected` whose `path` says where, and the meeting is as it
 * was (no turn counted, nothing recorded). A reply of that kind from a participant driven by
 * `run` is recorded as a `failed` turn.
 *
 * `run` drives the meeting: before each turn it checks the termination condition, asks the turn
 * policy for the next speaker, gives the speaker (a primitive, e.g. an agent, from the meeting
 * view to an utterance) at most `speakingTimeout` (Effect Clock: TestClock drives it), records the
 * outcome (`spoke`, `timed-out`, `failed`) and moves on. Every step is published on the `EventBus`
 * (`meeting.participant.joined`, `.left`, `.spoke`, `.timed_out`, `.failed`, `.interrupted`,
 * `meeting.moderator.remarked`, `meeting.session.started`, `.ended`) and appended to the
 * `MeetingStore` (in memory unless one is provided) with the status, so the meeting can be
 * inspected later.
 *
 * @since 0.1.0
 */
import * as Agent from "@braid/agents/Agent"
import { Primitive } from "@braid/core"
import { Tokens } from "@braid/llm"
import * as EventBus from "@braid/messaging/EventBus"
import * as Lock from "@braid/messaging/Lock"
import { Clock, Deferred, Duration, Effect, Either, Equal, Exit, Fiber, Option, Schema, Scope } from "effect"
import { MeetingActionRejected } from "./Errors.js"
import type { MeetingStoreError } from "./Errors.js"
import { causeText } from "./internal/causeText.js"
import { decodeInput, nameOf } from "./internal/decode.js"
import type { Entry, EntryKind, Invitation, MeetingState, Status, TurnView, View } from "./internal/meetingTypes.js"
import { defaultTenant as internalDefaultTenant, Entry as EntrySchema } from "./internal/meetingTypes.js"
import * as MeetingReducer from "./MeetingReducer.js"
import type { Admission } from "./MeetingReducer.js"
import { makeMemory, MeetingStore } from "./MeetingStore.js"
import type { EndedBy, Termination } from "./Termination.js"
import type { TurnPolicy } from "./TurnPolicy.js"
import { roundRobin } from "./TurnPolicy.js"

export type {
  /**
   * One step of a meeting's history, in order (`seq` from 1).
   *
   * @category models
   * @since 0.1.0
   */
  Entry,
  /**
   * What an entry records: joined, left, started, spoke, timed-out, failed, interrupted, remark,
   * ended, and the invitations: invited, accepted, declined.
   *
   * @category models
   * @since 0.1.0
   */
  EntryKind,
  /**
   * Where a participant stands with its invitation: invited, accepted or declined.
   *
   * @category models
   * @since 0.3.0
   */
  Invitation,
  /**
   * Where a meeting is: scheduled, running or ended.
   *
   * @category models
   * @since 0.1.0
   */
  MeetingState,
  /**
   * A meeting's status: topic, host, state, current speaker, participants and totals.
   *
   * @category models
   * @since 0.1.0
   */
  Status,
  /**
   * What the speaker of a turn sees.
   *
   * @category models
   * @since 0.1.0
   */
  TurnView,
  /**
   * What a turn policy and a speaker see: the topic, the coming turn, the participants and the history.
   *
   * @category models
   * @since 0.1.0
   */
  View
}

export type {
  /**
   * Who may attend: anyone (`"open"`) or only the invited (`"invitation"`).
   *
   * @category models
   * @since 0.3.0
   */
  Admission
} from "./MeetingReducer.js"

/**
 * The tenant of a meeting created without one: meetings are partitioned by tenant (the store's
 * key is the tenant and the meeting id), and this one keeps the meetings of 0.2.
 *
 * @example
 * ```ts
 * import { Meeting } from "@braid/meetings"
 *
 * const tenant = Meeting.defaultTenant // "default"
 * ```
 *
 * @category constants
 * @since 0.3.0
 */
export const defaultTenant: string = internalDefaultTenant

/**
 * What a speaker says: text, with the tokens and dollars it cost if known (tokens are estimated
 * from the text otherwise).
 *
 * @category models
 * @since 0.1.0
 */
export interface Utterance {
  readonly text: string
  readonly tokens?: number
  readonly costUsd?: number
}

/**
 * @category models
 * @since 0.1.0
 */
export type Reply = string | Utterance

/**
 * A participant: a name and a primitive (an agent, a scripted function) from the meeting view to
 * what it says.
 *
 * @category models
 * @since 0.1.0
 */
export interface Participant<out E = unknown, out R = never> {
  readonly name: string
  readonly speak: Primitive.Primitive<TurnView, Reply, E, R>
}

/**
 * Makes a participant from a primitive or a function.
 *
 * @example
 * ```ts
 * import { Meeting } from "@braid/meetings"
 *
 * const ada = Meeting.participant("ada", (view) => `Ada on ${view.topic}, turn ${view.turn}`)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const participant = <E = never, R = never>(
  name: string,
  speak: Primitive.Primitive<TurnView, Reply, E, R> | ((view: TurnView) => Reply | Effect.Effect<Reply, E, R>)
): Participant<E, R> => ({
  name,
  speak: Primitive.isPrimitive(speak)
    ? speak as Primitive.Primitive<TurnView, Reply, E, R>
    : Primitive.make(name, (view: TurnView) => {
      const r = (speak as (view: TurnView) => Reply | Effect.Effect<Reply, E, R>)(view)
      return Effect.isEffect(r) ? r : Effect.succeed(r)
    }, { kind: "participant" })
})

/**
 * Options of `fromAgent`.
 *
 * @category models
 * @since 0.1.0
 */
export interface FromAgentOptions {
  /** The participant's name (default: the agent primitive's name). */
  readonly name?: string
  /** How many of the latest utterances the agent is shown (default 20). */
  readonly recent?: number
}

/**
 * A participant from an `Agent` (or any agent-shaped primitive): at its turn the agent gets the
 * meeting as a conversation (its own earlier utterances as assistant messages, everyone else's as
 * user messages prefixed with the speaker's name, then a prompt naming the topic and the turn);
 * its reply's text is the utterance, its usage counts toward `maxTokens` and its cost (the
 * reply's `costUsd`, priced by `Metered`: 0 when the model is not metered) toward `maxCost`.
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 * import { Meeting } from "@braid/meetings"
 *
 * const planner = Agent.make({ name: "planner", instructions: "You plan releases. Be brief." })
 * const participant = Meeting.fromAgent(planner)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromAgent = <E, R>(agent: Agent.Any<E, R>, options: FromAgentOptions = {}): Participant<E, R> => {
  const name = options.name ?? agent.name
  return {
    name,
    speak: Primitive.make(name, (view: TurnView) => {
      // the latest `recent` utterances, found from the end (the history can be long)
      const spoken: Array<Entry> = []
      const recent = options.recent ?? 20
      for (let i = view.history.length - 1; i >= 0 && spoken.length < recent; i--) {
        const e = view.history[i]!
        if (e.kind === "spoke") spoken.unshift(e)
      }
      const messages: Array<Agent.Message> = spoken.map((e) =>
        e.participant === name ? Agent.assistant(e.text ?? "", name) : Agent.user(`${e.participant}: ${e.text ?? ""}`)
      )
      messages.push(
        Agent.user(
          `Meeting "${view.topic}", turn ${view.turn}. Participants: ${
            view.participants.join(", ")
          }. ${name}, it is your turn.`
        )
      )
      return Effect.map(
        agent.invoke({ messages, context: { meetingId: view.meetingId, topic: view.topic, turn: view.turn } }),
        (reply): Utterance => ({
          text: reply.text,
          tokens: reply.usage.inputTokens + reply.usage.outputTokens,
          ...(reply.costUsd > 0 ? { costUsd: reply.costUsd } : {})
        })
      )
    }, { kind: "participant", children: [{ key: agent.name, primitive: agent }] })
  }
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Config<R = never> {
  /** Default: a random UUID. */
  readonly id?: string
  readonly topic: string
  readonly host: Participant<unknown, R>
  /** Does the host take turns like everyone else? Default true. */
  readonly hostSpeaks?: boolean
  /** Default `TurnPolicy.roundRobin`. */
  readonly policy?: TurnPolicy<R>
  /** When the meeting ends (the host can always end it). */
  readonly termination: Termination
  /**
   * A speaker who has not answered within this loses the floor (a `timed-out` entry), whether
   * `run` drives the meeting or agents drive it with `nextTurn` / `speak`.
   */
  readonly speakingTimeout?: Duration.DurationInput
  /** The organization the meeting belongs to (its store key and events carry it). Default `"default"`. */
  readonly tenant?: string
  /** Who may attend: anyone (`"open"`, the default) or only the invited (`"invitation"`). */
  readonly admission?: Admission
  /** Invited when the meeting is created (by the host). */
  readonly invited?: ReadonlyArray<string>
  /**
   * Engagement: when a `Lock` service of @braid/messaging is in context, every participant (the
   * host included) is locked for this meeting while present (holder `meeting:<id>`), so an
   * agent in a meeting is busy for conversations and other meetings; the lock is released when it
   * leaves or the meeting ends, and expires with its lease if the process dies. A busy agent
   * cannot attend (`MeetingActionRejected`, unless it is freed within `wait`). `false` turns it
   * off. Default: the `Lock` defaults (fail at once, 30 s lease).
   */
  readonly engagement?: false | Lock.AcquireOptions
}

/**
 * The result of `run`: which condition ended the meeting, and its history.
 *
 * @category models
 * @since 0.1.0
 */
export interface Result {
  readonly meetingId: string
  readonly endedBy: EndedBy
  readonly turns: number
  readonly tokens: number
  readonly costUsd: number
  readonly history: ReadonlyArray<Entry>
  readonly status: Status
}

/**
 * A meeting in progress.
 *
 * @category models
 * @since 0.1.0
 */
export interface Meeting<R = never> {
  readonly id: string
  /** The organization the meeting belongs to. */
  readonly tenant: string
  /** The host invites `name` (not attending, not already invited). */
  readonly invite: (by: string, name: string) => Effect.Effect<void, MeetingActionRejected>
  /** `name` accepts its invitation (it can then attend). */
  readonly accept: (name: string) => Effect.Effect<void, MeetingActionRejected>
  /** `name` declines its invitation: it can neither attend nor speak until invited again. */
  readonly decline: (name: string) => Effect.Effect<void, MeetingActionRejected>
  /** The reducer's state now (see `MeetingReducer`). */
  readonly state: Effect.Effect<MeetingReducer.State>
  readonly attend: (participant: Participant<unknown, R>) => Effect.Effect<void, MeetingActionRejected>
  readonly start: (by: string) => Effect.Effect<void, MeetingActionRejected>
  /** Opens the next turn (manual driving): the policy picks the speaker, who must then `speak`. */
  readonly nextTurn: Effect.Effect<string, MeetingActionRejected, R>
  readonly speak: (name: string, reply: Reply) => Effect.Effect<void, MeetingActionRejected>
  readonly leave: (name: string) => Effect.Effect<void, MeetingActionRejected>
  readonly end: (by: string) => Effect.Effect<void, MeetingActionRejected>
  /** Starts the meeting if needed and drives turns until it ends. */
  readonly run: Effect.Effect<Result, MeetingActionRejected, R>
  readonly status: Effect.Effect<Status>
  readonly history: Effect.Effect<ReadonlyArray<Entry>>
}

/**
 * Every meeting event, on any `meeting.*.*` channel (each event is a history entry).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 * import { Meeting } from "@braid/meetings"
 *
 * const audit = EventBus.subscribe(Meeting.events, (entry, channel) => Effect.log(channel, entry.participant))
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const events: EventBus.Channel<Entry, typeof EntrySchema.Encoded> = EventBus.channel("meeting.*.*", EntrySchema)

/**
 * The channel of each kind of entry.
 *
 * @example
 * ```ts
 * import { Meeting } from "@braid/meetings"
 *
 * const channel = Meeting.channelOf["timed-out"] // "meeting.participant.timed_out"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const channelOf: Readonly<Record<EntryKind, string>> = {
  joined: "meeting.participant.joined",
  left: "meeting.participant.left",
  spoke: "meeting.participant.spoke",
  "timed-out": "meeting.participant.timed_out",
  failed: "meeting.participant.failed",
  interrupted: "meeting.participant.interrupted",
  remark: "meeting.moderator.remarked",
  started: "meeting.session.started",
  ended: "meeting.session.ended",
  invited: "meeting.invitation.sent",
  accepted: "meeting.invitation.accepted",
  declined: "meeting.invitation.declined"
}

const Name = Schema.String.pipe(Schema.minLength(1, { message: () => "expected a non-empty string" }))
const Amount = Schema.Number.pipe(
  Schema.finite({ message: () => "expected a finite number" }),
  Schema.nonNegative({ message: () => "expected a number >= 0" })
)
const fn = (what: string) =>
  Schema.declare((u: unknown): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function", {
    message: () => `expected ${what}`
  })

/**
 * The Schema of a reply: a string, or `{ text, tokens?, costUsd? }` with finite, non-negative
 * amounts.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Meeting } from "@braid/meetings"
 *
 * Schema.is(Meeting.ReplySchema)({ text: "ok", tokens: Number.NaN }) // false
 * ```
 *
 * @category schemas
 * @since 0.2.0
 */
export const ReplySchema: Schema.Schema<Reply> = Schema.Union(
  Schema.String,
  Schema.Struct({
    text: Schema.String,
    tokens: Schema.optionalWith(Amount, { exact: true }),
    costUsd: Schema.optionalWith(Amount, { exact: true })
  })
)

const ParticipantSchema = Schema.Struct({
  name: Name,
  speak: Schema.declare((u: unknown): u is Primitive.Any => Primitive.isPrimitive(u), {
    message: () => "expected a Primitive (see Meeting.participant)"
  })
})

const ConfigSchema = Schema.Struct({
  id: Schema.optional(Name),
  tenant: Schema.optional(Name),
  admission: Schema.optional(Schema.Literal("open", "invitation")),
  invited: Schema.optional(Schema.Array(Name)),
  topic: Schema.String,
  host: ParticipantSchema,
  hostSpeaks: Schema.optional(Schema.Boolean),
  policy: Schema.optional(Schema.Struct({ name: Schema.String, next: fn("a function") })),
  termination: Schema.Struct({ name: Schema.String, check: fn("a function"), wake: Schema.optional(fn("a function")) }),
  engagement: Schema.optional(Schema.Union(Schema.Literal(false), Schema.Object)),
  speakingTimeout: Schema.optional(
    Schema.declare(
      (u: unknown): u is Duration.DurationInput =>
        Option.match(Duration.decodeUnknown(u), {
          onNone: () => false,
          onSome: (d) => Duration.greaterThan(d, Duration.zero)
        }),
      {
        message: () => "expected a positive duration"
      }
    )
  )
})

const replyOf = (reply: Reply): { text: string; tokens: number; costUsd: number } =>
  typeof reply === "string"
    ? { text: reply, tokens: Tokens.estimate(reply), costUsd: 0 }
    : { text: reply.text, tokens: reply.tokens ?? Tokens.estimate(reply.text), costUsd: reply.costUsd ?? 0 }

type Input = MeetingReducer.CommandInput

/**
 * Creates a meeting (state `scheduled`, the host attending). Needs the `EventBus`; uses the
 * `MeetingStore` in context, or a private in-memory one.
 *
 * The meeting is a driver around `MeetingReducer.reduce`: every action is a command to the
 * reducer, applied under one lock; the entries it produces are appended to the history, stored
 * and published; a turn that opens starts a timer on Effect's Clock (the speaking timeout, and
 * the wake-up of time-based termination conditions), so a silent speaker loses the floor in
 * every mode.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 * import { Meeting, Termination } from "@braid/meetings"
 *
 * const program = Effect.gen(function*() {
 *   const host = Meeting.participant("host", () => "Welcome")
 *   const meeting = yield* Meeting.make({ topic: "Q3 plan", host, termination: Termination.maxTurns(4) })
 *   yield* meeting.attend(Meeting.participant("bob", () => "Bob here"))
 *   const result = yield* meeting.run
 *   return result.endedBy.condition // "maxTurns(4)"
 * }).pipe(Effect.provide(EventBus.layerMemory))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <R = never>(
  config: Config<R>
): Effect.Effect<Meeting<R>, MeetingActionRejected, EventBus.EventBus> =>
  Effect.gen(function*() {
    const checkedConfig = decodeInput(ConfigSchema, config)
    if (Either.isLeft(checkedConfig)) {
      const c = config as unknown as
        | { readonly id?: unknown; readonly host?: { readonly name?: unknown } }
        | null
        | undefined
      return yield* new MeetingActionRejected({
        meetingId: typeof c?.id === "string" ? c.id : "(new)",
        action: "make",
        participant: nameOf(c?.host?.name),
        state: "scheduled",
        reason: `invalid configuration: ${checkedConfig.left.issue}`,
        path: checkedConfig.left.path
      })
    }
    const bus = yield* EventBus.EventBus
    const store = yield* Effect.flatMap(
      Effect.serviceOption(MeetingStore),
      Option.match({ onNone: () => makeMemory, onSome: Effect.succeed })
    )
    const id = config.id ?? crypto.randomUUID()
    const host = config.host.name
    const policy: TurnPolicy<R> = config.policy ?? roundRobin
    const lock = yield* Effect.makeSemaphore(1)
    const endSignal = yield* Deferred.make<void>()

    // --- the driver's state: the reducer's state and what cannot be data (changed under `lock`) ---
    let state = MeetingReducer.initial({
      meetingId: id,
      tenant: config.tenant,
      topic: config.topic,
      host,
      hostSpeaks: config.hostSpeaks,
      admission: config.admission,
      speakingTimeout: config.speakingTimeout === undefined
        ? undefined
        : Duration.toMillis(Duration.decode(config.speakingTimeout))
    })
    const history: Array<Entry> = []
    const speakers = new Map<string, Participant<unknown, R>>()
    let driven = false
    /** Completed when the open turn closes (however it closes). */
    let floorClosed: Deferred.Deferred<void> | undefined
    /** The timer of the open turn (speaking timeout, termination wake-up). */
    let watcher: Fiber.RuntimeFiber<void> | undefined

    // --- engagement: each present participant holds its agent's lock (when a Lock is in context) ---
    const locks = config.engagement === false
      ? Option.none<Lock.Service>()
      : yield* Effect.serviceOption(Lock.Lock)
    /** The scope of each held lock, by participant (closed when it leaves or the meeting ends). */
    const engaged = new Map<string, Scope.CloseableScope>()
    const holder = `meeting:${id}`
    /** Locks `name` for this meeting (no-op without a Lock, or when already held). */
    const engage = (name: string): Effect.Effect<void, MeetingActionRejected> =>
      Option.isNone(locks) || engaged.has(name) ? Effect.void : Effect.gen(function*() {
        const scope = yield* Scope.make()
        const acquired = yield* locks.value.forOrganization(state.tenant).pipe(
          Effect.flatMap((l) => l.acquire(name, holder, config.engagement || undefined)),
          Scope.extend(scope),
          Effect.either
        )
        if (Either.isLeft(acquired)) {
          yield* Scope.close(scope, Exit.void)
          return yield* reject("attend", name, `${name} cannot be engaged: ${acquired.left.message}`)
        }
        engaged.set(name, scope)
      })
    /** Releases the locks of whoever is no longer present (everyone, once the meeting has ended). */
    const releaseAbsent = Effect.suspend(() => {
      const gone = [...engaged].filter(([name]) => state.phase === "ended" || !state.present.includes(name))
      for (const [name] of gone) engaged.delete(name)
      return Effect.forEach(gone, ([, scope]) => Scope.close(scope, Exit.void), { discard: true })
    })

    const locked = <A, E, R2>(self: Effect.Effect<A, E, R2>) => lock.withPermits(1)(self)
    const logStoreError = (e: MeetingStoreError) => Effect.logWarning(`meeting ${id}: ${e.message}`)

    /**
     * Stores, then publishes, what a command produced (a store or bus failure is logged, never
     * fatal): whoever reacts to an event finds the entry and the status it led to in the store.
     */
    const persist = (entries: ReadonlyArray<Entry>) =>
      Effect.gen(function*() {
        if (entries.length === 0) return
        for (const entry of entries) yield* store.append(entry).pipe(Effect.catchAll(logStoreError))
        yield* store.saveStatus(MeetingReducer.status(state)).pipe(Effect.catchAll(logStoreError))
        for (const entry of entries) {
          yield* bus.publishEncoded(channelOf[entry.kind], Object.assign({}, entry)).pipe(
            Effect.catchAll((e) => Effect.logWarning(`meeting ${id}: event not published: ${e.message}`))
          )
        }
      })

    /**
     * Applies a command (the caller holds the lock), then runs its effects: storage, events,
     * timers. The timer of a turn that closes is interrupted, unless it is the fiber applying the
     * command (its `Expire` is then stored before it ends by itself).
     */
    const apply = (input: Input): Effect.Effect<void, MeetingActionRejected> =>
      Effect.gen(function*() {
        const at = yield* Clock.currentTimeMillis
        const before = state
        const result = MeetingReducer.reduce(before, { ...input, at } as MeetingReducer.Command)
        if (Either.isLeft(result)) return yield* Effect.fail(result.left)
        state = result.right.state
        for (const e of result.right.entries) history.push(e)
        const was = before.floor?.turn
        const now = state.floor?.turn
        if (was !== now) {
          if (was !== undefined) {
            const self = yield* Effect.fiberId
            if (watcher !== undefined && !Equal.equals(watcher.id(), self)) yield* Fiber.interruptFork(watcher)
            watcher = undefined
            yield* Deferred.succeed(floorClosed!, undefined)
          }
          if (state.floor !== undefined) {
            floorClosed = yield* Deferred.make<void>()
            const watch = watchFloor(state.floor)
            watcher = watch === undefined ? undefined : yield* Effect.forkDaemon(watch)
          }
        }
        if (before.phase !== "ended" && state.phase === "ended") yield* Deferred.succeed(endSignal, undefined)
        if (engaged.size > 0) yield* releaseAbsent
        yield* persist(result.right.entries)
      })
    const dispatch = (input: Input) => locked(apply(input))

    /**
     * The timer of an open turn: at its deadline the speaker loses the floor (`Expire`); when a
     * time-based termination condition may hold (its `wake`), the condition is checked and the
     * meeting concluded if it holds. `undefined` when there is nothing to wait for.
     */
    const watchFloor = (floor: MeetingReducer.Floor): Effect.Effect<void> | undefined => {
      const deadline = floor.deadline
      const wake = config.termination.wake
      if (deadline === undefined && wake === undefined) return undefined
      // the waits race; the command is applied by the watcher's own fiber (not a racing child),
      // so closing the turn does not interrupt the fiber that is storing its entry
      // until the Clock reads the deadline (a live timer may fire a millisecond before `Date.now` gets there)
      const untilDeadline: Effect.Effect<"deadline"> = deadline === undefined
        ? Effect.never
        : Effect.gen(function*() {
          let now = yield* Clock.currentTimeMillis
          while (now < deadline) {
            yield* Effect.sleep(Duration.millis(deadline - now))
            now = yield* Clock.currentTimeMillis
          }
          return "deadline" as const
        })
      const expire = Effect.zipRight(untilDeadline, Effect.ignore(dispatch({ _tag: "Expire", turn: floor.turn })))
      if (wake === undefined) return expire
      return Effect.gen(function*() {
        const first = yield* Effect.raceFirst(
          untilDeadline,
          Effect.as(wake(MeetingReducer.snapshot(state)), "wake" as const)
        )
        if (first === "deadline") return yield* Effect.ignore(dispatch({ _tag: "Expire", turn: floor.turn }))
        const concluded = yield* locked(Effect.gen(function*() {
          if (state.floor?.turn !== floor.turn) return true
          const held = yield* config.termination.check(MeetingReducer.snapshot(state))
          if (Option.isNone(held)) return false
          yield* Effect.ignore(apply({ _tag: "Conclude", endedBy: held.value }))
          return true
        }))
        // a wake-up that did not end the meeting (`and(timeout, mention)`) does not cut the turn
        if (!concluded) yield* expire
      })
    }

    const reject = (action: MeetingActionRejected["action"], who: string, reason: string) =>
      Effect.fail(new MeetingActionRejected({ meetingId: id, action, participant: who, state: state.phase, reason }))

    /** Decodes a public input before anything is touched; a bad one is rejected, naming where. */
    const input = <A, I>(
      action: MeetingActionRejected["action"],
      who: unknown,
      schema: Schema.Schema<A, I>,
      value: unknown,
      what: string
    ) =>
      Effect.suspend(() => {
        const decoded = decodeInput(schema, value)
        return Either.isRight(decoded)
          ? Effect.succeed(decoded.right)
          : Effect.fail(
            new MeetingActionRejected({
              meetingId: id,
              action,
              participant: nameOf(who),
              state: state.phase,
              reason: `invalid ${what}: ${decoded.left.issue}`,
              path: decoded.left.path
            })
          )
      })
    /** A command on a name: the name is decoded first. */
    const byName = (action: MeetingActionRejected["action"], toInput: (name: string) => Input) => (name: string) =>
      Effect.flatMap(input(action, name, Name, name, "name"), (n) => dispatch(toInput(n)))

    /**
     * The view of the meeting now. Its `history` is the history as of now, copied only if someone
     * reads it (the history is append-only, so the first `length` entries never change).
     */
    const view = (speaker?: string): View & { speaker?: string } => {
      const length = history.length
      let copy: ReadonlyArray<Entry> | undefined
      return {
        meetingId: id,
        topic: config.topic,
        host,
        turn: state.turns + 1,
        participants: state.order,
        get history() {
          return copy ??= history.slice(0, length)
        },
        ...(speaker !== undefined ? { speaker } : {})
      }
    }

    const attend = (p: Participant<unknown, R>) =>
      Effect.zipRight(
        input("attend", (p as { name?: unknown } | null)?.name, ParticipantSchema, p, "participant"),
        locked(Effect.gen(function*() {
          yield* engage(p.name)
          yield* apply({ _tag: "Join", name: p.name }).pipe(Effect.tapError(() => releaseAbsent))
          speakers.set(p.name, p)
        }))
      )

    /** Decides and opens the next turn; `None` when the meeting is (or has just been) ended. */
    const openTurn: Effect.Effect<
      Option.Option<{ readonly view: TurnView; readonly closed: Deferred.Deferred<void> }>,
      MeetingActionRejected,
      R
    > = Effect.gen(function*() {
      const ready = yield* locked(Effect.gen(function*() {
        if (state.phase === "ended") return Option.none()
        const held = yield* config.termination.check(MeetingReducer.snapshot(state))
        if (Option.isSome(held)) {
          yield* apply({ _tag: "Conclude", endedBy: held.value })
          return Option.none()
        }
        const rr = MeetingReducer.roundRobin(state)
        if (rr === undefined) {
          yield* apply({ _tag: "GrantFloor", speaker: "" }) // nobody to speak: the reducer ends the meeting
          return Option.none()
        }
        return Option.some({ view: view(), roundRobin: rr, lastSpeaker: state.lastSpeaker })
      }))
      if (Option.isNone(ready)) return Option.none()
      const decision = yield* policy.next(ready.value)
      return yield* locked(Effect.gen(function*() {
        if (state.phase === "ended") return Option.none()
        yield* apply({
          _tag: "GrantFloor",
          speaker: decision.speaker,
          fallback: decision.fallback,
          remark: decision.remark
        })
        if (state.floor === undefined) return Option.none() // nobody was left: the meeting ended
        return Option.some({ view: view(state.floor.speaker) as TurnView, closed: floorClosed! })
      }))
    })

    const nextTurn: Effect.Effect<string, MeetingActionRejected, R> = Effect.gen(function*() {
      if (state.phase !== "running") return yield* reject("speak", "(meeting)", "the meeting is not running")
      if (driven) return yield* reject("speak", "(meeting)", "the meeting is driven by run")
      if (state.floor !== undefined) {
        return yield* reject("speak", state.floor.speaker, `it is still ${state.floor.speaker}'s turn`)
      }
      const turn = yield* openTurn
      if (Option.isNone(turn)) return yield* reject("speak", "(meeting)", "the meeting has ended")
      return turn.value.view.speaker
    })

    const speak = (name: string, reply: Reply) =>
      Effect.gen(function*() {
        yield* input("speak", name, Name, name, "name")
        return yield* input("speak", name, ReplySchema, reply, "reply")
      }).pipe(Effect.flatMap((reply) =>
        locked(Effect.gen(function*() {
          if (state.phase === "running" && driven) {
            return yield* reject("speak", name, "the meeting is driven by run: speakers speak through their primitive")
          }
          yield* apply({ _tag: "Speak", name, ...replyOf(reply) })
        }))
      ))

    /** Gives the floor's speaker its turn (its primitive), until it answers or the turn closes otherwise. */
    const takeTurn = (turnView: TurnView, closed: Deferred.Deferred<void>): Effect.Effect<void, never, R> => {
      const p = speakers.get(turnView.speaker)!
      const answered = Effect.map(Effect.exit(p.speak.invoke(turnView)), Option.some)
      const closedFirst = Effect.as(Deferred.await(closed), Option.none<Exit.Exit<Reply, unknown>>())
      return Effect.raceFirst(answered, closedFirst).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.void, // timed out, interrupted or ended meanwhile: already recorded
          onSome: (exit) => {
            const turn = turnView.turn
            const name = turnView.speaker
            if (Exit.isFailure(exit)) return dispatch({ _tag: "Fail", name, turn, reason: causeText(exit.cause) })
            const reply = decodeInput(ReplySchema, exit.value)
            return Either.isRight(reply)
              ? dispatch({ _tag: "Speak", name, turn, ...replyOf(reply.right) })
              : dispatch({
                _tag: "Fail",
                name,
                turn,
                reason: `invalid reply at ${reply.left.path}: ${reply.left.issue}`
              })
          }
        })),
        Effect.ignore // an answer that came after the turn closed (same instant as the timeout) is dropped
      )
    }

    const run: Effect.Effect<Result, MeetingActionRejected, R> = Effect.gen(function*() {
      yield* locked(Effect.gen(function*() {
        if (driven) return yield* reject("run", host, "the meeting is already being run")
        if (state.phase === "ended") return yield* reject("run", host, "the meeting has ended")
        if (state.floor !== undefined) {
          return yield* reject("run", host, `a manual turn of ${state.floor.speaker} is open`)
        }
        driven = true
      }))
      yield* Effect.gen(function*() {
        if (state.phase === "scheduled") yield* dispatch({ _tag: "Start", by: host })
        while (true) {
          const turn = yield* openTurn
          if (Option.isNone(turn)) break
          yield* takeTurn(turn.value.view, turn.value.closed)
        }
      }).pipe(
        // If the driver itself is interrupted, the open turn is recorded as interrupted and the
        // meeting can be driven again (by `run` or by hand).
        Effect.onInterrupt(() =>
          Effect.ignore(dispatch({ _tag: "Interrupt", reason: "the meeting's driver was interrupted" }))
        ),
        Effect.ensuring(locked(Effect.sync(() => {
          driven = false
        })))
      )
      return {
        meetingId: id,
        endedBy: state.endedBy!,
        turns: state.turns,
        tokens: state.tokens,
        costUsd: state.costUsd,
        history: history.slice(),
        status: MeetingReducer.status(state)
      }
    })

    yield* locked(Effect.gen(function*() {
      yield* engage(host)
      yield* apply({ _tag: "Join", name: host })
      speakers.set(host, config.host)
      for (const name of config.invited ?? []) yield* apply({ _tag: "Invite", by: host, name })
    }))

    const meeting: Meeting<R> = {
      id,
      tenant: state.tenant,
      attend,
      start: byName("start", (by) => ({ _tag: "Start", by })),
      invite: (by, name) =>
        Effect.zipRight(
          input("invite", by, Name, by, "name"),
          Effect.flatMap(input("invite", name, Name, name, "name"), (n) => dispatch({ _tag: "Invite", by, name: n }))
        ),
      accept: byName("accept", (name) => ({ _tag: "Accept", name })),
      decline: byName("decline", (name) => ({ _tag: "Decline", name })),
      nextTurn,
      speak,
      leave: byName("leave", (name) => ({ _tag: "Leave", name })),
      end: byName("end", (by) => ({ _tag: "End", by })),
      run,
      status: Effect.sync(() => MeetingReducer.status(state)),
      state: Effect.sync(() => state),
      history: Effect.sync(() => history.slice())
    }
    return meeting
  })

/**
 * Options of `asPrimitive`: a meeting's configuration without its topic (the input), with the
 * participants who attend from the start.
 *
 * @category models
 * @since 0.1.0
 */
export interface PrimitiveOptions<R> extends Omit<Config<R>, "topic" | "id"> {
  readonly participants: ReadonlyArray<Participant<unknown, R>>
}

/**
 * A whole meeting as a primitive (kind `meeting`, its participants as children), from a topic to
 * the meeting's result: a step of a pipeline like any other, with its own span and the turns'
 * spans under it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive, Runner, sequence } from "@braid/core"
 * import { EventBus } from "@braid/messaging"
 * import { Meeting, Termination } from "@braid/meetings"
 *
 * const standup = Meeting.asPrimitive("standup", {
 *   host: Meeting.participant("lead", () => "Updates?"),
 *   participants: [Meeting.participant("dev", () => "Shipped the export.")],
 *   termination: Termination.maxTurns(2)
 * })
 * const minutes = Primitive.sync("minutes", (r: Meeting.Result) => r.history.filter((e) => e.kind === "spoke").map((e) => e.text).join(" / "))
 * const program = Runner.run(sequence(standup, minutes), { topic: "Monday" }).pipe(Effect.provide(EventBus.layerMemory))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const asPrimitive = <R = never>(
  name: string,
  options: PrimitiveOptions<R>
): Primitive.Primitive<
  { readonly topic: string; readonly id?: string },
  Result,
  MeetingActionRejected,
  R | EventBus.EventBus
> => {
  const everyone = [options.host, ...options.participants]
  return Primitive.make(
    name,
    (input: { readonly topic: string; readonly id?: string }) =>
      Effect.gen(function*() {
        const meeting = yield* make<R>({
          ...options,
          topic: input.topic,
          ...(input.id !== undefined ? { id: input.id } : {})
        })
        for (const p of options.participants) yield* meeting.attend(p)
        return yield* meeting.run
      }),
    {
      kind: "meeting",
      children: everyone.map((p) => ({ key: p.name, primitive: p.speak })),
      meta: {
        policy: options.policy?.name ?? "roundRobin",
        termination: options.termination.name,
        ...(options.speakingTimeout !== undefined ? { speakingTimeout: Duration.format(options.speakingTimeout) } : {})
      }
    }
  )
}

/**
 * The stored status and history of a meeting of a tenant (default `"default"`) from the
 * `MeetingStore` in context.
 *
 * @example
 * ```ts
 * import { Meeting } from "@braid/meetings"
 *
 * const past = Meeting.inspect("planning-1")
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const inspect = (meetingId: string, options: { readonly tenant?: string } = {}) =>
  Effect.gen(function*() {
    const store = yield* MeetingStore
    const tenant = options.tenant ?? defaultTenant
    const status = yield* store.status(meetingId, tenant)
    const history = yield* store.history(meetingId, tenant)
    return { status, history }
  })
