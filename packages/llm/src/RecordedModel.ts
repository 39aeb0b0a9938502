/**
 * Record real model exchanges to a cassette file, and replay them byte for byte.
 *
 * `record(path, model)` wraps a model layer: every call goes to the real model and its result
 * (response, stream events, or typed error) is appended to the cassette (JSON, written after
 * each call). `replay(path)` answers from the cassette only: the same request (by fingerprint:
 * a SHA-256 of model, system prompt, messages, max tokens, temperature, stop sequences and tools)
 * gets the recorded result again, identical to the recorded one; the n-th identical request
 * gets the n-th recording (the last one once they run out). A request the cassette does not hold
 * fails with `CassetteMiss`, naming it.
 *
 * A cassette file is decoded (`Json.parse` and a Schema of the cassette, recorded errors
 * included) when the layer is built: a file that cannot be read, is not JSON or is not a
 * cassette fails the layer with `CassetteError` naming the file and what is wrong. A cassette
 * that cannot be written fails the call that recorded it with `CassetteError`.
 *
 * @since 0.1.0
 */
import { Json } from "@braid/core"
import { Effect, Either, Layer, Ref, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { CassetteError, CassetteMiss, ModelError } from "./Errors.js"
import { firstIssue, ResponseSchema, StreamEventSchema } from "./internal/schema.js"
import type { Request, Response, Service, StreamEvent } from "./LanguageModel.js"
import { LanguageModel, lastUserText, make as makeModel, systemText } from "./LanguageModel.js"

/**
 * One recorded exchange.
 *
 * @since 0.1.0
 */
export interface Entry {
  readonly fingerprint: string
  readonly kind: "generate" | "stream"
  /** The request as sent (for humans reading the cassette). */
  readonly request: unknown
  readonly response?: Response
  readonly events?: ReadonlyArray<StreamEvent>
  /** An encoded `ModelError`. */
  readonly error?: unknown
}

/**
 * A cassette file.
 *
 * @since 0.1.0
 */
export interface Cassette {
  readonly version: 1
  readonly provider: string
  readonly defaultModel: string
  readonly entries: ReadonlyArray<Entry>
}

const canonical = (request: Request, defaultModel: string) => ({
  model: request.model ?? defaultModel,
  system: request.system === undefined
    ? null
    : typeof request.system === "string"
    ? { text: request.system }
    : request.system,
  messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
  maxTokens: request.maxTokens ?? null,
  temperature: request.temperature ?? null,
  stopSequences: request.stopSequences ?? null,
  tools: request.tools ?? null
})

/**
 * The fingerprint of a request (kind included: a stream and a generate are different entries).
 *
 * @example
 * ```ts
 * import { LanguageModel, RecordedModel } from "@braid/llm"
 *
 * const id = RecordedModel.fingerprint("generate", { messages: [LanguageModel.user("hi")] }, "claude-sonnet-5-5")
 * ```
 *
 * @since 0.1.0
 */
export const fingerprint = (kind: "generate" | "stream", request: Request, defaultModel: string): string =>
  createHash("sha256").update(JSON.stringify({ kind, ...canonical(request, defaultModel) })).digest("hex").slice(0, 32)

const encodeError = Schema.encodeSync(ModelError)
const decodeError = Schema.decodeUnknownEither(ModelError)

const EntrySchema = Schema.Struct({
  fingerprint: Schema.String,
  kind: Schema.Literal("generate", "stream"),
  request: Schema.Unknown,
  response: Schema.optionalWith(ResponseSchema, { exact: true }),
  events: Schema.optionalWith(Schema.Array(StreamEventSchema), { exact: true }),
  error: Schema.optionalWith(Schema.Unknown, { exact: true })
})

const CassetteSchema = Schema.Struct({
  version: Schema.Literal(1),
  provider: Schema.String,
  defaultModel: Schema.String,
  entries: Schema.Array(EntrySchema)
})

const decodeCassette = Schema.decodeUnknownEither(CassetteSchema)

const describeCause = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** A cassette as read from its file, with its recorded errors decoded (index of the entry → error). */
interface Loaded {
  readonly cassette: Cassette
  readonly errors: ReadonlyMap<number, ModelError>
}

/** Reads and decodes the cassette at `file` (`undefined` when there is no file). */
const load = (file: string): Effect.Effect<Loaded | undefined, CassetteError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined),
      catch: (e) =>
        new CassetteError({
          message: `the cassette ${file} could not be read: ${describeCause(e)}`,
          file,
          reason: "Read"
        })
    })
    if (text === undefined) return undefined
    const json = Json.parse(text)
    if (Either.isLeft(json)) {
      return yield* Effect.fail(
        new CassetteError({ message: `the cassette ${file} is not JSON: ${json.left.message}`, file, reason: "Parse" })
      )
    }
    const notACassette = (field: string, problem: string) =>
      new CassetteError({
        message: `the cassette ${file} is not a cassette: ${field}: ${problem}`,
        file,
        reason: "Decode"
      })
    const decoded = decodeCassette(json.right)
    if (Either.isLeft(decoded)) {
      const { field, problem } = firstIssue(decoded.left)
      return yield* Effect.fail(notACassette(field, problem))
    }
    const cassette: Cassette = decoded.right
    const errors = new Map<number, ModelError>()
    for (let i = 0; i < cassette.entries.length; i++) {
      const entry = cassette.entries[i]!
      if (entry.error !== undefined) {
        const error = decodeError(entry.error)
        if (Either.isLeft(error)) {
          const { field, problem } = firstIssue(error.left)
          return yield* Effect.fail(
            notACassette(`entries[${i}].error${field === "(root)" ? "" : `.${field}`}`, problem)
          )
        }
        errors.set(i, error.right)
      } else if (entry.response === undefined && entry.events === undefined) {
        return yield* Effect.fail(notACassette(`entries[${i}]`, "has neither a response, events nor an error"))
      } else if (entry.kind === "generate" && entry.response === undefined) {
        return yield* Effect.fail(notACassette(`entries[${i}].response`, "is missing"))
      }
    }
    return { cassette, errors }
  })

