/**
 * Any provider through Braid: @effect/ai-openai's `OpenAiLanguageModel`, behind `Metered`,
 * pointed at the local OpenAI Responses API test server, runs a Braid `Agent` with a toolkit
 * (several calls in one turn, results paired by call id), the coaching workflow, and a
 * `Retry.policy` around an agent through a scripted sequence of faults.
 */
import { Agent } from "@braid/agents"
import { Runner, WorkflowContext } from "@braid/core"
import { Ai, AiErrors, Metered, Pricing } from "@braid/llm"
import type { Received, TestServer } from "@braid/llm/testing/OpenAiTestServer"
import { Reply, scoped, usage } from "@braid/llm/testing/OpenAiTestServer"
import { Memory } from "@braid/memory"
import { Retry } from "@braid/resilience"
import { Coaching, Samples, Scripts } from "@braid/workflows"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted, Schema } from "effect"

const KEY = "sk-test-0123456789abcdef"

/** @effect/ai-openai's model, behind Metered (the provider's own layer, nothing Braid-specific). */
const openAi = (server: TestServer) =>
  Metered.layer(
    OpenAiLanguageModel.layer({ model: "gpt-4o-mini" }).pipe(
      Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make(KEY), apiUrl: server.url })),
      Layer.provide(FetchHttpClient.layer)
    ),
    { provider: "openai", defaultModel: "gpt-4o-mini", baseUrl: server.url }
  )

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
    ? content.map((c: any) => typeof c?.text === "string" ? c.text : "").join("")
    : ""

/** The request the server received, as the prompt Braid's scripted rules read. */
const promptOf = (request: Received): Ai.Prompt.Prompt => {
  const input: ReadonlyArray<any> = Array.isArray(request.body?.input) ? request.body.input : []
  const system = input.filter((m) => m.role === "system" || m.role === "developer").map((m) => textOf(m.content))
  const users = input.filter((m) => m.role === "user").map((m) => textOf(m.content))
  return Ai.Prompt.make([
    ...(system.length > 0 ? [{ role: "system" as const, content: system.join("\n") }] : []),
    { role: "user" as const, content: users[users.length - 1] ?? "" }
  ])
}

/** The server answers like `Scripts.coaching` (the coach's GOALS: / REVIEW: lines, the observer's insights). */
const coachLike = (request: Received) => {
  const prompt = promptOf(request)
  const input = Ai.lastUserText(prompt)
  const rule = (Scripts.coaching.rules ?? []).find((r) =>
    typeof r.when === "string"
      ? input.toLowerCase().includes(r.when.toLowerCase())
      : r.when instanceof RegExp
      ? r.when.test(input)
      : r.when(prompt)
  )
  const reply = rule?.reply ?? Scripts.coaching.default ?? "ok"
  const text = typeof reply === "string" ? reply : reply(prompt)
  return request.body?.stream === true ? Reply.sse([text]) : Reply.json(text)
}

/** The application's price of the OpenAI model (USD per million tokens). */
const Prices = Pricing.layer({ "gpt-4o-mini": { input: 0.15, output: 0.6, cacheRead: 0.075, cacheWrite: 0 } })

const Weather = Ai.Tool.make("GetWeather", {
  description: "The current weather in a city",
  parameters: { city: Schema.String },
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number })
})
const Time = Ai.Tool.make("GetTime", {
  description: "The local time in a city",
  parameters: { city: Schema.String },
  success: Schema.String
})
const Tools = Ai.Toolkit.make(Weather, Time)

