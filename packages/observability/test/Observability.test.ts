import { Primitive, Runner, sequence } from "@braid/core"
import { GenAI, Metrics, Observability } from "@braid/observability"
import { assert, describe, it } from "@effect/vitest"
import { SpanStatusCode } from "@opentelemetry/api"
import { Effect, Metric, MetricState, Schema, Stream } from "effect"

class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}

const answer = (q: string) =>
  GenAI.chat(
    { provider: "test", model: "m-1", maxTokens: 100, temperature: 0.5, stopSequences: ["END"], agent: "coach" },
    Effect.as(GenAI.annotateCost(0.0025, { model: "m-1" }), q.toUpperCase()),
    () => ({ model: "m-1", inputTokens: 100, outputTokens: 20, cacheReadTokens: 5, finishReasons: ["end_turn"] })
  )

describe("Observability.console", () => {
  it.effect("prints one readable tree per run, with durations, errors, tokens and cost", () =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const pipeline = sequence(
        Primitive.sync("parse", (s: string) => s.trim()),
        Primitive.make("ask", answer)
      ).pipe(Primitive.named("coach"))
      const failing = sequence(
        Primitive.sync("parse", (s: string) => s.trim()),
        Primitive.make("explode", (_: string) => Effect.fail(new Boom()))
      ).pipe(Primitive.named("broken"))
      yield* Effect.gen(function*() {
        yield* Runner.run(pipeline, " hi ", { runId: "run-42" })
        yield* Effect.either(Runner.run(failing, "x", { runId: "run-43" }))
      }).pipe(Effect.provide(Observability.console({ write: (t) => out.push(t) })))
      assert.strictEqual(out.length, 2)
      const [first, second] = out as [string, string]
      const lines = first.split("\n")
      assert.strictEqual(lines[0], "run run-42")
      assert.match(lines[1]!, /^coach {2}\d+\.\d ms {2}105 in \/ 20 out tokens {2}\$0\.002500$/)
      assert.match(lines[2]!, /^├─ parse {2}\d+\.\d ms$/)
      assert.match(lines[3]!, /^└─ ask {2}\d+\.\d ms {2}105 in \/ 20 out tokens/)
      assert.match(lines[4]!, /^ {3}└─ chat m-1 {2}\d+\.\d ms {2}105 in \/ 20 out tokens {2}\$0\.002500$/)
      assert.match(second, /broken .*✗ Boom/)
      assert.match(second, /└─ explode .*✗ Boom/)
    }))
})

describe("Observability.inMemory and off", () => {
  it.effect("inMemory keeps finished spans, readable inside the layer's scope", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const names = yield* Runner.run(Primitive.make("ask", answer), "q").pipe(
        Effect.zipRight(Effect.sync(() => mem.spans().map((s) => s.name))),
        Effect.provide(mem.layer)
      )
      assert.sameMembers(names, ["ask", "chat m-1"])
    }))

  it.effect("spans are OpenTelemetry ReadableSpans: status, exception event, interruption, links to parents, resource", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const failing = Primitive.make("failing", (_: void) => Effect.fail(new Boom()))
      const spans = yield* Effect.gen(function*() {
        yield* Effect.either(Runner.run(failing, undefined))
        yield* Effect.exit(Effect.interrupt.pipe(Effect.withSpan("interrupted")))
        yield* Effect.void.pipe(Effect.withSpan("child"), Effect.withSpan("parent"))
        return mem.spans()
      }).pipe(Effect.provide(mem.layer))
      const f = spans.find((s) => s.name === "failing")!
      assert.strictEqual(f.status.code, SpanStatusCode.ERROR)
      assert.strictEqual(f.attributes["error.type"], "Boom")
      assert.isTrue(f.events.some((e) => e.name === "exception"))
      const i = spans.find((s) => s.name === "interrupted")!
      assert.strictEqual(i.status.code, SpanStatusCode.OK)
      assert.strictEqual(i.attributes["status.interrupted"], true)
      const child = spans.find((s) => s.name === "child")!
      const parent = spans.find((s) => s.name === "parent")!
      assert.strictEqual(child.parentSpanContext?.spanId, parent.spanContext().spanId)
      assert.strictEqual(child.spanContext().traceId, parent.spanContext().traceId)
      assert.isUndefined(parent.parentSpanContext)
      assert.strictEqual(parent.resource.attributes["service.name"], "braid-test")
      assert.isTrue(child.duration[0] >= 0 && child.ended)
    }))

  it.effect("off records nothing, even with an exporter installed", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const count = yield* Runner.run(Primitive.make("ask", answer), "q").pipe(
        Effect.provide(Observability.off),
        Effect.zipRight(Effect.sync(() => mem.spans().length)),
        Effect.provide(mem.layer)
      )
      assert.strictEqual(count, 0)
    }))
})

