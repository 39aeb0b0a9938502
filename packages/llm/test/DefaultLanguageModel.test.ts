/**
 * The default model (Claude with a key, the scripted provider without; metered), and the cassette
 * failures of recording (a bad existing cassette, a cassette that cannot be written).
 */
import {
  Accounting,
  Ai,
  AiErrors,
  DefaultLanguageModel,
  RecordedLanguageModel,
  ScriptedLanguageModel
} from "@braid/llm"
import { Reply, scoped } from "@braid/llm/testing/AnthropicTestServer"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const config = (entries: ReadonlyArray<readonly [string, string]>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries)))

describe("DefaultLanguageModel", () => {
  it.live("is the scripted provider without ANTHROPIC_API_KEY and Anthropic with it, metered either way", () =>
    Effect.scoped(Effect.gen(function*() {
      const ask = Effect.zip(Ai.LanguageModel.generateText({ prompt: "ping" }), Accounting.report)
      const [offline, offlineReport] = yield* ask.pipe(
        Effect.provide(
          DefaultLanguageModel.layer({ scripted: { rules: [{ when: "ping", reply: "pong" }] } }).pipe(
            Layer.provide(config([]))
          )
        )
      )
      assert.strictEqual(offline.text, "pong")
      assert.strictEqual(offlineReport.byModel["braid-scripted"]?.calls, 1)
      assert.isFalse(yield* DefaultLanguageModel.isOnline.pipe(Effect.provide(config([]))))

      const server = yield* scoped()
      server.enqueue(Reply.json("pong from Claude"))
      const online = config([["ANTHROPIC_API_KEY", "sk-ant-x"], ["ANTHROPIC_BASE_URL", server.url]])
      const [claude, onlineReport] = yield* ask.pipe(
        Effect.provide(DefaultLanguageModel.layer().pipe(Layer.provide(online)))
      )
      assert.strictEqual(claude.text, "pong from Claude")
      assert.strictEqual(server.requests.length, 1)
      assert.strictEqual(onlineReport.total.calls, 1)
      assert.isTrue(yield* DefaultLanguageModel.isOnline.pipe(Effect.provide(online)))
    })))
})

describe("RecordedLanguageModel: recording failures", () => {
  it.effect("a bad existing cassette fails the layer; a cassette that cannot be written fails the call, typed", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-cassette-"))
      const bad = path.join(dir, "bad.json")
      fs.writeFileSync(bad, "[1, 2")
      const ask = Ai.LanguageModel.generateText({ prompt: "hi" })
      const a = yield* Effect.either(ask.pipe(
        Effect.provide(RecordedLanguageModel.recordLayer(bad, ScriptedLanguageModel.provider()))
      ))
      assert.isTrue(Either.isLeft(a))
      if (Either.isLeft(a)) {
        const e = AiErrors.toModelError(a.left)
        assert.isTrue(e._tag === "CassetteError" && e.reason === "Parse", e.message)
      }
      // a file where a directory should be
      const blocker = path.join(dir, "blocker")
      fs.writeFileSync(blocker, "")
      const unwritable = path.join(blocker, "c.json")
      const b = yield* Effect.either(ask.pipe(
        Effect.provide(RecordedLanguageModel.recordLayer(unwritable, ScriptedLanguageModel.provider()))
      ))
      assert.isTrue(Either.isLeft(b))
      if (Either.isLeft(b)) {
        const e = AiErrors.toModelError(b.left)
        assert.strictEqual(e._tag, "CassetteError")
        if (e._tag === "CassetteError") {
          assert.strictEqual(e.reason, "Write")
          assert.include(e.message, unwritable)
        }
      }
    }))
})
