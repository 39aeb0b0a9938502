import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Either, FastCheck as fc, Fiber, Layer, Option, Queue, Redacted, TestClock } from "effect"
import { DATABASE_URL, describeWith, faultyProxy, silentServer, withPort } from "@braid/testing"
import { CoordinationErrors, Messaging } from "@braid/agents"
import { run, suite } from "./messagingConformance.js"


suite("memory (shared store across lives)", (() => {
  // a single memory store that outlives service instances, to run the restart test in memory too
  const store = Effect.runSync(Messaging.memoryStore)
  return () => Layer.scoped(Messaging.Messaging, Messaging.make(store, { pollInterval: "20 millis" }))
})())

describe("Messaging: bodies (property)", () => {
  it.live("any value: either stored as its JSON copy, or refused with MessageInvalid and nothing stored", () =>
    Effect.gen(function*() {
      const m = yield* Messaging.Messaging
      let i = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.anything({ withBigInt: true, withBoxedValues: true, withNullPrototype: true, withSparseArray: true }), fc.string(), async (body, name) => {
            const to = `fuzz-${i++}-${name}`
            const sent = await Effect.runPromise(Effect.either(m.send("fuzzer", to, body)))
            const unread = await Effect.runPromise(m.inbox(to).unread)
            if (Either.isLeft(sent)) {
              assert.strictEqual(sent.left._tag, "MessageInvalid")
              assert.deepStrictEqual(unread, [])
            } else {
              assert.strictEqual(unread.length, 1)
              assert.deepStrictEqual(unread[0]!.body, JSON.parse(JSON.stringify(body) ?? "null"))
            }
          }),
          { numRuns: 300 }
        )
      )
    }).pipe(Effect.provide(Messaging.layerMemory())))
})

describe("Messaging: the in-memory store keeps unread messages only", () => {
  it.effect("read messages are dropped; unconsumed replies are capped at 1,000 per agent", () =>
    Effect.gen(function*() {
      const store = yield* Messaging.memoryStore
      const m = yield* Messaging.make(store)
      const ids: Array<string> = []
      for (let i = 0; i < 5_000; i++) ids.push(yield* m.send("a", "b", { i, pad: "x".repeat(100) }))
      assert.deepStrictEqual(yield* store.size, { unread: 5_000, replies: 0 })
      yield* m.inbox("b").markRead(ids.slice(0, 4_990))
      assert.deepStrictEqual(yield* store.size, { unread: 10, replies: 0 }, "read messages are not held")
      assert.deepStrictEqual((yield* m.inbox("b").unread).map((x) => (x.body as { i: number }).i), [4990, 4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999])
      // replies nobody waits for any more (their request timed out)
      const [request] = yield* m.inbox("b").unread
      for (let i = 0; i < 1_500; i++) yield* m.reply({ ...request!, id: `late-${i}` }, i)
      assert.deepStrictEqual(yield* store.size, { unread: 10, replies: 1_000 })
    }).pipe(Effect.scoped))
})

describe("Messaging: serve outlives store errors", () => {
  it.scoped("after the store comes back, new messages are delivered without a restart (backoff on the Clock)", () =>
    Effect.gen(function*() {
      const inner = yield* Messaging.memoryStore
      let down = false
      let reads = 0
      const flaky: Messaging.Store = {
        ...inner,
        unread: (agent) =>
          Effect.suspend(() => {
            reads++
            return down ? Effect.fail(new CoordinationErrors.MessageStoreError({ operation: "unread", reason: "connection refused" })) : inner.unread(agent)
          })
      }
      const m = yield* Messaging.make(flaky, { pollInterval: "100 millis", maxRetryDelay: "1 second" })
      const got = yield* Queue.unbounded<unknown>()
      down = true
      yield* m.serve("b", (msg) => Queue.offer(got, msg.body))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(reads, 1)
      // retries at +100, +200, +400, +800, then every 1 s (the cap)
      const readsAt: Array<number> = []
      for (const step of [100, 200, 400, 800, 1000, 1000]) {
        yield* TestClock.adjust(step)
        readsAt.push(reads)
      }
      assert.deepStrictEqual(readsAt, [2, 3, 4, 5, 6, 7])
      down = false
      yield* m.send("a", "b", "after the outage")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(Option.getOrNull(yield* Queue.poll(got)), "after the outage")
      // and the backoff starts over after a success
      down = true
      yield* m.send("a", "b", "wakes the reader")
      const before = reads
      yield* TestClock.adjust(100)
      assert.strictEqual(reads - before, 2, "first retry after pollInterval again")
    }))
})


