/**
 * The PostgreSQL memory store. It runs on node-postgres (`pg`) directly, over a `pg.Pool`: a read
 * or a write without a `maxEntries` rule is one query on a pooled connection in one Effect step,
 * so it costs little more than the driver's own call. Every call is bounded by the `timeout`
 * option, and a connection that breaks during a call fails the call with a `MemoryStoreError`. The table (`braid_memory` by default) is created or migrated
 * when the store is made, in one transaction under an advisory lock, so several processes may
 * start at once. Evictions run in the same transaction as the write, under a per-scope advisory
 * lock.
 *
 * @since 0.1.0
 */
import { Io } from "@braid/core"
import { MemoryStoreError } from "@braid/memory/Errors"
import * as MemorySql from "@braid/memory/MemorySql"
import { type Entry, MemoryStore, type MemoryStoreShape, scopeKey, valueJsonOf } from "@braid/memory/MemoryStore"
import { Config, Duration, Effect, Either, Exit, identity, Layer, Option, Redacted } from "effect"
import type { Scope } from "effect"
import { createRequire } from "node:module"

/**
 * Options of the PostgreSQL store.
 *
 * @since 0.1.0
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
 * A connection checked out of a `pg.Pool` (the part the store uses). While the store holds one
 * it listens to its "error" event, so a connection that breaks mid-call (a server restart, a
 * terminated backend) fails the call with a `MemoryStoreError` instead of ending the process.
 *
 * @since 0.1.0
 */
export interface PoolClient {
  query(
    text: string,
    values: ReadonlyArray<unknown> | undefined,
    callback: (error: Error | undefined, result: QueryResult) => void
  ): void
  query(text: string, values?: ReadonlyArray<unknown>): Promise<QueryResult>
  /** Returns the connection to the pool; with an error, closes it instead. */
  release(error?: Error | boolean): void
  on(event: "error", listener: (error: Error) => void): unknown
  removeListener(event: "error", listener: (error: Error) => void): unknown
}

/**
 * A `pg.Pool` (node-postgres), the part the store uses. Pass your own to `make` to choose its
 * settings (size, timeouts, TLS); the store then leaves ending it to you. Give it an "error"
 * listener, as node-postgres asks of every pool: an idle connection that breaks is reported
 * there (the store's own pool has one).
 *
 * @since 0.1.0
 */
export interface Pool {
  connect(callback: (error: Error | undefined, client: PoolClient | undefined) => void): void
  connect(): Promise<PoolClient>
  end(): Promise<void>
  on(event: "error", listener: (error: Error) => void): unknown
}

type PoolConstructor = new(
  options: { readonly connectionString: string; readonly connectionTimeoutMillis: number }
) => Pool

const defaultUrl = Config.redacted("DATABASE_URL").pipe(
  Config.withDefault(Redacted.make("postgres://postgres@127.0.0.1:5432/test"))
)

const open = (url: string, connectTimeout: number): Pool => {
  const pg = createRequire(import.meta.url)("pg") as { readonly Pool: PoolConstructor }
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: connectTimeout })
  // An idle connection that breaks (a server restart) is dropped by the pool; without a listener
  // its "error" event would end the process. The next query opens a new connection.
  pool.on("error", ignore)
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

function ignore(): void {}

const asError = (e: unknown): Error => e instanceof Error ? e : new Error(String(e))

/** Why a connection is closed rather than returned when its caller stops waiting. */
const abandoned = new Error("the call was interrupted (timed out or cancelled): its connection is closed")

/**
 * One call on one connection of the pool, as one interruptible Effect step: `work` runs on the
 * connection and calls `done` once; the step resumes with `map(result)` or `onError` of the
 * error (also when `work` or `map` throws). While the call holds the connection it listens to
 * its "error" event: a connection that breaks fails the call (and is closed), it never throws
 * out of the process. The connection goes back to the pool after a success, and is closed after
 * a failure (as `pool.query` does) or when the call is abandoned (at the bound `timeout`, or on
 * interruption), so a query that never answers does not keep it busy; a late result is then
 * ignored. The bound is `Io.callback`'s: one Effect step and one timer, no fiber of its own.
 */
