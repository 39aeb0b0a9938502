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
 * @since 0.1.0
 */
import { Effect, Layer, Ref, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { CassetteMiss, ModelError } from "./Errors.js"
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
  system: request.system === undefined ? null : typeof request.system === "string" ? { text: request.system } : request.system,
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
const decodeError = Schema.decodeUnknownSync(ModelError)

const load = (file: string): Cassette | undefined =>
  fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Cassette) : undefined

const save = (file: string, cassette: Cassette): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.tmp`
  fs.writeFileSync(tmp, JSON.stringify(cassette, null, 2) + "\n")
  fs.renameSync(tmp, file)
}

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
export const record = <E, R>(file: string, model: Layer.Layer<LanguageModel, E, R>): Layer.Layer<LanguageModel, E, R> =>
  Layer.effect(
    LanguageModel,
    Effect.gen(function*() {
      const inner = yield* LanguageModel
      const existing = load(file)
      const state = yield* Ref.make<Cassette>({
        version: 1,
        provider: inner.provider,
        defaultModel: inner.defaultModel,
        entries: existing?.entries ?? []
      })
      const append = (entry: Entry) =>
        Ref.updateAndGet(state, (c) => ({ ...c, entries: [...c.entries, entry] })).pipe(
          Effect.flatMap((c) => Effect.sync(() => save(file, c)))
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
              error._tag === "BudgetExceeded" ? Effect.void : append({ ...base("generate", request), error: encodeError(error) })
            )
          ),
        stream: (request) =>
          Stream.unwrap(Effect.gen(function*() {
            const events: Array<StreamEvent> = []
            return inner.stream(request).pipe(
              Stream.tap((e) => Effect.sync(() => events.push(e))),
              Stream.tapError((error) =>
                error._tag === "BudgetExceeded"
                  ? Effect.void
                  : append({ ...base("stream", request), events: [...events], error: encodeError(error) })
              ),
              Stream.ensuringWith((exit) =>
                exit._tag === "Success" ? append({ ...base("stream", request), events: [...events] }) : Effect.void
              )
            )
          }))
      }
      return service
    })
  ).pipe(Layer.provide(model))

const describeRequest = (request: Request): string => {
  const sys = systemText(request.system)
  const last = lastUserText(request)
  return `${request.model ?? "(default model)"}; ${request.messages.length} message(s); last user: ${JSON.stringify(last.slice(0, 60))}${
    sys ? `; system: ${JSON.stringify(sys.slice(0, 40))}` : ""
  }`
}

/**
 * A model answering only from the cassette at `file` (an absent file is an empty cassette).
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
export const replay = (file: string): Layer.Layer<LanguageModel> =>
  Layer.effect(
    LanguageModel,
    Effect.gen(function*() {
      const cassette: Cassette = load(file) ?? { version: 1, provider: "braid.recorded", defaultModel: "recorded", entries: [] }
      const byFingerprint = new Map<string, Array<Entry>>()
      for (const e of cassette.entries) {
        const list = byFingerprint.get(e.fingerprint) ?? []
        list.push(e)
        byFingerprint.set(e.fingerprint, list)
      }
      const seen = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
      const next = (kind: Entry["kind"], request: Request): Effect.Effect<Entry, CassetteMiss> =>
        Effect.gen(function*() {
          const fp = fingerprint(kind, request, cassette.defaultModel)
          const list = byFingerprint.get(fp)
          if (list === undefined || list.length === 0) {
            return yield* Effect.fail(
              new CassetteMiss({
                message: `the cassette ${path.basename(file)} has no ${kind} entry for ${describeRequest(request)} (fingerprint ${fp})`,
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
          Effect.flatMap(next("generate", request), (entry) =>
            entry.error !== undefined
              ? Effect.fail(decodeError(entry.error))
              : Effect.succeed(entry.response!)),
        stream: (request) =>
          Stream.unwrap(Effect.map(next("stream", request), (entry) => {
            const events = Stream.fromIterable(entry.events ?? [])
            return entry.error !== undefined ? Stream.concat(events, Stream.fail(decodeError(entry.error))) : events
          }))
      })
    })
  )
