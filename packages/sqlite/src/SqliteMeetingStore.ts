/**
 * `MeetingStore` in a SQLite file: the SQL store of `MeetingStore.layerSqlWith` (tables
 * `braid_meeting_entries` and `braid_meeting_status`) on `SqliteDriver`.
 *
 * @since 0.2.0
 */
import type { Sql } from "@braid/core"
import { MeetingStore } from "@braid/meetings"
import type { Errors as MeetingErrors } from "@braid/meetings"
import { Layer } from "effect"
import * as SqliteDriver from "./SqliteDriver.js"

/**
 * The SQL store in a SQLite file (created if missing), every call bounded by `timeout` (and the
 * wait for a lock by the same bound). A file that cannot be opened fails the layer with
 * `Sql.SqlFailure`.
 *
 * @example
 * ```ts
 * import { SqliteMeetingStore } from "@braid/sqlite"
 *
 * const StoreLive = SqliteMeetingStore.layer({ filename: "meetings.db" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: { readonly filename: string } & MeetingStore.SqlOptions
): Layer.Layer<MeetingStore.MeetingStore, MeetingErrors.MeetingStoreError | Sql.SqlFailure> =>
  MeetingStore.layerSqlWith(config.timeout !== undefined ? { timeout: config.timeout } : {}).pipe(
    Layer.provide(
      SqliteDriver.layer({
        filename: config.filename,
        ...(config.timeout !== undefined ? { busyTimeout: config.timeout } : {})
      })
    )
  )
