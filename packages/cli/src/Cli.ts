/**
 * The `braid` command, built on `@effect/cli`:
 *
 * - `braid run coaching|evaluation|meeting [options]`: runs a workflow with a live progress line
 *   (steps done, tokens, cost) and a final summary;
 * - `braid catalog [--section s]`: the primitives of `PRIMITIVES_CATALOG.md`;
 * - `braid describe <workflow> [--format mermaid|text]`: the pipeline as a Mermaid diagram;
 * - `braid eval <dataset.jsonl> [--baseline b.jsonl] [--max-regression 0.05] [--min metric=value]`:
 *   the evaluation gate for CI (exit code 1 when a metric regresses).
 *
 * Errors are printed on stderr as one clear line (`braid: dataset.jsonl:7: messages[2].role: ...`)
 * and turn into the exit code: 0 success, 1 failed run or gate, 2 bad arguments or input.
 *
 * @since 0.1.0
 */
import { Args, Command, Options, ValidationError } from "@effect/cli"
import type { CliApp } from "@effect/cli"
import { Clock, Console, Effect, HashMap, Option } from "effect"
import { Describe } from "@braid/core"
import * as Catalog from "./Catalog.js"
import * as EvalCommand from "./EvalCommand.js"
import * as Progress from "./Progress.js"
import type { Entry } from "./Registry.js"
import { summary } from "./Registry.js"

/**
 * The exit codes.
 *
 * @example
 * ```ts
 * import { Cli } from "@braid/cli"
 *
 * Cli.ExitCode.failed // 1: a failed run or a regression
 * ```
 *
 * @since 0.1.0
 */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const

/**
 * A command failed in a way already explained to the user; carries the exit code.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cli } from "@braid/cli"
 *
 * const stop = Effect.fail(new Cli.Exit(Cli.ExitCode.usage))
 * ```
 *
 * @since 0.1.0
 */
export class Exit {
  readonly _tag = "CliExit"
  constructor(readonly code: number) {}
}

const usageTags = new Set(["DatasetError", "DatasetReadError", "CatalogError", "UnknownWorkflow", "DecodeError", "ComparisonError"])

const fail = (code: number, message: string) => Effect.zipRight(Console.error(`braid: ${message}`), Effect.fail(new Exit(code)))

const pick = (registry: ReadonlyArray<Entry>, name: string) => {
  const entry = registry.find((e) => e.name === name)
  return entry
    ? Effect.succeed(entry)
    : fail(ExitCode.usage, `unknown workflow "${name}" (known: ${registry.map((e) => e.name).join(", ")})`)
}

/**
 * Builds the `braid` command over a registry of workflows.
 *
 * @example
 * ```ts
 * import { Cli } from "@braid/cli"
 *
 * const command = Cli.make([])
 * ```
 *
 * @since 0.1.0
 */
