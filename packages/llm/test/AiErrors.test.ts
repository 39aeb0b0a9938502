import { Ai, AiErrors, AnthropicLanguageModel, Errors } from "@braid/llm"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option, Redacted, Stream, TestClock } from "effect"

const request = {
  method: "POST" as const,
  url: "https://api.example.com/v1/chat",
  urlParams: [],
  hash: Option.none(),
  headers: {}
}
const response = (status: number, headers: Record<string, string> = {}) =>
  new Ai.AiError.HttpResponseError({
    module: "Other",
    method: "call",
    reason: "StatusCode",
    request,
    response: { status, headers }
  })

describe("AiErrors: the classifier of other providers' AiErrors", () => {
  it("classifies HTTP statuses, with the retry-after hint", () => {
    const limited = AiErrors.toModelError(response(429, { "Retry-After": "2" }))
    assert.strictEqual(limited._tag, "RateLimited")
    assert.strictEqual(AiErrors.retryAfterMillis(response(429, { "retry-after-ms": "750" })), 750)
    assert.strictEqual(limited._tag === "RateLimited" ? limited.retryAfterMillis : 0, 2000)
    assert.deepStrictEqual(
      [401, 403, 408, 400, 422, 500, 503, 529].map((s) => AiErrors.toModelError(response(s))._tag),
      [
        "AuthenticationFailed",
        "AuthenticationFailed",
        "ModelTimeout",
        "BadRequest",
        "BadRequest",
        "ServerError",
        "ServerError",
        "Overloaded"
      ]
    )
    assert.isTrue(AiErrors.isTransient(response(503)))
    assert.isFalse(AiErrors.isTransient(response(400)))
  })

  it("classifies transport, input, output and unknown errors", () => {
    const transport = new Ai.AiError.HttpRequestError({ module: "Other", method: "call", reason: "Transport", request })
    assert.strictEqual(AiErrors.toModelError(transport)._tag, "ConnectionFailed")
    assert.isTrue(AiErrors.isTransient(transport))
    const encode = new Ai.AiError.HttpRequestError({ module: "Other", method: "call", reason: "Encode", request })
    assert.strictEqual(AiErrors.toModelError(encode)._tag, "InvalidRequest")
    assert.strictEqual(
      AiErrors.toModelError(new Ai.AiError.MalformedInput({ module: "m", method: "x" }))._tag,
      "InvalidRequest"
    )
    const output = AiErrors.toModelError(
      new Ai.AiError.MalformedOutput({ module: "m", method: "x", description: "bad" })
    )
    assert.strictEqual(output._tag, "MalformedResponse")
    assert.isTrue(output.transient)
    assert.include(output.message, "bad")
    const unknown = AiErrors.toModelError(new Ai.AiError.UnknownError({ module: "m", method: "x" }))
    assert.strictEqual(unknown._tag, "MalformedResponse")
    assert.isFalse(unknown.transient)
  })

  it("round trip: a Braid error carried by its AiError variant comes back as it is", () => {
    const errors: ReadonlyArray<Errors.ModelError> = [
      new Errors.RateLimited({ message: "slow", retryAfterMillis: 1200 }),
      new Errors.Overloaded({ message: "busy" }),
      new Errors.ServerError({ message: "boom", status: 502 }),
      new Errors.BadRequest({ message: "no", status: 400 }),
      new Errors.AuthenticationFailed({ message: "key" }),
      new Errors.ConnectionFailed({ message: "reset" }),
      new Errors.ModelTimeout({ message: "slow", timeoutMillis: 10 }),
      new Errors.InvalidRequest({ message: "bad", field: "x" }),
      new Errors.MalformedResponse({ message: "junk" }),
      new Errors.BudgetExceeded({ message: "spent", scope: "run", key: "r", unit: "usd", limit: 1, spent: 2 }),
      new Errors.CassetteMiss({ message: "miss", fingerprint: "f", request: "r" })
    ]
    const foreign: Array<string> = []
    const variants = errors.map((e) => {
      const carried = AiErrors.fromModelError(e, { module: "M", method: "generateText" })
      assert.isTrue(Ai.AiError.isAiError(carried))
      assert.strictEqual(AiErrors.toModelError(carried), e)
      assert.strictEqual(carried.transient, e.transient)
      // a foreign reader sees the same classification from the variant alone
      foreign.push(AiErrors.toModelError({ ...carried, modelError: undefined })._tag)
      return carried._tag
    })
    assert.deepStrictEqual(variants, [
      "HttpResponseError",
      "HttpResponseError",
      "HttpResponseError",
      "HttpResponseError",
      "HttpResponseError",
      "HttpRequestError",
      "HttpRequestError",
      "MalformedInput",
      "MalformedOutput",
      "UnknownError",
      "UnknownError"
    ])
    assert.deepStrictEqual(foreign, [
      "RateLimited",
      "Overloaded",
      "ServerError",
      "BadRequest",
      "AuthenticationFailed",
      "ConnectionFailed",
      "ConnectionFailed",
      "InvalidRequest",
      "MalformedResponse",
      "MalformedResponse",
      "MalformedResponse"
    ])
    const limited = AiErrors.fromModelError(errors[0]!, { module: "M", method: "x" })
    assert.strictEqual(limited.retryAfterMillis, 1200)
  })
})

