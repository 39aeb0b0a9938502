/** A programmable test model that records every request. */
import { LanguageModel } from "@braid/llm"
import { Effect, Layer, Stream } from "effect"

export interface Answer {
  readonly text?: string
  readonly toolCalls?: ReadonlyArray<LanguageModel.ToolCall>
  readonly delay?: number
}

export const usage = (i: number, o: number): LanguageModel.Usage => ({
  inputTokens: i,
  outputTokens: o,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  estimated: false
})

/** `answer` decides each reply from the request; every request is pushed to `requests`. */
export const testModel = (answer: (request: LanguageModel.Request, call: number) => Answer) => {
  const requests: Array<LanguageModel.Request> = []
  const layer = LanguageModel.layer({
    provider: "test",
    defaultModel: "test-model",
    generate: (request) =>
      Effect.suspend(() => {
        requests.push(request)
        const a = answer(request, requests.length)
        const response: LanguageModel.Response = {
          text: a.text ?? "",
          stopReason: a.toolCalls !== undefined ? "tool_use" : "end_turn",
          model: request.model ?? "test-model",
          usage: usage(10, 5),
          ...(a.toolCalls !== undefined ? { toolCalls: a.toolCalls } : {})
        }
        return a.delay === undefined ? Effect.succeed(response) : Effect.as(Effect.sleep(a.delay), response)
      }),
    stream: () => Stream.empty
  })
  return { requests, layer: layer as Layer.Layer<LanguageModel.LanguageModel> }
}

export const systemOf = (r: LanguageModel.Request) => LanguageModel.systemText(r.system)