describe("@effect/ai-openai behind Metered runs Braid's agents and workflows", () => {
  it.live("an Agent with two tools: several calls in one turn, each result paired with its call id", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      server.enqueue(
        Reply.toolCalls([
          { callId: "call_w1", name: "GetWeather", arguments: { city: "Paris" } },
          { callId: "call_t1", name: "GetTime", arguments: { city: "Tokyo" } },
          { callId: "call_w2", name: "GetWeather", arguments: { city: "Oslo" } }
        ], { usage: usage(80, 20) }),
        Reply.json("21°C in Paris, 4°C in Oslo, 09:30 in Tokyo.", { usage: usage(120, 15) })
      )
      const seen: Array<string> = []
      const handlers = Tools.toLayer({
        GetWeather: ({ city }) =>
          Effect.sync(() => (seen.push(`GetWeather(${city})`), { city, celsius: city === "Paris" ? 21 : 4 })),
        GetTime: ({ city }) => Effect.sync(() => (seen.push(`GetTime(${city})`), `09:30 in ${city}`))
      })
      const agent = Agent.make({ name: "concierge", instructions: "Answer travel questions.", toolkit: Tools })
      const reply = yield* Runner.run(agent, Agent.conversation(["Weather in Paris and Oslo, time in Tokyo?"])).pipe(
        Effect.provide(handlers),
        Effect.provide(openAi(server))
      )
      assert.strictEqual(reply.text, "21°C in Paris, 4°C in Oslo, 09:30 in Tokyo.")
      assert.strictEqual(reply.calls, 2)
      assert.deepStrictEqual(reply.usage.inputTokens + reply.usage.outputTokens, 80 + 20 + 120 + 15)
      assert.deepStrictEqual(seen, ["GetWeather(Paris)", "GetTime(Tokyo)", "GetWeather(Oslo)"])

      assert.strictEqual(server.requests.length, 2)
      const [first, second] = server.requests
      assert.deepStrictEqual(first!.body.tools.map((t: any) => t.name), ["GetWeather", "GetTime"])
      assert.deepStrictEqual(first!.body.input[0], { role: "system", content: "Answer travel questions." })
      // the second turn: the three calls, then their outputs, each paired by call_id
      const items = (second!.body.input as ReadonlyArray<any>).filter((i) => i.type !== undefined)
      assert.deepStrictEqual(items.filter((i) => i.type === "function_call").map((i) => [i.call_id, i.name]), [
        ["call_w1", "GetWeather"],
        ["call_t1", "GetTime"],
        ["call_w2", "GetWeather"]
      ])
      assert.deepStrictEqual(
        items.filter((i) => i.type === "function_call_output").map((i) => [i.call_id, JSON.parse(i.output)]),
        [["call_w1", { city: "Paris", celsius: 21 }], ["call_t1", "09:30 in Tokyo"], ["call_w2", {
          city: "Oslo",
          celsius: 4
        }]]
      )
      for (const r of server.requests) assert.strictEqual(r.headers["authorization"], `Bearer ${KEY}`)
    })))

  it.live("the coaching day: goals set in the morning, reviewed in the evening, every call through the provider", () =>
    Effect.scoped(
      Effect.gen(function*() {
        const server = yield* scoped({ fallback: coachLike })
        const coaching = Coaching.make()
        const report = yield* Runner.run(coaching.day, Samples.coachingDay).pipe(
          Effect.provide(Layer.mergeAll(openAi(server), Memory.layerInMemory(), Prices))
        )
        assert.strictEqual(report.morning.endedBy, "objective-met")
        assert.deepStrictEqual(report.goals, ["finish the quarterly report draft (9-11)", "run 30 minutes at lunch"])
        assert.strictEqual(report.evening.endedBy, "objective-met")
        assert.strictEqual(report.review, "1/2 goals done (report done; run skipped because a meeting ran over)")
        assert.isAbove(report.insights.length, 0)
        // the evening coach was given the goals recalled from memory
        const evening = server.requests.filter((r) => JSON.stringify(r.body.input).includes("EVENING SESSION"))
        assert.isAbove(evening.length, 0)
        assert.include(JSON.stringify(evening[0]!.body.input), "run 30 minutes at lunch")
        // priced (the application's price of the OpenAI model) from the usage the provider reported
        assert.isAbove(report.totals.costUsd, 0)
        assert.isAbove(server.requests.length, 5)
      }).pipe(Effect.provide(WorkflowContext.layer({ userId: "ada" })))
    ))

  it.live("Retry.policy around an agent retries the provider's transient faults (429, 503, bad stream, dropped connection) then succeeds", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      server.enqueue(
        Reply.rateLimited(0.05),
        Reply.unavailable(),
        Reply.malformed(),
        Reply.dropBeforeReply(),
        Reply.json("Rest on Sunday.")
      )
      const coach = Agent.make({ name: "coach", instructions: "Coach." })
      const resilient = coach.pipe(Retry.policy({ maxAttempts: 6, baseDelay: "10 millis", maxDelay: "50 millis" }))
      const reply = yield* Runner.run(resilient, Agent.conversation(["plan my week"])).pipe(
        Effect.provide(openAi(server))
      )
      assert.strictEqual(reply.text, "Rest on Sunday.")
      assert.strictEqual(server.requests.length, 5)

      // a fault that is not transient (401) is not retried
      server.enqueue(Reply.unauthorized())
      const denied = yield* Effect.either(
        Runner.run(resilient, Agent.conversation(["plan my week"])).pipe(Effect.provide(openAi(server)))
      )
      assert.isTrue(Either.isLeft(denied))
      assert.strictEqual(server.requests.length, 6)
      const e = Either.isLeft(denied) ? denied.left : undefined
      assert.notInclude(JSON.stringify(e), KEY)
      assert.isFalse(AiErrors.isTransient(e))
    })))
})
