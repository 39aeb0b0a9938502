import { Coordination, Errors as CoordinationErrors } from "@braid/agents"
import { Primitive, Runner } from "@braid/core"
import { Accounting, Ai, Metered, Pricing, ScriptedLanguageModel } from "@braid/llm"
import { byName, parentOf, successValue, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Ref, TestClock } from "effect"

/** An agent that answers `value` after `ms` of (virtual) time and records whether it was finalized. */
const timed = <A>(name: string, ms: number, value: A, finalized?: Ref.Ref<ReadonlyArray<string>>) =>
  Primitive.make(name, (_: string) =>
    Effect.sleep(Duration.millis(ms)).pipe(
      Effect.as(value),
      Effect.onInterrupt(() => finalized ? Ref.update(finalized, (xs) => [...xs, name]) : Effect.void)
    ))

const failing = (name: string, ms: number, message = "boom") =>
  Primitive.make(
    name,
    (_: string) => Effect.sleep(Duration.millis(ms)).pipe(Effect.zipRight(Effect.fail(new Error(message))))
  )

/** Runs a coordination under TestClock, advancing virtual time until it is done. */
const drive = <Out, E>(p: Primitive.Primitive<string, Out, E, never>, input = "task") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.exit(Runner.run(p, input)))
    for (let i = 0; i < 100 && fiber.unsafePoll() === null; i++) yield* TestClock.adjust("100 millis")
    return yield* Fiber.join(fiber)
  })

const failedWith = <A>(exit: Exit.Exit<A, unknown>): CoordinationErrors.CoordinationFailed => {
  if (
    Exit.isFailure(exit) && exit.cause._tag === "Fail" &&
    exit.cause.error instanceof CoordinationErrors.CoordinationFailed
  ) {
    return exit.cause.error
  }
  throw new Error(`expected CoordinationFailed, got ${String(exit)}`)
}

describe("Coordination.all", () => {
  it.effect("returns every value in agent order, whatever order they finish in", () =>
    Effect.gen(function*() {
      const exit = yield* drive(
        Coordination.coordinate([timed("a", 300, 1), timed("b", 100, 2), timed("c", 200, 3)], Coordination.all())
      )
      const out = successValue(exit)
      assert.deepStrictEqual(out.values, [1, 2, 3])
      assert.deepStrictEqual(out.outcomes.map((o) => o.status), ["succeeded", "succeeded", "succeeded"])
    }))

  it.effect("one failure makes it unsatisfiable: the rest are interrupted (finalizers run) and every outcome is reported", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make<ReadonlyArray<string>>([])
      const p = Coordination.coordinate([
        timed("a", 1000, 1, finalized),
        failing("b", 100),
        timed("c", 1000, 3, finalized)
      ], Coordination.all())
      const err = failedWith(yield* drive(p))
      assert.strictEqual(err.strategy, "all")
      assert.strictEqual(err.required, 3)
      assert.deepStrictEqual(err.outcomes.map((o) => o.status), ["interrupted", "failed", "interrupted"])
      assert.include(err.outcomes[1]!.reason, "boom")
      assert.include(err.outcomes[0]!.reason, "unsatisfiable")
      assert.deepStrictEqual([...(yield* Ref.get(finalized))].sort(), ["a", "c"])
    }))
})

describe("Coordination.first", () => {
  it.effect("the first success wins; the others are interrupted with their finalizers run", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make<ReadonlyArray<string>>([])
      const p = Coordination.coordinate(
        [timed("slow", 1000, "s", finalized), failing("broken", 50), timed("fast", 200, "f", finalized)],
        Coordination.first()
      )
      const out = successValue(yield* drive(p))
      assert.strictEqual(out.winner, "fast")
      assert.strictEqual(out.value, "f")
      assert.deepStrictEqual(out.outcomes.map((o) => o.status), ["interrupted", "failed", "succeeded"])
      assert.deepStrictEqual(yield* Ref.get(finalized), ["slow"])
    }))

  it.effect("fails with every outcome when no branch succeeds", () =>
    Effect.gen(function*() {
      const err = failedWith(
        yield* drive(Coordination.coordinate([failing("x", 10), failing("y", 20)], Coordination.first()))
      )
      assert.deepStrictEqual(err.outcomes.map((o) => o.status), ["failed", "failed"])
    }))

  it.effect("a defect in one branch is a failed outcome, not a crash", () =>
    Effect.gen(function*() {
      const dies = Primitive.make("dies", (_: string) => Effect.die(new Error("kaput")))
      const out = successValue(yield* drive(Coordination.coordinate([dies, timed("ok", 10, 1)], Coordination.first())))
      assert.strictEqual(out.outcomes[0]!.status, "failed")
      assert.include(out.outcomes[0]!.reason, "kaput")
    }))
})

