/**
 * Scoped, persistent memory for agents: the `Memory` service with typed entries, scopes
 * (run, session, user, global, per tenant), retention and provenance; the `MemoryStore`
 * interface every backend implements, with the in-memory store; and, for store authors, the SQL
 * the SQL backends share (`MemorySql`).
 *
 * Stores for SQLite, PostgreSQL and Redis live in `@braid/sqlite`, `@braid/postgres` and
 * `@braid/redis`, so this package needs no driver.
 *
 * @since 0.2.0
 */

/** Scoped, persistent memory: the service, typed entries, remember/recall primitives. @since 0.1.0 */
export * as Memory from "./Memory.js"
/** The memory store interface and the in-memory store. @since 0.1.0 */
export * as MemoryStore from "./MemoryStore.js"
/** For store authors: the SQL of the memory stores, written against no driver. @since 0.2.0 */
export * as MemorySql from "./MemorySql.js"
/** The typed errors of memory. @since 0.1.0 */
export * as Errors from "./Errors.js"
