/**
 * Messaging throughput (`npm run bench -- messaging`), on SQLite (a file) and PostgreSQL (a
 * schema of its own, dropped after), each against the bare driver doing the same writes:
 *
 * - "one-way": `send` to a registered agent (the registry check is part of the insert) versus one
 *   bare INSERT of the same row through the driver;
 * - "request/reply": `request` answered by a `serve` handler in the same process (insert, wake-up,
 *   read, reply, read, two marks as read) versus the bare statements of one exchange (insert the
 *   request, select it, insert the reply, select it, two updates);
 * - "100 concurrent conversations, pool of 10" (PostgreSQL): 100 pairs of agents each start a
 *   conversation (both agents locked), exchange 4 messages and end it (closing message, locks
 *   released), all at once on a pool of 10 connections, versus the same 500 messages sent one-way
 *   by 100 concurrent senders on the same pool: the cost of conversations and their locks.
 */
import { Sql } from "@braid/core"
import { Messaging } from "@braid/messaging"
import { PostgresDriver, PostgresMessaging } from "@braid/postgres"
import { SqliteDriver, SqliteMessaging } from "@braid/sqlite"
import { DATABASE_URL } from "@braid/testing/urls"
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { interleaved, printTable, rate, type Row } from "./harness.js"

const body = { draft: "v1", notes: "x".repeat(200), words: 1200 }

let ids = 0
const nextId = () => `b-${process.pid}-${ids++}`

interface Backend {
  readonly name: string
  readonly messaging: Layer.Layer<Messaging.Messaging, unknown>
  readonly driver: Layer.Layer<Sql.SqlDriver, unknown>
}

const measure = async (backend: Backend, rows: Array<Row>, size: number) => {
  const runtime = ManagedRuntime.make(Layer.merge(backend.messaging, backend.driver))
  const m = await runtime.runPromise(Messaging.Messaging)
  const driver = await runtime.runPromise(Sql.SqlDriver)
  await runtime.runPromise(Effect.forEach(["sink", "echo"], (name) => m.registry.register({ name })))
  await runtime.runPromise(driver.execute(`CREATE TABLE IF NOT EXISTS bench_raw (
    id TEXT PRIMARY KEY, organization TEXT, recipient TEXT, sender TEXT, kind TEXT, correlation_id TEXT,
    body TEXT, sent_at BIGINT, read_at BIGINT)`))
  // the echo agent answers every request
  const echo = await runtime.runPromise(
    Effect.forkDaemon(Effect.scoped(Effect.zipRight(m.serve("echo", (msg) => Effect.succeed(msg.body)), Effect.never)))
  )
  const insert =
    "INSERT INTO bench_raw (id, organization, recipient, sender, kind, body, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
  const rawInsert = (kind: string) =>
    Effect.suspend(() =>
      driver.execute(insert, [nextId(), "default", "sink", "bench", kind, JSON.stringify(body), Date.now()])
    )

  const [sendRate, rawSendRate] = await interleaved(
    rate(() => runtime.runPromise(Effect.repeatN(m.send("bench", "sink", body), size - 1)), size, { millis: 700 }),
    rate(() => runtime.runPromise(Effect.repeatN(rawInsert("message"), size - 1)), size, { millis: 700 })
  )
  rows.push({ name: `${backend.name}: one-way send`, braid: sendRate, baseline: rawSendRate, unit: "ops/s" })

  const exchange = Effect.gen(function*() {
    const id = nextId()
    yield* driver.execute(insert, [id, "default", "echo", "bench", "request", JSON.stringify(body), Date.now()])
    yield* driver.query("SELECT * FROM bench_raw WHERE id = ?", [id])
    const reply = nextId()
    yield* driver.execute(insert, [reply, "default", "bench", "echo", "reply", JSON.stringify(body), Date.now()])
    yield* driver.query("SELECT * FROM bench_raw WHERE id = ?", [reply])
    yield* driver.execute("UPDATE bench_raw SET read_at = ? WHERE id IN (?, ?)", [Date.now(), id, reply])
  })
  const [requestRate, rawRequestRate] = await interleaved(
    rate(
      () => runtime.runPromise(Effect.repeatN(m.request("bench", "echo", body, { timeout: "10 seconds" }), size - 1)),
      size,
      { millis: 700 }
    ),
    rate(() => runtime.runPromise(Effect.repeatN(exchange, size - 1)), size, { millis: 700 })
  )
  rows.push({
    name: `${backend.name}: request/reply`,
    braid: requestRate,
    baseline: rawRequestRate,
    unit: "ops/s",
    note: "baseline: the bare statements, no waiting"
  })
  await runtime.runPromise(echo.interruptAsFork(echo.id()))
  await runtime.dispose()
}

