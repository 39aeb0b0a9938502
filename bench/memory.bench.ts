/**
 * Memory store throughput (issue 5): `Memory.store` and `Memory.retrieve` through the Braid
 * service (scope resolution from the WorkflowContext, provenance, TTL bookkeeping, the store)
 * next to the same write and read done with the raw client, in the same process, measured
 * alternately (see harness.interleaved).
 *
 * Raw baselines: a Map (JSON-encoded values), better-sqlite3 on the same file with the same
 * upsert and select, `pg` with the same upsert and select, ioredis HSET / HGET.
 * Each sample runs a batch of operations inside one Effect program (Braid) or one async loop
 * (raw), so what is measured is the operation, not Effect.runPromise's start-up.
 */
import { WorkflowContext } from "@braid/core"
import { Memory, MemoryStore } from "@braid/memory"
import { PostgresMemoryStore } from "@braid/postgres"
import { RedisMemoryStore } from "@braid/redis"
import { SqliteMemoryStore } from "@braid/sqlite"
import { DATABASE_URL, REDIS_URL } from "@braid/testing/urls"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { Redis } from "ioredis"
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { interleaved, printTable, rate, type Row } from "./harness.js"

const require = createRequire(import.meta.url)
// The same defaults as @braid/testing (which imports vitest, so it is not imported here).

interface SqliteStatement {
  run(...params: ReadonlyArray<unknown>): unknown
  get(...params: ReadonlyArray<unknown>): unknown
}
interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  close(): void
}
interface PgPool {
  query(sql: string, params?: ReadonlyArray<unknown>): Promise<{ rows: ReadonlyArray<unknown> }>
  end(): Promise<void>
}

const value = { title: "run 5k", minutes: 35, tags: ["fitness", "morning"] }
const COLUMNS = "id, scope_kind, tenant, scope_id, key, value, agent, run_id, step_path, tags, created_at, expires_at"
/**
 * The raw clients' scope and run ids: other ids than the Braid side's (another scope), of the
 * same lengths (a session id `bench-<uuid>`, a run id `<uuid>`), so both sides write rows and
 * index entries of the same size.
 */
const RAW_SCOPE = `rawbn-${crypto.randomUUID()}`
const RAW_RUN = crypto.randomUUID()
/** The row the raw clients write: the same columns the store writes. */
const rawParams = (key: string) =>
  [
    crypto.randomUUID(),
    "session",
    "",
    RAW_SCOPE,
    key,
    JSON.stringify(value),
    null,
    RAW_RUN,
    null,
    "[]",
    Date.now(),
    null
  ] as const

interface Side {
  readonly store: () => Promise<unknown>
  readonly retrieve: () => Promise<unknown>
}

const compare = async (
  name: string,
  braid: Side,
  raw: Side,
  size: number,
  rows: Array<Row>,
  note?: string,
  target: number | null = 1.3
) => {
  const extra = { ...(target !== null ? { maxRatio: target } : {}), ...(note !== undefined ? { note } : {}) }
  const [bs, rs] = await interleaved(rate(braid.store, size, { warmups: 3 }), rate(raw.store, size, { warmups: 3 }), 5)
  rows.push({ name: `${name} store`, braid: bs, baseline: rs, unit: "ops/s", ...extra })
  // Both sides have written every key by now; retrieves read them back.
  const [br, rr] = await interleaved(
    rate(braid.retrieve, size, { warmups: 3 }),
    rate(raw.retrieve, size, { warmups: 3 }),
    5
  )
  rows.push({ name: `${name} retrieve`, braid: br, baseline: rr, unit: "ops/s", ...extra })
}

/** The Braid side: `size` stores or retrieves in one program, keys cycling over 100. */
const braidSide = async (store: Layer.Layer<MemoryStore.MemoryStore, unknown>, size: number) => {
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(
      Memory.layer().pipe(Layer.provide(store)),
      WorkflowContext.layer({ sessionId: `bench-${crypto.randomUUID()}` })
    )
  )
  const memory = await runtime.runPromise(Memory.Memory)
  let i = 0
  const side: Side = {
    store: () =>
      runtime.runPromise(Effect.gen(function*() {
        for (let n = 0; n < size; n++) yield* memory.store(`k${i++ % 100}`, value)
      })),
    retrieve: () =>
      runtime.runPromise(Effect.gen(function*() {
        for (let n = 0; n < size; n++) {
          const e = yield* memory.retrieve(`k${i++ % 100}`)
          if (e._tag === "None") throw new Error("missing entry")
        }
      }))
  }
  return { side, runtime, dispose: () => runtime.dispose() }
}

