/**
 * @effect/ai-openai 0.41 (OpenAiClient + OpenAiLanguageModel, the Responses API) against the local
 * OpenAI-compatible test server. These tests pin down the raw provider's behaviour, faults
 * included, exactly as it is: Braid's guard layer normalises it (see docs/models.md).
 */
import type { Received, TestServer } from "@braid/llm/testing/OpenAiTestServer"
import { Reply, scoped, usage } from "@braid/llm/testing/OpenAiTestServer"
import { AiError, Chat, LanguageModel, Tool, Toolkit } from "@effect/ai"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import type { HttpClient } from "@effect/platform"
import { FetchHttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Either, Layer, Option, Redacted, Ref, Schema, Stream } from "effect"

const KEY = "sk-test-0123456789abcdef"

const providerLayer = (server: TestServer, model: string, http: Layer.Layer<HttpClient.HttpClient>) =>
  OpenAiLanguageModel.layer({ model }).pipe(
    Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make(KEY), apiUrl: server.url })),
    Layer.provide(http)
  )

/** Runs `f` with a fresh server and @effect/ai-openai's LanguageModel pointed at it. */
const withServer = <A, E, R>(
  f: (server: TestServer) => Effect.Effect<A, E, R>,
  model = "gpt-4o-mini",
  http: Layer.Layer<HttpClient.HttpClient> = FetchHttpClient.layer
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* scoped()
    return yield* f(server).pipe(Effect.provide(providerLayer(server, model, http)))
  }))

const failure = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Effect.either(self),
    (e) => Either.isLeft(e) ? Effect.succeed(e.left) : Effect.dieMessage("expected a failure")
  )

/** Every part a stream emitted, and how it ended (`undefined`: it ended without a failure). */
const drain = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.gen(function*() {
    const items = Chunk.toArray(yield* Stream.runCollect(Stream.either(stream)))
    const parts = items.filter(Either.isRight).map((e) => e.right)
    const error = items.find(Either.isLeft)?.left
    return { parts, error }
  })

const waitFor = (cond: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 150 && !cond(); i++) await new Promise((r) => setTimeout(r, 20))
  })

const only = (server: TestServer): Received => {
  assert.strictEqual(server.requests.length, 1, "exactly one request (the provider does not retry)")
  return server.requests[0]!
}

const GetWeather = Tool.make("GetWeather", {
  description: "The current weather in a city",
  parameters: { city: Schema.String },
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number })
})

const GetTime = Tool.make("GetTime", {
  description: "The local time in a city",
  parameters: { city: Schema.String },
  success: Schema.String
})

const Tools = Toolkit.make(GetWeather, GetTime)

/** Handlers that record each call they receive. */
const handlersRecording = (calls: Ref.Ref<Array<string>>) =>
  Tools.toLayer({
    GetWeather: ({ city }) =>
      Ref.update(calls, (a) => [...a, `GetWeather(${city})`]).pipe(Effect.as({ city, celsius: 21 })),
    GetTime: ({ city }) => Ref.update(calls, (a) => [...a, `GetTime(${city})`]).pipe(Effect.as(`09:30 in ${city}`))
  })

