import { Errors, LanguageModel, ScriptedModel, Tokens } from "@braid/llm"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Stream, TestClock } from "effect"

const ask = (text: string, extra: Partial<LanguageModel.Request> = {}) =>
  LanguageModel.generate({ messages: [LanguageModel.user(text)], ...extra })

describe("ScriptedModel", () => {
  it.effect("replies from rules: substring, RegExp with groups, predicate, default", () =>
    Effect.gen(function*() {
      const a = yield* ask("How is the WEATHER today?")
      assert.strictEqual(a.text, "Sunny, 21 degrees.")
      const b = yield* ask("my name is Ada")
      assert.strictEqual(b.text, "Nice to meet you, Ada.")
      const c = yield* ask("anything", { system: "pirate" })
      assert.strictEqual(c.text, "Arr, anything")
      const d = yield* ask("unknown question")
      assert.strictEqual(d.text, `Scripted reply to "unknown question"`)
      assert.strictEqual(d.model, "braid-scripted")
      assert.strictEqual(d.stopReason, "end_turn")
    }).pipe(Effect.provide(ScriptedModel.layer({
      rules: [
        { when: "weather", reply: "Sunny, 21 degrees." },
        { when: /my name is (\w+)/i, reply: "Nice to meet you, {{1}}." },
        { when: (req) => LanguageModel.systemText(req.system) === "pirate", reply: "Arr, {{input}}" }
      ]
    }))))

  it.effect("is deterministic and reports estimated usage like the real model", () =>
    Effect.gen(function*() {
      const req = { system: "Be brief.", messages: [LanguageModel.user("Tell me about tokens")] }
      const one = yield* LanguageModel.generate(req)
      const two = yield* LanguageModel.generate(req)
      assert.deepStrictEqual(one, two)
      assert.strictEqual(one.usage.inputTokens, Tokens.estimateRequest(req))
      assert.strictEqual(one.usage.outputTokens, Tokens.estimate(one.text))
      assert.isTrue(one.usage.estimated)
    }).pipe(Effect.provide(ScriptedModel.layer({ default: "Tokens are pieces of words." }))))

  it.effect("accounts prompt-cache writes then reads for a cached system prompt", () =>
    Effect.gen(function*() {
      const system = { text: "You are a careful coach. ".repeat(20), cache: true }
      const first = yield* ask("hi", { system })
      const second = yield* ask("hi again", { system })
      const sys = Tokens.estimate(system.text)
      assert.strictEqual(first.usage.cacheWriteTokens, sys)
      assert.strictEqual(first.usage.cacheReadTokens, 0)
      assert.strictEqual(second.usage.cacheReadTokens, sys)
      assert.strictEqual(second.usage.cacheWriteTokens, 0)
      assert.strictEqual(
        second.usage.inputTokens,
        Tokens.estimateRequest({ system, messages: [LanguageModel.user("hi again")] }) - sys
      )
    }).pipe(Effect.provide(ScriptedModel.layer())))

  it.effect("honours stop sequences and maxTokens", () =>
    Effect.gen(function*() {
      const stopped = yield* ask("x", { stopSequences: ["END"] })
      assert.strictEqual(stopped.text, "one two ")
      assert.strictEqual(stopped.stopReason, "stop_sequence")
      const short = yield* ask("x", { maxTokens: 1 })
      assert.strictEqual(short.text, "one ")
      assert.strictEqual(short.stopReason, "max_tokens")
    }).pipe(Effect.provide(ScriptedModel.layer({ default: "one two END three" }))))

  it.effect("streams word deltas then one Finish with the whole response", () =>
    Effect.gen(function*() {
      const { deltas, response } = yield* LanguageModel.streamCollect({ messages: [LanguageModel.user("go")] })
      assert.deepStrictEqual(deltas, ["The ", "quick ", "brown ", "fox"])
      assert.strictEqual(response.text, "The quick brown fox")
      const events = yield* Stream.runCollect(LanguageModel.stream({ messages: [LanguageModel.user("go")] }))
      assert.strictEqual(Array.from(events).filter((e) => e._tag === "Finish").length, 1)
    }).pipe(Effect.provide(ScriptedModel.layer({ default: "The quick brown fox" }))))

  it.effect("fails the chosen calls with the injected typed error", () =>
    Effect.gen(function*() {
      const results = yield* Effect.all([1, 2, 3, 4].map(() => Effect.either(ask("q"))))
      assert.deepStrictEqual(results.map(Either.isRight), [true, false, true, false])
      const err = Either.getLeft(results[1]!)
      assert.isTrue(err._tag === "Some" && err.value._tag === "Overloaded" && err.value.transient)
      const err4 = Either.getLeft(results[3]!)
      assert.isTrue(err4._tag === "Some" && err4.value._tag === "BadRequest" && !err4.value.transient)
    }).pipe(Effect.provide(ScriptedModel.layer({
      failures: [
        { calls: [2], error: new Errors.Overloaded({ message: "simulated" }) },
        { when: (_, n) => n === 4, error: () => new Errors.BadRequest({ message: "bad" }) }
      ]
    }))))

  it.effect("latency goes through the Clock (TestClock drives it)", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(ask("slow"))
      yield* TestClock.adjust("999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const r = yield* Fiber.join(fiber)
      assert.strictEqual(r.text, "done")
    }).pipe(Effect.provide(ScriptedModel.layer({ default: "done", latency: "1 second" }))))
})

