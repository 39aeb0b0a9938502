/**
 * Tutorial 8: several agents on the same task, in parallel.
 *
 * Four estimator agents size the same feature. We combine them four ways with
 * `Coordination.coordinate`:
 *   - all:    every estimate (fails if any estimator fails);
 *   - first:  the first answer wins, the others are interrupted;
 *   - quorum: done as soon as 2 answered, the rest are interrupted;
 *   - vote:   each estimate is a typed ballot; the majority wins, with weights and a tie-break;
 * and, as a bonus, consensus with a tolerance. Every branch ends with an outcome (succeeded,
 * failed, interrupted, timed-out) and a reason: nothing is dropped silently.
 *
 * Offline: a scripted model answers for each agent (swap `ScriptedLanguageModel.layer` for
 * `DefaultLanguageModel.layer()` from @braid/llm to ask Claude when ANTHROPIC_API_KEY is set).
 *
 * Run it: npx tsx examples/08-parallel-agents.ts
 */
import { Agent, Coordination, Errors as CoordinationErrors } from "@braid/agents"
import { Primitive, Runner, sequence } from "@braid/core"
import { Ai, ScriptedLanguageModel } from "@braid/llm"
import { Effect } from "effect"
import assert from "node:assert"

// 1. The model: each estimator has its own opinion (its instructions name it).
const opinions: Record<string, string> = { alice: "5", bob: "8", carol: "5", dave: "3" }
const estimatorOf = (prompt: Ai.Prompt.Prompt) => /^You are (\w+)\./.exec(Ai.systemText(prompt))?.[1] ?? ""
const Model = ScriptedLanguageModel.layer({
  rules: [{
    when: (prompt) => estimatorOf(prompt) in opinions,
    reply: (prompt) => opinions[estimatorOf(prompt)]!
  }]
})

// 2. The agents. Dave thinks slowly (0.8 s before he answers).
const estimator = (name: string) =>
  Agent.make({
    name,
    instructions: `You are ${name}. You estimate features in story points. Answer with a number only.`
  })
const slowly = <E, R>(agent: Agent.Any<E, R>, ms: number) =>
  Primitive.make(agent.name, (c: Agent.Conversation) => Effect.zipRight(Effect.sleep(ms), agent.invoke(c)))
const agents = [estimator("alice"), estimator("bob"), estimator("carol"), slowly(estimator("dave"), 800)]

// A ballot is a typed value: the estimate as a number.
const points = Primitive.sync("points", (reply: Agent.Reply) => Number.parseInt(reply.text, 10))
const voters = agents.map((a) => sequence(a, points).pipe(Primitive.named(a.name)))

const task = Agent.conversation(["Estimate: export the coaching plan as a PDF."])

/** Runs a coordination that must fail, and returns its CoordinationFailed. */
const failure = <A, R>(p: Primitive.Primitive<Agent.Conversation, A, CoordinationErrors.CoordinationFailed, R>) =>
  Runner.run(p, task).pipe(
    Effect.flatMap(() => Effect.dieMessage("expected the coordination to fail")),
    Effect.catchTag("CoordinationFailed", (e) => Effect.succeed(e))
  )

const program = Effect.gen(function*() {
  console.log("== Tutorial 8: parallel agents (scripted model, offline) ==\n")

  // all: a typed aggregate of every result, in agent order
  const all = yield* Runner.run(Coordination.coordinate(voters, Coordination.all()), task)
  console.log("all:    ", all.values.join(", "))
  assert.deepStrictEqual(all.values, [5, 8, 5, 3])

  // first: the first to succeed wins, the others are interrupted
  const first = yield* Runner.run(Coordination.coordinate([agents[3]!, agents[1]!], Coordination.first()), task)
  console.log(
    `first:   ${first.winner} answered ${first.value.text}; ${
      first.outcomes.map((o) => `${o.agent} ${o.status}`).join(", ")
    }`
  )
  assert.strictEqual(first.winner, "bob")
  assert.strictEqual(first.outcomes[0]!.status, "interrupted")

  // quorum(2): done when two succeed, even with a broken estimator in the mix
  const broken = Primitive.make("eve", (_: Agent.Conversation) => Effect.fail(new Error("eve is offline")))
  const quorum = yield* Runner.run(Coordination.coordinate([broken, ...voters], Coordination.quorum(2)), task)
  console.log("quorum: ", quorum.values.map((v) => `${v.agent}=${v.value}`).join(", "))
  for (const o of quorum.outcomes) console.log(`         ${o.agent}: ${o.status} (${o.reason})`)
  assert.strictEqual(quorum.values.length, 2)
  assert.strictEqual(quorum.outcomes[0]!.status, "failed")

  // per-branch timeout: each estimator gets 300 ms, which is not enough for dave, so "all" fails
  const timed = yield* failure(Coordination.coordinate(voters, Coordination.all(), { timeout: "300 millis" }))
  console.log(`timeout: ${timed._tag}; dave ${timed.outcomes[3]!.status} (${timed.outcomes[3]!.reason})`)
  assert.strictEqual(timed.outcomes[3]!.status, "timed-out")

  // vote: majority of typed ballots (5 wins 2 of 4)... a plain majority needs more than half
  const plain = yield* failure(Coordination.coordinate(voters, Coordination.vote<number>()))
  console.log(`vote:    plain majority fails: ${plain.reason}`)
  // ... so the lead's vote weighs double, and a tie is broken by agent order
  const vote = yield* Runner.run(
    Coordination.coordinate(voters, Coordination.vote<number>({ weights: { alice: 2 }, tieBreak: "first" })),
    task
  )
  console.log(
    `vote:    weighted winner ${vote.winner} with ${vote.weight} of ${vote.totalWeight}; tally ${
      vote.tally.map((t) => `${t.key}:${t.weight}`).join(" ")
    }`
  )
  assert.strictEqual(vote.winner, 5)

  // consensus: estimates within 2 points agree; the outlier is a dissenter
  const consensus = yield* Runner.run(
    Coordination.coordinate(voters, Coordination.consensus<number>({ equivalent: (a, b) => Math.abs(a - b) <= 2 })),
    task
  )
  console.log(
    `consensus: ${consensus.value} (agreement ${consensus.agreement}), dissenters: ${consensus.dissenters.join(", ")}`
  )
  assert.deepStrictEqual(consensus.dissenters, ["bob"])

  // a strategy that cannot be satisfied is a typed error with every branch's outcome
  const impossible = yield* failure(Coordination.coordinate([broken, voters[0]!], Coordination.all()))
  console.log(`\nall with a broken agent: ${impossible._tag}: ${impossible.message}`)
  assert.strictEqual(impossible._tag, "CoordinationFailed")
  console.log("\nDone.")
})

await Effect.runPromise(program.pipe(Effect.provide(Model)))
