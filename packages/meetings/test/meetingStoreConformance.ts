/**
 * The round trips every SQL `MeetingStore` must pass: a meeting stored, then inspected through a
 * fresh layer (a new connection). Run against SQLite in @braid/sqlite and PostgreSQL in
 * @braid/postgres (imported by relative path).
 */
import { Sql } from "@braid/core"
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

/** Two tenants hold a meeting with the same id (with separators in it): each reads back only its own. */
export const tenantsApart = (storeLayer: () => Layer.Layer<MeetingStore.MeetingStore, unknown>) =>
  Effect.gen(function*() {
    const id = `shared/${runId}:${Math.random().toString(36).slice(2)}`
    for (const tenant of ["acme", "globex"]) {
      yield* Effect.gen(function*() {
        const meeting = yield* Meeting.make({
          id,
          tenant,
          topic: "t",
          host: Meeting.participant("host", () => `${tenant} speaking`),
          termination: Termination.maxTurns(1)
        })
        yield* meeting.run
      }).pipe(Effect.provide(Layer.merge(EventBus.layerMemory, storeLayer())))
    }
    const read = (tenant: string) => Meeting.inspect(id, { tenant }).pipe(Effect.provide(storeLayer()))
    for (const tenant of ["acme", "globex"]) {
      const { history, status } = yield* read(tenant)
      assert.deepStrictEqual(history.filter((e) => e.kind === "spoke").map((e) => e.text), [`${tenant} speaking`])
      assert.isTrue(history.every((e) => e.tenant === tenant))
      assert.strictEqual(Option.getOrThrow(status).tenant, tenant)
    }
    const other = yield* read("initech")
    assert.deepStrictEqual(other.history, [])
    assert.isTrue(Option.isNone(other.status))
    const acme = yield* Effect.flatMap(MeetingStore.MeetingStore, (s) => s.listTenant("acme")).pipe(
      Effect.provide(storeLayer())
    )
    assert.isTrue(acme.some((s) => s.meetingId === id))
    assert.isTrue(acme.every((s) => s.tenant === "acme"))
    return id
  })

/**
 * A database written by 0.2 (tables keyed by meeting id alone): the store rebuilds them with the
 * tenant in the key, and the old meetings are the default tenant's.
 */
export const migratesFrom02 = (sqlLayer: () => Layer.Layer<Sql.SqlDriver, unknown>) =>
  Effect.gen(function*() {
    yield* Effect.gen(function*() {
      const sql = yield* Sql.SqlDriver
      yield* sql.execute(`CREATE TABLE braid_meeting_entries (
        meeting_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, participant TEXT NOT NULL,
        data TEXT NOT NULL, PRIMARY KEY (meeting_id, seq))`)
      yield* sql.execute(`CREATE TABLE braid_meeting_status (meeting_id TEXT PRIMARY KEY, data TEXT NOT NULL)`)
      yield* sql.execute(
        "INSERT INTO braid_meeting_entries (meeting_id, seq, kind, participant, data) VALUES (?, 1, 'joined', 'old', ?)",
        ["old-1", JSON.stringify({ meetingId: "old-1", seq: 1, at: 5, kind: "joined", participant: "old" })]
      )
      yield* sql.execute("INSERT INTO braid_meeting_status (meeting_id, data) VALUES (?, ?)", [
        "old-1",
        JSON.stringify({
          meetingId: "old-1",
          topic: "t",
          host: "old",
          state: "running",
          participants: ["old"],
          turns: 0,
          tokens: 0,
          costUsd: 0
        })
      ])
    }).pipe(Effect.provide(sqlLayer()))
    const storeLayer = () => MeetingStore.layerSql.pipe(Layer.provide(sqlLayer()))
    const { history, status } = yield* Meeting.inspect("old-1").pipe(Effect.provide(storeLayer()))
    assert.deepStrictEqual(history.map((e) => [e.tenant, e.participant, e.kind]), [["default", "old", "joined"]])
    assert.deepStrictEqual(Option.getOrThrow(status).invitations, [])
    // the rebuilt tables take a second tenant's meeting with the same id, and a second opening is a no-op
    yield* tenantsApart(storeLayer)
    const again = yield* Meeting.inspect("old-1").pipe(Effect.provide(storeLayer()))
    assert.strictEqual(again.history.length, 1)
  })
