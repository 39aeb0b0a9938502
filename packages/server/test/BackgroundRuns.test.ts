import { Samples as EvalSamples } from "@braid/eval"
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { Scripts } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { call, serve, tokenOf } from "./helpers.js"

const ada = tokenOf("ada", "learner")
const tess = tokenOf("tess", "teacher")
const root = tokenOf("root", "admin")
const acme = tokenOf("tess", "teacher", { tenant: "acme" })

/** Polls a run's status until it is no longer running. */
const settle = (path: string, token: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      const r = yield* call("GET", path, { token })
      assert.strictEqual(r.status, 200, r.text)
      if (r.json.status !== "running") return r.json
      yield* Effect.sleep("50 millis")
    }
    throw new Error(`${path} did not settle`)
  })

describe("Meetings over HTTP", () => {
  it.live("a teacher starts a meeting on a preset; its status, then its minutes, decisions and action items", () =>
    Effect.gen(function*() {
      const started = yield* call("POST", "/api/meetings", {
        token: tess,
        body: { preset: "launch-review", title: "Beta launch review" }
      })
      assert.strictEqual(started.status, 201, started.text)
      assert.strictEqual(started.json.status, "running")
      assert.strictEqual(started.json.title, "Beta launch review")
      assert.strictEqual(started.json.host, "Maya")
      assert.deepStrictEqual(started.json.participants, ["Grace", "Linus"])
      const id: string = started.json.id
      const run = yield* settle(`/api/meetings/${id}`, tess)
      assert.strictEqual(run.status, "completed", run.error)
      assert.isAbove(run.turns, 0)

      const result = yield* call("GET", `/api/meetings/${id}/result`, { token: tess })
      assert.strictEqual(result.status, 200, result.text)
      assert.strictEqual(result.json.title, "Beta launch review")
      assert.isAbove(result.json.minutes.length, 0)
      assert.isAbove(result.json.decisions.length, 0)
      assert.isAbove(result.json.actionItems.length, 0)
      assert.include(result.json.transcript, "Maya:")
      // admins see it too; it is listed
      assert.strictEqual((yield* call("GET", `/api/meetings/${id}/result`, { token: root })).status, 200)
      const list = yield* call("GET", "/api/meetings", { token: tess })
      assert.deepStrictEqual(list.json.map((m: any) => m.id), [id])
      // another organization does not see it
      assert.strictEqual((yield* call("GET", `/api/meetings/${id}`, { token: acme })).status, 404)
      assert.strictEqual((yield* call("GET", `/api/meetings/${id}/result`, { token: acme })).status, 404)
      assert.deepStrictEqual((yield* call("GET", "/api/meetings", { token: acme })).json, [])
    }).pipe(Effect.provide(serve())))

  it.live("the result of a running meeting is 409; learners are forbidden; bad bodies 400; unknown 404", () =>
    Effect.gen(function*() {
      const started = yield* call("POST", "/api/meetings", { token: tess, body: { preset: "launch-review" } })
      assert.strictEqual(started.status, 201, started.text)
      const early = yield* call("GET", `/api/meetings/${started.json.id}/result`, { token: tess })
      assert.strictEqual(early.status, 409, early.text)
      assert.strictEqual(early.json._tag, "Conflict")

      const byLearner = yield* call("POST", "/api/meetings", { token: ada, body: { preset: "launch-review" } })
      assert.strictEqual(byLearner.status, 403, byLearner.text)
      assert.strictEqual((yield* call("GET", `/api/meetings/${started.json.id}`, { token: ada })).status, 403)
      assert.strictEqual((yield* call("GET", "/api/meetings", { token: ada })).status, 403)

      const badPreset = yield* call("POST", "/api/meetings", { token: tess, body: { preset: "board-meeting" } })
      assert.strictEqual(badPreset.status, 400, badPreset.text)
      assert.strictEqual(badPreset.json.field, "preset")
      const emptyAgenda = yield* call("POST", "/api/meetings", {
        token: tess,
        body: { preset: "launch-review", agenda: [] }
      })
      assert.strictEqual(emptyAgenda.status, 400, emptyAgenda.text)
      assert.strictEqual(emptyAgenda.json.field, "agenda")
      assert.strictEqual((yield* call("GET", "/api/meetings/nope", { token: tess })).status, 404)
    }).pipe(Effect.provide(serve({
      // a slow model: the meeting is still running while the test looks at it
      meetings: {
        model: Metered.fromProvider(ScriptedLanguageModel.provider({ ...Scripts.meeting, latency: "5 seconds" }))
      }
    }))))

  it.live("meetings, evaluation runs and the run viewer share the per-user run rate limit (429)", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        (yield* call("POST", "/api/meetings", { token: tess, body: { preset: "launch-review" } })).status,
        201
      )
      const evaluation = yield* call("POST", "/api/evaluations/runs", {
        token: tess,
        body: { dataset: "coaching-prompts", target: "prompt-v1" }
      })
      assert.strictEqual(evaluation.status, 201, evaluation.text)
      const third = yield* call("POST", "/api/runs", { token: tess, body: { pipeline: "coaching" } })
      assert.strictEqual(third.status, 429, third.text)
      const fourth = yield* call("POST", "/api/meetings", { token: tess, body: { preset: "launch-review" } })
      assert.strictEqual(fourth.status, 429, fourth.text)
      assert.isAbove(fourth.json.retryAfterSeconds, 0)
      // another user has a budget of their own
      assert.strictEqual(
        (yield* call("POST", "/api/meetings", { token: root, body: { preset: "launch-review" } })).status,
        201
      )
    }).pipe(Effect.provide(serve({ runRate: { limit: 2, window: "1 hour" } }))))

  it.live("a meeting's result is read from its record once its status is no longer kept in memory", () =>
    Effect.gen(function*() {
      const first = yield* call("POST", "/api/meetings", { token: tess, body: { preset: "launch-review" } })
      yield* settle(`/api/meetings/${first.json.id}`, tess)
      const second = yield* call("POST", "/api/meetings", { token: tess, body: { preset: "launch-review" } })
      yield* settle(`/api/meetings/${second.json.id}`, tess)
      // keep: 1, so the first is gone from memory
      assert.deepStrictEqual((yield* call("GET", "/api/meetings", { token: tess })).json.map((m: any) => m.id), [
        second.json.id
      ])
      const status = yield* call("GET", `/api/meetings/${first.json.id}`, { token: tess })
      assert.strictEqual(status.status, 200, status.text)
      assert.strictEqual(status.json.status, "completed")
      const result = yield* call("GET", `/api/meetings/${first.json.id}/result`, { token: tess })
      assert.strictEqual(result.status, 200, result.text)
      assert.isAbove(result.json.decisions.length, 0)
      // still per organization
      assert.strictEqual((yield* call("GET", `/api/meetings/${first.json.id}/result`, { token: acme })).status, 404)
    }).pipe(Effect.provide(serve({ meetings: { keep: 1 } }))))
})