/** Writes the cassette (to a temporary file, then renamed over the old one). */
const save = (file: string, cassette: Cassette): Effect.Effect<void, CassetteError> =>
  Effect.suspend(() => {
    const failed = (detail: string) =>
      new CassetteError({ message: `the cassette ${file} could not be written: ${detail}`, file, reason: "Write" })
    const checked = Json.encode(cassette)
    if (Either.isLeft(checked)) return Effect.fail(failed(checked.left.message))
    return Effect.try({
      try: () => {
        fs.mkdirSync(path.dirname(file), { recursive: true })
        const tmp = `${file}.tmp`
        fs.writeFileSync(tmp, JSON.stringify(cassette, null, 2) + "\n")
        fs.renameSync(tmp, file)
      },
      catch: (e) => failed(describeCause(e))
    })
  })

/** Calls that are not exchanges with the model, and are never recorded. */
const notRecorded = (error: ModelError): boolean => error._tag === "BudgetExceeded" || error._tag === "InvalidRequest"

/**
 * Wraps `model`: calls go to it, and every exchange is written to the cassette at `file`
 * (entries already in the file are kept). The inner model's telemetry and accounting apply as
 * usual (the wrapper adds none of its own).
 *
 * @example
 * ```ts
 * import { AnthropicModel, RecordedModel } from "@braid/llm"
 *
 * const Recording = RecordedModel.record("test/cassettes/coach.json", AnthropicModel.layer())
 * ```
 *
 * @since 0.1.0
 */
