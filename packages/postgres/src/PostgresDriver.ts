/**
 * The PostgreSQL driver of the SQL port (`Sql.Driver` of `@braid/core`) on node-postgres (`pg`),
 * over a `pg.Pool`: the one connection handling of every Braid store on PostgreSQL.
 *
 * - Statements use `?` placeholders, numbered `$1..` here (a `?` inside a quoted string, a quoted
 *   identifier, a dollar-quoted body or a comment is left alone). Booleans are sent as `0`/`1`.
 * - A statement outside a transaction takes a connection of the pool for that statement only.
 *   While a call holds a connection it listens to its "error" event: a connection that breaks
 *   mid-call (a server restart, a terminated backend, a reset link) fails the call with a
 *   `Sql.SqlFailure`, it never ends the process. The connection goes back to the pool after a
 *   success and is destroyed after a failure, or when the call is abandoned (interrupted, e.g. at
 *   its store's bound), so a statement that never answers does not keep a connection busy and a
 *   late result is dropped.
 * - `transaction` runs `BEGIN`, the body and `COMMIT` on one connection; a failed body is rolled
 *   back (`ROLLBACK`, bounded by `timeout`; the connection is destroyed if that fails), an
 *   interrupted one destroys its connection (the server rolls it back). A transaction inside a
 *   transaction is a savepoint.
 * - Every statement, and getting a connection, is bounded (`Sql.statement`) by the deadline of
 *   the store call it runs in (`Sql.call`), else by `timeout`. The URL and its password never
 *   appear in a failure.
 *
 * @since 0.2.0
 */
import { Sql } from "@braid/core"
import { Config, Duration, Effect, Exit, Layer, Redacted } from "effect"
import type { ConfigError, Scope } from "effect"
import { createRequire } from "node:module"

/**
 * The result of a query, as `pg` gives it (the part the driver reads).
 *
 * @since 0.2.0
 * @category models
 */
export interface QueryResult {
  readonly rows: ReadonlyArray<unknown>
  /** Rows written or deleted by an `INSERT`, `UPDATE` or `DELETE`. */
  readonly rowCount: number | null
}

/**
 * A connection checked out of a `pg.Pool` (the part the driver uses).
 *
 * @since 0.2.0
 * @category models
 */
export interface PoolClient {
  query(
    text: string,
    values: ReadonlyArray<unknown> | undefined,
    callback: (error: Error | undefined, result: QueryResult) => void
  ): void
  query(text: string, values?: ReadonlyArray<unknown>): Promise<QueryResult>
  /** Returns the connection to the pool; with an error, destroys it instead. */
  release(error?: Error | boolean): void
  on(event: "error", listener: (error: Error) => void): unknown
  removeListener(event: "error", listener: (error: Error) => void): unknown
  /** The server process of the connection (pg sets it on connecting): what an abandoned statement's cancel names. */
  readonly processID?: number | null
}

/**
 * A `pg.Pool` (node-postgres), the part the driver uses. Pass your own to `fromPool` to choose
 * its settings (TLS, idle timeouts); ending it is then yours. Give it an "error" listener, as
 * node-postgres asks of every pool: an idle connection that breaks is reported there (the
 * driver's own pool has one).
 *
 * @since 0.2.0
 * @category models
 */
export interface Pool {
  connect(callback: (error: Error | undefined, client: PoolClient | undefined) => void): void
  connect(): Promise<PoolClient>
  end(): Promise<void>
  on(event: "error", listener: (error: Error) => void): unknown
}

/**
 * Options of the driver's own pool.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The connection URL (`postgres://user:password@host:port/db`); it never appears in a failure. */
  readonly url: Redacted.Redacted<string> | string
  /**
   * The bound of a statement run outside a store call (inside one, the call's deadline bounds
   * it: `Sql.call`), of a `ROLLBACK`, of connecting (authentication included) and of ending the
   * pool when the layer closes. Default 5 s (`Io.defaultTimeout`).
   */
  readonly timeout?: Duration.DurationInput
  /** The most connections the pool opens. Default 10. */
  readonly max?: number
}

type PoolConstructor = new(
  options: { readonly connectionString: string; readonly connectionTimeoutMillis: number; readonly max: number }
) => Pool

const defaultTimeout = Duration.seconds(5)

