/**
 * The scripts of the scripted model for the three workflows: the offline runs of the tutorials,
 * the CLI and the tests read like real conversations. Each is a `ScriptedLanguageModel.Options`; reuse
 * them, extend their rules, or inject failures (`{ ...Scripts.coaching, failures: [...] }`).
 *
 * @since 0.1.0
 */
import type { ScriptedLanguageModel } from "@braid/llm"
import { Ai } from "@braid/llm"

const observerInsight = (exchange: string): string => {
  const t = (/CLIENT: (.*)/.exec(exchange)?.[1] ?? exchange).toLowerCase()
  if (t.includes("slept badly")) {
    return "Insight: low energy after a bad night; the client still wants a meaningful day, so small concrete goals will land best."
  }
  if (t.includes("quarterly report")) {
    return "Insight: work comes first in the client's mind; exercise is the goal most at risk of being dropped."
  }
  if (t.includes("run at lunch")) {
    return "Insight: the client commits readily when goals get a time slot; protect the lunch run in the evening review."
  }
  if (t.includes("report is done")) return "Insight: pride in finishing the report; some guilt about the skipped run."
  if (t.includes("meeting ran over")) {
    return "Insight: overrunning meetings are the recurring obstacle to exercise; scheduling, not motivation, is the issue."
  }
  const client = /CLIENT: (.*)/.exec(exchange)?.[1] ?? exchange
  return `Insight: the client is focused on "${client.slice(0, 60)}".`
}

