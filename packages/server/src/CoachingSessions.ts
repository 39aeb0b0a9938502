/**
 * Coaching sessions over HTTP: a learner opens a live session with the coach agent
 * (`Coaching.open` of the coaching workflow), sends messages one exchange at a time, and ends it.
 * The workflow writes the session through to the `SessionStore` as kind `coaching` (messages,
 * totals, end reason), so reading, listing, exporting and deleting it go through the session
 * endpoints; its events (`coaching.*.*`) are stored with the session's events by
 * `SessionEvents.emit`, so `GET /api/sessions/:id/events` streams them with the session's own events.
 *
 * A live session lives in this process: it ends on `end`, on the idle timeout, when the coach
 * writes the phase's objective line, or when the server stops; after a restart its record stays
 * and a message to it answers 409 `Conflict` (start a new one).
 *
 * @since 0.3.0
 */
import { WorkflowContext } from "@braid/core"
import type { Accounting, Ai } from "@braid/llm"
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import { RateLimit } from "@braid/resilience"
import { Coaching, Scripts, SessionStore } from "@braid/workflows"
import { HttpApiBuilder } from "@effect/platform"
import type { Duration } from "effect"
import { Effect, ExecutionStrategy, Exit, Layer, Scope } from "effect"
import * as Api from "./Api.js"
import * as Errors from "./Errors.js"
import { caller, orApi, ServerState } from "./internal/context.js"

/**
 * The options of live coaching sessions.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** The coach's model. Default the scripted coaching model (offline). */
  readonly model?: Layer.Layer<Ai.LanguageModel.LanguageModel | Accounting.Accounting>
  /** The coaching workflow's configuration (idle timeout, limits, fallback reply, ...). */
  readonly config?: Coaching.Config
  /** Live sessions at once in this process; beyond, 503 `AtCapacity`. Default 100. */
  readonly maxLive?: number
  /** A session ends after this long without a message. Default 15 minutes. */
  readonly idleTimeout?: Duration.DurationInput
}

/**
 * The live coaching sessions of the server.
 *
 * @category models
 * @since 0.3.0
 */
export interface CoachingSessions {
  /** Opens a session for the caller (stored as kind `coaching`); the session as stored. */
  readonly start: (
    p: SessionStore.Principal,
    input: Api.CoachingStart
  ) => Effect.Effect<
    SessionStore.SessionRecord,
    Errors.AtCapacity | Errors.NotFound | Errors.Unavailable | Errors.InvalidInput
  >
  /** One exchange; 404 for a session the caller cannot see, 409 for one that is not live. */
  readonly send: (
    p: SessionStore.Principal,
    id: string,
    text: string
  ) => Effect.Effect<
    Api.CoachingTurn,
    Errors.NotFound | Errors.Conflict | Errors.RateLimited | Errors.Unavailable | Errors.Internal | Errors.InvalidInput
  >
  /** Ends the session (`user`) if it is live; the session as stored. */
  readonly end: (
    p: SessionStore.Principal,
    id: string
  ) => Effect.Effect<SessionStore.SessionRecord, Errors.NotFound | Errors.Unavailable | Errors.InvalidInput>
  /** Live sessions in this process. */
  readonly live: Effect.Effect<number>
}

interface Live {
  readonly session: Coaching.LiveSession
  readonly scope: Scope.CloseableScope
  readonly tenant: string
  readonly userId: string
}

