/**
 * The one place every model call goes through (applied by `LanguageModel.make`): budgets, the
 * GenAI span and metrics, and accounting.
 *
 * @internal
 */
import { GenAI } from "@braid/observability"
import { Effect, Option, Stream } from "effect"
import { Accounting } from "../Accounting.js"
import type { ModelError } from "../Errors.js"
import type { Request, Response, StreamEvent } from "../LanguageModel.js"
import { version } from "./version.js"

const scope = { name: "@braid/llm", version } as const

const info = (provider: string, model: string, request: Request): GenAI.RequestInfo => ({
  provider,
  scope,
  model: request.model ?? model,
  maxTokens: request.maxTokens ?? 1024,
  ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
  ...(request.stopSequences !== undefined ? { stopSequences: request.stopSequences } : {}),
  ...(request.metadata?.agent !== undefined ? { agent: request.metadata.agent } : {})
})

/**
 * The response as the span reports it: `gen_ai.usage.input_tokens` counts cache reads and writes
 * too (the conventions' definition; `Usage.inputTokens` excludes them), and the cache counts
 * appear only when the provider reported them.
 */
const describe = (r: Response): GenAI.ResponseInfo => ({
  model: r.model,
  inputTokens: r.usage.inputTokens + (r.usage.cacheReadTokens ?? 0) + (r.usage.cacheWriteTokens ?? 0),
  outputTokens: r.usage.outputTokens,
  ...(r.usage.cacheReadTokens !== undefined ? { cacheReadTokens: r.usage.cacheReadTokens } : {}),
  ...(r.usage.cacheWriteTokens !== undefined ? { cacheWriteTokens: r.usage.cacheWriteTokens } : {}),
  finishReasons: [r.stopReason],
  ...(r.usage.estimated !== undefined ? { estimated: r.usage.estimated } : {})
})

export const instrumentGenerate = (
  provider: string,
  model: string,
  request: Request,
  call: (request: Request) => Effect.Effect<Response, ModelError>
): Effect.Effect<Response, ModelError> =>
  Effect.flatMap(Effect.serviceOption(Accounting), (accounting) =>
    Option.isNone(accounting)
      ? GenAI.chat(info(provider, model, request), call(request), describe)
      : Effect.flatMap(accounting.value.prepare(request), (req) =>
        GenAI.chat(
          info(provider, model, req),
          Effect.tap(call(req), (response) => accounting.value.record(req, response)),
          describe
        )))

export const instrumentStream = (
  provider: string,
  model: string,
  request: Request,
  call: (request: Request) => Stream.Stream<StreamEvent, ModelError>
): Stream.Stream<StreamEvent, ModelError> =>
  Stream.unwrap(Effect.flatMap(Effect.serviceOption(Accounting), (accounting) => {
    const finish = (e: StreamEvent) => (e._tag === "Finish" ? describe(e.response) : undefined)
    if (Option.isNone(accounting)) {
      return Effect.succeed(GenAI.chatStream(info(provider, model, request), call(request), finish))
    }
    return Effect.map(accounting.value.prepare(request), (req) =>
      GenAI.chatStream(
        info(provider, model, req),
        Stream.tap(call(req), (e) => (e._tag === "Finish" ? accounting.value.record(req, e.response) : Effect.void)),
        finish
      ))
  }))
