/**
 * The evaluation workflow: scores finished conversations (one, or a dataset of them) on metrics,
 * persists one result per (run, conversation), compares two runs with a confidence interval and
 * gates regressions in CI.
 *
 * ```
 * conversations ─▶ forEach(conversation) ─▶ summarize
 *                   │
 *                   └─ lookup ─▶ stored? ─yes─▶ reuse stored result        (idempotent)
 *                                        └no──▶ parallel(metrics, each with retry) ─▶ persist
 * ```
 *
 * - Metrics: `relevance` (LLM-as-judge), `goalCoverage`, `questionQuality`, `objectiveMet`
 *   (objective checks against the scenario), any `judge({ rubric })`, any `metric(name, f)`.
 *   Every metric returns a score in [0, 1] with a reason.
 * - The judge is an `Agent` (named `<metric>Judge`) run through `Agent.structured`, which decodes
 *   its reply with Schema into a `Verdict` (`{ score, reason }`); an invalid reply is a transient
 *   `JudgeVerdictInvalid`.
 * - Each metric runs under `Models.policy`: attempts bounded by `modelTimeout` inside a retry
 *   (exponential backoff); a conversation whose metric keeps failing (or never answers) is
 *   reported in `failures` and not stored, so the next run retries it.
 * - Idempotent: a result already stored for (run, conversation) is reused and no model is
 *   called; storing uses `INSERT ... ON CONFLICT DO NOTHING`.
 *
 * @since 0.1.0
 */
import { Agent } from "@braid/agents"
import type { Primitive as P } from "@braid/core"
import { branch, forEach, parallel, Primitive, sequence } from "@braid/core"
import type { Ai } from "@braid/llm"
import type { Retry } from "@braid/resilience"
import type { Duration } from "effect"
import { Clock, Effect, Either, Schema } from "effect"
import type { Conversation } from "./Dataset.js"
import { EvaluationFailed, JudgeVerdictInvalid } from "./Errors.js"
import * as Gate from "./Gate.js"
import * as Models from "./Models.js"
import type { ConversationResult } from "./ResultStore.js"
import { ResultStore } from "./ResultStore.js"
import * as Statistics from "./Statistics.js"

/**
 * What a metric sees: the conversation under evaluation.
 *
 * @category models
 * @since 0.1.0
 */
export interface MetricInput {
  readonly conversation: Conversation
}

/**
 * A metric's verdict on one conversation: a score in [0, 1] (higher is better) and why.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Evaluation } from "@braid/eval"
 *
 * Schema.decodeUnknownSync(Evaluation.Verdict)({ score: 0.8, reason: "on topic" })
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Verdict = Schema.Struct({
  score: Schema.Number.pipe(Schema.between(0, 1)),
  reason: Schema.NonEmptyString
})

/**
 * @category models
 * @since 0.1.0
 */
export type Verdict = typeof Verdict.Type

/**
 * A metric: a named primitive from a conversation to a verdict.
 *
 * @category models
 * @since 0.1.0
 */
export interface Metric<out E = never, out R = never> {
  readonly name: string
  readonly primitive: P.Primitive<MetricInput, Verdict, E, R>
}

