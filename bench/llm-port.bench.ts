/**
 * The model port benchmark (issue 13): one `generateText` call through `@effect/ai`'s
 * `LanguageModel` on Braid's Anthropic adapter, against the same call made with
 * `@anthropic-ai/sdk` directly. Both talk to the local Messages-API test server, which answers
 * each request after 1 ms. One sample is 50 sequential calls; each row is measured alternately
 * with the SDK in one process (median of 5 rounds of medians of 5). Target <= 1.05x for the port.
 *
 * The breakdown, each layer on top of the one before:
 *
 * 1. the adapter's provider alone (Braid's code: the request, the bounded SDK call, decoding);
 * 2. `@effect/ai`'s `LanguageModel.generateText` on it: the port (no instrumentation);
 * 3. `Metered` on top (budgets, pricing, accounting, the guard; instrumentation off);
 * 4. the full port: `Metered` with spans exported to memory (`chat {model}` and `@effect/ai`'s
 *    span, GenAI attributes and metrics).
 *
 * A second table measures the CPU time (`process.cpuUsage`, so that other processes on the
 * machine do not count) of each layer without the network (the SDK's `fetch` answers at once
 * from memory, 1000 calls), and `@effect/ai`'s own cost: a bare `LanguageModel.make` service over
 * a provider that returns three fixed parts.
 */
import Anthropic from "@anthropic-ai/sdk"
import { Ai, AnthropicLanguageModel, Metered } from "@braid/llm"
import { Reply, start } from "@braid/llm/testing/AnthropicTestServer"
import { Observability } from "@braid/observability"
import { defaultIdGenerator, IdGenerator } from "@effect/ai/IdGenerator"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import type { Row } from "./harness.js"
import { interleaved, medianMillis, printTable } from "./harness.js"

const CALLS = 50
const CPU_CALLS = 1000
const KEY = "sk-ant-bench-0123456789"
const MODEL = "claude-sonnet-5-5"

/** A fetch that answers every request at once with one Messages API message (no network). */
const cannedFetch = () => {
  const body = JSON.stringify({
    id: "msg_bench",
    type: "message",
    role: "assistant",
    model: MODEL,
    content: [{ type: "text", text: "Hello from the bench." }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 5 }
  })
  return async () =>
    new Response(body, { status: 200, headers: { "content-type": "application/json", "request-id": "req_bench" } })
}

/** The four layers of the port over one base URL (and fetch), as repeatable `calls`-call samples. */
const layers = (baseURL: string, calls: number, fetch?: () => Promise<Response>) => {
  const provider = AnthropicLanguageModel.makeProvider({
    apiKey: Redacted.make(KEY),
    baseURL,
    ...(fetch !== undefined ? { fetch } : {})
  })
  const adapter = Layer.effect(Ai.LanguageModel.LanguageModel, Ai.fromProvider(provider))
  const metered = Metered.layer(adapter, { provider: "anthropic" })
  const mem = Observability.inMemory()
  const runtimes = {
    port: ManagedRuntime.make(Layer.merge(adapter, Observability.off)),
    metered: ManagedRuntime.make(Layer.merge(metered, Observability.off)),
    full: ManagedRuntime.make(Layer.merge(metered, mem.layer))
  }
  const call = Ai.LanguageModel.generateText({ prompt: "hello" }).pipe(Ai.withSettings({ maxTokens: 64 }))
  const repeat = (rt: ManagedRuntime.ManagedRuntime<Ai.LanguageModel.LanguageModel, never>) => () =>
    rt.runPromise(Effect.repeatN(Effect.asVoid(call), calls - 1))
  const providerOptions = {
    prompt: Ai.Prompt.make("hello"),
    tools: [],
    toolChoice: "none" as const,
    responseFormat: { type: "text" as const }
  } as unknown as Parameters<typeof provider.generateText>[0]
  const rawCall = provider.generateText(providerOptions).pipe(
    Ai.withSettings({ maxTokens: 64 }),
    Effect.provideService(IdGenerator, defaultIdGenerator)
  )
  return {
    call,
    runtimes,
    provider: () => runtimes.port.runPromise(Effect.repeatN(Effect.asVoid(rawCall), calls - 1)),
    port: repeat(runtimes.port),
    metered: repeat(runtimes.metered),
    full: async () => {
      await repeat(runtimes.full)()
      mem.exporter.reset()
    },
    dispose: () => Promise.all(Object.values(runtimes).map((rt) => rt.dispose()))
  }
}

