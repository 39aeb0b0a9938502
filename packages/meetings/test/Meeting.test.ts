import { Agent } from "@braid/agents"
import { Primitive, Runner, sequence } from "@braid/core"
import { ScriptedLanguageModel } from "@braid/llm"
import { Meeting, MeetingStore, Termination, TurnPolicy } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { byName, parentOf, successValue, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Option, Queue, Ref, Schema, TestClock } from "effect"

const say = (name: string) => Meeting.participant(name, (v) => `${name} speaks at turn ${v.turn}`)
const slow = (name: string, ms: number) =>
  Meeting.participant(name, () => Effect.as(Effect.sleep(Duration.millis(ms)), `${name} (after ${ms} ms)`))
const silent = (name: string) => Meeting.participant(name, () => Effect.never)

const spokenBy = (history: ReadonlyArray<Meeting.Entry>) =>
  history.filter((e) => e.kind === "spoke").map((e) => e.participant)
const turnsOf = (history: ReadonlyArray<Meeting.Entry>) =>
  history.filter((e) => e.turn !== undefined).map((e) => `${e.participant}:${e.kind}`)

/** Runs the meeting in a fiber, advancing virtual time by `step` until it ends. */
const drive = <R>(meeting: Meeting.Meeting<R>, step: Duration.DurationInput = "100 millis", maxSteps = 10_000) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(meeting.run)
    for (let i = 0; i < maxSteps && fiber.unsafePoll() === null; i++) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

const Bus = EventBus.layerMemory

