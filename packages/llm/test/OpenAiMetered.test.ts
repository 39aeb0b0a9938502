/**
 * @effect/ai-openai 0.41 behind `Metered`: whatever the raw provider does (see
 * OpenAiProvider.test.ts), the errors that leave the wrapper carry typed, transient-or-not Braid
 * errors, hold no API key anywhere (object, JSON, string, `Cause.pretty`, span, log), and the
 * `chat` span's `error.type` is the Braid error's tag.
 */
import { AiErrors, Errors, Metered } from "@braid/llm"
import type { TestServer } from "@braid/llm/testing/OpenAiTestServer"
import { Reply, scoped } from "@braid/llm/testing/OpenAiTestServer"
import { Observability } from "@braid/observability"
import { type AiError, LanguageModel } from "@effect/ai"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Either, Fiber, Layer, Logger, Redacted, Stream, TestClock } from "effect"
import { setTimeout as sleep } from "node:timers/promises"

const KEY = "sk-test-0123456789abcdef"

const metered = (server: TestServer, options: Metered.Options = {}) =>
  Metered.layer(
    OpenAiLanguageModel.layer({ model: "gpt-4o-mini" }).pipe(
      Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make(KEY), apiUrl: server.url })),
      Layer.provide(FetchHttpClient.layer)
    ),
    { provider: "openai", defaultModel: "gpt-4o-mini", baseUrl: server.url, ...options }
  )

/** The error of a call, or of a stream (with the parts it emitted first). */
const generateError = Effect.flatMap(
  Effect.either(LanguageModel.generateText({ prompt: "Hi" })),
  (e) => Either.isLeft(e) ? Effect.succeed(e.left) : Effect.dieMessage("expected a failure")
)
const streamError = Effect.gen(function*() {
  const items = Chunk.toArray(yield* Stream.runCollect(Stream.either(LanguageModel.streamText({ prompt: "Hi" }))))
  const error = items.find(Either.isLeft)?.left
  if (error === undefined) return yield* Effect.dieMessage("expected the stream to fail")
  return { error, parts: items.filter(Either.isRight).map((e) => e.right.type) }
})

/** Runs `f` against a fresh server, behind Metered, with in-memory spans and captured logs. */
const run = <A, E>(
  f: (server: TestServer) => Effect.Effect<A, E, LanguageModel.LanguageModel>,
  options: Metered.Options = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* scoped()
    const mem = Observability.inMemory()
    const logs: Array<string> = []
    const logger = Logger.replace(Logger.defaultLogger, Logger.map(Logger.logfmtLogger, (line) => logs.push(line)))
    // the spans are read while the tracer is up (its shutdown clears them)
    const [out, spans] = yield* Effect.zip(f(server), Effect.sync(() => mem.spans())).pipe(
      Effect.provide(mem.layer),
      Effect.provide(metered(server, options)),
      Effect.provide(logger)
    )
    return { out, spans, logs, server }
  }))

const noKey = (what: string, text: string) => {
  assert.notInclude(text, KEY, what)
  assert.notInclude(text, "0123456789abcdef", what)
}

/** Every printed form of the error, its span and the log line that reports it hold no key. */
const assertScrubbed = (error: unknown) => {
  noKey("JSON.stringify", JSON.stringify(error))
  noKey("String", String(error))
  noKey("Cause.pretty", Cause.pretty(Cause.fail(error)))
  noKey("message", (error as Error).message)
}

