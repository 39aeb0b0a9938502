/**
 * Evaluations as durable runs (`@braid/durable/DurableEvaluation`): the evaluation of a dataset
 * (`@braid/eval`'s `Evaluation`) run on the durable engine, so that an hour-long evaluation
 * survives a process restart and resumes at its first unfinished sample.
 *
 * - each sample is evaluated by the same pieces as `Evaluation.make` (`evaluateConversation`:
 *   look up a stored result, score every metric under its retry, store the result);
 * - its store reads and writes are journaled steps (`resultStore.get`, `resultStore.put`, keyed
 *   by the sample's path and requested by run and sample), its judges' model calls are journaled
 *   by `DurableModel`: a resume neither stores a result twice nor calls the model again for a
 *   completed call, and a sample finished before a crash is not evaluated again;
 * - the results are written to the `ResultStore` in context, insert-if-absent by run and sample,
 *   as the run goes: `progress` reads how many are stored while it runs;
 * - the run is a chain of bounded executions: `continueAsNew` every `samplesPerExecution`
 *   samples, carrying the results and failures so far, so a resume replays at most that many
 *   samples' journal entries;
 * - it ends with the same `Report` as `Evaluation.make` on the same dataset.
 *
 * @since 0.3.0
 */
import { forEach, Primitive } from "@braid/core"
import * as Dataset from "@braid/eval/Dataset"
import { EvaluationFailed, ResultStoreError } from "@braid/eval/Errors"
import * as Evaluation from "@braid/eval/Evaluation"
import * as ResultStore from "@braid/eval/ResultStore"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { Effect, Either, Schema } from "effect"
import * as Durable from "./Durable.js"
import type { StatusStoreError } from "./Errors.js"
import { IncompatibleVersion, InvalidInput, NonDeterminism } from "./Errors.js"
import type * as RunStatus from "./RunStatus.js"

/**
 * A stored result with whether it was reused from the store (as in `Evaluation.Report`).
 *
 * @category schemas
 * @since 0.3.0
 */
export const SampleResult = Schema.extend(ResultStore.ConversationResult, Schema.Struct({ reused: Schema.Boolean }))

/**
 * The state of a durable evaluation, carried from one execution to the next: the dataset, the
 * first sample not evaluated yet, and the results and failures so far (in dataset order).
 *
 * @category schemas
 * @since 0.3.0
 */
export const EvaluationRun = Schema.Struct({
  conversations: Schema.Array(Dataset.Conversation),
  next: Schema.NonNegativeInt,
  results: Schema.Array(SampleResult),
  failures: Schema.Array(EvaluationFailed)
})

/**
 * @category schemas
 * @since 0.3.0
 */
export type EvaluationRun = typeof EvaluationRun.Type

/**
 * The report of a durable evaluation: `Evaluation.Report`, as a Schema (it is journaled).
 *
 * @category schemas
 * @since 0.3.0
 */
export const Report = Schema.Struct({
  runId: Schema.String,
  results: Schema.Array(SampleResult),
  failures: Schema.Array(EvaluationFailed),
  means: Schema.Record({ key: Schema.String, value: Schema.Number })
})

/**
 * Options of `make`: those of `Evaluation.make`, and how the durable run is cut.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options<E, R> extends Evaluation.Options<E, R> {
  /** The durable workflow's name (one per evaluation configuration in an engine). Default `evaluation`. */
  readonly name?: string
  /** Samples per execution before `continueAsNew` (1 to 10,000). Default 50. */
  readonly samplesPerExecution?: number
}

/**
 * A durable evaluation: its workflow (register `layer` with the engine), and how to run it.
 *
 * @category models
 * @since 0.3.0
 */