/** `calls` sequential calls of the SDK, as the adapter makes them. */
const sdkCalls = (sdk: Anthropic, calls: number) => async () => {
  for (let i = 0; i < calls; i++) {
    await sdk.messages.create({
      model: MODEL,
      max_tokens: 64,
      messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }]
    })
  }
}

/** `@effect/ai`'s own cost: a bare `LanguageModel.make` service whose provider returns fixed parts. */
const bareEffectAi = (calls: number) => {
  const parts: Array<Ai.Response.PartEncoded> = [
    { type: "response-metadata", id: "msg_bench", modelId: MODEL },
    { type: "text", text: "Hello from the bench." },
    { type: "finish", reason: "stop", usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 } }
  ]
  const trivial: Ai.Provider = {
    name: "trivial",
    defaultModel: MODEL,
    generateText: () => Effect.succeed(parts),
    streamText: () => Effect.dieMessage("not used") as never
  }
  const rt = ManagedRuntime.make(
    Layer.merge(Layer.effect(Ai.LanguageModel.LanguageModel, Ai.fromProvider(trivial)), Observability.off)
  )
  const call = Ai.LanguageModel.generateText({ prompt: "hello" })
  const rawCall = trivial.generateText(
    {
      prompt: Ai.Prompt.make("hello"),
      tools: [],
      toolChoice: "none",
      responseFormat: { type: "text" }
    } as unknown as Parameters<typeof trivial.generateText>[0]
  ).pipe(Effect.provideService(IdGenerator, defaultIdGenerator))
  return {
    service: () => rt.runPromise(Effect.repeatN(Effect.asVoid(call), calls - 1)),
    provider: () => rt.runPromise(Effect.repeatN(Effect.asVoid(rawCall), calls - 1)),
    dispose: () => rt.dispose()
  }
}

const perCall = (ms: number, calls: number) => (ms / calls) * 1000

/** The median CPU time (user + system, in ms) of `runs` runs of `fn`, after one warm-up run. */
const medianCpuMillis = async (fn: () => Promise<unknown>, runs = 3): Promise<number> => {
  await fn()
  const times: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const start = process.cpuUsage()
    await fn()
    const used = process.cpuUsage(start)
    times.push((used.user + used.system) / 1000)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}

