/**
 * The SQL of the memory stores: migrations, statements and row mapping, shared by the SQLite store
 * (better-sqlite3) and the PostgreSQL store (pg), each of which runs it on its driver directly.
 *
 * @internal
 */
import { applyLimit, type Entry, type Filter, matches, type Scope } from "../MemoryStore.js"

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

/** The column types that differ between the dialects. */
const types = (dialect: Dialect) =>
  dialect === "pg"
    ? { seq: "BIGSERIAL PRIMARY KEY", int: "BIGINT" }
    : { seq: "INTEGER PRIMARY KEY AUTOINCREMENT", int: "INTEGER" }

/** The migrations, in order. Each statement is idempotent on its own. */
export const migrations = (dialect: Dialect, t: string): ReadonlyArray<ReadonlyArray<string>> => {
  const { int, seq } = types(dialect)
  return [
    [
      `CREATE TABLE IF NOT EXISTS ${t} (
          seq ${seq},
          id TEXT NOT NULL,
          scope_kind TEXT NOT NULL,
          scope_id TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          agent TEXT,
          run_id TEXT,
          step_path TEXT,
          tags TEXT NOT NULL,
          created_at ${int} NOT NULL,
          expires_at ${int},
          UNIQUE (scope_kind, scope_id, key)
        )`,
      `CREATE INDEX IF NOT EXISTS ${t}_scope_seq ON ${t} (scope_kind, scope_id, seq)`,
      `CREATE INDEX IF NOT EXISTS ${t}_expires ON ${t} (scope_kind, scope_id, expires_at)`
    ]
  ]
}

/** The table recording applied migration versions. */
export const migrationsTable = (dialect: Dialect, t: string): string =>
  `CREATE TABLE IF NOT EXISTS ${t}_migrations (version INTEGER PRIMARY KEY, applied_at ${types(dialect).int} NOT NULL)`

/** Records one applied migration version: parameters `(version, applied_at)`. */
export const recordMigration = (dialect: Dialect, t: string): string =>
  placeholders(dialect, `INSERT INTO ${t}_migrations (version, applied_at) VALUES (?, ?)`)

/** A row of the memory table, as the drivers return it (PostgreSQL BIGINTs come back as strings). */
export interface Row {
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

export const toEntry = (r: Row): Entry => {
  const e: { -readonly [K in keyof Entry]: Entry[K] } = {
    id: r.id,
    scope: { kind: r.scope_kind as Scope["kind"], id: r.scope_id },
    key: r.key,
    value: JSON.parse(r.value),
    tags: r.tags === "[]" ? [] : JSON.parse(r.tags),
    createdAt: Number(r.created_at)
  }
  if (r.agent !== null) e.agent = r.agent
  if (r.run_id !== null) e.runId = r.run_id
  if (r.step_path !== null) e.stepPath = r.step_path
  if (r.expires_at !== null) e.expiresAt = Number(r.expires_at)
  return e
}

export const COLUMNS = "id, scope_kind, scope_id, key, value, agent, run_id, step_path, tags, created_at, expires_at"

/** The parameters of `insert`, in `COLUMNS` order. `valueJson`: the value's JSON text, when the caller has it. */
export const paramsOf = (e: Entry, valueJson: string | undefined): Array<unknown> => [
  e.id,
  e.scope.kind,
  e.scope.id,
  e.key,
  valueJson ?? JSON.stringify(e.value ?? null),
  e.agent ?? null,
  e.runId ?? null,
  e.stepPath ?? null,
  JSON.stringify(e.tags),
  e.createdAt,
  e.expiresAt ?? null
]

/** The fixed statements of the store, with their parameters in comments. */
export const statements = (dialect: Dialect, t: string) => {
  const q = (text: string) => placeholders(dialect, text)
  return {
    /** `paramsOf(entry)`: an upsert that gives a rewritten key a new `seq` (it becomes the newest). */
    insert: q(
      dialect === "sqlite"
        ? `INSERT OR REPLACE INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
        : `INSERT INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (scope_kind, scope_id, key) DO UPDATE SET
           seq = EXCLUDED.seq, id = EXCLUDED.id, value = EXCLUDED.value, agent = EXCLUDED.agent,
           run_id = EXCLUDED.run_id, step_path = EXCLUDED.step_path, tags = EXCLUDED.tags,
           created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`
    ),
    /** `(kind, id, now)` */
    dropExpired: q(`DELETE FROM ${t} WHERE scope_kind = ? AND scope_id = ? AND expires_at IS NOT NULL AND expires_at <= ?`),
    /** `(kind, id, kind, id, maxEntries)`: keeps the newest `maxEntries` of the scope. */
    evict: q(
      `DELETE FROM ${t} WHERE scope_kind = ? AND scope_id = ? AND seq NOT IN (
       SELECT seq FROM ${t} WHERE scope_kind = ? AND scope_id = ? ORDER BY seq DESC LIMIT ?)`
    ),
    /** `(kind, id, key, now)` */
    selectOne: q(`SELECT ${COLUMNS} FROM ${t} WHERE scope_kind = ? AND scope_id = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`),
    /** `(kind, id, key)`; without `RETURNING`. */
    deleteOne: q(`DELETE FROM ${t} WHERE scope_kind = ? AND scope_id = ? AND key = ?`),
    /** `(kind, id)`; without `RETURNING`. */
    clearScope: q(`DELETE FROM ${t} WHERE scope_kind = ? AND scope_id = ?`)
  }
}

/** A `query` as SQL: the text, its parameters, and how to finish the rows in code (`finishQuery`). */
export interface QueryPlan {
  readonly text: string
  readonly params: ReadonlyArray<unknown>
  /** Tags or text are matched in code. */
  readonly inCode: boolean
  /** The limit runs in SQL (newest first; `finishQuery` reverses). */
  readonly pushLimit: boolean
}

export const queryPlan = (dialect: Dialect, t: string, scope: Scope, filter: Filter, now: number): QueryPlan => {
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
  return { text: placeholders(dialect, text), params, inCode, pushLimit }
}

/** The entries of a query's rows, oldest first, with tags, text and limit applied in code when the plan says so. */
export const finishQuery = (rows: ReadonlyArray<Row>, plan: QueryPlan, filter: Filter): ReadonlyArray<Entry> => {
  if (plan.pushLimit) return rows.map(toEntry).reverse()
  const entries = rows.map(toEntry)
  return applyLimit(plan.inCode ? entries.filter((e) => matches(e, filter)) : entries, filter.limit)
}

export const errorMessage = (e: unknown): string => e instanceof Error ? e.message : String(e)
