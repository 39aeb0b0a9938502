/**
 * Durable model calls: a provider of the model port (`@effect/ai`'s `LanguageModel`, through
 * `@braid/llm`'s `Ai.Provider`) whose calls are journaled steps of the current durable run, so
 * workflows do not change: `generateText`, `generateObject` (a `generateText` with a JSON
 * response format underneath) and `streamText` (the live call passes each part to the consumer as
 * it arrives while collecting the parts for the journal; a replay streams the journaled parts; no
 * part is delivered twice).
 *
 * - Key: `PATH/model#N` (the calling primitive's path); the request hash covers the prompt, the
 *   offered tools, the tool choice and the response format: a replay that sends another prompt
 *   fails with `NonDeterminism`.
 * - A failed call is journaled as its Braid `ModelError` and replayed as the same error (so a
 *   retry policy around it decides the same way); the retry's next call is a new step.
 * - A replayed call is not new spend: its finish part reports zero usage and carries
 *   `metadata.braid.replayed: true`, so `Metered` above it accounts nothing for it. A call in
 *   flight when the process died runs again (at least once): that is real spend.
 * - Outside a durable run the provider is the inner one, unchanged.
 *
 * Compose it under `Metered` (`Metered.fromProvider(DurableModel.provider(...))`) so budgets and
 * accounting see what the workflow sees.
 *
 * @since 0.3.0
 */
import { Ai, AiErrors, Errors as LlmErrors } from "@braid/llm"
import type { ProviderOptions } from "@effect/ai/LanguageModel"
import { LanguageModel } from "@effect/ai/LanguageModel"
import * as Prompt from "@effect/ai/Prompt"
import { Effect, Exit, Fiber, Layer, Queue, Schema, Stream, Take } from "effect"
import * as Durable from "./Durable.js"

/**
 * What the journal holds for a model call: the provider's encoded response parts (JSON), which
 * `@effect/ai` decodes the same way on every replay.
 *
 * @category models
 * @since 0.3.0
 */
export const Parts = Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown }))

type Part = typeof Parts.Type[number]

const request = (method: string, options: ProviderOptions) => ({
  method,
  prompt: Schema.encodeSync(Prompt.Prompt)(options.prompt),
  tools: options.tools.map((t) => t.name),
  toolChoice: options.toolChoice,
  responseFormat: options.responseFormat.type === "json"
    ? { type: "json", objectName: options.responseFormat.objectName }
    : { type: "text" }
})

/** A replayed response: zero usage (no new spend), marked replayed. */
const replayed = (parts: ReadonlyArray<Part>): ReadonlyArray<Part> =>
  parts.map((part) => {
    if (part["type"] !== "finish" && part["type"] !== "response-metadata") return part
    if (part["type"] === "response-metadata") return part
    const metadata = (part["metadata"] ?? {}) as Record<string, Record<string, unknown> | undefined>
    return {
      ...part,
      usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, cachedInputTokens: 0 },
      metadata: { ...metadata, braid: { ...metadata["braid"], replayed: true } }
    }
  })

const journaled = <E, R>(
  method: "generateText" | "streamText",
  options: ProviderOptions,
  call: Effect.Effect<ReadonlyArray<Part>, E, R>
) =>
  Durable.step(
    "model",
    Effect.mapError(call, (e): LlmErrors.ModelError => AiErrors.toModelError(e)),
    { success: Parts, error: LlmErrors.ModelError },
    { request: request(method, options), onReplay: replayed }
  ).pipe(
    Effect.catchAll((e) =>
      Effect.fail(
        e._tag === "NonDeterminism" || e._tag === "IncompatibleVersion" || e._tag === "InvalidInput"
          // a journal error is not a model error: it ends the run, it is not retried as one
          ? AiErrors.fromModelError(
            new LlmErrors.InvalidRequest({ message: e.message, field: "journal" }),
            { module: "DurableModel", method }
          )
          : AiErrors.fromModelError(e, { module: "DurableModel", method })
      )
    )
  )

/**
 * The durable version of `inner`: every call is a journaled step of the current durable run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Metered, ScriptedLanguageModel } from "@braid/llm"
 * import { DurableModel } from "@braid/durable"
 *
 * const Model = Metered.fromProvider(Effect.map(ScriptedLanguageModel.provider(), DurableModel.provider))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const provider = (inner: Ai.Provider): Ai.Provider => ({
  ...inner,
  generateText: (options) =>
    Effect.map(
      journaled(
        "generateText",
        options,
        inner.generateText(options) as unknown as Effect.Effect<ReadonlyArray<Part>, unknown, never>
      ),
      (parts) => [...parts] as any
    ),
  streamText: (options) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const out = yield* Queue.unbounded<Take.Take<any, Ai.AiError.AiError>>()
      // Parts handed to the consumer so far: a step attempt that runs again (the engine retries
      // an activity that was cut short) does not deliver them twice.
      let delivered = 0
      // The live call: each part goes to the consumer as it arrives and is collected for the journal.
      const live = Effect.suspend(() => {
        const collected: Array<Part> = []
        return Effect.as(
          Stream.runForEach(inner.streamText(options), (part) => {
            collected.push(part as unknown as Part)
            if (collected.length <= delivered) return Effect.void
            delivered++
            return Queue.offer(out, Take.of(part))
          }),
          collected as ReadonlyArray<Part>
        )
      })
      // A replay (the step's value read from the journal) streams the journaled parts.
      const producer = Effect.matchCauseEffect(journaled("streamText", options, live), {
        onSuccess: (parts) =>
          Effect.zipRight(
            Queue.offerAll(out, parts.slice(delivered).map((part) => Take.of(part as any))),
            Queue.offer(out, Take.end)
          ),
        onFailure: (cause) => Queue.offer(out, Take.failCause(cause))
      })
      const fiber = yield* Effect.forkScoped(producer)
      // A consumer that stops early does not cut the call short: the step completes and is
      // journaled (as when the stream was collected first). An interrupted run interrupts it.
      yield* Effect.addFinalizer((exit) => Exit.isInterrupted(exit) ? Fiber.interrupt(fiber) : Fiber.await(fiber))
      return Stream.flattenTake(Stream.fromQueue(out))
    }))
})

/**
 * A `LanguageModel` layer whose calls are journaled: the inner provider wrapped by `provider`.
 * Workflows that ask for `LanguageModel` get durable model calls without a change.
 *
 * @example
 * ```ts
 * import { ScriptedLanguageModel } from "@braid/llm"
 * import { DurableModel } from "@braid/durable"
 *
 * const Model = DurableModel.layer(ScriptedLanguageModel.provider({ default: "ok" }))
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layer = <E, R>(inner: Effect.Effect<Ai.Provider, E, R>): Layer.Layer<LanguageModel, E, R> =>
  Layer.effect(LanguageModel, Effect.flatMap(inner, (p) => Ai.fromProvider(provider(p))))
