/** A programmable test model (a provider of the new port, metered) that records every request. */
import { Ai, Metered } from "@braid/llm"
import { Effect, Layer, Stream } from "effect"

export interface Answer {
  readonly text?: string
  readonly toolCalls?: ReadonlyArray<{ readonly id: string; readonly name: string; readonly params: unknown }>
  readonly delay?: number
}

/** What the provider was asked: the prompt, the tools offered, the settings in scope. */
export interface Request {
  readonly prompt: Ai.Prompt.Prompt
  readonly tools: ReadonlyArray<string>
  readonly settings: Ai.SettingsShape
  /** `settings.agent`, as `{ agent }`. */
  readonly metadata: { readonly agent?: string | undefined }
  /** The non-system messages as text (tool parts left out): what most assertions read. */
  readonly messages: ReadonlyArray<{ readonly role: string; readonly content: string }>
}

const textOf = (m: Ai.Prompt.Message): string =>
  m.role === "system" ? m.content : m.content.map((p: any) => (p.type === "text" ? p.text : "")).join("")

/** `answer` decides each reply from the request; every request is pushed to `requests`. */
export const testModel = (answer: (request: Request, call: number) => Answer) => {
  const requests: Array<Request> = []
  const provider: Ai.Provider = {
    name: "test",
    defaultModel: "test-model",
    generateText: (options) =>
      Effect.gen(function*() {
        const settings = yield* Ai.Settings
        const request: Request = {
          prompt: options.prompt,
          tools: options.tools.map((t) => t.name),
          settings,
          metadata: { agent: settings.agent },
          messages: options.prompt.content.filter((m) => m.role !== "system").map((m) => ({
            role: m.role,
            content: textOf(m)
          }))
        }
        requests.push(request)
        const a = answer(request, requests.length)
        if (a.delay !== undefined) yield* Effect.sleep(a.delay)
        const parts: Array<Ai.Response.PartEncoded> = [
          { type: "response-metadata", modelId: settings.model ?? "test-model" }
        ]
        if (a.text !== undefined && a.text !== "") parts.push({ type: "text", text: a.text })
        for (const c of a.toolCalls ?? []) parts.push({ type: "tool-call", ...c })
        parts.push({
          type: "finish",
          reason: a.toolCalls !== undefined ? "tool-calls" : "stop",
          usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 }
        })
        return parts
      }),
    streamText: () => Stream.empty
  }
  const layer = Metered.layer(Layer.effect(Ai.LanguageModel.LanguageModel, Ai.fromProvider(provider)), {
    provider: "test",
    defaultModel: "test-model"
  })
  return { requests, layer }
}

export const systemOf = (r: Request) => Ai.systemText(r.prompt)

/** The non-system messages of a request, in their encoded form (roles and parts). */
export const messagesOf = (r: Request) =>
  r.prompt.content.flatMap((m) => {
    if (m.role === "system") return []
    return [{
      role: m.role,
      content: m.content.map((p: any) => {
        switch (p.type) {
          case "text":
            return { type: "text", text: p.text }
          case "tool-call":
            return { type: "tool-call", id: p.id, name: p.name, params: p.params }
          case "tool-result":
            return { type: "tool-result", id: p.id, name: p.name, result: p.result, isFailure: p.isFailure }
          default:
            return { type: p.type }
        }
      })
    }]
  })

/** The text of the last message of a request. */
export const lastText = (r: Request): string => {
  const m = r.prompt.content[r.prompt.content.length - 1]!
  if (m.role === "system") return m.content
  return m.content.map((
    p: any
  ) => (p.type === "text" ? p.text : p.type === "tool-result" ? JSON.stringify(p.result) : ""))
    .join("")
}