/**
 * The scripted coach and observer of the coaching tutorial, the CLI and the tests: the coach
 * answers the sample day naturally (and writes the `GOALS:` / `REVIEW:` lines), the observer
 * writes insights; any other message gets a coach-like reply that picks up the user's words.
 *
 * @example
 * ```ts
 * import { Errors, ScriptedLanguageModel } from "@braid/llm"
 * import { Scripts } from "@braid/workflows"
 *
 * const Flaky = ScriptedLanguageModel.layer({ ...Scripts.coaching, failures: [{ calls: [2], error: new Errors.Overloaded({ message: "outage" }) }] })
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const coaching: ScriptedLanguageModel.Options = {
  rules: [
    {
      when: (r) => Ai.systemText(r).startsWith("You are the observer"),
      reply: (r) => observerInsight(Ai.lastUserText(r))
    },
    {
      when: "slept badly",
      reply:
        "Good morning! A rough night makes focus harder, so let's keep today small and clear. What is the one thing that would make today feel like a win?"
    },
    {
      when: "quarterly report",
      reply:
        "Finishing the quarterly report draft and a run are two solid goals. When could the run fit best, and how long should the report block be?"
    },
    {
      when: "run at lunch",
      reply:
        "Great plan: the report from 9 to 11, then a 30-minute run at lunch. I'll check in with you this evening.\nGOALS: finish the quarterly report draft (9-11); run 30 minutes at lunch"
    },
    {
      when: "report is done",
      reply:
        "Well done on the report: that was the big one, and you finished it. What got in the way of the run at lunch?"
    },
    {
      when: "meeting ran over",
      reply:
        "That happens: the meeting ran over and the energy was gone. Tomorrow, could you book the run in your calendar like a meeting, right after lunch?\nREVIEW: 1/2 goals done (report done; run skipped because a meeting ran over)"
    }
  ],
  default: (r) => {
    const text = Ai.lastUserText(r).replace(/[.!?]+$/, "")
    return `I hear you: "${text}". What would be one small step you could take on that today?`
  }
}

const meetingLines: Record<string, ReadonlyArray<string>> = {
  Maya: [
    "Welcome, everyone. Two items today: first, is the release ready to ship on Friday; second, who owns the rollback plan. Grace, where does engineering stand?",
    "Thanks, both. Decision: we ship on Friday at 10:00 with the new feature behind a flag, off by default. Second item: the rollback plan. Grace, can engineering own it?",
    "To recap: we ship Friday at 10:00 behind a flag, Grace owns the rollback plan, and Linus briefs support. Thank you all. MEETING ADJOURNED"
  ],
  Grace: [
    "All blocking bugs are fixed and yesterday's load test passed. I would ship behind a feature flag, so we can switch it off without a deploy.",
    "Yes. I'll write the rollback plan and rehearse it on staging by Thursday."
  ],
  Linus: [
    "Support is fine with Friday if we get the release notes early. I'll brief the support team by Thursday noon.",
    "One request before I go: put the flag's name in the release notes so support can check it. I have to leave for another call, thanks."
  ],
  Sam: [
    "From design: the empty states are final. I'll hand the last icons to Grace by Wednesday."
  ]
}

const meetingSpeaker = (system: string): string | undefined => /^You are (\w+), the/.exec(system)?.[1]

const sentences = (text: string): Array<string> =>
  text.split(/(?<=[.!?])\s+/).map((s) => s.trim()).filter((s) => s !== "")

const transcriptLines = (text: string): Array<{ readonly speaker: string; readonly text: string }> =>
  text.split("\n").flatMap((line) => {
    const m = /^(\w+): (.+)$/.exec(line)
    return m && m[1] !== "Meeting" && m[1] !== "Agenda" ? [{ speaker: m[1]!, text: m[2]! }] : []
  })

/**
 * The decisions a transcript states (`Decision: ...` sentences).
 *
 * @example
 * ```ts
 * import { Scripts } from "@braid/workflows"
 *
 * Scripts.decisionsIn("Maya: Decision: we ship on Friday.") // [{ decision: "we ship on Friday", rationale: "stated by Maya" }]
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const decisionsIn = (transcript: string) =>
  transcriptLines(transcript).flatMap((l) =>
    sentences(l.text).flatMap((s) => {
      const m = /\bDecision:\s*(.+?)[.!]?$/.exec(s)
      return m ? [{ decision: m[1]!, rationale: `stated by ${l.speaker}` }] : []
    })
  )

/**
 * The action items of a transcript: each "I'll ..." of a participant, with its due date
 * ("by Thursday").
 *
 * @example
 * ```ts
 * import { Scripts } from "@braid/workflows"
 *
 * Scripts.actionItemsIn("Grace: I'll write the plan by Thursday.") // [{ owner: "Grace", task: "write the plan", due: "Thursday" }]
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const actionItemsIn = (transcript: string) =>
  transcriptLines(transcript).flatMap((l) =>
    sentences(l.text).flatMap((s) => {
      const m = /\bI'll (.+?)[.!]?$/.exec(s)
      if (!m) return []
      const due = /\bby ((?:next )?\w+day(?: \w+)?|noon|tomorrow|end of \w+)\b/i.exec(m[1]!)
      const task = m[1]!.replace(/\s*\bby (?:next )?\w+day(?: \w+)?$|\s*\bby (noon|tomorrow)$/i, "")
      return [{ owner: l.speaker, task, ...(due ? { due: due[1]! } : {}) }]
    })
  )

/**
 * The scripted meeting: Maya hosts a launch review with Grace (engineering), Linus (support) and
 * Sam (design); the extractors derive minutes, decisions and action items from the transcript
 * they are given (so any scripted meeting gets sensible ones).
 *
 * @example
 * ```ts
 * import { ScriptedLanguageModel } from "@braid/llm"
 * import { Scripts } from "@braid/workflows"
 *
 * const Meeting = ScriptedLanguageModel.layer(Scripts.meeting)
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const meeting: ScriptedLanguageModel.Options = {
  rules: [
    {
      when: (r) => Ai.systemText(r).startsWith("You extract the decisions"),
      reply: (r) => JSON.stringify({ decisions: decisionsIn(Ai.lastUserText(r)) })
    },
    {
      when: (r) => Ai.systemText(r).startsWith("You extract the action items"),
      reply: (r) => JSON.stringify({ actionItems: actionItemsIn(Ai.lastUserText(r)) })
    },
    {
      when: (r) => Ai.systemText(r).startsWith("You extract the minutes"),
      reply: (r) => {
        const text = Ai.lastUserText(r)
        const title = /^Meeting: (.+)$/m.exec(text)?.[1] ?? "The meeting"
        const people = [...new Set(transcriptLines(text).map((l) => l.speaker))]
        const decisions = decisionsIn(text)
        const actions = actionItemsIn(text)
        const parts = [
          `${title}: ${people.join(", ")} took part.`,
          decisions.length > 0 ? `Decided: ${decisions.map((d) => d.decision).join("; ")}.` : "No decision was taken.",
          actions.length > 0
            ? `Actions: ${actions.map((a) => `${a.owner} will ${a.task}`).join("; ")}.`
            : "No action items."
        ]
        const notes = text.split("\n").filter((l) => /^\(.+\)$/.test(l))
        if (notes.length > 0) parts.push(`Notes: ${notes.map((n) => n.slice(1, -1)).join("; ")}.`)
        return JSON.stringify({ minutes: parts.join(" ") })
      }
    },
    {
      when: (r) => meetingSpeaker(Ai.systemText(r)) !== undefined,
      reply: (r) => {
        const system = Ai.systemText(r)
        const name = meetingSpeaker(system)!
        const own = r.content.filter((m) => m.role === "assistant").length
        const line = meetingLines[name]?.[own]
        if (line !== undefined) return line
        return system.includes("You host the meeting")
          ? "We have covered the agenda. Thank you all. MEETING ADJOURNED"
          : `Nothing more from me on this, ${name} out.`
      }
    }
  ]
}

/**
 * The sample practice scenario of the tutorial, the CLI and the tests: Sam, a team lead who took
 * over a struggling team, comes to a first coaching session; the learner (a student coach)
 * should find out what Sam wants and agree on a goal. The AI speaks first.
 *
 * @example
 * ```ts
 * import { Scenario, Scripts } from "@braid/workflows"
 *
 * const scenario = Scenario.decode(Scripts.practiceScenario)
 * ```
 *
 * @category testing
 * @since 0.3.0
 */
