import { EventLog } from "@braid/server"
import { SessionEvents } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream } from "effect"

const delta = (sessionId: string, n: number) =>
  new SessionEvents.AiTurnDelta({
    eventId: `e${n}`,
    at: n,
    tenant: "default",
    sessionId,
    userId: "ada",
    turnId: "t",
    delta: `${n} `
  })

const seqs = (items: Iterable<EventLog.Item>) =>
  [...items].map((i) => (i._tag === "Event" ? i.entry.seq : `gap ${i.after}..${i.next}`))

describe("EventLog", () => {
  it.scoped("numbers each session's events from 1 and replays those after Last-Event-ID, then live, with no duplicate", () =>
    Effect.gen(function*() {
      const log = yield* EventLog.make()
      for (let n = 1; n <= 5; n++) yield* log.append(delta("s1", n))
      yield* log.append(delta("s2", 1))
      assert.strictEqual(log.last("s1"), 5)
      assert.strictEqual(log.last("s2"), 1)
      const reader = yield* log.follow("s1", 3).pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      yield* log.append(delta("s2", 2))
      yield* log.append(delta("s1", 6))
      yield* log.append(delta("s1", 7))
      const items = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      assert.deepStrictEqual(seqs(items), [4, 5, 6, 7])
    }))

  it.scoped("a bounded log says which events it dropped (a Gap), then continues", () =>
    Effect.gen(function*() {
      const log = yield* EventLog.make({ perSession: 3 })
      for (let n = 1; n <= 6; n++) yield* log.append(delta("s1", n))
      const items = yield* log.follow("s1", 1).pipe(Stream.take(4), Stream.runCollect)
      assert.deepStrictEqual(seqs(items), ["gap 1..4", 4, 5, 6])
      const upToDate = yield* log.follow("s1", 5).pipe(Stream.take(1), Stream.runCollect)
      assert.deepStrictEqual(seqs(upToDate), [6])
    }))

  it.scoped("keeps at most `sessions` logs (least recently written dropped)", () =>
    Effect.gen(function*() {
      const log = yield* EventLog.make({ sessions: 2 })
      yield* log.append(delta("a", 1))
      yield* log.append(delta("b", 1))
      yield* log.append(delta("a", 2))
      yield* log.append(delta("c", 1))
      assert.deepStrictEqual([log.last("a"), log.last("b"), log.last("c")], [2, 0, 1])
    }))
})