describe("Meeting: round robin, events, status", () => {
  it.effect("every participant speaks in turn order; the result names the condition; every step is an event", () =>
    Effect.gen(function*() {
      const events = yield* Queue.unbounded<string>()
      yield* EventBus.subscribe(Meeting.events, (e, ch) => Queue.offer(events, `${ch}:${e.participant}`))
      const meeting = yield* Meeting.make({
        id: "m1",
        topic: "plan",
        host: say("host"),
        termination: Termination.maxTurns(8)
      })
      for (const n of ["a", "b", "c"]) yield* meeting.attend(say(n))
      const result = yield* drive(meeting)
      assert.deepStrictEqual(spokenBy(result.history), ["host", "a", "b", "c", "host", "a", "b", "c"])
      assert.strictEqual(result.endedBy.condition, "maxTurns(8)")
      assert.strictEqual(result.status.state, "ended")
      assert.strictEqual(result.status.currentSpeaker, undefined)
      assert.deepStrictEqual(result.history.map((e) => e.seq), result.history.map((_, i) => i + 1))
      yield* Effect.yieldNow()
      const got = yield* Queue.takeAll(events)
      const list = [...got]
      assert.strictEqual(list.length, result.history.length)
      assert.strictEqual(list[0], "meeting.participant.joined:host")
      assert.include(list, "meeting.session.started:host")
      assert.strictEqual(list.filter((e) => e.startsWith("meeting.participant.spoke")).length, 8)
      assert.strictEqual(list[list.length - 1], "meeting.session.ended:host")
    }).pipe(Effect.scoped, Effect.provide(Bus)))

  it.effect("status shows the current speaker and participants mid-meeting", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({ topic: "t", host: say("host"), termination: Termination.maxTurns(3) })
      yield* meeting.attend(slow("a", 1000))
      const fiber = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("10 millis")
      const status = yield* meeting.status
      assert.strictEqual(status.state, "running")
      assert.strictEqual(status.currentSpeaker, "a")
      assert.deepStrictEqual(status.participants, ["host", "a"])
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: the state machine rejects out-of-order actions", () => {
  it.effect("start, speak, leave and end are checked", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({ id: "sm", topic: "t", host: say("host"), termination: Termination.never })
      yield* meeting.attend(say("a"))
      const rejected = (eff: Effect.Effect<unknown, Meeting.Meeting extends never ? never : unknown>) =>
        Effect.map(Effect.flip(eff), (e) => e as { _tag: string; action: string; reason: string; state: string })
      let e = yield* rejected(meeting.attend(say("a")))
      assert.include(e.reason, "already attending")
      e = yield* rejected(meeting.start("a"))
      assert.deepStrictEqual([e._tag, e.action, e.state], ["MeetingActionRejected", "start", "scheduled"])
      e = yield* rejected(meeting.speak("a", "hi"))
      assert.include(e.reason, "not running")
      e = yield* rejected(meeting.nextTurn)
      assert.include(e.reason, "not running")
      yield* meeting.start("host")
      e = yield* rejected(meeting.start("host"))
      assert.include(e.reason, "already started")
      e = yield* rejected(meeting.speak("a", "out of turn"))
      assert.include(e.reason, "no turn is open")
      const first = yield* meeting.nextTurn
      assert.strictEqual(first, "host")
      e = yield* rejected(meeting.speak("a", "still not my turn"))
      assert.include(e.reason, "host's turn")
      e = yield* rejected(meeting.nextTurn)
      assert.include(e.reason, "still host's turn")
      yield* meeting.speak("host", "welcome")
      assert.strictEqual(yield* meeting.nextTurn, "a")
      yield* meeting.speak("a", "thanks")
      e = yield* rejected(meeting.leave("host"))
      assert.include(e.reason, "host cannot leave")
      e = yield* rejected(meeting.leave("zed"))
      assert.include(e.reason, "not attending")
      e = yield* rejected(meeting.end("a"))
      assert.include(e.reason, "only the host")
      yield* meeting.leave("a")
      e = yield* rejected(meeting.leave("a"))
      assert.include(e.reason, "not attending")
      yield* meeting.end("host")
      e = yield* rejected(meeting.end("host"))
      assert.include(e.reason, "already ended")
      e = yield* rejected(meeting.attend(say("late")))
      assert.include(e.reason, "has ended")
      e = yield* rejected(meeting.run)
      assert.include(e.reason, "has ended")
      const status = yield* meeting.status
      assert.deepStrictEqual(status.endedBy, { condition: "host", detail: "host ended the meeting" })
      assert.deepStrictEqual(spokenBy(yield* meeting.history), ["host", "a"])
    }).pipe(Effect.provide(Bus)))

  it.effect("manual speech is refused while run drives the meeting", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        topic: "t",
        host: slow("host", 1000),
        termination: Termination.maxTurns(1)
      })
      const fiber = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("10 millis")
      const e = yield* Effect.flip(meeting.speak("host", "me"))
      assert.include(e.reason, "driven by run")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: speaking timeout (TestClock)", () => {
  it.effect("a participant who does not speak in time is skipped with a timeout event, and the meeting advances", () =>
    Effect.gen(function*() {
      const timeouts = yield* Queue.unbounded<Meeting.Entry>()
      yield* EventBus.subscribe(
        EventBus.channel("meeting.participant.timed_out", Schema.Unknown),
        (e) => Queue.offer(timeouts, e as Meeting.Entry)
      )
      const meeting = yield* Meeting.make({
        topic: "t",
        host: say("host"),
        speakingTimeout: "5 seconds",
        termination: Termination.maxTurns(6)
      })
      yield* meeting.attend(silent("mute"))
      yield* meeting.attend(slow("c", 4999))
      const fiber = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual((yield* meeting.status).currentSpeaker, "mute", "still mute's turn just before the timeout")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* meeting.status).currentSpeaker, "c", "the meeting moved on at exactly 5 s")
      for (let i = 0; i < 30 && fiber.unsafePoll() === null; i++) yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(turnsOf(result.history), [
        "host:spoke",
        "mute:timed-out",
        "c:spoke",
        "host:spoke",
        "mute:timed-out",
        "c:spoke"
      ])
      const t = result.history.find((e) => e.kind === "timed-out")!
      assert.include(t.reason!, "5s")
      const first = result.history.find((e) => e.kind === "started")!.at
      assert.strictEqual(t.at - first, 5000)
      assert.strictEqual((yield* Queue.takeAll(timeouts)).length, 2)
    }).pipe(Effect.scoped, Effect.provide(Bus)))

  it.effect("a failing participant is recorded as failed and the meeting advances", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({ topic: "t", host: say("host"), termination: Termination.maxTurns(3) })
      yield* meeting.attend(Meeting.participant("broken", () => Effect.fail("no words")))
      yield* meeting.attend(Meeting.participant("crashy", () => Effect.die(new Error("segfault"))))
      const result = yield* drive(meeting)
      assert.deepStrictEqual(turnsOf(result.history), ["host:spoke", "broken:failed", "crashy:failed"])
      assert.include(result.history.find((e) => e.participant === "crashy" && e.kind === "failed")!.reason!, "segfault")
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: join and leave", () => {
  it.effect("a speaker who leaves mid-turn finishes the turn first; the order adjusts", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({ topic: "t", host: say("host"), termination: Termination.maxTurns(7) })
      yield* meeting.attend(say("a"))
      yield* meeting.attend(slow("b", 1000))
      yield* meeting.attend(say("c"))
      const fiber = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("500 millis")
      assert.strictEqual((yield* meeting.status).currentSpeaker, "b")
      yield* meeting.leave("b") // mid-turn
      assert.include((yield* meeting.status).participants, "b", "b is still there until its turn ends")
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(spokenBy(result.history), ["host", "a", "b", "c", "host", "a", "c"])
      const bSpoke = result.history.findIndex((e) => e.participant === "b" && e.kind === "spoke")
      assert.deepStrictEqual([result.history[bSpoke + 1]!.kind, result.history[bSpoke + 1]!.participant], ["left", "b"])
      assert.notInclude(result.status.participants, "b")
    }).pipe(Effect.provide(Bus)))

  it.effect("leaving before one's turn removes one from the order; a joiner gets a turn in the same round", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({ topic: "t", host: slow("host", 100), termination: Termination.maxTurns(6) })
      yield* meeting.attend(slow("a", 100))
      yield* meeting.attend(slow("b", 100))
      const fiber = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("50 millis") // host speaking
      yield* meeting.leave("b")
      yield* meeting.attend(slow("d", 100))
      for (let i = 0; i < 20 && fiber.unsafePoll() === null; i++) yield* TestClock.adjust("100 millis")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(spokenBy(result.history), ["host", "a", "d", "host", "a", "d"])
    }).pipe(Effect.provide(Bus)))

  it.effect("when nobody is left to speak the meeting ends by itself", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        topic: "t",
        host: say("host"),
        hostSpeaks: false,
        termination: Termination.never
      })
      yield* meeting.attend(Meeting.participant("a", () => Effect.as(Effect.sleep("1 second"), "bye")))
      const fiber = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("10 millis")
      yield* meeting.leave("a")
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.endedBy.condition, "no-participants")
      assert.deepStrictEqual(spokenBy(result.history), ["a"])
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: turn policies", () => {
  it.effect("selector: a function picks; an excluded or unknown pick falls back to round robin (never deadlocks)", () =>
    Effect.gen(function*() {
      const picks = ["c", "ghost", "a", "a"] // "ghost" is unknown; the second "a" would be a repeat
      const calls = yield* Ref.make(0)
      const policy = TurnPolicy.selector((_view) =>
        Effect.map(Ref.getAndUpdate(calls, (n) => n + 1), (n) => picks[n] ?? "ghost")
      )
      const meeting = yield* Meeting.make({
        topic: "t",
        host: say("host"),
        policy,
        termination: Termination.maxTurns(8)
      })
      for (const n of ["a", "b", "c"]) yield* meeting.attend(say(n))
      const result = yield* drive(meeting)
      // c (picked), host (fallback after c), a (picked), b (fallback: a is a repeat), then all fallbacks
      assert.deepStrictEqual(spokenBy(result.history), ["c", "host", "a", "b", "c", "host", "a", "b"])
      const reasons = result.history.filter((e) => e.kind === "spoke").map((e) => e.reason ?? "")
      assert.include(reasons[1]!, `"ghost", who is not eligible`)
      assert.include(reasons[3]!, `"a", who is not eligible`)
      assert.strictEqual(reasons[0], "")
    }).pipe(Effect.provide(Bus)))

  it.effect("selector that always picks someone who left: every remaining participant still speaks", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        topic: "t",
        host: say("host"),
        policy: TurnPolicy.selector(() => "gone"),
        termination: Termination.maxTurns(6)
      })
      yield* meeting.attend(say("gone"))
      yield* meeting.attend(say("x"))
      yield* meeting.leave("gone")
      const result = yield* drive(meeting)
      assert.deepStrictEqual(spokenBy(result.history), ["host", "x", "host", "x", "host", "x"])
    }).pipe(Effect.provide(Bus)))

  it.effect("a selector or moderator that fails (or dies) falls back to round robin, with the reason recorded", () =>
    Effect.gen(function*() {
      const failing = TurnPolicy.selector(() => Effect.fail("no idea"))
      const m1 = yield* Meeting.make({
        topic: "t",
        host: say("host"),
        policy: failing,
        termination: Termination.maxTurns(3)
      })
      yield* m1.attend(say("a"))
      const r1 = yield* drive(m1)
      assert.deepStrictEqual(spokenBy(r1.history), ["host", "a", "host"])
      assert.include(r1.history.find((e) => e.kind === "spoke")!.reason!, "selector failed")
      const chair = Primitive.make("chair", (_: Meeting.View) => Effect.die(new Error("chair crashed")))
      const m2 = yield* Meeting.make({
        topic: "t",
        host: say("host"),
        policy: TurnPolicy.moderated(chair),
        termination: Termination.maxTurns(2)
      })
      yield* m2.attend(say("a"))
      const r2 = yield* drive(m2)
      assert.deepStrictEqual(spokenBy(r2.history), ["host", "a"])
      assert.include(r2.history.find((e) => e.kind === "spoke")!.reason!, "moderator failed")
      assert.strictEqual(r2.history.filter((e) => e.kind === "remark").length, 0)
    }).pipe(Effect.provide(Bus)))

  it.effect("modelSelector: the model picks the next speaker", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        topic: "budget",
        host: say("host"),
        policy: TurnPolicy.modelSelector(),
        termination: Termination.maxTurns(4)
      })
      for (const n of ["alice", "bob", "carol"]) yield* meeting.attend(say(n))
      const result = yield* drive(meeting).pipe(
        Effect.provide(ScriptedLanguageModel.layer({
          rules: [{ when: /Recent turns:\s*Who should/, reply: "carol" }, {
            when: /carol:/,
            reply: "I think bob should go."
          }],
          default: "alice"
        }))
      )
      // turn 3: the model names bob again (a repeat), so round robin after bob gives carol
      assert.deepStrictEqual(spokenBy(result.history), ["carol", "bob", "carol", "bob"])
      const reasons = result.history.filter((e) => e.kind === "spoke").map((e) => e.reason)
      assert.deepStrictEqual(reasons.map((r) => r === undefined), [true, true, false, true])
    }).pipe(Effect.provide(Bus)))

  it.effect("moderated: the moderator names the next speaker and its remarks are recorded", () =>
    Effect.gen(function*() {
      const chair = Primitive.sync("chair", (v: Meeting.View) => {
        const others = v.participants.filter((p) => p !== v.host)
        const next = others[others.length - ((v.turn - 1) % others.length) - 1]!
        return { next, say: `${next}, your turn` }
      })
      const meeting = yield* Meeting.make({
        topic: "t",
        host: say("chair"),
        policy: TurnPolicy.moderated(chair),
        termination: Termination.maxTurns(3)
      })
      for (const n of ["a", "b", "c"]) yield* meeting.attend(say(n))
      const result = yield* drive(meeting)
      assert.deepStrictEqual(spokenBy(result.history), ["c", "b", "a"])
      const remarks = result.history.filter((e) => e.kind === "remark")
      assert.deepStrictEqual(remarks.map((r) => [r.participant, r.text]), [["chair", "c, your turn"], [
        "chair",
        "b, your turn"
      ], ["chair", "a, your turn"]])
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: termination algebra", () => {
  const three = (termination: Termination.Termination, host = say("host")) =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({ topic: "t", host, termination })
      yield* meeting.attend(Meeting.participant("a", (v) => v.turn === 5 ? "we are DONE here" : "a talks"))
      yield* meeting.attend(Meeting.participant("b", () => ({ text: "b talks", tokens: 100, costUsd: 0.25 })))
      return meeting
    })

  it.effect("mention, maxTokens, maxCost, or / and name the condition that held", () =>
    Effect.gen(function*() {
      let r = yield* drive(yield* three(Termination.mention("done")))
      assert.deepStrictEqual([r.endedBy.condition, r.turns], [`mention("done")`, 5])
      assert.include(r.endedBy.detail, "a said")
      r = yield* drive(yield* three(Termination.maxTokens(200)))
      assert.deepStrictEqual([r.endedBy.condition, r.turns], ["maxTokens(200)", 6])
      r = yield* drive(yield* three(Termination.maxCost(0.5)))
      assert.deepStrictEqual([r.endedBy.condition, r.turns], ["maxCost(0.5)", 6])
      assert.strictEqual(r.costUsd, 0.5)
      r = yield* drive(
        yield* three(Termination.or(Termination.maxTurns(100), Termination.mention("DONE", { caseSensitive: true })))
      )
      assert.deepStrictEqual([r.endedBy.condition, r.turns], [`mention("DONE")`, 5])
      r = yield* drive(yield* three(Termination.and(Termination.maxTurns(2), Termination.mention("done"))))
      assert.strictEqual(r.turns, 5)
      assert.strictEqual(r.endedBy.condition, `and(maxTurns(2), mention("done"))`)
      assert.include(r.endedBy.detail, "maxTurns(2)")
      r = yield* drive(
        yield* three(
          Termination.or(Termination.and(Termination.maxTurns(1), Termination.maxCost(100)), Termination.maxTurns(4))
        )
      )
      assert.deepStrictEqual([r.endedBy.condition, r.turns], ["maxTurns(4)", 4])
    }).pipe(Effect.provide(Bus)))

  it.effect("timeout ends the meeting even in the middle of a long turn, which is recorded as interrupted", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        topic: "t",
        host: slow("host", 4000),
        termination: Termination.timeout("10 seconds")
      })
      const fiber = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("10 seconds")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.endedBy.condition, "timeout(10s)")
      assert.deepStrictEqual(turnsOf(result.history), ["host:spoke", "host:spoke", "host:interrupted"])
      assert.strictEqual(result.history[result.history.length - 1]!.at, 10_000)
    }).pipe(Effect.provide(Bus)))

  it.effect("and(timeout, mention) does not spin: waking on the timeout alone does not cut turns", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        topic: "t",
        host: Meeting.participant("host", (v) => Effect.as(Effect.sleep("3 seconds"), v.turn === 6 ? "done" : "more")),
        termination: Termination.and(Termination.timeout("5 seconds"), Termination.mention("done"))
      })
      const result = yield* drive(meeting, "1 second")
      assert.strictEqual(result.turns, 6)
      assert.deepStrictEqual(turnsOf(result.history).filter((t) => t.endsWith("interrupted")), [])
    }).pipe(Effect.provide(Bus)))

  it.effect("an external signal ends the meeting; so does the host (the turn in progress is interrupted)", () =>
    Effect.gen(function*() {
      const stop = yield* Deferred.make<void>()
      const m1 = yield* Meeting.make({
        topic: "t",
        host: slow("host", 1000),
        termination: Termination.external(stop, "stop-button")
      })
      const f1 = yield* Effect.fork(m1.run)
      yield* TestClock.adjust("2500 millis")
      yield* Deferred.succeed(stop, undefined)
      const r1 = yield* Fiber.join(f1)
      assert.strictEqual(r1.endedBy.condition, "external(stop-button)")
      assert.deepStrictEqual(turnsOf(r1.history), ["host:spoke", "host:spoke", "host:interrupted"])

      const m2 = yield* Meeting.make({ topic: "t", host: slow("host", 1000), termination: Termination.never })
      yield* m2.attend(slow("a", 1000))
      const f2 = yield* Effect.fork(m2.run)
      yield* TestClock.adjust("1500 millis")
      yield* m2.end("host")
      const r2 = yield* Fiber.join(f2)
      assert.strictEqual(r2.endedBy.condition, "host")
      assert.deepStrictEqual(r2.history.slice(-2).map((e) => `${e.participant}:${e.kind}`), [
        "a:interrupted",
        "host:ended"
      ])
      assert.strictEqual(r2.turns, 2)
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: the driver", () => {
  it.effect("interrupting run records the open turn as interrupted and the meeting can be run again", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        topic: "t",
        host: slow("host", 1000),
        termination: Termination.maxTurns(3)
      })
      const first = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("1500 millis")
      yield* Fiber.interrupt(first)
      assert.deepStrictEqual(turnsOf(yield* meeting.history), ["host:spoke", "host:interrupted"])
      assert.strictEqual((yield* meeting.status).state, "running")
      const result = yield* drive(meeting)
      assert.deepStrictEqual(turnsOf(result.history), ["host:spoke", "host:interrupted", "host:spoke"])
      const e = yield* Effect.flip(meeting.run)
      assert.include(e.reason, "has ended")
    }).pipe(Effect.provide(Bus)))

  it.effect("two drivers at once are refused", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        topic: "t",
        host: slow("host", 1000),
        termination: Termination.maxTurns(1)
      })
      const fiber = yield* Effect.fork(meeting.run)
      yield* TestClock.adjust("10 millis")
      const e = yield* Effect.flip(meeting.run)
      assert.include(e.reason, "already being run")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: scale", () => {
  it.effect("a 50-participant round-robin meeting gives everyone two turns, in order", () =>
    Effect.gen(function*() {
      const names = Array.from({ length: 50 }, (_, i) => `p${String(i).padStart(2, "0")}`)
      const meeting = yield* Meeting.make({
        topic: "all hands",
        host: say(names[0]!),
        termination: Termination.maxTurns(100),
        speakingTimeout: "1 second"
      })
      for (const n of names.slice(1)) yield* meeting.attend(say(n))
      const result = yield* drive(meeting)
      assert.deepStrictEqual(spokenBy(result.history), [...names, ...names])
      assert.strictEqual(result.status.participants.length, 50)
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: history is persisted and can be inspected later", () => {
  it.effect("with the in-memory store layer", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        id: "persisted-1",
        topic: "t",
        host: say("host"),
        termination: Termination.maxTurns(2)
      })
      yield* meeting.attend(say("a"))
      const result = yield* drive(meeting)
      const { history, status } = yield* Meeting.inspect("persisted-1")
      assert.deepStrictEqual(history, result.history)
      assert.strictEqual(Option.getOrThrow(status).state, "ended")
    }).pipe(Effect.provide(Layer.merge(Bus, MeetingStore.layerMemory))))
})

