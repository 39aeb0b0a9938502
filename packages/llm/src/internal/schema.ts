/**
 * The schemas of the port's values, used where they cross an edge: the request entering
 * `LanguageModel.make` (validated before anything is sent) and the responses a cassette file
 * holds. Also the one formatter of a `ParseError` into "field: problem".
 *
 * @internal
 */
import { Json } from "@braid/core"
import { Either, Option, ParseResult, Predicate, Schema } from "effect"
import { InvalidRequest } from "../Errors.js"
import type { Request, Response, StreamEvent } from "../LanguageModel.js"

/** An optional field: absent or `undefined` decode to absent (callers spread optional values). */
const opt = <A, I>(schema: Schema.Schema<A, I>) =>
  Schema.optionalToOptional(Schema.UndefinedOr(schema), Schema.typeSchema(schema), {
    decode: Option.filter(Predicate.isNotUndefined),
    encode: (o) => o
  })

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

const Message = Schema.Struct({
  role: Schema.Literal("user", "assistant"),
  content: Schema.String
})

const SystemPrompt = Schema.Union(
  Schema.String,
  Schema.Struct({ text: Schema.String, cache: opt(Schema.Boolean) })
)

/**
 * An object, passed through as it is: `Schema.Record` would copy it by assignment, which turns
 * a `"__proto__"` key into the copy's prototype instead of refusing it. Its content is checked
 * by `Json` rules in `validateRequest`.
 */
const JsonObject = Schema.declare(
  (u: unknown): u is { readonly [key: string]: unknown } => Predicate.isRecord(u),
  { identifier: "JsonObject", description: "a JSON Schema object" }
)

const ToolDefinition = Schema.Struct({
  name: Schema.NonEmptyString,
  description: opt(Schema.String),
  inputSchema: JsonObject
})

/** The schema of `LanguageModel.Request`. */
export const RequestSchema = Schema.Struct({
  model: opt(Schema.NonEmptyString),
  system: opt(SystemPrompt),
  messages: Schema.Array(Message),
  maxTokens: opt(Schema.Int.pipe(Schema.positive())),
  temperature: opt(Schema.Finite.pipe(Schema.nonNegative())),
  stopSequences: opt(Schema.Array(Schema.String)),
  tools: opt(Schema.Array(ToolDefinition)),
  metadata: opt(Schema.Struct({ agent: opt(Schema.String) }))
})

const decodeRequest = Schema.decodeUnknownEither(RequestSchema)

const joinPath = (prefix: string, path: string): string =>
  path === "(root)" ? prefix : path.startsWith("[") ? `${prefix}${path}` : `${prefix}.${path}`

/**
 * Checks a request before anything is sent: its shape (Schema), and that every tool's
 * `inputSchema` is JSON that can be sent as it is (no BigInt, cycle, NaN, `__proto__` key or
 * excessive nesting). Returns a clean copy of the request (unknown fields dropped).
 */
export const validateRequest = (request: unknown): Either.Either<Request, InvalidRequest> => {
  const decoded = decodeRequest(request)
  if (Either.isLeft(decoded)) {
    const { field, problem } = firstIssue(decoded.left)
    return Either.left(new InvalidRequest({ message: `invalid model request: ${field}: ${problem}`, field }))
  }
  const value: Request = decoded.right
  const tools = value.tools ?? []
  for (let i = 0; i < tools.length; i++) {
    const schema = tools[i]!.inputSchema
    const encoded = Json.encode(schema)
    const problem = Either.isLeft(encoded) ? encoded.left : Json.check(schema)
    if (problem !== undefined) {
      const field = joinPath(`tools[${i}].inputSchema`, problem.path)
      return Either.left(new InvalidRequest({ message: `invalid model request: ${field}: ${problem.detail}`, field }))
    }
  }
  return Either.right(value)
}

const Count = Schema.Finite.pipe(Schema.nonNegative())

const Usage = Schema.Struct({
  inputTokens: Count,
  outputTokens: Count,
  cacheReadTokens: Count,
  cacheWriteTokens: Count,
  estimated: Schema.Boolean
})

const ToolCall = Schema.Struct({ id: Schema.String, name: Schema.String, input: Schema.Unknown })

/** The schema of `LanguageModel.Response`. */
export const ResponseSchema: Schema.Schema<Response> = Schema.Struct({
  text: Schema.String,
  stopReason: Schema.Literal("end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "other"),
  model: Schema.String,
  usage: Usage,
  toolCalls: Schema.optionalWith(Schema.Array(ToolCall), { exact: true })
})

/** The schema of `LanguageModel.StreamEvent`. */
export const StreamEventSchema: Schema.Schema<StreamEvent> = Schema.Union(
  Schema.TaggedStruct("TextDelta", { text: Schema.String }),
  Schema.TaggedStruct("Finish", { response: ResponseSchema })
)
