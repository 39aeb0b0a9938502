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

const info = (provider: string, model: string, request: Request): GenAI.RequestInfo => ({
  provider,
  model: request.model ?? model,
  maxTokens: request.maxTokens ?? 1024,
  ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
  ...(request.stopSequences !== undefined ? { stopSequences: request.stopSequences } : {}),
  ...(request.metadata?.agent !== undefined ? { agent: request.metadata.agent } : {})
})

const describe = (r: Response): GenAI.ResponseInfo => ({
  model: r.model,
  inputTokens: r.usage.inputTokens,
  outputTokens: r.usage.outputTokens,
  cacheReadTokens: r.usage.cacheReadTokens,
  cacheWriteTokens: r.usage.cacheWriteTokens,
  finishReasons: [r.stopReason],
  estimated: r.usage.estimated
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
