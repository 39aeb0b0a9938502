import { Coaching, Settings } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Inspectable, Layer, Option, Redacted } from "effect"
import * as fc from "fast-check"

const read = (env: Record<string, string>) =>
  Effect.withConfigProvider(Settings.config, ConfigProvider.fromMap(new Map(Object.entries(env))))

const failure = (env: Record<string, string>) => Effect.map(Effect.flip(read(env)), (e) => String(e))

const secret = "postgres://braid:s3cr3t-pw@db.internal:5432/braid"

describe("Settings", () => {
  it.effect("defaults: cap 20 active and 5 queued, 15 minutes idle, outage after 3 failures, no URLs", () =>
    Effect.gen(function*() {
      const s = yield* read({})
      assert.deepStrictEqual(s.sessionCap, { active: 20, queued: 5 })
      assert.strictEqual(s.modelConcurrency, 20)
      assert.strictEqual(s.modelQueue, 5)
      assert.strictEqual(Duration.toMillis(s.timeouts.modelCall), 30_000)
      assert.strictEqual(Duration.toMillis(s.timeouts.idle), 15 * 60_000)
      assert.strictEqual(Duration.toMillis(s.timeouts.evaluation), 120_000)
      assert.deepStrictEqual(s.thresholds, { outageAfter: 3, turnLimit: 40, budgetPerSessionUsd: 1 })
      assert.strictEqual(s.store, "sqlite")
      assert.strictEqual(s.eventBus, "memory")
      assert.isTrue(Option.isNone(s.databaseUrl) && Option.isNone(s.redisUrl))
      assert.isTrue(Option.isNone(s.models.coach))
      assert.strictEqual(s.tenant, "default")
    }))

  it.effect("every value is read from its variable", () =>
    Effect.gen(function*() {
      const s = yield* read({
        BRAID_SESSION_CAP_ACTIVE: "8",
        BRAID_SESSION_CAP_QUEUED: "0",
        BRAID_MODEL_CONCURRENCY: "4",
        BRAID_MODEL_QUEUE: "0",
        BRAID_MODEL_TIMEOUT: "10 seconds",
        BRAID_IDLE_TIMEOUT: "5 minutes",
        BRAID_EVALUATION_TIMEOUT: "1 minute",
        BRAID_OUTAGE_AFTER: "2",
        BRAID_TURN_LIMIT: "12",
        BRAID_SESSION_BUDGET_USD: "0.25",
        BRAID_STORE: "postgres",
        DATABASE_URL: secret,
        BRAID_EVENT_BUS: "redis",
        REDIS_URL: "redis://:hunter2@127.0.0.1:6379",
        BRAID_MODEL_CLIENT: "claude-haiku",
        BRAID_MODEL_JUDGE: "claude-opus",
        BRAID_MODEL_EVALUATOR: "claude-sonnet",
        BRAID_MODEL_COACH: "claude-sonnet",
        BRAID_TENANT: "acme"
      })
      assert.deepStrictEqual(s.sessionCap, { active: 8, queued: 0 })
      assert.strictEqual(s.modelConcurrency, 4)
      assert.strictEqual(s.modelQueue, 0)
      assert.strictEqual(Duration.toMillis(s.timeouts.modelCall), 10_000)
      assert.strictEqual(Duration.toMillis(s.timeouts.idle), 300_000)
      assert.strictEqual(Duration.toMillis(s.timeouts.evaluation), 60_000)
      assert.deepStrictEqual(s.thresholds, { outageAfter: 2, turnLimit: 12, budgetPerSessionUsd: 0.25 })
      assert.strictEqual(s.store, "postgres")
      assert.strictEqual(Option.map(s.databaseUrl, Redacted.value).pipe(Option.getOrUndefined), secret)
      assert.strictEqual(s.eventBus, "redis")
      assert.deepStrictEqual(Option.getOrUndefined(s.models.judge), "claude-opus")
      assert.strictEqual(s.tenant, "acme")
    }))

  it.effect("an invalid value is an error that names its variable and says what is expected", () =>
    Effect.gen(function*() {
      assert.include(yield* failure({ BRAID_SESSION_CAP_ACTIVE: "lots" }), "BRAID_SESSION_CAP_ACTIVE")
      assert.include(
        yield* failure({ BRAID_SESSION_CAP_ACTIVE: "0" }),
        "Invalid data at BRAID_SESSION_CAP_ACTIVE: \"must be an integer from 1 to 10000\""
      )
      assert.include(yield* failure({ BRAID_SESSION_CAP_QUEUED: "-1" }), "BRAID_SESSION_CAP_QUEUED")
      assert.include(yield* failure({ BRAID_MODEL_CONCURRENCY: "2.5" }), "BRAID_MODEL_CONCURRENCY")
      assert.include(yield* failure({ BRAID_IDLE_TIMEOUT: "soon" }), "BRAID_IDLE_TIMEOUT")
      assert.include(yield* failure({ BRAID_MODEL_TIMEOUT: "0 millis" }), "BRAID_MODEL_TIMEOUT")
      assert.include(yield* failure({ BRAID_OUTAGE_AFTER: "0" }), "BRAID_OUTAGE_AFTER")
      assert.include(yield* failure({ BRAID_SESSION_BUDGET_USD: "NaN" }), "BRAID_SESSION_BUDGET_USD")
      assert.include(yield* failure({ BRAID_SESSION_BUDGET_USD: "-3" }), "BRAID_SESSION_BUDGET_USD")
      assert.include(yield* failure({ BRAID_STORE: "mysql" }), "Invalid data at BRAID_STORE")
      // an empty variable is an unset one: the default applies
      const empty = yield* read({ BRAID_MODEL_COACH: "", BRAID_TENANT: "" })
      assert.isTrue(Option.isNone(empty.models.coach))
      assert.strictEqual(empty.tenant, "default")
    }))

  it.effect("a URL required by a choice is missing: the error names both", () =>
    Effect.gen(function*() {
      const pg = yield* failure({ BRAID_STORE: "postgres" })
      assert.include(pg, "DATABASE_URL")
      assert.include(pg, "BRAID_STORE is \"postgres\"")
      const redis = yield* failure({ BRAID_EVENT_BUS: "redis" })
      assert.include(redis, "REDIS_URL is required when BRAID_EVENT_BUS is \"redis\"")
    }))

  it.effect("several processes on PostgreSQL: Redis by default, a durable table prefix, the runner's address; each validated", () =>
    Effect.gen(function*() {
      const s = yield* read({
        BRAID_STORE: "postgres",
        DATABASE_URL: secret,
        REDIS_URL: "redis://127.0.0.1:6379",
        BRAID_REDIS_PREFIX: "acme:",
        BRAID_DURABLE_PREFIX: "acme_durable",
        BRAID_RUNNER_HOST: "10.0.0.7",
        BRAID_RUNNER_PORT: "34500"
      })
      assert.strictEqual(s.eventBus, "redis")
      assert.strictEqual(s.redisPrefix, "acme:")
      assert.strictEqual(s.durablePrefix, "acme_durable")
      assert.deepStrictEqual(s.runner, { host: "10.0.0.7", port: 34500 })
      const defaults = yield* read({})
      assert.strictEqual(defaults.redisPrefix, "braid:")
      assert.strictEqual(defaults.durablePrefix, "braid_durable")
      assert.deepStrictEqual(defaults.runner, { host: "127.0.0.1", port: 34431 })
      // one process on PostgreSQL without Redis says so
      const single = yield* read({ BRAID_STORE: "postgres", DATABASE_URL: secret, BRAID_EVENT_BUS: "memory" })
      assert.strictEqual(single.eventBus, "memory")
      const noRedis = yield* failure({ BRAID_STORE: "postgres", DATABASE_URL: secret })
      assert.include(noRedis, "REDIS_URL is required when BRAID_STORE is \"postgres\"")
      assert.include(noRedis, "BRAID_EVENT_BUS=memory")
      assert.include(yield* failure({ BRAID_DURABLE_PREFIX: "x; drop table y" }), "BRAID_DURABLE_PREFIX")
      assert.include(yield* failure({ BRAID_RUNNER_PORT: "70000" }), "BRAID_RUNNER_PORT")
      assert.include(yield* failure({ BRAID_RUNNER_HOST: "a host" }), "BRAID_RUNNER_HOST")
      assert.include(yield* failure({ BRAID_REDIS_PREFIX: "a b" }), "BRAID_REDIS_PREFIX")
    }))

  it.effect("secrets never show: printing, JSON, describe and the error of an invalid URL", () =>
    Effect.gen(function*() {
      const s = yield* read({ BRAID_STORE: "postgres", DATABASE_URL: secret, REDIS_URL: "redis://:hunter2@h:6379" })
      for (
        const text of [
          JSON.stringify(s),
          String(s.databaseUrl),
          Inspectable.format(s),
          Settings.describe(s)
        ]
      ) {
        assert.notInclude(text, "s3cr3t-pw")
        assert.notInclude(text, "hunter2")
      }
      assert.include(Settings.describe(s), "store: postgres (DATABASE_URL <redacted>)")
      const bad = yield* failure({ DATABASE_URL: "s3cr3t-pw not a url" })
      assert.include(bad, "DATABASE_URL")
      assert.notInclude(bad, "s3cr3t-pw")
    }))

  it.effect("the layer provides the settings; fuzzed values never crash (a value or a ConfigError)", () =>
    Effect.gen(function*() {
      const s = yield* Settings.Settings.pipe(
        Effect.provide(Settings.layer.pipe(
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["BRAID_TENANT", "acme"]]))))
        ))
      )
      assert.strictEqual(s.tenant, "acme")
      const keys = ["BRAID_SESSION_CAP_ACTIVE", "BRAID_IDLE_TIMEOUT", "BRAID_SESSION_BUDGET_USD", "DATABASE_URL"]
      fc.assert(fc.property(
        fc.constantFrom(...keys),
        fc.oneof(fc.string(), fc.constantFrom("NaN", "1e400", "__proto__", "-0", "9007199254740993", " ")),
        (key, value) => {
          const exit = Effect.runSyncExit(read({ [key]: value }))
          if (exit._tag === "Failure") assert.include(String(exit.cause), key)
        }
      ))
    }))

  it.effect("Coaching.fromSettings: the coaching workflow's options from the settings", () =>
    Effect.gen(function*() {
      const s = yield* read({
        BRAID_IDLE_TIMEOUT: "5 minutes",
        BRAID_MODEL_TIMEOUT: "12 seconds",
        BRAID_MODEL_CONCURRENCY: "7",
        BRAID_MODEL_QUEUE: "2",
        BRAID_OUTAGE_AFTER: "4",
        BRAID_TURN_LIMIT: "9",
        BRAID_SESSION_BUDGET_USD: "0.5",
        BRAID_MODEL_COACH: "claude-coach",
        BRAID_TENANT: "acme"
      })
      const config = Coaching.fromSettings(s)
      assert.strictEqual(Duration.toMillis(Duration.decode(config.idleTimeout!)), 300_000)
      assert.strictEqual(Duration.toMillis(Duration.decode(config.modelTimeout!)), 12_000)
      assert.deepStrictEqual(config.capacity, { maxConcurrent: 7, maxQueued: 2 })
      assert.strictEqual(config.outageAfter, 4)
      assert.strictEqual(config.turnLimit, 9)
      assert.strictEqual(config.sessionBudgetUsd, 0.5)
      assert.strictEqual(config.model, "claude-coach")
      assert.strictEqual(config.tenant, "acme")
      assert.notProperty(Coaching.fromSettings(yield* read({})), "model") // the model port's default
    }))
})
