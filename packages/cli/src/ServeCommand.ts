/**
 * `braid serve` and `braid users token`: the HTTP server of `@braid/server` with embedded
 * defaults (a SQLite store in the data directory, the scripted model offline or Claude with
 * `ANTHROPIC_API_KEY`, the settings of `Settings` for caps and timeouts), and the tokens its
 * users sign in with.
 *
 * The backends follow `BRAID_STORE`: `sqlite` (default: the sessions in `<data>/braid.db`, the
 * durable engine's journal in `<data>/braid-durable.db`), `memory` (nothing persists), or
 * `postgres` (the sessions and the durable engine's tables on `DATABASE_URL`, this process one
 * runner of a cluster at `BRAID_RUNNER_HOST:BRAID_RUNNER_PORT`, the events and the rate limits
 * shared through Redis at `REDIS_URL`): several `braid serve` processes on one PostgreSQL and
 * one Redis serve any session.
 *
 * @since 0.3.0
 */
import { DurableModel } from "@braid/durable"
import { Durable } from "@braid/durable"
import * as DurableSessions from "@braid/durable/DurableSessions"
import * as PostgresRunners from "@braid/durable/PostgresRunners"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { Models, Samples as EvalSamples } from "@braid/eval"
import type { Ai } from "@braid/llm"
import { DefaultLanguageModel, Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus, Lock } from "@braid/messaging"
import { PostgresDriver, PostgresMeetingRecords, PostgresResultStore, PostgresSessionStore } from "@braid/postgres"
import { RedisEventBus, RedisRateLimit } from "@braid/redis"
import { RateLimit } from "@braid/resilience"
import { Auth, Server } from "@braid/server"
import { SqliteMeetingRecords, SqliteResultStore, SqliteSessionStore } from "@braid/sqlite"
import { Practice, Scripts, SessionStore, Settings } from "@braid/workflows"
import { FileSystem, HttpServer, Path } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { ConfigError, Redacted, Scope } from "effect"
import { Console, Duration, Effect, Layer, Option } from "effect"
import { createServer } from "node:http"

/**
 * The options of `braid serve`.
 *
 * @category models
 * @since 0.3.0
 */
export interface ServeOptions {
  /** The data directory (the SQLite files, the development secret). */
  readonly data: string
  readonly port: number
  readonly host: string
  /** Use the scripted model even if `ANTHROPIC_API_KEY` is set. */
  readonly offline: boolean
  /** Origins allowed to call the API from a browser. */
  readonly cors: ReadonlyArray<string>
  /** The web app's built files (default: the ones shipped with `@braid/server`). */
  readonly web?: string | undefined
  /** PostgreSQL: the host the other processes reach this runner at (default `BRAID_RUNNER_HOST`). */
  readonly runnerHost?: string | undefined
  /** PostgreSQL: the port this runner listens on, unique per process (default `BRAID_RUNNER_PORT`). */
  readonly runnerPort?: number | undefined
  /**
   * The model (a provider of the model port); default the scripted model offline, else Claude
   * with `ANTHROPIC_API_KEY`. Its calls are journaled by the durable engine (`DurableModel`).
   */
  readonly provider?: Effect.Effect<Ai.Provider, ConfigError.ConfigError> | undefined
}

/**
 * The options of the durable practice sessions from the settings (cap, timeouts, thresholds,
 * model names).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ServeCommand } from "@braid/cli"
 * import { Settings } from "@braid/workflows"
 *
 * const config = Effect.map(Settings.Settings, (s) => ServeCommand.practiceConfig(s))
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const practiceConfig = (settings: Settings.Shape): DurableSessions.ServiceOptions => {
  const judge = Option.getOrUndefined(settings.models.judge)
  const evaluator = Option.getOrUndefined(settings.models.evaluator)
  const client = Option.getOrUndefined(settings.models.client)
  return {
    cap: { maxActive: settings.sessionCap.active, maxQueued: settings.sessionCap.queued },
    idleTimeout: settings.timeouts.idle,
    modelTimeout: settings.timeouts.modelCall,
    outageAfter: settings.thresholds.outageAfter,
    maxTurns: settings.thresholds.turnLimit,
    objective: Practice.judge(judge !== undefined ? { model: judge } : {}),
    evaluation: { timeout: settings.timeouts.evaluation, ...(evaluator !== undefined ? { model: evaluator } : {}) },
    ...(client !== undefined ? { model: client } : {})
  }
}

/**
 * Where `braid serve` keeps things, from the settings and the options: one line each for the
 * startup log (no URL is ever shown: they may carry passwords).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ServeCommand } from "@braid/cli"
 * import { Settings } from "@braid/workflows"
 *
 * const lines = Effect.map(Settings.config, (s) =>
 *   ServeCommand.describeBackends(s, { data: ".braid", port: 4173, host: "127.0.0.1", offline: true, cors: [] })
 * )
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const describeBackends = (settings: Settings.Shape, options: ServeOptions): ReadonlyArray<string> => {
  const runner = runnerAddress(settings, options)
  const store = settings.store === "memory"
    ? "in memory (nothing persists)"
    : settings.store === "sqlite"
    ? `SQLite ${joinPath(options.data, "braid.db")}`
    : "PostgreSQL (DATABASE_URL)"
  const engine = settings.store === "memory"
    ? "in memory"
    : settings.store === "sqlite"
    ? `SQLite ${joinPath(options.data, "braid-durable.db")} (one process)`
    : `PostgreSQL, tables ${settings.durablePrefix}_*, this process a runner at ${runner.host}:${runner.port}`
  const shared = settings.eventBus === "redis"
    ? `Redis (REDIS_URL, prefix ${settings.redisPrefix}): events and rate limits shared by the processes`
    : "in this process (events and rate limits)"
  return [`store: ${store}`, `durable sessions: ${engine}`, `events: ${shared}`]
}

const joinPath = (dir: string, file: string) => `${dir.replace(/[/\\]+$/, "")}/${file}`

const runnerAddress = (settings: Settings.Shape, options: ServeOptions) => ({
  host: options.runnerHost ?? settings.runner.host,
  port: options.runnerPort ?? settings.runner.port
})

/** `Some` by the settings' validation when the choice needs it. */
const required = (url: Option.Option<Redacted.Redacted<string>>, name: string) =>
  Option.match(url, {
    onNone: () => Effect.dieMessage(`${name} is missing (the settings require it)`),
    onSome: Effect.succeed
  })

