/**
 * The live events of a session across a server restart and over the WebSocket: the events are
 * persisted in the session store (SQLite file here), so a client that reconnects to a new server
 * process over the same file with `Last-Event-ID` gets every event after it, once, in order.
 */
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import { PostgresSessionStore } from "@braid/postgres"
import { RedisEventBus } from "@braid/redis"
import { EventLog, Server } from "@braid/server"
import { SqliteSessionStore } from "@braid/sqlite"
import { describeWith } from "@braid/testing"
import { Practice, Scripts, SessionEvents, SessionStore } from "@braid/workflows"
import { Socket } from "@effect/platform"
import { NodeHttpServer, NodeSocket } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Fiber, Layer, Stream } from "effect"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { freshSchema } from "../packages/postgres/test/schemas.js"
import { baseUrl, call, callAt, readEvents, secret, type SseEvent, tokenOf } from "../packages/server/test/helpers.js"

const ada = tokenOf("ada", "learner")
const bob = tokenOf("bob", "learner")
const tess = tokenOf("tess", "teacher")

/** A server on an ephemeral port over the session store in `file` (a new process would do the same). */
const serverOn = (file: string, options: Partial<Server.Options> = {}) =>
  Server.layer({ secret, ...options }).pipe(
    Layer.provide(Practice.layer({ idleTimeout: "10 minutes" })),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(Layer.mergeAll(
      SqliteSessionStore.layer(file),
      Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.practice)),
      EventBus.layerMemory
    ))
  )

const tmpFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-serve-events-")), "sessions.db")

interface WsResult {
  readonly frames: ReadonlyArray<any>
  readonly protocol: string
}

/** Opens a WebSocket, collects its JSON frames until `until` says stop (then closes it). */
const wsFrames = (
  pathAndQuery: string,
  until: (frames: ReadonlyArray<any>) => boolean,
  options: { protocols?: Array<string>; onOpen?: () => Promise<void> } = {}
) =>
  Effect.gen(function*() {
    const base = (yield* baseUrl).replace(/^http/, "ws")
    const make = yield* Socket.WebSocketConstructor
    return yield* Effect.async<WsResult, Error>((resume) => {
      let done = false
      const finish = (e: Effect.Effect<WsResult, Error>) => {
        if (done) return
        done = true
        resume(e)
      }
      const ws = make(`${base}${pathAndQuery}`, options.protocols)
      const frames: Array<any> = []
      ws.addEventListener("open", () => void options.onOpen?.())
      ws.addEventListener("message", (m) => {
        frames.push(JSON.parse(String(m.data)))
        if (until(frames)) {
          ws.close()
          finish(Effect.succeed({ frames, protocol: ws.protocol }))
        }
      })
      ws.addEventListener("error", () => finish(Effect.fail(new Error("websocket error"))))
      ws.addEventListener("close", () => finish(Effect.succeed({ frames, protocol: ws.protocol })))
      return Effect.sync(() => ws.close())
    }).pipe(Effect.timeout("30 seconds"))
  }).pipe(Effect.provide(NodeSocket.layerWebSocketConstructor))

const ids = (events: ReadonlyArray<SseEvent>) => events.filter((e) => e.id !== undefined).map((e) => Number(e.id))

