/**
 * What the SQL stores of this package (`ResultStore`, `MeetingRecords`) share: a row's JSON is
 * written with `Json.encode` (a value without a lossless JSON form is refused, typed) and read
 * back with `Json.parse` then Schema (a row is untrusted input: no prototype effects, bounded
 * depth), and every call is bounded with `Io.bounded`.
 *
 * @internal
 */
import { Io, Json } from "@braid/core"
import type { Duration } from "effect"
import { Effect, Either, ParseResult, Schema } from "effect"

/** The options of every SQL store constructor of this package. */
export interface StoreOptions {
  /** The bound of one store call (default `Io.defaultTimeout`, 5 s). */
  readonly timeout?: Duration.DurationInput
}

/** Decodes a stored JSON text with `schema`; the failure is a human-readable reason. */
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

/** Encodes a value with `schema` then `Json.encode`; the failure is a human-readable reason. */
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