/**
 * `DATABASE_URL`, read with `Config.redacted`: the one place Braid reads it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PostgresDriver } from "@braid/postgres"
 *
 * const url = Effect.runSync(Effect.either(PostgresDriver.databaseUrl))
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const databaseUrl: Config.Config<Redacted.Redacted<string>> = Config.redacted("DATABASE_URL")

// ---- placeholders ---------------------------------------------------------------------------

const numberedCache = new Map<string, string>()
const maxCached = 512

/**
 * `text` with its `?` placeholders numbered `$1..` (PostgreSQL's form). A `?` inside a quoted
 * string (`'...'`, `E'...'`), a quoted identifier (`"..."`), a dollar-quoted body (`$tag$...$tag$`)
 * or a comment (`-- ...`, `/* ... *\/`) is left alone.
 *
 * @example
 * ```ts
 * import { PostgresDriver } from "@braid/postgres"
 *
 * PostgresDriver.numbered("SELECT * FROM t WHERE a = ? AND b = '?' AND c = ?")
 * // "SELECT * FROM t WHERE a = $1 AND b = '?' AND c = $2"
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const numbered = (text: string): string => {
  const cached = numberedCache.get(text)
  if (cached !== undefined) return cached
  let out = ""
  let n = 0
  let i = 0
  let from = 0
  const len = text.length
  while (i < len) {
    const c = text.charCodeAt(i)
    if (c === 63 /* ? */) {
      out += text.slice(from, i) + "$" + String(++n)
      from = ++i
    } else if (c === 39 /* ' */) {
      // E'...' strings take backslash escapes
      const prev = i > 0 ? text[i - 1] : ""
      const escapes = (prev === "E" || prev === "e") && (i < 2 || !/[\w$]/.test(text[i - 2]!))
      i++
      while (i < len) {
        const d = text.charCodeAt(i)
        if (escapes && d === 92 /* \ */) i += 2
        else if (d === 39) {
          if (text.charCodeAt(i + 1) === 39) i += 2
          else break
        } else i++
      }
      i++
    } else if (c === 34 /* " */) {
      const end = text.indexOf("\"", i + 1)
      i = end === -1 ? len : end + 1
    } else if (c === 45 /* - */ && text.charCodeAt(i + 1) === 45) {
      const end = text.indexOf("\n", i + 2)
      i = end === -1 ? len : end + 1
    } else if (c === 47 /* / */ && text.charCodeAt(i + 1) === 42 /* * */) {
      const end = text.indexOf("*/", i + 2)
      i = end === -1 ? len : end + 2
    } else if (c === 36 /* $ */) {
      const tag = /^\$[A-Za-z_]?[A-Za-z0-9_]*\$/.exec(text.slice(i, i + 64))
      const prev = i > 0 ? text[i - 1]! : ""
      if (tag !== null && !/[\w$]/.test(prev)) {
        const end = text.indexOf(tag[0], i + tag[0].length)
        i = end === -1 ? len : end + tag[0].length
      } else i++
    } else i++
  }
  const result = n === 0 ? text : out + text.slice(from)
  if (numberedCache.size >= maxCached) numberedCache.clear()
  numberedCache.set(text, result)
  return result
}

/** The parameters as pg takes them: booleans as 0/1 (as the SQLite driver stores them). */
const valuesOf = (params: ReadonlyArray<Sql.Param> | undefined): ReadonlyArray<unknown> | undefined => {
  if (params === undefined) return undefined
  for (let i = 0; i < params.length; i++) {
    if (typeof params[i] === "boolean") return params.map((p) => typeof p === "boolean" ? (p ? 1 : 0) : p)
  }
  return params
}

// ---- failures -------------------------------------------------------------------------------

/** What of a connection URL must never appear in a failure: the URL and its password (as written and decoded). */
const secretsOf = (url: string): ReadonlyArray<string> => {
  const secrets = [url]
  try {
    const password = new URL(url).password
    if (password !== "") secrets.push(password, decodeURIComponent(password))
  } catch {
    // Not a WHATWG URL (pg also takes other forms): the whole text is still hidden.
  }
  return secrets.filter((s) => s !== "")
}

const messageOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" && e.message !== ""
    ? e.message
    : String(e)

const failureWith = (secrets: ReadonlyArray<string>) => (e: unknown): Sql.SqlFailure => {
  if (e instanceof Sql.SqlFailure) return e
  let message = messageOf(e)
  for (const secret of secrets) message = message.split(secret).join("***")
  message = message.replace(/(\w+:\/\/)[^@\s/]*@/g, "$1***@")
  return new Sql.SqlFailure({ message })
}

function ignore(): void {}

