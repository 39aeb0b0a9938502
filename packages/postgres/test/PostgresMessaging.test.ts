import { Sql } from "@braid/core"
import { Lock, Messaging } from "@braid/messaging"
import { PostgresDriver, PostgresMessaging } from "@braid/postgres"
import {
  DATABASE_URL as SHARED_DATABASE_URL,
  describeWith,
  faultyProxy,
  runProcess,
  silentServer,
  withPort
} from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll } from "vitest"
import { agentsSuite, contend, lockSuite } from "../../messaging/test/agentsConformance.js"
import { run, suite } from "../../messaging/test/messagingConformance.js"
import { admin, inSchema, schemaName } from "./schemas.js"

const describePg = await describeWith("postgres")

/** A fresh schema for this file (others test concurrently on the same database): every connection's `search_path`. */
const schema = schemaName("braid_msg")
const DATABASE_URL = inSchema(SHARED_DATABASE_URL, schema)

/** `url` whose connections carry `application_name` = `name` (pg reads it from the URL). */
const withApplicationName = (url: string, name: string): string => {
  const u = new URL(url)
  u.searchParams.set("application_name", name)
  return u.toString()
}
describePg("PostgreSQL", () => {
  beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  suite("PostgreSQL", () => PostgresMessaging.layer({ url: DATABASE_URL, pollInterval: "20 millis" }))
  agentsSuite("PostgreSQL", () => PostgresMessaging.layer({ url: DATABASE_URL, pollInterval: "20 millis" }), {
    fuzzRuns: 60
  })
  lockSuite(
    "PostgreSQL",
    () =>
      Effect.flatMap(
        Layer.build(PostgresDriver.layer({ url: DATABASE_URL })),
        (driver) => Effect.provide(Lock.sqlLockStoreWith(), driver)
      )
  )

  /** Two independent service instances (two pools), as two processes would have. */
  const twoInstances = Effect.all([
    Layer.build(PostgresMessaging.layer({ url: DATABASE_URL, pollInterval: "20 millis" })),
    Layer.build(PostgresMessaging.layer({ url: DATABASE_URL, pollInterval: "20 millis" }))
  ])

  it.live("two instances (two pools) contending for one agent: exactly one holds it at a time", () =>
    Effect.gen(function*() {
      const [one, two] = yield* twoInstances
      const locks = [Lock.Lock, Lock.Lock].map((tag, i) => Effect.provide(tag, i === 0 ? one : two))
      const [l1, l2] = yield* Effect.all(locks)
      const target = `${run}-pools-contended`
      yield* contend(Array.from({ length: 10 }, (_, i) => i % 2 === 0 ? l1! : l2!), target)
      // free again, for either instance
      assert.strictEqual((yield* Effect.scoped(l2!.acquire(target, "after"))).holder, "after")
    }).pipe(Effect.scoped))

  it.live("a crashed process's lock: the other instance gets the agent once the lease expires (bounded wait)", () =>
    Effect.gen(function*() {
      const [one, two] = yield* twoInstances
      const store = yield* Effect.provide(
        Lock.sqlLockStoreWith(),
        yield* Layer.build(PostgresDriver.layer({ url: DATABASE_URL }))
      )
      const target = `${run}-pools-crashed`
      const now = Date.now()
      // what the crashed process left: a 1.5 s lease nobody renews or releases
      assert.isTrue(
        yield* store.tryAcquire("default", { agent: target, holder: "crashed", token: "x", expiresAt: now + 1500 }, now)
      )
      const l1 = yield* Effect.provide(Lock.Lock, one)
      const l2 = yield* Effect.provide(Lock.Lock, two)
      assert.strictEqual((yield* Effect.flip(Effect.scoped(l1.acquire(target, "eager"))))._tag, "AgentBusy")
      const lease = yield* Effect.scoped(l2.acquire(target, "patient", { wait: "30 seconds", retryEvery: "50 millis" }))
      assert.strictEqual(lease.holder, "patient")
    }).pipe(Effect.scoped))

  it.live(
    "a process killed while in a conversation: its agents stay busy until the lease expires, then are free",
    () =>
      Effect.gen(function*() {
        const [a, b] = [`${run}-killed-a`, `${run}-killed-b`]
        const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
        const child = yield* Effect.promise(() =>
          runProcess(
            join(root, "node_modules", ".bin", "tsx"),
            [
              "--conditions=@braid/source",
              join(root, "packages", "postgres", "test", "fixtures", "crash-holder.ts"),
              DATABASE_URL,
              a,
              b,
              "5000"
            ],
            { cwd: root, timeout: 300_000 }
          )
        )
        // tsx runs the script in a child of its own and reports its SIGKILL as its own exit
        assert.isTrue(
          child.signal === "SIGKILL" || child.status === 137,
          `${child.status} ${child.signal} ${child.stderr}`
        )
        const id = child.stdout.trim()
        const m = yield* Messaging.Messaging
        // nothing was released by the dead process: the lease (5 s) still holds
        assert.strictEqual((yield* m.registry.lookup(b)).status, "busy")
        assert.strictEqual(Option.getOrThrow(yield* Effect.flatMap(Lock.Lock, (l) => l.holderOf(b))).holder, id)
        const c = `${run}-killed-c`
        yield* m.registry.register({ name: c })
        const next = yield* m.startConversation({
          from: c,
          to: b,
          topic: "after the crash",
          lock: { wait: "60 seconds" }
        })
        assert.strictEqual((yield* next.state).state, "open")
        assert.strictEqual(
          (yield* (yield* m.conversation(id)).state).state,
          "open",
          "the dead process never ended its own"
        )
      }).pipe(Effect.scoped, Effect.provide(PostgresMessaging.layer({ url: DATABASE_URL, pollInterval: "50 millis" }))),
    { timeout: 400_000 }
  )

  it.live("a conversation started by one instance locks the agents for the other; the other ends it", () =>
    Effect.gen(function*() {
      const [one, two] = yield* twoInstances
      const m1 = yield* Effect.provide(Messaging.Messaging, one)
      const m2 = yield* Effect.provide(Messaging.Messaging, two)
      const [a, b, c] = [`${run}-x-a`, `${run}-x-b`, `${run}-x-c`]
      for (const name of [a, b, c]) yield* m1.registry.register({ name })
      const talk = yield* m1.startConversation({ from: a, to: b, topic: "across processes" })
      assert.strictEqual((yield* Effect.flip(m2.startConversation({ from: c, to: b, topic: "no" })))._tag, "AgentBusy")
      assert.strictEqual((yield* m2.registry.lookup(b)).status, "busy")
      const seen = yield* m2.inbox(b).waitForMessage("10 millis")
      assert.isTrue(Option.isNone(seen))
      yield* talk.say(a, "hello from one")
      const got = yield* m2.inbox(b).waitForMessage("10 seconds")
      assert.strictEqual(Option.getOrThrow(got).conversationId, talk.id)
      const other = yield* m2.conversation(talk.id)
      yield* other.end(b, "bye from two")
      assert.strictEqual((yield* talk.state).state, "ended")
      assert.strictEqual((yield* m1.registry.lookup(a)).status, "online")
      const next = yield* m2.startConversation({ from: c, to: b, topic: "now free" })
      assert.strictEqual((yield* next.state).state, "open")
    }).pipe(Effect.scoped))
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

  it.live("an inbox table of 0.3 without the idempotency key column is migrated on start; keys then apply", () => {
    const old = schemaName("braid_msg_old")
    const url = inSchema(SHARED_DATABASE_URL, old)
    return Effect.gen(function*() {
      yield* Effect.promise(() => admin(`CREATE SCHEMA ${old}`))
      yield* Effect.gen(function*() {
        const sql = yield* Sql.SqlDriver
        yield* sql.execute(`CREATE TABLE braid_inbox_messages (id TEXT PRIMARY KEY,
          organization TEXT NOT NULL DEFAULT 'default', recipient TEXT NOT NULL, sender TEXT NOT NULL,
          kind TEXT NOT NULL, correlation_id TEXT, conversation_id TEXT, body TEXT NOT NULL,
          sent_at BIGINT NOT NULL, read_at BIGINT)`)
        yield* sql.execute(
          "INSERT INTO braid_inbox_messages (id, recipient, sender, kind, body, sent_at) VALUES ('m1', 'critic', 'planner', 'message', '\"v0\"', 1)"
        )
      }).pipe(Effect.provide(PostgresDriver.layer({ url })))
      const send = Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        yield* m.registry.register({ name: "critic" })
        const id = yield* m.send("planner", "critic", "once", { idempotencyKey: "k" })
        return { id, unread: (yield* m.inbox("critic").unread).map((x) => x.body) }
      })
      // two starts (two processes): the second sees the first's key
      const first = yield* Effect.provide(send, PostgresMessaging.layer({ url }))
      const second = yield* Effect.provide(send, PostgresMessaging.layer({ url }))
      assert.strictEqual(second.id, first.id)
      assert.deepStrictEqual(second.unread, ["v0", "once"])
    }).pipe(Effect.ensuring(Effect.promise(() => admin(`DROP SCHEMA IF EXISTS ${old} CASCADE`))))
  })

  it.live("cleanup", () =>
    Effect.gen(function*() {
      const sql = yield* Sql.SqlDriver
      yield* sql.execute(
        "DELETE FROM braid_inbox_messages WHERE recipient LIKE ? OR (recipient = 'b' AND sender = 'a')",
        [run + "%"]
      )
    }).pipe(Effect.provide(PostgresDriver.layer({ url: DATABASE_URL }))))
})
