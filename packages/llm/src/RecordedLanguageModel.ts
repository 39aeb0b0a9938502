/**
 * Record the exchanges of a `LanguageModel` provider to a cassette file, and replay them
 * offline.
 *
 * Recording wraps a Braid provider (`Ai.Provider`, e.g. `AnthropicLanguageModel.provider()`):
 * every call goes to it and its result, the provider's encoded response parts (or stream
 * parts) or its Braid error, is appended to the cassette (JSON, written after each call).
 * Replaying answers from the cassette only: the same call (by fingerprint: a SHA-256 of the
 * kind, the model and settings, the encoded prompt, the tools' names, descriptions and JSON
 * Schemas, the tool choice and the response format) gets the recorded parts again, exactly as
 * recorded, so `@effect/ai` decodes the same response and resolves the same tool calls; the
 * n-th identical call gets the n-th recording (the last one once they run out). A call the
 * cassette does not hold fails with `CassetteMiss` naming it; a file that is not a cassette
 * fails the layer with `CassetteError` naming the file. Both are carried by an `AiError`.
 *
 * @since 0.2.0
 */
import { Json } from "@braid/core"
import { LanguageModel as LanguageModelTag } from "@effect/ai/LanguageModel"
import type { ProviderOptions } from "@effect/ai/LanguageModel"
import * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import * as Tool from "@effect/ai/Tool"
import { Effect, Either, Layer, Ref, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Provider, SettingsShape } from "./Ai.js"
import { fromProvider, lastUserText, Settings } from "./Ai.js"
import { fromModelError, isCarrying } from "./AiErrors.js"
import { CassetteError, CassetteMiss, ModelError } from "./Errors.js"
import { firstIssue } from "./internal/schema.js"

/**
 * One recorded exchange.
 *
 * @since 0.2.0
 * @category models
 */
export interface Entry {
  readonly fingerprint: string
  readonly kind: "generate" | "stream"
  /** The call as made (for humans reading the cassette). */
  readonly request: unknown
  /** The provider's encoded parts (`generate`) or stream parts (`stream`, up to an error). */
  readonly parts: ReadonlyArray<unknown>
  /** An encoded `ModelError`. */
  readonly error?: unknown
}

/**
 * A cassette file.
 *
 * @since 0.2.0
 * @category models
 */
export interface Cassette {
  readonly version: 2
  readonly provider: string
  readonly defaultModel: string
  readonly entries: ReadonlyArray<Entry>
}

const encodePrompt = Schema.encodeSync(Prompt.Prompt)

const canonical = (kind: Entry["kind"], options: ProviderOptions, settings: SettingsShape, defaultModel: string) => ({
  kind,
  model: settings.model ?? defaultModel,
  maxTokens: settings.maxTokens ?? null,
  temperature: settings.temperature ?? null,
  stopSequences: settings.stopSequences ?? null,
  prompt: encodePrompt(options.prompt),
  tools: options.tools.map((t) => ({
    name: t.name,
    description: t.description ?? null,
    parameters: Tool.getJsonSchemaFromSchemaAst(t.parametersSchema.ast)
  })),
  toolChoice: options.toolChoice,
  responseFormat: options.responseFormat.type === "json"
    ? {
      type: "json",
      objectName: options.responseFormat.objectName,
      schema: Tool.getJsonSchemaFromSchemaAst(options.responseFormat.schema.ast)
    }
    : { type: "text" }
})

