/**
 * The model port benchmark (issue 13): one `generateText` call through `@effect/ai`'s
 * `LanguageModel` on Braid's Anthropic adapter, against the same call made with
 * `@anthropic-ai/sdk` directly. Both talk to the local Messages-API test server, which answers
 * each request after 1 ms. One sample is 50 sequential calls; the two sides are measured
 * alternately in one process (median of 7 rounds). Target <= 1.05x.
 *
 * Two more rows, for information: the adapter's provider alone (what Braid's code adds, without
 * `@effect/ai`'s `LanguageModel.generateText`, which decodes the parts with a Schema it builds on
 * each call), and the port with `Metered` (budgets, pricing, accounting, the guard;
 * instrumentation off) on top.
 */
import Anthropic from "@anthropic-ai/sdk"
import { Ai, AnthropicLanguageModel, Metered } from "@braid/llm"
import { Reply, start } from "@braid/llm/testing/AnthropicTestServer"
import { Observability } from "@braid/observability"
import { defaultIdGenerator, IdGenerator } from "@effect/ai/IdGenerator"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { interleaved, medianMillis, printTable } from "./harness.js"

const CALLS = 50
const KEY = "sk-ant-bench-0123456789"

export default async function(): Promise<void> {
  const server = await start({ fallback: () => Reply.slow(1, Reply.json("Hello from the bench.")) })
  const provider = AnthropicLanguageModel.makeProvider({ apiKey: Redacted.make(KEY), baseURL: server.url })
  const adapter = Layer.effect(Ai.LanguageModel.LanguageModel, Ai.fromProvider(provider))
  const port = ManagedRuntime.make(Layer.merge(adapter, Observability.off))
  const metered = ManagedRuntime.make(Layer.merge(Metered.layer(adapter, { provider: "anthropic" }), Observability.off))
  const sdk = new Anthropic({ apiKey: KEY, baseURL: server.url, maxRetries: 0, logLevel: "off" })

  const call = Ai.LanguageModel.generateText({ prompt: "hello" }).pipe(Ai.withSettings({ maxTokens: 64 }))
  const viaPort = (rt: typeof port | typeof metered) => () =>
    rt.runPromise(Effect.repeatN(Effect.asVoid(call), CALLS - 1))
  const providerOptions = {
    prompt: Ai.Prompt.make("hello"),
    tools: [],
    toolChoice: "none" as const,
    responseFormat: { type: "text" as const }
  } as unknown as Parameters<typeof provider.generateText>[0]
  const viaProvider = () =>
    port.runPromise(
      Effect.repeatN(
        Effect.asVoid(
          provider.generateText(providerOptions).pipe(
            Ai.withSettings({ maxTokens: 64 }),
            Effect.provideService(IdGenerator, defaultIdGenerator)
          )
        ),
        CALLS - 1
      )
    )
  const direct = async () => {
    for (let i = 0; i < CALLS; i++) {
      await sdk.messages.create({
        model: "claude-sonnet-5-5",
        max_tokens: 64,
        messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }]
      })
    }
  }

  // sanity: both sides reach the server and get the answer
  const text = await port.runPromise(Effect.map(call, (r) => r.text))
  if (text !== "Hello from the bench.") throw new Error(`unexpected answer: ${text}`)
  const before = server.requests.length
  await direct()
  if (server.requests.length !== before + CALLS) throw new Error("the direct client did not reach the server")

  const [braid, baseline] = await interleaved(() => medianMillis(viaPort(port), 5), () => medianMillis(direct, 5), 7)
  const [rawProvider, baseline3] = await interleaved(
    () => medianMillis(viaProvider, 5),
    () => medianMillis(direct, 5),
    5
  )
  const [withMetered, baseline2] = await interleaved(
    () => medianMillis(viaPort(metered), 5),
    () => medianMillis(direct, 5),
    5
  )
  printTable(`Model port: ${CALLS} sequential calls, local Messages API server answering after 1 ms`, [
    {
      name: "LanguageModel.generateText on the Anthropic adapter vs the SDK directly",
      braid,
      baseline,
      unit: "ms",
      maxRatio: 1.05,
      note: `${(((braid - baseline) / CALLS) * 1000).toFixed(0)} µs more per call`
    },
    {
      name: "the adapter's provider alone (no @effect/ai service) vs the SDK directly",
      braid: rawProvider,
      baseline: baseline3,
      unit: "ms",
      note: `${(((rawProvider - baseline3) / CALLS) * 1000).toFixed(0)} µs more per call`
    },
    {
      name: "the same through Metered (accounting, guard) vs the SDK directly",
      braid: withMetered,
      baseline: baseline2,
      unit: "ms",
      note: `${(((withMetered - baseline2) / CALLS) * 1000).toFixed(0)} µs more per call`
    }
  ])
  await port.dispose()
  await metered.dispose()
  await server.close()
}
