/**
 * The rules of a meeting as a pure function: `reduce(state, command)` gives the next state and the
 * history entries the command produced, or a `MeetingActionRejected` saying why the command is
 * not allowed now. No clock, no fibers, no I/O: time comes in with each command (`at`), and the
 * decisions that need effects (which speaker a turn policy picks, whether a termination condition
 * holds) come in as commands too (`GrantFloor`, `Conclude`). The `Meeting` driver holds the
 * state, feeds it commands, persists the entries, publishes them and runs the timers; a test can
 * feed it any sequence of commands and check the invariants directly.
 *
 * Commands: `Invite`, `Accept`, `Decline`, `Join`, `Leave`, `Start`, `GrantFloor` (open the next
 * turn), `Speak`, `Fail` (the speaker failed), `Expire` (the speaking timeout of a turn is over),
 * `Interrupt` (the open turn is cut short), `End` (the host ends the meeting) and `Conclude` (a
 * termination condition holds).
 *
 * @since 0.3.0
 */
import { Duration, Either, Schema } from "effect"
import { MeetingActionRejected } from "./Errors.js"
import { decodeInput, nameOf } from "./internal/decode.js"
import type { Entry, EntryKind, Invitation, MeetingState, Status } from "./internal/meetingTypes.js"
import { defaultTenant } from "./internal/meetingTypes.js"
import type { EndedBy, Snapshot } from "./Termination.js"

/**
 * Who may join: anyone (`open`, the default), or only the invited (`invitation`).
 *
 * @category models
 * @since 0.3.0
 */
export type Admission = "open" | "invitation"

/**
 * What the meeting knows of one participant: its invitation and whether it is present.
 *
 * @category models
 * @since 0.3.0
 */
export interface Member {
  readonly name: string
  readonly invitation: Invitation
  readonly present: boolean
}

/**
 * The open turn: its number, its speaker, when it opened and until when the speaker may speak.
 *
 * @category models
 * @since 0.3.0
 */
export interface Floor {
  readonly turn: number
  readonly speaker: string
  readonly openedAt: number
  /** Clock millis after which `Expire` closes the turn (`undefined`: no speaking timeout). */
  readonly deadline: number | undefined
  /** Why the speaker was not the policy's pick (recorded on the `spoke` entry). */
  readonly fallback: string | undefined
  /** The speaker asked to leave during its turn: it leaves when the turn closes. */
  readonly leaving: boolean
}

/**
 * The whole state of a meeting (immutable: `reduce` returns a new one).
 *
 * @category models
 * @since 0.3.0
 */
export interface State extends Snapshot {
  readonly tenant: string
  readonly meetingId: string
  readonly topic: string
  readonly host: string
  readonly hostSpeaks: boolean
  readonly admission: Admission
  /** The speaking timeout in millis (`undefined`: none). */
  readonly speakingTimeout: number | undefined
  readonly phase: MeetingState
  /** Everyone invited or ever present, in order of first appearance. */
  readonly members: ReadonlyArray<Member>
  /** Present participants in the order they joined. */
  readonly present: ReadonlyArray<string>
  /** Present speakers in turn order (the host too when it speaks). */
  readonly order: ReadonlyArray<string>
  /** Round robin: the position in `order` just after the last speaker, read modulo its length. */
  readonly nextIndex: number
  readonly floor: Floor | undefined
  readonly endedBy: EndedBy | undefined
  /** The `seq` of the last entry. */
  readonly seq: number
}

/**
 * A command to the reducer. Every command carries the Clock millis it happens at.
 *
 * @category models
 * @since 0.3.0
 */
