import { WorkflowContext } from "@braid/core"
import {
  Accounting,
  Ai,
  AiErrors,
  AnthropicLanguageModel,
  Errors,
  Metered,
  Pricing,
  ScriptedLanguageModel
} from "@braid/llm"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { Observability } from "@braid/observability"
import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Duration,
  Effect,
  Either,
  FastCheck,
  Fiber,
  Layer,
  Option,
  Redacted,
  Schema,
  Stream,
  TestClock
} from "effect"

const failure = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Effect.either(self),
    (e) => Either.isLeft(e) ? Effect.succeed(e.left) : Effect.dieMessage("expected a failure")
  )

/** A provider answering with the given parts (for the guard). */
const rawProvider = (
  generate: ReadonlyArray<Ai.Response.PartEncoded>,
  stream: ReadonlyArray<Ai.Response.StreamPartEncoded>
): Ai.Provider => ({
  name: "raw",
  defaultModel: "raw-1",
  generateText: () => Effect.succeed([...generate]),
  streamText: () => Stream.fromIterable(stream)
})

const run = (runId: string) => WorkflowContext.layer({ runId, sessionId: "s-1" })

describe("Metered: money and the guard around any LanguageModel", () => {
  it.effect("each response carries its usage and cost; the report counts per agent and model; cache is priced", () =>
    Effect.gen(function*() {
      const ask = Ai.LanguageModel.generateText({
        prompt: [
          { role: "system", content: "You are a careful assistant. ".repeat(20), options: { braid: { cache: true } } },
          { role: "user", content: "hello" }
        ]
      }).pipe(Ai.withSettings({ agent: "coach" }))
      const first = yield* ask
      const second = yield* ask
      const u1 = Metered.usageOf(first)!
      const u2 = Metered.usageOf(second)!
      assert.strictEqual(u1.model, "braid-scripted")
      assert.isTrue(u1.estimated)
      assert.isAbove(u1.cacheWriteTokens, 0)
      assert.strictEqual(u2.cacheReadTokens, u1.cacheWriteTokens)
      assert.strictEqual(u2.cacheWriteTokens, 0)
      const price = Pricing.lookup(Pricing.defaults, "braid-scripted")!
      assert.closeTo(u1.costUsd, Pricing.cost(price, { ...u1 }), 1e-12)
      assert.isBelow(u2.costUsd, u1.costUsd) // reads are cheaper than writes
      assert.strictEqual(Metered.costOf(first), u1.costUsd)
      const r = yield* Accounting.report
      assert.strictEqual(r.total.calls, 2)
      assert.strictEqual(r.byAgent["coach"]?.calls, 2)
      assert.strictEqual(r.byModel["braid-scripted"]?.calls, 2)
      assert.closeTo(r.total.costUsd, u1.costUsd + u2.costUsd, 1e-12)
      assert.strictEqual(r.total.cacheReadTokens, u2.cacheReadTokens)
    }).pipe(Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({ default: "Hi there, friend." })))))

  it.effect("the call runs in one `chat {model}` span with GenAI usage and cost attributes", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const spans = yield* Ai.LanguageModel.generateText({ prompt: "hello" }).pipe(
        Ai.withSettings({ agent: "writer", maxTokens: 200 }),
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer)
      )
      const chat = spans.find((s) => s.name === "chat braid-scripted")
      assert.isDefined(chat)
      const a = chat!.attributes
      assert.strictEqual(a["gen_ai.provider.name"], "braid.scripted")
      assert.strictEqual(a["gen_ai.request.max_tokens"], 200)
      assert.isAbove(a["gen_ai.usage.input_tokens"] as number, 0)
      assert.isAbove(a["gen_ai.usage.output_tokens"] as number, 0)
      assert.deepStrictEqual(a["gen_ai.response.finish_reasons"], ["stop"])
      assert.isAbove(a["braid.cost.usd"] as number, 0)
      assert.strictEqual(a["gen_ai.agent.name"], "writer")
    }).pipe(Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider()))))

  it.effect("a token budget per run: the call that crosses it completes, the next fails before sending", () =>
    Effect.gen(function*() {
      const first = yield* Ai.LanguageModel.generateText({ prompt: "a fairly long question ".repeat(10) })
      assert.isAbove(Metered.usageOf(first)!.inputTokens, 20)
      const e = yield* failure(Ai.LanguageModel.generateText({ prompt: "again" }))
      const braid = AiErrors.toModelError(e)
      assert.strictEqual(braid._tag, "BudgetExceeded")
      assert.isFalse(AiErrors.isTransient(e))
      if (braid._tag === "BudgetExceeded") {
        assert.strictEqual(braid.key, "r-1")
        assert.strictEqual(braid.unit, "tokens")
      }
      // another run has its own budget
      const other = yield* Effect.either(
        Ai.LanguageModel.generateText({ prompt: "again" }).pipe(Effect.provide(run("r-2")))
      )
      assert.isTrue(Either.isRight(other))
      const r = yield* Accounting.report
      assert.strictEqual(r.byRun["r-1"]?.calls, 1)
    }).pipe(
      Effect.provide(run("r-1")),
      Effect.provide(
        Metered.fromProvider(ScriptedLanguageModel.provider(), { budgets: [{ scope: "run", limit: { tokens: 20 } }] })
      )
    ))

  it.live("a dollar budget degrades to a cheaper model (the provider receives it) and the alert fires once", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      const alerts: Array<Accounting.Alert> = []
      const layer = Metered.fromProvider(
        Effect.succeed(
          AnthropicLanguageModel.makeProvider({ apiKey: Redacted.make("sk-ant-x-123456"), baseURL: server.url })
        ),
        {
          budgets: [{
            scope: "run",
            limit: { usd: 0.001 },
            warnAt: 0.5,
            onExceeded: { switchTo: "claude-haiku-5-5" }
          }],
          onAlert: (a) => Effect.sync(() => alerts.push(a))
        }
      )
      const usage = {
        input_tokens: 400,
        output_tokens: 100,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0
      }
      server.enqueue(
        Reply.json("one", { usage }),
        Reply.json("two", { usage, model: "claude-haiku-5-5" }),
        Reply.json("three", { usage, model: "claude-haiku-5-5" })
      )
      const program = Effect.gen(function*() {
        const a = yield* Ai.LanguageModel.generateText({ prompt: "q1" })
        const b = yield* Ai.LanguageModel.generateText({ prompt: "q2" })
        const c = yield* Ai.LanguageModel.generateText({ prompt: "q3" })
        return [a, b, c] as const
      })
      const [a, b, c] = yield* program.pipe(Effect.provide(run("r-usd")), Effect.provide(layer))
      // sonnet 5.5: 400 × $2 + 100 × $10 per million = $0.0018 > $0.001
      assert.closeTo(Metered.costOf(a), 0.0018, 1e-12)
      assert.deepStrictEqual(server.requests.map((r) => r.body.model), [
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-haiku-5-5"
      ])
      assert.strictEqual(Metered.usageOf(b)?.model, "claude-haiku-5-5")
      assert.closeTo(Metered.costOf(b), (400 * 0.1 + 100 * 0.5) / 1e6, 1e-12)
      assert.strictEqual(c.text, "three")
      assert.strictEqual(alerts.length, 1)
      assert.strictEqual(alerts[0]!.key, "r-usd")
    })))

  it.live("Anthropic usage through the port: cache reads and writes excluded from input, priced separately", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      server.enqueue(Reply.json("ok", {
        model: "claude-sonnet-5-5",
        usage: {
          input_tokens: 1000,
          output_tokens: 200,
          cache_read_input_tokens: 5000,
          cache_creation_input_tokens: 800
        }
      }))
      const r = yield* Ai.LanguageModel.generateText({ prompt: "hi" }).pipe(
        Effect.provide(Metered.fromProvider(
          Effect.succeed(
            AnthropicLanguageModel.makeProvider({ apiKey: Redacted.make("sk-ant-x-123456"), baseURL: server.url })
          )
        ))
      )
      const u = Metered.usageOf(r)!
      assert.deepStrictEqual(
        [u.inputTokens, u.outputTokens, u.cacheReadTokens, u.cacheWriteTokens, u.estimated],
        [1000, 200, 5000, 800, false]
      )
      assert.closeTo(u.costUsd, (1000 * 2 + 200 * 10 + 5000 * 0.1 + 800 * 2.5) / 1e6, 1e-12)
    })))

  it.effect("streaming: the finish part carries usage and cost; the call is accounted once", () =>
    Effect.gen(function*() {
      const parts = Chunk.toReadonlyArray(yield* Stream.runCollect(Ai.LanguageModel.streamText({ prompt: "hello" })))
      const finish = parts.find((p) => p.type === "finish")
      assert.isDefined(finish)
      if (finish?.type === "finish") assert.isAbove(Metered.usageOf(finish)!.costUsd, 0)
      const text = parts.flatMap((p) => (p.type === "text-delta" ? [p.delta] : [])).join("")
      assert.strictEqual(text, "hello there")
      const r = yield* Accounting.report
      assert.strictEqual(r.total.calls, 1)
    }).pipe(Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({ default: "hello there" })))))

  it.effect("the guard: a success with no parts is a typed, transient MalformedResponse", () =>
    Effect.gen(function*() {
      const e = yield* failure(Ai.LanguageModel.generateText({ prompt: "hi" }))
      assert.strictEqual(e._tag, "MalformedOutput")
      const braid = AiErrors.toModelError(e)
      assert.strictEqual(braid._tag, "MalformedResponse")
      assert.isTrue(braid.transient)
      assert.include(braid.message, "no content parts")
    }).pipe(Effect.provide(Metered.fromProvider(Effect.succeed(rawProvider([], []))))))

  it.effect("the guard: a stream ending with an error part and no finish part is a typed, transient error", () =>
    Effect.gen(function*() {
      const e = yield* failure(Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "hi" })))
      const braid = AiErrors.toModelError(e)
      assert.strictEqual(braid._tag, "MalformedResponse")
      assert.isTrue(AiErrors.isTransient(e))
      assert.include(braid.message, "upstream exploded")
      const r = yield* Accounting.report
      assert.strictEqual(r.total.calls, 0)
    }).pipe(Effect.provide(Metered.fromProvider(Effect.succeed(rawProvider([], [
      { type: "text-start", id: "0" },
      { type: "text-delta", id: "0", delta: "par" },
      { type: "error", error: "upstream exploded" }
    ]))))))

  it.effect("the guard: an error part carrying a Braid error keeps it (RateLimited with its retry-after)", () =>
    Effect.gen(function*() {
      const e = yield* failure(Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "hi" })))
      assert.strictEqual(AiErrors.toModelError(e)._tag, "RateLimited")
      assert.strictEqual(AiErrors.retryAfterMillis(e), 1500)
    }).pipe(Effect.provide(Metered.fromProvider(Effect.succeed(rawProvider([], [
      { type: "error", error: new Errors.RateLimited({ message: "slow down", retryAfterMillis: 1500 }) }
    ]))))))

  it.effect("the guard: a stream that just stops without a finish part is a transient MalformedResponse", () =>
    Effect.gen(function*() {
      const e = yield* failure(Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "hi" })))
      const braid = AiErrors.toModelError(e)
      assert.strictEqual(braid._tag, "MalformedResponse")
      assert.isTrue(braid.transient)
    }).pipe(Effect.provide(Metered.fromProvider(Effect.succeed(rawProvider([], [
      { type: "text-start", id: "0" },
      { type: "text-delta", id: "0", delta: "par" }
    ]))))))

  it.effect("the guard covers generateText and generateObject: a response without a finish part is a transient MalformedResponse", () =>
    Effect.gen(function*() {
      for (
        const call of [
          Ai.LanguageModel.generateText({ prompt: "hi" }),
          Ai.LanguageModel.generateObject({ prompt: "hi", schema: Schema.Struct({ n: Schema.Number }) })
        ]
      ) {
        const e = yield* failure(call)
        const braid = AiErrors.toModelError(e)
        assert.strictEqual(braid._tag, "MalformedResponse")
        assert.isTrue(AiErrors.isTransient(e))
        assert.include(braid.message, "response ended without a finish part")
      }
      assert.strictEqual((yield* Accounting.report).total.calls, 0)
    }).pipe(Effect.provide(Metered.fromProvider(Effect.succeed(rawProvider([
      { type: "response-metadata", modelId: "raw-1" },
      { type: "text", text: "{\"n\":1}" }
    ], []))))))

  it.effect("the guard covers generateText: a finish reporting a failed response (no usage at all, OpenAI's form) is transient", () =>
    Effect.gen(function*() {
      const e = yield* failure(Ai.LanguageModel.generateText({ prompt: "hi" }))
      const braid = AiErrors.toModelError(e)
      assert.strictEqual(braid._tag, "MalformedResponse")
      assert.isTrue(braid.transient)
      assert.include(braid.message, "failed response")
    }).pipe(Effect.provide(Metered.fromProvider(Effect.succeed(rawProvider([
      { type: "response-metadata", modelId: "raw-1" },
      {
        type: "finish",
        reason: "stop",
        usage: { inputTokens: undefined, outputTokens: undefined, totalTokens: undefined },
        metadata: { openai: { serviceTier: "default" } }
      }
    ], []))))))

  it.effect("timeout: a call past it fails with a typed, transient ModelTimeout (generateText, generateObject, streamText); none is accounted", () =>
    Effect.gen(function*() {
      const calls = [
        Effect.asVoid(Ai.LanguageModel.generateText({ prompt: "hi" })),
        Effect.asVoid(Ai.LanguageModel.generateObject({ prompt: "hi", schema: Schema.Struct({ n: Schema.Number }) })),
        Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "hi" }))
      ]
      for (const call of calls) {
        const fiber = yield* Effect.fork(failure(call))
        yield* TestClock.adjust("4999 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "still running before the bound")
        yield* TestClock.adjust("1 millis")
        const e = yield* Fiber.join(fiber)
        const braid = AiErrors.toModelError(e)
        assert.strictEqual(braid._tag, "ModelTimeout")
        assert.strictEqual(braid._tag === "ModelTimeout" && braid.timeoutMillis, 5000)
        assert.isTrue(AiErrors.isTransient(e))
      }
      assert.strictEqual((yield* Accounting.report).total.calls, 0)
    }).pipe(Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({ latency: "1 minute" }), {
      timeout: "5 seconds"
    }))))

  it.effect("timeout: calls that complete within it are untouched (a stream is bounded until its finish part)", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.gen(function*() {
        const r = yield* Ai.LanguageModel.generateText({ prompt: "hi" })
        const parts = yield* Stream.runCollect(Ai.LanguageModel.streamText({ prompt: "hi" }))
        return [r.text, Chunk.toArray(parts).some((p) => p.type === "finish")] as const
      }))
      yield* TestClock.adjust("8 seconds")
      const [text, finished] = yield* Fiber.join(fiber)
      assert.strictEqual(text, "ok")
      assert.isTrue(finished)
      assert.strictEqual((yield* Accounting.report).total.calls, 2)
    }).pipe(
      Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({ latency: "4 seconds", default: "ok" }), {
        timeout: "5 seconds"
      }))
    ))

  it.effect("wraps a layer of another provider (any LanguageModel), usage from the standard fields only", () =>
    Effect.gen(function*() {
      const r = yield* Ai.LanguageModel.generateText({ prompt: "hi" })
      const u = Metered.usageOf(r)!
      // inputTokens counts cached input: the cache reads are taken out of it and priced as reads
      assert.deepStrictEqual([u.model, u.inputTokens, u.cacheReadTokens, u.outputTokens], [
        "claude-haiku-5-5",
        70,
        30,
        5
      ])
      assert.isFalse(u.estimated)
    }).pipe(Effect.provide(Metered.layer(
      Layer.effect(
        Ai.LanguageModel.LanguageModel,
        Ai.fromProvider(rawProvider([
          { type: "response-metadata", modelId: "claude-haiku-5-5" },
          { type: "text", text: "hello" },
          {
            type: "finish",
            reason: "stop",
            usage: { inputTokens: 100, outputTokens: 5, totalTokens: 105, cachedInputTokens: 30 }
          }
        ], []))
      ),
      { provider: "foreign" }
    ))))
})