/**
 * The backends of `braid serve` as layers: the session store, the durable engine (this process
 * a runner), the event bus, the shared rate limits, and the model (journaled by the engine).
 */
const backends = (settings: Settings.Shape, options: ServeOptions) =>
  Effect.gen(function*() {
    const storeFile = joinPath(options.data, "braid.db")
    const engineFile = joinPath(options.data, "braid-durable.db")
    const provider = options.provider ??
      (options.offline
        ? ScriptedLanguageModel.provider(Scripts.practice)
        : DefaultLanguageModel.provider({ scripted: Scripts.practice }))
    const model = Metered.fromProvider(Effect.map(provider, DurableModel.provider))
    // the store, the engine (this process a runner), and the lock under which the session cap admits
    const storeAndEngine = settings.store === "memory"
      ? Layer.mergeAll(SessionStore.layerMemory, Durable.layerMemory, Lock.layerMemory)
      : settings.store === "sqlite"
      ? Layer.mergeAll(
        SqliteSessionStore.layer(storeFile),
        SqliteEngine.layer({ filename: engineFile, pollInterval: "100 millis" }),
        Lock.layerMemory // one process per SQLite engine file
      )
      : yield* Effect.map(required(settings.databaseUrl, "DATABASE_URL"), (url) =>
        Layer.mergeAll(
          PostgresSessionStore.layer({ url }),
          PostgresRunners.layer({
            url,
            prefix: settings.durablePrefix,
            runnerAddress: runnerAddress(settings, options),
            // a dead process's sessions move to the others within about 5 s + the shard lock
            // expiration (35 s), not the engine's default minute: well inside a send's 2 minutes
            healthCheckInterval: "5 seconds"
          }),
          Lock.layerSql().pipe(Layer.provide(PostgresDriver.layer({ url, max: 2 })))
        ))
    const redisUrl = settings.eventBus === "redis" ? yield* required(settings.redisUrl, "REDIS_URL") : undefined
    const bus = redisUrl === undefined
      ? EventBus.layerMemory
      : RedisEventBus.layer({ url: redisUrl, prefix: `${settings.redisPrefix}bus:` })
    const rateLimits: Effect.Effect<RateLimit.Store, unknown, Scope.Scope> = redisUrl === undefined
      ? Effect.succeed(RateLimit.memoryStore())
      : RedisRateLimit.storeFromConfig({ url: redisUrl, prefix: `${settings.redisPrefix}ratelimit:` })
    // meeting records and evaluation results persist next to the sessions (in memory with `memory`)
    const records = settings.store === "memory"
      ? Layer.empty
      : settings.store === "sqlite"
      ? Layer.mergeAll(SqliteMeetingRecords.layer(storeFile), SqliteResultStore.layer(storeFile))
      : yield* Effect.map(required(settings.databaseUrl, "DATABASE_URL"), (url) =>
        Layer.mergeAll(PostgresMeetingRecords.layer({ url }), PostgresResultStore.layer({ url })))
    return { backends: Layer.mergeAll(storeAndEngine, bus, model, records), rateLimits }
  })

/** The model of a workflow other than practice: Claude when a key is set, else its script. */
const roleModel = (script: ScriptedLanguageModel.Options, offline: boolean) =>
  Layer.orDie(Models.layer(script, { offline }))