/**
 * A user metric from a function of the conversation.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Evaluation } from "@braid/eval"
 *
 * const brevity = Evaluation.metric("brevity", (c) => {
 *   const words = c.messages.filter((m) => m.role === "assistant").map((m) => m.content.split(/\s+/).length)
 *   const long = words.filter((n) => n > 80).length
 *   return Effect.succeed({ score: words.length === 0 ? 1 : 1 - long / words.length, reason: `${long} replies over 80 words` })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const metric = <E = never, R = never>(
  name: string,
  f: (conversation: Conversation) => Effect.Effect<Verdict, E, R>
): Metric<E, R> => ({
  name,
  primitive: Primitive.make(name, (input: MetricInput) => f(input.conversation), { kind: "metric" })
})

const words = (text: string): Array<string> => text.toLowerCase().match(/[a-z0-9']{4,}/g) ?? []
const assistantText = (c: Conversation) =>
  c.messages.filter((m) => m.role === "assistant").map((m) => m.content).join("\n").toLowerCase()
const round = (x: number) => Math.round(x * 1000) / 1000

/**
 * Goal coverage: the share of the scenario's goals that the assistant addressed (a goal counts
 * as addressed when most of its content words appear in the assistant's messages). Without
 * goals in the scenario the score is 1 ("nothing to cover").
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const metrics = [Evaluation.goalCoverage]
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const goalCoverage: Metric = metric("goalCoverage", (c) => {
  const goals = c.scenario?.goals ?? []
  if (goals.length === 0) return Effect.succeed({ score: 1, reason: "the scenario lists no goals" })
  const said = new Set(words(assistantText(c)))
  const missed: Array<string> = []
  for (const g of goals) {
    const ws = words(g)
    const hit = ws.length === 0 ? 1 : ws.filter((w) => said.has(w)).length / ws.length
    if (hit < 0.5) missed.push(g)
  }
  const covered = goals.length - missed.length
  return Effect.succeed({
    score: round(covered / goals.length),
    reason: missed.length === 0
      ? `all ${goals.length} goals addressed`
      : `${covered}/${goals.length} goals addressed; missed: ${missed.join("; ")}`
  })
})

/**
 * Question quality: coaching asks one open question at a time. The share of assistant replies
 * that ask exactly one question, open-ended (what/how/why/which/when/where/tell me), or none
 * when the reply closes the conversation.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const metrics = [Evaluation.questionQuality]
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const questionQuality: Metric = metric("questionQuality", (c) => {
  const replies = c.messages.filter((m) => m.role === "assistant")
  if (replies.length === 0) return Effect.succeed({ score: 0, reason: "the assistant never spoke" })
  let good = 0
  const problems: Array<string> = []
  replies.forEach((r, i) => {
    const questions = r.content.split(/(?<=[?])/).filter((s) => s.includes("?"))
    const last = i === replies.length - 1
    if (questions.length === 0) {
      if (last) good++
      else problems.push(`reply ${i + 1} asks nothing`)
    } else if (questions.length > 1) problems.push(`reply ${i + 1} asks ${questions.length} questions`)
    else if (/\b(what|how|why|which|when|where|tell me)\b/i.test(questions[0]!)) good++
    else problems.push(`reply ${i + 1} asks a closed question`)
  })
  return Effect.succeed({
    score: round(good / replies.length),
    reason: problems.length === 0
      ? `all ${replies.length} replies ask one open question (or close)`
      : problems.join("; ")
  })
})

/**
 * The objective check: was the scenario's objective met? With `successKeywords` in the scenario,
 * the share of them found in the conversation (1 when all are); without, the share of the
 * objective's content words the assistant used. No scenario: score 0 with the reason.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const metrics = [Evaluation.objectiveMet]
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const objectiveMet: Metric = metric("objectiveMet", (c) => {
  if (c.scenario === undefined) return Effect.succeed({ score: 0, reason: "the conversation has no scenario" })
  const all = c.messages.map((m) => m.content).join("\n").toLowerCase()
  const keywords = c.scenario.successKeywords ?? []
  if (keywords.length > 0) {
    const missing = keywords.filter((k) => !all.includes(k.toLowerCase()))
    return Effect.succeed({
      score: round((keywords.length - missing.length) / keywords.length),
      reason: missing.length === 0
        ? `objective met: ${c.scenario.objective}`
        : `objective not met; missing: ${missing.join(", ")}`
    })
  }
  const ws = words(c.scenario.objective)
  const said = new Set(words(assistantText(c)))
  const hit = ws.length === 0 ? 1 : ws.filter((w) => said.has(w)).length / ws.length
  return Effect.succeed({
    score: round(hit),
    reason: `${Math.round(hit * 100)}% of the objective's words addressed by the assistant`
  })
})

/**
 * The transcript as the judge reads it.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * Evaluation.transcript({ id: "c1", messages: [{ role: "user", content: "hi" }] }) // "Transcript:\nUSER: hi"
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const transcript = (c: Conversation): string =>
  [
    ...(c.scenario ? [`Objective: ${c.scenario.objective}`] : []),
    ...(c.scenario?.goals?.length ? [`Goals: ${c.scenario.goals.join("; ")}`] : []),
    "Transcript:",
    ...c.messages.map((m) => `${m.role === "user" ? "USER" : "ASSISTANT"}: ${m.content}`)
  ].join("\n")

const contentWords = (text: string): Set<string> =>
  new Set((text.toLowerCase().match(/[a-z']{4,}/g) ?? []).filter((w) => !STOP.has(w)))
const STOP = new Set([
  "that",
  "this",
  "with",
  "have",
  "what",
  "your",
  "from",
  "will",
  "would",
  "about",
  "there",
  "they",
  "them",
  "then",
  "than",
  "just",
  "like",
  "want",
  "when",
  "which",
  "been",
  "were",
  "into",
  "some",
  "today",
  "it's",
  "i'm",
  "you're"
])

/**
 * Lexical relevance of a transcript (`USER:` / `ASSISTANT:` lines): the share of assistant
 * replies that share a content word with the user message they answer. Cheap and deterministic:
 * the coaching workflow scores each exchange with it as the conversation goes, and the scripted
 * judge answers the relevance rubric with it.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * Evaluation.lexicalRelevance("USER: I want to run more\nASSISTANT: What stops you from running?")
 * // { score: 1, reason: "1 of 1 replies respond to the user's previous message" }
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const lexicalRelevance = (transcript: string): { readonly score: number; readonly reason: string } => {
  let lastUser: string | undefined
  let replies = 0
  let relevant = 0
  const drifted: Array<number> = []
  for (const line of transcript.split("\n")) {
    if (line.startsWith("USER: ")) lastUser = line.slice(6)
    else if (line.startsWith("ASSISTANT: ") && lastUser !== undefined) {
      replies++
      const u = contentWords(lastUser)
      const hit = [...contentWords(line.slice(11))].some((w) =>
        u.has(w) || u.has(w.replace(/s$/, "")) || u.has(w + "s")
      )
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
 * The lexical relevance as a metric (no model call).
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const metrics = [Evaluation.lexicalRelevanceMetric, Evaluation.goalCoverage]
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const lexicalRelevanceMetric: Metric = metric(
  "lexicalRelevance",
  (c) => Effect.succeed(lexicalRelevance(transcript(c)))
)

/**
 * The judge's system prompt for a rubric: it names the metric (first line `Judge: <metric>`,
 * which scripted judges key on) and demands a JSON verdict.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * Evaluation.judgeSystem("empathy", "1 when feelings are acknowledged").split("\n")[0] // "Judge: empathy"
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const judgeSystem = (name: string, rubric: string): string =>
  [
    `Judge: ${name}`,
    "You are a strict, fair evaluator of coaching conversations.",
    `Rubric: ${rubric}`,
    `Reply with JSON only, no prose: {"score": <number from 0 to 1>, "reason": "<one sentence>"}`
  ].join("\n")

/**
 * Parses a judge's reply into a `Verdict` with `Agent.decodeStructured` (the whole reply, JSON in
 * a fence, or the first `{...}` in prose, decoded with Schema). The judge metric itself runs its
 * agent through `Agent.structured`, which decodes the same way.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Evaluation } from "@braid/eval"
 *
 * const v = Effect.runSync(Evaluation.parseVerdict("relevance", 'Sure: {"score": 0.8, "reason": "on topic"}'))
 * // { score: 0.8, reason: "on topic" }
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseVerdict = (name: string, reply: string): Effect.Effect<Verdict, JudgeVerdictInvalid> =>
  Agent.decodeStructured(name, Verdict, reply).pipe(
    Effect.mapError((e) => new JudgeVerdictInvalid({ metric: name, reply, reason: e.message }))
  )

/**
 * An LLM-as-judge metric: the `LanguageModel` reads the transcript with the rubric and answers
 * with a Schema-decoded `Verdict`.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const empathy = Evaluation.judge({
 *   name: "empathy",
 *   rubric: "1 when the coach acknowledges the user's feelings before advising; 0 when it ignores them."
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const judge = (options: {
  readonly name: string
  readonly rubric: string
  /** The model to ask (default: the LanguageModel's default). */
  readonly model?: string
}) => {
  const agent = Agent.make({
    name: `${options.name}Judge`,
    description: `Judges ${options.name}`,
    instructions: judgeSystem(options.name, options.rubric),
    maxTokens: 300,
    temperature: 0,
    ...(options.model !== undefined ? { model: options.model } : {})
  })
  // `judgeSystem` already demands the JSON verdict (and scripted judges key on it): no extra instruction.
  const verdictOf = Agent.structured(agent, Verdict, { instruction: false })
  const metric: Metric<Primitive.Error<typeof agent> | JudgeVerdictInvalid, Ai.LanguageModel.LanguageModel> = {
    name: options.name,
    primitive: Primitive.make(
      options.name,
      (input: MetricInput) =>
        verdictOf.invoke({ messages: [Agent.user(transcript(input.conversation))] }).pipe(
          Effect.map((out) => out.value),
          Effect.catchTag("StructuredOutputInvalid", (e) =>
            Effect.fail(new JudgeVerdictInvalid({ metric: options.name, reply: e.reply, reason: e.message })))
        ),
      {
        kind: "judge",
        meta: { rubric: options.rubric.length > 60 ? options.rubric.slice(0, 57) + "..." : options.rubric },
        children: [{ key: verdictOf.name, primitive: verdictOf }]
      }
    )
  }
  return metric
}

