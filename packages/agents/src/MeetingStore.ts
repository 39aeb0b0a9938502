/**
 * Where meetings keep their ordered history and their latest status, so that a meeting can be
 * inspected later. In memory by default; `MeetingStore.layerSql` keeps them in SQLite or
 * PostgreSQL (through `@effect/sql`; tables `braid_meeting_entries` and `braid_meeting_status`,
 * created on first use).
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Config, Context, Effect, Layer, Option, Schema } from "effect"
import type { ConfigError } from "effect"
import { MeetingStoreError } from "./CoordinationErrors.js"
import type { Entry, Status } from "./internal/meetingTypes.js"
import { Entry as EntrySchema, Status as StatusSchema } from "./internal/meetingTypes.js"

/**
 * @since 0.1.0
 */
export interface Service {
  readonly append: (entry: Entry) => Effect.Effect<void, MeetingStoreError>
  readonly saveStatus: (status: Status) => Effect.Effect<void, MeetingStoreError>
  readonly history: (meetingId: string) => Effect.Effect<ReadonlyArray<Entry>, MeetingStoreError>
  readonly status: (meetingId: string) => Effect.Effect<Option.Option<Status>, MeetingStoreError>
  readonly list: Effect.Effect<ReadonlyArray<Status>, MeetingStoreError>
}

/**
 * The meeting store service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MeetingStore } from "@braid/agents"
 *
 * const past = Effect.flatMap(MeetingStore.MeetingStore, (store) => store.history("planning-1"))
 * ```
 *
 * @since 0.1.0
 */
export class MeetingStore extends Context.Tag("@braid/agents/MeetingStore")<MeetingStore, Service>() {}

/**
 * A store in memory.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MeetingStore } from "@braid/agents"
 *
 * const store = Effect.runSync(MeetingStore.makeMemory)
 * ```
 *
 * @since 0.1.0
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(() => {
  const entries = new Map<string, Array<Entry>>()
  const statuses = new Map<string, Status>()
  return {
    append: (entry) =>
      Effect.sync(() => {
        const list = entries.get(entry.meetingId) ?? []
        list.push(entry)
        entries.set(entry.meetingId, list)
      }),
    saveStatus: (status) => Effect.sync(() => void statuses.set(status.meetingId, status)),
    history: (id) => Effect.sync(() => [...(entries.get(id) ?? [])]),
    status: (id) => Effect.sync(() => Option.fromNullable(statuses.get(id))),
    list: Effect.sync(() => [...statuses.values()])
  }
})

/**
 * A layer with an in-memory store.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { EventBus, Meeting, MeetingStore } from "@braid/agents"
 *
 * const Live = Layer.merge(EventBus.layerMemory, MeetingStore.layerMemory)
 * const later = Meeting.inspect("m-1").pipe(Effect.provide(Live))
 * ```
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<MeetingStore> = Layer.effect(MeetingStore, makeMemory)

const storeError = (operation: string) => (e: unknown) =>
  new MeetingStoreError({ operation, reason: e instanceof Error ? e.message : String(e) })

const decodeEntry = Schema.decodeUnknown(Schema.parseJson(EntrySchema))
const decodeStatus = Schema.decodeUnknown(Schema.parseJson(StatusSchema))

/**
 * A store on the `SqlClient` in context (SQLite or PostgreSQL). Its tables are created if missing
 * (idempotent), so it can be used on a fresh database.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { MeetingStore } from "@braid/agents"
 *
 * const StoreLive = MeetingStore.layerSql.pipe(Layer.provide(SqliteClient.layer({ filename: "meetings.db" })))
 * ```
 *
 * @since 0.1.0
 */
export const makeSql: Effect.Effect<Service, MeetingStoreError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS braid_meeting_entries (
    meeting_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    participant TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (meeting_id, seq)
  )`.pipe(Effect.mapError(storeError("migrate")))
  yield* sql`CREATE TABLE IF NOT EXISTS braid_meeting_status (
    meeting_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
  )`.pipe(Effect.mapError(storeError("migrate")))
  return {
    append: (entry) =>
      sql`INSERT INTO braid_meeting_entries (meeting_id, seq, kind, participant, data)
          VALUES (${entry.meetingId}, ${entry.seq}, ${entry.kind}, ${entry.participant}, ${JSON.stringify(entry)})`.pipe(
        Effect.asVoid,
        Effect.mapError(storeError("append"))
      ),
    saveStatus: (status) =>
      sql`INSERT INTO braid_meeting_status (meeting_id, data) VALUES (${status.meetingId}, ${JSON.stringify(status)})
          ON CONFLICT (meeting_id) DO UPDATE SET data = excluded.data`.pipe(Effect.asVoid, Effect.mapError(storeError("saveStatus"))),
    history: (id) =>
      sql<{ data: string }>`SELECT data FROM braid_meeting_entries WHERE meeting_id = ${id} ORDER BY seq`.pipe(
        Effect.flatMap((rows) => Effect.forEach(rows, (r) => decodeEntry(r.data))),
        Effect.mapError(storeError("history"))
      ),
    status: (id) =>
      sql<{ data: string }>`SELECT data FROM braid_meeting_status WHERE meeting_id = ${id}`.pipe(
        Effect.flatMap((rows) => rows.length === 0 ? Effect.succeed(Option.none()) : Effect.map(decodeStatus(rows[0]!.data), Option.some)),
        Effect.mapError(storeError("status"))
      ),
    list: sql<{ data: string }>`SELECT data FROM braid_meeting_status ORDER BY meeting_id`.pipe(
      Effect.flatMap((rows) => Effect.forEach(rows, (r) => decodeStatus(r.data))),
      Effect.mapError(storeError("list"))
    )
  }
})

/**
 * A layer with the SQL store (needs a `SqlClient`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { MeetingStore } from "@braid/agents"
 *
 * const StoreLive = MeetingStore.layerSql.pipe(Layer.provide(SqliteClient.layer({ filename: "meetings.db" })))
 * ```
 *
 * @since 0.1.0
 */
export const layerSql: Layer.Layer<MeetingStore, MeetingStoreError, SqlClient.SqlClient> = Layer.effect(MeetingStore, makeSql)

/**
 * The SQL store in a SQLite file.
 *
 * @example
 * ```ts
 * import { MeetingStore } from "@braid/agents"
 *
 * const StoreLive = MeetingStore.layerSqlite({ filename: "meetings.db" })
 * ```
 *
 * @since 0.1.0
 */
export const layerSqlite = (config: { readonly filename: string }): Layer.Layer<MeetingStore, MeetingStoreError | ConfigError.ConfigError> =>
  layerSql.pipe(Layer.provide(SqliteClient.layer({ filename: config.filename })))

/**
 * The SQL store in PostgreSQL at `DATABASE_URL` (read with `Config`).
 *
 * @example
 * ```ts
 * import { MeetingStore } from "@braid/agents"
 *
 * const StoreLive = MeetingStore.layerPgConfig
 * ```
 *
 * @since 0.1.0
 */
export const layerPgConfig: Layer.Layer<MeetingStore, MeetingStoreError | ConfigError.ConfigError | SqlError.SqlError> = layerSql.pipe(
  Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") }))
)
