/**
 * The SQL memory store shared by SQLite and PostgreSQL: migrations, statements and row mapping.
 *
 * @internal
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option } from "effect"
import { MemoryStoreError } from "../Errors.js"
import { applyLimit, type Entry, type Filter, matches, type MemoryStoreShape, type Scope } from "../MemoryStore.js"

export type Dialect = "sqlite" | "pg"

const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,50}$/

export const checkTable = (table: string): string => {
  if (!identifier.test(table) || !table.startsWith("braid_memory")) {
    throw new TypeError(`memory table names start with "braid_memory" and are plain identifiers, got ${JSON.stringify(table)}`)
  }
  return table
}

/** Numbers `?` placeholders as `$1, $2, ...` for PostgreSQL. */
const placeholders = (dialect: Dialect, text: string): string => {
  if (dialect === "sqlite") return text
  let i = 0
  return text.replace(/\?/g, () => `$${++i}`)
}

/** The migrations, in order. Each statement is idempotent on its own. */
const migrations = (dialect: Dialect, t: string): ReadonlyArray<ReadonlyArray<string>> => [
  [
    dialect === "sqlite"
      ? `CREATE TABLE IF NOT EXISTS ${t} (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL,
          scope_kind TEXT NOT NULL,
          scope_id TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          agent TEXT,
          run_id TEXT,
          step_path TEXT,
          tags TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          expires_at INTEGER,
          UNIQUE (scope_kind, scope_id, key)
        )`
      : `CREATE TABLE IF NOT EXISTS ${t} (
          seq BIGSERIAL PRIMARY KEY,
          id TEXT NOT NULL,
          scope_kind TEXT NOT NULL,
          scope_id TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          agent TEXT,
          run_id TEXT,
          step_path TEXT,
          tags TEXT NOT NULL,
          created_at BIGINT NOT NULL,
          expires_at BIGINT,
          UNIQUE (scope_kind, scope_id, key)
        )`,
    `CREATE INDEX IF NOT EXISTS ${t}_scope_seq ON ${t} (scope_kind, scope_id, seq)`,
    `CREATE INDEX IF NOT EXISTS ${t}_expires ON ${t} (scope_kind, scope_id, expires_at)`
  ]
]

/**
 * Runs the migrations that have not run yet, recording each in `<table>_migrations`. Safe to run
 * any number of times, and (on PostgreSQL, under an advisory lock) from several processes at once.
 */
export const migrate = (sql: SqlClient.SqlClient, dialect: Dialect, table: string): Effect.Effect<number, SqlError> =>
  Effect.gen(function*() {
    const t = checkTable(table)
    const steps = migrations(dialect, t)
    const run = Effect.gen(function*() {
      if (dialect === "pg") yield* sql.unsafe(`SELECT pg_advisory_xact_lock(hashtext('${t}'))`)
      yield* sql.unsafe(
        `CREATE TABLE IF NOT EXISTS ${t}_migrations (version INTEGER PRIMARY KEY, applied_at ${dialect === "pg" ? "BIGINT" : "INTEGER"} NOT NULL)`
      )
      const rows = yield* sql.unsafe<{ version: number | string }>(`SELECT version FROM ${t}_migrations`)
      const done = new Set(rows.map((r) => Number(r.version)))
      let applied = 0
      for (let v = 1; v <= steps.length; v++) {
        if (done.has(v)) continue
        for (const statement of steps[v - 1]!) yield* sql.unsafe(statement)
        yield* sql.unsafe(placeholders(dialect, `INSERT INTO ${t}_migrations (version, applied_at) VALUES (?, ?)`), [v, Date.now()])
        applied++
      }
      return applied
    })
    return yield* sql.withTransaction(run)
  })

interface Row {
  readonly id: string
  readonly scope_kind: string
  readonly scope_id: string
  readonly key: string
  readonly value: string
  readonly agent: string | null
  readonly run_id: string | null
  readonly step_path: string | null
  readonly tags: string
  readonly created_at: number | string
  readonly expires_at: number | string | null
}

const toEntry = (r: Row): Entry => ({
  id: r.id,
  scope: { kind: r.scope_kind as Scope["kind"], id: r.scope_id },
  key: r.key,
  value: JSON.parse(r.value),
  ...(r.agent !== null ? { agent: r.agent } : {}),
  ...(r.run_id !== null ? { runId: r.run_id } : {}),
  ...(r.step_path !== null ? { stepPath: r.step_path } : {}),
  tags: JSON.parse(r.tags),
  createdAt: Number(r.created_at),
  ...(r.expires_at !== null ? { expiresAt: Number(r.expires_at) } : {})
})

const COLUMNS = "id, scope_kind, scope_id, key, value, agent, run_id, step_path, tags, created_at, expires_at"

