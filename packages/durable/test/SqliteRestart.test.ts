/**
 * Restarts on the SQLite engine: in-process (the engine layer closed and opened again on the same
 * file) and real ones (a child process SIGKILLed at journal points of a practice session, then
 * started again).
 */
import { Primitive } from "@braid/core"
import { Durable, type RunStatus } from "@braid/durable"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { runProcess } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { makeCounter, Reply, waitForStatus } from "./durableConformance.js"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const tsx = join(root, "node_modules", ".bin", "tsx")
const fixture = join(root, "packages", "durable", "test", "fixtures", "practice-process.ts")
const dir = mkdtempSync(join(tmpdir(), "braid-durable-restart-"))

/**
 * Opens the SQLite engine on `filename` with `wf` registered, starts the run for `input` and waits
 * until it suspends, closes the engine (a restart), then runs `after` on a new engine on the file.
 */
const acrossRestart = <In, Out, E, A, E2>(
  wf: Durable.DurableWorkflow<In, Out, E, never>,
  filename: string,
  input: In,
  after: (runId: string) => Effect.Effect<A, E2, WorkflowEngine | RunStatus.RunStatusStore>
) => {
  const open = () =>
    ManagedRuntime.make(wf.layer.pipe(Layer.provideMerge(SqliteEngine.layer({ filename, pollInterval: "200 millis" }))))
  return Effect.gen(function*() {
    const first = open()
    const id = yield* Effect.promise(() =>
      first.runPromise(Effect.tap(wf.start(input), (id) => waitForStatus(wf, id, (s) => s._tag === "Suspended")))
    )
    yield* Effect.promise(() => first.dispose())
    const second = open()
    const result = yield* Effect.promise(() => second.runPromise(after(id)))
    yield* Effect.promise(() => second.dispose())
    return result
  })
}

describe("SQLite engine across restarts", () => {
  it.live("a durable sleep survives a restart: the reopened engine wakes the run and finishes it", () => {
    const counter = makeCounter()
    const nap = Primitive.make("nap", (_: string) =>
      Effect.gen(function*() {
        yield* Durable.step("before", counter.tick("before", 1), Schema.Number)
        yield* Durable.sleep("nap", "2 seconds")
        return yield* Durable.step("after", counter.tick("after", "awake"), Schema.String)
      }))
    const wf = Durable.workflow("nap", nap, { input: Schema.String, output: Schema.String, key: (s) => s })
    return Effect.gen(function*() {
      const { result, status } = yield* acrossRestart(
        wf,
        join(dir, "sleep.db"),
        "ada",
        (id) => Effect.all({ result: wf.run("ada"), status: wf.status(id) })
      )
      assert.strictEqual(result, "awake")
      assert.strictEqual(status._tag, "Complete")
      assert.deepStrictEqual(counter.counts, { before: 1, after: 1 })
    })
  })

  it.live("a signal delivered while no runner runs is kept and consumed after the restart", () => {
    const wf = Durable.workflow(
      "ask",
      Primitive.make("ask", (_: string) => Effect.map(Durable.awaitSignal("answer", Reply), (r) => r.text)),
      { input: Schema.String, output: Schema.String, key: (s) => s }
    )
    return Effect.gen(function*() {
      const answer = yield* acrossRestart(
        wf,
        join(dir, "signal.db"),
        "q",
        (id) => Effect.zipRight(wf.signal(id, "answer", Reply, { text: "42" }), wf.run("q"))
      )
      assert.strictEqual(answer, "42")
    })
  })

  // Process start under tsx takes seconds on a loaded machine: generous bounds, no speed asserted.
  const expected = [
    "client: reply 0",
    "learner message 0",
    "client: reply 1",
    "learner message 1",
    "score: 4/5"
  ]
  const calls = [
    "#0 ada said: hello",
    "#1 ada said: learner message 0",
    "#2 evaluate client: reply 0 / learner message 0 / client: reply 1 / learner message 1"
  ]
  for (const point of ["during-0", "after-0", "signal-0", "during-1", "during-2"]) {
    it(
      `SIGKILL ${point}, restart: the session completes; completed model calls were made once, the in-flight one at most twice`,
      async () => {
        const db = join(dir, `kill-${point}.db`)
        const log = join(dir, `kill-${point}.log`)
        const killed = await runProcess(tsx, [fixture, db, log, point], { cwd: root, timeout: 240_000 })
        // tsx reports its child's SIGKILL as exit status 137 (128 + 9)
        assert.isTrue(
          killed.signal === "SIGKILL" || killed.status === 137,
          `the child was not killed at ${point} (${killed.status}, ${killed.signal}): ${killed.stdout}\n${killed.stderr}`
        )
        assert.notInclude(killed.stdout, "RESULT")
        const resumed = await runProcess(tsx, [fixture, db, log], { cwd: root, timeout: 240_000 })
        assert.strictEqual(resumed.status, 0, resumed.stderr)
        const line = resumed.stdout.split("\n").find((l) => l.startsWith("RESULT "))
        assert.isDefined(line, resumed.stdout)
        assert.deepStrictEqual(JSON.parse(line!.slice("RESULT ".length)), expected)
        const made = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []
        const inFlight = point.startsWith("during-") ? Number(point.slice("during-".length)) : -1
        calls.forEach((call, i) => {
          const times = made.filter((m) => m === call).length
          if (i === inFlight) assert.strictEqual(times, 2, `the in-flight call ${i} ran again after the crash`)
          else assert.strictEqual(times, 1, `call ${i} was made ${times} times`)
        })
        assert.strictEqual(made.length, calls.length + (inFlight >= 0 ? 1 : 0))
      },
      600_000
    )
  }
})
