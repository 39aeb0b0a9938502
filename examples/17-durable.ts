/**
 * Tutorial 17: durable runs.
 *
 * A practice session waits for the learner for minutes or days. Run durably
 * (`@braid/durable/DurableSessions`), it survives the process: every model call is journaled in
 * the engine's database (here the embedded SQLite engine, a file in a temp dir), the wait for the
 * learner's message holds no fiber, and a restarted process carries on where the dead one
 * stopped, without calling the model again for what was already answered. The session's
 * messages are in the session store (another SQLite file), exactly as `Practice` writes them.
 *
 * The tutorial runs itself three times as a child process:
 *   1. "start": starts the session; the client persona (the model) opens; the run suspends,
 *      waiting for the learner; then the process is killed (SIGKILL, no clean shutdown);
 *   2. "deliver": a new process delivers the learner's messages (one signal per turn) to the
 *      session: the run resumes from its journal, the client answers each, and the objective
 *      check (a judge model) ends the session when the learner summarises what the client wants;
 *   3. "status": one more process reads the ended session and its transcript from the store.
 * Every model call the model really answers is appended to a log file, so we can count them.
 *
 * Run it: npx tsx examples/17-durable.ts (offline: the scripted model)
 */
import { DurableModel } from "@braid/durable"
import * as DurableSessions from "@braid/durable/DurableSessions"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
import { SqliteSessionStore } from "@braid/sqlite"
import { Scripts, SessionStore, Transcript } from "@braid/workflows"
import { Effect, Layer, Logger, LogLevel, Stream } from "effect"
import assert from "node:assert"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const teacher = { userId: "tess", role: "teacher", tenant: "default" } as const
const ada = { userId: "ada", role: "learner", tenant: "default" } as const

// One phase of the story, in a process of its own.
const child = async (phase: string, dir: string) => {
  const log = path.join(dir, "model-calls.log")
  // 1. The model: the scripted practice model (client persona, judge), made durable by
  //    `DurableModel` (its calls are journaled) and metered above it (a replayed call is not
  //    new spend). The wrapper logs each call the model really answers.
  const record = (prompt: Ai.Prompt.Prompt) =>
    Effect.sync(() => {
      const who = Ai.systemText(prompt).startsWith("You judge") ? "judge " : "client"
      const text = Ai.lastUserText(prompt).replace(/\s+/g, " ")
      fs.appendFileSync(log, `${who} | ...${text.slice(-60)}\n`)
    })
  const logged = Effect.map(ScriptedLanguageModel.provider(Scripts.practice), (p): Ai.Provider => ({
    ...p,
    generateText: (options) => Effect.tap(p.generateText(options), () => record(options.prompt)),
    streamText: (options) =>
      Stream.concat(p.streamText(options), Stream.drain(Stream.fromEffect(record(options.prompt))))
  }))
  const model = Metered.fromProvider(Effect.map(logged, DurableModel.provider))

  // 2. The sessions: the practice workflow as a durable run per session. `layer` registers it
  //    with the runner of this process: the SQLite engine, the session store and the model.
  const sessions = await Effect.runPromise(DurableSessions.practice({ idleTimeout: "2 days" }))
  const runner = sessions.layer.pipe(
    Layer.provideMerge(SqliteEngine.layer({ filename: path.join(dir, "durable.db"), pollInterval: "200 millis" })),
    Layer.provideMerge(SqliteSessionStore.layer(path.join(dir, "sessions.db"))),
    Layer.provide(model)
  )

  const program = Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    if (phase === "start") {
      yield* store.putScenario(teacher, Scripts.practiceScenario, 0)
      const { sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
      fs.writeFileSync(path.join(dir, "session-id"), sessionId)
      // wait until the client has opened and the run waits for the learner, then die without cleanup
      while (true) {
        const status = yield* sessions.currentRun(sessionId).pipe(Effect.orElseSucceed(() => undefined))
        if (status?._tag === "Suspended" && status.waitingOn.includes("signal:turn-0")) break
        yield* Effect.sleep("50 millis")
      }
      const [opening] = yield* Transcript.messages(ada, sessionId)
      console.log(`[start]   Sam opened: "${opening?.text}"`)
      console.log(`[start]   the session waits for the learner; killing the process now`)
      process.kill(process.pid, "SIGKILL")
    }
    const sessionId = fs.readFileSync(path.join(dir, "session-id"), "utf8")
    if (phase === "deliver") {
      for (const text of Scripts.practiceLearner) {
        // a signal to the run (from this process; any process reaching the files would do),
        // then the reply read from the session store
        const turn = yield* sessions.send(ada, sessionId, text)
        console.log(`[deliver] learner: ${text}\n[deliver] Sam:     ${turn.reply?.text}`)
      }
      const ended = yield* sessions.result(sessionId)
      console.log(`[deliver] the session ended: ${ended.endReason}`)
    }
    if (phase === "status") {
      const session = yield* store.getSession(ada, sessionId)
      const messages = yield* Transcript.messages(ada, sessionId)
      console.log(JSON.stringify({ status: session.status, endReason: session.endReason, messages: messages.length }))
    }
  })
  // (the engine's own warnings, such as a runner it has not yet seen as healthy, are not the story)
  await Effect.runPromise(Effect.provide(program, runner).pipe(Logger.withMinimumLogLevel(LogLevel.Error)))
}

const here = fileURLToPath(import.meta.url)
const [, , phase, workDir] = process.argv

if (phase !== undefined) {
  await child(phase, workDir!)
  process.exit(0)
} else {
  console.log("== Tutorial 17: durable runs (SQLite, offline) ==\n")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-tutorial-17-"))
  const run = (p: string) =>
    new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [...process.execArgv, here, p, dir], (error, stdout, stderr) => {
        process.stdout.write(stdout)
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : null,
          signal: error?.signal ?? null,
          stdout,
          stderr
        })
      })
    )

  const started = await run("start")
  assert.notStrictEqual(started.code, 0, "the first process was killed")
  console.log(`          (the process ended by ${started.signal ?? `exit ${started.code}`}: killed, as a crash would)`)

  const delivered = await run("deliver")
  assert.strictEqual(delivered.code, 0, delivered.stderr)

  const status = await run("status")
  assert.strictEqual(status.code, 0, status.stderr)
  // (the engine may log its own lines too: take ours)
  const result = JSON.parse(status.stdout.split("\n").find((line) => line.startsWith("{\"status\""))!)
  assert.deepStrictEqual(result, { status: "completed", endReason: "objective-met", messages: 7 })

  // The opening was answered once, by the first process: the second one replayed it from the
  // journal. Seven calls in all (the opening, three replies, three objective checks), each made
  // exactly once across the crash.
  const calls = fs.readFileSync(path.join(dir, "model-calls.log"), "utf8").trim().split("\n")
  console.log(`\nthe model answered ${calls.length} calls across three processes:`)
  for (const c of calls) console.log(`  - ${c}`)
  assert.strictEqual(calls.length, 7)
  assert.strictEqual(new Set(calls).size, 7)
  console.log("\nok: the session survived the crash, and no model call was repeated")
  fs.rmSync(dir, { recursive: true, force: true })
}
