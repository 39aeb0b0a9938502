/**
 * JSON at Braid's edges: parsing untrusted text and encoding values for stores and the wire,
 * with one rule set everywhere.
 *
 * - `parse` never has prototype effects (a `"__proto__"` key is refused, whatever its escaping)
 *   and refuses nesting deeper than `maxDepth` (default 1,000), so a hostile document fails
 *   with a typed `JsonError` instead of poisoning an object or overflowing the stack later.
 * - `encode` refuses what JSON cannot carry without loss (BigInt, cycles, NaN and ±Infinity,
 *   nesting deeper than `maxDepth`) with a `JsonError` naming the path, instead of a
 *   `TypeError` defect or a silent `null`.
 * - `check` applies the same depth and key rules to a value that is already in memory (for
 *   example the input of a Schema-validated primitive).
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/**
 * Why a value or a text is not acceptable JSON.
 *
 * @since 0.2.0
 * @category errors
 */
export const JsonErrorReason = Schema.Literal(
  "Syntax",
  "Depth",
  "ForbiddenKey",
  "BigInt",
  "Cycle",
  "NonFinite",
  "Unsupported"
)

/**
 * @since 0.2.0
 * @category errors
 */
export type JsonErrorReason = typeof JsonErrorReason.Type

/**
 * A text that does not parse, or a value that cannot be encoded, under Braid's JSON rules.
 * `path` is where (`(root)`, `a.b[2]`), `reason` the kind of problem.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Json } from "@braid/core"
 *
 * const bad = Json.parse('{"__proto__": {"isAdmin": true}}')
 * if (Either.isLeft(bad)) console.log(bad.left.message) // JSON: forbidden key "__proto__" at (root)
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class JsonError extends Schema.TaggedError<JsonError>()("JsonError", {
  reason: JsonErrorReason,
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `JSON: ${this.detail} at ${this.path}`
  }
}

/**
 * The default bound on nesting (objects and arrays inside each other).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxDepth = 1_000

/**
 * Options of `parse`, `encode` and `check`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Deepest nesting accepted (default `defaultMaxDepth`). */
  readonly maxDepth?: number
}

const segment = (path: string, key: string | number): string =>
  typeof key === "number" ? `${path === "(root)" ? "" : path}[${key}]` : path === "(root)" ? key : `${path}.${key}`

/** Iterative walk of a parsed value (no recursion: safe at any depth). */
const walkParsed = (value: unknown, maxDepth: number, checkKeys: boolean): JsonError | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const stack: Array<{ v: object; depth: number; path: string }> = [{ v: value, depth: 1, path: "(root)" }]
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!
    if (depth > maxDepth) return new JsonError({ reason: "Depth", path, detail: `nesting deeper than ${maxDepth}` })
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i]
        if (typeof x === "object" && x !== null) stack.push({ v: x, depth: depth + 1, path: segment(path, i) })
      }
    } else {
      for (const k of Object.keys(v)) {
        if (checkKeys && k === "__proto__") {
          return new JsonError({ reason: "ForbiddenKey", path, detail: `forbidden key "__proto__"` })
        }
        const x = (v as Record<string, unknown>)[k]
        if (typeof x === "object" && x !== null) stack.push({ v: x, depth: depth + 1, path: segment(path, k) })
      }
    }
  }
  return undefined
}

/** Nesting depth of a JSON text, counted without parsing (brackets outside strings). */
const textDepthExceeds = (text: string, maxDepth: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return true
    } else if (c === 125 || c === 93) depth--
  }
  return false
}

/**
 * Parses untrusted JSON text. Fails with a `JsonError` on a syntax error, a `"__proto__"` key
 * (the key is refused, never applied), or nesting deeper than `maxDepth`.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Json } from "@braid/core"
 *
 * Json.parse('{"a": [1, 2]}') // Either.right({ a: [1, 2] })
 * Json.parse("[".repeat(5000) + "]".repeat(5000)) // Either.left(JsonError { reason: "Depth" })
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const parse = (text: string, options?: Options): Either.Either<unknown, JsonError> => {
  const maxDepth = options?.maxDepth ?? defaultMaxDepth
  if (typeof text !== "string") {
    return Either.left(
      new JsonError({ reason: "Unsupported", path: "(root)", detail: `expected a string, got ${typeof text}` })
    )
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return Either.left(
      new JsonError({ reason: "Syntax", path: "(root)", detail: e instanceof Error ? e.message : String(e) })
    )
  }
  if (typeof value !== "object" || value === null) return Either.right(value)
  // The cheap checks first: a document without "proto" in any spelling and shallow enough
  // needs no walk. Escaped keys ("\u005f_proto__") contain a backslash-u.
  const checkKeys = text.includes("__proto__") || text.includes("\\u")
  if (!checkKeys && !textDepthExceeds(text, maxDepth)) return Either.right(value)
  const error = walkParsed(value, maxDepth, checkKeys)
  return error === undefined ? Either.right(value) : Either.left(error)
}

/**
 * Checks a value already in memory against the same rules as `parse` (depth, `"__proto__"`
 * own keys), without copying it: for inputs that did not come through `parse`.
 *
 * @example
 * ```ts
 * import { Json } from "@braid/core"
 *
 * Json.check({ a: { b: 1 } }) // undefined: acceptable
 * ```
 *
 * @since 0.2.0
 * @category parsing
 */
