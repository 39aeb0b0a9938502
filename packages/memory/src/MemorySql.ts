/**
 * For store authors: the SQL of the memory stores (migrations, statements and row mapping) and
 * the errors they report, shared by `SqliteMemoryStore` (@braid/sqlite),
 * `PostgresMemoryStore` (@braid/postgres) and `RedisMemoryStore` (@braid/redis), each of
 * which runs it on its driver directly. Written against no driver: this package needs none.
 *
 * @since 0.2.0
 */
import { Json, type Sql } from "@braid/core"
import { Effect, Either } from "effect"
import { MemoryStoreError } from "./Errors.js"
import {
  applyLimit,
  decodeEntry,
  decodeRecord,
  encodeRecord,
  type Entry,
  type Filter,
  idempotencyWindowMillis,
  matches,
  type Scope
} from "./MemoryStore.js"

/**
 * The SQL dialect a statement is written for.
 *
 * @category models
 * @since 0.2.0
 */
export type Dialect = "sqlite" | "postgres"

const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,50}$/

/**
 * A memory table name, checked: a plain identifier starting with `braid_memory`; throws a
 * `TypeError` otherwise (the name is interpolated into SQL).
 *
 * @category utils
 * @since 0.2.0
 */
export const checkTable = (table: string): string => {
  if (!identifier.test(table) || !table.startsWith("braid_memory")) {
    throw new TypeError(
      `memory table names start with "braid_memory" and are plain identifiers, got ${JSON.stringify(table)}`
    )
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
  dialect === "postgres"
    ? { seq: "BIGSERIAL PRIMARY KEY", int: "BIGINT" }
    : { seq: "INTEGER PRIMARY KEY AUTOINCREMENT", int: "INTEGER" }

/** The columns of the memory table, from migration 2 on: the tenant is a column of the scope's key. */
const tableV2 = (dialect: Dialect, name: string): string => {
  const { int, seq } = types(dialect)
  return `CREATE TABLE ${name} (
      seq ${seq},
      id TEXT NOT NULL,
      scope_kind TEXT NOT NULL,
      tenant TEXT NOT NULL,
      scope_id TEXT NOT NULL,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      agent TEXT,
      run_id TEXT,
      step_path TEXT,
      tags TEXT NOT NULL,
      created_at ${int} NOT NULL,
      expires_at ${int},
      UNIQUE (scope_kind, tenant, scope_id, key)
    )`
}

/**
 * The migrations, in order; each runs in one transaction with its version record.
 *
 * 1. The table of 0.1 (scope ids with the tenant joined in: `T/x`).
 * 3. (0.3) The table `<t>_idempotency`: one row per applied idempotency key of a scope (unique),
 *    claimed with `ON CONFLICT DO NOTHING`, holding the first write's entry. Kept apart from the
 *    entries so a rewrite or delete of the entry's key never lets an old write apply again.
 * 2. The tenant becomes a column of the key (`''` when there is none), by a rebuild of the
 *    table. Rows of 0.1 are converted by this rule: a `global` id `T/global` is tenant `T`; a
 *    `session` or `user` id containing `/` is split at its first `/` (tenant before, id after),
 *    since 0.1 wrote every tenant's id that way (a 0.1 id without a tenant that contained `/`
 *    cannot be told apart and is read as tenant-qualified); `run` ids and ids without `/` keep
 *    no tenant.
 *
 * @category utils
 * @since 0.2.0
 */
export const migrations = (dialect: Dialect, t: string): ReadonlyArray<ReadonlyArray<string>> => {
  const { int, seq } = types(dialect)
  const slash = dialect === "postgres" ? "strpos(scope_id, '/')" : "instr(scope_id, '/')"
  const tenantGlobal =
    "scope_kind = 'global' AND length(scope_id) > 7 AND substr(scope_id, length(scope_id) - 6) = '/global'"
  const tenantNamed = `scope_kind IN ('session', 'user') AND ${slash} > 0`
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
    ],
    [
      `DROP TABLE IF EXISTS ${t}_v2`,
      tableV2(dialect, `${t}_v2`),
      `INSERT INTO ${t}_v2 (seq, id, scope_kind, tenant, scope_id, key, value, agent, run_id, step_path, tags, created_at, expires_at)
        SELECT seq, id, scope_kind,
          CASE WHEN ${tenantGlobal} THEN substr(scope_id, 1, length(scope_id) - 7)
               WHEN ${tenantNamed} THEN substr(scope_id, 1, ${slash} - 1)
               ELSE '' END,
          CASE WHEN ${tenantGlobal} THEN 'global'
               WHEN ${tenantNamed} THEN substr(scope_id, ${slash} + 1)
               ELSE scope_id END,
          key, value, agent, run_id, step_path, tags, created_at, expires_at
        FROM ${t}`,
      `DROP TABLE ${t}`,
      `ALTER TABLE ${t}_v2 RENAME TO ${t}`,
      `CREATE INDEX IF NOT EXISTS ${t}_scope_seq ON ${t} (scope_kind, tenant, scope_id, seq)`,
      `CREATE INDEX IF NOT EXISTS ${t}_expires ON ${t} (scope_kind, tenant, scope_id, expires_at)`,
      ...(dialect === "postgres"
        ? [`SELECT setval(pg_get_serial_sequence('${t}', 'seq'), (SELECT max(seq) FROM ${t}))`]
        : [])
    ],
    [
      `CREATE TABLE IF NOT EXISTS ${t}_idempotency (
          scope_kind TEXT NOT NULL,
          tenant TEXT NOT NULL,
          scope_id TEXT NOT NULL,
          idempotency_key TEXT NOT NULL,
          record TEXT NOT NULL,
          expires_at ${int} NOT NULL,
          PRIMARY KEY (scope_kind, tenant, scope_id, idempotency_key)
        )`,
      `CREATE INDEX IF NOT EXISTS ${t}_idempotency_expires ON ${t}_idempotency (scope_kind, tenant, scope_id, expires_at)`
    ]
  ]
}

