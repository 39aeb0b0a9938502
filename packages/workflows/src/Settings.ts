/**
 * The settings of the practice and coaching apps, read once from the environment with Effect
 * `Config` and validated: one object, so the session cap, the timeouts and the thresholds are not
 * read in ten places.
 *
 * | setting | variable | default |
 * |---|---|---|
 * | `sessionCap.active` / `.queued` | `BRAID_SESSION_CAP_ACTIVE` / `BRAID_SESSION_CAP_QUEUED` | 20 / 5 |
 * | `modelConcurrency` / `modelQueue` | `BRAID_MODEL_CONCURRENCY` / `BRAID_MODEL_QUEUE` (calls that may wait for a slot) | 20 / 5 |
 * | `timeouts.modelCall` / `.idle` / `.evaluation` | `BRAID_MODEL_TIMEOUT` / `BRAID_IDLE_TIMEOUT` / `BRAID_EVALUATION_TIMEOUT` | 30 seconds / 15 minutes / 2 minutes |
 * | `thresholds.outageAfter` | `BRAID_OUTAGE_AFTER` (consecutive failed replies) | 3 |
 * | `thresholds.turnLimit` | `BRAID_TURN_LIMIT` (user messages per session) | 40 |
 * | `thresholds.budgetPerSessionUsd` | `BRAID_SESSION_BUDGET_USD` | 1 |
 * | `store` | `BRAID_STORE` (`sqlite`, `postgres`, `memory`) | `sqlite` |
 * | `databaseUrl` | `DATABASE_URL` (required when `store` is `postgres`) | none |
 * | `eventBus` | `BRAID_EVENT_BUS` (`memory`, `redis`) | `redis` when `store` is `postgres`, else `memory` |
 * | `redisUrl` | `REDIS_URL` (required when `eventBus` is `redis`) | none |
 * | `redisPrefix` | `BRAID_REDIS_PREFIX` (the keys and channels of one deployment on Redis) | `braid:` |
 * | `durablePrefix` | `BRAID_DURABLE_PREFIX` (the durable engine's tables on PostgreSQL, one per deployment) | `braid_durable` |
 * | `runner.host` / `.port` | `BRAID_RUNNER_HOST` / `BRAID_RUNNER_PORT` (this process's address as a durable runner on PostgreSQL: unique per process) | `127.0.0.1` / 34431 |
 * | `models.client` / `.judge` / `.evaluator` / `.coach` | `BRAID_MODEL_CLIENT` / `BRAID_MODEL_JUDGE` / `BRAID_MODEL_EVALUATOR` / `BRAID_MODEL_COACH` | the model port's default |
 * | `tenant` | `BRAID_TENANT` | `default` |
 *
 * An empty variable counts as unset. A missing or invalid value is a `ConfigError` that names the variable (`Invalid data at
 * BRAID_SESSION_CAP_ACTIVE: "must be an integer from 1 to 10000"`). The two URLs are
 * `Redacted`: printing, logging or `JSON.stringify` of the settings shows `<redacted>`, and an
 * invalid URL is reported without its text.
 *
 * @since 0.3.0
 */
import { Config, ConfigError, Context, Duration, Either, Layer, Option, Redacted } from "effect"

/**
 * Where sessions are stored.
 *
 * @since 0.3.0
 * @category models
 */
export type StoreKind = "sqlite" | "postgres" | "memory"

/**
 * The validated settings.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Settings } from "@braid/workflows"
 *
 * const cap = Effect.map(Settings.Settings, (s) => s.sessionCap.active)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Shape {
  /** Sessions active at once, and sessions that may wait for a slot. */
  readonly sessionCap: { readonly active: number; readonly queued: number }
  /** Model calls in flight at once over all sessions. */
  readonly modelConcurrency: number
  /** Model calls that may wait for a slot (beyond them a call is refused at once). */
  readonly modelQueue: number
  readonly timeouts: {
    /** The bound of one model call attempt. */
    readonly modelCall: Duration.Duration
    /** A session ends after this long without a user message. */
    readonly idle: Duration.Duration
    /** The bound of one evaluation. */
    readonly evaluation: Duration.Duration
  }
  readonly thresholds: {
    /** A session ends (`model-outage`) after this many consecutive failed replies. */
    readonly outageAfter: number
    /** A session ends (`turn-limit`) after this many user messages. */
    readonly turnLimit: number
    /** A session ends (`budget-exhausted`) once it has cost this many dollars. */
    readonly budgetPerSessionUsd: number
  }
  readonly store: StoreKind
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  readonly eventBus: "memory" | "redis"
  readonly redisUrl: Option.Option<Redacted.Redacted<string>>
  /** The prefix of every Redis key and channel of the deployment (event bus, rate limits). */
  readonly redisPrefix: string
  /** The prefix of the durable engine's tables on PostgreSQL (shared by the processes of one deployment). */
  readonly durablePrefix: string
  /**
   * This process as a runner of the durable engine on PostgreSQL: the host the other processes
   * reach it at and the port it listens on (unique per process).
   */
  readonly runner: { readonly host: string; readonly port: number }
  /** Model names; absent means the model port's default. */
  readonly models: {
    readonly client: Option.Option<string>
    readonly judge: Option.Option<string>
    readonly evaluator: Option.Option<string>
    readonly coach: Option.Option<string>
  }
  /** The organization of sessions created without one. */
  readonly tenant: string
}

