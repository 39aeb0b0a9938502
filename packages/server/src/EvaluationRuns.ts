/**
 * Evaluation runs over HTTP: a teacher or an admin scores a sample dataset's conversations (the
 * `coaching-prompts` topics, as written by one version of the coach's prompt: the target) with
 * the evaluation pipeline (a judge model and objective checks), optionally against a baseline
 * target (the regression gate), in the background. Progress is the conversations scored so far;
 * each conversation's result is saved in the `ResultStore` (the one in context, e.g. SQL-backed,
 * or one in memory); the run's status and report are kept in memory (the last `keep` runs, as
 * the run viewer keeps its runs). Runs are per organization: another organization's run answers
 * 404.
 *
 * @since 0.3.0
 */
import { Runner } from "@braid/core"
import { Evaluation, ResultStore, Samples as EvalSamples } from "@braid/eval"
import type { Accounting, Ai } from "@braid/llm"
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { HttpApiBuilder } from "@effect/platform"
import type { Duration, Scope } from "effect"
import { Cause, Clock, Effect, Exit, Layer, Option } from "effect"
import * as Api from "./Api.js"
import * as Errors from "./Errors.js"
import { failureText, requireRole, runLimited, ServerState, settledRun } from "./internal/context.js"

/**
 * The options of evaluation runs.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** The judge's model. Default the scripted judge (offline). */
  readonly model?: Layer.Layer<Ai.LanguageModel.LanguageModel | Accounting.Accounting>
  /** Runs whose status and report are kept in memory (the oldest are dropped). Default 50. */
  readonly keep?: number
  /** The bound of one judge call attempt. Default the eval package's (30 s). */
  readonly modelTimeout?: Duration.DurationInput
}

/**
 * The evaluation runs of the server.
 *
 * @category models
 * @since 0.3.0
 */
export interface EvaluationRuns {
  /** Starts a run in the background; the run as it is at once (`running`). */
  readonly start: (tenant: string, userId: string, input: Api.EvaluationRunStart) => Effect.Effect<Api.EvaluationRun>
  /** The organization's runs, newest first. */
  readonly list: (tenant: string) => Effect.Effect<ReadonlyArray<Api.EvaluationRun>>
  /** A run with its progress. */
  readonly get: (tenant: string, id: string) => Effect.Effect<Api.EvaluationRun, Errors.NotFound>
  /** The report of a completed run (409 while it runs or when it failed). */
  readonly result: (
    tenant: string,
    id: string
  ) => Effect.Effect<Api.EvaluationReport, Errors.NotFound | Errors.Conflict>
  /** Waits for a run to end (tests, scripts). */
  readonly settled: (tenant: string, id: string) => Effect.Effect<Api.EvaluationRun | undefined>
}

interface Entry {
  run: Api.EvaluationRun
  report?: Api.EvaluationReport
  readonly tenant: string
  readonly done: Effect.Latch
}

const targets = {
  "prompt-v1": EvalSamples.promptV1,
  "prompt-v2": EvalSamples.promptV2
} as const

/** The run id in the `ResultStore` (the idempotency key of a result, with the conversation id). */
const storeRunId = (tenant: string, id: string, target: string) => `${tenant}/${id}/${target}`

const toReport = (report: Evaluation.Report) => ({
  means: report.means,
  results: report.results.map((r) => ({
    conversationId: r.conversationId,
    scores: r.scores,
    reasons: r.reasons,
    reused: r.reused
  })),
  failures: report.failures.map((f) => ({ conversationId: f.conversationId, metric: f.metric, reason: f.reason }))
})