export const check = (value: unknown, options?: Options): JsonError | undefined =>
  walkParsed(value, options?.maxDepth ?? defaultMaxDepth, true)

/**
 * Encodes a value as JSON text, refusing what JSON cannot carry without loss: BigInt, cycles,
 * NaN and ±Infinity, symbols and functions as values, and nesting deeper than `maxDepth`.
 * `undefined` object properties are left out (as `JSON.stringify` does); `undefined` array
 * items and a top-level `undefined` encode as `null`. Objects with `toJSON` (such as `Date`)
 * are encoded through it.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Json } from "@braid/core"
 *
 * Json.encode({ n: 1 }) // Either.right('{"n":1}')
 * Json.encode({ n: BigInt(1) }) // Either.left(JsonError { reason: "BigInt", path: "n" })
 * ```
 *
 * @since 0.2.0
 * @category encoding
 */
export const encode = (value: unknown, options?: Options): Either.Either<string, JsonError> => {
  const maxDepth = options?.maxDepth ?? defaultMaxDepth
  // Fast path: what JSON.stringify writes without a "null" (where NaN, ±Infinity, functions and
  // symbols in arrays would have gone) and too short to nest deeper than maxDepth is exact.
  // Anything else (a throw for BigInt, cycles, stack depth) is settled by the full check.
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    text = undefined
  }
  if (text !== undefined && text.length <= 2 * maxDepth && !text.includes("null")) return Either.right(text)
  const error = checkEncodable(value, maxDepth)
  if (error !== undefined) return Either.left(error)
  if (text !== undefined) return Either.right(text)
  try {
    return Either.right(JSON.stringify(value) ?? "null")
  } catch (e) {
    // A toJSON that throws, or a getter that does.
    return Either.left(
      new JsonError({ reason: "Unsupported", path: "(root)", detail: e instanceof Error ? e.message : String(e) })
    )
  }
}

/**
 * A deep copy of a value through its JSON form, under the rules of `encode`: what a store or a
 * message keeps, detached from the caller's object.
 *
 * @since 0.2.0
 * @category encoding
 */
export const copy = <A>(value: A, options?: Options): Either.Either<A, JsonError> =>
  Either.map(encode(value, options), (text) => JSON.parse(text) as A)

const describe = (x: unknown): string => typeof x === "number" ? String(x) : typeof x

/** Iterative check of a value to encode (cycles are ancestors on the current branch). */
const checkEncodable = (value: unknown, maxDepth: number): JsonError | undefined => {
  const bad = primitiveProblem(value, "(root)")
  if (bad !== undefined) return bad
  if (typeof value !== "object" || value === null) return undefined
  // Depth-first with explicit enter/leave so that `onPath` holds exactly the ancestors.
  const onPath = new Set<object>()
  const stack: Array<{ v: object; depth: number; path: string; leave: boolean }> = [{
    v: value,
    depth: 1,
    path: "(root)",
    leave: false
  }]
  while (stack.length > 0) {
    const frame = stack.pop()!
    if (frame.leave) {
      onPath.delete(frame.v)
      continue
    }
    let v: object = frame.v
    if (typeof (v as { toJSON?: unknown }).toJSON === "function") {
      let j: unknown
      try {
        j = (v as { toJSON: (key: string) => unknown }).toJSON("")
      } catch (e) {
        return new JsonError({
          reason: "Unsupported",
          path: frame.path,
          detail: `toJSON threw: ${e instanceof Error ? e.message : String(e)}`
        })
      }
      const p = primitiveProblem(j, frame.path)
      if (p !== undefined) return p
      if (typeof j !== "object" || j === null) continue
      v = j
    }
    if (onPath.has(v)) {
      return new JsonError({ reason: "Cycle", path: frame.path, detail: "a cycle (the value contains itself)" })
    }
    if (frame.depth > maxDepth) {
      return new JsonError({ reason: "Depth", path: frame.path, detail: `nesting deeper than ${maxDepth}` })
    }
    onPath.add(v)
    stack.push({ v, depth: frame.depth, path: frame.path, leave: true })
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const x: unknown = v[i]
        const path = segment(frame.path, i)
        const p = primitiveProblem(x, path)
        if (p !== undefined) return p
        if (typeof x === "object" && x !== null) stack.push({ v: x, depth: frame.depth + 1, path, leave: false })
      }
    } else {
      const keys = Object.keys(v)
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!
        const x: unknown = (v as Record<string, unknown>)[k]
        if (x === undefined || typeof x === "function" || typeof x === "symbol") continue // left out, as JSON.stringify does
        const path = segment(frame.path, k)
        const p = primitiveProblem(x, path)
        if (p !== undefined) return p
        if (typeof x === "object" && x !== null) stack.push({ v: x, depth: frame.depth + 1, path, leave: false })
      }
    }
  }
  return undefined
}

const primitiveProblem = (x: unknown, path: string): JsonError | undefined => {
  switch (typeof x) {
    case "bigint":
      return new JsonError({ reason: "BigInt", path, detail: "a BigInt has no JSON form" })
    case "number":
      return Number.isFinite(x)
        ? undefined
        : new JsonError({ reason: "NonFinite", path, detail: `${describe(x)} has no JSON form` })
    case "symbol":
    case "function":
      return path === "(root)" || path.endsWith("]")
        ? new JsonError({ reason: "Unsupported", path, detail: `a ${typeof x} has no JSON form` })
        : undefined
    default:
      return undefined
  }
}
