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
 *   statements of other fibers wait for it to end (they would run inside it otherwise): the body
 *   runs its statements on the `tx` driver it is given, also in the fibers it forks.
 * - Every failure (opening the file, a statement, a locked database, a file that is not a
 *   database) is a typed `Sql.SqlFailure` carrying SQLite's message and code, never parameters.
 *
 * better-sqlite3 runs each statement synchronously: a statement is bounded by the busy timeout
 * (waiting for a lock is the only wait a local file has), not by an interruption. Waiting for
 * another fiber's transaction is bounded by the deadline of the store call (`Sql.call`,
 * `Sql.bounded`), else by the busy timeout: past it, a `Sql.SqlFailure` with reason "Timeout".
 * A query that ends with `LIMIT 1` is read with better-sqlite3's `get`.
 *
 * @since 0.2.0
 */
import { Io, Sql } from "@braid/core"
import { Clock, Context, Duration, Effect, Exit, Layer } from "effect"
import type { Fiber, Scope } from "effect"
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
  get(params: ReadonlyArray<unknown>): unknown
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

/**
 * A prepared statement in the cache. `single`: a query that ends with `LIMIT 1` (and holds no
 * comment) is read with `get`: its one row at most, without the step that looks for a second.
 */
interface Prepared {
  readonly statement: Statement
  readonly single: boolean
  used: number
}
const limitOne = /\bLIMIT\s+1\s*;?\s*$/i

/** A failure with reason "Timeout" when the deadline of the store call the fiber is in has passed. */
const pastDeadline = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Sql.SqlFailure | undefined => {
  const bound = fiber.getFiberRef(Sql.currentBound)
  if (bound === undefined || bound.deadline === Number.POSITIVE_INFINITY) return undefined
  return Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis() < bound.deadline
    ? undefined
    : new Sql.SqlFailure({ message: `no answer within ${bound.millis} ms`, reason: "Timeout" })
}

