/**
 * The session store (issue 14): what a conversation turn costs through `SessionStore` next to the
 * same statements run with the raw driver, and how fast a page of sessions is listed among
 * 100,000, on SQLite (a file) and PostgreSQL (a schema of its own).
 *
 * - "turn": append the learner's message and the AI's reply (`appendMessage` twice: each is one
 *   transaction that adds to the session's totals and numbers the message). The raw side runs the
 *   same transaction with better-sqlite3 (statements prepared once) or `pg` (one pooled
 *   connection per transaction): `UPDATE braid_sessions ... RETURNING` then `INSERT` of the
 *   message. Target: the store costs at most 1.3x the raw driver. Both sides append to sessions
 *   of their own in the same tables, measured alternately (harness.interleaved).
 * - "list": 100,000 sessions of one organization (10 learners with 10,000 each, seeded with
 *   multi-row inserts), then `listSessions` pages of 20: an admin's newest page, an admin's page
 *   deep in the list (by cursor), a learner's newest page, a learner's completed sessions. p50 and
 *   p95 over 200 calls each; target p95 under 5 ms. The baseline is the raw driver running the
 *   same SELECT (no decoding).
 */
import { PostgresDriver } from "@braid/postgres"
import { SqliteDriver } from "@braid/sqlite"
import { DATABASE_URL } from "@braid/testing/urls"
import { SessionStore } from "@braid/workflows"
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { interleaved, median, printTable, rate, type Row } from "./harness.js"

const require = createRequire(import.meta.url)

interface SqliteStatement {
  run(...params: ReadonlyArray<unknown>): unknown
  get(...params: ReadonlyArray<unknown>): unknown
  all(...params: ReadonlyArray<unknown>): ReadonlyArray<unknown>
}
interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  transaction<A>(fn: () => A): { immediate: () => A }
  pragma(sql: string): unknown
  close(): void
}
interface PgClient {
  query(sql: string, params?: ReadonlyArray<unknown>): Promise<{ rows: ReadonlyArray<Record<string, unknown>> }>
  release(): void
}
interface PgPool {
  connect(): Promise<PgClient>
  query(sql: string, params?: ReadonlyArray<unknown>): Promise<{ rows: ReadonlyArray<Record<string, unknown>> }>
  end(): Promise<void>
}

const TENANT = "bench"
const USERS = 10
const SESSIONS = 100_000
const admin: SessionStore.Principal = { userId: "root", role: "admin", tenant: TENANT }
const learner: SessionStore.Principal = { userId: "u3", role: "learner", tenant: TENANT }

const userMessage = (at: number): SessionStore.NewMessage => ({
  role: "user",
  text: "I think the main problem is that the team does not trust the new process yet.",
  createdAt: at,
  turnId: `turn-${at}`,
  inputTokens: 18,
  outputTokens: 0,
  costUsd: 0,
  estimated: true,
  fallback: false
})
const aiMessage = (at: number): SessionStore.NewMessage => ({
  role: "assistant",
  text: "What would it look like if they did trust it? What would be different on a Monday morning?",
  createdAt: at,
  turnId: `turn-${at}`,
  inputTokens: 412,
  outputTokens: 26,
  costUsd: 0.00162,
  estimated: false,
  model: "claude-sonnet-4-5",
  fallback: false
})

const UPDATE = `UPDATE braid_sessions SET messages = messages + 1, input_tokens = input_tokens + ?,
  output_tokens = output_tokens + ?, cost_usd = cost_usd + ?, fallbacks = fallbacks + ?
  WHERE id = ? RETURNING messages, tenant`
