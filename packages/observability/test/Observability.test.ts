import { Primitive, Runner, sequence } from "@braid/core"
import { GenAI, Metrics, Observability } from "@braid/observability"
import { assert, describe, it } from "@effect/vitest"
import { SpanStatusCode } from "@opentelemetry/api"
import { Effect, Metric, MetricKeyType, MetricState, Schema, Stream } from "effect"

/** The registry keys of a metric (what the exporters see), after reading it once. */
const keysOf = (metric: Metric.Metric<any, any, any>, name: string) =>
  Effect.map(Metric.value(metric), () => Metric.unsafeSnapshot().map((p) => p.metricKey).filter((k) => k.name === name))

class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}

const answer = (q: string) =>
  GenAI.chat(
    {
      provider: "test",
      model: "m-1",
      maxTokens: 100,
      temperature: 0.5,
      stopSequences: ["END"],
      agent: "coach",
      ...GenAI.serverOf("https://models.example:8443/v1")
    },
    Effect.as(GenAI.annotateCost(0.0025, { model: "m-1" }), q.toUpperCase()),
    () => ({
      model: "m-1",
      id: "resp-1",
      inputTokens: 100,
      outputTokens: 20,
      cacheReadTokens: 5,
      finishReasons: ["end_turn"]
    })
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
      assert.match(lines[1]!, /^coach {2}\d+\.\d ms {2}100 in \/ 20 out tokens {2}\$0\.002500$/)
      assert.match(lines[2]!, /^├─ parse {2}\d+\.\d ms$/)
      assert.match(lines[3]!, /^└─ ask {2}\d+\.\d ms {2}100 in \/ 20 out tokens/)
      assert.match(lines[4]!, /^ {3}└─ chat m-1 {2}\d+\.\d ms {2}100 in \/ 20 out tokens {2}\$0\.002500$/)
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
      assert.strictEqual(i.status.code, SpanStatusCode.UNSET)
      assert.strictEqual(i.attributes["braid.interrupted"], true)
      assert.isUndefined(i.attributes["status.interrupted"])
      // success leaves the status UNSET (OK is the application's to set)
      for (const name of ["child", "parent"]) {
        assert.strictEqual(spans.find((s) => s.name === name)!.status.code, SpanStatusCode.UNSET, name)
      }
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
      // not reported by the provider: not set (rather than a made-up 0)
      assert.notProperty(a, "gen_ai.usage.cache_creation.input_tokens")
      assert.deepStrictEqual(a["gen_ai.response.finish_reasons"], ["end_turn"])
      assert.strictEqual(a["gen_ai.response.id"], "resp-1")
      assert.strictEqual(a["server.address"], "models.example")
      assert.strictEqual(a["server.port"], 8443)
      assert.strictEqual(a["gen_ai.conversation.id"], "s-1")
      assert.strictEqual(a["braid.cost.usd"], 0.0025)
      assert.strictEqual(a["gen_ai.agent.name"], "coach")
      assert.notProperty(a, "braid.agent")
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
      yield* Metrics.recordCost(0.5, { "gen_ai.agent.name": "m-test" })
      yield* Metrics.recordCost(0.25, { "gen_ai.agent.name": "m-test" })
      assert.strictEqual(
        (yield* Metric.value(Metrics.cost.pipe(Metric.tagged("gen_ai.agent.name", "m-test")))).count,
        0.75
      )
    }))

  it.effect("the metrics carry the conventions' units and buckets, and cost is a monotonic counter", () =>
    Effect.gen(function*() {
      yield* GenAI.chat({ provider: "units-test", model: "m-6" }, Effect.succeed(1), () => ({
        model: "m-6",
        inputTokens: 1,
        outputTokens: 1,
        finishReasons: ["end_turn"]
      })).pipe(Effect.withSpan("outer"), Effect.provide(Observability.inMemory().layer))
      yield* Metrics.recordCost(0.1, { "gen_ai.request.model": "m-6" })
      const expected = {
        "gen_ai.client.token.usage": [Metrics.tokenUsage, "{token}"],
        "gen_ai.client.operation.duration": [Metrics.operationDuration, "s"],
        "braid.llm.cost": [Metrics.cost, "{USD}"],
        "braid.llm.budget.alerts": [Metrics.budgetAlerts, "{alert}"]
      } as const
      for (const [name, [metric, unit]] of Object.entries(expected)) {
        const keys = yield* keysOf(metric, name)
        assert.isAbove(keys.length, 0, name)
        for (const k of keys) assert.strictEqual(k.tags.find((t) => t.key === "unit")?.value, unit, name)
      }
      const [cost] = yield* keysOf(Metrics.cost, "braid.llm.cost")
      assert.isTrue(MetricKeyType.isCounterKey(cost!.keyType) && cost!.keyType.incremental)
      const [duration] = yield* keysOf(Metrics.operationDuration, "gen_ai.client.operation.duration")
      const type = duration!.keyType
      assert.isTrue(MetricKeyType.isHistogramKey(type))
      if (MetricKeyType.isHistogramKey(type)) {
        assert.deepStrictEqual(
          Array.from(type.boundaries.values).filter(Number.isFinite),
          [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
        )
      }
      // the token metric has the attributes the conventions require
      const tokens = (yield* keysOf(Metrics.tokenUsage, "gen_ai.client.token.usage")).filter((k) =>
        k.tags.some((t) => t.key === "gen_ai.provider.name" && t.value === "units-test")
      )
      assert.strictEqual(tokens.length, 2)
      for (const k of tokens) {
        const tags = Object.fromEntries(k.tags.map((t) => [t.key, t.value]))
        assert.strictEqual(tags["gen_ai.operation.name"], "chat")
        assert.strictEqual(tags["gen_ai.request.model"], "m-6")
        assert.include(["input", "output"], tags["gen_ai.token.type"])
      }
    }))

  it.effect("estimated usage records no token metric unless the call opts in; the span still has it", () =>
    Effect.gen(function*() {
      const estimated = (provider: string, recordEstimatedTokens: boolean) =>
        GenAI.chat({ provider, model: "m-5", recordEstimatedTokens }, Effect.succeed(1), () => ({
          model: "m-5",
          inputTokens: 12,
          outputTokens: 3,
          finishReasons: ["end_turn"],
          estimated: true
        }))
      const mem = Observability.inMemory()
      const spans = yield* Effect.all([estimated("est-off", false), estimated("est-on", true)]).pipe(
        Effect.withSpan("outer"),
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer)
      )
      const input = (provider: string) =>
        Metric.value(Metrics.tokenUsage.pipe(
          Metric.tagged("gen_ai.operation.name", "chat"),
          Metric.tagged("gen_ai.provider.name", provider),
          Metric.tagged("gen_ai.request.model", "m-5"),
          Metric.tagged("gen_ai.response.model", "m-5"),
          Metric.tagged("gen_ai.token.type", "input")
        ))
      assert.strictEqual((yield* input("est-off")).count, 0)
      assert.strictEqual((yield* input("est-on")).count, 1)
      const chats = spans.filter((s) => s.name === "chat m-5")
      assert.strictEqual(chats.length, 2)
      for (const c of chats) {
        assert.strictEqual(c.attributes["gen_ai.usage.input_tokens"], 12)
        assert.strictEqual(c.attributes["braid.usage.estimated"], true)
      }
    }))

  it("serverOf reads server.address and server.port from a base URL", () => {
    assert.deepStrictEqual(GenAI.serverOf("https://api.anthropic.com"), {
      serverAddress: "api.anthropic.com",
      serverPort: 443
    })
    assert.deepStrictEqual(GenAI.serverOf("http://127.0.0.1:8080/v1"), { serverAddress: "127.0.0.1", serverPort: 8080 })
    assert.deepStrictEqual(GenAI.serverOf("http://[::1]:9000"), { serverAddress: "::1", serverPort: 9000 })
    assert.isUndefined(GenAI.serverOf("not a url"))
  })

  it.effect("executeTool opens an INTERNAL `execute_tool {tool}` span with the tool attributes, error.type on failure", () =>
    Effect.gen(function*() {
      const mem = Observability.inMemory()
      const { spans, tree } = yield* Effect.gen(function*() {
        yield* GenAI.executeTool(
          { name: "get_weather", callId: "toolu_1", agent: "planner" },
          Effect.succeed({ sky: "clear" })
        )
        yield* Effect.either(GenAI.executeTool({ name: "book", type: "extension" }, Effect.fail(new Boom())))
        yield* GenAI.executeTool(
          { name: "lookup", arguments: { q: "x" }, captureResult: true, type: "datastore" },
          Effect.succeed([1])
        )
        return mem.spans()
      }).pipe(
        Effect.withSpan("invoke_agent planner"),
        Effect.map((spans) => ({ spans, tree: mem.tree() })),
        Effect.provide(mem.layer)
      )
      const weather = spans.find((s) => s.name === "execute_tool get_weather")!
      assert.strictEqual(weather.kind, 0) // INTERNAL
      assert.strictEqual(
        weather.parentSpanContext?.spanId,
        spans.find((s) => s.name === "invoke_agent planner")?.spanContext().spanId
      )
      assert.strictEqual(weather.attributes["gen_ai.operation.name"], "execute_tool")
      assert.strictEqual(weather.attributes["gen_ai.tool.name"], "get_weather")
      assert.strictEqual(weather.attributes["gen_ai.tool.call.id"], "toolu_1")
      assert.strictEqual(weather.attributes["gen_ai.tool.type"], "function")
      assert.strictEqual(weather.attributes["gen_ai.agent.name"], "planner")
      assert.strictEqual(weather.status.code, SpanStatusCode.UNSET)
      // no content unless asked for
      assert.notProperty(weather.attributes, "gen_ai.tool.call.arguments")
      assert.notProperty(weather.attributes, "gen_ai.tool.call.result")
      const book = spans.find((s) => s.name === "execute_tool book")!
      assert.strictEqual(book.status.code, SpanStatusCode.ERROR)
      assert.strictEqual(book.attributes["error.type"], "Boom")
      assert.strictEqual(book.attributes["gen_ai.tool.type"], "extension")
      const lookup = spans.find((s) => s.name === "execute_tool lookup")!
      assert.strictEqual(lookup.attributes["gen_ai.tool.call.arguments"], "{\"q\":\"x\"}")
      assert.strictEqual(lookup.attributes["gen_ai.tool.call.result"], "[1]")
      // a tool span is not a model call: the tree counts no tokens for it
      assert.match(tree, /execute_tool get_weather/)
      assert.notMatch(tree, /execute_tool .*tokens/)
    }))
})
