/**
 * The server: the handlers of `Api.Api` on the practice workflow and the session store, the
 * authentication middleware (signed tokens, `Auth`), the server-sent events and the WebSocket
 * push of a session's persisted events (`EventLog`, `Ws`), the run viewer (`Runs`), the OpenAPI document (`/api/openapi.json`) and its
 * interactive page (`/api/docs`), and the web app's built files for every other path.
 *
 * Every body is read with a size limit (413 `PayloadTooLarge`) and decoded with its Schema (400
 * `InvalidInput` naming the field); message sends and runs are rate-limited per user (429
 * `RateLimited`, the `RateLimit` primitive); CORS is closed unless origins are allowed; every
 * error is typed JSON `{ _tag, message, field? }` and an unexpected one is logged and answered
 * as 500 `Internal` without internals.
 *
 * @since 0.3.0
 */
import { Json } from "@braid/core"
import { RateLimit } from "@braid/resilience"
import type { CircuitBreaker } from "@braid/resilience"
import { Admin, Practice, Scripts, SessionMetrics, SessionStore } from "@braid/workflows"
import type { HttpApp, HttpPlatform } from "@effect/platform"
import {
  FileSystem,
  HttpApiBuilder,
  HttpApiError,
  HttpApiScalar,
  HttpIncomingMessage,
  HttpMiddleware,
  HttpServerRequest,
  HttpServerResponse,
  Path
} from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import type { Duration } from "effect"
import { Cause, Clock, Effect, Either, Layer, Option, Redacted, Schedule, Stream } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { fileURLToPath } from "node:url"
import * as Api from "./Api.js"
import * as Auth from "./Auth.js"
import * as CoachingSessions from "./CoachingSessions.js"
import * as Errors from "./Errors.js"
import * as EvaluationRuns from "./EvaluationRuns.js"
import * as EventLog from "./EventLog.js"
import { caller, defined, orApi, requireRole, runLimited, ServerState } from "./internal/context.js"
import * as MeetingRuns from "./MeetingRuns.js"
import * as Runs from "./Runs.js"
import * as Sse from "./Sse.js"
import * as Ws from "./Ws.js"

/**
 * The options of the server.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** The secret that signs and verifies tokens (see `Auth.secretIn`). */
  readonly secret: Redacted.Redacted<string>
  /** The largest request body, in bytes. Default 65 536 (64 KiB). */
  readonly maxBodyBytes?: number
  /** Message sends per user. Default 30 per minute. */
  readonly messageRate?: { readonly limit: number; readonly window: Duration.DurationInput }
  /** Runs started per user. Default 10 per minute. */
  readonly runRate?: { readonly limit: number; readonly window: Duration.DurationInput }
  /**
   * Where the rate limits count. Default in this process's memory; several processes share
   * their counts through a shared store (`RedisRateLimit.store` of `@braid/redis`).
   */
  readonly rateLimits?: RateLimit.Store
  /** Origins allowed to call the API from a browser (CORS). Default none: closed. */
  readonly corsOrigins?: ReadonlyArray<string>
  /** The web app's built files (`index.html`, `assets/`); absent: a page says it is not built. */
  readonly webDir?: string
  /** How the server follows a session's persisted events (SSE and WebSocket). */
  readonly eventLog?: EventLog.Options
  /** The run viewer's registry (its model, how many runs it keeps). */
  readonly runs?: Runs.Options
  /** Live coaching sessions (their model, how many may be live at once). */
  readonly coaching?: CoachingSessions.Options
  /** Meeting runs (their model, how many are kept); records go to the `MeetingRecords` in context, else memory. */
  readonly meetings?: MeetingRuns.Options
  /** Evaluation runs (the judge's model, how many are kept); results go to the `ResultStore` in context, else memory. */
  readonly evaluationRuns?: EvaluationRuns.Options
  /** The circuit breaker in front of the model (its state is the model's health). */
  readonly breaker?: CircuitBreaker.CircuitBreaker
  /** A comment line sent on idle event streams (a ping frame on WebSockets), to keep proxies from closing them. Default 15 s. */
  readonly heartbeat?: Duration.DurationInput
  /** The version shown by `/api/health`. */
  readonly version?: string
}

const defaultMaxBody = 64 * 1024
const maxJsonDepth = 32

// --- authentication ------------------------------------------------------------------------------

