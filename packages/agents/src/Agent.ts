/**
 * `Agent`: a named primitive (kind "agent") from a conversation to a reply. An agent has
 * instructions (static, or computed from the conversation's context, e.g. a client profile), the
 * `@effect/ai` `LanguageModel` it calls (every call runs with `Ai.Settings.agent` set to the
 * agent's name, so `Metered` attributes usage and cost to it), an optional `Toolkit` whose tools
 * it runs in a bounded tool loop, handoffs it may offer the model as tools, and whatever
 * resilience policies you pipe it through:
 *
 * ```ts
 * import { Retry } from "@braid/resilience"
 * import { Agent } from "@braid/agents"
 *
 * const coach = Agent.make({ name: "coach", instructions: "You coach." }).pipe(Retry.policy({ maxAttempts: 3 }))
 * ```
 *
 * The tool loop sends native tool calls and tool results to the model (the conversation keeps
 * them too: `Message.toolCalls`, tool messages with their `result`). Each tool call runs in its
 * own `execute_tool {tool}` span under a per-tool timeout and retry (`ToolPolicy`, with
 * `@braid/resilience`'s `Timeout` and `Retry`); the loop makes at most `maxToolIterations` model
 * calls.
 *
 * Memory written while an agent runs records the agent as its writer; entries recalled for the
 * agent (`Memory.recall`) are added to its system prompt.
 *
 * @since 0.1.0
 */
import { Attributes, DecodeError, Instrumentation, Journal, Json, Primitive } from "@braid/core"
import type { Errors as LlmErrors } from "@braid/llm"
import { Ai, AiErrors, Metered } from "@braid/llm"
import { currentAgent, recalledRef } from "@braid/memory/Memory"
import { GenAI } from "@braid/observability"
import { Retry, Timeout } from "@braid/resilience"
import type { Duration } from "effect"
import { Effect, Either, FiberRef, JSONSchema, Option, ParseResult, Schema } from "effect"
import { dual } from "effect/Function"
import { StructuredOutputInvalid, ToolError, ToolIterationsExceeded } from "./Errors.js"

/**
 * A tool call of an assistant message: the call's id, the tool's name and its parameters (the
 * encoded form the model sent, JSON).
 *
 * @example
 * ```ts
 * import type { Agent } from "@braid/agents"
 *
 * const call: Agent.ToolCall = { id: "call_1", name: "weather", params: { city: "Oslo" } }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface ToolCall {
  readonly id: string
  readonly name: string
  readonly params: unknown
}

/**
 * A message of a conversation, in a lossless form: besides user and assistant turns, a
 * conversation may carry system notes (e.g. a handoff summary) and tool traffic (an assistant
 * message's `toolCalls`, and a tool message per call with its `result`); `name` is the agent or
 * tool that produced the message.
 *
 * @example
 * ```ts
 * import type { Agent } from "@braid/agents"
 *
 * const note: Agent.Message = { role: "assistant", name: "triage", content: "Sending you to billing." }
 * const result: Agent.Message = { role: "tool", name: "weather", toolCallId: "call_1", content: "{\"sky\":\"clear\"}", result: { sky: "clear" } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Message {
  readonly role: "system" | "user" | "assistant" | "tool"
  /** The text (for a tool message, the result as text: a string result as it is, else its JSON). */
  readonly content: string
  readonly name?: string
  /** On an assistant message: the tools it called. */
  readonly toolCalls?: ReadonlyArray<ToolCall>
  /** On a tool message: the call it answers. */
  readonly toolCallId?: string
  /** On a tool message: the result as sent to the model (the encoded form, JSON). Default: `content`. */
  readonly result?: unknown
  /** On a tool message: the result is the tool's failure (a tool with `failureMode: "return"`). */
  readonly isFailure?: boolean
}

/**
 * A tool message (the answer to one tool call), as a Schema: what a durable run journals for a
 * tool call, the result in its encoded form (JSON).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Agent } from "@braid/agents"
 *
 * const message = Schema.decodeUnknownSync(Agent.ToolMessage)({ role: "tool", name: "weather", toolCallId: "call_1", content: "clear" })
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const ToolMessage: Schema.Schema<Message, {
  readonly role: "tool"
  readonly content: string
  readonly name?: string
  readonly toolCallId?: string
  readonly result?: unknown
  readonly isFailure?: boolean
}> = Schema.Struct({
  role: Schema.Literal("tool"),
  content: Schema.String,
  name: Schema.optional(Schema.String),
  toolCallId: Schema.optional(Schema.String),
  result: Schema.optional(Schema.Unknown),
  isFailure: Schema.optional(Schema.Boolean)
}) as any

/** A tool's own error (`ToolError.error`) in a form a journal can hold: its JSON copy, else its text. */
const jsonCopy = (u: unknown): unknown =>
  Either.match(Either.flatMap(Json.encode(u), (text) => Json.parse(text)), {
    onLeft: () => String(u),
    onRight: (copy) => copy
  })

