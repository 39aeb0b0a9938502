/**
 * The PostgreSQL memory store, on `PostgresDriver` (node-postgres over a `pg.Pool`): a read or a
 * write without a `maxEntries` rule is one statement on a pooled connection, so it costs little
 * more than the driver's own call. Every call is bounded by the `timeout` option, and a
 * connection that breaks during a call fails the call with a `MemoryStoreError` (the driver
 * destroys it). The table (`braid_memory` by default) is created or migrated when the store is
 * made, in one transaction under an advisory lock, so several processes may start at once.
 * Evictions run in the same transaction as the write, under a per-scope advisory lock.
 *
 * @since 0.1.0
 */
import { Io, Sql } from "@braid/core"
import { MemoryStoreError } from "@braid/memory/Errors"
import * as MemorySql from "@braid/memory/MemorySql"
import { type Entry, MemoryStore, type MemoryStoreShape, scopeKey, valueJsonOf } from "@braid/memory/MemoryStore"
import { Config, Duration, Effect, Either, Exit, Layer, Option, Redacted } from "effect"
import type { Scope } from "effect"
import * as PostgresDriver from "./PostgresDriver.js"

/**
 * Options of the PostgreSQL store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The table name; must start with `braid_memory`. Default `braid_memory`. */
  readonly table?: string
  /**
   * The bound of every store call (getting a connection included): past it the call fails with
   * a `MemoryStoreError` whose `reason` is "Timeout", and its connection is closed (a query that
   * never answers does not keep a connection busy). Default `Io.defaultTimeout` (5 s).
   */
  readonly timeout?: Duration.DurationInput
}

/**
 * The result of a query, as `pg` gives it: `PostgresDriver.QueryResult`.
 *
 * @since 0.1.0
 * @category models
 */
export type QueryResult = PostgresDriver.QueryResult

/**
 * A connection checked out of a `pg.Pool`: `PostgresDriver.PoolClient`.
 *
 * @since 0.1.0
 * @category models
 */
export type PoolClient = PostgresDriver.PoolClient

/**
 * A `pg.Pool` (node-postgres): `PostgresDriver.Pool`. Pass your own to `make` to choose its
 * settings (size, timeouts, TLS); the store then leaves ending it to you. Give it an "error"
 * listener, as node-postgres asks of every pool.
 *
 * @since 0.1.0
 * @category models
 */
export type Pool = PostgresDriver.Pool

/** Without `DATABASE_URL`, the local test database. */
const defaultUrl = PostgresDriver.databaseUrl.pipe(
  Config.withDefault(Redacted.make("postgres://postgres@127.0.0.1:5432/test"))
)

/** A call of the store: bounded by `timeout`; every failure a `MemoryStoreError` of `operation` ("Corrupt" for a row that does not decode). */
/** The bound of the store calls on `timeout`: the call's statements bounded as a whole (`Sql.bounded`). */
const bounder = (timeout: Duration.Duration) => {
  const within = Sql.bounded(timeout)
  return <A>(self: Effect.Effect<A, unknown>, operation: string): Effect.Effect<A, MemoryStoreError> =>
    Effect.mapError(
      within(self),
      (e) =>
        e instanceof Sql.SqlFailure && e.reason === "Timeout"
          ? new MemoryStoreError({ store: "postgres", operation, reason: "Timeout", message: e.message })
          : MemorySql.storeError("postgres", operation, e)
    )
}

/** `map` of a statement's result, where a throw (a row that does not decode) is a failure. */
const mapTry = <A, B>(self: Effect.Effect<A, Sql.SqlFailure>, map: (a: A) => B): Effect.Effect<B, unknown> =>
  Effect.flatMap(self, (a) => {
    try {
      return Exit.succeed(map(a))
    } catch (e) {
      return Exit.fail(e)
    }
  })

/** Runs the migrations that have not run yet, in one transaction under an advisory lock; how many ran. */
const migrate = (driver: Sql.Driver, t: string): Effect.Effect<number, Sql.SqlFailure> =>
  driver.transaction((tx) =>
    Effect.gen(function*() {
      // Concurrent starts queue here; the lock ends with the transaction.
      yield* tx.query(`SELECT pg_advisory_xact_lock(hashtext('${t}'))`)
      yield* tx.execute(MemorySql.migrationsTable("postgres", t))
      const done = new Set((yield* tx.query(`SELECT version FROM ${t}_migrations`)).map((r) => Number(r["version"])))
      const pending = MemorySql.migrations("postgres", t)
        .map((statements, i) => ({ version: i + 1, statements }))
        .filter((m) => !done.has(m.version))
      for (const { statements, version } of pending) {
        for (const statement of statements) yield* tx.execute(statement)
        yield* tx.execute(MemorySql.recordMigration("postgres", t), [version, Date.now()])
      }
      return pending.length
    })
  )

