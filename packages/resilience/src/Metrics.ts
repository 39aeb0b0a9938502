/**
 * Every metric of `@braid/resilience`, in one place. Each is tagged per use with the name of the
 * primitive, breaker, bulkhead, limit or cache it measures, under the names the spans use
 * (`Attributes.Resilience` of `@braid/core`, the one table of names): `braid.primitive.name`,
 * `braid.breaker.name`, `braid.bulkhead.name`, `braid.ratelimit.name` or `braid.cache.name`.
 * Export them with `@effect/opentelemetry` or read them with `Metric.value`.
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

/**
 * Retries scheduled (one per attempt after the first), tagged `braid.primitive.name`.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Metrics } from "@braid/resilience"
 *
 * const retriesOfCallModel = Metric.value(Metric.tagged(Metrics.retries, "braid.primitive.name", "callModel"))
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const retries = Metric.counter("braid.resilience.retry.retries", {
  description: "Retries scheduled by retry policies",
  incremental: true
})

/**
 * Retry policies that gave up (RetryExhausted), tagged `braid.primitive.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.retriesExhausted
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const retriesExhausted = Metric.counter("braid.resilience.retry.exhausted", {
  description: "Retry policies that ran out of attempts",
  incremental: true
})

/**
 * Timeouts fired, tagged `braid.primitive.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.timeouts
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const timeouts = Metric.counter("braid.resilience.timeout.fired", {
  description: "Timeouts that interrupted their work",
  incremental: true
})

/**
 * Fallbacks taken (an alternative after the first one ran), tagged `braid.primitive.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.fallbacks
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const fallbacks = Metric.counter("braid.resilience.fallback.taken", {
  description: "Fallback alternatives tried after the first",
  incremental: true
})

/**
 * The state of each circuit breaker: 0 closed, 1 half-open, 2 open, 3 isolated. Tagged
 * `braid.breaker.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.breakerState
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const breakerState = Metric.gauge("braid.resilience.breaker.state", {
  description: "Circuit breaker state: 0 closed, 1 half-open, 2 open, 3 isolated"
})

/**
 * Calls refused by circuit breakers, tagged `braid.breaker.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.breakerRejections
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const breakerRejections = Metric.counter("braid.resilience.breaker.rejections", {
  description: "Calls refused by an open or half-open circuit breaker",
  incremental: true
})

/**
 * Calls waiting in each bulkhead's queue, tagged `braid.bulkhead.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.bulkheadQueueDepth
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const bulkheadQueueDepth = Metric.gauge("braid.resilience.bulkhead.queue_depth", {
  description: "Calls waiting for a bulkhead slot"
})

/**
 * Calls rejected by bulkheads (CapacityExceeded), tagged `braid.bulkhead.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.bulkheadRejections
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const bulkheadRejections = Metric.counter("braid.resilience.bulkhead.rejections", {
  description: "Calls rejected by a full bulkhead",
  incremental: true
})

/**
 * Calls refused or delayed by rate limits, tagged `braid.ratelimit.name` and
 * `braid.ratelimit.outcome` ("rejected" or "waited").
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.rateLimited
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const rateLimited = Metric.counter("braid.resilience.ratelimit.limited", {
  description: "Calls refused or delayed by a rate limit",
  incremental: true
})

/**
 * Cache hits, tagged `braid.cache.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.cacheHits
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const cacheHits = Metric.counter("braid.resilience.cache.hits", { description: "Cache hits", incremental: true })

/**
 * Cache misses, tagged `braid.cache.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.cacheMisses
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const cacheMisses = Metric.counter("braid.resilience.cache.misses", {
  description: "Cache misses",
  incremental: true
})

/**
 * Store operations a cache had to do without, tagged `braid.cache.name` and `braid.cache.operation` ("get", "set",
 * "delete", "encode", "decode" or "key"): a store that failed or did not answer in time, an
 * entry that did not decode, a value that could not be encoded. The call went on (a read became
 * a miss, a write was dropped).
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { Attributes } from "@braid/core"
 * import { Metrics } from "@braid/resilience"
 *
 * const readsLost = Metric.value(
 *   Metrics.cacheStoreErrors.pipe(
 *     Metric.tagged(Attributes.Resilience.cacheName, "profiles"),
 *     Metric.tagged(Attributes.Resilience.cacheOperation, "get")
 *   )
 * )
 * ```
 *
 * @category metrics
 * @since 0.2.0
 */
export const cacheStoreErrors = Metric.counter("braid.resilience.cache.store_errors", {
  description: "Cache store operations that failed, timed out or did not decode (the call went on without them)",
  incremental: true
})

/**
 * Compensations run by sagas, tagged `braid.primitive.name` and `braid.saga.compensation.outcome`
 * ("ok" or "failed").
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.compensations
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const compensations = Metric.counter("braid.resilience.saga.compensations", {
  description: "Saga compensations run",
  incremental: true
})

/**
 * Hedged attempts started, tagged `braid.primitive.name`.
 *
 * @example
 * ```ts
 * import { Metrics } from "@braid/resilience"
 * const m = Metrics.hedges
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const hedges = Metric.counter("braid.resilience.hedge.started", {
  description: "Hedged attempts started",
  incremental: true
})
