import { StreamBuffer } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream } from "effect"

describe("StreamBuffer", () => {
  it.scoped("tracks are independent; positions and global order are kept", () =>
    Effect.gen(function*() {
      const b = yield* StreamBuffer.make<string>()
      yield* b.append("conversation", "user: hi")
      yield* b.append("insights", "greeting")
      yield* b.append("conversation", "coach: hello")
      const conv = yield* b.read("conversation")
      assert.deepStrictEqual(StreamBuffer.values(conv), ["user: hi", "coach: hello"])
      assert.deepStrictEqual(conv.map((i) => [i.index, i.seq]), [[0, 1], [1, 3]])
      assert.deepStrictEqual(StreamBuffer.values(yield* b.read("insights")), ["greeting"])
      assert.deepStrictEqual(StreamBuffer.values(yield* b.read("conversation", { index: 1 })), ["coach: hello"])
    }))

  it.scoped("markers are placed on every track at its current end; reads between markers", () =>
    Effect.gen(function*() {
      const b = yield* StreamBuffer.make<string>()
      yield* b.append("conversation", "c1")
      const m1 = yield* b.mark("start of topic")
      yield* b.append("conversation", "c2")
      yield* b.append("insights", "i1")
      yield* b.append("conversation", "c3")
      const m2 = yield* b.mark("end of topic")
      yield* b.append("insights", "i2")
      assert.deepStrictEqual(m1.positions, { conversation: 1, insights: 0 })
      assert.deepStrictEqual(m2.positions, { conversation: 4, insights: 2 })
      assert.deepStrictEqual(yield* b.between("conversation", m1.id, m2.id), ["c2", "c3"])
      assert.deepStrictEqual(yield* b.between("insights", m1.id, m2.id), ["i1"])
      assert.deepStrictEqual(yield* b.between("insights", m2.id), ["i2"])
      assert.deepStrictEqual(StreamBuffer.values(yield* b.read("insights", { marker: m2.id })), ["i2"])
      const items = yield* b.read("insights")
      assert.deepStrictEqual(items.map((i) => i._tag === "Marker" ? `#${i.marker.label}` : i.value), [
        "#start of topic",
        "i1",
        "#end of topic",
        "i2"
      ])
      assert.strictEqual((yield* b.markers).length, 2)
    }))

  it.scoped("follow replays the track, then streams new items without duplicates, and ends on close", () =>
    Effect.gen(function*() {
      const b = yield* StreamBuffer.make<number>()
      yield* b.append("conversation", 1)
      yield* b.append("conversation", 2)
      const fiber = yield* Effect.fork(Stream.runCollect(b.follow("conversation", { index: 1 })))
      yield* Effect.yieldNow()
      yield* b.append("insights", 99) // another track: not followed
      yield* b.append("conversation", 3)
      yield* b.mark("m")
      yield* b.append("conversation", 4)
      yield* b.close
      const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      assert.deepStrictEqual(got.map((i) => i._tag === "Entry" ? i.value : `#${i.marker.label}`), [2, 3, "#m", 4])
      // following a closed buffer gives what it holds, and ends
      const after = yield* Stream.runCollect(b.follow("insights"))
      assert.deepStrictEqual(StreamBuffer.values(Chunk.toReadonlyArray(after)), [99])
    }))

  it.scoped("an insight added while the conversation is being followed does not disturb it", () =>
    Effect.gen(function*() {
      const b = yield* StreamBuffer.make<string>()
      const conv = yield* Effect.fork(Stream.runCollect(b.follow("conversation").pipe(Stream.take(3))))
      const ins = yield* Effect.fork(Stream.runCollect(b.follow("insights").pipe(Stream.take(2))))
      yield* Effect.yieldNow()
      yield* Effect.all([
        Effect.forEach(["a", "b", "c"], (m) => b.append("conversation", m)),
        Effect.forEach(["x", "y"], (m) => b.append("insights", m))
      ], { concurrency: 2 })
      assert.deepStrictEqual(StreamBuffer.values(Chunk.toReadonlyArray(yield* Fiber.join(conv))), ["a", "b", "c"])
      assert.deepStrictEqual(StreamBuffer.values(Chunk.toReadonlyArray(yield* Fiber.join(ins))), ["x", "y"])
    }))

  it.scoped("custom tracks", () =>
    Effect.gen(function*() {
      const b = yield* StreamBuffer.make<string, "dialogue" | "notes" | "alerts">({
        tracks: ["dialogue", "notes", "alerts"]
      })
      yield* b.append("alerts", "!")
      const m = yield* b.mark("x")
      assert.deepStrictEqual(m.positions, { dialogue: 0, notes: 0, alerts: 1 })
    }))
})