const asError = (e: unknown): Error => e instanceof Error ? e : new Error(String(e))

/** Why a connection is destroyed rather than returned when its caller stops waiting. */
const abandoned = new Error("the call was abandoned (interrupted or past its bound): its connection is destroyed")

type Done = (error: unknown, result?: QueryResult) => void

/**
 * Asks the server to cancel what `client` runs (`pg_cancel_backend`, on another connection of
 * the pool, in the background, bounded by `timeout`, best effort): its statement was abandoned
 * and its connection is being destroyed, but a server busy with the statement would otherwise go
 * on with it, holding its locks, until it ends.
 */
const cancelOn = (pool: Pool, client: PoolClient, timeout: Duration.Duration): void => {
  const pid = client.processID
  if (typeof pid !== "number") return
  Effect.runFork(
    Effect.ignore(pooled(pool, "SELECT pg_cancel_backend($1)", [pid], ignore, failureWith([]), timeout, false)).pipe(
      Effect.locally(Sql.currentBound, undefined)
    )
  )
}

// ---- the driver -----------------------------------------------------------------------------

/**
 * One statement on a connection of its own from the pool, as one interruptible Effect step. The
 * connection listens to "error" while held; it goes back to the pool after a success and is
 * destroyed after a failure or when the step is interrupted.
 */
const pooled = <A>(
  pool: Pool,
  text: string,
  values: ReadonlyArray<unknown> | undefined,
  map: (r: QueryResult) => A,
  fail: (e: unknown) => Sql.SqlFailure,
  timeout: Duration.Duration,
  cancel = true
): Effect.Effect<A, Sql.SqlFailure> =>
  Sql.statement<A>((resume) => {
    let finished = false
    let client: PoolClient | undefined = undefined
    /** Gives the connection back, or destroys it (with an error). A destroyed one keeps its listener: a late "error" is ignored. */
    const letGo = (error: Error | undefined) => {
      const c = client
      if (c === undefined) return
      client = undefined
      if (error === undefined) {
        c.removeListener("error", onBroken)
        c.release()
      } else {
        c.release(error)
      }
    }
    const done: Done = (error, result) => {
      if (finished) return
      finished = true
      if (error != null) {
        letGo(asError(error))
        return resume(Exit.fail(fail(error)))
      }
      letGo(undefined)
      let a: A
      try {
        a = map(result!)
      } catch (e) {
        return resume(Exit.fail(fail(e)))
      }
      resume(Exit.succeed(a))
    }
    function onBroken(error: Error): void {
      done(error)
    }
    try {
      pool.connect((error, c) => {
        if (error != null || c === undefined) return done(error ?? new Error("no connection"))
        if (finished) return c.release()
        client = c
        c.on("error", onBroken)
        try {
          c.query(text, values, done)
        } catch (e) {
          done(e)
        }
      })
    } catch (e) {
      done(e)
    }
    return () => {
      if (finished) return
      finished = true
      const c = client
      letGo(abandoned)
      if (cancel && c !== undefined) cancelOn(pool, c, timeout)
    }
  }, timeout)

/** A connection held for a transaction. */
interface Held {
  readonly client: PoolClient
  /** The statement in flight, failed by a broken connection. */
  current: Done | undefined
  /** The connection broke or a statement was abandoned: it must be destroyed. */
  broken: boolean
  readonly onBroken: (error: Error) => void
  /** Asks the server to cancel the statement in flight (it was abandoned). */
  readonly cancel: () => void
}

/** Gets a connection for a transaction into `slot` as soon as it arrives (so that it is let go whatever happens next). */
const hold = (
  pool: Pool,
  slot: { held: Held | undefined },
  fail: (e: unknown) => Sql.SqlFailure,
  timeout: Duration.Duration
): Effect.Effect<Held, Sql.SqlFailure> =>
  Sql.statement<Held>((resume) => {
    let finished = false
    try {
      pool.connect((error, c) => {
        if (finished) {
          if (c !== undefined) c.release()
          return
        }
        finished = true
        if (error != null || c === undefined) return resume(Exit.fail(fail(error ?? new Error("no connection"))))
        const held: Held = {
          client: c,
          current: undefined,
          broken: false,
          onBroken: (e) => {
            held.broken = true
            held.current?.(e)
          },
          cancel: () => cancelOn(pool, c, timeout)
        }
        c.on("error", held.onBroken)
        slot.held = held
        resume(Exit.succeed(held))
      })
    } catch (e) {
      finished = true
      resume(Exit.fail(fail(e)))
    }
    return () => {
      finished = true
    }
  }, timeout)

