import { Primitive, Runner, sequence } from "@braid/core"
import type { ScriptedLanguageModel } from "@braid/llm"
import { Accounting, Ai, AiErrors, Metered, Pricing, ScriptedLanguageModel as Scripted, Tokens } from "@braid/llm"
import { Observability } from "@braid/observability"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Ref, Stream } from "effect"

/** The books of a metered scripted model (its `Accounting` report and budgets). */
const scripted = (options: ScriptedLanguageModel.Options, accounting: Metered.Options = {}) =>
  Metered.fromProvider(Scripted.provider(options), accounting)

const ask = (text: string, agent?: string) =>
  AiErrors.mapToModelError(
    Ai.LanguageModel.generateText({ prompt: text }).pipe(Ai.withSettings(agent !== undefined ? { agent } : {}))
  )
const modelOf = (r: Ai.LanguageModel.GenerateTextResponse<any>) => Metered.usageOf(r)!.model

const step = (name: string, agent?: string) =>
  Primitive.make(name, (text: string) => Effect.map(ask(text, agent), (r) => r.text))

describe("Pricing", () => {
  it("looks up exact ids, then the longest prefix; computes cost per million tokens", () => {
    assert.strictEqual(Pricing.lookup(Pricing.defaults, "claude-sonnet-5-5")?.input, 2)
    assert.strictEqual(Pricing.lookup(Pricing.defaults, "claude-sonnet-5-5-20260901")?.output, 10)
    assert.strictEqual(Pricing.lookup(Pricing.defaults, "claude-sonnet-5-1")?.input, 2) // prefix claude-sonnet-5
    assert.isUndefined(Pricing.lookup(Pricing.defaults, "gpt-unknown"))
    const usd = Pricing.cost(
      { input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5 },
      { inputTokens: 1000, outputTokens: 500, cacheReadTokens: 2000, cacheWriteTokens: 400 }
    )
    assert.closeTo(usd, (1000 * 2 + 500 * 10 + 2000 * 0.2 + 400 * 2.5) / 1e6, 1e-12)
  })
})

