import { Sql } from "@braid/core"
import { Meeting, MeetingStore, Termination } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { PostgresDriver, PostgresMeetingStore } from "@braid/postgres"
import { DATABASE_URL, describeWith, faultyProxy, silentServer, withPort } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import {
  migratesFrom02,
  roundTrip,
  runId,
  storedAndRead,
  tenantsApart
} from "../../meetings/test/meetingStoreConformance.js"
import { freshSchema } from "./schemas.js"

const describePg = await describeWith("postgres")

/** Deletes a meeting's rows. */
const remove = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* Sql.SqlDriver
    yield* sql.execute("DELETE FROM braid_meeting_entries WHERE meeting_id = ?", [id])
    yield* sql.execute("DELETE FROM braid_meeting_status WHERE meeting_id = ?", [id])
  })
describePg("MeetingStore: PostgreSQL", () => {
  const { url } = freshSchema("braid_mt")
  const pg = () => PostgresDriver.layer({ url })

  it.live("history and status survive and can be inspected through a new connection", () =>
    Effect.gen(function*() {
      const id = yield* roundTrip(pg)
      yield* remove(id).pipe(Effect.provide(pg()))
    }))

  it.live("meetings are partitioned by tenant: the same id in two tenants is two meetings", () =>
    tenantsApart(() => PostgresMeetingStore.layer({ url })))

  it.live("a database that accepts and never answers: creating the store fails typed within the bound", () =>
    Effect.gen(function*() {
      const silent = yield* silentServer
      const exit = yield* Effect.exit(
        Effect.flatMap(MeetingStore.MeetingStore, (s) => s.list).pipe(
          Effect.provide(
            MeetingStore.layerSqlWith({ timeout: "300 millis" }).pipe(
              Layer.provide(PostgresDriver.layer({ url: withPort(DATABASE_URL, silent.port), timeout: "300 millis" }))
            )
          )
        )
      )
      assert.strictEqual(exit._tag, "Failure")
    }).pipe(Effect.scoped))

  it.live("a link that goes silent: every store call is a MeetingStoreError within the bound, and a meeting still runs to its end", () =>
    Effect.gen(function*() {
      const u = new URL(DATABASE_URL)
      const link = yield* faultyProxy(Number(u.port || 5432), u.hostname || "127.0.0.1")
      yield* Effect.gen(function*() {
        const store = yield* MeetingStore.MeetingStore
        yield* store.list
        link.silence()
        for (
          const call of [store.list, store.history("m"), store.status("m")] as Array<
            Effect.Effect<unknown, { readonly _tag: string; readonly message: string }>
          >
        ) {
          const err = yield* Effect.flip(call)
          assert.strictEqual(err._tag, "MeetingStoreError")
          assert.include(err.message, "no answer within 2000 ms")
        }
        const meeting = yield* Meeting.make({
          topic: "t",
          host: Meeting.participant("host", () => "hi"),
          termination: Termination.maxTurns(1)
        })
        const result = yield* meeting.run
        assert.strictEqual(result.endedBy.condition, "maxTurns(1)")
      }).pipe(Effect.provide(Layer.merge(
        EventBus.layerMemory,
        MeetingStore.layerSqlWith({ timeout: "2 seconds" }).pipe(
          Layer.provide(PostgresDriver.layer({ url: withPort(url, link.port) }))
        )
      )))
    }).pipe(Effect.scoped))

  it.live("a garbled stored row is a MeetingStoreError, not a defect", () =>
    Effect.gen(function*() {
      const id = `garbled-${runId}`
      yield* Effect.gen(function*() {
        const sql = yield* Sql.SqlDriver
        const store = yield* MeetingStore.MeetingStore
        yield* sql.execute("INSERT INTO braid_meeting_status (tenant, meeting_id, data) VALUES ('default', ?, ?)", [
          id,
          "{oops"
        ])
        yield* sql.execute(
          "INSERT INTO braid_meeting_entries (tenant, meeting_id, seq, kind, participant, data) VALUES ('default', ?, 1, 'spoke', 'x', ?)",
          [id, "{\"__proto__\": {}}"]
        )
        const status = yield* Effect.flip(store.status(id))
        assert.strictEqual(status._tag, "MeetingStoreError")
        const history = yield* Effect.flip(store.history(id))
        assert.include(history.message, "__proto__")
        yield* remove(id)
      }).pipe(
        Effect.provide(MeetingStore.layerSql.pipe(Layer.provideMerge(PostgresDriver.layer({ url }))))
      )
    }))

  it.live("layer on a URL with a password that is refused: a typed failure without the password", () =>
    Effect.gen(function*() {
      const url = new URL(DATABASE_URL)
      url.username = "braid_nobody"
      url.password = "s3cret-pw"
      url.port = "1" // nothing listens: refused
      const error = yield* Effect.flip(
        Effect.flatMap(MeetingStore.MeetingStore, (s) => s.list).pipe(
          Effect.provide(PostgresMeetingStore.layer({ url: url.toString(), timeout: "2 seconds" }))
        )
      )
      assert.strictEqual(error._tag, "MeetingStoreError")
      assert.notInclude(String(error), "s3cret-pw")
      assert.notInclude(JSON.stringify(error), "s3cret-pw")
    }))

  it.live("layerConfig reads DATABASE_URL through Config", () =>
    Effect.gen(function*() {
      const config = Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DATABASE_URL", url]])))
      const id = yield* storedAndRead(() => PostgresMeetingStore.layerConfig.pipe(Layer.provide(config)))
      yield* remove(id).pipe(Effect.provide(pg()))
    }))
})

describePg("MeetingStore: PostgreSQL tables of 0.2", () => {
  const { url } = freshSchema("braid_mt02")
  it.live("are rebuilt with the tenant in the key; their meetings are the default tenant's", () =>
    migratesFrom02(() => PostgresDriver.layer({ url })))
})
