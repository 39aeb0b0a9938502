/**
 * `Messaging` persisted in a SQLite file: `Messaging.layerSql` (tables `braid_inbox_messages`,
 * `braid_agents`, `braid_conversations`, and `braid_agent_locks` for the `Lock` it also provides) on
 * `SqliteDriver`.
 *
 * @since 0.2.0
 */
import type { Sql } from "@braid/core"
import type { Lock } from "@braid/messaging"
import { Messaging } from "@braid/messaging"
import type { Errors as MessagingErrors } from "@braid/messaging"
import { Layer } from "effect"
import * as SqliteDriver from "./SqliteDriver.js"

/**
 * Messaging persisted in a SQLite file (created if missing), with the options of `Messaging.make`;
 * `timeout` bounds every store call and the wait for a lock (the driver's busy timeout). A file
 * that cannot be opened fails the layer with `Sql.SqlFailure`.
 *
 * @example
 * ```ts
 * import { SqliteMessaging } from "@braid/sqlite"
 *
 * const MessagingLive = SqliteMessaging.layer({ filename: "inbox.db" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: { readonly filename: string } & Messaging.Options
): Layer.Layer<Messaging.Messaging | Lock.Lock, MessagingErrors.MessageStoreError | Sql.SqlFailure> =>
  Messaging.layerSql(config).pipe(
    Layer.provide(
      SqliteDriver.layer({
        filename: config.filename,
        ...(config.timeout !== undefined ? { busyTimeout: config.timeout } : {})
      })
    )
  )
