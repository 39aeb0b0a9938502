import { Ai, AiErrors, AnthropicLanguageModel } from "@braid/llm"
import type { TestServer } from "@braid/llm/testing/AnthropicTestServer"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Redacted, Schema, Stream } from "effect"

const KEY = "sk-ant-test-0123456789abcdef"

const withServer = <A, E>(
  f: (server: TestServer, model: Ai.LanguageModel.Service) => Effect.Effect<A, E>,
  options: Partial<AnthropicLanguageModel.Options> = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* scoped()
    const model = yield* Ai.fromProvider(
      AnthropicLanguageModel.makeProvider({ apiKey: Redacted.make(KEY), baseURL: server.url, ...options })
    )
    return yield* f(server, model)
  }))

const failure = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.flatMap(
    Effect.either(self),
    (e) => Either.isLeft(e) ? Effect.succeed(e.left) : Effect.dieMessage("expected a failure")
  )

const waitFor = (cond: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 150 && !cond(); i++) await new Promise((r) => setTimeout(r, 20))
  })

const GetWeather = Ai.Tool.make("GetWeather", {
  description: "The weather in a city",
  parameters: { city: Schema.String },
  success: Schema.Struct({ celsius: Schema.Number })
})
const GetTime = Ai.Tool.make("GetTime", {
  parameters: { zone: Schema.String },
  success: Schema.String
})
const Tools = Ai.Toolkit.make(GetWeather, GetTime)
const ToolsLive = Tools.toLayer({
  GetWeather: ({ city }) => Effect.succeed({ celsius: city === "Paris" ? 21 : 12 }),
  GetTime: ({ zone }) => Effect.succeed(`12:00 ${zone}`)
})

