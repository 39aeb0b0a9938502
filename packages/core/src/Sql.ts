/**
 * The SQL port: what every Braid SQL store is written against, whatever the driver.
 *
 * - `Driver` is the port: `query` (rows), `execute` (rows changed) and `transaction` (one
 *   connection, committed or rolled back), with `?` placeholders in every dialect. The drivers
 *   live in the backend packages (`SqliteDriver` in `@braid/sqlite` on better-sqlite3,
 *   `PostgresDriver` in `@braid/postgres` on pg), so a package written against this port needs no
 *   driver, and the stores of one backend share one connection handling (time bounds, dropped
 *   connections, credentials kept out of errors).
 * - Rows hold JSON written with `Json.encode` (a value without a lossless JSON form is refused,
 *   typed) and read back with `Json.parse` then Schema (a row is untrusted input: no prototype
 *   effects, bounded depth).
 * - Every store call is bounded (`call`) and reports the store's own typed error whose reason
 *   never carries credentials. The bound is a deadline the driver applies to each statement the
 *   call runs (`statement`: one Effect step and one timer, no fiber of its own, as `Io.callback`),
 *   so a call of several statements, a transaction included, is bounded as a whole; a statement
 *   past it is abandoned (its connection destroyed) and fails at once.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Timers from "./internal/timers.js"
import * as Io from "./Io.js"
import * as Json from "./Json.js"

/**
 * The SQL dialects Braid's stores speak.
 *
 * @since 0.2.0
 * @category models
 */
export type Dialect = "sqlite" | "postgres"

/**
 * A statement parameter. Booleans are stored as `0`/`1` by the drivers; JSON is passed as text.
 *
 * @since 0.2.0
 * @category models
 */
export type Param = string | number | boolean | null

/**
 * A row as the driver returns it: untrusted, decode it before use.
 *
 * @since 0.2.0
 * @category models
 */
export type Row = Readonly<Record<string, unknown>>

/**
 * A failed statement or connection. `message` is the driver's message and its cause's, with
 * credentials in URLs masked; it never holds parameters. `reason` is `"Timeout"` for a statement
 * that got no answer within its bound (`statement`). Stores map it to their own typed error
 * with `call`.
 *
 * @example
 * ```ts
 * import { Sql } from "@braid/core"
 *
 * const e = new Sql.SqlFailure({ message: "relation does not exist" })
 * e._tag // "SqlFailure"
 * const slow = new Sql.SqlFailure({ message: "no answer within 5000 ms", reason: "Timeout" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class SqlFailure extends Schema.TaggedError<SqlFailure>()("SqlFailure", {
  message: Schema.String,
  reason: Schema.optional(Schema.Literal("Timeout"))
}) {}

/**
 * The SQL port. Statements use `?` placeholders in every dialect (the PostgreSQL driver numbers
 * them). A driver that waits for answers (a network database) bounds each statement with
 * `statement`: by the remaining time of the store call it runs in (`call`), else by a default
 * of its own. `tx.transaction` inside a transaction is a savepoint.
 *
 * @since 0.2.0
 * @category models
 */
