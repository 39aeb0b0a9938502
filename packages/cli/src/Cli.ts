/**
 * The `braid` command, built on `@effect/cli`:
 *
 * - `braid run coaching|evaluation|meeting|practice [options]`: runs a workflow with a live progress line
 *   (steps done, tokens, cost) and a final summary;
 * - `braid catalog [--section s]`: the primitives of `PRIMITIVES_CATALOG.md`;
 * - `braid describe <workflow> [--format mermaid|text]`: the pipeline as a Mermaid diagram;
 * - `braid eval <dataset.jsonl> [--baseline b.jsonl] [--max-regression 0.05] [--min metric=value]`:
 *   the evaluation gate for CI (exit code 1 when a metric regresses);
 * - `braid serve [--data .braid] [--port 4173] [--host 127.0.0.1]`: the HTTP API and the web app;
 * - `braid users token <user> --role learner|teacher|admin [--tenant t] [--ttl 7d]`: a sign-in token.
 *
 * Errors are printed on stderr as one clear line (`braid: dataset.jsonl:7: messages[2].role: ...`)
 * and turn into the exit code: 0 success, 1 failed run or gate, 2 bad arguments or input.
 * `braid --help` and `braid <command> --help` print the help of `Help` (usage, every option with
 * its default, examples); colour only on a terminal without `NO_COLOR`.
 *
 * @since 0.1.0
 */
import { Describe } from "@braid/core"
import { Args, Command, Options, ValidationError } from "@effect/cli"
import type { CliApp } from "@effect/cli"
import { Clock, Console, Duration, Effect, HashMap, Option } from "effect"
import * as Catalog from "./Catalog.js"
import * as EvalCommand from "./EvalCommand.js"
import * as Help from "./Help.js"
import * as Progress from "./Progress.js"
import type { Entry } from "./Registry.js"
import { summary } from "./Registry.js"
import * as ServeCommand from "./ServeCommand.js"
import * as WorkerCommand from "./WorkerCommand.js"

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
 * @category constants
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
 * @category errors
 */
export class Exit {
  /**
   * The tag of the exit, `"CliExit"`.
   *
   * @since 0.1.0
   */
  readonly _tag = "CliExit"
  constructor(
    /**
     * The exit code of the process.
     *
     * @since 0.1.0
     */
    readonly code: number
  ) {}
}

const usageTags = new Set([
  "DatasetError",
  "WorkerOptionError",
  "DatasetReadError",
  "CatalogError",
  "UnknownWorkflow",
  "DecodeError",
  "ComparisonError"
])

const fail = (code: number, message: string) =>
  Effect.zipRight(Console.error(`braid: ${message}`), Effect.fail(new Exit(code)))

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
 * @category constructors
 */
