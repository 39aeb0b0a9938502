/**
 * Several runner processes sharing PostgreSQL: `@effect/cluster`'s sharding with the socket
 * transport between runners (`@effect/platform-node`'s `NodeClusterSocket`), SQL message storage
 * and SQL shard locks under a table prefix. Runs are spread over the runners by shard; when a
 * runner dies, its shard locks are released (its connections close) or expire
 * (`shardLockExpiration`), and the other runners take its shards and resume its runs from the
 * journal. Each runner needs its own address (`runnerAddress`, reachable by the other runners).
 * Needs the optional peer dependencies `@effect/cluster`, `@effect/sql`, `@effect/sql-pg` and
 * `@effect/platform-node`.
 *
 * @since 0.3.0
 */
import type * as MessageStorage from "@effect/cluster/MessageStorage"
import type * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { Layer, Option } from "effect"
import type { EngineError } from "./Errors.js"
import * as PgParts from "./internal/pgParts.js"
import type { Options as EngineOptions } from "./PostgresEngine.js"
import type * as RunStatus from "./RunStatus.js"

/**
 * Options of a runner: those of `PostgresEngine` with a required `runnerAddress`.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options extends EngineOptions {
  /** This runner's address: the host the other runners reach it at, and the port it listens on. */
  readonly runnerAddress: { readonly host: string; readonly port: number }
}

/**
 * One runner of a PostgreSQL cluster: the engine, its socket server for the other runners, and
 * Braid's run status.
 *
 * @example
 * ```ts
 * import * as PostgresRunners from "@braid/durable/PostgresRunners"
 *
 * const runner = PostgresRunners.layer({
 *   url: "postgres://postgres@127.0.0.1:5432/test",
 *   prefix: "app_durable",
 *   runnerAddress: { host: "10.0.0.7", port: 34431 }
 * })
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore, EngineError> => {
  const parts = PgParts.partsOf(options)
  const config = ShardingConfig.layer(parts.config)
  const sharding = NodeClusterSocket.layer({ storage: "byo", shardingConfig: parts.config }).pipe(
    Layer.provideMerge(parts.messageStorage),
    Layer.provide(parts.runnerStorage),
    Layer.provide(config)
  ) as Layer.Layer<Sharding.Sharding | MessageStorage.MessageStorage, unknown, any>
  return parts.complete(sharding) as Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore, EngineError>
}

/**
 * A client of a PostgreSQL cluster, not a runner: it starts runs, signals them and reads their
 * status (the storage and the socket transport of the runners under the same prefix), and runs
 * none itself (it takes no shards). For a process that drives sessions held by runner processes
 * (a web server in front of `braid worker` runners, a test).
 *
 * @example
 * ```ts
 * import * as PostgresRunners from "@braid/durable/PostgresRunners"
 *
 * const client = PostgresRunners.layerClient({
 *   url: "postgres://postgres@127.0.0.1:5432/test",
 *   prefix: "app_durable"
 * })
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layerClient = (
  options: Omit<EngineOptions, "runnerAddress">
): Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore, EngineError> => {
  const parts = PgParts.partsOf(options)
  const shardingConfig = { ...parts.config, runnerAddress: Option.none() }
  const sharding = NodeClusterSocket.layer({ clientOnly: true, storage: "byo", shardingConfig }).pipe(
    Layer.provideMerge(parts.messageStorage),
    Layer.provide(parts.runnerStorage),
    Layer.provide(ShardingConfig.layer(shardingConfig))
  ) as Layer.Layer<Sharding.Sharding | MessageStorage.MessageStorage, unknown, any>
  return parts.complete(sharding) as Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore, EngineError>
}
