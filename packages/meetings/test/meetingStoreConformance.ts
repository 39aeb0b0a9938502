/**
 * The round trips every SQL `MeetingStore` must pass: a meeting stored, then inspected through a
 * fresh layer (a new connection). Run against SQLite in @braid/sqlite and PostgreSQL in
 * @braid/postgres (imported by relative path).
 */
import type { Sql } from "@braid/core"
import { Meeting, MeetingStore, Termination } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { assert } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"

/** A suffix of this run's meeting ids. */
export const runId = `${process.pid}-${Date.now()}`

/** Holds a meeting with a timeout and a leave, then reads it back through a fresh store layer. */
export const roundTrip = (sqlLayer: () => Layer.Layer<Sql.SqlDriver, unknown>) =>
  Effect.gen(function*() {
    const id = `meeting-${runId}-${Math.random().toString(36).slice(2)}`
    const storeLayer = () => Layer.merge(EventBus.layerMemory, MeetingStore.layerSql.pipe(Layer.provide(sqlLayer())))
    const result = yield* Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        id,
        topic: "persist",
        host: Meeting.participant("host", () => "hello"),
        termination: Termination.maxTurns(5),
        speakingTimeout: "300 millis"
      })
      yield* meeting.attend(Meeting.participant("quiet", () => Effect.never))
      yield* meeting.attend(Meeting.participant("chatty", () => ({ text: "a lot", tokens: 7, costUsd: 0.01 })))
      yield* meeting.attend(Meeting.participant("leaver", () => "bye"))
      yield* meeting.leave("leaver")
      return yield* meeting.run
    }).pipe(Effect.provide(storeLayer()))
    // a fresh layer (new connection): what a later inspection sees
    const inspected = yield* Meeting.inspect(id).pipe(Effect.provide(storeLayer()))
    assert.deepStrictEqual(inspected.history, result.history)
    const status = Option.getOrThrow(inspected.status)
    assert.strictEqual(status.state, "ended")
    assert.strictEqual(status.endedBy?.condition, "maxTurns(5)")
    assert.deepStrictEqual(status.participants, ["host", "quiet", "chatty"])
    assert.deepStrictEqual(
      inspected.history.filter((e) => e.turn !== undefined).map((e) => `${e.participant}:${e.kind}`),
      [
        "host:spoke",
        "quiet:timed-out",
        "chatty:spoke",
        "host:spoke",
        "quiet:timed-out"
      ]
    )
    assert.strictEqual(inspected.history.find((e) => e.participant === "chatty" && e.kind === "spoke")!.costUsd, 0.01)
    const all = yield* Effect.flatMap(MeetingStore.MeetingStore, (s) => s.list).pipe(Effect.provide(storeLayer()))
    assert.isTrue(all.some((s) => s.meetingId === id))
    return id
  })

/** A short meeting stored through `storeLayer`, then read back through a fresh one. */
export const storedAndRead = (storeLayer: () => Layer.Layer<MeetingStore.MeetingStore, unknown>) =>
  Effect.gen(function*() {
    const id = `layer-${runId}-${Math.random().toString(36).slice(2)}`
    yield* Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        id,
        topic: "t",
        host: Meeting.participant("host", () => "hi"),
        termination: Termination.maxTurns(2)
      })
      yield* meeting.run
    }).pipe(Effect.provide(Layer.merge(EventBus.layerMemory, storeLayer())))
    const { history, status } = yield* Meeting.inspect(id).pipe(Effect.provide(storeLayer()))
    assert.strictEqual(history.filter((e) => e.kind === "spoke").length, 2)
    assert.strictEqual(Option.getOrThrow(status).endedBy?.condition, "maxTurns(2)")
    return id
  })