/** A `ToolError` as a journal holds it: the tool's own error as its JSON copy. */
const JournaledToolError: Schema.Schema<ToolError, any> = Schema.transform(
  Schema.Struct({
    agent: Schema.String,
    tool: Schema.String,
    callId: Schema.optional(Schema.String),
    message: Schema.String,
    error: Schema.optional(Schema.Unknown)
  }),
  Schema.instanceOf(ToolError),
  {
    strict: true,
    decode: (fields) => new ToolError(fields),
    encode: (e) => ({
      agent: e.agent,
      tool: e.tool,
      message: e.message,
      ...(e.callId !== undefined ? { callId: e.callId } : {}),
      ...(e.error !== undefined ? { error: jsonCopy(e.error) } : {})
    })
  }
)

const journaledToolCall = { success: ToolMessage, error: JournaledToolError }

/**
 * The input of an agent: the messages so far and free-form context (a profile, a payload from a
 * handoff, ...).
 *
 * @example
 * ```ts
 * import type { Agent } from "@braid/agents"
 *
 * const c: Agent.Conversation = { messages: [{ role: "user", content: "Hi" }], context: { profile: { name: "Ada" } } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Conversation {
  readonly messages: ReadonlyArray<Message>
  readonly context?: Readonly<Record<string, unknown>>
}

/**
 * Tokens of the model calls of a turn (as `Metered` measured them when the model is metered,
 * else as the provider reported them).
 *
 * @example
 * ```ts
 * import type { Agent } from "@braid/agents"
 *
 * const total = (u: Agent.Usage) => u.inputTokens + u.outputTokens
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
  /** `true` when any of the calls' usage was estimated. */
  readonly estimated: boolean
}

/**
 * The output of an agent.
 *
 * @example
 * ```ts
 * import type { Agent } from "@braid/agents"
 *
 * const summary = (r: Agent.Reply) => `${r.agent} (${r.usage.outputTokens} tokens, $${r.costUsd.toFixed(4)}): ${r.text}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Reply {
  /** The final text. */
  readonly text: string
  /** The agent that replied. */
  readonly agent: string
  /** The model that answered the last call. */
  readonly model: string
  /** Tokens of every model call of this turn (the tool loop included). */
  readonly usage: Usage
  /**
   * The dollar cost of those calls, as `Metered` priced them (`Metered.costOf` of each response):
   * 0 when the model in context is not metered.
   */
  readonly costUsd: number
  /** How many model calls this turn took. */
  readonly calls: number
  /** Why the last model call stopped. */
  readonly finishReason: Ai.Response.FinishReason
  /** The messages this turn added: tool calls, tool results and the final assistant message. */
  readonly messages: ReadonlyArray<Message>
}

/**
 * The policies each tool call runs under: a timeout per attempt and a retry (of errors marked
 * `transient`, by default; `false` for none). Defaults: `timeout` 30 seconds, `retry`
 * `{ maxAttempts: 3 }`.
 *
 * @example
 * ```ts
 * import type { Agent } from "@braid/agents"
 *
 * const patient: Agent.ToolPolicy = { timeout: "2 minutes", retry: { maxAttempts: 5, baseDelay: "1 second" } }
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export interface ToolPolicy {
  readonly timeout?: Duration.DurationInput
  readonly retry?: Retry.Options<unknown> | false
}

/**
 * A handoff offered to the model as a tool (build one with `Handoff.tool`): when the model calls
 * it, the agent's turn ends and `transfer` runs the target with the conversation so far.
 *
 * @example
 * ```ts
 * import { Agent, Handoff } from "@braid/agents"
 *
 * const billing = Agent.make({ name: "billing", instructions: "Billing." })
 * const offered: Agent.HandoffTool<unknown, unknown> = Handoff.tool(billing, { description: "Invoices" })
 * offered.tool.name // "transfer_to_billing"
 * ```
 *
 * @category constructors
 * @since 0.2.0
 */
export interface HandoffTool<out E = never, out R = never> {
  readonly _tag: "HandoffTool"
  /** The name of the agent control moves to. */
  readonly target: string
  /** The tool the model sees (its parameters are the handoff's payload). */
  readonly tool: Ai.Tool.Any
  /** Runs the target: `added` are the messages of the caller's turn (the tool call included). */
  readonly transfer: (args: {
    readonly from: string
    readonly conversation: Conversation
    readonly added: ReadonlyArray<Message>
    readonly params: unknown
  }) => Effect.Effect<Reply, E, R>
}

/**
 * Instructions: a fixed system prompt, or one computed from the conversation (its context).
 *
 * @category models
 * @since 0.1.0
 */
export type Instructions<E, R> = string | ((conversation: Conversation) => string | Effect.Effect<string, E, R>)

