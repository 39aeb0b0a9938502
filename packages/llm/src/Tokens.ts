/**
 * Token estimates, used when a response carries no usage and by the scripted model.
 * The estimate is about four characters per token (Claude's tokenizers average 3.5 to 4.5 on
 * English prose), rounded up; it is always marked `estimated: true` in `Usage`.
 *
 * @since 0.1.0
 */
import type { Request } from "./LanguageModel.js"
import { systemText } from "./LanguageModel.js"

/**
 * Characters per token of the estimate.
 *
 * @since 0.1.0
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
 */
export const estimate = (text: string): number => text.length === 0 ? 0 : Math.ceil(text.length / charsPerToken)

/**
 * Estimated input tokens of a request: the system prompt, the messages (with a few tokens of
 * framing per message) and the tool definitions.
 *
 * @example
 * ```ts
 * import { LanguageModel, Tokens } from "@braid/llm"
 *
 * Tokens.estimateRequest({ system: "Be brief", messages: [LanguageModel.user("Hi")] }) // 8
 * ```
 *
 * @since 0.1.0
 */
export const estimateRequest = (request: Request): number => {
  let total = estimate(systemText(request.system))
  for (const m of request.messages) total += estimate(m.content) + 3
  for (const t of request.tools ?? []) total += estimate(JSON.stringify(t))
  return total
}