/** One statement on a held connection; interrupting it marks the connection for destruction. */
const onHeld = <A>(
  held: Held,
  text: string,
  values: ReadonlyArray<unknown> | undefined,
  map: (r: QueryResult) => A,
  fail: (e: unknown) => Sql.SqlFailure,
  timeout: Duration.Duration
): Effect.Effect<A, Sql.SqlFailure> =>
  Sql.statement<A>((resume) => {
    let finished = false
    const done: Done = (error, result) => {
      if (finished) return
      finished = true
      held.current = undefined
      if (error != null) return resume(Exit.fail(fail(error)))
      let a: A
      try {
        a = map(result!)
      } catch (e) {
        return resume(Exit.fail(fail(e)))
      }
      resume(Exit.succeed(a))
    }
    if (held.broken) {
      done(new Error("the connection broke during the transaction"))
      return
    }
    held.current = done
    try {
      held.client.query(text, values, done)
    } catch (e) {
      done(e)
    }
    return () => {
      if (finished) return
      finished = true
      held.current = undefined
      if (!held.broken) held.cancel()
      held.broken = true
    }
  }, timeout)

const rowsOf = (r: QueryResult): ReadonlyArray<Sql.Row> => r.rows as ReadonlyArray<Sql.Row>
const countOf = (r: QueryResult): number => r.rowCount ?? 0

/** Lets a held connection go: back to the pool, or destroyed. */
const letGoHeld = (held: Held, destroy: boolean): void => {
  if (destroy || held.broken) {
    held.client.release(abandoned)
  } else {
    held.client.removeListener("error", held.onBroken)
    held.client.release()
  }
}

/**
 * A statement of a finalizer (`ROLLBACK`), bounded by the driver's own `timeout` rather than
 * by the call's deadline (which may have passed): its failure destroys the connection.
 */
const cleanup = (held: Held, text: string, fail: (e: unknown) => Sql.SqlFailure, timeout: Duration.Duration) =>
  Effect.interruptible(onHeld(held, text, undefined, ignore, fail, timeout)).pipe(
    Effect.locally(Sql.currentBound, undefined),
    Effect.catchAll(() =>
      Effect.sync(() => {
        held.broken = true
      })
    )
  )

/** The driver of a transaction's connection; `depth` numbers its savepoints. */
const heldDriver = (
  held: Held,
  fail: (e: unknown) => Sql.SqlFailure,
  timeout: Duration.Duration,
  depth: number
): Sql.Driver => ({
  dialect: "postgres",
  query: (text, params) => onHeld(held, numbered(text), valuesOf(params), rowsOf, fail, timeout),
  execute: (text, params) => onHeld(held, numbered(text), valuesOf(params), countOf, fail, timeout),
  transaction: <A, E, R>(body: (tx: Sql.Driver) => Effect.Effect<A, E, R>) => {
    const name = `braid_sp_${depth}`
    const run = (text: string) => onHeld(held, text, undefined, ignore, fail, timeout)
    return Effect.uninterruptibleMask((restore) =>
      restore(Effect.zipRight(run(`SAVEPOINT ${name}`), body(heldDriver(held, fail, timeout, depth + 1)))).pipe(
        Effect.onExit((exit) =>
          Exit.isSuccess(exit)
            ? Effect.ignore(run(`RELEASE SAVEPOINT ${name}`))
            : Exit.isInterrupted(exit)
            ? Effect.sync(() => {
              held.broken = true
            })
            // Not rolled back to the savepoint: the transaction cannot go on, its connection is destroyed.
            : cleanup(held, `ROLLBACK TO SAVEPOINT ${name}`, fail, timeout)
        )
      )
    )
  }
})

/**
 * A driver on a pool: `fromPool` (the caller's pool) and `make` (the driver's own) are built on it.
 */
