/**
 * Tutorial 17: durable runs.
 *
 * A practice session waits for the learner for minutes or days. Run durably (`@braid/durable`),
 * it survives the process: every model call is journaled in the engine's database (here the
 * embedded SQLite engine, a file in a temp dir), the wait for the learner's message holds no
 * fiber, and a restarted process carries on where the dead one stopped, without calling the
 * model again for what was already answered.
 *
 * The tutorial runs itself three times as a child process:
 *   1. "start": starts the session; the client persona (the model) opens; the run suspends,
 *      waiting for the learner; then the process is killed (SIGKILL, no clean shutdown);
 *   2. "deliver": a new process delivers the learner's message (a signal) to the run and waits
 *      for the end: the run resumes from its journal, the model answers turn two and evaluates;
 *   3. "status": one more process reads the finished run's status and result.
 * Every model call the model really answers is appended to a log file, so we can count them.
 *
 * Run it: npx tsx examples/17-durable.ts (offline: the scripted model)
 */
import { Primitive } from "@braid/core"
import { Durable, DurableModel } from "@braid/durable"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { Ai, ScriptedLanguageModel } from "@braid/llm"
import { Effect, Layer, Schema } from "effect"
import assert from "node:assert"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

// 1. The session: a plain pipeline. Nothing in it knows it runs durably, except the wait for the
//    learner's message, which is a signal (one name per turn) instead of a callback.
const Message = Schema.Struct({ text: Schema.String })

const session = Primitive.make("practice", (learner: string) =>
  Effect.gen(function*() {
    const opening = yield* Ai.LanguageModel.generateText({ prompt: `Open a practice session for ${learner}` })
    const message = yield* Durable.awaitSignal("turn-1", Message, { timeout: "2 days" })
    const answer = yield* Ai.LanguageModel.generateText({ prompt: `The learner says: ${message.text}` })
    const evaluation = yield* Ai.LanguageModel.generateText({ prompt: `Evaluate: ${message.text}` })
    return { opening: opening.text, learner: message.text, answer: answer.text, evaluation: evaluation.text }
  }))

// 2. Registered as a durable workflow: Schemas for what is journaled, and the run's key (starting
//    the same key again attaches to the existing run instead of starting a second one).
const Practice = Durable.workflow("practice", session, {
  input: Schema.String,
  output: Schema.Struct({
    opening: Schema.String,
    learner: Schema.String,
    answer: Schema.String,
    evaluation: Schema.String
  }),
  error: Ai.AiError.AiError,
  key: (learner) => `session-of-${learner}`
})

// 3. One phase of the story, in a process of its own. The model is the scripted one, made durable
//    by `DurableModel` (its calls are journaled); the wrapper logs each call the model answers.
const child = async (phase: string, db: string, log: string) => {
  const provider = ScriptedLanguageModel.provider({
    rules: [
      { when: "open a practice", reply: "Client: I am not sure this plan fits my budget." },
      { when: "evaluate", reply: "Score 4/5: you acknowledged the concern and offered options." }
    ],
    default: "Client: that helps, tell me more about the cheaper option."
  })
  // the model's side of the wire: log each call it answers
  const logged = Effect.map(provider, (p): Ai.Provider => ({
    ...p,
    generateText: (options) =>
      Effect.tap(
        p.generateText(options),
        () => Effect.sync(() => fs.appendFileSync(log, `${Ai.lastUserText(options.prompt)}\n`))
      )
  }))
  const layer = Practice.layer.pipe(
    Layer.provideMerge(SqliteEngine.layer({ filename: db, pollInterval: "200 millis" })),
    Layer.provide(DurableModel.layer(logged))
  )
  const program = Effect.gen(function*() {
    if (phase === "start") {
      const runId = yield* Practice.start("ada")
      // wait until the run has suspended on the learner's message, then die without cleanup
      while (true) {
        const status = yield* Practice.status(runId)
        if (status._tag === "Suspended" && status.waitingOn.includes("signal:turn-1")) break
        yield* Effect.sleep("50 millis")
      }
      console.log(`[start]   run ${runId.slice(0, 8)} is waiting for the learner; killing the process now`)
      process.kill(process.pid, "SIGKILL")
    }
    const runId = yield* Practice.runId("ada")
    if (phase === "deliver") {
      yield* Practice.signal(runId, "turn-1", Message, { text: "Could we start with the smaller package?" })
      const result = yield* Practice.run("ada") // attaches to the existing run and waits for its end
      console.log(`[deliver] the run resumed from its journal and finished: ${result.evaluation}`)
    }
    if (phase === "status") {
      const status = yield* Practice.status(runId)
      assert.strictEqual(status._tag, "Complete")
      if (status._tag === "Complete" && status.exit._tag === "Success") console.log(JSON.stringify(status.exit.value))
    }
  })
  await Effect.runPromise(Effect.provide(program, layer))
}

const here = fileURLToPath(import.meta.url)
const [, , phase, db, log] = process.argv

if (phase !== undefined) {
  await child(phase, db!, log!)
  process.exit(0)
} else {
  console.log("== Tutorial 17: durable runs (SQLite, offline) ==\n")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-tutorial-17-"))
  const dbFile = path.join(dir, "durable.db")
  const logFile = path.join(dir, "model-calls.log")
  const run = (p: string) =>
    new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [...process.execArgv, here, p, dbFile, logFile], (error, stdout, stderr) => {
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
  const result = JSON.parse(status.stdout.trim().split("\n").pop()!)
  assert.strictEqual(result.learner, "Could we start with the smaller package?")

  // The opening call was answered once, by the first process: the second one replayed it from
  // the journal. Three calls in all, each made exactly once across the crash.
  const calls = fs.readFileSync(logFile, "utf8").trim().split("\n")
  console.log(`\nthe model answered ${calls.length} calls across three processes:`)
  for (const c of calls) console.log(`  - ${c}`)
  assert.strictEqual(calls.length, 3)
  assert.strictEqual(new Set(calls).size, 3)
  console.log("\nok: the session survived the crash, and no model call was repeated")
  fs.rmSync(dir, { recursive: true, force: true })
}
