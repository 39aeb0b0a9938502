/**
 * `Messaging` persisted in PostgreSQL: `Messaging.layerSql` (tables `braid_inbox_messages`,
 * `braid_agents`, `braid_conversations`, and `braid_agent_locks` for the `Lock` it also provides) on
 * `PostgresDriver`.
 *
 * @since 0.2.0
 */
import type { Sql } from "@braid/core"
import type { Lock } from "@braid/messaging"
import { Messaging } from "@braid/messaging"
import type { Errors as MessagingErrors } from "@braid/messaging"
import type { ConfigError } from "effect"
import { Layer } from "effect"
import type { Redacted } from "effect"
import * as PostgresDriver from "./PostgresDriver.js"

/**
 * Messaging persisted in PostgreSQL at `DATABASE_URL` (`PostgresDriver.layerConfig`), getting a
 * connection and every store call bounded by `options.timeout` (default `Io.defaultTimeout`).
 *
 * @example
 * ```ts
 * import { PostgresMessaging } from "@braid/postgres"
 *
 * const MessagingLive = PostgresMessaging.layerConfig()
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Messaging.Options = {}
): Layer.Layer<
  Messaging.Messaging | Lock.Lock,
  MessagingErrors.MessageStoreError | Sql.SqlFailure | ConfigError.ConfigError
> =>
  Messaging.layerSql(options).pipe(
    Layer.provide(PostgresDriver.layerConfig(options.timeout !== undefined ? { timeout: options.timeout } : {}))
  )

/**
 * Messaging persisted in PostgreSQL at `url` (getting a connection, and every store call,
 * bounded by `timeout`; the URL never appears in errors or logs).
 *
 * @example
 * ```ts
 * import { PostgresMessaging } from "@braid/postgres"
 *
 * const MessagingLive = PostgresMessaging.layer({ url: "postgres://postgres@127.0.0.1:5432/app" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: { readonly url: string | Redacted.Redacted<string> } & Messaging.Options
): Layer.Layer<Messaging.Messaging | Lock.Lock, MessagingErrors.MessageStoreError | Sql.SqlFailure> =>
  Messaging.layerSql(config).pipe(
    Layer.provide(
      PostgresDriver.layer({ url: config.url, ...(config.timeout !== undefined ? { timeout: config.timeout } : {}) })
    )
  )