const onPool = (pool: Pool, fail: (e: unknown) => Sql.SqlFailure, timeout: Duration.Duration): Sql.Driver => ({
  dialect: "postgres",
  query: (text, params) => pooled(pool, numbered(text), valuesOf(params), rowsOf, fail, timeout),
  execute: (text, params) => pooled(pool, numbered(text), valuesOf(params), countOf, fail, timeout),
  transaction: <A, E, R>(body: (tx: Sql.Driver) => Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      const slot: { held: Held | undefined } = { held: undefined }
      return Effect.uninterruptibleMask((restore) =>
        restore(
          Effect.flatMap(hold(pool, slot, fail, timeout), (held) =>
            Effect.zipRight(
              onHeld(held, "BEGIN", undefined, ignore, fail, timeout),
              body(heldDriver(held, fail, timeout, 1))
            ).pipe(
              Effect.tap(() => onHeld(held, "COMMIT", undefined, ignore, fail, timeout))
            ))
        ).pipe(Effect.onExit((exit) => {
          const held = slot.held
          if (held === undefined) {
            return Effect.void
          }
          if (Exit.isSuccess(exit)) return Effect.sync(() => letGoHeld(held, false))
          if (Exit.isInterrupted(exit) || held.broken) return Effect.sync(() => letGoHeld(held, true))
          // A failed body: roll back; if that fails too, the connection is destroyed.
          return Effect.map(cleanup(held, "ROLLBACK", fail, timeout), () => letGoHeld(held, false))
        }))
      )
    })
})

/**
 * The driver on a pool you own (`pg.Pool`): ending it is yours. Failures are `Sql.SqlFailure`s
 * whose messages hold no URL credentials.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PostgresDriver } from "@braid/postgres"
 *
 * declare const pool: PostgresDriver.Pool // new pg.Pool({ ... })
 * const driver = PostgresDriver.fromPool(pool)
 * const one = driver.query("SELECT ? AS n", [1])
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromPool = (pool: Pool, options: { readonly timeout?: Duration.DurationInput } = {}): Sql.Driver =>
  onPool(pool, failureWith([]), Duration.decode(options.timeout ?? defaultTimeout))

/**
 * A driver on a pool of its own for `url`, ended (bounded by `timeout`) when the scope closes.
 * Nothing connects until the first statement.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { PostgresDriver } from "@braid/postgres"
 *
 * const program = Effect.gen(function*() {
 *   const driver = yield* PostgresDriver.make({ url: Redacted.make("postgres://postgres@127.0.0.1:5432/test") })
 *   return yield* driver.query("SELECT ? AS greeting", ["hello"])
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Sql.Driver, Sql.SqlFailure, Scope.Scope> => {
  const url = typeof options.url === "string" ? options.url : Redacted.value(options.url)
  const timeout = Duration.decode(options.timeout ?? defaultTimeout)
  const fail = failureWith(secretsOf(url))
  return Effect.acquireRelease(
    Effect.try({
      try: () => {
        const pg = createRequire(import.meta.url)("pg") as { readonly Pool: PoolConstructor }
        const pool = new pg.Pool({
          connectionString: url,
          connectionTimeoutMillis: Math.max(1, Math.ceil(Duration.toMillis(timeout))),
          max: options.max ?? 10
        })
        // An idle connection that breaks (a server restart) is dropped by the pool; without a
        // listener its "error" event would end the process. The next statement opens a new one.
        pool.on("error", ignore)
        return pool
      },
      catch: fail
    }),
    // Ending the pool waits for its connections to close: bounded too (a dead link never acknowledges).
    (pool) =>
      Effect.interruptible(Effect.promise(() => pool.end().catch(ignore))).pipe(Effect.timeout(timeout), Effect.ignore)
  ).pipe(Effect.map((pool) => onPool(pool, fail, timeout)))
}

/**
 * `Sql.SqlDriver` on PostgreSQL at `url`; the pool ends with the layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Messaging } from "@braid/messaging"
 * import { PostgresDriver } from "@braid/postgres"
 *
 * const MessagingLive = Messaging.layerSql().pipe(
 *   Layer.provide(PostgresDriver.layer({ url: "postgres://postgres@127.0.0.1:5432/app", timeout: "2 seconds" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Sql.SqlDriver, Sql.SqlFailure> =>
  Layer.scoped(Sql.SqlDriver, make(options))

/**
 * `Sql.SqlDriver` on PostgreSQL at `DATABASE_URL` (`databaseUrl`, read with `Config.redacted`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { MeetingStore } from "@braid/meetings"
 * import { PostgresDriver } from "@braid/postgres"
 *
 * const StoreLive = MeetingStore.layerSql.pipe(Layer.provide(PostgresDriver.layerConfig()))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "url"> = {}
): Layer.Layer<Sql.SqlDriver, Sql.SqlFailure | ConfigError.ConfigError> =>
  Layer.scoped(Sql.SqlDriver, Effect.flatMap(databaseUrl, (url) => make({ ...options, url })))
