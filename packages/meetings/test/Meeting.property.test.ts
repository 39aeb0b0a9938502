import { Meeting, Termination } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, FastCheck as fc, Fiber, Layer, TestClock, TestContext } from "effect"

/** Participants p0..p7 (some attend from the start, others join later), plus the host. */
const POOL = 8
const TURN_MIN_MS = 100
/** Joins and leaves happen in the first 3 s of virtual time. */
const LAST_ACTION_MS = 3_000

interface Action {
  readonly at: number
  readonly op: "join" | "leave"
  readonly who: number
}

interface Scenario {
  readonly initial: number
  /** Per participant index: how each of its turns goes (a delay in ms, or -1: never answers). */
  readonly behaviour: ReadonlyArray<ReadonlyArray<number>>
  readonly actions: ReadonlyArray<Action>
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  initial: fc.integer({ min: 1, max: 5 }),
  behaviour: fc.array(
    fc.array(fc.oneof(fc.integer({ min: 100, max: 900 }), fc.constant(-1)), { minLength: 1, maxLength: 5 }),
    {
      minLength: POOL,
      maxLength: POOL
    }
  ),
  actions: fc.array(
    fc.record({
      at: fc.integer({ min: 0, max: LAST_ACTION_MS }),
      op: fc.constantFrom("join" as const, "leave" as const),
      who: fc.integer({ min: 0, max: POOL - 1 })
    }),
    { maxLength: 12 }
  )
})

const play = (s: Scenario) =>
  Effect.gen(function*() {
    const names = Array.from({ length: POOL }, (_, i) => `p${i}`)
    const counters = new Map<string, number>()
    const participant = (i: number) =>
      Meeting.participant(names[i]!, () => {
        const n = counters.get(names[i]!) ?? 0
        counters.set(names[i]!, n + 1)
        const plan = s.behaviour[i]!
        const d = plan[n % plan.length]!
        return d < 0 ? Effect.never : Effect.as(Effect.sleep(Duration.millis(d)), `${names[i]} #${n}`)
      })
    // Every turn lasts at least 100 ms (the host too), at most the 1 s speaking timeout.
    const host = Meeting.participant("host", () => Effect.as(Effect.sleep(Duration.millis(TURN_MIN_MS)), "host"))
    // At most LAST_ACTION_MS / TURN_MIN_MS turns happen before the last change; then enough
    // turns remain for round robin to reach everyone present (at most POOL + 1), three times.
    const maxTurns = LAST_ACTION_MS / TURN_MIN_MS + 1 + 3 * (POOL + 1)
    const meeting = yield* Meeting.make({
      topic: "prop",
      host,
      speakingTimeout: "1 second",
      termination: Termination.maxTurns(maxTurns)
    })
    const joined = new Set<number>()
    for (let i = 0; i < s.initial; i++) {
      yield* meeting.attend(participant(i))
      joined.add(i)
    }
    const actions = [...s.actions].sort((a, b) => a.at - b.at)
    const chaos = Effect.gen(function*() {
      let now = 0
      for (const a of actions) {
        yield* Effect.sleep(Duration.millis(a.at - now))
        now = a.at
        const exit = yield* Effect.exit(
          a.op === "join" ? meeting.attend(participant(a.who)) : meeting.leave(names[a.who]!)
        )
        // Joining twice, or leaving when absent, is a typed rejection, never a crash.
        if (Exit.isFailure(exit)) {
          assert.strictEqual(exit.cause._tag === "Fail" && exit.cause.error._tag, "MeetingActionRejected")
        } else if (a.op === "join") {
          joined.add(a.who)
        }
      }
    })
    const runner = yield* Effect.fork(meeting.run)
    const chaosFiber = yield* Effect.fork(chaos)
    // TestClock.adjust wakes every sleep inside the window in time order, so big steps are exact.
    for (let i = 0; i < 1000 && runner.unsafePoll() === null; i++) yield* TestClock.adjust("20 seconds")
    const result = yield* Fiber.join(runner)
    yield* Fiber.join(chaosFiber)
    return { result, maxTurns }
  })

describe("Meeting: any interleaving of joins, leaves and timeouts", () => {
  it("every remaining participant still gets a turn, nobody speaks after leaving, and the meeting ends", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { maxTurns, result } = await Effect.runPromise(
          play(s).pipe(Effect.provide(Layer.merge(EventBus.layerMemory, TestContext.TestContext)))
        )
        const h = result.history
        // it ended, by its termination condition
        assert.strictEqual(result.status.state, "ended")
        assert.strictEqual(result.endedBy.condition, `maxTurns(${maxTurns})`)
        // turns are numbered 1..n without gaps
        const turns = h.filter((e) => e.turn !== undefined).map((e) => e.turn)
        assert.deepStrictEqual(turns, Array.from({ length: maxTurns }, (_, i) => i + 1))
        // after the last join/leave, every remaining participant had a turn
        const lastChange = Math.max(...h.filter((e) => e.kind === "joined" || e.kind === "left").map((e) => e.seq))
        for (const p of result.status.participants) {
          assert.isTrue(
            h.some((e) => e.participant === p && e.turn !== undefined && e.seq > lastChange),
            `${p} had no turn after the last membership change`
          )
        }
        // nobody gets a turn after having left (until they join again)
        for (const left of h.filter((e) => e.kind === "left")) {
          const rejoined = h.find((e) =>
            e.participant === left.participant && e.kind === "joined" && e.seq > left.seq
          )?.seq ?? Infinity
          assert.isFalse(
            h.some((e) =>
              e.participant === left.participant && e.turn !== undefined && e.seq > left.seq && e.seq < rejoined
            ),
            `${left.participant} had a turn after leaving`
          )
        }
        // round robin stays fair through every change: between two consecutive turns of p, every
        // participant present throughout that interval had exactly one turn (nobody skipped, nobody twice)
        const turnEntries = h.filter((e) => e.turn !== undefined)
        const presentThroughout = (q: string, from: number, to: number) => {
          const joinedBefore = h.filter((e) => e.participant === q && e.kind === "joined" && e.seq < from).map((e) =>
            e.seq
          )
          if (joinedBefore.length === 0) return false
          const joinedAt = Math.max(...joinedBefore)
          return !h.some((e) => e.participant === q && e.kind === "left" && e.seq > joinedAt && e.seq < to)
        }
        const everyone = [...new Set(h.filter((e) => e.kind === "joined").map((e) => e.participant))]
        for (const p of everyone) {
          const mine = turnEntries.filter((e) => e.participant === p)
          for (let i = 1; i < mine.length; i++) {
            const [t1, t2] = [mine[i - 1]!, mine[i]!]
            if (!presentThroughout(p, t1.seq, t2.seq)) continue
            for (const q of everyone) {
              if (q === p || !presentThroughout(q, t1.seq, t2.seq)) continue
              const n = turnEntries.filter((e) => e.participant === q && e.seq > t1.seq && e.seq < t2.seq).length
              assert.strictEqual(n, 1, `${q} had ${n} turns between ${p}'s turns ${t1.turn} and ${t2.turn}`)
            }
          }
        }
        // a turn that took longer than the speaking timeout was recorded as timed out
        for (const e of h.filter((e) => e.kind === "timed-out")) assert.include(e.reason!, "1s")
      }),
      { numRuns: 25 }
    )
  }, 120_000)
})
