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
import { Json, Primitive } from "@braid/core"
import { Tokens } from "@braid/llm"
import * as EventBus from "@braid/messaging/EventBus"
import { Cause, Clock, Deferred, Duration, Effect, Either, Exit, Option, ParseResult, Schema } from "effect"
import { MeetingActionRejected } from "./Errors.js"
import type { MeetingStoreError } from "./Errors.js"
import type { Entry, EntryKind, MeetingState, Status, TurnView, View } from "./internal/meetingTypes.js"
import { Entry as EntrySchema } from "./internal/meetingTypes.js"
import { makeMemory, MeetingStore } from "./MeetingStore.js"
import type { EndedBy, Snapshot, Termination } from "./Termination.js"
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
   * What an entry records: joined, left, started, spoke, timed-out, failed, interrupted, remark, ended.
   *
   * @category models
   * @since 0.1.0
   */
  EntryKind,
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
  /** A speaker who has not answered within this is skipped (a `timed-out` entry). */
  readonly speakingTimeout?: Duration.DurationInput
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
  ended: "meeting.session.ended"
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
  topic: Schema.String,
  host: ParticipantSchema,
  hostSpeaks: Schema.optional(Schema.Boolean),
  policy: Schema.optional(Schema.Struct({ name: Schema.String, next: fn("a function") })),
  termination: Schema.Struct({ name: Schema.String, check: fn("a function"), wake: Schema.optional(fn("a function")) }),
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

/** The deepest issue of a decoding (of a union, the member that came closest): where, and what. */
const firstIssue = (error: ParseResult.ParseError): { path: string; issue: string } => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const deepest = issues.reduce<(typeof issues)[number] | undefined>(
    (best, i) => best === undefined || i.path.length > best.path.length ? i : best,
    undefined
  )
  return {
    path: deepest && deepest.path.length > 0 ? deepest.path.map(String).join(".") : "(root)",
    issue: deepest?.message ?? error.message
  }
}

/** Decodes `input`; a getter or a proxy that throws is a bad input too. */
const decodeInput = <A, I>(
  schema: Schema.Schema<A, I>,
  input: unknown
): Either.Either<A, { path: string; issue: string }> => {
  try {
    return Either.mapLeft(Schema.decodeUnknownEither(schema, { errors: "all" })(input), firstIssue)
  } catch (e) {
    return Either.left({ path: "(root)", issue: `unreadable input: ${e instanceof Error ? e.message : String(e)}` })
  }
}

/** How to name a participant in an error, whatever the caller passed. */
const nameOf = (u: unknown): string => typeof u === "string" ? u : `(${typeof u})`

const replyOf = (reply: Reply): { text: string; tokens: number; costUsd: number } =>
  typeof reply === "string"
    ? { text: reply, tokens: Tokens.estimate(reply), costUsd: 0 }
    : { text: reply.text, tokens: reply.tokens ?? Tokens.estimate(reply.text), costUsd: reply.costUsd ?? 0 }

const causeText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    const tag = typeof e === "object" && e !== null && "_tag" in e ? `${String((e as { _tag: unknown })._tag)}: ` : ""
    return `${tag}${
      e instanceof Error
        ? e.message
        : typeof e === "string"
        ? e
        : Either.getOrElse(Json.encode(e), () => String(typeof e))
    }`
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) {
    return `defect: ${defect.value instanceof Error ? defect.value.message : String(defect.value)}`
  }
  return "interrupted"
}

type TurnOutcome =
  | { readonly _tag: "Spoke"; readonly reply: Reply }
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "Failed"; readonly reason: string }
  | { readonly _tag: "Interrupted"; readonly reason: string }

