/**
 * Cross-package: the Anthropic adapter's typed errors drive @braid/resilience's default retry
 * predicate structurally (transient + retryAfterMillis), through the real SDK against the local
 * Messages API test server.
 */
import { Ai, AiErrors, AnthropicLanguageModel } from "@braid/llm"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { Retry } from "@braid/resilience"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"

const hello = Ai.LanguageModel.generateText({ prompt: "hello" })

describe("model errors and the default retry policy", () => {
  it.live("retries 429 and 529 honouring retry-after, and does not retry 400", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      const model = AnthropicLanguageModel.layer({ apiKey: Redacted.make("sk-ant-t"), baseURL: server.url })
      server.enqueue(Reply.rateLimited(0.3), Reply.overloaded(), Reply.json("finally"))
      const start = Date.now()
      const ok = yield* Retry.effect(hello, { maxAttempts: 4, baseDelay: "10 millis" }).pipe(
        Effect.provide(model)
      )
      const elapsed = Date.now() - start
      assert.strictEqual(ok.text, "finally")
      assert.strictEqual(server.requests.length, 3) // maxRetries 0: every attempt is Braid's
      assert.isAtLeast(elapsed, 290) // the 0.3 s retry-after hint was honoured

      server.enqueue(Reply.badRequest())
      const bad = yield* Effect.either(
        Retry.effect(hello, { maxAttempts: 4, baseDelay: "10 millis" }).pipe(
          Effect.provide(model)
        )
      )
      assert.isTrue(Either.isLeft(bad) && AiErrors.toModelError(bad.left)._tag === "BadRequest")
      assert.strictEqual(server.requests.length, 4) // not retried
    })))
})
