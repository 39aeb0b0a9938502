/**
 * `Agent`: a named primitive (kind "agent") from a conversation to a reply. An agent has
 * instructions (static, or computed from the conversation's context, e.g. a client profile), the
 * `LanguageModel` it calls (every request carries `metadata.agent`, so usage and cost are
 * attributed to it), optional tools with Schema-typed parameters run in a bounded tool loop, and
 * whatever resilience policies you pipe it through:
 *
 * ```ts
 * import { Retry } from "@braid/resilience"
 * import { Agent } from "@braid/agents"
 *
 * const coach = Agent.make({ name: "coach", instructions: "You coach." }).pipe(Retry.policy({ maxAttempts: 3 }))
 * ```
 *
 * Memory written while an agent runs records the agent as its writer; entries recalled for the
 * agent (`Memory.recall`) are added to its system prompt.
 *
 * @since 0.1.0
 */
import { DecodeError, Instrumentation, Json, Primitive } from "@braid/core"
import type { Errors as LlmErrors } from "@braid/llm"
import { LanguageModel, Pricing } from "@braid/llm"
import { currentAgent, recalledRef } from "@braid/memory/Memory"
import { Effect, Either, FiberRef, JSONSchema, ParseResult, Schema } from "effect"
import { dual } from "effect/Function"
import { StructuredOutputInvalid, ToolError, ToolIterationsExceeded } from "./Errors.js"

/**
 * A message of a conversation. Besides user and assistant turns, a conversation may carry
 * system notes (e.g. a handoff summary) and tool traffic; `name` is the agent or tool that
 * produced the message.
 *
 * @example
 * ```ts
 * import type { Agent } from "@braid/agents"
 *
 * const note: Agent.Message = { role: "assistant", name: "triage", content: "Sending you to billing." }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Message {
  readonly role: "system" | "user" | "assistant" | "tool"
  readonly content: string
  readonly name?: string
  /** On an assistant message: the tools it called. */
  readonly toolCalls?: ReadonlyArray<LanguageModel.ToolCall>
  /** On a tool message: the call it answers. */
  readonly toolCallId?: string
}

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
  readonly usage: LanguageModel.Usage
  /** The dollar cost of those calls, from the `Pricing` table (models missing from it count $0). */
  readonly costUsd: number
  /** How many model calls this turn took. */
  readonly calls: number
  readonly stopReason: LanguageModel.StopReason
  /** The messages this turn added: tool calls, tool results and the final assistant message. */
  readonly messages: ReadonlyArray<Message>
}

/**
 * A tool an agent may call. Its arguments are decoded with `parameters` before `run` sees them.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import type { Agent } from "@braid/agents"
 *
 * const clock: Agent.Tool<{ readonly tz: string }> = {
 *   name: "clock", description: "The time", parameters: Schema.Struct({ tz: Schema.String }),
 *   run: ({ tz }) => Effect.succeed(`12:00 in ${tz}`)
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Tool<A = any, E = any, R = any> {
  readonly name: string
  readonly description: string
  readonly parameters: Schema.Schema<A, any, never>
  readonly run: (args: A) => Effect.Effect<unknown, E, R>
}

/**
 * Declares a tool with Schema-typed parameters. The JSON Schema sent to the model is derived
 * from `parameters`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent } from "@braid/agents"
 *
 * const weather = Agent.tool({
 *   name: "weather",
 *   description: "Today's weather in a city",
 *   parameters: Schema.Struct({ city: Schema.String }),
 *   run: ({ city }) => Effect.succeed(`Sunny in ${city}`)
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const tool = <A, I, E, R>(definition: {
  readonly name: string
  readonly description: string
  readonly parameters: Schema.Schema<A, I, never>
  readonly run: (args: A) => Effect.Effect<unknown, E, R>
}): Tool<A, E, R> => definition

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
export interface Options<E = never, R = never, Tools extends ReadonlyArray<Tool> = []> {
  readonly name: string
  readonly description?: string
  readonly instructions: Instructions<E, R>
  /** The model name passed to the `LanguageModel` (default: the adapter's). */
  readonly model?: string
  readonly maxTokens?: number
  readonly temperature?: number
  readonly tools?: Tools
  /** The most model calls one turn may make while tools are being called. Default 8. */
  readonly maxToolIterations?: number
}

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
    E | LlmErrors.ModelError | ToolError | ToolIterationsExceeded,
    R | LanguageModel.LanguageModel
  >
{
  readonly description: string | undefined
  readonly tools: ReadonlyArray<Tool>
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

const zeroUsage: LanguageModel.Usage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  estimated: false
}