/**
 * The fingerprint of a call.
 *
 * @example
 * ```ts
 * import { Ai, RecordedLanguageModel } from "@braid/llm"
 *
 * const id = RecordedLanguageModel.fingerprint(
 *   "generate",
 *   { prompt: Ai.Prompt.make("hi"), tools: [], toolChoice: "none", responseFormat: { type: "text" } },
 *   {},
 *   "claude-sonnet-5-5"
 * )
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const fingerprint = (
  kind: Entry["kind"],
  options: Pick<ProviderOptions, "prompt" | "tools" | "toolChoice" | "responseFormat">,
  settings: SettingsShape,
  defaultModel: string
): string =>
  createHash("sha256").update(JSON.stringify(canonical(kind, options as ProviderOptions, settings, defaultModel)))
    .digest("hex").slice(0, 32)

const EntrySchema = Schema.Struct({
  fingerprint: Schema.String,
  kind: Schema.Literal("generate", "stream"),
  request: Schema.Unknown,
  parts: Schema.Array(Schema.Struct({ type: Schema.String }, { key: Schema.String, value: Schema.Unknown })),
  error: Schema.optionalWith(ModelError, { exact: true })
})

const CassetteSchema = Schema.Struct({
  version: Schema.Literal(2),
  provider: Schema.String,
  defaultModel: Schema.String,
  entries: Schema.Array(EntrySchema)
})

const decodeCassette = Schema.decodeUnknownEither(CassetteSchema)
const encodeCassette = Schema.encodeSync(CassetteSchema)

type Loaded = typeof CassetteSchema.Type

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const load = (file: string): Effect.Effect<Loaded | undefined, CassetteError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined),
      catch: (e) =>
        new CassetteError({ message: `the cassette ${file} could not be read: ${describe(e)}`, file, reason: "Read" })
    })
    if (text === undefined) return undefined
    const json = Json.parse(text)
    if (Either.isLeft(json)) {
      return yield* Effect.fail(
        new CassetteError({ message: `the cassette ${file} is not JSON: ${json.left.message}`, file, reason: "Parse" })
      )
    }
    const decoded = decodeCassette(json.right)
    if (Either.isLeft(decoded)) {
      const { field, problem } = firstIssue(decoded.left)
      return yield* Effect.fail(
        new CassetteError({
          message: `the cassette ${file} is not a cassette: ${field}: ${problem}`,
          file,
          reason: "Decode"
        })
      )
    }
    return decoded.right
  })

const save = (file: string, cassette: Loaded): Effect.Effect<void, CassetteError> =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      const tmp = `${file}.tmp`
      fs.writeFileSync(tmp, JSON.stringify(encodeCassette(cassette), null, 2) + "\n")
      fs.renameSync(tmp, file)
    },
    catch: (e) =>
      new CassetteError({ message: `the cassette ${file} could not be written: ${describe(e)}`, file, reason: "Write" })
  })

const where = (method: string) => ({ module: "RecordedLanguageModel", method })

/** Errors that are not exchanges with the model, never recorded. */
const notRecorded = (e: ModelError) => e._tag === "BudgetExceeded" || e._tag === "InvalidRequest"

/**
 * Wraps a provider: calls go to it and every exchange is appended to the cassette at `file`
 * (entries already in the file are kept).
 *
 * @example
 * ```ts
 * import { AnthropicLanguageModel, RecordedLanguageModel } from "@braid/llm"
 *
 * const recording = RecordedLanguageModel.record("test/cassettes/coach.json", AnthropicLanguageModel.provider())
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const record = <E, R>(
  file: string,
  provider: Effect.Effect<Provider, E, R>
): Effect.Effect<Provider, E | CassetteError, R> =>
  Effect.gen(function*() {
    const inner = yield* provider
    const existing = yield* load(file)
    const state = yield* Ref.make<Loaded>({
      version: 2,
      provider: inner.name,
      defaultModel: inner.defaultModel,
      entries: existing?.entries ?? []
    })
    const append = (entry: typeof EntrySchema.Type) =>
      Effect.flatMap(
        Ref.updateAndGet(state, (c) => ({ ...c, entries: [...c.entries, entry] })),
        (c) => Effect.mapError(save(file, c), (e) => fromModelError(e, where("record")))
      )
    const base = (kind: Entry["kind"], options: ProviderOptions) =>
      Effect.map(Settings, (settings) => ({
        fingerprint: fingerprint(kind, options, settings, inner.defaultModel),
        kind,
        request: canonical(kind, options, settings, inner.defaultModel)
      }))
    const errorOf = (e: unknown) => (isCarrying(e) && !notRecorded(e.modelError) ? e.modelError : undefined)
    return {
      name: inner.name,
      defaultModel: inner.defaultModel,
      generateText: (options) =>
        Effect.flatMap(base("generate", options), (b) =>
          inner.generateText(options).pipe(
            Effect.tap((parts) => append({ ...b, parts: parts as ReadonlyArray<any> })),
            Effect.tapError((e) => {
              const error = errorOf(e)
              return error === undefined ? Effect.void : append({ ...b, parts: [], error })
            })
          )),
      streamText: (options) =>
        Stream.unwrap(Effect.map(base("stream", options), (b) =>
          Stream.suspend(() => {
            const parts: Array<any> = []
            return Stream.concat(
              inner.streamText(options).pipe(
                Stream.tap((p) => Effect.sync(() => parts.push(p))),
                Stream.tapError((e) => {
                  const error = errorOf(e)
                  return error === undefined ? Effect.void : append({ ...b, parts: [...parts], error })
                })
              ),
              Stream.execute(Effect.suspend(() => append({ ...b, parts: [...parts] })))
            )
          })))
    } satisfies Provider
  })

/** `Usage` requires its keys (`undefined` allowed): JSON drops `undefined`, so put them back. */
const restore = (part: any): any =>
  part.type === "finish" && typeof part.usage === "object" && part.usage !== null
    ? {
      ...part,
      usage: {
        inputTokens: undefined,
        outputTokens: undefined,
        totalTokens: undefined,
        ...part.usage
      }
    }
    : part

