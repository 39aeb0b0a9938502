/**
 * Durable runs (`@braid/durable`) on the embedded SQLite engine, and on PostgreSQL when it answers:
 *
 * - "journaled model call": a pipeline of 20 model calls (the scripted model, no latency) run as a
 *   durable workflow, per call, against the same pipeline run plainly (`Runner.run`): the cost of
 *   journaling one call (one engine activity: a message and its reply written to the database);
 * - "resume after N journal entries": a run that made N journaled steps and waits for a signal;
 *   the time from the signal to the run's end, which replays the whole journal, against N = 0;
 * - "sessions per second, two runners" (PostgreSQL): 200 sessions of five 20 ms journaled steps
 *   started on a cluster of two runner processes (`PostgresRunners`, bench/durable-runner.ts),
 *   against one runner. On a 2-core machine shared with the database the second runner has no
 *   core of its own: the figure says what this machine gives, not how a cluster scales.
 *
 * Figures in ms (lower is better); no target: this is what durability costs, reported.
 */
import { Primitive, Runner } from "@braid/core"
import { Durable, DurableModel } from "@braid/durable"
import * as PostgresEngine from "@braid/durable/PostgresEngine"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { Ai, ScriptedLanguageModel } from "@braid/llm"
import { DATABASE_URL } from "@braid/testing/urls"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Layer, ManagedRuntime, Redacted, Schedule, Schema } from "effect"
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { existsSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { printTable, type Row } from "./harness.js"

const calls = 20
const model = ScriptedLanguageModel.provider({ default: "ok" })

const chatty = Primitive.make("chatty", (topic: string) =>
  Effect.gen(function*() {
    let last = ""
    for (let i = 0; i < calls; i++) last = (yield* Ai.LanguageModel.generateText({ prompt: `${topic} ${i}` })).text
    return last
  }))

const Chatty = Durable.workflow("chatty", chatty, {
  input: Schema.String,
  output: Schema.String,
  error: Ai.AiError.AiError,
  key: (t) => t
})

const Reply = Schema.String
const long = Primitive.make("long", (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Durable.step("entry", Effect.succeed(i), Schema.Number, { request: i })
    return yield* Durable.awaitSignal("go", Reply)
  }))
const Long = Durable.workflow("long", long, {
  input: Schema.Number,
  output: Schema.String,
  key: (n) => `${n}-${crypto.randomUUID()}`
})

const time = async (f: () => Promise<unknown>): Promise<number> => {
  const start = performance.now()
  await f()
  return performance.now() - start
}
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const reachable = (url: string) =>
  new Promise<boolean>((resolve) => {
    const u = new URL(url)
    const s = connect({ host: u.hostname || "127.0.0.1", port: Number(u.port || 5432) })
    s.setTimeout(1000, () => (s.destroy(), resolve(false)))
    s.once("connect", () => (s.destroy(), resolve(true)))
    s.once("error", () => resolve(false))
  })

const measure = async (engineName: string, engine: Layer.Layer<any, any>): Promise<ReadonlyArray<Row>> => {
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(Chatty.layer, Long.layer).pipe(
      Layer.provideMerge(engine),
      Layer.provideMerge(DurableModel.layer(model))
    )
  )
  const plainLayer = Layer.effect(Ai.LanguageModel.LanguageModel, Effect.flatMap(model, Ai.fromProvider))
  const plain: Array<number> = []
  const durable: Array<number> = []
  for (let i = 0; i < 5; i++) {
    plain.push(await time(() => Runner.runPromise(chatty, `plain ${i}`, { layer: plainLayer })) / calls)
    durable.push(await time(() => runtime.runPromise(Chatty.run(`durable ${i}-${Math.random()}`))) / calls)
  }
  const resume = async (n: number) => {
    const samples: Array<number> = []
    for (let i = 0; i < 3; i++) {
      samples.push(
        await runtime.runPromise(Effect.gen(function*() {
          const id = yield* Long.start(n)
          yield* Long.status(id).pipe(
            Effect.filterOrFail((s) => s._tag === "Suspended" && s.waitingOn.includes("signal:go"), () => "wait"),
            Effect.retry(Schedule.spaced("5 millis"))
          )
          const start = performance.now()
          yield* Long.signal(id, "go", Reply, "now")
          yield* Long.status(id).pipe(
            Effect.filterOrFail((s) => s._tag === "Complete", () => "wait"),
            Effect.retry(Schedule.spaced("5 millis"))
          )
          return performance.now() - start
        }))
      )
    }
    return median(samples)
  }
  const rows: Array<Row> = [{
    name: `journaled model call (${engineName})`,
    braid: median(durable),
    baseline: median(plain),
    unit: "ms",
    note: "per call; baseline: the same call, not durable"
  }]
  const zero = await resume(0)
  for (const n of [10, 100, 300]) {
    rows.push({
      name: `resume after ${n} journal entries (${engineName})`,
      braid: await resume(n),
      baseline: zero,
      unit: "ms",
      note: "signal to completion; baseline: no entries"
    })
  }
  await runtime.dispose()
  return rows
}

