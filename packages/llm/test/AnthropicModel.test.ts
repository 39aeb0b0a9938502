import { AnthropicModel, LanguageModel } from "@braid/llm"
import type { TestServer } from "@braid/llm/testing/AnthropicTestServer"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Exit, Fiber, Layer, Redacted, Stream } from "effect"

const KEY = "sk-ant-test-0123456789abcdef"

const withServer = <A, E>(
  f: (server: TestServer, model: LanguageModel.Service) => Effect.Effect<A, E>,
  options: Partial<AnthropicModel.Options> = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* scoped()
    const model = AnthropicModel.makeWith({ apiKey: Redacted.make(KEY), baseURL: server.url, ...options })
    return yield* f(server, model)
  }))

const hello: LanguageModel.Request = { messages: [LanguageModel.user("Hello")] }

const failure = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.flatMap(
    Effect.either(self),
    (e) => Either.isLeft(e) ? Effect.succeed(e.left) : Effect.dieMessage("expected a failure")
  )

const waitFor = (cond: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20))
  })

describe("AnthropicModel (real SDK against the local test server)", () => {
  it.live("generate maps text, stop reason, model and usage, and sends one well-formed request", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.json("Hi there!", {
          model: "claude-sonnet-5-5-20260901",
          usage: { input_tokens: 12, output_tokens: 4, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
        }))
        const r = yield* model.generate({
          system: "Be friendly.",
          messages: [LanguageModel.user("Hello"), LanguageModel.assistant("Hi"), LanguageModel.user("How are you?")],
          maxTokens: 50,
          temperature: 0.2,
          stopSequences: ["\n\nHuman:"]
        })
        assert.strictEqual(r.text, "Hi there!")
        assert.strictEqual(r.stopReason, "end_turn")
        assert.strictEqual(r.model, "claude-sonnet-5-5-20260901")
        assert.deepStrictEqual(r.usage, {
          inputTokens: 12,
          outputTokens: 4,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          estimated: false
        })
        assert.strictEqual(server.requests.length, 1)
        const req = server.requests[0]!
        assert.strictEqual(req.path, "/v1/messages")
        // this SDK version sends the key as a bearer token
        assert.strictEqual(req.headers["authorization"], `Bearer ${KEY}`)
        assert.isString(req.headers["anthropic-version"])
        assert.strictEqual(req.body.model, "claude-sonnet-5-5")
        assert.strictEqual(req.body.max_tokens, 50)
        assert.strictEqual(req.body.system, "Be friendly.")
        assert.strictEqual(req.body.temperature, 0.2)
        assert.deepStrictEqual(req.body.stop_sequences, ["\n\nHuman:"])
        assert.strictEqual(req.body.messages.length, 3)
      })
    ))

  it.live("a cached system prompt is sent with cache_control and cache tokens are accounted", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(
          Reply.json("a", {
            usage: { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 2048, cache_read_input_tokens: 0 }
          }),
          Reply.json("b", {
            usage: { input_tokens: 11, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 2048 }
          })
        )
        const system = { text: "A long, stable system prompt.", cache: true }
        const first = yield* model.generate({ system, messages: [LanguageModel.user("1")] })
        const second = yield* model.generate({ system, messages: [LanguageModel.user("2")] })
        assert.deepStrictEqual(server.requests[0]!.body.system, [
          { type: "text", text: "A long, stable system prompt.", cache_control: { type: "ephemeral" } }
        ])
        assert.strictEqual(first.usage.cacheWriteTokens, 2048)
        assert.strictEqual(first.usage.cacheReadTokens, 0)
        assert.strictEqual(second.usage.cacheReadTokens, 2048)
        assert.strictEqual(second.usage.inputTokens, 11)
      })
    ))

  it.live("a response without usage is estimated and marked so", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.json("twelve chars", { usage: null }))
        const r = yield* model.generate(hello)
        assert.isTrue(r.usage.estimated)
        assert.strictEqual(r.usage.outputTokens, 3)
        assert.isAbove(r.usage.inputTokens, 0)
      })
    ))

  it.live("tool definitions are sent and tool calls are returned", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.json("", { toolUse: { id: "toolu_1", name: "weather", input: { city: "Paris" } } }))
        const r = yield* model.generate({
          ...hello,
          tools: [{
            name: "weather",
            description: "Current weather",
            inputSchema: { properties: { city: { type: "string" } } }
          }]
        })
        assert.strictEqual(r.stopReason, "tool_use")
        assert.deepStrictEqual(r.toolCalls, [{ id: "toolu_1", name: "weather", input: { city: "Paris" } }])
        assert.deepStrictEqual(server.requests[0]!.body.tools[0].input_schema, {
          type: "object",
          properties: { city: { type: "string" } }
        })
      })
    ))

  it.live("429 is RateLimited with the retry-after hint, transient, after exactly one request", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.rateLimited(2))
        const e = yield* failure(model.generate(hello))
        assert.strictEqual(e._tag, "RateLimited")
        assert.isTrue(e.transient)
        assert.strictEqual(e._tag === "RateLimited" ? e.retryAfterMillis : -1, 2000)
        assert.strictEqual(server.requests.length, 1)
      })
    ))

  it.live("529, 500, 401 and 400 map to Overloaded, ServerError, AuthenticationFailed and BadRequest", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.overloaded(), Reply.serverError(), Reply.unauthorized(), Reply.badRequest())
        const errors = yield* Effect.all([1, 2, 3, 4].map(() => failure(model.generate(hello))))
        assert.deepStrictEqual(errors.map((e) => e._tag), [
          "Overloaded",
          "ServerError",
          "AuthenticationFailed",
          "BadRequest"
        ])
        assert.deepStrictEqual(errors.map((e) => e.transient), [true, true, false, false])
        assert.strictEqual(errors[1]!._tag === "ServerError" ? errors[1]!.status : 0, 500)
        assert.include(errors[3]!.message, "messages: field required")
        assert.strictEqual(server.requests.length, 4)
      })
    ))

  it.live("malformed JSON is MalformedResponse", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.malformed())
        const e = yield* failure(model.generate(hello))
        assert.strictEqual(e._tag, "MalformedResponse")
      })
    ))

  it.live("a slow reply past the timeout is ModelTimeout, with no SDK retry", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.slow(3000, Reply.json("late")))
        const e = yield* failure(model.generate(hello))
        assert.strictEqual(e._tag, "ModelTimeout")
        assert.isTrue(e.transient)
        assert.strictEqual(server.requests.length, 1)
      }), { timeoutMillis: 200 }))

  it.live("interrupting generate aborts the HTTP request", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.slow(1500, Reply.json("late")))
        const fiber = yield* Effect.fork(model.generate(hello))
        yield* waitFor(() => server.requests.length === 1)
        yield* Effect.sleep("50 millis")
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        yield* waitFor(() => server.aborted() === 1)
        assert.strictEqual(server.aborted(), 1)
      })
    ))

  it.live("stream yields text deltas then a Finish with the provider's usage", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.sse(["Once ", "upon ", "a time."], {
          model: "claude-haiku-4-5",
          usage: { input_tokens: 20, output_tokens: 6, cache_read_input_tokens: 5, cache_creation_input_tokens: 0 }
        }))
        const events = Array.from(yield* Stream.runCollect(model.stream(hello)))
        const deltas = events.flatMap((e) => e._tag === "TextDelta" ? [e.text] : [])
        assert.deepStrictEqual(deltas, ["Once ", "upon ", "a time."])
        const last = events[events.length - 1]!
        assert.strictEqual(last._tag, "Finish")
        if (last._tag === "Finish") {
          assert.strictEqual(last.response.text, "Once upon a time.")
          assert.strictEqual(last.response.model, "claude-haiku-4-5")
          assert.deepStrictEqual(last.response.usage, {
            inputTokens: 20,
            outputTokens: 6,
            cacheReadTokens: 5,
            cacheWriteTokens: 0,
            estimated: false
          })
        }
        assert.isTrue(server.requests[0]!.body.stream)
      })
    ))

  it.live("a connection dropped mid-stream fails with ConnectionFailed after the deltas received", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.dropMidStream(["Hello ", "wor"]))
        const seen: Array<string> = []
        const exit = yield* Effect.exit(Stream.runForEach(model.stream(hello), (e) =>
          Effect.sync(() => {
            if (e._tag === "TextDelta") seen.push(e.text)
          })))
        assert.deepStrictEqual(seen, ["Hello ", "wor"])
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const err = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.strictEqual(err?._tag, "ConnectionFailed")
          assert.isTrue(err?.transient)
        }
      })
    ))

  it.live("stream errors before the body are typed too (429 on a stream)", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.rateLimited(1))
        const e = yield* failure(Stream.runDrain(model.stream(hello)))
        assert.strictEqual(e._tag, "RateLimited")
        assert.strictEqual(e._tag === "RateLimited" ? e.retryAfterMillis : 0, 1000)
      })
    ))

  it.live("stopping a stream early aborts the request", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.sse(Array.from({ length: 50 }, (_, i) => `w${i} `), { gapMillis: 30 }))
        const first = yield* Stream.runCollect(Stream.take(model.stream(hello), 2))
        assert.strictEqual(first.length, 2)
        yield* waitFor(() => server.aborted() === 1)
        assert.strictEqual(server.aborted(), 1)
      })
    ))

  it.live("error messages never contain the API key, even when the server echoes it", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.echoAuth())
        const e = yield* failure(model.generate(hello))
        assert.strictEqual(e._tag, "BadRequest")
        assert.notInclude(e.message, KEY)
        assert.notInclude(JSON.stringify(e), KEY)
        assert.notInclude(String(e), KEY)
        assert.notMatch(e.message, /Bearer\s+sk-/)
        assert.include(e.message, "[redacted]")
      })
    ))

  it.live("the layer reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL through Config", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      server.enqueue(Reply.json("configured"))
      const provider = ConfigProvider.fromMap(new Map([["ANTHROPIC_API_KEY", KEY], ["ANTHROPIC_BASE_URL", server.url]]))
      const r = yield* LanguageModel.generate(hello).pipe(
        Effect.provide(
          AnthropicModel.layer({ model: "claude-haiku-4-5" }).pipe(Layer.provide(Layer.setConfigProvider(provider)))
        )
      )
      assert.strictEqual(r.text, "configured")
      assert.strictEqual(server.requests[0]!.headers["authorization"], `Bearer ${KEY}`)
      assert.strictEqual(server.requests[0]!.body.model, "claude-haiku-4-5")
      const missing = yield* Effect.either(
        LanguageModel.generate(hello).pipe(
          Effect.provide(
            AnthropicModel.layer().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map()))))
          )
        )
      )
      assert.isTrue(Either.isLeft(missing))
    })))
})
