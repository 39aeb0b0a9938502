import { Ai, AiErrors, AnthropicLanguageModel } from "@braid/llm"
import type { Errors } from "@braid/llm"
import type { Behaviour, TestServer } from "@braid/llm/testing/AnthropicTestServer"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Option, Redacted, Stream, TestClock } from "effect"

const KEY = "sk-ant-test-0123456789abcdef"
const BOUND = 30_000

/** The adapter's calls, with Braid's errors (`AiErrors.toModelError`) and the stream's text deltas. */
interface Model {
  readonly generate: () => Effect.Effect<
    Ai.LanguageModel.GenerateTextResponse<Record<string, never>>,
    Errors.ModelError
  >
  readonly stream: () => Stream.Stream<{ readonly _tag: "TextDelta"; readonly text: string }, Errors.ModelError>
}

const withServer = <A, E>(f: (server: TestServer, model: Model) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* scoped()
    const lm = yield* Effect.provide(
      Ai.LanguageModel.LanguageModel,
      AnthropicLanguageModel.layer({ apiKey: Redacted.make(KEY), baseURL: server.url, timeoutMillis: BOUND })
    )
    const model: Model = {
      generate: () => AiErrors.mapToModelError(lm.generateText({ prompt: "Hello" })),
      stream: () =>
        lm.streamText({ prompt: "Hello" }).pipe(
          Stream.filterMap((p) =>
            p.type === "text-delta" ? Option.some({ _tag: "TextDelta" as const, text: p.delta }) : Option.none()
          ),
          Stream.mapError(AiErrors.toModelError)
        )
    }
    return yield* f(server, model)
  }))

/** Waits (in real time: the server is real) until `cond` holds; fails the test if it never does. */
const waitFor = (what: string, cond: () => boolean) =>
  Effect.flatMap(
    Effect.promise(async () => {
      for (let i = 0; i < 250 && !cond(); i++) await new Promise((r) => setTimeout(r, 20))
      return cond()
    }),
    (ok) => (ok ? Effect.void : Effect.dieMessage(`timed out waiting for ${what}`))
  )

const stalls: ReadonlyArray<readonly [string, Behaviour]> = [
  ["stalls after its headers", Reply.stallAfterHeaders()],
  ["stalls mid-body", Reply.stallMidBody()],
  ["sends keep-alive bytes and pings, then nothing", Reply.pingsThenStall(10)]
]

// The bound runs on Effect's Clock: TestClock moves it, the server and the sockets stay real.
describe("AnthropicLanguageModel: timeoutMillis covers the body (TestClock)", () => {
  for (const [name, behaviour] of stalls) {
    it.effect(
      `generate: a reply that ${name} fails with ModelTimeout at the bound, and the request is aborted`,
      () =>
        withServer((server, model) =>
          Effect.gen(function*() {
            server.enqueue(behaviour)
            const fiber = yield* Effect.fork(Effect.either(model.generate()))
            yield* waitFor("the stall", () => server.stalled() === 1)
            yield* TestClock.adjust(BOUND - 1)
            assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "not before the bound")
            yield* TestClock.adjust(1)
            const result = yield* Fiber.join(fiber)
            assert.isTrue(Either.isLeft(result))
            if (Either.isLeft(result)) {
              assert.strictEqual(result.left._tag, "ModelTimeout")
              assert.strictEqual(result.left._tag === "ModelTimeout" ? result.left.timeoutMillis : 0, BOUND)
              assert.isTrue(result.left.transient)
            }
            yield* waitFor("the socket to close", () => server.aborted() === 1)
            assert.strictEqual(server.requests.length, 1)
          })
        ),
      20_000
    )

    it.effect(
      `stream: a reply that ${name} fails with ModelTimeout at the idle bound, and the request is aborted`,
      () =>
        withServer((server, model) =>
          Effect.gen(function*() {
            server.enqueue(behaviour)
            const deltas: Array<string> = []
            const fiber = yield* Effect.fork(Effect.either(Stream.runForEach(model.stream(), (e) =>
              Effect.sync(() => {
                if (e._tag === "TextDelta") deltas.push(e.text)
              }))))
            yield* waitFor("the stall", () => server.stalled() === 1)
            if (behaviour._tag === "Stall" && behaviour.after !== "headers") {
              yield* waitFor("the first delta", () => deltas.length === 1)
            }
            yield* TestClock.adjust(BOUND - 1)
            assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "not before the bound")
            yield* TestClock.adjust(1)
            const result = yield* Fiber.join(fiber)
            assert.isTrue(Either.isLeft(result))
            if (Either.isLeft(result)) {
              assert.strictEqual(result.left._tag, "ModelTimeout")
              assert.strictEqual(result.left._tag === "ModelTimeout" ? result.left.timeoutMillis : 0, BOUND)
            }
            assert.deepStrictEqual(deltas, behaviour._tag === "Stall" && behaviour.after !== "headers" ? ["par"] : [])
            yield* waitFor("the socket to close", () => server.aborted() === 1)
          })
        ),
      20_000
    )
  }
})

