/**
 * `MeetingStore` in PostgreSQL: the SQL store of `MeetingStore.layerSql` (tables
 * `braid_meeting_entries` and `braid_meeting_status`) on `PostgresDriver`.
 *
 * @since 0.2.0
 */
import type { Sql } from "@braid/core"
import { MeetingStore } from "@braid/meetings"
import type { Errors as MeetingErrors } from "@braid/meetings"
import type { ConfigError, Duration } from "effect"
import { Layer } from "effect"
import type { Redacted } from "effect"
import * as PostgresDriver from "./PostgresDriver.js"

/**
 * The SQL store in PostgreSQL at `DATABASE_URL` (`PostgresDriver.layerConfig`), getting a
 * connection and every call bounded by `Io.defaultTimeout`.
 *
 * @example
 * ```ts
 * import { PostgresMeetingStore } from "@braid/postgres"
 *
 * const StoreLive = PostgresMeetingStore.layerConfig
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<
  MeetingStore.MeetingStore,
  MeetingErrors.MeetingStoreError | ConfigError.ConfigError | Sql.SqlFailure
> = MeetingStore.layerSql.pipe(Layer.provide(PostgresDriver.layerConfig()))

/**
 * The SQL store in PostgreSQL at `url`, getting a connection and every call bounded by
 * `timeout` (default `Io.defaultTimeout`); the URL never appears in errors.
 *
 * @example
 * ```ts
 * import { PostgresMeetingStore } from "@braid/postgres"
 *
 * const StoreLive = PostgresMeetingStore.layer({ url: "postgres://postgres@127.0.0.1:5432/app", timeout: "2 seconds" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: { readonly url: string | Redacted.Redacted<string>; readonly timeout?: Duration.DurationInput }
): Layer.Layer<MeetingStore.MeetingStore, MeetingErrors.MeetingStoreError | Sql.SqlFailure> =>
  MeetingStore.layerSqlWith(options.timeout !== undefined ? { timeout: options.timeout } : {}).pipe(
    Layer.provide(PostgresDriver.layer(options))
  )