/** The driver over an open database. */
const makeDriver = (db: Database, cacheSize: number, busyTimeout: number): Sql.Driver => {
  // Prepared statements by text, each with the tick of its last use: a hit only stamps it; when
  // the cache is full, the least recently used one goes (a scan, only on a miss).
  const cache = new Map<string, Prepared>()
  let tick = 0
  const prepared = (text: string): Prepared => {
    const hit = cache.get(text)
    if (hit !== undefined) {
      hit.used = ++tick
      return hit
    }
    const statement = db.prepare(text)
    if (cache.size >= cacheSize) {
      let oldest: string | undefined
      let least = Number.POSITIVE_INFINITY
      for (const [key, entry] of cache) {
        if (entry.used < least) {
          least = entry.used
          oldest = key
        }
      }
      cache.delete(oldest!)
    }
    const entry: Prepared = {
      statement,
      single: statement.reader && limitOne.test(text) && !/--|\/\*/.test(text),
      used: ++tick
    }
    cache.set(text, entry)
    return entry
  }
  // Each statement is one Effect step that returns its Exit. A statement is synchronous: the
  // busy timeout bounds it; the deadline of a store call (`Sql.call`) bounds the waits for the
  // connection (`free`) and the start of a transaction.
  const queryNow = (
    text: string,
    params: ReadonlyArray<Sql.Param> | undefined
  ): Exit.Exit<ReadonlyArray<Sql.Row>, Sql.SqlFailure> => {
    try {
      const { single, statement } = prepared(text)
      if (single) {
        const row = statement.get(bind(params))
        return Exit.succeed(row === undefined ? [] : [row as Sql.Row])
      }
      if (statement.reader) return Exit.succeed(statement.all(bind(params)) as ReadonlyArray<Sql.Row>)
      statement.run(bind(params))
      return Exit.succeed([])
    } catch (e) {
      return Exit.fail(failure(e))
    }
  }
  const executeNow = (
    text: string,
    params: ReadonlyArray<Sql.Param> | undefined
  ): Exit.Exit<number, Sql.SqlFailure> => {
    try {
      return Exit.succeed(prepared(text).statement.run(bind(params)).changes)
    } catch (e) {
      return Exit.fail(failure(e))
    }
  }

  // One connection: a transaction holds it (`owner`, the fiber that runs it) from BEGIN to COMMIT
  // or ROLLBACK; statements of other fibers wait until it is released (they would run inside it).
  // Its body's statements go through `tx`; fibers the body forks use `tx` too.
  let owner: Fiber.RuntimeFiber<unknown, unknown> | undefined
  const waiters = new Set<() => void>()
  const release = (fiber: Fiber.RuntimeFiber<unknown, unknown>) => {
    if (owner !== fiber) return
    owner = undefined
    const woken = [...waiters]
    waiters.clear()
    for (const wake of woken) wake()
  }
  /**
   * Waits until no transaction holds the connection: bounded by the store call's deadline, else
   * by the busy timeout (the bound of waiting for another connection's lock, here another fiber's).
   */
  const free = Sql.statement<void>((resume) => {
    if (owner === undefined) return resume(Exit.void)
    const wake = () => resume(Exit.void)
    waiters.add(wake)
    return () => {
      waiters.delete(wake)
    }
  }, Duration.millis(busyTimeout))
  /** A statement of the outer driver while a transaction holds the connection: run once it is free. */
  const outside = <A>(now: () => Exit.Exit<A, Sql.SqlFailure>): Effect.Effect<A, Sql.SqlFailure> => {
    const self: Effect.Effect<A, Sql.SqlFailure> = Effect.withFiberRuntime((fiber) =>
      owner === undefined || owner === fiber ? now() : Effect.zipRight(free, self)
    )
    return self
  }

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
          Effect.flatMap(
            Effect.exit(restore(Effect.suspend(() => body(tx)))),
            (exit): Effect.Effect<A, E | Sql.SqlFailure> =>
              Exit.isSuccess(exit)
                ? Effect.as(
                  attempt(() => db.exec(`RELEASE ${name}`)),
                  exit.value
                )
                : Effect.zipRight(
                  attempt(() => db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`)).pipe(Effect.ignore),
                  exit
                )
          )
      )
    })

  /** Rolls back what is open, if anything (nothing after a failed BEGIN or a ROLLBACK SQLite did itself). */
  const rollbackNow = () => {
    try {
      if (db.inTransaction) prepared("ROLLBACK").statement.run([])
    } catch {
      // the connection is unusable: its next statement reports why
    }
  }
  // BEGIN, COMMIT and ROLLBACK are synchronous steps of one uninterruptible region: the
  // connection is never left held or in a transaction, whatever happens to the body.
  const transaction = <A, E, R>(
    body: (tx: Sql.Driver) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | Sql.SqlFailure, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiberRuntime<A, E | Sql.SqlFailure, R>((fiber) => {
        if (owner !== undefined && owner === fiber) return restore(nested(body, txDriver))
        const token = fiber
        const late = pastDeadline(fiber)
        if (late !== undefined) return Exit.fail(late)
        const finish = (exit: Exit.Exit<A, E>): Effect.Effect<A, E | Sql.SqlFailure> => {
          try {
            if (Exit.isFailure(exit)) {
              rollbackNow()
              return exit
            }
            try {
              prepared("COMMIT").statement.run([])
              return exit
            } catch (e) {
              // a failed COMMIT leaves the transaction open: roll it back, report the failure
              rollbackNow()
              return Exit.fail(failure(e))
            }
          } finally {
            release(token)
          }
        }
        const held = (): Effect.Effect<A, E | Sql.SqlFailure, R> => {
          try {
            prepared("BEGIN IMMEDIATE").statement.run([])
          } catch (e) {
            release(token)
            return Exit.fail(failure(e))
          }
          return Effect.flatMap(Effect.exit(restore(Effect.suspend(() => body(txDriver)))), finish)
        }
        // Take the connection when it is free; otherwise wait (interruptibly) and look again.
        const acquire: Effect.Effect<A, E | Sql.SqlFailure, R> = Effect.suspend(() => {
          if (owner !== undefined) return Effect.zipRight(restore(free), acquire)
          owner = token
          return held()
        })
        return acquire
      })
    )

  const txDriver: Sql.Driver = {
    dialect: "sqlite",
    query: (text, params) => Effect.suspend(() => queryNow(text, params)),
    execute: (text, params) => Effect.suspend(() => executeNow(text, params)),
    transaction: (body) => nested(body, txDriver)
  }
  return {
    dialect: "sqlite",
    query: (text, params) =>
      Effect.suspend(() => owner === undefined ? queryNow(text, params) : outside(() => queryNow(text, params))),
    execute: (text, params) =>
      Effect.suspend(() => owner === undefined ? executeNow(text, params) : outside(() => executeNow(text, params))),
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
      (db) => makeDriver(db, cacheSize, busyTimeout)
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