export type Command =
  | { readonly _tag: "Invite"; readonly at: number; readonly by: string; readonly name: string }
  | { readonly _tag: "Accept"; readonly at: number; readonly name: string }
  | { readonly _tag: "Decline"; readonly at: number; readonly name: string }
  | { readonly _tag: "Join"; readonly at: number; readonly name: string }
  | { readonly _tag: "Leave"; readonly at: number; readonly name: string }
  | { readonly _tag: "Start"; readonly at: number; readonly by: string }
  | {
    readonly _tag: "GrantFloor"
    readonly at: number
    /** The policy's pick (round robin is used when it is not a present speaker). */
    readonly speaker: string
    readonly fallback?: string | undefined
    readonly remark?: { readonly by: string; readonly text: string } | undefined
  }
  | {
    readonly _tag: "Speak"
    readonly at: number
    readonly name: string
    readonly text: string
    readonly tokens: number
    readonly costUsd: number
    /** The turn this answers (a late answer to a closed turn is rejected). */
    readonly turn?: number | undefined
  }
  | {
    readonly _tag: "Fail"
    readonly at: number
    readonly name: string
    readonly reason: string
    readonly turn?: number | undefined
  }
  | { readonly _tag: "Expire"; readonly at: number; readonly turn: number }
  | { readonly _tag: "Interrupt"; readonly at: number; readonly reason: string }
  | { readonly _tag: "End"; readonly at: number; readonly by: string }
  | { readonly _tag: "Conclude"; readonly at: number; readonly endedBy: EndedBy }

const Name = Schema.String.pipe(Schema.minLength(1, { message: () => "expected a non-empty string" }))
const At = Schema.Number.pipe(Schema.finite({ message: () => "expected a finite number" }))
const Amount = At.pipe(Schema.nonNegative({ message: () => "expected a number >= 0" }))
const TurnNumber = Schema.Int.pipe(Schema.positive({ message: () => "expected a turn number >= 1" }))
const Reason = Schema.String
const EndedBySchema = Schema.Struct({ condition: Schema.String, detail: Schema.String })

/**
 * The Schema of a command, for commands that come from outside the program (a queue, the bus,
 * a test): `decodeCommand` checks one before it reaches `reduce`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { MeetingReducer } from "@braid/meetings"
 *
 * Schema.is(MeetingReducer.CommandSchema)({ _tag: "Join", at: 0, name: "" }) // false
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const CommandSchema: Schema.Schema<Command> = Schema.Union(
  Schema.TaggedStruct("Invite", { at: At, by: Name, name: Name }),
  Schema.TaggedStruct("Accept", { at: At, name: Name }),
  Schema.TaggedStruct("Decline", { at: At, name: Name }),
  Schema.TaggedStruct("Join", { at: At, name: Name }),
  Schema.TaggedStruct("Leave", { at: At, name: Name }),
  Schema.TaggedStruct("Start", { at: At, by: Name }),
  Schema.TaggedStruct("GrantFloor", {
    at: At,
    speaker: Schema.String,
    fallback: Schema.optional(Schema.String),
    remark: Schema.optional(Schema.Struct({ by: Name, text: Schema.String }))
  }),
  Schema.TaggedStruct("Speak", {
    at: At,
    name: Name,
    text: Schema.String,
    tokens: Amount,
    costUsd: Amount,
    turn: Schema.optional(TurnNumber)
  }),
  Schema.TaggedStruct("Fail", { at: At, name: Name, reason: Reason, turn: Schema.optional(TurnNumber) }),
  Schema.TaggedStruct("Expire", { at: At, turn: TurnNumber }),
  Schema.TaggedStruct("Interrupt", { at: At, reason: Reason }),
  Schema.TaggedStruct("End", { at: At, by: Name }),
  Schema.TaggedStruct("Conclude", { at: At, endedBy: EndedBySchema })
)

const actionOf = (tag: unknown): MeetingActionRejected["action"] => {
  switch (tag) {
    case "Invite":
      return "invite"
    case "Accept":
      return "accept"
    case "Decline":
      return "decline"
    case "Join":
      return "attend"
    case "Leave":
      return "leave"
    case "Start":
      return "start"
    case "End":
      return "end"
    default:
      return "speak"
  }
}

/**
 * Decodes an untrusted command: a `MeetingActionRejected` naming the path and the problem when it
 * is not a command (a wrong tag, a name that is not a non-empty string, `tokens: NaN`, a getter
 * that throws), so `reduce` only ever sees well-formed commands.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { MeetingReducer } from "@braid/meetings"
 *
 * const state = MeetingReducer.initial({ meetingId: "m", topic: "t", host: "ana" })
 * const bad = MeetingReducer.decodeCommand(state, { _tag: "Speak", at: 0, name: "ana", text: "hi", tokens: Number.NaN, costUsd: 0 })
 * Either.isLeft(bad) // true: path "tokens"
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const decodeCommand = (state: State, input: unknown): Either.Either<Command, MeetingActionRejected> =>
  Either.mapLeft(decodeInput(CommandSchema, input), ({ issue, path }) => {
    let tag: unknown
    let who: unknown
    try {
      tag = (input as { _tag?: unknown } | null)?._tag
      const i = input as { name?: unknown; by?: unknown } | null
      who = i?.name ?? i?.by
    } catch {
      // unreadable input: named by its type
    }
    return new MeetingActionRejected({
      meetingId: state.meetingId,
      action: actionOf(tag),
      participant: nameOf(who),
      state: state.phase,
      reason: `invalid command: ${issue}`,
      path
    })
  })

/**
 * A command without its time (the driver stamps it with the Clock).
 *
 * @category models
 * @since 0.3.0
 */