const describePg = await describeWith("postgres")
describePg("PostgreSQL", () => {
  suite("PostgreSQL", () => Messaging.layerPg({ url: DATABASE_URL, pollInterval: "20 millis" }))
  it.live("a database that accepts and never answers: connecting is bounded, a typed failure", () =>
    Effect.gen(function*() {
      const silent = yield* silentServer
      const exit = yield* Effect.exit(
        Effect.flatMap(Messaging.Messaging, (m) => m.send("a", "b", 1)).pipe(
          Effect.provide(Messaging.layerPg({ url: withPort(DATABASE_URL, silent.port), timeout: "300 millis" }))
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
        yield* m.send(`${run}-silent-a`, agentB, "before")
        yield* m.serve(agentB, () => Effect.void)
        link.silence()
        for (const call of [m.send("x", agentB, 1), m.inbox(agentB).unread, m.inbox(agentB).markRead("id"), m.request("x", agentB, 1, { timeout: "10 seconds" })]) {
          const err = yield* Effect.flip(call)
          assert.strictEqual(err._tag, "MessageStoreError")
          assert.include(err.message, "no answer within 300 ms")
        }
      }).pipe(Effect.scoped, Effect.provide(Messaging.layerPg({ url: withPort(DATABASE_URL, link.port), timeout: "300 millis", pollInterval: "50 millis" })))
    }).pipe(Effect.scoped))

  it.live("a connection killed by the server (pg_terminate_backend) is a typed failure or a retried success, never an uncaught error", () =>
    Effect.gen(function*() {
      const app = `braid-msg-kill-${process.pid}-${Date.now()}`
      const uncaught: Array<unknown> = []
      const onUncaught = (e: unknown) => void uncaught.push(e)
      process.on("uncaughtException", onUncaught)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("uncaughtException", onUncaught)))
      const killer = PgClient.layer({ url: Redacted.make(DATABASE_URL) })
      const kill = Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ pid: number }>`SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE application_name = ${app}`
        return rows.length
      }).pipe(Effect.provide(killer))
      const b = `${run}-killed-b`
      yield* Effect.gen(function*() {
        const m = yield* Messaging.Messaging
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
        Effect.provide(Messaging.layerSql({ pollInterval: "50 millis" }).pipe(
          Layer.provide(PgClient.layer({ url: Redacted.make(DATABASE_URL), applicationName: app }))
        ))
      )
      assert.deepStrictEqual(uncaught, [])
    }).pipe(Effect.scoped))

  it.live("a stored body that is not JSON is a MessageStoreError, not a defect", () =>
    Effect.gen(function*() {
      const b = `${run}-garbled-b`
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const m = yield* Messaging.Messaging
        yield* m.send("a", b, "fine")
        yield* sql`UPDATE braid_inbox_messages SET body = ${"{not json"} WHERE recipient = ${b}`
        const err = yield* Effect.flip(m.inbox(b).unread)
        assert.strictEqual(err._tag, "MessageStoreError")
        assert.include(err.message, "not valid JSON")
      }).pipe(Effect.provide(Messaging.layerSql().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(DATABASE_URL) })))))
    }))

  it.live("cleanup", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DELETE FROM braid_inbox_messages WHERE recipient LIKE ${run + "%"} OR (recipient = 'b' AND sender = 'a')`
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(DATABASE_URL) }))))
})

describe("Messaging: TestClock", () => {
  it.scoped("request timeouts follow the Effect Clock", () =>
    Effect.gen(function*() {
      const m = yield* Messaging.Messaging
      const fiber = yield* Effect.fork(Effect.flip(m.request("a", "b", "?", { timeout: "30 seconds" })))
      yield* TestClock.adjust("29 seconds")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 second")
      const err = yield* Fiber.join(fiber)
      assert.strictEqual(err._tag, "RequestTimedOut")
    }).pipe(Effect.provide(Messaging.layerMemory())))
})
