/**
 * `MeetingRecords` in an embedded SQLite file: the store of `MeetingRecords.layerSqlWith` (table
 * `braid_meeting_records`) on `SqliteDriver`.
 *
 * @since 0.2.0
 */
import { MeetingRecords } from "@braid/workflows"
import { HistoryStoreError } from "@braid/workflows/Errors"
import { Layer } from "effect"
import * as SqliteDriver from "./SqliteDriver.js"

/**
 * In an embedded SQLite file (created if missing), with the options of
 * `MeetingRecords.layerSqlWith` (`timeout` bounds every call, and the wait for a lock). Opening the
 * file fails with `HistoryStoreError` (operation `open`).
 *
 * @example
 * ```ts
 * import { SqliteMeetingRecords } from "@braid/sqlite"
 *
 * const Records = SqliteMeetingRecords.layer("meetings.db")
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  filename: string,
  options: MeetingRecords.StoreOptions = {}
): Layer.Layer<MeetingRecords.MeetingRecords, HistoryStoreError> =>
  MeetingRecords.layerSqlWith(options).pipe(
    Layer.provide(
      SqliteDriver.layer({
        filename,
        ...(options.timeout !== undefined ? { busyTimeout: options.timeout } : {})
      })
    ),
    Layer.mapError((e) =>
      e instanceof HistoryStoreError ? e : new HistoryStoreError({ operation: "open", reason: e.message })
    )
  )