const addUsage = (a: LanguageModel.Usage, b: LanguageModel.Usage): LanguageModel.Usage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  estimated: a.estimated || b.estimated
})

/** Text of a value for the model: strings as they are, anything else as JSON (`Json.encode`: never throws). */
const render = (u: unknown): string =>
  typeof u === "string" ? u : Either.getOrElse(Json.encode(u), (e) => `(a value without a JSON form: ${e.message})`)

/**
 * Maps a conversation to model messages for agent `self`: system notes join the system prompt;
 * tool traffic becomes text turns (the port carries plain user/assistant turns); what other
 * agents said is shown as `[name] text` on the user side, since this agent did not say it.
 * Turns of one side are merged, and the result starts and ends with a user turn (a final
 * assistant turn would be taken as a prefill to continue).
 */
const toModel = (
  messages: ReadonlyArray<Message>,
  self: string
): { system: ReadonlyArray<string>; messages: Array<LanguageModel.Message> } => {
  const system: Array<string> = []
  const out: Array<LanguageModel.Message> = []
  const push = (role: "user" | "assistant", content: string) => {
    if (content === "") return
    const last = out[out.length - 1]
    if (last !== undefined && last.role === role) {
      out[out.length - 1] = { role, content: `${last.content}\n\n${content}` }
    } else out.push({ role, content })
  }
  for (const m of messages) {
    switch (m.role) {
      case "system":
        system.push(m.content)
        break
      case "user":
        push("user", m.content)
        break
      case "assistant": {
        const calls = (m.toolCalls ?? []).map((c) => `[called tool ${c.name} with ${render(c.input)}]`)
        const text = [m.content, ...calls].filter((s) => s !== "").join("\n")
        if (m.name === undefined || m.name === self) push("assistant", text)
        else push("user", `[${m.name}] ${text}`)
        break
      }
      case "tool":
        push("user", `[tool ${m.name ?? "?"} result] ${m.content}`)
        break
    }
  }
  if (out.length === 0 || out[0]!.role !== "user") out.unshift({ role: "user", content: "(conversation so far)" })
  if (out[out.length - 1]!.role !== "user") out.push({ role: "user", content: "(continue)" })
  return { system, messages: out }
}

/**
 * The errors of a union of tools.
 *
 * @category models
 * @since 0.1.0
 */
export type ToolErrors<T> = T extends Tool<any, infer E, any> ? E : never

/**
 * The requirements of a union of tools.
 *
 * @category models
 * @since 0.1.0
 */
export type ToolContext<T> = T extends Tool<any, any, infer R> ? R : never

