/**
 * The SQLite driver of the SQL port (`Sql.Driver` of `@braid/core`) on better-sqlite3: the one
 * connection handling of every SQLite store of Braid.
 *
 * - One connection per layer, opened when the layer is built and closed with its scope; WAL
 *   journal (readers never block the writer, several processes can share the file) and a busy
 *   timeout (how long a statement waits for another connection's write lock).
 * - Statements are prepared once per text and kept in a bounded cache (least recently used
 *   dropped first), so a store's statements cost what the driver's own calls cost.
 * - `transaction` runs `BEGIN IMMEDIATE` ... `COMMIT`, or `ROLLBACK` when the body fails or is
 *   interrupted; a transaction inside a transaction is a savepoint. While a transaction is open,
 *   statements of other fibers wait for it to end (they would run inside it otherwise).
 * - Every failure (opening the file, a statement, a locked database, a file that is not a
 *   database) is a typed `Sql.SqlFailure` carrying SQLite's message and code, never parameters.
 *
 * better-sqlite3 runs each statement synchronously: a statement is bounded by the busy timeout
 * (waiting for a lock is the only wait a local file has), not by an interruption.
 *
 * @since 0.2.0
 */
import { Io, Sql } from "@braid/core"
import { Duration, Effect, Exit, FiberRef, Layer } from "effect"
import type { Scope } from "effect"
import { createRequire } from "node:module"

/**
 * Options of the SQLite driver.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The database file, created if missing (`":memory:"` for a private in-memory database). */
  readonly filename: string
  /**
   * How long a statement waits for another connection's write lock before it fails with
   * "database is locked" (SQLite's busy timeout). Default `Io.defaultTimeout` (5 s).
   */
  readonly busyTimeout?: Duration.DurationInput
  /** How many prepared statements are kept (an integer >= 1; default 256). */
  readonly statementCacheSize?: number
  /** Open the file read-only (it must exist). Default false. */
  readonly readonly?: boolean
}

// The part of better-sqlite3's API the driver uses (the package ships no types).
interface Statement {
  readonly reader: boolean
  run(params: ReadonlyArray<unknown>): { readonly changes: number }
  all(params: ReadonlyArray<unknown>): Array<unknown>
}
interface Database {
  prepare(sql: string): Statement
  pragma(sql: string): unknown
  exec(sql: string): unknown
  close(): void
  readonly inTransaction: boolean
}
type DatabaseConstructor = new(
  filename: string,
  options: { readonly timeout: number; readonly readonly: boolean; readonly fileMustExist: boolean }
) => Database

let constructor: DatabaseConstructor | undefined
/** better-sqlite3, loaded on first use (a program that never opens SQLite never loads the native module). */
const sqlite =
  (): DatabaseConstructor => (constructor ??= createRequire(import.meta.url)("better-sqlite3") as DatabaseConstructor)

/** SQLite's message and code (`SQLITE_BUSY`, `SQLITE_NOTADB`...); never the statement's parameters. */
const failure = (e: unknown): Sql.SqlFailure => {
  const message = e instanceof Error ? e.message : String(e)
  const code = typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined
  return new Sql.SqlFailure({
    message: code === undefined || message.includes(code) ? message : `${message} (${code})`
  })
}

/** `Effect.try` as one lazy step without its call-site tracing wrapper (the statements are a few µs). */
const attempt = <A>(f: () => A): Effect.Effect<A, Sql.SqlFailure> =>
  Effect.suspend(() => {
    try {
      return Exit.succeed(f())
    } catch (e) {
      return Exit.fail(failure(e))
    }
  })

/** better-sqlite3 binds no booleans: the port stores them as 0/1. */
const bind = (params: ReadonlyArray<Sql.Param> | undefined): ReadonlyArray<unknown> => {
  if (params === undefined) return []
  for (let i = 0; i < params.length; i++) {
    if (typeof params[i] === "boolean") return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p))
  }
  return params
}

/** The transaction a fiber is in (inherited by the fibers it forks), to let its own statements through. */
const currentTransaction = FiberRef.unsafeMake<object | undefined>(undefined)

const open = (options: Options, busyTimeout: number): Database => {
  const Sqlite = sqlite()
  const db = new Sqlite(options.filename, {
    timeout: busyTimeout,
    readonly: options.readonly === true,
    fileMustExist: options.readonly === true
  })
  try {
    // Reads the file's header: a file that is not a database fails here, at open.
    if (options.readonly !== true) db.pragma("journal_mode = WAL")
    else db.pragma("schema_version")
    return db
  } catch (e) {
    db.close()
    throw e
  }
}

