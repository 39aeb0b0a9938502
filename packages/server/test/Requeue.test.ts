import { Ai } from "@braid/llm"
import type { ScriptedLanguageModel } from "@braid/llm"
import { Scripts } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { call, serve, tokenOf } from "./helpers.js"

const ada = tokenOf("ada", "learner")
const tess = tokenOf("tess", "teacher")
const root = tokenOf("root", "admin")

/** The practice script, with an evaluator that answers nonsense while `failing.now` is true. */
const failing = { now: true }
const flaky: ScriptedLanguageModel.Options = {
  rules: [
    { when: (r) => failing.now && Ai.systemText(r).startsWith("You evaluate a learner"), reply: "not an evaluation" },
    ...(Scripts.practice.rules ?? [])
  ]
}

const settle = (id: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      const r = yield* call("GET", `/api/sessions/${id}/evaluation`, { token: ada })
      if (r.json.status === "completed" || r.json.status === "failed") return r.json
      yield* Effect.sleep("50 millis")
    }
    throw new Error("the evaluation did not settle")
  })

describe("Requeue of a failed evaluation", () => {
  it.live("an evaluation that failed is requeued by an admin and completes", () =>
    Effect.gen(function*() {
      failing.now = true
      assert.strictEqual(
        (yield* call("POST", "/api/scenarios", { token: tess, body: Scripts.practiceScenario })).status,
        201
      )
      const started = yield* call("POST", "/api/sessions", { token: ada, body: { scenarioId: "first-session" } })
      const id: string = started.json.session.id
      yield* call("POST", `/api/sessions/${id}/messages`, { token: ada, body: { text: Scripts.practiceLearner[0] } })
      yield* call("POST", `/api/sessions/${id}/end`, { token: ada })
      const failed = yield* settle(id)
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual((yield* call("POST", `/api/sessions/${id}/evaluation/requeue`, { token: ada })).status, 403)

      failing.now = false
      const requeued = yield* call("POST", `/api/sessions/${id}/evaluation/requeue`, { token: root })
      assert.strictEqual(requeued.status, 200, requeued.text)
      assert.oneOf(requeued.json.status, ["pending", "running", "completed"])
      const done = yield* settle(id)
      assert.strictEqual(done.status, "completed", JSON.stringify(done))
      assert.isAbove(done.evaluation.result.skills.length, 0)
    }).pipe(Effect.provide(serve({}, { evaluation: { maxAttempts: 1 } }, flaky))))
})