/** Builds the store over a client whose migrations have run. */
export const make = (sql: SqlClient.SqlClient, dialect: Dialect, table: string, name: string): MemoryStoreShape => {
  const t = checkTable(table)
  const q = (text: string) => placeholders(dialect, text)
  const insert = q(
    dialect === "sqlite"
      ? `INSERT OR REPLACE INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
      : `INSERT INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (scope_kind, scope_id, key) DO UPDATE SET
           seq = EXCLUDED.seq, id = EXCLUDED.id, value = EXCLUDED.value, agent = EXCLUDED.agent,
           run_id = EXCLUDED.run_id, step_path = EXCLUDED.step_path, tags = EXCLUDED.tags,
           created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`
  )
  const lockScope = `SELECT pg_advisory_xact_lock(hashtext('${t}'), hashtext($1))`
  const dropExpired = q(`DELETE FROM ${t} WHERE scope_kind = ? AND scope_id = ? AND expires_at IS NOT NULL AND expires_at <= ?`)
  const evict = q(
    `DELETE FROM ${t} WHERE scope_kind = ? AND scope_id = ? AND seq NOT IN (
       SELECT seq FROM ${t} WHERE scope_kind = ? AND scope_id = ? ORDER BY seq DESC LIMIT ?)`
  )
  const selectOne = q(`SELECT ${COLUMNS} FROM ${t} WHERE scope_kind = ? AND scope_id = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`)
  const deleteOne = q(`DELETE FROM ${t} WHERE scope_kind = ? AND scope_id = ? AND key = ? RETURNING id`)
  const clearScope = q(`DELETE FROM ${t} WHERE scope_kind = ? AND scope_id = ? RETURNING id`)

  const fail = (operation: string) => (e: unknown) =>
    new MemoryStoreError({ store: name, operation, message: e instanceof Error ? e.message : String(e) })

  const paramsOf = (e: Entry) => [
    e.id,
    e.scope.kind,
    e.scope.id,
    e.key,
    JSON.stringify(e.value ?? null),
    e.agent ?? null,
    e.runId ?? null,
    e.stepPath ?? null,
    JSON.stringify(e.tags),
    e.createdAt,
    e.expiresAt ?? null
  ]

  return {
    name,
    put: (entry, options) => {
      const write = sql.unsafe(insert, paramsOf(entry))
      if (options.maxEntries === undefined) return Effect.mapError(Effect.asVoid(write), fail("put"))
      const { kind, id } = entry.scope
      return sql.withTransaction(
        Effect.gen(function*() {
          if (dialect === "pg") yield* sql.unsafe(lockScope, [`${kind}:${id}`])
          yield* write
          yield* sql.unsafe(dropExpired, [kind, id, options.now])
          yield* sql.unsafe(evict, [kind, id, kind, id, Math.max(0, options.maxEntries!)])
        })
      ).pipe(Effect.mapError(fail("put")))
    },
    get: (scope, key, now) =>
      sql.unsafe<Row>(selectOne, [scope.kind, scope.id, key, now]).pipe(
        Effect.map((rows) => rows.length === 0 ? Option.none() : Option.some(toEntry(rows[0]!))),
        Effect.mapError(fail("get"))
      ),
    query: (scope, filter: Filter, now) => {
      const where = ["scope_kind = ?", "scope_id = ?", "(expires_at IS NULL OR expires_at > ?)"]
      const params: Array<unknown> = [scope.kind, scope.id, now]
      if (filter.agent !== undefined) {
        where.push("agent = ?")
        params.push(filter.agent)
      }
      if (filter.from !== undefined) {
        where.push("created_at >= ?")
        params.push(filter.from)
      }
      if (filter.to !== undefined) {
        where.push("created_at < ?")
        params.push(filter.to)
      }
      // Tags and text are matched in code (exactly as the in-memory store does); without them the
      // limit is pushed down to the database.
      const inCode = (filter.tags !== undefined && filter.tags.length > 0) || (filter.text !== undefined && filter.text !== "")
      const pushLimit = !inCode && filter.limit !== undefined
      let text = `SELECT ${COLUMNS} FROM ${t} WHERE ${where.join(" AND ")} ORDER BY seq ${pushLimit ? "DESC" : "ASC"}`
      if (pushLimit) {
        text += " LIMIT ?"
        params.push(Math.max(0, filter.limit!))
      }
      return sql.unsafe<Row>(q(text), params).pipe(
        Effect.map((rows) => {
          if (pushLimit) return rows.map(toEntry).reverse()
          const entries = rows.map(toEntry)
          return applyLimit(inCode ? entries.filter((e) => matches(e, filter)) : entries, filter.limit)
        }),
        Effect.mapError(fail("query"))
      )
    },
    delete: (scope, key) =>
      sql.unsafe<{ id: string }>(deleteOne, [scope.kind, scope.id, key]).pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.mapError(fail("delete"))
      ),
    clear: (scope) =>
      sql.unsafe<{ id: string }>(clearScope, [scope.kind, scope.id]).pipe(
        Effect.map((rows) => rows.length),
        Effect.mapError(fail("clear"))
      )
  }
}