const onConnection = <R, A>(
  pool: Pool,
  work: (client: PoolClient, done: Done<R>) => void,
  map: (result: R) => A,
  onError: (e: unknown) => MemoryStoreError,
  timeout: Duration.Duration,
  operation: string
): Effect.Effect<A, MemoryStoreError> =>
  Io.callback<A, MemoryStoreError, MemoryStoreError>(
    (resume) => {
      let finished = false
      let client: PoolClient | undefined = undefined
      /** Gives the connection back (or closes it, with an error). A closed one keeps a listener: a late "error" is ignored. */
      const letGo = (error: Error | undefined) => {
        const c = client
        if (c === undefined) return
        client = undefined
        if (error === undefined) {
          c.removeListener("error", onBroken)
          c.release()
        } else {
          c.release(error)
        }
      }
      const finish: Done<R> = (error, result) => {
        if (finished) return
        finished = true
        if (error != null) {
          letGo(asError(error))
          return resume(Exit.fail(onError(error)))
        }
        letGo(undefined)
        try {
          resume(Exit.succeed(map(result as R)))
        } catch (e) {
          resume(Exit.fail(onError(e)))
        }
      }
      function onBroken(error: Error): void {
        finish(error)
      }
      try {
        pool.connect((error, c) => {
          if (error != null || c === undefined) return finish(error ?? new Error("no connection"))
          if (finished) return c.release()
          client = c
          c.on("error", onBroken)
          try {
            work(c, finish)
          } catch (e) {
            finish(e)
          }
        })
      } catch (e) {
        finish(e)
      }
      return () => {
        if (finished) return
        finished = true
        letGo(abandoned)
      }
    },
    timeout,
    MemorySql.timedOut("postgres", operation)
  )

/** `work` that runs one statement. */
const statement =
  (sql: string, params: ReadonlyArray<unknown>) => (client: PoolClient, done: Done<QueryResult>): void =>
    client.query(sql, params, done)

/** `work` that runs `body` in a transaction: `BEGIN`, then `COMMIT` (a failure closes the connection, which rolls it back). */
const transaction = <A>(body: (client: PoolClient) => Promise<A>) => (client: PoolClient, done: Done<A>): void => {
  client.query("BEGIN").then(() => body(client)).then(
    (result) => client.query("COMMIT").then(() => done(null, result)),
    (e) => done(e ?? new Error("rejected without a reason"))
  ).catch((e) => done(e ?? new Error("rejected without a reason")))
}