export const make = (registry: ReadonlyArray<Entry>) => {
  const names = registry.map((e) => e.name)
  const docs = Help.commands(names)
  const describe_ = (command: string, option: string) => Help.describeOption(docs, command, option)
  const summaryOf = (command: string) => docs.find((c) => c.name === command)!.summary
  const modelTimeoutOf = (command: string) =>
    Options.float("model-timeout").pipe(
      Options.withDefault(30),
      Options.withDescription(describe_(command, "model-timeout"))
    )

  const catalog = Command.make(
    "catalog",
    {
      file: Options.file("file").pipe(
        Options.withDefault(Catalog.defaultFile),
        Options.withDescription(describe_("catalog", "file"))
      ),
      section: Options.text("section").pipe(Options.optional, Options.withDescription(describe_("catalog", "section")))
    },
    ({ file, section }) =>
      Effect.gen(function*() {
        const entries = yield* Catalog.load(file)
        if (Option.isSome(section)) {
          const shown = entries.filter((e) => e.section === section.value)
          if (shown.length === 0) {
            const sections = [...new Set(entries.map((e) => e.section))]
            return yield* fail(
              ExitCode.usage,
              `no section "${section.value}" in ${file} (sections: ${
                sections.length === 0 ? "none" : sections.join(", ")
              })`
            )
          }
          return yield* Console.log(Catalog.format(shown))
        }
        yield* Console.log(Catalog.format(entries))
      })
  ).pipe(Command.withDescription(summaryOf("catalog")))

  const describe = Command.make(
    "describe",
    {
      workflow: Args.text({ name: "workflow" }).pipe(Args.withDescription(`One of: ${names.join(", ")}`)),
      format: Options.choice("format", ["mermaid", "text"]).pipe(
        Options.withDefault("mermaid" as const),
        Options.withDescription(describe_("describe", "format"))
      )
    },
    ({ format, workflow }) =>
      Effect.gen(function*() {
        const entry = yield* pick(registry, workflow)
        yield* Console.log(format === "mermaid" ? Describe.toMermaid(entry.pipeline) : Describe.toText(entry.pipeline))
      })
  ).pipe(Command.withDescription(summaryOf("describe")))

  const run = Command.make(
    "run",
    {
      workflow: Args.text({ name: "workflow" }).pipe(Args.withDescription(`One of: ${names.join(", ")}`)),
      user: Options.text("user").pipe(Options.withDefault("ada"), Options.withDescription(describe_("run", "user"))),
      offline: Options.boolean("offline").pipe(Options.withDescription(describe_("run", "offline"))),
      turns: Options.integer("turns").pipe(Options.optional, Options.withDescription(describe_("run", "turns"))),
      dataset: Options.file("dataset", { exists: "yes" }).pipe(
        Options.optional,
        Options.withDescription(describe_("run", "dataset"))
      ),
      topic: Options.text("topic").pipe(Options.optional, Options.withDescription(describe_("run", "topic"))),
      store: Options.text("store").pipe(Options.optional, Options.withDescription(describe_("run", "store"))),
      modelTimeout: modelTimeoutOf("run"),
      verbose: Options.boolean("verbose").pipe(
        Options.withAlias("v"),
        Options.withDescription(describe_("run", "verbose"))
      )
    },
    (parsed) =>
      Effect.gen(function*() {
        const entry = yield* pick(registry, parsed.workflow)
        if (Option.isSome(parsed.turns) && parsed.turns.value < 1) {
          return yield* fail(ExitCode.usage, `--turns must be at least 1, got ${parsed.turns.value}`)
        }
        if (!(parsed.modelTimeout > 0)) {
          return yield* fail(
            ExitCode.usage,
            `--model-timeout must be a positive number of seconds, got ${parsed.modelTimeout}`
          )
        }
        const options = { ...parsed, modelTimeout: Duration.seconds(parsed.modelTimeout) }
        const console = yield* Effect.console
        const tty = process.stderr.isTTY === true
        let lastShown = ""
        const show = (s: Progress.Snapshot) => {
          const line = Progress.line(s)
          if (tty) process.stderr.write(`\r\x1b[2K${line}`)
          else if (s.modelCalls > 0 && line !== lastShown && (options.verbose || s.steps % 10 === 0)) {
            console.unsafe.error(line)
          }
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
  ).pipe(Command.withDescription(summaryOf("run")))

  const evaluate = Command.make(
    "eval",
    {
      dataset: Args.text({ name: "dataset.jsonl" }),
      baseline: Options.text("baseline").pipe(Options.optional, Options.withDescription(describe_("eval", "baseline"))),
      maxRegression: Options.float("max-regression").pipe(
        Options.withDefault(0.05),
        Options.withDescription(describe_("eval", "max-regression"))
      ),
      min: Options.keyValueMap("min").pipe(Options.optional, Options.withDescription(describe_("eval", "min"))),
      confidence: Options.float("confidence").pipe(
        Options.withDefault(0.95),
        Options.withDescription(describe_("eval", "confidence"))
      ),
      seed: Options.integer("seed").pipe(Options.withDefault(42), Options.withDescription(describe_("eval", "seed"))),
      store: Options.text("store").pipe(Options.optional, Options.withDescription(describe_("eval", "store"))),
      modelTimeout: modelTimeoutOf("eval"),
      offline: Options.boolean("offline").pipe(Options.withDescription(describe_("eval", "offline")))
    },
    (args) =>
      Effect.gen(function*() {
        const minimum: Record<string, number> = {}
        if (Option.isSome(args.min)) {
          for (const [k, v] of HashMap.toEntries(args.min.value)) {
            const n = Number(v)
            if (v.trim() === "" || !Number.isFinite(n)) {
              return yield* fail(ExitCode.usage, `--min ${k}=${v}: the minimum must be a number`)
            }
            minimum[k] = n
          }
        }
        if (!(args.confidence > 0 && args.confidence < 1)) {
          return yield* fail(ExitCode.usage, `--confidence must be between 0 and 1, got ${args.confidence}`)
        }
        if (args.maxRegression < 0) {
          return yield* fail(ExitCode.usage, `--max-regression must be >= 0, got ${args.maxRegression}`)
        }
        if (!(args.modelTimeout > 0)) {
          return yield* fail(
            ExitCode.usage,
            `--model-timeout must be a positive number of seconds, got ${args.modelTimeout}`
          )
        }
        const result = yield* EvalCommand.run({
          dataset: args.dataset,
          baseline: Option.getOrUndefined(args.baseline),
          maxRegression: args.maxRegression,
          minimum,
          confidence: args.confidence,
          seed: args.seed,
          store: Option.getOrUndefined(args.store),
          offline: args.offline,
          modelTimeout: Duration.seconds(args.modelTimeout)
        })
        yield* Console.log(result.report)
        if (!result.passed) {
          return yield* Effect.fail(new Exit(ExitCode.failed))
        }
      })
  ).pipe(Command.withDescription(summaryOf("eval")))

  const data = (command: string) =>
    Options.text("data").pipe(Options.withDefault(".braid"), Options.withDescription(describe_(command, "data")))
  const serve = Command.make(
    "serve",
    {
      data: data("serve"),
      port: Options.integer("port").pipe(
        Options.withDefault(4173),
        Options.withDescription(describe_("serve", "port"))
      ),
      host: Options.text("host").pipe(
        Options.withDefault("127.0.0.1"),
        Options.withDescription(describe_("serve", "host"))
      ),
      offline: Options.boolean("offline").pipe(Options.withDescription(describe_("serve", "offline"))),
      cors: Options.text("cors").pipe(Options.repeated, Options.withDescription(describe_("serve", "cors"))),
      web: Options.text("web").pipe(Options.optional, Options.withDescription(describe_("serve", "web"))),
      runnerHost: Options.text("runner-host").pipe(
        Options.optional,
        Options.withDescription(describe_("serve", "runner-host"))
      ),
      runnerPort: Options.integer("runner-port").pipe(
        Options.optional,
        Options.withDescription(describe_("serve", "runner-port"))
      )
    },
    (args) =>
      Effect.gen(function*() {
        if (!(Number.isInteger(args.port) && args.port >= 0 && args.port <= 65535)) {
          return yield* fail(ExitCode.usage, `--port must be an integer from 0 to 65535, got ${args.port}`)
        }
        if (Option.isSome(args.runnerPort) && !(args.runnerPort.value >= 1 && args.runnerPort.value <= 65535)) {
          return yield* fail(
            ExitCode.usage,
            `--runner-port must be an integer from 1 to 65535, got ${args.runnerPort.value}`
          )
        }
        if (Option.isSome(args.runnerHost) && !/^[A-Za-z0-9.:_\-[\]]{1,253}$/.test(args.runnerHost.value)) {
          return yield* fail(
            ExitCode.usage,
            `--runner-host must be a host name or address, got ${JSON.stringify(args.runnerHost.value)}`
          )
        }
        return yield* ServeCommand.serve({
          runnerHost: Option.getOrUndefined(args.runnerHost),
          runnerPort: Option.getOrUndefined(args.runnerPort),
          data: args.data,
          port: args.port,
          host: args.host,
          offline: args.offline,
          cors: args.cors,
          web: Option.getOrUndefined(args.web)
        })
      })
  ).pipe(Command.withDescription(summaryOf("serve")))

  const users = Command.make(
    "users",
    {
      action: Args.choice([["token", "token" as const]], { name: "token" }),
      user: Args.text({ name: "user" }),
      role: Options.choice("role", ["learner", "teacher", "admin"]).pipe(
        Options.withDefault("learner" as const),
        Options.withDescription(describe_("users", "role"))
      ),
      tenant: Options.text("tenant").pipe(
        Options.withDefault("default"),
        Options.withDescription(describe_("users", "tenant"))
      ),
      ttl: Options.text("ttl").pipe(Options.withDefault("7d"), Options.withDescription(describe_("users", "ttl"))),
      data: data("users")
    },
    ({ action: _action, ...args }) => ServeCommand.token(args)
  ).pipe(Command.withDescription(summaryOf("users")))

  return Command.make("braid").pipe(
    Command.withDescription("Braid: typed, instrumented agent workflows"),
    Command.withSubcommands([run, catalog, describe, evaluate, serve, users, WorkerCommand.command])
  )
}

/**
 * Options of `run`: where the output goes, for the colour decision (`Help.colorEnabled`).
 *
 * @since 0.2.0
 * @category models
 */
export interface RunOptions {
  /** Whether stdout is a terminal (default `process.stdout.isTTY`). */
  readonly isTTY?: boolean
  /** The environment read for `NO_COLOR` and `TERM` (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
}

/** The console with colour sequences removed from everything printed. */
const plainConsole = (base: Console.Console): Console.Console => {
  const strip = (xs: ReadonlyArray<unknown>) => xs.map((x) => (typeof x === "string" ? Help.stripAnsi(x) : x))
  return {
    ...base,
    log: (...xs) => base.log(...strip(xs)),
    error: (...xs) => base.error(...strip(xs)),
    info: (...xs) => base.info(...strip(xs)),
    warn: (...xs) => base.warn(...strip(xs)),
    unsafe: {
      ...base.unsafe,
      log: (...xs) => base.unsafe.log(...strip(xs)),
      error: (...xs) => base.unsafe.error(...strip(xs)),
      info: (...xs) => base.unsafe.info(...strip(xs)),
      warn: (...xs) => base.unsafe.warn(...strip(xs))
    }
  }
}

/**
 * Runs the `braid` command on `argv` (the full `process.argv`) and returns the exit code. Never
 * fails: errors are printed on stderr. `--help` (or no command) prints the help of `Help`; an
 * option that takes a value but got none is a usage error (exit 2) naming the option; colour is
 * printed only when stdout is a terminal and `NO_COLOR` is not set.
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
 * @category utils
 */
export const run = (
  argv: ReadonlyArray<string>,
  registry: ReadonlyArray<Entry>,
  options: RunOptions = {}
): Effect.Effect<number, never, CliApp.CliApp.Environment> => {
  const color = Help.colorEnabled({
    isTTY: options.isTTY ?? process.stdout.isTTY === true,
    env: options.env ?? process.env
  })
  const docs = Help.commands(registry.map((e) => e.name))
  const args = argv.slice(2)
  const end = args.indexOf("--")
  const before = end < 0 ? args : args.slice(0, end)
  const command = before.find((a) => docs.some((c) => c.name === a))
  const program: Effect.Effect<number, never, CliApp.CliApp.Environment> = Effect.suspend(() => {
    if (args.length === 0 || before.includes("--help") || before.includes("-h")) {
      return Effect.as(Console.log(Help.render(docs, command, { color })), ExitCode.ok as number)
    }
    const missing = command === undefined
      ? undefined
      : Help.missingValue(docs, command, before.slice(before.indexOf(command) + 1))
    if (missing !== undefined) return Effect.as(Console.error(`braid: ${missing}`), ExitCode.usage as number)
    return Command.run(make(registry), { name: "braid", version: Help.version })(argv).pipe(
      Effect.as(ExitCode.ok as number),
      Effect.catchAll((e: unknown) => {
        if (e instanceof Exit) return Effect.succeed(e.code)
        if (ValidationError.isValidationError(e)) {
          return Effect.succeed(ValidationError.isHelpRequested(e) ? ExitCode.ok : ExitCode.usage)
        }
        const tag = typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : ""
        const message = e instanceof Error || (typeof e === "object" && e !== null && "message" in e)
          ? String((e as { message: unknown }).message)
          : String(e)
        return Effect.as(Console.error(`braid: ${message}`), usageTags.has(tag) ? ExitCode.usage : ExitCode.failed)
      }),
      Effect.catchAllDefect((d) =>
        Effect.as(
          Console.error(`braid: unexpected error: ${d instanceof Error ? d.stack ?? d.message : String(d)}`),
          ExitCode.failed
        )
      )
    )
  })
  return color ? program : Effect.consoleWith((base) => Effect.withConsole(program, plainConsole(base)))
}
