/**
 * The PostgreSQL memory store. It runs on node-postgres (`pg`) directly, over a `pg.Pool`: a read
 * or a write without a `maxEntries` rule is one `pool.query` in one Effect step, so it costs little
 * more than the driver's own call. The table (`braid_memory` by default) is created or migrated
 * when the store is made, in one transaction under an advisory lock, so several processes may
 * start at once. Evictions run in the same transaction as the write, under a per-scope advisory
 * lock.
 *
 * @since 0.1.0
 */
import { Config, Effect, Exit, identity, Layer, Option, Redacted } from "effect"
import type { Scope } from "effect"
import { createRequire } from "node:module"
import { MemoryStoreError } from "./Errors.js"
import * as MemorySql from "./internal/memorySql.js"
import { type Entry, MemoryStore, type MemoryStoreShape } from "./MemoryStore.js"

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
 * The result of a query, as `pg` gives it (the part the store reads).
 *
 * @since 0.1.0
 */
export interface QueryResult {
  readonly rows: ReadonlyArray<unknown>
  /** Rows written or deleted by an `INSERT`, `UPDATE` or `DELETE`. */
  readonly rowCount: number | null
}

/**
 * A connection checked out of a `pg.Pool` (the part the store uses).
 *
 * @since 0.1.0
 */
export interface PoolClient {
  query(text: string, values?: ReadonlyArray<unknown>): Promise<QueryResult>
  /** Returns the connection to the pool; with an error, closes it instead. */
  release(error?: Error | boolean): void
}

/**
 * A `pg.Pool` (node-postgres), the part the store uses. Pass your own to `make` to choose its
 * settings (size, timeouts, TLS); the store then leaves ending it to you.
 *
 * @since 0.1.0
 */
export interface Pool {
  query(text: string, values: ReadonlyArray<unknown>, callback: (error: Error | undefined, result: QueryResult) => void): void
  connect(): Promise<PoolClient>
  end(): Promise<void>
  on(event: "error", listener: (error: Error) => void): unknown
}

type PoolConstructor = new(options: { readonly connectionString: string; readonly connectionTimeoutMillis: number }) => Pool

/** How long getting a connection (a new one, or a free one from a busy pool) may take before failing. */
const CONNECT_TIMEOUT_MS = 5_000

const defaultUrl = Config.redacted("DATABASE_URL").pipe(
  Config.withDefault(Redacted.make("postgres://postgres@127.0.0.1:5432/test"))
)

const open = (url: string): Pool => {
  const pg = createRequire(import.meta.url)("pg") as { readonly Pool: PoolConstructor }
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS })
  // An idle connection that breaks (a server restart) is dropped by the pool; without a listener
  // its "error" event would end the process. The next query opens a new connection.
  pool.on("error", () => {})
  return pool
}

/**
 * What of a connection URL must never appear in an error: the URL itself and its password (as
 * written and decoded).
 */
const secretsOf = (url: string): ReadonlyArray<string> => {
  const secrets = [url]
  try {
    const password = new URL(url).password
    if (password !== "") secrets.push(password, decodeURIComponent(password))
  } catch {
    // Not a WHATWG URL (pg also takes other forms): the whole text is still hidden.
  }
  return secrets
}

const redact = (message: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce((m, secret) => secret === "" ? m : m.split(secret).join("***"), message)

type Fail = (operation: string) => (e: unknown) => MemoryStoreError

type Done<R> = (error: unknown, result?: R) => void

/** The exit of a step whose callback has come: `map(result)`, or `onError` of the error (also when `map` throws). */
const exitOf = <R, A>(error: unknown, result: R | undefined, map: (result: R) => A, onError: (e: unknown) => MemoryStoreError): Exit.Exit<A, MemoryStoreError> => {
  if (error != null) return Exit.fail(onError(error))
  try {
    return Exit.succeed(map(result as R))
  } catch (e) {
    return Exit.fail(onError(e))
  }
}

/**
 * One Effect step over a callback: `start` begins the work and calls `done` once, and the step
 * resumes with `map(result)`, or with `onError` of the error (also when `start` or `map` throws).
 * After an interruption the fiber ignores the late callback, which therefore never throws.
 * (No named closure is made per call: under tsx, each costs a `__name` call.)
 */
const attempt = <R, A>(start: (done: Done<R>) => void, map: (result: R) => A, onError: (e: unknown) => MemoryStoreError): Effect.Effect<A, MemoryStoreError> =>
  Effect.async<A, MemoryStoreError>((resume) => {
    try {
      start((error, result) => resume(exitOf(error, result, map, onError)))
    } catch (e) {
      resume(Exit.fail(onError(e)))
    }
  })

/** `done` of a promise. */
const settle = <R>(promise: () => Promise<R>) => (done: Done<R>): void => {
  promise().then((result) => done(null, result), (e) => done(e ?? new Error("rejected without a reason")))
}

const ignore = (): void => {}

/**
 * Runs `body` in one transaction on one connection of the pool: `BEGIN`, then `COMMIT`, or
 * `ROLLBACK` when it fails. The connection goes back to the pool either way (closed if even the
 * `ROLLBACK` failed), also when the caller was interrupted meanwhile.
 */
const transaction = async <A>(pool: Pool, body: (client: PoolClient) => Promise<A>): Promise<A> => {
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    const result = await body(client)
    await client.query("COMMIT")
    client.release()
    return result
  } catch (e) {
    await client.query("ROLLBACK").then(() => client.release(), (rollbackError: Error) => client.release(rollbackError))
    throw e
  }
}