export interface DurableEvaluation<R> {
  readonly workflow: Durable.DurableWorkflow<EvaluationRun, Evaluation.Report, Durable.DurableError, R>
  /** Registers the evaluation with the engine of the runner: provide it where runs execute. */
  readonly layer: Durable.DurableWorkflow<EvaluationRun, Evaluation.Report, Durable.DurableError, R>["layer"]
  /** Starts the evaluation of `conversations` (the run of `runId`) if not started; returns its run id. */
  readonly start: (
    conversations: ReadonlyArray<Dataset.Conversation>
  ) => Effect.Effect<string, InvalidInput | StatusStoreError, WorkflowEngine | RunStatus.RunStatusStore>
  /** Starts the evaluation or attaches to it, and waits for its report (through the chain of executions). */
  readonly run: (
    conversations: ReadonlyArray<Dataset.Conversation>
  ) => Effect.Effect<
    Evaluation.Report,
    Durable.DurableError | StatusStoreError,
    WorkflowEngine | RunStatus.RunStatusStore
  >
  /** How many results of this run the `ResultStore` holds now (readable while it runs). */
  readonly progress: Effect.Effect<{ readonly stored: number }, ResultStoreError, ResultStore.ResultStore>
}

const isDurableError = (e: unknown): e is NonDeterminism | IncompatibleVersion | InvalidInput =>
  e instanceof NonDeterminism || e instanceof IncompatibleVersion || e instanceof InvalidInput

/**
 * The `ResultStore` of a durable run: reads and writes are journaled steps. A journal error is
 * kept in `failed` (the run fails with it after the chunk) and reaches the evaluation as a store
 * error.
 */
const journaledStore = (
  inner: ResultStore.Service,
  failed: { current: Durable.DurableError | undefined }
): ResultStore.Service => {
  const keep = <A, E>(effect: Effect.Effect<A, E | NonDeterminism | IncompatibleVersion | InvalidInput>) =>
    Effect.catchIf(effect, isDurableError, (e) => {
      failed.current ??= e
      return Effect.fail(new ResultStoreError({ operation: "journal", reason: e.message }))
    }) as Effect.Effect<A, E | ResultStoreError>
  return {
    get: (runId, conversationId) =>
      keep(Durable.step(
        "resultStore.get",
        inner.get(runId, conversationId),
        { success: Schema.UndefinedOr(ResultStore.ConversationResult), error: ResultStoreError },
        { request: [runId, conversationId] }
      )),
    // the request leaves out `evaluatedAt` (a time read outside the step): the journaled result wins
    put: (result) =>
      keep(Durable.step(
        "resultStore.put",
        inner.put(result),
        {
          success: Schema.Struct({ result: ResultStore.ConversationResult, inserted: Schema.Boolean }),
          error: ResultStoreError
        },
        { request: [result.runId, result.conversationId] }
      )),
    list: inner.list
  }
}

const positiveInt = (where: string, value: number | undefined, max: number) =>
  value === undefined || (Number.isInteger(value) && value >= 1 && value <= max)
    ? undefined
    : new InvalidInput({
      where,
      path: "(root)",
      reason: `expected an integer from 1 to ${max}, got ${typeof value === "number" ? String(value) : typeof value}`
    })

/**
 * Checks a dataset before a run starts: conversation ids are the idempotency keys of the results,
 * so each must be unique.
 */
const checkDataset = (runId: string, conversations: ReadonlyArray<Dataset.Conversation>) =>
  Effect.suspend(() => {
    if (!Array.isArray(conversations)) {
      return Effect.fail(
        new InvalidInput({ where: `dataset of evaluation ${runId}`, path: "(root)", reason: "expected an array" })
      )
    }
    const seen = new Set<string>()
    for (let i = 0; i < conversations.length; i++) {
      const id = (conversations[i] as { readonly id?: unknown } | undefined)?.id
      if (typeof id === "string" && seen.has(id)) {
        return Effect.fail(
          new InvalidInput({
            where: `dataset of evaluation ${runId}`,
            path: `[${i}].id`,
            reason: `duplicate conversation id ${JSON.stringify(id)} (ids key the stored results)`
          })
        )
      }
      if (typeof id === "string") seen.add(id)
    }
    return Effect.void
  })