describe("Evaluation runs over HTTP", () => {
  it.live("a teacher scores a sample dataset against a baseline: progress, then the report with the gate", () =>
    Effect.gen(function*() {
      const started = yield* call("POST", "/api/evaluations/runs", {
        token: tess,
        body: { dataset: "coaching-prompts", target: "prompt-v2", baseline: "prompt-v1" }
      })
      assert.strictEqual(started.status, 201, started.text)
      assert.strictEqual(started.json.status, "running")
      assert.strictEqual(started.json.progress.done, 0)
      const total: number = started.json.progress.total
      assert.isAbove(total, 0)
      const run = yield* settle(`/api/evaluations/runs/${started.json.id}`, tess)
      assert.strictEqual(run.status, "completed", run.error)
      assert.deepStrictEqual(run.progress, { done: total, total })

      const report = yield* call("GET", `/api/evaluations/runs/${started.json.id}/result`, { token: tess })
      assert.strictEqual(report.status, 200, report.text)
      assert.strictEqual(report.json.target, "prompt-v2")
      assert.strictEqual(report.json.results.length + report.json.failures.length, total / 2)
      assert.property(report.json.means, "relevance")
      assert.strictEqual(report.json.baseline.target, "prompt-v1")
      // the sample's v2 prompt is worse: the gate catches it
      assert.isFalse(report.json.gate.passed)
      assert.isAbove(report.json.gate.failures.length, 0)
      const list = yield* call("GET", "/api/evaluations/runs", { token: root })
      assert.deepStrictEqual(list.json.map((r: any) => r.id), [started.json.id])
      assert.strictEqual((yield* call("GET", `/api/evaluations/runs/${started.json.id}`, { token: acme })).status, 404)
    }).pipe(Effect.provide(serve())))

  it.live("progress counts the conversations scored while the run goes on", () =>
    Effect.gen(function*() {
      const started = yield* call("POST", "/api/evaluations/runs", {
        token: tess,
        body: { dataset: "coaching-prompts", target: "prompt-v1" }
      })
      const id: string = started.json.id
      const total: number = started.json.progress.total
      const seen: Array<number> = []
      for (let i = 0; i < 400; i++) {
        const r = (yield* call("GET", `/api/evaluations/runs/${id}`, { token: tess })).json
        if (r.status !== "running") break
        seen.push(r.progress.done)
        yield* Effect.sleep("40 millis")
      }
      assert.isTrue(seen.some((d) => d > 0 && d < total), `progress seen while running: ${seen.join(",")}`)
      assert.deepStrictEqual(seen, [...seen].sort((a, b) => a - b), "progress never goes back")
    }).pipe(Effect.provide(serve({
      // a slow judge: four conversations at a time, each judged in about 400 ms
      evaluationRuns: {
        model: Metered.fromProvider(
          ScriptedLanguageModel.provider({ ...EvalSamples.judgeScript, latency: "400 millis" })
        )
      }
    }))))

  it.live("a judge that always fails: the conversations are listed as failures; learners forbidden; bad bodies 400", () =>
    Effect.gen(function*() {
      const byLearner = yield* call("POST", "/api/evaluations/runs", {
        token: ada,
        body: { dataset: "coaching-prompts", target: "prompt-v1" }
      })
      assert.strictEqual(byLearner.status, 403, byLearner.text)
      const badTarget = yield* call("POST", "/api/evaluations/runs", {
        token: tess,
        body: { dataset: "coaching-prompts", target: "prompt-v9" }
      })
      assert.strictEqual(badTarget.status, 400, badTarget.text)
      assert.strictEqual(badTarget.json.field, "target")
      const noDataset = yield* call("POST", "/api/evaluations/runs", { token: tess, body: { target: "prompt-v1" } })
      assert.strictEqual(noDataset.status, 400, noDataset.text)
      assert.strictEqual(noDataset.json.field, "dataset")

      const started = yield* call("POST", "/api/evaluations/runs", {
        token: tess,
        body: { dataset: "coaching-prompts", target: "prompt-v1" }
      })
      const run = yield* settle(`/api/evaluations/runs/${started.json.id}`, tess)
      assert.strictEqual(run.status, "completed")
      const report = yield* call("GET", `/api/evaluations/runs/${started.json.id}/result`, { token: tess })
      assert.strictEqual(report.json.results.length, 0)
      assert.strictEqual(report.json.failures.length, run.progress.total)
      assert.strictEqual(report.json.failures[0].metric, "relevance")
    }).pipe(Effect.provide(serve({
      // a judge that answers nonsense: every relevance verdict fails to decode
      evaluationRuns: { model: Metered.fromProvider(ScriptedLanguageModel.provider({ default: "no verdict here" })) }
    }))))
})
