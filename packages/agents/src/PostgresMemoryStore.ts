/**
 * The PostgreSQL memory store. The table (`braid_memory` by default) is created or migrated when
 * the layer is built, under an advisory lock, so several processes may start at once.
 * Evictions run in the same transaction as the write, under a per-scope advisory lock.
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Config, Effect, Layer, Redacted } from "effect"
import { MemoryStoreError } from "./Errors.js"
import * as MemorySql from "./internal/memorySql.js"
import { MemoryStore, type MemoryStoreShape } from "./MemoryStore.js"

/**
 * Options of the PostgreSQL store.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The table name; must start with `braid_memory`. Default `braid_memory`. */
  readonly table?: string
}

/**
 * The store over the `SqlClient` in context (a PostgreSQL one), after running its migrations.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { PgClient } from "@effect/sql-pg"
 * import { PostgresMemoryStore } from "@braid/agents"
 *
 * const store = PostgresMemoryStore.make().pipe(
 *   Effect.provide(PgClient.layer({ url: Redacted.make("postgres://postgres@127.0.0.1:5432/test") }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<MemoryStoreShape, MemoryStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const table = options.table ?? "braid_memory"
    yield* MemorySql.migrate(sql, "pg", table).pipe(
      Effect.mapError((e) => new MemoryStoreError({ store: "postgres", operation: "migrate", message: e.message }))
    )
    return MemorySql.make(sql, "pg", table, "postgres")
  })

/**
 * A PostgreSQL memory store on `url` (default: `DATABASE_URL`, else
 * `postgres://postgres@127.0.0.1:5432/test`). The pool closes with the layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory, PostgresMemoryStore } from "@braid/agents"
 *
 * const MemoryLive = Memory.layer().pipe(Layer.provide(PostgresMemoryStore.layer()))
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options & { readonly url?: Redacted.Redacted<string> } = {}): Layer.Layer<MemoryStore, MemoryStoreError> =>
  Layer.effect(MemoryStore, make(options)).pipe(
    Layer.provide(
      Layer.unwrapEffect(
        Effect.map(
          options.url !== undefined
            ? Effect.succeed(options.url)
            : Config.redacted("DATABASE_URL").pipe(Config.withDefault(Redacted.make("postgres://postgres@127.0.0.1:5432/test"))),
          (url) => PgClient.layer({ url })
        )
      ).pipe(Layer.mapError((e) => new MemoryStoreError({ store: "postgres", operation: "connect", message: String(e) })))
    )
  )
