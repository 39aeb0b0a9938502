/**
 * Types shared by `Meeting`, `MeetingReducer`, `TurnPolicy` and `MeetingStore`.
 *
 * @internal
 */
import { Schema } from "effect"

/** The tenant of a meeting created without one. */
export const defaultTenant = "default"

export const EntryKind = Schema.Literal(
  "joined",
  "left",
  "started",
  "spoke",
  "timed-out",
  "failed",
  "interrupted",
  "remark",
  "ended",
  "invited",
  "accepted",
  "declined"
)
export type EntryKind = typeof EntryKind.Type

/** One step of a meeting, in order (`seq` from 1). */
export const Entry = Schema.Struct({
  /** The organization the meeting belongs to (`"default"` when none was given; rows of 0.2 have none). */
  tenant: Schema.optionalWith(Schema.String, { default: () => defaultTenant }),
  meetingId: Schema.String,
  seq: Schema.Number,
  /** Clock millis. */
  at: Schema.Number,
  kind: EntryKind,
  participant: Schema.String,
  /** The turn number (from 1) of spoke / timed-out / failed / interrupted entries. */
  turn: Schema.optional(Schema.Number),
  text: Schema.optional(Schema.String),
  tokens: Schema.optional(Schema.Number),
  costUsd: Schema.optional(Schema.Number),
  reason: Schema.optional(Schema.String)
})
export type Entry = typeof Entry.Type

export const MeetingState = Schema.Literal("scheduled", "running", "ended")
export type MeetingState = typeof MeetingState.Type

/** Where a participant stands with the meeting's invitation. */
export const Invitation = Schema.Literal("invited", "accepted", "declined")
export type Invitation = typeof Invitation.Type

export const Status = Schema.Struct({
  tenant: Schema.optionalWith(Schema.String, { default: () => defaultTenant }),
  meetingId: Schema.String,
  topic: Schema.String,
  host: Schema.String,
  state: MeetingState,
  currentSpeaker: Schema.optional(Schema.String),
  /** Present participants, in the order they joined. */
  participants: Schema.Array(Schema.String),
  /** Everyone the meeting knows, with their invitation (absent in rows of 0.2). */
  invitations: Schema.optionalWith(
    Schema.Array(Schema.Struct({ name: Schema.String, invitation: Invitation })),
    { default: () => [] }
  ),
  turns: Schema.Number,
  tokens: Schema.Number,
  costUsd: Schema.Number,
  endedBy: Schema.optional(Schema.Struct({ condition: Schema.String, detail: Schema.String }))
})
export type Status = typeof Status.Type

/** What a turn policy and a speaker see. */
export interface View {
  readonly meetingId: string
  readonly topic: string
  readonly host: string
  /** The number of the coming turn (from 1). */
  readonly turn: number
  /** Present participants, in turn order. */
  readonly participants: ReadonlyArray<string>
  readonly history: ReadonlyArray<Entry>
}

/** What the speaker of a turn sees. */
export interface TurnView extends View {
  readonly speaker: string
}
