/**
 * `braid worker`: the runner it launches (the durable practice sessions on SQLite files, the
 * scripted model) runs a session to its end and keeps it across a restart of the runner; bad
 * options are usage errors naming the option. On PostgreSQL: a runner of a cluster runs a session;
 * two real `braid worker` processes, the one holding the sessions SIGKILLed, the other finishes
 * them all.
 */
import { WorkerCommand, Workflows } from "@braid/cli"
import { Sql } from "@braid/core"
import * as DurableCoaching from "@braid/durable/DurableCoaching"
import * as DurableSessions from "@braid/durable/DurableSessions"
import * as PostgresRunners from "@braid/durable/PostgresRunners"
import { PostgresDriver, PostgresSessionStore } from "@braid/postgres"
import { DATABASE_URL, describeWith } from "@braid/testing"
import { Samples, Scripts, SessionStore, Transcript } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll } from "vitest"
import { runCli } from "./helpers.js"

const teacher = { userId: "tess", role: "teacher", tenant: "default" } as const
const ada = { userId: "ada", role: "learner", tenant: "default" } as const

/** A practice session through the worker's runner, to its end (objective met). */
const session = (runner: ReturnType<typeof WorkerCommand.layer>) =>
  Effect.gen(function*() {
    const sessions = yield* DurableSessions.practice({ sendTimeout: "60 seconds" })
    return yield* Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      yield* store.putScenario(teacher, Scripts.practiceScenario, 0)
      const { sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
      for (const text of Scripts.practiceLearner) {
        // a send that cannot finish says where the run is (for a failure that names its cause)
        yield* Effect.tapError(sessions.send(ada, sessionId, text), () =>
          Effect.flatMap(
            Effect.either(sessions.currentRun(sessionId)),
            (status) => Effect.logError(`send "${text}" failed; the run: ${JSON.stringify(status)}`)
          ))
      }
      return yield* sessions.result(sessionId)
    }).pipe(Effect.provide(runner))
  })