/**
 * Builds the durable evaluation of `options.runId`: one durable run per run id (starting it again
 * attaches to it, whatever the dataset). Bad options fail with `InvalidInput` naming the option.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Evaluation, ResultStore, Samples } from "@braid/eval"
 * import { Durable, DurableModel } from "@braid/durable"
 * import * as DurableEvaluation from "@braid/durable/DurableEvaluation"
 * import { ScriptedLanguageModel } from "@braid/llm"
 *
 * const program = Effect.gen(function*() {
 *   const evaluation = yield* DurableEvaluation.make({
 *     runId: "prompt-v1",
 *     metrics: [Evaluation.relevance, Evaluation.goalCoverage],
 *     samplesPerExecution: 50
 *   })
 *   const runner = evaluation.layer.pipe(
 *     Layer.provideMerge(Durable.layerMemory),
 *     Layer.provideMerge(ResultStore.layerMemory),
 *     Layer.provide(DurableModel.layer(ScriptedLanguageModel.provider(Samples.judgeScript)))
 *   )
 *   return yield* Effect.provide(evaluation.run(Samples.promptV1), runner)
 * })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = <E, R>(
  options: Options<E, R>
): Effect.Effect<DurableEvaluation<R | ResultStore.ResultStore>, InvalidInput> =>
  Effect.gen(function*() {
    if (typeof options.runId !== "string" || options.runId === "" || options.runId.length > 200) {
      return yield* new InvalidInput({
        where: "DurableEvaluation.make",
        path: "runId",
        reason: "expected a non-empty string of at most 200 characters"
      })
    }
    const badChunk = positiveInt("DurableEvaluation.make samplesPerExecution", options.samplesPerExecution, 10_000)
    if (badChunk !== undefined) return yield* badChunk
    const badConcurrency = positiveInt("DurableEvaluation.make concurrency", options.concurrency, 1_000)
    if (badConcurrency !== undefined) return yield* badConcurrency
    if (!Array.isArray(options.metrics) || options.metrics.length === 0) {
      return yield* new InvalidInput({
        where: "DurableEvaluation.make",
        path: "metrics",
        reason: "expected at least one metric"
      })
    }
    const perExecution = options.samplesPerExecution ?? 50
    const each = forEach(Evaluation.evaluateConversation(options), {
      concurrency: options.concurrency ?? 4,
      mode: "settle"
    })

    const chunk = Primitive.make(
      "evaluation",
      (state: EvaluationRun) =>
        Effect.gen(function*() {
          const inner = yield* ResultStore.ResultStore
          const failed: { current: Durable.DurableError | undefined } = { current: undefined }
          const end = Math.min(state.next + perExecution, state.conversations.length)
          const settled = yield* each.invoke(state.conversations.slice(state.next, end)).pipe(
            Effect.provideService(ResultStore.ResultStore, journaledStore(inner, failed))
          )
          if (failed.current !== undefined) return yield* Effect.fail(failed.current)
          const results = [...state.results, ...settled.filter(Either.isRight).map((r) => r.right)]
          const failures = [...state.failures, ...settled.filter(Either.isLeft).map((l) => l.left)]
          if (end < state.conversations.length) {
            return yield* Durable.continueAsNew<EvaluationRun>({ ...state, next: end, results, failures })
          }
          return Evaluation.report(options, results, failures)
        }),
      { kind: "evaluation", children: [{ key: each.name, primitive: each }] }
    )

    const workflow = Durable.workflow(options.name ?? "evaluation", chunk, {
      input: EvaluationRun,
      output: Report,
      key: () => options.runId
    })
    const initial = (conversations: ReadonlyArray<Dataset.Conversation>): EvaluationRun => ({
      conversations,
      next: 0,
      results: [],
      failures: []
    })
    return {
      workflow,
      layer: workflow.layer,
      start: (conversations) =>
        Effect.zipRight(checkDataset(options.runId, conversations), workflow.start(initial(conversations))),
      run: (conversations) =>
        Effect.zipRight(checkDataset(options.runId, conversations), workflow.run(initial(conversations))),
      progress: Effect.flatMap(ResultStore.ResultStore, (store) => store.list(options.runId)).pipe(
        Effect.map((results) => ({ stored: results.length }))
      )
    }
  })
