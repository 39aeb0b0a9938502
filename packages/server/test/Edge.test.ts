import { Api } from "@braid/server"
import { Scripts } from "@braid/workflows"
import { OpenApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { baseUrl, call, callAt, readEvents, serve, tokenOf } from "./helpers.js"

const ada = tokenOf("ada", "learner")
const tess = tokenOf("tess", "teacher")

const setup = Effect.gen(function*() {
  const created = yield* call("POST", "/api/scenarios", { token: tess, body: Scripts.practiceScenario })
  assert.strictEqual(created.status, 201, created.text)
  const started = yield* call("POST", "/api/sessions", { token: ada, body: { scenarioId: "first-session" } })
  return started.json.session.id as string
})

/** A JSON value with the shapes that break naive servers: `__proto__` keys, deep nesting, big numbers. */
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(
    fc.constantFrom("__proto__", "constructor", "text", "scenarioId", "title", "persona", "skills"),
    fc.jsonValue({ maxDepth: 3 })
  ),
  fc.integer({ min: 1, max: 5000 }).map((depth) => "[".repeat(depth) + "]".repeat(depth)),
  fc.string().map((s) => `{"text": ${JSON.stringify(s)}, "__proto__": {"admin": true}}`),
  fc.constantFrom("{", "nul", "1e999999", "\"text\"", "{\"text\": 12345678901234567890123}")
)

