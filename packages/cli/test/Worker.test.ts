/**
 * `braid worker`: the runner it launches (the durable practice sessions on SQLite files, the
 * scripted model) runs a session to its end and keeps it across a restart of the runner; bad
 * options are usage errors naming the option.
 */
import { WorkerCommand, Workflows } from "@braid/cli"
import * as DurableSessions from "@braid/durable/DurableSessions"
import { Scripts, SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "./helpers.js"

const teacher = { userId: "tess", role: "teacher", tenant: "default" } as const
const ada = { userId: "ada", role: "learner", tenant: "default" } as const

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
          const turn = yield* sessions.send(sessionId, Scripts.practiceLearner[0])
          assert.strictEqual(turn.reply?.role, "assistant")
          return sessionId
        }).pipe(Effect.provide(runner))
        // a new runner on the same files (the worker restarted)
        const ended = yield* Effect.gen(function*() {
          for (const text of Scripts.practiceLearner.slice(1)) yield* sessions.send(first, text)
          return yield* sessions.result(first)
        }).pipe(Effect.provide(runner))
        assert.strictEqual(ended.endReason, "objective-met")
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
      const help = yield* runCli(["worker", "--help"], Workflows.registry)
      assert.include(help.stdout, "--database-url <url>")
    }))
})
