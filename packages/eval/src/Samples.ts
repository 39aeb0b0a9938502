/**
 * Sample evaluation data for the tutorials, the CLI and the tests: coaching conversations produced by two
 * versions of the coach's prompt. `promptV1` answers the user and asks one open question;
 * `promptV2` (a "more concise" prompt) drifts to generic advice and stacks questions, and
 * evaluates worse, which is what the regression gate must catch.
 *
 * @since 0.1.0
 */
import type { ScriptedLanguageModel } from "@braid/llm"
import { Ai } from "@braid/llm"
import type { Conversation } from "./Dataset.js"
import { lexicalRelevance as relevanceVerdict } from "./Evaluation.js"

const topics = [
  {
    id: "run",
    objective: "agree on one running goal for this week",
    goals: ["run three times this week"],
    keyword: "three runs",
    user: "I want to start running again but I keep skipping my runs",
    v1: "Skipping runs is common when the plan is too big. What would make three short runs this week feel doable?",
    v1b: "Great: three runs of twenty minutes, Monday, Wednesday, Saturday. How will you remind yourself on Monday?"
  },
  {
    id: "sleep",
    objective: "set a bedtime routine",
    goals: ["go to bed by eleven"],
    keyword: "by eleven",
    user: "My sleep is a mess, I scroll my phone until 1am",
    v1: "Scrolling late keeps your sleep short. What time would you like to put the phone away?",
    v1b: "So phone in the kitchen at 22:30 and lights out by eleven. What could get in the way tonight?"
  },
  {
    id: "focus",
    objective: "plan a focused morning block",
    goals: ["protect a two-hour focus block"],
    keyword: "focus block",
    user: "Meetings eat my mornings and I never get deep work done",
    v1: "Meetings taking your mornings leaves no room for deep work. Which morning could you protect first?",
    v1b:
      "Tuesday 9 to 11 becomes your focus block, calendar marked busy. How will you handle a meeting request for that slot?"
  },
  {
    id: "water",
    objective: "drink more water during work",
    goals: ["drink two litres of water daily"],
    keyword: "two litres",
    user: "I forget to drink water when I work",
    v1: "Forgetting water while working is easy. What cue at your desk could remind you to drink?",
    v1b: "A one-litre bottle filled twice makes two litres. When will you refill it?"
  },
  {
    id: "reading",
    objective: "restart a reading habit",
    goals: ["read twenty pages each evening"],
    keyword: "twenty pages",
    user: "I used to read a lot but stopped this year",
    v1: "Reading less after a busy year happens. What would you like to read first?",
    v1b: "Twenty pages each evening after dinner. Where will the book wait for you?"
  },
  {
    id: "budget",
    objective: "track spending for a week",
    goals: ["log every purchase this week"],
    keyword: "every purchase",
    user: "I have no idea where my money goes each month",
    v1: "Not knowing where money goes is stressful. How could you log every purchase for one week?",
    v1b: "A note on your phone, every purchase logged the moment you pay. When will you review the week?"
  },
  {
    id: "stretch",
    objective: "add stretching to the day",
    goals: ["stretch ten minutes after work"],
    keyword: "ten minutes",
    user: "My back hurts from sitting all day",
    v1: "Sitting all day is hard on the back. What time could you stretch for ten minutes?",
    v1b: "Ten minutes of stretching at 18:00, right after work. What would make you skip it?"
  },
  {
    id: "call",
    objective: "reconnect with family",
    goals: ["call my sister on sunday"],
    keyword: "sunday",
    user: "I feel guilty that I never call my family",
    v1: "Guilt about not calling is a sign they matter to you. Who would you like to call first?",
    v1b: "Your sister, Sunday afternoon, a twenty-minute call. How will you make sure Sunday happens?"
  }
] as const

const v2Replies = [
  "Consistency is key to any habit. Have you tried an app? Do you have a coach? Would mornings work better?",
  "Remember that small steps matter. Do you want tips? Are you motivated?"
]

/**
 * Conversations coached with the first prompt (the baseline).
 *
 * @example
 * ```ts
 * import { Dataset, Samples } from "@braid/eval"
 *
 * const jsonl = Dataset.toJsonl(Samples.promptV1)
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const promptV1: ReadonlyArray<Conversation> = topics.map((t) => ({
  id: `coaching-${t.id}`,
  scenario: { objective: t.objective, goals: [...t.goals], successKeywords: [t.keyword] },
  messages: [
    { role: "user", content: t.user },
    { role: "assistant", content: t.v1 },
    { role: "user", content: `Ok, let's do it: ${t.goals[0]}` },
    { role: "assistant", content: t.v1b }
  ],
  metadata: { prompt: "v1" }
}))

/**
 * The same scenarios coached with the second prompt (the candidate, worse).
 *
 * @example
 * ```ts
 * import { Dataset, Samples } from "@braid/eval"
 *
 * const jsonl = Dataset.toJsonl(Samples.promptV2)
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const promptV2: ReadonlyArray<Conversation> = topics.map((t, i) => ({
  id: `coaching-${t.id}`,
  scenario: { objective: t.objective, goals: [...t.goals], successKeywords: [t.keyword] },
  messages: [
    { role: "user", content: t.user },
    { role: "assistant", content: v2Replies[i % 2]! },
    { role: "user", content: `Ok, let's do it: ${t.goals[0]}` },
    { role: "assistant", content: i % 3 === 0 ? `Good luck with that. Anything else?` : t.v1b }
  ],
  metadata: { prompt: "v2" }
}))

/**
 * The scripted judge: answers `Judge: relevance` prompts with a computed verdict (JSON), any
 * other rubric with a neutral verdict.
 *
 * @example
 * ```ts
 * import { ScriptedLanguageModel } from "@braid/llm"
 * import { Samples } from "@braid/eval"
 *
 * const Judge = ScriptedLanguageModel.layer(Samples.judgeScript)
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const judgeScript: ScriptedLanguageModel.Options = {
  model: "braid-scripted-mini",
  rules: [
    {
      when: (r) => Ai.systemText(r).startsWith("Judge: relevance"),
      reply: (r) => JSON.stringify(relevanceVerdict(Ai.lastUserText(r)))
    },
    {
      when: (r) => Ai.systemText(r).startsWith("Judge: "),
      reply: (r) =>
        JSON.stringify({
          score: 0.5,
          reason: `the scripted judge has no rule for ${Ai.systemText(r).split("\n")[0]!.slice(7)}`
        })
    }
  ]
}
