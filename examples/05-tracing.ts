/**
 * Tutorial 5: seeing your runs.
 *
 * Every primitive opens one span; every model call opens a `chat {model}` span under it, with the
 * OpenTelemetry GenAI attributes (model, tokens, finish reason) and its cost. One line turns
 * tracing on:
 *
 *   - `Observability.console()` prints a tree of each run: durations, tokens, cost;
 *   - `Observability.otlp({ url })` exports spans and metrics over OTLP/HTTP to a collector.
 *     Here, with no network, the example starts its own small OTLP receiver on 127.0.0.1 and
 *     reads back what it received.
 *
 * Run it: npx tsx examples/05-tracing.ts
 */
import { parallel, Primitive, Runner, sequence } from "@braid/core"
import { Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
import { Observability } from "@braid/observability"
import { start as startReceiver } from "@braid/observability/testing/OtlpReceiver"
import { Effect } from "effect"
import assert from "node:assert"

// A small article pipeline: an outline, then two sections written in parallel, then a summary.
const write = (name: string, agent: string) =>
  Primitive.make(name, (topic: string) =>
    Effect.map(
      Ai.LanguageModel.generateText({
        prompt: [{ role: "system", content: "You write short, clear paragraphs." }, {
          role: "user",
          content: `${name}: ${topic}`
        }]
      }).pipe(Ai.withSettings({ maxTokens: 300, agent })),
      (r) => r.text
    ))

const article = sequence(
  write("outline", "planner"),
  parallel({ intro: write("intro", "writer"), body: write("body", "writer") }),
  Primitive.make("summary", (parts: { intro: string; body: string }) =>
    Effect.map(
      Ai.LanguageModel.generateText({ prompt: `summary: ${parts.intro} ${parts.body}` }).pipe(
        Ai.withSettings({ agent: "editor" })
      ),
      (r) => r.text
    ))
).pipe(Primitive.named("article"))

// The scripted model answers offline, with 20 ms of latency so the durations mean something.
const Model = Metered.fromProvider(ScriptedLanguageModel.provider({
  rules: [
    { when: /^outline/i, reply: "1. Why tides happen. 2. Spring and neap tides. 3. Living with tides." },
    { when: /^intro/i, reply: "Twice a day the sea climbs the beach and slips back again." },
    { when: /^body/i, reply: "The moon pulls the ocean towards it; the sun adds or subtracts its own pull." },
    { when: /^summary/i, reply: "Tides are the moon and sun tugging at the sea." }
  ],
  latency: "20 millis"
}))

const main = Effect.gen(function*() {
  console.log("== Tutorial 5: tracing ==\n")

  // 1. The console tree: one line.
  console.log("1. Observability.console(): the tree of the run, printed when it ends\n")
  const printed: Array<string> = []
  const summary = yield* Runner.run(article, "tides", { runId: "run-console", sessionId: "demo" }).pipe(
    Effect.provide(Observability.console({
      write: (tree) => {
        printed.push(tree)
        console.log(tree)
      }
    }))
  )
  assert.strictEqual(summary, "Tides are the moon and sun tugging at the sea.")
  assert.strictEqual(printed.length, 1)
  assert.match(printed[0]!, /article .*tokens/)
  assert.match(printed[0]!, /chat braid-scripted/)

  // 2. OTLP over HTTP, to a receiver started right here (any OTLP collector works the same way).
  console.log("\n2. Observability.otlp(): export to an OTLP/HTTP receiver\n")
  const receiver = yield* Effect.promise(() => startReceiver())
  yield* Runner.run(article, "tides", { runId: "run-otlp", sessionId: "demo", tenantId: "acme" }).pipe(
    // JSON so the little receiver can decode it; collectors default to protobuf, which is the default here too
    Effect.provide(Observability.otlp({ url: receiver.url, serviceName: "tutorial-05", protocol: "json" }))
  )
  // leaving `Effect.provide` closed the exporter, which flushed everything
  const spans = receiver.spans
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  console.log(`received ${spans.length} spans and ${new Set(receiver.metrics).size} metrics at ${receiver.url}:`)
  for (const s of spans) {
    const parent = s.parentSpanId ? byId.get(s.parentSpanId)?.name ?? "?" : "(root)"
    const tokens = s.attributes["gen_ai.usage.output_tokens"] !== undefined
      ? `  gen_ai.usage: ${s.attributes["gen_ai.usage.input_tokens"]} in / ${
        s.attributes["gen_ai.usage.output_tokens"]
      } out`
      : ""
    console.log(`  ${s.name.padEnd(22)} parent: ${parent.padEnd(10)} run: ${s.attributes["braid.run.id"]}${tokens}`)
  }
  console.log(
    `  metrics: ${
      [...new Set(receiver.metrics)].filter((m) => m.startsWith("gen_ai") || m.startsWith("braid")).join(", ")
    }`
  )
  yield* Effect.promise(() => receiver.close())

  // each model call: Braid's `chat {model}` span (GenAI attributes, cost), and @effect/ai's own
  // `LanguageModel.generateText` span under it
  const names = spans.map((s) => s.name).sort()
  assert.deepStrictEqual(names, [
    "LanguageModel.generateText",
    "LanguageModel.generateText",
    "LanguageModel.generateText",
    "LanguageModel.generateText",
    "article",
    "body",
    "chat braid-scripted",
    "chat braid-scripted",
    "chat braid-scripted",
    "chat braid-scripted",
    "intro",
    "outline",
    "parallel",
    "summary"
  ])
  // Braid's spans carry the run's context (@effect/ai's own span does not: it is not Braid's)
  for (const s of spans.filter((s) => !s.name.startsWith("LanguageModel."))) {
    assert.strictEqual(s.attributes["braid.run.id"], "run-otlp")
    assert.strictEqual(s.attributes["braid.tenant.id"], "acme")
  }
  const chatUnderOutline = spans.find((s) =>
    s.name === "chat braid-scripted" && byId.get(s.parentSpanId ?? "")?.name === "outline"
  )
  assert.ok(chatUnderOutline, "the outline's model call is nested under the outline step")
  assert.strictEqual(chatUnderOutline.attributes["gen_ai.request.model"], "braid-scripted")
  assert.ok(receiver.metrics.includes("gen_ai.client.operation.duration"))
  // the scripted model reports no usage: Braid's estimates are on the spans (marked
  // braid.usage.estimated) but not in gen_ai.client.token.usage, unless recordEstimatedTokens
  assert.ok(!receiver.metrics.includes("gen_ai.client.token.usage"))

  console.log("\nDone: one line for a readable tree, one line for OTLP.")
}).pipe(Effect.provide(Model))

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