/**
 * Builds the registry on the `SessionStore` and `EventBus` in context (the coaching events are
 * stored with the session's events, and streamed by the server's `EventLog`). Sessions live in
 * the current scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CoachingSessions } from "@braid/server"
 *
 * const registry = Effect.scoped(CoachingSessions.make({ maxLive: 10 }))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<CoachingSessions, never, Scope.Scope | SessionStore.SessionStore | EventBus.EventBus> =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const bus = yield* EventBus.EventBus
    const outer = yield* Effect.scope
    const maxLive = Math.max(1, options.maxLive ?? 100)
    const model = yield* Layer.build(
      options.model ?? Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.coaching))
    ).pipe(Effect.orDie)
    const workflow = Coaching.make({
      idleTimeout: options.idleTimeout ?? "15 minutes",
      ...options.config
    })
    const live = new Map<string, Live>()

    const close = (id: string) =>
      Effect.suspend(() => {
        const entry = live.get(id)
        live.delete(id)
        return entry === undefined ? Effect.void : Scope.close(entry.scope, Exit.void)
      })
    yield* Effect.addFinalizer(() => Effect.forEach([...live.keys()], close, { discard: true }))

    const prune = Effect.suspend(() =>
      Effect.forEach([...live.entries()], ([id, entry]) =>
        store.getSession(SessionStore.system(entry.tenant), id).pipe(
          Effect.map((record) => record.status === "completed"),
          Effect.catchTag("SessionNotFound", () => Effect.succeed(true)),
          Effect.orElseSucceed(() => false),
          Effect.flatMap((gone) => (gone ? close(id) : Effect.void))
        ), { discard: true })
    )

    const start: CoachingSessions["start"] = (p, input) =>
      Effect.gen(function*() {
        // At the cap: first release the live sessions whose record has ended or was deleted
        // (e.g. through `DELETE /api/sessions/:id`).
        if (live.size >= maxLive) yield* prune
        if (live.size >= maxLive) {
          return yield* new Errors.AtCapacity({ message: `${maxLive} coaching sessions are live; try again shortly` })
        }
        const id = crypto.randomUUID()
        const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
        const profile = {
          userId: p.userId,
          name: input.name ?? p.userId,
          aspirations: input.aspirations ?? [],
          ...(input.challenges !== undefined ? { challenges: input.challenges } : {}),
          ...(input.tone !== undefined ? { tone: input.tone } : {})
        }
        const opened = yield* workflow.open({ profile, phase: input.phase ?? "morning", sessionId: id }).pipe(
          Scope.extend(scope),
          Effect.provide(WorkflowContext.layer({ runId: id, sessionId: id, tenantId: p.tenant, userId: p.userId })),
          Effect.provideService(SessionStore.SessionStore, store),
          Effect.provideService(EventBus.EventBus, bus),
          Effect.exit
        )
        if (Exit.isFailure(opened)) {
          yield* Scope.close(scope, Exit.void)
          yield* Effect.logWarning("a coaching session did not open", opened.cause)
          return yield* new Errors.Unavailable({
            message: "the coaching session could not be opened; try again shortly"
          })
        }
        const session = opened.value
        live.set(id, { session, scope, tenant: p.tenant, userId: p.userId })
        // A session that completes by itself (idle timeout, objective met, outage) is released.
        yield* Effect.forkIn(Effect.zipRight(session.session.completed, close(id)), outer)
        return yield* orApi(store.getSession(p, id))
      })

    /** The stored coaching session the caller may see (404 otherwise, also for another kind). */
    const visible = (p: SessionStore.Principal, id: string) =>
      Effect.flatMap(orApi(store.getSession(p, id)), (record) =>
        record.kind === "coaching"
          ? Effect.succeed(record)
          : Effect.fail(new Errors.NotFound({ message: `coaching session ${id} not found` })))

    const send: CoachingSessions["send"] = (p, id, text) =>
      Effect.gen(function*() {
        const record = yield* visible(p, id)
        const entry = live.get(id)
        if (entry === undefined || entry.tenant !== p.tenant) {
          return yield* new Errors.Conflict({
            message: record.status === "completed"
              ? "the coaching session has ended"
              : "the coaching session is no longer live (the server restarted); start a new one"
          })
        }
        const exchange = yield* entry.session.send(text).pipe(
          Effect.provide(model),
          Effect.catchAll((e): Effect.Effect<
            never,
            | Errors.Conflict
            | Errors.RateLimited
            | Errors.Internal
            | Errors.Unavailable
            | Errors.NotFound
            | Errors.InvalidInput
          > => {
            switch (e._tag) {
              case "SessionCompleted":
                return Effect.fail(new Errors.Conflict({ message: "the coaching session has ended" }))
              case "CapacityExceeded":
                return Effect.fail(
                  new Errors.RateLimited({ message: "the coach is busy; try again shortly", retryAfterSeconds: 5 })
                )
              case "BudgetExceeded":
                return Effect.fail(new Errors.Conflict({ message: "the session's budget is spent" }))
              case "InvalidRateLimitInput":
                return Effect.zipRight(
                  Effect.logError("coaching rate limit", e.message),
                  Effect.fail(new Errors.Internal({ message: "unexpected error" }))
                )
              default:
                return orApi(Effect.fail(e))
            }
          })
        )
        const objective = yield* entry.session.objective
        const session = yield* orApi(store.getSession(p, id))
        return {
          message: exchange.user,
          reply: exchange.reply,
          fallback: exchange.fallback,
          ...(exchange.fallbackCause !== undefined ? { fallbackCause: exchange.fallbackCause } : {}),
          ...(Number.isFinite(exchange.relevance) ? { relevance: exchange.relevance } : {}),
          ...(objective !== undefined ? { objective } : {}),
          session
        } satisfies Api.CoachingTurn
      })

    const end: CoachingSessions["end"] = (p, id) =>
      Effect.gen(function*() {
        yield* visible(p, id)
        const entry = live.get(id)
        if (entry !== undefined) {
          yield* entry.session.session.end("user")
          yield* close(id)
        }
        return yield* orApi(store.getSession(p, id))
      })

    return { start, send, end, live: Effect.sync(() => live.size) } satisfies CoachingSessions
  })

/**
 * The handlers of the `coaching` group (`Api.Coaching`): messages share the per-user message
 * rate limit of practice sessions.
 *
 * @category layers
 * @since 0.3.0
 */
export const handlers = HttpApiBuilder.group(
  Api.Api,
  "coaching",
  (h) =>
    Effect.map(ServerState, (state) => {
      const rate = state.options.messageRate ?? { limit: 30, window: "1 minute" }
      return h
        .handle("start", ({ payload }) => Effect.flatMap(caller, (p) => state.coaching.start(p, payload)))
        .handle("send", ({ path, payload }) =>
          Effect.gen(function*() {
            const p = yield* caller
            return yield* orApi(RateLimit.effect(Effect.either(state.coaching.send(p, path.id, payload.text)), {
              name: "messages",
              limits: [{ key: `messages:${p.tenant}:${p.userId}`, limit: rate.limit, window: rate.window }],
              store: state.limits
            })).pipe(Effect.flatten)
          }))
        .handle("end", ({ path }) => Effect.flatMap(caller, (p) => state.coaching.end(p, path.id)))
    })
)
