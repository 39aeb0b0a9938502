/**
 * `SessionStore` in an embedded SQLite file: the store of `SessionStore.layerSqlWith` (tables
 * `braid_scenarios`, `braid_sessions`, `braid_session_messages`, `braid_session_evaluations`,
 * `braid_session_errors`, `braid_session_events`, migrated at start) on `SqliteDriver`.
 *
 * @since 0.3.0
 */
import { SessionStore } from "@braid/workflows"
import { SessionStoreError } from "@braid/workflows/Errors"
import { Layer } from "effect"
import * as SqliteDriver from "./SqliteDriver.js"

/**
 * In an embedded SQLite file (created if missing), with the options of
 * `SessionStore.layerSqlWith` (`timeout` bounds every call, and the wait for a lock). Opening the
 * file fails with `SessionStoreError` (operation `open`).
 *
 * @example
 * ```ts
 * import { SqliteSessionStore } from "@braid/sqlite"
 *
 * const Sessions = SqliteSessionStore.layer("sessions.db")
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (
  filename: string,
  options: SessionStore.SqlOptions = {}
): Layer.Layer<SessionStore.SessionStore, SessionStoreError> =>
  SessionStore.layerSqlWith(options).pipe(
    Layer.provide(
      SqliteDriver.layer({
        filename,
        ...(options.timeout !== undefined ? { busyTimeout: options.timeout } : {})
      })
    ),
    Layer.mapError((e) =>
      e instanceof SessionStoreError ? e : new SessionStoreError({ operation: "open", reason: e.message })
    )
  )