const AuthenticationLive = Layer.effect(
  Api.Authentication,
  Effect.map(ServerState, ({ options }) => ({
    bearer: (token: Redacted.Redacted<string>) =>
      Effect.gen(function*() {
        let raw = Redacted.value(token).trim()
        if (raw === "") {
          // EventSource cannot set headers: `?token=` instead.
          const params = yield* HttpServerRequest.ParsedSearchParams
          const q = params["token"]
          raw = typeof q === "string" ? q : ""
        }
        const now = yield* Clock.currentTimeMillis
        const verified = Auth.verify(options.secret, raw, Math.floor(now / 1000))
        if (Either.isLeft(verified)) return yield* new Errors.Unauthorized({ message: Auth.describe(verified.left) })
        const c = verified.right
        return { userId: c.sub, role: c.role, tenant: c.tenant, expiresAt: c.exp } satisfies Api.Me
      })
  }))
)

// --- handlers ------------------------------------------------------------------------------------

const SystemLive = HttpApiBuilder.group(
  Api.Api,
  "system",
  (handlers) =>
    Effect.map(ServerState, ({ options }) =>
      handlers
        .handle("health", () => Effect.succeed({ status: "ok" as const, version: options.version ?? "0.3.0" }))
        .handle("me", () => Api.CurrentUser))
)

const slug = (title: string) =>
  title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "scenario"

const ScenariosLive = HttpApiBuilder.group(Api.Api, "scenarios", (handlers) =>
  Effect.map(ServerState, ({ store }) => {
    const provide = Effect.provideService(SessionStore.SessionStore, store)
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.flatMap(caller, (p) => orApi(provide(Practice.catalogue.list(p, defined(urlParams))))))
      .handle("get", ({ path }) =>
        Effect.flatMap(caller, (p) => orApi(provide(Practice.catalogue.get(p, path.id)))))
      .handle("create", ({ payload }) =>
        Effect.gen(function*() {
          const p = yield* requireRole("creating a scenario", "teacher", "admin")
          const id = payload.id ?? `${slug(payload.title)}-${crypto.randomUUID().slice(0, 8)}`
          const existing = yield* orApi(Effect.option(store.getScenario(p, id)))
          if (Option.isSome(existing)) {
            return yield* new Errors.Conflict({ message: `a scenario with id ${id} exists`, field: "id" })
          }
          return yield* orApi(provide(Practice.catalogue.put(p, { ...payload, id, author: p.userId })))
        }))
      .handle("update", ({ path, payload }) =>
        Effect.gen(function*() {
          const p = yield* requireRole("updating a scenario", "teacher", "admin")
          const existing = yield* orApi(store.getScenario(p, path.id))
          return yield* orApi(provide(Practice.catalogue.put(p, {
            ...payload,
            id: path.id,
            ...(existing.author !== undefined ? { author: existing.author } : {})
          })))
        }))
      .handle("remove", ({ path }) =>
        Effect.gen(function*() {
          const p = yield* requireRole("deleting a scenario", "teacher", "admin")
          yield* orApi(provide(Practice.catalogue.remove(p, path.id)))
        }))
  }))

const formatEvent = (item: EventLog.Item): string => Sse.format(Sse.ofItem(item))

