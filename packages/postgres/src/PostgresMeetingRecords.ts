/**
 * `MeetingRecords` in PostgreSQL: the store of `MeetingRecords.layerSqlWith` (table
 * `braid_meeting_records`) on `PostgresDriver`.
 *
 * @since 0.2.0
 */
import { MeetingRecords } from "@braid/workflows"
import { HistoryStoreError } from "@braid/workflows/Errors"
import type { Duration, Redacted } from "effect"
import { Layer } from "effect"
import * as PostgresDriver from "./PostgresDriver.js"

/**
 * Options of the PostgreSQL meeting records.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends MeetingRecords.StoreOptions {
  /** The bound of every store call, and of getting a connection. Default `Io.defaultTimeout` (5 s). */
  readonly timeout?: Duration.DurationInput
}

const opened = <A, R>(self: Layer.Layer<A, unknown, R>): Layer.Layer<A, HistoryStoreError, R> =>
  Layer.mapError(
    self,
    (e) =>
      e instanceof HistoryStoreError
        ? e
        : new HistoryStoreError({ operation: "connect", reason: e instanceof Error ? e.message : String(e) })
  )

/**
 * The meeting records in PostgreSQL at `url` (the URL never appears in errors). Every failure,
 * opening included, is a `HistoryStoreError`.
 *
 * @example
 * ```ts
 * import { PostgresMeetingRecords } from "@braid/postgres"
 *
 * const Records = PostgresMeetingRecords.layer({ url: "postgres://postgres@127.0.0.1:5432/app", timeout: "2 seconds" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options & { readonly url: string | Redacted.Redacted<string> }
): Layer.Layer<MeetingRecords.MeetingRecords, HistoryStoreError> =>
  opened(MeetingRecords.layerSqlWith(options).pipe(Layer.provide(PostgresDriver.layer(options))))

/**
 * The meeting records in PostgreSQL at `DATABASE_URL` (`PostgresDriver.layerConfig`).
 *
 * @example
 * ```ts
 * import { PostgresMeetingRecords } from "@braid/postgres"
 *
 * const Records = PostgresMeetingRecords.layerConfig()
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (options: Options = {}): Layer.Layer<MeetingRecords.MeetingRecords, HistoryStoreError> =>
  opened(MeetingRecords.layerSqlWith(options).pipe(Layer.provide(PostgresDriver.layerConfig(options))))