describe("@effect/ai-openai against the OpenAI test server: the Responses API", () => {
  it.live("generateText: text, finish reason, usage with cached tokens, and one well-formed POST /responses", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.json("Hi there!", { usage: usage(1200, 5, { cached: 1024 }) }))
        const r = yield* LanguageModel.generateText({
          prompt: [
            { role: "system", content: "Be friendly." },
            { role: "user", content: "Hello" },
            { role: "assistant", content: "Hi" },
            { role: "user", content: "How are you?" }
          ]
        })
        assert.strictEqual(r.text, "Hi there!")
        assert.strictEqual(r.finishReason, "stop")
        assert.deepStrictEqual(
          { ...r.usage },
          { inputTokens: 1200, outputTokens: 5, totalTokens: 1205, reasoningTokens: 0, cachedInputTokens: 1024 }
        )
        const meta = r.content.find((p) => p.type === "response-metadata")!
        assert.deepStrictEqual(meta.id, Option.some("resp_test_1"))
        assert.deepStrictEqual(meta.modelId, Option.some("gpt-4o-mini"))

        const req = only(server)
        assert.strictEqual(req.method, "POST")
        assert.strictEqual(req.path, "/v1/responses")
        assert.strictEqual(req.headers["authorization"], `Bearer ${KEY}`)
        assert.strictEqual(req.body.model, "gpt-4o-mini")
        assert.isUndefined(req.body.stream)
        assert.deepStrictEqual(req.body.text, { format: { type: "text" } })
        assert.isUndefined(req.body.tools)
        assert.deepStrictEqual(req.body.input, [
          { role: "system", content: "Be friendly." },
          { role: "user", content: [{ type: "input_text", text: "Hello" }] },
          { role: "assistant", content: [{ type: "output_text", text: "Hi" }] },
          { role: "user", content: [{ type: "input_text", text: "How are you?" }] }
        ])
      })
    ))

  it.live("the system prompt goes as a developer message to gpt-5 and o-series models; config reaches the body", () =>
    withServer(
      (server) =>
        Effect.gen(function*() {
          yield* LanguageModel.generateText({
            prompt: [{ role: "system", content: "Be terse." }, { role: "user", content: "Hi" }]
          }).pipe(OpenAiLanguageModel.withConfigOverride({ temperature: 0.2, max_output_tokens: 64 }))
          const req = only(server)
          assert.deepStrictEqual(req.body.input[0], { role: "developer", content: "Be terse." })
          assert.strictEqual(req.body.temperature, 0.2)
          assert.strictEqual(req.body.max_output_tokens, 64)
        }),
      "gpt-5-mini"
    ))

  it.live("any model id that starts with \"o\" (e.g. a local openai/gpt-oss-20b) gets the developer role too", () =>
    withServer(
      (server) =>
        Effect.gen(function*() {
          yield* LanguageModel.generateText({
            prompt: [{ role: "system", content: "Be terse." }, { role: "user", content: "Hi" }]
          })
          assert.deepStrictEqual(only(server).body.input[0], { role: "developer", content: "Be terse." })
        }),
      "openai/gpt-oss-20b"
    ))

  it.live("an incomplete response (max_output_tokens) finishes with reason \"length\", JSON and streamed", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(
          Reply.json("Once upon a", { incomplete: "max_output_tokens" }),
          Reply.sse(["Once ", "upon"], { incomplete: "max_output_tokens" })
        )
        const r = yield* LanguageModel.generateText({ prompt: "Tell a story" })
        assert.strictEqual(r.text, "Once upon a")
        assert.strictEqual(r.finishReason, "length")
        const { error, parts } = yield* drain(LanguageModel.streamText({ prompt: "Tell a story" }))
        assert.isUndefined(error)
        const finish = parts.find((p) => p.type === "finish")!
        assert.strictEqual(finish.reason, "length")
      })
    ))

  it.live("streamText: metadata, text start/deltas/end and a finish part with usage; unknown events are skipped", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.sse(["Hel", "lo ", "world"], { usage: usage(40, 3, { cached: 32 }), keepalives: true }))
        const { error, parts } = yield* drain(LanguageModel.streamText({ prompt: "Hello" }))
        assert.isUndefined(error)
        assert.deepStrictEqual(parts.map((p) => p.type), [
          "response-metadata",
          "text-start",
          "text-delta",
          "text-delta",
          "text-delta",
          "text-end",
          "finish"
        ])
        assert.deepStrictEqual(parts.flatMap((p) => p.type === "text-delta" ? [p.delta] : []), ["Hel", "lo ", "world"])
        const finish = parts.find((p) => p.type === "finish")!
        assert.strictEqual(finish.reason, "stop")
        assert.deepStrictEqual(
          { ...finish.usage },
          { inputTokens: 40, outputTokens: 3, totalTokens: 43, reasoningTokens: 0, cachedInputTokens: 32 }
        )
        const req = only(server)
        assert.strictEqual(req.body.stream, true)
        assert.strictEqual(req.path, "/v1/responses")
      })
    ))

  it.live("tools: two calls in one turn run through the handler layer, and the next turn sends the results paired by call id", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const calls = yield* Ref.make<Array<string>>([])
        server.enqueue(
          Reply.toolCalls([
            { callId: "call_weather", name: "GetWeather", arguments: { city: "Paris" } },
            { callId: "call_time", name: "GetTime", arguments: { city: "Tokyo" } }
          ], { usage: usage(80, 20) }),
          Reply.json("It is 21°C in Paris and 09:30 in Tokyo.")
        )
        const chat = yield* Chat.empty
        const first = yield* chat.generateText({ prompt: "Weather in Paris, time in Tokyo?", toolkit: Tools }).pipe(
          Effect.provide(handlersRecording(calls))
        )
        assert.strictEqual(first.finishReason, "tool-calls")
        assert.deepStrictEqual(
          first.toolCalls.map((c) => [c.id, c.name, c.params]),
          [["call_weather", "GetWeather", { city: "Paris" }], ["call_time", "GetTime", { city: "Tokyo" }]]
        )
        assert.deepStrictEqual(
          first.toolResults.map((r) => [r.id, r.name, r.isFailure, r.result]),
          [["call_weather", "GetWeather", false, { city: "Paris", celsius: 21 }], [
            "call_time",
            "GetTime",
            false,
            "09:30 in Tokyo"
          ]]
        )
        assert.deepStrictEqual(yield* Ref.get(calls), ["GetWeather(Paris)", "GetTime(Tokyo)"])

        const second = yield* chat.generateText({ prompt: [], toolkit: Tools }).pipe(
          Effect.provide(handlersRecording(calls))
        )
        assert.strictEqual(second.text, "It is 21°C in Paris and 09:30 in Tokyo.")
        assert.strictEqual(second.finishReason, "stop")

        assert.strictEqual(server.requests.length, 2)
        const [one, two] = server.requests
        // the tools as sent: strict function tools with JSON schemas; tool_choice "auto"
        assert.strictEqual(one!.body.tool_choice, "auto")
        assert.deepStrictEqual(one!.body.tools.map((t: any) => [t.type, t.name, t.description, t.strict]), [
          ["function", "GetWeather", "The current weather in a city", true],
          ["function", "GetTime", "The local time in a city", true]
        ])
        assert.deepStrictEqual(one!.body.tools[0].parameters, {
          type: "object",
          required: ["city"],
          properties: { city: { type: "string" } },
          additionalProperties: false
        })
        // the second turn: the calls, then their outputs, each paired by call_id
        assert.deepStrictEqual(two!.body.input, [
          { role: "user", content: [{ type: "input_text", text: "Weather in Paris, time in Tokyo?" }] },
          { type: "function_call", call_id: "call_weather", name: "GetWeather", arguments: "{\"city\":\"Paris\"}" },
          { type: "function_call", call_id: "call_time", name: "GetTime", arguments: "{\"city\":\"Tokyo\"}" },
          {
            type: "function_call_output",
            call_id: "call_weather",
            output: JSON.stringify({ city: "Paris", celsius: 21 })
          },
          { type: "function_call_output", call_id: "call_time", output: JSON.stringify("09:30 in Tokyo") }
        ])
      })
    ))

  it.live("tools, streamed: arguments arrive in deltas, each call is resolved, the finish reason is tool-calls", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const calls = yield* Ref.make<Array<string>>([])
        server.enqueue(Reply.sseToolCalls([
          { callId: "call_a", name: "GetWeather", arguments: { city: "Oslo" } },
          { callId: "call_b", name: "GetTime", arguments: { city: "Lima" } }
        ]))
        const { error, parts } = yield* drain(
          LanguageModel.streamText({ prompt: "Oslo weather, Lima time", toolkit: Tools })
        ).pipe(Effect.provide(handlersRecording(calls)))
        assert.isUndefined(error)
        const deltas = parts.flatMap((p) => p.type === "tool-params-delta" ? [[p.id, p.delta]] : [])
        assert.strictEqual(deltas.filter(([id]) => id === "call_a").map(([, d]) => d).join(""), "{\"city\":\"Oslo\"}")
        assert.strictEqual(deltas.filter(([id]) => id === "call_b").map(([, d]) => d).join(""), "{\"city\":\"Lima\"}")
        assert.isAbove(deltas.length, 2)
        assert.deepStrictEqual(
          parts.flatMap((p) => p.type === "tool-call" ? [[p.id, p.name, p.params]] : []),
          [["call_a", "GetWeather", { city: "Oslo" }], ["call_b", "GetTime", { city: "Lima" }]]
        )
        assert.deepStrictEqual(
          parts.flatMap((p) => p.type === "tool-result" ? [[p.id, p.result]] : []),
          [["call_a", { city: "Oslo", celsius: 21 }], ["call_b", "09:30 in Lima"]]
        )
        assert.strictEqual(parts.find((p) => p.type === "finish")!.reason, "tool-calls")
        assert.deepStrictEqual(yield* Ref.get(calls), ["GetWeather(Oslo)", "GetTime(Lima)"])
      })
    ))

  it.live("tool-call arguments that are not JSON fail generateText with MalformedOutput and run no handler", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const calls = yield* Ref.make<Array<string>>([])
        server.enqueue(Reply.toolCalls([{ callId: "call_x", name: "GetWeather", arguments: "{\"city\": \"Par" }]))
        const e = yield* failure(
          LanguageModel.generateText({ prompt: "Weather?", toolkit: Tools }).pipe(
            Effect.provide(handlersRecording(calls))
          )
        )
        assert.strictEqual(e._tag, "MalformedOutput")
        assert.strictEqual((e as AiError.MalformedOutput).module, "OpenAiLanguageModel")
        assert.strictEqual((e as AiError.MalformedOutput).method, "makeResponse")
        assert.deepStrictEqual(yield* Ref.get(calls), [])
      })
    ))

  it.live("generateObject: sends a strict json_schema text format and decodes the reply", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const Repo = Schema.Struct({ title: Schema.String, stars: Schema.Number })
        server.enqueue(Reply.object({ title: "Braid", stars: 5 }))
        const r = yield* LanguageModel.generateObject({ prompt: "Describe the repo", schema: Repo, objectName: "repo" })
        assert.deepStrictEqual(r.value, { title: "Braid", stars: 5 })
        const format = only(server).body.text.format
        assert.strictEqual(format.type, "json_schema")
        assert.strictEqual(format.name, "repo")
        assert.strictEqual(format.strict, true)
        assert.deepStrictEqual(format.schema, {
          type: "object",
          required: ["title", "stars"],
          properties: { title: { type: "string" }, stars: { type: "number" } },
          additionalProperties: false
        })
      })
    ))

  it.live("generateObject: a reply that does not match the schema fails with MalformedOutput", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const Repo = Schema.Struct({ title: Schema.String, stars: Schema.Number })
        server.enqueue(Reply.object({ title: "Braid", stars: "five" }))
        const e = yield* failure(LanguageModel.generateObject({ prompt: "Describe", schema: Repo, objectName: "repo" }))
        assert.strictEqual(e._tag, "MalformedOutput")
        assert.strictEqual(
          (e as AiError.MalformedOutput).description,
          "Generated object failed to conform to provided schema"
        )
      })
    ))

  it.live("an image in the prompt is sent as an input_image data URL", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        yield* LanguageModel.generateText({
          prompt: [{
            role: "user",
            content: [{ type: "text", text: "What is this?" }, { type: "file", mediaType: "image/png", data: png }]
          }]
        })
        assert.deepStrictEqual(only(server).body.input[0].content, [
          { type: "input_text", text: "What is this?" },
          {
            type: "input_image",
            image_url: `data:image/png;base64,${Buffer.from(png).toString("base64")}`,
            detail: "auto"
          }
        ])
      })
    ))

  it.live("a file of a media type other than images and PDF fails with MalformedInput before any request", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const e = yield* failure(LanguageModel.generateText({
          prompt: [{
            role: "user",
            content: [{ type: "file", mediaType: "audio/wav", data: new Uint8Array([1, 2, 3]) }]
          }]
        }))
        assert.strictEqual(e._tag, "MalformedInput")
        assert.strictEqual(
          (e as AiError.MalformedInput).description,
          "Detected unsupported media type for file: 'audio/wav'"
        )
        assert.strictEqual(server.requests.length, 0)
      })
    ))
})

