import { Primitive, Runner } from "@braid/core"
import { Durable, DurableModel } from "@braid/durable"
import { Accounting, Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, FiberId, Layer, Schema, Stream } from "effect"
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

describe("DurableModel.streamText", () => {
  it.live("the live call passes each part through as it arrives; a replay streams the journaled parts; none twice", () => {
    const gate = Deferred.unsafeMake<void>(FiberId.none)
    let providerCalls = 0
    /** The scripted provider, held after its first text delta until the consumer has seen that delta. */
    const gated = Effect.map(ScriptedLanguageModel.provider({ default: "Streamed reply" }), (inner): Ai.Provider => ({
      ...inner,
      streamText: (options) =>
        Stream.suspend(() => {
          providerCalls++
          let sawDelta = false
          return Stream.mapEffect(inner.streamText(options), (part) => {
            const hold = sawDelta
            if (part.type === "text-delta") sawDelta = true
            return hold ? Effect.as(Deferred.await(gate), part) : Effect.succeed(part)
          })
        })
    }))
    const executions: Array<Array<string>> = []
    const streamer = Primitive.make("streamer", (topic: string) =>
      Effect.gen(function*() {
        const deltas: Array<string> = []
        executions.push(deltas)
        yield* Stream.runForEach(Ai.LanguageModel.streamText({ prompt: `tell ${topic}` }), (part) =>
          part.type === "text-delta"
            ? Effect.zipRight(
              Effect.sync(() =>
                deltas.push(part.delta)
              ),
              Deferred.succeed(gate, undefined)
            )
            : Effect.void)
        const go = yield* Durable.awaitSignal("go", Reply)
        return `${deltas.join("")}|${go.text}`
      }))
    const wf = Durable.workflow("streamer", streamer, {
      input: Schema.String,
      output: Schema.String,
      error: Ai.AiError.AiError,
      key: (t) => t
    })
    return Effect.gen(function*() {
      const id = yield* wf.start("a story")
      // collected before it is passed on, the stream would never get past the gate: bounded
      yield* waitForStatus(wf, id, (s) => s._tag === "Suspended", "30 seconds")
      assert.strictEqual(yield* Deferred.isDone(gate), true, "the consumer saw the first delta live")
      yield* wf.signal(id, "go", Reply, { text: "go" })
      const out = yield* wf.run("a story")
      assert.strictEqual(out, "Streamed reply|go")
      assert.strictEqual(providerCalls, 1, "the replay did not call the provider")
      assert.isTrue(executions.length >= 2, "the run replayed")
      for (const deltas of executions) assert.strictEqual(deltas.join(""), "Streamed reply", "each part once")
    }).pipe(
      Effect.provide(
        wf.layer.pipe(Layer.provideMerge(Durable.layerMemory), Layer.provideMerge(DurableModel.layer(gated)))
      )
    )
  })
})