// Without the fix, interrupting a stalled stream waited on the socket (Node's 300 s body
// timeout, or forever with keep-alive bytes): these tests then fail on their own timeout.
describe("AnthropicLanguageModel: interrupting a stalled call", () => {
  for (const [name, behaviour] of stalls) {
    it.live(
      `generate: interrupting a reply that ${name} returns and aborts the request`,
      () =>
        withServer((server, model) =>
          Effect.gen(function*() {
            server.enqueue(behaviour)
            const fiber = yield* Effect.fork(model.generate())
            yield* waitFor("the stall", () => server.stalled() === 1)
            const exit = yield* Fiber.interrupt(fiber)
            assert.isTrue(Exit.isInterrupted(exit))
            yield* waitFor("the socket to close", () => server.aborted() === 1)
          })
        ),
      15_000
    )

    it.live(
      `stream: interrupting a reply that ${name} returns and aborts the request`,
      () =>
        withServer((server, model) =>
          Effect.gen(function*() {
            server.enqueue(behaviour)
            const fiber = yield* Effect.fork(Stream.runDrain(model.stream()))
            yield* waitFor("the stall", () => server.stalled() === 1)
            // let the adapter reach the wait for the body
            yield* Effect.sleep("50 millis")
            const exit = yield* Fiber.interrupt(fiber)
            assert.isTrue(Exit.isInterrupted(exit))
            yield* waitFor("the socket to close", () => server.aborted() === 1)
          })
        ),
      15_000
    )
  }

  it.live(
    "a stream consumer that stops while the body is stalled returns and aborts the request",
    () =>
      withServer((server, model) =>
        Effect.gen(function*() {
          server.enqueue(Reply.pingsThenStall(10))
          const first = yield* Stream.runHead(model.stream())
          assert.deepStrictEqual(first, Option.some({ _tag: "TextDelta", text: "par" } as const))
          yield* waitFor("the socket to close", () => server.aborted() === 1)
        })
      ),
    15_000
  )
})

describe("AnthropicLanguageModel: dropped connections", () => {
  it.live("drops and aborts leave no unhandled error event or rejection", () =>
    Effect.gen(function*() {
      const unhandled: Array<unknown> = []
      const onError = (e: unknown) => unhandled.push(e)
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.on("unhandledRejection", onError)
          process.on("uncaughtException", onError)
        }),
        () =>
          Effect.sync(() => {
            process.off("unhandledRejection", onError)
            process.off("uncaughtException", onError)
          })
      )
      yield* withServer((server, model) =>
        Effect.gen(function*() {
          // the server drops the connection mid-stream
          server.enqueue(Reply.dropMidStream(["a", "b"]))
          const dropped = yield* Effect.either(Stream.runDrain(model.stream()))
          assert.isTrue(Either.isLeft(dropped) && dropped.left._tag === "ConnectionFailed")
          // the client drops connections: interruption mid-body, for generate and for stream
          server.enqueue(Reply.stallMidBody(), Reply.stallMidBody())
          const g = yield* Effect.fork(model.generate())
          yield* waitFor("the first stall", () => server.stalled() === 1)
          yield* Fiber.interrupt(g)
          const s = yield* Effect.fork(Stream.runDrain(model.stream()))
          yield* waitFor("the second stall", () => server.stalled() === 2)
          yield* Effect.sleep("50 millis")
          yield* Fiber.interrupt(s)
          yield* waitFor("both sockets to close", () => server.aborted() === 2)
          // the server goes away with a request in flight
          server.enqueue(Reply.stallAfterHeaders())
          const late = yield* Effect.fork(Effect.either(model.generate()))
          yield* waitFor("the third stall", () => server.stalled() === 3)
          yield* Effect.promise(() => server.close())
          const gone = yield* Fiber.join(late)
          assert.isTrue(Either.isLeft(gone) && gone.left._tag === "ConnectionFailed")
        })
      )
      // give late events (socket errors, rejected promises) a chance to surface
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(unhandled, [])
    }).pipe(Effect.scoped), 20_000)
})
