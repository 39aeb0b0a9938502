/**
 * Token estimates, used when a response carries no usage and by the scripted model.
 * The estimate is about four characters per token (Claude's tokenizers average 3.5 to 4.5 on
 * English prose), rounded up; it is always marked `estimated: true` in `Usage`.
 *
 * @since 0.1.0
 */
import type * as Prompt from "@effect/ai/Prompt"

/**
 * Characters per token of the estimate.
 *
 * @since 0.1.0
 * @category constants
 */
export const charsPerToken = 4

/**
 * Estimated tokens of a text (0 for "").
 *
 * @example
 * ```ts
 * import { Tokens } from "@braid/llm"
 *
 * Tokens.estimate("Hello, world!") // 4
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const estimate = (text: string): number => text.length === 0 ? 0 : Math.ceil(text.length / charsPerToken)

/** A file part (an image, a document) counts as this many tokens in an estimate. */
const filePartTokens = 256

/**
 * Estimated input tokens of a prompt: the text of every message (tool calls and results as their
 * JSON, a file part 256) and a few tokens of framing per message.
 *
 * @example
 * ```ts
 * import { Ai, Tokens } from "@braid/llm"
 *
 * Tokens.estimatePrompt(Ai.Prompt.make([{ role: "system", content: "Be brief" }, { role: "user", content: "Hi" }])) // 9
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const estimatePrompt = (prompt: Prompt.Prompt): number => {
  let total = 0
  for (const m of prompt.content) {
    total += 3
    if (m.role === "system") total += estimate(m.content)
    else {
      for (const p of m.content) {
        if (p.type === "text" || p.type === "reasoning") total += estimate(p.text)
        else if (p.type === "tool-call") total += estimate(JSON.stringify(p.params ?? null))
        else if (p.type === "tool-result") total += estimate(JSON.stringify(p.result ?? null))
        else total += filePartTokens
      }
    }
  }
  return total
}
