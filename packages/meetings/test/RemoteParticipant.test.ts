/**
 * Remote participants over the bus, in one process (the in-memory bus; the same protocol runs on
 * Redis across processes: tests/meeting-remote.test.ts). Time is the TestClock.
 */
import { Meeting, RemoteParticipant, Termination } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"

const turnsOf = (history: ReadonlyArray<Meeting.Entry>) =>
  history.filter((e) => e.turn !== undefined).map((e) => `${e.participant}:${e.kind}`)

describe("RemoteParticipant", () => {
  it.scoped("agents join through the bus, take their turns there, and see the end; refusals are typed", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        id: "weekly/1",
        tenant: "acme",
        topic: "weekly",
        host: Meeting.participant("lead", (v) => `lead at ${v.turn}`),
        admission: "invitation",
        invited: ["ann", "bob", "mute"],
        speakingTimeout: "10 seconds",
        termination: Termination.maxTurns(6)
      })
      yield* RemoteParticipant.host(meeting, { timeout: "1 minute" })
      const ann = yield* RemoteParticipant.join({
        meetingId: "weekly/1",
        tenant: "acme",
        name: "ann",
        speak: (v) => `ann sees ${v.participants.join(",")} at turn ${v.turn}`
      })
      // the same id in another tenant is another meeting: nobody answers there
      const elsewhere = yield* Effect.fork(
        RemoteParticipant.join({
          meetingId: "weekly/1",
          tenant: "globex",
          name: "ann",
          speak: () => "?",
          timeout: "5 seconds"
        })
      )
      const refused = yield* Effect.flip(
        RemoteParticipant.join({ meetingId: "weekly/1", tenant: "acme", name: "eve", speak: () => "hi" })
      )
      if (refused._tag !== "MeetingActionRejected") return assert.fail(`expected a rejection, got ${refused._tag}`)
      assert.deepStrictEqual([refused.action, refused.participant], ["attend", "eve"])
      assert.include(refused.reason, "not invited")
      yield* RemoteParticipant.answer({ meetingId: "weekly/1", tenant: "acme", name: "bob", accept: false })
      const declined = yield* Effect.flip(
        RemoteParticipant.join({ meetingId: "weekly/1", tenant: "acme", name: "bob", speak: () => "hi" })
      )
      assert.include(declined.message, "declined")
      yield* RemoteParticipant.join({ meetingId: "weekly/1", tenant: "acme", name: "mute", speak: () => Effect.never })
      assert.deepStrictEqual((yield* meeting.status).participants, ["lead", "ann", "mute"])

      const running = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("10 seconds") // mute's turn: the speaking timeout
      yield* TestClock.adjust("10 seconds")
      const result = yield* Fiber.join(running)
      assert.deepStrictEqual(turnsOf(result.history), [
        "lead:spoke",
        "ann:spoke",
        "mute:timed-out",
        "lead:spoke",
        "ann:spoke",
        "mute:timed-out"
      ])
      assert.strictEqual(
        result.history.find((e) => e.participant === "ann" && e.kind === "spoke")!.text,
        "ann sees lead,ann,mute at turn 2"
      )
      assert.strictEqual(yield* ann.turns, 2)
      const ended = yield* ann.ended
      assert.strictEqual(ended.reason, "maxTurns(6): 6 turns taken (max 6)")
      assert.strictEqual(ended.tenant, "acme")
      const other = yield* Effect.flip(Fiber.join(elsewhere))
      assert.include(other.message, "did not answer within 5s")
    }).pipe(Effect.provide(EventBus.layerMemory)))

  it.scoped("a remote agent that does not answer within the participant's bound gets a failed turn; one that fails sends its error", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        id: "m2",
        topic: "t",
        host: Meeting.participant("lead", () => "go"),
        termination: Termination.maxTurns(4)
      })
      yield* RemoteParticipant.host(meeting, { timeout: "3 seconds" })
      yield* RemoteParticipant.join({ meetingId: "m2", name: "slow", speak: () => Effect.never })
      yield* RemoteParticipant.join({ meetingId: "m2", name: "broken", speak: () => Effect.fail("no words") })
      const leaver = yield* RemoteParticipant.join({ meetingId: "m2", name: "leaver", speak: () => "bye" })
      yield* leaver.leave
      const running = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("3 seconds")
      const result = yield* Fiber.join(running)
      assert.deepStrictEqual(turnsOf(result.history), ["lead:spoke", "slow:failed", "broken:failed", "lead:spoke"])
      const reasons = result.history.filter((e) => e.kind === "failed").map((e) => e.reason)
      assert.include(reasons[0], "RemoteParticipantError")
      assert.include(reasons[0], "no reply within 3s")
      assert.include(reasons[1], "no words")
    }).pipe(Effect.provide(EventBus.layerMemory)))
})
