/**
 * Where meetings keep their ordered history and their latest status, so that a meeting can be
 * inspected later. In memory by default; `MeetingStore.layerSql` keeps them in SQLite or
 * PostgreSQL (through `@effect/sql`; tables `braid_meeting_entries` and `braid_meeting_status`,
 * created on first use). Every SQL call is bounded by `timeout` (default `Io.defaultTimeout`,
 * 5 s) and fails with a `MeetingStoreError`; stored rows are read with `Json.parse` and decoded
 * with their Schema (a garbled row is a `MeetingStoreError`, never a defect).
 *
 * @since 0.1.0
 */
import { Io, Json } from "@braid/core"
import { SqlClient } from "@effect/sql"
import { Context, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import { MeetingStoreError } from "./Errors.js"
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
 * import { MeetingStore } from "@braid/meetings"
 *
 * const past = Effect.flatMap(MeetingStore.MeetingStore, (store) => store.history("planning-1"))
 * ```
 *
 * @since 0.1.0
 */
export class MeetingStore extends Context.Tag("@braid/meetings/MeetingStore")<MeetingStore, Service>() {}

/**
 * A store in memory.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MeetingStore } from "@braid/meetings"
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
 * import { EventBus } from "@braid/messaging"
 * import { Meeting, MeetingStore } from "@braid/meetings"
 *
 * const Live = Layer.merge(EventBus.layerMemory, MeetingStore.layerMemory)
 * const later = Meeting.inspect("m-1").pipe(Effect.provide(Live))
 * ```
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<MeetingStore> = Layer.effect(MeetingStore, makeMemory)

const storeError = (operation: string) => (e: unknown) =>
  e instanceof MeetingStoreError
    ? e
    : new MeetingStoreError({ operation, reason: e instanceof Error ? e.message : String(e) })

/** Reads a stored JSON text with `Json.parse`, then decodes it with `schema`. */
const decodeRow = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (text: string): Either.Either<A, MeetingStoreError> => {
    const parsed = Json.parse(text)
    if (Either.isLeft(parsed)) {
      return Either.left(
        new MeetingStoreError({ operation: "read", reason: `stored ${what} is not valid JSON: ${parsed.left.message}` })
      )
    }
    return Either.mapLeft(
      decode(parsed.right),
      (e) => new MeetingStoreError({ operation: "read", reason: `stored ${what} did not decode: ${e.message}` })
    )
  }
}
const decodeEntry = decodeRow(EntrySchema, "entry")
const decodeStatus = decodeRow(StatusSchema, "status")
const encodeRow = (value: unknown) =>
  Either.mapLeft(Json.encode(value), (e) => new MeetingStoreError({ operation: "write", reason: e.message }))

/**
 * Options of the SQL store.
 *
 * @since 0.2.0
 */
export interface SqlOptions {
  /** The bound of every SQL call. Default `Io.defaultTimeout` (5 s). */
  readonly timeout?: Duration.DurationInput
}

/**
 * A store on the `SqlClient` in context (SQLite or PostgreSQL), every call bounded by
 * `options.timeout`. Its tables are created if missing (idempotent), so it can be used on a
 * fresh database.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { SqlClient } from "@effect/sql"
 * import { MeetingStore } from "@braid/meetings"
 *
 * declare const SqlLive: Layer.Layer<SqlClient.SqlClient> // any @effect/sql client (SQLite, PostgreSQL...)
 *
 * const StoreLive = MeetingStore.layerSqlWith({ timeout: "2 seconds" }).pipe(Layer.provide(SqlLive))
 * ```
 *
 * @since 0.2.0
 */
