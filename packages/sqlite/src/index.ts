/**
 * `@braid/sqlite`: every Braid store on SQLite, on one driver (`SqliteDriver`, the SQL port of
 * `@braid/core` on better-sqlite3): the memory store, the cache store, and the SQLite files of
 * messaging, meetings, evaluation results and meeting records. Install it only if you use SQLite.
 *
 * @since 0.2.0
 */

/** The SQLite driver of the SQL port (`Sql.SqlDriver`) on better-sqlite3. @since 0.2.0 */
export * as SqliteDriver from "./SqliteDriver.js"
/** The SQLite memory store (embedded default, file-backed). @since 0.1.0 */
export * as SqliteMemoryStore from "./SqliteMemoryStore.js"
/** The SQLite store of `Cache`: TTL and least-recently-used size cap. @since 0.2.0 */
export * as SqliteCache from "./SqliteCache.js"
/** `Messaging` persisted in a SQLite file. @since 0.2.0 */
export * as SqliteMessaging from "./SqliteMessaging.js"
/** `MeetingStore` in a SQLite file. @since 0.2.0 */
export * as SqliteMeetingStore from "./SqliteMeetingStore.js"
/** `ResultStore` (evaluation results) in a SQLite file. @since 0.2.0 */
export * as SqliteResultStore from "./SqliteResultStore.js"
/** `MeetingRecords` (minutes, decisions, action items) in a SQLite file. @since 0.2.0 */
export * as SqliteMeetingRecords from "./SqliteMeetingRecords.js"
/** `SessionStore` (practice and coaching sessions, scenarios, evaluations, error log) in a SQLite file. @since 0.3.0 */
export * as SqliteSessionStore from "./SqliteSessionStore.js"
