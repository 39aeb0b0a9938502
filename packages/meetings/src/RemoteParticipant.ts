/**
 * Participants in other processes: a meeting held in one process (the host's) and agents that
 * join it from anywhere the `EventBus` reaches (`RedisEventBus` of @braid/redis across
 * processes and machines; the in-memory bus within one process).
 *
 * - The host process calls `RemoteParticipant.host(meeting)`: it answers the requests of remote
 *   agents (join, leave, accept, decline; a request is applied once, a rejected one is answered
 *   with the reason) and gives each remote agent that joins a participant whose turn is a
 *   message: the floor is granted on the bus (`meeting_remote.turn.granted`, with the view of
 *   the meeting), and the turn ends with the agent's reply (`meeting_remote.turn.replied`), or
 *   with a `RemoteParticipantError` after `timeout` (default 30 s), on top of the meeting's own
 *   speaking timeout. Either way the meeting moves on.
 * - An agent in another process calls `RemoteParticipant.join({ meetingId, tenant, name, speak })`:
 *   it serves its turns with `speak` (a function or a primitive, as `Meeting.participant`),
 *   sends its join request until the meeting records it (the bus is at-most-once; requests are
 *   idempotent) and returns a session to leave or to wait for the end.
 *
 * The history and status go wherever the host's `MeetingStore` keeps them: with
 * `PostgresMeetingStore` any process can read a meeting (`Meeting.inspect`) while it runs and
 * after it ended. Events carry the tenant, and every message is matched on tenant and meeting id.
 *
 * @since 0.3.0
 */
import { Primitive } from "@braid/core"
import type { EventBusError, InvalidChannel } from "@braid/messaging/Errors"
import * as EventBus from "@braid/messaging/EventBus"
import { Deferred, Duration, Effect, Schema } from "effect"
import type { Scope } from "effect"
import { MeetingActionRejected, RemoteParticipantError } from "./Errors.js"
import { causeText } from "./internal/causeText.js"
import type { Entry, TurnView } from "./internal/meetingTypes.js"
import { defaultTenant, Entry as EntrySchema } from "./internal/meetingTypes.js"
import type { Meeting, Participant, Reply } from "./Meeting.js"
import { events, participant as makeParticipant } from "./Meeting.js"

const Key = { tenant: Schema.String, meetingId: Schema.String }

const RequestAction = Schema.Literal("join", "leave", "accept", "decline")

/**
 * A remote agent's request to the host (join, leave, accept, decline).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RemoteParticipant } from "@braid/meetings"
 *
 * Schema.is(RemoteParticipant.Request)({ tenant: "acme", meetingId: "m", requestId: "r1", name: "ann", action: "join" }) // true
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Request = Schema.Struct({ ...Key, requestId: Schema.String, name: Schema.String, action: RequestAction })

/**
 * The host's answer to a request it refused.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RemoteParticipant } from "@braid/meetings"
 *
 * Schema.is(RemoteParticipant.Rejected)({ tenant: "acme", meetingId: "m", requestId: "r1", name: "eve", action: "join", reason: "not invited" }) // true
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Rejected = Schema.Struct({
  ...Key,
  requestId: Schema.String,
  name: Schema.String,
  action: RequestAction,
  reason: Schema.String
})

/**
 * The floor granted to a remote speaker, with what it needs to speak (the latest entries of the history).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RemoteParticipant } from "@braid/meetings"
 *
 * const grant = Schema.decodeUnknownEither(RemoteParticipant.Grant)({ speaker: "ann" }) // Left: tenant, meetingId, turn ... are missing
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Grant = Schema.Struct({
  ...Key,
  speaker: Schema.String,
  turn: Schema.Number,
  topic: Schema.String,
  host: Schema.String,
  participants: Schema.Array(Schema.String),
  history: Schema.Array(EntrySchema)
})

/**
 * A remote speaker's answer: its reply (decoded by the meeting like any reply), or its error.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RemoteParticipant } from "@braid/meetings"
 *
 * Schema.is(RemoteParticipant.Answer)({ tenant: "acme", meetingId: "m", speaker: "ann", turn: 2, reply: "hi" }) // true
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Answer = Schema.Struct({
  ...Key,
  speaker: Schema.String,
  turn: Schema.Number,
  reply: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.String)
})

/**
 * The channels of the remote protocol (apart from the meeting's own events, `Meeting.events`).
 *
 * @example
 * ```ts
 * import { RemoteParticipant } from "@braid/meetings"
 *
 * const name = RemoteParticipant.channels.granted.name // "meeting_remote.turn.granted"
 * ```
 *
 * @category constants
 * @since 0.3.0
 */