export interface Driver {
  /** The dialect, for the few statements that differ (column types, upserts). */
  readonly dialect: Dialect
  /** The rows a statement returns. */
  readonly query: (text: string, params?: ReadonlyArray<Param>) => Effect.Effect<ReadonlyArray<Row>, SqlFailure>
  /** Runs a statement; the number of rows it changed. */
  readonly execute: (text: string, params?: ReadonlyArray<Param>) => Effect.Effect<number, SqlFailure>
  /**
   * Runs `body` in one transaction on one connection (`body` gets the driver of that
   * connection): committed when it succeeds, rolled back when it fails or is interrupted.
   */
  readonly transaction: <A, E, R>(
    body: (tx: Driver) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | SqlFailure, R>
}

/**
 * The driver of the SQL stores in context: `SqliteDriver.layer` (`@braid/sqlite`) or
 * `PostgresDriver.layer` (`@braid/postgres`) provide it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sql } from "@braid/core"
 *
 * const tables = Effect.flatMap(Sql.SqlDriver, (driver) => driver.query("SELECT 1 AS one"))
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class SqlDriver extends Context.Tag("@braid/core/Sql/SqlDriver")<SqlDriver, Driver>() {}

/**
 * The options every SQL store constructor takes.
 *
 * @since 0.2.0
 * @category models
 */
export interface StoreOptions {
  /** The bound of one store call (default `Io.defaultTimeout`, 5 s). */
  readonly timeout?: Duration.DurationInput
}

/**
 * Decodes a stored JSON text with `schema` (a row is untrusted input: `Json.parse`, then Schema);
 * the failure is a human-readable reason.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Sql } from "@braid/core"
 *
 * const decode = Sql.decoder(Schema.Struct({ n: Schema.Number }))
 * Effect.runSync(decode('{"n":1}')) // { n: 1 }
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const decoder = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (text: unknown): Effect.Effect<A, string> => {
    if (typeof text !== "string") return Effect.fail(`the stored value is not text (${typeof text})`)
    const json = Json.parse(text)
    if (Either.isLeft(json)) return Effect.fail(`the stored row is not acceptable JSON: ${json.left.message}`)
    const decoded = decode(json.right)
    return Either.isLeft(decoded)
      ? Effect.fail(`the stored row does not decode: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`)
      : Effect.succeed(decoded.right)
  }
}

/**
 * Encodes a value with `schema` then `Json.encode` (a value without a lossless JSON form is
 * refused); the failure is a human-readable reason.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Sql } from "@braid/core"
 *
 * const encode = Sql.encoder(Schema.Struct({ n: Schema.Number }))
 * Effect.runSync(encode({ n: 1 })) // '{"n":1}'
 * ```
 *
 * @since 0.2.0
 * @category encoding
 */
export const encoder = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const encode = Schema.encodeEither(schema)
  return (value: A): Effect.Effect<string, string> => {
    const encoded = encode(value)
    if (Either.isLeft(encoded)) {
      return Effect.fail(`the value does not encode: ${ParseResult.TreeFormatter.formatErrorSync(encoded.left)}`)
    }
    const text = Json.encode(encoded.right)
    return Either.isLeft(text)
      ? Effect.fail(`the value has no JSON form: ${text.left.message}`)
      : Effect.succeed(text.right)
  }
}

/**
 * The bound of the store call in progress (`call`), as drivers read it: an absolute `deadline`
 * on the Effect Clock, and the whole bound in `millis` (for the message).
 *
 * @since 0.2.0
 * @category combinators
 */
export interface Bound {
  readonly deadline: number
  readonly millis: number
}

/**
 * The bound of the store call the current fiber is in; `undefined` outside any `call`.
 *
 * @since 0.2.0
 * @category combinators
 */
export const currentBound: FiberRef.FiberRef<Bound | undefined> = FiberRef.unsafeMake<Bound | undefined>(undefined)

const timedOut = (millis: number) => new SqlFailure({ message: `no answer within ${millis} ms`, reason: "Timeout" })

