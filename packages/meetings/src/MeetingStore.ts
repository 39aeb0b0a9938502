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
import { defaultTenant, Entry as EntrySchema, Status as StatusSchema } from "./internal/meetingTypes.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Appends an entry under its tenant and meeting. */
  readonly append: (entry: Entry) => Effect.Effect<void, MeetingStoreError>
  /** Replaces the latest status of its tenant's meeting. */
  readonly saveStatus: (status: Status) => Effect.Effect<void, MeetingStoreError>
  /** The history of a meeting of `tenant` (default `"default"`), in order. */
  readonly history: (meetingId: string, tenant?: string) => Effect.Effect<ReadonlyArray<Entry>, MeetingStoreError>
  /** The latest status of a meeting of `tenant` (default `"default"`). */
  readonly status: (meetingId: string, tenant?: string) => Effect.Effect<Option.Option<Status>, MeetingStoreError>
  /** The statuses of every tenant's meetings. */
  readonly list: Effect.Effect<ReadonlyArray<Status>, MeetingStoreError>
  /** The statuses of one tenant's meetings, by meeting id. */
  readonly listTenant: (tenant: string) => Effect.Effect<ReadonlyArray<Status>, MeetingStoreError>
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
  // keyed by [tenant, meeting id] (JSON: no separator can make two keys collide)
  const key = (tenant: string, meetingId: string) => JSON.stringify([tenant, meetingId])
  const entries = new Map<string, Array<Entry>>()
  const statuses = new Map<string, Status>()
  return {
    append: (entry) =>
      Effect.sync(() => {
        const k = key(entry.tenant, entry.meetingId)
        const list = entries.get(k) ?? []
        list.push(entry)
        entries.set(k, list)
      }),
    saveStatus: (status) => Effect.sync(() => void statuses.set(key(status.tenant, status.meetingId), status)),
    history: (id, tenant = defaultTenant) => Effect.sync(() => [...(entries.get(key(tenant, id)) ?? [])]),
    status: (id, tenant = defaultTenant) => Effect.sync(() => Option.fromNullable(statuses.get(key(tenant, id)))),
    list: Effect.sync(() => [...statuses.values()]),
    listTenant: (tenant) =>
      Effect.sync(() =>
        [...statuses.values()].filter((s) => s.tenant === tenant).sort((a, b) =>
          a.meetingId < b.meetingId ? -1 : a.meetingId > b.meetingId ? 1 : 0
        )
      )
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

const entriesTable = (name: string) =>
  `CREATE TABLE IF NOT EXISTS ${name} (
    tenant TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    participant TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant, meeting_id, seq)
  )`
const statusTable = (name: string) =>
  `CREATE TABLE IF NOT EXISTS ${name} (
    tenant TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant, meeting_id)
  )`

/**
 * Creates the tables if missing. Tables of 0.2 (keyed by meeting id alone) are rebuilt in one
 * transaction with the tenant in the key; their rows go to the default tenant.
 */
const migrate = (driver: Sql.Driver) =>
  Effect.gen(function*() {
    yield* driver.execute(entriesTable("braid_meeting_entries"))
    yield* driver.execute(statusTable("braid_meeting_status"))
    const hasTenant = (table: string) =>
      Effect.match(driver.query(`SELECT tenant FROM ${table} WHERE 1 = 0`), {
        onFailure: () => false,
        onSuccess: () => true
      })
    const rebuild = (table: string, create: (name: string) => string, columns: string) =>
      driver.transaction((tx) =>
        Effect.gen(function*() {
          yield* tx.execute(create(`${table}_v3`))
          yield* tx.execute(
            `INSERT INTO ${table}_v3 (tenant, ${columns}) SELECT '${defaultTenant}', ${columns} FROM ${table}`
          )
          yield* tx.execute(`DROP TABLE ${table}`)
          yield* tx.execute(`ALTER TABLE ${table}_v3 RENAME TO ${table}`)
        })
      )
    if (!(yield* hasTenant("braid_meeting_entries"))) {
      yield* rebuild("braid_meeting_entries", entriesTable, "meeting_id, seq, kind, participant, data")
    }
    if (!(yield* hasTenant("braid_meeting_status"))) {
      yield* rebuild("braid_meeting_status", statusTable, "meeting_id, data")
    }
  })

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
    yield* call("migrate", migrate(driver))
    return {
      append: (entry) =>
        call(
          "append",
          Effect.flatMap(encodeRow(entry), (data) =>
            driver.execute(
              `INSERT INTO braid_meeting_entries (tenant, meeting_id, seq, kind, participant, data)
                VALUES (?, ?, ?, ?, ?, ?)`,
              [entry.tenant, entry.meetingId, entry.seq, entry.kind, entry.participant, data]
            ))
        ).pipe(Effect.asVoid),
      saveStatus: (status) =>
        call(
          "saveStatus",
          Effect.flatMap(encodeRow(status), (data) =>
            driver.execute(
              `INSERT INTO braid_meeting_status (tenant, meeting_id, data) VALUES (?, ?, ?)
                ON CONFLICT (tenant, meeting_id) DO UPDATE SET data = excluded.data`,
              [status.tenant, status.meetingId, data]
            ))
        ).pipe(Effect.asVoid),
      history: (id, tenant = defaultTenant) =>
        call(
          "history",
          Effect.flatMap(
            driver.query("SELECT data FROM braid_meeting_entries WHERE tenant = ? AND meeting_id = ? ORDER BY seq", [
              tenant,
              id
            ]),
            (rows) => Effect.forEach(rows, (r) => decodeEntry(r["data"]))
          )
        ),
      status: (id, tenant = defaultTenant) =>
        call(
          "status",
          Effect.flatMap(
            driver.query("SELECT data FROM braid_meeting_status WHERE tenant = ? AND meeting_id = ?", [tenant, id]),
            (rows) =>
              rows.length === 0
                ? Effect.succeed(Option.none())
                : Effect.map(decodeStatus(rows[0]!["data"]), Option.some)
          )
        ),
      list: call(
        "list",
        Effect.flatMap(
          driver.query("SELECT data FROM braid_meeting_status ORDER BY tenant, meeting_id"),
          (rows) => Effect.forEach(rows, (r) => decodeStatus(r["data"]))
        )
      ),
      listTenant: (tenant) =>
        call(
          "list",
          Effect.flatMap(
            driver.query("SELECT data FROM braid_meeting_status WHERE tenant = ? ORDER BY meeting_id", [tenant]),
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