export const channels = {
  request: EventBus.channel("meeting_remote.request.sent", Request),
  rejected: EventBus.channel("meeting_remote.request.rejected", Rejected),
  granted: EventBus.channel("meeting_remote.turn.granted", Grant),
  replied: EventBus.channel("meeting_remote.turn.replied", Answer)
} as const

/**
 * Options of a remote participant on the host's side.
 *
 * @category models
 * @since 0.3.0
 */
export interface ParticipantOptions {
  /** How long the host waits for the reply of a turn. Default 30 s. */
  readonly timeout?: Duration.DurationInput
  /** How many of the latest history entries go with the floor. Default 20. */
  readonly recent?: number
}

/**
 * The host side: serves the requests of remote agents for one meeting.
 *
 * @category models
 * @since 0.3.0
 */
export interface Host {
  /** A participant of the meeting whose turns are taken by the remote agent `name`. */
  readonly participant: (name: string, options?: ParticipantOptions) => Participant<RemoteParticipantError>
}

const errorText = (e: unknown) => e instanceof Error ? e.message : String(e)
const turnKey = (speaker: string, turn: number) => JSON.stringify([speaker, turn])

/**
 * Serves remote agents for `meeting` for the life of the scope: join requests become
 * `meeting.attend(host.participant(name))` (with `options` for every remote participant), the
 * other requests `leave` / `accept` / `decline`; a refused request is answered with the reason.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 * import { Meeting, RemoteParticipant, Termination } from "@braid/meetings"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const meeting = yield* Meeting.make({
 *     id: "weekly",
 *     topic: "weekly",
 *     host: Meeting.participant("lead", () => "Updates?"),
 *     speakingTimeout: "1 minute",
 *     termination: Termination.maxTurns(10)
 *   })
 *   yield* RemoteParticipant.host(meeting) // agents elsewhere can now join "weekly"
 *   return yield* meeting.run
 * })).pipe(Effect.provide(EventBus.layerMemory))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const host = <R>(
  meeting: Meeting<R>,
  options: ParticipantOptions = {}
): Effect.Effect<Host, InvalidChannel | EventBusError, EventBus.EventBus | Scope.Scope> =>
  Effect.gen(function*() {
    const bus = yield* EventBus.EventBus
    const pending = new Map<string, Deferred.Deferred<unknown, RemoteParticipantError>>()
    const handled = new Set<string>()
    const ours = (m: { readonly tenant: string; readonly meetingId: string }) =>
      m.tenant === meeting.tenant && m.meetingId === meeting.id

    yield* bus.subscribe(channels.replied, (answer) => {
      if (!ours(answer)) return Effect.void
      const waiting = pending.get(turnKey(answer.speaker, answer.turn))
      if (waiting === undefined) return Effect.void // late, or not for this process
      return answer.error !== undefined
        ? Deferred.fail(
          waiting,
          new RemoteParticipantError({ meetingId: meeting.id, participant: answer.speaker, reason: answer.error })
        )
        : Deferred.succeed(waiting, answer.reply)
    })

    const participant = (name: string, participantOptions: ParticipantOptions = options): Participant<
      RemoteParticipantError
    > => {
      const timeout = Duration.decode(participantOptions.timeout ?? "30 seconds")
      const recent = participantOptions.recent ?? 20
      return {
        name,
        speak: Primitive.make(name, (view: TurnView) =>
          Effect.gen(function*() {
            const key = turnKey(name, view.turn)
            const reply = yield* Deferred.make<unknown, RemoteParticipantError>()
            pending.set(key, reply)
            yield* EventBus.publish(channels.granted, {
              tenant: meeting.tenant,
              meetingId: meeting.id,
              speaker: name,
              turn: view.turn,
              topic: view.topic,
              host: view.host,
              participants: view.participants,
              history: view.history.slice(-recent)
            }).pipe(
              Effect.mapError((e) =>
                new RemoteParticipantError({ meetingId: meeting.id, participant: name, reason: errorText(e) })
              ),
              Effect.provideService(EventBus.EventBus, bus)
            )
            return (yield* Deferred.await(reply).pipe(
              Effect.timeoutFail({
                duration: timeout,
                onTimeout: () =>
                  new RemoteParticipantError({
                    meetingId: meeting.id,
                    participant: name,
                    reason: `no reply within ${Duration.format(timeout)}`
                  })
              }),
              Effect.ensuring(Effect.sync(() => pending.delete(key)))
            )) as Reply // decoded by the meeting: a reply that is not one is a failed turn
          }), { kind: "participant", meta: { remote: true, timeout: Duration.format(timeout) } })
      }
    }

    yield* bus.subscribe(channels.request, (request) => {
      if (!ours(request) || handled.has(request.requestId)) return Effect.void
      handled.add(request.requestId)
      const applied: Effect.Effect<void, MeetingActionRejected> = request.action === "join"
        ? meeting.attend(participant(request.name) as Participant<unknown, R>)
        : request.action === "leave"
        ? meeting.leave(request.name)
        : request.action === "accept"
        ? meeting.accept(request.name)
        : meeting.decline(request.name)
      return Effect.catchAll(applied, (e) =>
        Effect.ignore(bus.publishEncoded(channels.rejected.name, {
          tenant: meeting.tenant,
          meetingId: meeting.id,
          requestId: request.requestId,
          name: request.name,
          action: request.action,
          reason: e.reason
        })))
    })
    return { participant }
  })

/**
 * Options of `join`.
 *
 * @category models
 * @since 0.3.0
 */