describe("session events: persisted, resumed after a restart, over SSE and WebSocket", () => {
  it.live("a client that reconnects to a restarted server (same SQLite file) with Last-Event-ID loses nothing and gets nothing twice", () =>
    Effect.gen(function*() {
      const file = tmpFile()
      // First server process: a session, a turn, the end, while the client is disconnected after event 2.
      const first = yield* Effect.gen(function*() {
        const created = yield* call("POST", "/api/scenarios", { token: tess, body: Scripts.practiceScenario })
        assert.strictEqual(created.status, 201, created.text)
        const started = yield* call("POST", "/api/sessions", { token: ada, body: { scenarioId: "first-session" } })
        const id: string = started.json.session.id
        const opening = yield* readEvents(`/api/sessions/${id}/events`, (es) => ids(es).length >= 2, { token: ada })
        assert.deepStrictEqual(ids(opening.events), [1, 2])
        const sent = yield* call("POST", `/api/sessions/${id}/messages`, {
          token: ada,
          body: { text: Scripts.practiceLearner[0] }
        })
        assert.strictEqual(sent.status, 200, sent.text)
        const ended = yield* call("POST", `/api/sessions/${id}/end`, { token: ada })
        assert.strictEqual(ended.status, 200, ended.text)
        const all = yield* readEvents(
          `/api/sessions/${id}/events`,
          (es) => es.some((e) => e.event === "SessionEnded"),
          { token: ada }
        )
        return { id, all: all.events.filter((e) => e.id !== undefined) }
      }).pipe(Effect.provide(serverOn(file)))
      const { all, id } = first
      assert.deepStrictEqual(ids(all), all.map((_, i) => i + 1), "ids are 1, 2, ... without a gap")
      assert.includeMembers(all.map((e) => e.event), ["SessionStarted", "LearnerMessage", "AiTurn", "SessionEnded"])
      assert.notInclude(all.map((e) => e.event), "AiTurnDelta")

      // Second server process over the same file: resume after event 2.
      yield* Effect.gen(function*() {
        const resumed = yield* readEvents(
          `/api/sessions/${id}/events`,
          (es) => es.some((e) => e.event === "SessionEnded"),
          { token: ada, lastEventId: "2" }
        )
        assert.deepStrictEqual(
          resumed.events.map((e) => [e.id, e.event, e.data.eventId]),
          all.slice(2).map((e) => [e.id, e.event, e.data.eventId])
        )
        // the same over the WebSocket (?lastEventId=, token in the subprotocol)
        const ws = yield* wsFrames(
          `/api/sessions/${encodeURIComponent(id)}/ws?lastEventId=2`,
          (fs) => fs.some((f) => f.event?._tag === "SessionEnded"),
          { protocols: ["braid", ada] }
        )
        assert.strictEqual(ws.protocol, "braid")
        assert.deepStrictEqual(
          ws.frames.filter((f) => f.event !== undefined).map((f) => [String(f.id), f.event._tag, f.event.eventId]),
          all.slice(2).map((e) => [e.id, e.event, e.data.eventId])
        )
        // another learner cannot follow it, on either endpoint
        const denied = yield* call("GET", `/api/sessions/${id}/ws?token=${bob}`)
        assert.strictEqual(denied.status, 404, denied.text)
        assert.strictEqual(denied.json._tag, "NotFound")
        const unauthenticated = yield* call("GET", `/api/sessions/${id}/ws?token=forged`)
        assert.strictEqual(unauthenticated.status, 401, unauthenticated.text)
        assert.strictEqual(unauthenticated.json._tag, "Unauthorized")
      }).pipe(Effect.provide(serverOn(file)))
    }))

  it.live("the WebSocket pushes a turn live: deltas without an id, then the persisted AiTurn with the next id; pings on a quiet socket", () =>
    Effect.gen(function*() {
      const created = yield* call("POST", "/api/scenarios", { token: tess, body: Scripts.practiceScenario })
      assert.strictEqual(created.status, 201, created.text)
      const started = yield* call("POST", "/api/sessions", { token: ada, body: { scenarioId: "first-session" } })
      const id: string = started.json.session.id
      const base = yield* baseUrl
      let sent: Awaited<ReturnType<typeof callAt>> | undefined
      const ws = yield* wsFrames(
        `/api/sessions/${id}/ws?token=${ada}`,
        (fs) => fs.some((f) => f.event?._tag === "AiTurn" && f.event.seq === 2) && fs.some((f) => f.type === "ping"),
        {
          onOpen: async () => {
            sent = await callAt(base, "POST", `/api/sessions/${id}/messages`, {
              token: ada,
              body: { text: Scripts.practiceLearner[0] }
            })
          }
        }
      )
      assert.strictEqual(sent?.status, 200, sent?.text)
      const events = ws.frames.filter((f) => f.event !== undefined)
      const persisted = events.filter((f) => f.id !== undefined)
      assert.deepStrictEqual(persisted.map((f) => f.id), persisted.map((_, i) => i + 1))
      const reply = events.find((f) => f.event._tag === "AiTurn" && f.event.seq === 2)
      const deltas = events.filter((f) => f.event._tag === "AiTurnDelta" && f.event.turnId === reply.event.turnId)
      assert.isAbove(deltas.length, 1)
      assert.isTrue(deltas.every((d) => d.id === undefined), "deltas carry no id")
      assert.isBelow(events.lastIndexOf(deltas[deltas.length - 1]), events.indexOf(reply))
      assert.strictEqual(deltas.map((d) => d.event.delta).join("").trim(), reply.event.text)
      // without an upgrade the path is refused as a bad request
      const plain = yield* call("GET", `/api/sessions/${id}/ws?token=${ada}`)
      assert.strictEqual(plain.status, 400, plain.text)
    }).pipe(Effect.provide(serverOn(tmpFile(), { heartbeat: "300 millis" }))))
})

