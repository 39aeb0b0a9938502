/**
 * The registry of workflows of the `braid` command: each with its pipeline (for
 * `braid describe`) and how `braid run` runs it (offline with the scripted model, or with Claude
 * when `ANTHROPIC_API_KEY` is set and `--offline` is not given).
 *
 * @since 0.1.0
 */
import { Runner } from "@braid/core"
import { Dataset, Evaluation, Gate, Models, ResultStore, Samples as EvalSamples } from "@braid/eval"
import { MeetingStore } from "@braid/meetings"
import { Memory } from "@braid/memory"
import { EventBus } from "@braid/messaging"
import { SqliteDriver, SqliteMemoryStore, SqliteResultStore, SqliteSessionStore } from "@braid/sqlite"
import { Coaching, MeetingRecords, MeetingWorkflow, Practice, Samples, Scripts, SessionStore } from "@braid/workflows"
import { Effect, Layer, Option } from "effect"
import type { Entry, RunOptions } from "./Registry.js"

const money = (x: number) => `$${x.toFixed(4)}`
const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)
const modeLine = (options: RunOptions) =>
  Effect.map(
    Models.mode({ offline: options.offline }),
    (m) => (m === "scripted" ? "model: scripted (offline)" : "model: Claude (ANTHROPIC_API_KEY)")
  )

const coaching: Entry = {
  name: "coaching",
  description: "A coaching day: morning goals with an observer, goals in memory, evening review",
  pipeline: Coaching.make().day,
  run: (options, say) =>
    Effect.gen(function*() {
      const workflow = Coaching.make({ modelTimeout: options.modelTimeout })
      say(yield* modeLine(options))
      const name = capitalize(options.user)
      const turns = Option.getOrUndefined(options.turns)
      const input: Coaching.DayInput = {
        ...Samples.coachingDay,
        profile: { ...Samples.coachingDay.profile, userId: options.user, name },
        morning: turns === undefined ? Samples.coachingDay.morning : Samples.coachingDay.morning.slice(0, turns)
      }
      const report = yield* Runner.run(workflow.day, input, { userId: options.user })
      for (const session of [report.morning, report.evening]) {
        say(`\n${session.phase} session (${session.endedBy})`)
        for (const m of session.messages) {
          say(`  ${m.role === "user" ? name : "Coach"}: ${m.content.replace(/\n/g, "\n    ")}`)
          if (options.verbose && m.role === "assistant") {
            say(
              `    [${m.usage.inputTokens} in / ${m.usage.outputTokens} out, ${money(m.costUsd)}${
                m.fallback ? `, fallback: ${m.fallbackCause ?? "unknown cause"}` : ""
              }]`
            )
          }
        }
      }
      if (report.insights.length > 0) {
        say("\nobserver insights")
        for (const i of report.insights) say(`  ${i}`)
      }
      const rel = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a")
      const replies = [...report.morning.messages, ...report.evening.messages].filter((m) => m.role === "assistant")
      const causes = [...new Set(replies.flatMap((m) => (m.fallback ? [m.fallbackCause ?? "unknown cause"] : [])))]
      // Every reply a fallback: the model was never reached (a bad key, no network): the run failed.
      const allFallback = replies.length > 0 && replies.every((m) => m.fallback)
      return {
        ok: !allFallback,
        lines: [
          `goals: ${report.goals.length === 0 ? "none set" : report.goals.join("; ")}`,
          `review: ${report.review ?? "not reached"}`,
          `morning: ${report.morning.endedBy}, ${report.morning.totals.messages} messages, relevance ${
            rel(report.morning.relevance)
          }, ${money(report.morning.totals.costUsd)}`,
          `evening: ${report.evening.endedBy}, ${report.evening.totals.messages} messages, relevance ${
            rel(report.evening.relevance)
          }, ${money(report.evening.totals.costUsd)}`,
          `fallback replies: ${report.totals.fallbacks}${
            allFallback ? " (every reply: the model was never reached)" : ""
          }`,
          ...causes.map((c) => `fallback cause: ${c}`),
          ...(Option.isSome(options.store)
            ? [`goals and insights remembered in ${options.store.value} (user scope "${options.user}")`]
            : [])
        ]
      }
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Models.layer(Scripts.coaching, { offline: options.offline }),
        Option.isSome(options.store)
          ? Memory.layer().pipe(Layer.provide(SqliteMemoryStore.layer({ filename: options.store.value })))
          : Memory.layerInMemory()
      ))
    )
}

