/**
 * Tutorial 13: tools.
 *
 * An agent with a `Toolkit` of two tools and a handoff it offers the model as a tool:
 * - the model calls the tools natively (tool-call parts; the results go back as tool-result parts);
 * - each tool call runs in its own `execute_tool {tool}` span, under a per-tool timeout and a
 *   retry of transient failures (the weather service fails once here, and is retried);
 * - the model decides to hand the conversation to billing by calling `transfer_to_billing`, whose
 *   parameters are the typed payload billing receives.
 *
 * Run it: npx tsx examples/13-tools.ts                              (offline, scripted model)
 *         ANTHROPIC_API_KEY=sk-ant-... npx tsx examples/13-tools.ts (Claude)
 */
import { Agent, Handoff } from "@braid/agents"
import { Primitive, Runner } from "@braid/core"
import { Accounting, Ai, DefaultLanguageModel } from "@braid/llm"
import { Effect, Layer, Option, Schema } from "effect"
import assert from "node:assert"

// 1. The tools: a name, a description, Schemas of the parameters, the success and the failure.
class WeatherUnavailable extends Schema.TaggedError<WeatherUnavailable>()("WeatherUnavailable", {
  // the retry policy retries errors marked transient
  transient: Schema.Boolean
}) {}
const Weather = Ai.Tool.make("weather", {
  description: "The weather in a city at an hour of today",
  parameters: { city: Schema.String, hour: Schema.Int },
  success: Schema.Struct({ sky: Schema.String, celsius: Schema.Number }),
  failure: WeatherUnavailable
})
const FreeSlots = Ai.Tool.make("freeSlots", {
  description: "The client's free slots today",
  success: Schema.Array(Schema.String)
})
const Tools = Ai.Toolkit.make(Weather, FreeSlots)

// The handlers, as a layer. The weather service is flaky: its first call fails, transiently.
let weatherCalls = 0
const Handlers = Tools.toLayer({
  weather: ({ city, hour }) =>
    Effect.suspend(() =>
      ++weatherCalls === 1
        ? Effect.fail(new WeatherUnavailable({ transient: true }))
        : Effect.succeed({ sky: `clear over ${city} at ${hour}:00`, celsius: 14 })
    ),
  freeSlots: () => Effect.succeed(["12:00-13:00", "18:00-19:00"])
})

// 2. The agents. Billing reads the typed payload of the handoff.
const Transfer = { invoiceId: Schema.String.pipe(Schema.pattern(/^INV-\d+$/)), reason: Schema.String }
const billing = Agent.make({
  name: "billing",
  instructions: (c) =>
    Option.match(Handoff.payloadOf(Schema.Struct(Transfer))(c), {
      onNone: () => "You resolve billing issues.",
      onSome: (t) => `You resolve billing issues. Invoice: ${t.invoiceId}.`
    })
})
const concierge = Agent.make({
  name: "concierge",
  instructions: "You are the concierge of a running coach. Use the tools; transfer billing questions.",
  toolkit: Tools,
  handoffs: [Handoff.tool(billing, { description: "Invoices, refunds and charges", payload: Transfer })],
  // every attempt bounded, transient failures retried with a short backoff
  toolPolicy: { timeout: "10 seconds", retry: { maxAttempts: 3, baseDelay: "50 millis", backoff: "constant" } },
  maxToolIterations: 4
})

// 3. The model: Claude with a key, else a scripted model that calls the tools like Claude would.
const isConcierge = (p: Ai.Prompt.Prompt) => Ai.systemText(p).startsWith("You are the concierge")
const Model = DefaultLanguageModel.layer({
  scripted: {
    rules: [
      {
        when: (p) => isConcierge(p) && Ai.lastUserText(p).includes("run outside"),
        toolCalls: [{ name: "weather", params: { city: "Oslo", hour: 12 } }, { name: "freeSlots", params: {} }],
        reply: "Yes: the sky is clear at noon and you are free from 12:00. Tools said: {{results}}"
      },
      {
        when: (p) => isConcierge(p) && Ai.lastUserText(p).includes("charged twice"),
        toolCalls: [{ name: "transfer_to_billing", params: { invoiceId: "INV-2041", reason: "duplicate charge" } }],
        reply: "Let me pass you to billing."
      },
      {
        when: (p) => Ai.systemText(p).startsWith("You resolve billing issues. Invoice: INV-2041"),
        reply: "I refunded the duplicate charge on INV-2041."
      }
    ]
  }
})

const main = Effect.gen(function*() {
  const online = yield* DefaultLanguageModel.isOnline
  console.log(`== Tutorial 13: tools (${online ? "Claude" : "scripted model, offline"}) ==\n`)

  // Two tools in one turn; the first weather call fails transiently and is retried.
  const plan = yield* Runner.run(concierge, Agent.conversation(["Can I run outside at lunch in Oslo today?"]))
  for (const m of plan.messages) {
    const calls = m.toolCalls?.map((c) => `${c.name}(${JSON.stringify(c.params)})`).join(", ")
    console.log(`  ${m.role}${m.name ? ` ${m.name}` : ""}: ${calls ? `calls ${calls}` : m.content}`)
  }
  console.log(`\n${plan.agent}: ${plan.text}`)
  console.log(
    `(${plan.calls} model calls, weather service called ${weatherCalls} times, $${plan.costUsd.toFixed(5)})\n`
  )
  if (!online) {
    assert.deepStrictEqual(plan.messages.map((m) => m.role), ["assistant", "tool", "tool", "assistant"])
    assert.strictEqual(weatherCalls, 2, "the transient failure was retried")
    assert.match(plan.text, /clear over Oslo/)
  }

  // A handoff offered as a tool: the model transfers, with a typed payload.
  const handedOff = yield* Runner.run(
    Primitive.make("desk", (text: string) => Effect.zip(concierge.invoke(Agent.conversation([text])), Handoff.chain)),
    "I was charged twice for my plan this month."
  )
  const [reply, chain] = handedOff
  for (const r of chain) console.log(`handoff ${r.from} -> ${r.to} [${r.strategy}, ${r.payloadBytes} B]: ${r.reason}`)
  console.log(`${reply.agent}: ${reply.text}\n`)
  if (!online) {
    assert.strictEqual(reply.agent, "billing")
    assert.deepStrictEqual(chain.map((r) => `${r.from}->${r.to}:${r.strategy}`), ["concierge->billing:tool"])
    assert.match(reply.text, /INV-2041/)
  }

  const report = yield* Accounting.report
  console.log(
    `Cost by agent (Metered): ${
      Object.entries(report.byAgent).map(([a, t]) => `${a} ${t.calls} calls $${t.costUsd.toFixed(5)}`).join(", ")
    }`
  )
  console.log("\nDone: native tool calls under per-tool policies, and a handoff the model chose.")
}).pipe(Effect.provide(Layer.merge(Handlers, Model)))

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
