import { EventBus } from "@braid/messaging"
import { EventLog } from "@braid/server"
import { SessionEvents, SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Stream, TestClock } from "effect"

const ada: SessionStore.Principal = { userId: "ada", role: "learner", tenant: "default" }
const bob: SessionStore.Principal = { userId: "bob", role: "learner", tenant: "default" }

const fields = (sessionId: string) => ({ tenant: "default", sessionId, userId: "ada" })

const turn = (sessionId: string, n: number) =>
  SessionEvents.emit(SessionEvents.AiTurn, {
    ...fields(sessionId),
    turnId: `t${n}`,
    seq: n,
    text: `reply ${n}`,
    fallback: false
  })

const delta = (sessionId: string, n: number) =>
  SessionEvents.emit(SessionEvents.AiTurnDelta, { ...fields(sessionId), turnId: `t${n}`, delta: `${n} ` })

const show = (items: Iterable<EventLog.Item>) =>
  [...items].map((i) =>
    i._tag === "Event"
      ? `${i.entry.seq}:${i.entry.event._tag}:${i.entry.event.sessionId}`
      : `live:${i.event._tag}:${i.event.sessionId}`
  )

const Env = Layer.mergeAll(SessionStore.layerMemory, EventBus.layerMemory)

const setup = Effect.gen(function*() {
  const store = yield* SessionStore.SessionStore
  for (const id of ["s1", "s2"]) yield* store.createSession({ id, userId: "ada", kind: "practice", createdAt: 0 })
  const log = yield* EventLog.make(store)
  return { store, log }
})

/** Lets forked readers subscribe and the bus deliver. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

describe("EventLog (on the session store)", () => {
  it.scoped("replays the stored events after Last-Event-ID, then live, numbered by the store, with no duplicate", () =>
    Effect.gen(function*() {
      const { log } = yield* setup
      for (let n = 1; n <= 5; n++) yield* turn("s1", n)
      yield* turn("s2", 1)
      const reader = yield* log.follow(ada, "s1", 3).pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* settle
      yield* turn("s2", 2)
      yield* turn("s1", 6)
      yield* turn("s1", 7)
      const items = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      assert.deepStrictEqual(show(items), ["4:AiTurn:s1", "5:AiTurn:s1", "6:AiTurn:s1", "7:AiTurn:s1"])
    }).pipe(Effect.provide(Env)))

  it.scoped("deltas are forwarded live without a number and never stored; the whole AiTurn is", () =>
    Effect.gen(function*() {
      const { log, store } = yield* setup
      const reader = yield* log.follow(ada, "s1", 0).pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      yield* settle
      yield* delta("s1", 1)
      yield* delta("s1", 1)
      yield* turn("s1", 1)
      const items = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      assert.deepStrictEqual(show(items), ["live:AiTurnDelta:s1", "live:AiTurnDelta:s1", "1:AiTurn:s1"])
      const stored = yield* store.events(ada, "s1")
      assert.deepStrictEqual(stored.map((e) => e.event._tag), ["AiTurn"])
      // a reconnecting client gets the whole turn, not the deltas
      const again = yield* log.follow(ada, "s1", 0).pipe(Stream.take(1), Stream.runCollect)
      assert.deepStrictEqual(show(again), ["1:AiTurn:s1"])
    }).pipe(Effect.provide(Env)))

  it.scoped("an event emitted again with the same eventId is neither stored nor delivered twice", () =>
    Effect.gen(function*() {
      const { log, store } = yield* setup
      const reader = yield* log.follow(ada, "s1", 0).pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      yield* settle
      const again = SessionEvents.emit(SessionEvents.SessionEnded, {
        ...fields("s1"),
        reason: "user",
        requestedAt: 1
      }, { eventId: "end-of-s1" })
      yield* again
      yield* again
      yield* turn("s1", 9)
      const items = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      assert.deepStrictEqual(show(items), ["1:SessionEnded:s1", "2:AiTurn:s1"])
      assert.deepStrictEqual((yield* store.events(ada, "s1")).map((e) => e.seq), [1, 2])
    }).pipe(Effect.provide(Env)))

  it.scoped("an event stored without a bus message (another process, a lost message) is delivered by the poll", () =>
    Effect.gen(function*() {
      const { log, store } = yield* setup
      const reader = yield* log.follow(ada, "s1", 0).pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* settle
      // stored behind the bus's back: no wake-up
      yield* store.appendEvent(
        new SessionEvents.Insight({ eventId: "quiet", at: 1, ...fields("s1"), text: "stored only" })
      )
      yield* settle
      assert.isNull(reader.unsafePoll())
      yield* TestClock.adjust("5 seconds")
      const items = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      assert.deepStrictEqual(show(items), ["1:Insight:s1"])
    }).pipe(Effect.provide(Env)))

  it.scoped("ownership: another learner's session is SessionNotFound; a follower ends when its session is deleted", () =>
    Effect.gen(function*() {
      const { log, store } = yield* setup
      const denied = yield* Effect.flip(log.follow(bob, "s1", 0).pipe(Stream.runCollect))
      assert.strictEqual(denied._tag, "SessionNotFound")
      yield* turn("s1", 1)
      const reader = yield* log.follow(ada, "s1", 0).pipe(Stream.runCollect, Effect.fork)
      yield* settle
      yield* store.deleteSession(ada, "s1")
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(show(yield* Fiber.join(reader)), ["1:AiTurn:s1"])
    }).pipe(Effect.provide(Env)))

  it.scoped("a reader gets its own session's events only", () =>
    Effect.gen(function*() {
      const { log } = yield* setup
      const reader = yield* log.follow(ada, "s1", 0).pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      yield* settle
      yield* turn("s2", 1)
      yield* delta("s2", 1)
      yield* turn("s1", 1)
      yield* turn("s2", 2)
      yield* turn("s1", 2)
      const items = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      assert.deepStrictEqual(show(items), ["1:AiTurn:s1", "2:AiTurn:s1"])
    }).pipe(Effect.provide(Env)))
})
