/**
 * Transcripts of sessions: every message of a session read through the store (ownership checked:
 * a learner exports only their own sessions), and the export of a session with its evaluation to
 * Markdown.
 *
 * @since 0.3.0
 */
import { Effect } from "effect"
import type { InvalidInput, ScenarioNotFound, SessionNotFound, SessionStoreError } from "./Errors.js"
import type * as Scenario from "./Scenario.js"
import type { EvaluationRecord, MessageRecord, Principal, SessionRecord } from "./SessionStore.js"
import { SessionStore } from "./SessionStore.js"

/**
 * What a transcript is made of.
 *
 * @category models
 * @since 0.3.0
 */
export interface Transcript {
  readonly session: SessionRecord
  readonly scenario?: Scenario.Scenario | undefined
  readonly messages: ReadonlyArray<MessageRecord>
  readonly evaluation?: EvaluationRecord | undefined
}

/**
 * Every message of a session, in order (all pages), as `principal` may see them.
 *
 * @example
 * ```ts
 * import { Transcript } from "@braid/workflows"
 *
 * const ada = { userId: "ada", role: "learner", tenant: "default" } as const
 * const messages = Transcript.messages(ada, "s-1")
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const messages = (
  principal: Principal,
  sessionId: string
): Effect.Effect<
  ReadonlyArray<MessageRecord>,
  SessionStoreError | SessionNotFound | InvalidInput,
  SessionStore
> =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const out: Array<MessageRecord> = []
    let cursor: string | undefined
    do {
      const page = yield* store.messages(principal, sessionId, {
        limit: 500,
        ...(cursor !== undefined ? { cursor } : {})
      })
      out.push(...page.items)
      cursor = page.nextCursor
    } while (cursor !== undefined)
    return out
  })

/**
 * A session, its scenario (when it still exists), its messages and its evaluation, read through
 * the store as `principal` may see them.
 *
 * @example
 * ```ts
 * import { Transcript } from "@braid/workflows"
 *
 * const ada = { userId: "ada", role: "learner", tenant: "default" } as const
 * const transcript = Transcript.load(ada, "s-1")
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const load = Effect.fn("Transcript.load")(function*(principal: Principal, sessionId: string) {
  const store = yield* SessionStore
  const session = yield* store.getSession(principal, sessionId)
  const scenario = session.scenarioId === undefined
    ? undefined
    : yield* Effect.catchTag(
      store.getScenario(principal, session.scenarioId),
      "ScenarioNotFound",
      (_: ScenarioNotFound) => Effect.succeed(undefined)
    )
  const all = yield* messages(principal, sessionId)
  const evaluation = yield* store.getEvaluation(principal, sessionId)
  return { session, scenario, messages: all, evaluation } satisfies Transcript
})

const iso = (millis: number | undefined): string => millis === undefined ? "-" : new Date(millis).toISOString()

/** Markdown-safe one-line text (table cells, headings). */
const inline = (text: string): string => text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|")

/** Quotes a message so that its own Markdown cannot break the document's structure. */
const quote = (text: string): string => text.split(/\r?\n/).map((line) => (line === "" ? ">" : `> ${line}`)).join("\n")

/**
 * The transcript as Markdown: a header with the scenario, the status, the end reason and the
 * times; every message (quoted, with fallback replies marked); and the evaluation, per skill and
 * overall, when there is one.
 *
 * @example
 * ```ts
 * import { Transcript } from "@braid/workflows"
 *
 * const markdown = Transcript.toMarkdown({
 *   session: {
 *     id: "s-1", tenant: "default", userId: "ada", kind: "practice", status: "completed", createdAt: 0,
 *     totals: { messages: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, fallbacks: 0 }, metadata: {}
 *   },
 *   messages: []
 * })
 * ```
 *
 * @category encoding
 * @since 0.3.0
 */
export const toMarkdown = (transcript: Transcript): string => {
  const { evaluation, scenario, session } = transcript
  const persona = scenario?.persona.name ?? "Client"
  const lines: Array<string> = [
    `# ${inline(scenario?.title ?? session.title ?? `Session ${session.id}`)}`,
    "",
    `- Session: ${inline(session.id)}`,
    `- Learner: ${inline(session.userId)}`
  ]
  if (scenario !== undefined) lines.push(`- Scenario: ${inline(scenario.id)} (client: ${inline(persona)})`)
  if (session.previousSessionId !== undefined) lines.push(`- Practises again: ${inline(session.previousSessionId)}`)
  lines.push(`- Status: ${session.status}${session.endReason !== undefined ? ` (${session.endReason})` : ""}`)
  lines.push(`- Started: ${iso(session.startedAt ?? session.createdAt)}`)
  if (session.endedAt !== undefined) lines.push(`- Ended: ${iso(session.endedAt)}`)
  if (session.durationMs !== undefined) lines.push(`- Duration: ${Math.round(session.durationMs / 1000)} s`)
  lines.push(
    `- Tokens: ${session.totals.inputTokens} in, ${session.totals.outputTokens} out; cost $${
      session.totals.costUsd.toFixed(4)
    }`
  )
  lines.push("", "## Conversation", "")
  for (const m of transcript.messages) {
    if (m.role === "system") continue
    const who = m.role === "user" ? "Learner" : inline(persona)
    lines.push(`**${who}**${m.fallback ? " _(fallback reply: the model did not answer)_" : ""}:`, "", quote(m.text), "")
  }
  if (session.endMessage !== undefined) lines.push(`_${inline(session.endMessage)}_`, "")
  lines.push("## Evaluation", "")
  if (evaluation?.result === undefined) {
    lines.push(evaluation === undefined ? "Not evaluated." : `Evaluation ${evaluation.status}.`)
  } else {
    const names = new Map(scenario?.skills.map((s) => [s.id, s.name]) ?? [])
    lines.push("| Skill | Score | Notes |", "|---|---|---|")
    for (const s of evaluation.result.skills) {
      lines.push(`| ${inline(names.get(s.skillId) ?? s.skillId)} | ${s.score}/5 | ${inline(s.notes)} |`)
    }
    lines.push("", `**Overall: ${evaluation.result.overall.toFixed(1)}/5**`, "", inline(evaluation.result.summary))
  }
  return lines.join("\n") + "\n"
}

/**
 * Exports a session with its evaluation to Markdown, ownership-checked through the store
 * (another learner's session is `SessionNotFound`).
 *
 * @example
 * ```ts
 * import { Transcript } from "@braid/workflows"
 *
 * const ada = { userId: "ada", role: "learner", tenant: "default" } as const
 * const markdown = Transcript.exportMarkdown(ada, "s-1")
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const exportMarkdown = (
  principal: Principal,
  sessionId: string
): Effect.Effect<string, SessionStoreError | SessionNotFound | InvalidInput, SessionStore> =>
  Effect.map(load(principal, sessionId), toMarkdown)