/**
 * Options of `make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<
  E = never,
  R = never,
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no tools: @effect/ai's empty toolkit type
  Tools extends Record<string, Ai.Tool.Any> = {},
  H extends HandoffTool<any, any> = never
> {
  readonly name: string
  readonly description?: string
  readonly instructions: Instructions<E, R>
  /** The model (`Ai.Settings.model`; default: the adapter's). */
  readonly model?: string
  readonly maxTokens?: number
  readonly temperature?: number
  /** The tools the model may call; their handlers come from the context (`toolkit.toLayer(...)`). */
  readonly toolkit?: Ai.Toolkit.Toolkit<Tools>
  /** Handoffs offered to the model as tools (`Handoff.tool`). */
  readonly handoffs?: ReadonlyArray<H>
  /** The policies of every tool call (see `ToolPolicy` for the defaults). */
  readonly toolPolicy?: ToolPolicy
  /** Per-tool policies, over `toolPolicy`. */
  readonly toolPolicies?: { readonly [K in keyof Tools]?: ToolPolicy }
  /** The most model calls one turn may make while tools are being called. Default 8. */
  readonly maxToolIterations?: number
}

/**
 * The errors an agent adds to those of its instructions: the model's (read as Braid's
 * `ModelError`, see `AiErrors.toModelError`), a tool that failed, and the loop's bound.
 *
 * @example
 * ```ts
 * import type { Agent } from "@braid/agents"
 *
 * const describe = (e: Agent.AgentError) => (e._tag === "ToolError" ? `tool ${e.tool} failed` : e._tag)
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export type AgentError = LlmErrors.ModelError | ToolError | ToolIterationsExceeded

/**
 * An agent: a primitive from `Conversation` to `Reply`, with its static description.
 *
 * @category models
 * @since 0.1.0
 */
export interface Agent<E = never, R = never> extends
  Primitive.Primitive<
    Conversation,
    Reply,
    E | AgentError,
    R | Ai.LanguageModel.LanguageModel
  >
{
  readonly description: string | undefined
  /** The names of the tools offered to the model (handoffs included). */
  readonly tools: ReadonlyArray<string>
}

/**
 * Anything that behaves as an agent: an `Agent`, or an agent wrapped in policies.
 *
 * @category models
 * @since 0.1.0
 */
export type Any<E = any, R = any> = Primitive.Primitive<Conversation, Reply, E, R>

/**
 * The name of the agent inside a (possibly policy-wrapped) agent primitive; for a handoff, the
 * agent it starts with.
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 *
 * const coach = Agent.make({ name: "coach", instructions: "You coach." })
 * Agent.nameOf(coach) // "coach"
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const nameOf = (agent: Primitive.Any): string => {
  let p: Primitive.Any = agent
  // Through policies (one child) and handoffs (whose first child is the agent that runs first).
  while (p.kind !== "agent" && (p.children.length === 1 || (p.kind === "handoff" && p.children.length > 0))) {
    p = p.children[0]!.primitive
  }
  return p.kind === "agent" ? p.name : agent.name
}

const zeroUsage: Usage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  estimated: false
}

/**
 * The sum of two usages.
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 *
 * const u = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0, estimated: false }
 * Agent.addUsage(u, u).inputTokens // 20
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const addUsage = (a: Usage, b: Usage): Usage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  estimated: a.estimated || b.estimated
})

/**
 * The usage of one response: `Metered`'s measure when the model is metered, else the provider's.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ai } from "@braid/llm"
 * import { Agent } from "@braid/agents"
 *
 * const tokens = Effect.map(Ai.LanguageModel.generateText({ prompt: "hi" }), (r) => Agent.usageOf(r).outputTokens)
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const usageOf = (response: Ai.LanguageModel.GenerateTextResponse<any>): Usage => {
  const metered = Metered.usageOf(response)
  if (metered !== undefined) {
    return {
      inputTokens: metered.inputTokens,
      outputTokens: metered.outputTokens,
      cacheReadTokens: metered.cacheReadTokens,
      cacheWriteTokens: metered.cacheWriteTokens,
      estimated: metered.estimated
    }
  }
  const u = response.usage
  const cacheReadTokens = u.cachedInputTokens ?? 0
  return {
    inputTokens: Math.max(0, (u.inputTokens ?? 0) - cacheReadTokens),
    outputTokens: u.outputTokens ?? 0,
    cacheReadTokens,
    cacheWriteTokens: 0,
    estimated: u.inputTokens === undefined || u.outputTokens === undefined
  }
}

/** The model that answered a response. */
const modelOf = (response: Ai.LanguageModel.GenerateTextResponse<any>, requested: string | undefined): string => {
  const metered = Metered.usageOf(response)
  if (metered !== undefined) return metered.model
  for (const p of response.content) {
    if (p.type === "response-metadata" && Option.isSome(p.modelId)) return p.modelId.value
  }
  return requested ?? "unknown"
}

/** Text of a value for the model: strings as they are, anything else as JSON (`Json.encode`: never throws). */
const render = (u: unknown): string =>
  typeof u === "string" ? u : Either.getOrElse(Json.encode(u), (e) => `(a value without a JSON form: ${e.message})`)

