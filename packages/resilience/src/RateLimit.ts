/**
 * Rate limit: per-key and global limits together (e.g. 10 calls a minute per user and 1000 an
 * hour overall), token bucket or fixed window, a cost per call (limit model calls by tokens),
 * and `fail` (at once, with `RateLimited`) or `wait` (sleep until capacity is back) when exceeded.
 *
 * A call must pass **every** limit. The check is atomic over all of them: when one refuses, none
 * is charged (in memory: one synchronous step; in Redis: one Lua script over all keys). Each
 * limit has its own counter, identified by its algorithm, limit, window and key: two limits on
 * one key (`2/second` and `100/hour` for `user:42`) are two counters, both enforced. Limits that
 * agree on all four are one counter (policies sharing a store share it on purpose).
 *
 * Options are checked where the policy is built (an `InvalidOption` naming the option). A call's own
 * cost must be a finite number >= 0 and a computed key a string; otherwise the call fails with
 * `InvalidRateLimitInput` and nothing is charged.
 *
 * Stores: `memoryStore()` (default, one per policy unless you share it) and, in @braid/redis,
 * `RedisRateLimit.store(client)`,
 * so that several processes share one limit. Time is Effect's `Clock` (the Redis store is given
 * the caller's clock reading, so processes should have synchronised clocks; `TestClock` drives
 * both stores in tests). Every Redis call is bounded by the store's `timeout` (default
 * `Io.defaultTimeout`, 5 s): a Redis that does not answer fails the call with `StoreError`
 * (cause `StoreTimeout`) instead of hanging it.
 *
 * - **token bucket** (default): a bucket of `limit` tokens refilled continuously at
 *   `limit / window`; bursts up to `limit`.
 * - **fixed window**: at most `limit` per aligned window (`floor(now / window)`).
 * A cost above a limit can never pass: it fails with `retryAfterMillis: Infinity`, even in `wait`.
 *
 * Telemetry: refusals add the event `ratelimit.rejected` {key, retry_after_ms}; waits add
 * `ratelimit.waiting` {key, delay_ms}; both bump `Metrics.rateLimited` (tags `limit`, `outcome`).
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Primitive } from "@braid/core"
import { Clock, Duration, Effect, Metric } from "effect"
import { InvalidRateLimitInput, RateLimited, StoreError } from "./Errors.js"
import * as Check from "./internal/options.js"
import * as Metrics from "./Metrics.js"

const R = Attributes.Resilience

/**
 * @category models
 * @since 0.1.0
 */
export type Algorithm = "token-bucket" | "fixed-window"

/**
 * One limit. `key` is fixed ("global") or computed from the input (`(req) => "user:" + req.userId`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Limit<In> {
  readonly key: string | ((input: In) => string)
  /** Calls (or cost units) allowed per window. */
  readonly limit: number
  readonly window: Duration.DurationInput
  /** Default "token-bucket". */
  readonly algorithm?: Algorithm
  /** The limit's name in metrics (keys may be per user). Default `limit<index>`. */
  readonly name?: string
}

/**
 * One key to charge, as the store sees it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Request {
  readonly key: string
  readonly algorithm: Algorithm
  readonly limit: number
  readonly windowMillis: number
  readonly cost: number
}

/**
 * A store's answer: allowed (every key charged), or refused by the request at `index` (nothing charged).
 *
 * @category models
 * @since 0.1.0
 */
export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly index: number; readonly retryAfterMillis: number }

/**
 * Where counters live. `consume` must be atomic over all requests, and must keep one counter per
 * `counterId(request)`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Store {
  readonly name: string
  readonly consume: (requests: ReadonlyArray<Request>, nowMillis: number) => Effect.Effect<Decision, StoreError>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options<In> {
  /** The name of the wrapper (default `ratelimit(<inner>)`), or of the work in the Effect form. */
  readonly name?: string
  readonly limits: readonly [Limit<In>, ...Array<Limit<In>>]
  /**
   * The cost of a call (default 1), e.g. the estimated tokens of a model call: a finite number
   * >= 0 (a function's result is checked per call; a bad one fails with `InvalidRateLimitInput`).
   */
  readonly cost?: number | ((input: In) => number)
  /** Default "fail". */
  readonly onExceeded?: "fail" | "wait"
  /** Default: a fresh `memoryStore()` for this policy. */
  readonly store?: Store
}