describe("Meeting: agents as participants", () => {
  it.effect("an Agent takes part: it sees the meeting as a conversation, its usage counts toward maxTokens", () =>
    Effect.gen(function*() {
      const planner = Agent.make({ name: "planner", instructions: "You plan. Be brief." })
      const critic = Agent.make({ name: "critic", instructions: "You criticise. Be brief." })
      const meeting = yield* Meeting.make({
        topic: "release plan",
        host: Meeting.fromAgent(planner),
        termination: Termination.or(Termination.maxTurns(10), Termination.maxTokens(150))
      })
      yield* meeting.attend(Meeting.fromAgent(critic))
      const result = yield* drive(meeting).pipe(
        Effect.provide(ScriptedLanguageModel.layer({
          rules: [
            { when: (r) => JSON.stringify(r).includes("You plan"), reply: "Ship on Friday." },
            { when: /planner: Ship on Friday/, reply: "Friday is risky; Monday." }
          ]
        }))
      )
      const spoke = result.history.filter((e) => e.kind === "spoke")
      assert.deepStrictEqual(spoke.slice(0, 2).map((e) => [e.participant, e.text]), [["planner", "Ship on Friday."], [
        "critic",
        "Friday is risky; Monday."
      ]])
      assert.isTrue(spoke.every((e) => (e.tokens ?? 0) > 0))
      assert.strictEqual(result.endedBy.condition, "maxTokens(150)")
      assert.isBelow(result.turns, 10)
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting.asPrimitive", () => {
  it.effect("a meeting is a step of a pipeline: its span holds the turns' spans", () =>
    Effect.gen(function*() {
      const standup = Meeting.asPrimitive("standup", {
        host: Meeting.participant("lead", () => "Updates?"),
        participants: [Meeting.participant("dev", () => "Shipped the export.")],
        termination: Termination.maxTurns(2)
      })
      const minutes = Primitive.sync("minutes", (r: Meeting.Result) =>
        r.history.filter((e) => e.kind === "spoke").map((e) => e.text).join(" / "))
      const { exit, spans } = yield* withSpans(Runner.run(sequence(standup, minutes), { topic: "Monday" }))
      assert.strictEqual(successValue(exit), "Updates? / Shipped the export.")
      const meetingSpan = byName(spans, "standup")
      assert.strictEqual(meetingSpan.attributes["braid.primitive.kind"], "meeting")
      assert.strictEqual(parentOf(spans, byName(spans, "dev"))?.name, "standup")
      assert.strictEqual(parentOf(spans, byName(spans, "lead"))?.name, "standup")
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: the speaking timeout holds when agents drive the meeting (nextTurn / speak)", () => {
  it.effect("a speaker who stays silent loses the floor at the timeout (an entry records it); a late answer is refused", () =>
    Effect.gen(function*() {
      const timeouts = yield* Queue.unbounded<Meeting.Entry>()
      yield* EventBus.subscribe(Meeting.events, (e) => e.kind === "timed-out" ? Queue.offer(timeouts, e) : Effect.void)
      const meeting = yield* Meeting.make({
        topic: "t",
        host: say("host"),
        hostSpeaks: false,
        speakingTimeout: "30 seconds",
        termination: Termination.never
      })
      yield* meeting.attend(say("ann"))
      yield* meeting.attend(say("bob"))
      yield* meeting.start("host")
      const started = (yield* meeting.history).find((e) => e.kind === "started")!.at
      assert.strictEqual(yield* meeting.nextTurn, "ann")
      yield* TestClock.adjust("29999 millis")
      assert.strictEqual((yield* meeting.status).currentSpeaker, "ann", "ann still has the floor just before")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* meeting.status).currentSpeaker, undefined, "ann lost the floor at 30 s")
      const late = yield* Effect.flip(meeting.speak("ann", "sorry, I was muted"))
      assert.include(late.reason, "no turn is open")
      assert.strictEqual(yield* meeting.nextTurn, "bob")
      yield* meeting.speak("bob", "my update")
      const entries = turnsOf(yield* meeting.history)
      assert.deepStrictEqual(entries, ["ann:timed-out", "bob:spoke"])
      const t = (yield* meeting.history).find((e) => e.kind === "timed-out")!
      assert.strictEqual(t.at - started, 30_000)
      assert.include(t.reason!, "30s")
      assert.strictEqual((yield* Queue.takeAll(timeouts)).length, 1)
      // an answer in time closes the turn and its timer: nothing fires later
      assert.strictEqual(yield* meeting.nextTurn, "ann")
      yield* meeting.speak("ann", "back")
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(turnsOf(yield* meeting.history), ["ann:timed-out", "bob:spoke", "ann:spoke"])
      yield* meeting.end("host")
    }).pipe(Effect.scoped, Effect.provide(Bus)))

  it.effect("a timed termination condition ends a meeting driven by hand too, cutting the open turn", () =>
    Effect.gen(function*() {
      const meeting = yield* Meeting.make({
        topic: "t",
        host: say("host"),
        termination: Termination.timeout("1 minute")
      })
      yield* meeting.start("host")
      assert.strictEqual(yield* meeting.nextTurn, "host")
      yield* TestClock.adjust("1 minute")
      const status = yield* meeting.status
      assert.strictEqual(status.state, "ended")
      assert.strictEqual(status.endedBy?.condition, "timeout(1m)")
      assert.deepStrictEqual(turnsOf(yield* meeting.history), ["host:interrupted"])
    }).pipe(Effect.provide(Bus)))
})

describe("Meeting: invitations", () => {
  it.effect("an invitation-only meeting admits the invited; a decline keeps one out; every step is an event", () =>
    Effect.gen(function*() {
      const events = yield* Queue.unbounded<string>()
      yield* EventBus.subscribe(
        EventBus.channel("meeting.invitation.*", Schema.Unknown),
        (e, ch) => Queue.offer(events, `${ch}:${(e as Meeting.Entry).participant}`)
      )
      const meeting = yield* Meeting.make({
        topic: "board",
        host: say("chair"),
        admission: "invitation",
        invited: ["ann"],
        termination: Termination.maxTurns(3)
      })
      const uninvited = yield* Effect.flip(meeting.attend(say("eve")))
      assert.deepStrictEqual([uninvited.action, uninvited.participant], ["attend", "eve"])
      assert.include(uninvited.reason, "not invited")
      const notHost = yield* Effect.flip(meeting.invite("ann", "eve"))
      assert.include(notHost.reason, "only the host")
      yield* meeting.invite("chair", "bob")
      yield* meeting.accept("ann")
      yield* meeting.decline("bob")
      const declined = yield* Effect.flip(meeting.attend(say("bob")))
      assert.include(declined.reason, "declined")
      yield* meeting.attend(say("ann"))
      const result = yield* meeting.run
      assert.deepStrictEqual(spokenBy(result.history), ["chair", "ann", "chair"])
      assert.deepStrictEqual(result.status.invitations, [
        { name: "chair", invitation: "accepted" },
        { name: "ann", invitation: "accepted" },
        { name: "bob", invitation: "declined" }
      ])
      yield* Effect.yieldNow()
      assert.deepStrictEqual([...(yield* Queue.takeAll(events))], [
        "meeting.invitation.sent:ann",
        "meeting.invitation.sent:bob",
        "meeting.invitation.accepted:ann",
        "meeting.invitation.declined:bob"
      ])
      const bad = yield* Effect.flip(meeting.invite("chair", 42 as unknown as string))
      assert.strictEqual(bad.path, "(root)")
    }).pipe(Effect.scoped, Effect.provide(Bus)))
})

describe("Meeting: organizations (tenants)", () => {
  it.effect("two tenants' meetings with the same id are kept apart in the store; the default tenant is kept", () =>
    Effect.gen(function*() {
      const run = (tenant: string | undefined, line: string) =>
        Effect.gen(function*() {
          const meeting = yield* Meeting.make({
            id: "weekly/1:x",
            ...(tenant !== undefined ? { tenant } : {}),
            topic: "weekly",
            host: Meeting.participant("host", () => line),
            termination: Termination.maxTurns(1)
          })
          assert.strictEqual(meeting.tenant, tenant ?? Meeting.defaultTenant)
          return yield* meeting.run
        })
      yield* run("acme", "acme's week")
      yield* run("globex", "globex's week")
      yield* run(undefined, "nobody's week")
      const text = (h: ReadonlyArray<Meeting.Entry>) => h.find((e) => e.kind === "spoke")?.text
      const acme = yield* Meeting.inspect("weekly/1:x", { tenant: "acme" })
      const globex = yield* Meeting.inspect("weekly/1:x", { tenant: "globex" })
      const plain = yield* Meeting.inspect("weekly/1:x")
      assert.strictEqual(text(acme.history), "acme's week")
      assert.strictEqual(text(globex.history), "globex's week")
      assert.strictEqual(text(plain.history), "nobody's week")
      assert.isTrue(acme.history.every((e) => e.tenant === "acme"))
      assert.strictEqual(Option.getOrThrow(globex.status).tenant, "globex")
      const store = yield* MeetingStore.MeetingStore
      assert.deepStrictEqual((yield* store.listTenant("acme")).map((s) => s.meetingId), ["weekly/1:x"])
      assert.strictEqual((yield* store.list).length, 3)
      const none = yield* Meeting.inspect("weekly/1:x", { tenant: "initech" })
      assert.deepStrictEqual([none.history, Option.isNone(none.status)], [[], true])
    }).pipe(Effect.provide(Layer.merge(Bus, MeetingStore.layerMemory))))
})
