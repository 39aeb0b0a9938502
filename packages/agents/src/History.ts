/**
 * History transforms: what part of a conversation an agent passes on in a handoff. A transform
 * maps messages to messages (effectfully: `summarize` calls a model); transforms compose left
 * to right with `compose`. They work on the lossless form of `Agent.Message`: tool calls and
 * tool results are kept, or dropped whole (`removeToolCalls`), never flattened to text.
 *
 * @since 0.1.0
 */
import type { Errors as LlmErrors } from "@braid/llm"
import { Ai, AiErrors } from "@braid/llm"
import { Effect } from "effect"
import type { Message } from "./Agent.js"

/**
 * A history transform.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { History } from "@braid/agents"
 *
 * const dropEmpty: History.Transform = (messages) => Effect.succeed(messages.filter((m) => m.content !== ""))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Transform<E = never, R = never> = (
  messages: ReadonlyArray<Message>
) => Effect.Effect<ReadonlyArray<Message>, E, R>

/**
 * Keeps every message.
 *
 * @example
 * ```ts
 * import { History } from "@braid/agents"
 *
 * const all = History.keepAll
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const keepAll: Transform = (messages) => Effect.succeed(messages)

/**
 * Keeps the messages for which `predicate` holds.
 *
 * @example
 * ```ts
 * import { History } from "@braid/agents"
 *
 * const short = History.filter((m) => m.content.length < 500)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const filter = (predicate: (message: Message, index: number) => boolean): Transform => (messages) =>
  Effect.succeed(messages.filter(predicate))

/**
 * Keeps the last `n` messages (system notes are kept too, unless `keepSystem` is false). A cut
 * never starts on a tool result whose call was cut away.
 *
 * @example
 * ```ts
 * import { History } from "@braid/agents"
 *
 * const recent = History.lastN(6)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const lastN = (n: number, options: { readonly keepSystem?: boolean } = {}): Transform => (messages) => {
  const keepSystem = options.keepSystem ?? true
  const turns = messages.map((m, i) => [m, i] as const).filter(([m]) => !(keepSystem && m.role === "system"))
  let start = Math.max(0, turns.length - Math.max(0, n))
  while (start < turns.length && turns[start]![0].role === "tool") start++
  const kept = new Set(turns.slice(start).map(([, i]) => i))
  return Effect.succeed(messages.filter((m, i) => kept.has(i) || (keepSystem && m.role === "system")))
}

/**
 * Keeps only messages with one of these roles.
 *
 * @example
 * ```ts
 * import { History } from "@braid/agents"
 *
 * const dialogue = History.byRole("user", "assistant")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const byRole = (...roles: ReadonlyArray<Message["role"]>): Transform => filter((m) => roles.includes(m.role))

/**
 * Removes tool traffic: tool results, and the tool calls of assistant messages (an assistant
 * message left empty goes too).
 *
 * @example
 * ```ts
 * import { History } from "@braid/agents"
 *
 * const clean = History.removeToolCalls
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const removeToolCalls: Transform = (messages) =>
  Effect.succeed(
    messages.flatMap((m): ReadonlyArray<Message> => {
      if (m.role === "tool") return []
      if (m.toolCalls === undefined) return [m]
      const { toolCalls: _, ...rest } = m
      return rest.content.trim() === "" ? [] : [rest]
    })
  )

/**
 * Replaces text matching any of the patterns (strings match literally, everywhere), or rewrites
 * each message's content with a function.
 *
 * @example
 * ```ts
 * import { History } from "@braid/agents"
 *
 * const noCards = History.redact([/\b\d{4}(?: ?\d{4}){3}\b/g], "[card]")
 * const noNames = History.redact((text) => text.replaceAll("Ada", "[name]"))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const redact = (
  patterns: ReadonlyArray<string | RegExp> | ((content: string, message: Message) => string),
  replacement = "[REDACTED]"
): Transform =>
(messages) =>
  Effect.succeed(messages.map((m) => {
    const text = (content: string): string => {
      if (typeof patterns === "function") return patterns(content, m)
      let out = content
      for (const p of patterns) {
        out = typeof p === "string"
          ? out.split(p).join(replacement)
          : out.replace(p.global ? p : new RegExp(p.source, p.flags + "g"), replacement)
      }
      return out
    }
    const content = text(m.content)
    // Tool traffic is redacted where the model reads it too: every string in the parameters and results.
    const toolCalls = m.toolCalls?.map((c) => ({ ...c, params: deep(c.params, text) }))
    const result = "result" in m ? deep(m.result, text) : undefined
    if (content === m.content && toolCalls === undefined && !("result" in m)) return m
    return {
      ...m,
      content,
      ...(toolCalls !== undefined ? { toolCalls } : {}),
      ...("result" in m ? { result } : {})
    }
  }))

/** Every string of a JSON value rewritten with `f` (keys kept). */
const deep = (value: unknown, f: (s: string) => string): unknown => {
  if (typeof value === "string") return f(value)
  if (Array.isArray(value)) return value.map((v) => deep(v, f))
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deep(v, f)]))
  }
  return value
}

/**
 * Options of `summarize`.
 *
 * @category models
 * @since 0.1.0
 */
export interface SummarizeOptions {
  /** Messages kept verbatim at the end. Default 2. */
  readonly keepLast?: number
  /** The summariser's instructions. */
  readonly instructions?: string
  /** The model name (default: the adapter's). */
  readonly model?: string
  /** The agent the model call is made for (`Ai.Settings.agent`). Default "history.summarize". */
  readonly agent?: string
}

/**
 * Replaces all but the last `keepLast` messages with one system note summarising them, written
 * by the `LanguageModel`. Nothing is summarised (and no model call made) when there is nothing
 * to replace.
 *
 * @example
 * ```ts
 * import { History } from "@braid/agents"
 *
 * const brief = History.summarize({ keepLast: 2 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const summarize =
  (options: SummarizeOptions = {}): Transform<LlmErrors.ModelError, Ai.LanguageModel.LanguageModel> => (messages) => {
    const keepLast = Math.max(0, options.keepLast ?? 2)
    const cut = Math.max(0, messages.length - keepLast)
    let start = cut
    while (start < messages.length && messages[start]!.role === "tool") start++
    const older = messages.slice(0, start)
    if (older.length === 0) return Effect.succeed(messages)
    const transcript = older.map((m) => `${m.name ?? m.role}: ${m.content}`).join("\n")
    return Ai.LanguageModel.generateText({
      prompt: [
        {
          role: "system",
          content: options.instructions ??
            "Summarise this conversation for a colleague taking it over: facts, requests and decisions, in a few sentences."
        },
        { role: "user", content: `Summarise:\n${transcript}` }
      ]
    }).pipe(
      Ai.withSettings({
        agent: options.agent ?? "history.summarize",
        ...(options.model !== undefined ? { model: options.model } : {})
      }),
      AiErrors.mapToModelError,
      Effect.map((r): ReadonlyArray<Message> => [
        { role: "system", content: `Summary of the earlier conversation: ${r.text}` },
        ...messages.slice(start)
      ])
    )
  }

/**
 * Runs transforms left to right.
 *
 * @example
 * ```ts
 * import { History } from "@braid/agents"
 *
 * const filter = History.compose(History.removeToolCalls, History.redact(["ACME-SECRET"]), History.lastN(4))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const compose = <const T extends ReadonlyArray<Transform<any, any>>>(
  ...transforms: T
): Transform<
  T[number] extends Transform<infer E, any> ? E : never,
  T[number] extends Transform<any, infer R> ? R : never
> =>
(messages) => Effect.reduce(transforms, messages, (acc, t) => t(acc)) as any
