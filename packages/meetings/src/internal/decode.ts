/**
 * Decoding of untrusted inputs, shared by `Meeting` and `MeetingReducer`.
 *
 * @internal
 */
import { Either, ParseResult, Schema } from "effect"

/** The deepest issue of a decoding (of a union, the member that came closest): where, and what. */
export const firstIssue = (error: ParseResult.ParseError): { path: string; issue: string } => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const deepest = issues.reduce<(typeof issues)[number] | undefined>(
    (best, i) => best === undefined || i.path.length > best.path.length ? i : best,
    undefined
  )
  return {
    path: deepest && deepest.path.length > 0 ? deepest.path.map(String).join(".") : "(root)",
    issue: deepest?.message ?? error.message
  }
}

/** Decodes `input`; a getter or a proxy that throws is a bad input too. */
export const decodeInput = <A, I>(
  schema: Schema.Schema<A, I>,
  input: unknown
): Either.Either<A, { path: string; issue: string }> => {
  try {
    return Either.mapLeft(Schema.decodeUnknownEither(schema, { errors: "all" })(input), firstIssue)
  } catch (e) {
    return Either.left({ path: "(root)", issue: `unreadable input: ${e instanceof Error ? e.message : String(e)}` })
  }
}

/** How to name a participant in an error, whatever the caller passed. */
export const nameOf = (u: unknown): string => typeof u === "string" ? u : `(${typeof u})`