describe("braid worker", () => {
  it.live(
    "its runner runs a durable practice session; a restarted runner carries on with it",
    () =>
      Effect.gen(function*() {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-worker-"))
        const runner = WorkerCommand.layer({
          database: path.join(dir, "durable.db"),
          store: path.join(dir, "braid.db"),
          databaseUrl: Option.none(),
          prefix: "braid_durable",
          host: "127.0.0.1",
          port: 34431,
          idleTimeout: 10,
          offline: true
        })
        // the same workflow the worker registers, for the learner's side
        const sessions = yield* DurableSessions.practice()
        const first = yield* Effect.gen(function*() {
          const store = yield* SessionStore.SessionStore
          yield* store.putScenario(teacher, Scripts.practiceScenario, 0)
          const { sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
          const turn = yield* sessions.send(ada, sessionId, Scripts.practiceLearner[0])
          assert.strictEqual(turn.reply?.role, "assistant")
          return sessionId
        }).pipe(Effect.provide(runner))
        // a new runner on the same files (the worker restarted)
        const ended = yield* Effect.gen(function*() {
          for (const text of Scripts.practiceLearner.slice(1)) yield* sessions.send(ada, first, text)
          return yield* sessions.result(first)
        }).pipe(Effect.provide(runner))
        assert.strictEqual(ended.endReason, "objective-met")
        fs.rmSync(dir, { recursive: true, force: true })
      }),
    60_000
  )

  it.live(
    "its runner runs a durable coaching session too (its own scripted coach); a restarted runner carries on with it",
    () =>
      Effect.gen(function*() {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-worker-coaching-"))
        const runner = WorkerCommand.layer({
          database: path.join(dir, "durable.db"),
          store: path.join(dir, "braid.db"),
          databaseUrl: Option.none(),
          prefix: "braid_durable",
          host: "127.0.0.1",
          port: 34431,
          idleTimeout: 10,
          offline: true
        })
        // the same workflow the worker registers, for the user's side
        const sessions = yield* DurableCoaching.coaching({ sendTimeout: "60 seconds" })
        const morning = Samples.coachingDay.morning
        const first = yield* Effect.gen(function*() {
          const { sessionId } = yield* sessions.start(ada, { profile: Samples.adaProfile })
          const turn = yield* sessions.send(ada, sessionId, morning[0])
          assert.strictEqual(turn.reply?.role, "assistant")
          assert.isFalse(turn.reply?.fallback)
          return sessionId
        }).pipe(Effect.provide(runner))
        const ended = yield* Effect.gen(function*() {
          for (const text of morning.slice(1)) yield* sessions.send(ada, first, text)
          return yield* sessions.result(first)
        }).pipe(Effect.provide(runner))
        // the scripted coach writes the goals line at the third message
        assert.strictEqual(ended.endReason, "objective-met")
        assert.strictEqual(ended.kind, "coaching")
        assert.strictEqual(ended.totals.messages, 6)
        fs.rmSync(dir, { recursive: true, force: true })
      }),
    60_000
  )

  it.effect("a bad port or idle timeout is a usage error naming the option", () =>
    Effect.gen(function*() {
      const port = yield* runCli(["worker", "--port", "70000"], Workflows.registry)
      assert.strictEqual(port.code, 2)
      assert.include(port.stderr, "--port must be between 1 and 65535, got 70000")
      const idle = yield* runCli(["worker", "--idle-timeout", "0"], Workflows.registry)
      assert.strictEqual(idle.code, 2)
      assert.include(idle.stderr, "--idle-timeout must be a positive number of minutes")
      const prefix = yield* runCli(["worker", "--prefix", "x; drop table y"], Workflows.registry)
      assert.strictEqual(prefix.code, 2)
      assert.include(prefix.stderr, "--prefix must be a lower-case SQL name")
      const help = yield* runCli(["worker", "--help"], Workflows.registry)
      assert.include(help.stdout, "--database-url <url>")
    }))
})

const describePg = await describeWith("postgres")

/** Runs one statement on the database (outside the test's schema). */
const admin = (text: string) =>
  Effect.runPromise(
    Effect.flatMap(Sql.SqlDriver, (sql) => sql.execute(text)).pipe(
      Effect.provide(PostgresDriver.layer({ url: DATABASE_URL, max: 1 }))
    )
  )

/** The rows of a query on the database at `url`. */
const rowsOf = (text: string, url: string) =>
  Effect.runPromise(
    Effect.flatMap(Sql.SqlDriver, (sql) => sql.query(text)).pipe(
      Effect.provide(PostgresDriver.layer({ url, max: 1 }))
    )
  )

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/braid.js")

/** A port free on 127.0.0.1 now (the OS picks it). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Waits (real time, bounded) until `check` holds. */
const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, boundMillis: number) => {
  const end = Date.now() + boundMillis
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${boundMillis} ms`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/**
 * The real `braid worker` process (bin/braid.js): under the test runner the "@braid/source"
 * condition is on (NODE_OPTIONS), so the bin runs the sources in its own process and its pid is
 * the worker's.
 */
const worker = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [bin, "worker", ...args], {
    env: { ...process.env, ANTHROPIC_API_KEY: "" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const out = { stdout: "", stderr: "" }
  child.stdout!.on("data", (d) => out.stdout += String(d))
  child.stderr!.on("data", (d) => out.stderr += String(d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  return { child, out, exited }
}

const stop = (child: ChildProcess) => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}

describePg("braid worker on PostgreSQL", () => {
  // a schema of this file's own (every connection's search_path): the engine's tables and the sessions
  const schema = `braid_worker_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  const url = new URL(DATABASE_URL)
  url.searchParams.set("options", `-c search_path=${schema}`)
  beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))

  // Regression: under load this once ended with a learner turn missing (send read the turn from
  // the run's status, which passes through old waits while the run replays); send now takes the
  // turn from the store.
  it.live(
    "with --database-url its runner (one of a cluster) runs a practice session to its end",
    () =>
      Effect.gen(function*() {
        const ended = yield* session(WorkerCommand.layer({
          database: "unused.db",
          store: "unused.db",
          databaseUrl: Option.some(Redacted.make(url.toString())),
          // a prefix of its own too: shard locks are advisory locks, database-wide
          prefix: schema,
          host: "127.0.0.1",
          port: 20_000 + Math.floor(Math.random() * 20_000),
          idleTimeout: 10,
          offline: true
        }))
        assert.strictEqual(ended.endReason, "objective-met")
        assert.strictEqual(ended.totals.messages, 7)
      }),
    90_000
  )
})

