/**
 * The admin views of the practice and coaching apps, as queries over the `SessionStore` and the
 * session metrics, never over logs:
 *
 * - `activeSessions`: sessions active and queued now (`store.countLive`);
 * - `usage`: today's tokens and dollars (since 00:00 UTC) and the last 24 hours, hour by hour
 *   (`store.hourlyUsage`, hours without messages included);
 * - `errors`: the newest entries of the error log, with their severity (`store.recentErrors`;
 *   the workflows record model and evaluation failures there);
 * - `health`: the model's circuit breaker, the database (a bounded, timed `countLive`) and,
 *   optionally, Redis (a ping you pass in);
 * - `overview`: all of the above, plus the completion rate and latencies of `SessionMetrics`.
 *
 * Admins only: any other caller gets `Forbidden` before anything is read. The principal is
 * decoded first, so a malformed one is an `InvalidInput` naming the field.
 *
 * @since 0.3.0
 */
import { Io } from "@braid/core"
import type { CircuitBreaker } from "@braid/resilience"
import { Clock, Duration, Effect, Schema } from "effect"
import type { Forbidden, InvalidInput, SessionStoreError } from "./Errors.js"
import { HOUR, inputDecoder, requireAdmin } from "./internal/sessionStoreCommon.js"
import * as SessionMetrics from "./SessionMetrics.js"
import * as SessionStore from "./SessionStore.js"

/**
 * Tokens and dollars over a period.
 *
 * @since 0.3.0
 * @category models
 */
export interface UsageTotals {
  readonly messages: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number
}

/**
 * Today's usage (since 00:00 UTC) and the last 24 hours, one bucket per hour, oldest first (the
 * last bucket is the current hour).
 *
 * @since 0.3.0
 * @category models
 */
export interface Usage {
  readonly today: UsageTotals
  readonly hourly: ReadonlyArray<SessionStore.UsageBucket>
}

/**
 * The state of one dependency: `up`, `degraded` (a half-open breaker) or `down`, with what was
 * seen (the probe's latency, the breaker's state, why it is down).
 *
 * @since 0.3.0
 * @category models
 */
export interface Check {
  readonly status: "up" | "degraded" | "down" | "unknown"
  readonly detail: string
  readonly latencyMs?: number
}

/**
 * The health of the model, the database and Redis.
 *
 * @since 0.3.0
 * @category models
 */
export interface Health {
  readonly model: Check
  readonly database: Check
  /** Absent when no Redis ping was given. */
  readonly redis?: Check
}

/**
 * What the health checks probe.
 *
 * @since 0.3.0
 * @category models
 */
export interface HealthOptions {
  /** The circuit breaker in front of the model (its state is the model's health). */
  readonly breaker?: CircuitBreaker.CircuitBreaker
  /** A cheap Redis call (e.g. `PING`); any failure means down. */
  readonly redis?: Effect.Effect<unknown, unknown>
  /** The bound of each probe. Default `Io.defaultTimeout` (5 s). */
  readonly timeout?: Duration.DurationInput
}

/**
 * The whole admin page.
 *
 * @since 0.3.0
 * @category models
 */
export interface Overview {
  /** When it was computed (epoch ms, Effect Clock). */
  readonly at: number
  readonly sessions: { readonly active: number; readonly queued: number }
  readonly usage: Usage
  readonly errors: ReadonlyArray<SessionStore.ErrorEntry>
  readonly health: Health
  /** Completion rate, latencies and active sessions from the session metrics of this process. */
  readonly metrics: SessionMetrics.Snapshot
}

/**
 * What an admin view can fail with.
 *
 * @since 0.3.0
 * @category errors
 */
export type AdminError = Forbidden | InvalidInput | SessionStoreError

const DAY = 24 * HOUR

const decodePrincipal = inputDecoder(SessionStore.Principal, "principal")

/** The caller, decoded, and checked to be an admin. */
const admin = (principal: unknown, operation: string) =>
  Effect.tap(decodePrincipal(principal), (p) => requireAdmin(p, operation))

const sum = (buckets: ReadonlyArray<SessionStore.UsageBucket>): UsageTotals =>
  buckets.reduce(
    (a, b) => ({
      messages: a.messages + b.messages,
      inputTokens: a.inputTokens + b.inputTokens,
      outputTokens: a.outputTokens + b.outputTokens,
      costUsd: a.costUsd + b.costUsd
    }),
    { messages: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 }
  )

/**
 * Sessions of the caller's organization active and queued now.
 *
 * @example
 * ```ts
 * import { SessionStore, Admin } from "@braid/workflows"
 *
 * const live = Admin.activeSessions(SessionStore.system("default"))
 * ```
 *
 * @since 0.3.0
 * @category accessors
 */
export const activeSessions = Effect.fn("Admin.activeSessions")(function*(principal: SessionStore.Principal) {
  const p = yield* admin(principal, "activeSessions")
  const store = yield* SessionStore.SessionStore
  return yield* store.countLive(p)
})

/**
 * Today's tokens and dollars (since 00:00 UTC) and the last 24 hours hour by hour.
 *
 * @example
 * ```ts
 * import { SessionStore, Admin } from "@braid/workflows"
 *
 * const usage = Admin.usage(SessionStore.system("default"))
 * ```
 *
 * @since 0.3.0
 * @category accessors
 */
