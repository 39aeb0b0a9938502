/**
 * Checks of user input shared by the messaging modules: names (agents, organizations, holders,
 * conversation ids), Schema paths, and the typed errors they become.
 */
import { Primitive } from "@braid/core"
import type { ParseResult } from "effect"
import { Either } from "effect"
import { InvalidInput } from "../Errors.js"

/** The longest name (agent, organization, holder, id) in UTF-16 code units. */
export const maxNameLength = 512

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why `value` is not an acceptable name, or `undefined`. PostgreSQL text refuses NUL; a lone surrogate would not read back. */
export const nameProblem = (value: unknown, max = maxNameLength): string | undefined => {
  if (typeof value !== "string") return `expected a non-empty string, got ${value === null ? "null" : typeof value}`
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
