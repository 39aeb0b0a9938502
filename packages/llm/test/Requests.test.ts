import { AnthropicModel, Errors, LanguageModel, ScriptedModel } from "@braid/llm"
import type { TestServer } from "@braid/llm/testing/AnthropicTestServer"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Either, Exit, FastCheck as fc, Redacted, Stream } from "effect"

const KEY = "sk-ant-test-0123456789abcdef"

const withServer = <A, E>(f: (server: TestServer, model: LanguageModel.Service) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* scoped()
    const model = AnthropicModel.makeWith({ apiKey: Redacted.make(KEY), baseURL: server.url })
    return yield* f(server, model)
  }))

const failure = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.flatMap(
    Effect.either(self),
    (e) => Either.isLeft(e) ? Effect.succeed(e.left) : Effect.dieMessage("expected a failure")
  )

const hello: LanguageModel.Request = { messages: [LanguageModel.user("Hello")] }

// --- hostile values for the fuzzers -------------------------------------------------------------

const deep = (n: number): unknown => {
  let v: unknown = { type: "object" }
  for (let i = 0; i < n; i++) v = { a: v }
  return v
}
const cyclic = (): unknown => {
  const o: Record<string, unknown> = { type: "object" }
  o["self"] = o
  return o
}
const protoKey = () => JSON.parse("{\"__proto__\": {\"polluted\": true}, \"type\": \"object\"}") as unknown

const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ withBigInt: true, withNullPrototype: true, withObjectString: true, maxDepth: 2 }),
  fc.constantFrom<unknown>(NaN, Infinity, -Infinity, -1, 0, 1.5, "", undefined, null, BigInt(7), [], {}),
  fc.constant(protoKey()),
  fc.constant(cyclic())
)

const maybe = <A>(arb: fc.Arbitrary<A>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 6, arbitrary: arb }, { weight: 1, arbitrary: weird })

const tool = fc.record({
  name: maybe(fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom("a:b", "a/b", "a.b", "a|b", "__proto__"))),
  description: maybe(fc.string()),
  inputSchema: fc.oneof(
    fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
    fc.constantFrom<unknown>(cyclic(), deep(1500), { n: BigInt(1) }, { x: NaN }, { y: Infinity }, protoKey()),
    weird
  )
}, { requiredKeys: [] })

const request: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      model: maybe(fc.string()),
      system: maybe(
        fc.oneof(fc.string(), fc.record({ text: maybe(fc.string()), cache: maybe(fc.boolean()) }, { requiredKeys: [] }))
      ),
      messages: maybe(fc.array(
        fc.record({ role: maybe(fc.constantFrom("user", "assistant")), content: maybe(fc.string()) }, {
          requiredKeys: []
        }),
        { maxLength: 3 }
      )),
      maxTokens: maybe(fc.oneof(fc.integer({ min: -5, max: 4096 }), fc.double())),
      temperature: maybe(fc.double()),
      stopSequences: maybe(fc.array(fc.string(), { maxLength: 2 })),
      tools: maybe(fc.array(tool, { maxLength: 2 })),
      metadata: maybe(fc.record({ agent: maybe(fc.string()) }, { requiredKeys: [] }))
    }, { requiredKeys: ["messages"] })
  },
  { weight: 1, arbitrary: weird }
)

/** The outcome allowed for any input: a response, or a typed InvalidRequest naming a field. */
const checkOutcome = (exit: Exit.Exit<unknown, Errors.ModelError>): "ok" | "invalid" => {
  if (Exit.isSuccess(exit)) return "ok"
  const error = Cause.failureOption(exit.cause)
  if (error._tag === "None") throw new Error(`not a typed failure: ${Cause.pretty(exit.cause)}`)
  if (error.value._tag !== "InvalidRequest") throw new Error(`unexpected ${error.value._tag}: ${error.value.message}`)
  if (error.value.field === "" || error.value.transient) {
    throw new Error(`bad InvalidRequest: ${JSON.stringify(error.value)}`)
  }
  return "invalid"
}

