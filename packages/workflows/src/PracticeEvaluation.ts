/**
 * The evaluation of a learner after a practice session: a job per session in the
 * `SessionStore`, run by a worker with the evaluator model.
 *
 * ```
 * enqueue ──▶ pending ──claim (CAS)──▶ running ──▶ completed ──▶ EvaluationReady(completed)
 *               ▲                         │
 *               └── backoff (nextAttemptAt) ◀── failed attempt, attempts < max
 *                                         └──▶ failed ──▶ EvaluationReady(failed) ── requeue (admin) ──▶ pending
 * ```
 *
 * - `enqueue` is idempotent (one job per session: `store.enqueueEvaluation`).
 * - A worker claims a due pending job with the store's compare-and-set (`updateEvaluation`), so
 *   two workers (two processes on one PostgreSQL) never run one job twice, and a result is
 *   written and announced once.
 * - The evaluator model answers with structured output (`generateObject`): per skill of the
 *   scenario a score from 1 to 5 and notes, and a summary; `overall` is the mean of the scores.
 *   An answer that misses a skill of the scenario, or scores one it does not have, is a failed
 *   attempt.
 * - A failed attempt goes back to pending with an exponential backoff (`nextAttemptAt`), up to
 *   `maxAttempts`, then the job is `failed` (and logged in the store's error log);
 *   `requeue` (admins) puts a failed job back to pending.
 *
 * Time is Effect's `Clock`: the backoff and the worker's polling are driven by `TestClock` in
 * tests.
 *
 * @since 0.3.0
 */
import { Attributes } from "@braid/core"
import { Ai, Metered } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import type { Duration } from "effect"
import { Clock, Duration as D, Effect, Schema } from "effect"
import type { SessionNotFound, SessionStoreError } from "./Errors.js"
import { Forbidden, InvalidInput } from "./Errors.js"
import { buildPolicies, durationOption } from "./internal/decode.js"
import type { CallPolicy, Publish } from "./internal/practice.js"
import { guarded, publisher, summarize, transcriptText, typed } from "./internal/practice.js"
import type * as Scenario from "./Scenario.js"
import * as SessionEvents from "./SessionEvents.js"
import type { EvaluationRecord, EvaluationResult, MessageRecord, Principal, SessionRecord } from "./SessionStore.js"
import { SessionStore, system } from "./SessionStore.js"
import * as Transcript from "./Transcript.js"

/**
 * What the evaluator model answers (structured output).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { PracticeEvaluation } from "@braid/workflows"
 *
 * Schema.decodeUnknownSync(PracticeEvaluation.Assessment)({
 *   skills: [{ skillId: "open-questions", score: 4, notes: "Mostly open questions." }],
 *   summary: "A good first session."
 * })
 * ```
 *
 * @category schemas
 * @since 0.3.0
 */
export const Assessment = Schema.Struct({
  skills: Schema.Array(Schema.Struct({
    skillId: Schema.String,
    score: Schema.Int.pipe(Schema.between(1, 5)),
    notes: Schema.String
  })),
  summary: Schema.String
})

/**
 * @category models
 * @since 0.3.0
 */
export type Assessment = typeof Assessment.Type

/**
 * What an evaluator is given.
 *
 * @category models
 * @since 0.3.0
 */
export interface EvaluatorInput {
  readonly session: SessionRecord
  readonly scenario: Scenario.Scenario
  readonly messages: ReadonlyArray<MessageRecord>
}

/**
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** The evaluator's model (default: the LanguageModel's default). */
  readonly model?: string
  /** Attempts of a job before it is `failed`. Default 3. */
  readonly maxAttempts?: number
  /** The delay after the first failed attempt, doubled after each. Default 30 seconds. */
  readonly backoff?: Duration.DurationInput
  /** The cap of the backoff. Default 10 minutes. */
  readonly maxBackoff?: Duration.DurationInput
  /** How often `worker` looks for due jobs. Default 5 seconds. */
  readonly pollInterval?: Duration.DurationInput
  /** The bound of one evaluator call (inside its retry). Default 60 seconds. */
  readonly timeout?: Duration.DurationInput
}

/**
 * The evaluation service.
 *
 * @category models
 * @since 0.3.0
 */
