import { Primitive, Runner } from "@braid/core"
import { Durable, DurableModel } from "@braid/durable"
import { Accounting, Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema, Stream } from "effect"
import { Reply, waitForStatus } from "./durableConformance.js"

/** The scripted model, counting the calls it answers (what a provider would bill). */
const scripted = () => {
  const log: Array<string> = []
  const options: ScriptedLanguageModel.Options = {
    rules: [{ when: "plan", reply: "A plan", object: { steps: ["warm up", "practise"] } }],
    default: (prompt) => {
      const text = Ai.lastUserText(prompt)
      log.push(text)
      return `echo: ${text}`
    }
  }
  return { log, options }
}

const Plan = Schema.Struct({ steps: Schema.Array(Schema.String) })

/** A tutor: a model call, a learner's reply (signal), a streamed call and a structured one. */
const tutor = (signal: boolean) =>
  Primitive.make("tutor", (topic: string) =>
    Effect.gen(function*() {
      const opening = yield* Ai.LanguageModel.generateText({ prompt: `open ${topic}` })
      const reply = signal ? (yield* Durable.awaitSignal("turn-0", Reply)).text : "fine"
      const parts = yield* Stream.runCollect(Ai.LanguageModel.streamText({ prompt: `answer ${reply}` }))
      const streamed = [...parts].flatMap((p) => p.type === "text-delta" ? [p.delta] : []).join("")
      const plan = yield* Ai.LanguageModel.generateObject({ prompt: "make a plan", schema: Plan })
      return `${opening.text} | ${streamed} | ${plan.value.steps.join(", ")}`
    }))

describe("DurableModel", () => {
  it.live("journaled model calls: the output equals the plain run's, each call reached the model once, replays are no new spend", () => {
    const plainModel = scripted()
    const durableModel = scripted()
    const wf = Durable.workflow("tutor", tutor(true), {
      input: Schema.String,
      output: Schema.String,
      error: Ai.AiError.AiError,
      key: (t) => t
    })
    return Effect.gen(function*() {
      const [plain, plainReport] = yield* Effect.all([Runner.run(tutor(false), "fractions"), Accounting.report]).pipe(
        Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider(plainModel.options)))
      )
      const id = yield* wf.start("fractions")
      yield* waitForStatus(wf, id, (s) => s._tag === "Suspended")
      yield* wf.signal(id, "turn-0", Reply, { text: "fine" })
      const durable = yield* wf.run("fractions")
      assert.strictEqual(durable, plain)
      assert.deepStrictEqual(durableModel.log, plainModel.log, "each call reached the model once")
      assert.strictEqual(durableModel.log.length, 2)
      // the replays (one per resume) went through Metered too, but as zero usage: no new spend
      const report = yield* Accounting.report
      assert.isTrue(plainReport.total.tokens > 0)
      assert.strictEqual(report.total.tokens, plainReport.total.tokens)
      assert.strictEqual(report.total.costUsd, plainReport.total.costUsd)
      // a replay is accounted as a replay, not as a new call
      assert.strictEqual(report.total.calls, plainReport.total.calls)
      assert.isTrue(report.total.replays > 0)
      assert.strictEqual(plainReport.total.replays, 0)
    }).pipe(
      Effect.provide(
        wf.layer.pipe(
          Layer.provideMerge(Durable.layerMemory),
          Layer.provideMerge(
            Metered.fromProvider(
              Effect.map(ScriptedLanguageModel.provider(durableModel.options), DurableModel.provider)
            )
          )
        )
      )
    )
  })
})