/**
 * Builds an agent.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Runner } from "@braid/core"
 * import { ScriptedModel } from "@braid/llm"
 * import { Agent } from "@braid/agents"
 *
 * const coach = Agent.make({ name: "coach", instructions: "You are a running coach. Be brief." })
 * const reply = Runner.run(coach, { messages: [Agent.user("How do I start running?")] }).pipe(
 *   Effect.provide(ScriptedModel.layer({ rules: [{ when: "start running", reply: "Walk-run three times a week." }] }))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <E = never, R = never, const Tools extends ReadonlyArray<Tool> = []>(
  options: Options<E, R, Tools>
): Agent<E | ToolErrors<Tools[number]>, R | ToolContext<Tools[number]>> => {
  const name = options.name
  const tools: ReadonlyArray<Tool> = options.tools ?? []
  const maxIterations = options.maxToolIterations ?? 8
  const definitions: ReadonlyArray<LanguageModel.ToolDefinition> = tools.map((t) => ({
    name: t.name,
    description: t.description,
    inputSchema: JSONSchema.make(t.parameters) as unknown as Record<string, unknown>
  }))
  const byName = new Map(tools.map((t) => [t.name, t]))

  const instructions = (conversation: Conversation): Effect.Effect<string, E, R> => {
    if (typeof options.instructions === "string") return Effect.succeed(options.instructions)
    const out = options.instructions(conversation)
    return typeof out === "string" ? Effect.succeed(out) : out
  }

  const runTool = (call: LanguageModel.ToolCall): Effect.Effect<Message, any, any> => {
    const t = byName.get(call.name)
    if (t === undefined) {
      return Effect.fail(new ToolError({ agent: name, tool: call.name, message: `no tool named "${call.name}"` }))
    }
    return Schema.decodeUnknown(t.parameters)(call.input).pipe(
      Effect.mapError((e) =>
        new ToolError({
          agent: name,
          tool: call.name,
          message: `invalid arguments: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
        })
      ),
      Effect.flatMap((args) => t.run(args)),
      // A result the model cannot be shown as JSON (a BigInt, a cycle) is the tool's typed error, naming the path.
      Effect.flatMap((result) =>
        typeof result === "string" ? Effect.succeed(result) : Json.encode(result).pipe(
          Either.mapLeft((e) =>
            new ToolError({ agent: name, tool: call.name, message: `the result has no JSON form: ${e.message}` })
          )
        )
      ),
      Effect.map((content): Message => ({ role: "tool", name: call.name, toolCallId: call.id, content }))
    )
  }

  const body = (conversation: Conversation) =>
    Effect.gen(function*() {
      const model = yield* LanguageModel.LanguageModel
      const prompt = yield* instructions(conversation)
      const memories = yield* FiberRef.get(recalledRef)
      const { table } = yield* Pricing.Pricing
      const added: Array<Message> = []
      let usage = zeroUsage
      let costUsd = 0
      for (let call = 1;; call++) {
        const mapped = toModel([...conversation.messages, ...added], name)
        const system = [
          prompt,
          ...mapped.system,
          ...(memories.length > 0
            ? [`Relevant memory:\n${memories.map((m) => `- ${m.key}: ${render(m.value)}`).join("\n")}`]
            : [])
        ].filter((s) => s !== "").join("\n\n")
        const request: LanguageModel.Request = {
          messages: mapped.messages,
          metadata: { agent: name },
          ...(system !== "" ? { system } : {}),
          ...(options.model !== undefined ? { model: options.model } : {}),
          ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
          ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
          ...(definitions.length > 0 ? { tools: definitions } : {})
        }
        const response = yield* model.generate(request)
        usage = addUsage(usage, response.usage)
        const price = Pricing.lookup(table, response.model)
        if (price !== undefined) costUsd += Pricing.cost(price, response.usage)
        const calls = response.stopReason === "tool_use" ? response.toolCalls ?? [] : []
        if (calls.length === 0) {
          added.push({ role: "assistant", name, content: response.text })
          yield* Instrumentation.annotate({
            "gen_ai.agent.name": name,
            "braid.agent.calls": call,
            "gen_ai.usage.input_tokens": usage.inputTokens,
            "gen_ai.usage.output_tokens": usage.outputTokens,
            "braid.agent.cost_usd": costUsd
          })
          return {
            text: response.text,
            agent: name,
            model: response.model,
            usage,
            costUsd,
            calls: call,
            stopReason: response.stopReason,
            messages: added
          } satisfies Reply
        }
        if (call >= maxIterations) return yield* Effect.fail(new ToolIterationsExceeded({ agent: name, maxIterations }))
        added.push({ role: "assistant", name, content: response.text, toolCalls: calls })
        for (const c of calls) {
          yield* Instrumentation.event("braid.agent.tool_call", { "braid.tool.name": c.name })
          added.push(yield* runTool(c))
        }
      }
    }).pipe(Effect.locally(currentAgent, name))

  const primitive = Primitive.make(name, body as (c: Conversation) => Effect.Effect<Reply, any, any>, {
    kind: "agent",
    meta: {
      tools: tools.map((t) => t.name).join(",") || "none",
      maxToolIterations: maxIterations,
      ...(options.model !== undefined ? { model: options.model } : {})
    }
  })
  return Object.assign(primitive, { description: options.description, tools }) as any
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
