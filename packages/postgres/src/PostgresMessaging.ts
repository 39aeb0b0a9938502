/**
 * `Messaging` persisted in PostgreSQL: `Messaging.layerSql` (table `braid_inbox_messages`) on a
 * `PgClient` of @effect/sql-pg.
 *
 * @since 0.2.0
 */
import { Io } from "@braid/core"
import { Messaging } from "@braid/messaging"
import { PgClient } from "@effect/sql-pg"
import { Config, Duration, Layer, Redacted } from "effect"

/**
 * Messaging persisted in PostgreSQL at `DATABASE_URL` (read with `Config`), connecting bounded by
 * `options.timeout` (default `Io.defaultTimeout`).
 *
 * @example
 * ```ts
 * import { PostgresMessaging } from "@braid/postgres"
 *
 * const MessagingLive = PostgresMessaging.layerConfig()
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = (options: Messaging.Options = {}): Layer.Layer<Messaging.Messaging, unknown> =>
  Messaging.layerSql(options).pipe(Layer.provide(PgClient.layerConfig({
    url: Config.redacted("DATABASE_URL"),
    connectTimeout: Config.succeed(Duration.decode(options.timeout ?? Io.defaultTimeout))
  })))

/**
 * Messaging persisted in PostgreSQL at `url` (connecting, and every store call, bounded by
 * `timeout`; the URL never appears in errors or logs).
 *
 * @example
 * ```ts
 * import { PostgresMessaging } from "@braid/postgres"
 *
 * const MessagingLive = PostgresMessaging.layer({ url: "postgres://postgres@127.0.0.1:5432/app" })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  config: { readonly url: string } & Messaging.Options
): Layer.Layer<Messaging.Messaging, unknown> =>
  Messaging.layerSql(config).pipe(
    Layer.provide(
      PgClient.layer({ url: Redacted.make(config.url), connectTimeout: config.timeout ?? Io.defaultTimeout })
    )
  )