describe("Accounting", () => {
  it.effect("accounts every call: totals per run, per session, per agent and per model, as Metered priced them", () =>
    Effect.gen(function*() {
      const pipeline = sequence(step("plan", "planner"), step("write", "writer")).pipe(Primitive.named("flow"))
      yield* Runner.run(pipeline, "hello", { runId: "r-1", sessionId: "s-1" })
      yield* Runner.run(pipeline, "again", { runId: "r-2", sessionId: "s-1" })
      const r = yield* Accounting.report
      assert.strictEqual(r.total.calls, 4)
      assert.strictEqual(r.byRun["r-1"]?.calls, 2)
      assert.strictEqual(r.byRun["r-2"]?.calls, 2)
      assert.strictEqual(r.bySession["s-1"]?.calls, 4)
      assert.strictEqual(r.byAgent["planner"]?.calls, 2)
      assert.strictEqual(r.byAgent["writer"]?.calls, 2)
      assert.strictEqual(r.byModel["braid-scripted"]?.calls, 4)
      assert.strictEqual(r.total.estimatedCalls, 4)
      // usage sums and price: the scripted output is the estimate of its text
      assert.strictEqual(
        r.byRun["r-1"]!.outputTokens,
        Tokens.estimate("Echo: hello") + Tokens.estimate("Echo: Echo: hello")
      )
      const price = Pricing.defaults["braid-scripted"]!
      const expected = (r.total.inputTokens * price.input + r.total.outputTokens * price.output) / 1e6
      assert.closeTo(r.total.costUsd, expected, 1e-12)
      assert.isAbove(r.total.costUsd, 0)
    }).pipe(Effect.provide(scripted({ default: "Echo: {{input}}" }))))

  it.effect("users extend the price table; unknown models are counted as unpriced at $0", () =>
    Effect.gen(function*() {
      yield* Ai.LanguageModel.generateText({ prompt: "x" }).pipe(Ai.withSettings({ model: "my-fine-tune" }))
      yield* Ai.LanguageModel.generateText({ prompt: "x" }).pipe(Ai.withSettings({ model: "mystery-model" }))
      const r = yield* Accounting.report
      const ft = r.byModel["my-fine-tune"]!
      assert.closeTo(ft.costUsd, (ft.inputTokens * 1000 + ft.outputTokens * 2000) / 1e6, 1e-12)
      assert.strictEqual(r.byModel["mystery-model"]?.costUsd, 0)
      assert.strictEqual(r.total.unpricedCalls, 1)
    }).pipe(Effect.provide(Layer.merge(
      scripted({ default: "ok" }),
      Pricing.layer({ "my-fine-tune": { input: 1000, output: 2000, cacheRead: 0, cacheWrite: 0 } })
    ))))

  it.effect("a token budget per run fails the next call with BudgetExceeded, without calling the model", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const counting = (accounting: Metered.Options) =>
        scripted({ default: (prompt) => "x".repeat(400) + Ai.lastUserText(prompt) }, accounting)
      const pipeline = Primitive.make(
        "loop",
        (_: void) =>
          Effect.forEach([1, 2, 3, 4, 5], (i) => Effect.zipRight(Ref.update(calls, (n) => n + 1), ask(`call ${i}`)))
      )
      const result = yield* Effect.either(Runner.run(pipeline, undefined, { runId: "budget-run" })).pipe(
        Effect.provide(counting({ budgets: [{ scope: "run", limit: { tokens: 250 } }] }))
      )
      assert.isTrue(Either.isLeft(result))
      const e = Either.getLeft(result)
      assert.isTrue(e._tag === "Some" && e.value._tag === "BudgetExceeded")
      if (e._tag === "Some" && e.value._tag === "BudgetExceeded") {
        assert.strictEqual(e.value.scope, "run")
        assert.strictEqual(e.value.key, "budget-run")
        assert.strictEqual(e.value.unit, "tokens")
        assert.isAtLeast(e.value.spent, 250)
        assert.isFalse(e.value.transient)
      }
      // each call costs ~ 105 output + ~6 input tokens: the 3rd call crosses 250, the 4th is refused
      assert.strictEqual(yield* Ref.get(calls), 3 + 1)
    }))

  it.effect("budgets are per run: a new run starts from zero; a session budget spans runs", () =>
    Effect.gen(function*() {
      const one = Primitive.make("one", (_: void) => ask("hello"))
      const layer = scripted({ default: "x".repeat(400) }, {
        budgets: [{ scope: "run", limit: { tokens: 150 } }, { scope: "session", limit: { tokens: 300 } }]
      })
      const results = yield* Effect.all(
        [1, 2, 3, 4].map((i) => Effect.either(Runner.run(one, undefined, { runId: `run-${i}`, sessionId: "s" })))
      )
        .pipe(Effect.provide(layer))
      // each run has one call (under its run budget); the session budget refuses the 4th run
      assert.deepStrictEqual(results.map(Either.isRight), [true, true, true, false])
      const e = Either.getLeft(results[3]!)
      assert.isTrue(e._tag === "Some" && e.value._tag === "BudgetExceeded" && e.value.scope === "session")
    }))

  it.effect("a dollar budget with switchTo moves to the cheaper model instead of failing", () =>
    Effect.gen(function*() {
      const pipeline = Primitive.make(
        "chat",
        (_: void) => Effect.forEach([1, 2, 3, 4], (i) => Effect.map(ask(`q${i}`), modelOf))
      )
      const models = yield* Runner.run(pipeline, undefined, { runId: "cheap" }).pipe(
        Effect.provide(scripted({ default: "y".repeat(4000) }, {
          budgets: [{ scope: "run", limit: { usd: 0.015 }, onExceeded: { switchTo: "braid-scripted-mini" } }]
        }))
      )
      // one call costs ~ 1000 output tokens x $10/M = $0.01: the 2nd call crosses $0.015, later ones switch
      assert.deepStrictEqual(models, ["braid-scripted", "braid-scripted", "braid-scripted-mini", "braid-scripted-mini"])
    }))

  it.effect("the warning threshold fires the hook once and adds a braid.cost.alert span event", () =>
    Effect.gen(function*() {
      const alerts = yield* Ref.make<ReadonlyArray<Accounting.Alert>>([])
      const mem = Observability.inMemory()
      const pipeline = Primitive.make("talk", (_: void) => Effect.forEach([1, 2, 3, 4], (i) => ask(`q${i}`)))
      const spans = yield* Runner.run(pipeline, undefined, { runId: "alert-run" }).pipe(
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer),
        Effect.provide(scripted({ default: "z".repeat(400) }, {
          budgets: [{ scope: "run", limit: { tokens: 1000 }, warnAt: 0.2 }],
          onAlert: (a) => Ref.update(alerts, (xs) => [...xs, a])
        }))
      )
      const fired = yield* Ref.get(alerts)
      assert.strictEqual(fired.length, 1)
      assert.strictEqual(fired[0]!.key, "alert-run")
      assert.strictEqual(fired[0]!.threshold, 200)
      assert.isAtLeast(fired[0]!.spent, 200)
      const chats = spans.filter((s) => s.name === "chat braid-scripted")
      assert.strictEqual(chats.length, 4)
      const withEvent = chats.filter((s) => s.events.some((e) => e.name === "braid.cost.alert"))
      assert.strictEqual(withEvent.length, 1)
      // the 2nd call is the one that crossed 200 tokens (each ~ 106)
      assert.strictEqual(chats.indexOf(withEvent[0]!), 1)
      assert.strictEqual(
        withEvent[0]!.events.find((e) => e.name === "braid.cost.alert")!.attributes!["braid.budget.limit"],
        1000
      )
      for (const c of chats) assert.isNumber(c.attributes["braid.cost.usd"])
    }))

  it.effect("streamed calls are accounted and budgeted too", () =>
    Effect.gen(function*() {
      const stream = Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "s" }))
      yield* stream
      const r = yield* Accounting.report
      assert.strictEqual(r.total.calls, 1)
      assert.strictEqual(r.total.outputTokens, Tokens.estimate("a streamed answer"))
      yield* stream
      const e = yield* Effect.either(stream)
      assert.isTrue(Either.isLeft(e) && AiErrors.toModelError(e.left)._tag === "BudgetExceeded")
    }).pipe(Effect.provide(scripted({ default: "a streamed answer" }, {
      budgets: [{ scope: "run", limit: { tokens: 15 } }]
    }))))

  it("format renders a short report", () => {
    const text = Accounting.format({
      total: Accounting.empty,
      byRun: {},
      bySession: {},
      byAgent: { coach: Accounting.empty },
      byModel: {}
    })
    assert.match(text, /^total +0 calls/)
    assert.match(text, /agent coach/)
  })
})