export interface JoinOptions<E, R> {
  readonly meetingId: string
  /** Default `"default"`. */
  readonly tenant?: string
  readonly name: string
  /** How the agent speaks at its turn: a function or a primitive (as `Meeting.participant`). */
  readonly speak: Primitive.Primitive<TurnView, Reply, E, R> | ((view: TurnView) => Reply | Effect.Effect<Reply, E, R>)
  /** How long to wait for the meeting to record each request. Default 30 s. */
  readonly timeout?: Duration.DurationInput
  /** How often an unanswered request is sent again (the bus may lose messages). Default 1 s. */
  readonly resendEvery?: Duration.DurationInput
}

/**
 * A remote agent's place in a meeting.
 *
 * @category models
 * @since 0.3.0
 */
export interface Session {
  readonly name: string
  /** Turns this process has answered. */
  readonly turns: Effect.Effect<number>
  /** Completes with the meeting's `ended` entry. */
  readonly ended: Effect.Effect<Entry>
  /** Leaves the meeting (after the turn in progress, if it is this agent's). */
  readonly leave: Effect.Effect<void, MeetingActionRejected | InvalidChannel | EventBusError>
}

/** Sends a request until the meeting records it (an entry of `kind` for `name`) or refuses it. */
const request = (
  key: { readonly tenant: string; readonly meetingId: string },
  name: string,
  action: typeof RequestAction.Type,
  kind: Entry["kind"],
  options: { readonly timeout?: Duration.DurationInput; readonly resendEvery?: Duration.DurationInput }
) =>
  Effect.scoped(Effect.gen(function*() {
    const requestId = crypto.randomUUID()
    const done = yield* Deferred.make<void, MeetingActionRejected>()
    const rejected = (reason: string) =>
      new MeetingActionRejected({
        meetingId: key.meetingId,
        action: action === "join" ? "attend" : action,
        participant: name,
        state: "(remote)",
        reason
      })
    yield* EventBus.subscribe(events, (entry) =>
      entry.tenant === key.tenant && entry.meetingId === key.meetingId && entry.participant === name &&
        entry.kind === kind
        ? Deferred.succeed(done, undefined)
        : Effect.void)
    yield* EventBus.subscribe(channels.rejected, (r) =>
      r.requestId === requestId ? Deferred.fail(done, rejected(r.reason)) : Effect.void)
    const timeout = options.timeout ?? "30 seconds"
    const send = EventBus.publish(channels.request, { ...key, requestId, name, action })
    yield* Effect.gen(function*() {
      while (!(yield* Deferred.isDone(done))) {
        yield* send
        yield* Effect.raceFirst(Deferred.await(done), Effect.sleep(options.resendEvery ?? "1 second"))
      }
      yield* Deferred.await(done)
    }).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          rejected(`the meeting did not answer within ${Duration.format(Duration.decode(timeout))}`)
      })
    )
  }))

