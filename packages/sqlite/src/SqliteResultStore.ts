/**
 * `ResultStore` in an embedded SQLite file: the store of `ResultStore.layerSqlWith` (table
 * `braid_evaluation_results`) on `SqliteDriver`.
 *
 * @since 0.2.0
 */
import { ResultStore } from "@braid/eval"
import { ResultStoreError } from "@braid/eval/Errors"
import { Layer } from "effect"
import * as SqliteDriver from "./SqliteDriver.js"

/**
 * A store in an embedded SQLite file (created if missing), with the options of
 * `ResultStore.layerSqlWith` (`timeout` bounds every call, and the wait for a lock). Opening the
 * file fails with `ResultStoreError` (operation `open`).
 *
 * @example
 * ```ts
 * import { SqliteResultStore } from "@braid/sqlite"
 *
 * const Store = SqliteResultStore.layer("evaluations.db")
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  filename: string,
  options: ResultStore.StoreOptions = {}
): Layer.Layer<ResultStore.ResultStore, ResultStoreError> =>
  ResultStore.layerSqlWith(options).pipe(
    Layer.provide(
      SqliteDriver.layer({
        filename,
        ...(options.timeout !== undefined ? { busyTimeout: options.timeout } : {})
      })
    ),
    Layer.mapError((e) =>
      e instanceof ResultStoreError ? e : new ResultStoreError({ operation: "open", reason: e.message })
    )
  )
