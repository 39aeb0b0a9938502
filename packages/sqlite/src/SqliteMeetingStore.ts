/**
 * `MeetingStore` in a SQLite file: the SQL store of `MeetingStore.layerSqlWith` (tables
 * `braid_meeting_entries` and `braid_meeting_status`) on a `SqliteClient` of
 * @effect/sql-sqlite-node.
 *
 * @since 0.2.0
 */
import { MeetingStore } from "@braid/meetings"
import type { Errors as CoordinationErrors } from "@braid/meetings"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { ConfigError } from "effect"
import { Layer } from "effect"

/**
 * The SQL store in a SQLite file (created if missing), every call bounded by `timeout`.
 *
 * @example
 * ```ts
 * import { SqliteMeetingStore } from "@braid/sqlite"
 *
 * const StoreLive = SqliteMeetingStore.layer({ filename: "meetings.db" })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  config: { readonly filename: string } & MeetingStore.SqlOptions
): Layer.Layer<MeetingStore.MeetingStore, CoordinationErrors.MeetingStoreError | ConfigError.ConfigError> =>
  MeetingStore.layerSqlWith(config.timeout !== undefined ? { timeout: config.timeout } : {}).pipe(
    Layer.provide(SqliteClient.layer({ filename: config.filename }))
  )