/**
 * A provider answering only from the cassette at `file` (an absent file is an empty cassette).
 *
 * @example
 * ```ts
 * import { Ai, RecordedLanguageModel } from "@braid/llm"
 * import { Effect } from "effect"
 *
 * const model = Effect.flatMap(RecordedLanguageModel.replay("test/cassettes/coach.json"), Ai.fromProvider)
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const replay = (file: string): Effect.Effect<Provider, CassetteError> =>
  Effect.gen(function*() {
    const cassette: Loaded = (yield* load(file)) ??
      { version: 2, provider: "braid.recorded", defaultModel: "recorded", entries: [] }
    const byFingerprint = new Map<string, Array<typeof EntrySchema.Type>>()
    for (const entry of cassette.entries) {
      const list = byFingerprint.get(entry.fingerprint) ?? []
      list.push(entry)
      byFingerprint.set(entry.fingerprint, list)
    }
    const seen = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
    const next = (kind: Entry["kind"], options: ProviderOptions, method: string) =>
      Effect.gen(function*() {
        const settings = yield* Settings
        const fp = fingerprint(kind, options, settings, cassette.defaultModel)
        const list = byFingerprint.get(fp)
        if (list === undefined || list.length === 0) {
          const summary = `${settings.model ?? cassette.defaultModel}; ${options.prompt.content.length} message(s); ` +
            `last user: ${JSON.stringify(lastUserText(options.prompt).slice(0, 60))}`
          return yield* Effect.fail(fromModelError(
            new CassetteMiss({
              message: `the cassette ${path.basename(file)} has no ${kind} entry for ${summary} (fingerprint ${fp})`,
              fingerprint: fp,
              request: summary
            }),
            where(method)
          ))
        }
        const n = yield* Ref.modify(seen, (m) => [m.get(fp) ?? 0, new Map(m).set(fp, (m.get(fp) ?? 0) + 1)] as const)
        return list[Math.min(n, list.length - 1)]!
      })
    return {
      name: cassette.provider,
      defaultModel: cassette.defaultModel,
      generateText: (options) =>
        Effect.flatMap(next("generate", options, "generateText"), (entry) =>
          entry.error !== undefined
            ? Effect.fail(fromModelError(entry.error, where("generateText")))
            : Effect.succeed(entry.parts.map(restore) as Array<Response.PartEncoded>)),
      streamText: (options) =>
        Stream.unwrap(Effect.map(next("stream", options, "streamText"), (entry) => {
          // one part per chunk, as a live provider delivers them (tool calls are resolved per chunk)
          const parts = Stream.fromIterable(entry.parts.map(restore) as Array<Response.StreamPartEncoded>).pipe(
            Stream.rechunk(1)
          )
          return entry.error !== undefined
            ? Stream.concat(parts, Stream.fail(fromModelError(entry.error, where("streamText"))))
            : parts
        }))
    } satisfies Provider
  })

/**
 * A `LanguageModel` layer recording a provider's exchanges to `file`.
 *
 * @example
 * ```ts
 * import { AnthropicLanguageModel, RecordedLanguageModel } from "@braid/llm"
 *
 * const Recording = RecordedLanguageModel.recordLayer("test/cassettes/coach.json", AnthropicLanguageModel.provider())
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const recordLayer = <E, R>(
  file: string,
  provider: Effect.Effect<Provider, E, R>
): Layer.Layer<LanguageModelTag, E | CassetteError, R> =>
  Layer.effect(LanguageModelTag, Effect.flatMap(record(file, provider), fromProvider))

/**
 * A `LanguageModel` layer answering from the cassette at `file`.
 *
 * @example
 * ```ts
 * import { RecordedLanguageModel } from "@braid/llm"
 *
 * const Replaying = RecordedLanguageModel.replayLayer("test/cassettes/coach.json")
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const replayLayer = (file: string): Layer.Layer<LanguageModelTag, CassetteError> =>
  Layer.effect(LanguageModelTag, Effect.flatMap(replay(file), fromProvider))
