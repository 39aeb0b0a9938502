/**
 * The SQLite memory store: the embedded default. Entries live in a file and survive a restart.
 * The table (`braid_memory` by default) is created or migrated when the layer is built;
 * migrations are idempotent.
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Config, Effect, Layer } from "effect"
import { MemoryStoreError } from "./Errors.js"
import * as MemorySql from "./internal/memorySql.js"
import { MemoryStore, type MemoryStoreShape } from "./MemoryStore.js"

/**
 * Options of the SQLite store.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The table name; must start with `braid_memory`. Default `braid_memory`. */
  readonly table?: string
}

/**
 * The store over the `SqlClient` in context (a SQLite one), after running its migrations.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { SqliteMemoryStore } from "@braid/agents"
 *
 * const store = SqliteMemoryStore.make().pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" })))
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<MemoryStoreShape, MemoryStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const table = options.table ?? "braid_memory"
    yield* MemorySql.migrate(sql, "sqlite", table).pipe(
      Effect.mapError((e) => new MemoryStoreError({ store: "sqlite", operation: "migrate", message: e.message }))
    )
    return MemorySql.make(sql, "sqlite", table, "sqlite")
  })

/**
 * A SQLite memory store on a file (created if missing). The connection closes with the layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory, SqliteMemoryStore } from "@braid/agents"
 *
 * const MemoryLive = Memory.layer().pipe(Layer.provide(SqliteMemoryStore.layer({ filename: "braid-memory.db" })))
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options & { readonly filename: string }): Layer.Layer<MemoryStore, MemoryStoreError> =>
  Layer.effect(MemoryStore, make(options)).pipe(
    Layer.provide(
      SqliteClient.layer({ filename: options.filename }).pipe(
        Layer.mapError((e) => new MemoryStoreError({ store: "sqlite", operation: "connect", message: String(e) }))
      )
    )
  )

/**
 * A SQLite memory store on the file named by `BRAID_MEMORY_SQLITE` (default `braid-memory.db`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory, SqliteMemoryStore } from "@braid/agents"
 *
 * const MemoryLive = Memory.layer().pipe(Layer.provide(SqliteMemoryStore.layerConfig))
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<MemoryStore, MemoryStoreError> = Layer.unwrapEffect(
  Config.string("BRAID_MEMORY_SQLITE").pipe(
    Config.withDefault("braid-memory.db"),
    Effect.map((filename) => layer({ filename })),
    Effect.mapError((e) => new MemoryStoreError({ store: "sqlite", operation: "config", message: String(e) }))
  )
)
