import { Ai, AiErrors, AnthropicLanguageModel, Errors, RecordedLanguageModel, ScriptedLanguageModel } from "@braid/llm"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Layer, Redacted, Schema, Stream, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const failure = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Effect.either(self),
    (e) => Either.isLeft(e) ? Effect.succeed(e.left) : Effect.dieMessage("expected a failure")
  )

const Add = Ai.Tool.make("Add", {
  description: "Adds two numbers",
  parameters: { a: Schema.Number, b: Schema.Number },
  success: Schema.Number
})
const Tools = Ai.Toolkit.make(Add)
const ToolsLive = Tools.toLayer({ Add: ({ a, b }) => Effect.succeed(a + b) })

const tmpFile = (name: string) => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-cassette-")), name)

describe("ScriptedLanguageModel", () => {
  const Model = ScriptedLanguageModel.layer({
    rules: [
      { when: /capital of (\w+)/i, reply: "I believe it is the capital of {{1}}." },
      { when: "2 + 3", toolCalls: [{ name: "Add", params: { a: 2, b: 3 } }], reply: "The sum is {{results}}" },
      { when: "person", object: { name: "Ada", age: 36 } }
    ]
  })

  it.effect("replies from rules, with RegExp groups", () =>
    Effect.gen(function*() {
      const r = yield* Ai.LanguageModel.generateText({ prompt: "What is the capital of France?" })
      assert.strictEqual(r.text, "I believe it is the capital of France.")
      assert.strictEqual(r.finishReason, "stop")
      assert.isAbove(r.usage.inputTokens ?? 0, 0)
    }).pipe(Effect.provide(Model)))

  it.effect("scripts a tool loop: tool calls first, then the reply with the results", () =>
    Effect.gen(function*() {
      const first = yield* Ai.LanguageModel.generateText({ prompt: "What is 2 + 3?", toolkit: Tools })
      assert.strictEqual(first.finishReason, "tool-calls")
      assert.deepStrictEqual(first.toolCalls.map((c) => c.params), [{ a: 2, b: 3 }])
      assert.strictEqual(first.toolResults[0]?.result, 5)
      const second = yield* Ai.LanguageModel.generateText({
        prompt: Ai.Prompt.merge(Ai.Prompt.make("What is 2 + 3?"), Ai.Prompt.fromResponseParts(first.content)),
        toolkit: Tools
      })
      assert.strictEqual(second.toolCalls.length, 0)
      assert.strictEqual(second.text, `The sum is [{"name":"Add","result":5}]`)
    }).pipe(Effect.provide(ToolsLive), Effect.provide(Model)))

  it.effect("makes no tool call the toolkit does not offer", () =>
    Effect.gen(function*() {
      const r = yield* Ai.LanguageModel.generateText({ prompt: "What is 2 + 3?" })
      assert.strictEqual(r.toolCalls.length, 0)
      assert.strictEqual(r.finishReason, "stop")
    }).pipe(Effect.provide(Model)))

  it.effect("scripts structured output, decoded with the Schema", () =>
    Effect.gen(function*() {
      const Person = Schema.Struct({ name: Schema.String, age: Schema.Number })
      const r = yield* Ai.LanguageModel.generateObject({ prompt: "Describe a person", schema: Person })
      assert.deepStrictEqual(r.value, { name: "Ada", age: 36 })
      const bad = yield* failure(
        Ai.LanguageModel.generateObject({ prompt: "Describe a person", schema: Schema.Struct({ id: Schema.Number }) })
      )
      assert.strictEqual(bad._tag, "MalformedOutput")
    }).pipe(Effect.provide(Model)))

  it.effect("streams text deltas word by word, tool calls with their params, then finish", () =>
    Effect.gen(function*() {
      const parts = Chunk.toReadonlyArray(
        yield* Stream.runCollect(Ai.LanguageModel.streamText({ prompt: "What is 2 + 3?", toolkit: Tools }))
      )
      const types = parts.map((p) => p.type)
      assert.deepStrictEqual(types.slice(-6), [
        "tool-params-start",
        "tool-params-delta",
        "tool-params-end",
        "tool-call",
        "tool-result",
        "finish"
      ])
    }).pipe(Effect.provide(ToolsLive), Effect.provide(Model)))

  it.effect("honours max tokens and stop sequences from the settings", () =>
    Effect.gen(function*() {
      const r = yield* Ai.LanguageModel.generateText({ prompt: "capital of Spain" }).pipe(
        Ai.withSettings({ stopSequences: [" capital"] })
      )
      assert.strictEqual(r.text, "I believe it is the")
      const short = yield* Ai.LanguageModel.generateText({ prompt: "capital of Spain" }).pipe(
        Ai.withSettings({ maxTokens: 2 })
      )
      assert.strictEqual(short.text, "I believ") // 2 tokens of about 4 characters
      assert.strictEqual(short.finishReason, "length")
    }).pipe(Effect.provide(Model)))

  it.effect("latency runs on the Clock (TestClock) and injected failures are carried Braid errors", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.either(Ai.LanguageModel.generateText({ prompt: "hi" })))
      yield* TestClock.adjust("999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const first = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(first))
      if (Either.isLeft(first)) {
        assert.strictEqual(AiErrors.toModelError(first.left)._tag, "Overloaded")
        assert.isTrue(AiErrors.isTransient(first.left))
      }
      const second = yield* Effect.fork(Ai.LanguageModel.generateText({ prompt: "hi" }))
      yield* TestClock.adjust("1 second")
      const ok = yield* Fiber.join(second)
      assert.strictEqual(ok.text, `Scripted reply to "hi"`)
    }).pipe(Effect.provide(ScriptedLanguageModel.layer({
      latency: "1 second",
      failures: [{ calls: [1], error: new Errors.Overloaded({ message: "simulated outage" }) }]
    }))))
})

