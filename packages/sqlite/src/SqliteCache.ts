/**
 * The SQLite store of `Cache` on the SQL port (`Sql.SqlDriver`, provided by `SqliteDriver.layer`
 * on a file or `:memory:`): TTL by an `expires_at` column, and with `maxEntries`
 * least-recently-used eviction. Every call is bounded by the store's `timeout`.
 *
 * @since 0.2.0
 */
import { Sql } from "@braid/core"
import { Cache, StoreError, StoreSupport } from "@braid/resilience"
import { Duration, Effect, Option } from "effect"

/**
 * Options of the SQLite store.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The table (default `braid_cache`), created if missing. */
  readonly table?: string
  /** The size cap (an integer >= 1; default none), least recently used evicted first. */
  readonly maxEntries?: number
  /**
   * The bound of one store call (default `Io.defaultTimeout`, 5 s), waiting for another fiber's
   * transaction on the same driver included. better-sqlite3 runs each statement synchronously:
   * a statement itself is bounded by the driver's busy timeout.
   */
  readonly timeout?: Duration.DurationInput
}

/**
 * A store in SQLite (the `Sql.SqlDriver` in context, of the sqlite dialect): a table
 * (default `braid_cache`) created if missing, TTL by an `expires_at` column, and with
 * `maxEntries` least-recently-used eviction by a `last_used` column. `last_used` is a counter
 * kept in the table itself (each read or write takes the largest value plus one), so the order
 * holds at any rate of calls and across processes sharing the file. Options are checked when
 * the store is built (an `InvalidOption` naming the option).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteCache, SqliteDriver } from "@braid/sqlite"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* SqliteCache.store({ maxEntries: 10_000, timeout: "2 seconds" })
 *   // Cache.policy({ key: ..., store })
 * }).pipe(Effect.provide(SqliteDriver.layer({ filename: ":memory:" })))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const store = (options: Options = {}): Effect.Effect<Cache.Store, StoreError, Sql.SqlDriver> => {
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
  const run = <A>(
    operation: string,
    self: Effect.Effect<A, Sql.SqlFailure | StoreError>
  ): Effect.Effect<A, StoreError> =>
    StoreSupport.bounded(
      "sqlite",
      operation,
      Effect.mapError(
        self,
        (e) => e._tag === "StoreError" ? e : new StoreError({ store: "sqlite", operation, cause: e })
      ),
      timeout
    )
  const table = quote(tableName)
  /** The next recency stamp: one more than any in the table (persisted, shared by processes). */
  const next = `(SELECT COALESCE(MAX(last_used), 0) + 1 FROM ${table})`
  const text = {
    select: `SELECT value, expires_at FROM ${table} WHERE key = ?`,
    delete: `DELETE FROM ${table} WHERE key = ?`,
    touch: `UPDATE ${table} SET last_used = ${next} WHERE key = ?`,
    upsert: `INSERT OR REPLACE INTO ${table} (key, value, expires_at, last_used) VALUES (?, ?, ?, ${next})`,
    // Everything at or below the (max+1)-th most recent stamp goes (none when there are <= max rows).
    evict:
      `DELETE FROM ${table} WHERE last_used <= (SELECT last_used FROM ${table} ORDER BY last_used DESC LIMIT 1 OFFSET ?)`
  }
  return Effect.gen(function*() {
    const sql = yield* Sql.SqlDriver
    if (sql.dialect !== "sqlite") {
      return yield* new StoreError({
        store: "sqlite",
        operation: "init",
        cause: new TypeError(`SqliteCache.store needs a sqlite driver, got ${sql.dialect}`)
      })
    }
    yield* run(
      "init",
      Effect.zipRight(
        sql.execute(`CREATE TABLE IF NOT EXISTS ${table} (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL,
          expires_at INTEGER,
          last_used INTEGER NOT NULL
        )`),
        sql.execute(`CREATE INDEX IF NOT EXISTS ${quote(`${tableName}_last_used`)} ON ${table} (last_used)`)
      )
    )
    return {
      name: "sqlite",
      get: (key, now) =>
        run(
          "get",
          Effect.gen(function*() {
            const row = (yield* sql.query(text.select, [key]))[0]
            if (row === undefined) return Option.none<Cache.Entry>()
            const expiresAt = row.expires_at
            if (typeof expiresAt === "number" && expiresAt <= now) {
              yield* sql.execute(text.delete, [key])
              return Option.none<Cache.Entry>()
            }
            const entry = yield* Cache.readEntry("sqlite", "get", row.value)
            if (max !== undefined) yield* sql.execute(text.touch, [key])
            return Option.some(entry)
          })
        ),
      set: (key, entry, expiresAt) =>
        run(
          "set",
          Effect.gen(function*() {
            const value = yield* Cache.writeEntry("sqlite", "set", entry)
            yield* sql.execute(text.upsert, [key, value, expiresAt ?? null])
            if (max !== undefined) yield* sql.execute(text.evict, [max])
          })
        ),
      delete: (key) => run("delete", Effect.asVoid(sql.execute(text.delete, [key])))
    } satisfies Cache.Store
  })
}

/** An SQLite identifier, quoted. */
const quote = (name: string): string => `"${name.replace(/"/g, "\"\"")}"`
