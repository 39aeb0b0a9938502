import { WorkflowContext } from "@braid/core"
import { Ai, AnthropicLanguageModel, Metered, ScriptedLanguageModel } from "@braid/llm"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { Metrics, Observability } from "@braid/observability"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Redacted, Schema, Stream } from "effect"
import { readFileSync } from "node:fs"
import { version } from "../src/internal/version.js"

const anthropic = (url: string, options: Metered.Options = {}) =>
  Metered.fromProvider(
    Effect.succeed(AnthropicLanguageModel.makeProvider({ apiKey: Redacted.make("sk-ant-x-123456"), baseURL: url })),
    options
  )

/** The input-token measurements of `provider`'s calls recorded so far. */
const inputTokenCount = (provider: string, model: string) =>
  Effect.map(
    Metric.value(Metrics.tokenUsage.pipe(
      Metric.tagged("gen_ai.operation.name", "chat"),
      Metric.tagged("gen_ai.provider.name", provider),
      Metric.tagged("gen_ai.request.model", model),
      Metric.tagged("gen_ai.response.model", model),
      Metric.tagged("gen_ai.token.type", "input")
    )),
    (s) => s.count
  )

describe("Metered: the model-call span follows the GenAI conventions", () => {
  it.live("input tokens include cached ones; response id, server address and port, conversation id, scope", () =>
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
      const mem = Observability.inMemory()
      const spans = yield* Ai.LanguageModel.generateText({ prompt: "secret question" }).pipe(
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer),
        Effect.provide(WorkflowContext.layer({ runId: "r-1", sessionId: "conv-7" })),
        Effect.provide(anthropic(server.url))
      )
      const chat = spans.find((s) => s.name === "chat claude-sonnet-5-5")!
      const a = chat.attributes
      assert.strictEqual(a["gen_ai.usage.input_tokens"], 1000 + 5000 + 800)
      assert.strictEqual(a["gen_ai.usage.cache_read.input_tokens"], 5000)
      assert.strictEqual(a["gen_ai.usage.cache_creation.input_tokens"], 800)
      assert.strictEqual(a["gen_ai.usage.output_tokens"], 200)
      assert.match(String(a["gen_ai.response.id"]), /^msg_test_\d+$/)
      const url = new URL(server.url)
      assert.strictEqual(a["server.address"], url.hostname)
      assert.strictEqual(a["server.port"], Number(url.port))
      assert.strictEqual(a["gen_ai.conversation.id"], "conv-7")
      assert.deepStrictEqual(chat.instrumentationScope, { name: "@braid/llm", version })
      // no content by default
      assert.notProperty(a, "gen_ai.input.messages")
      assert.notProperty(a, "gen_ai.output.messages")
      assert.notInclude(JSON.stringify(a), "secret question")
    })))

  it.live("cache counts the API did not report: no cache attributes, undefined on the finish part (calls and streams)", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      const usage = { input_tokens: 1000, output_tokens: 200 }
      server.enqueue(Reply.json("ok", { usage }))
      server.enqueue(Reply.sse(["o", "k"], { usage }))
      const mem = Observability.inMemory()
      const { finish, response, spans } = yield* Effect.gen(function*() {
        const response = yield* Ai.LanguageModel.generateText({ prompt: "hi" })
        const parts = yield* Stream.runCollect(Ai.LanguageModel.streamText({ prompt: "hi" }))
        const finish = [...parts].find((p) => p.type === "finish")!
        return { finish, response, spans: mem.spans() }
      }).pipe(Effect.provide(mem.layer), Effect.provide(anthropic(server.url)))
      for (const f of [response.content.find((p) => p.type === "finish")!, finish]) {
        assert.strictEqual(f.type === "finish" && f.usage.cachedInputTokens, undefined)
        assert.strictEqual(f.type === "finish" && f.metadata.braid?.cacheReadTokens, undefined)
        assert.strictEqual(f.type === "finish" && f.metadata.braid?.cacheWriteTokens, undefined)
        assert.strictEqual(f.type === "finish" && f.usage.inputTokens, 1000)
      }
      const chats = spans.filter((s) => s.name === "chat claude-sonnet-5-5")
      assert.strictEqual(chats.length, 2)
      for (const chat of chats) {
        assert.strictEqual(chat.attributes["gen_ai.usage.input_tokens"], 1000)
        assert.notProperty(chat.attributes, "gen_ai.usage.cache_read.input_tokens")
        assert.notProperty(chat.attributes, "gen_ai.usage.cache_creation.input_tokens")
      }
      // accounting counts them as none
      assert.strictEqual(Metered.usageOf(response)?.cacheReadTokens, 0)
      assert.strictEqual(Metered.usageOf(response)?.inputTokens, 1000)
    })))

  it.live("cache counts the API reported, zeros included, in a stream too: the attributes are set, input includes them", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      server.enqueue(Reply.sse(["o", "k"], {
        usage: { input_tokens: 10, output_tokens: 2, cache_read_input_tokens: 300, cache_creation_input_tokens: 0 }
      }))
      const mem = Observability.inMemory()
      const spans = yield* Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "hi" })).pipe(
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer),
        Effect.provide(anthropic(server.url))
      )
      const a = spans.find((s) => s.name === "chat claude-sonnet-5-5")!.attributes
      assert.strictEqual(a["gen_ai.usage.input_tokens"], 310)
      assert.strictEqual(a["gen_ai.usage.cache_read.input_tokens"], 300)
      assert.strictEqual(a["gen_ai.usage.cache_creation.input_tokens"], 0)
    })))

  it.effect("@effect/ai's own LanguageModel spans carry the run attributes (generateText, generateObject, streamText)", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const run = {
        "braid.run.id": "run-42",
        "braid.session.id": "sess-9",
        "gen_ai.conversation.id": "sess-9",
        "braid.tenant.id": "acme"
      }
      const spans = yield* Effect.gen(function*() {
        yield* Ai.LanguageModel.generateText({ prompt: "hi" })
        yield* Ai.LanguageModel.generateObject({ prompt: "hi", schema: Schema.Struct({ n: Schema.Number }) })
        yield* Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "hi" }))
        // after the stream: a span outside any model call has none of the call's annotations
        yield* Effect.provide(Effect.withSpan(Effect.void, "after"), WorkflowContext.layer({ runId: "other" }))
        return mem.spans()
      }).pipe(
        Effect.provide(WorkflowContext.layer({ runId: "run-42", sessionId: "sess-9", tenantId: "acme" })),
        Effect.provide(mem.layer),
        Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({
          default: "ok",
          rules: [{ when: () => true, object: { n: 1 } }]
        })))
      )
      for (const name of ["LanguageModel.generateText", "LanguageModel.generateObject", "LanguageModel.streamText"]) {
        const span = spans.find((s) => s.name === name)
        assert.isDefined(span, name)
        for (const [k, v] of Object.entries(run)) assert.strictEqual(span!.attributes[k], v, `${name} ${k}`)
        // nested under the chat span
        const chat = spans.find((s) => s.spanContext().spanId === span!.parentSpanContext?.spanId)
        assert.strictEqual(chat?.name, "chat braid-scripted", name)
      }
      const after = spans.find((s) => s.name === "after")!
      assert.notProperty(after.attributes, "braid.run.id")
      assert.notProperty(after.attributes, "gen_ai.conversation.id")
    }))

  it.effect("estimated usage: no token metric unless the layer opts in; the span has the estimate", () =>
    Effect.gen(function*() {
      const call = Ai.LanguageModel.generateText({ prompt: "hello" })
      const mem = Observability.inMemory()
      const before = yield* inputTokenCount("est-off", "braid-scripted")
      const spans = yield* call.pipe(
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer),
        Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider(), { provider: "est-off" }))
      )
      assert.strictEqual(spans.find((s) => s.name === "chat braid-scripted")!.attributes["braid.usage.estimated"], true)
      assert.strictEqual(yield* inputTokenCount("est-off", "braid-scripted"), before)
      const beforeOn = yield* inputTokenCount("est-on", "braid-scripted")
      yield* call.pipe(
        Effect.provide(mem.layer),
        Effect.provide(
          Metered.fromProvider(ScriptedLanguageModel.provider(), { provider: "est-on", recordEstimatedTokens: true })
        )
      )
      assert.strictEqual(yield* inputTokenCount("est-on", "braid-scripted"), beforeOn + 1)
    }))

  it.effect("captureContent records the prompt and the reply in the conventions' message form, calls and streams", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const layer = Metered.fromProvider(ScriptedLanguageModel.provider({ default: "Hi there." }), {
        captureContent: true
      })
      const spans = yield* Effect.gen(function*() {
        yield* Ai.LanguageModel.generateText({ prompt: [{ role: "user", content: "Hello?" }] })
        yield* Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "Stream?" }))
        return mem.spans()
      }).pipe(Effect.provide(mem.layer), Effect.provide(layer))
      const [generated, streamed] = spans.filter((s) => s.name === "chat braid-scripted")
      assert.deepStrictEqual(JSON.parse(String(generated!.attributes["gen_ai.input.messages"])), [
        { role: "user", parts: [{ type: "text", content: "Hello?" }] }
      ])
      assert.deepStrictEqual(JSON.parse(String(generated!.attributes["gen_ai.output.messages"])), [
        { role: "assistant", parts: [{ type: "text", content: "Hi there." }], finish_reason: "stop" }
      ])
      assert.deepStrictEqual(JSON.parse(String(streamed!.attributes["gen_ai.input.messages"])), [
        { role: "user", parts: [{ type: "text", content: "Stream?" }] }
      ])
      const out = JSON.parse(String(streamed!.attributes["gen_ai.output.messages"]))
      assert.strictEqual(out[0].role, "assistant")
      assert.strictEqual(out[0].parts.map((p: { content: string }) => p.content).join(""), "Hi there.")
    }))

  it("the scope versions are the packages' versions", () => {
    for (const pkg of ["core", "llm", "observability"]) {
      const json = JSON.parse(readFileSync(new URL(`../../${pkg}/package.json`, import.meta.url), "utf8"))
      const source = readFileSync(new URL(`../../${pkg}/src/internal/version.ts`, import.meta.url), "utf8")
      assert.include(source, `export const version = "${json.version}"`, pkg)
    }
  })
})