/** The driver over an open database. */
const makeDriver = (db: Database, cacheSize: number): Sql.Driver => {
  // Prepared statements by text, least recently used first (a Map keeps insertion order).
  const cache = new Map<string, Statement>()
  const prepared = (text: string): Statement => {
    let s = cache.get(text)
    if (s !== undefined) {
      if (cache.size > 1) {
        cache.delete(text)
        cache.set(text, s)
      }
      return s
    }
    s = db.prepare(text)
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!)
    cache.set(text, s)
    return s
  }
  const runQuery = (text: string, params: ReadonlyArray<Sql.Param> | undefined) =>
    attempt(() => {
      const s = prepared(text)
      if (s.reader) return s.all(bind(params)) as ReadonlyArray<Sql.Row>
      s.run(bind(params))
      return []
    })
  const runExecute = (text: string, params: ReadonlyArray<Sql.Param> | undefined) =>
    attempt(() => prepared(text).run(bind(params)).changes)

  // One connection: while a transaction is open, other fibers' statements wait for it.
  const lock = Effect.unsafeMakeSemaphore(1)
  let active: object | undefined
  const guarded = <A>(self: Effect.Effect<A, Sql.SqlFailure>): Effect.Effect<A, Sql.SqlFailure> =>
    Effect.suspend(() =>
      active === undefined
        ? self
        : Effect.flatMap(FiberRef.get(currentTransaction), (mine) => mine === active ? self : lock.withPermits(1)(self))
    )

  let savepoints = 0
  /** A savepoint inside the open transaction. */
  const nested = <A, E, R>(
    body: (tx: Sql.Driver) => Effect.Effect<A, E, R>,
    tx: Sql.Driver
  ): Effect.Effect<A, E | Sql.SqlFailure, R> =>
    Effect.uninterruptibleMask((restore) => {
      const name = `braid_sp_${++savepoints}`
      return Effect.flatMap(
        attempt(() => db.exec(`SAVEPOINT ${name}`)),
        () =>
          Effect.flatMap(Effect.exit(restore(body(tx))), (exit): Effect.Effect<A, E | Sql.SqlFailure> =>
            Exit.isSuccess(exit)
              ? Effect.as(
                attempt(() =>
                  db.exec(`RELEASE ${name}`)
                ),
                exit.value
              )
              : Effect.zipRight(
                attempt(() => db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`)).pipe(Effect.ignore),
                exit
              ))
      )
    })

  const transaction = <A, E, R>(
    body: (tx: Sql.Driver) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | Sql.SqlFailure, R> =>
    Effect.flatMap(FiberRef.get(currentTransaction), (mine): Effect.Effect<A, E | Sql.SqlFailure, R> => {
      if (mine !== undefined && mine === active) return nested(body, txDriver)
      return lock.withPermits(1)(Effect.uninterruptibleMask((restore) => {
        const token = {}
        const end = (text: string) =>
          attempt(() => {
            try {
              db.exec(text)
            } finally {
              if (!db.inTransaction) active = undefined
            }
          })
        return Effect.flatMap<void, Sql.SqlFailure, never, A, E | Sql.SqlFailure, R>(
          attempt(() => {
            db.exec("BEGIN IMMEDIATE")
            active = token
          }),
          () =>
            Effect.flatMap(
              Effect.exit(restore(Effect.locally(body(txDriver), currentTransaction, token))),
              (exit): Effect.Effect<A, E | Sql.SqlFailure, R> =>
                Exit.isSuccess(exit)
                  ? Effect.matchEffect(end("COMMIT"), {
                    // a failed COMMIT leaves the transaction open: roll it back, report the failure
                    onFailure: (e) => Effect.zipRight(rollback(end), Effect.fail(e)),
                    onSuccess: () => Effect.succeed(exit.value)
                  })
                  : Effect.zipRight(rollback(end), exit)
            )
        ).pipe(Effect.ensuring(Effect.sync(() => {
          if (active === token) active = undefined
        })))
      }))
    })
  const rollback = (end: (text: string) => Effect.Effect<void, Sql.SqlFailure>) =>
    Effect.suspend(() => (db.inTransaction ? Effect.ignore(end("ROLLBACK")) : Effect.void))

  const txDriver: Sql.Driver = {
    dialect: "sqlite",
    query: runQuery,
    execute: runExecute,
    transaction
  }
  return {
    dialect: "sqlite",
    query: (text, params) => guarded(runQuery(text, params)),
    execute: (text, params) => guarded(runExecute(text, params)),
    transaction
  }
}

/**
 * A driver on a SQLite file (created if missing), closed when the scope closes. Opening a file
 * that cannot be opened or is not a database fails with `Sql.SqlFailure`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteDriver } from "@braid/sqlite"
 *
 * const program = Effect.gen(function*() {
 *   const driver = yield* SqliteDriver.make({ filename: ":memory:" })
 *   yield* driver.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
 *   yield* driver.execute("INSERT INTO notes (body) VALUES (?)", ["hello"])
 *   return yield* driver.query("SELECT body FROM notes WHERE id = ?", [1])
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Sql.Driver, Sql.SqlFailure, Scope.Scope> =>
  Effect.suspend(() => {
    const cacheSize = options.statementCacheSize ?? 256
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 1) {
      return Effect.fail(
        new Sql.SqlFailure({ message: `SqliteDriver: option statementCacheSize must be an integer >= 1` })
      )
    }
    const busy = Duration.toMillis(Duration.decode(options.busyTimeout ?? Io.defaultTimeout))
    const busyTimeout = Number.isFinite(busy) ? Math.max(0, Math.round(busy)) : 2 ** 31 - 1
    return Effect.map(
      Effect.acquireRelease(attempt(() => open(options, busyTimeout)), (db) => Effect.sync(() => db.close())),
      (db) => makeDriver(db, cacheSize)
    )
  })

/**
 * `Sql.SqlDriver` on a SQLite file (created if missing): every SQLite store of Braid runs on it.
 * The database closes with the layer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sql } from "@braid/core"
 * import { SqliteDriver } from "@braid/sqlite"
 *
 * const one = Effect.flatMap(Sql.SqlDriver, (sql) => sql.query("SELECT 1 AS one")).pipe(
 *   Effect.provide(SqliteDriver.layer({ filename: "braid.db", busyTimeout: "2 seconds" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Sql.SqlDriver, Sql.SqlFailure> =>
  Layer.scoped(Sql.SqlDriver, make(options))