export const record = <E, R>(
  file: string,
  model: Layer.Layer<LanguageModel, E, R>
): Layer.Layer<LanguageModel, E | CassetteError, R> =>
  Layer.effect(
    LanguageModel,
    Effect.gen(function*() {
      const inner = yield* LanguageModel
      const existing = yield* load(file)
      const state = yield* Ref.make<Cassette>({
        version: 1,
        provider: inner.provider,
        defaultModel: inner.defaultModel,
        entries: existing?.cassette.entries ?? []
      })
      const append = (entry: Entry) =>
        Ref.updateAndGet(state, (c) => ({ ...c, entries: [...c.entries, entry] })).pipe(
          Effect.flatMap((c) => save(file, c))
        )
      const base = (kind: Entry["kind"], request: Request) => ({
        fingerprint: fingerprint(kind, request, inner.defaultModel),
        kind,
        request: canonical(request, inner.defaultModel)
      })
      const service: Service = {
        provider: inner.provider,
        defaultModel: inner.defaultModel,
        generate: (request) =>
          inner.generate(request).pipe(
            Effect.tap((response) => append({ ...base("generate", request), response })),
            Effect.tapError((error) =>
              notRecorded(error) ? Effect.void : append({ ...base("generate", request), error: encodeError(error) })
            )
          ),
        stream: (request) =>
          Stream.suspend(() => {
            const events: Array<StreamEvent> = []
            const recorded = inner.stream(request).pipe(
              Stream.tap((e) => Effect.sync(() => events.push(e))),
              Stream.tapError((error) =>
                notRecorded(error)
                  ? Effect.void
                  : append({ ...base("stream", request), events: [...events], error: encodeError(error) })
              )
            )
            // recorded once the stream has run to its end
            return Stream.concat(
              recorded,
              Stream.execute(Effect.suspend(() => append({ ...base("stream", request), events: [...events] })))
            )
          })
      }
      return service
    })
  ).pipe(Layer.provide(model))

interface Replayed {
  readonly entry: Entry
  readonly error: ModelError | undefined
}

const describeRequest = (request: Request): string => {
  const sys = systemText(request.system)
  const last = lastUserText(request)
  return `${request.model ?? "(default model)"}; ${request.messages.length} message(s); last user: ${
    JSON.stringify(last.slice(0, 60))
  }${sys ? `; system: ${JSON.stringify(sys.slice(0, 40))}` : ""}`
}

/**
 * A model answering only from the cassette at `file` (an absent file is an empty cassette). A
 * file that is not a valid cassette fails the layer with `CassetteError` naming it.
 *
 * @example
 * ```ts
 * import { RecordedModel } from "@braid/llm"
 *
 * const Replaying = RecordedModel.replay("test/cassettes/coach.json")
 * ```
 *
 * @since 0.1.0
 */
export const replay = (file: string): Layer.Layer<LanguageModel, CassetteError> =>
  Layer.effect(
    LanguageModel,
    Effect.gen(function*() {
      const loaded = yield* load(file)
      const cassette: Cassette = loaded?.cassette ??
        { version: 1, provider: "braid.recorded", defaultModel: "recorded", entries: [] }
      const errors = loaded?.errors ?? new Map<number, ModelError>()
      const byFingerprint = new Map<string, Array<Replayed>>()
      cassette.entries.forEach((entry, i) => {
        const list = byFingerprint.get(entry.fingerprint) ?? []
        list.push({ entry, error: errors.get(i) })
        byFingerprint.set(entry.fingerprint, list)
      })
      const seen = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
      const next = (kind: Entry["kind"], request: Request): Effect.Effect<Replayed, CassetteMiss> =>
        Effect.gen(function*() {
          const fp = fingerprint(kind, request, cassette.defaultModel)
          const list = byFingerprint.get(fp)
          if (list === undefined || list.length === 0) {
            return yield* Effect.fail(
              new CassetteMiss({
                message: `the cassette ${path.basename(file)} has no ${kind} entry for ${
                  describeRequest(request)
                } (fingerprint ${fp})`,
                fingerprint: fp,
                request: describeRequest(request)
              })
            )
          }
          const n = yield* Ref.modify(seen, (m) => [m.get(fp) ?? 0, new Map(m).set(fp, (m.get(fp) ?? 0) + 1)] as const)
          return list[Math.min(n, list.length - 1)]!
        })
      return makeModel({
        provider: cassette.provider,
        defaultModel: cassette.defaultModel,
        generate: (request) =>
          Effect.flatMap(next("generate", request), ({ entry, error }) =>
            error !== undefined
              ? Effect.fail(error)
              : entry.response !== undefined
              ? Effect.succeed(entry.response)
              : Effect.fail(
                new CassetteError({
                  message: `the cassette ${file} holds no response for this call`,
                  file,
                  reason: "Decode"
                })
              )),
        stream: (request) =>
          Stream.unwrap(Effect.map(next("stream", request), ({ entry, error }) => {
            const events = Stream.fromIterable(entry.events ?? [])
            return error !== undefined ? Stream.concat(events, Stream.fail(error)) : events
          }))
      })
    })
  )
