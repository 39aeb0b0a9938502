/**
 * `braid serve` on several processes: two real server processes on one PostgreSQL (a schema and
 * a table prefix of this file's own) and one Redis (a key prefix of its own). Any process serves
 * any session: a learner starts on A, sends to A and B in turn and follows the session's events
 * on B; the session cap and the rate limits are counted over both; when A is killed (SIGKILL),
 * its sessions go on through B (B's runner takes A's shards over and the runs resume from their
 * journal). The four sessions are spread by shard over the runners holding shards when they
 * start; the test does not check which runner ran which (so a run where B held all four does
 * not exercise the takeover).
 */
import { Sql } from "@braid/core"
import { PostgresDriver } from "@braid/postgres"
import { Auth, Sse } from "@braid/server"
import { DATABASE_URL, describeWith, REDIS_URL, type RunningProcess, startProcess } from "@braid/testing"
import { Scripts } from "@braid/workflows"
import { assert, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll } from "vitest"

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/main.ts")

/** Runs one statement on the database (outside the test's schema). */
const admin = (text: string) =>
  Effect.runPromise(
    Effect.flatMap(Sql.SqlDriver, (sql) => sql.execute(text)).pipe(
      Effect.provide(PostgresDriver.layer({ url: DATABASE_URL, max: 1 }))
    )
  )

const describePg = await describeWith("postgres")
const describeRedis = await describeWith("redis")

const secretText = "a cluster test secret of at least thirty-two characters"
const secret = Redacted.make(secretText)
const token = (userId: string) => Auth.issue(secret, { userId, role: "learner" }, Date.now())

/** Process start under tsx is slow on 2 cores (STACK.md, trap 8); takeover of a dead runner's shards about 35 s. */
const startBound = 180_000

interface Event {
  readonly event: string
  readonly id: number | undefined
  readonly data: any
}