/** 100 conversations at once on a pool of 10, against the same messages one-way. */
const conversations = async (url: string, rows: Array<Row>) => {
  const runtime = ManagedRuntime.make(
    Messaging.layerSql({ pollInterval: "50 millis" }).pipe(Layer.provide(PostgresDriver.layer({ url, max: 10 })))
  )
  const m = await runtime.runPromise(Messaging.Messaging)
  const pairs = Array.from({ length: 100 }, (_, i) => [`left-${i}`, `right-${i}`] as const)
  await runtime.runPromise(
    Effect.forEach(pairs.flat(), (name) => m.registry.register({ name }), { concurrency: 10, discard: true })
  )
  const talk = Effect.forEach(
    pairs,
    ([a, b]) =>
      Effect.scoped(Effect.gen(function*() {
        const c = yield* m.startConversation({ from: a, to: b, topic: "bench", lock: { wait: "30 seconds" } })
        for (let i = 0; i < 4; i++) yield* c.say(i % 2 === 0 ? a : b, body)
        yield* c.end(a, body)
      })),
    { concurrency: "unbounded", discard: true }
  )
  const oneWay = Effect.forEach(
    pairs,
    ([a, b]) => Effect.repeatN(m.send(a, b, body), 4),
    { concurrency: "unbounded", discard: true }
  )
  const [conversationRate, oneWayRate] = await interleaved(
    rate(() => runtime.runPromise(talk), 100, { millis: 1500, warmups: 1 }),
    rate(() => runtime.runPromise(oneWay), 100, { millis: 1500, warmups: 1 }),
    3
  )
  rows.push({
    name: "postgres: 100 concurrent conversations (5 messages each), pool of 10",
    braid: conversationRate,
    baseline: oneWayRate,
    unit: "ops/s",
    note: "conversations/s; baseline: the same 5 messages per pair one-way, per s"
  })
  await runtime.dispose()
}

export default async function main(): Promise<void> {
  const rows: Array<Row> = []
  const notes: Array<string> = []

  const dir = mkdtempSync(join(tmpdir(), "braid-bench-msg-"))
  const filename = join(dir, "messaging.db")
  await measure(
    { name: "sqlite", messaging: SqliteMessaging.layer({ filename }), driver: SqliteDriver.layer({ filename }) },
    rows,
    50
  )
  rmSync(dir, { recursive: true, force: true })

  const schema = `braid_bench_msg_${process.pid}`
  const admin = ManagedRuntime.make(PostgresDriver.layer({ url: DATABASE_URL, timeout: "2 seconds", max: 1 }))
  const up = await admin.runPromise(
    Effect.flatMap(Sql.SqlDriver, (d) => d.execute(`CREATE SCHEMA IF NOT EXISTS ${schema}`)).pipe(Effect.either)
  )
  if (up._tag === "Right") {
    const u = new URL(DATABASE_URL)
    u.searchParams.set("options", `-c search_path=${schema}`)
    const url = u.toString()
    try {
      await measure(
        {
          name: "postgres",
          messaging: PostgresMessaging.layer({ url, pollInterval: "50 millis" }),
          driver: PostgresDriver.layer({ url })
        },
        rows,
        10
      )
      await conversations(url, rows)
    } finally {
      await admin.runPromise(Effect.flatMap(Sql.SqlDriver, (d) => d.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)))
    }
  } else notes.push(`PostgreSQL not reachable at ${new URL(DATABASE_URL).host}: skipped`)
  await admin.dispose()

  printTable("Messaging (ops/s; ratio > 1: Braid does fewer per second than the bare driver)", rows)
  for (const note of notes) console.log(`\n${note}`)
}
