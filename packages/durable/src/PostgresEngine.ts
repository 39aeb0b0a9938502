/**
 * The durable engine on PostgreSQL: `@effect/cluster`'s sharding with its SQL message storage
 * and SQL runner storage (shard locks) on `@effect/sql-pg`, under a table prefix, plus Braid's
 * run status table. One process runs one runner; every runner needs its own address
 * (`runnerAddress`). Needs the optional peer dependencies `@effect/cluster`, `@effect/sql` and
 * `@effect/sql-pg`.
 *
 * This layer runs a single runner per prefix (no runner-to-runner transport: `Runners.layerNoop`,
 * as `SingleRunner` does). Several runner processes sharing one prefix: `PostgresRunners`.
 *
 * @since 0.3.0
 */
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import type { Duration, Redacted } from "effect"
import { Layer } from "effect"
import type { EngineError } from "./Errors.js"
import * as PgParts from "./internal/pgParts.js"
import type * as RunStatus from "./RunStatus.js"

/**
 * Options of the PostgreSQL engine.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** The connection URL (`postgres://user@host:5432/db`); kept redacted. */
  readonly url: string | Redacted.Redacted<string>
  /** The prefix of every table of the engine and of the run status. Default `braid_durable`. */
  readonly prefix?: string
  /** This runner's address (unique per runner process). Default `localhost:34431`. */
  readonly runnerAddress?: { readonly host: string; readonly port: number }
  /** How often the runner polls storage for messages sent by other processes. Default 1 second. */
  readonly pollInterval?: Duration.DurationInput
  /** How long a dead runner's shard locks last before another runner takes them. Default 35 s. */
  readonly shardLockExpiration?: Duration.DurationInput
  /**
   * Several runners (`PostgresRunners`): how often a runner checks that the others answer; a
   * runner that does not is dropped and its shards go to the others. Default 1 minute (the
   * engine's), so a dead runner's sessions wait up to about that long plus `shardLockExpiration`.
   */
  readonly healthCheckInterval?: Duration.DurationInput
  /** The bound of one run-status call. Default 5 seconds. */
  readonly timeout?: Duration.DurationInput
  /** Pool size. Default 10. */
  readonly maxConnections?: number
}

/**
 * The engine and Braid's run status on PostgreSQL.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Durable } from "@braid/durable"
 * import * as PostgresEngine from "@braid/durable/PostgresEngine"
 *
 * const hello = Durable.workflow("hello", Primitive.sync("hello", (n: string) => `hello ${n}`), {
 *   input: Schema.String,
 *   output: Schema.String,
 *   key: (n) => n
 * })
 * const engine = PostgresEngine.layer({ url: "postgres://postgres@127.0.0.1:5432/test", prefix: "app_durable" })
 * const program = hello.run("Ada").pipe(Effect.provide(hello.layer.pipe(Layer.provideMerge(engine))))
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore, EngineError> => {
  const parts = PgParts.partsOf(options)
  const sharding = Sharding.layer.pipe(
    Layer.provideMerge(Runners.layerNoop),
    Layer.provideMerge(parts.messageStorage),
    Layer.provide([parts.runnerStorage, RunnerHealth.layerNoop]),
    Layer.provide(ShardingConfig.layer(parts.config))
  )
  return parts.complete(sharding)
}