/**
 * Joins a meeting held by another process (its host runs `RemoteParticipant.host`) and takes
 * its turns there for the life of the scope: at each turn granted to `name` it speaks with
 * `speak` and sends the reply (a failure is sent as the turn's error: a `failed` turn).
 * Fails with `MeetingActionRejected` when the meeting refuses (not invited, declined, already
 * attending, ended) or does not answer within `timeout`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RedisEventBus } from "@braid/redis"
 * import { RemoteParticipant } from "@braid/meetings"
 *
 * const agent = Effect.scoped(Effect.gen(function*() {
 *   const session = yield* RemoteParticipant.join({
 *     meetingId: "weekly",
 *     tenant: "acme",
 *     name: "ann",
 *     speak: (view) => `Ann on ${view.topic}, turn ${view.turn}`
 *   })
 *   return yield* session.ended
 * })).pipe(Effect.provide(RedisEventBus.layer({ url: "redis://127.0.0.1:6379", prefix: "app:" })))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const join = <E = never, R = never>(
  options: JoinOptions<E, R>
): Effect.Effect<
  Session,
  MeetingActionRejected | InvalidChannel | EventBusError,
  EventBus.EventBus | Scope.Scope | R
> =>
  Effect.gen(function*() {
    const bus = yield* EventBus.EventBus
    const key = { tenant: options.tenant ?? defaultTenant, meetingId: options.meetingId }
    const name = options.name
    const speaker = makeParticipant(name, options.speak)
    const ended = yield* Deferred.make<Entry>()
    let turns = 0
    yield* EventBus.subscribe(events, (entry) =>
      entry.tenant === key.tenant && entry.meetingId === key.meetingId && entry.kind === "ended"
        ? Deferred.succeed(ended, entry)
        : Effect.void)
    yield* EventBus.subscribe(channels.granted, (grant) => {
      if (grant.tenant !== key.tenant || grant.meetingId !== key.meetingId || grant.speaker !== name) {
        return Effect.void
      }
      const view: TurnView = {
        meetingId: grant.meetingId,
        topic: grant.topic,
        host: grant.host,
        turn: grant.turn,
        participants: grant.participants,
        history: grant.history,
        speaker: name
      }
      const answer = (result: { readonly reply?: unknown; readonly error?: string }) =>
        EventBus.publishEncoded(channels.replied.name, { ...key, speaker: name, turn: grant.turn, ...result })
      return speaker.speak.invoke(view).pipe(
        Effect.matchCauseEffect({
          onFailure: (cause) =>
            answer({ error: causeText(cause) }),
          onSuccess: (reply) =>
            answer({ reply })
        }),
        Effect.tap(() => Effect.sync(() => turns++))
      )
    })
    yield* request(key, name, "join", "joined", options)
    return {
      name,
      turns: Effect.sync(() => turns),
      ended: Deferred.await(ended),
      leave: Effect.provideService(request(key, name, "leave", "left", options), EventBus.EventBus, bus)
    }
  })

/**
 * Answers an invitation from another process: `accept` (then `join`) or decline.
 *
 * @example
 * ```ts
 * import { RemoteParticipant } from "@braid/meetings"
 *
 * const no = RemoteParticipant.answer({ meetingId: "weekly", tenant: "acme", name: "carl", accept: false })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const answer = (options: {
  readonly meetingId: string
  readonly tenant?: string
  readonly name: string
  readonly accept: boolean
  readonly timeout?: Duration.DurationInput
}): Effect.Effect<void, MeetingActionRejected | InvalidChannel | EventBusError, EventBus.EventBus> =>
  request(
    { tenant: options.tenant ?? defaultTenant, meetingId: options.meetingId },
    options.name,
    options.accept ? "accept" : "decline",
    options.accept ? "accepted" : "declined",
    options
  )