export default async function(): Promise<void> {
  const server = await start({ fallback: () => Reply.slow(1, Reply.json("Hello from the bench.")) })
  const net = layers(server.url, CALLS)
  const sdk = new Anthropic({ apiKey: KEY, baseURL: server.url, maxRetries: 0, logLevel: "off" })
  const direct = sdkCalls(sdk, CALLS)

  // sanity: every side reaches the server and gets the answer
  for (const rt of Object.values(net.runtimes)) {
    const text = await rt.runPromise(Effect.map(net.call, (r) => r.text))
    if (text !== "Hello from the bench.") throw new Error(`unexpected answer: ${text}`)
  }
  const before = server.requests.length
  await direct()
  if (server.requests.length !== before + CALLS) throw new Error("the direct client did not reach the server")

  const rows: Array<Row> = []
  const measure = async (name: string, fn: () => Promise<unknown>, maxRatio?: number) => {
    const [braid, baseline] = await interleaved(() => medianMillis(fn, 5), () => medianMillis(direct, 5), 5)
    rows.push({
      name,
      braid,
      baseline,
      unit: "ms",
      ...(maxRatio !== undefined ? { maxRatio } : {}),
      note: `${perCall(braid - baseline, CALLS).toFixed(0)} µs more per call`
    })
  }
  await measure("1. the adapter's provider alone (no @effect/ai service) vs the SDK directly", net.provider)
  await measure("2. the port: LanguageModel.generateText on the adapter vs the SDK directly", net.port, 1.05)
  await measure("3. the port with Metered (accounting, guard; instrumentation off) vs the SDK directly", net.metered)
  await measure("4. the full port: Metered with spans exported to memory vs the SDK directly", net.full)
  printTable(`Model port: ${CALLS} sequential calls, local Messages API server answering after 1 ms`, rows)
  console.log(`\nThe SDK alone: ${perCall(rows[0]!.baseline, CALLS).toFixed(0)} µs per call.`)

  // the CPU cost of each layer, without the network
  const cpu = layers("http://127.0.0.1:9", CPU_CALLS, cannedFetch())
  const cpuSdk = sdkCalls(
    new Anthropic({
      apiKey: KEY,
      baseURL: "http://127.0.0.1:9",
      maxRetries: 0,
      logLevel: "off",
      fetch: cannedFetch() as never
    }),
    CPU_CALLS
  )
  const bare = bareEffectAi(CPU_CALLS)
  const sides = {
    sdk: cpuSdk,
    provider: cpu.provider,
    port: cpu.port,
    metered: cpu.metered,
    full: cpu.full,
    bareProvider: bare.provider,
    bareService: bare.service
  }
  const cpuMillis: Record<string, Array<number>> = {}
  for (let round = 0; round < 3; round++) {
    for (const [name, fn] of Object.entries(sides)) {
      ;(cpuMillis[name] ??= []).push(await medianCpuMillis(fn))
    }
  }
  const us = (name: keyof typeof sides) => {
    const xs = [...cpuMillis[name]!].sort((a, b) => a - b)
    return perCall(xs[Math.floor(xs.length / 2)]!, CPU_CALLS)
  }
  const sdkUs = us("sdk")
  const netSdkUs = perCall(rows[0]!.baseline, CALLS)
  console.log(
    `\n## Model port: CPU time per call, no network (the SDK's fetch answers from memory; ${CPU_CALLS} calls)\n`
  )
  console.log("| layer | CPU µs per call | added by this layer | of an SDK call to the 1 ms server (wall) |")
  console.log("|---|---|---|---|")
  const line = (name: string, total: number, added: number) =>
    console.log(
      `| ${name} | ${total.toFixed(1)} | ${added.toFixed(1)} | ${((added / netSdkUs) * 100).toFixed(1)} % |`
    )
  line("SDK directly", sdkUs, sdkUs)
  line("1. adapter's provider", us("provider"), us("provider") - sdkUs)
  line("2. + @effect/ai LanguageModel.generateText", us("port"), us("port") - us("provider"))
  line("3. + Metered (instrumentation off)", us("metered"), us("metered") - us("port"))
  line("4. + spans exported to memory", us("full"), us("full") - us("metered"))
  line(
    "@effect/ai alone: bare LanguageModel.make over a provider returning 3 fixed parts",
    us("bareService"),
    us("bareService") - us("bareProvider")
  )
  console.log(
    `\nBudget of the 1.05x target: ${(netSdkUs * 0.05).toFixed(0)} µs per call (5 % of ${
      netSdkUs.toFixed(0)
    } µs); @effect/ai's LanguageModel.generateText alone costs ${
      (us("bareService") - us("bareProvider")).toFixed(0)
    } µs of CPU per call, Braid's layers (1 + 3 + 4) ${
      (us("provider") - sdkUs + us("full") - us("port")).toFixed(0)
    } µs.`
  )

  await net.dispose()
  await cpu.dispose()
  await bare.dispose()
  await server.close()
}
