/**
 * Run status on the engine's own `@effect/sql` client (the database the journal lives in): one
 * table, `{prefix}_runs`, one row per run. Not a journal (see `RunStatus`).
 *
 * @internal
 */
import { Io, Json } from "@braid/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import { EngineError, StatusStoreError } from "../Errors.js"
import * as RunStatus from "../RunStatus.js"

const Row = Schema.Struct({
  workflow: Schema.String,
  run_id: Schema.String,
  run_key: Schema.String,
  state: Schema.Literal("running", "suspended"),
  waiting_on: Schema.String,
  started_at: Schema.Union(Schema.Number, Schema.NumberFromString),
  updated_at: Schema.Union(Schema.Number, Schema.NumberFromString)
})
const decodeRow = Schema.decodeUnknown(Row)
const WaitingOn = Schema.Array(Schema.String)

export interface Options {
  /** Table name prefix (letters, digits, `_`). Default `braid_durable`. */
  readonly prefix?: string
  /** The bound of one status call. Default `Io.defaultTimeout`. */
  readonly timeout?: Duration.DurationInput
}

export const checkPrefix = (prefix: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(prefix)) {
    throw new TypeError(`A table prefix must be letters, digits and "_" (at most 41), got ${JSON.stringify(prefix)}`)
  }
  return prefix
}

export const layer = (
  options: Options = {}
): Layer.Layer<RunStatus.RunStatusStore, StatusStoreError, SqlClient.SqlClient> =>
  Layer.effect(
    RunStatus.RunStatusStore,
    Effect.gen(function*() {
      const sql = (yield* SqlClient.SqlClient).withoutTransforms()
      const table = `${checkPrefix(options.prefix ?? "braid_durable")}_runs`
      const call = <A, E, R>(operation: string, effect: Effect.Effect<A, E, R>) =>
        Io.bounded(
          Effect.mapError(
            effect,
            (e) => new StatusStoreError({ operation, reason: e instanceof Error ? e.message : String(e) })
          ),
          options.timeout,
          (millis) => new StatusStoreError({ operation, reason: `no answer within ${millis} ms` })
        )
      yield* call(
        "migrate",
        sql.unsafe(
          `CREATE TABLE IF NOT EXISTS ${table} (workflow TEXT NOT NULL, run_id TEXT NOT NULL, run_key TEXT NOT NULL, ` +
            `state TEXT NOT NULL, waiting_on TEXT NOT NULL, started_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, ` +
            `PRIMARY KEY (workflow, run_id))`
        )
      )
      const t = sql(table)
      const values = (r: RunStatus.Record) => {
        const waiting = Either.getOrElse(Json.encode(r.waitingOn), () => "[]")
        return sql`(${r.workflow}, ${r.runId}, ${r.key}, ${r.state}, ${waiting}, ${r.startedAt}, ${r.updatedAt})`
      }
      const columns = sql.literal("(workflow, run_id, run_key, state, waiting_on, started_at, updated_at)")
      const toRecord = (row: unknown) =>
        Effect.gen(function*() {
          const r = yield* decodeRow(row)
          const waitingOn = Json.parse(r.waiting_on).pipe(Either.flatMap(Schema.decodeUnknownEither(WaitingOn)))
          return {
            workflow: r.workflow,
            runId: r.run_id,
            key: r.run_key,
            state: r.state,
            waitingOn: Either.getOrElse(waitingOn, () => []),
            startedAt: Number(r.started_at),
            updatedAt: Number(r.updated_at)
          } satisfies RunStatus.Record
        })
      return {
        create: (record) =>
          call(
            "create",
            Effect.map(
              sql`INSERT INTO ${t} ${columns} VALUES ${
                values(record)
              } ON CONFLICT (workflow, run_id) DO NOTHING RETURNING run_id`,
              (rows) => rows.length > 0
            )
          ),
        update: (record) =>
          call(
            "update",
            sql`INSERT INTO ${t} ${columns} VALUES ${
              values(record)
            } ON CONFLICT (workflow, run_id) DO UPDATE SET state = excluded.state, waiting_on = excluded.waiting_on, updated_at = excluded.updated_at`
              .pipe(Effect.asVoid)
          ),
        get: (workflow, runId) =>
          call(
            "get",
            sql`SELECT * FROM ${t} WHERE workflow = ${workflow} AND run_id = ${runId}`.pipe(
              Effect.flatMap((rows) =>
                rows.length === 0 ? Effect.succeed(Option.none()) : Effect.map(toRecord(rows[0]), Option.some)
              )
            )
          )
      }
    })
  )

/**
 * Any failure to build an engine layer (a typed error or a thrown one: the SQLite driver throws
 * on a missing directory) as a typed `EngineError` whose reason never shows a connection URL.
 */
export const orEngineError =
  (engine: string) => <A, E, R>(self: Layer.Layer<A, E, R>): Layer.Layer<A, EngineError, R> =>
    Layer.catchAllCause(self, (cause) => {
      const e = Cause.squash(cause)
      const message = e instanceof Error ? e.message : String(e)
      return Layer.fail(
        new EngineError({ engine, reason: message.replace(/postgres(ql)?:\/\/\S*/g, "postgres://[redacted]") })
      )
    })
