/**
 * `Messaging` persisted in a SQLite file: `Messaging.layerSql` (table `braid_inbox_messages`) on
 * a `SqliteClient` of @effect/sql-sqlite-node.
 *
 * @since 0.2.0
 */
import { Messaging } from "@braid/messaging"
import type { Errors as CoordinationErrors } from "@braid/messaging"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Layer } from "effect"

/**
 * Messaging persisted in a SQLite file (created if missing), with the options of `Messaging.make`.
 *
 * @example
 * ```ts
 * import { SqliteMessaging } from "@braid/sqlite"
 *
 * const MessagingLive = SqliteMessaging.layer({ filename: "inbox.db" })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  config: { readonly filename: string } & Messaging.Options
): Layer.Layer<Messaging.Messaging, CoordinationErrors.MessageStoreError | unknown> =>
  Messaging.layerSql(config).pipe(Layer.provide(SqliteClient.layer({ filename: config.filename })))
