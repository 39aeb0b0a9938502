/**
 * Types shared by `Meeting`, `TurnPolicy` and `MeetingStore`.
 *
 * @internal
 */
import { Schema } from "effect"

export const EntryKind = Schema.Literal(
  "joined",
  "left",
  "started",
  "spoke",
  "timed-out",
  "failed",
  "interrupted",
  "remark",
  "ended"
)
export type EntryKind = typeof EntryKind.Type

/** One step of a meeting, in order (`seq` from 1). */
export const Entry = Schema.Struct({
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

export const Status = Schema.Struct({
  meetingId: Schema.String,
  topic: Schema.String,
  host: Schema.String,
  state: MeetingState,
  currentSpeaker: Schema.optional(Schema.String),
  /** Present participants, in turn order. */
  participants: Schema.Array(Schema.String),
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