export const make = (registry: ReadonlyArray<Entry>) => {
  const names = registry.map((e) => e.name)

  const catalog = Command.make(
    "catalog",
    {
      file: Options.file("file").pipe(Options.withDefault(Catalog.defaultFile), Options.withDescription("The catalog file")),
      section: Options.text("section").pipe(Options.optional, Options.withDescription("Only this section (core, resilience, llm, ...)"))
    },
    ({ file, section }) =>
      Effect.gen(function*() {
        const entries = yield* Catalog.load(file)
        const shown = Option.match(section, { onNone: () => entries, onSome: (s) => entries.filter((e) => e.section === s) })
        yield* Console.log(Catalog.format(shown))
      })
  ).pipe(Command.withDescription("Print the primitives of the catalog"))

  const describe = Command.make(
    "describe",
    {
      workflow: Args.text({ name: "workflow" }).pipe(Args.withDescription(`One of: ${names.join(", ")}`)),
      format: Options.choice("format", ["mermaid", "text"]).pipe(Options.withDefault("mermaid" as const))
    },
    ({ format, workflow }) =>
      Effect.gen(function*() {
        const entry = yield* pick(registry, workflow)
        yield* Console.log(format === "mermaid" ? Describe.toMermaid(entry.pipeline) : Describe.toText(entry.pipeline))
      })
  ).pipe(Command.withDescription("Print the pipeline of a workflow as a Mermaid diagram (or a text tree)"))

  const run = Command.make(
    "run",
    {
      workflow: Args.text({ name: "workflow" }).pipe(Args.withDescription(`One of: ${names.join(", ")}`)),
      user: Options.text("user").pipe(Options.withDefault("ada"), Options.withDescription("The user (coaching) or run name")),
      offline: Options.boolean("offline").pipe(Options.withDescription("Use the scripted model even if ANTHROPIC_API_KEY is set")),
      turns: Options.integer("turns").pipe(Options.optional, Options.withDescription("Coaching: exchanges per session; meeting: maximum turns")),
      dataset: Options.file("dataset", { exists: "yes" }).pipe(Options.optional, Options.withDescription("Evaluation: a JSONL dataset")),
      topic: Options.text("topic").pipe(Options.optional, Options.withDescription("Meeting: the agenda item to discuss")),
      store: Options.text("store").pipe(Options.optional, Options.withDescription("SQLite file for results and history (default: in memory)")),
      verbose: Options.boolean("verbose").pipe(Options.withAlias("v"), Options.withDescription("Print every step"))
    },
    (options) =>
      Effect.gen(function*() {
        const entry = yield* pick(registry, options.workflow)
        if (Option.isSome(options.turns) && options.turns.value < 1) {
          return yield* fail(ExitCode.usage, `--turns must be at least 1, got ${options.turns.value}`)
        }
        const console = yield* Effect.console
        const tty = process.stderr.isTTY === true
        let lastShown = ""
        const show = (s: Progress.Snapshot) => {
          const line = Progress.line(s)
          if (tty) process.stderr.write(`\r\x1b[2K${line}`)
          else if (s.modelCalls > 0 && line !== lastShown && (options.verbose || s.steps % 10 === 0)) console.unsafe.error(line)
          lastShown = line
        }
        const say = (line: string) => {
          if (tty) process.stderr.write("\r\x1b[2K")
          console.unsafe.log(line)
        }
        const start = yield* Clock.currentTimeMillis
        const { progress, value } = yield* Progress.track(entry.run(options, say), show)
        if (tty) process.stderr.write("\r\x1b[2K")
        const end = yield* Clock.currentTimeMillis
        yield* Console.log(summary(entry.name, value, progress, end - start))
        if (!value.ok) return yield* Effect.fail(new Exit(ExitCode.failed))
      })
  ).pipe(Command.withDescription(`Run a workflow (${names.join(", ")}) with a progress display and a summary`))

  const evaluate = Command.make(
    "eval",
    {
      dataset: Args.text({ name: "dataset.jsonl" }),
      baseline: Options.text("baseline").pipe(Options.optional, Options.withDescription("The baseline run's dataset (JSONL)")),
      maxRegression: Options.float("max-regression").pipe(Options.withDefault(0.05), Options.withDescription("Largest tolerated drop of a metric's mean")),
      min: Options.keyValueMap("min").pipe(Options.optional, Options.withDescription("Minimum mean of a metric, e.g. --min relevance=0.7")),
      confidence: Options.float("confidence").pipe(Options.withDefault(0.95)),
      seed: Options.integer("seed").pipe(Options.withDefault(42)),
      store: Options.text("store").pipe(Options.optional, Options.withDescription("SQLite file where results are persisted")),
      offline: Options.boolean("offline").pipe(Options.withDescription("Use the scripted judge even if ANTHROPIC_API_KEY is set"))
    },
    (args) =>
      Effect.gen(function*() {
        const minimum: Record<string, number> = {}
        if (Option.isSome(args.min)) {
          for (const [k, v] of HashMap.toEntries(args.min.value)) {
            const n = Number(v)
            if (v.trim() === "" || !Number.isFinite(n)) return yield* fail(ExitCode.usage, `--min ${k}=${v}: the minimum must be a number`)
            minimum[k] = n
          }
        }
        if (!(args.confidence > 0 && args.confidence < 1)) {
          return yield* fail(ExitCode.usage, `--confidence must be between 0 and 1, got ${args.confidence}`)
        }
        if (args.maxRegression < 0) return yield* fail(ExitCode.usage, `--max-regression must be >= 0, got ${args.maxRegression}`)
        const result = yield* EvalCommand.run({
          dataset: args.dataset,
          baseline: Option.getOrUndefined(args.baseline),
          maxRegression: args.maxRegression,
          minimum,
          confidence: args.confidence,
          seed: args.seed,
          store: Option.getOrUndefined(args.store),
          offline: args.offline
        })
        yield* Console.log(result.report)
        if (!result.passed) return yield* Effect.fail(new Exit(ExitCode.failed))
      })
  ).pipe(Command.withDescription("Evaluate a dataset of conversations and apply the regression gate (exit 1 on regression)"))

  return Command.make("braid").pipe(
    Command.withDescription("Braid: typed, instrumented agent workflows"),
    Command.withSubcommands([run, catalog, describe, evaluate])
  )
}

/**
 * Runs the `braid` command on `argv` (the full `process.argv`) and returns the exit code. Never
 * fails: errors are printed on stderr.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeContext } from "@effect/platform-node"
 * import { Cli } from "@braid/cli"
 *
 * const code = Cli.run(["node", "braid", "catalog"], []).pipe(Effect.provide(NodeContext.layer))
 * ```
 *
 * @since 0.1.0
 */
export const run = (argv: ReadonlyArray<string>, registry: ReadonlyArray<Entry>): Effect.Effect<number, never, CliApp.CliApp.Environment> =>
  Command.run(make(registry), { name: "braid", version: "0.1.0" })(argv).pipe(
    Effect.as(ExitCode.ok as number),
    Effect.catchAll((e: unknown) => {
      if (e instanceof Exit) return Effect.succeed(e.code)
      if (ValidationError.isValidationError(e)) return Effect.succeed(ValidationError.isHelpRequested(e) ? ExitCode.ok : ExitCode.usage)
      const tag = typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : ""
      const message = e instanceof Error || (typeof e === "object" && e !== null && "message" in e) ? String((e as { message: unknown }).message) : String(e)
      return Effect.as(Console.error(`braid: ${message}`), usageTags.has(tag) ? ExitCode.usage : ExitCode.failed)
    }),
    Effect.catchAllDefect((d) => Effect.as(Console.error(`braid: unexpected error: ${d instanceof Error ? d.stack ?? d.message : String(d)}`), ExitCode.failed))
  )
