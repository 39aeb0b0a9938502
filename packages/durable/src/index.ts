/**
 * `@braid/durable`: Braid pipelines as durable runs on `@effect/workflow`. The main entry needs
 * only `@effect/workflow` (and the in-memory engine); the SQLite and PostgreSQL engines live in
 * the subpath modules `@braid/durable/SqliteEngine` and `@braid/durable/PostgresEngine`, which need
 * `@effect/cluster`, `@effect/sql` and the driver (optional peer dependencies).
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
