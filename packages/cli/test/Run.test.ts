import { Workflows } from "@braid/cli"
import { WorkflowContext } from "@braid/core"
import { Memory } from "@braid/memory"
import { SqliteMemoryStore, SqliteSessionStore } from "@braid/sqlite"
import { SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "./helpers.js"

const cli = (...args: Array<string>) => runCli(args, Workflows.registry)

describe("braid run / describe", () => {
  it.effect("runs the coaching workflow offline with a progress display and a final summary", () =>
    Effect.gen(function*() {
      const r = yield* cli("run", "coaching", "--offline", "--user", "grace", "--verbose")
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stdout, "Grace: Good morning! I slept badly")
      assert.include(r.stdout, "── coaching: done")
      assert.include(r.stdout, "goals: finish the quarterly report draft (9-11); run 30 minutes at lunch")
      assert.include(r.stdout, "review: 1/2 goals done")
      assert.match(r.stdout, /steps \d+, model calls 8, tokens \d+ in \/ \d+ out, cost \$0\.\d{4}/)
      // the progress display (stderr when not a terminal) shows steps, tokens and cost as they grow
      assert.match(r.stderr, /steps \d+ · model calls \d+ · tokens [\d,]+ in \/ [\d,]+ out · \$0\.\d{4}/)
    }))

  it.effect("with --store, coaching memory persists in SQLite", () =>
    Effect.gen(function*() {
      const db = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-run-coach-")), "memory.db")
      const r = yield* cli("run", "coaching", "--offline", "--store", db)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stdout, `goals and insights remembered in ${db}`)
      const goals = yield* Effect.flatMap(Memory.Memory, (m) => m.query({ scope: "user", tags: ["goal"] })).pipe(
        Effect.provide(Memory.layer().pipe(Layer.provide(SqliteMemoryStore.layer({ filename: db })))),
        Effect.provide(WorkflowContext.layer({ userId: "ada" }))
      )
      assert.deepStrictEqual(goals.map((g) => g.value), [[
        "finish the quarterly report draft (9-11)",
        "run 30 minutes at lunch"
      ]])
    }))

  it.live("runs the practice workflow offline: the session ends on its objective and is evaluated, stored in SQLite", () =>
    Effect.gen(function*() {
      const db = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-run-practice-")), "sessions.db")
      const r = yield* cli("run", "practice", "--offline", "--user", "grace", "--store", db, "--verbose")
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stdout, "Sam: Hi, I'm Sam.")
      assert.include(r.stdout, "Grace: So what I hear is")
      assert.include(r.stdout, "[judge: met:")
      assert.include(r.stdout, "── practice: done")
      assert.match(r.stdout, /session: objective-met, 7 messages, \$0\.\d{4}/)
      assert.match(r.stdout, /evaluation: overall \d\.\d\/5 \(open-questions \d, active-listening 4\)/)
      assert.include(r.stdout, `session and evaluation stored in ${db}`)
      const sessions = yield* Effect.flatMap(
        SessionStore.SessionStore,
        (store) => store.listSessions({ userId: "grace", role: "learner", tenant: "default" })
      ).pipe(
        Effect.provide(SqliteSessionStore.layer(db))
      )
      assert.strictEqual(sessions.items.length, 1)
      assert.strictEqual(sessions.items[0]!.endReason, "objective-met")
      // a turn limit of 1 ends the session after the first exchange
      const short = yield* cli("run", "practice", "--offline", "--turns", "1")
      assert.strictEqual(short.code, 0, short.stderr)
      assert.include(short.stdout, "session: turn-limit")
    }))

  it.effect("runs the evaluation and the meeting workflows offline", () =>
    Effect.gen(function*() {
      const e = yield* cli("run", "evaluation", "--offline")
      assert.strictEqual(e.code, 0, e.stderr)
      assert.match(e.stdout, /gate: FAILED \(\d metrics regressed; braid eval would exit 1\)/)
      assert.match(e.stdout, /FAIL relevance: 1\.000 -> 0\.375/)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-run-"))
      const m = yield* cli("run", "meeting", "--offline", "--store", path.join(dir, "m.db"), "--topic", "Friday launch")
      assert.strictEqual(m.code, 0, m.stderr)
      assert.include(m.stdout, "Friday launch")
      assert.include(m.stdout, "Grace: write the rollback plan and rehearse it on staging (due Thursday)")
      assert.include(m.stdout, "left early: Linus")
      assert.isTrue(fs.existsSync(path.join(dir, "m.db")))
    }))

  it.effect("describe prints the Mermaid diagram of each workflow; unknown names and bad options exit 2", () =>
    Effect.gen(function*() {
      for (const name of ["coaching", "evaluation", "meeting", "practice"]) {
        const r = yield* cli("describe", name)
        assert.strictEqual(r.code, 0)
        assert.match(r.stdout, /^flowchart TD\n/)
      }
      const coaching = yield* cli("describe", "coaching")
      assert.include(coaching.stdout, `["coach<br/><small>agent</small>"]`)
      assert.include(coaching.stdout, `["observer<br/><small>agent</small>"]`)
      const text = yield* cli("describe", "meeting", "--format", "text")
      assert.include(text.stdout, "discussion (meeting)")
      const unknown = yield* cli("describe", "standup")
      assert.strictEqual(unknown.code, 2)
      assert.strictEqual(
        unknown.stderr,
        `braid: unknown workflow "standup" (known: coaching, evaluation, meeting, practice)`
      )
      const turns = yield* cli("run", "coaching", "--turns", "0", "--offline")
      assert.strictEqual(turns.code, 2)
      const notInt = yield* cli("run", "coaching", "--turns", "many")
      assert.strictEqual(notInt.code, 2)
    }))

  it.live("a bad key: every coach reply is a fallback, so the run exits 1 and prints the cause (--verbose: on each reply); the key is never shown", () =>
    Effect.scoped(Effect.gen(function*() {
      // A local stand-in for the API that rejects the key, as the real one does.
      const server = yield* Effect.acquireRelease(
        Effect.async<http.Server>((resume) => {
          const s = http.createServer((req, res) => {
            req.resume()
            res.writeHead(401, { "content-type": "application/json" })
            res.end(
              JSON.stringify({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } })
            )
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.async<void>((resume) => {
            s.close(() => resume(Effect.void))
          })
      )
      const secret = "sk-ant-bad-secret-123"
      const online = ConfigProvider.fromMap(
        new Map([
          ["ANTHROPIC_API_KEY", secret],
          ["ANTHROPIC_BASE_URL", `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`]
        ])
      )
      const r = yield* cli("run", "coaching", "--verbose").pipe(Effect.withConfigProvider(online))
      assert.strictEqual(r.code, 1, r.stdout + r.stderr)
      assert.include(r.stdout, "model: Claude (ANTHROPIC_API_KEY)")
      assert.include(r.stdout, "── coaching: FAILED")
      assert.match(r.stdout, /fallback replies: \d+ \(every reply: the model was never reached\)/)
      assert.match(r.stdout, /fallback cause: AuthenticationFailed: .+/)
      assert.match(r.stdout, /\[0 in \/ 0 out, \$0\.0000, fallback: AuthenticationFailed: .+\]/)
      assert.notInclude(r.stdout + r.stderr, secret)
      // offline, with the same run: no fallback, exit 0
      const offline = yield* cli("run", "coaching", "--offline")
      assert.strictEqual(offline.code, 0)
      assert.include(offline.stdout, "fallback replies: 0")
      assert.notInclude(offline.stdout, "fallback cause")
    })))
})