/**
 * Relevance, judged by the model: do the assistant's replies address what the user said?
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const metrics = [Evaluation.relevance, Evaluation.goalCoverage]
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const relevance = judge({
  name: "relevance",
  rubric:
    "1 when every assistant reply responds directly to the user's previous message and stays on the objective; 0.5 when some replies drift; 0 when the replies ignore the user."
})

/**
 * The default metrics: relevance (judge), goal coverage, question quality, objective met.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const pipeline = Evaluation.make({ runId: "v1", metrics: [...Evaluation.defaultMetrics] })
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const defaultMetrics = [relevance, goalCoverage, questionQuality, objectiveMet] as const

/**
 * @category models
 * @since 0.1.0
 */
export interface Options<E, R> {
  /** The run's name: with the conversation id, the idempotency key of a result. */
  readonly runId: string
  readonly metrics: ReadonlyArray<Metric<E, R>>
  /** Retry of each metric. Default: 3 attempts, exponential from 200 ms, capped at 5 s. */
  readonly retry?: Retry.Options<unknown>
  /**
   * The bound of one attempt of each metric (a judge's model call), inside the retry: an attempt
   * that has not answered by then is interrupted and retried; after the last attempt the
   * conversation is in `failures` and its slot of `concurrency` is free. Default
   * `Models.defaultTimeout` (30 s).
   */
  readonly modelTimeout?: Duration.DurationInput
  /** Conversations evaluated at once. Default 4. */
  readonly concurrency?: number
}