/**
 * Runs the server until the process is interrupted (Ctrl-C); prints where it listens.
 *
 * @example
 * ```ts
 * import { ServeCommand } from "@braid/cli"
 *
 * const server = ServeCommand.serve({ data: ".braid", port: 4173, host: "127.0.0.1", offline: true, cors: [] })
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const serve = (options: ServeOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const settings = yield* Settings.config
    yield* fs.makeDirectory(options.data, { recursive: true })
    const { secret, source } = yield* Auth.secretIn(options.data)
    const mode = options.provider !== undefined ? "custom" : yield* Models.mode({ offline: options.offline })
    const webDir = options.web ?? Server.defaultWebDir
    const { backends: Base, rateLimits } = yield* backends(settings, options)
    yield* Effect.scoped(Effect.gen(function*() {
      const limits = yield* rateLimits
      const App = Server.layer({
        secret,
        webDir,
        corsOrigins: options.cors,
        rateLimits: limits,
        // coaching, meetings and evaluation runs: Claude with a key (scripted offline), as practice
        ...(options.provider === undefined
          ? {
            coaching: { model: roleModel(Scripts.coaching, options.offline) },
            meetings: { model: roleModel(Scripts.meeting, options.offline) },
            evaluationRuns: { model: roleModel(EvalSamples.judgeScript, options.offline) }
          }
          : {})
      }).pipe(
        Layer.provide(DurableSessions.layerPractice(practiceConfig(settings))),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: options.port, host: options.host })),
        Layer.provideMerge(Base)
      )
      return yield* Effect.gen(function*() {
        const seeded = yield* Server.seed(settings.tenant)
        const server = yield* HttpServer.HttpServer
        const address = server.address
        const url = address._tag === "TcpAddress" ? `http://${options.host}:${address.port}` : "(unix socket)"
        const webBuilt = yield* fs.exists(path.join(webDir, "index.html"))
        const [store, ...rest] = describeBackends(settings, options)
        yield* Console.log([
          `braid serve: listening on ${url}`,
          `  web app: ${webBuilt ? url : `not built (${webDir} is missing)`}`,
          `  API: ${url}/api (docs ${url}/api/docs, OpenAPI ${url}/api/openapi.json)`,
          `  ${store}${seeded ? " (added the sample scenario)" : ""}`,
          ...rest.map((line) => `  ${line}`),
          `  model: ${
            mode === "custom"
              ? "given by the caller"
              : mode === "scripted"
              ? "scripted (offline)"
              : "Claude (ANTHROPIC_API_KEY)"
          }`,
          `  tokens signed with ${
            source === "env" ? "BRAID_AUTH_SECRET" : `the development secret in ${options.data}`
          }`,
          `  sign in: braid users token ada --role learner${options.data !== ".braid" ? ` --data ${options.data}` : ""}`
        ].join("\n"))
        return yield* Effect.never
      }).pipe(Effect.provide(App))
    }))
  })

/**
 * The options of `braid users token`.
 *
 * @category models
 * @since 0.3.0
 */
export interface TokenOptions {
  readonly user: string
  readonly role: "learner" | "teacher" | "admin"
  readonly tenant: string
  /** How long the token is valid (`7d`, `12h`, `30m`, or a `Duration` text such as `2 hours`). */
  readonly ttl: string
  readonly data: string
}

const units: Record<string, string> = { s: "seconds", m: "minutes", h: "hours", d: "days", w: "weeks" }

/**
 * Parses a time to live: `7d`, `12h`, `30m`, `45s`, `2w`, or a `Duration` text (`2 hours`).
 *
 * @example
 * ```ts
 * import { ServeCommand } from "@braid/cli"
 *
 * ServeCommand.parseTtl("7d") // Option.some(Duration.days(7))
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const parseTtl = (text: string): Option.Option<Duration.Duration> => {
  const short = /^(\d{1,6})([smhdw])$/.exec(text.trim())
  const decoded = short !== null
    ? Duration.decodeUnknown(`${short[1]} ${units[short[2]!]}`)
    : Duration.decodeUnknown(text.trim())
  return Option.filter(decoded, (d) => Duration.isFinite(d) && Duration.toMillis(d) > 0)
}

/**
 * Issues a token signed with the server's secret (`BRAID_AUTH_SECRET`, or the development secret
 * of the data directory) and prints it.
 *
 * @example
 * ```ts
 * import { ServeCommand } from "@braid/cli"
 *
 * const print = ServeCommand.token({ user: "ada", role: "learner", tenant: "default", ttl: "7d", data: ".braid" })
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const token = (options: TokenOptions) =>
  Effect.gen(function*() {
    const ttl = parseTtl(options.ttl)
    if (Option.isNone(ttl)) {
      return yield* Effect.fail(
        new Error(`--ttl: "${options.ttl}" is not a duration (e.g. 7d, 12h, 30m, "2 hours")`)
      )
    }
    const user = options.user.trim()
    if (user === "" || user.length > 200) return yield* Effect.fail(new Error("<user>: 1 to 200 characters"))
    const tenant = options.tenant.trim()
    if (tenant === "" || tenant.length > 200) return yield* Effect.fail(new Error("--tenant: 1 to 200 characters"))
    const { secret } = yield* Auth.secretIn(options.data)
    const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
    yield* Console.log(Auth.issue(secret, { userId: user, role: options.role, tenant, ttl: ttl.value }, now))
  })
