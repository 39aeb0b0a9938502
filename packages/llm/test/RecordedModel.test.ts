import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DefaultModel, Errors, LanguageModel, RecordedModel, ScriptedModel } from "@braid/llm"

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
        failures: [{ when: (req) => LanguageModel.lastUserText(req) === "fail please", error: new Errors.RateLimited({ message: "slow down", retryAfterMillis: 1500 }) }],
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
        LanguageModel.generate({ messages: [LanguageModel.user("never asked")] }).pipe(Effect.provide(RecordedModel.replay(file)))
      )
      assert.isTrue(Either.isLeft(miss))
      if (Either.isLeft(miss)) {
        assert.strictEqual(miss.left._tag, "CassetteMiss")
        assert.include(miss.left.message, "never asked")
        assert.isFalse(miss.left.transient)
      }
      const none = yield* Effect.either(
        LanguageModel.generate({ messages: [LanguageModel.user("x")] }).pipe(Effect.provide(RecordedModel.replay(path.join(os.tmpdir(), "absent-cassette.json"))))
      )
      assert.isTrue(Either.isLeft(none) && none.left._tag === "CassetteMiss")
    }))
})

describe("DefaultModel", () => {
  it.effect("is the scripted model without ANTHROPIC_API_KEY and Anthropic with it", () =>
    Effect.gen(function*() {
      const offline = yield* Effect.map(LanguageModel.LanguageModel, (m) => m.provider).pipe(
        Effect.provide(DefaultModel.layer().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map())))))
      )
      assert.strictEqual(offline, "braid.scripted")
      const online = yield* Effect.map(LanguageModel.LanguageModel, (m) => m.provider).pipe(
        Effect.provide(DefaultModel.layer().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["ANTHROPIC_API_KEY", "sk-ant-x"]]))))))
      )
      assert.strictEqual(online, "anthropic")
    }))
})