const INSERT = `INSERT INTO braid_session_messages (session_id, seq, role, text, created_at, turn_id, input_tokens,
  output_tokens, cost_usd, estimated, model, fallback, fallback_cause, tenant)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
const LIST = `SELECT id, tenant, user_id, kind, scenario_id, title, status, end_reason, end_message, created_at,
  started_at, ended_at, duration_ms, messages, input_tokens, output_tokens, cost_usd, fallbacks,
  previous_session_id, model, metadata FROM braid_sessions WHERE tenant = ? ORDER BY created_at DESC, id DESC LIMIT ?`

const numbered = (text: string) => {
  let i = 0
  return text.replace(/\?/g, () => `$${++i}`)
}

const messageParams = (sessionId: string, seq: number, m: SessionStore.NewMessage, tenant: string) => [
  sessionId,
  seq,
  m.role,
  m.text,
  m.createdAt,
  m.turnId ?? null,
  m.inputTokens,
  m.outputTokens,
  m.costUsd,
  m.estimated ? 1 : 0,
  m.model ?? null,
  m.fallback ? 1 : 0,
  m.fallbackCause ?? null,
  tenant
]

const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

/** The wall time in ms of each of `runs` calls (after 20 warm-up calls). */
const latencies = async (call: () => Promise<unknown>, runs = 200): Promise<ReadonlyArray<number>> => {
  for (let i = 0; i < 20; i++) await call()
  const out: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await call()
    out.push(performance.now() - start)
  }
  return out
}

type Store = ManagedRuntime.ManagedRuntime<SessionStore.SessionStore, unknown>

/** The store's side of a turn: `size` turns on the store's session. */
const storeTurns = (runtime: Store, sessionId: string, size: number) => {
  let at = 1_000_000
  return () =>
    runtime.runPromise(Effect.flatMap(SessionStore.SessionStore, (store) =>
      Effect.gen(function*() {
        for (let n = 0; n < size; n++) {
          at++
          yield* store.appendMessage(sessionId, userMessage(at))
          yield* store.appendMessage(sessionId, aiMessage(at))
        }
      })))
}

/** 100,000 sessions of `TENANT` in rows of `batch` (multi-row INSERTs), with `insert(text, params)`. */
const seedRows = (batch: number) => {
  const statements: Array<{ text: string; params: Array<unknown> }> = []
  for (let start = 0; start < SESSIONS; start += batch) {
    const values: Array<string> = []
    const params: Array<unknown> = []
    for (let i = start; i < Math.min(SESSIONS, start + batch); i++) {
      const completed = i % 3 !== 0
      values.push("(?, ?, ?, 'practice', 'sc', NULL, ?, ?, NULL, ?, ?, ?, ?, 12, 800, 300, 0.02, 0, NULL, NULL, '{}')")
      params.push(
        `seed-${String(i).padStart(6, "0")}`,
        TENANT,
        `u${i % USERS}`,
        completed ? "completed" : "active",
        completed ? "user" : null,
        1_000 + Math.floor(i / 2), // pairs share a createdAt: the id breaks the tie
        1_000 + Math.floor(i / 2),
        completed ? 5_000 + i : null,
        completed ? 4_000 : null
      )
    }
    statements.push({
      text: `INSERT INTO braid_sessions (id, tenant, user_id, kind, scenario_id, title, status, end_reason, end_message,
        created_at, started_at, ended_at, duration_ms, messages, input_tokens, output_tokens, cost_usd, fallbacks,
        previous_session_id, model, metadata) VALUES ${values.join(", ")}`,
      params
    })
  }
  return statements
}

/** The listing figures of a store over the seeded sessions; `raw` runs the same SELECT without the store. */
const listRows = async (
  backend: string,
  runtime: Store,
  raw: () => Promise<unknown>,
  rows: Array<Row>
) => {
  const list = (p: SessionStore.Principal, q: SessionStore.SessionQuery) => () =>
    runtime.runPromise(Effect.flatMap(SessionStore.SessionStore, (s) => s.listSessions(p, q)))
  // a cursor deep in the list: 2,500 pages of 20 down (page 2,501 of 5,000)
  const deep = await runtime.runPromise(
    Effect.flatMap(SessionStore.SessionStore, (s) => s.listSessions(admin, { limit: 100 }))
  )
  let cursor = deep.nextCursor!
  for (let i = 0; i < 499; i++) {
    const page = await runtime.runPromise(
      Effect.flatMap(SessionStore.SessionStore, (s) => s.listSessions(admin, { limit: 100, cursor }))
    )
    cursor = page.nextCursor!
  }
  const rawTimes = await latencies(raw)
  rows.push({
    name: `${backend} raw driver, the same SELECT of a page of 21, p50 / p95 (no decoding)`,
    braid: percentile(rawTimes, 0.95),
    baseline: percentile(rawTimes, 0.5),
    unit: "ms",
    note: "(braid column: its p95, baseline column: its p50; what the machine's load does to a p95)"
  })
  const cases: ReadonlyArray<[string, () => Promise<unknown>]> = [
    ["admin, newest page", list(admin, { limit: 20 })],
    ["admin, page 2,501 (cursor)", list(admin, { limit: 20, cursor })],
    ["learner (10,000 own), newest page", list(learner, { limit: 20 })],
    ["learner, completed only", list(learner, { limit: 20, status: "completed" })]
  ]
  for (const [name, call] of cases) {
    const times = await latencies(call)
    rows.push({
      name: `${backend} list 20 of 100,000: ${name}, p50`,
      braid: percentile(times, 0.5),
      baseline: percentile(rawTimes, 0.5),
      unit: "ms",
      note: "(baseline: the raw driver's SELECT of the admin's newest page)"
    })
    rows.push({
      name: `${backend} list 20 of 100,000: ${name}, p95`,
      braid: percentile(times, 0.95),
      baseline: 5,
      unit: "ms",
      maxRatio: 1,
      note: "(target: p95 under 5 ms)"
    })
  }
}

const turnRows = async (
  backend: string,
  braid: () => Promise<unknown>,
  raw: () => Promise<unknown>,
  size: number,
  rows: Array<Row>
) => {
  const braidCpu: Array<number> = []
  const rawCpu: Array<number> = []
  const [b, r] = await interleaved(rate(braid, size, braidCpu), rate(raw, size, rawCpu), 5)
  const note = "(two appendMessage transactions; baseline: the same statements with the raw driver)"
  rows.push({ name: `${backend} turn`, braid: b, baseline: r, unit: "ops/s", maxRatio: 1.3, note })
  rows.push({
    name: `${backend} turn, client CPU`,
    braid: median(braidCpu),
    baseline: median(rawCpu),
    unit: "µs/op",
    note
  })
}

const createSessions = (runtime: Store, ids: ReadonlyArray<string>) =>
  runtime.runPromise(
    Effect.flatMap(SessionStore.SessionStore, (s) =>
      Effect.forEach(ids, (id) =>
        s.createSession({ id, tenant: "turns", userId: "ada", kind: "practice", createdAt: 1 })))
  )

export default async function main(): Promise<void> {
  const rows: Array<Row> = []
  const notes: Array<string> = []

  // ---- SQLite (a file) --------------------------------------------------------------------------
  {
    const dir = mkdtempSync(join(tmpdir(), "braid-bench-sessions-"))
    const filename = join(dir, "sessions.db")
    const runtime: Store = ManagedRuntime.make(
      SessionStore.layerSql.pipe(Layer.provide(SqliteDriver.layer({ filename })))
    )
    await createSessions(runtime, ["braid-turns", "raw-turns"])
    const Database = require("better-sqlite3") as new(file: string) => SqliteDatabase
    const db = new Database(filename)
    db.pragma("journal_mode = WAL")
    const update = db.prepare(UPDATE)
    const insert = db.prepare(INSERT)
    const size = 50
    let at = 1_000_000
    // one transaction per message on both sides
    const appendOne = (m: SessionStore.NewMessage) =>
      db.transaction(() => {
        const r = update.get(m.inputTokens, m.outputTokens, m.costUsd, m.fallback ? 1 : 0, "raw-turns") as {
          messages: number
          tenant: string
        }
        insert.run(...messageParams("raw-turns", r.messages - 1, m, r.tenant))
      }).immediate()
    const raw = async () => {
      for (let n = 0; n < size; n++) {
        at++
        appendOne(userMessage(at))
        appendOne(aiMessage(at))
      }
    }
    await turnRows("sqlite (file)", storeTurns(runtime, "braid-turns", size), raw, size, rows)

    const seed = db.transaction(() => {
      for (const s of seedRows(500)) db.prepare(s.text).run(...s.params)
    })
    const seedStart = performance.now()
    seed.immediate()
    notes.push(
      `sqlite: 100,000 sessions seeded in ${
        (performance.now() - seedStart).toFixed(0)
      } ms (multi-row INSERTs, one transaction)`
    )
    db.pragma("optimize")
    const select = db.prepare(LIST)
    await listRows("sqlite", runtime, async () => select.all(TENANT, 21), rows)
    await runtime.dispose()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }

  // ---- PostgreSQL (a schema of its own) ---------------------------------------------------------
  {
    const pg = require("pg") as { Pool: new(o: { connectionString: string; max: number }) => PgPool }
    const schema = `braid_bench_sessions_${process.pid}`
    const url = new URL(DATABASE_URL)
    url.searchParams.set("options", `-c search_path=${schema}`)
    const setup = new pg.Pool({ connectionString: DATABASE_URL, max: 1 })
    const up = await setup.query("SELECT 1").then(() => true, () => false)
    if (up) {
      await setup.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      const pool = new pg.Pool({ connectionString: url.toString(), max: 4 })
      const runtime: Store = ManagedRuntime.make(
        SessionStore.layerSql.pipe(Layer.provide(PostgresDriver.layer({ url: url.toString(), max: 4 })))
      )
      try {
        await createSessions(runtime, ["braid-turns", "raw-turns"])
        const size = 10
        let at = 1_000_000
        const update = numbered(UPDATE)
        const insert = numbered(INSERT)
        const appendOne = async (m: SessionStore.NewMessage) => {
          const client = await pool.connect()
          try {
            await client.query("BEGIN")
            const r = await client.query(update, [
              m.inputTokens,
              m.outputTokens,
              m.costUsd,
              m.fallback ? 1 : 0,
              "raw-turns"
            ])
            const row = r.rows[0] as { messages: string; tenant: string }
            await client.query(insert, messageParams("raw-turns", Number(row.messages) - 1, m, row.tenant))
            await client.query("COMMIT")
          } finally {
            client.release()
          }
        }
        const raw = async () => {
          for (let n = 0; n < size; n++) {
            at++
            await appendOne(userMessage(at))
            await appendOne(aiMessage(at))
          }
        }
        await turnRows("postgres", storeTurns(runtime, "braid-turns", size), raw, size, rows)

        const seedStart = performance.now()
        const client = await pool.connect()
        try {
          await client.query("BEGIN")
          for (const s of seedRows(1000)) await client.query(numbered(s.text), s.params)
          await client.query("COMMIT")
          await client.query("ANALYZE braid_sessions")
        } finally {
          client.release()
        }
        notes.push(
          `postgres: 100,000 sessions seeded in ${
            (performance.now() - seedStart).toFixed(0)
          } ms (multi-row INSERTs, one transaction)`
        )
        const list = numbered(LIST)
        await listRows("postgres", runtime, () => pool.query(list, [TENANT, 21]), rows)
      } finally {
        await runtime.dispose()
        await pool.end()
        await setup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      }
    } else notes.push(`PostgreSQL not reachable at ${new URL(DATABASE_URL).host}: skipped`)
    await setup.end()
  }

  printTable("Session store: a turn (two appends) vs the raw driver; a page of 20 among 100,000 sessions", rows)
  for (const n of notes) console.log(`- ${n}`)
}
