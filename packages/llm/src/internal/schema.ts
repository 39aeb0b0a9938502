/**
 * The one formatter of a `ParseError` into "field: problem", where the port's values cross an
 * edge (a provider's response, a cassette file).
 *
 * @internal
 */
import { ParseResult } from "effect"

/** `a.b[2].c` from a parse path. */
export const renderPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else out += out === "" ? String(key) : `.${String(key)}`
  }
  return out === "" ? "(root)" : out
}

/** The first issue of a parse error, as a field and a message. */
export const firstIssue = (error: ParseResult.ParseError): { readonly field: string; readonly problem: string } => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  return first === undefined
    ? { field: "(root)", problem: error.message }
    : { field: renderPath(first.path), problem: first.message }
}