export interface Evaluator {
  /** Creates the job of a completed session (idempotent: the existing job otherwise). */
  readonly enqueue: (session: SessionRecord) => Effect.Effect<EvaluationRecord, SessionStoreError>
  /**
   * Claims and runs the job of a session if it is pending and due (among the 100 oldest due
   * jobs); the job as it is afterwards, `undefined` when no such job is due. Claimed by another
   * worker meanwhile: returned as that worker left it, untouched.
   */
  readonly process: (sessionId: string) => Effect.Effect<EvaluationRecord | undefined, SessionStoreError>
  /** Runs every due pending job; how many it claimed. */
  readonly runDue: Effect.Effect<number, SessionStoreError>
  /** `runDue` every `pollInterval`, forever (fork it in a scope). Store failures are logged, not fatal. */
  readonly worker: Effect.Effect<never>
  /**
   * Waits until the session's evaluation is completed or failed (reading it as `principal` may:
   * ownership checked), checking every `interval` (default 100 ms) for at most `timeout` (default
   * 2 minutes); the job as it is then (`undefined` when the session has none).
   */
  readonly settled: (
    principal: Principal,
    sessionId: string,
    options?: { readonly interval?: Duration.DurationInput; readonly timeout?: Duration.DurationInput }
  ) => Effect.Effect<EvaluationRecord | undefined, SessionStoreError | SessionNotFound>
  /** Puts a failed job back to pending (admins of the session's organization only). */
  readonly requeue: (
    principal: Principal,
    sessionId: string
  ) => Effect.Effect<EvaluationRecord, SessionStoreError | SessionNotFound | Forbidden>
}

const instructions =
  "You evaluate a learner who practised a conversation with a simulated client. Score each skill from 1 (poor) to 5 (excellent) against its rubric, using only the learner's messages as evidence, with one or two sentences of notes citing what the learner said. Then write a short, encouraging summary with one concrete thing to practise next."