type PromptMessage = Ai.Prompt.MessageEncoded

/**
 * Maps a conversation to the prompt agent `self` sends: system notes join the system prompt;
 * its own assistant turns carry their tool calls as native tool-call parts, answered by tool
 * messages with native tool-result parts; what other agents said is shown as `[name] text` on
 * the user side, since this agent did not say it (their tool traffic is not this agent's and is
 * left out: their answers carry what came of it). Consecutive user turns are merged, and the
 * prompt starts with a user turn and never ends on an assistant turn (it would be taken as a
 * prefill to continue).
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 *
 * const { messages, system } = Agent.toPrompt([Agent.user("hi"), Agent.system("Be brief.")], "coach")
 * // system: ["Be brief."], messages: [{ role: "user", content: "hi" }]
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const toPrompt = (
  messages: ReadonlyArray<Message>,
  self: string
): { readonly system: ReadonlyArray<string>; readonly messages: ReadonlyArray<PromptMessage> } => {
  const system: Array<string> = []
  const out: Array<PromptMessage> = []
  const ownCalls = new Set<string>()
  const pushUser = (content: string) => {
    if (content === "") return
    const last = out[out.length - 1]
    if (last !== undefined && last.role === "user" && typeof last.content === "string") {
      out[out.length - 1] = { role: "user", content: `${last.content}\n\n${content}` }
    } else out.push({ role: "user", content })
  }
  for (const m of messages) {
    switch (m.role) {
      case "system":
        system.push(m.content)
        break
      case "user":
        pushUser(m.content)
        break
      case "assistant": {
        if (m.name !== undefined && m.name !== self) {
          pushUser(m.content === "" ? "" : `[${m.name}] ${m.content}`)
          break
        }
        const parts: Array<Ai.Prompt.AssistantMessagePartEncoded> = []
        if (m.content !== "") parts.push({ type: "text", text: m.content })
        for (const c of m.toolCalls ?? []) {
          ownCalls.add(c.id)
          parts.push({ type: "tool-call", id: c.id, name: c.name, params: c.params, providerExecuted: false })
        }
        if (parts.length > 0) out.push({ role: "assistant", content: parts })
        break
      }
      case "tool": {
        if (m.toolCallId === undefined || !ownCalls.has(m.toolCallId)) break
        const part: Ai.Prompt.ToolResultPartEncoded = {
          type: "tool-result",
          id: m.toolCallId,
          name: m.name ?? "",
          result: "result" in m ? m.result : m.content,
          isFailure: m.isFailure === true,
          providerExecuted: false
        }
        const last = out[out.length - 1]
        if (last !== undefined && last.role === "tool") {
          out[out.length - 1] = { role: "tool", content: [...last.content, part] }
        } else out.push({ role: "tool", content: [part] })
        break
      }
    }
  }
  if (out.length === 0 || out[0]!.role !== "user") out.unshift({ role: "user", content: "(conversation so far)" })
  if (out[out.length - 1]!.role === "assistant") out.push({ role: "user", content: "(continue)" })
  return { system, messages: out }
}

/**
 * The errors of the handoffs offered as tools.
 *
 * @example
 * ```ts
 * import type { Agent, Errors } from "@braid/agents"
 *
 * type E = Agent.HandoffErrors<Agent.HandoffTool<Errors.HandoffPayloadError, never>> // HandoffPayloadError
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export type HandoffErrors<H> = H extends HandoffTool<infer E, any> ? E : never

/**
 * The requirements of the handoffs offered as tools.
 *
 * @example
 * ```ts
 * import type { WorkflowContext } from "@braid/core"
 * import type { Agent } from "@braid/agents"
 *
 * type R = Agent.HandoffContext<Agent.HandoffTool<never, WorkflowContext.WorkflowContext>> // WorkflowContext
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export type HandoffContext<H> = H extends HandoffTool<any, infer R> ? R : never

/**
 * What the tools of a toolkit require when the agent runs: their handlers
 * (`toolkit.toLayer(...)`) and their declared dependencies.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Ai } from "@braid/llm"
 * import type { Agent } from "@braid/agents"
 *
 * const Tools = Ai.Toolkit.make(Ai.Tool.make("clock", { success: Schema.String }))
 * type R = Agent.ToolContext<typeof Tools.tools> // the clock's handler
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type ToolContext<Tools extends Record<string, Ai.Tool.Any>> =
  | Ai.Tool.HandlersFor<Tools>
  | Ai.Tool.Requirements<Tools[keyof Tools]>

const defaultToolTimeout: Duration.DurationInput = "30 seconds"
const defaultToolRetry: Retry.Options<unknown> = { maxAttempts: 3 }

const describeError = (e: unknown): string => {
  if (e instanceof Error && e.message !== "") return e.message
  if (typeof e === "object" && e !== null && "_tag" in e) return String((e as { _tag: unknown })._tag)
  return render(e)
}

/**
 * Builds an agent.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Runner } from "@braid/core"
 * import { Ai, ScriptedLanguageModel } from "@braid/llm"
 * import { Agent } from "@braid/agents"
 *
 * const Weather = Ai.Tool.make("weather", {
 *   description: "Today's weather in a city",
 *   parameters: { city: Schema.String },
 *   success: Schema.String
 * })
 * const Tools = Ai.Toolkit.make(Weather)
 * const coach = Agent.make({ name: "coach", instructions: "You are a running coach. Be brief.", toolkit: Tools })
 * const reply = Runner.run(coach, { messages: [Agent.user("Can I run in Oslo today?")] }).pipe(
 *   Effect.provide(Tools.toLayer({ weather: ({ city }) => Effect.succeed(`Sunny in ${city}`) })),
 *   Effect.provide(ScriptedLanguageModel.layer({
 *     rules: [{ when: "Oslo", toolCalls: [{ name: "weather", params: { city: "Oslo" } }], reply: "Yes: {{results}}" }]
 *   }))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <
  E = never,
  R = never,
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no tools: @effect/ai's empty toolkit type
  Tools extends Record<string, Ai.Tool.Any> = {},
  H extends HandoffTool<any, any> = never
>(
  options: Options<E, R, Tools, H>
): Agent<E | HandoffErrors<H>, R | ToolContext<Tools> | HandoffContext<H>> => {
  const name = options.name
  const maxIterations = options.maxToolIterations ?? 8
  const toolkit = options.toolkit
  const handoffs: ReadonlyArray<HandoffTool<any, any>> = options.handoffs ?? []
  const handoffByTool = new Map(handoffs.map((h) => [h.tool.name, h]))
  const toolNames = [
    ...Object.values(toolkit?.tools ?? {}).map((t) => t.name),
    ...handoffs.map((h) => h.tool.name)
  ]
  const settings: Ai.SettingsShape = {
    agent: name,
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
    ...(options.temperature !== undefined ? { temperature: options.temperature } : {})
  }

  const instructions = (conversation: Conversation): Effect.Effect<string, E, R> => {
    if (typeof options.instructions === "string") return Effect.succeed(options.instructions)
    const out = options.instructions(conversation)
    return typeof out === "string" ? Effect.succeed(out) : out
  }

  const policyOf = (
    tool: string
  ): { readonly timeout: Duration.DurationInput; readonly retry: ToolPolicy["retry"] } => {
    const own = (options.toolPolicies as Record<string, ToolPolicy | undefined> | undefined)?.[tool]
    return {
      timeout: own?.timeout ?? options.toolPolicy?.timeout ?? defaultToolTimeout,
      retry: own?.retry ?? options.toolPolicy?.retry ?? defaultToolRetry
    }
  }

  /** Runs one tool call under its policies, in its own span; the tool message answering it. */
  const execute = (
    handler: Ai.Toolkit.WithHandler<Record<string, Ai.Tool.Any>>,
    call: ToolCall
  ): Effect.Effect<Message, ToolError, any> => {
    const policy = policyOf(call.name)
    const label = `execute_tool ${call.name}`
    const fail = (message: string, error?: unknown) =>
      new ToolError({
        agent: name,
        tool: call.name,
        callId: call.id,
        message,
        ...(error !== undefined ? { error } : {})
      })
    const attempt = Timeout.effect(handler.handle(call.name, call.params as never), policy.timeout, { name: label })
    const run = policy.retry === false ? attempt : Retry.effect(attempt, { ...policy.retry, name: label })
    const message = run.pipe(
      Effect.mapError((e) => fail(describeError(e), e)),
      // The result goes back to the model (and maybe to a journal): it must have a JSON form.
      Effect.flatMap(({ encodedResult, isFailure }) =>
        Json.encode(encodedResult).pipe(
          Either.mapLeft((e) => fail(`the result has no JSON form: ${e.message}`)),
          Either.map((json): Message => ({
            role: "tool",
            name: call.name,
            toolCallId: call.id,
            content: typeof encodedResult === "string" ? encodedResult : json,
            result: encodedResult,
            ...(isFailure ? { isFailure: true } : {})
          }))
        )
      )
    )
    // In a durable run the call is a journaled step: a replay returns the tool message the first
    // run got without running the tool again (a handoff is not a tool call: it is not journaled).
    return Journal.step(
      `tool:${call.name}`,
      GenAI.executeTool({ name: call.name, callId: call.id, type: "function", agent: name }, message),
      journaledToolCall,
      { request: { name: call.name, params: call.params } }
    )
  }

  const body = (conversation: Conversation) =>
    Effect.gen(function*() {
      const model = yield* Ai.LanguageModel.LanguageModel
      const prompt = yield* instructions(conversation)
      const memories = yield* FiberRef.get(recalledRef)
      const handler: Ai.Toolkit.WithHandler<Record<string, Ai.Tool.Any>> | undefined = toolkit === undefined
        ? undefined
        : yield* (toolkit as unknown as Effect.Effect<Ai.Toolkit.WithHandler<Record<string, Ai.Tool.Any>>>)
      const tools: Record<string, Ai.Tool.Any> = { ...handler?.tools }
      for (const h of handoffs) tools[h.tool.name] = h.tool
      const offered = Object.keys(tools).length === 0 ? undefined : {
        tools,
        handle: handler?.handle ?? (() => Effect.die("a handoff tool is not run by the toolkit"))
      }
      const added: Array<Message> = []
      let usage = zeroUsage
      let costUsd = 0
      for (let call = 1;; call++) {
        const mapped = toPrompt([...conversation.messages, ...added], name)
        const system = [
          prompt,
          ...mapped.system,
          ...(memories.length > 0
            ? [`Relevant memory:\n${memories.map((m) => `- ${m.key}: ${render(m.value)}`).join("\n")}`]
            : [])
        ].filter((s) => s !== "").join("\n\n")
        const request: Array<PromptMessage> = system === ""
          ? [...mapped.messages]
          : [{ role: "system", content: system }, ...mapped.messages]
        const response: Ai.LanguageModel.GenerateTextResponse<any> = yield* (model.generateText({
          prompt: request,
          ...(offered !== undefined ? { toolkit: offered as any, disableToolCallResolution: true } : {})
        }) as Effect.Effect<Ai.LanguageModel.GenerateTextResponse<any>, Ai.AiError.AiError>).pipe(
          Ai.withSettings(settings),
          AiErrors.mapToModelError
        )
        usage = addUsage(usage, usageOf(response))
        costUsd += Metered.costOf(response)
        const text = response.text
        const calls: Array<ToolCall> = []
        for (const part of response.content) {
          if (part.type !== "tool-call" || part.providerExecuted) continue
          const tool = tools[part.name]
          // The response decoded the parameters: the tool (and the prompt) get their encoded form back.
          const params = tool === undefined
            ? part.params
            : yield* Schema.encodeUnknown(tool.parametersSchema as Schema.Schema<unknown, unknown>)(part.params).pipe(
              Effect.mapError((e) =>
                new ToolError({
                  agent: name,
                  tool: part.name,
                  callId: part.id,
                  message: `invalid arguments: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
                })
              )
            )
          calls.push({ id: part.id, name: part.name, params })
        }
        if (calls.length === 0) {
          added.push({ role: "assistant", name, content: text })
          yield* Instrumentation.annotate({
            [Attributes.GenAI.agentName]: name,
            [Attributes.Braid.agentCalls]: call,
            [Attributes.GenAI.usageInputTokens]: usage.inputTokens,
            [Attributes.GenAI.usageOutputTokens]: usage.outputTokens,
            [Attributes.Braid.costUsd]: costUsd
          })
          return {
            text,
            agent: name,
            model: modelOf(response, options.model),
            usage,
            costUsd,
            calls: call,
            finishReason: response.finishReason,
            messages: added
          } satisfies Reply
        }
        if (call >= maxIterations) return yield* Effect.fail(new ToolIterationsExceeded({ agent: name, maxIterations }))
        added.push({ role: "assistant", name, content: text, toolCalls: calls })
        let transfer: { readonly handoff: HandoffTool<any, any>; readonly params: unknown } | undefined
        for (const c of calls) {
          const handoff = handoffByTool.get(c.name)
          if (handoff === undefined) {
            if (handler === undefined) {
              return yield* Effect.fail(
                new ToolError({ agent: name, tool: c.name, callId: c.id, message: `no tool named "${c.name}"` })
              )
            }
            added.push(yield* execute(handler, c))
            continue
          }
          const taken = transfer === undefined
          const note = taken
            ? `transferred to ${handoff.target}`
            : `not transferred: control already moves to ${transfer!.handoff.target}`
          added.push({
            role: "tool",
            name: c.name,
            toolCallId: c.id,
            content: note,
            result: note,
            ...(taken ? {} : { isFailure: true })
          })
          if (taken) transfer = { handoff, params: c.params }
        }
        if (transfer !== undefined) {
          const answer: Reply = yield* transfer.handoff.transfer({
            from: name,
            conversation,
            added,
            params: transfer.params
          })
          return {
            ...answer,
            usage: addUsage(usage, answer.usage),
            costUsd: costUsd + answer.costUsd,
            calls: call + answer.calls,
            messages: [...added, ...answer.messages]
          } satisfies Reply
        }
      }
    }).pipe(Effect.locally(currentAgent, name))

  const primitive = Primitive.make(name, body as (c: Conversation) => Effect.Effect<Reply, any, any>, {
    kind: "agent",
    meta: {
      tools: toolNames.join(",") || "none",
      maxToolIterations: maxIterations,
      ...(options.model !== undefined ? { model: options.model } : {})
    }
  })
  return Object.assign(primitive, { description: options.description, tools: toolNames }) as any
}

/**
 * Instructions computed from a profile in the conversation's context (`context.profile` by
 * default), decoded with `schema`; a profile that does not decode fails with core's
 * `DecodeError` naming the bad field.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Agent } from "@braid/agents"
 *
 * const Client = Schema.Struct({ name: Schema.String, goal: Schema.String })
 * const coach = Agent.make({
 *   name: "coach",
 *   instructions: Agent.fromProfile(Client, (c) => `You coach ${c.name}, whose goal is: ${c.goal}.`)
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromProfile = <A, I>(
  schema: Schema.Schema<A, I, never>,
  render: (profile: A) => string,
  options: { readonly key?: string } = {}
) =>
(conversation: Conversation): Effect.Effect<string, DecodeError> => {
  const key = options.key ?? "profile"
  return Schema.decodeUnknown(schema, { errors: "all" })(conversation.context?.[key]).pipe(
    Effect.map(render),
    Effect.mapError((e) => Primitive.decodeError(`profile(${key})`, "input", e))
  )
}

/**
 * A user message.
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 *
 * const m = Agent.user("Hello") // { role: "user", content: "Hello" }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const user = (content: string): Message => ({ role: "user", content })

/**
 * An assistant message, optionally naming the agent that said it.
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 *
 * const m = Agent.assistant("How can I help?", "triage")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const assistant = (content: string, name?: string): Message =>
  name === undefined ? { role: "assistant", content } : { role: "assistant", content, name }

/**
 * A system note.
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 *
 * const m = Agent.system("The user is on the premium plan.")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const system = (content: string): Message => ({ role: "system", content })

/**
 * A conversation from user messages.
 *
 * @example
 * ```ts
 * import { Agent } from "@braid/agents"
 *
 * const c = Agent.conversation(["I was charged twice"], { plan: "pro" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const conversation = (
  messages: ReadonlyArray<string | Message>,
  context?: Readonly<Record<string, unknown>>
): Conversation => ({
  messages: messages.map((m) => (typeof m === "string" ? user(m) : m)),
  ...(context !== undefined ? { context } : {})
})

/**
 * The output of `structured`: the decoded value and the reply it came from (its usage, cost and
 * model stay visible).
 *
 * @example
 * ```ts
 * import type { Agent } from "@braid/agents"
 *
 * const cost = (out: Agent.Structured<{ readonly score: number }>) => out.reply.costUsd
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Structured<A> {
  readonly value: A
  readonly reply: Reply
}

/**
 * Options of `structured`.
 *
 * @category models
 * @since 0.1.0
 */
export interface StructuredOptions {
  /**
   * The instruction added to the conversation as a system note (so it ends the agent's system
   * prompt). Default: `structuredInstruction(schema)`. `false` adds nothing, for an agent whose
   * own instructions already ask for the JSON.
   */
  readonly instruction?: string | false
  /** The wrapper's name (default `structured(<agent>)`). */
  readonly name?: string
}

/**
 * The default instruction of `structured`: answer with JSON only, matching the JSON Schema
 * derived from `schema` (deterministic: the same schema gives the same text). For a schema that
 * has no JSON Schema form, just "Reply with JSON only, no prose."
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Agent } from "@braid/agents"
 *
 * Agent.structuredInstruction(Schema.Struct({ score: Schema.Number }))
 * // 'Reply with JSON only, no prose, matching this JSON Schema: {"$schema":...,"type":"object",...}'
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const structuredInstruction = <A, I>(schema: Schema.Schema<A, I, never>): string => {
  try {
    return `Reply with JSON only, no prose, matching this JSON Schema: ${JSON.stringify(JSONSchema.make(schema))}`
  } catch {
    return "Reply with JSON only, no prose."
  }
}

/** The end of the balanced `{...}` / `[...]` starting at `start`, skipping strings; -1 if none. */
const balancedEnd = (text: string, start: number): number => {
  const stack: Array<string> = []
  let inString = false
  for (let i = start; i < text.length; i++) {
    const c = text[i]!
    if (inString) {
      if (c === "\\") i++
      else if (c === "\"") inString = false
    } else if (c === "\"") inString = true
    else if (c === "{") stack.push("}")
    else if (c === "[") stack.push("]")
    else if (c === "}" || c === "]") {
      if (stack.pop() !== c) return -1
      if (stack.length === 0) return i
    }
  }
  return -1
}

/**
 * The JSON values a reply may hold, most likely first: the whole reply, then the content of each
 * ``` fence, then each balanced `{...}` or `[...]` of the text, in order. The reply is untrusted:
 * each candidate goes through `Json.parse` (no prototype effects, bounded depth); the first
 * candidate that is JSON but refused (a `"__proto__"` key, too deep) is kept to explain a failure.
 */
const jsonCandidates = (
  text: string
): { readonly values: Array<unknown>; readonly refused: Json.JsonError | undefined } => {
  const values: Array<unknown> = []
  let refused: Json.JsonError | undefined
  const add = (s: string) => {
    const parsed = Json.parse(s.trim())
    if (Either.isRight(parsed)) values.push(parsed.right)
    else if (parsed.left.reason !== "Syntax") refused ??= parsed.left
    return Either.isRight(parsed) || parsed.left.reason !== "Syntax"
  }
  add(text)
  for (const m of text.matchAll(/```[\w-]*\s*\n?([\s\S]*?)```/g)) add(m[1]!)
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "{" && text[i] !== "[") continue
    const end = balancedEnd(text, i)
    if (end < 0) continue
    if (add(text.slice(i, end + 1))) i = end // a value was found here: do not look inside it
  }
  return { values, refused }
}

const maxReplyChars = 500

/**
 * Decodes the JSON of an agent's reply text with `schema`: the whole reply, or JSON inside a
 * ``` fence, or the first balanced `{...}` / `[...]` in prose; the first of these that decodes
 * wins. Fails with `StructuredOutputInvalid` naming the first bad field of the first JSON found
 * (core's `Primitive.decodeError` formats the path), or path `(root)` when there is no JSON.
 * The reply is untrusted: it is parsed with `Json.parse`, so a `"__proto__"` key or nesting
 * deeper than `Json.defaultMaxDepth` is refused (message `refused JSON: ...`, with its path),
 * never applied. The building block of `structured`, for text you already hold.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent } from "@braid/agents"
 *
 * const v = Effect.runSync(Agent.decodeStructured("judge", Schema.Struct({ score: Schema.Number }), 'Sure: {"score": 0.8}'))
 * // { score: 0.8 }
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const decodeStructured = <A, I>(
  agent: string,
  schema: Schema.Schema<A, I, never>,
  text: string
): Effect.Effect<A, StructuredOutputInvalid> => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all" })
  const reply = text.length > maxReplyChars ? `${text.slice(0, maxReplyChars)}...` : text
  let firstError: ParseResult.ParseError | undefined
  const { refused, values } = jsonCandidates(text)
  for (const candidate of values) {
    const decoded = decode(candidate)
    if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
    firstError ??= decoded.left
  }
  if (firstError === undefined) {
    return Effect.fail(
      refused === undefined
        ? new StructuredOutputInvalid({ agent, path: "(root)", message: "no JSON object in the reply", reply })
        : new StructuredOutputInvalid({ agent, path: refused.path, message: `refused JSON: ${refused.detail}`, reply })
    )
  }
  const e = Primitive.decodeError(agent, "output", firstError)
  return Effect.fail(
    new StructuredOutputInvalid({ agent, path: e.path, message: e.message.slice(`${agent}: `.length), reply })
  )
}

/**
 * Schema-typed agent output: a primitive (kind "structured") from a conversation to the decoded
 * value and the reply. It adds an instruction to answer with JSON only (see
 * `StructuredOptions.instruction`), runs the agent, and decodes its reply with
 * `decodeStructured`; a reply that does not decode fails with the transient
 * `StructuredOutputInvalid`, so a `Retry.policy` around it asks again.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Retry } from "@braid/resilience"
 * import { Agent } from "@braid/agents"
 *
 * const Verdict = Schema.Struct({ score: Schema.Number.pipe(Schema.between(0, 1)), reason: Schema.String })
 * const judge = Agent.make({ name: "judge", instructions: "You grade answers." }).pipe(
 *   Agent.structured(Verdict),
 *   Retry.policy({ maxAttempts: 3 })
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const structured: {
  <A, I>(schema: Schema.Schema<A, I, never>, options?: StructuredOptions): <E, R>(
    self: Any<E, R>
  ) => Primitive.Primitive<Conversation, Structured<A>, E | StructuredOutputInvalid, R>
  <E, R, A, I>(
    self: Any<E, R>,
    schema: Schema.Schema<A, I, never>,
    options?: StructuredOptions
  ): Primitive.Primitive<Conversation, Structured<A>, E | StructuredOutputInvalid, R>
} = dual(
  (args) => Primitive.isPrimitive(args[0]),
  <E, R, A, I>(
    self: Any<E, R>,
    schema: Schema.Schema<A, I, never>,
    options: StructuredOptions = {}
  ): Primitive.Primitive<Conversation, Structured<A>, E | StructuredOutputInvalid, R> => {
    const agent = nameOf(self)
    const instruction = options.instruction === undefined ? structuredInstruction(schema) : options.instruction
    return Primitive.wrap(
      self,
      {
        kind: "structured",
        ...(options.name !== undefined ? { name: options.name } : {}),
        meta: {
          instruction: options.instruction === undefined ? "schema" : options.instruction === false ? "none" : "custom"
        }
      },
      (run) => (conversation: Conversation) => {
        const request: Conversation = instruction === false || instruction === ""
          ? conversation
          : { ...conversation, messages: [...conversation.messages, system(instruction)] }
        return Effect.flatMap(run(request), (reply) =>
          decodeStructured(agent, schema, reply.text).pipe(
            Effect.map((value): Structured<A> => ({ value, reply })),
            Effect.tapError((e) => Instrumentation.annotate({ "braid.structured.path": e.path }))
          ))
      }
    )
  }
)