describe("RecordedLanguageModel", () => {
  it.live("a tool-using exchange recorded from the local test server replays offline, identically", () =>
    Effect.scoped(Effect.gen(function*() {
      const file = tmpFile("tools.json")
      const server = yield* scoped()
      server.enqueue(
        Reply.toolUses([{ id: "toolu_1", name: "Add", input: { a: 2, b: 3 } }, {
          id: "toolu_2",
          name: "Add",
          input: { a: 10, b: 1 }
        }], "Adding."),
        Reply.json("2 + 3 = 5 and 10 + 1 = 11", {
          usage: { input_tokens: 50, output_tokens: 12, cache_read_input_tokens: 7, cache_creation_input_tokens: 0 }
        }),
        Reply.sseToolUses([{ id: "toolu_3", name: "Add", input: { a: 1, b: 1 } }], ["Let ", "me ", "add."])
      )
      const live = AnthropicLanguageModel.makeProvider({
        apiKey: Redacted.make("sk-ant-rec-123456"),
        baseURL: server.url
      })
      const exchange = Effect.gen(function*() {
        const first = yield* Ai.LanguageModel.generateText({ prompt: "Add 2 + 3 and 10 + 1", toolkit: Tools })
        const second = yield* Ai.LanguageModel.generateText({
          prompt: Ai.Prompt.merge(Ai.Prompt.make("Add 2 + 3 and 10 + 1"), Ai.Prompt.fromResponseParts(first.content)),
          toolkit: Tools
        })
        const streamed = yield* Stream.runCollect(
          Ai.LanguageModel.streamText({ prompt: "Add 1 + 1", toolkit: Tools })
        )
        return { first: first.content, second: second.content, streamed: Chunk.toReadonlyArray(streamed) }
      }).pipe(Effect.provide(ToolsLive))

      const recorded = yield* exchange.pipe(
        Effect.provide(RecordedLanguageModel.recordLayer(file, Effect.succeed(live)))
      )
      assert.strictEqual(server.requests.length, 3)
      yield* Effect.promise(() => server.close())

      const replayed = yield* exchange.pipe(Effect.provide(RecordedLanguageModel.replayLayer(file)))
      assert.deepStrictEqual(JSON.stringify(replayed), JSON.stringify(recorded))
      assert.strictEqual(
        (recorded.first.find((p) => p.type === "tool-result" && p.id === "toolu_2") as any)?.result,
        11
      )

      // a call the cassette does not hold is a carried CassetteMiss naming it
      const miss = yield* failure(
        Ai.LanguageModel.generateText({ prompt: "something else" }).pipe(
          Effect.provide(RecordedLanguageModel.replayLayer(file))
        )
      )
      const braid = AiErrors.toModelError(miss)
      assert.strictEqual(braid._tag, "CassetteMiss")
      assert.include(braid.message, "something else")
    })))

  it.live("recorded errors replay as the same typed error", () =>
    Effect.scoped(Effect.gen(function*() {
      const file = tmpFile("errors.json")
      const server = yield* scoped()
      server.enqueue(Reply.rateLimited(2))
      const live = AnthropicLanguageModel.makeProvider({
        apiKey: Redacted.make("sk-ant-rec-123456"),
        baseURL: server.url
      })
      const ask = Ai.LanguageModel.generateText({ prompt: "hi" })
      const e1 = yield* failure(ask.pipe(Effect.provide(RecordedLanguageModel.recordLayer(file, Effect.succeed(live)))))
      const e2 = yield* failure(ask.pipe(Effect.provide(RecordedLanguageModel.replayLayer(file))))
      const encode = Schema.encodeSync(Errors.ModelError)
      assert.deepStrictEqual(encode(AiErrors.toModelError(e2)), encode(AiErrors.toModelError(e1)))
      assert.strictEqual(AiErrors.toModelError(e2)._tag, "RateLimited")
      assert.strictEqual(AiErrors.retryAfterMillis(e2), 2000)
      assert.notInclude(fs.readFileSync(file, "utf8"), "sk-ant-rec-123456")
    })))

  it.effect("a file that is not a cassette fails the layer with CassetteError naming the file and field", () =>
    Effect.gen(function*() {
      const file = tmpFile("bad.json")
      fs.writeFileSync(
        file,
        JSON.stringify({ version: 2, provider: "x", defaultModel: "y", entries: [{ kind: "oops" }] })
      )
      const e = yield* failure(Layer.build(RecordedLanguageModel.replayLayer(file)).pipe(Effect.scoped))
      assert.strictEqual(e._tag, "CassetteError")
      assert.strictEqual(e.reason, "Decode")
      assert.include(e.message, "entries[0]")
      assert.include(e.message, file)
    }))
})
