/**
 * `@braid/durable`: Braid pipelines as durable runs on `@effect/workflow`. The main entry needs
 * only `@effect/workflow` (and the in-memory engine); the SQL engines live in the subpath modules
 * `@braid/durable/SqliteEngine`, `@braid/durable/PostgresEngine` and `@braid/durable/PostgresRunners`,
 * which need `@effect/cluster`, `@effect/sql` and the driver (optional peer dependencies; several
 * runners also `@effect/platform-node`).
 *
 * @since 0.3.0
 */

/** Durable workflows, journaled steps, durable sleep and signals. @since 0.3.0 */
export * as Durable from "./Durable.js"
/** Braid's own status of durable runs (not a journal). @since 0.3.0 */
export * as RunStatus from "./RunStatus.js"
/** The typed errors of durable runs. @since 0.3.0 */
export * as Errors from "./Errors.js"
/** Durable model calls: a journaled provider of the model port. @since 0.3.0 */
export * as DurableModel from "./DurableModel.js"