/**
 * The identity of a request's counter: algorithm, limit, window and key (the key last, so that a
 * key containing `:` cannot be confused with another limit's).
 *
 * @example
 * ```ts
 * import { RateLimit } from "@braid/resilience"
 *
 * RateLimit.counterId({ key: "user:42", algorithm: "token-bucket", limit: 2, windowMillis: 1000, cost: 1 })
 * // "token-bucket:2:1000:user:42"
 * ```
 *
 * @category utils
 * @since 0.2.0
 */
export const counterId = (request: Request): string =>
  `${request.algorithm}:${request.limit}:${request.windowMillis}:${request.key}`

/** Why a request cannot be charged, or undefined: the stores refuse what the policy refuses. */
const invalidRequest = (requests: ReadonlyArray<Request>): string | undefined => {
  if (!Array.isArray(requests) || requests.length === 0) return "requests must be a non-empty array"
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i]
    if (typeof r !== "object" || r === null) return `request ${i} is not an object`
    if (typeof r.key !== "string") return `request ${i}: key must be a string, got ${Check.describe(r.key)}`
    if (r.algorithm !== "token-bucket" && r.algorithm !== "fixed-window") {
      return `request ${i}: algorithm must be "token-bucket" or "fixed-window", got ${Check.describe(r.algorithm)}`
    }
    if (!(typeof r.limit === "number" && Number.isFinite(r.limit) && r.limit > 0)) {
      return `request ${i}: limit must be a finite number > 0, got ${Check.describe(r.limit)}`
    }
    if (!(typeof r.windowMillis === "number" && Number.isFinite(r.windowMillis) && r.windowMillis > 0)) {
      return `request ${i}: windowMillis must be a finite number > 0, got ${Check.describe(r.windowMillis)}`
    }
    if (!(typeof r.cost === "number" && Number.isFinite(r.cost) && r.cost >= 0)) {
      return `request ${i}: cost must be a finite number >= 0, got ${Check.describe(r.cost)}`
    }
  }
  return undefined
}

/**
 * For store authors: the `StoreError` of `store` for requests (or a clock reading) that no store
 * may charge, as the built-in stores refuse them; undefined when they are valid.
 *
 * @category utils
 * @since 0.2.0
 */
export const refuseInvalid = (store: string, requests: ReadonlyArray<Request>, now: number): StoreError | undefined => {
  const bad = Number.isFinite(now)
    ? invalidRequest(requests)
    : `nowMillis must be a finite number, got ${Check.describe(now)}`
  return bad === undefined
    ? undefined
    : new StoreError({ store, operation: "ratelimit.consume", cause: new RangeError(bad) })
}

// ---------------------------------------------------------------------------------------------
// in-memory store
// ---------------------------------------------------------------------------------------------

/**
 * The in-memory store: one process. Share one instance between policies to share limits.
 *
 * @example
 * ```ts
 * import { RateLimit } from "@braid/resilience"
 * const store = RateLimit.memoryStore()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const memoryStore = (): Store => {
  const state = new Map<string, { a: number; b: number; expires: number }>()
  let nextSweep = 0
  /** Drops expired counters, at most once a second and only when there are many. */
  const sweep = (now: number) => {
    if (now < nextSweep) return
    nextSweep = now + 1000
    for (const [k, v] of state) if (v.expires <= now) state.delete(k)
  }
  const decide = (requests: ReadonlyArray<Request>, now: number): Decision => {
    if (state.size > 10_000) sweep(now)
    const ids: Array<string> = []
    const next: Array<{ a: number; b: number; expires: number }> = []
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i]!
      if (r.cost > r.limit) return { allowed: false, index: i, retryAfterMillis: Number.POSITIVE_INFINITY }
      const id = counterId(r)
      const s = state.get(id)
      if (r.algorithm === "token-bucket") {
        const rate = r.limit / r.windowMillis
        let tokens = s === undefined ? r.limit : s.a
        const ts = s === undefined ? now : s.b
        if (now > ts) tokens = Math.min(r.limit, tokens + (now - ts) * rate)
        if (tokens < r.cost) return { allowed: false, index: i, retryAfterMillis: Math.ceil((r.cost - tokens) / rate) }
        next.push({ a: tokens - r.cost, b: Math.max(now, ts), expires: now + r.windowMillis })
      } else {
        const start = Math.floor(now / r.windowMillis) * r.windowMillis
        const count = s !== undefined && s.a === start ? s.b : 0
        if (count + r.cost > r.limit) {
          return { allowed: false, index: i, retryAfterMillis: start + r.windowMillis - now }
        }
        next.push({ a: start, b: count + r.cost, expires: start + r.windowMillis })
      }
      ids.push(id)
    }
    for (let i = 0; i < ids.length; i++) state.set(ids[i]!, next[i]!)
    return { allowed: true }
  }
  return {
    name: "memory",
    consume: (requests, now) =>
      Effect.suspend(() => {
        const invalid = refuseInvalid("memory", requests, now)
        return invalid === undefined ? Effect.succeed(decide(requests, now)) : Effect.fail(invalid)
      })
  }
}

