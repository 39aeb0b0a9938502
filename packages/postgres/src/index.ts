/**
 * `@braid/postgres`: every Braid store on PostgreSQL (pg, @effect/sql-pg): the memory store and
 * the PostgreSQL databases of messaging and meetings. Install it only if you use PostgreSQL.
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