/** Runs the migrations that have not run yet, inside a transaction; how many ran. */
const migrate = async (client: PoolClient, t: string): Promise<number> => {
  // Concurrent starts queue here; the lock ends with the transaction.
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('${t}'))`)
  await client.query(MemorySql.migrationsTable("postgres", t))
  const done = new Set(
    (await client.query(`SELECT version FROM ${t}_migrations`)).rows.map((r) =>
      Number((r as { version: number | string }).version)
    )
  )
  const pending = MemorySql.migrations("postgres", t).map((statements, i) => ({ version: i + 1, statements })).filter((
    m
  ) => !done.has(m.version))
  for (const { statements, version } of pending) {
    for (const statement of statements) await client.query(statement)
    await client.query(MemorySql.recordMigration("postgres", t), [version, Date.now()])
  }
  return pending.length
}

/** The store over a pool whose migrations have run. Every call is bounded by `timeout`. */
const makeStore = (pool: Pool, t: string, fail: Fail, timeout: Duration.Duration): MemoryStoreShape => {
  const text = MemorySql.statements("postgres", t)
  const lockScope = `SELECT pg_advisory_xact_lock(hashtext('${t}'), hashtext($1))`

  const failPut = fail("put")
  const failGet = fail("get")
  const failQuery = fail("query")
  const failDelete = fail("delete")
  const failClear = fail("clear")

  const firstEntry = (r: QueryResult): Option.Option<Entry> =>
    r.rows.length === 0 ? Option.none() : Option.some(MemorySql.toEntry(r.rows[0]))
  const changed = (r: QueryResult): number => r.rowCount ?? 0
  /** A call whose parameters are made inside the step (a value that does not encode, or a bad tenant, fails the step). */
  const call = <A>(
    operation: string,
    work: () => (client: PoolClient, done: Done<QueryResult>) => void,
    map: (r: QueryResult) => A,
    onError: (e: unknown) => MemoryStoreError
  ) =>
    Effect.suspend(() => {
      try {
        return onConnection(pool, work(), map, onError, timeout, operation)
      } catch (e) {
        return Exit.fail(onError(e))
      }
    })
  const paramsOf = (entry: Entry, valueJson: string | undefined): Array<unknown> => {
    const json = valueJsonOf("postgres", entry, valueJson)
    if (Either.isLeft(json)) throw json.left
    return MemorySql.paramsOf(entry, json.right)
  }

  return {
    name: "postgres",
    put: (entry, options) => {
      if (options.maxEntries === undefined) {
        return call("put", () => statement(text.insert, paramsOf(entry, options.valueJson)), ignore, failPut)
      }
      const maxEntries = Math.max(0, options.maxEntries)
      // Write, drop the scope's expired entries, evict the oldest beyond the max: one transaction,
      // serialised per scope so concurrent writers never leave more than maxEntries.
      return Effect.suspend(() => {
        let params: Array<unknown>
        try {
          params = paramsOf(entry, options.valueJson)
        } catch (e) {
          return Exit.fail(failPut(e))
        }
        const { id, kind } = entry.scope
        const tenant = params[2]
        return onConnection(
          pool,
          transaction(async (client) => {
            await client.query(lockScope, [scopeKey(entry.scope)])
            await client.query(text.insert, params)
            await client.query(text.dropExpired, [kind, tenant, id, options.now])
            await client.query(text.evict, [kind, tenant, id, kind, tenant, id, maxEntries])
          }),
          ignore,
          failPut,
          timeout,
          "put"
        )
      })
    },
    get: (scope, key, now) =>
      call(
        "get",
        () => statement(text.selectOne, [scope.kind, MemorySql.tenantOf(scope), scope.id, key, now]),
        firstEntry,
        failGet
      ),
    query: (scope, filter, now) => {
      let plan: MemorySql.QueryPlan | undefined = undefined
      return call(
        "query",
        () => {
          plan = MemorySql.queryPlan("postgres", t, scope, filter, now)
          return statement(plan.text, plan.params)
        },
        (r) => MemorySql.finishQuery(r.rows, plan!, filter),
        failQuery
      )
    },
    delete: (scope, key) =>
      call(
        "delete",
        () => statement(text.deleteOne, [scope.kind, MemorySql.tenantOf(scope), scope.id, key]),
        (r) => changed(r) > 0,
        failDelete
      ),
    clear: (scope) =>
      call(
        "clear",
        () => statement(text.clearScope, [scope.kind, MemorySql.tenantOf(scope), scope.id]),
        changed,
        failClear
      )
  }
}

/** Checks that the pool connects, runs the migrations, and builds the store; each step within `timeout`. */
const start = (
  pool: Pool,
  t: string,
  fail: Fail,
  timeout: Duration.Duration
): Effect.Effect<MemoryStoreShape, MemoryStoreError> =>
  onConnection(pool, (_client, done: Done<void>) => done(null), ignore, fail("connect"), timeout, "connect").pipe(
    Effect.zipRight(
      onConnection(pool, transaction((client) => migrate(client, t)), identity, fail("migrate"), timeout, "migrate")
    ),
    Effect.map(() => makeStore(pool, t, fail, timeout))
  )

const failWith = (secrets: ReadonlyArray<string>): Fail => (operation) => (e) =>
  MemorySql.storeError("postgres", operation, e, (message) => redact(message, secrets))

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
 */
export const make = (
  options: Options & { readonly url?: Redacted.Redacted<string>; readonly pool?: Pool } = {}
): Effect.Effect<MemoryStoreShape, MemoryStoreError, Scope.Scope> => {
  const t = MemorySql.checkTable(options.table ?? "braid_memory")
  const timeout = Duration.decode(options.timeout ?? Io.defaultTimeout)
  if (options.pool !== undefined) return start(options.pool, t, failWith([]), timeout)
  const url = options.url !== undefined
    ? Effect.succeed(options.url)
    : Effect.mapError(
      defaultUrl,
      (e) => new MemoryStoreError({ store: "postgres", operation: "config", message: String(e) })
    )
  return Effect.flatMap(url, (url) => {
    const fail = failWith(secretsOf(Redacted.value(url)))
    return Effect.acquireRelease(
      Effect.try({
        try: () => open(Redacted.value(url), Math.max(1, Math.ceil(Duration.toMillis(timeout)))),
        catch: fail("connect")
      }),
      // Ending the pool waits for its connections to close: bounded too (a dead link never acknowledges).
      (pool) =>
        Effect.interruptible(Effect.promise(() => pool.end().catch(ignore))).pipe(
          Effect.timeout(timeout),
          Effect.ignore
        )
    ).pipe(Effect.flatMap((pool) => start(pool, t, fail, timeout)))
  })
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
 */
export const layer = (
  options: Options & { readonly url?: Redacted.Redacted<string> } = {}
): Layer.Layer<MemoryStore, MemoryStoreError> => Layer.scoped(MemoryStore, make(options))