export type CommandInput = Command extends infer C ? C extends Command ? Omit<C, "at"> : never : never

/**
 * What a command did: the next state and the entries it produced (in order, `seq` numbered).
 *
 * @category models
 * @since 0.3.0
 */
export interface Transition {
  readonly state: State
  readonly entries: ReadonlyArray<Entry>
}

/**
 * The configuration of a new meeting's state.
 *
 * @category models
 * @since 0.3.0
 */
export interface InitialOptions {
  readonly meetingId: string
  readonly tenant?: string | undefined
  readonly topic: string
  readonly host: string
  readonly hostSpeaks?: boolean | undefined
  readonly admission?: Admission | undefined
  readonly speakingTimeout?: number | undefined
}

/**
 * The state of a new meeting: scheduled, nobody present (the driver joins the host first), no
 * entries yet.
 *
 * @example
 * ```ts
 * import { MeetingReducer } from "@braid/meetings"
 *
 * const state = MeetingReducer.initial({ meetingId: "m1", topic: "plan", host: "ana" })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const initial = (options: InitialOptions): State => ({
  tenant: options.tenant ?? defaultTenant,
  meetingId: options.meetingId,
  topic: options.topic,
  host: options.host,
  hostSpeaks: options.hostSpeaks ?? true,
  admission: options.admission ?? "open",
  speakingTimeout: options.speakingTimeout,
  phase: "scheduled",
  members: [],
  present: [],
  order: [],
  nextIndex: 0,
  floor: undefined,
  turns: 0,
  tokens: 0,
  costUsd: 0,
  lastText: undefined,
  lastSpeaker: undefined,
  startedAt: 0,
  endedBy: undefined,
  seq: 0
})

/**
 * The round-robin choice for the next turn (`undefined` when nobody is there to speak).
 *
 * @example
 * ```ts
 * import { MeetingReducer } from "@braid/meetings"
 *
 * const s = MeetingReducer.initial({ meetingId: "m1", topic: "plan", host: "ana" })
 * MeetingReducer.roundRobin(s) // undefined: nobody has joined yet
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const roundRobin = (state: State): string | undefined =>
  state.order.length === 0 ? undefined : state.order[state.nextIndex % state.order.length]

/**
 * What a termination condition sees of the state.
 *
 * @example
 * ```ts
 * import { MeetingReducer } from "@braid/meetings"
 *
 * const snapshot = MeetingReducer.snapshot(MeetingReducer.initial({ meetingId: "m", topic: "t", host: "h" }))
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const snapshot = (state: State): Snapshot => ({
  turns: state.turns,
  tokens: state.tokens,
  costUsd: state.costUsd,
  lastText: state.lastText,
  lastSpeaker: state.lastSpeaker,
  startedAt: state.startedAt
})

/**
 * The status of a meeting in a state (what `meeting.status` and the store show).
 *
 * @example
 * ```ts
 * import { MeetingReducer } from "@braid/meetings"
 *
 * const status = MeetingReducer.status(MeetingReducer.initial({ meetingId: "m", topic: "t", host: "h" }))
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const status = (state: State): Status => ({
  tenant: state.tenant,
  meetingId: state.meetingId,
  topic: state.topic,
  host: state.host,
  state: state.phase,
  ...(state.floor !== undefined ? { currentSpeaker: state.floor.speaker } : {}),
  participants: state.present,
  invitations: state.members.map((m) => ({ name: m.name, invitation: m.invitation })),
  turns: state.turns,
  tokens: state.tokens,
  costUsd: state.costUsd,
  ...(state.endedBy !== undefined ? { endedBy: state.endedBy } : {})
})

/**
 * The invitation of `name` (`undefined`: the meeting does not know it).
 *
 * @example
 * ```ts
 * import { MeetingReducer } from "@braid/meetings"
 *
 * const s = MeetingReducer.initial({ meetingId: "m", topic: "t", host: "h" })
 * MeetingReducer.invitationOf(s, "bob") // undefined
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const invitationOf = (state: State, name: string): Invitation | undefined =>
  state.members.find((m) => m.name === name)?.invitation

// ---- the rules ------------------------------------------------------------------------------

type Action = MeetingActionRejected["action"]
type Extra = Partial<Omit<Entry, "tenant" | "meetingId" | "seq" | "at" | "kind" | "participant">>

/** Builds a transition: entries are numbered from the state's `seq`. */
class Step {
  readonly entries: Array<Entry> = []
  constructor(public state: State, readonly at: number) {}
  record(kind: EntryKind, participant: string, extra: Extra = {}): void {
    const seq = this.state.seq + 1
    this.state = { ...this.state, seq }
    this.entries.push({
      tenant: this.state.tenant,
      meetingId: this.state.meetingId,
      seq,
      at: this.at,
      kind,
      participant,
      ...extra
    })
  }
  set(patch: Partial<State>): void {
    this.state = { ...this.state, ...patch }
  }
  done(): Either.Either<Transition, MeetingActionRejected> {
    return Either.right({ state: this.state, entries: this.entries })
  }
}

