import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { baseUrl, call, callAt, serve, tokenOf } from "./helpers.js"

const ada = tokenOf("ada", "learner")
const tess = tokenOf("tess", "teacher")

const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(
    fc.constantFrom(
      "__proto__",
      "constructor",
      "text",
      "phase",
      "name",
      "aspirations",
      "tone",
      "preset",
      "title",
      "agenda",
      "dataset",
      "target",
      "baseline"
    ),
    fc.jsonValue({ maxDepth: 3 })
  ),
  fc.integer({ min: 1, max: 5000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth)),
  fc.constantFrom("{", "nul", "1e999999", "{\"preset\": \"launch-review\", \"agenda\": [\"\"]}")
)

describe("coaching, meetings and evaluation runs: fuzzed bodies", () => {
  it.live(
    "fuzzed JSON bodies get typed 400s (or a legitimate answer), never a 500 or internals",
    () =>
      Effect.gen(function*() {
        const started = yield* call("POST", "/api/coaching", { token: ada, body: {} })
        assert.strictEqual(started.status, 201, started.text)
        const base = yield* baseUrl
        const targets = [
          ["POST", "/api/coaching", ada],
          ["POST", `/api/coaching/${started.json.id}/messages`, ada],
          ["POST", "/api/meetings", tess],
          ["POST", "/api/evaluations/runs", tess]
        ] as const
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.constantFrom(...targets), nasty, async ([method, p, token], value) => {
              const raw = typeof value === "string" ? value : JSON.stringify(value)
              const r = await callAt(base, method, p, { token, raw })
              const what = `${method} ${p} ${raw.slice(0, 200)} -> ${r.text.slice(0, 300)}`
              assert.include([200, 201, 400, 409, 413, 429, 503], r.status, what)
              if (r.status === 400) {
                assert.strictEqual(r.json._tag, "InvalidInput", what)
                assert.notMatch(r.text, /at .*\.ts:\d+|node_modules/)
              }
            }),
            { numRuns: 120 }
          )
        )
      }).pipe(Effect.provide(serve({ messageRate: { limit: 1000, window: "1 minute" } }))),
    120_000
  )
})
