import { Primitive, Runner } from "@braid/core"
import { Ai, AnthropicLanguageModel, Metered } from "@braid/llm"
import { Reply, scoped as testServer } from "@braid/llm/testing/AnthropicTestServer"
import { Observability } from "@braid/observability"
import { scoped as receiver } from "@braid/observability/testing/OtlpReceiver"
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Layer, Logger, LogLevel, Stream } from "effect"

const KEY = "sk-ant-api03-KNOWN-SECRET-9f8e7d6c5b4a"

/** Every way the key could leak: itself, and the raw header values the SDK sends. */
const forbidden = [KEY, `Bearer ${KEY}`, KEY.slice(0, 24)]

const leaks = (text: string): ReadonlyArray<string> => forbidden.filter((f) => text.includes(f))

describe("secrets never leave", () => {
  it("the scanner itself finds the key (so the test below can fail)", () => {
    assert.deepStrictEqual(leaks(`authorization: Bearer ${KEY}`), forbidden)
    assert.deepStrictEqual(leaks("nothing here"), [])
  })

  it.live("no exported span, console tree, OTLP payload, log line or error message of runs with a known key contains it", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* testServer()
      const rx = yield* receiver()
      server.enqueue(
        Reply.json("fine"),
        Reply.sse(["str", "eam"]),
        Reply.echoAuth(),
        Reply.unauthorized(),
        Reply.rateLimited(1),
        Reply.overloaded(),
        Reply.serverError(),
        Reply.malformed(),
        Reply.dropMidStream(["par", "tial"])
      )
      const logs: Array<string> = []
      const errors: Array<string> = []
      const captureLogger = Logger.make(({ message, cause, annotations }) => {
        logs.push(
          `${JSON.stringify(message)} ${Cause.pretty(cause)} ${JSON.stringify(Object.fromEntries(annotations))}`
        )
      })
      const tree: Array<string> = []
      const mem = Observability.inMemory()

      const attempt = <A, E, R>(label: string, self: Effect.Effect<A, E, R>) =>
        self.pipe(
          Effect.tapErrorCause((cause) =>
            Effect.sync(() => {
              errors.push(Cause.pretty(cause))
              for (const e of Cause.failures(cause)) {
                errors.push(String(e), JSON.stringify(e), (e as { message?: string }).message ?? "")
              }
            }).pipe(Effect.zipRight(Effect.logError(`${label} failed`, cause)))
          ),
          Effect.either
        )
      const pipeline = Primitive.make("calls", (_: void) =>
        Effect.gen(function*() {
          const prompt: Ai.Prompt.RawInput = [
            { role: "system", content: "You are careful.", options: { braid: { cache: true } } },
            { role: "user", content: "hello" }
          ]
          yield* attempt("generate", Ai.LanguageModel.generateText({ prompt }))
          yield* attempt("stream", Stream.runDrain(Ai.LanguageModel.streamText({ prompt })))
          for (let i = 0; i < 6; i++) yield* attempt(`generate ${i}`, Ai.LanguageModel.generateText({ prompt }))
          yield* attempt("stream drop", Stream.runDrain(Ai.LanguageModel.streamText({ prompt })))
          yield* Effect.logInfo("done")
        }))

      const config = Layer.setConfigProvider(
        ConfigProvider.fromMap(new Map([["ANTHROPIC_API_KEY", KEY], ["ANTHROPIC_BASE_URL", server.url]]))
      )
      const model = Metered.layer(AnthropicLanguageModel.layer(), { provider: "anthropic" }).pipe(Layer.provide(config))
      const run = (runId: string) =>
        Runner.run(pipeline, undefined, { runId }).pipe(
          Effect.provide(model),
          Effect.provide(Logger.replace(Logger.defaultLogger, captureLogger)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
      // 1. exported over OTLP/HTTP (JSON) to a local receiver
      yield* run("secret-run-otlp").pipe(
        Effect.provide(Observability.otlp({ url: rx.url, protocol: "json", serviceName: "secrets" }))
      )
      // 2. in memory
      const spans = yield* run("secret-run-mem").pipe(
        Effect.zipRight(Effect.sync(() => mem.spans())),
        Effect.provide(mem.layer)
      )
      // 3. the console tree
      yield* run("secret-run-console").pipe(Effect.provide(Observability.console({ write: (t) => tree.push(t) })))

      // the key really was used on the wire
      assert.isTrue(server.requests.every((r) => r.headers["authorization"] === `Bearer ${KEY}`))
      assert.isAtLeast(server.requests.length, 9)
      // and the runs produced material to scan, including errors
      assert.isAtLeast(spans.length, 10)
      assert.isAbove(rx.spans.length, 5)
      assert.isAbove(errors.length, 5)
      assert.isAbove(logs.length, 5)
      assert.isAbove(tree.length, 0)

      const spanTexts = spans.map((s) =>
        JSON.stringify({
          name: s.name,
          attributes: s.attributes,
          events: s.events,
          status: s.status,
          links: s.links,
          resource: s.resource.attributes
        })
      )
      const everything = [...spanTexts, ...rx.raw, ...logs, ...errors, ...tree]
      const found = everything.flatMap((t) => leaks(t).map((l) => `${l.slice(0, 12)}... in ${t.slice(0, 120)}`))
      assert.deepStrictEqual(found, [])
      // the echoing server's message was scrubbed, not dropped
      assert.isTrue(errors.some((e) => e.includes("***")))
    })))
})