/**
 * Creates a meeting (state `scheduled`, the host attending). Needs the `EventBus`; uses the
 * `MeetingStore` in context, or a private in-memory one.
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
    const hostSpeaks = config.hostSpeaks ?? true
    const policy: TurnPolicy<R> = config.policy ?? roundRobin
    const speakingTimeout = config.speakingTimeout === undefined ? undefined : Duration.decode(config.speakingTimeout)
    const lock = yield* Effect.makeSemaphore(1)
    const endSignal = yield* Deferred.make<void>()

    // --- the state (changed only under `lock`) ---
    let state: MeetingState = "scheduled"
    const speakers = new Map<string, Participant<unknown, R>>()
    const order: Array<string> = [] // present speakers, in turn order
    // Round robin: the position in `order` just after the last speaker, in [0, order.length]; read
    // modulo the length, so that a participant who joins at the end before the next turn is next.
    let nextIndex = 0
    let currentSpeaker: string | undefined
    let turnOpen = false
    let driven = false
    const pendingLeaves = new Set<string>()
    const attending = new Set<string>()
    let turns = 0
    let tokens = 0
    let costUsd = 0
    let lastText: string | undefined
    let lastSpeaker: string | undefined
    let startedAt = 0
    let endedBy: EndedBy | undefined
    const history: Array<Entry> = []
    let pendingFallback: string | undefined // why the open turn's speaker was a fallback

    const reject = (action: MeetingActionRejected["action"], who: string, reason: string) =>
      Effect.fail(new MeetingActionRejected({ meetingId: id, action, participant: who, state, reason }))

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
              state,
              reason: `invalid ${what}: ${decoded.left.issue}`,
              path: decoded.left.path
            })
          )
      })

    const statusNow = (): Status => ({
      meetingId: id,
      topic: config.topic,
      host,
      state,
      ...(currentSpeaker !== undefined ? { currentSpeaker } : {}),
      participants: [...attending],
      turns,
      tokens,
      costUsd,
      ...(endedBy !== undefined ? { endedBy } : {})
    })

    const logStoreError = (e: MeetingStoreError) => Effect.logWarning(`meeting ${id}: ${e.message}`)

    /** Appends an entry: history, store (with the status), event bus. */
    const record = (
      kind: EntryKind,
      who: string,
      extra: Partial<Omit<Entry, "meetingId" | "seq" | "at" | "kind" | "participant">> = {}
    ) =>
      Effect.gen(function*() {
        const at = yield* Clock.currentTimeMillis
        const entry: Entry = { meetingId: id, seq: history.length + 1, at, kind, participant: who, ...extra }
        history.push(entry)
        yield* store.append(entry).pipe(Effect.catchAll(logStoreError))
        yield* store.saveStatus(statusNow()).pipe(Effect.catchAll(logStoreError))
        yield* bus.publishEncoded(channelOf[kind], Object.assign({}, entry)).pipe(
          Effect.catchAll((e) => Effect.logWarning(`meeting ${id}: event not published: ${e.message}`))
        )
      })

    const locked = <A, E, R2>(self: Effect.Effect<A, E, R2>) => lock.withPermits(1)(self)

    const removeFromOrder = (name: string) => {
      const i = order.indexOf(name)
      if (i < 0) return
      order.splice(i, 1)
      if (i < nextIndex) nextIndex--
    }

    const join = (p: Participant<unknown, R>) =>
      Effect.gen(function*() {
        attending.add(p.name)
        speakers.set(p.name, p)
        if (p.name !== host || hostSpeaks) order.push(p.name)
        yield* record("joined", p.name)
      })

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
        turn: turns + 1,
        participants: [...order],
        get history() {
          return copy ??= history.slice(0, length)
        },
        ...(speaker !== undefined ? { speaker } : {})
      }
    }

    const snapshot = (): Snapshot => ({ turns, tokens, costUsd, lastText, lastSpeaker, startedAt })

    const finish = (by: EndedBy) =>
      Effect.gen(function*() {
        if (state === "ended") return
        state = "ended"
        endedBy = by
        currentSpeaker = undefined
        turnOpen = false
        yield* record("ended", host, { reason: `${by.condition}: ${by.detail}` })
        yield* Deferred.succeed(endSignal, undefined)
      })

    const attend = (p: Participant<unknown, R>) =>
      Effect.zipRight(
        input("attend", (p as { name?: unknown } | null)?.name, ParticipantSchema, p, "participant"),
        locked(Effect.gen(function*() {
          if (state === "ended") return yield* reject("attend", p.name, "the meeting has ended")
          if (attending.has(p.name)) return yield* reject("attend", p.name, "already attending")
          yield* join(p)
        }))
      )

    const start = (by: string) =>
      Effect.zipRight(
        input("start", by, Name, by, "name"),
        locked(Effect.gen(function*() {
          if (by !== host) return yield* reject("start", by, `only the host (${host}) can start the meeting`)
          if (state !== "scheduled") return yield* reject("start", by, "the meeting has already started")
          state = "running"
          startedAt = yield* Clock.currentTimeMillis
          yield* record("started", host, { text: config.topic })
        }))
      )

    const leave = (name: string) =>
      Effect.zipRight(
        input("leave", name, Name, name, "name"),
        locked(Effect.gen(function*() {
          if (state === "ended") return yield* reject("leave", name, "the meeting has ended")
          if (name === host) return yield* reject("leave", name, "the host cannot leave; the host ends the meeting")
          if (!attending.has(name) || pendingLeaves.has(name)) return yield* reject("leave", name, "not attending")
          if (turnOpen && currentSpeaker === name) {
            pendingLeaves.add(name) // finishes the turn first
            return
          }
          attending.delete(name)
          removeFromOrder(name)
          yield* record("left", name)
        }))
      )

    const end = (by: string) =>
      Effect.zipRight(
        input("end", by, Name, by, "name"),
        locked(Effect.gen(function*() {
          if (by !== host) return yield* reject("end", by, `only the host (${host}) can end the meeting`)
          if (state === "ended") return yield* reject("end", by, "the meeting has already ended")
          if (turnOpen && currentSpeaker !== undefined) {
            // The turn in progress is cut short (the driver sees the turn closed and records nothing more).
            const speaker = currentSpeaker
            turns++
            lastSpeaker = speaker
            turnOpen = false
            currentSpeaker = undefined
            pendingFallback = undefined
            yield* record("interrupted", speaker, { turn: turns, reason: "the host ended the meeting" })
          }
          yield* finish({ condition: "host", detail: `${by} ended the meeting` })
        }))
      )

    /** Decides and opens the next turn; `None` when the meeting is (or has just been) ended. */
    const openTurn: Effect.Effect<Option.Option<TurnView>, never, R> = Effect.gen(function*() {
      const check = yield* locked(Effect.gen(function*() {
        if (state === "ended") return Option.none<View>()
        const held = yield* config.termination.check(snapshot())
        if (Option.isSome(held)) {
          yield* finish(held.value)
          return Option.none<View>()
        }
        if (order.length === 0) {
          yield* finish({ condition: "no-participants", detail: "nobody is left to speak" })
          return Option.none<View>()
        }
        return Option.some(view())
      }))
      if (Option.isNone(check)) return Option.none()
      const v = check.value
      const rr = order[nextIndex % order.length]!
      const decision = yield* policy.next({ view: v, lastSpeaker, roundRobin: rr })
      return yield* locked(Effect.gen(function*() {
        if (state === "ended" || order.length === 0) return Option.none<TurnView>()
        // Someone may have left while the policy was deciding.
        let speaker = decision.speaker
        let fallback = decision.fallback
        if (!order.includes(speaker)) {
          speaker = order[nextIndex % order.length]!
          fallback = `${decision.speaker} left before the turn; round robin`
        }
        if (decision.remark) yield* record("remark", decision.remark.by, { text: decision.remark.text })
        nextIndex = order.indexOf(speaker) + 1
        currentSpeaker = speaker
        turnOpen = true
        if (fallback !== undefined) pendingFallback = fallback
        // The speaker's view: the policy's, unless the order or the history changed meanwhile.
        return Option.some(view(speaker) as TurnView)
      }))
    })
    /** Records the outcome of the open turn and applies the leaves that waited for it. */
    const closeTurn = (speaker: string, outcome: TurnOutcome) =>
      Effect.gen(function*() {
        if (!turnOpen || currentSpeaker !== speaker) return // already closed (the host ended the meeting)
        const turn = turns + 1
        const note = pendingFallback
        pendingFallback = undefined
        turns = turn
        lastSpeaker = speaker
        switch (outcome._tag) {
          case "Spoke": {
            const r = replyOf(outcome.reply)
            tokens += r.tokens
            costUsd += r.costUsd
            lastText = r.text
            yield* record("spoke", speaker, {
              turn,
              text: r.text,
              tokens: r.tokens,
              ...(r.costUsd ? { costUsd: r.costUsd } : {}),
              ...(note !== undefined ? { reason: note } : {})
            })
            break
          }
          case "TimedOut":
            lastText = undefined
            yield* record("timed-out", speaker, {
              turn,
              reason: `no answer within ${Duration.format(speakingTimeout!)}`
            })
            break
          case "Failed":
            lastText = undefined
            yield* record("failed", speaker, { turn, reason: outcome.reason })
            break
          case "Interrupted":
            lastText = undefined
            yield* record("interrupted", speaker, { turn, reason: outcome.reason })
            break
        }
        currentSpeaker = undefined
        turnOpen = false
        for (const name of pendingLeaves) {
          attending.delete(name)
          removeFromOrder(name)
          yield* record("left", name, { reason: "left after finishing the turn" })
        }
        pendingLeaves.clear()
      })

    const nextTurn: Effect.Effect<string, MeetingActionRejected, R> = Effect.gen(function*() {
      if (state !== "running") return yield* reject("speak", "(meeting)", "the meeting is not running")
      if (driven) return yield* reject("speak", "(meeting)", "the meeting is driven by run")
      if (turnOpen) return yield* reject("speak", currentSpeaker ?? "(meeting)", `it is still ${currentSpeaker}'s turn`)
      const turn = yield* openTurn
      if (Option.isNone(turn)) return yield* reject("speak", "(meeting)", "the meeting has ended")
      return turn.value.speaker
    })

    const speak = (name: string, reply: Reply) =>
      Effect.gen(function*() {
        yield* input("speak", name, Name, name, "name")
        return yield* input("speak", name, ReplySchema, reply, "reply")
      }).pipe(Effect.flatMap((reply) =>
        locked(Effect.gen(function*() {
          if (state !== "running") return yield* reject("speak", name, "the meeting is not running")
          if (driven) {
            return yield* reject("speak", name, "the meeting is driven by run: speakers speak through their primitive")
          }
          if (!attending.has(name)) {
            return yield* reject("speak", name, "not attending")
          }
          if (!turnOpen || currentSpeaker !== name) {
            return yield* reject(
              "speak",
              name,
              currentSpeaker ? `it is ${currentSpeaker}'s turn` : "no turn is open (call nextTurn)"
            )
          }
          yield* closeTurn(name, { _tag: "Spoke", reply })
        }))
      ))

    /** Completes when the meeting should stop in the middle of a turn (host ended it, or a timed condition holds). */
    const stopDuringTurn: Effect.Effect<string> = (() => {
      const hostEnded = Effect.as(Deferred.await(endSignal), "the meeting was ended")
      const wake = config.termination.wake
      if (wake === undefined) return hostEnded
      const timed: Effect.Effect<string> = Effect.gen(function*() {
        yield* wake(snapshot())
        const held = yield* config.termination.check(snapshot())
        if (Option.isSome(held)) return `${held.value.condition}: ${held.value.detail}`
        return yield* Effect.never
      })
      return Effect.raceFirst(hostEnded, timed)
    })()

    const takeTurn = (turnView: TurnView): Effect.Effect<TurnOutcome, never, R> => {
      const p = speakers.get(turnView.speaker)!
      const spoken = Effect.exit(p.speak.invoke(turnView))
      const timed = speakingTimeout === undefined
        ? Effect.map(spoken, Option.some)
        : Effect.timeoutOption(spoken, speakingTimeout)
      const outcome: Effect.Effect<TurnOutcome, never, R> = Effect.map(timed, (o): TurnOutcome => {
        if (Option.isNone(o)) return { _tag: "TimedOut" }
        const exit = o.value
        if (Exit.isFailure(exit)) return { _tag: "Failed", reason: causeText(exit.cause) }
        const reply = decodeInput(ReplySchema, exit.value)
        return Either.isRight(reply)
          ? { _tag: "Spoke", reply: reply.right }
          : { _tag: "Failed", reason: `invalid reply at ${reply.left.path}: ${reply.left.issue}` }
      })
      return Effect.raceFirst(
        outcome,
        Effect.map(stopDuringTurn, (reason): TurnOutcome => ({ _tag: "Interrupted", reason }))
      )
    }

    const run: Effect.Effect<Result, MeetingActionRejected, R> = Effect.gen(function*() {
      const claim = yield* locked(Effect.gen(function*() {
        if (driven) return yield* reject("run", host, "the meeting is already being run")
        if (state === "ended") return yield* reject("run", host, "the meeting has ended")
        if (turnOpen) return yield* reject("run", host, `a manual turn of ${currentSpeaker} is open`)
        driven = true
      }))
      void claim
      if (state === "scheduled") yield* start(host)
      yield* Effect.gen(function*() {
        while (true) {
          const turn = yield* openTurn
          if (Option.isNone(turn)) break
          const outcome = yield* takeTurn(turn.value)
          yield* locked(closeTurn(turn.value.speaker, outcome))
        }
      }).pipe(
        // If the driver itself is interrupted, the open turn is recorded as interrupted and the
        // meeting can be driven again (by `run` or by hand).
        Effect.onInterrupt(() =>
          locked(Effect.gen(function*() {
            if (turnOpen && currentSpeaker !== undefined) {
              yield* closeTurn(currentSpeaker, { _tag: "Interrupted", reason: "the meeting's driver was interrupted" })
            }
          }))
        ),
        Effect.ensuring(locked(Effect.sync(() => {
          driven = false
        })))
      )
      return {
        meetingId: id,
        endedBy: endedBy!,
        turns,
        tokens,
        costUsd,
        history: history.slice(),
        status: statusNow()
      }
    })

    yield* locked(join(config.host))

    const meeting: Meeting<R> = {
      id,
      attend,
      start,
      nextTurn,
      speak,
      leave,
      end,
      run,
      status: Effect.sync(statusNow),
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
 * The stored status and history of a meeting (from the `MeetingStore` in context).
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
export const inspect = (meetingId: string) =>
  Effect.gen(function*() {
    const store = yield* MeetingStore
    const status = yield* store.status(meetingId)
    const history = yield* store.history(meetingId)
    return { status, history }
  })