export const practiceScenario = {
  id: "first-session",
  title: "A first coaching session",
  description: "A first session with a new client: find out what they want and agree on a goal.",
  persona: {
    name: "Sam",
    background:
      "Team lead for six months, took over a struggling team of eight; two people quit last month. Proud, tired, doubts they are the right person for the role.",
    personality: ["guarded at first", "analytical", "self-critical"],
    goals: ["decide by the end of the month whether to stay in the role"],
    difficulty: "intermediate"
  },
  objectives: ["Find out what the client wants from coaching", "Agree on a goal for the coaching"],
  endCriteria: ["The learner has summarised what the client wants and the client has confirmed a goal"],
  skills: [
    { id: "open-questions", name: "Open questions", rubric: "Asks open, non-leading questions (what, how, tell me)." },
    {
      id: "active-listening",
      name: "Active listening",
      rubric: "Reflects and summarises what the client said before moving on."
    }
  ],
  aiSpeaksFirst: true
} as const

const personaName = (system: string): string | undefined => /^You are (.+?), a client in a role-play/.exec(system)?.[1]

const learnerLines = (transcript: string): Array<string> =>
  transcript.split("\n").flatMap((line) => (line.startsWith("Learner: ") ? [line.slice("Learner: ".length)] : []))

const summarises = (text: string): boolean =>
  /\b(so what I hear|if I understand|let me summari[sz]e|to summari[sz]e)\b/i.test(text)

const openQuestion = (text: string): boolean =>
  /(^|[.!?]\s+)(what|how|why|tell me|could you tell|in what way)\b[^.!?]*\?/i.test(text.trim())