describe("Metered: the timeout option is checked where the wrapper is built", () => {
  const inner = Effect.runSync(Ai.fromProvider(rawProvider([], [])))
  const accounting = Effect.runSync(Accounting.make())
  const build = (timeout: unknown) => Metered.wrap(inner, accounting, { timeout: timeout as Duration.DurationInput })

  it("accepts durations and numbers of ms; refuses anything else with an InvalidRequest naming timeout", () => {
    assert.isFunction(build("30 seconds").generateText)
    assert.isFunction(build(250).generateText)
    assert.isFunction(build(Duration.infinity).generateText)
    for (const bad of [0, -5, Number.NaN, "soon", "", null, {}, [], true, { __proto__: { millis: 1 } }]) {
      assert.throws(() => build(bad), Errors.InvalidRequest, "option timeout must be a positive duration")
    }
  })

  it("fuzz: whatever the value, the wrapper is built or refused with that error, never another crash", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic["self"] = cyclic
    FastCheck.assert(
      FastCheck.property(
        FastCheck.oneof(
          FastCheck.anything(),
          FastCheck.double(),
          FastCheck.bigInt(),
          FastCheck.string(),
          FastCheck.constant(cyclic)
        ),
        (value) => {
          try {
            build(value)
          } catch (e) {
            assert.instanceOf(e, Errors.InvalidRequest)
            assert.strictEqual((e as Errors.InvalidRequest).field, "timeout")
          }
        }
      )
    )
  })
})