/**
 * The report of a run.
 *
 * @category models
 * @since 0.1.0
 */
export interface Report {
  readonly runId: string
  readonly results: ReadonlyArray<ConversationResult & { readonly reused: boolean }>
  readonly failures: ReadonlyArray<EvaluationFailed>
  /** The mean of each metric over the evaluated conversations. */
  readonly means: Readonly<Record<string, number>>
}

const describeError = (e: unknown): string => {
  if (typeof e === "object" && e !== null) {
    const tag = "_tag" in e ? String((e as { _tag: unknown })._tag) : "Error"
    const msg = "message" in e ? String((e as { message: unknown }).message) : ""
    return msg ? `${tag}: ${msg}` : tag
  }
  return String(e)
}

/**
 * The per-conversation evaluation: reuse a stored result, or score every metric (each under a
 * retry policy) and persist.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const one = Evaluation.evaluateConversation({ runId: "v1", metrics: [Evaluation.goalCoverage] })
 * ```
 *
 * @category execution
 * @since 0.1.0
 */
export const evaluateConversation = <E, R>(
  options: Options<E, R>
): P.Primitive<Conversation, ConversationResult & { readonly reused: boolean }, EvaluationFailed, R | ResultStore> => {
  const { runId } = options
  const retry = options.retry ??
    { maxAttempts: 3, backoff: "exponential", baseDelay: "200 millis", maxDelay: "5 seconds" }
  const lookup = Primitive.make(
    "lookup",
    (conversation: Conversation) =>
      Effect.flatMap(ResultStore, (store) => store.get(runId, conversation.id)).pipe(
        Effect.map((stored) => ({ conversation, stored })),
        Effect.mapError((e) =>
          new EvaluationFailed({ conversationId: conversation.id, metric: "(store)", reason: e.message })
        )
      ),
    { kind: "store" }
  )
  type Looked = { readonly conversation: Conversation; readonly stored: ConversationResult | undefined }
  const reuse = Primitive.sync("reuseStored", (l: Looked) => ({ ...l.stored!, reused: true }))
  const metricsStruct: Record<string, P.Primitive<MetricInput, Verdict, unknown, R>> = {}
  for (const m of options.metrics) {
    metricsStruct[m.name] = m.primitive.pipe(Models.policy({
      ...(options.modelTimeout !== undefined ? { timeout: options.modelTimeout } : {}),
      retry,
      name: `retry(${m.name})`
    }))
  }
  const scoreMetrics = parallel(metricsStruct, { mode: "settle" }).pipe(Primitive.named("metrics"))
  const carry = Primitive.sync("conversation", (l: Looked) => l.conversation)
  const score = parallel({ conversation: carry, verdicts: scoreMetrics }).pipe(Primitive.named("score"))
  const persist = Primitive.make(
    "persist",
    (
      scored: {
        readonly conversation: Conversation
        readonly verdicts: Record<string, Either.Either<Verdict, unknown>>
      }
    ) =>
      Effect.gen(function*() {
        const id = scored.conversation.id
        const scores: Record<string, number> = {}
        const reasons: Record<string, string> = {}
        for (const [name, v] of Object.entries(scored.verdicts)) {
          if (Either.isLeft(v)) {
            return yield* new EvaluationFailed({ conversationId: id, metric: name, reason: describeError(v.left) })
          }
          scores[name] = v.right.score
          reasons[name] = v.right.reason
        }
        const store = yield* ResultStore
        const evaluatedAt = yield* Clock.currentTimeMillis
        const { result } = yield* store.put({ runId, conversationId: id, scores, reasons, evaluatedAt }).pipe(
          Effect.mapError((e) => new EvaluationFailed({ conversationId: id, metric: "(store)", reason: e.message }))
        )
        return { ...result, reused: false }
      }),
    { kind: "store" }
  )
  return sequence(
    lookup,
    branch((l: Looked) => l.stored !== undefined, reuse, sequence(score, persist).pipe(Primitive.named("evaluate")))
  ).pipe(Primitive.named("evaluateConversation"))
}

