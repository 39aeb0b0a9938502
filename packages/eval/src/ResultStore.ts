/**
 * Where evaluation results are persisted, one per (run, conversation): the idempotency key of
 * the evaluation runner. Storing a result for a key that already has one keeps the first
 * (`INSERT ... ON CONFLICT DO NOTHING`), so evaluating a conversation twice stores one result.
 *
 * Layers: `layerMemory` (tests, quick runs) and `layerSql` on the `Sql.SqlDriver` in context; an
 * embedded SQLite file with `SqliteResultStore.layer(filename)` of @braid/sqlite, PostgreSQL with
 * `PostgresResultStore.layer` of @braid/postgres.
 *
 * @since 0.1.0
 */
import { Sql } from "@braid/core"
import { Context, Effect, Layer, Ref, Schema } from "effect"
import { ResultStoreError } from "./Errors.js"

/**
 * The evaluation of one conversation in one run.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ResultStore } from "@braid/eval"
 *
 * const r = Schema.decodeUnknownSync(ResultStore.ConversationResult)({
 *   runId: "v1", conversationId: "c1", scores: { relevance: 1 }, reasons: { relevance: "on topic" }, evaluatedAt: 0
 * })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ConversationResult = Schema.Struct({
  runId: Schema.String,
  conversationId: Schema.String,
  scores: Schema.Record({ key: Schema.String, value: Schema.Number }),
  reasons: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** Epoch milliseconds (Effect Clock). */
  evaluatedAt: Schema.Number
})

/**
 * @since 0.1.0
 * @category models
 */
export type ConversationResult = typeof ConversationResult.Type

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly get: (
    runId: string,
    conversationId: string
  ) => Effect.Effect<ConversationResult | undefined, ResultStoreError>
  /** Stores a result unless one exists for the key; returns the stored one (the first). */
  readonly put: (
    result: ConversationResult
  ) => Effect.Effect<{ readonly result: ConversationResult; readonly inserted: boolean }, ResultStoreError>
  readonly list: (runId: string) => Effect.Effect<ReadonlyArray<ConversationResult>, ResultStoreError>
}

/**
 * The result store service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ResultStore } from "@braid/eval"
 *
 * const program = Effect.flatMap(ResultStore.ResultStore, (store) => store.list("prompt-v2")).pipe(
 *   Effect.provide(ResultStore.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class ResultStore extends Context.Tag("@braid/eval/ResultStore")<ResultStore, Service>() {}

const decode = Sql.decoder(ConversationResult)
const encode = Sql.encoder(ConversationResult)

/**
 * An in-memory store (one per layer build). It refuses what the SQL stores refuse (a result
 * without a JSON form, such as a `NaN` score).
 *
 * @example
 * ```ts
 * import { ResultStore } from "@braid/eval"
 *
 * const Store = ResultStore.layerMemory
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<ResultStore> = Layer.effect(
  ResultStore,
  Effect.map(Ref.make(new Map<string, ConversationResult>()), (ref): Service => {
    const key = (r: string, c: string) => JSON.stringify([r, c])
    return {
      get: (r, c) => Effect.map(Ref.get(ref), (m) => m.get(key(r, c))),
      // The same rule as the SQL stores: a result without a JSON form (a NaN score) is refused.
      put: (result) =>
        encode(result).pipe(
          Effect.mapError((reason) => new ResultStoreError({ operation: "put", reason })),
          Effect.zipRight(
            Ref.modify(
              ref,
              (
                m
              ): readonly [
                { readonly result: ConversationResult; readonly inserted: boolean },
                Map<string, ConversationResult>
              ] => {
                const k = key(result.runId, result.conversationId)
                const existing = m.get(k)
                if (existing) return [{ result: existing, inserted: false }, m]
                return [{ result, inserted: true }, new Map(m).set(k, result)]
              }
            )
          )
        ),
      list: (r) => Effect.map(Ref.get(ref), (m) => [...m.values()].filter((x) => x.runId === r))
    }
  })
)

/**
 * The options of the SQL stores.
 *
 * @since 0.2.0
 * @category models
 */
export type StoreOptions = Sql.StoreOptions

/**
 * A store on the `Sql.SqlDriver` in context (SQLite or PostgreSQL) with options: the table
 * `braid_evaluation_results` is created if missing, with the primary key (run_id, conversation_id).
 * Every call is bounded by `timeout` (default `Io.defaultTimeout`, 5 s) and every failure (an SQL
 * error, a dropped connection, no answer in time, a stored row that does not decode, a result
 * without a JSON form such as a `NaN` score) is a `ResultStoreError` naming the operation.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { ResultStore } from "@braid/eval"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const Store = ResultStore.layerSqlWith({ timeout: "2 seconds" }).pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSqlWith = (
  options: StoreOptions = {}
): Layer.Layer<ResultStore, ResultStoreError, Sql.SqlDriver> =>
  Layer.effect(
    ResultStore,
    Effect.gen(function*() {
      const sql = yield* Sql.SqlDriver
      const wrap = (operation: string) =>
        Sql.call(options.timeout, (reason) => new ResultStoreError({ operation, reason }))
      yield* sql.execute(`CREATE TABLE IF NOT EXISTS braid_evaluation_results (
        run_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (run_id, conversation_id)
      )`).pipe(wrap("create table"))
      const get = (runId: string, conversationId: string) =>
        Effect.gen(function*() {
          const rows = yield* sql.query(
            "SELECT result FROM braid_evaluation_results WHERE run_id = ? AND conversation_id = ?",
            [runId, conversationId]
          )
          return rows.length === 0 ? undefined : yield* decode(rows[0]!["result"])
        })
      return {
        get: (runId, conversationId) => get(runId, conversationId).pipe(wrap("get")),
        put: (result) =>
          Effect.gen(function*() {
            const json = yield* encode(result)
            const inserted = yield* sql.query(
              `INSERT INTO braid_evaluation_results (run_id, conversation_id, result, created_at)
              VALUES (?, ?, ?, ?)
              ON CONFLICT (run_id, conversation_id) DO NOTHING
              RETURNING run_id`,
              [result.runId, result.conversationId, json, result.evaluatedAt]
            )
            if (inserted.length > 0) return { result, inserted: true }
            const existing = yield* get(result.runId, result.conversationId)
            return { result: existing ?? result, inserted: false }
          }).pipe(wrap("put")),
        list: (runId) =>
          Effect.gen(function*() {
            const rows = yield* sql.query(
              "SELECT result FROM braid_evaluation_results WHERE run_id = ? ORDER BY conversation_id",
              [runId]
            )
            return yield* Effect.forEach(rows, (r) => decode(r["result"]))
          }).pipe(wrap("list"))
      }
    })
  )

/**
 * `layerSqlWith()`: a store on the `Sql.SqlDriver` in context with the default bound.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { ResultStore } from "@braid/eval"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const Store = ResultStore.layerSql.pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql: Layer.Layer<ResultStore, ResultStoreError, Sql.SqlDriver> = layerSqlWith()
