import { AnthropicModel, DefaultModel, Errors, LanguageModel, RecordedModel, ScriptedModel } from "@braid/llm"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, Redacted, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const tmp = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-cassette-")), "c.json")

const conversation = Effect.gen(function*() {
  const a = yield* LanguageModel.generate({ system: "Be kind.", messages: [LanguageModel.user("hello")] })
  const b = yield* LanguageModel.generate({ messages: [LanguageModel.user("count")] })
  const c = yield* LanguageModel.generate({ messages: [LanguageModel.user("count")] })
  const s = yield* Stream.runCollect(LanguageModel.stream({ messages: [LanguageModel.user("story")] }))
  const e = yield* Effect.either(LanguageModel.generate({ messages: [LanguageModel.user("fail please")] }))
  return { a, b, c, s: Array.from(s), e }
})

describe("RecordedModel", () => {
  it.effect("records exchanges (responses, streams, typed errors) and replays them identically", () =>
    Effect.gen(function*() {
      const file = tmp()
      let n = 0
      const live = ScriptedModel.layer({
        rules: [
          { when: "count", reply: () => `call number ${++n}` },
          { when: "story", reply: "Once upon a time" }
        ],
        failures: [{
          when: (req) => LanguageModel.lastUserText(req) === "fail please",
          error: new Errors.RateLimited({ message: "slow down", retryAfterMillis: 1500 })
        }],
        default: "Hello, friend."
      })
      const recorded = yield* conversation.pipe(Effect.provide(RecordedModel.record(file, live)))
      assert.isTrue(fs.existsSync(file))
      const cassette = JSON.parse(fs.readFileSync(file, "utf8")) as RecordedModel.Cassette
      assert.strictEqual(cassette.entries.length, 5)
      assert.strictEqual(cassette.provider, "braid.scripted")

      const replayed = yield* conversation.pipe(Effect.provide(RecordedModel.replay(file)))
      assert.deepStrictEqual(JSON.stringify(replayed.a), JSON.stringify(recorded.a))
      // the n-th identical request gets the n-th recording
      assert.strictEqual(replayed.b.text, "call number 1")
      assert.strictEqual(replayed.c.text, "call number 2")
      assert.deepStrictEqual(JSON.stringify(replayed.s), JSON.stringify(recorded.s))
      assert.isTrue(Either.isLeft(replayed.e))
      if (Either.isLeft(replayed.e)) {
        assert.instanceOf(replayed.e.left, Errors.RateLimited)
        assert.strictEqual(replayed.e.left._tag === "RateLimited" ? replayed.e.left.retryAfterMillis : 0, 1500)
      }
    }))

  it.effect("a request missing from the cassette is a typed CassetteMiss naming it", () =>
    Effect.gen(function*() {
      const file = tmp()
      yield* LanguageModel.generate({ messages: [LanguageModel.user("known")] }).pipe(
        Effect.provide(RecordedModel.record(file, ScriptedModel.layer()))
      )
      const miss = yield* Effect.either(
        LanguageModel.generate({ messages: [LanguageModel.user("never asked")] }).pipe(
          Effect.provide(RecordedModel.replay(file))
        )
      )
      assert.isTrue(Either.isLeft(miss))
      if (Either.isLeft(miss)) {
        assert.strictEqual(miss.left._tag, "CassetteMiss")
        assert.include(miss.left.message, "never asked")
        assert.isFalse(miss.left.transient)
      }
      const none = yield* Effect.either(
        LanguageModel.generate({ messages: [LanguageModel.user("x")] }).pipe(
          Effect.provide(RecordedModel.replay(path.join(os.tmpdir(), "absent-cassette.json")))
        )
      )
      assert.isTrue(Either.isLeft(none) && none.left._tag === "CassetteMiss")
    }))
})