describe("Errors", () => {
  it("marks transient errors and keeps retry-after hints", () => {
    assert.isTrue(new Errors.RateLimited({ message: "r", retryAfterMillis: 1500 }).transient)
    assert.strictEqual(new Errors.RateLimited({ message: "r", retryAfterMillis: 1500 }).retryAfterMillis, 1500)
    assert.isTrue(new Errors.Overloaded({ message: "o" }).transient)
    assert.isTrue(new Errors.ServerError({ message: "s", status: 500 }).transient)
    assert.isTrue(new Errors.ModelTimeout({ message: "t" }).transient)
    assert.isTrue(new Errors.ConnectionFailed({ message: "c" }).transient)
    assert.isFalse(new Errors.BadRequest({ message: "b" }).transient)
    assert.isFalse(new Errors.AuthenticationFailed({ message: "a" }).transient)
    assert.isFalse(
      new Errors.BudgetExceeded({ message: "x", scope: "run", key: "r", unit: "usd", limit: 1, spent: 2 }).transient
    )
    assert.isTrue(Errors.isModelError(new Errors.Overloaded({ message: "o" })))
    assert.isFalse(Errors.isModelError(new Error("x")))
  })
})

describe("ScriptedModel tool calls", () => {
  it.effect("a rule can call tools: the response stops with tool_use and carries the calls", () =>
    Effect.gen(function*() {
      const r = yield* ask("What's the weather in Paris?")
      assert.strictEqual(r.stopReason, "tool_use")
      assert.deepStrictEqual(r.toolCalls, [{ id: "call-1", name: "weather", input: { city: "Paris" } }])
      const after = yield* LanguageModel.generate({
        messages: [
          LanguageModel.user("What's the weather in Paris?"),
          LanguageModel.assistant("[weather: sunny]"),
          LanguageModel.user("tool result: sunny")
        ]
      })
      assert.strictEqual(after.text, "It is sunny in Paris.")
      assert.isUndefined(after.toolCalls)
    }).pipe(Effect.provide(ScriptedModel.layer({
      rules: [
        { when: "tool result", reply: "It is sunny in Paris." },
        {
          when: /weather in (\w+)/,
          reply: "Let me check.",
          toolCalls: (
            req
          ) => [{
            id: "call-1",
            name: "weather",
            input: { city: LanguageModel.lastUserText(req).match(/in (\w+)/)![1] }
          }]
        }
      ]
    }))))
})
