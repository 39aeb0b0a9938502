/**
 * The persisted outcome of meetings (minutes, decisions, action items), queryable by meeting and
 * by action-item owner. The meeting's turn-by-turn history is persisted by the agents package's
 * `MeetingStore` (provide `MeetingStore.layerSql` for SQLite or PostgreSQL); `MeetingWorkflow.history`
 * reads both.
 *
 * @since 0.1.0
 */
import { Sql } from "@braid/core"
import { Context, Effect, Layer, Ref, Schema } from "effect"
import { HistoryStoreError } from "./Errors.js"

/**
 * A decision taken in a meeting.
 *
 * @example
 * ```ts
 * import { MeetingRecords } from "@braid/workflows"
 *
 * const d: MeetingRecords.Decision = { decision: "ship on Friday", rationale: "tests are green" }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Decision = Schema.Struct({
  decision: Schema.NonEmptyString,
  rationale: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Decision = typeof Decision.Type

/**
 * An action item: who does what, by when.
 *
 * @example
 * ```ts
 * import { MeetingRecords } from "@braid/workflows"
 *
 * const a: MeetingRecords.ActionItem = { owner: "Grace", task: "write the rollback plan", due: "Thursday" }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ActionItem = Schema.Struct({
  owner: Schema.NonEmptyString,
  task: Schema.NonEmptyString,
  due: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type ActionItem = typeof ActionItem.Type

/**
 * What is kept of a meeting.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MeetingRecords } from "@braid/workflows"
 *
 * const all = Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.list)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Record = Schema.Struct({
  meetingId: Schema.String,
  title: Schema.String,
  agenda: Schema.Array(Schema.String),
  endedBy: Schema.String,
  turns: Schema.Number,
  minutes: Schema.String,
  decisions: Schema.Array(Decision),
  actionItems: Schema.Array(ActionItem),
  /** Clock millis. */
  recordedAt: Schema.Number
})

/**
 * @since 0.1.0
 * @category models
 */
export type Record = typeof Record.Type

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Saves (or replaces) the record of a meeting. */
  readonly save: (record: Record) => Effect.Effect<void, HistoryStoreError>
  readonly get: (meetingId: string) => Effect.Effect<Record | undefined, HistoryStoreError>
  readonly list: Effect.Effect<ReadonlyArray<Record>, HistoryStoreError>
  /** Every action item of `owner` (case-insensitive), with its meeting. */
  readonly actionItemsOf: (
    owner: string
  ) => Effect.Effect<ReadonlyArray<ActionItem & { readonly meetingId: string }>, HistoryStoreError>
}

/**
 * The meeting records service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MeetingRecords } from "@braid/workflows"
 *
 * const todo = Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.actionItemsOf("Grace"))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class MeetingRecords extends Context.Tag("@braid/workflows/MeetingRecords")<MeetingRecords, Service>() {}

const ownedBy = (records: ReadonlyArray<Record>, owner: string) =>
  records.flatMap((r) =>
    r.actionItems.filter((a) => a.owner.toLowerCase() === owner.toLowerCase()).map((a) => ({
      ...a,
      meetingId: r.meetingId
    }))
  )

const decode = Sql.decoder(Record)
const encode = Sql.encoder(Record)

/**
 * In memory (one per layer build). It refuses what the SQL stores refuse (a record without a
 * JSON form).
 *
 * @example
 * ```ts
 * import { MeetingRecords } from "@braid/workflows"
 *
 * const Records = MeetingRecords.layerMemory
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<MeetingRecords> = Layer.effect(
  MeetingRecords,
  Effect.map(Ref.make(new Map<string, Record>()), (ref): Service => ({
    // The same rule as the SQL stores: a record without a JSON form is refused.
    save: (r) =>
      encode(r).pipe(
        Effect.mapError((reason) => new HistoryStoreError({ operation: "save", reason })),
        Effect.zipRight(Ref.update(ref, (m) => new Map(m).set(r.meetingId, r)))
      ),
    get: (id) => Effect.map(Ref.get(ref), (m) => m.get(id)),
    list: Effect.map(Ref.get(ref), (m) => [...m.values()]),
    actionItemsOf: (owner) => Effect.map(Ref.get(ref), (m) => ownedBy([...m.values()], owner))
  }))
)

/**
 * The options of the SQL stores.
 *
 * @since 0.2.0
 * @category models
 */
export type StoreOptions = Sql.StoreOptions

/**
 * On the `Sql.SqlDriver` in context (table `braid_meeting_records`, created if missing), with
 * options. Every call is bounded by `timeout` (default `Io.defaultTimeout`, 5 s) and every
 * failure (an SQL error, a dropped connection, no answer in time, a stored row that does not
 * decode) is a `HistoryStoreError` naming the operation.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { MeetingRecords } from "@braid/workflows"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const Records = MeetingRecords.layerSqlWith({ timeout: "2 seconds" }).pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSqlWith = (
  options: StoreOptions = {}
): Layer.Layer<MeetingRecords, HistoryStoreError, Sql.SqlDriver> =>
  Layer.effect(
    MeetingRecords,
    Effect.gen(function*() {
      const sql = yield* Sql.SqlDriver
      const wrap = (operation: string) =>
        Sql.call(options.timeout, (reason) => new HistoryStoreError({ operation, reason }))
      yield* sql.execute(`CREATE TABLE IF NOT EXISTS braid_meeting_records (
        meeting_id TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        recorded_at BIGINT NOT NULL
      )`).pipe(wrap("create table"))
      const list = Effect.gen(function*() {
        const rows = yield* sql.query("SELECT record FROM braid_meeting_records ORDER BY recorded_at, meeting_id")
        return yield* Effect.forEach(rows, (r) => decode(r["record"]))
      })
      return {
        save: (r) =>
          Effect.gen(function*() {
            const json = yield* encode(r)
            yield* sql.execute(
              `INSERT INTO braid_meeting_records (meeting_id, record, recorded_at) VALUES (?, ?, ?)
              ON CONFLICT (meeting_id) DO UPDATE SET record = excluded.record, recorded_at = excluded.recorded_at`,
              [r.meetingId, json, r.recordedAt]
            )
          }).pipe(wrap("save")),
        get: (id) =>
          Effect.gen(function*() {
            const rows = yield* sql.query("SELECT record FROM braid_meeting_records WHERE meeting_id = ?", [id])
            return rows.length === 0 ? undefined : yield* decode(rows[0]!["record"])
          }).pipe(wrap("get")),
        list: list.pipe(wrap("list")),
        actionItemsOf: (owner) => Effect.map(list, (rs) => ownedBy(rs, owner)).pipe(wrap("actionItemsOf"))
      }
    })
  )

/**
 * `layerSqlWith()`: on the `Sql.SqlDriver` in context with the default bound.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { MeetingRecords } from "@braid/workflows"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const Records = MeetingRecords.layerSql.pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql: Layer.Layer<MeetingRecords, HistoryStoreError, Sql.SqlDriver> = layerSqlWith()