const evaluation: Entry = {
  name: "evaluation",
  description: "Evaluate conversations (judge + objective checks), compare two prompts, gate regressions",
  pipeline: Evaluation.make({ runId: "cli", metrics: [...Evaluation.defaultMetrics] }),
  run: (options, say) =>
    Effect.gen(function*() {
      say(yield* modeLine(options))
      const metrics = [...Evaluation.defaultMetrics]
      const modelTimeout = options.modelTimeout
      const show = (report: Evaluation.Report) => {
        for (const r of report.results) {
          say(`  ${r.conversationId}${r.reused ? " (stored)" : ""}: ${
            Object.entries(r.scores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
          }`)
          if (options.verbose) {
            for (const [k, why] of Object.entries(r.reasons)) {
              say(`      ${k}: ${why}`)
            }
          }
        }
        for (const f of report.failures) {
          say(`  failed: ${f.message}`)
        }
      }
      if (Option.isSome(options.dataset)) {
        const conversations = yield* Dataset.load(options.dataset.value)
        say(`\nevaluating ${conversations.length} conversations of ${options.dataset.value}`)
        const report = yield* Runner.run(
          Evaluation.make({ runId: `dataset:${options.dataset.value}`, metrics, modelTimeout }),
          conversations
        )
        show(report)
        return {
          ok: report.failures.length === 0,
          lines: [
            ...Object.entries(report.means).map(([k, v]) =>
              `${k}: ${v.toFixed(3)}`
            ),
            `failures: ${report.failures.length}`
          ]
        }
      }
      say("\nbaseline: prompt v1")
      const v1 = yield* Runner.run(Evaluation.make({ runId: "prompt-v1", metrics, modelTimeout }), EvalSamples.promptV1)
      show(v1)
      say("\ncandidate: prompt v2")
      const v2 = yield* Runner.run(Evaluation.make({ runId: "prompt-v2", metrics, modelTimeout }), EvalSamples.promptV2)
      show(v2)
      const { gate } = yield* Evaluation.compareRuns(v1, v2, { maxRegression: 0.05 })
      say(`\nregression gate (candidate vs baseline):\n${Gate.format(gate)}`)
      return {
        ok: v1.failures.length === 0 && v2.failures.length === 0,
        lines: [
          `prompt v1: ${Object.entries(v1.means).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`,
          `prompt v2: ${Object.entries(v2.means).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`,
          `gate: ${
            gate.passed ? "PASSED" : `FAILED (${gate.failures.length} metrics regressed; braid eval would exit 1)`
          }`
        ]
      }
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Option.isSome(options.store) ? SqliteResultStore.layer(options.store.value) : ResultStore.layerMemory,
        Models.layer(EvalSamples.judgeScript, { offline: options.offline })
      ))
    )
}

const meeting: Entry = (() => {
  const config = { host: Samples.launchReview.host, participants: Samples.launchReview.participants }
  const workflow = MeetingWorkflow.make(config)
  return {
    name: "meeting",
    description: "A meeting: agenda, host and participants, turn policy, minutes, decisions and action items",
    pipeline: workflow.pipeline,
    run: (options, say) =>
      Effect.gen(function*() {
        say(yield* modeLine(options))
        const workflow = MeetingWorkflow.make({
          ...config,
          modelTimeout: options.modelTimeout,
          ...(Option.isSome(options.turns) ? { maxTurns: options.turns.value } : {})
        })
        const input = Option.isSome(options.topic)
          ? { ...Samples.launchReview.input, meetingId: `meeting-${Date.now()}`, title: options.topic.value }
          : { ...Samples.launchReview.input, meetingId: `launch-review-${Date.now()}` }
        const outcome = yield* Runner.run(workflow.pipeline, input)
        say(`\n${outcome.title}`)
        for (const line of outcome.transcript.split("\n")) say(`  ${line}`)
        say(`\nminutes: ${outcome.minutes}`)
        say("decisions:")
        for (const d of outcome.decisions) say(`  - ${d.decision}`)
        say("action items:")
        for (const a of outcome.actionItems) say(`  - ${a.owner}: ${a.task}${a.due ? ` (due ${a.due})` : ""}`)
        return {
          ok: true,
          lines: [
            `meeting ${outcome.meetingId}: ${outcome.turns} turns, ended by ${outcome.endedBy.condition}`,
            `${outcome.decisions.length} decisions, ${outcome.actionItems.length} action items`,
            ...(outcome.left.length > 0 ? [`left early: ${outcome.left.join(", ")}`] : []),
            ...(outcome.timedOut.length > 0 ? [`timed out: ${outcome.timedOut.join(", ")}`] : []),
            ...(Option.isSome(options.store) ? [`history persisted in ${options.store.value}`] : [])
          ]
        }
      }).pipe(
        Effect.provide(Layer.mergeAll(
          Models.layer(Scripts.meeting, { offline: options.offline }),
          EventBus.layerMemory,
          Option.isSome(options.store)
            ? Layer.merge(MeetingStore.layerSql, MeetingRecords.layerSql).pipe(
              Layer.provide(SqliteDriver.layer({ filename: options.store.value }))
            )
            : MeetingRecords.layerMemory
        ))
      )
  }
})()

