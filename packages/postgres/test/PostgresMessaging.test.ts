import { Sql } from "@braid/core"
import { Messaging } from "@braid/messaging"
import { PostgresDriver, PostgresMessaging } from "@braid/postgres"
import { DATABASE_URL, describeWith, faultyProxy, silentServer, withPort } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import { run, suite } from "../../messaging/test/messagingConformance.js"

const describePg = await describeWith("postgres")

/** `url` whose connections carry `application_name` = `name` (pg reads it from the URL). */
const withApplicationName = (url: string, name: string): string => {
  const u = new URL(url)
  u.searchParams.set("application_name", name)
  return u.toString()
}
describePg("PostgreSQL", () => {
  suite("PostgreSQL", () => PostgresMessaging.layer({ url: DATABASE_URL, pollInterval: "20 millis" }))
  it.live("a database that accepts and never answers: connecting is bounded, a typed failure", () =>
    Effect.gen(function*() {
      const silent = yield* silentServer
      const exit = yield* Effect.exit(
        Effect.flatMap(Messaging.Messaging, (m) => m.send("a", "b", 1)).pipe(
          Effect.provide(PostgresMessaging.layer({ url: withPort(DATABASE_URL, silent.port), timeout: "300 millis" }))
        )
      )
      assert.strictEqual(exit._tag, "Failure")
      const text = String(exit._tag === "Failure" ? exit.cause : "")
      assert.notInclude(text, "Die")
    }).pipe(Effect.scoped))

  it.live("a link that goes silent: every store call ends with MessageStoreError within its bound", () =>
    Effect.gen(function*() {
      const u = new URL(DATABASE_URL)
      const link = yield* faultyProxy(Number(u.port || 5432), u.hostname || "127.0.0.1")
      const agentB = `${run}-silent-b`
      yield* Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        yield* m.registry.register({ name: agentB })
        yield* m.send(`${run}-silent-a`, agentB, "before")
        yield* m.serve(agentB, () => Effect.void)
        link.silence()
        for (
          const call of [
            m.send("x", agentB, 1),
            m.inbox(agentB).unread,
            m.inbox(agentB).markRead("id"),
            m.request("x", agentB, 1, { timeout: "10 seconds" })
          ]
        ) {
          const err = yield* Effect.flip(call)
          assert.strictEqual(err._tag, "MessageStoreError")
          assert.include(err.message, "no answer within 2000 ms")
        }
      }).pipe(
        Effect.scoped,
        Effect.provide(
          PostgresMessaging.layer({
            url: withPort(DATABASE_URL, link.port),
            timeout: "2 seconds",
            pollInterval: "50 millis"
          })
        )
      )
    }).pipe(Effect.scoped))

  it.live("a connection killed by the server (pg_terminate_backend) is a typed failure or a retried success, never an uncaught error", () =>
    Effect.gen(function*() {
      const app = `braid-msg-kill-${process.pid}-${Date.now()}`
      const uncaught: Array<unknown> = []
      const onUncaught = (e: unknown) => void uncaught.push(e)
      process.on("uncaughtException", onUncaught)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("uncaughtException", onUncaught)))
      const killer = PostgresDriver.layer({ url: DATABASE_URL })
      const kill = Effect.gen(function*() {
        const sql = yield* Sql.SqlDriver
        const rows = yield* sql.query(
          "SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE application_name = ?",
          [app]
        )
        return rows.length
      }).pipe(Effect.provide(killer))
      const b = `${run}-killed-b`
      yield* Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        yield* m.registry.register({ name: b })
        yield* m.send("a", b, 1)
        assert.isAbove(yield* kill, 0, "our idle connection was terminated")
        yield* Effect.sleep("100 millis") // the pool sees the 'error' of its idle client
        for (let i = 2; i <= 4; i++) {
          const r = yield* Effect.either(m.send("a", b, i))
          if (Either.isLeft(r)) assert.strictEqual(r.left._tag, "MessageStoreError")
        }
        const bodies = (yield* m.inbox(b).unread).map((x) => x.body)
        assert.includeMembers(bodies, [1, 4])
      }).pipe(
        Effect.scoped,
        Effect.provide(
          Messaging.layerSql({ pollInterval: "50 millis" }).pipe(
            Layer.provide(PostgresDriver.layer({ url: withApplicationName(DATABASE_URL, app) }))
          )
        )
      )
      assert.deepStrictEqual(uncaught, [])
    }).pipe(Effect.scoped))

  it.live("a stored body that is not JSON is a MessageStoreError, not a defect", () =>
    Effect.gen(function*() {
      const b = `${run}-garbled-b`
      yield* Effect.gen(function*() {
        const sql = yield* Sql.SqlDriver
        const m = yield* Messaging.Messaging
        yield* m.registry.register({ name: b })
        yield* m.send("a", b, "fine")
        yield* sql.execute("UPDATE braid_inbox_messages SET body = ? WHERE recipient = ?", ["{not json", b])
        const err = yield* Effect.flip(m.inbox(b).unread)
        assert.strictEqual(err._tag, "MessageStoreError")
        assert.include(err.message, "not valid JSON")
      }).pipe(
        Effect.provide(
          Messaging.layerSql().pipe(Layer.provideMerge(PostgresDriver.layer({ url: DATABASE_URL })))
        )
      )
    }))

  it.live("cleanup", () =>
    Effect.gen(function*() {
      const sql = yield* Sql.SqlDriver
      yield* sql.execute(
        "DELETE FROM braid_inbox_messages WHERE recipient LIKE ? OR (recipient = 'b' AND sender = 'a')",
        [run + "%"]
      )
    }).pipe(Effect.provide(PostgresDriver.layer({ url: DATABASE_URL }))))
})
