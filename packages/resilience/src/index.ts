/**
 * `@braid/resilience`: one policy algebra (retry, timeout, fallback, circuit breaker, bulkhead,
 * rate limit, cache, saga, hedge) for every step, model call, sub-workflow and meeting turn.
 *
 * @since 0.1.0
 */

/** Retry with backoff and jitter. @since 0.1.0 */
export * as Retry from "./Retry.js"
/** Bound the time of a primitive. @since 0.1.0 */
export * as Timeout from "./Timeout.js"
/** A chain of alternatives. @since 0.1.0 */
export * as Fallback from "./Fallback.js"
/** Closed / open / half-open circuit breakers. @since 0.1.0 */
export * as CircuitBreaker from "./CircuitBreaker.js"
/** Bounded concurrency with a bounded queue. @since 0.1.0 */
export * as Bulkhead from "./Bulkhead.js"
/** Per-key and global rate limits (in memory; in Redis with @braid/redis). @since 0.1.0 */
export * as RateLimit from "./RateLimit.js"
/** Caches with TTL, LRU and single-flight. @since 0.1.0 */
export * as Cache from "./Cache.js"
/** Steps with compensations, rolled back in reverse order. @since 0.1.0 */
export * as Saga from "./Saga.js"
/** Hedged requests: a second attempt after a delay, first success wins. @since 0.1.0 */
export * as Hedge from "./Hedge.js"
/** For store authors: the option checks and the call bound of the stores. @since 0.2.0 */
export * as StoreSupport from "./StoreSupport.js"
/** The typed errors and the transient convention. @since 0.1.0 */
export * as Errors from "./Errors.js"
/** Every metric of the package. @since 0.1.0 */
export * as Metrics from "./Metrics.js"

/** The errors, also at the top level. @since 0.1.0 */
export {
  CapacityExceeded,
  CircuitOpen,
  FallbackExhausted,
  InvalidRateLimitInput,
  RateLimited,
  RetryExhausted,
  SagaFailed,
  StoreError,
  StoreTimeout,
  TimeoutError
} from "./Errors.js"