const waitFor = (cond: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 250 && !cond(); i++) await new Promise((r) => setTimeout(r, 20))
  })

describe("AnthropicLanguageModel: the bound runs on Effect's Clock (TestClock)", () => {
  const BOUND = 30_000
  const withModel = <A, E>(f: (server: any, model: Ai.LanguageModel.Service) => Effect.Effect<A, E>) =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      const model = yield* Ai.fromProvider(AnthropicLanguageModel.makeProvider({
        apiKey: Redacted.make("sk-ant-timeout-123456"),
        baseURL: server.url,
        timeoutMillis: BOUND
      }))
      return yield* f(server, model)
    }))

  it.effect(
    "generateText: a stalled reply fails with a transient ModelTimeout at the bound; the request is aborted",
    () =>
      withModel((server, model) =>
        Effect.gen(function*() {
          server.enqueue(Reply.stallMidBody())
          const fiber = yield* Effect.fork(Effect.either(model.generateText({ prompt: "hi" })))
          yield* waitFor(() => server.stalled() === 1)
          yield* TestClock.adjust(BOUND - 1)
          assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
          yield* TestClock.adjust(1)
          const result = yield* Fiber.join(fiber)
          assert.isTrue(Either.isLeft(result))
          if (Either.isLeft(result)) {
            assert.strictEqual(AiErrors.toModelError(result.left)._tag, "ModelTimeout")
            assert.isTrue(AiErrors.isTransient(result.left))
          }
          yield* waitFor(() => server.aborted() === 1)
          assert.strictEqual(server.aborted(), 1)
        })
      ),
    20_000
  )

  it.effect(
    "streamText: a stream that goes quiet fails at the idle bound; the request is aborted",
    () =>
      withModel((server, model) =>
        Effect.gen(function*() {
          server.enqueue(Reply.pingsThenStall(10))
          const fiber = yield* Effect.fork(Effect.either(Stream.runDrain(model.streamText({ prompt: "hi" }))))
          yield* waitFor(() => server.stalled() === 1)
          yield* TestClock.adjust(BOUND)
          const result = yield* Fiber.join(fiber)
          assert.isTrue(Either.isLeft(result))
          if (Either.isLeft(result)) assert.strictEqual(AiErrors.toModelError(result.left)._tag, "ModelTimeout")
          yield* waitFor(() => server.aborted() === 1)
          assert.strictEqual(server.aborted(), 1)
        })
      ),
    20_000
  )
})