const SessionsLive = HttpApiBuilder.group(
  Api.Api,
  "sessions",
  (handlers) =>
    Effect.map(ServerState, ({ limits, log, options, practice, store }) => {
      const rate = options.messageRate ?? { limit: 30, window: "1 minute" }
      const started = (s: Practice.Started): Api.Started => ({
        session: s.session,
        position: s.position,
        ...(s.opening !== undefined ? { opening: s.opening } : {})
      })
      const evaluationView = (sessionId: string, job: SessionStore.EvaluationRecord | undefined) =>
        job === undefined
          ? { sessionId, status: "none" as const }
          : { sessionId, status: job.status, evaluation: job }
      return handlers
        .handle(
          "start",
          ({ payload }) =>
            Effect.flatMap(caller, (p) => Effect.map(orApi(practice.start(p, payload.scenarioId)), started))
        )
        .handle("list", ({ urlParams }) =>
          Effect.gen(function*() {
            const p = yield* caller
            const { search, ...query } = urlParams
            const page = yield* orApi(store.listSessions(p, defined(query)))
            if (search === undefined || search.trim() === "") return page
            const needle = search.trim().toLowerCase()
            return { ...page, items: page.items.filter((s) => (s.title ?? "").toLowerCase().includes(needle)) }
          }))
        .handle("get", ({ path }) =>
          Effect.gen(function*() {
            const p = yield* caller
            const session = yield* orApi(store.getSession(p, path.id))
            const position = session.status === "queued" ? (yield* practice.cap.position(session.id)) ?? 0 : 0
            const evaluation = yield* orApi(store.getEvaluation(p, path.id))
            return { session, position, ...(evaluation !== undefined ? { evaluation } : {}) }
          }))
        .handle("send", ({ path, payload }) =>
          Effect.gen(function*() {
            const p = yield* caller
            const turn = yield* orApi(RateLimit.effect(practice.send(p, path.id, payload.text), {
              name: "messages",
              limits: [{ key: `messages:${p.tenant}:${p.userId}`, limit: rate.limit, window: rate.window }],
              store: limits
            }))
            return {
              turnId: turn.turnId,
              message: turn.message,
              session: turn.session,
              ...(turn.reply !== undefined ? { reply: turn.reply } : {}),
              ...(turn.verdict !== undefined ? { verdict: turn.verdict } : {})
            }
          }))
        .handle(
          "messages",
          ({ path, urlParams }) => Effect.flatMap(caller, (p) => orApi(store.messages(p, path.id, defined(urlParams))))
        )
        .handle("end", ({ path }) => Effect.flatMap(caller, (p) => orApi(practice.end(p, path.id))))
        .handle("remove", ({ path }) =>
          Effect.gen(function*() {
            const p = yield* caller
            const session = yield* orApi(store.getSession(p, path.id))
            // End a live session first: its timers and slot are released.
            if (session.status !== "completed") yield* orApi(practice.end(p, path.id))
            yield* orApi(store.deleteSession(p, path.id))
          }))
        .handle(
          "again",
          ({ path }) => Effect.flatMap(caller, (p) => Effect.map(orApi(practice.practiceAgain(p, path.id)), started))
        )
        .handle("export", ({ path }) =>
          Effect.gen(function*() {
            const p = yield* caller
            const markdown = yield* orApi(practice.exportMarkdown(p, path.id))
            return HttpServerResponse.text(markdown, {
              contentType: "text/markdown; charset=utf-8",
              headers: {
                "content-disposition": `attachment; filename="session-${path.id.replace(/[^\w.-]/g, "_")}.md"`
              }
            })
          }))
        .handle("events", ({ path }) =>
          Effect.gen(function*() {
            const p = yield* caller
            yield* orApi(store.getSession(p, path.id))
            const request = yield* HttpServerRequest.HttpServerRequest
            const params = yield* HttpServerRequest.ParsedSearchParams
            const after = Sse.lastEventId(request.headers["last-event-id"], params["lastEventId"])
            const heartbeat = Stream.fromSchedule(Schedule.spaced(options.heartbeat ?? "15 seconds")).pipe(
              Stream.map(() => ": keep-alive\n\n")
            )
            const body = Stream.make("retry: 2000\n\n").pipe(
              Stream.concat(
                log.follow(p, path.id, after).pipe(
                  Stream.map(formatEvent),
                  // The session was deleted, or the store failed: the stream ends (the client reconnects).
                  Stream.catchAll((e) =>
                    Stream.drain(Stream.fromEffect(Effect.logDebug("event stream ended", e.message)))
                  )
                )
              ),
              Stream.merge(heartbeat, { haltStrategy: "left" }),
              Stream.encodeText
            )
            return HttpServerResponse.stream(body, {
              contentType: "text/event-stream",
              headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
            })
          }))
        .handle("evaluation", ({ path }) =>
          Effect.gen(function*() {
            const p = yield* caller
            yield* orApi(store.getSession(p, path.id))
            return evaluationView(path.id, yield* orApi(store.getEvaluation(p, path.id)))
          }))
        .handle("requeue", ({ path }) =>
          Effect.gen(function*() {
            const p = yield* requireRole("requeueing an evaluation", "admin")
            const evaluator = practice.evaluation
            if (evaluator === undefined) {
              return yield* new Errors.Conflict({ message: "evaluations are off on this server" })
            }
            const job = yield* orApi(store.getEvaluation(p, path.id))
            if (job === undefined || job.status !== "failed") {
              return yield* new Errors.Conflict({
                message: job === undefined
                  ? "the session has no evaluation"
                  : `the evaluation is ${job.status}, not failed`
              })
            }
            const next = yield* orApi(evaluator.requeue(p, path.id))
            yield* Effect.forkDaemon(Effect.ignore(evaluator.process(path.id)))
            return evaluationView(path.id, next)
          }))
    })
)

