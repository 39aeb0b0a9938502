/**
 * `MeetingStore` in PostgreSQL: the SQL store of `MeetingStore.layerSql` (tables
 * `braid_meeting_entries` and `braid_meeting_status`) on a `PgClient` of @effect/sql-pg.
 *
 * @since 0.2.0
 */
import { Io } from "@braid/core"
import { MeetingStore } from "@braid/meetings"
import type { Errors as CoordinationErrors } from "@braid/meetings"
import type { SqlError } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import type { ConfigError } from "effect"
import { Config, Layer } from "effect"

/**
 * The SQL store in PostgreSQL at `DATABASE_URL` (read with `Config`), connecting and every call
 * bounded by `Io.defaultTimeout`.
 *
 * @example
 * ```ts
 * import { PostgresMeetingStore } from "@braid/postgres"
 *
 * const StoreLive = PostgresMeetingStore.layerConfig
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  MeetingStore.MeetingStore,
  CoordinationErrors.MeetingStoreError | ConfigError.ConfigError | SqlError.SqlError
> = MeetingStore.layerSql.pipe(
  Layer.provide(
    PgClient.layerConfig({ url: Config.redacted("DATABASE_URL"), connectTimeout: Config.succeed(Io.defaultTimeout) })
  )
)