describe("Coordination.quorum", () => {
  it.effect("done when k succeed, in arrival order; the rest are interrupted", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make<ReadonlyArray<string>>([])
      const p = Coordination.coordinate(
        [timed("r1", 300, "a"), timed("r2", 100, "b"), timed("r3", 900, "c", finalized), timed("r4", 200, "d")],
        Coordination.quorum(3)
      )
      const out = successValue(yield* drive(p))
      assert.deepStrictEqual(out.values.map((v) => v.agent), ["r2", "r4", "r1"])
      assert.strictEqual(out.outcomes[2]!.status, "interrupted")
      assert.include(out.outcomes[2]!.reason, "satisfied")
      assert.deepStrictEqual(yield* Ref.get(finalized), ["r3"])
    }))

  it.effect("fails as soon as more than n - k branches fail", () =>
    Effect.gen(function*() {
      const p = Coordination.coordinate(
        [failing("r1", 10), failing("r2", 20), timed("r3", 5000, "c")],
        Coordination.quorum(2)
      )
      const err = failedWith(yield* drive(p))
      assert.strictEqual(err.required, 2)
      assert.deepStrictEqual(err.outcomes.map((o) => o.status), ["failed", "failed", "interrupted"])
      assert.isBelow(err.outcomes[2]!.durationMillis, 5000)
    }))

  it("rejects k larger than the number of agents", () => {
    assert.throws(() => Coordination.coordinate([timed("a", 1, 1)], Coordination.quorum(2)), /needs 2 successes/)
  })
})

describe("per-branch timeout", () => {
  it.effect("a branch over its timeout is timed-out (with the reason) and the strategy goes on", () =>
    Effect.gen(function*() {
      const p = Coordination.coordinate([timed("slow", 5000, 1), timed("quick", 100, 2)], Coordination.quorum(1), {
        timeout: "1 second"
      })
      const out = successValue(yield* drive(p))
      assert.deepStrictEqual(out.values, [{ agent: "quick", value: 2 }])
      const p2 = Coordination.coordinate([timed("slow", 5000, 1), timed("quick", 100, 2)], Coordination.all(), {
        timeout: "1 second"
      })
      const err = failedWith(yield* drive(p2))
      assert.strictEqual(err.outcomes[0]!.status, "timed-out")
      assert.include(err.outcomes[0]!.reason, "1s")
      assert.strictEqual(err.outcomes[1]!.status, "succeeded")
    }))
})

describe("Coordination.vote", () => {
  const voters = (ballots: ReadonlyArray<string>) => ballots.map((b, i) => timed(`v${i}`, 10 * (i + 1), b))

  it.effect("majority of ballots wins, with the tally", () =>
    Effect.gen(function*() {
      const out = successValue(
        yield* drive(Coordination.coordinate(voters(["yes", "no", "yes"]), Coordination.vote<string>()))
      )
      assert.strictEqual(out.winner, "yes")
      assert.strictEqual(out.weight, 2)
      assert.deepStrictEqual(out.tally.map((t) => [t.key, t.weight, t.voters]), [["yes", 2, ["v0", "v2"]], ["no", 1, [
        "v1"
      ]]])
    }))

  it.effect("weights change the outcome", () =>
    Effect.gen(function*() {
      const out = successValue(
        yield* drive(
          Coordination.coordinate(voters(["yes", "no", "yes"]), Coordination.vote<string>({ weights: { v1: 3 } }))
        )
      )
      assert.strictEqual(out.winner, "no")
      assert.strictEqual(out.totalWeight, 5)
    }))

  it.effect("ties: fail by default, or broken by the rule", () =>
    Effect.gen(function*() {
      const tied = voters(["a", "b", "b", "a"])
      const err = failedWith(yield* drive(Coordination.coordinate(tied, Coordination.vote<string>())))
      assert.include(err.reason, "tie")
      assert.strictEqual(err.outcomes.length, 4)
      const first = successValue(
        yield* drive(Coordination.coordinate(tied, Coordination.vote<string>({ tieBreak: "first" })))
      )
      assert.strictEqual(first.winner, "a")
      assert.isTrue(first.tieBroken)
      const heavy = successValue(
        yield* drive(
          Coordination.coordinate(
            tied,
            Coordination.vote<string>({ tieBreak: "heaviest-voter", weights: { v2: 1.5, v1: 0.5 } })
          )
        )
      )
      assert.strictEqual(heavy.winner, "b") // b: 0.5 + 1.5 = 2 = a: 1 + 1, heaviest voter v2 voted b
      const custom = successValue(
        yield* drive(
          Coordination.coordinate(tied, Coordination.vote<string>({ tieBreak: (t) => t[t.length - 1]!.key }))
        )
      )
      assert.strictEqual(custom.winner, "b")
    }))

  it.effect("no majority fails under 'majority' but wins under 'plurality'; typed ballots keyed by a function", () =>
    Effect.gen(function*() {
      const ballots = [{ pick: "x" }, { pick: "y" }, { pick: "z" }, { pick: "x" }, { pick: "y" }, { pick: "x" }, {
        pick: "w"
      }]
      const agents = ballots.map((b, i) => timed(`v${i}`, 5, b))
      const err = failedWith(
        yield* drive(Coordination.coordinate(agents, Coordination.vote<{ pick: string }>({ key: (b) => b.pick })))
      )
      assert.include(err.reason, "no majority")
      const out = successValue(
        yield* drive(Coordination.coordinate(
          agents,
          Coordination.vote<{ pick: string }>({ key: (b) => b.pick, rule: "plurality" })
        ))
      )
      assert.deepStrictEqual(out.winner, { pick: "x" })
    }))

  it.effect("failed voters are reported and not counted", () =>
    Effect.gen(function*() {
      const agents = [timed("a", 5, "yes"), failing("b", 5), timed("c", 5, "no"), timed("d", 5, "yes")]
      const out = successValue(yield* drive(Coordination.coordinate(agents, Coordination.vote<string>())))
      assert.strictEqual(out.winner, "yes")
      assert.strictEqual(out.totalWeight, 3)
      assert.strictEqual(out.outcomes[1]!.status, "failed")
    }))
})