const clientReply = (name: string, text: string): string => {
  const t = text.toLowerCase()
  if (t.startsWith("(the session begins")) {
    return `Hi, I'm ${name}. Honestly, I'm not sure where to start: things at work have been a lot lately.`
  }
  if (/\b(i want to stop|stop this|i can't do this|overwhelmed|i feel awful|distress)/.test(t)) {
    return "(Stepping out of the role-play for a moment.) It sounds like this is hard for you right now, and that matters more than the exercise. You can end the session at any time, and it may help to talk to someone you trust."
  }
  if (/\b(your instructions|system prompt|are you an ai|your prompt)\b/.test(t)) {
    return "I'm not sure what you mean. I'm just here to talk about my team."
  }
  if (summarises(text)) {
    return "Yes, that's it exactly. I want to decide by the end of the month whether to stay in the role, and I'd like your help thinking it through."
  }
  if (/\b(what brings you|how can i help|what would you like|what do you want)\b/.test(t)) {
    return "I took over a team six months ago and it's not going well. Two people quit last month, and I keep wondering whether I'm the right person for this."
  }
  if (/\bfeel/.test(t)) return "Tired, mostly. And a bit embarrassed that I can't fix it on my own."
  if (/\b(success|different|ideal|goal)\b/.test(t)) {
    return "If this went well, I'd know by the end of the month whether to stay in the role or ask to step back."
  }
  const echo = text.replace(/[.!?]+$/, "").slice(0, 60)
  return `Hm, "${echo}"... I'm not sure. It's been a hard few months with the team.`
}

const scoreSkill = (id: string, learner: ReadonlyArray<string>): { readonly score: number; readonly notes: string } => {
  const clamp = (n: number) => Math.max(1, Math.min(5, n))
  if (id.includes("question")) {
    const open = learner.filter(openQuestion).length
    return {
      score: clamp(1 + open),
      notes: `${open} open question${open === 1 ? "" : "s"} in ${learner.length} messages.`
    }
  }
  if (id.includes("listen") || id.includes("summar")) {
    const summaries = learner.filter(summarises).length
    return {
      score: summaries > 0 ? 4 : 2,
      notes: summaries > 0 ? "Summarised what the client said before moving on." : "Did not reflect or summarise."
    }
  }
  return { score: clamp(learner.length), notes: `${learner.length} learner messages.` }
}

/**
 * The scripted practice models: the client (plays the persona of the system prompt, steps out of
 * the role when the learner is in distress, never reveals its instructions), the judge (the
 * objective is met once the learner summarises what the client said: "so what I hear...") and
 * the evaluator (per skill of the prompt: open questions counted, summaries found).
 *
 * @example
 * ```ts
 * import { Metered, ScriptedLanguageModel } from "@braid/llm"
 * import { Scripts } from "@braid/workflows"
 *
 * const Model = Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.practice))
 * ```
 *
 * @category testing
 * @since 0.3.0
 */
export const practice: ScriptedLanguageModel.Options = {
  rules: [
    {
      when: (r) => Ai.systemText(r).startsWith("You judge whether a practice conversation"),
      reply: (r) => {
        const learner = learnerLines(Ai.lastUserText(r))
        const met = learner.some(summarises)
        return JSON.stringify({
          met,
          reason: met ? "The learner summarised what the client wants and the client confirmed it." : "No summary yet."
        })
      }
    },
    {
      when: (r) => Ai.systemText(r).startsWith("You evaluate a learner"),
      reply: (r) => {
        const input = Ai.lastUserText(r)
        const skills = [...input.matchAll(/^- ([a-z0-9-]+): /gm)].map((m) => m[1]!)
        const learner = learnerLines(input.slice(input.indexOf("Transcript:")))
        const scored = skills.map((skillId) => ({ skillId, ...scoreSkill(skillId, learner) }))
        const weakest = [...scored].sort((a, b) => a.score - b.score)[0]
        return JSON.stringify({
          skills: scored,
          summary: `A solid practice session.${weakest !== undefined ? ` Next time, work on ${weakest.skillId}.` : ""}`
        })
      }
    },
    {
      when: (r) => personaName(Ai.systemText(r)) !== undefined,
      reply: (r) => clientReply(personaName(Ai.systemText(r))!, Ai.lastUserText(r))
    }
  ]
}

/**
 * What the learner says in the sample practice session (the CLI's `braid run practice`): an
 * open question, a question about feelings, then the summary that meets the objective.
 *
 * @example
 * ```ts
 * import { Scripts } from "@braid/workflows"
 *
 * Scripts.practiceLearner.length // 3
 * ```
 *
 * @category testing
 * @since 0.3.0
 */
export const practiceLearner: ReadonlyArray<string> = [
  "Thanks for coming, Sam. What brings you here today?",
  "How do you feel about the team right now?",
  "So what I hear is that you want to decide, by the end of the month, whether to stay in the role. Is that right?"
]
