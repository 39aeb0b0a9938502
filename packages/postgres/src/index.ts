/**
 * `@braid/postgres`: every Braid store on PostgreSQL, on one driver (`PostgresDriver`, the SQL
 * port of `@braid/core` on node-postgres): memory, messaging, meetings, evaluation results and
 * meeting records. Install it only if you use PostgreSQL.
 *
 * @since 0.2.0
 */

/** The PostgreSQL driver of the SQL port (`Sql.SqlDriver`), shared by every store here. @since 0.2.0 */
export * as PostgresDriver from "./PostgresDriver.js"
/** The PostgreSQL memory store. @since 0.1.0 */
export * as PostgresMemoryStore from "./PostgresMemoryStore.js"
/** `Messaging` persisted in PostgreSQL. @since 0.2.0 */
export * as PostgresMessaging from "./PostgresMessaging.js"
/** `MeetingStore` in PostgreSQL. @since 0.2.0 */
export * as PostgresMeetingStore from "./PostgresMeetingStore.js"
/** `ResultStore` (evaluation results) in PostgreSQL. @since 0.2.0 */
export * as PostgresResultStore from "./PostgresResultStore.js"
/** `MeetingRecords` in PostgreSQL. @since 0.2.0 */
export * as PostgresMeetingRecords from "./PostgresMeetingRecords.js"
/** `SessionStore` (practice and coaching sessions, scenarios, evaluations, error log) in PostgreSQL. @since 0.3.0 */
export * as PostgresSessionStore from "./PostgresSessionStore.js"
/** The PostgreSQL store of `CircuitBreaker`: a breaker's state shared by processes. @since 0.3.0 */
export * as PostgresBreakerStore from "./PostgresBreakerStore.js"