describe("Coordination.consensus", () => {
  it.effect("groups answers by the equivalence; returns the agreed value, level and dissenters", () =>
    Effect.gen(function*() {
      const agents = [10, 11, 30, 9].map((v, i) => timed(`e${i}`, 5, v))
      const out = successValue(
        yield* drive(Coordination.coordinate(
          agents,
          Coordination.consensus<number>({ equivalent: (a, b) => Math.abs(a - b) <= 2 })
        ))
      )
      assert.strictEqual(out.value, 10)
      assert.deepStrictEqual(out.agreeing, ["e0", "e1", "e3"])
      assert.deepStrictEqual(out.dissenters, ["e2"])
      assert.strictEqual(out.agreement, 0.75)
    }))

  it.effect("below the agreement threshold it fails with every outcome", () =>
    Effect.gen(function*() {
      const agents = [1, 50, 100].map((v, i) => timed(`e${i}`, 5, v))
      const err = failedWith(
        yield* drive(Coordination.coordinate(agents, Coordination.consensus<number>({ equivalent: (a, b) => a === b })))
      )
      assert.include(err.reason, "no consensus")
      const ok = successValue(
        yield* drive(Coordination.coordinate(
          [1, 1, 2].map((v, i) => timed(`e${i}`, 5, v)),
          Coordination.consensus<number>({ equivalent: (a, b) => a === b, minAgreement: 0.6 })
        ))
      )
      assert.strictEqual(ok.agreement, 2 / 3)
    }))

  it.effect("a model judge decides who agrees", () =>
    Effect.gen(function*() {
      const agents = ["Paris", "paris, France", "Lyon"].map((v, i) => timed(`a${i}`, 5, v))
      const judge = Coordination.modelJudge<string>({ question: "Same capital?" })
      const p = Coordination.coordinate(
        agents,
        Coordination.consensus<string, Coordination.ModelJudgeError, Coordination.ModelJudgeContext>({ judge })
      )
      const exit = yield* drive(p as Primitive.Primitive<string, Coordination.ConsensusResult<string>, unknown, never>)
        .pipe(
          Effect.provide(
            ScriptedLanguageModel.layer({
              rules: [{ when: /Same capital/, reply: `Sure: {"agreeing": ["a0", "a1"]}` }]
            })
          )
        ) as Effect.Effect<Exit.Exit<Coordination.ConsensusResult<string>, unknown>>
      const out = successValue(exit)
      assert.deepStrictEqual(out.agreeing, ["a0", "a1"])
      assert.deepStrictEqual(out.dissenters, ["a2"])
      assert.strictEqual(out.value, "Paris")
    }))
})