const reject = (state: State, action: Action, participant: string, reason: string) =>
  Either.left(
    new MeetingActionRejected({ meetingId: state.meetingId, action, participant, state: state.phase, reason })
  )

const unchanged = (state: State): Either.Either<Transition, MeetingActionRejected> =>
  Either.right({ state, entries: [] })

const setMember = (members: ReadonlyArray<Member>, member: Member): ReadonlyArray<Member> => {
  const i = members.findIndex((m) => m.name === member.name)
  if (i < 0) return [...members, member]
  const next = members.slice()
  next[i] = member
  return next
}

/** Removes `name` from the turn order, keeping round robin on whoever was next. */
const withoutSpeaker = (state: State, name: string): Pick<State, "order" | "nextIndex"> => {
  const i = state.order.indexOf(name)
  if (i < 0) return { order: state.order, nextIndex: state.nextIndex }
  return {
    order: state.order.filter((n) => n !== name),
    nextIndex: i < state.nextIndex ? state.nextIndex - 1 : state.nextIndex
  }
}

/** A participant answers its invitation. */
const answered = (step: Step, member: Member, invitation: "accepted" | "declined") => {
  step.set({ members: setMember(step.state.members, { ...member, invitation }) })
  step.record(invitation, member.name)
  return step.done()
}

const depart = (step: Step, name: string, reason?: string) => {
  const s = step.state
  const member = s.members.find((m) => m.name === name)!
  step.set({
    ...withoutSpeaker(s, name),
    present: s.present.filter((n) => n !== name),
    members: setMember(s.members, { ...member, present: false })
  })
  step.record("left", name, reason !== undefined ? { reason } : {})
}

type Closing =
  | { readonly kind: "spoke"; readonly text: string; readonly tokens: number; readonly costUsd: number }
  | { readonly kind: "timed-out" | "failed" | "interrupted"; readonly reason: string }

/** Closes the open turn with its outcome; a speaker who asked to leave leaves after it (unless the meeting ends). */
const closeFloor = (step: Step, closing: Closing, ending = false) => {
  const floor = step.state.floor!
  const base = { turns: floor.turn, lastSpeaker: floor.speaker, floor: undefined }
  if (closing.kind === "spoke") {
    step.set({
      ...base,
      tokens: step.state.tokens + closing.tokens,
      costUsd: step.state.costUsd + closing.costUsd,
      lastText: closing.text
    })
    step.record("spoke", floor.speaker, {
      turn: floor.turn,
      text: closing.text,
      tokens: closing.tokens,
      ...(closing.costUsd ? { costUsd: closing.costUsd } : {}),
      ...(floor.fallback !== undefined ? { reason: floor.fallback } : {})
    })
  } else {
    step.set({ ...base, lastText: undefined })
    step.record(closing.kind, floor.speaker, { turn: floor.turn, reason: closing.reason })
  }
  if (floor.leaving && !ending) depart(step, floor.speaker, "left after finishing the turn")
}