/**
 * The table recording applied migration versions.
 *
 * @category utils
 * @since 0.2.0
 */
export const migrationsTable = (dialect: Dialect, t: string): string =>
  `CREATE TABLE IF NOT EXISTS ${t}_migrations (version INTEGER PRIMARY KEY, applied_at ${types(dialect).int} NOT NULL)`

/**
 * Records one applied migration version: parameters `(version, applied_at)`.
 *
 * @category utils
 * @since 0.2.0
 */
export const recordMigration = (dialect: Dialect, t: string): string =>
  placeholders(dialect, `INSERT INTO ${t}_migrations (version, applied_at) VALUES (?, ?)`)

/**
 * A row of the memory table, as the drivers return it (PostgreSQL BIGINTs come back as strings).
 *
 * @category models
 * @since 0.2.0
 */
export interface Row {
  readonly id: string
  readonly scope_kind: string
  readonly tenant: string
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

/**
 * What a store holds does not decode as an entry: the stores report it as a `MemoryStoreError` with reason "Corrupt".
 *
 * @category errors
 * @since 0.2.0
 */
export class CorruptEntry extends Error {}

const corrupt = (key: unknown, what: string, detail: string): CorruptEntry =>
  new CorruptEntry(
    `entry ${
      typeof key === "string" ? JSON.stringify(key.slice(0, 100)) : "(no key)"
    } does not decode: ${what}: ${detail}`
  )

/** A JSON text of a row (value or tags), parsed under `Json.parse`'s rules; throws `CorruptEntry`. */
const parseJson = (key: unknown, what: string, text: unknown): unknown => {
  const parsed = typeof text === "string"
    ? Json.parse(text)
    : Either.left(new Error(`expected text, got ${typeof text}`))
  if (Either.isLeft(parsed)) throw corrupt(key, what, parsed.left.message)
  return parsed.right
}

const timeOf = (v: unknown): number => typeof v === "string" && v !== "" ? Number(v) : typeof v === "number" ? v : NaN

/**
 * The entry of a row, decoded: the value and the tags with `Json.parse`, the whole checked with
 * `MemoryStore.decodeEntry`. A row that does not decode throws `CorruptEntry`.
 *
 * @category parsing
 * @since 0.2.0
 */
export const toEntry = (row: unknown): Entry => {
  const r = row as Partial<Record<keyof Row, unknown>>
  const e: Record<string, unknown> = {
    id: r.id,
    scope: r.tenant === ""
      ? { kind: r.scope_kind, id: r.scope_id }
      : { kind: r.scope_kind, tenant: r.tenant, id: r.scope_id },
    key: r.key,
    value: parseJson(r.key, "value", r.value),
    tags: r.tags === "[]" ? [] : parseJson(r.key, "tags", r.tags),
    createdAt: timeOf(r.created_at)
  }
  if (r.agent !== null) e.agent = r.agent
  if (r.run_id !== null) e.runId = r.run_id
  if (r.step_path !== null) e.stepPath = r.step_path
  if (r.expires_at !== null) e.expiresAt = timeOf(r.expires_at)
  const decoded = decodeEntry(e)
  if (Either.isLeft(decoded)) throw corrupt(r.key, "row", decoded.left)
  return decoded.right
}

/**
 * The columns of the memory table, in the order of `paramsOf`.
 *
 * @category constants
 * @since 0.2.0
 */
export const COLUMNS =
  "id, scope_kind, tenant, scope_id, key, value, agent, run_id, step_path, tags, created_at, expires_at"

/**
 * The tenant column of a scope: `''` without a tenant. A tenant is never `''` (the `Memory`
 * service refuses empty ids), so a raw call with one is refused rather than mixed with "none".
 *
 * @category utils
 * @since 0.2.0
 */
export const tenantOf = (scope: Scope): string => {
  if (scope.tenant === undefined) return ""
  if (scope.tenant === "") throw new TypeError("a scope's tenant, when present, is a non-empty string")
  return scope.tenant
}

/**
 * The parameters of `insert`, in `COLUMNS` order. `valueJson`: the value's JSON text (`valueJsonOf`).
 *
 * @category utils
 * @since 0.2.0
 */
export const paramsOf = (e: Entry, valueJson: string): Array<unknown> => [
  e.id,
  e.scope.kind,
  tenantOf(e.scope),
  e.scope.id,
  e.key,
  valueJson,
  e.agent ?? null,
  e.runId ?? null,
  e.stepPath ?? null,
  JSON.stringify(e.tags),
  e.createdAt,
  e.expiresAt ?? null
]

/**
 * The fixed statements of the store, with their parameters in comments.
 *
 * @category utils
 * @since 0.2.0
 */
export const statements = (dialect: Dialect, t: string) => {
  const q = (text: string) => placeholders(dialect, text)
  const inScope = "scope_kind = ? AND tenant = ? AND scope_id = ?"
  return {
    /** `paramsOf(entry)`: an upsert that gives a rewritten key a new `seq` (it becomes the newest). */
    insert: q(
      dialect === "sqlite"
        ? `INSERT OR REPLACE INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
        : `INSERT INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (scope_kind, tenant, scope_id, key) DO UPDATE SET
           seq = EXCLUDED.seq, id = EXCLUDED.id, value = EXCLUDED.value, agent = EXCLUDED.agent,
           run_id = EXCLUDED.run_id, step_path = EXCLUDED.step_path, tags = EXCLUDED.tags,
           created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`
    ),
    /** `(kind, tenant, id, now)` */
    dropExpired: q(`DELETE FROM ${t} WHERE ${inScope} AND expires_at IS NOT NULL AND expires_at <= ?`),
    /** `(kind, tenant, id, kind, tenant, id, maxEntries)`: keeps the newest `maxEntries` of the scope. */
    evict: q(
      `DELETE FROM ${t} WHERE ${inScope} AND seq NOT IN (
       SELECT seq FROM ${t} WHERE ${inScope} ORDER BY seq DESC LIMIT ?)`
    ),
    /** `(kind, tenant, id, key, now)` */
    selectOne: q(`SELECT ${COLUMNS} FROM ${t} WHERE ${inScope} AND key = ? AND (expires_at IS NULL OR expires_at > ?)`),
    /** `(kind, tenant, id, key)`; without `RETURNING`. */
    deleteOne: q(`DELETE FROM ${t} WHERE ${inScope} AND key = ?`),
    /** `(kind, tenant, id)`; without `RETURNING`. */
    clearScope: q(`DELETE FROM ${t} WHERE ${inScope}`),
    /** `(kind, tenant, id)`: forgets the applied idempotency keys of a scope. */
    clearKeys: q(`DELETE FROM ${t}_idempotency WHERE ${inScope}`),
    /** `(kind, tenant, id, now)`: drops a scope's lapsed idempotency keys. */
    dropLapsedKeys: q(`DELETE FROM ${t}_idempotency WHERE ${inScope} AND expires_at <= ?`),
    /** `(kind, tenant, id, key, record, expires_at)`: 1 row when the key was free, 0 when applied already. */
    claimKey: q(
      `INSERT INTO ${t}_idempotency (scope_kind, tenant, scope_id, idempotency_key, record, expires_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
    ),
    /** `(kind, tenant, id, key)` */
    selectKey: q(`SELECT record FROM ${t}_idempotency WHERE ${inScope} AND idempotency_key = ?`)
  }
}

/**
 * A `query` as SQL: the text, its parameters, and how to finish the rows in code (`finishQuery`).
 *
 * @category models
 * @since 0.2.0
 */
export interface QueryPlan {
  readonly text: string
  readonly params: ReadonlyArray<unknown>
  /** Tags or text are matched in code. */
  readonly inCode: boolean
  /** The limit runs in SQL (newest first; `finishQuery` reverses). */
  readonly pushLimit: boolean
}

const wholeMillis = (t: number): number =>
  Math.min(Number.MAX_SAFE_INTEGER, Math.max(-Number.MAX_SAFE_INTEGER, Math.ceil(t)))

/**
 * The SQL of a `query` of one scope: filters the database can apply in the `WHERE` clause,
 * the rest (tags, text) left to `finishQuery`.
 *
 * @category utils
 * @since 0.2.0
 */
export const queryPlan = (dialect: Dialect, t: string, scope: Scope, filter: Filter, now: number): QueryPlan => {
  const where = ["scope_kind = ?", "tenant = ?", "scope_id = ?", "(expires_at IS NULL OR expires_at > ?)"]
  const params: Array<unknown> = [scope.kind, tenantOf(scope), scope.id, now]
  if (filter.agent !== undefined) {
    where.push("agent = ?")
    params.push(filter.agent)
  }
  // Times are whole milliseconds in an integer column: any finite bound compares as its ceiling
  // (created_at >= 1.5 exactly when created_at >= 2), kept within the safe integers.
  if (filter.from !== undefined) {
    where.push("created_at >= ?")
    params.push(wholeMillis(filter.from))
  }
  if (filter.to !== undefined) {
    where.push("created_at < ?")
    params.push(wholeMillis(filter.to))
  }
  // Tags and text are matched in code (exactly as the in-memory store does); without them the
  // limit is pushed down to the database.
  const inCode = (filter.tags !== undefined && filter.tags.length > 0) ||
    (filter.text !== undefined && filter.text !== "")
  const pushLimit = !inCode && filter.limit !== undefined
  let text = `SELECT ${COLUMNS} FROM ${t} WHERE ${where.join(" AND ")} ORDER BY seq ${pushLimit ? "DESC" : "ASC"}`
  if (pushLimit) {
    text += " LIMIT ?"
    params.push(Math.max(0, filter.limit!))
  }
  return { text: placeholders(dialect, text), params, inCode, pushLimit }
}

/**
 * The entries of a query's rows, oldest first, with tags, text and limit applied in code when the plan says so.
 *
 * @category utils
 * @since 0.2.0
 */
export const finishQuery = (rows: ReadonlyArray<unknown>, plan: QueryPlan, filter: Filter): ReadonlyArray<Entry> => {
  if (plan.pushLimit) return rows.map(toEntry).reverse()
  const entries = rows.map(toEntry)
  return applyLimit(plan.inCode ? entries.filter((e) => matches(e, filter)) : entries, filter.limit)
}

/**
 * The message of a thrown value.
 *
 * @category utils
 * @since 0.2.0
 */
export const errorMessage = (e: unknown): string => e instanceof Error ? e.message : String(e)

/**
 * The `MemoryStoreError` of a failed SQL call: itself when it already is one, reason "Corrupt"
 * for a row that does not decode. `redact` hides secrets (connection URLs) in the message.
 *
 * @category utils
 * @since 0.2.0
 */
export const storeError = (
  store: string,
  operation: string,
  e: unknown,
  redact: (message: string) => string = (m) => m
): MemoryStoreError =>
  e instanceof MemoryStoreError
    ? e
    : new MemoryStoreError({
      store,
      operation,
      message: redact(errorMessage(e)),
      ...(e instanceof CorruptEntry ? { reason: "Corrupt" as const } : {})
    })

/**
 * The failure of a store call that did not answer within its bound.
 *
 * @category utils
 * @since 0.2.0
 */
export const timedOut = (store: string, operation: string) => (millis: number): MemoryStoreError =>
  new MemoryStoreError({ store, operation, reason: "Timeout", message: `no answer within ${millis} ms` })

/**
 * A write with an idempotency key, in the caller's transaction `tx`: drops the scope's lapsed
 * keys, claims the key (`ON CONFLICT DO NOTHING`); when the claim wins runs `write` (the insert,
 * and the eviction when there is a max) and returns nothing, else returns the first write's
 * entry (a record that does not decode throws `CorruptEntry`, in the effect's defects: map it
 * with `storeError`).
 *
 * @category utils
 * @since 0.3.0
 */
export const putOnce = <E>(
  tx: Sql.Driver,
  dialect: Dialect,
  t: string,
  entry: Entry,
  valueJson: string,
  idempotencyKey: string,
  now: number,
  write: Effect.Effect<unknown, E>
): Effect.Effect<Entry | void, E | Sql.SqlFailure | CorruptEntry> => {
  const text = statements(dialect, t)
  const scope = [entry.scope.kind, tenantOf(entry.scope), entry.scope.id] as const
  const record = encodeRecord(entry, valueJson)
  return Effect.gen(function*() {
    yield* tx.execute(text.dropLapsedKeys, [...scope, now])
    const claimed = yield* tx.execute(text.claimKey, [...scope, idempotencyKey, record, now + idempotencyWindowMillis])
    if (claimed > 0) {
      yield* write
      return
    }
    const rows = yield* tx.query(text.selectKey, [...scope, idempotencyKey])
    const first = decodeRecord(rows[0]?.record)
    if (Either.isLeft(first)) {
      return yield* Effect.fail(
        new CorruptEntry(
          `the record of idempotency key ${JSON.stringify(idempotencyKey)} does not decode: ${first.left}`
        )
      )
    }
    return first.right
  })
}
