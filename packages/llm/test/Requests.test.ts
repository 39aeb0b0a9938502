/**
 * The Anthropic adapter at its edges: what the SDK throws is typed (only network failures are
 * transient), and the provider's answers are decoded, never cast.
 */
import { Ai, AiErrors, AnthropicLanguageModel } from "@braid/llm"
import type { TestServer } from "@braid/llm/testing/AnthropicTestServer"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Effect, Either, Redacted, Schema, Stream } from "effect"
import { toModelError } from "../src/internal/anthropic.js"

const KEY = "sk-ant-test-0123456789abcdef"

const withServer = <A, E>(
  f: (server: TestServer, model: Layer.Layer<Ai.LanguageModel.LanguageModel, any>) => Effect.Effect<A, E>
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* scoped()
    const model = AnthropicLanguageModel.layer({ apiKey: Redacted.make(KEY), baseURL: server.url })
    return yield* f(server, model)
  }))

/** The Braid error a call failed with. */
const failure = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Effect.either(self),
    (e) => {
      return Either.isLeft(e) ? Effect.succeed(AiErrors.toModelError(e.left)) : Effect.dieMessage("expected a failure")
    }
  )

const generate = Ai.LanguageModel.generateText({ prompt: "Hello" })
const stream = Stream.runDrain(Ai.LanguageModel.streamText({ prompt: "Hello" }))

const Weather = Ai.Tool.make("weather", { parameters: { city: Schema.String }, success: Schema.String })
const Tools = Ai.Toolkit.make(Weather)
/** A stream offering the weather tool (its calls not run: the parts are the provider's). */
const streamTools = Ai.LanguageModel.streamText({ prompt: "Hello", toolkit: Tools, disableToolCallResolution: true })
  .pipe(
    Stream.runCollect,
    Effect.provide(Tools.toLayer({ weather: () => Effect.succeed("") }))
  )

describe("toModelError: only network failures are transient", () => {
  it("a TypeError that is not the network is a non-transient InvalidRequest", () => {
    const e = toModelError(new TypeError("Cannot read properties of undefined (reading 'map')"), [])
    assert.strictEqual(e._tag, "InvalidRequest")
    assert.isFalse(e.transient)
  })

  it("fetch failures and bodies cut short are ConnectionFailed", () => {
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })
    })
    const cut = new TypeError("terminated", { cause: new Error("other side closed") })
    for (const err of [refused, cut]) {
      const e = toModelError(err, [])
      assert.strictEqual(e._tag, "ConnectionFailed")
      assert.isTrue(e.transient)
    }
  })

  it.live("a port nobody listens on is ConnectionFailed (transient)", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() =>
        import("@braid/llm/testing/AnthropicTestServer").then((m) => m.start())
      )
      const url = server.url
      yield* Effect.promise(() => server.close())
      const model = AnthropicLanguageModel.layer({ apiKey: Redacted.make(KEY), baseURL: url })
      const e = yield* failure(Effect.provide(generate, model))
      assert.strictEqual(e._tag, "ConnectionFailed")
      assert.isTrue(e.transient)
    }))
})