const dropPrefix = (prefix: string) => {
  const tables = ["messages", "replies", "runners", "shards", "locks", "migrations", "runs"]
  return Effect.runPromise(
    Effect.flatMap(
      PgClient.PgClient,
      (sql) => sql.unsafe(`DROP TABLE IF EXISTS ${tables.map((t) => `${prefix}_${t}`).join(", ")} CASCADE`)
    ).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(DATABASE_URL), maxConnections: 1 }))
    )
  )
}

const runnerScript = join(dirname(fileURLToPath(import.meta.url)), "durable-runner.ts")
const spawnRunner = (args: ReadonlyArray<string>) =>
  new Promise<string>((resolve) =>
    execFile(process.execPath, [...process.execArgv, runnerScript, ...args], (_error, stdout) => resolve(stdout))
  )

/** Sessions per second completed by a cluster of `runners` runner processes. */
const throughput = async (runners: 1 | 2): Promise<number> => {
  const prefix = `braid_bench_tp_${Date.now()}`
  const dir = mkdtempSync(join(tmpdir(), "braid-durable-tp-"))
  const port = 37000 + Math.floor(Math.random() * 2000)
  let worker: Promise<string> | undefined
  if (runners === 2) {
    worker = spawnRunner(["worker", String(port + 1), prefix, "0", dir])
    while (!existsSync(join(dir, "worker.up"))) await new Promise((r) => setTimeout(r, 100))
  }
  const out = await spawnRunner(["driver", String(port), prefix, "200", dir])
  if (worker !== undefined) {
    process.kill(Number(readFileSync(join(dir, "worker.up"), "utf8")), "SIGKILL")
    await worker
  }
  await dropPrefix(prefix)
  rmSync(dir, { recursive: true, force: true })
  const rate = /RATE ([\d.]+)/.exec(out)
  if (rate === null) throw new Error(`the driver printed no rate: ${out}`)
  return Number(rate[1])
}

export default async () => {
  const dir = mkdtempSync(join(tmpdir(), "braid-durable-bench-"))
  const rows = [
    ...(await measure("SQLite", SqliteEngine.layer({ filename: join(dir, "bench.db"), pollInterval: "100 millis" })))
  ]
  if (await reachable(DATABASE_URL)) {
    const prefix = `braid_bench_${Date.now()}`
    rows.push(
      ...(await measure("PostgreSQL", PostgresEngine.layer({ url: DATABASE_URL, prefix, pollInterval: "100 millis" })))
    )
    await dropPrefix(prefix)
    const one = await throughput(1)
    const two = await throughput(2)
    rows.push({
      name: "sessions per second, two runners vs one (PostgreSQL)",
      braid: two,
      baseline: one,
      unit: "ops/s",
      note: "200 sessions of 5 journaled 20 ms steps; 2 shared cores"
    })
  }
  rmSync(dir, { recursive: true, force: true })
  printTable("durable runs: journaling and replay cost", rows)
}
