import { Primitive, Runner, sequence } from "@braid/core"
import { Ai, AnthropicLanguageModel, Metered, ScriptedLanguageModel } from "@braid/llm"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { Observability } from "@braid/observability"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"

describe("model calls are traced through the single instrumentation point", () => {
  it.effect("generate opens `chat {model}` under the running primitive, with GenAI and run attributes and cost", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const draft = Primitive.make("draft", (topic: string) =>
        Effect.map(
          Ai.LanguageModel.generateText({
            prompt: [{ role: "system", content: "Be brief." }, { role: "user", content: topic }]
          }).pipe(Ai.withSettings({ maxTokens: 200, agent: "writer" })),
          (r) => r.text
        ))
      const pipeline = sequence(Primitive.sync("topic", (s: string) => s.trim()), draft).pipe(
        Primitive.named("article")
      )
      const spans = yield* Runner.run(pipeline, " tides ", { runId: "run-t", sessionId: "s-t", tenantId: "acme" }).pipe(
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer),
        Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({ default: "Tides follow the moon." })))
      )
      const chat = spans.find((s) => s.name === "chat braid-scripted")!
      const draftSpan = spans.find((s) => s.name === "draft")!
      assert.strictEqual(chat.parentSpanContext?.spanId, draftSpan.spanContext().spanId)
      const a = chat.attributes
      assert.strictEqual(a["gen_ai.operation.name"], "chat")
      assert.strictEqual(a["gen_ai.provider.name"], "braid.scripted")
      assert.strictEqual(a["gen_ai.request.model"], "braid-scripted")
      assert.strictEqual(a["gen_ai.response.model"], "braid-scripted")
      assert.strictEqual(a["gen_ai.request.max_tokens"], 200)
      assert.isAbove(a["gen_ai.usage.input_tokens"] as number, 0)
      assert.strictEqual(a["gen_ai.usage.output_tokens"], 6)
      assert.deepStrictEqual(a["gen_ai.response.finish_reasons"], ["stop"])
      assert.strictEqual(a["braid.usage.estimated"], true)
      assert.isAbove(a["braid.cost.usd"] as number, 0)
      assert.strictEqual(a["gen_ai.agent.name"], "writer")
      // Braid's spans carry the run's context (@effect/ai's own `LanguageModel.generateText` span,
      // under the chat span, is not Braid's and does not)
      for (const s of spans.filter((s) => !s.name.startsWith("LanguageModel."))) {
        assert.strictEqual(s.attributes["braid.run.id"], "run-t", s.name)
        assert.strictEqual(s.attributes["braid.session.id"], "s-t", s.name)
        assert.strictEqual(s.attributes["braid.tenant.id"], "acme", s.name)
        assert.isDefined(s.attributes["braid.primitive.name"], s.name)
        assert.isDefined(s.attributes["braid.primitive.kind"], s.name)
      }
    }))

  it.live("the Anthropic adapter's calls and streams get the same span, with the provider's usage and error.type", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      server.enqueue(
        Reply.json("hi", {
          model: "claude-sonnet-5-5-20260901",
          usage: { input_tokens: 9, output_tokens: 2, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 }
        }),
        Reply.sse(["a", "b"], { usage: { input_tokens: 4, output_tokens: 2 } }),
        Reply.overloaded()
      )
      const model = Metered.layer(
        AnthropicLanguageModel.layer({ apiKey: Redacted.make("sk-ant-x-123456"), baseURL: server.url }),
        { provider: "anthropic", defaultModel: "claude-sonnet-5-5" }
      )
      const mem = Observability.inMemory()
      const call = Primitive.make("call", (_: void) =>
        Effect.gen(function*() {
          yield* Ai.LanguageModel.generateText({ prompt: "hi" })
          yield* Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "hi" }))
          return yield* Effect.either(Ai.LanguageModel.generateText({ prompt: "hi" }))
        }))
      const spans = yield* Runner.run(call, undefined).pipe(
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer),
        Effect.provide(model)
      )
      const chats = spans.filter((s) => s.name === "chat claude-sonnet-5-5")
      assert.strictEqual(chats.length, 3)
      const callSpan = spans.find((s) => s.name === "call")!
      for (const c of chats) {
        assert.strictEqual(c.parentSpanContext?.spanId, callSpan.spanContext().spanId)
        assert.strictEqual(c.attributes["gen_ai.provider.name"], "anthropic")
      }
      assert.strictEqual(chats[0]!.attributes["gen_ai.response.model"], "claude-sonnet-5-5-20260901")
      assert.strictEqual(chats[0]!.attributes["gen_ai.usage.cache_read.input_tokens"], 100)
      assert.isUndefined(chats[0]!.attributes["braid.usage.estimated"])
      assert.strictEqual(chats[1]!.attributes["gen_ai.usage.output_tokens"], 2)
      // error.type is the tag of the Braid error (AiErrors.toModelError), not of the AiError
      // variant carrying it (HttpResponseError)
      assert.strictEqual(chats[2]!.attributes["error.type"], "Overloaded")
    })))
})
