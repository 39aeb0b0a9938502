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
 * - Every store call is bounded (`call`, on `Io.bounded`) and reports the store's own typed error
 *   whose reason never carries credentials.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
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
 * credentials in URLs masked; it never holds parameters. Stores map it to their own typed error
 * with `call`.
 *
 * @example
 * ```ts
 * import { Sql } from "@braid/core"
 *
 * const e = new Sql.SqlFailure({ message: "relation does not exist" })
 * e._tag // "SqlFailure"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class SqlFailure extends Schema.TaggedError<SqlFailure>()("SqlFailure", {
  message: Schema.String
}) {}

/**
 * The SQL port. Statements use `?` placeholders in every dialect (the PostgreSQL driver numbers
 * them). A driver bounds nothing itself: stores bound each call with `call`.
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
 * @category rows
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
 * @category rows
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
 * Bounds a store call and turns every failure (an SQL error, a dropped connection, no answer
 * within `timeout`, a row that does not decode) into the store's typed error. Only the
 * failure's message (and its cause's) is kept, with credentials in URLs masked.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sql } from "@braid/core"
 *
 * const bounded = Effect.never.pipe(Sql.call("2 seconds", (reason) => new Error(`store: ${reason}`)))
 * ```
 *
 * @since 0.2.0
 * @category calls
 */
export const call =
  <E2>(timeout: Duration.DurationInput | undefined, toError: (reason: string) => E2) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E2, R> =>
    Io.bounded(
      Effect.mapError(self, (e) => toError(typeof e === "string" ? e : reasonOf(e))),
      timeout,
      (millis) => toError(`no answer within ${millis} ms`)
    )

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
