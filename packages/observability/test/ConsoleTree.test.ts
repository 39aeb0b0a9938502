import { GenAI, Observability } from "@braid/observability"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

/** A model call of `input`/`output` tokens costing `usd`, as `LanguageModel` makes it. */
const chat = (input: number, output: number, usd: number, estimated = false) =>
  GenAI.chat(
    { provider: "test", model: "m-1", maxTokens: 100 },
    GenAI.annotateCost(usd, { model: "m-1" }),
    () => ({ model: "m-1", inputTokens: input, outputTokens: output, finishReasons: ["end_turn"], estimated })
  )

/**
 * An agent turn: an `invoke_agent` span (with the GenAI operation) that repeats the usage and
 * cost of the model call it made, as `Agent` does.
 */
const agent = (name: string, input: number, output: number, usd: number, estimated = false) =>
  chat(input, output, usd, estimated).pipe(
    Effect.zipRight(Effect.annotateCurrentSpan({
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": name,
      "gen_ai.usage.input_tokens": input,
      "gen_ai.usage.output_tokens": output,
      "braid.cost.usd": usd
    })),
    Effect.withSpan(`invoke_agent ${name}`)
  )

const tree = <A, E>(self: Effect.Effect<A, E>) => {
  const mem = Observability.inMemory()
  return self.pipe(Effect.zipRight(Effect.sync(() => mem.tree().split("\n"))), Effect.provide(mem.layer))
}

describe("the console tree counts each model call once", () => {
  it.effect("an agent span holding its chat span shows the call's tokens once, and so does every span above", () =>
    Effect.gen(function*() {
      const lines = yield* tree(
        Effect.all([agent("coach", 100, 20, 0.002), agent("critic", 30, 10, 0.001, true)]).pipe(
          Effect.withSpan("meeting")
        )
      )
      assert.match(lines[0]!, /^meeting {2}\d+\.\d ms {2}130 in \/ 30 out tokens {2}\$0\.003000$/)
      assert.match(lines[1]!, /^├─ invoke_agent coach {2}\d+\.\d ms {2}100 in \/ 20 out tokens {2}\$0\.002000$/)
      assert.match(lines[2]!, /^│ {2}└─ chat m-1 {2}\d+\.\d ms {2}100 in \/ 20 out tokens {2}\$0\.002000$/)
      assert.match(lines[3]!, /^└─ invoke_agent critic {2}\d+\.\d ms {2}30 in \/ 10 out tokens {2}\$0\.001000$/)
      assert.match(lines[4]!, /^ {3}└─ chat m-1 {2}\d+\.\d ms {2}~30 in \/ ~10 out tokens {2}\$0\.001000$/)
    }))

  it.effect("usage on a span without a model call under it is not counted, there or above", () =>
    Effect.gen(function*() {
      const lines = yield* tree(
        Effect.all([
          Effect.annotateCurrentSpan({ "gen_ai.usage.input_tokens": 50, "gen_ai.usage.output_tokens": 5 }).pipe(
            Effect.withSpan("summary")
          ),
          chat(10, 2, 0.0001)
        ]).pipe(Effect.withSpan("step"))
      )
      assert.match(lines[0]!, /^step {2}\d+\.\d ms {2}10 in \/ 2 out tokens {2}\$0\.000100$/)
      assert.match(lines[1]!, /^├─ summary {2}\d+\.\d ms$/)
    }))
})