describe("per-branch budget (kept by Metered)", () => {
  const chattyModel = Metered.fromProvider(
    ScriptedLanguageModel.provider({ default: "a reply of a few words, each one counted as a token or so" })
  )
  const talker = (name: string, calls: number) =>
    Primitive.make(name, (q: string) =>
      Effect.gen(function*() {
        let last = ""
        for (let i = 0; i < calls; i++) {
          last = (yield* Ai.LanguageModel.generateText({ prompt: `${q} ${i}` })).text
        }
        return last
      }))

  it.effect("a branch whose model usage reaches the cap is refused its next call and reported; the others go on", () =>
    Effect.gen(function*() {
      const p = Coordination.coordinate([talker("chatty", 50), talker("brief", 1)], Coordination.all(), {
        budget: { tokens: 60 }
      })
      const err = failedWith(yield* Effect.exit(Runner.run(p, "a question with several words in it")))
      const [chatty, brief] = err.outcomes
      assert.strictEqual(brief!.status, "succeeded", "brief's budget is its own")
      assert.strictEqual(chatty!.status, "failed")
      assert.include(chatty!.reason, "BudgetExceeded")
      assert.include(chatty!.reason, "budget exceeded: chatty spent")
      const report = yield* Accounting.report
      assert.isBelow(report.total.calls, 10, "chatty was stopped long before its 50 calls")
    }).pipe(Effect.provide(chattyModel)))
})

describe("per-branch dollar budget (kept by Metered)", () => {
  it.effect("the call that takes a branch to maxCostUsd completes; the next one is refused before it is sent", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const spender = Primitive.make("spender", (_: string) =>
        Effect.gen(function*() {
          for (let i = 0; i < 10; i++) {
            yield* Ai.LanguageModel.generateText({ prompt: `call ${i}` })
            yield* Ref.update(calls, (n) => n + 1)
          }
          return "done"
        }))
      const p = Coordination.coordinate([spender], Coordination.all(), { budget: { usd: 0.025 } })
      const err = failedWith(yield* Effect.exit(Runner.run(p, "q")))
      assert.strictEqual(err.outcomes[0]!.status, "failed")
      assert.include(err.outcomes[0]!.reason, "budget exceeded: spender spent $0.0300 of $0.025")
      assert.strictEqual(yield* Ref.get(calls), 3, "three calls of $0.01 each; the fourth was refused")
      assert.strictEqual((yield* Accounting.report).total.calls, 3, "the refused call was never sent")
    }).pipe(
      Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({ default: "ok", model: "penny" }))),
      // "ok" is one output token; no charge for input: every call costs exactly $0.01
      Effect.provide(Pricing.layer({ penny: { input: 0, output: 10_000, cacheRead: 0, cacheWrite: 0 } }))
    ))
})

describe("telemetry", () => {
  it.effect("each branch is its own span under the coordinate span, with outcome attributes", () =>
    Effect.gen(function*() {
      const p = Coordination.coordinate([
        Primitive.sync("left", (s: string) => s.length),
        Primitive.sync("right", (s: string) => s.length + 1)
      ], Coordination.all())
      const { exit, spans } = yield* withSpans(Runner.run(p, "abc"))
      assert.deepStrictEqual(successValue(exit).values, [3, 4])
      const root = byName(spans, "coordinate(all)")
      assert.strictEqual(parentOf(spans, byName(spans, "left"))?.name, root.name)
      assert.strictEqual(parentOf(spans, byName(spans, "right"))?.name, root.name)
      assert.strictEqual(root.attributes["braid.coordination.succeeded"], 2)
      assert.strictEqual(root.attributes["braid.primitive.kind"], "coordinate")
      assert.strictEqual(root.events.filter((e) => e.name === "coordination.branch").length, 2)
    }))

  it.effect("agents that share a name get distinct branch paths", () =>
    Effect.gen(function*() {
      const twin = Primitive.sync("twin", (s: string) => s.length)
      const p = Coordination.coordinate([twin, twin], Coordination.all())
      const { spans } = yield* withSpans(Runner.run(p, "abc"))
      const paths = spans.filter((s) => s.name === "twin").map((s) => s.attributes["braid.path"])
      assert.sameMembers(paths, ["coordinate(all)/twin", "coordinate(all)/twin(1)"])
    }))
})

describe("types", () => {
  it.effect("agents with different outputs: all() gives the union of their outputs", () =>
    Effect.gen(function*() {
      const a = Primitive.sync("a", (s: string) => s.length)
      const b = Primitive.sync("b", (s: string) => s.toUpperCase())
      const out = yield* Runner.run(Coordination.coordinate([a, b], Coordination.all()), "hey")
      const values: ReadonlyArray<number | string> = out.values
      assert.deepStrictEqual(values, [3, "HEY"])
    }))
})
