/**
 * Where meetings keep their ordered history and their latest status, so that a meeting can be
 * inspected later. In memory by default; `MeetingStore.layerSql` keeps them in SQLite or
 * PostgreSQL (on the `Sql.SqlDriver` in context; tables `braid_meeting_entries` and
 * `braid_meeting_status`, created on first use). Every SQL call is bounded by `timeout` (default `Io.defaultTimeout`,
 * 5 s) and fails with a `MeetingStoreError`; stored rows are read with `Json.parse` and decoded
 * with their Schema (a garbled row is a `MeetingStoreError`, never a defect).
 *
 * @since 0.1.0
 */
import { Json, Sql } from "@braid/core"
import { Context, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import { MeetingStoreError } from "./Errors.js"
import type { Entry, Status } from "./internal/meetingTypes.js"
import { Entry as EntrySchema, Status as StatusSchema } from "./internal/meetingTypes.js"

/**
 * @since 0.1.0
 * @category models
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
 * @category services
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
 * @category constructors
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
 * @category layers
 */
export const layerMemory: Layer.Layer<MeetingStore> = Layer.effect(MeetingStore, makeMemory)

const storeError = (operation: string) => (e: unknown) =>
  e instanceof MeetingStoreError
    ? e
    : new MeetingStoreError({ operation, reason: e instanceof Error ? e.message : String(e) })

/** Reads a stored JSON text with `Json.parse`, then decodes it with `schema`. */
const decodeRow = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (text: unknown): Either.Either<A, MeetingStoreError> => {
    const parsed = typeof text === "string"
      ? Json.parse(text)
      : Either.left(new Error(`the stored value is not text (${typeof text})`))
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
 * @category models
 */
export interface SqlOptions {
  /** The bound of every SQL call. Default `Io.defaultTimeout` (5 s). */
  readonly timeout?: Duration.DurationInput
}

/**
 * A store on the `Sql.SqlDriver` in context (`SqliteDriver.layer` of @braid/sqlite,
 * `PostgresDriver.layer` of @braid/postgres), every call bounded by `options.timeout`
 * (`Sql.bounded`). Its tables are created if missing (idempotent), so it can be used on a fresh
 * database.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { MeetingStore } from "@braid/meetings"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const StoreLive = MeetingStore.layerSqlWith({ timeout: "2 seconds" }).pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeSqlWith = (options: SqlOptions = {}): Effect.Effect<Service, MeetingStoreError, Sql.SqlDriver> =>
  Effect.gen(function*() {
    const driver = yield* Sql.SqlDriver
    const bound = Sql.bounded(options.timeout)
    const call = <A>(operation: string, effect: Effect.Effect<A, unknown>): Effect.Effect<A, MeetingStoreError> =>
      Effect.mapError(bound(effect), storeError(operation))
    yield* call(
      "migrate",
      driver.execute(`CREATE TABLE IF NOT EXISTS braid_meeting_entries (
        meeting_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        participant TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (meeting_id, seq)
      )`)
    )
    yield* call(
      "migrate",
      driver.execute(`CREATE TABLE IF NOT EXISTS braid_meeting_status (
        meeting_id TEXT PRIMARY KEY,
        data TEXT NOT NULL
      )`)
    )
    return {
      append: (entry) =>
        call(
          "append",
          Effect.flatMap(encodeRow(entry), (data) =>
            driver.execute(
              `INSERT INTO braid_meeting_entries (meeting_id, seq, kind, participant, data) VALUES (?, ?, ?, ?, ?)`,
              [entry.meetingId, entry.seq, entry.kind, entry.participant, data]
            ))
        ).pipe(Effect.asVoid),
      saveStatus: (status) =>
        call(
          "saveStatus",
          Effect.flatMap(encodeRow(status), (data) =>
            driver.execute(
              `INSERT INTO braid_meeting_status (meeting_id, data) VALUES (?, ?)
                ON CONFLICT (meeting_id) DO UPDATE SET data = excluded.data`,
              [status.meetingId, data]
            ))
        ).pipe(Effect.asVoid),
      history: (id) =>
        call(
          "history",
          Effect.flatMap(
            driver.query("SELECT data FROM braid_meeting_entries WHERE meeting_id = ? ORDER BY seq", [id]),
            (rows) => Effect.forEach(rows, (r) => decodeEntry(r["data"]))
          )
        ),
      status: (id) =>
        call(
          "status",
          Effect.flatMap(
            driver.query("SELECT data FROM braid_meeting_status WHERE meeting_id = ?", [id]),
            (rows) =>
              rows.length === 0
                ? Effect.succeed(Option.none())
                : Effect.map(decodeStatus(rows[0]!["data"]), Option.some)
          )
        ),
      list: call(
        "list",
        Effect.flatMap(
          driver.query("SELECT data FROM braid_meeting_status ORDER BY meeting_id"),
          (rows) => Effect.forEach(rows, (r) => decodeStatus(r["data"]))
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
 * import type { Sql } from "@braid/core"
 * import { MeetingStore } from "@braid/meetings"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const store = MeetingStore.makeSql.pipe(Effect.provide(DriverLive))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSql: Effect.Effect<Service, MeetingStoreError, Sql.SqlDriver> = makeSqlWith()

/**
 * A layer with the SQL store (needs a `Sql.SqlDriver`), every call bounded by `options.timeout`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { MeetingStore } from "@braid/meetings"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const StoreLive = MeetingStore.layerSqlWith({ timeout: "2 seconds" }).pipe(
 *   Layer.provide(DriverLive)
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSqlWith = (
  options: SqlOptions = {}
): Layer.Layer<MeetingStore, MeetingStoreError, Sql.SqlDriver> => Layer.effect(MeetingStore, makeSqlWith(options))

/**
 * A layer with the SQL store (needs a `Sql.SqlDriver`), with the default bound (`layerSqlWith()`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { MeetingStore } from "@braid/meetings"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const StoreLive = MeetingStore.layerSql.pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql: Layer.Layer<MeetingStore, MeetingStoreError, Sql.SqlDriver> = layerSqlWith()