const practice: Entry = {
  name: "practice",
  description:
    "A practice session: the AI plays a client from a scenario, a judge ends it, an evaluator scores the learner",
  pipeline: Practice.pipeline(),
  run: (options, say) =>
    Effect.scoped(Effect.gen(function*() {
      say(yield* modeLine(options))
      const learner = { userId: options.user, role: "learner" as const, tenant: "default" }
      const name = capitalize(options.user)
      const scenario = yield* Practice.catalogue.put({ userId: "teacher", role: "teacher" }, Scripts.practiceScenario)
      const workflow = yield* Practice.make({
        modelTimeout: options.modelTimeout,
        ...(Option.isSome(options.turns) ? { maxTurns: options.turns.value } : {})
      })
      say(`\nscenario: ${scenario.title} (client: ${scenario.persona.name})`)
      const started = yield* workflow.start(learner, scenario.id)
      const id = started.session.id
      const show = (m: SessionStore.MessageRecord | undefined) => {
        if (m === undefined) return
        say(`  ${scenario.persona.name}: ${m.text}`)
        if (options.verbose) {
          say(
            `    [${m.inputTokens} in / ${m.outputTokens} out, ${money(m.costUsd)}${
              m.fallback ? `, fallback: ${m.fallbackCause ?? "unknown cause"}` : ""
            }]`
          )
        }
      }
      show(started.opening)
      let session = started.session
      for (const text of Scripts.practiceLearner) {
        if (session.status === "completed") break
        say(`  ${name}: ${text}`)
        const turn = yield* workflow.send(learner, id, text)
        show(turn.reply)
        if (options.verbose && turn.verdict !== undefined) {
          say(`    [judge: ${turn.verdict.met ? "met" : "not met"}: ${turn.verdict.reason}]`)
        }
        session = turn.session
      }
      if (session.status !== "completed") session = yield* workflow.end(learner, id)
      say(`\nsession ended: ${session.endReason}${session.endMessage !== undefined ? ` (${session.endMessage})` : ""}`)
      const evaluation = yield* workflow.evaluation!.settled(learner, id)
      const result = evaluation?.result
      if (result !== undefined) {
        say("evaluation")
        for (const s of result.skills) say(`  ${s.skillId}: ${s.score}/5: ${s.notes}`)
        say(`  ${result.summary}`)
      }
      const replies = session.totals.messages - Scripts.practiceLearner.length
      return {
        ok: evaluation?.status === "completed" && session.totals.fallbacks < Math.max(1, replies),
        lines: [
          `session: ${session.endReason}, ${session.totals.messages} messages, ${money(session.totals.costUsd)}`,
          `evaluation: ${
            result !== undefined
              ? `overall ${result.overall.toFixed(1)}/5 (${
                result.skills.map((s) => `${s.skillId} ${s.score}`).join(", ")
              })`
              : `${evaluation?.status ?? "none"}${evaluation?.error !== undefined ? `: ${evaluation.error}` : ""}`
          }`,
          `fallback replies: ${session.totals.fallbacks}`,
          ...(Option.isSome(options.store) ? [`session and evaluation stored in ${options.store.value}`] : [])
        ]
      }
    })).pipe(
      Effect.provide(Layer.mergeAll(
        Models.layer(Scripts.practice, { offline: options.offline }),
        EventBus.layerMemory,
        Option.isSome(options.store) ? SqliteSessionStore.layer(options.store.value) : SessionStore.layerMemory
      ))
    )
}

/**
 * Every workflow the CLI knows.
 *
 * @example
 * ```ts
 * import { Workflows } from "@braid/cli"
 *
 * const names = Workflows.registry.map((w) => w.name) // ["coaching", "evaluation", "meeting", "practice"]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const registry: ReadonlyArray<Entry> = [coaching, evaluation, meeting, practice]
