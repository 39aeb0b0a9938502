/**
 * The embedded durable engine: one runner on a SQLite file (`@effect/cluster`'s `SingleRunner`
 * with its SQL message storage on `@effect/sql-sqlite-node`). Zero setup: the file is created
 * with its tables. A file serves one runner process at a time; a restarted process resumes the
 * runs in it. Needs the optional peer dependencies `@effect/cluster`, `@effect/sql` and
 * `@effect/sql-sqlite-node`.
 *
 * @since 0.3.0
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as SingleRunner from "@effect/cluster/SingleRunner"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { Duration, Layer } from "effect"
import type { EngineError } from "./Errors.js"
import * as SqlStatus from "./internal/sqlStatus.js"
import type * as RunStatus from "./RunStatus.js"

/**
 * Options of the SQLite engine.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** The database file (created if missing). */
  readonly filename: string
  /**
   * How often the runner looks for messages written while it was not listening (a resumed run's
   * pending work after a restart). Default 1 second.
   */
  readonly pollInterval?: Duration.DurationInput
  /** The bound of one run-status call. Default 5 seconds. */
  readonly timeout?: Duration.DurationInput
}

/**
 * The engine and Braid's run status on one SQLite file.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Durable } from "@braid/durable"
 * import * as SqliteEngine from "@braid/durable/SqliteEngine"
 *
 * const hello = Durable.workflow("hello", Primitive.sync("hello", (n: string) => `hello ${n}`), {
 *   input: Schema.String,
 *   output: Schema.String,
 *   key: (n) => n
 * })
 * const program = hello.run("Ada").pipe(
 *   Effect.provide(hello.layer.pipe(Layer.provideMerge(SqliteEngine.layer({ filename: "/tmp/braid-durable.db" }))))
 * )
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layer = (
  options: Options
): Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore, EngineError> => {
  const interval = Duration.decode(options.pollInterval ?? "1 second")
  const runner = SingleRunner.layer({
    runnerStorage: "memory",
    shardingConfig: { entityMessagePollInterval: interval, entityReplyPollInterval: Duration.millis(100) }
  })
  return Layer.mergeAll(
    ClusterWorkflowEngine.layer.pipe(Layer.provide(runner)),
    SqlStatus.layer(options.timeout === undefined ? {} : { timeout: options.timeout })
  ).pipe(
    Layer.provide(SqliteClient.layer({ filename: options.filename })),
    SqlStatus.orEngineError("sqlite")
  )
}
