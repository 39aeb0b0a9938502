/**
 * `braid eval <dataset.jsonl>`: evaluates a dataset with the default metrics, and with
 * `--baseline` compares it with a baseline dataset (paired by conversation id) and applies the
 * regression gate. The run id of a dataset is its file name plus a hash of its content, so with
 * `--store` a re-run of an unchanged dataset reuses its stored results (no model calls).
 *
 * @since 0.1.0
 */
import { Runner } from "@braid/core"
import { Dataset, Errors, Evaluation, Gate, Models, ResultStore, Samples } from "@braid/eval"
import { SqliteResultStore } from "@braid/sqlite"
import type { Duration } from "effect"
import { Effect, Layer } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly dataset: string
  readonly baseline: string | undefined
  readonly maxRegression: number
  readonly minimum: Readonly<Record<string, number>>
  readonly confidence: number
  readonly seed: number
  readonly store: string | undefined
  readonly offline: boolean
  /** The bound of one judge call, inside its retry (default `Models.defaultTimeout`). */
  readonly modelTimeout?: Duration.DurationInput
}

const read = (file: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (e) =>
      new Errors.DatasetReadError({
        file,
        reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String((e as Error).message)
      })
  }).pipe(
    Effect.flatMap((text) =>
      Effect.map(Dataset.parse(file, text), (conversations) => ({
        conversations,
        runId: `${path.basename(file)}@${crypto.createHash("sha256").update(text).digest("hex").slice(0, 12)}`
      }))
    ),
    Effect.filterOrFail((d) => d.conversations.length > 0, () =>
      new Errors.DatasetReadError({ file, reason: "the dataset has no conversations" }))
  )

const fmt = (x: number) => x.toFixed(3)

const table = (title: string, report: Evaluation.Report): Array<string> => {
  const lines = [
    `${title}: ${report.results.length} conversations evaluated${
      report.results.some((r) => r.reused)
        ? ` (${report.results.filter((r) => r.reused).length} reused from the store)`
        : ""
    }`
  ]
  for (const [m, v] of Object.entries(report.means)) lines.push(`  ${m.padEnd(16)} ${fmt(v)}`)
  for (const f of report.failures) lines.push(`  failed: ${f.message}`)
  return lines
}

/**
 * Runs the evaluation (and the gate) and returns the report text and whether the gate passed.
 *
 * @example
 * ```ts
 * import { EvalCommand } from "@braid/cli"
 *
 * const program = EvalCommand.run({
 *   dataset: "candidate.jsonl", baseline: "baseline.jsonl", maxRegression: 0.05, minimum: {},
 *   confidence: 0.95, seed: 42, store: undefined, offline: true
 * })
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const run = (options: Options) =>
  Effect.gen(function*() {
    const candidate = yield* read(options.dataset)
    const baseline = options.baseline === undefined ? undefined : yield* read(options.baseline)
    const metrics = [...Evaluation.defaultMetrics]
    const evaluate = (d: { readonly runId: string; readonly conversations: ReadonlyArray<Dataset.Conversation> }) =>
      Runner.run(
        Evaluation.make({
          runId: d.runId,
          metrics,
          ...(options.modelTimeout !== undefined ? { modelTimeout: options.modelTimeout } : {})
        }),
        d.conversations
      )
    const mode = yield* Models.mode({ offline: options.offline })
    const lines: Array<string> = [`judge: ${mode === "scripted" ? "scripted (offline)" : "Claude (ANTHROPIC_API_KEY)"}`]
    const candidateReport = yield* evaluate(candidate)
    lines.push(...table(`candidate ${options.dataset}`, candidateReport))
    let gate: Gate.GateResult
    if (baseline !== undefined) {
      const baselineReport = yield* evaluate(baseline)
      lines.push(...table(`baseline ${options.baseline}`, baselineReport))
      const compared = yield* Evaluation.compareRuns(baselineReport, candidateReport, {
        confidence: options.confidence,
        seed: options.seed,
        maxRegression: options.maxRegression,
        minimum: options.minimum
      })
      gate = compared.gate
    } else {
      gate = Gate.check({ means: candidateReport.means }, { minimum: options.minimum })
    }
    if (candidateReport.failures.length > 0) {
      gate = {
        ...gate,
        passed: false,
        failures: [...gate.failures, `${candidateReport.failures.length} conversations could not be evaluated`]
      }
    }
    lines.push("", "regression gate:", Gate.format(gate))
    return { report: lines.join("\n"), passed: gate.passed }
  }).pipe(
    Effect.provide(Layer.merge(
      options.store === undefined ? ResultStore.layerMemory : SqliteResultStore.layer(options.store),
      Models.layer(Samples.judgeScript, { offline: options.offline })
    ))
  )