/** The store on a driver whose migrations have run. Every call is bounded by `timeout`. */
const makeStore = (driver: Sql.Driver, t: string, timeout: Duration.Duration): MemoryStoreShape => {
  const bound = bounder(timeout)
  const text = MemorySql.statements("postgres", t)
  const lockScope = `SELECT pg_advisory_xact_lock(hashtext('${t}'), hashtext(?))`

  const firstEntry = (rows: ReadonlyArray<Sql.Row>): Option.Option<Entry> =>
    rows.length === 0 ? Option.none() : Option.some(MemorySql.toEntry(rows[0]))
  /** The parameters of a write: a value that does not encode, or a bad tenant, fails the call. */
  const paramsOf = (entry: Entry, valueJson: string | undefined): Either.Either<Array<Sql.Param>, unknown> => {
    try {
      const json = valueJsonOf("postgres", entry, valueJson)
      return Either.isLeft(json)
        ? Either.left(json.left)
        : Either.right(MemorySql.paramsOf(entry, json.right) as Array<Sql.Param>)
    } catch (e) {
      return Either.left(e)
    }
  }
  /** Parameters made inside the call: a throw (a bad tenant) fails the call. */
  const withParams = <A>(
    make: () => ReadonlyArray<Sql.Param>,
    run: (params: ReadonlyArray<Sql.Param>) => Effect.Effect<A, unknown>
  ) =>
    Effect.suspend(() => {
      let params: ReadonlyArray<Sql.Param>
      try {
        params = make()
      } catch (e) {
        return Exit.fail(e)
      }
      return run(params)
    })

  return {
    name: "postgres",
    put: (entry, options) => {
      const maxEntries = options.maxEntries === undefined ? undefined : Math.max(0, options.maxEntries)
      return bound(
        Effect.suspend((): Effect.Effect<Entry | void, unknown> => {
          const params = paramsOf(entry, options.valueJson)
          if (Either.isLeft(params)) return Exit.fail(params.left)
          const idempotencyKey = options.idempotencyKey
          if (maxEntries === undefined && idempotencyKey === undefined) {
            return Effect.asVoid(driver.execute(text.insert, params.right))
          }
          // Write, drop the scope's expired entries, evict the oldest beyond the max: one
          // transaction, serialised per scope so concurrent writers never leave more than maxEntries.
          const { id, kind } = entry.scope
          const tenant = params.right[2]!
          const write = (tx: Sql.Driver) =>
            maxEntries === undefined ? tx.execute(text.insert, params.right) : Effect.all([
              tx.query(lockScope, [scopeKey(entry.scope)]),
              tx.execute(text.insert, params.right),
              tx.execute(text.dropExpired, [kind, tenant, id, options.now]),
              tx.execute(text.evict, [kind, tenant, id, kind, tenant, id, maxEntries])
            ], { discard: true })
          return driver.transaction((tx) =>
            idempotencyKey === undefined
              ? Effect.asVoid(write(tx))
              : MemorySql.putOnce(
                tx,
                "postgres",
                t,
                entry,
                params.right[5] as string,
                idempotencyKey,
                options.now,
                write(tx)
              )
          )
        }),
        "put"
      )
    },
    get: (scope, key, now) =>
      bound(
        withParams(
          () => [scope.kind, MemorySql.tenantOf(scope), scope.id, key, now],
          (params) => mapTry(driver.query(text.selectOne, params), firstEntry)
        ),
        "get"
      ),
    query: (scope, filter, now) =>
      bound(
        Effect.suspend(() => {
          let plan: MemorySql.QueryPlan
          try {
            plan = MemorySql.queryPlan("postgres", t, scope, filter, now)
          } catch (e) {
            return Exit.fail(e)
          }
          return mapTry(
            driver.query(plan.text, plan.params as ReadonlyArray<Sql.Param>),
            (rows) => MemorySql.finishQuery(rows, plan, filter)
          )
        }),
        "query"
      ),
    delete: (scope, key) =>
      bound(
        withParams(
          () => [scope.kind, MemorySql.tenantOf(scope), scope.id, key],
          (params) => Effect.map(driver.execute(text.deleteOne, params), (n) => n > 0)
        ),
        "delete"
      ),
    clear: (scope) =>
      bound(
        withParams(
          () => [scope.kind, MemorySql.tenantOf(scope), scope.id],
          (params) => Effect.zipLeft(driver.execute(text.clearScope, params), driver.execute(text.clearKeys, params))
        ),
        "clear"
      )
  }
}

/**
 * Checks that the driver connects, runs the migrations, and builds the store; each step within
 * `timeout`.
 */