const AdminLive = HttpApiBuilder.group(
  Api.Api,
  "admin",
  (handlers) =>
    Effect.map(ServerState, ({ options, store }) =>
      handlers
        .handle("overview", () =>
          Effect.gen(function*() {
            const p = yield* requireRole("the admin overview", "admin")
            return yield* orApi(Admin.overview(p, options.breaker !== undefined ? { breaker: options.breaker } : {}))
              .pipe(
                Effect.provideService(SessionStore.SessionStore, store)
              )
          }))
        .handle("metrics", () => Effect.zipRight(requireRole("the metrics", "admin"), SessionMetrics.snapshot)))
)

const RunsLive = HttpApiBuilder.group(
  Api.Api,
  "runs",
  (handlers) =>
    Effect.map(ServerState, (state) => {
      const { runs } = state
      const developer = (operation: string) => requireRole(operation, "teacher", "admin")
      return handlers
        .handle("pipelines", () => Effect.as(developer("the run viewer"), runs.pipelines))
        .handle("start", ({ payload }) =>
          Effect.gen(function*() {
            const p = yield* developer("starting a run")
            return yield* runLimited(state, p, runs.start(payload, p.userId))
          }))
        .handle(
          "list",
          () => Effect.as(developer("the run viewer"), Effect.sync(() => runs.list())).pipe(Effect.flatten)
        )
        .handle("get", ({ path }) =>
          Effect.gen(function*() {
            yield* developer("the run viewer")
            const run = runs.get(path.id)
            if (run === undefined) return yield* new Errors.NotFound({ message: `run ${path.id} not found` })
            return run
          }))
    })
)

// --- the edge: body limit, decode errors, unknown paths, the web app ------------------------------