/**
 * Builds the registry; runs are forked in the current scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EvaluationRuns } from "@braid/server"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const runs = yield* EvaluationRuns.make()
 *   const run = yield* runs.start("default", "tess", { dataset: "coaching-prompts", target: "prompt-v1" })
 *   return yield* runs.settled("default", run.id)
 * }))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (options: Options = {}): Effect.Effect<EvaluationRuns, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const keep = Math.max(1, options.keep ?? 50)
    const model = yield* Layer.build(
      options.model ?? Metered.fromProvider(ScriptedLanguageModel.provider(EvalSamples.judgeScript))
    ).pipe(Effect.orDie)
    const inContext = yield* Effect.serviceOption(ResultStore.ResultStore)
    const results = Option.isSome(inContext)
      ? inContext.value
      : yield* Effect.provide(ResultStore.ResultStore, ResultStore.layerMemory)
    const entries = new Map<string, Entry>()
    const metrics = [...Evaluation.defaultMetrics]

    const evaluate = (tenant: string, id: string, target: Api.EvaluationTarget) =>
      Runner.run(
        Evaluation.make({
          runId: storeRunId(tenant, id, target),
          metrics,
          ...(options.modelTimeout !== undefined ? { modelTimeout: options.modelTimeout } : {})
        }),
        targets[target],
        { tenantId: tenant, runId: id }
      ).pipe(Effect.provide(model), Effect.provideService(ResultStore.ResultStore, results))

    const start: EvaluationRuns["start"] = (tenant, userId, input) =>
      Effect.gen(function*() {
        const id = crypto.randomUUID()
        const total = targets[input.target].length +
          (input.baseline !== undefined ? targets[input.baseline].length : 0)
        const entry: Entry = {
          tenant,
          run: {
            id,
            dataset: input.dataset,
            target: input.target,
            ...(input.baseline !== undefined ? { baseline: input.baseline } : {}),
            userId,
            status: "running",
            startedAt: yield* Clock.currentTimeMillis,
            progress: { done: 0, total }
          },
          done: yield* Effect.makeLatch(false)
        }
        entries.set(id, entry)
        while (entries.size > keep) entries.delete(entries.keys().next().value!)
        const program = Effect.gen(function*() {
          const candidate = yield* evaluate(tenant, id, input.target)
          const base = input.baseline !== undefined ? yield* evaluate(tenant, id, input.baseline) : undefined
          const compared = base !== undefined
            ? yield* Evaluation.compareRuns(base, candidate, { maxRegression: 0.05 })
            : undefined
          return { candidate, base, gate: compared?.gate }
        }).pipe(
          Effect.onExit((exit) =>
            Effect.gen(function*() {
              const endedAt = yield* Clock.currentTimeMillis
              if (Exit.isSuccess(exit)) {
                const { base, candidate, gate } = exit.value
                const scored = candidate.results.length + candidate.failures.length +
                  (base !== undefined ? base.results.length + base.failures.length : 0)
                entry.report = {
                  id,
                  target: input.target,
                  ...toReport(candidate),
                  ...(base !== undefined && input.baseline !== undefined
                    ? { baseline: { target: input.baseline, means: base.means } }
                    : {}),
                  ...(gate !== undefined
                    ? {
                      gate: {
                        passed: gate.passed,
                        verdicts: gate.verdicts.map((v) => ({ metric: v.metric, status: v.status, reason: v.reason })),
                        failures: gate.failures
                      }
                    }
                    : {})
                }
                entry.run = { ...entry.run, status: "completed", endedAt, progress: { done: scored, total } }
              } else {
                if (!Cause.isInterruptedOnly(exit.cause)) {
                  yield* Effect.logWarning("an evaluation run failed", Cause.pretty(exit.cause))
                }
                entry.run = {
                  ...entry.run,
                  status: "failed",
                  endedAt,
                  error: failureText(exit.cause, "the evaluation run failed")
                }
              }
            })
          ),
          Effect.ensuring(entry.done.open)
        )
        yield* Effect.forkIn(Effect.ignore(program), scope)
        return entry.run
      })

    /** A running run's progress: its conversations with a stored result. */
    const withProgress = (entry: Entry): Effect.Effect<Api.EvaluationRun> => {
      if (entry.run.status !== "running") return Effect.succeed(entry.run)
      const run = entry.run
      const count = (target: Api.EvaluationTarget | undefined) =>
        target === undefined
          ? Effect.succeed(0)
          : Effect.map(results.list(storeRunId(entry.tenant, run.id, target)), (xs) => xs.length)
      return Effect.zipWith(count(run.target), count(run.baseline), (a, b) => ({
        ...run,
        progress: { done: Math.min(run.progress.total, a + b), total: run.progress.total }
      })).pipe(Effect.orElseSucceed(() => run))
    }

    const visible = (tenant: string, id: string) => {
      const entry = entries.get(id)
      return entry !== undefined && entry.tenant === tenant
        ? Effect.succeed(entry)
        : Effect.fail(new Errors.NotFound({ message: `evaluation run ${id} not found` }))
    }

    return {
      start,
      list: (tenant) =>
        Effect.forEach([...entries.values()].filter((e) => e.tenant === tenant).reverse(), withProgress),
      get: (tenant, id) => Effect.flatMap(visible(tenant, id), withProgress),
      result: (tenant, id) =>
        Effect.flatMap(visible(tenant, id), (entry) =>
          entry.report !== undefined
            ? Effect.succeed(entry.report)
            : Effect.fail(
              new Errors.Conflict({
                message: entry.run.status === "failed"
                  ? `the evaluation run failed: ${entry.run.error ?? "unknown error"}`
                  : "the evaluation run is still running"
              })
            )),
      settled: (tenant, id) => settledRun(entries, tenant, id)
    } satisfies EvaluationRuns
  })

/**
 * The handlers of the `evaluationRuns` group (`Api.EvaluationRuns`): teachers and admins;
 * starting one counts against the caller's run rate limit (shared with `/api/runs`).
 *
 * @category layers
 * @since 0.3.0
 */
export const handlers = HttpApiBuilder.group(
  Api.Api,
  "evaluationRuns",
  (h) =>
    Effect.map(ServerState, (state) => {
      const teacher = (operation: string) => requireRole(operation, "teacher", "admin")
      return h
        .handle("start", ({ payload }) =>
          Effect.gen(function*() {
            const p = yield* teacher("starting an evaluation run")
            return yield* runLimited(state, p, state.evaluationRuns.start(p.tenant, p.userId, payload))
          }))
        .handle(
          "list",
          () => Effect.flatMap(teacher("the evaluation runs"), (p) => state.evaluationRuns.list(p.tenant))
        )
        .handle(
          "get",
          ({ path }) =>
            Effect.flatMap(teacher("the evaluation runs"), (p) => state.evaluationRuns.get(p.tenant, path.id))
        )
        .handle(
          "result",
          ({ path }) =>
            Effect.flatMap(teacher("the evaluation runs"), (p) => state.evaluationRuns.result(p.tenant, path.id))
        )
    })
)