describe("requests are validated before anything is sent", () => {
  it.live("messages: undefined is a non-transient InvalidRequest naming the field, and no request is sent", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        const bad = { messages: undefined } as unknown as LanguageModel.Request
        let attempts = 0
        const e = yield* failure(
          Effect.suspend(() => {
            attempts++
            return model.generate(bad)
          }).pipe(Effect.retry({ times: 3, while: (e) => e.transient }))
        )
        assert.strictEqual(e._tag, "InvalidRequest")
        assert.strictEqual(e._tag === "InvalidRequest" ? e.field : "", "messages")
        assert.include(e.message, "messages")
        assert.isFalse(e.transient)
        assert.strictEqual(attempts, 1)
        const s = yield* failure(Stream.runDrain(model.stream(bad)))
        assert.strictEqual(s._tag, "InvalidRequest")
        assert.strictEqual(server.requests.length, 0)
      })
    ))

  it.live("a field of the wrong type, NaN, a BigInt, a cycle or a __proto__ key in a tool schema is named", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [unknown, string]> = [
          [{ messages: [{ role: "user", content: 42 }] }, "messages[0].content"],
          [{ messages: [{ role: "system", content: "x" }] }, "messages[0].role"],
          [{ ...hello, temperature: NaN }, "temperature"],
          [{ ...hello, maxTokens: 0 }, "maxTokens"],
          [{ ...hello, maxTokens: 1.5 }, "maxTokens"],
          [{ ...hello, tools: [{ name: "t", inputSchema: { n: BigInt(1) } }] }, "tools[0].inputSchema.n"],
          [{ ...hello, tools: [{ name: "t", inputSchema: cyclic() }] }, "tools[0].inputSchema.self"],
          [{ ...hello, tools: [{ name: "t", inputSchema: protoKey() }] }, "tools[0].inputSchema"],
          [{ ...hello, tools: [{ name: "t", inputSchema: deep(1500) }] }, "tools[0].inputSchema.a"]
        ]
        for (const [req, field] of cases) {
          const e = yield* failure(model.generate(req as LanguageModel.Request))
          assert.strictEqual(e._tag, "InvalidRequest", JSON.stringify(field))
          if (e._tag === "InvalidRequest") assert.isTrue(e.field.startsWith(field), `${e.field} names ${field}`)
        }
        assert.strictEqual(server.requests.length, 0)
        // an undefined optional field is the same as an absent one
        const ok = yield* model.generate({ ...hello, temperature: undefined } as unknown as LanguageModel.Request)
        assert.strictEqual(ok.text, "ok")
      })
    ))

  it.effect("fuzz (scripted model): any input is answered or refused with InvalidRequest, never a defect", () =>
    Effect.gen(function*() {
      const model = yield* Effect.provide(LanguageModel.LanguageModel, ScriptedModel.layer())
      const outcomes = { ok: 0, invalid: 0 }
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(request, async (req) => {
            const r = req as LanguageModel.Request
            outcomes[checkOutcome(await Effect.runPromiseExit(model.generate(r)))]++
            checkOutcome(await Effect.runPromiseExit(Stream.runDrain(model.stream(r))))
          }),
          // both sides are always exercised, whatever the random draws
          { numRuns: 300, examples: [[hello], [{ ...hello, temperature: NaN }]] }
        )
      )
      assert.isAbove(outcomes.ok, 0)
      assert.isAbove(outcomes.invalid, 0)
    }))

  it.live("fuzz (Anthropic adapter): an invalid request sends nothing, a valid one is sent once", () =>
    withServer((server, model) =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(request, async (req) => {
            const before = server.requests.length
            const outcome = checkOutcome(await Effect.runPromiseExit(model.generate(req as LanguageModel.Request)))
            if (server.requests.length !== before + (outcome === "ok" ? 1 : 0)) {
              throw new Error(`${outcome}: ${server.requests.length - before} request(s) sent`)
            }
          }),
          { numRuns: 60, examples: [[hello], [{ messages: undefined }]] }
        )
      )
    ))
})

