/**
 * Durable practice sessions: the same store records as the plain `Practice` run; the idle timeout
 * as a durable sleep (TestClock); bounded executions; a SIGKILL between two learner messages on
 * SQLite, then a restart, with every completed model call made exactly once.
 */
import { Durable, DurableModel, RunStatus } from "@braid/durable"
import * as DurableSessions from "@braid/durable/DurableSessions"
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { runProcess } from "@braid/testing"
import { Practice, Scripts, SessionStore, Transcript } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { WorkflowEngine } from "@effect/workflow"
import { Cause, Effect, Exit, FastCheck as fc, Layer, Option, TestClock } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const teacher = { userId: "tess", role: "teacher", tenant: "default" } as const
const ada = { userId: "ada", role: "learner", tenant: "default" } as const

/** What a user sees of a session: its messages and its end, without ids and times. */
const records = (sessionId: string) =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const session = yield* store.getSession(ada, sessionId)
    const messages = yield* Transcript.messages(ada, sessionId)
    return {
      session: {
        kind: session.kind,
        status: session.status,
        endReason: session.endReason,
        endMessage: session.endMessage,
        scenarioId: session.scenarioId,
        title: session.title
      },
      messages: messages.map((m) => ({
        seq: m.seq,
        role: m.role,
        text: m.text,
        fallback: m.fallback,
        inputTokens: m.inputTokens,
        outputTokens: m.outputTokens,
        estimated: m.estimated
      }))
    }
  })

const addScenario = Effect.flatMap(
  SessionStore.SessionStore,
  (store) => store.putScenario(teacher, Scripts.practiceScenario, 0)
)

/** The scripted practice model, journaled, metered above the journal (as an app would run it). */
const durableModel = Metered.fromProvider(
  Effect.map(ScriptedLanguageModel.provider(Scripts.practice), DurableModel.provider)
)

