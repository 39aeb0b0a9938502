import { Scripts } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { baseUrl, call, callAt, readEvents, serve, tokenOf } from "./helpers.js"

const ada = tokenOf("ada", "learner")
const grace = tokenOf("grace", "learner")
const tess = tokenOf("tess", "teacher")
const root = tokenOf("root", "admin")

const addSample = Effect.tap(
  call("POST", "/api/scenarios", { token: tess, body: Scripts.practiceScenario }),
  (r) => Effect.sync(() => assert.strictEqual(r.status, 201, r.text))
)

const startAs = (token: string) =>
  Effect.tap(
    call("POST", "/api/sessions", { token, body: { scenarioId: "first-session" } }),
    (r) => Effect.sync(() => assert.strictEqual(r.status, 201, r.text))
  )

const waitEvaluation = (token: string, id: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const r = yield* call("GET", `/api/sessions/${id}/evaluation`, { token })
      if (r.json.status === "completed" || r.json.status === "failed") return r
      yield* Effect.sleep("50 millis")
    }
    throw new Error("the evaluation did not settle")
  })

describe("Server", () => {
  it.live("a learner practises: the reply streams on SSE (deltas, then the turn), the session ends, the evaluation arrives", () =>
    Effect.gen(function*() {
      yield* addSample
      const started = yield* startAs(ada)
      const id: string = started.json.session.id
      assert.strictEqual(started.json.session.status, "active")
      assert.strictEqual(started.json.opening.role, "assistant") // the sample scenario: the AI speaks first

      // Connect, then send once the stream is open.
      const base = yield* baseUrl
      let turn: any
      const sse = yield* readEvents(
        `/api/sessions/${id}/events`,
        (es) => es.some((e) => e.event === "AiTurn" && e.data.seq === 2),
        {
          token: ada,
          onOpen: async () => {
            turn = await callAt(base, "POST", `/api/sessions/${id}/messages`, {
              token: ada,
              body: { text: Scripts.practiceLearner[0] }
            })
          }
        }
      )
      assert.strictEqual(sse.contentType, "text/event-stream")
      const replyTurn = sse.events.find((e) => e.event === "AiTurn" && e.data.seq === 2)!
      const deltas = sse.events.filter((e) => e.event === "AiTurnDelta" && e.data.turnId === replyTurn.data.turnId)
      assert.isAbove(deltas.length, 1, "the reply streams in several pieces")
      const lastDelta = sse.events.lastIndexOf(deltas[deltas.length - 1]!)
      assert.isBelow(lastDelta, sse.events.indexOf(replyTurn), "the deltas come before the turn")
      assert.strictEqual(deltas.map((d) => d.data.delta).join("").trim(), replyTurn.data.text)
      // every persisted event has an id, increasing by one; the deltas (live only) have none
      const persisted = sse.events.filter((e) => e.event !== "AiTurnDelta")
      assert.deepStrictEqual(persisted.map((e) => Number(e.id)), persisted.map((_, i) => i + 1))
      assert.isTrue(deltas.every((d) => d.id === undefined))
      assert.strictEqual(turn.status, 200, turn.text)
      assert.strictEqual(turn.json.reply.text, replyTurn.data.text)

      const messages = yield* call("GET", `/api/sessions/${id}/messages`, { token: ada })
      assert.deepStrictEqual(messages.json.items.map((m: any) => m.role), ["assistant", "user", "assistant"])

      const ended = yield* call("POST", `/api/sessions/${id}/end`, { token: ada })
      assert.strictEqual(ended.status, 200, ended.text)
      assert.strictEqual(ended.json.endReason, "user")
      const evaluation = yield* waitEvaluation(ada, id)
      assert.strictEqual(evaluation.json.status, "completed", evaluation.text)
      assert.isAbove(evaluation.json.evaluation.result.skills.length, 0)

      // the stream of an ended session replays SessionEnded and EvaluationReady
      const replay = yield* readEvents(
        `/api/sessions/${id}/events`,
        (es) => es.some((e) => e.event === "EvaluationReady"),
        { token: ada }
      )
      const tags = replay.events.map((e) => e.event)
      assert.isBelow(tags.indexOf("SessionEnded"), tags.indexOf("EvaluationReady"))
      assert.strictEqual(replay.events.find((e) => e.event === "SessionEnded")!.data.reason, "user")

      const detail = yield* call("GET", `/api/sessions/${id}`, { token: ada })
      assert.strictEqual(detail.json.session.status, "completed")
      assert.strictEqual(detail.json.evaluation.status, "completed")

      const exported = yield* call("GET", `/api/sessions/${id}/export`, { token: ada })
      assert.strictEqual(exported.status, 200)
      assert.match(exported.headers.get("content-type") ?? "", /text\/markdown/)
      assert.include(exported.text, Scripts.practiceLearner[0]!)

      const again = yield* call("POST", `/api/sessions/${id}/again`, { token: ada })
      assert.strictEqual(again.status, 201, again.text)
      assert.strictEqual(again.json.session.previousSessionId, id)

      const list = yield* call("GET", "/api/sessions?status=completed&limit=1", { token: ada })
      assert.deepStrictEqual(list.json.items.map((s: any) => s.id), [id])
      const searched = yield* call("GET", "/api/sessions?search=FIRST%20coaching", { token: ada })
      assert.strictEqual(searched.json.items.length, 2)
      const none = yield* call("GET", "/api/sessions?search=nothing-like-this", { token: ada })
      assert.strictEqual(none.json.items.length, 0)
    }).pipe(Effect.provide(serve())))

  it.live("another learner gets 404 on every route of the first one's session; deleting removes it", () =>
    Effect.gen(function*() {
      yield* addSample
      const id: string = (yield* startAs(ada)).json.session.id
      for (
        const [method, path, body] of [
          ["GET", `/api/sessions/${id}`, undefined],
          ["GET", `/api/sessions/${id}/messages`, undefined],
          ["POST", `/api/sessions/${id}/messages`, { text: "hello" }],
          ["POST", `/api/sessions/${id}/end`, undefined],
          ["POST", `/api/sessions/${id}/again`, undefined],
          ["GET", `/api/sessions/${id}/export`, undefined],
          ["GET", `/api/sessions/${id}/evaluation`, undefined],
          ["GET", `/api/sessions/${id}/events`, undefined],
          ["DELETE", `/api/sessions/${id}`, undefined]
        ] as const
      ) {
        const r = yield* call(method, path, { token: grace, ...(body !== undefined ? { body } : {}) })
        assert.strictEqual(r.status, 404, `${method} ${path}: ${r.text}`)
        assert.strictEqual(r.json._tag, "NotFound")
      }
      const listed = yield* call("GET", "/api/sessions", { token: grace })
      assert.strictEqual(listed.json.items.length, 0)
      const other = yield* call("GET", "/api/sessions?userId=ada", { token: grace })
      assert.strictEqual(other.status, 403, other.text)
      // still there for its owner, then deleted
      assert.strictEqual((yield* call("GET", `/api/sessions/${id}`, { token: ada })).status, 200)
      assert.strictEqual((yield* call("DELETE", `/api/sessions/${id}`, { token: ada })).status, 204)
      assert.strictEqual((yield* call("GET", `/api/sessions/${id}`, { token: ada })).status, 404)
    }).pipe(Effect.provide(serve())))

  it.live("a teacher creates and updates scenarios; a bad field is a 400 naming it; a learner may not write", () =>
    Effect.gen(function*() {
      const bad = yield* call("POST", "/api/scenarios", {
        token: tess,
        body: { ...Scripts.practiceScenario, persona: { ...Scripts.practiceScenario.persona, name: "" } }
      })
      assert.strictEqual(bad.status, 400, bad.text)
      assert.strictEqual(bad.json._tag, "InvalidInput")
      assert.strictEqual(bad.json.field, "persona.name")
      const badSkill = yield* call("POST", "/api/scenarios", {
        token: tess,
        body: { ...Scripts.practiceScenario, skills: [{ id: "Not An Id", name: "x", rubric: "y" }] }
      })
      assert.strictEqual(badSkill.status, 400)
      assert.strictEqual(badSkill.json.field, "skills[0].id")
      assert.include(badSkill.json.message, "skill id")

      const { id: _id, ...withoutId } = Scripts.practiceScenario
      const created = yield* call("POST", "/api/scenarios", {
        token: tess,
        body: { ...withoutId, title: "Team lead in doubt" }
      })
      assert.strictEqual(created.status, 201, created.text)
      assert.match(created.json.id, /^team-lead-in-doubt-/)
      assert.strictEqual(created.json.author, "tess")
      const duplicate = yield* call("POST", "/api/scenarios", { token: tess, body: { ...created.json } })
      assert.strictEqual(duplicate.status, 409)
      assert.strictEqual(duplicate.json.field, "id")

      const updated = yield* call("PUT", `/api/scenarios/${created.json.id}`, {
        token: root,
        body: { ...withoutId, title: "Team lead in doubt (v2)" }
      })
      assert.strictEqual(updated.status, 200, updated.text)
      assert.strictEqual(updated.json.version, 2)
      assert.strictEqual(updated.json.author, "tess")
      const missing = yield* call("PUT", "/api/scenarios/no-such-one", { token: tess, body: withoutId })
      assert.strictEqual(missing.status, 404)

      const byLearner = yield* call("POST", "/api/scenarios", { token: ada, body: Scripts.practiceScenario })
      assert.strictEqual(byLearner.status, 403)
      assert.strictEqual(byLearner.json._tag, "Forbidden")
      assert.strictEqual((yield* call("DELETE", `/api/scenarios/${created.json.id}`, { token: ada })).status, 403)

      const listed = yield* call("GET", "/api/scenarios?search=doubt&difficulty=intermediate", { token: ada })
      assert.deepStrictEqual(listed.json.items.map((s: any) => s.title), ["Team lead in doubt (v2)"])
      const paged = yield* call("GET", "/api/scenarios?limit=0", { token: ada })
      assert.strictEqual(paged.status, 400)
      assert.strictEqual(paged.json.field, "limit")

      assert.strictEqual((yield* call("DELETE", `/api/scenarios/${created.json.id}`, { token: tess })).status, 204)
      assert.strictEqual((yield* call("GET", `/api/scenarios/${created.json.id}`, { token: ada })).status, 404)
    }).pipe(Effect.provide(serve())))

  it.live("admin endpoints: 403 for a learner and a teacher; an admin sees the live session, today's tokens and dollars, metrics", () =>
    Effect.gen(function*() {
      yield* addSample
      const id: string = (yield* startAs(ada)).json.session.id
      const turn = yield* call("POST", `/api/sessions/${id}/messages`, {
        token: ada,
        body: { text: Scripts.practiceLearner[0] }
      })
      assert.strictEqual(turn.status, 200, turn.text)
      for (const token of [ada, tess]) {
        for (const path of ["/api/admin/overview", "/api/admin/metrics"]) {
          const r = yield* call("GET", path, { token })
          assert.strictEqual(r.status, 403, r.text)
          assert.strictEqual(r.json._tag, "Forbidden")
        }
      }
      const overview = yield* call("GET", "/api/admin/overview", { token: root })
      assert.strictEqual(overview.status, 200, overview.text)
      assert.strictEqual(overview.json.sessions.active, 1)
      assert.strictEqual(overview.json.usage.today.messages, 3)
      assert.isAbove(overview.json.usage.today.costUsd, 0)
      assert.isAbove(overview.json.usage.today.outputTokens, 0)
      assert.strictEqual(overview.json.usage.hourly.length, 24)
      assert.strictEqual(overview.json.health.database.status, "up")
      const metrics = yield* call("GET", "/api/admin/metrics", { token: root })
      assert.strictEqual(metrics.status, 200)
      assert.isAtLeast(metrics.json.started.practice, 1)
      // an admin of another organization sees none of it
      const other = yield* call("GET", "/api/admin/overview", { token: tokenOf("boss", "admin", { tenant: "acme" }) })
      assert.strictEqual(other.json.sessions.active, 0)
      assert.strictEqual(other.json.usage.today.messages, 0)
    }).pipe(Effect.provide(serve())))

  it.live("message sends are rate-limited per user: 429 with retryAfterSeconds; other users are not affected", () =>
    Effect.gen(function*() {
      yield* addSample
      const id: string = (yield* startAs(ada)).json.session.id
      const send = (token: string, sessionId: string) =>
        call("POST", `/api/sessions/${sessionId}/messages`, { token, body: { text: "How are you?" } })
      assert.strictEqual((yield* send(ada, id)).status, 200)
      assert.strictEqual((yield* send(ada, id)).status, 200)
      const limited = yield* send(ada, id)
      assert.strictEqual(limited.status, 429, limited.text)
      assert.strictEqual(limited.json._tag, "RateLimited")
      assert.isAtLeast(limited.json.retryAfterSeconds, 1)
      const other: string = (yield* startAs(grace)).json.session.id
      assert.strictEqual((yield* send(grace, other)).status, 200)
    }).pipe(Effect.provide(serve({ messageRate: { limit: 2, window: "1 hour" } }))))

  it.live("the session cap refuses the excess with 503 AtCapacity", () =>
    Effect.gen(function*() {
      yield* addSample
      yield* startAs(ada)
      const refused = yield* call("POST", "/api/sessions", { token: grace, body: { scenarioId: "first-session" } })
      assert.strictEqual(refused.status, 503, refused.text)
      assert.strictEqual(refused.json._tag, "AtCapacity")
      assert.include(refused.json.message, "capacity")
    }).pipe(Effect.provide(serve({}, { cap: { maxActive: 1, maxQueued: 0 } }))))

  it.live("a completed session refuses messages with 409; an unknown scenario is 404", () =>
    Effect.gen(function*() {
      yield* addSample
      const id: string = (yield* startAs(ada)).json.session.id
      yield* call("POST", `/api/sessions/${id}/end`, { token: ada })
      const late = yield* call("POST", `/api/sessions/${id}/messages`, { token: ada, body: { text: "still there?" } })
      assert.strictEqual(late.status, 409, late.text)
      assert.strictEqual(late.json._tag, "Conflict")
      const unknown = yield* call("POST", "/api/sessions", { token: ada, body: { scenarioId: "nope" } })
      assert.strictEqual(unknown.status, 404)
      const empty = yield* call("POST", `/api/sessions/${id}/messages`, { token: ada, body: { text: "   " } })
      assert.strictEqual(empty.status, 400)
    }).pipe(Effect.provide(serve())))

  it.live("requeue: admins only, and only a failed evaluation (409 otherwise)", () =>
    Effect.gen(function*() {
      yield* addSample
      const id: string = (yield* startAs(ada)).json.session.id
      yield* call("POST", `/api/sessions/${id}/end`, { token: ada })
      yield* waitEvaluation(ada, id)
      const byLearner = yield* call("POST", `/api/sessions/${id}/evaluation/requeue`, { token: ada })
      assert.strictEqual(byLearner.status, 403)
      const completed = yield* call("POST", `/api/sessions/${id}/evaluation/requeue`, { token: root })
      assert.strictEqual(completed.status, 409, completed.text)
      assert.include(completed.json.message, "completed")
    }).pipe(Effect.provide(serve())))

  it.live("the run viewer: a coaching run with its diagram and trace (spans, tokens, dollars); learners may not", () =>
    Effect.gen(function*() {
      const pipelines = yield* call("GET", "/api/pipelines", { token: tess })
      assert.deepStrictEqual(pipelines.json.map((p: any) => p.name), ["coaching", "practice"])
      assert.match(pipelines.json[0].diagram, /^(flowchart|graph)/)
      assert.strictEqual((yield* call("GET", "/api/pipelines", { token: ada })).status, 403)
      assert.strictEqual((yield* call("POST", "/api/runs", { token: ada, body: { pipeline: "coaching" } })).status, 403)

      const started = yield* call("POST", "/api/runs", { token: tess, body: { pipeline: "coaching" } })
      assert.strictEqual(started.status, 201, started.text)
      let run = started.json
      for (let i = 0; i < 200 && run.status === "running"; i++) {
        yield* Effect.sleep("50 millis")
        run = (yield* call("GET", `/api/runs/${started.json.id}`, { token: tess })).json
      }
      assert.strictEqual(run.status, "completed", JSON.stringify(run.error))
      assert.strictEqual(run.diagram, pipelines.json[0].diagram)
      assert.isAbove(run.spans.length, 5)
      const ids = new Set(run.spans.map((s: any) => s.spanId))
      const roots = run.spans.filter((s: any) => s.parentSpanId === undefined || !ids.has(s.parentSpanId))
      assert.strictEqual(roots.length, 1, "one trace: every span but the root has its parent in the run")
      assert.isAbove(run.totals.inputTokens, 0)
      assert.isAbove(run.totals.costUsd, 0)
      assert.closeTo(run.totals.costUsd, run.spans.reduce((a: number, s: any) => a + (s.costUsd ?? 0), 0), 1e-12)
      assert.isTrue(run.spans.every((s: any) => s.durationMs >= 0))
      const listed = yield* call("GET", "/api/runs", { token: root })
      assert.deepStrictEqual(listed.json.map((r: any) => r.id), [started.json.id])
      assert.strictEqual((yield* call("GET", "/api/runs/nope", { token: root })).status, 404)
    }).pipe(Effect.provide(serve())))
})