describe("toModelError: only network failures are transient", () => {
  it("a TypeError that is not the network is a non-transient InvalidRequest", () => {
    const e = AnthropicModel.toModelError(new TypeError("Cannot read properties of undefined (reading 'map')"), [])
    assert.strictEqual(e._tag, "InvalidRequest")
    assert.isFalse(e.transient)
  })

  it("fetch failures and bodies cut short are ConnectionFailed", () => {
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })
    })
    const cut = new TypeError("terminated", { cause: new Error("other side closed") })
    for (const err of [refused, cut]) {
      const e = AnthropicModel.toModelError(err, [])
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
      const model = AnthropicModel.makeWith({ apiKey: Redacted.make(KEY), baseURL: url })
      const e = yield* failure(model.generate(hello))
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
        const a = yield* failure(model.generate(hello))
        assert.strictEqual(a._tag, "MalformedResponse")
        assert.include(a.message, "content")
        const b = yield* failure(model.generate(hello))
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
            ["message_stop", {}]
          ]),
          Reply.rawSse([
            start,
            ["content_block_start", { index: 0, content_block: { type: "tool_use", id: "t1", name: "weather" } }],
            ["content_block_delta", {
              index: 0,
              delta: { type: "input_json_delta", partial_json: "{\"__proto__\": {\"x\": 1}}" }
            }],
            ["message_stop", {}]
          ])
        )
        const a = yield* failure(Stream.runDrain(model.stream(hello)))
        assert.strictEqual(a._tag, "MalformedResponse")
        assert.include(a.message, "message.model")
        const b = yield* failure(Stream.runDrain(model.stream(hello)))
        assert.strictEqual(b._tag, "MalformedResponse")
        assert.include(b.message, "delta")
        const c = yield* failure(Stream.runDrain(model.stream(hello)))
        assert.strictEqual(c._tag, "MalformedResponse")
        assert.include(c.message, "tool weather")
        const d = yield* failure(Stream.runDrain(model.stream(hello)))
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
          ["message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } }],
          ["message_stop", {}]
        ]))
        const { response } = yield* LanguageModel.streamCollect(hello).pipe(
          Effect.provideService(LanguageModel.LanguageModel, model)
        )
        assert.strictEqual(response.stopReason, "tool_use")
        assert.deepStrictEqual(response.toolCalls, [{ id: "t1", name: "weather", input: { city: "Paris" } }])
        assert.strictEqual(response.usage.outputTokens, 9)
      })
    ))

  it.live("an error event mid-stream is typed by its error type (api_error is a transient ServerError)", () =>
    withServer((server, model) =>
      Effect.gen(function*() {
        server.enqueue(
          Reply.rawSse([start, ["error", { error: { type: "overloaded_error", message: "Overloaded" } }]]),
          Reply.rawSse([start, ["error", { error: { type: "api_error", message: "Internal server error" } }]])
        )
        const a = yield* failure(Stream.runDrain(model.stream(hello)))
        assert.strictEqual(a._tag, "Overloaded")
        const b = yield* failure(Stream.runDrain(model.stream(hello)))
        assert.strictEqual(b._tag, "ServerError")
        assert.isTrue(b.transient)
      })
    ))
})

describe("LanguageModel.streamCollect", () => {
  it.effect("a stream that ends without its Finish event is a typed MalformedResponse, not a defect", () =>
    Effect.gen(function*() {
      const noFinish = LanguageModel.layer({
        provider: "broken",
        defaultModel: "broken-1",
        generate: () => Effect.die("unused"),
        stream: () => Stream.make({ _tag: "TextDelta", text: "a" } as const)
      })
      const exit = yield* Effect.exit(LanguageModel.streamCollect(hello).pipe(Effect.provide(noFinish)))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = Cause.failureOption(exit.cause)
        assert.strictEqual(error._tag === "Some" ? error.value._tag : "defect", "MalformedResponse")
      }
    }))
})