describe("@effect/ai-openai under faults: what the raw provider returns (the guard layer normalises this)", () => {
  it.live("429 fails with HttpResponseError StatusCode 429, retry-after readable, no retry (JSON and streamed)", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.rateLimited(2), Reply.rateLimited(3))
        const e = yield* failure(LanguageModel.generateText({ prompt: "Hi" }))
        assert.instanceOf(e, AiError.HttpResponseError)
        const r = e as AiError.HttpResponseError
        assert.strictEqual(r.reason, "StatusCode")
        assert.strictEqual(r.response.status, 429)
        assert.strictEqual(r.response.headers["retry-after"], "2")
        assert.strictEqual(r.module, "OpenAiClient")
        assert.strictEqual(r.method, "createResponse")
        assert.deepStrictEqual(JSON.parse(r.body!).error.code, "rate_limit_exceeded")
        assert.strictEqual(server.requests.length, 1)

        const { error, parts } = yield* drain(LanguageModel.streamText({ prompt: "Hi" }))
        assert.deepStrictEqual(parts, [])
        assert.instanceOf(error, AiError.HttpResponseError)
        const s = error as AiError.HttpResponseError
        assert.strictEqual(s.reason, "StatusCode")
        assert.strictEqual(s.response.status, 429)
        assert.strictEqual(s.response.headers["retry-after"], "3")
        assert.strictEqual(s.method, "streamRequest")
        assert.strictEqual(s.description, "non 2xx status code")
        assert.strictEqual(server.requests.length, 2)
      })
    ))

  it.live("500 and 503 fail with HttpResponseError StatusCode and the status; no retry", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.serverError(), Reply.unavailable())
        const e500 = (yield* failure(LanguageModel.generateText({ prompt: "Hi" }))) as AiError.HttpResponseError
        assert.strictEqual(e500._tag, "HttpResponseError")
        assert.strictEqual(e500.reason, "StatusCode")
        assert.strictEqual(e500.response.status, 500)
        const { error, parts } = yield* drain(LanguageModel.streamText({ prompt: "Hi" }))
        assert.deepStrictEqual(parts, [])
        const e503 = error as AiError.HttpResponseError
        assert.strictEqual(e503._tag, "HttpResponseError")
        assert.strictEqual(e503.reason, "StatusCode")
        assert.strictEqual(e503.response.status, 503)
        assert.strictEqual(server.requests.length, 2)
      })
    ))

  it.live("a malformed JSON body fails with HttpResponseError Decode (status 200) whose body and message carry the API key", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.malformed())
        const e = (yield* failure(LanguageModel.generateText({ prompt: "Hi" }))) as AiError.HttpResponseError
        assert.strictEqual(e._tag, "HttpResponseError")
        assert.strictEqual(e.reason, "Decode")
        assert.strictEqual(e.response.status, 200)
        assert.strictEqual(e.method, "createResponse")
        assert.isUndefined(e.description)
        // `body` is the formatted client error, which holds the request with its Authorization
        // header in clear, and the message repeats the body
        assert.include(e.body!, `Bearer ${KEY}`)
        assert.include(e.message, `Bearer ${KEY}`)
      })
    ))

  it.live("secrets: every HTTP error keeps the request's Authorization header in clear (JSON.stringify shows it)", () =>
    withServer((server) =>
      Effect.gen(function*() {
        // Inspectable.redact only redacts inside Effect's own printing (the logger, Cause.pretty),
        // so the header is raw on the error object; only Decode errors put it in the message
        server.enqueue(Reply.rateLimited(1), Reply.serverError(), Reply.dropBeforeReply(), Reply.malformed())
        const errors: Array<AiError.HttpResponseError | AiError.HttpRequestError> = []
        for (let i = 0; i < 4; i++) {
          errors.push((yield* failure(LanguageModel.generateText({ prompt: "Hi" }))) as AiError.HttpResponseError)
        }
        assert.deepStrictEqual(errors.map((e) => [e._tag, e.reason]), [
          ["HttpResponseError", "StatusCode"],
          ["HttpResponseError", "StatusCode"],
          ["HttpRequestError", "Transport"],
          ["HttpResponseError", "Decode"]
        ])
        for (const e of errors) {
          assert.strictEqual(e.request.headers["authorization"], `Bearer ${KEY}`)
          assert.include(JSON.stringify(e), KEY)
        }
        assert.deepStrictEqual(errors.map((e) => e.message.includes(KEY)), [false, false, false, true])
      })
    ))

  it.live("JSON of the wrong shape fails with MalformedOutput from OpenAiClient.createResponse", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.raw(JSON.stringify({ hello: "world" })))
        const e = (yield* failure(LanguageModel.generateText({ prompt: "Hi" }))) as AiError.MalformedOutput
        assert.strictEqual(e._tag, "MalformedOutput")
        assert.strictEqual(e.module, "OpenAiClient")
        assert.strictEqual(e.method, "createResponse")
      })
    ))

  it.live("a malformed SSE stream succeeds with no parts at all (every undecodable event is skipped)", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(
          Reply.malformedSse(["Hel", "lo"]),
          Reply.raw("this is not an event stream\n\n", "text/event-stream")
        )
        const first = yield* drain(LanguageModel.streamText({ prompt: "Hi" }))
        assert.isUndefined(first.error)
        assert.deepStrictEqual(first.parts, [])
        const second = yield* drain(LanguageModel.streamText({ prompt: "Hi" }))
        assert.isUndefined(second.error)
        assert.deepStrictEqual(second.parts, [])
      })
    ))

  it.live("an `error` event midway: the stream succeeds, ending with an error part and no finish part", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.streamError(["Hel"], { code: "server_error", message: "boom" }))
        const { error, parts } = yield* drain(LanguageModel.streamText({ prompt: "Hi" }))
        assert.isUndefined(error)
        assert.deepStrictEqual(parts.map((p) => p.type), ["response-metadata", "text-start", "text-delta", "error"])
        const last = parts[parts.length - 1]!
        assert.strictEqual(last.type, "error")
        assert.deepStrictEqual(
          (last as { readonly error: unknown }).error,
          { type: "error", sequence_number: 5, code: "server_error", message: "boom", param: null }
        )
      })
    ))

  it.live("a `response.failed` event midway: the stream succeeds with a finish part, reason \"stop\", no error part", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.streamFailed(["Hel"], { code: "server_error", message: "boom" }))
        const { error, parts } = yield* drain(LanguageModel.streamText({ prompt: "Hi" }))
        assert.isUndefined(error)
        assert.deepStrictEqual(parts.map((p) => p.type), ["response-metadata", "text-start", "text-delta", "finish"])
        const finish = parts.find((p) => p.type === "finish")!
        // the failure is invisible: a normal stop, and usage with no token counts
        assert.strictEqual(finish.reason, "stop")
        assert.deepStrictEqual(
          { ...finish.usage },
          {
            inputTokens: undefined,
            outputTokens: undefined,
            totalTokens: 0,
            reasoningTokens: undefined,
            cachedInputTokens: undefined
          }
        )
      })
    ))

  it.live("after an `error` or `response.failed` event the stream reads on until the server closes: held open, it never ends", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.streamError(["Hel"], { hold: true }), Reply.streamFailed(["Hel"], { hold: true }))
        for (const last of ["error", "finish"]) {
          const seen = yield* Ref.make<Array<string>>([])
          const outcome = yield* LanguageModel.streamText({ prompt: "Hi" }).pipe(
            Stream.tap((p) => Ref.update(seen, (a) => [...a, p.type])),
            Stream.runDrain,
            Effect.timeoutOption(Duration.seconds(2))
          )
          assert.isTrue(Option.isNone(outcome))
          assert.deepStrictEqual(yield* Ref.get(seen), ["response-metadata", "text-start", "text-delta", last])
        }
        assert.strictEqual(server.stalled(), 2)
        yield* waitFor(() => server.aborted() === 2)
        assert.strictEqual(server.aborted(), 2)
      })
    ))

  it.live("a connection dropped midway: the parts so far, then HttpResponseError Decode (status 200) carrying the key", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.dropMidStream(["Hel", "lo"]))
        const { error, parts } = yield* drain(LanguageModel.streamText({ prompt: "Hi" }))
        assert.deepStrictEqual(parts.map((p) => p.type), [
          "response-metadata",
          "text-start",
          "text-delta",
          "text-delta"
        ])
        const e = error as AiError.HttpResponseError
        assert.strictEqual(e._tag, "HttpResponseError")
        assert.strictEqual(e.reason, "Decode")
        assert.strictEqual(e.response.status, 200)
        assert.strictEqual(e.method, "streamRequest")
        assert.include(e.body!, `Bearer ${KEY}`)
      })
    ))

  it.live("a connection dropped midway, on NodeHttpClient: undici fails as fetch does; node:http never ends the stream", () =>
    Effect.gen(function*() {
      const dropped = (http: Layer.Layer<HttpClient.HttpClient>) =>
        withServer(
          (server) =>
            Effect.gen(function*() {
              server.enqueue(Reply.dropMidStream(["Hel", "lo"]))
              const seen = yield* Ref.make<Array<string>>([])
              const outcome = yield* LanguageModel.streamText({ prompt: "Hi" }).pipe(
                Stream.tap((p) => Ref.update(seen, (a) => [...a, p.type])),
                Stream.runDrain,
                Effect.either,
                Effect.timeoutOption(Duration.seconds(2))
              )
              return { outcome, seen: yield* Ref.get(seen) }
            }),
          "gpt-4o-mini",
          http
        )
      const parts = ["response-metadata", "text-start", "text-delta", "text-delta"]
      const undici = yield* dropped(NodeHttpClient.layerUndici)
      assert.deepStrictEqual(undici.seen, parts)
      assert.isTrue(Option.isSome(undici.outcome) && Either.isLeft(undici.outcome.value))
      const e = Option.getOrThrow(undici.outcome).pipe(Either.flip, Either.getOrThrow) as AiError.HttpResponseError
      assert.strictEqual(e._tag, "HttpResponseError")
      assert.strictEqual(e.reason, "Decode")
      // node:http: the parts so far, then neither an error nor an end (still waiting after 2 s)
      const node = yield* dropped(NodeHttpClient.layer)
      assert.deepStrictEqual(node.seen, parts)
      assert.isTrue(Option.isNone(node.outcome))
    }))

  it.live("a connection dropped before any reply fails with HttpRequestError Transport (JSON and streamed)", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.dropBeforeReply(), Reply.dropBeforeReply())
        const e = (yield* failure(LanguageModel.generateText({ prompt: "Hi" }))) as AiError.HttpRequestError
        assert.strictEqual(e._tag, "HttpRequestError")
        assert.strictEqual(e.reason, "Transport")
        assert.strictEqual(e.method, "createResponse")
        assert.notInclude(e.message, KEY)
        const { error, parts } = yield* drain(LanguageModel.streamText({ prompt: "Hi" }))
        assert.deepStrictEqual(parts, [])
        const s = error as AiError.HttpRequestError
        assert.strictEqual(s._tag, "HttpRequestError")
        assert.strictEqual(s.reason, "Transport")
        assert.strictEqual(s.method, "streamRequest")
        assert.strictEqual(server.requests.length, 2)
      })
    ))

  it.live("a reply that stalls after its headers is never bounded by the provider; interrupting it closes the connection", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(Reply.stallAfterHeaders())
        const r = yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.timeoutOption(Duration.seconds(2)))
        assert.isTrue(Option.isNone(r))
        assert.strictEqual(server.stalled(), 1)
        yield* waitFor(() => server.aborted() === 1)
        assert.strictEqual(server.aborted(), 1)
      })
    ))
})
