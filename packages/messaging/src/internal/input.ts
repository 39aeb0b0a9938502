/**
 * Checks of user input shared by the messaging modules: names (agents, organizations, holders,
 * conversation ids), Schema paths, and the typed errors they become.
 */
import { Primitive } from "@braid/core"
import type { ParseResult } from "effect"
import { Duration, Either, Option } from "effect"
import { InvalidInput } from "../Errors.js"

/** The longest name (agent, organization, holder, id) in UTF-16 code units. */
export const maxNameLength = 512

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** A short, safe description of any value for an error message (never throws, never echoes a whole object). */
export const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  switch (typeof value) {
    case "object":
      return "an object"
    case "function":
      return "a function"
    case "symbol":
      return "a symbol"
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    default:
      return String(value)
  }
}

/** Why `value` is not an acceptable name, or `undefined`. PostgreSQL text refuses NUL; a lone surrogate would not read back. */
export const nameProblem = (value: unknown, max = maxNameLength): string | undefined => {
  if (typeof value !== "string") return `expected a non-empty string, got ${describe(value)}`
  if (value.length === 0) return "expected a non-empty string, got \"\""
  if (value.length > max) return `longer than ${max} characters (${value.length})`
  if (value.includes("\u0000")) return "contains a NUL character"
  if (loneSurrogate.test(value)) return "contains a lone surrogate (not valid Unicode)"
  return undefined
}

/** `value` as a name, or an `InvalidInput` naming `operation` and `field`. */
export const name = (
  operation: string,
  field: string,
  value: unknown,
  max?: number
): Either.Either<string, InvalidInput> => {
  const problem = nameProblem(value, max)
  return problem === undefined
    ? Either.right(value as string)
    : Either.left(new InvalidInput({ operation, field, reason: problem }))
}

/** The first issue of a parse error: where (`a.b[2]`, `(root)`), and what (core's one formatting of Schema issues). */
export const firstIssue = (error: ParseResult.ParseError): { readonly path: string; readonly reason: string } => {
  const decoded = Primitive.decodeError("messaging", "input", error)
  return { path: decoded.path, reason: decoded.issues[0]?.message ?? error.message }
}

/** `value` as an options record: `undefined` is `{}`; anything but a plain object is an `InvalidInput`. */
export const options = <A extends object>(
  operation: string,
  field: string,
  value: A | undefined
): Either.Either<A, InvalidInput> =>
  value === undefined
    ? Either.right({} as A)
    : typeof value === "object" && value !== null && !Array.isArray(value)
    ? Either.right(value)
    : Either.left(new InvalidInput({ operation, field, reason: `expected an object, got ${describe(value)}` }))

/** Why `value` is not a finite duration of at least 0, or its milliseconds (`fallback` when absent). */
export const durationMillis = (value: unknown, fallback: number): Either.Either<number, string> => {
  if (value === undefined) return Either.right(fallback)
  // Duration reads NaN and negative numbers as 0: refuse them instead
  if (typeof value === "number" && !(value >= 0)) return Either.left(`expected a duration >= 0, got ${value}`)
  const d = Duration.decodeUnknown(value)
  if (Option.isNone(d)) return Either.left(`not a duration (${describe(value)})`)
  const millis = Duration.toMillis(d.value)
  return Number.isFinite(millis) && millis >= 0
    ? Either.right(millis)
    : Either.left(`expected a finite duration, got ${millis} ms`)
}

/** `durationMillis` as an `InvalidInput` naming `operation` and `field`. */
export const duration = (
  operation: string,
  field: string,
  value: unknown,
  fallback: number
): Either.Either<number, InvalidInput> =>
  Either.mapLeft(durationMillis(value, fallback), (reason) => new InvalidInput({ operation, field, reason }))
