import { Primitive, Runner, sequence } from "@braid/core"
import { GenAI, Observability } from "@braid/observability"
import { scoped as receiver } from "@braid/observability/testing/OtlpReceiver"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

describe("Observability.otlp", () => {
  it.live("exports spans with names, parents and attributes to a real OTLP/HTTP receiver", () =>
    Effect.scoped(Effect.gen(function*() {
      const rx = yield* receiver()
      const ask = Primitive.make("ask", (q: string) =>
        GenAI.chat(
          { provider: "test", model: "m-1", maxTokens: 64 },
          Effect.succeed(`answer to ${q}`),
          () => ({ model: "m-1-2026", inputTokens: 11, outputTokens: 7, finishReasons: ["end_turn"] })
        ))
      const pipeline = sequence(Primitive.sync("prepare", (s: string) => s.trim()), ask).pipe(
        Primitive.named("pipeline")
      )
      const out = yield* Effect.scoped(
        Layer.build(Observability.otlp({ url: rx.url, protocol: "json", serviceName: "braid-test" })).pipe(
          Effect.flatMap((ctx) =>
            Runner.run(pipeline, " q ", { runId: "run-otlp", sessionId: "s-1", tenantId: "t-1" }).pipe(
              Effect.provide(ctx)
            )
          )
        )
      )
      // the layer's scope closed: everything was flushed
      assert.strictEqual(out, "answer to q")
      const names = rx.spans.map((s) => s.name).sort()
      assert.deepStrictEqual(names, ["ask", "chat m-1", "pipeline", "prepare"])
      const byName = (n: string) => rx.spans.find((s) => s.name === n)!
      const root = byName("pipeline")
      assert.isUndefined(root.parentSpanId)
      assert.strictEqual(byName("prepare").parentSpanId, root.spanId)
      assert.strictEqual(byName("ask").parentSpanId, root.spanId)
      const chat = byName("chat m-1")
      assert.strictEqual(chat.parentSpanId, byName("ask").spanId)
      assert.strictEqual(new Set(rx.spans.map((s) => s.traceId)).size, 1)
      assert.strictEqual(chat.attributes["gen_ai.operation.name"], "chat")
      assert.strictEqual(chat.attributes["gen_ai.provider.name"], "test")
      assert.strictEqual(chat.attributes["gen_ai.request.model"], "m-1")
      assert.strictEqual(chat.attributes["gen_ai.response.model"], "m-1-2026")
      assert.strictEqual(chat.attributes["gen_ai.usage.input_tokens"], 11)
      assert.strictEqual(chat.attributes["gen_ai.usage.output_tokens"], 7)
      assert.deepStrictEqual(chat.attributes["gen_ai.response.finish_reasons"], ["end_turn"])
      for (const s of rx.spans) {
        assert.strictEqual(s.attributes["braid.run.id"], "run-otlp", s.name)
        assert.strictEqual(s.attributes["braid.session.id"], "s-1", s.name)
        assert.strictEqual(s.attributes["braid.tenant.id"], "t-1", s.name)
        assert.isString(s.attributes["braid.primitive.name"], s.name)
        assert.isString(s.attributes["braid.primitive.kind"], s.name)
        assert.strictEqual(s.resource["service.name"], "braid-test")
      }
      assert.include(rx.metrics, "gen_ai.client.token.usage")
      assert.include(rx.metrics, "gen_ai.client.operation.duration")
    })))

  it.live("protobuf is the default protocol", () =>
    Effect.scoped(Effect.gen(function*() {
      const rx = yield* receiver()
      yield* Effect.scoped(
        Layer.build(Observability.otlp({ url: rx.url })).pipe(
          Effect.flatMap((ctx) => Runner.run(Primitive.sync("one", (n: number) => n), 1).pipe(Effect.provide(ctx)))
        )
      )
      assert.isAbove(rx.protobufRequests(), 0)
    })))
})
