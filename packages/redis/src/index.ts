/**
 * `@braid/redis`: every Braid store on Redis (ioredis): the memory store, the event bus
 * transport, the cache store, the rate-limit store and the circuit-breaker store. Install it only if you use Redis.
 *
 * @since 0.2.0
 */

/** The Redis memory store. @since 0.1.0 */
export * as RedisMemoryStore from "./RedisMemoryStore.js"
/** The Redis pub/sub transport of the event bus. @since 0.1.0 */
export * as RedisEventBus from "./RedisEventBus.js"
/** The Redis store of `Cache`: entries shared by processes, TTL by Redis. @since 0.2.0 */
export * as RedisCache from "./RedisCache.js"
/** The Redis store of `RateLimit`: limits shared by processes, one Lua script per call. @since 0.2.0 */
export * as RedisRateLimit from "./RedisRateLimit.js"
/** The Redis store of `CircuitBreaker`: a breaker's state shared by processes, one Lua compare-and-set. @since 0.3.0 */
export * as RedisBreakerStore from "./RedisBreakerStore.js"