/** Follows a session's server-sent events in the background. */
const follow = (url: string, bearer: string) => {
  const controller = new AbortController()
  const events: Array<Event> = []
  const done = (async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${bearer}` }, signal: controller.signal })
    if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`)
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    try {
      while (true) {
        const { done, value } = await reader.read()
        if (done) break
        const parsed = Sse.parse(buffer + value)
        buffer = parsed.rest
        for (const m of parsed.messages) {
          events.push({ event: m.event, id: m.id === undefined ? undefined : Number(m.id), data: JSON.parse(m.data) })
        }
      }
    } catch {
      // aborted
    }
  })()
  return {
    events,
    until: async (predicate: (es: ReadonlyArray<Event>) => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs
      while (!predicate(events)) {
        if (Date.now() > deadline) throw new Error(`events: not there in ${timeoutMs} ms: ${JSON.stringify(events)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    stop: async () => {
      controller.abort()
      await done.catch(() => undefined)
    }
  }
}

const call = async (base: string, method: string, route: string, bearer: string, body?: unknown) => {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  const text = await res.text()
  return { status: res.status, json: text === "" ? undefined : JSON.parse(text) as any }
}

describePg("braid serve on several processes (PostgreSQL + Redis)", () => {
  describeRedis("two processes", () => {
    const schema = `braid_serve_cluster_${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`
    const url = new URL(DATABASE_URL)
    url.searchParams.set("options", `-c search_path=${schema}`)
    const processes: Array<RunningProcess> = []
    const dirs: Array<string> = []
    beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
    afterAll(async () => {
      await Promise.all(processes.map((p) => p.stop("SIGKILL")))
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
      await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    })

    /** What the servers printed (their warnings name the cause of a 503), for a failure's message. */
    const logs = () => processes.map((p, i) => `--- process ${i}:\n${p.output().slice(-4000)}`).join("\n")

    const start = async (runnerPort: number) => {
      const data = fs.mkdtempSync(path.join(os.tmpdir(), "braid-serve-cluster-"))
      dirs.push(data)
      const p = startProcess(
        process.execPath,
        [
          "--conditions=@braid/source",
          "--import",
          "tsx",
          main,
          "serve",
          "--port",
          "0",
          "--data",
          data,
          "--offline",
          "--runner-port",
          String(runnerPort)
        ],
        {
          env: {
            ...process.env,
            ANTHROPIC_API_KEY: "",
            BRAID_AUTH_SECRET: secretText,
            BRAID_STORE: "postgres",
            DATABASE_URL: url.toString(),
            REDIS_URL,
            BRAID_REDIS_PREFIX: `${schema}:`,
            BRAID_DURABLE_PREFIX: schema,
            BRAID_SESSION_CAP_ACTIVE: "4",
            BRAID_SESSION_CAP_QUEUED: "0"
          }
        }
      )
      processes.push(p)
      const [, base] = await p.waitFor(/listening on (http:\/\/\S+)/, startBound)
      return { process: p, base: base! }
    }

    it(
      "any process serves any session; events complete and in order on the other; the cap over both; a killed process's sessions go on",
      async () => {
        const port = 20_000 + Math.floor(Math.random() * 20_000)
        // one after the other: the first creates the tables
        const a = await start(port)
        const b = await start(port + 1)
        for (const p of [a, b]) {
          // no URL and no password in what a server prints
          assert.notInclude(p.process.output(), "postgres://")
          assert.notInclude(p.process.output(), "redis://")
        }

        // four learners fill the cap (4 active, none queued), two on each process; a fifth is refused
        const learners = ["ada", "bob", "cy", "dee"].map((u) => ({ user: u, bearer: token(u) }))
        const sessions: Array<{ user: string; bearer: string; id: string }> = []
        for (const [i, l] of learners.entries()) {
          const r = await call(i % 2 === 0 ? a.base : b.base, "POST", "/api/sessions", l.bearer, {
            scenarioId: Scripts.practiceScenario.id
          })
          assert.strictEqual(r.status, 201, `${JSON.stringify(r.json)}\n${logs()}`)
          assert.strictEqual(r.json.session.status, "active")
          sessions.push({ ...l, id: r.json.session.id })
        }
        const refused = await call(b.base, "POST", "/api/sessions", token("eve"), { scenarioId: "first-session" })
        assert.strictEqual(refused.status, 503, `${JSON.stringify(refused.json)}\n${logs()}`)
        assert.strictEqual(refused.json._tag, "AtCapacity")
        const refusedOnA = await call(a.base, "POST", "/api/sessions", token("eve"), { scenarioId: "first-session" })
        assert.strictEqual(refusedOnA.status, 503)

        // ada's session: started on A, followed on B, messages to A and B in turn
        const ada = sessions[0]!
        const stream = follow(`${b.base}/api/sessions/${ada.id}/events`, ada.bearer)
        const [first, second, third] = Scripts.practiceLearner
        const t1 = await call(a.base, "POST", `/api/sessions/${ada.id}/messages`, ada.bearer, { text: first })
        assert.strictEqual(t1.status, 200, `${JSON.stringify(t1.json)}\n${logs()}`)
        assert.strictEqual(t1.json.reply.role, "assistant")
        const t2 = await call(b.base, "POST", `/api/sessions/${ada.id}/messages`, ada.bearer, { text: second })
        assert.strictEqual(t2.status, 200, `${JSON.stringify(t2.json)}\n${logs()}`)
        assert.notStrictEqual(t2.json.turnId, t1.json.turnId)
        // every other session takes one turn, each on the process it did not start on
        for (const [i, s] of sessions.slice(1).entries()) {
          const r = await call(i % 2 === 0 ? a.base : b.base, "POST", `/api/sessions/${s.id}/messages`, s.bearer, {
            text: first
          })
          assert.strictEqual(r.status, 200, `${JSON.stringify(r.json)}\n${logs()}`)
        }

        // the rate limit (30 sends per user per minute) is counted over both processes (on Redis):
        // 15 sends on each are answered (404: no such session), the 31st is refused on either
        const spammer = token("spam")
        for (let i = 0; i < 30; i++) {
          const r = await call(i % 2 === 0 ? a.base : b.base, "POST", "/api/sessions/nope/messages", spammer, {
            text: "hi"
          })
          assert.strictEqual(r.status, 404, `send ${i}: ${JSON.stringify(r.json)}`)
        }
        const limited = await call(a.base, "POST", "/api/sessions/nope/messages", spammer, { text: "hi" })
        assert.strictEqual(limited.status, 429, JSON.stringify(limited.json))
        assert.strictEqual(limited.json._tag, "RateLimited")

        // A dies; every session goes on through B (B takes A's shards over)
        await a.process.stop("SIGKILL")
        const t3 = await call(b.base, "POST", `/api/sessions/${ada.id}/messages`, ada.bearer, { text: third })
        assert.strictEqual(t3.status, 200, `${JSON.stringify(t3.json)}\n${logs()}`)
        assert.strictEqual(t3.json.session.status, "completed")
        assert.strictEqual(t3.json.session.endReason, "objective-met")
        for (const s of sessions.slice(1)) {
          const r = await call(b.base, "POST", `/api/sessions/${s.id}/messages`, s.bearer, { text: second })
          assert.strictEqual(r.status, 200, `${JSON.stringify(r.json)}\n${logs()}`)
        }

        // ada's transcript: each turn answered once
        const transcript = await call(b.base, "GET", `/api/sessions/${ada.id}/messages?limit=100`, ada.bearer)
        const messages: ReadonlyArray<any> = transcript.json.items
        const byTurn = new Map<string, Array<string>>()
        for (const m of messages) {
          if (m.turnId !== undefined) byTurn.set(m.turnId, [...(byTurn.get(m.turnId) ?? []), m.role])
        }
        for (const turn of [t1, t2, t3]) {
          assert.deepStrictEqual(byTurn.get(turn.json.turnId)?.sort(), ["assistant", "user"], JSON.stringify(messages))
        }

        // the events on B: complete, once each, in order
        await stream.until((es) => es.some((e) => e.event === "SessionEnded"), 60_000)
        await stream.stop()
        const persisted = stream.events.filter((e) => e.id !== undefined)
        assert.deepStrictEqual(persisted.map((e) => e.id), persisted.map((_, i) => i + 1), JSON.stringify(persisted))
        const seqs = persisted.filter((e) => e.event === "LearnerMessage" || e.event === "AiTurn").map((e) =>
          e.data.seq as number
        )
        const stored = messages.filter((m) => m.role === "user" || m.role === "assistant").map((m) => m.seq as number)
        assert.deepStrictEqual([...seqs].sort((x, y) => x - y), [...stored].sort((x, y) => x - y))
        assert.deepStrictEqual(seqs, [...seqs].sort((x, y) => x - y))
        assert.strictEqual(persisted.filter((e) => e.event === "SessionEnded").length, 1)
        assert.strictEqual(
          persisted.at(-1)?.event === "SessionEnded" || persisted.at(-1)?.event === "EvaluationReady",
          true
        )

        // ada's session ended: a slot is free again, counted over both processes (only B is left)
        const again = await call(b.base, "POST", "/api/sessions", token("eve"), { scenarioId: "first-session" })
        assert.strictEqual(again.status, 201, `${JSON.stringify(again.json)}\n${logs()}`)
      },
      600_000
    )
  })
})