describe("RecordedModel: cassette files are decoded, and fail typed naming the file", () => {
  const write = (text: string) => {
    const file = tmp()
    fs.writeFileSync(file, text)
    return file
  }
  const valid = (entries: ReadonlyArray<unknown>) =>
    JSON.stringify({ version: 1, provider: "p", defaultModel: "m", entries })
  const ask = LanguageModel.generate({ messages: [LanguageModel.user("hi")] })

  it.effect("replay: a file that is not JSON, not a cassette, holds a __proto__ key or is a directory is a CassetteError", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        [write("{ not json"), "Parse", "not JSON"],
        [write("{\"__proto__\": {\"polluted\": true}, \"version\": 1}"), "Parse", "__proto__"],
        [write(JSON.stringify({ version: 2, provider: "p", defaultModel: "m", entries: [] })), "Decode", "version"],
        [write(valid([{ fingerprint: "f", kind: "sideways", request: {} }])), "Decode", "entries[0].kind"],
        [
          write(valid([{ fingerprint: "f", kind: "generate", request: {}, response: { text: 1 } }])),
          "Decode",
          "entries[0].response"
        ],
        [
          write(valid([{ fingerprint: "f", kind: "generate", request: {}, error: { _tag: "Nope", message: "x" } }])),
          "Decode",
          "entries[0].error"
        ],
        [write(valid([{ fingerprint: "f", kind: "generate", request: {} }])), "Decode", "entries[0]"],
        [fs.mkdtempSync(path.join(os.tmpdir(), "braid-cassette-dir-")), "Read", "could not be read"]
      ]
      for (const [file, reason, detail] of cases) {
        const result = yield* Effect.either(ask.pipe(Effect.provide(RecordedModel.replay(file))))
        assert.isTrue(Either.isLeft(result), file)
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, "CassetteError")
          if (result.left._tag === "CassetteError") {
            assert.strictEqual(result.left.reason, reason, result.left.message)
            assert.strictEqual(result.left.file, file)
            assert.include(result.left.message, file)
            assert.include(result.left.message, detail)
            assert.isFalse(result.left.transient)
          }
        }
      }
    }))

  it.effect("record: a bad existing cassette fails the layer; a cassette that cannot be written fails the call", () =>
    Effect.gen(function*() {
      const bad = write("[1, 2")
      const a = yield* Effect.either(ask.pipe(Effect.provide(RecordedModel.record(bad, ScriptedModel.layer()))))
      assert.isTrue(Either.isLeft(a) && a.left._tag === "CassetteError" && a.left.reason === "Parse")
      // a file where a directory should be
      const blocker = write("")
      const unwritable = path.join(blocker, "c.json")
      const b = yield* Effect.either(ask.pipe(Effect.provide(RecordedModel.record(unwritable, ScriptedModel.layer()))))
      assert.isTrue(Either.isLeft(b))
      if (Either.isLeft(b)) {
        assert.strictEqual(b.left._tag, "CassetteError")
        if (b.left._tag === "CassetteError") {
          assert.strictEqual(b.left.reason, "Write")
          assert.include(b.left.message, unwritable)
        }
      }
    }))

  it.effect("record: an invalid request is refused typed and not recorded", () =>
    Effect.gen(function*() {
      const file = tmp()
      const result = yield* Effect.either(
        LanguageModel.generate({ messages: undefined } as unknown as LanguageModel.Request).pipe(
          Effect.provide(RecordedModel.record(file, ScriptedModel.layer()))
        )
      )
      assert.isTrue(Either.isLeft(result) && result.left._tag === "InvalidRequest")
      assert.isFalse(fs.existsSync(file))
    }))
})

describe("DefaultModel", () => {
  it.effect("is the scripted model without ANTHROPIC_API_KEY and Anthropic with it", () =>
    Effect.gen(function*() {
      const offline = yield* Effect.map(LanguageModel.LanguageModel, (m) => m.provider).pipe(
        Effect.provide(
          DefaultModel.layer().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map()))))
        )
      )
      assert.strictEqual(offline, "braid.scripted")
      const online = yield* Effect.map(LanguageModel.LanguageModel, (m) => m.provider).pipe(
        Effect.provide(
          DefaultModel.layer().pipe(
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["ANTHROPIC_API_KEY", "sk-ant-x"]]))))
          )
        )
      )
      assert.strictEqual(online, "anthropic")
    }))
})

describe("RecordedModel over the Anthropic adapter", () => {
  it.live("records real SDK exchanges (generate, stream, a dropped stream) and replays them offline identically", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scoped()
      server.enqueue(
        Reply.json("Bonjour!", {
          model: "claude-sonnet-5-5-20260901",
          usage: { input_tokens: 7, output_tokens: 3, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
        }),
        Reply.sse(["Il ", "était ", "une fois"]),
        Reply.dropMidStream(["par", "tial"])
      )
      const file = tmp()
      const live = Layer.succeed(
        LanguageModel.LanguageModel,
        AnthropicModel.makeWith({ apiKey: Redacted.make("sk-ant-rec"), baseURL: server.url })
      )
      const session = Effect.gen(function*() {
        const g = yield* LanguageModel.generate({ messages: [LanguageModel.user("Say hello in French")] })
        const s = Array.from(
          yield* Stream.runCollect(LanguageModel.stream({ messages: [LanguageModel.user("Tell a story")] }))
        )
        const seen: Array<string> = []
        const d = yield* Effect.either(
          Stream.runForEach(
            LanguageModel.stream({ messages: [LanguageModel.user("Broken")] }),
            (e) =>
              Effect.sync(() => {
                if (e._tag === "TextDelta") seen.push(e.text)
              })
          )
        )
        return { g, s, seen, d }
      })
      const recorded = yield* session.pipe(Effect.provide(RecordedModel.record(file, live)))
      assert.strictEqual(server.requests.length, 3)
      const replayed = yield* session.pipe(Effect.provide(RecordedModel.replay(file)))
      assert.strictEqual(server.requests.length, 3) // replay never touches the network
      assert.strictEqual(JSON.stringify(replayed.g), JSON.stringify(recorded.g))
      assert.strictEqual(JSON.stringify(replayed.s), JSON.stringify(recorded.s))
      assert.deepStrictEqual(replayed.seen, ["par", "tial"])
      assert.isTrue(Either.isLeft(replayed.d) && replayed.d.left._tag === "ConnectionFailed")
      assert.strictEqual(recorded.g.model, "claude-sonnet-5-5-20260901")
      const text = fs.readFileSync(file, "utf8")
      assert.notInclude(text, "sk-ant-rec") // the cassette holds no credentials
    })))
})
