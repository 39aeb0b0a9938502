/**
 * Datasets of finished conversations, one JSON object a line (JSONL), decoded with Schema.
 *
 * A line:
 * ```json
 * {"id":"c-1","scenario":{"objective":"set one weekly running goal"},
 *  "messages":[{"role":"user","content":"I want to run again"},{"role":"assistant","content":"..."}]}
 * ```
 * Blank lines are ignored. A line that is not JSON, or whose JSON does not match `Conversation`,
 * fails the whole load with a `DatasetError` naming the file, the 1-based line and the field path:
 * `dataset.jsonl:7: messages[2].role: Expected "user" | "assistant", actual "robot"`. So does a
 * line with a `"__proto__"` key or nested deeper than `defaultMaxDepth` (untrusted input).
 *
 * @since 0.1.0
 */
import { Json, Primitive } from "@braid/core"
import { Effect, Either, Schema } from "effect"
import * as fs from "node:fs/promises"
import { DatasetError, DatasetReadError } from "./Errors.js"

/**
 * Who wrote a message.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Dataset } from "@braid/eval"
 *
 * Schema.is(Dataset.Role)("user") // true
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Role = Schema.Literal("user", "assistant")

/**
 * @category models
 * @since 0.1.0
 */
export type Role = typeof Role.Type

/**
 * One message of a conversation.
 *
 * @example
 * ```ts
 * import { Dataset } from "@braid/eval"
 *
 * const m: Dataset.Message = { role: "assistant", content: "What would a good week look like?" }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Message = Schema.Struct({
  role: Role,
  content: Schema.String
})

/**
 * @category models
 * @since 0.1.0
 */
export type Message = typeof Message.Type

/**
 * What the conversation was for: its objective (checked by the objective metric), and optional
 * goals the coach should cover and keywords whose presence marks the objective as met.
 *
 * @example
 * ```ts
 * import { Dataset } from "@braid/eval"
 *
 * const s: Dataset.Scenario = { objective: "agree on a weekly goal", successKeywords: ["three runs"] }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Scenario = Schema.Struct({
  objective: Schema.NonEmptyString,
  goals: Schema.optional(Schema.Array(Schema.String)),
  successKeywords: Schema.optional(Schema.Array(Schema.String))
})

/**
 * @category models
 * @since 0.1.0
 */
export type Scenario = typeof Scenario.Type

/**
 * A finished conversation: a unique id (the idempotency key of its evaluation), an optional
 * scenario, at least one message, free metadata (e.g. which prompt or model produced it).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Dataset } from "@braid/eval"
 *
 * const c = Schema.decodeUnknownSync(Dataset.Conversation)({ id: "c1", messages: [{ role: "user", content: "hi" }] })
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Conversation = Schema.Struct({
  id: Schema.NonEmptyString,
  scenario: Schema.optional(Scenario),
  messages: Schema.NonEmptyArray(Message),
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/**
 * @category models
 * @since 0.1.0
 */
export type Conversation = typeof Conversation.Type

/**
 * The reason for the first bad field. A union of literals reports one issue per member
 * (`Expected "user", actual "robot"`, `Expected "assistant", actual "robot"`): merge them into
 * `Expected "user" | "assistant", actual "robot"`.
 */
const firstReason = (
  path: string,
  issues: ReadonlyArray<{ readonly path: string; readonly message: string }>
): string => {
  const here = issues.filter((i) => i.path === path)
  const parts = here.map((i) => /^Expected (.*), actual (.*)$/s.exec(i.message))
  if (here.length > 1 && parts.every((m) => m !== null && m[2] === parts[0]![2])) {
    return `Expected ${parts.map((m) => m![1]).join(" | ")}, actual ${parts[0]![2]}`
  }
  return here[0]?.message ?? issues[0]?.message ?? "invalid"
}

const decodeLine = Schema.decodeUnknownEither(Conversation, { errors: "all", onExcessProperty: "ignore" })

