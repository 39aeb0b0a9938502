/**
 * `@braid/redis`: every Braid store on Redis (ioredis): the memory store, the event bus
 * transport, the cache store and the rate-limit store. Install it only if you use Redis.
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
