/**
 * `ResultStore` in an embedded SQLite file: the store of `ResultStore.layerSqlWith` on a
 * `SqliteClient` of @effect/sql-sqlite-node.
 *
 * @since 0.2.0
 */
import { ResultStore } from "@braid/eval"
import { ResultStoreError } from "@braid/eval/Errors"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Layer } from "effect"

/**
 * A store in an embedded SQLite file (created if missing), with the options of
 * `ResultStore.layerSqlWith`. Opening the file fails with `ResultStoreError` (operation `open`).
 *
 * @example
 * ```ts
 * import { SqliteResultStore } from "@braid/sqlite"
 *
 * const Store = SqliteResultStore.layer("evaluations.db")
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  filename: string,
  options: ResultStore.StoreOptions = {}
): Layer.Layer<ResultStore.ResultStore, ResultStoreError> =>
  ResultStore.layerSqlWith(options).pipe(
    Layer.provide(SqliteClient.layer({ filename })),
    Layer.mapError((
      e
    ) => (e instanceof ResultStoreError ? e : new ResultStoreError({ operation: "open", reason: String(e) })))
  )