describe("GenAI", () => {
  it.effect("chat opens a CLIENT span `chat {model}` under the running primitive with the semantic-convention attributes", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const spans = yield* Runner.run(Primitive.make("ask", answer), "q", {
        runId: "r-1",
        sessionId: "s-1",
        tenantId: "t-1"
      }).pipe(
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer)
      )
      const chat = spans.find((s) => s.name === "chat m-1")!
      const ask = spans.find((s) => s.name === "ask")!
      assert.strictEqual(chat.parentSpanContext?.spanId, ask.spanContext().spanId)
      assert.strictEqual(chat.kind, 2) // SpanKind.CLIENT
      const a = chat.attributes
      assert.strictEqual(a["gen_ai.operation.name"], "chat")
      assert.strictEqual(a["gen_ai.provider.name"], "test")
      assert.strictEqual(a["gen_ai.request.model"], "m-1")
      assert.strictEqual(a["gen_ai.request.max_tokens"], 100)
      assert.strictEqual(a["gen_ai.request.temperature"], 0.5)
      assert.deepStrictEqual(a["gen_ai.request.stop_sequences"], ["END"])
      assert.strictEqual(a["gen_ai.response.model"], "m-1")
      assert.strictEqual(a["gen_ai.usage.input_tokens"], 100)
      assert.strictEqual(a["gen_ai.usage.output_tokens"], 20)
      assert.strictEqual(a["gen_ai.usage.cache_read.input_tokens"], 5)
      assert.deepStrictEqual(a["gen_ai.response.finish_reasons"], ["end_turn"])
      assert.strictEqual(a["braid.cost.usd"], 0.0025)
      assert.strictEqual(a["braid.agent"], "coach")
      assert.strictEqual(a["braid.run.id"], "r-1")
      assert.strictEqual(a["braid.session.id"], "s-1")
      assert.strictEqual(a["braid.tenant.id"], "t-1")
      assert.strictEqual(a["braid.primitive.kind"], "model-call")
      assert.strictEqual(a["braid.path"], "ask")
    }))

  it.effect("a failed call sets error status and error.type", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const spans = yield* Effect.either(GenAI.chat({ provider: "test", model: "m-2" }, Effect.fail(new Boom()), () => {
        throw new Error("not called")
      })).pipe(Effect.withSpan("outer"), Effect.zipRight(Effect.sync(() => mem.spans())), Effect.provide(mem.layer))
      const chat = spans.find((s) => s.name === "chat m-2")!
      assert.strictEqual(chat.status.code, SpanStatusCode.ERROR)
      assert.strictEqual(chat.attributes["error.type"], "Boom")
    }))

  it.effect("chatStream keeps the span open while the stream runs and annotates it from the last element", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const { chunks, spans } = yield* Effect.gen(function*() {
        const chunks = yield* Stream.runCollect(GenAI.chatStream(
          { provider: "test", model: "m-3" },
          Stream.make("a", "b", "c").pipe(Stream.tap(() => Effect.annotateCurrentSpan("seen.inside", true))),
          (x) => x === "c" ? { model: "m-3", inputTokens: 3, outputTokens: 3, finishReasons: ["end_turn"] } : undefined
        ))
        return { chunks: Array.from(chunks), spans: mem.spans() }
      }).pipe(Effect.withSpan("outer"), Effect.provide(mem.layer))
      assert.deepStrictEqual(chunks, ["a", "b", "c"])
      const chat = spans.find((s) => s.name === "chat m-3")!
      assert.strictEqual(chat.parentSpanContext?.spanId, spans.find((s) => s.name === "outer")?.spanContext().spanId)
      assert.strictEqual(chat.attributes["gen_ai.usage.output_tokens"], 3)
      assert.strictEqual(chat.attributes["seen.inside"], true)
    }))

  it.effect("records gen_ai.client.token.usage and gen_ai.client.operation.duration", () =>
    Effect.gen(function*() {
      const labels = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "metrics-test",
        "gen_ai.request.model": "m-4"
      }
      const call = GenAI.chat({ provider: "metrics-test", model: "m-4" }, Effect.succeed(1), () => ({
        model: "m-4",
        inputTokens: 40,
        outputTokens: 10,
        finishReasons: ["end_turn"]
      }))
      const mem = Observability.inMemory()
      yield* Effect.all([call, call]).pipe(Effect.withSpan("outer"), Effect.provide(mem.layer))
      let input = Metrics.tokenUsage
      for (
        const [k, v] of Object.entries({ ...labels, "gen_ai.response.model": "m-4", "gen_ai.token.type": "input" })
      ) input = input.pipe(Metric.tagged(k, v))
      const state = yield* Metric.value(input)
      assert.strictEqual(state.count, 2)
      assert.strictEqual(state.sum, 80)
      let duration = Metrics.operationDuration
      for (const [k, v] of Object.entries(labels)) duration = duration.pipe(Metric.tagged(k, v))
      const d = yield* Metric.value(duration)
      assert.strictEqual(d.count, 2)
      assert.isTrue(MetricState.isHistogramState(d))
    }))

  it.effect("Braid metrics: cost", () =>
    Effect.gen(function*() {
      yield* Metrics.recordCost(0.5, { "braid.agent": "m-test" })
      yield* Metrics.recordCost(0.25, { "braid.agent": "m-test" })
      assert.strictEqual((yield* Metric.value(Metrics.cost.pipe(Metric.tagged("braid.agent", "m-test")))).count, 0.75)
    }))
})