const describePg = await describeWith("postgres")
const describeRedis = await describeWith("redis")

describePg("session events between two processes (PostgreSQL store, Redis bus)", () => {
  const { url } = freshSchema("braid_sev")
  describeRedis("with Redis", () => {
    it.live("a follower on one process gets the events another process emits, live (Redis wakes it, no poll), numbered by the store", () =>
      Effect.gen(function*() {
        const prefix = `braid-sev-${crypto.randomUUID().slice(0, 8)}:`
        /** One "process": its own pool on the store and its own Redis connections. */
        const processContext = () =>
          Layer.build(Layer.mergeAll(
            PostgresSessionStore.layer({ url, timeout: "20 seconds" }),
            RedisEventBus.layer({ prefix })
          ))
        const a = yield* processContext()
        const b = yield* processContext()
        const storeA = Context.get(a, SessionStore.SessionStore)
        const storeB = Context.get(b, SessionStore.SessionStore)
        const sessionId = `sev-${crypto.randomUUID()}`
        yield* storeA.createSession({ id: sessionId, userId: "ada", kind: "practice", createdAt: 1 })
        const base = { tenant: "default", sessionId, userId: "ada" }
        const emitOnA = <E extends SessionEvents.Event>(
          Event: SessionEvents.EventClass<E>,
          fields: Omit<E, "_tag" | "eventId" | "at">
        ) => Effect.provide(SessionEvents.emit(Event, fields), a)
        yield* emitOnA(SessionEvents.SessionStarted, { ...base, kind: "practice" })

        // process B follows from the start, with a poll too slow to matter: only the bus wakes it
        const log = yield* EventLog.make(storeB, { pollInterval: "1 hour" }).pipe(Effect.provide(b))
        const ada = { userId: "ada", role: "learner", tenant: "default" } as const
        const reader = yield* log.follow(ada, sessionId, 0).pipe(Stream.take(4), Stream.runCollect, Effect.fork)
        yield* Effect.sleep("500 millis") // B's Redis subscription is in place
        yield* emitOnA(SessionEvents.AiTurnDelta, { ...base, turnId: "t1", delta: "Hel" })
        yield* emitOnA(SessionEvents.AiTurn, { ...base, turnId: "t1", seq: 0, text: "Hello", fallback: false })
        yield* emitOnA(SessionEvents.SessionEnded, { ...base, reason: "user", requestedAt: 2 })
        const items = Chunk.toReadonlyArray(yield* Fiber.join(reader).pipe(Effect.timeout("20 seconds")))
        assert.deepStrictEqual(
          items.map((i) => i._tag === "Event" ? `${i.entry.seq}:${i.entry.event._tag}` : `live:${i.event._tag}`),
          ["1:SessionStarted", "live:AiTurnDelta", "2:AiTurn", "3:SessionEnded"]
        )
      }).pipe(Effect.scoped))
  })
})