const finish = (step: Step, endedBy: EndedBy) => {
  step.set({ phase: "ended", endedBy, floor: undefined })
  step.record("ended", step.state.host, { reason: `${endedBy.condition}: ${endedBy.detail}` })
}

/**
 * Applies one command: the next state and the entries it produced, or `MeetingActionRejected`
 * (the state is then unchanged). A stale timer (`Expire` of a turn that is closed, or before its
 * deadline) and an `Interrupt` with no open turn change nothing and produce no entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert"
 * import { Duration, Either, Schema } from "effect"
 * import { MeetingReducer } from "@braid/meetings"
 *
 * let state = MeetingReducer.initial({ meetingId: "m", topic: "t", host: "ana", speakingTimeout: 1000 })
 * const apply = (command: MeetingReducer.Command) => {
 *   const t = Either.getOrThrow(MeetingReducer.reduce(state, command))
 *   state = t.state
 *   return t.entries.map((e) => e.kind)
 * }
 * apply({ _tag: "Join", at: 0, name: "ana" })
 * apply({ _tag: "Start", at: 0, by: "ana" })
 * apply({ _tag: "GrantFloor", at: 0, speaker: "ana" })
 * assert.deepStrictEqual(apply({ _tag: "Expire", at: 1000, turn: 1 }), ["timed-out"])
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const reduce = (state: State, command: Command): Either.Either<Transition, MeetingActionRejected> => {
  const step = new Step(state, command.at)
  const ended = state.phase === "ended"
  switch (command._tag) {
    case "Invite": {
      const { by, name } = command
      if (ended) return reject(state, "invite", by, "the meeting has ended")
      if (by !== state.host) return reject(state, "invite", by, `only the host (${state.host}) can invite`)
      const member = state.members.find((m) => m.name === name)
      if (member?.present) return reject(state, "invite", name, "already attending")
      if (member?.invitation === "invited") return reject(state, "invite", name, "already invited")
      if (member?.invitation === "accepted") return reject(state, "invite", name, "has already accepted")
      step.set({ members: setMember(state.members, { name, invitation: "invited", present: false }) })
      step.record("invited", name, { reason: `invited by ${by}` })
      return step.done()
    }
    case "Accept": {
      const { name } = command
      if (ended) return reject(state, "accept", name, "the meeting has ended")
      const member = state.members.find((m) => m.name === name)
      if (member === undefined || member.invitation === "declined") {
        return reject(
          state,
          "accept",
          name,
          member ? "declined the invitation: the host must invite again" : "not invited"
        )
      }
      if (member.invitation === "accepted") return reject(state, "accept", name, "has already accepted")
      return answered(step, member, "accepted")
    }
    case "Decline": {
      const { name } = command
      if (ended) return reject(state, "decline", name, "the meeting has ended")
      const member = state.members.find((m) => m.name === name)
      if (name === state.host) return reject(state, "decline", name, "the host cannot decline its own meeting")
      if (member === undefined) return reject(state, "decline", name, "not invited")
      if (member.present) return reject(state, "decline", name, "attending: leave instead")
      if (member.invitation === "declined") return reject(state, "decline", name, "has already declined")
      return answered(step, member, "declined")
    }
    case "Join": {
      const { name } = command
      if (ended) return reject(state, "attend", name, "the meeting has ended")
      const member = state.members.find((m) => m.name === name)
      if (member?.present) return reject(state, "attend", name, "already attending")
      if (member?.invitation === "declined") return reject(state, "attend", name, "declined the invitation")
      if (state.admission === "invitation" && name !== state.host && member === undefined) {
        return reject(state, "attend", name, "not invited (the meeting admits invited participants only)")
      }
      const speaks = name !== state.host || state.hostSpeaks
      step.set({
        members: setMember(state.members, { name, invitation: "accepted", present: true }),
        present: [...state.present, name],
        order: speaks ? [...state.order, name] : state.order
      })
      step.record("joined", name)
      return step.done()
    }
    case "Leave": {
      const { name } = command
      if (ended) return reject(state, "leave", name, "the meeting has ended")
      if (name === state.host) return reject(state, "leave", name, "the host cannot leave; the host ends the meeting")
      const floor = state.floor
      if (!state.present.includes(name) || (floor?.speaker === name && floor.leaving)) {
        return reject(state, "leave", name, "not attending")
      }
      if (floor?.speaker === name) {
        step.set({ floor: { ...floor, leaving: true } }) // finishes the turn first
        return step.done()
      }
      depart(step, name)
      return step.done()
    }
    case "Start": {
      const { by } = command
      if (by !== state.host) return reject(state, "start", by, `only the host (${state.host}) can start the meeting`)
      if (state.phase !== "scheduled") return reject(state, "start", by, "the meeting has already started")
      step.set({ phase: "running", startedAt: command.at })
      step.record("started", state.host, { text: state.topic })
      return step.done()
    }
    case "GrantFloor": {
      if (state.phase !== "running") return reject(state, "speak", "(meeting)", "the meeting is not running")
      if (state.floor !== undefined) {
        return reject(state, "speak", state.floor.speaker, `it is still ${state.floor.speaker}'s turn`)
      }
      const rr = roundRobin(state)
      if (rr === undefined) {
        finish(step, { condition: "no-participants", detail: "nobody is left to speak" })
        return step.done()
      }
      let speaker = command.speaker
      let fallback = command.fallback
      if (!state.order.includes(speaker)) {
        speaker = rr
        fallback = `${command.speaker} left before the turn; round robin`
      }
      if (command.remark !== undefined) step.record("remark", command.remark.by, { text: command.remark.text })
      const turn = state.turns + 1
      step.set({
        nextIndex: state.order.indexOf(speaker) + 1,
        floor: {
          turn,
          speaker,
          openedAt: command.at,
          deadline: state.speakingTimeout === undefined ? undefined : command.at + state.speakingTimeout,
          fallback,
          leaving: false
        }
      })
      return step.done()
    }
    case "Speak":
    case "Fail": {
      const { name } = command
      if (state.phase !== "running") return reject(state, "speak", name, "the meeting is not running")
      if (!state.present.includes(name)) return reject(state, "speak", name, "not attending")
      const floor = state.floor
      if (floor === undefined || floor.speaker !== name) {
        return reject(state, "speak", name, floor ? `it is ${floor.speaker}'s turn` : "no turn is open (call nextTurn)")
      }
      if (command.turn !== undefined && command.turn !== floor.turn) {
        return reject(state, "speak", name, `turn ${command.turn} is closed (the open turn is ${floor.turn})`)
      }
      closeFloor(
        step,
        command._tag === "Speak"
          ? { kind: "spoke", text: command.text, tokens: command.tokens, costUsd: command.costUsd }
          : { kind: "failed", reason: command.reason }
      )
      return step.done()
    }
    case "Expire": {
      const floor = state.floor
      if (floor === undefined || floor.turn !== command.turn || floor.deadline === undefined) return unchanged(state)
      if (command.at < floor.deadline) return unchanged(state)
      closeFloor(step, {
        kind: "timed-out",
        reason: `no answer within ${Duration.format(Duration.millis(state.speakingTimeout!))}`
      })
      return step.done()
    }
    case "Interrupt": {
      if (state.floor === undefined) return unchanged(state)
      closeFloor(step, { kind: "interrupted", reason: command.reason })
      return step.done()
    }
    case "End": {
      const { by } = command
      if (by !== state.host) return reject(state, "end", by, `only the host (${state.host}) can end the meeting`)
      if (ended) return reject(state, "end", by, "the meeting has already ended")
      if (state.floor !== undefined) {
        closeFloor(step, { kind: "interrupted", reason: "the host ended the meeting" }, true)
      }
      finish(step, { condition: "host", detail: `${by} ended the meeting` })
      return step.done()
    }
    case "Conclude": {
      if (ended) return unchanged(state)
      const { endedBy } = command
      if (state.floor !== undefined) {
        closeFloor(step, { kind: "interrupted", reason: `${endedBy.condition}: ${endedBy.detail}` }, true)
      }
      finish(step, endedBy)
      return step.done()
    }
  }
}
