/**
 * `ResultStore` in PostgreSQL: the store of `ResultStore.layerSqlWith` (table
 * `braid_evaluation_results`) on `PostgresDriver`.
 *
 * @since 0.2.0
 */
import { ResultStore } from "@braid/eval"
import { ResultStoreError } from "@braid/eval/Errors"
import type { Duration, Redacted } from "effect"
import { Layer } from "effect"
import * as PostgresDriver from "./PostgresDriver.js"

/**
 * Options of the PostgreSQL result store.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends ResultStore.StoreOptions {
  /** The bound of every store call, and of getting a connection. Default `Io.defaultTimeout` (5 s). */
  readonly timeout?: Duration.DurationInput
}

const opened = <A, R>(self: Layer.Layer<A, unknown, R>): Layer.Layer<A, ResultStoreError, R> =>
  Layer.mapError(
    self,
    (e) =>
      e instanceof ResultStoreError
        ? e
        : new ResultStoreError({ operation: "connect", reason: e instanceof Error ? e.message : String(e) })
  )

/**
 * The result store in PostgreSQL at `url` (the URL never appears in errors). Every failure,
 * opening included, is a `ResultStoreError`.
 *
 * @example
 * ```ts
 * import { PostgresResultStore } from "@braid/postgres"
 *
 * const Store = PostgresResultStore.layer({ url: "postgres://postgres@127.0.0.1:5432/app", timeout: "2 seconds" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options & { readonly url: string | Redacted.Redacted<string> }
): Layer.Layer<ResultStore.ResultStore, ResultStoreError> =>
  opened(ResultStore.layerSqlWith(options).pipe(Layer.provide(PostgresDriver.layer(options))))

/**
 * The result store in PostgreSQL at `DATABASE_URL` (`PostgresDriver.layerConfig`).
 *
 * @example
 * ```ts
 * import { PostgresResultStore } from "@braid/postgres"
 *
 * const Store = PostgresResultStore.layerConfig()
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (options: Options = {}): Layer.Layer<ResultStore.ResultStore, ResultStoreError> =>
  opened(ResultStore.layerSqlWith(options).pipe(Layer.provide(PostgresDriver.layerConfig(options))))