const intIn = (name: string, min: number, max: number, fallback: number): Config.Config<number> =>
  Config.integer(name).pipe(
    Config.validate({ message: `must be an integer from ${min} to ${max}`, validation: (n) => n >= min && n <= max }),
    Config.withDefault(fallback)
  )

const positiveDuration = (name: string, fallback: Duration.DurationInput): Config.Config<Duration.Duration> =>
  Config.duration(name).pipe(
    Config.validate({
      message: "must be a positive, finite duration (e.g. \"30 seconds\")",
      validation: (d) => Duration.toMillis(d) > 0 && Duration.isFinite(d)
    }),
    Config.withDefault(Duration.decode(fallback))
  )

const modelName = (name: string): Config.Config<Option.Option<string>> => Config.option(Config.nonEmptyString(name))

/** A secret URL: checked for shape, reported without its text. */
const secretUrl = (name: string): Config.Config<Option.Option<Redacted.Redacted<string>>> =>
  Config.option(Config.redacted(name)).pipe(
    Config.mapOrFail((value) => {
      if (Option.isNone(value)) return Either.right(value)
      const text = Redacted.value(value.value)
      if (text.trim() === "") return Either.right(Option.none())
      return URL.canParse(text)
        ? Either.right(value)
        : Either.left(ConfigError.InvalidData([name], "is not a URL (e.g. scheme://host:port/path); value not shown"))
    })
  )

/** A URL that a choice requires. */
const requireWhen = <A extends string>(
  choice: A,
  choiceName: string,
  url: Option.Option<Redacted.Redacted<string>>,
  urlName: string
): Either.Either<void, ConfigError.ConfigError> =>
  Option.isNone(url)
    ? Either.left(ConfigError.MissingData([urlName], `${urlName} is required when ${choiceName} is "${choice}"`))
    : Either.right(undefined)

