import { afterAll, assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Deferred, Effect, Fiber, Layer, Option, Queue, Redacted, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DATABASE_URL, describeWith } from "@braid/testing"
import { Messaging } from "@braid/agents"

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

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-inbox-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
suite("SQLite", () => Messaging.layerSqlite({ filename: path.join(dir, "inbox.db"), pollInterval: "20 millis" }))

const describePg = await describeWith("postgres")
describePg("PostgreSQL", () => {
  suite("PostgreSQL", () => Messaging.layerPg({ url: DATABASE_URL, pollInterval: "20 millis" }))
  it.live("cleanup", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DELETE FROM braid_inbox_messages WHERE recipient LIKE ${run + "%"}`
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
