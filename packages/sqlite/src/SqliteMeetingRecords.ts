/**
 * `MeetingRecords` in an embedded SQLite file: the store of `MeetingRecords.layerSqlWith` on a
 * `SqliteClient` of @effect/sql-sqlite-node.
 *
 * @since 0.2.0
 */
import { MeetingRecords } from "@braid/workflows"
import { HistoryStoreError } from "@braid/workflows/Errors"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Layer } from "effect"

/**
 * In an embedded SQLite file (created if missing), with the options of
 * `MeetingRecords.layerSqlWith`. Opening the file fails with `HistoryStoreError` (operation `open`).
 *
 * @example
 * ```ts
 * import { SqliteMeetingRecords } from "@braid/sqlite"
 *
 * const Records = SqliteMeetingRecords.layer("meetings.db")
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  filename: string,
  options: MeetingRecords.StoreOptions = {}
): Layer.Layer<MeetingRecords.MeetingRecords, HistoryStoreError> =>
  MeetingRecords.layerSqlWith(options).pipe(
    Layer.provide(SqliteClient.layer({ filename })),
    Layer.mapError((
      e
    ) => (e instanceof HistoryStoreError ? e : new HistoryStoreError({ operation: "open", reason: String(e) })))
  )
