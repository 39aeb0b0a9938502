/**
 * Every public input of a meeting is decoded before anything changes: bad inputs fail typed
 * (MeetingActionRejected naming where) and leave the meeting as it was.
 */
import { Primitive } from "@braid/core"
import { Meeting, Termination, TurnPolicy } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, FastCheck as fc, Schema } from "effect"

const say = (name: string) => Meeting.participant(name, (v) => `${name} at ${v.turn}`)

/** A running meeting (host, ann) with ann's manual turn open. */
const openTurn = Effect.gen(function*() {
  const meeting = yield* Meeting.make({
    topic: "t",
    host: say("host"),
    hostSpeaks: false,
    termination: Termination.maxTokens(1_000)
  })
  yield* meeting.attend(say("ann"))
  yield* meeting.start("host")
  assert.strictEqual(yield* meeting.nextTurn, "ann")
  return meeting
})

/** The meeting's observable state. */
const stateOf = (meeting: Meeting.Meeting) => Effect.all([meeting.status, meeting.history])

const cyclic = (): unknown => {
  const o: Record<string, unknown> = { text: "x" }
  o["self"] = o
  return o
}

/** Values a caller could pass by mistake (or on purpose). */
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withNullPrototype: true,
    withSparseArray: true,
    withObjectString: true
  }),
  fc.constantFrom<unknown>(
    null,
    undefined,
    {},
    [],
    Number.NaN,
    Infinity,
    -1,
    "",
    Symbol("s"),
    () => "fn",
    BigInt(7),
    cyclic()
  ),
  fc.record({
    text: fc.oneof(fc.string(), fc.constant(undefined), fc.integer()),
    tokens: fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, -5), fc.bigInt()),
    costUsd: fc.oneof(fc.double(), fc.constantFrom(Number.NaN, -0.5))
  }, { requiredKeys: [] }),
  fc.constant(JSON.parse("{\"__proto__\": {\"text\": \"poisoned\"}}"))
)

const isTypedRejection = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) && Cause.isFailType(exit.cause) &&
  (exit.cause.error as { _tag?: string })._tag === "MeetingActionRejected"