const start = (
  driver: Sql.Driver,
  t: string,
  timeout: Duration.Duration
): Effect.Effect<MemoryStoreShape, MemoryStoreError> =>
  Effect.suspend(() => {
    const bound = bounder(timeout)
    return bound(driver.query("SELECT 1"), "connect").pipe(Effect.zipRight(bound(migrate(driver, t), "migrate")))
  }).pipe(
    Effect.as(makeStore(driver, t, timeout))
  )

/**
 * A store on a PostgreSQL driver you give (`PostgresDriver.make`, `PostgresDriver.fromPool`):
 * checks the connection, then runs the migrations. The driver's pool is shared with whatever
 * else uses it. A table name that is not a `braid_memory` identifier throws a `TypeError` here,
 * before anything runs.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { PostgresDriver, PostgresMemoryStore } from "@braid/postgres"
 *
 * const store = Effect.flatMap(
 *   PostgresDriver.make({ url: Redacted.make("postgres://postgres@127.0.0.1:5432/test") }),
 *   (driver) => PostgresMemoryStore.fromDriver(driver, { table: "braid_memory_app" })
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromDriver = (
  driver: Sql.Driver,
  options: Options = {}
): Effect.Effect<MemoryStoreShape, MemoryStoreError> => {
  const t = MemorySql.checkTable(options.table ?? "braid_memory")
  return start(driver, t, Duration.decode(options.timeout ?? Io.defaultTimeout))
}

/**
 * A store on PostgreSQL: on `pool` if given (the caller owns it and ends it), else on a pool of
 * its own for `url` (default: `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/test`),
 * ended when the scope closes. Checks the connection, then runs the migrations. A connection
 * that fails is a `MemoryStoreError` with operation "connect", whose message never shows the
 * URL or its password. A table name that is not a `braid_memory` identifier throws a
 * `TypeError` here, before anything runs.
 *
 * @example
 * ```ts
 * import { Effect, Option, Redacted } from "effect"
 * import { PostgresMemoryStore } from "@braid/postgres"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* PostgresMemoryStore.make({ url: Redacted.make("postgres://postgres@127.0.0.1:5432/test") })
 *   yield* store.put({ id: "1", scope: { kind: "global", id: "global" }, key: "motd", value: "hi", tags: [], createdAt: 0 }, { now: 0 })
 *   return Option.map(yield* store.get({ kind: "global", id: "global" }, "motd", 0), (e) => e.value)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options & { readonly url?: Redacted.Redacted<string>; readonly pool?: Pool } = {}
): Effect.Effect<MemoryStoreShape, MemoryStoreError, Scope.Scope> => {
  const t = MemorySql.checkTable(options.table ?? "braid_memory")
  const timeout = Duration.decode(options.timeout ?? Io.defaultTimeout)
  if (options.pool !== undefined) return start(PostgresDriver.fromPool(options.pool, { timeout }), t, timeout)
  const url = options.url !== undefined
    ? Effect.succeed(options.url)
    : Effect.mapError(
      defaultUrl,
      (e) => new MemoryStoreError({ store: "postgres", operation: "config", message: String(e) })
    )
  return url.pipe(
    // The store's bound comes first: getting a connection is bounded a little later by the driver.
    Effect.flatMap((url) => PostgresDriver.make({ url, timeout: Duration.sum(timeout, Duration.seconds(1)) })),
    Effect.mapError((e) => MemorySql.storeError("postgres", "connect", e)),
    Effect.flatMap((driver) => start(driver, t, timeout))
  )
}

/**
 * A PostgreSQL memory store on `url` (default: `DATABASE_URL`, else
 * `postgres://postgres@127.0.0.1:5432/test`). The pool closes with the layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory } from "@braid/memory"
 * import { PostgresMemoryStore } from "@braid/postgres"
 *
 * const MemoryLive = Memory.layer().pipe(Layer.provide(PostgresMemoryStore.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options & { readonly url?: Redacted.Redacted<string> } = {}
): Layer.Layer<MemoryStore, MemoryStoreError> => Layer.scoped(MemoryStore, make(options))

/**
 * A PostgreSQL memory store on the `Sql.SqlDriver` in context (`PostgresDriver.layer`), sharing
 * its pool with the other stores on it.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory } from "@braid/memory"
 * import { PostgresDriver, PostgresMemoryStore } from "@braid/postgres"
 *
 * const MemoryLive = Memory.layer().pipe(
 *   Layer.provide(PostgresMemoryStore.layerDriver()),
 *   Layer.provide(PostgresDriver.layerConfig())
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerDriver = (options: Options = {}): Layer.Layer<MemoryStore, MemoryStoreError, Sql.SqlDriver> =>
  Layer.effect(MemoryStore, Effect.flatMap(Sql.SqlDriver, (driver) => fromDriver(driver, options)))