describe("AnthropicLanguageModel (official SDK against the local test server)", () => {
  it.live("generateText: text, finish reason, usage with cache tokens, metadata; one well-formed request", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.json("Hi there!", {
          model: "claude-sonnet-5-5-20260901",
          usage: { input_tokens: 12, output_tokens: 4, cache_read_input_tokens: 100, cache_creation_input_tokens: 30 }
        }))
        const r = yield* model.generateText({
          prompt: [
            { role: "system", content: "Be friendly.", options: { braid: { cache: true } } },
            { role: "user", content: "Hello" },
            { role: "assistant", content: "Hi" },
            { role: "user", content: "How are you?" }
          ]
        }).pipe(Ai.withSettings({ maxTokens: 50, temperature: 0.2, stopSequences: ["\n\nHuman:"] }))
        assert.strictEqual(r.text, "Hi there!")
        assert.strictEqual(r.finishReason, "stop")
        assert.strictEqual(r.usage.inputTokens, 142)
        assert.strictEqual(r.usage.outputTokens, 4)
        assert.strictEqual(r.usage.cachedInputTokens, 100)
        const finish = r.content.find((p) => p.type === "finish")!
        assert.deepStrictEqual(finish.metadata.braid, {
          model: "claude-sonnet-5-5-20260901",
          cacheReadTokens: 100,
          cacheWriteTokens: 30,
          estimated: false,
          stopReason: "end_turn"
        })
        const meta = r.content.find((p) => p.type === "response-metadata")!
        assert.deepStrictEqual(
          meta.modelId._tag === "Some" ? meta.modelId.value : undefined,
          "claude-sonnet-5-5-20260901"
        )
        assert.strictEqual(server.requests.length, 1)
        const body = server.requests[0]!.body
        assert.deepStrictEqual(body.system, [{
          type: "text",
          text: "Be friendly.",
          cache_control: { type: "ephemeral" }
        }])
        assert.deepStrictEqual(body.messages.map((m: any) => m.role), ["user", "assistant", "user"])
        assert.strictEqual(body.max_tokens, 50)
        assert.strictEqual(body.temperature, 0.2)
        assert.deepStrictEqual(body.stop_sequences, ["\n\nHuman:"])
        assert.strictEqual(body.model, "claude-sonnet-5-5")
        assert.strictEqual(body.tools, undefined)
      })
    ))

  it.live("images and documents are sent as blocks (the server echoes what it received)", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.echo())
        const r = yield* model.generateText({
          prompt: [{
            role: "user",
            content: [
              { type: "text", text: "What is in these?" },
              { type: "file", mediaType: "image/png", data: new Uint8Array([137, 80, 78, 71]) },
              { type: "file", mediaType: "image/jpeg", data: new URL("https://example.com/cat.jpg") },
              { type: "file", mediaType: "application/pdf", data: "JVBERi0=", fileName: "report.pdf" },
              { type: "file", mediaType: "text/plain", data: "plain notes", options: { braid: { cache: true } } }
            ]
          }]
        })
        assert.strictEqual(
          r.text,
          "user: text,image(base64 image/png),image(url),document(base64 application/pdf),document(text text/plain)+cache"
        )
        const blocks = server.requests[0]!.body.messages[0].content
        assert.strictEqual(blocks[1].source.data, "iVBORw==")
        assert.strictEqual(blocks[3].title, "report.pdf")
        assert.strictEqual(blocks[4].source.data, "plain notes")
      })
    ))

  it.live("an unsupported media type is a typed, non-transient error naming the part; nothing is sent", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        const e = yield* failure(model.generateText({
          prompt: [{ role: "user", content: [{ type: "file", mediaType: "video/mp4", data: "AAAA" }] }]
        }))
        const braid = AiErrors.toModelError(e)
        assert.strictEqual(e._tag, "MalformedInput")
        assert.strictEqual(braid._tag, "InvalidRequest")
        assert.strictEqual(braid._tag === "InvalidRequest" ? braid.field : "", "prompt.content[0].content[0].mediaType")
        assert.isFalse(AiErrors.isTransient(e))
        assert.strictEqual(server.requests.length, 0)
      })
    ))

  it.live("tools: definitions from the toolkit, two tool calls in one turn resolved and paired by id", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.toolUses([
          { id: "toolu_1", name: "GetWeather", input: { city: "Paris" } },
          { id: "toolu_2", name: "GetTime", input: { zone: "CET" } }
        ], "Let me check."))
        const r = yield* model.generateText({ prompt: "Weather and time in Paris?", toolkit: Tools }).pipe(
          Effect.provide(ToolsLive)
        )
        assert.strictEqual(r.finishReason, "tool-calls")
        assert.strictEqual(r.text, "Let me check.")
        assert.deepStrictEqual(r.toolCalls.map((c) => [c.id, c.name, c.params]), [
          ["toolu_1", "GetWeather", { city: "Paris" }],
          ["toolu_2", "GetTime", { zone: "CET" }]
        ])
        const results = new Map(r.toolResults.map((t) => [t.id, t.result]))
        assert.deepStrictEqual(results.get("toolu_1"), { celsius: 21 })
        assert.strictEqual(results.get("toolu_2"), "12:00 CET")
        const body = server.requests[0]!.body
        assert.deepStrictEqual(body.tool_choice, { type: "auto" })
        assert.deepStrictEqual(body.tools[0], {
          name: "GetWeather",
          description: "The weather in a city",
          input_schema: {
            type: "object",
            required: ["city"],
            properties: { city: { type: "string" } },
            additionalProperties: false
          }
        })

        // the next turn sends the calls back as tool_use and the results as tool_result, by id
        server.enqueue(Reply.echo())
        const next = yield* model.generateText({
          prompt: Ai.Prompt.merge(Ai.Prompt.make("Weather and time in Paris?"), Ai.Prompt.fromResponseParts(r.content))
        })
        assert.strictEqual(
          next.text,
          "user: text\nassistant: text,tool_use(toolu_1 GetWeather),tool_use(toolu_2 GetTime)\n" +
            "user: tool_result(toolu_1),tool_result(toolu_2)"
        )
        const sent = server.requests[1]!.body.messages[2].content
        assert.strictEqual(sent[0].content, JSON.stringify({ celsius: 21 }))
        assert.strictEqual(sent[1].content, "12:00 CET")
      })
    ))

  it.live("tool choice: required is any, one named tool is tool, none is none", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.json("a"), Reply.json("b"), Reply.json("c"))
        const ask = (toolChoice: Ai.LanguageModel.ToolChoice<"GetWeather" | "GetTime">) =>
          model.generateText({ prompt: "x", toolkit: Tools, toolChoice }).pipe(Effect.provide(ToolsLive))
        yield* ask("required")
        yield* ask({ tool: "GetTime" })
        yield* ask("none")
        assert.deepStrictEqual(server.requests.map((r) => r.body.tool_choice), [
          { type: "any" },
          { type: "tool", name: "GetTime" },
          { type: "none" }
        ])
      })
    ))

  it.live("structured output: a forced tool whose input is decoded with the Schema", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        const Person = Schema.Struct({ name: Schema.String, age: Schema.Number }).annotations({
          identifier: "Person",
          description: "A person"
        })
        server.enqueue(Reply.toolUses([{ id: "toolu_9", name: "Person", input: { name: "Ada", age: 36 } }]))
        const r = yield* model.generateObject({
          prompt: "Who wrote the first program?",
          schema: Person,
          objectName: "Person"
        })
        assert.deepStrictEqual(r.value, { name: "Ada", age: 36 })
        assert.strictEqual(r.finishReason, "stop")
        const body = server.requests[0]!.body
        assert.deepStrictEqual(body.tool_choice, { type: "tool", name: "Person" })
        assert.strictEqual(body.tools[0].name, "Person")
        assert.strictEqual(body.tools[0].description, "A person")

        server.enqueue(Reply.toolUses([{ id: "toolu_10", name: "Person", input: { name: "Ada" } }]))
        const bad = yield* failure(model.generateObject({ prompt: "again", schema: Person, objectName: "Person" }))
        assert.strictEqual(bad._tag, "MalformedOutput")
        assert.isTrue(AiErrors.isTransient(bad))
      })
    ))

  it.live("streaming: text deltas, then tool params deltas and tool calls paired by id, then finish with usage", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.sseToolUses([
          { id: "toolu_a", name: "GetWeather", input: { city: "Oslo" }, chunks: 4 },
          { id: "toolu_b", name: "GetTime", input: { zone: "UTC" }, chunks: 2 }
        ], ["Check", "ing"]))
        const parts = Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            model.streamText({ prompt: "Weather in Oslo?", toolkit: Tools, disableToolCallResolution: true })
          ).pipe(Effect.provide(ToolsLive))
        )
        const types = parts.map((p) => p.type)
        assert.deepStrictEqual(types.filter((t) => t.startsWith("text")), [
          "text-start",
          "text-delta",
          "text-delta",
          "text-end"
        ])
        const text = parts.flatMap((p) => (p.type === "text-delta" ? [p.delta] : [])).join("")
        assert.strictEqual(text, "Checking")
        const json = (id: string) =>
          parts.flatMap((p) => (p.type === "tool-params-delta" && p.id === id ? [p.delta] : [])).join("")
        assert.strictEqual(json("toolu_a"), JSON.stringify({ city: "Oslo" }))
        assert.strictEqual(json("toolu_b"), JSON.stringify({ zone: "UTC" }))
        assert.strictEqual(parts.filter((p) => p.type === "tool-params-delta" && p.id === "toolu_a").length, 4)
        const calls = parts.flatMap((p) => (p.type === "tool-call" ? [[p.id, p.name, p.params]] : []))
        assert.deepStrictEqual(calls, [["toolu_a", "GetWeather", { city: "Oslo" }], ["toolu_b", "GetTime", {
          zone: "UTC"
        }]])
        const last = parts[parts.length - 1]!
        assert.strictEqual(last.type, "finish")
        if (last.type === "finish") {
          assert.strictEqual(last.reason, "tool-calls")
          assert.isNumber(last.usage.outputTokens)
        }
        assert.isTrue(server.requests[0]!.body.stream)
      })
    ))

  it.live("streaming with tool resolution: each tool call is followed by its result", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.sseToolUses([{ id: "toolu_x", name: "GetWeather", input: { city: "Paris" } }]))
        const parts = Chunk.toReadonlyArray(
          yield* Stream.runCollect(model.streamText({ prompt: "Weather?", toolkit: Tools })).pipe(
            Effect.provide(ToolsLive)
          )
        )
        const result = parts.find((p) => p.type === "tool-result")
        assert.isDefined(result)
        if (result?.type === "tool-result") {
          assert.strictEqual(result.id, "toolu_x")
          assert.deepStrictEqual(result.result, { celsius: 21 })
        }
      })
    ))

  it.live("a streamed call of a tool the request did not offer is a transient MalformedOutput", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.sseToolUses([{ id: "toolu_s", name: "Answer", input: { ok: true }, chunks: 3 }]))
        const e = yield* failure(Stream.runDrain(model.streamText({ prompt: "ok?" })))
        assert.strictEqual(e._tag, "MalformedOutput")
        assert.isTrue(AiErrors.isTransient(e))
      })
    ))

  it.live("HTTP 429 is RateLimited with retry-after, carried by an HttpResponseError", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.rateLimited(3))
        const e = yield* failure(model.generateText({ prompt: "hi" }))
        assert.strictEqual(e._tag, "HttpResponseError")
        if (e._tag === "HttpResponseError") {
          assert.strictEqual(e.response.status, 429)
          assert.strictEqual(e.response.headers["retry-after-ms"], "3000")
        }
        assert.isTrue(AiErrors.isCarrying(e))
        const braid = AiErrors.toModelError(e)
        assert.strictEqual(braid._tag, "RateLimited")
        assert.strictEqual(AiErrors.retryAfterMillis(e), 3000)
        assert.isTrue((e as unknown as { transient: boolean }).transient)
        assert.notInclude(e.message, KEY)
      })
    ))

  it.live("a mid-stream overloaded error event is a transient Overloaded", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.rawSse([
          ["message_start", {
            message: { id: "m", model: "claude-test", usage: { input_tokens: 1, output_tokens: 1 } }
          }],
          ["error", { error: { type: "overloaded_error", message: "Overloaded" } }]
        ]))
        const e = yield* failure(Stream.runDrain(model.streamText({ prompt: "hi" })))
        assert.strictEqual(AiErrors.toModelError(e)._tag, "Overloaded")
        assert.isTrue(AiErrors.isTransient(e))
      })
    ))

  it.live("a stream that stops with a tool call still open is a transient MalformedResponse, not a finished reply", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.rawSse([
          ["message_start", {
            message: { id: "m", model: "claude-test", usage: { input_tokens: 1, output_tokens: 1 } }
          }],
          ["content_block_start", {
            index: 0,
            content_block: { type: "tool_use", id: "toolu_open", name: "GetWeather", input: {} }
          }],
          ["content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: "{\"city\": \"Pa" } }],
          ["message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 3 } }],
          ["message_stop", {}]
        ]))
        const e = yield* failure(Stream.runDrain(model.streamText({ prompt: "hi" })))
        const braid = AiErrors.toModelError(e)
        assert.strictEqual(braid._tag, "MalformedResponse")
        assert.include(braid.message, "toolu_open")
        assert.isTrue(AiErrors.isTransient(e))
      })
    ))

  it.live("a stream cut before message_stop is a transient ConnectionFailed", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.dropMidStream(["par", "tial"]))
        const e = yield* failure(Stream.runDrain(model.streamText({ prompt: "hi" })))
        assert.strictEqual(e._tag, "HttpRequestError")
        assert.strictEqual(AiErrors.toModelError(e)._tag, "ConnectionFailed")
        assert.isTrue(AiErrors.isTransient(e))
      })
    ))

  it.live("a body that is not a Messages API response is a transient MalformedResponse naming the field", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.raw(JSON.stringify({ content: "nope" })))
        const e = yield* failure(model.generateText({ prompt: "hi" }))
        const braid = AiErrors.toModelError(e)
        assert.strictEqual(braid._tag, "MalformedResponse")
        assert.include(braid.message, "content")
        assert.isTrue(braid.transient)
      })
    ))

  it.live("interrupting generateText aborts the HTTP request (the server sees it aborted)", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.stallAfterHeaders())
        const fiber = yield* Effect.fork(model.generateText({ prompt: "hi" }))
        yield* waitFor(() => server.stalled() === 1)
        yield* Fiber.interrupt(fiber)
        yield* waitFor(() => server.aborted() === 1)
        assert.strictEqual(server.aborted(), 1)
      })
    ))

  it.live("interrupting a stream mid-body aborts the HTTP request", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.stallMidBody())
        const fiber = yield* Effect.fork(Stream.runDrain(model.streamText({ prompt: "hi" })))
        yield* waitFor(() => server.stalled() === 1)
        yield* Fiber.interrupt(fiber)
        yield* waitFor(() => server.aborted() === 1)
        assert.strictEqual(server.aborted(), 1)
      })
    ))

  it.live("Settings.model overrides the adapter's model", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.json("ok"))
        yield* model.generateText({ prompt: "hi" }).pipe(Ai.withSettings({ model: "claude-haiku-5-5" }))
        assert.strictEqual(server.requests[0]!.body.model, "claude-haiku-5-5")
      })
    ))
})