describe("the provider's answers are decoded, never cast", () => {
  it.live("a JSON reply of the wrong shape is MalformedResponse naming the field", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(
          Reply.raw(JSON.stringify({ type: "message", content: "not an array" })),
          Reply.raw(JSON.stringify({ type: "message", content: [{ type: "text", text: 5 }] }))
        )
        const a = yield* failure(Effect.provide(generate, model))
        assert.strictEqual(a._tag, "MalformedResponse")
        assert.include(a.message, "content")
        const b = yield* failure(Effect.provide(generate, model))
        assert.strictEqual(b._tag, "MalformedResponse")
        assert.include(b.message, "content[0]")
      })
    ))

  const start = ["message_start", {
    message: { model: "claude-test", usage: { input_tokens: 1, output_tokens: 1 } }
  }] as const

  it.live("stream events of the wrong shape, and tool input that is not JSON, are MalformedResponse", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(
          Reply.rawSse([["message_start", { message: { usage: {} } }]]),
          Reply.rawSse([start, ["content_block_delta", { index: 0, delta: { type: "text_delta", text: 7 } }]]),
          Reply.rawSse([
            start,
            ["content_block_start", { index: 0, content_block: { type: "tool_use", id: "t1", name: "weather" } }],
            ["content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: "{\"city\": " } }],
            ["content_block_stop", { index: 0 }],
            ["message_stop", {}]
          ]),
          Reply.rawSse([
            start,
            ["content_block_start", { index: 0, content_block: { type: "tool_use", id: "t1", name: "weather" } }],
            ["content_block_delta", {
              index: 0,
              delta: { type: "input_json_delta", partial_json: "{\"__proto__\": {\"x\": 1}}" }
            }],
            ["content_block_stop", { index: 0 }],
            ["message_stop", {}]
          ])
        )
        const a = yield* failure(Effect.provide(stream, model))
        assert.strictEqual(a._tag, "MalformedResponse")
        assert.include(a.message, "message.model")
        const b = yield* failure(Effect.provide(stream, model))
        assert.strictEqual(b._tag, "MalformedResponse")
        assert.include(b.message, "delta")
        const c = yield* failure(Effect.provide(streamTools, model))
        assert.strictEqual(c._tag, "MalformedResponse")
        assert.include(c.message, "tool weather")
        const d = yield* failure(Effect.provide(streamTools, model))
        assert.strictEqual(d._tag, "MalformedResponse")
        assert.include(d.message, "__proto__")
      })
    ))

  it.live("unknown events and blocks are skipped; a tool call streams its input", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(Reply.rawSse([
          start,
          ["some_future_event", { whatever: true }],
          ["content_block_start", { index: 0, content_block: { type: "thinking", thinking: "" } }],
          ["content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "hmm" } }],
          ["content_block_start", { index: 1, content_block: { type: "tool_use", id: "t1", name: "weather" } }],
          ["content_block_delta", {
            index: 1,
            delta: { type: "input_json_delta", partial_json: "{\"city\": \"Paris\"}" }
          }],
          ["content_block_stop", { index: 1 }],
          ["message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } }],
          ["message_stop", {}]
        ]))
        const Weather = Ai.Tool.make("weather", {
          parameters: { city: Ai.Tool.EmptyParams.key },
          success: Ai.Tool.EmptyParams.key
        })
        const Tools = Ai.Toolkit.make(Weather)
        const parts = yield* Ai.LanguageModel.streamText({
          prompt: "Hello",
          toolkit: Tools,
          disableToolCallResolution: true
        }).pipe(
          Stream.runCollect,
          Effect.provide(Tools.toLayer({ weather: () => Effect.succeed("") })),
          Effect.provide(model)
        )
        const all = [...parts]
        const calls = all.flatMap((p) => (p.type === "tool-call" ? [{ id: p.id, name: p.name, params: p.params }] : []))
        assert.deepStrictEqual(calls, [{ id: "t1", name: "weather", params: { city: "Paris" } }])
        const finish = all.find((p) => p.type === "finish")
        assert.strictEqual(finish?.type === "finish" ? finish.reason : undefined, "tool-calls")
        assert.strictEqual(finish?.type === "finish" ? finish.usage.outputTokens : undefined, 9)
      })
    ))

  it.live("an error event mid-stream is typed by its error type (api_error is a transient ServerError)", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(
          Reply.rawSse([start, ["error", { error: { type: "overloaded_error", message: "Overloaded" } }]]),
          Reply.rawSse([start, ["error", { error: { type: "api_error", message: "Internal server error" } }]])
        )
        const a = yield* failure(Effect.provide(stream, model))
        assert.strictEqual(a._tag, "Overloaded")
        const b = yield* failure(Effect.provide(stream, model))
        assert.strictEqual(b._tag, "ServerError")
        assert.isTrue(b.transient)
      })
    ))
})