const pathOf = (issuePath: ReadonlyArray<PropertyKey>): string =>
  issuePath.reduce<string>(
    (acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`),
    ""
  )

const apiTags = new Set([
  "InvalidInput",
  "Unauthorized",
  "Forbidden",
  "NotFound",
  "Conflict",
  "PayloadTooLarge",
  "RateLimited",
  "AtCapacity",
  "Unavailable",
  "Internal"
])

const tagOf = (u: unknown): string | undefined =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" ? u._tag : undefined

const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Braid</title></head>
<body><main><h1>Braid</h1>
<p>The web app is not built here (its files go in <code>packages/server/web/dist</code>). The API is
up: see <a href="/api/docs">/api/docs</a>.</p></main></body></html>
`

const webApp = (request: HttpServerRequest.HttpServerRequest, webDir: string | undefined) =>
  Effect.gen(function*() {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return yield* new Errors.NotFound({ message: `no route for ${request.method} ${request.url.split("?")[0]}` })
    }
    if (webDir === undefined) return HttpServerResponse.html(notBuilt)
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(webDir)
    const index = path.join(root, "index.html")
    if (!(yield* Effect.orElseSucceed(fs.exists(index), () => false))) return HttpServerResponse.html(notBuilt)
    let pathname = "/"
    try {
      pathname = decodeURIComponent(new URL(request.url, "http://localhost").pathname)
    } catch {
      pathname = "/"
    }
    const file = path.resolve(root, `.${pathname}`)
    const inside = file.startsWith(root + path.sep)
    const isFile = inside &&
      (yield* Effect.orElseSucceed(Effect.map(fs.stat(file), (s) => s.type === "File"), () => false))
    if (isFile) {
      return yield* HttpServerResponse.file(file, {
        headers: {
          "cache-control": pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache"
        }
      })
    }
    return yield* HttpServerResponse.file(index, { headers: { "cache-control": "no-cache" } })
  }).pipe(
    Effect.catchTag("BadArgument", "SystemError", () => Effect.fail(new Errors.NotFound({ message: "no such file" })))
  )

/** The Node request and response of a request, when it runs on Node (`undefined` elsewhere). */
const nodeOf = (request: HttpServerRequest.HttpServerRequest) => {
  try {
    const source: unknown = NodeHttpServerRequest.toIncomingMessage(request)
    const response: unknown = NodeHttpServerRequest.toServerResponse(request)
    return typeof source === "object" && source !== null && "pause" in source && "destroy" in source &&
        typeof response === "object" && response !== null && "setHeader" in response && "headersSent" in response
      ? { source: source as IncomingMessage, response: response as ServerResponse }
      : undefined
  } catch {
    return undefined
  }
}

/**
 * A body without `Content-Length` (chunked) is read up to the limit by the platform, which then
 * destroys the Node request, and with it the connection: the client would get no answer. Here
 * the request is only paused instead, so the 413 `PayloadTooLarge` goes out (then the connection
 * closes, see `closeAfterResponse`).
 */
const keepSocketPastLimit = (request: HttpServerRequest.HttpServerRequest): void => {
  const node = nodeOf(request)
  if (node === undefined) return
  const source = node.source
  const destroy = source.destroy
  source.destroy = function(this: IncomingMessage, error?: Error) {
    // Node's own destroys (an aborted connection) carry an error and go through.
    if (error !== undefined || this.socket.destroyed) return destroy.call(this, error)
    this.pause()
    return this
  }
}

/** Asks Node to close the connection once the answer is sent (the rest of the body is never read). */
const closeAfterResponse = (request: HttpServerRequest.HttpServerRequest): void => {
  const node = nodeOf(request)
  if (node !== undefined && !node.response.headersSent) node.response.setHeader("connection", "close")
}

type EdgeError = Errors.NotFound | Errors.InvalidInput | Errors.PayloadTooLarge | Errors.Internal

const edgeWith = (options: Options, state?: Pick<ServerState["Type"], "store" | "log">) =>
(
  app: HttpApp.Default
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  EdgeError,
  HttpServerRequest.HttpServerRequest | FileSystem.FileSystem | Path.Path | HttpPlatform.HttpPlatform
> => {
  const max = options.maxBodyBytes ?? defaultMaxBody
  const tooLarge = new Errors.PayloadTooLarge({ message: `the body exceeds ${max} bytes` })
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const wsSession = state !== undefined && request.method === "GET" ? Ws.sessionOf(request.url) : undefined
    if (wsSession !== undefined && state !== undefined) {
      return yield* Ws.serve(
        {
          secret: options.secret,
          store: state.store,
          log: state.log,
          ...(options.heartbeat !== undefined ? { ping: options.heartbeat } : {})
        },
        request,
        wsSession
      )
    }
    const length = request.headers["content-length"]
    if (length !== undefined && Number(length) > max) return yield* tooLarge
    const hasBody = request.method === "POST" || request.method === "PUT" || request.method === "PATCH"
    if (length === undefined && hasBody) keepSocketPastLimit(request)
    return yield* Effect.gen(function*() {
      if (hasBody) {
        // Read (and cache) the body under the limit, and refuse what Json refuses (too deep,
        // `__proto__` keys) before the endpoint's Schema sees it.
        const text = yield* request.text
        if (text.trim() !== "") {
          const parsed = Json.parse(text, { maxDepth: maxJsonDepth })
          if (Either.isLeft(parsed)) {
            const e = parsed.left
            return yield* new Errors.InvalidInput({
              message: `the body is not valid JSON: ${e.detail}`,
              field: e.reason === "Syntax" ? "" : e.path.replace(/^\$\.?/, "")
            })
          }
        }
      }
      return yield* app
    }).pipe(HttpIncomingMessage.withMaxBodySize(Option.some(max)))
  }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.gen(function*() {
        if (Cause.isInterruptedOnly(cause)) return yield* Effect.interrupt
        const failure = Option.getOrUndefined(Cause.failureOption(cause))
        const defect = Option.getOrUndefined(Cause.dieOption(cause))
        const error: unknown = failure ?? defect
        const tag = tagOf(error)
        // The API's own errors go on to be encoded (as declared by their endpoints).
        if (failure !== undefined && tag !== undefined && apiTags.has(tag)) {
          return yield* Effect.fail(failure as EdgeError)
        }
        if (error instanceof HttpApiError.HttpApiDecodeError) {
          const issue = error.issues[0]
          const field = issue !== undefined ? pathOf(issue.path) : ""
          return yield* new Errors.InvalidInput({
            message: issue !== undefined
              ? `invalid ${field === "" ? "request" : field}: ${issue.message}`
              : "the request does not match the API",
            field
          })
        }
        if (tag === "RouteNotFound") {
          const request = yield* HttpServerRequest.HttpServerRequest
          const pathname = request.url.split("?")[0] ?? ""
          if (pathname === "/api" || pathname.startsWith("/api/")) {
            return yield* new Errors.NotFound({ message: `no route for ${request.method} ${pathname}` })
          }
          return yield* webApp(request, options.webDir)
        }
        if (tag === "RequestError") {
          const text = String((error as { readonly cause?: unknown }).cause ?? "")
          if (text.includes("maxBytes exceeded")) {
            // The rest of a chunked body is not read: the connection closes after the answer.
            closeAfterResponse(yield* HttpServerRequest.HttpServerRequest)
            return yield* tooLarge
          }
          return yield* new Errors.InvalidInput({ message: "the body is not valid JSON", field: "" })
        }
        yield* Effect.logError("unexpected error", Cause.pretty(cause))
        return yield* new Errors.Internal({ message: "unexpected error; see the server log" })
      })
    )
  )
}

