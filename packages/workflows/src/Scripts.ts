/**
 * The scripts of the scripted model for the three workflows: the offline runs of the tutorials,
 * the CLI and the tests read like real conversations. Each is a `ScriptedModel.Options`; reuse
 * them, extend their rules, or inject failures (`{ ...Scripts.coaching, failures: [...] }`).
 *
 * @since 0.1.0
 */
import type { ScriptedModel } from "@braid/llm"
import { LanguageModel } from "@braid/llm"

const contentWords = (text: string): Set<string> =>
  new Set((text.toLowerCase().match(/[a-z']{4,}/g) ?? []).filter((w) => !STOP.has(w)))
const STOP = new Set(["that", "this", "with", "have", "what", "your", "from", "will", "would", "about", "there", "they", "them", "then", "than", "just", "like", "want", "when", "which", "been", "were", "into", "some", "today", "it's", "i'm", "you're"])

/**
 * The scripted relevance judge: the share of assistant replies that share a content word with
 * the user message they answer. Reads the transcript the judge is given (`USER:` / `ASSISTANT:`).
 *
 * @example
 * ```ts
 * import { Scripts } from "@braid/workflows"
 *
 * Scripts.relevanceVerdict("USER: I want to run more\nASSISTANT: What stops you from running?")
 * // { score: 1, reason: "1 of 1 replies respond to the user's previous message" }
 * ```
 *
 * @since 0.1.0
 */
export const relevanceVerdict = (transcript: string): { readonly score: number; readonly reason: string } => {
  let lastUser: string | undefined
  let replies = 0
  let relevant = 0
  const drifted: Array<number> = []
  for (const line of transcript.split("\n")) {
    if (line.startsWith("USER: ")) lastUser = line.slice(6)
    else if (line.startsWith("ASSISTANT: ") && lastUser !== undefined) {
      replies++
      const u = contentWords(lastUser)
      const hit = [...contentWords(line.slice(11))].some((w) => u.has(w) || u.has(w.replace(/s$/, "")) || u.has(w + "s"))
      if (hit) relevant++
      else drifted.push(replies)
    }
  }
  if (replies === 0) return { score: 0, reason: "no assistant reply answers a user message" }
  const score = Math.round((relevant / replies) * 100) / 100
  return {
    score,
    reason: drifted.length === 0
      ? `${relevant} of ${replies} replies respond to the user's previous message`
      : `${relevant} of ${replies} replies respond to the user's previous message; reply ${drifted.join(", ")} drifted`
  }
}

/**
 * The scripted judge: answers `Judge: relevance` prompts with a computed verdict (JSON), any
 * other rubric with a neutral verdict.
 *
 * @since 0.1.0
 */
export const judge: ScriptedModel.Options = {
  model: "braid-scripted-mini",
  rules: [
    {
      when: (r) => LanguageModel.systemText(r.system).startsWith("Judge: relevance"),
      reply: (r) => JSON.stringify(relevanceVerdict(LanguageModel.lastUserText(r)))
    },
    {
      when: (r) => LanguageModel.systemText(r.system).startsWith("Judge: "),
      reply: (r) =>
        JSON.stringify({
          score: 0.5,
          reason: `the scripted judge has no rule for ${LanguageModel.systemText(r.system).split("\n")[0]!.slice(7)}`
        })
    }
  ]
}
