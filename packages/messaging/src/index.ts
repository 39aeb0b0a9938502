/**
 * Messaging between agents: a publish/subscribe `EventBus` on `domain.entity.action` channels with
 * Schema-validated events, `StreamBuffer` (parallel tracks with followers and sync markers), and
 * `Messaging` (send, request/reply, a persisted inbox).
 *
 * The persisted stores for SQLite, PostgreSQL and Redis live in `@braid/sqlite`,
 * `@braid/postgres` and `@braid/redis`, so this package needs no driver.
 *
 * @since 0.2.0
 */

/** Publish/subscribe on `domain.entity.action` channels with Schema-validated events. @since 0.1.0 */
export * as EventBus from "./EventBus.js"
/** A buffer with parallel tracks (conversation, insights), followers and sync markers. @since 0.1.0 */
export * as StreamBuffer from "./StreamBuffer.js"
/** Agent messaging: send, request/reply, persisted inbox. @since 0.1.0 */
export * as Messaging from "./Messaging.js"
/** The typed errors of the event bus and messaging. @since 0.2.0 */
export * as Errors from "./Errors.js"
/** Engagement locks (leases) on agents: conversations, and meetings. @since 0.3.0 */
export * as Lock from "./Lock.js"
