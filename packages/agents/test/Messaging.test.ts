import { afterAll, assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Deferred, Effect, Either, FastCheck as fc, Fiber, Layer, Option, Queue, Redacted, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DATABASE_URL, describeWith, faultyProxy, silentServer, withPort } from "@braid/testing"
import { CoordinationErrors, Messaging } from "@braid/agents"

const run = `r${process.pid}x${Date.now().toString(36)}`

/** The behaviour every store must have. `layer` gives a fresh service over the same storage. */
const suite = (name: string, layer: () => Layer.Layer<Messaging.Messaging, unknown>) =>
  describe(`Messaging: ${name}`, () => {
    let n = 0
    const agent = (role: string) => `${run}-${name}-${n++}-${role}`

    it.live("send, unread in order, mark as read", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b] = [agent("a"), agent("b")]
        const id1 = yield* m.send(a, b, { n: 1 })
        yield* m.send(a, b, { n: 2 })
        yield* m.send(b, a, "not for b")
        const unread = yield* m.inbox(b).unread
        assert.deepStrictEqual(unread.map((x) => x.body), [{ n: 1 }, { n: 2 }])
        assert.deepStrictEqual([unread[0]!.from, unread[0]!.to, unread[0]!.kind, unread[0]!.id], [a, b, "message", id1])
        yield* m.inbox(b).markRead(id1)
        assert.deepStrictEqual((yield* m.inbox(b).unread).map((x) => x.body), [{ n: 2 }])
      }).pipe(Effect.provide(layer())))

    it.live("waitForMessage returns at once, waits for an arrival, or gives None after the timeout", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const b = agent("b")
        assert.isTrue(Option.isNone(yield* m.inbox(b).waitForMessage("50 millis")))
        const waiting = yield* Effect.fork(m.inbox(b).waitForMessage("5 seconds"))
        yield* Effect.sleep("20 millis")
        yield* m.send(agent("a"), b, "hello")
        const got = yield* Fiber.join(waiting)
        assert.strictEqual(Option.getOrThrow(got).body, "hello")
      }).pipe(Effect.provide(layer())))

    it.live("request/reply: the handler's result is the reply; no reply in time is RequestTimedOut", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [asker, critic, sleeper] = [agent("asker"), agent("critic"), agent("sleeper")]
        yield* m.serve(critic, (msg) => Effect.succeed({ verdict: `ok: ${(msg.body as { draft: string }).draft}` }))
        const answer = yield* m.request(asker, critic, { draft: "v1" }, { timeout: "5 seconds" })
        assert.deepStrictEqual(answer, { verdict: "ok: v1" })
        assert.deepStrictEqual(yield* m.inbox(asker).unread, [], "replies are consumed by the request")
        const err = yield* Effect.flip(m.request(asker, sleeper, "anyone?", { timeout: "100 millis" }))
        assert.strictEqual(err._tag, "RequestTimedOut")
        assert.strictEqual((err as { to: string }).to, sleeper)
      }).pipe(Effect.scoped, Effect.provide(layer())))

    it.live("a body with no JSON form, or a bad address, is refused with MessageInvalid naming the path; nothing is stored", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b] = [agent("a"), agent("b")]
        const cyclic: Record<string, unknown> = { x: 1 }
        cyclic["self"] = cyclic
        const deep: Array<unknown> = []
        let cur = deep
        for (let i = 0; i < 1500; i++) cur.push(cur = [])
        const cases: Array<[unknown, string]> = [
          [{ n: BigInt(1) }, "n"],
          [cyclic, "self"],
          [{ a: [1, Number.NaN] }, "a[1]"],
          [{ a: { b: Infinity } }, "a.b"],
          [JSON.parse('{"ok": {"__proto__": {"admin": true}}}'), "ok"],
          [deep, "(root)"]
        ]
        for (const [body, where] of cases) {
          const err = yield* Effect.flip(m.send(a, b, body))
          assert.instanceOf(err, CoordinationErrors.MessageInvalid)
          assert.strictEqual((err as CoordinationErrors.MessageInvalid).field, "body")
          if (where !== "(root)") assert.include((err as CoordinationErrors.MessageInvalid).path, where)
          const r = yield* Effect.flip(m.request(a, b, body, { timeout: "1 second" }))
          assert.strictEqual(r._tag, "MessageInvalid")
        }
        for (const [from, to] of [["", b], [a, ""], [42 as unknown as string, b], [a, undefined as unknown as string]] as const) {
          const err = yield* Effect.flip(m.send(from, to, "hi"))
          assert.strictEqual(err._tag, "MessageInvalid")
        }
        assert.deepStrictEqual(yield* m.inbox(b).unread, [], "nothing was stored")
      }).pipe(Effect.provide(layer())))

    it.live("the body is copied on the way in: a later change of the caller's object does not change the message", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b] = [agent("a"), agent("b")]
        const body = { items: [1, 2], meta: { at: new Date(0) } }
        yield* m.send(a, b, body)
        body.items.push(3)
        body.meta.at = new Date(1)
        const [got] = yield* m.inbox(b).unread
        assert.deepStrictEqual(got!.body, { items: [1, 2], meta: { at: "1970-01-01T00:00:00.000Z" } })
        ;(got!.body as { items: Array<number> }).items.push(99) // a reader's change stays with the reader
        assert.deepStrictEqual(((yield* m.inbox(b).unread)[0]!.body as { items: Array<number> }).items, [1, 2])
      }).pipe(Effect.provide(layer())))

    it.live("pending messages survive a restart and are delivered, in order, when the handler resumes", () =>
      Effect.gen(function*() {
        const [a, b] = [agent("a"), agent("b")]
        // First life: messages arrive while b has no handler.
        yield* Effect.gen(function*() {
          const m = yield* Messaging.Messaging
          for (let i = 1; i <= 3; i++) yield* m.send(a, b, i)
        }).pipe(Effect.provide(layer()))
        // Second life (a new service and connection): b's handler starts and gets them.
        yield* Effect.gen(function*() {
          const m = yield* Messaging.Messaging
          const got = yield* Queue.unbounded<unknown>()
          const failedOnce = yield* Deferred.make<void>()
          yield* m.serve(b, (msg) =>
            msg.body === 2
              ? Effect.flatMap(Deferred.succeed(failedOnce, undefined), (first) => first ? Effect.fail("transient") : Queue.offer(got, msg.body))
              : Queue.offer(got, msg.body))
          yield* m.send(a, b, 4)
          const items = yield* Effect.all(Array.from({ length: 4 }, () => Queue.take(got))).pipe(Effect.timeout("10 seconds"))
          assert.deepStrictEqual(items, [1, 2, 3, 4], "in order; the failed message was retried before the next ones")
          // each message is marked read once its handler has returned (shortly after we saw it)
          let unread = yield* m.inbox(b).unread
          for (let i = 0; i < 250 && unread.length > 0; i++) {
            yield* Effect.sleep("20 millis")
            unread = yield* m.inbox(b).unread
          }
          assert.deepStrictEqual(unread, [])
        }).pipe(Effect.scoped, Effect.provide(layer()))
      }))
  })

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

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-inbox-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
suite("SQLite", () => Messaging.layerSqlite({ filename: path.join(dir, "inbox.db"), pollInterval: "20 millis" }))

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