const edge = HttpApiBuilder.middleware(
  Api.Api,
  Effect.map(ServerState, (state) => edgeWith(state.options, state)),
  { withContext: true }
)

// --- the layer -----------------------------------------------------------------------------------

const StateLive = (options: Options) =>
  Layer.scoped(
    ServerState,
    Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      const practice = yield* Practice.Practice
      const log = yield* EventLog.make(store, options.eventLog)
      yield* SessionMetrics.track
      const runs = yield* Runs.make(options.runs)
      const coaching = yield* CoachingSessions.make(options.coaching)
      const meetings = yield* MeetingRuns.make(options.meetings)
      const evaluationRuns = yield* EvaluationRuns.make(options.evaluationRuns)
      return {
        options,
        store,
        practice,
        log,
        runs,
        coaching,
        meetings,
        evaluationRuns,
        limits: options.rateLimits ?? RateLimit.memoryStore()
      }
    })
  )

/**
 * The API's handlers, middleware and documents as a layer for `HttpApiBuilder.serve` (without an
 * HTTP server: see `layer`).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Server } from "@braid/server"
 *
 * const ApiLive = Server.layerApi({ secret: Redacted.make("a development secret of at least 32 characters") })
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layerApi = (options: Options) => {
  const cors = options.corsOrigins !== undefined && options.corsOrigins.length > 0
    ? HttpApiBuilder.middlewareCors({
      allowedOrigins: options.corsOrigins,
      allowedHeaders: ["authorization", "content-type", "last-event-id"],
      credentials: false
    })
    : Layer.empty
  const ApiLive = HttpApiBuilder.api(Api.Api).pipe(
    Layer.provide([
      SystemLive,
      ScenariosLive,
      SessionsLive,
      AdminLive,
      RunsLive,
      CoachingSessions.handlers,
      MeetingRuns.handlers,
      EvaluationRuns.handlers
    ]),
    Layer.provide(AuthenticationLive)
  )
  return Layer.mergeAll(
    edge,
    cors,
    HttpApiBuilder.middlewareOpenApi({ path: "/api/openapi.json" }),
    HttpApiScalar.layer({ path: "/api/docs" })
  ).pipe(
    Layer.provideMerge(ApiLive),
    Layer.provide(StateLive(options))
  )
}

/**
 * The server on the `HttpServer` in context (e.g. `NodeHttpServer.layer(createServer, { port })`),
 * on the `Practice` service, the `SessionStore` and the `EventBus` in context.
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { createServer } from "node:http"
 * import { Server } from "@braid/server"
 *
 * const ServerLive = Server.layer({ secret: Redacted.make("a development secret of at least 32 characters") }).pipe(
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 4173, host: "127.0.0.1" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layer = (options: Options) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(layerApi(options)),
    // A token in the query (`?token=`, for EventSource) would land in the request span's
    // `url.full` and `url.query`: no request span for those requests.
    HttpMiddleware.withTracerDisabledWhen((request) => hasQueryToken(request.url))
  )

const hasQueryToken = (url: string): boolean => /[?&]token=/.test(url)

/**
 * Adds the sample scenario (`Scripts.practiceScenario`) to an organization whose catalogue is
 * empty, so that a new server is usable at once; whether it added it.
 *
 * @example
 * ```ts
 * import { Server } from "@braid/server"
 *
 * const seeded = Server.seed("default")
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const seed = Effect.fn("Server.seed")(function*(tenant: string = "default") {
  const store = yield* SessionStore.SessionStore
  const admin = SessionStore.system(tenant)
  const page = yield* store.listScenarios(admin, { limit: 1 })
  if (page.items.length > 0) return false
  const at = yield* Clock.currentTimeMillis
  yield* store.putScenario(admin, { ...Scripts.practiceScenario, author: "braid" }, at)
  return true
})

/**
 * Where the web app's built files are in the installed package (`web/dist`).
 *
 * @example
 * ```ts
 * import { Server } from "@braid/server"
 *
 * const dir = Server.defaultWebDir
 * ```
 *
 * @category constants
 * @since 0.3.0
 */
export const defaultWebDir: string = fileURLToPath(new URL("../web/dist", import.meta.url))
