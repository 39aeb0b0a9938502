/**
 * What the handlers of the server share: the server's state (its services and registries), the
 * mapping of the workflows' errors to the API's, the caller and its role checks, and the
 * per-user run rate limit (one budget for every kind of background run).
 *
 * @internal
 */
import type { Errors as ResilienceErrors } from "@braid/resilience"
import { RateLimit } from "@braid/resilience"
import type { Errors as WfErrors, Practice, SessionStore } from "@braid/workflows"
import { Cause, Context, Effect } from "effect"
import * as Api from "../Api.js"
import type * as CoachingSessions from "../CoachingSessions.js"
import * as Errors from "../Errors.js"
import type * as EvaluationRuns from "../EvaluationRuns.js"
import type * as EventLog from "../EventLog.js"
import type * as MeetingRuns from "../MeetingRuns.js"
import type * as Runs from "../Runs.js"
import type { Options } from "../Server.js"

export interface State {
  readonly options: Options
  readonly store: SessionStore.Service
  readonly practice: Practice.Service
  readonly log: EventLog.EventLog
  readonly runs: Runs.Runs
  readonly coaching: CoachingSessions.CoachingSessions
  readonly meetings: MeetingRuns.MeetingRuns
  readonly evaluationRuns: EvaluationRuns.EvaluationRuns
  readonly limits: RateLimit.Store
}

export class ServerState extends Context.Tag("@braid/server/ServerState")<ServerState, State>() {}

// --- errors --------------------------------------------------------------------------------------

export type WorkflowError =
  | WfErrors.InvalidInput
  | WfErrors.SessionNotFound
  | WfErrors.ScenarioNotFound
  | WfErrors.Forbidden
  | WfErrors.AtCapacity
  | WfErrors.SessionCompleted
  | WfErrors.SessionStoreError
  | ResilienceErrors.RateLimited
  | ResilienceErrors.StoreError
  | ResilienceErrors.InvalidRateLimitInput

export type ToApi<E> = E extends WfErrors.InvalidInput ? Errors.InvalidInput
  : E extends WfErrors.SessionNotFound | WfErrors.ScenarioNotFound ? Errors.NotFound
  : E extends WfErrors.Forbidden ? Errors.Forbidden
  : E extends WfErrors.AtCapacity ? Errors.AtCapacity
  : E extends WfErrors.SessionCompleted ? Errors.Conflict
  : E extends ResilienceErrors.RateLimited ? Errors.RateLimited
  : E extends WfErrors.SessionStoreError | ResilienceErrors.StoreError ? Errors.Unavailable
  : E extends ResilienceErrors.InvalidRateLimitInput ? Errors.Internal
  : E

export const apiError = (e: WorkflowError): Errors.ApiError => {
  switch (e._tag) {
    case "InvalidInput":
      return new Errors.InvalidInput({ message: e.message, field: e.field })
    case "SessionNotFound":
    case "ScenarioNotFound":
      return new Errors.NotFound({ message: e.message })
    case "Forbidden":
      return new Errors.Forbidden({ message: e.message })
    case "AtCapacity":
      return new Errors.AtCapacity({ message: e.message })
    case "SessionCompleted":
      return new Errors.Conflict({ message: e.message })
    case "RateLimited":
      return new Errors.RateLimited({
        message: "too many requests; slow down",
        retryAfterSeconds: Number.isFinite(e.retryAfterMillis) ? Math.max(1, Math.ceil(e.retryAfterMillis / 1000)) : 60
      })
    case "SessionStoreError":
    case "StoreError":
      return new Errors.Unavailable({ message: "the store does not answer; try again shortly" })
    case "InvalidRateLimitInput":
      return new Errors.Internal({ message: "unexpected error" })
  }
}

/** Maps the workflows' errors to the API's (a store failure is logged: the client sees no internals). */
export const orApi = <A, E extends WorkflowError, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, ToApi<E>, R> =>
  Effect.catchAll(self, (e) => {
    const mapped = apiError(e)
    const log = mapped._tag === "Unavailable" || mapped._tag === "Internal"
      ? Effect.logWarning("request failed", e.message)
      : Effect.void
    return Effect.zipRight(log, Effect.fail(mapped as ToApi<E>))
  })

/** Drops the keys whose value is `undefined` (decoded optional url parameters). */
export const defined = <T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never

export const principalOf = (me: Api.Me): SessionStore.Principal => ({
  userId: me.userId,
  role: me.role,
  tenant: me.tenant
})

export const caller = Effect.map(Api.CurrentUser, principalOf)

export const requireRole = (operation: string, ...roles: ReadonlyArray<SessionStore.Role>) =>
  Effect.flatMap(Api.CurrentUser, (me) =>
    roles.includes(me.role)
      ? Effect.succeed(principalOf(me))
      : Effect.fail(new Errors.Forbidden({ message: `${operation} needs the role ${roles.join(" or ")}` })))

/**
 * Runs `effect` under the caller's run rate limit (`Options.runRate`, default 10 per minute):
 * the run viewer, meetings and evaluation runs share one budget per user (429 `RateLimited`).
 */
export const runLimited = <A, R>(state: State, p: SessionStore.Principal, effect: Effect.Effect<A, never, R>) => {
  const rate = state.options.runRate ?? { limit: 10, window: "1 minute" }
  return orApi(RateLimit.effect(effect, {
    name: "runs",
    limits: [{ key: `runs:${p.tenant}:${p.userId}`, limit: rate.limit, window: rate.window }],
    store: state.limits
  }))
}

/** The message of a failed background run (its cause's message, at most 500 characters), or `fallback`. */
export const failureText = (cause: Cause.Cause<unknown>, fallback: string): string => {
  const failure = Cause.squash(cause)
  return typeof failure === "object" && failure !== null && "message" in failure
    ? String(failure.message).slice(0, 500)
    : fallback
}

/**
 * Waits until the background run `id` of `tenant` has settled; the run as it ended, or
 * `undefined` when the tenant has no such run.
 */
export const settledRun = <Run>(
  entries: ReadonlyMap<string, { readonly tenant: string; readonly run: Run; readonly done: Effect.Latch }>,
  tenant: string,
  id: string
): Effect.Effect<Run | undefined> =>
  Effect.suspend(() => {
    const visible = () => {
      const entry = entries.get(id)
      return entry === undefined || entry.tenant !== tenant ? undefined : entry
    }
    const entry = visible()
    // read again after the wait: the run is replaced when it ends (and may be gone)
    return entry === undefined ? Effect.succeed(undefined) : Effect.map(entry.done.await, () => visible()?.run)
  })
