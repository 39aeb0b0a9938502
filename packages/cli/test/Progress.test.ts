import { Agent } from "@braid/agents"
import { Progress } from "@braid/cli"
import { Primitive, Runner, sequence } from "@braid/core"
import { Accounting, Metered, ScriptedLanguageModel } from "@braid/llm"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

describe("Progress", () => {
  it.effect("counts finished primitives, model calls, tokens and cost (model-call spans only, not agents' repeats)", () =>
    Effect.gen(function*() {
      const coach = Agent.make({ name: "coach", instructions: "Be brief." })
      const ask = Primitive.make(
        "ask",
        (q: string) => Effect.map(coach.invoke({ messages: [Agent.user(q)] }), (r) => r)
      )
      const twice = sequence(ask, Primitive.sync("again", (r: Agent.Reply) => r.text), ask)
      const updates: Array<Progress.Snapshot> = []
      const { progress, value } = yield* Progress.track(
        Runner.run(twice, "How do I start running?"),
        (s) => updates.push(s)
      )
      assert.strictEqual(value.agent, "coach")
      assert.strictEqual(progress.modelCalls, 2)
      // sequence + ask + coach + again + ask + coach = 6 primitives
      assert.strictEqual(progress.steps, 6)
      assert.strictEqual(progress.failed, 0)
      const accounted = (yield* Accounting.report).total
      assert.strictEqual(
        progress.inputTokens,
        accounted.inputTokens + accounted.cacheReadTokens + accounted.cacheWriteTokens
      )
      assert.strictEqual(progress.outputTokens, accounted.outputTokens)
      assert.closeTo(progress.costUsd, accounted.costUsd, 1e-12)
      assert.isTrue(progress.costUsd > 0)
      assert.strictEqual(progress.last, "sequence")
      assert.isTrue(updates.length >= 6)
      assert.match(Progress.line(progress), /^steps 6 · model calls 2 · tokens \d+ in \/ \d+ out · \$0\.\d{4}$/)
    }).pipe(
      Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({ default: "Start with ten minutes." })))
    ))

  it.effect("counts failed primitives", () =>
    Effect.gen(function*() {
      const boom = Primitive.make("boom", (_: number) => Effect.fail("nope"))
      const { progress } = yield* Progress.track(
        Effect.either(Runner.run(sequence(Primitive.sync("ok", (n: number) => n), boom), 1))
      )
      assert.strictEqual(progress.steps, 3)
      assert.strictEqual(progress.failed, 2) // boom and the sequence around it
      assert.strictEqual(progress.modelCalls, 0)
    }))
})
