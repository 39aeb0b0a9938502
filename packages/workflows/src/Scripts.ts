/**
 * The scripts of the scripted model for the three workflows: the offline runs of the tutorials,
 * the CLI and the tests read like real conversations. Each is a `ScriptedModel.Options`; reuse
 * them, extend their rules, or inject failures (`{ ...Scripts.coaching, failures: [...] }`).
 *
 * @since 0.1.0
 */
import type { ScriptedModel } from "@braid/llm"
import { LanguageModel } from "@braid/llm"
import { lexicalRelevance as relevanceVerdict } from "./Evaluation.js"

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

const observerInsight = (exchange: string): string => {
  const t = (/CLIENT: (.*)/.exec(exchange)?.[1] ?? exchange).toLowerCase()
  if (t.includes("slept badly")) return "Insight: low energy after a bad night; the client still wants a meaningful day, so small concrete goals will land best."
  if (t.includes("quarterly report")) return "Insight: work comes first in the client's mind; exercise is the goal most at risk of being dropped."
  if (t.includes("run at lunch")) return "Insight: the client commits readily when goals get a time slot; protect the lunch run in the evening review."
  if (t.includes("report is done")) return "Insight: pride in finishing the report; some guilt about the skipped run."
  if (t.includes("meeting ran over")) return "Insight: overrunning meetings are the recurring obstacle to exercise; scheduling, not motivation, is the issue."
  const client = /CLIENT: (.*)/.exec(exchange)?.[1] ?? exchange
  return `Insight: the client is focused on "${client.slice(0, 60)}".`
}

/**
 * The scripted coach and observer of the coaching tutorial, the CLI and the tests: the coach
 * answers the sample day naturally (and writes the `GOALS:` / `REVIEW:` lines), the observer
 * writes insights; any other message gets a coach-like reply that picks up the user's words.
 *
 * @since 0.1.0
 */
export const coaching: ScriptedModel.Options = {
  rules: [
    {
      when: (r) => LanguageModel.systemText(r.system).startsWith("You are the observer"),
      reply: (r) => observerInsight(LanguageModel.lastUserText(r))
    },
    {
      when: "slept badly",
      reply: "Good morning! A rough night makes focus harder, so let's keep today small and clear. What is the one thing that would make today feel like a win?"
    },
    {
      when: "quarterly report",
      reply: "Finishing the quarterly report draft and a run are two solid goals. When could the run fit best, and how long should the report block be?"
    },
    {
      when: "run at lunch",
      reply: "Great plan: the report from 9 to 11, then a 30-minute run at lunch. I'll check in with you this evening.\nGOALS: finish the quarterly report draft (9-11); run 30 minutes at lunch"
    },
    {
      when: "report is done",
      reply: "Well done on the report: that was the big one, and you finished it. What got in the way of the run at lunch?"
    },
    {
      when: "meeting ran over",
      reply: "That happens: the meeting ran over and the energy was gone. Tomorrow, could you book the run in your calendar like a meeting, right after lunch?\nREVIEW: 1/2 goals done (report done; run skipped because a meeting ran over)"
    }
  ],
  default: (r) => {
    const text = LanguageModel.lastUserText(r).replace(/[.!?]+$/, "")
    return `I hear you: "${text}". What would be one small step you could take on that today?`
  }
}