/**
 * For driver authors: one callback-style statement (or connection checkout), bounded by the
 * remaining time of the store call it runs in (`currentBound`), else by `fallback`. `register`
 * starts it and hands its outcome to `resume` once; what it returns is called if it is abandoned
 * (past the bound, or interrupted): destroy the connection there. Past the bound the result is
 * a `SqlFailure` with reason `"Timeout"`, at once, even where the caller is uninterruptible. One
 * Effect step and one timer (`Io.callback`), no fiber of its own.
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import { Sql } from "@braid/core"
 *
 * const ping = Sql.statement<number>((resume) => {
 *   const handle = setTimeout(() => resume(Exit.succeed(1)), 10)
 *   return () => clearTimeout(handle)
 * }, "5 seconds")
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const statement = <A>(
  register: (resume: (exit: Exit.Exit<A, SqlFailure>) => void) => (() => void) | void,
  fallback: Duration.DurationInput
): Effect.Effect<A, SqlFailure> => {
  const fallbackDuration = Duration.decode(fallback)
  const fallbackMillis = Duration.toMillis(fallbackDuration)
  // `Io.callback` with the bound read from the fiber, in one step (this is every statement's path).
  return Effect.withFiberRuntime<A, SqlFailure>((fiber) => {
    const bound = fiber.getFiberRef(currentBound)
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    let millis: number
    let whole: number
    if (bound === undefined) {
      millis = fallbackMillis
      whole = fallbackMillis
    } else {
      // Whole milliseconds (at most 1 ms late): Node keeps one timer list per duration, so the
      // first statement of a call (the only one, mostly) reuses the list of its bound instead of
      // making a list of its own for a fractional remainder.
      millis = bound.deadline === Number.POSITIVE_INFINITY
        ? Number.POSITIVE_INFINITY
        : Math.ceil(bound.deadline - clock.unsafeCurrentTimeMillis())
      whole = bound.millis
      if (millis <= 0) return Exit.fail(timedOut(whole))
    }
    return Timers.race(
      register,
      clock,
      bound === undefined ? fallbackDuration : Duration.millis(millis),
      millis,
      // Built only if the bound passes (an error captures a stack: not on every statement's path).
      Effect.failSync(() => timedOut(whole))
    )
  })
}

/**
 * Bounds a store call and turns every failure (an SQL error, a dropped connection, no answer
 * within `timeout`, a row that does not decode) into the store's typed error. Only the
 * failure's message (and its cause's) is kept, with credentials in URLs masked.
 *
 * The bound is a deadline (`currentBound`) that the driver applies to every statement the call
 * runs (`statement`), a transaction's included; a call nested in another is bounded by its own.
 * What runs between statements is the store's own synchronous work (encoding, decoding): a store
 * call waits on nothing but its driver.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sql } from "@braid/core"
 *
 * const tables = Effect.flatMap(Sql.SqlDriver, (driver) => driver.query("SELECT 1 AS one")).pipe(
 *   Sql.call("2 seconds", (reason) => new Error(`store: ${reason}`))
 * )
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const call = <E2>(timeout: Duration.DurationInput | undefined, toError: (reason: string) => E2) => {
  const bound = bounded(timeout)
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E2, R> =>
    bound(Effect.mapError(self, (e) => toError(typeof e === "string" ? e : reasonOf(e))))
}

/**
 * `call` without the error mapping: the statements of `self` are bounded by `timeout` (default
 * `Io.defaultTimeout`) as a whole, and one past it fails with a `SqlFailure` whose reason is
 * `"Timeout"`. For stores with errors of their own shape.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sql } from "@braid/core"
 *
 * const one = Effect.flatMap(Sql.SqlDriver, (driver) => driver.query("SELECT 1 AS one")).pipe(Sql.bounded("2 seconds"))
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const bounded = (timeout: Duration.DurationInput | undefined) => {
  const millis = Duration.toMillis(timeout === undefined ? Io.defaultTimeout : Duration.decode(timeout))
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime<A, E, R>((fiber) => {
      const outer = fiber.getFiberRef(currentBound)
      const deadline = millis === Number.POSITIVE_INFINITY
        ? millis
        : Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis() + millis
      const restore = FiberRef.set(currentBound, outer)
      // `Effect.locally` without its finalizer (this is on every store call's path): the bound is
      // restored when the call succeeds or fails; an interrupted fiber keeps it only while it
      // winds down, and every call sets its own.
      return Effect.zipRight(
        FiberRef.set(currentBound, { deadline, millis }),
        Effect.matchCauseEffect(self, {
          onFailure: (cause) => Effect.zipRight(restore, Effect.failCause(cause)),
          onSuccess: (a) => Effect.as(restore, a)
        })
      )
    })
}

const messageOf = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" && e.message !== ""
    ? e.message
    : undefined

/** The error's message and its cause's (an SQL error says "Failed to execute statement"; its cause says why), credentials in URLs masked. */
const reasonOf = (e: unknown): string => {
  const own = messageOf(e) ?? String(e)
  const cause = typeof e === "object" && e !== null && "cause" in e ? messageOf(e.cause) : undefined
  const text = cause === undefined || cause === own ? own : `${own}: ${cause}`
  return text.replace(/(\w+:\/\/)[^@\s/]*@/g, "$1***@")
}
