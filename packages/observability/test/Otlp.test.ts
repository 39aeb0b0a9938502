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
          Effect.as(GenAI.annotateCost(0.001, { model: "m-1" }), `answer to ${q}`),
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
      // success leaves the status UNSET; spans are under the scope of the package that made them
      for (const s of rx.spans) assert.include([undefined, 0, "STATUS_CODE_UNSET"], s.status?.code, s.name)
      assert.strictEqual(root.scope.name, "@braid/core")
      assert.isString(root.scope.version)
      assert.strictEqual(chat.scope.name, "@braid/observability")
      assert.notProperty(root.attributes, "otel.scope.name")
      // units, kinds and the unit label kept off the data points
      const metric = (name: string) => rx.metricDetails.find((m) => m.name === name)!
      assert.strictEqual(metric("gen_ai.client.token.usage").unit, "{token}")
      assert.strictEqual(metric("gen_ai.client.token.usage").kind, "histogram")
      assert.strictEqual(metric("gen_ai.client.operation.duration").unit, "s")
      assert.strictEqual(metric("braid.llm.cost").unit, "{USD}")
      assert.strictEqual(metric("braid.llm.cost").isMonotonic, true)
      for (const m of rx.metricDetails) {
        for (const d of m.dataPoints) assert.notProperty(d.attributes, "unit", m.name)
      }
      const tokens = metric("gen_ai.client.token.usage").dataPoints.find((d) =>
        d.attributes["gen_ai.provider.name"] === "test"
      )!
      assert.strictEqual(tokens.attributes["gen_ai.operation.name"], "chat")
      assert.strictEqual(tokens.attributes["gen_ai.request.model"], "m-1")
    })))

  it.live("failures are ERROR without an interruption mark; interruptions are UNSET with braid.interrupted", () =>
    Effect.scoped(Effect.gen(function*() {
      const rx = yield* receiver()
      yield* Effect.scoped(
        Layer.build(Observability.otlp({ url: rx.url, protocol: "json" })).pipe(
          Effect.flatMap((ctx) =>
            Effect.all([
              Effect.exit(Runner.run(Primitive.make("fails", (_: void) => Effect.fail("no")), undefined)),
              Effect.exit(Effect.interrupt.pipe(Effect.withSpan("interrupted")))
            ]).pipe(Effect.provide(ctx))
          )
        )
      )
      const fails = rx.spans.find((s) => s.name === "fails")!
      assert.include([2, "STATUS_CODE_ERROR"], fails.status?.code)
      assert.notProperty(fails.attributes, "status.interrupted")
      assert.notProperty(fails.attributes, "span.label")
      const interrupted = rx.spans.find((s) => s.name === "interrupted")!
      assert.include([undefined, 0, "STATUS_CODE_UNSET"], interrupted.status?.code)
      assert.strictEqual(interrupted.attributes["braid.interrupted"], true)
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