export const usage = Effect.fn("Admin.usage")(function*(principal: SessionStore.Principal) {
  const p = yield* admin(principal, "usage")
  const store = yield* SessionStore.SessionStore
  const now = yield* Clock.currentTimeMillis
  const hour = Math.floor(now / HOUR) * HOUR
  const hourly = yield* store.hourlyUsage(p, { since: hour - 23 * HOUR, until: hour + HOUR })
  const midnight = Math.floor(now / DAY) * DAY
  return { today: sum(hourly.filter((b) => b.start >= midnight)), hourly } satisfies Usage
})

/**
 * The newest entries of the error log (model and evaluation failures, ...), with severity.
 *
 * @example
 * ```ts
 * import { SessionStore, Admin } from "@braid/workflows"
 *
 * const critical = Admin.errors(SessionStore.system("default"), { limit: 50 })
 * ```
 *
 * @since 0.3.0
 * @category accessors
 */
export const errors = Effect.fn("Admin.errors")(
  function*(principal: SessionStore.Principal, options?: { readonly limit?: number; readonly since?: number }) {
    const p = yield* admin(principal, "errors")
    const store = yield* SessionStore.SessionStore
    return yield* store.recentErrors(p, options)
  }
)

/** What an error says, for a health check (the store's errors carry no secrets). */
const reasonOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)

/** Runs a probe within the bound; its latency, or why it failed. */
const probe = (self: Effect.Effect<unknown, unknown>, timeout: Duration.DurationInput | undefined) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const result = yield* Effect.either(
      Io.bounded(Effect.mapError(self, reasonOf), timeout, (millis) => `no answer within ${millis} ms`)
    )
    const latencyMs = (yield* Clock.currentTimeMillis) - start
    return result._tag === "Right"
      ? { status: "up", detail: "answered", latencyMs } satisfies Check
      : { status: "down", detail: result.left, latencyMs } satisfies Check
  })

const breakerCheck = (breaker: CircuitBreaker.CircuitBreaker | undefined): Effect.Effect<Check> =>
  breaker === undefined
    ? Effect.succeed({ status: "unknown", detail: "no circuit breaker given" })
    : Effect.map(breaker.state, (state): Check => ({
      status: state === "closed" ? "up" : state === "half-open" ? "degraded" : "down",
      detail: `circuit breaker ${breaker.name} is ${state}`
    }))

/**
 * The health of the model (its circuit breaker), the database (a `countLive` bounded by
 * `timeout`, default `Io.defaultTimeout` (5 s), timed)
 * and Redis (when a ping is given). A probe never fails the view: a dependency that fails or
 * does not answer within the bound is `down`, with the reason.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "@braid/resilience"
 * import { SessionStore, Admin } from "@braid/workflows"
 *
 * const health = Admin.health(SessionStore.system("default"), {
 *   breaker: CircuitBreaker.named("anthropic"),
 *   redis: Effect.void
 * })
 * ```
 *
 * @since 0.3.0
 * @category accessors
 */
export const health = Effect.fn("Admin.health")(
  function*(principal: SessionStore.Principal, options: HealthOptions = {}) {
    const p = yield* admin(principal, "health")
    const store = yield* SessionStore.SessionStore
    const [model, database, redis] = yield* Effect.all([
      breakerCheck(options.breaker),
      probe(store.countLive(p), options.timeout),
      options.redis === undefined ? Effect.succeed(undefined) : probe(options.redis, options.timeout)
    ], { concurrency: "unbounded" })
    return (redis === undefined ? { model, database } : { model, database, redis }) satisfies Health
  }
)

/**
 * The whole admin page: sessions now, usage, recent errors, health and the session metrics.
 *
 * @example
 * ```ts
 * import { SessionStore, Admin } from "@braid/workflows"
 *
 * const page = Admin.overview(SessionStore.system("default"), { errors: 20 })
 * ```
 *
 * @since 0.3.0
 * @category accessors
 */
export const overview = Effect.fn("Admin.overview")(
  function*(principal: SessionStore.Principal, options: HealthOptions & { readonly errors?: number } = {}) {
    yield* admin(principal, "overview")
    const at = yield* Clock.currentTimeMillis
    const [sessions, u, errs, h, metrics] = yield* Effect.all([
      activeSessions(principal),
      usage(principal),
      errors(principal, { limit: options.errors ?? 20 }),
      health(principal, options),
      SessionMetrics.snapshot
    ], { concurrency: "unbounded" })
    return { at, sessions, usage: u, errors: errs, health: h, metrics } satisfies Overview
  }
)

/**
 * Whether a value is a principal that may see the admin views.
 *
 * @example
 * ```ts
 * import { Admin } from "@braid/workflows"
 *
 * Admin.isAdmin({ userId: "root", role: "admin", tenant: "default" }) // true
 * ```
 *
 * @since 0.3.0
 * @category guards
 */
export const isAdmin = (principal: unknown): boolean => {
  const decoded = Schema.decodeUnknownEither(SessionStore.Principal)(principal)
  return decoded._tag === "Right" && decoded.right.role === "admin"
}