describePg("two `braid worker` processes on PostgreSQL", () => {
  const schema = `braid_workers_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  const url = new URL(DATABASE_URL)
  url.searchParams.set("options", `-c search_path=${schema}`)
  beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))

  // Process start under tsx takes seconds, tens of seconds on a loaded machine: generous bounds.
  it(
    "SIGKILL the worker that holds the sessions: every session finishes on the other, no message lost or doubled",
    async () => {
      const prefix = schema // the shard locks are advisory locks, database-wide: a prefix of its own
      const sessionsCount = 4
      const [portA, portB] = [await freePort(), await freePort()]
      const args = (port: number) => [
        "--database-url",
        url.toString(),
        "--prefix",
        prefix,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--offline"
      ]
      const running = (w: ReturnType<typeof worker>) => w.out.stdout.includes("braid worker: running")
      // the learner's side: a client of the cluster (no runner: it takes no shard) on the same
      // storage, and the same session store
      const client = Layer.merge(
        PostgresRunners.layerClient({ url: url.toString(), prefix, pollInterval: "200 millis" }),
        PostgresSessionStore.layer({ url: Redacted.make(url.toString()) })
      )
      const sessions = await Effect.runPromise(DurableSessions.practice({ sendTimeout: "300 seconds" }))
      // (the workflow is not registered here: `sessions.layer` is for runners)
      const drive = <A, E>(program: Effect.Effect<A, E, any>) =>
        Effect.runPromise(program.pipe(Effect.provide(client)) as Effect.Effect<A, E>)

      // A alone: every shard is A's, so every session runs on A
      const a = worker(args(portA))
      let b: ReturnType<typeof worker> | undefined
      try {
        await waitUntil("worker A started", () => running(a) || a.child.exitCode !== null, 240_000)
        assert.isTrue(running(a), `worker A: ${a.out.stderr}`)
        const ids = await drive(Effect.gen(function*() {
          const store = yield* SessionStore.SessionStore
          yield* store.putScenario(teacher, Scripts.practiceScenario, 0)
          return yield* Effect.forEach(
            Array.from({ length: sessionsCount }),
            () =>
              Effect.gen(function*() {
                const { sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
                const turn = yield* sessions.send(ada, sessionId, Scripts.practiceLearner[0])
                assert.strictEqual(turn.reply?.role, "assistant")
                return sessionId
              }),
            { concurrency: "unbounded" }
          )
        }))
        // B joins the cluster; then A, which ran every session so far and holds them, is killed
        b = worker(args(portB))
        await waitUntil("worker B started", () => running(b!) || b!.child.exitCode !== null, 240_000)
        assert.isTrue(running(b), `worker B: ${b.out.stderr}`)
        await waitUntil("worker B registered as a runner", async () => {
          const rows = await rowsOf(`SELECT address FROM ${prefix}_runners`, url.toString())
          return JSON.stringify(rows).includes(String(portB))
        }, 120_000)
        a.child.kill("SIGKILL")
        const killed = await a.exited
        assert.strictEqual(killed.signal, "SIGKILL")

        const killedAt = Date.now()
        const ended = await drive(Effect.forEach(ids, (sessionId) =>
          Effect.gen(function*() {
            for (const text of Scripts.practiceLearner.slice(1)) yield* sessions.send(ada, sessionId, text)
            const result = yield* sessions.result(sessionId)
            const messages = yield* Transcript.messages(ada, sessionId)
            return { result, messages }
          }), { concurrency: "unbounded" }))
        console.log(
          `two braid workers: ${sessionsCount} sessions finished on B ${Date.now() - killedAt} ms after A's SIGKILL`
        )
        for (const { messages, result } of ended) {
          assert.strictEqual(result.endReason, "objective-met")
          // each turn once, in order: the opening, then 3 x (learner, reply)
          assert.deepStrictEqual(
            messages.map((m) => m.role),
            ["assistant", "user", "assistant", "user", "assistant", "user", "assistant"]
          )
          assert.deepStrictEqual(messages.map((m) => m.seq), [0, 1, 2, 3, 4, 5, 6])
          assert.deepStrictEqual(messages.filter((m) => m.role === "user").map((m) => m.text), Scripts.practiceLearner)
          assert.strictEqual(new Set(messages.map((m) => m.turnId + m.role)).size, 7)
          assert.strictEqual(result.totals.messages, 7)
        }
        // B is still the runner it was (it did not die with A)
        assert.isNull(b.child.exitCode, b.out.stderr)
      } finally {
        stop(a.child)
        if (b !== undefined) stop(b.child)
      }
    },
    900_000
  )
})
