import { Meeting, Termination } from "@braid/meetings"
import { EventBus, Lock } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option } from "effect"

const say = (name: string) => Meeting.participant(name, (v) => `${name} speaks at turn ${v.turn}`)
const Services = Layer.merge(EventBus.layerMemory, Lock.layerMemory)

describe("Meeting: engagement (an agent in a meeting is busy elsewhere)", () => {
  it.scoped("participants hold their agent's lock while present; leaving and the end release it", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.Lock
      const meeting = yield* Meeting.make({
        id: "m-e1",
        topic: "plan",
        host: say("host"),
        termination: Termination.maxTurns(2)
      })
      yield* meeting.attend(say("ada"))
      yield* meeting.attend(say("bob"))
      assert.deepStrictEqual(Option.map(yield* lock.holderOf("ada"), (h) => h.holder), Option.some("meeting:m-e1"))
      assert.deepStrictEqual(Option.map(yield* lock.holderOf("host"), (h) => h.holder), Option.some("meeting:m-e1"))

      // busy for any other engagement (a conversation, another meeting)
      const elsewhere = yield* Effect.exit(Effect.scoped(lock.acquire("ada", "conversation-1")))
      assert.isTrue(Exit.isFailure(elsewhere))

      yield* meeting.leave("bob")
      assert.isTrue(Option.isNone(yield* lock.holderOf("bob")))
      assert.isTrue(Option.isSome(yield* lock.holderOf("ada")))

      yield* meeting.run
      assert.deepStrictEqual(yield* lock.live, [])
    }).pipe(Effect.provide(Services)))

  it.scoped("an agent engaged elsewhere cannot attend (typed, naming it); the meeting goes on without it", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.Lock
      yield* lock.acquire("ada", "conversation-7")
      const meeting = yield* Meeting.make({
        id: "m-e2",
        topic: "plan",
        host: say("host"),
        termination: Termination.maxTurns(2)
      })
      const refused = yield* Effect.flip(meeting.attend(say("ada")))
      assert.strictEqual(refused._tag, "MeetingActionRejected")
      assert.strictEqual(refused.participant, "ada")
      assert.include(refused.reason, "cannot be engaged")
      assert.isFalse((yield* meeting.status).participants.includes("ada"))
      // still held by its conversation, not by the meeting
      assert.deepStrictEqual(Option.map(yield* lock.holderOf("ada"), (h) => h.holder), Option.some("conversation-7"))
    }).pipe(Effect.provide(Services)))

  it.scoped("a second meeting cannot take a participant of the first; engagement: false opts out", () =>
    Effect.gen(function*() {
      const first = yield* Meeting.make({
        id: "m-e3",
        topic: "a",
        host: say("host"),
        termination: Termination.maxTurns(1)
      })
      yield* first.attend(say("ada"))
      const second = yield* Meeting.make({
        id: "m-e4",
        topic: "b",
        host: say("host2"),
        termination: Termination.maxTurns(1)
      })
      assert.strictEqual((yield* Effect.flip(second.attend(say("ada")))).participant, "ada")
      const free = yield* Meeting.make({
        id: "m-e5",
        topic: "c",
        host: say("host3"),
        termination: Termination.maxTurns(1),
        engagement: false
      })
      yield* free.attend(say("ada"))
      assert.isTrue((yield* free.status).participants.includes("ada"))
    }).pipe(Effect.provide(Services)))
})
