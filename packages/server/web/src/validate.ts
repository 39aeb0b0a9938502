/**
 * The teacher's form checked in the browser with the library's own `Scenario` schema (the fields a
 * teacher sets, as the server's `ScenarioDraft`), so the messages match the server's 400s.
 */
import { Scenario } from "@braid/workflows/Scenario"
import { Either, ParseResult, Schema, Struct } from "effect"

const Draft = Schema.Struct({
  ...Struct.omit(Scenario.fields, "id", "tenant", "author", "version", "createdAt", "updatedAt"),
  id: Schema.optional(Scenario.fields.id)
})

/** A field path as the form names it: `persona.name`, `skills.0.id`, `objectives`. */
export const fieldKey = (path: ReadonlyArray<PropertyKey> | string): string => {
  const parts = typeof path === "string"
    ? path.replace(/\[(\d+)\]/g, ".$1").split(".").filter((p) => p.length > 0)
    : path.map(String)
  // a line of a list written one item per line belongs to the list's text area
  const list = parts.findIndex((p) => ["personality", "goals", "objectives", "endCriteria"].includes(p))
  return list >= 0 ? parts.slice(0, list + 1).join(".") : parts.join(".")
}

/** The line of a list field a path points at (1-based), if any. */
const lineOf = (path: ReadonlyArray<PropertyKey>): number | undefined => {
  const i = path.findIndex((p) => ["personality", "goals", "objectives", "endCriteria"].includes(String(p)))
  const n = i >= 0 ? path[i + 1] : undefined
  return typeof n === "number" ? n + 1 : undefined
}

/** The messages of a draft, by field (empty when it decodes). */
export const check = (draft: unknown): Record<string, string> => {
  const result = Schema.decodeUnknownEither(Draft, { errors: "all", onExcessProperty: "error" })(draft)
  if (Either.isRight(result)) return {}
  const out: Record<string, string> = {}
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(result.left)) {
    const key = fieldKey(issue.path)
    const line = lineOf(issue.path)
    const text = issue.message.length > 200 ? `${issue.message.slice(0, 200)}…` : issue.message
    out[key] ??= line === undefined ? text : `line ${line}: ${text}`
  }
  return out
}