/**
 * The prompt of the evaluator (the skills with their rubrics, then the transcript).
 *
 * @example
 * ```ts
 * import { PracticeEvaluation } from "@braid/workflows"
 *
 * const render = PracticeEvaluation.prompt
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const prompt = (input: EvaluatorInput): Ai.Prompt.RawInput => [
  { role: "system", content: instructions },
  {
    role: "user",
    content: [
      `Scenario: ${input.scenario.title}`,
      `Objectives:\n${input.scenario.objectives.map((o) => `- ${o}`).join("\n")}`,
      `Skills:\n${input.scenario.skills.map((s) => `- ${s.id}: ${s.name}. Rubric: ${s.rubric}`).join("\n")}`,
      `Transcript:\n${transcriptText(input.messages, input.scenario.persona.name)}`
    ].join("\n\n")
  }
]

/**
 * Checks an assessment against the scenario's skills and computes the overall score (the mean):
 * the result, or why it cannot be used.
 *
 * @example
 * ```ts
 * import { PracticeEvaluation, Scripts } from "@braid/workflows"
 *
 * const result = PracticeEvaluation.toResult(Scripts.practiceScenario.skills, {
 *   skills: Scripts.practiceScenario.skills.map((s) => ({ skillId: s.id, score: 4, notes: "ok" })),
 *   summary: "Good."
 * }) // { _tag: "Right", right: { overall: 4, ... } }
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const toResult = (
  skills: ReadonlyArray<{ readonly id: string }>,
  assessment: Assessment
): { readonly _tag: "Right"; readonly right: EvaluationResult } | { readonly _tag: "Left"; readonly left: string } => {
  const wanted = new Set(skills.map((s) => s.id))
  const seen = new Set<string>()
  for (const s of assessment.skills) {
    if (!wanted.has(s.skillId)) return { _tag: "Left", left: `scored an unknown skill "${s.skillId}"` }
    if (seen.has(s.skillId)) return { _tag: "Left", left: `scored the skill "${s.skillId}" twice` }
    seen.add(s.skillId)
  }
  const missing = [...wanted].filter((id) => !seen.has(id))
  if (missing.length > 0) return { _tag: "Left", left: `did not score ${missing.join(", ")}` }
  const ordered = skills.map((k) => assessment.skills.find((s) => s.skillId === k.id)!)
  const overall = ordered.reduce((sum, s) => sum + s.score, 0) / ordered.length
  return { _tag: "Right", right: { skills: ordered, overall, summary: assessment.summary, costUsd: 0 } }
}

class AssessmentRejected extends Schema.TaggedError<AssessmentRejected>()("AssessmentRejected", {
  reason: Schema.String
}) {
  override get message(): string {
    return `the evaluator's answer was rejected: ${this.reason}`
  }
}

/**
 * The evaluator's model step with its policies (an `invoke_agent evaluator` primitive: timeout on
 * each attempt inside a retry, behind the breaker of `policy` if any): the structured assessment
 * of a session.
 *
 * @example
 * ```ts
 * import { PracticeEvaluation } from "@braid/workflows"
 *
 * const evaluator = PracticeEvaluation.step({ timeout: "60 seconds" })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const step = (options: Options & { readonly policy?: CallPolicy } = {}) =>
  guarded(
    "evaluator",
    (input: EvaluatorInput) =>
      typed(Ai.LanguageModel.generateObject({ prompt: prompt(input), schema: Assessment, objectName: "evaluation" }))
        .pipe(Ai.withSettings({ agent: "evaluator", maxTokens: 1200, model: options.model })),
    { ...options.policy, timeout: options.timeout ?? options.policy?.timeout ?? "60 seconds" }
  )

/**
 * Builds the evaluation service on the `SessionStore` and the `LanguageModel` in context (and the
 * `EventBus`, when there is one: `EvaluationReady` is published on it). A bad option is
 * `InvalidInput` naming it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PracticeEvaluation } from "@braid/workflows"
 *
 * const program = Effect.gen(function*() {
 *   const evaluation = yield* PracticeEvaluation.make({ maxAttempts: 3, backoff: "30 seconds" })
 *   yield* Effect.forkScoped(evaluation.worker)
 * })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (
  options: Options & {
    /** The policies of the evaluator's calls (the workflow's, when `Practice` builds it). */
    readonly policy?: CallPolicy
    /** How `EvaluationReady` is published (the workflow's ordered publisher, when `Practice` builds it). */
    readonly publish?: Publish
  } = {}
): Effect.Effect<Evaluator, InvalidInput, SessionStore | Ai.LanguageModel.LanguageModel> =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const context = yield* Effect.context<Ai.LanguageModel.LanguageModel>()
    const publish = options.publish ?? publisher(yield* Effect.serviceOption(EventBus.EventBus))
    const maxAttempts = options.maxAttempts ?? 3
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      return yield* new InvalidInput({ field: "maxAttempts", reason: `must be a positive integer, got ${maxAttempts}` })
    }
    const base = D.toMillis(yield* durationOption("backoff", options.backoff, "30 seconds"))
    const cap = D.toMillis(yield* durationOption("maxBackoff", options.maxBackoff, "10 minutes"))
    const poll = yield* durationOption("pollInterval", options.pollInterval, "5 seconds")
    const assess = yield* buildPolicies(() => step(options), "timeout")

    const evaluate = (job: EvaluationRecord) =>
      Effect.gen(function*() {
        const principal = system(job.tenant)
        const session = yield* store.getSession(principal, job.sessionId)
        if (session.scenarioId === undefined) {
          return yield* new AssessmentRejected({ reason: "the session has no scenario" })
        }
        const scenario = yield* store.getScenario(principal, session.scenarioId)
        const messages = yield* Transcript.messages(principal, job.sessionId)
        const response = yield* assess.invoke({ session, scenario, messages })
        const checked = toResult(scenario.skills, response.value)
        if (checked._tag === "Left") return yield* new AssessmentRejected({ reason: checked.left })
        const usage = Metered.usageOf(response)
        return {
          ...checked.right,
          costUsd: usage?.costUsd ?? 0,
          ...(usage !== undefined ? { model: usage.model } : {})
        } satisfies EvaluationResult
      }).pipe(Effect.provideService(SessionStore, store), Effect.provide(context))

    const announce = (job: EvaluationRecord) =>
      publish(SessionEvents.EvaluationReady, {
        tenant: job.tenant,
        sessionId: job.sessionId,
        userId: job.userId,
        status: job.status === "completed" ? "completed" : "failed",
        ...(job.result !== undefined ? { overall: job.result.overall } : {}),
        queuedAt: job.createdAt
      })

    const run = (job: EvaluationRecord): Effect.Effect<EvaluationRecord, SessionStoreError> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const claimed: EvaluationRecord = { ...job, status: "running", attempts: job.attempts + 1, updatedAt: now }
        const { nextAttemptAt: _, ...rest } = claimed
        const running: EvaluationRecord = rest
        if (!(yield* store.updateEvaluation(job, running))) {
          return (yield* store.getEvaluation(system(job.tenant), job.sessionId).pipe(
            Effect.catchTag("SessionNotFound", () => Effect.succeed(undefined))
          )) ?? job
        }
        const outcome = yield* Effect.either(evaluate(running))
        const at = yield* Clock.currentTimeMillis
        let next: EvaluationRecord
        if (outcome._tag === "Right") {
          const { error: _e, ...clean } = running
          next = { ...clean, status: "completed", updatedAt: at, completedAt: at, result: outcome.right }
        } else {
          const error = summarize(outcome.left)
          const last = running.attempts >= maxAttempts
          next = last
            ? { ...running, status: "failed", updatedAt: at, error }
            : {
              ...running,
              status: "pending",
              updatedAt: at,
              error,
              nextAttemptAt: at + Math.min(cap, base * 2 ** (running.attempts - 1))
            }
          if (last) {
            yield* Effect.ignore(store.recordError({
              tenant: job.tenant,
              at,
              severity: "error",
              source: "evaluation",
              message: `evaluation failed after ${running.attempts} attempts: ${error}`,
              sessionId: job.sessionId
            }))
          }
        }
        // Only the worker that holds the claim may write the outcome, and announce it.
        if (yield* store.updateEvaluation(running, next)) {
          if (next.status === "completed" || next.status === "failed") yield* announce(next)
        }
        return next
      }).pipe(
        Effect.withSpan("PracticeEvaluation.run", { attributes: { [Attributes.Braid.sessionId]: job.sessionId } })
      )

    const process = (sessionId: string) =>
      Effect.gen(function*() {
        const found = yield* store.evaluationsByStatus("pending", { now: yield* Clock.currentTimeMillis, limit: 100 })
        const job = found.find((j) => j.sessionId === sessionId)
        return job === undefined ? undefined : yield* run(job)
      })

    const runDue = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const due = yield* store.evaluationsByStatus("pending", { now, limit: 20 })
      yield* Effect.forEach(due, run, { concurrency: 4, discard: true })
      return due.length
    })

    const worker: Effect.Effect<never> = Effect.forever(
      Effect.zipRight(
        Effect.catchAll(runDue, (e) => Effect.logWarning(`practice evaluation worker: ${summarize(e)}`)),
        Effect.sleep(poll)
      )
    )

    const enqueue = (session: SessionRecord) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        store.enqueueEvaluation({
          sessionId: session.id,
          tenant: session.tenant,
          userId: session.userId,
          status: "pending",
          attempts: 0,
          createdAt: now,
          updatedAt: now,
          nextAttemptAt: now
        }))

    const requeue = (principal: Principal, sessionId: string) =>
      Effect.gen(function*() {
        if (principal.role !== "admin") {
          return yield* new Forbidden({ operation: "requeue", reason: "only an admin can requeue an evaluation" })
        }
        const job = yield* store.getEvaluation(principal, sessionId)
        if (job === undefined || job.status !== "failed") {
          return yield* new Forbidden({
            operation: "requeue",
            reason: job === undefined ? "the session has no evaluation" : `the evaluation is ${job.status}, not failed`
          })
        }
        const now = yield* Clock.currentTimeMillis
        const next: EvaluationRecord = { ...job, status: "pending", attempts: 0, updatedAt: now, nextAttemptAt: now }
        if (!(yield* store.updateEvaluation(job, next))) {
          return yield* new Forbidden({ operation: "requeue", reason: "the evaluation changed meanwhile; try again" })
        }
        return next
      })

    const settled: Evaluator["settled"] = (principal, sessionId, waitOptions = {}) =>
      Effect.gen(function*() {
        const interval = waitOptions.interval ?? "100 millis"
        const until = (yield* Clock.currentTimeMillis) + D.toMillis(D.decode(waitOptions.timeout ?? "2 minutes"))
        while (true) {
          const job = yield* store.getEvaluation(principal, sessionId)
          if (job === undefined || job.status === "completed" || job.status === "failed") return job
          if ((yield* Clock.currentTimeMillis) >= until) return job
          yield* Effect.sleep(interval)
        }
      })

    return { enqueue, process, runDue, worker, settled, requeue } satisfies Evaluator
  })
