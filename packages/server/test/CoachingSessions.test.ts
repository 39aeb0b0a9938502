import { Samples } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { baseUrl, call, callAt, readEvents, serve, tokenOf } from "./helpers.js"

const ada = tokenOf("ada", "learner")
const grace = tokenOf("grace", "learner")
const root = tokenOf("root", "admin")
const other = tokenOf("ada", "learner", { tenant: "acme" })

const [hello, goals, plan] = Samples.coachingDay.morning

const startCoaching = (token: string, body: unknown = { phase: "morning", name: "Ada", aspirations: ["run a 10k"] }) =>
  Effect.tap(
    call("POST", "/api/coaching", { token, body }),
    (r) => Effect.sync(() => assert.strictEqual(r.status, 201, r.text))
  )

describe("Coaching sessions over HTTP", () => {
  it.live("a learner coaches: replies come back and stream as events, the goals end the session, the record is a coaching session", () =>
    Effect.gen(function*() {
      const started = yield* startCoaching(ada)
      const id: string = started.json.id
      assert.strictEqual(started.json.kind, "coaching")
      assert.strictEqual(started.json.status, "active")
      assert.strictEqual(started.json.userId, "ada")

      const base = yield* baseUrl
      let first: any
      const sse = yield* readEvents(
        `/api/sessions/${id}/events`,
        (es) => es.some((e) => e.event === "CoachingAgentResponse"),
        {
          token: ada,
          onOpen: async () => {
            first = await callAt(base, "POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: hello } })
          }
        }
      )
      assert.strictEqual(first.status, 200, first.text)
      assert.strictEqual(first.json.message, hello)
      assert.include(first.json.reply, "rough night")
      assert.isFalse(first.json.fallback)
      assert.strictEqual(first.json.session.status, "active")
      const response = sse.events.find((e) => e.event === "CoachingAgentResponse")!
      assert.strictEqual(response.data.text, first.json.reply, "the reply is streamed on the session's events")
      assert.isTrue(sse.events.some((e) => e.event === "CoachingUserMessage" && e.data.text === hello))

      const second = yield* call("POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: goals } })
      assert.strictEqual(second.status, 200, second.text)
      const third = yield* call("POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: plan } })
      assert.strictEqual(third.status, 200, third.text)
      assert.include(third.json.objective, "quarterly report")
      assert.strictEqual(third.json.session.status, "completed")
      assert.strictEqual(third.json.session.endReason, "objective-met")

      // the session endpoints read it: list with kind=coaching, messages, export
      const list = yield* call("GET", "/api/sessions?kind=coaching", { token: ada })
      assert.deepStrictEqual(list.json.items.map((s: any) => s.id), [id])
      const practiceOnly = yield* call("GET", "/api/sessions?kind=practice", { token: ada })
      assert.isFalse(practiceOnly.json.items.some((s: any) => s.id === id))
      const messages = yield* call("GET", `/api/sessions/${id}/messages`, { token: ada })
      assert.deepStrictEqual(messages.json.items.map((m: any) => m.role), [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant"
      ])
      const late = yield* call("POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: "one more" } })
      assert.strictEqual(late.status, 409, late.text)
      const exported = yield* call("GET", `/api/sessions/${id}/export`, { token: ada })
      assert.strictEqual(exported.status, 200, exported.text)
      assert.include(exported.text, "rough night")
      // admins list it as any session of the organization
      const byAdmin = yield* call("GET", "/api/sessions?kind=coaching&userId=ada", { token: root })
      assert.deepStrictEqual(byAdmin.json.items.map((s: any) => s.id), [id])
    }).pipe(Effect.provide(serve())))

  it.live("another learner's (or organization's) coaching session is 404; ended, it answers 409; delete goes through /api/sessions", () =>
    Effect.gen(function*() {
      const id: string = (yield* startCoaching(ada)).json.id
      for (const token of [grace, other]) {
        const send = yield* call("POST", `/api/coaching/${id}/messages`, { token, body: { text: hello } })
        assert.strictEqual(send.status, 404, send.text)
        assert.strictEqual(send.json._tag, "NotFound")
        assert.strictEqual((yield* call("POST", `/api/coaching/${id}/end`, { token })).status, 404)
        assert.strictEqual((yield* call("GET", `/api/sessions/${id}`, { token })).status, 404)
      }
      assert.strictEqual(
        (yield* call("POST", "/api/coaching/no-such-session/messages", { token: ada, body: { text: "hi" } })).status,
        404
      )
      // the owner ends it; then a message is a conflict
      const ended = yield* call("POST", `/api/coaching/${id}/end`, { token: ada })
      assert.strictEqual(ended.status, 200, ended.text)
      assert.strictEqual(ended.json.status, "completed")
      assert.strictEqual(ended.json.endReason, "user")
      const late = yield* call("POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: hello } })
      assert.strictEqual(late.status, 409, late.text)
      // delete goes through the session endpoint
      assert.strictEqual((yield* call("DELETE", `/api/sessions/${id}`, { token: ada })).status, 204)
      assert.strictEqual((yield* call("GET", `/api/sessions/${id}`, { token: ada })).status, 404)
    }).pipe(Effect.provide(serve())))

  it.live("bad bodies answer 400 naming the field; no token 401; the live cap 503", () =>
    Effect.gen(function*() {
      const badPhase = yield* call("POST", "/api/coaching", { token: ada, body: { phase: "noon" } })
      assert.strictEqual(badPhase.status, 400, badPhase.text)
      assert.strictEqual(badPhase.json.field, "phase")
      const tooMany = yield* call("POST", "/api/coaching", {
        token: ada,
        body: { aspirations: Array.from({ length: 11 }, (_, i) => `goal ${i}`) }
      })
      assert.strictEqual(tooMany.status, 400, tooMany.text)
      assert.strictEqual(tooMany.json.field, "aspirations")
      const notJson = yield* call("POST", "/api/coaching", { token: ada, raw: "{nope" })
      assert.strictEqual(notJson.status, 400)
      assert.strictEqual((yield* call("POST", "/api/coaching", { body: {} })).status, 401)

      const id: string = (yield* startCoaching(ada, {})).json.id
      const empty = yield* call("POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: "   " } })
      assert.strictEqual(empty.status, 400, empty.text)
      assert.strictEqual(empty.json.field, "text")
      const big = yield* call("POST", `/api/coaching/${id}/messages`, {
        token: ada,
        body: { text: "x".repeat(70_000) }
      })
      assert.strictEqual(big.status, 413, big.text)

      const full = yield* call("POST", "/api/coaching", { token: grace, body: {} })
      assert.strictEqual(full.status, 503, full.text)
      assert.strictEqual(full.json._tag, "AtCapacity")
      // ending one frees its place
      yield* call("POST", `/api/coaching/${id}/end`, { token: ada })
      assert.strictEqual((yield* call("POST", "/api/coaching", { token: grace, body: {} })).status, 201)
    }).pipe(Effect.provide(serve({ coaching: { maxLive: 1 } }))))

  it.live("coaching messages share the per-user message rate limit (429)", () =>
    Effect.gen(function*() {
      const id: string = (yield* startCoaching(ada)).json.id
      assert.strictEqual(
        (yield* call("POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: hello } })).status,
        200
      )
      const limited = yield* call("POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: goals } })
      assert.strictEqual(limited.status, 429, limited.text)
      assert.isAbove(limited.json.retryAfterSeconds, 0)
    }).pipe(Effect.provide(serve({ messageRate: { limit: 1, window: "1 hour" } }))))

  it.live("deleting a live coaching session ends it, deletes it and releases its live place", () =>
    Effect.gen(function*() {
      const id: string = (yield* startCoaching(ada)).json.id
      assert.strictEqual(
        (yield* call("POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: hello } })).status,
        200
      )
      const removed = yield* call("DELETE", `/api/sessions/${id}`, { token: ada })
      assert.strictEqual(removed.status, 204, removed.text)
      assert.strictEqual((yield* call("GET", `/api/sessions/${id}`, { token: ada })).status, 404)
      const late = yield* call("POST", `/api/coaching/${id}/messages`, { token: ada, body: { text: goals } })
      assert.strictEqual(late.status, 404, late.text)
      // its live place is released: with room for one live session, another starts
      const next = yield* call("POST", "/api/coaching", { token: grace, body: {} })
      assert.strictEqual(next.status, 201, next.text)
    }).pipe(Effect.provide(serve({ coaching: { maxLive: 1 } }))))

  it.live("the coaching endpoints are in the OpenAPI document", () =>
    Effect.gen(function*() {
      const spec = (yield* call("GET", "/api/openapi.json")).json
      for (const path of ["/api/coaching", "/api/coaching/{id}/messages", "/api/coaching/{id}/end"]) {
        assert.property(spec.paths, path)
      }
    }).pipe(Effect.provide(serve())))
})