export const makeSqlWith = (options: SqlOptions = {}): Effect.Effect<Service, MeetingStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const call = <A>(operation: string, effect: Effect.Effect<A, unknown>): Effect.Effect<A, MeetingStoreError> =>
      // Past the bound the call is abandoned at once (Io.bounded: the driver's cancellation of
      // the statement goes on in the background instead of holding the caller up to 5 s more).
      Io.bounded(Effect.mapError(effect, storeError(operation)), options.timeout, (millis) =>
        new MeetingStoreError({ operation, reason: `no answer within ${millis} ms` }))
    yield* call(
      "migrate",
      sql`CREATE TABLE IF NOT EXISTS braid_meeting_entries (
        meeting_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        participant TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (meeting_id, seq)
      )`
    )
    yield* call(
      "migrate",
      sql`CREATE TABLE IF NOT EXISTS braid_meeting_status (
        meeting_id TEXT PRIMARY KEY,
        data TEXT NOT NULL
      )`
    )
    return {
      append: (entry) =>
        call(
          "append",
          Effect.flatMap(encodeRow(entry), (data) =>
            sql`INSERT INTO braid_meeting_entries (meeting_id, seq, kind, participant, data)
                VALUES (${entry.meetingId}, ${entry.seq}, ${entry.kind}, ${entry.participant}, ${data})`)
        ).pipe(Effect.asVoid),
      saveStatus: (status) =>
        call(
          "saveStatus",
          Effect.flatMap(encodeRow(status), (data) =>
            sql`INSERT INTO braid_meeting_status (meeting_id, data) VALUES (${status.meetingId}, ${data})
                ON CONFLICT (meeting_id) DO UPDATE SET data = excluded.data`)
        ).pipe(Effect.asVoid),
      history: (id) =>
        call(
          "history",
          Effect.flatMap(
            sql<{ data: string }>`SELECT data FROM braid_meeting_entries WHERE meeting_id = ${id} ORDER BY seq`,
            (rows) => Effect.forEach(rows, (r) => decodeEntry(r.data))
          )
        ),
      status: (id) =>
        call(
          "status",
          Effect.flatMap(
            sql<{ data: string }>`SELECT data FROM braid_meeting_status WHERE meeting_id = ${id}`,
            (rows) =>
              rows.length === 0 ? Effect.succeed(Option.none()) : Effect.map(decodeStatus(rows[0]!.data), Option.some)
          )
        ),
      list: call(
        "list",
        Effect.flatMap(
          sql<{ data: string }>`SELECT data FROM braid_meeting_status ORDER BY meeting_id`,
          (rows) => Effect.forEach(rows, (r) => decodeStatus(r.data))
        )
      )
    }
  })

/**
 * `makeSqlWith()` with the default bound.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import type { SqlClient } from "@effect/sql"
 * import { MeetingStore } from "@braid/meetings"
 *
 * declare const SqlLive: Layer.Layer<SqlClient.SqlClient> // any @effect/sql client (SQLite, PostgreSQL...)
 *
 * const store = MeetingStore.makeSql.pipe(Effect.provide(SqlLive))
 * ```
 *
 * @since 0.1.0
 */
export const makeSql: Effect.Effect<Service, MeetingStoreError, SqlClient.SqlClient> = makeSqlWith()

/**
 * A layer with the SQL store (needs a `SqlClient`), every call bounded by `options.timeout`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { SqlClient } from "@effect/sql"
 * import { MeetingStore } from "@braid/meetings"
 *
 * declare const SqlLive: Layer.Layer<SqlClient.SqlClient> // any @effect/sql client (SQLite, PostgreSQL...)
 *
 * const StoreLive = MeetingStore.layerSqlWith({ timeout: "2 seconds" }).pipe(
 *   Layer.provide(SqlLive)
 * )
 * ```
 *
 * @since 0.2.0
 */
export const layerSqlWith = (
  options: SqlOptions = {}
): Layer.Layer<MeetingStore, MeetingStoreError, SqlClient.SqlClient> => Layer.effect(MeetingStore, makeSqlWith(options))

/**
 * A layer with the SQL store (needs a `SqlClient`), with the default bound (`layerSqlWith()`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { SqlClient } from "@effect/sql"
 * import { MeetingStore } from "@braid/meetings"
 *
 * declare const SqlLive: Layer.Layer<SqlClient.SqlClient> // any @effect/sql client (SQLite, PostgreSQL...)
 *
 * const StoreLive = MeetingStore.layerSql.pipe(Layer.provide(SqlLive))
 * ```
 *
 * @since 0.1.0
 */
export const layerSql: Layer.Layer<MeetingStore, MeetingStoreError, SqlClient.SqlClient> = layerSqlWith()