/**
 * The settings, read from the current `ConfigProvider` (the environment by default).
 *
 * @example
 * ```ts
 * import { ConfigProvider, Effect } from "effect"
 * import { Settings } from "@braid/workflows"
 *
 * const settings = Effect.withConfigProvider(
 *   Settings.config,
 *   ConfigProvider.fromMap(new Map([["BRAID_SESSION_CAP_ACTIVE", "10"]]))
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const config: Config.Config<Shape> = Config.all({
  sessionCap: Config.all({
    active: intIn("BRAID_SESSION_CAP_ACTIVE", 1, 10_000, 20),
    queued: intIn("BRAID_SESSION_CAP_QUEUED", 0, 100_000, 5)
  }),
  modelConcurrency: intIn("BRAID_MODEL_CONCURRENCY", 1, 10_000, 20),
  modelQueue: intIn("BRAID_MODEL_QUEUE", 0, 100_000, 5),
  timeouts: Config.all({
    modelCall: positiveDuration("BRAID_MODEL_TIMEOUT", "30 seconds"),
    idle: positiveDuration("BRAID_IDLE_TIMEOUT", "15 minutes"),
    evaluation: positiveDuration("BRAID_EVALUATION_TIMEOUT", "2 minutes")
  }),
  thresholds: Config.all({
    outageAfter: intIn("BRAID_OUTAGE_AFTER", 1, 1000, 3),
    turnLimit: intIn("BRAID_TURN_LIMIT", 1, 10_000, 40),
    budgetPerSessionUsd: Config.number("BRAID_SESSION_BUDGET_USD").pipe(
      Config.validate({
        message: "must be a positive number of dollars",
        validation: (n) => Number.isFinite(n) && n > 0
      }),
      Config.withDefault(1)
    )
  }),
  store: Config.literal("sqlite", "postgres", "memory")("BRAID_STORE").pipe(Config.withDefault("sqlite" as const)),
  databaseUrl: secretUrl("DATABASE_URL"),
  eventBus: Config.option(Config.literal("memory", "redis")("BRAID_EVENT_BUS")),
  redisUrl: secretUrl("REDIS_URL"),
  redisPrefix: Config.string("BRAID_REDIS_PREFIX").pipe(
    Config.validate({
      message: "must be 1 to 100 characters without spaces or control characters (e.g. \"braid:\")",
      validation: (p) => /^[^\s\u0000-\u001f]{1,100}$/.test(p)
    }),
    Config.withDefault("braid:")
  ),
  durablePrefix: Config.string("BRAID_DURABLE_PREFIX").pipe(
    Config.validate({
      message: "must be a lower-case SQL name (letters, digits, _; at most 41 characters)",
      validation: (p) => /^[a-z_][a-z0-9_]{0,40}$/.test(p)
    }),
    Config.withDefault("braid_durable")
  ),
  runner: Config.all({
    host: Config.string("BRAID_RUNNER_HOST").pipe(
      Config.validate({
        message: "must be a host name or address (no spaces, at most 253 characters)",
        validation: (h) => /^[A-Za-z0-9.:_\-[\]]{1,253}$/.test(h)
      }),
      Config.withDefault("127.0.0.1")
    ),
    port: intIn("BRAID_RUNNER_PORT", 1, 65_535, 34_431)
  }),
  models: Config.all({
    client: modelName("BRAID_MODEL_CLIENT"),
    judge: modelName("BRAID_MODEL_JUDGE"),
    evaluator: modelName("BRAID_MODEL_EVALUATOR"),
    coach: modelName("BRAID_MODEL_COACH")
  }),
  tenant: Config.nonEmptyString("BRAID_TENANT").pipe(Config.withDefault("default"))
}).pipe(
  Config.mapOrFail((read): Either.Either<Shape, ConfigError.ConfigError> => {
    // several processes on PostgreSQL share events (and rate limits) through Redis by default
    const s: Shape = {
      ...read,
      eventBus: Option.getOrElse(read.eventBus, () => read.store === "postgres" ? "redis" as const : "memory" as const)
    }
    if (s.store === "postgres") {
      const missing = requireWhen("postgres", "BRAID_STORE", s.databaseUrl, "DATABASE_URL")
      if (Either.isLeft(missing)) return Either.left(missing.left)
    }
    if (s.eventBus === "redis" && Option.isNone(s.redisUrl)) {
      return Either.left(
        Option.isSome(read.eventBus)
          ? ConfigError.MissingData(["REDIS_URL"], "REDIS_URL is required when BRAID_EVENT_BUS is \"redis\"")
          : ConfigError.MissingData(
            ["REDIS_URL"],
            "REDIS_URL is required when BRAID_STORE is \"postgres\" (the processes share events and rate limits through Redis; BRAID_EVENT_BUS=memory for a single process)"
          )
      )
    }
    return Either.right(s)
  })
)

/**
 * The settings as a service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Settings } from "@braid/workflows"
 *
 * const program = Effect.map(Settings.Settings, (s) => s.timeouts.idle).pipe(Effect.provide(Settings.layer))
 * ```
 *
 * @since 0.3.0
 * @category services
 */
export class Settings extends Context.Tag("@braid/workflows/Settings")<Settings, Shape>() {}

/**
 * The settings read from the environment (`config`); fails with the `ConfigError` naming the
 * variable at fault.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Settings } from "@braid/workflows"
 *
 * const tenant = Effect.map(Settings.Settings, (s) => s.tenant).pipe(Effect.provide(Settings.layer))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<Settings, ConfigError.ConfigError> = Layer.effect(Settings, config)

/**
 * The settings as one line per value, for a startup log: the URLs show as `<redacted>`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Settings } from "@braid/workflows"
 *
 * const log = Effect.flatMap(Settings.config, (s) => Effect.log(Settings.describe(s)))
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const describe = (settings: Shape): string => {
  const opt = <A>(o: Option.Option<A>) => (Option.isSome(o) ? String(o.value) : "(default)")
  const d = (x: Duration.Duration) => Duration.format(x)
  return [
    `session cap: ${settings.sessionCap.active} active, ${settings.sessionCap.queued} queued`,
    `model calls: ${settings.modelConcurrency} at once, ${settings.modelQueue} waiting`,
    `timeouts: model call ${d(settings.timeouts.modelCall)}, idle ${d(settings.timeouts.idle)}, evaluation ${
      d(settings.timeouts.evaluation)
    }`,
    `thresholds: outage after ${settings.thresholds.outageAfter} failed replies, ${settings.thresholds.turnLimit} turns, $${settings.thresholds.budgetPerSessionUsd} per session`,
    `store: ${settings.store} (DATABASE_URL ${Option.isSome(settings.databaseUrl) ? "<redacted>" : "unset"})`,
    `event bus: ${settings.eventBus} (REDIS_URL ${
      Option.isSome(settings.redisUrl) ? "<redacted>" : "unset"
    }, prefix ${settings.redisPrefix})`,
    `durable engine: tables ${settings.durablePrefix}_*, runner ${settings.runner.host}:${settings.runner.port}`,
    `models: client ${opt(settings.models.client)}, judge ${opt(settings.models.judge)}, evaluator ${
      opt(settings.models.evaluator)
    }, coach ${opt(settings.models.coach)}`,
    `tenant: ${settings.tenant}`
  ].join("\n")
}