// ---------------------------------------------------------------------------------------------
// the policy
// ---------------------------------------------------------------------------------------------

interface Resolved<In> {
  readonly name: string
  readonly limits: ReadonlyArray<{
    readonly name: string
    readonly key: string | ((input: In) => string)
    readonly limit: number
    readonly windowMillis: number
    readonly algorithm: Algorithm
    readonly rejected: Metric.Metric.Counter<number>
    readonly waited: Metric.Metric.Counter<number>
  }>
  readonly cost: number | ((input: In) => number)
  readonly wait: boolean
  readonly store: Store
}

const resolve = <In>(name: string, options: Options<In>): Resolved<In> => {
  if (typeof options !== "object" || options === null) Check.refuse(name, "options", "must be an object", options)
  if (!Array.isArray(options.limits) || options.limits.length === 0) {
    Check.refuse(name, "limits", "must be a non-empty array", options.limits)
  }
  const cost = options.cost === undefined
    ? 1
    : typeof options.cost === "function"
    ? options.cost
    : Check.nonNegativeNumber(name, "cost", options.cost)
  if (options.onExceeded !== undefined && options.onExceeded !== "fail" && options.onExceeded !== "wait") {
    Check.refuse(name, "onExceeded", "must be \"fail\" or \"wait\"", options.onExceeded)
  }
  if (
    options.store !== undefined &&
    (typeof options.store !== "object" || options.store === null || typeof options.store.consume !== "function")
  ) {
    Check.refuse(name, "store", "must be a RateLimit.Store", options.store)
  }
  return {
    name,
    limits: options.limits.map((l, i) => {
      const at = `limits[${i}]`
      if (typeof l !== "object" || l === null) Check.refuse(name, at, "must be an object", l)
      if (typeof l.key !== "string" && typeof l.key !== "function") {
        Check.refuse(name, `${at}.key`, "must be a string or a function", l.key)
      }
      const algorithm = l.algorithm ?? "token-bucket"
      if (algorithm !== "token-bucket" && algorithm !== "fixed-window") {
        Check.refuse(name, `${at}.algorithm`, "must be \"token-bucket\" or \"fixed-window\"", algorithm)
      }
      const limitName = l.name === undefined ? `limit${i}` : Check.nonEmptyString(name, `${at}.name`, l.name)
      const metric = Metric.tagged(Metrics.rateLimited, Attributes.Resilience.ratelimitName, limitName)
      return {
        name: limitName,
        key: l.key,
        limit: Check.positiveNumber(name, `${at}.limit`, l.limit),
        windowMillis: Check.positiveDuration(name, `${at}.window`, l.window),
        algorithm,
        rejected: Metric.tagged(metric, Attributes.Resilience.ratelimitOutcome, "rejected"),
        waited: Metric.tagged(metric, Attributes.Resilience.ratelimitOutcome, "waited")
      }
    }),
    cost,
    wait: options.onExceeded === "wait",
    store: options.store ?? memoryStore()
  }
}

type Failure = RateLimited | StoreError | InvalidRateLimitInput