describe("@effect/ai-openai behind Metered: secrets scrubbed, faults typed", () => {
  it.live("401, 429, 500 and malformed JSON: the errors, spans and logs of generateText and streamText hold no API key", () =>
    Effect.gen(function*() {
      const { out, spans, logs } = yield* run((server) =>
        Effect.gen(function*() {
          server.enqueue(
            Reply.unauthorized(),
            Reply.rateLimited(2),
            Reply.serverError(),
            Reply.malformed(),
            Reply.unauthorized(),
            Reply.rateLimited(2),
            Reply.serverError(),
            Reply.dropMidStream(["Hel"])
          )
          const errors: Array<unknown> = []
          for (let i = 0; i < 4; i++) errors.push(yield* generateError)
          for (let i = 0; i < 4; i++) errors.push((yield* streamError).error)
          for (const e of errors) yield* Effect.logError("model call failed", Cause.fail(e))
          return errors
        })
      )
      // the raw provider's errors hold the key in clear (OpenAiProvider.test.ts); these do not
      assert.strictEqual(out.length, 8)
      for (const e of out) {
        assert.isTrue(AiErrors.isCarrying(e))
        assertScrubbed(e)
        assertScrubbed(AiErrors.toModelError(e))
      }
      assert.deepStrictEqual(out.map((e) => AiErrors.toModelError(e)._tag), [
        "AuthenticationFailed",
        "RateLimited",
        "ServerError",
        "MalformedResponse",
        "AuthenticationFailed",
        "RateLimited",
        "ServerError",
        "ConnectionFailed"
      ])
      assert.strictEqual(logs.length, 8)
      for (const line of logs) noKey("log line", line)
      const chats = spans.filter((s) => s.name === "chat gpt-4o-mini")
      assert.strictEqual(chats.length, 8)
      for (const s of chats) {
        noKey("span", JSON.stringify({ attributes: s.attributes, events: s.events, status: s.status }))
      }
    }))

  it.live("429 is RateLimited with its retry-after, transient; 500 and 503 are transient ServerErrors; 401 is not transient", () =>
    Effect.gen(function*() {
      const { out, server } = yield* run((server) =>
        Effect.gen(function*() {
          server.enqueue(Reply.rateLimited(2), Reply.rateLimited(3), Reply.serverError(), Reply.unavailable())
          server.enqueue(Reply.unauthorized())
          return [
            yield* generateError,
            (yield* streamError).error,
            yield* generateError,
            (yield* streamError).error,
            yield* generateError
          ]
        })
      )
      const [rl, rlStream, e500, e503] = out.map((e) => AiErrors.toModelError(e))
      assert.strictEqual(rl!._tag, "RateLimited")
      assert.strictEqual((rl as Errors.RateLimited).retryAfterMillis, 2000)
      assert.strictEqual(AiErrors.retryAfterMillis(out[0]), 2000)
      assert.strictEqual(rlStream!._tag, "RateLimited")
      assert.strictEqual((rlStream as Errors.RateLimited).retryAfterMillis, 3000)
      assert.deepStrictEqual([e500!._tag, (e500 as Errors.ServerError).status], ["ServerError", 500])
      assert.deepStrictEqual([e503!._tag, (e503 as Errors.ServerError).status], ["ServerError", 503])
      assert.deepStrictEqual(out.map(AiErrors.isTransient), [true, true, true, true, false])
      // the carrying AiError keeps what any @effect/ai user reads: variant, status, where it failed
      const carried = out[0] as AiError.HttpResponseError & AiErrors.Carried
      assert.strictEqual(carried._tag, "HttpResponseError")
      assert.strictEqual(carried.response.status, 429)
      assert.strictEqual(carried.module, "OpenAiClient")
      assert.strictEqual(carried.request.url, `${server.url}/responses`)
      assert.deepStrictEqual(carried.request.headers, {})
    }))

  it.live("stream faults: malformed stream, `error` event, `response.failed`, dropped connection: each a transient typed error", () =>
    Effect.gen(function*() {
      const { out } = yield* run((server) =>
        Effect.gen(function*() {
          server.enqueue(
            Reply.malformedSse(["Hel", "lo"]),
            Reply.streamError(["Hel"], { code: "server_error", message: "boom" }),
            Reply.streamError(["Hel"], { code: "rate_limit_exceeded", message: "slow down" }),
            Reply.streamFailed(["Hel"], { code: "server_error", message: "boom" }),
            Reply.dropMidStream(["Hel", "lo"])
          )
          const all = []
          for (let i = 0; i < 5; i++) all.push(yield* streamError)
          return all
        })
      )
      assert.deepStrictEqual(out.map((r) => AiErrors.toModelError(r.error)._tag), [
        "MalformedResponse",
        "MalformedResponse",
        "RateLimited",
        "MalformedResponse",
        "ConnectionFailed"
      ])
      assert.deepStrictEqual(out.map((r) => AiErrors.isTransient(r.error)), [true, true, true, true, true])
      assert.include(AiErrors.toModelError(out[1]!.error).message, "boom")
      assert.include(AiErrors.toModelError(out[3]!.error).message, "failed response")
      // the parts before the fault still reached the caller; the failed response's finish did not
      assert.deepStrictEqual(out[3]!.parts, ["response-metadata", "text-start", "text-delta"])
      assert.deepStrictEqual(out[4]!.parts, ["response-metadata", "text-start", "text-delta", "text-delta"])
    }))

  it.live("a failed response (status failed, no output, no usage) to generateText is a transient MalformedResponse, as in a stream", () =>
    Effect.gen(function*() {
      const { out, spans } = yield* run((server) =>
        Effect.gen(function*() {
          server.enqueue(Reply.failed({ message: "generation failed" }), Reply.streamFailed(["Hel"]))
          return [yield* generateError, (yield* streamError).error]
        })
      )
      for (const error of out) {
        const braid = AiErrors.toModelError(error)
        assert.strictEqual(braid._tag, "MalformedResponse")
        assert.include(braid.message, "failed response")
        assert.isTrue(AiErrors.isTransient(error))
      }
      const chats = spans.filter((s) => s.name === "chat gpt-4o-mini")
      assert.deepStrictEqual(chats.map((s) => s.attributes["error.type"]), ["MalformedResponse", "MalformedResponse"])
    }))

  it.effect("timeout: a server that stalls after its headers fails the call with a transient ModelTimeout at the bound, and the request is aborted", () =>
    Effect.gen(function*() {
      const { out, server } = yield* run((server) =>
        Effect.gen(function*() {
          server.enqueue(Reply.stallAfterHeaders(), Reply.stallAfterHeaders())
          const out = []
          for (const call of [generateError, Effect.map(streamError, (r) => r.error)]) {
            const fiber = yield* Effect.fork(call)
            const stalls = server.stalled()
            // real I/O: wait (generously) for the request to reach the server and stall there
            for (let i = 0; i < 1000 && server.stalled() === stalls; i++) yield* Effect.promise(() => sleep(5))
            assert.strictEqual(server.stalled(), stalls + 1)
            yield* TestClock.adjust("30 seconds")
            out.push(yield* Fiber.join(fiber))
          }
          return out
        }), { timeout: "30 seconds" })
      for (const error of out) {
        const braid = AiErrors.toModelError(error)
        assert.strictEqual(braid._tag, "ModelTimeout")
        assert.isTrue(AiErrors.isTransient(error))
      }
      for (let i = 0; i < 1000 && server.aborted() < 2; i++) yield* Effect.promise(() => sleep(5))
      assert.strictEqual(server.aborted(), 2)
    }))

  it.live("the chat span's error.type is the Braid error's tag (RateLimited, ServerError, ConnectionFailed), not HttpResponseError", () =>
    Effect.gen(function*() {
      const { spans } = yield* run((server) =>
        Effect.gen(function*() {
          server.enqueue(Reply.rateLimited(1), Reply.serverError(), Reply.dropMidStream(["Hel"]), Reply.json("ok"))
          yield* generateError
          yield* streamError
          yield* streamError
          yield* LanguageModel.generateText({ prompt: "Hi" })
        })
      )
      const chats = spans.filter((s) => s.name === "chat gpt-4o-mini")
      assert.deepStrictEqual(chats.map((s) => s.attributes["error.type"]), [
        "RateLimited",
        "ServerError",
        "ConnectionFailed",
        undefined
      ])
    }))
})