/** Runs the migrations that have not run yet, inside a transaction; how many ran. */
const migrate = async (client: PoolClient, t: string): Promise<number> => {
  // Concurrent starts queue here; the lock ends with the transaction.
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('${t}'))`)
  await client.query(MemorySql.migrationsTable("pg", t))
  const done = new Set((await client.query(`SELECT version FROM ${t}_migrations`)).rows.map((r) => Number((r as { version: number | string }).version)))
  const pending = MemorySql.migrations("pg", t).map((statements, i) => ({ version: i + 1, statements })).filter((m) => !done.has(m.version))
  for (const { statements, version } of pending) {
    for (const statement of statements) await client.query(statement)
    await client.query(MemorySql.recordMigration("pg", t), [version, Date.now()])
  }
  return pending.length
}

/** The store over a pool whose migrations have run. */
const makeStore = (pool: Pool, t: string, fail: Fail): MemoryStoreShape => {
  const text = MemorySql.statements("pg", t)
  const lockScope = `SELECT pg_advisory_xact_lock(hashtext('${t}'), hashtext($1))`
  /** One statement on the pool (which checks a connection out and back in itself). */
  const run = (sql: string, params: ReadonlyArray<unknown>) => (done: Done<QueryResult>): void => pool.query(sql, params, done)

  const failPut = fail("put")
  const failGet = fail("get")
  const failQuery = fail("query")
  const failDelete = fail("delete")
  const failClear = fail("clear")

  const firstEntry = (r: QueryResult): Option.Option<Entry> =>
    r.rows.length === 0 ? Option.none() : Option.some(MemorySql.toEntry(r.rows[0] as MemorySql.Row))
  const changed = (r: QueryResult): number => r.rowCount ?? 0

  return {
    name: "postgres",
    put: (entry, options) => {
      // The parameters are made inside the step: a value that does not encode fails the step.
      if (options.maxEntries === undefined) {
        return attempt((done: Done<QueryResult>) => pool.query(text.insert, MemorySql.paramsOf(entry, options.valueJson), done), ignore, failPut)
      }
      const { id, kind } = entry.scope
      const maxEntries = Math.max(0, options.maxEntries)
      // Write, drop the scope's expired entries, evict the oldest beyond the max: one transaction,
      // serialised per scope so concurrent writers never leave more than maxEntries.
      return attempt(
        settle(() =>
          transaction(pool, async (client) => {
            await client.query(lockScope, [`${kind}:${id}`])
            await client.query(text.insert, MemorySql.paramsOf(entry, options.valueJson))
            await client.query(text.dropExpired, [kind, id, options.now])
            await client.query(text.evict, [kind, id, kind, id, maxEntries])
          })
        ),
        ignore,
        failPut
      )
    },
    get: (scope, key, now) => attempt(run(text.selectOne, [scope.kind, scope.id, key, now]), firstEntry, failGet),
    query: (scope, filter, now) => {
      const plan = MemorySql.queryPlan("pg", t, scope, filter, now)
      return attempt(run(plan.text, plan.params), (r) => MemorySql.finishQuery(r.rows as ReadonlyArray<MemorySql.Row>, plan, filter), failQuery)
    },
    delete: (scope, key) => attempt(run(text.deleteOne, [scope.kind, scope.id, key]), (r) => changed(r) > 0, failDelete),
    clear: (scope) => attempt(run(text.clearScope, [scope.kind, scope.id]), changed, failClear)
  }
}

/** Checks that the pool connects, runs the migrations, and builds the store. */
const start = (pool: Pool, t: string, fail: Fail): Effect.Effect<MemoryStoreShape, MemoryStoreError> =>
  attempt(settle(() => pool.connect().then((client) => client.release())), ignore, fail("connect")).pipe(
    Effect.zipRight(attempt(settle(() => transaction(pool, (client) => migrate(client, t))), identity, fail("migrate"))),
    Effect.map(() => makeStore(pool, t, fail))
  )

const failWith = (secrets: ReadonlyArray<string>): Fail => (operation) => (e) =>
  new MemoryStoreError({ store: "postgres", operation, message: redact(MemorySql.errorMessage(e), secrets) })

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
 * import { PostgresMemoryStore } from "@braid/agents"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* PostgresMemoryStore.make({ url: Redacted.make("postgres://postgres@127.0.0.1:5432/test") })
 *   yield* store.put({ id: "1", scope: { kind: "global", id: "global" }, key: "motd", value: "hi", tags: [], createdAt: 0 }, { now: 0 })
 *   return Option.map(yield* store.get({ kind: "global", id: "global" }, "motd", 0), (e) => e.value)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
export const make = (
  options: Options & { readonly url?: Redacted.Redacted<string>; readonly pool?: Pool } = {}
): Effect.Effect<MemoryStoreShape, MemoryStoreError, Scope.Scope> => {
  const t = MemorySql.checkTable(options.table ?? "braid_memory")
  if (options.pool !== undefined) return start(options.pool, t, failWith([]))
  const url = options.url !== undefined
    ? Effect.succeed(options.url)
    : Effect.mapError(defaultUrl, (e) => new MemoryStoreError({ store: "postgres", operation: "config", message: String(e) }))
  return Effect.flatMap(url, (url) => {
    const fail = failWith(secretsOf(Redacted.value(url)))
    return Effect.acquireRelease(
      Effect.try({ try: () => open(Redacted.value(url)), catch: fail("connect") }),
      (pool) => Effect.promise(() => pool.end().catch(ignore))
    ).pipe(Effect.flatMap((pool) => start(pool, t, fail)))
  })
}

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
  Layer.scoped(MemoryStore, make(options))