const acquire = <In>(cfg: Resolved<In>, input: In): Effect.Effect<void, Failure> => {
  const cost = typeof cfg.cost === "number" ? cfg.cost : cfg.cost(input)
  if (!(typeof cost === "number" && Number.isFinite(cost) && cost >= 0)) {
    return Effect.fail(
      new InvalidRateLimitInput({
        primitive: cfg.name,
        field: "cost",
        detail: `${Check.describe(cost)} is not a finite number >= 0`
      })
    )
  }
  const requests: Array<Request> = []
  for (const l of cfg.limits) {
    const key = typeof l.key === "string" ? l.key : l.key(input)
    if (typeof key !== "string") {
      return Effect.fail(
        new InvalidRateLimitInput({
          primitive: cfg.name,
          field: "key",
          limit: l.name,
          detail: `the key function returned ${Check.describe(key)}, not a string`
        })
      )
    }
    requests.push({ key, algorithm: l.algorithm, limit: l.limit, windowMillis: l.windowMillis, cost })
  }
  const loop: Effect.Effect<void, Failure> = Effect.flatMap(
    Clock.currentTimeMillis,
    (now) =>
      Effect.flatMap(cfg.store.consume(requests, now), (decision): Effect.Effect<void, Failure> => {
        if (decision.allowed) return Effect.void
        const limit = cfg.limits[decision.index]!
        const key = requests[decision.index]!.key
        const retryAfter = decision.retryAfterMillis
        if (!cfg.wait || !Number.isFinite(retryAfter)) {
          return Effect.zipRight(
            Effect.zipRight(
              Instrumentation.event(R.ratelimitRejected, {
                [R.ratelimitKey]: key,
                [R.ratelimitRetryAfterMs]: retryAfter
              }),
              Metric.increment(limit.rejected)
            ),
            Effect.fail(new RateLimited({ primitive: cfg.name, key, retryAfterMillis: retryAfter }))
          )
        }
        const delay = Math.max(1, retryAfter)
        return Effect.zipRight(
          Effect.zipRight(
            Effect.zipRight(
              Instrumentation.event(R.ratelimitWaiting, { [R.ratelimitKey]: key, [R.ratelimitDelayMs]: delay }),
              Metric.increment(limit.waited)
            ),
            Effect.sleep(Duration.millis(delay))
          ),
          loop
        )
      })
  )
  return loop
}

/**
 * Rate-limits any Effect (keys are strings here). The same implementation as `policy`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RateLimit } from "@braid/resilience"
 *
 * const store = RateLimit.memoryStore()
 * const call = RateLimit.effect(Effect.succeed("ok"), {
 *   name: "search",
 *   limits: [{ key: "user:1", limit: 10, window: "1 minute" }, { key: "global", limit: 1000, window: "1 hour" }],
 *   store
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const effect = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  options: Options<void> & {
    readonly limits: readonly [Limit<void> & { readonly key: string }, ...Array<Limit<void> & { readonly key: string }>]
  }
): Effect.Effect<A, E | RateLimited | StoreError | InvalidRateLimitInput, R> => {
  const cfg = resolve(options.name ?? "effect", options)
  return Effect.zipRight(acquire(cfg, undefined), self)
}

/**
 * The rate-limit policy for primitives. Its options are checked here (an `InvalidOption` naming the
 * option: limits and windows finite and > 0, a fixed cost finite and >= 0).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { RateLimit } from "@braid/resilience"
 *
 * interface Ask { readonly userId: string; readonly prompt: string }
 * const ask = Primitive.make("ask", (req: Ask) => Effect.succeed(`answer to ${req.prompt}`))
 * const limited = ask.pipe(RateLimit.policy({
 *   limits: [
 *     { key: (req) => `user:${req.userId}`, limit: 10, window: "1 minute", name: "per-user" },
 *     { key: "global", limit: 1000, window: "1 hour", name: "global" }
 *   ],
 *   cost: (req) => Math.ceil(req.prompt.length / 4),
 *   onExceeded: "fail"
 * }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const policy = <In>(options: Options<NoInfer<In>>) =>
<Out, E, R>(
  self: P.Primitive<In, Out, E, R>
): P.Primitive<In, Out, E | RateLimited | StoreError | InvalidRateLimitInput, R> => {
  const name = options?.name ?? `ratelimit(${self.name})`
  const cfg = resolve<In>(name, options)
  return Primitive.wrap(
    self,
    {
      kind: "rate-limit",
      name,
      meta: { limits: cfg.limits.length, onExceeded: cfg.wait ? "wait" : "fail", store: cfg.store.name }
    },
    (invoke) => (input: In) => Effect.zipRight(acquire(cfg, input), invoke(input))
  )
}
