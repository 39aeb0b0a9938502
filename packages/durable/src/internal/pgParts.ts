/**
 * What the PostgreSQL engines share: sharding configuration, prefixed SQL storage, run status, pool.
 *
 * @internal
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import type * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import type * as Sharding from "@effect/cluster/Sharding"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { Duration, Layer, Option, Redacted, Schedule } from "effect"
import type { EngineError } from "../Errors.js"
import type { Options } from "../PostgresEngine.js"
import type * as RunStatus from "../RunStatus.js"
import * as SqlStatus from "./sqlStatus.js"

/** What the single-runner and the socket-runner layers share: configuration, storage, status. */
export const partsOf = (options: Options) => {
  const prefix = SqlStatus.checkPrefix(options.prefix ?? "braid_durable")
  const address = options.runnerAddress ?? { host: "localhost", port: 34431 }
  const config: Partial<ShardingConfig.ShardingConfig["Type"]> = {
    runnerAddress: Option.some(RunnerAddress.make(address.host, address.port)),
    entityMessagePollInterval: Duration.decode(options.pollInterval ?? "1 second"),
    entityReplyPollInterval: Duration.millis(100),
    ...(options.shardLockExpiration !== undefined ? { shardLockExpiration: options.shardLockExpiration } : {}),
    ...(options.healthCheckInterval !== undefined ? { runnerHealthCheckInterval: options.healthCheckInterval } : {})
  }
  const url = typeof options.url === "string" ? Redacted.make(options.url) : options.url
  const status = SqlStatus.layer({ prefix, ...(options.timeout !== undefined ? { timeout: options.timeout } : {}) })
  return {
    config,
    messageStorage: SqlMessageStorage.layerWith({ prefix }),
    runnerStorage: SqlRunnerStorage.layerWith({ prefix }),
    /** The workflow engine on `sharding`, with the run status, on one pool. */
    complete: <E, R>(
      sharding: Layer.Layer<Sharding.Sharding | MessageStorage.MessageStorage, E, R>
    ): Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore, EngineError, Exclude<R, SqlClient.SqlClient>> =>
      Layer.mergeAll(ClusterWorkflowEngine.layer.pipe(Layer.provide(sharding)), status).pipe(
        Layer.provide(PgClient.layer({ url, maxConnections: options.maxConnections ?? 10 })),
        // Processes that start together on an empty database race to create the engine's tables
        // (CREATE TABLE IF NOT EXISTS can fail in the loser): a failed start is tried again.
        Layer.retry(Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(3)))),
        SqlStatus.orEngineError("postgres")
      ) as Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore, EngineError, Exclude<R, SqlClient.SqlClient>>
  }
}
