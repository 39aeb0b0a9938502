/**
 * The SQLite store of `Cache` (any `@effect/sql` client with SQLite syntax, e.g. `SqliteClient`
 * of @effect/sql-sqlite-node, a file or `:memory:`): TTL by an `expires_at` column, and with
 * `maxEntries` least-recently-used eviction. Every call is bounded by the store's `timeout`.
 *
 * @since 0.2.0
 */
import { Cache, StoreError, StoreSupport } from "@braid/resilience"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Option } from "effect"

/**
 * Options of the SQLite store.
 *
 * @since 0.2.0
 */
export interface Options {
  /** The table (default `braid_cache`), created if missing. */
  readonly table?: string
  /** The size cap (an integer >= 1; default none), least recently used evicted first. */
  readonly maxEntries?: number
  /**
   * The bound of one store call (default `Io.defaultTimeout`, 5 s). It interrupts clients that
   * run asynchronously; better-sqlite3 runs each statement synchronously and is bounded by its
   * own busy timeout instead.
   */
  readonly timeout?: Duration.DurationInput
}

/**
 * A store in SQLite (or any `@effect/sql` client with SQLite syntax): a table
 * (default `braid_cache`) created if missing, TTL by an `expires_at` column, and with
 * `maxEntries` least-recently-used eviction by a `last_used` column. `last_used` is a counter
 * kept in the table itself (each read or write takes the largest value plus one), so the order
 * holds at any rate of calls and across processes sharing the file. Options are checked when
 * the store is built (an `InvalidOption` naming the option).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { SqliteCache } from "@braid/sqlite"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* SqliteCache.store({ maxEntries: 10_000, timeout: "2 seconds" })
 *   // Cache.policy({ key: ..., store })
 * }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" })))
 * ```
 *
 * @since 0.1.0
 */
export const store = (options: Options = {}): Effect.Effect<Cache.Store, StoreError, SqlClient.SqlClient> => {
  const owner = "SqliteCache.store"
  if (typeof options !== "object" || options === null) {
    StoreSupport.refuse(owner, "options", "must be an object", options)
  }
  const tableName = options.table === undefined
    ? "braid_cache"
    : StoreSupport.nonEmptyString(owner, "table", options.table)
  const max = options.maxEntries === undefined
    ? undefined
    : StoreSupport.positiveInteger(owner, "maxEntries", options.maxEntries)
  const timeout = options.timeout === undefined
    ? undefined
    : Duration.millis(StoreSupport.positiveDuration(owner, "timeout", options.timeout))
  const run = <A>(operation: string, self: Effect.Effect<A, SqlError | StoreError>): Effect.Effect<A, StoreError> =>
    StoreSupport.bounded(
      "sqlite",
      operation,
      Effect.mapError(
        self,
        (e) => e._tag === "StoreError" ? e : new StoreError({ store: "sqlite", operation, cause: e })
      ),
      timeout
    )
  return Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const table = sql(tableName)
    yield* run(
      "init",
      Effect.zipRight(
        sql`CREATE TABLE IF NOT EXISTS ${table} (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL,
          expires_at INTEGER,
          last_used INTEGER NOT NULL
        )`,
        sql`CREATE INDEX IF NOT EXISTS ${sql(`${tableName}_last_used`)} ON ${table} (last_used)`
      )
    )
    /** The next recency stamp: one more than any in the table (persisted, shared by processes). */
    const next = sql`(SELECT COALESCE(MAX(last_used), 0) + 1 FROM ${table})`
    return {
      name: "sqlite",
      get: (key, now) =>
        run(
          "get",
          Effect.gen(function*() {
            const rows = yield* sql<
              { value: unknown; expires_at: number | null }
            >`SELECT value, expires_at FROM ${table} WHERE key = ${key}`
            const row = rows[0]
            if (row === undefined) return Option.none<Cache.Entry>()
            if (row.expires_at !== null && row.expires_at <= now) {
              yield* sql`DELETE FROM ${table} WHERE key = ${key}`
              return Option.none<Cache.Entry>()
            }
            const entry = yield* Cache.readEntry("sqlite", "get", row.value)
            if (max !== undefined) yield* sql`UPDATE ${table} SET last_used = ${next} WHERE key = ${key}`
            return Option.some(entry)
          })
        ),
      set: (key, entry, expiresAt) =>
        run(
          "set",
          Effect.gen(function*() {
            const text = yield* Cache.writeEntry("sqlite", "set", entry)
            yield* sql`INSERT OR REPLACE INTO ${table} (key, value, expires_at, last_used)
              VALUES (${key}, ${text}, ${expiresAt ?? null}, ${next})`
            if (max !== undefined) {
              // Everything at or below the (max+1)-th most recent stamp goes (none when there are <= max rows).
              yield* sql`DELETE FROM ${table} WHERE last_used <= (SELECT last_used FROM ${table} ORDER BY last_used DESC LIMIT 1 OFFSET ${max})`
            }
          })
        ),
      delete: (key) => run("delete", Effect.asVoid(sql`DELETE FROM ${table} WHERE key = ${key}`))
    } satisfies Cache.Store
  })
}