const reachable = async (f: () => Promise<unknown>) => {
  try {
    await f()
    return true
  } catch {
    return false
  }
}

export default async function(): Promise<void> {
  const rows: Array<Row> = []
  const notes: Array<string> = []

  // ---- in-memory ------------------------------------------------------------------------------
  // The in-memory store has no client: its raw counterpart is a Map holding the same rows the
  // other raw baselines write (a fresh id, the value's JSON text, the run, the time), read back
  // with JSON.parse (a copy, as every Braid store returns). Every Braid operation is an Effect,
  // and one Effect step (a `yield*` in Effect.gen) costs about as much as such a Map write, so
  // the target is checked against the same Map operations each run as one Effect step (the
  // least an Effect API over a Map can cost); the bare Map is reported next to it, for reference.
  {
    const size = 200
    const braid = await braidSide(MemoryStore.layerInMemory, size)
    const map = new Map<string, { readonly value: string }>()
    const write = (key: string) => {
      const [id, kind, tenant, scope, , json, agent, runId, stepPath, tags, createdAt, expiresAt] = rawParams(key)
      map.set(
        key,
        { id, kind, tenant, scope, key, value: json, agent, runId, stepPath, tags, createdAt, expiresAt } as {
          readonly value: string
        }
      )
    }
    const read = (key: string) => {
      const row = map.get(key)
      if (row === undefined) throw new Error("missing")
      return JSON.parse(row.value) as unknown
    }
    let i = 0
    const inEffect: Side = {
      // on the Braid side's runtime, so both sides run their Effects alike
      store: () =>
        braid.runtime.runPromise(Effect.gen(function*() {
          for (let n = 0; n < size; n++) {
            const key = `k${i++ % 100}`
            yield* Effect.sync(() => write(key))
          }
        })),
      retrieve: () =>
        braid.runtime.runPromise(Effect.gen(function*() {
          for (let n = 0; n < size; n++) {
            const key = `k${i++ % 100}`
            yield* Effect.sync(() => read(key))
          }
        }))
    }
    const bare: Side = {
      store: async () => {
        for (let n = 0; n < size; n++) write(`k${i++ % 100}`)
      },
      retrieve: async () => {
        for (let n = 0; n < size; n++) read(`k${i++ % 100}`)
      }
    }
    await compare(
      "in-memory",
      braid.side,
      inEffect,
      size,
      rows,
      "(raw: a Map of the same rows, one Effect step per op)"
    )
    await compare(
      "in-memory, vs a bare Map",
      braid.side,
      bare,
      size,
      rows,
      "(for reference: no Effect on the raw side)",
      null
    )
    await braid.dispose()
  }

  // ---- SQLite ---------------------------------------------------------------------------------
  {
    const size = 100
    const dir = mkdtempSync(join(tmpdir(), "braid-bench-"))
    const filename = join(dir, "bench.db")
    const braid = await braidSide(SqliteMemoryStore.layer({ filename, table: "braid_memory_bench" }), size)
    const Database = require("better-sqlite3") as new(file: string) => SqliteDatabase
    const db = new Database(filename)
    // The raw client runs the store's own statements on the store's own table (another scope).
    const t = "braid_memory_bench"
    const put = db.prepare(`INSERT OR REPLACE INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const get = db.prepare(
      `SELECT ${COLUMNS} FROM ${t} WHERE scope_kind = ? AND tenant = ? AND scope_id = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`
    )
    let i = 0
    const raw: Side = {
      store: async () => {
        for (let n = 0; n < size; n++) put.run(...rawParams(`k${i++ % 100}`))
      },
      retrieve: async () => {
        for (let n = 0; n < size; n++) {
          const row = get.get("session", "", RAW_SCOPE, `k${i++ % 100}`, Date.now()) as { value: string } | undefined
          if (row === undefined) throw new Error("missing")
          JSON.parse(row.value)
        }
      }
    }
    await compare(
      "sqlite (file)",
      braid.side,
      raw,
      size,
      rows,
      "(better-sqlite3 directly, statements prepared once per store)"
    )
    await braid.dispose()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }

  // ---- PostgreSQL -----------------------------------------------------------------------------
  {
    const size = 20
    const pg = require("pg") as { Pool: new(o: { connectionString: string; max: number }) => PgPool }
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 })
    if (await reachable(() => pool.query("SELECT 1"))) {
      const table = `braid_memory_bench_${process.pid}`
      const t = table
      const braid = await braidSide(PostgresMemoryStore.layer({ url: Redacted.make(DATABASE_URL), table }), size)
      let i = 0
      const raw: Side = {
        store: async () => {
          for (let n = 0; n < size; n++) {
            await pool.query(
              `INSERT INTO ${t} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT (scope_kind, tenant, scope_id, key) DO UPDATE SET
                 seq = EXCLUDED.seq, id = EXCLUDED.id, value = EXCLUDED.value, agent = EXCLUDED.agent,
                 run_id = EXCLUDED.run_id, step_path = EXCLUDED.step_path, tags = EXCLUDED.tags,
                 created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
              rawParams(`k${i++ % 100}`)
            )
          }
        },
        retrieve: async () => {
          for (let n = 0; n < size; n++) {
            const r = await pool.query(
              `SELECT ${COLUMNS} FROM ${t} WHERE scope_kind = $1 AND tenant = $2 AND scope_id = $3 AND key = $4 AND (expires_at IS NULL OR expires_at > $5)`,
              ["session", "", RAW_SCOPE, `k${i++ % 100}`, Date.now()]
            )
            if (r.rows.length === 0) throw new Error("missing")
            JSON.parse((r.rows[0] as { value: string }).value)
          }
        }
      }
      await compare("postgres", braid.side, raw, size, rows)
      await braid.dispose()
      await pool.query(`DROP TABLE IF EXISTS ${table}`)
      await pool.query(`DROP TABLE IF EXISTS ${table}_migrations`)
    } else notes.push(`PostgreSQL not reachable at ${new URL(DATABASE_URL).host}: skipped`)
    await pool.end()
  }

  // ---- Redis ----------------------------------------------------------------------------------
  {
    const size = 20
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
    if (await reachable(() => client.connect())) {
      const prefix = `braid:memory:bench-${process.pid}:`
      const braid = await braidSide(RedisMemoryStore.layer({ url: Redacted.make(REDIS_URL), prefix }), size)
      // The raw client runs the store's own Lua write (INCR + HSET + ZADD + ZREM, atomically) and
      // the same HGET, on keys of another scope.
      const rawStore = RedisMemoryStore.make(client, { prefix })
      void rawStore // defines the scripts on the client
      const k = (s: string) => `${prefix}{${MemoryStore.scopeKey({ kind: "session", id: RAW_SCOPE })}}:${s}`
      const scripted = client as unknown as {
        braidMemoryPut(...args: ReadonlyArray<string>): Promise<number>
      }
      let i = 0
      const raw: Side = {
        store: async () => {
          for (let n = 0; n < size; n++) {
            const key = `k${i++ % 100}`
            const entry = {
              id: crypto.randomUUID(),
              scope: { kind: "session", id: RAW_SCOPE },
              key,
              runId: RAW_RUN,
              tags: [],
              createdAt: Date.now()
            }
            await scripted.braidMemoryPut(
              k("e"),
              k("o"),
              k("x"),
              k("n"),
              key,
              `${JSON.stringify(entry)}\n${JSON.stringify(value)}`,
              "",
              String(Date.now()),
              ""
            )
          }
        },
        retrieve: async () => {
          for (let n = 0; n < size; n++) {
            const v = await client.hget(k("e"), `k${i++ % 100}`)
            if (v === null) throw new Error("missing")
            const nl = v.indexOf("\n")
            const nl2 = v.indexOf("\n", nl + 1)
            JSON.parse(v.slice(nl + 1, nl2))
            JSON.parse(v.slice(nl2 + 1))
          }
        }
      }
      await compare("redis", braid.side, raw, size, rows)
      await braid.dispose()
      const keys = await client.keys(`${prefix}*`)
      if (keys.length > 0) await client.del(...keys)
      await client.quit()
    } else {
      notes.push(`Redis not reachable at ${new URL(REDIS_URL).host}: skipped`)
      client.disconnect()
    }
  }

  printTable("Memory store throughput (Memory service vs raw client)", rows)
  for (const n of notes) console.log(`- ${n}`)
}
