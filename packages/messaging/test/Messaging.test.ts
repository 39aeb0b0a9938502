import { Errors as CoordinationErrors, Lock, Messaging } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, Fiber, Layer, Option, Queue, TestClock } from "effect"
import { agentsSuite, lockSuite } from "./agentsConformance.js"
import { suite } from "./messagingConformance.js"

suite(
  "memory (shared store across lives)",
  (() => {
    // a single memory store that outlives service instances, to run the restart test in memory too
    const store = Effect.runSync(Messaging.memoryStore)
    return () => Layer.scoped(Messaging.Messaging, Messaging.make(store, { pollInterval: "20 millis" }))
  })()
)

describe("Messaging: bodies (property)", () => {
  it.live("any value: either stored as its JSON copy, or refused with MessageInvalid and nothing stored", () =>
    Effect.gen(function*() {
      const m = yield* Messaging.Messaging
      let i = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.anything({ withBigInt: true, withBoxedValues: true, withNullPrototype: true, withSparseArray: true }),
            fc.string(),
            async (body, name) => {
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
            }
          ),
          { numRuns: 300 }
        )
      )
    }).pipe(Effect.provide(Messaging.layerMemory({ requireRegistered: false }))))
})

describe("Messaging: the in-memory store keeps unread messages only", () => {
  it.effect("read messages are dropped; unconsumed replies are capped at 1,000 per agent", () =>
    Effect.gen(function*() {
      const store = yield* Messaging.memoryStore
      const m = yield* Messaging.make(store)
      yield* m.registry.register({ name: "b" })
      const ids: Array<string> = []
      for (let i = 0; i < 5_000; i++) ids.push(yield* m.send("a", "b", { i, pad: "x".repeat(100) }))
      assert.deepStrictEqual(yield* store.size, { unread: 5_000, replies: 0, history: 5_000 })
      yield* m.inbox("b").markRead(ids.slice(0, 4_990))
      assert.deepStrictEqual(
        yield* store.size,
        { unread: 10, replies: 0, history: 5_000 },
        "read messages are not held"
      )
      assert.deepStrictEqual((yield* m.inbox("b").unread).map((x) => (x.body as { i: number }).i), [
        4990,
        4991,
        4992,
        4993,
        4994,
        4995,
        4996,
        4997,
        4998,
        4999
      ])
      // replies nobody waits for any more (their request timed out)
      const [request] = yield* m.inbox("b").unread
      for (let i = 0; i < 1_500; i++) yield* m.reply({ ...request!, id: `late-${i}` }, i)
      assert.deepStrictEqual(yield* store.size, { unread: 10, replies: 1_000, history: 6_500 })
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
        unread: (organization, agent) =>
          Effect.suspend(() => {
            reads++
            return down
              ? Effect.fail(
                new CoordinationErrors.MessageStoreError({ operation: "unread", reason: "connection refused" })
              )
              : inner.unread(organization, agent)
          })
      }
      const m = yield* Messaging.make(flaky, { pollInterval: "100 millis", maxRetryDelay: "1 second" })
      yield* m.registry.register({ name: "b" })
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

describe("Messaging: TestClock", () => {
  it.scoped("request timeouts follow the Effect Clock", () =>
    Effect.gen(function*() {
      const m = yield* Messaging.Messaging
      yield* m.registry.register({ name: "b" })
      const fiber = yield* Effect.fork(Effect.flip(m.request("a", "b", "?", { timeout: "30 seconds" })))
      yield* TestClock.adjust("29 seconds")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 second")
      const err = yield* Fiber.join(fiber)
      assert.strictEqual(err._tag, "RequestTimedOut")
    }).pipe(Effect.provide(Messaging.layerMemory())))
})

agentsSuite("memory", () => Messaging.layerMemory({ pollInterval: "20 millis" }), { fuzzRuns: 300 })
lockSuite("memory", () => Lock.memoryLockStore)