describe("Meeting: inputs are decoded before anything changes", () => {
  it.effect("speak(null | {} | tokens: NaN) fails typed; the turn is still open and nextTurn is not confused", () =>
    Effect.gen(function*() {
      const meeting = yield* openTurn
      const before = yield* stateOf(meeting)
      for (const bad of [null, {}, { text: "hi", tokens: Number.NaN }, { text: "hi", costUsd: -1 }, { text: 42 }]) {
        const err = yield* Effect.flip(meeting.speak("ann", bad as unknown as Meeting.Reply))
        assert.strictEqual(err._tag, "MeetingActionRejected")
        assert.strictEqual(err.action, "speak")
        assert.isDefined(err.path)
      }
      const nan = yield* Effect.flip(meeting.speak("ann", { text: "hi", tokens: Number.NaN }))
      assert.strictEqual(nan.path, "tokens")
      assert.deepStrictEqual(yield* stateOf(meeting), before, "nothing changed")
      yield* meeting.speak("ann", { text: "now properly", tokens: 3 })
      const status = yield* meeting.status
      assert.strictEqual(status.turns, 1)
      assert.strictEqual(status.tokens, 3)
    }).pipe(Effect.provide(EventBus.layerMemory)))

  it.effect("a driven participant whose reply does not decode gets a failed turn, and maxTokens still ends the meeting", () =>
    Effect.gen(function*() {
      const bad = Meeting.participant("bad", () => ({ text: "?", tokens: Number.NaN }))
      const good = Meeting.participant("good", () => ({ text: "ok", tokens: 10 }))
      const meeting = yield* Meeting.make({
        topic: "t",
        host: good,
        termination: Termination.or(Termination.maxTokens(30), Termination.maxTurns(20))
      })
      yield* meeting.attend(bad)
      const result = yield* meeting.run
      assert.strictEqual(result.endedBy.condition, "maxTokens(30)")
      const failed = result.history.find((e) => e.kind === "failed")!
      assert.include(failed.reason, "invalid reply at tokens")
    }).pipe(Effect.provide(EventBus.layerMemory)))

  it.effect("make with a bad configuration fails typed, naming the path", () =>
    Effect.gen(function*() {
      const cases: Array<[unknown, string]> = [
        [{ topic: "t", host: { name: "", speak: say("x").speak }, termination: Termination.never }, "host.name"],
        [{ topic: "t", host: { name: "h" }, termination: Termination.never }, "host.speak"],
        [{ topic: 1, host: say("h"), termination: Termination.never }, "topic"],
        [{ topic: "t", host: say("h") }, "termination"],
        [{ topic: "t", host: say("h"), termination: Termination.never, speakingTimeout: "soon" }, "speakingTimeout"],
        [{ topic: "t", host: say("h"), termination: Termination.never, speakingTimeout: -5 }, "speakingTimeout"],
        [null, "(root)"]
      ]
      for (const [config, path] of cases) {
        const err = yield* Effect.flip(Meeting.make(config as Meeting.Config))
        assert.strictEqual(err._tag, "MeetingActionRejected")
        assert.strictEqual(err.action, "make")
        assert.strictEqual(err.path, path)
      }
    }).pipe(Effect.provide(EventBus.layerMemory)))

  it.effect("a moderator that returns no name or a non-string remark falls back, and never records bad text", () =>
    Effect.gen(function*() {
      const chair = Primitive.sync(
        "chair",
        () => ({ next: Symbol("x"), say: { not: "text" } }) as unknown as TurnPolicy.ModeratorDecision
      )
      const meeting = yield* Meeting.make({
        topic: "t",
        host: say("host"),
        policy: TurnPolicy.moderated(chair),
        termination: Termination.maxTurns(2)
      })
      yield* meeting.attend(say("ann"))
      const result = yield* meeting.run
      assert.strictEqual(result.turns, 2)
      assert.isFalse(result.history.some((e) => e.kind === "remark"))
      assert.isTrue(result.history.every((e) => e.text === undefined || typeof e.text === "string"))
      assert.include(result.history.find((e) => e.kind === "spoke")!.reason, "not a name")
    }).pipe(Effect.provide(EventBus.layerMemory)))

  it.effect("property: random bad inputs to speak, attend, start, leave, end, invite, accept and decline never change the meeting and always fail typed", () =>
    Effect.gen(function*() {
      const meeting = yield* openTurn
      const isReply = Schema.is(Meeting.ReplySchema)
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            weird,
            fc.constantFrom("speak", "attend", "start", "leave", "end", "invite", "accept", "decline"),
            async (value, action) => {
              if (action === "speak" && isReply(value)) return // a valid reply: not a bad input
              const before = await Effect.runPromise(stateOf(meeting))
              const call = action === "speak"
                ? meeting.speak("ann", value as Meeting.Reply)
                : action === "attend"
                ? meeting.attend(value as Meeting.Participant)
                : action === "start"
                ? meeting.start(value as string)
                : action === "leave"
                ? meeting.leave(value as string)
                : action === "invite"
                ? meeting.invite(value as string, "zed")
                : action === "accept"
                ? meeting.accept(value as string)
                : action === "decline"
                ? meeting.decline(value as string)
                : meeting.end(value as string)
              const exit = await Effect.runPromiseExit(call)
              assert.isTrue(isTypedRejection(exit), `${action}(${String(typeof value)}) ${String(exit)}`)
              assert.deepStrictEqual(await Effect.runPromise(stateOf(meeting)), before)
            }
          ),
          { numRuns: 300 }
        )
      )
      // and the meeting still works
      yield* meeting.speak("ann", "still here")
      assert.strictEqual((yield* meeting.status).turns, 1)
    }).pipe(Effect.provide(EventBus.layerMemory)))
})
