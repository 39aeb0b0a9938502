/**
 * `SessionStore` in PostgreSQL: the store of `SessionStore.layerSqlWith` (tables
 * `braid_scenarios`, `braid_sessions`, `braid_session_messages`, `braid_session_evaluations`,
 * `braid_session_errors`, `braid_session_events`, migrated at start under an advisory lock) on `PostgresDriver`.
 *
 * @since 0.3.0
 */
import { SessionStore } from "@braid/workflows"
import { SessionStoreError } from "@braid/workflows/Errors"
import type { Duration, Redacted } from "effect"
import { Layer } from "effect"
import * as PostgresDriver from "./PostgresDriver.js"

/**
 * Options of the PostgreSQL session store.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options extends SessionStore.SqlOptions {
  /** The bound of every store call, and of getting a connection. Default `Io.defaultTimeout` (5 s). */
  readonly timeout?: Duration.DurationInput
  /** The most connections of the pool (default that of `PostgresDriver.layer`). */
  readonly max?: number
}

const opened = <A, R>(self: Layer.Layer<A, unknown, R>): Layer.Layer<A, SessionStoreError, R> =>
  Layer.mapError(
    self,
    (e) =>
      e instanceof SessionStoreError
        ? e
        : new SessionStoreError({ operation: "connect", reason: e instanceof Error ? e.message : String(e) })
  )

/**
 * The session store in PostgreSQL at `url` (the URL never appears in errors). Every failure,
 * opening included, is a `SessionStoreError`.
 *
 * @example
 * ```ts
 * import { PostgresSessionStore } from "@braid/postgres"
 *
 * const Sessions = PostgresSessionStore.layer({ url: "postgres://postgres@127.0.0.1:5432/app", timeout: "2 seconds" })
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (
  options: Options & { readonly url: string | Redacted.Redacted<string> }
): Layer.Layer<SessionStore.SessionStore, SessionStoreError> =>
  opened(SessionStore.layerSqlWith(options).pipe(Layer.provide(PostgresDriver.layer(options))))

/**
 * The session store in PostgreSQL at `DATABASE_URL` (`PostgresDriver.layerConfig`).
 *
 * @example
 * ```ts
 * import { PostgresSessionStore } from "@braid/postgres"
 *
 * const Sessions = PostgresSessionStore.layerConfig()
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerConfig = (options: Options = {}): Layer.Layer<SessionStore.SessionStore, SessionStoreError> =>
  opened(SessionStore.layerSqlWith(options).pipe(Layer.provide(PostgresDriver.layerConfig(options))))
