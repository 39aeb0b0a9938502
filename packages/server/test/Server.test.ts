import { Scripts } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { call, readEvents, serve, tokenOf } from "./helpers.js"

const ada = tokenOf("ada", "learner")
const grace = tokenOf("grace", "learner")
const tess = tokenOf("tess", "teacher")
const root = tokenOf("root", "admin")

const addSample = call("POST", "/api/scenarios", { token: tess, body: Scripts.practiceScenario })

describe("Server", () => {
  it.live("a learner practises: start, send (streamed on SSE), end, evaluation; another learner gets 404", () =>
    Effect.gen(function*() {
      const created = yield* addSample
      assert.strictEqual(created.status, 201, created.text)
      const started = yield* call("POST", "/api/sessions", { token: ada, body: { scenarioId: "first-session" } })
      assert.strictEqual(started.status, 201, started.text)
      const id: string = started.json.session.id
      assert.strictEqual(started.json.session.status, "active")

      const [sse, turn] = yield* Effect.all([
        readEvents(`/api/sessions/${id}/events`, (es) => es.some((e) => e.event === "AiTurn" && e.data.seq >= 2), {
          token: ada
        }),
        Effect.zipRight(
          Effect.sleep("300 millis"),
          call("POST", `/api/sessions/${id}/messages`, { token: ada, body: { text: Scripts.practiceLearner[0] } })
        )
      ], { concurrency: 2 })
      assert.strictEqual(turn.status, 200, turn.text)
      assert.strictEqual(sse.contentType, "text/event-stream")
      const tags = sse.events.map((e) => e.event)
      console.log(tags)
      const firstDelta = tags.indexOf("AiTurnDelta")
      assert.isAtLeast(firstDelta, 0)
      assert.isBelow(firstDelta, tags.lastIndexOf("AiTurn"))

      const other = yield* call("GET", `/api/sessions/${id}`, { token: grace })
      assert.strictEqual(other.status, 404)
      assert.strictEqual(other.json._tag, "NotFound")

      const ended = yield* call("POST", `/api/sessions/${id}/end`, { token: ada })
      assert.strictEqual(ended.status, 200, ended.text)
      assert.strictEqual(ended.json.endReason, "user")
      let evaluation = yield* call("GET", `/api/sessions/${id}/evaluation`, { token: ada })
      for (let i = 0; i < 100 && evaluation.json.status !== "completed"; i++) {
        yield* Effect.sleep("100 millis")
        evaluation = yield* call("GET", `/api/sessions/${id}/evaluation`, { token: ada })
      }
      assert.strictEqual(evaluation.json.status, "completed", evaluation.text)
      void root
    }).pipe(Effect.provide(serve())))
})
