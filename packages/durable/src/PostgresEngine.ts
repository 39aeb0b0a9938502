/**
 * The durable engine on PostgreSQL: `@effect/cluster`'s sharding with its SQL message storage
 * and SQL runner storage (shard locks) on `@effect/sql-pg`, under a table prefix, plus Braid's
 * run status table. One process runs one runner; every runner needs its own address
 * (`runnerAddress`). Needs the optional peer dependencies `@effect/cluster`, `@effect/sql` and
 * `@effect/sql-pg`.
 *
 * This layer runs a single runner per prefix (no runner-to-runner transport: `Runners.layerNoop`,
 * as `SingleRunner` does). Several runner processes sharing one prefix need the cluster's socket
 * or HTTP transport (`@effect/cluster`'s `SocketRunner`), which this version of Braid does not
 * wire yet.
 *
 * @since 0.3.0
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { Duration, Layer, Option, Redacted } from "effect"
import type { EngineError } from "./Errors.js"
import * as SqlStatus from "./internal/sqlStatus.js"
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
  const prefix = SqlStatus.checkPrefix(options.prefix ?? "braid_durable")
  const address = options.runnerAddress ?? { host: "localhost", port: 34431 }
  const config = ShardingConfig.layer({
    runnerAddress: Option.some(RunnerAddress.make(address.host, address.port)),
    entityMessagePollInterval: Duration.decode(options.pollInterval ?? "1 second"),
    entityReplyPollInterval: Duration.millis(100),
    ...(options.shardLockExpiration !== undefined ? { shardLockExpiration: options.shardLockExpiration } : {})
  })
  const sharding = Sharding.layer.pipe(
    Layer.provideMerge(Runners.layerNoop),
    Layer.provideMerge(SqlMessageStorage.layerWith({ prefix })),
    Layer.provide([SqlRunnerStorage.layerWith({ prefix }), RunnerHealth.layerNoop]),
    Layer.provide(config)
  )
  const url = typeof options.url === "string" ? Redacted.make(options.url) : options.url
  return Layer.mergeAll(
    ClusterWorkflowEngine.layer.pipe(Layer.provide(sharding)),
    SqlStatus.layer({ prefix, ...(options.timeout !== undefined ? { timeout: options.timeout } : {}) })
  ).pipe(
    Layer.provide(PgClient.layer({ url, maxConnections: options.maxConnections ?? 10 })),
    SqlStatus.orEngineError("postgres")
  )
}
