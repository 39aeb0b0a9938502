/**
 * The workflows the `braid` command knows: what `braid describe` draws and `braid run` runs.
 *
 * @since 0.1.0
 */
import type { Primitive } from "@braid/core"
import type { Duration, Effect, Option } from "effect"
import type { Snapshot } from "./Progress.js"

/**
 * The options of `braid run`, shared by every workflow (each reads the ones it needs).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** The user (coaching, practice) or the evaluator's run name. */
  readonly user: string
  /** Force the scripted model even when `ANTHROPIC_API_KEY` is set. */
  readonly offline: boolean
  /** Coaching: how many exchanges in the morning session; meeting: maximum turns; practice: the turn limit. */
  readonly turns: Option.Option<number>
  /** Evaluation: the dataset to evaluate (default: the built-in sample). */
  readonly dataset: Option.Option<string>
  /** Meeting: the agenda items (default: the built-in agenda). */
  readonly topic: Option.Option<string>
  /** Where results and history are persisted (SQLite file; default in memory). */
  readonly store: Option.Option<string>
  /** Print each step as it happens. */
  readonly verbose: boolean
  /** The bound of one model call (inside its retry). */
  readonly modelTimeout: Duration.Duration
}

/**
 * What a workflow run reports at the end.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunSummary {
  /** Human-readable lines. */
  readonly lines: ReadonlyArray<string>
  /** False makes `braid run` exit non-zero. */
  readonly ok: boolean
}

/**
 * A workflow the CLI can describe and run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly name: string
  readonly description: string
  /** The pipeline, for `braid describe`. */
  readonly pipeline: Primitive.Any
  /** Runs the workflow; `say` narrates (a line of the transcript). */
  readonly run: (options: RunOptions, say: (line: string) => void) => Effect.Effect<RunSummary, unknown>
}

/**
 * The final summary block: the workflow's lines and the progress totals.
 *
 * @example
 * ```ts
 * import { Progress, Registry } from "@braid/cli"
 *
 * const text = Registry.summary("coaching", { lines: ["2 goals"], ok: true }, Progress.empty, 1200)
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const summary = (name: string, result: RunSummary, progress: Snapshot, millis: number): string =>
  [
    "",
    `── ${name}: ${result.ok ? "done" : "FAILED"} in ${(millis / 1000).toFixed(1)} s ──`,
    ...result.lines.map((l) => `  ${l}`),
    `  steps ${progress.steps}${
      progress.failed > 0 ? ` (${progress.failed} failed, handled)` : ""
    }, model calls ${progress.modelCalls}, tokens ${progress.inputTokens} in / ${progress.outputTokens} out, cost $${
      progress.costUsd.toFixed(4)
    }`
  ].join("\n")
