/**
 * `braid worker`: starts one runner of durable practice sessions
 * (`@braid/durable/DurableSessions`) and coaching sessions (`@braid/durable/DurableCoaching`). On a SQLite file by default (the engine's journal in
 * `--database`, the sessions in `--store`; a file serves one runner process), or, with
 * `--database-url`, on PostgreSQL: the engine's tables and the session store there, and this
 * process one runner of a cluster (`--host`/`--port`: its own address, reachable by the other
 * runners; each runner needs its own). It runs until it is stopped; a run it held resumes from
 * its journal on the next runner (or on this one, restarted).
 *
 * @since 0.3.0
 */
import { DurableModel } from "@braid/durable"
import * as DurableCoaching from "@braid/durable/DurableCoaching"
import * as DurableSessions from "@braid/durable/DurableSessions"
import * as PostgresRunners from "@braid/durable/PostgresRunners"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import type { ScriptedLanguageModel as ScriptedOptions } from "@braid/llm"
import { DefaultLanguageModel, Metered, ScriptedLanguageModel } from "@braid/llm"
import { PostgresSessionStore } from "@braid/postgres"
import { SqliteSessionStore } from "@braid/sqlite"
import { Scripts } from "@braid/workflows"
import { Command, Options } from "@effect/cli"
import type { Redacted } from "effect"
import { Console, Duration, Effect, Layer, Option, Schema } from "effect"
import * as Help from "./Help.js"

const describe_ = (option: string) => Help.describeOption(Help.commands([]), "worker", option)

/**
 * A bad option of `braid worker` (exit status 2); the message names the option (never the
 * database URL).
 *
 * @example
 * ```ts
 * import { WorkerCommand } from "@braid/cli"
 *
 * new WorkerCommand.WorkerOptionError({ option: "port", reason: "must be between 1 and 65535, got 0" }).message
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export class WorkerOptionError extends Schema.TaggedError<WorkerOptionError>()("WorkerOptionError", {
  option: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `--${this.option} ${this.reason}`
  }
}

/**
 * What the worker runs on: the durable engine, the session store and the model.
 *
 * @since 0.3.0
 * @category models
 */
export interface WorkerOptions {
  readonly database: string
  readonly store: string
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  /** PostgreSQL: the prefix of the engine's tables and shard locks (one per deployment). */
  readonly prefix: string
  readonly host: string
  readonly port: number
  readonly idleTimeout: number
  readonly offline: boolean
}

/**
 * The runner's layer: the durable practice sessions (workflow `braid-practice`) and coaching
 * sessions (`braid-coaching`) registered with the engine, on SQLite or PostgreSQL, each with the
 * model port journaled (`DurableModel`; offline, each with its own scripted model).
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { WorkerCommand } from "@braid/cli"
 *
 * const runner = WorkerCommand.layer({
 *   database: "braid-durable.db",
 *   store: "braid.db",
 *   databaseUrl: Option.none(),
 *   prefix: "braid_durable",
 *   host: "127.0.0.1",
 *   port: 34431,
 *   idleTimeout: 10,
 *   offline: true
 * })
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: WorkerOptions) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const idleTimeout = Duration.minutes(options.idleTimeout)
    const practice = yield* DurableSessions.practice({ idleTimeout })
    const coaching = yield* DurableCoaching.coaching({ idleTimeout })
    const model = (script: ScriptedOptions.Options) =>
      Metered.fromProvider(Effect.map(
        options.offline ? ScriptedLanguageModel.provider(script) : DefaultLanguageModel.provider({ scripted: script }),
        DurableModel.provider
      ))
    const engineAndStore = Option.match(options.databaseUrl, {
      onNone: () =>
        Layer.merge(
          SqliteEngine.layer({ filename: options.database }),
          SqliteSessionStore.layer(options.store)
        ),
      onSome: (url) =>
        Layer.merge(
          PostgresRunners.layer({
            url,
            prefix: options.prefix,
            runnerAddress: { host: options.host, port: options.port }
          }),
          PostgresSessionStore.layer({ url })
        )
    })
    return Layer.merge(
      practice.layer.pipe(Layer.provide(model(Scripts.practice))),
      coaching.layer.pipe(Layer.provide(model(Scripts.coaching)))
    ).pipe(Layer.provideMerge(engineAndStore))
  }))

/**
 * The `worker` subcommand: validates its options, starts the runner and runs until stopped.
 *
 * @example
 * ```ts
 * import { WorkerCommand } from "@braid/cli"
 *
 * const worker = WorkerCommand.command
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const command = Command.make(
  "worker",
  {
    database: Options.text("database").pipe(
      Options.withDefault("braid-durable.db"),
      Options.withDescription(describe_("database"))
    ),
    store: Options.text("store").pipe(Options.withDefault("braid.db"), Options.withDescription(describe_("store"))),
    databaseUrl: Options.redacted("database-url").pipe(
      Options.optional,
      Options.withDescription(describe_("database-url"))
    ),
    prefix: Options.text("prefix").pipe(
      Options.withDefault("braid_durable"),
      Options.withDescription(describe_("prefix"))
    ),
    host: Options.text("host").pipe(Options.withDefault("127.0.0.1"), Options.withDescription(describe_("host"))),
    port: Options.integer("port").pipe(Options.withDefault(34431), Options.withDescription(describe_("port"))),
    idleTimeout: Options.float("idle-timeout").pipe(
      Options.withDefault(10),
      Options.withDescription(describe_("idle-timeout"))
    ),
    offline: Options.boolean("offline").pipe(Options.withDescription(describe_("offline")))
  },
  (args) =>
    Effect.gen(function*() {
      if (!/^[a-z_][a-z0-9_]{0,40}$/.test(args.prefix)) {
        return yield* new WorkerOptionError({
          option: "prefix",
          reason: `must be a lower-case SQL name (letters, digits, _; at most 41), got ${JSON.stringify(args.prefix)}`
        })
      }
      if (!(args.port >= 1 && args.port <= 65535)) {
        return yield* new WorkerOptionError({ option: "port", reason: `must be between 1 and 65535, got ${args.port}` })
      }
      if (!(args.idleTimeout > 0) || !Number.isFinite(args.idleTimeout)) {
        return yield* new WorkerOptionError({
          option: "idle-timeout",
          reason: `must be a positive number of minutes, got ${args.idleTimeout}`
        })
      }
      const where = Option.isSome(args.databaseUrl)
        ? `PostgreSQL (runner ${args.host}:${args.port})`
        : `SQLite (${args.database}, sessions in ${args.store})`
      yield* Console.log(`braid worker: running durable practice and coaching sessions on ${where}; stop with Ctrl-C`)
      return yield* Layer.launch(layer(args))
    })
).pipe(Command.withDescription(Help.commands([]).find((c) => c.name === "worker")!.summary))