describe("DurableSessions.practice on the in-memory engine", () => {
  it.live("gives the same store records as the plain Practice run for the same script", () =>
    Effect.gen(function*() {
      const plain = yield* Effect.scoped(Effect.gen(function*() {
        yield* addScenario
        const practice = yield* Practice.make({ evaluation: false })
        const { session } = yield* practice.start(ada, Scripts.practiceScenario.id)
        for (const text of Scripts.practiceLearner) yield* practice.send(ada, session.id, text)
        return yield* records(session.id)
      })).pipe(
        Effect.provide(Layer.merge(
          SessionStore.layerMemory,
          Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.practice))
        ))
      )
      assert.strictEqual(plain.session.endReason, "objective-met")

      const durable = yield* Effect.gen(function*() {
        yield* addScenario
        const sessions = yield* DurableSessions.practice({ turnsPerExecution: 2 })
        return yield* Effect.gen(function*() {
          const { runId, sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
          const turns = []
          for (const text of Scripts.practiceLearner) turns.push(yield* sessions.send(ada, sessionId, text))
          assert.strictEqual(turns[0]!.reply?.role, "assistant")
          assert.strictEqual(turns[2]!.session.endReason, "objective-met")
          // Three turns with two per execution: the session carried on in a second execution.
          const ended = yield* sessions.result(sessionId)
          assert.strictEqual(ended.status, "completed")
          assert.strictEqual((yield* sessions.workflow.status(runId))._tag, "Continued")
          const late = yield* Effect.flip(sessions.send(ada, sessionId, "are you still there?"))
          assert.strictEqual(late._tag, "SessionCompleted")
          return yield* records(sessionId)
        }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
      }).pipe(Effect.provide(Layer.merge(SessionStore.layerMemory, durableModel)))

      assert.deepStrictEqual(durable, plain)
    }))

  it.live("a status that still shows an old wait (a run replaying its journal) sends no message to an old turn", () =>
    Effect.gen(function*() {
      // The run status of a replaying run passes through the waits it already got past. This
      // status store shows the first wait (turn 0) again for a few reads, right after the first
      // turn: a send that trusted it would signal turn 0 again and the message would be lost.
      let first: RunStatus.Record | undefined
      let stale = 0
      const StaleStatus = Layer.effect(
        RunStatus.RunStatusStore,
        Effect.map(RunStatus.RunStatusStore, (real) => ({
          create: real.create,
          update: (record: RunStatus.Record) =>
            Effect.zipRight(
              real.update(record),
              Effect.sync(() => {
                if (first === undefined && record.waitingOn.includes("signal:turn-0")) first = record
              })
            ),
          get: (workflow: string, runId: string) =>
            stale > 0 && first !== undefined && first.runId === runId
              ? Effect.sync(() => {
                stale--
                return Option.some(first!)
              })
              : real.get(workflow, runId)
        }))
      ).pipe(Layer.provide(RunStatus.layerMemory))
      yield* addScenario
      const sessions = yield* DurableSessions.practice()
      const ended = yield* Effect.gen(function*() {
        const { sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
        for (const text of Scripts.practiceLearner) {
          yield* sessions.send(ada, sessionId, text)
          stale = 5 // the next sends see turn 0's wait again at first
        }
        return yield* records(sessionId)
      }).pipe(
        Effect.provide(sessions.layer.pipe(Layer.provideMerge(Layer.merge(WorkflowEngine.layerMemory, StaleStatus))))
      )
      assert.strictEqual(ended.session.endReason, "objective-met")
      assert.deepStrictEqual(
        ended.messages.filter((m) => m.role === "user").map((m) => m.text),
        [...Scripts.practiceLearner]
      )
    }).pipe(Effect.provide(Layer.merge(SessionStore.layerMemory, durableModel))))

  it.live("the learner ends the session: reason user, the same end message", () =>
    Effect.gen(function*() {
      yield* addScenario
      const sessions = yield* DurableSessions.practice()
      const ended = yield* Effect.gen(function*() {
        const { sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
        yield* sessions.send(ada, sessionId, Scripts.practiceLearner[0])
        return yield* sessions.end(ada, sessionId)
      }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
      assert.strictEqual(ended.endReason, "user")
      assert.strictEqual(ended.endMessage, Practice.defaultEndMessages.user)
    }).pipe(Effect.provide(Layer.merge(SessionStore.layerMemory, durableModel))))

  it.live("bad input gets typed errors: options, principal, scenario, text, unknown session", () =>
    Effect.gen(function*() {
      yield* addScenario
      const badOptions = yield* Effect.flip(DurableSessions.practice({ turnsPerExecution: 0 }))
      assert.strictEqual(badOptions.path, "turnsPerExecution")
      assert.strictEqual(
        (yield* Effect.flip(DurableSessions.practice({ maxTurns: Number.NaN }))).path,
        "maxTurns"
      )
      const sessions = yield* DurableSessions.practice({ sendTimeout: "5 seconds" })
      yield* Effect.gen(function*() {
        const principal = yield* Effect.flip(sessions.start({ userId: 1n }, Scripts.practiceScenario.id))
        assert.strictEqual(principal._tag, "InvalidInput")
        const scenario = yield* Effect.flip(sessions.start(ada, "no-such-scenario"))
        assert.strictEqual(scenario._tag, "ScenarioNotFound")
        const { sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
        const empty = yield* Effect.flip(sessions.send(ada, sessionId, "   "))
        assert.strictEqual(empty._tag, "InvalidInput")
        const notText = yield* Effect.flip(sessions.send(ada, sessionId, { __proto__: { text: "x" } }))
        assert.strictEqual(notText._tag, "InvalidInput")
        // another learner cannot write to (or end) Ada's session
        const grace = { userId: "grace", role: "learner", tenant: "default" }
        assert.strictEqual((yield* Effect.flip(sessions.send(grace, sessionId, "hello")))._tag, "SessionNotFound")
        assert.strictEqual((yield* Effect.flip(sessions.end(grace, sessionId)))._tag, "SessionNotFound")
        assert.strictEqual((yield* Effect.flip(sessions.send({ userId: 1 }, sessionId, "hello")))._tag, "InvalidInput")
        const unknown = yield* Effect.flip(sessions.send(ada, "no-such-session", "hello"))
        assert.strictEqual(unknown._tag, "RunNotFound")
        // an id with the engine's key separator cannot reach another run
        const separator = yield* Effect.flip(sessions.send(ada, `${sessionId}\u001f1`, "hello"))
        assert.strictEqual(separator._tag, "InvalidInput")
        assert.strictEqual((yield* Effect.flip(sessions.result("")))._tag, "InvalidInput")
        // fuzzed principals, scenario ids and (non-text) messages: typed errors, never a defect
        const hostile = fc.anything({ withBigInt: true, withNullPrototype: true, withObjectString: true, maxDepth: 4 })
        for (const [principal, scenarioId] of fc.sample(fc.tuple(hostile, hostile), 40)) {
          const exit = yield* Effect.exit(sessions.start(principal, scenarioId))
          assert.isFalse(Exit.isFailure(exit) && Cause.isDie(exit.cause), String(exit))
        }
        for (const text of fc.sample(hostile.filter((x) => typeof x !== "string"), 40)) {
          const exit = yield* Effect.exit(sessions.send(ada, sessionId, text))
          assert.isTrue(Exit.isFailure(exit) && !Cause.isDie(exit.cause), String(exit))
        }
        const cyclic: Record<string, unknown> = {}
        cyclic.self = cyclic
        assert.strictEqual((yield* Effect.flip(sessions.start(cyclic, cyclic)))._tag, "InvalidInput")
      }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
    }).pipe(Effect.provide(Layer.merge(SessionStore.layerMemory, durableModel))))
})

/** Lets the engine's fibers run (no time passes under TestClock). */
const settle = Effect.repeatN(Effect.yieldNow(), 300)

describe("DurableSessions.practice idle timeout (TestClock)", () => {
  it.effect("the idle timeout is a durable sleep raced with the learner's message: past it, idle-timeout", () =>
    Effect.gen(function*() {
      yield* addScenario
      const sessions = yield* DurableSessions.practice({ idleTimeout: "15 minutes" })
      yield* Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const { sessionId } = yield* sessions.start(ada, Scripts.practiceScenario.id)
        yield* settle
        const opened = yield* sessions.currentRun(sessionId)
        assert.strictEqual(opened._tag, "Suspended")
        if (opened._tag === "Suspended") assert.include(opened.waitingOn, "signal:turn-0")
        yield* TestClock.adjust("14 minutes")
        yield* settle
        assert.strictEqual((yield* store.getSession(ada, sessionId)).status, "active")
        yield* TestClock.adjust("1 minute")
        yield* settle
        const ended = yield* store.getSession(ada, sessionId)
        assert.strictEqual(ended.endReason, "idle-timeout")
        assert.strictEqual(ended.endMessage, Practice.defaultEndMessages["idle-timeout"])
        const status = yield* sessions.currentRun(sessionId)
        assert.strictEqual(status._tag, "Complete")
        if (status._tag === "Complete") assert.isTrue(Exit.isSuccess(status.exit))
      }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
    }).pipe(Effect.provide(Layer.merge(SessionStore.layerMemory, durableModel))))
})

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const tsx = join(root, "node_modules", ".bin", "tsx")
const fixture = join(root, "packages", "durable", "test", "fixtures", "session-process.ts")

const killedRun = async (killPoint?: string) => {
  const dir = mkdtempSync(join(tmpdir(), "braid-durable-sessions-"))
  const log = join(dir, "calls.log")
  const args = [fixture, join(dir, "engine.db"), join(dir, "sessions.db"), log]
  const killed = await runProcess(tsx, [...args, "first", ...(killPoint ? [killPoint] : [])], {
    cwd: root,
    timeout: 120_000
  })
  // tsx reports its child's SIGKILL as exit status 137 (128 + 9)
  assert.isTrue(
    killed.signal === "SIGKILL" || killed.status === 137,
    `not killed (${killed.status}, ${killed.signal}): ${killed.stderr}`
  )
  const before = readFileSync(log, "utf8").trim().split("\n")
  const resumed = await runProcess(tsx, [...args, "rest"], { cwd: root, timeout: 120_000 })
  assert.strictEqual(resumed.status, 0, resumed.stderr)
  const result = JSON.parse(/RESULT (.*)/.exec(resumed.stdout)![1]!)
  assert.strictEqual(result.endReason, "objective-met")
  const messages: ReadonlyArray<{ role: string; text: string; seq: number }> = result.messages
  assert.deepStrictEqual(messages.filter((m) => m.role === "user").map((m) => m.text), Scripts.practiceLearner)
  // each turn written once: opening + 3 x (learner, reply), in order
  assert.deepStrictEqual(
    messages.map((m) => m.role),
    ["assistant", "user", "assistant", "user", "assistant", "user", "assistant"]
  )
  assert.deepStrictEqual(messages.map((m) => m.seq), messages.map((_, i) => i))
  return { before, calls: readFileSync(log, "utf8").trim().split("\n") }
}

describe("DurableSessions.practice on SQLite across a SIGKILL", () => {
  it("killed between two learner messages, restarted: it completes, each model call made once", async () => {
    const { before, calls } = await killedRun()
    // before the kill: the opening reply, the reply to message 1 and its objective check
    assert.strictEqual(before.length, 3, before.join("\n"))
    // opening + 3 replies + 3 objective checks, each answered by the model exactly once
    assert.strictEqual(calls.length, 7, calls.join("\n"))
    assert.strictEqual(new Set(calls).size, 7, calls.join("\n"))
  }, 240_000)

  it("killed inside a model call, restarted: that call made twice (at least once), every other once", async () => {
    const { before, calls } = await killedRun("during-reply")
    assert.strictEqual(before.length, 2, before.join("\n"))
    assert.strictEqual(new Set(calls).size, 7, calls.join("\n"))
    assert.strictEqual(calls.length, 8, calls.join("\n"))
    const twice = calls.filter((c) => c === before[1])
    assert.strictEqual(twice.length, 2)
  }, 240_000)
})