/**
 * The deepest nesting a dataset line may have (objects and arrays inside each other): 64, far
 * more than a conversation needs (about 4) and far less than what overflows a decoder's stack.
 *
 * @example
 * ```ts
 * import { Dataset } from "@braid/eval"
 *
 * Dataset.defaultMaxDepth // 64
 * ```
 *
 * @category constants
 * @since 0.2.0
 */
export const defaultMaxDepth = 64

/**
 * Options of `parse` and `load`.
 *
 * @category models
 * @since 0.2.0
 */
export interface ParseOptions {
  /** The deepest nesting of a line (default `defaultMaxDepth`). */
  readonly maxDepth?: number
}

/**
 * Decodes the text of a JSONL dataset. `file` is only used in error messages. Each line is
 * parsed with `Json.parse` from `@braid/core`: a `"__proto__"` key is refused (it never reaches
 * an object's prototype) and a line nested deeper than `maxDepth` is refused before it is
 * decoded; both are a `DatasetError` naming the line and the path.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Dataset } from "@braid/eval"
 *
 * const text = '{"id":"c1","messages":[{"role":"user","content":"hi"}]}\n'
 * const conversations = Effect.runSync(Dataset.parse("inline.jsonl", text)) // [{ id: "c1", ... }]
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const parse = (
  file: string,
  text: string,
  options?: ParseOptions
): Effect.Effect<ReadonlyArray<Conversation>, DatasetError> =>
  Effect.suspend(() => {
    const maxDepth = options?.maxDepth ?? defaultMaxDepth
    const out: Array<Conversation> = []
    const firstLine = new Map<string, number>()
    const lines = text.split(/\r?\n/)
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!.trim()
      if (raw === "") continue
      const line = i + 1
      const json = Json.parse(raw, { maxDepth })
      if (Either.isLeft(json)) {
        const e = json.left
        return Effect.fail(
          new DatasetError({
            file,
            line,
            path: e.path,
            reason: e.reason === "Syntax" ? `invalid JSON: ${e.detail}` : e.detail
          })
        )
      }
      const decoded = decodeLine(json.right)
      if (decoded._tag === "Left") {
        const err = Primitive.decodeError("dataset", "input", decoded.left)
        return Effect.fail(new DatasetError({ file, line, path: err.path, reason: firstReason(err.path, err.issues) }))
      }
      const conversation = decoded.right
      const seen = firstLine.get(conversation.id)
      if (seen !== undefined) {
        return Effect.fail(
          new DatasetError({
            file,
            line,
            path: "id",
            reason: `duplicate id "${conversation.id}" (first on line ${seen})`
          })
        )
      }
      firstLine.set(conversation.id, line)
      out.push(conversation)
    }
    return Effect.succeed(out)
  })

/**
 * Reads and decodes a JSONL dataset file. An unreadable or empty file is a `DatasetReadError`;
 * a bad line a `DatasetError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Dataset } from "@braid/eval"
 *
 * const program = Dataset.load("conversations.jsonl").pipe(
 *   Effect.catchTags({
 *     DatasetError: (e) => Effect.die(e.message),
 *     DatasetReadError: (e) => Effect.die(e.message)
 *   })
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const load = (
  file: string,
  options?: ParseOptions
): Effect.Effect<ReadonlyArray<Conversation>, DatasetError | DatasetReadError> =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (e) =>
      new DatasetReadError({
        file,
        reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String((e as Error).message)
      })
  }).pipe(
    Effect.flatMap((text) => parse(file, text, options)),
    Effect.filterOrFail((cs) => cs.length > 0, () =>
      new DatasetReadError({ file, reason: "the dataset has no conversations" }))
  )

/**
 * Encodes conversations as JSONL text (one line each, trailing newline).
 *
 * @example
 * ```ts
 * import { Dataset } from "@braid/eval"
 *
 * const text = Dataset.toJsonl([{ id: "c1", messages: [{ role: "user", content: "hi" }] }])
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const toJsonl = (conversations: ReadonlyArray<Conversation>): string =>
  conversations.map((c) => JSON.stringify(Schema.encodeSync(Conversation)(c))).join("\n") + "\n"