describe("Server edge", () => {
  it.live("bodies larger than the limit are 413 PayloadTooLarge, chunked ones (no Content-Length) too", () =>
    Effect.gen(function*() {
      const id = yield* setup
      const big = JSON.stringify({ text: "x".repeat(70 * 1024) })
      const r = yield* call("POST", `/api/sessions/${id}/messages`, { token: ada, raw: big })
      assert.strictEqual(r.status, 413, r.text)
      assert.strictEqual(r.json._tag, "PayloadTooLarge")
      // chunked (no Content-Length): the server stops reading at the limit and answers 413 as
      // JSON all the same (then closes the connection, the rest of the body is never read)
      const base = yield* baseUrl
      const chunked = yield* Effect.async<
        { status: number | undefined; body: string; connection: string | undefined },
        Error
      >(
        (resume) => {
          const req = http.request(`${base}/api/sessions/${id}/messages`, {
            method: "POST",
            headers: { authorization: `Bearer ${ada}`, "content-type": "application/json" }
          }, (res) => {
            let body = ""
            res.setEncoding("utf8")
            res.on("data", (c: string) => (body += c))
            res.on(
              "end",
              () => resume(Effect.succeed({ status: res.statusCode, body, connection: res.headers.connection }))
            )
          })
          req.on("error", (e) => resume(Effect.fail(e)))
          assert.isUndefined(req.getHeader("content-length"))
          req.write("{\"text\": \"")
          for (let i = 0; i < 80; i++) req.write("y".repeat(1024))
          req.end("\"}")
        }
      )
      assert.strictEqual(chunked.status, 413, chunked.body)
      assert.strictEqual(JSON.parse(chunked.body)._tag, "PayloadTooLarge")
      assert.strictEqual(chunked.connection, "close")
      // a chunked body under the limit is read as usual
      const small = yield* Effect.async<number | undefined, Error>((resume) => {
        const req = http.request(`${base}/api/sessions/${id}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${ada}`, "content-type": "application/json" }
        }, (res) => {
          res.resume()
          res.on("end", () => resume(Effect.succeed(res.statusCode)))
        })
        req.on("error", (e) => resume(Effect.fail(e)))
        req.write("{\"text\": \"")
        req.end("Hello there\"}")
      })
      assert.strictEqual(small, 200)
      // under the limit: fine
      const ok = yield* call("POST", `/api/sessions/${id}/messages`, {
        token: ada,
        body: { text: "What brings you here today?" }
      })
      assert.strictEqual(ok.status, 200, ok.text)
    }).pipe(Effect.provide(serve())))

  it.live("fuzzed JSON bodies get typed 400s (or a legitimate answer), never a 500 or internals", () =>
    Effect.gen(function*() {
      const id = yield* setup
      const base = yield* baseUrl
      const targets = [
        ["POST", "/api/scenarios", tess],
        ["PUT", "/api/scenarios/first-session", tess],
        ["POST", "/api/sessions", ada],
        ["POST", `/api/sessions/${id}/messages`, ada],
        ["POST", "/api/runs", tess]
      ] as const
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...targets), nasty, async ([method, p, token], value) => {
            const raw = typeof value === "string" ? value : JSON.stringify(value)
            const r = await callAt(base, method, p, { token, raw })
            assert.notStrictEqual(r.status, 500, `${method} ${p} ${raw.slice(0, 200)} -> ${r.text}`)
            assert.include(
              [200, 201, 400, 404, 409, 413, 429],
              r.status,
              `${method} ${p} ${raw.slice(0, 200)} -> ${r.text}`
            )
            assert.isString(r.json._tag ?? r.json.id ?? r.json.turnId ?? r.json.session?.id)
            if (r.status === 400) {
              assert.strictEqual(r.json._tag, "InvalidInput")
              assert.isString(r.json.message)
              assert.notMatch(r.text, /at .*\.ts:\d+|node_modules/)
            }
          }),
          { numRuns: 150 }
        )
      )
    }).pipe(Effect.provide(serve({ messageRate: { limit: 10_000, window: "1 minute" } }))))

  it.live("a body that is not JSON is a 400 naming no field; a wrong type names the field", () =>
    Effect.gen(function*() {
      const id = yield* setup
      const notJson = yield* call("POST", `/api/sessions/${id}/messages`, { token: ada, raw: "{\"text\": " })
      assert.strictEqual(notJson.status, 400, notJson.text)
      assert.strictEqual(notJson.json._tag, "InvalidInput")
      const wrongType = yield* call("POST", `/api/sessions/${id}/messages`, { token: ada, body: { text: 42 } })
      assert.strictEqual(wrongType.status, 400)
      assert.strictEqual(wrongType.json.field, "text")
      const missing = yield* call("POST", "/api/sessions", { token: ada, body: {} })
      assert.strictEqual(missing.json.field, "scenarioId")
    }).pipe(Effect.provide(serve())))

  it.live("SSE resume with Last-Event-ID: the two halves are the whole stream, nothing lost or repeated", () =>
    Effect.gen(function*() {
      const id = yield* setup
      for (const text of Scripts.practiceLearner.slice(0, 2)) {
        assert.strictEqual(
          (yield* call("POST", `/api/sessions/${id}/messages`, { token: ada, body: { text } })).status,
          200
        )
      }
      const all = yield* readEvents(
        `/api/sessions/${id}/events`,
        (es) => es.filter((e) => e.event === "AiTurn").length >= 3,
        { token: ada }
      )
      // replayed events are the persisted ones (deltas are live only): every one has its id
      assert.isTrue(all.events.every((e) => e.id !== undefined && e.event !== "AiTurnDelta"))
      const total = all.events.length
      assert.isAtLeast(total, 6)
      const cut = Math.floor(total / 2)
      const first = {
        events: (yield* readEvents(`/api/sessions/${id}/events`, (es) => es.length >= cut, { token: ada })).events
          .slice(0, cut)
      }
      const lastId = first.events[cut - 1]!.id!
      // EventSource sends the header; `?lastEventId=` is the fallback for other clients
      const rest = yield* readEvents(`/api/sessions/${id}/events`, (es) => es.length >= total - cut, {
        token: ada,
        lastEventId: lastId
      })
      const joined = [...first.events, ...rest.events]
      assert.deepStrictEqual(joined.map((e) => e.id), all.events.map((e) => e.id))
      assert.deepStrictEqual(joined.map((e) => e.data.eventId), all.events.map((e) => e.data.eventId))
      assert.strictEqual(new Set(joined.map((e) => e.data.eventId)).size, total)
      // live after a resume: the next turn's events arrive once
      const base = yield* baseUrl
      const live = yield* readEvents(
        `/api/sessions/${id}/events?lastEventId=${total}`,
        (es) => es.some((e) => e.event === "AiTurn"),
        {
          token: ada,
          onOpen: async () => {
            await callAt(base, "POST", `/api/sessions/${id}/messages`, {
              token: ada,
              body: { text: Scripts.practiceLearner[2] }
            })
          }
        }
      )
      const liveIds = live.events.filter((e) => e.id !== undefined).map((e) => Number(e.id))
      assert.strictEqual(liveIds[0], total + 1)
      assert.deepStrictEqual(liveIds, liveIds.map((_, i) => total + 1 + i))
      assert.isTrue(live.events.filter((e) => e.id === undefined).every((e) => e.event === "AiTurnDelta"))
    }).pipe(Effect.provide(serve())))

  it.live("OpenAPI: valid JSON listing every endpoint with its errors; the interactive page is served", () =>
    Effect.gen(function*() {
      const r = yield* call("GET", "/api/openapi.json")
      assert.strictEqual(r.status, 200)
      const spec = JSON.parse(r.text)
      assert.strictEqual(spec.openapi, "3.1.0")
      assert.deepStrictEqual(spec, JSON.parse(JSON.stringify(OpenApi.fromApi(Api.Api))))
      const operations = Object.entries(spec.paths).flatMap(([p, ops]: [string, any]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)
      )
      for (
        const op of [
          "GET /api/health",
          "GET /api/me",
          "GET /api/scenarios",
          "POST /api/scenarios",
          "PUT /api/scenarios/{id}",
          "POST /api/sessions",
          "GET /api/sessions",
          "POST /api/sessions/{id}/messages",
          "GET /api/sessions/{id}/events",
          "GET /api/sessions/{id}/export",
          "POST /api/sessions/{id}/again",
          "DELETE /api/sessions/{id}",
          "GET /api/sessions/{id}/evaluation",
          "POST /api/sessions/{id}/evaluation/requeue",
          "GET /api/admin/overview",
          "GET /api/admin/metrics",
          "GET /api/pipelines",
          "POST /api/runs",
          "GET /api/runs/{id}"
        ]
      ) assert.include(operations, op)
      assert.property(spec.paths["/api/sessions/{id}/messages"].post.responses, "429")
      assert.property(spec.paths["/api/sessions"].post.responses, "503")
      const docs = yield* call("GET", "/api/docs")
      assert.strictEqual(docs.status, 200)
      assert.match(docs.headers.get("content-type") ?? "", /text\/html/)
    }).pipe(Effect.provide(serve())))

  it.live("CORS is closed by default and open to the allowed origins only", () =>
    Effect.gen(function*() {
      const r = yield* call("GET", "/api/health", { headers: { origin: "https://evil.example" } })
      assert.isNull(r.headers.get("access-control-allow-origin"))
    }).pipe(Effect.provide(serve())))

  it.live("CORS with an allow-list", () =>
    Effect.gen(function*() {
      const allowed = yield* call("GET", "/api/health", { headers: { origin: "https://app.example" } })
      assert.strictEqual(allowed.headers.get("access-control-allow-origin"), "https://app.example")
      const other = yield* call("GET", "/api/health", { headers: { origin: "https://evil.example" } })
      assert.notStrictEqual(other.headers.get("access-control-allow-origin"), "https://evil.example")
    }).pipe(Effect.provide(serve({ corsOrigins: ["https://app.example"] }))))

  const webDir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-web-"))
  fs.mkdirSync(path.join(webDir, "assets"))
  fs.writeFileSync(path.join(webDir, "index.html"), "<!doctype html><title>app</title><div id=root></div>")
  fs.writeFileSync(path.join(webDir, "assets", "app.js"), "console.log('app')")
  fs.writeFileSync(path.join(os.tmpdir(), "braid-secret-outside.txt"), "outside")

  it.live("the web app: files, index.html for app routes, no escape from the folder; unknown API paths are JSON 404s", () =>
    Effect.gen(function*() {
      const asset = yield* call("GET", "/assets/app.js")
      assert.strictEqual(asset.status, 200)
      assert.strictEqual(asset.text, "console.log('app')")
      assert.include(asset.headers.get("cache-control") ?? "", "immutable")
      for (const route of ["/", "/sessions/abc", "/admin"]) {
        const page = yield* call("GET", route)
        assert.strictEqual(page.status, 200)
        assert.include(page.text, "<div id=root>")
      }
      const escape = yield* call("GET", "/..%2f..%2f..%2fbraid-secret-outside.txt")
      assert.notInclude(escape.text, "outside")
      const api = yield* call("GET", "/api/nothing-here")
      assert.strictEqual(api.status, 404)
      assert.strictEqual(api.json._tag, "NotFound")
    }).pipe(Effect.provide(serve({ webDir }))))

  it.live("without the web app's files, a page says it is not built", () =>
    Effect.gen(function*() {
      const page = yield* call("GET", "/")
      assert.strictEqual(page.status, 200)
      assert.include(page.text, "not built")
    }).pipe(Effect.provide(serve({ webDir: path.join(webDir, "missing") }))))
})