/**
 * The evaluation pipeline over a dataset: every conversation (at most `concurrency` at once),
 * then the report. Never fails for one conversation: failures are listed in the report.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Runner } from "@braid/core"
 * import { Metered, ScriptedLanguageModel } from "@braid/llm"
 * import { Evaluation, ResultStore } from "@braid/eval"
 *
 * const pipeline = Evaluation.make({ runId: "prompt-v1", metrics: [Evaluation.goalCoverage, Evaluation.questionQuality] })
 * const report = Runner.run(pipeline, []).pipe(Effect.provide(ResultStore.layerMemory))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <E, R>(
  options: Options<E, R>
): P.Primitive<ReadonlyArray<Conversation>, Report, never, R | ResultStore> => {
  const each = forEach(evaluateConversation(options), { concurrency: options.concurrency ?? 4, mode: "settle" })
  const summarize = Primitive.sync(
    "summarize",
    (
      settled: ReadonlyArray<Either.Either<ConversationResult & { readonly reused: boolean }, EvaluationFailed>>
    ): Report =>
      report(
        options,
        settled.filter(Either.isRight).map((r) => r.right),
        settled.filter(Either.isLeft).map((l) => l.left)
      )
  )
  return sequence(each, summarize).pipe(Primitive.named("evaluation"))
}

/**
 * The report of a run from its results and failures, in dataset order: the means of each metric
 * over the results. `make` ends with it; a run evaluated in pieces (a durable run, chunk by chunk)
 * builds the same report from the pieces.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const empty = Evaluation.report({ runId: "v1", metrics: [Evaluation.goalCoverage] }, [], []) // means: {}
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const report = (
  options: { readonly runId: string; readonly metrics: ReadonlyArray<{ readonly name: string }> },
  results: ReadonlyArray<ConversationResult & { readonly reused: boolean }>,
  failures: ReadonlyArray<EvaluationFailed>
): Report => {
  const means: Record<string, number> = {}
  for (const m of options.metrics) {
    const xs = results.map((r) => r.scores[m.name]).filter((x): x is number => typeof x === "number")
    if (xs.length > 0) means[m.name] = round(Statistics.mean(xs))
  }
  return { runId: options.runId, results, failures, means }
}

/**
 * The scores of a report, in the form `Statistics.compare` takes.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * const scored = Evaluation.scored({ runId: "v1", results: [], failures: [], means: {} }) // []
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const scored = (report: Report): ReadonlyArray<Statistics.ScoredConversation> =>
  report.results.map((r) => ({ conversationId: r.conversationId, scores: r.scores }))

/**
 * Compares a candidate run with a baseline run and applies the regression gate.
 *
 * @example
 * ```ts
 * import { Evaluation } from "@braid/eval"
 *
 * // const { comparisons, gate } = yield* Evaluation.compareRuns(baseline, candidate, { maxRegression: 0.05 })
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const compareRuns = (
  baseline: Report,
  candidate: Report,
  options: Statistics.CompareOptions & Gate.GateOptions = {}
) =>
  Effect.map(Statistics.compare(scored(baseline), scored(candidate), options), (comparisons) => ({
    comparisons,
    gate: Gate.check({ comparisons, means: candidate.means }, options)
  }))
