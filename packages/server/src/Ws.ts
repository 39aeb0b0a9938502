/**
 * The WebSocket push of a session, `GET /api/sessions/:id/ws`: the same events as the server-sent
 * events (`EventLog.follow`: the stored events after `?lastEventId=n`, then live), one JSON text
 * frame each, `{ "id": n, "event": {...} }` for a persisted event and `{ "event": {...} }` for a
 * live-only one (`AiTurnDelta`), and `{ "type": "ping" }` every `ping` interval on a quiet socket
 * too. The token is `?token=<token>` or the second WebSocket subprotocol
 * (`new WebSocket(url, ["braid", token])`; the server answers with the subprotocol `braid`).
 * Refusals are answered before the upgrade, as plain HTTP JSON errors: 401 `Unauthorized`, 404
 * `NotFound` (no such session visible to the caller), 503 `Unavailable`. Messages the client
 * sends are ignored (sends stay on `POST /api/sessions/:id/messages`). The socket closes (1000)
 * when the session is deleted.
 *
 * @since 0.3.0
 */
import type { SessionStore } from "@braid/workflows"
import { SessionEvents } from "@braid/workflows"
import type { HttpServerRequest } from "@effect/platform"
import { HttpServerResponse, Socket } from "@effect/platform"
import type { Duration, Redacted } from "effect"
import { Clock, Effect, Either, Schedule, Schema, Stream } from "effect"
import * as Auth from "./Auth.js"
import type * as EventLog from "./EventLog.js"
import * as Sse from "./Sse.js"

/**
 * One frame the server sends: an event (with its sequence number when it is persisted), or a ping.
 *
 * @category models
 * @since 0.3.0
 */
export type Frame =
  | { readonly id?: number; readonly event: typeof SessionEvents.Event.Encoded }
  | { readonly type: "ping" }

/**
 * What the WebSocket endpoint needs.
 *
 * @category models
 * @since 0.3.0
 */
export interface Deps {
  readonly secret: Redacted.Redacted<string>
  readonly store: SessionStore.Service
  readonly log: EventLog.EventLog
  /** How often a ping frame is sent. Default 15 s. */
  readonly ping?: Duration.DurationInput
}

const route = /^\/api\/sessions\/([^/]+)\/ws$/

/**
 * The session id of a WebSocket path (`/api/sessions/:id/ws`), or `undefined` for any other path.
 *
 * @example
 * ```ts
 * import { Ws } from "@braid/server"
 *
 * Ws.sessionOf("/api/sessions/s-1/ws?token=t") // "s-1"
 * ```
 *
 * @category parsing
 * @since 0.3.0
 */
export const sessionOf = (url: string): string | undefined => {
  const match = route.exec(url.split("?")[0] ?? "")
  if (match === null) return undefined
  try {
    return decodeURIComponent(match[1]!)
  } catch {
    return undefined
  }
}

const encodeEvent = Schema.encodeSync(SessionEvents.Event)

/**
 * The frame of a followed item.
 *
 * @example
 * ```ts
 * import { EventLog, Ws } from "@braid/server"
 *
 * declare const item: EventLog.Item
 * const text = JSON.stringify(Ws.frameOf(item))
 * ```
 *
 * @category encoding
 * @since 0.3.0
 */
export const frameOf = (item: EventLog.Item): Frame =>
  item._tag === "Event"
    ? { id: item.entry.seq, event: encodeEvent(item.entry.event) }
    : { event: encodeEvent(item.event) }

/** The token of a WebSocket request: `?token=`, else the subprotocol after `braid`. */
const tokenOf = (request: HttpServerRequest.HttpServerRequest, params: URLSearchParams): string => {
  const q = params.get("token")
  if (q !== null && q.trim() !== "") return q.trim()
  const protocols = (request.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim())
  return protocols[0] === "braid" && protocols[1] !== undefined ? protocols[1] : ""
}

const refuse = (status: number, _tag: string, message: string) =>
  HttpServerResponse.unsafeJson({ _tag, message }, { status })

/**
 * Serves one WebSocket request (the path was matched with `sessionOf`): checks the token and the
 * session, upgrades, then pushes the session's events until either side closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpServerRequest } from "@effect/platform"
 * import { Ws } from "@braid/server"
 *
 * declare const deps: Ws.Deps
 * const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => Ws.serve(deps, request, "s-1"))
 * ```
 *
 * @category execution
 * @since 0.3.0
 */
export const serve = (
  deps: Deps,
  request: HttpServerRequest.HttpServerRequest,
  sessionId: string
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function*() {
    const params = new URL(request.url, "http://localhost").searchParams
    const now = yield* Clock.currentTimeMillis
    const verified = Auth.verify(deps.secret, tokenOf(request, params), Math.floor(now / 1000))
    if (Either.isLeft(verified)) return refuse(401, "Unauthorized", Auth.describe(verified.left))
    const c = verified.right
    const principal: SessionStore.Principal = { userId: c.sub, role: c.role, tenant: c.tenant }
    const visible = yield* Effect.either(deps.store.getSession(principal, sessionId))
    if (Either.isLeft(visible)) {
      return visible.left._tag === "SessionNotFound"
        ? refuse(404, "NotFound", `session ${sessionId} not found`)
        : refuse(503, "Unavailable", "the store does not answer; try again shortly")
    }
    const after = Sse.lastEventId(undefined, params.get("lastEventId") ?? undefined)
    const socket = yield* Effect.either(request.upgrade)
    if (Either.isLeft(socket)) return refuse(400, "InvalidInput", "this path needs a WebSocket upgrade")
    yield* Effect.scoped(Effect.gen(function*() {
      const write = yield* socket.right.writer
      const send = (frame: Frame) => write(JSON.stringify(frame))
      yield* deps.log.follow(principal, sessionId, after).pipe(
        Stream.runForEach((item) => send(frameOf(item))),
        Effect.zipRight(write(new Socket.CloseEvent(1000, "the session was deleted"))),
        Effect.catchAll(() => write(new Socket.CloseEvent(1011, "the events are unavailable; reconnect"))),
        Effect.ignore,
        // The request's fiber may run uninterruptibly (the platform's handler): these must not.
        Effect.interruptible,
        Effect.forkScoped
      )
      yield* send({ type: "ping" }).pipe(
        Effect.repeat(Schedule.spaced(deps.ping ?? "15 seconds")),
        Effect.ignore,
        Effect.delay(deps.ping ?? "15 seconds"),
        Effect.interruptible,
        Effect.forkScoped
      )
      // Client frames are ignored; this returns when the socket closes (either side).
      yield* Effect.ignore(socket.right.runRaw(() => Effect.void))
    }))
    return HttpServerResponse.empty()
  })
