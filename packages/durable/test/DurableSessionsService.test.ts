/**
 * Durable practice sessions as the `Practice` service (`DurableSessions.layerPractice`): a whole
 * session end to end on the in-memory engine and on the SQLite engine (the events once each, in
 * order, with stable ids; the evaluation; practice again), the session cap shared across two
 * service instances ("processes") over one store and one lock, and the queue admitted as slots free.
 */
import type { RunStatus } from "@braid/durable"
import { Durable, DurableModel } from "@braid/durable"
import * as DurableSessions from "@braid/durable/DurableSessions"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus, Lock } from "@braid/messaging"
import { Practice, Scripts, SessionEvents, SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import type { WorkflowEngine } from "@effect/workflow"
import { Cause, Context, Effect, Either, FastCheck as fc, Layer, Option, Ref, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const teacher = { userId: "tess", role: "teacher", tenant: "default" } as const
const ada = { userId: "ada", role: "learner", tenant: "default" } as const

/** The scripted practice model, journaled, metered above the journal (as an app would run it). */
const durableModel = Metered.fromProvider(
  Effect.map(ScriptedLanguageModel.provider(Scripts.practice), DurableModel.provider)
)

const addScenario = (overrides: Record<string, unknown> = {}) =>
  Effect.flatMap(
    SessionStore.SessionStore,
    (store) => store.putScenario(teacher, { ...Scripts.practiceScenario, ...overrides }, 0)
  )

/** The service on `engine`, with a store, a lock, a bus and the model. */
const serviceOn = (
  engine: Layer.Layer<WorkflowEngine.WorkflowEngine | RunStatus.RunStatusStore, unknown>,
  options: DurableSessions.ServiceOptions = {}
) =>
  DurableSessions.layerPractice({ evaluation: { pollInterval: "100 millis" }, ...options }).pipe(
    Layer.provideMerge(Layer.mergeAll(engine, Lock.layerMemory, SessionStore.layerMemory, EventBus.layerMemory)),
    Layer.provide(durableModel)
  )

/** Collects every session event. */
const recordEvents = Effect.gen(function*() {
  const events = yield* Ref.make<ReadonlyArray<SessionEvents.Event>>([])
  yield* EventBus.subscribe(SessionEvents.sessions, (e) => Ref.update(events, (all) => [...all, e]))
  return events
})

/** Waits (bounded) until `done` holds of the recorded events. */
const until = (
  events: Ref.Ref<ReadonlyArray<SessionEvents.Event>>,
  done: (all: ReadonlyArray<SessionEvents.Event>) => boolean
) =>
  Effect.gen(function*() {
    while (!done(yield* Ref.get(events))) yield* Effect.sleep("20 millis")
    return yield* Ref.get(events)
  }).pipe(Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("the events did not arrive") }))

/** A whole session through the service: opening, three learner messages, the objective met, the evaluation. */
const wholeSession = Effect.gen(function*() {
  yield* addScenario()
  const events = yield* recordEvents
  const practice = yield* Practice.Practice
  const started = yield* practice.start(ada, Scripts.practiceScenario.id)
  assert.strictEqual(started.position, 0)
  assert.strictEqual(started.session.status, "active")
  assert.isDefined(started.opening, "the AI speaks first: the opening reply comes with the start")
  const sessionId = started.session.id
  const turns = []
  for (const text of Scripts.practiceLearner) turns.push(yield* practice.send(ada, sessionId, text))
  assert.deepStrictEqual(turns.map((t) => t.message.text), [...Scripts.practiceLearner])
  for (const t of turns) assert.isDefined(t.reply)
  const last = turns[turns.length - 1]!
  assert.strictEqual(last.session.status, "completed")
  assert.strictEqual(last.session.endReason, "objective-met")
  // a send after the end
  const after = yield* Effect.either(practice.send(ada, sessionId, "one more thing"))
  assert.isTrue(Either.isLeft(after) && after.left._tag === "SessionCompleted")

  const job = yield* practice.evaluation!.settled(ada, sessionId, { interval: "50 millis", timeout: "60 seconds" })
  assert.strictEqual(job?.status, "completed")

  const all = yield* until(events, (es) => es.some((e) => e._tag === "EvaluationReady"))
  yield* Effect.sleep("200 millis") // anything published twice would arrive meanwhile
  const mine = (yield* Ref.get(events)).filter((e) => e.sessionId === sessionId)
  const whole = mine.filter((e) => e._tag !== "AiTurnDelta")
  assert.deepStrictEqual(whole.map((e) => e._tag), [
    "SessionStarted",
    "AiTurn",
    "LearnerMessage",
    "AiTurn",
    "LearnerMessage",
    "AiTurn",
    "LearnerMessage",
    "AiTurn",
    "SessionEnded",
    "EvaluationReady"
  ])
  assert.strictEqual(new Set(mine.map((e) => e.eventId)).size, mine.length, "every event id once")
  const ended = whole.find((e) => e._tag === "SessionEnded")!
  assert.isTrue(ended._tag === "SessionEnded" && ended.reason === "objective-met")
  assert.isTrue(ended._tag === "SessionEnded" && ended.at >= ended.requestedAt)
  // the streamed pieces of each reply add up to the reply (live only: none replayed)
  for (const turn of whole.filter((e): e is SessionEvents.AiTurn => e._tag === "AiTurn")) {
    const pieces = mine.filter((e): e is SessionEvents.AiTurnDelta =>
      e._tag === "AiTurnDelta" && e.turnId === turn.turnId
    )
    assert.strictEqual(pieces.map((p) => p.delta).join("").trim(), turn.text)
  }
  assert.isTrue(all.length > 0)

  // practise again: a new session on the same scenario, linked to this one
  const again = yield* practice.practiceAgain(ada, sessionId)
  assert.strictEqual(again.session.previousSessionId, sessionId)
  assert.strictEqual(again.session.scenarioId, Scripts.practiceScenario.id)
  assert.notStrictEqual(again.session.id, sessionId)
  assert.strictEqual(again.session.status, "active")
  const ended2 = yield* practice.end(ada, again.session.id)
  assert.strictEqual(ended2.endReason, "user")
  // an ended session is returned as it is
  assert.strictEqual((yield* practice.end(ada, again.session.id)).endReason, "user")

  const markdown = yield* practice.exportMarkdown(ada, sessionId)
  assert.include(markdown, Scripts.practiceLearner[0]!)
  return sessionId
})

/** Cap 1 active / 1 queued: the second waits, the third is refused; the first ends, the second's run opens. */
const queueAdmission = Effect.gen(function*() {
  yield* addScenario()
  const practice = yield* Practice.Practice
  const grace = { userId: "grace", role: "learner", tenant: "default" } as const
  const alan = { userId: "alan", role: "learner", tenant: "default" } as const
  const first = yield* practice.start(ada, Scripts.practiceScenario.id)
  assert.strictEqual(first.position, 0)
  const second = yield* practice.start(grace, Scripts.practiceScenario.id)
  assert.strictEqual(second.position, 1)
  assert.strictEqual(second.session.status, "queued")
  assert.isUndefined(second.opening)
  const third = yield* Effect.either(practice.start(alan, Scripts.practiceScenario.id))
  assert.isTrue(Either.isLeft(third) && third.left._tag === "AtCapacity")
  const seen = yield* Effect.fork(Stream.runCollect(practice.positions(second.session.id)))
  yield* practice.end(ada, first.session.id)
  const positions = yield* Effect.timeoutFail(seen.await, {
    duration: "60 seconds",
    onTimeout: () => new Error("the queued session was not admitted")
  })
  assert.isTrue(positions._tag === "Success" && [...positions.value].at(-1) === 0)
  // its run opened it (the AI speaks first): the opening reply is there, and it takes a turn
  const turn = yield* practice.send(grace, second.session.id, Scripts.practiceLearner[0]!)
  assert.isDefined(turn.reply)
  assert.strictEqual(turn.message.seq, 1, "after the opening reply (seq 0)")
  yield* practice.end(grace, second.session.id)
})

describe("DurableSessions.layerPractice (the Practice service, durably)", () => {
  it.live(
    "a whole session on the in-memory engine: turns, events once each in order, evaluation, practice again",
    () => Effect.scoped(wholeSession).pipe(Effect.provide(serviceOn(Durable.layerMemory))),
    { timeout: 120_000 }
  )

  it.live("a whole session on the SQLite engine", () => {
    const dir = mkdtempSync(join(tmpdir(), "braid-durable-service-"))
    return Effect.scoped(wholeSession).pipe(
      Effect.provide(serviceOn(SqliteEngine.layer({ filename: join(dir, "engine.db"), pollInterval: "100 millis" })))
    )
  }, { timeout: 180_000 })

  it.live(
    "the queue on the in-memory engine: admitted (its run signalled) when a slot frees",
    () =>
      Effect.scoped(queueAdmission).pipe(
        Effect.provide(
          serviceOn(Durable.layerMemory, { cap: { maxActive: 1, maxQueued: 1 }, positionPoll: "50 millis" })
        )
      ),
    { timeout: 120_000 }
  )

  it.live("the queue on the SQLite engine: admitted (its run signalled) when a slot frees", () => {
    const dir = mkdtempSync(join(tmpdir(), "braid-durable-queue-"))
    return Effect.scoped(queueAdmission).pipe(
      Effect.provide(serviceOn(SqliteEngine.layer({ filename: join(dir, "engine.db"), pollInterval: "100 millis" }), {
        cap: { maxActive: 1, maxQueued: 1 },
        positionPoll: "50 millis"
      }))
    )
  }, { timeout: 180_000 })

  it.live(
    "another user's session is SessionNotFound; bad input is InvalidInput naming the field",
    () =>
      Effect.scoped(Effect.gen(function*() {
        yield* addScenario({ aiSpeaksFirst: false })
        const practice = yield* Practice.Practice
        const { session } = yield* practice.start(ada, Scripts.practiceScenario.id)
        const grace = { userId: "grace", role: "learner", tenant: "default" } as const
        const foreign = yield* Effect.either(practice.send(grace, session.id, "hello"))
        assert.isTrue(Either.isLeft(foreign) && foreign.left._tag === "SessionNotFound")
        const badPrincipal = yield* Effect.either(practice.start({ userId: "" }, Scripts.practiceScenario.id))
        assert.isTrue(Either.isLeft(badPrincipal) && badPrincipal.left._tag === "InvalidInput")
        const badText = yield* Effect.either(practice.send(ada, session.id, "   "))
        assert.isTrue(
          Either.isLeft(badText) && badText.left._tag === "InvalidInput" && badText.left.field === "text"
        )
        const missing = yield* Effect.either(practice.start(ada, "no-such-scenario"))
        assert.isTrue(Either.isLeft(missing) && missing.left._tag === "ScenarioNotFound")
        // start on a scenario with a live session gives that session
        const again = yield* practice.start(ada, Scripts.practiceScenario.id)
        assert.strictEqual(again.session.id, session.id)
        yield* practice.end(ada, session.id)
      })).pipe(Effect.provide(serviceOn(Durable.layerMemory, { evaluation: false }))),
    { timeout: 120_000 }
  )

  it.live(
    "fuzz: any principal, session id and text get a result or a typed error, never a defect",
    () =>
      Effect.scoped(Effect.gen(function*() {
        yield* addScenario({ aiSpeaksFirst: false })
        const practice = yield* Practice.Practice
        const { session } = yield* practice.start(ada, Scripts.practiceScenario.id)
        const inputs = fc.sample(
          fc.tuple(
            fc.oneof(fc.constant(ada), fc.anything(), fc.record({ userId: fc.string(), role: fc.string() })),
            fc.oneof(fc.constant(session.id), fc.string(), fc.anything(), fc.constant("acme~x"), fc.constant("~")),
            fc.oneof(fc.string(), fc.anything())
          ),
          { numRuns: 40, seed: 16 }
        )
        for (const [principal, sessionId, text] of inputs) {
          const calls = [
            practice.send(principal, sessionId, text),
            practice.exportMarkdown(principal, sessionId),
            practice.start(principal, sessionId),
            practice.practiceAgain(principal, sessionId),
            practice.end(principal, sessionId)
          ] as const
          for (const call of calls) {
            const exit = yield* Effect.exit(call as Effect.Effect<unknown, { readonly _tag: string }>)
            if (exit._tag === "Failure") {
              const failure = Cause.failureOption(exit.cause)
              assert.isTrue(Option.isSome(failure), `a typed failure, not ${Cause.pretty(exit.cause)}`)
              if (Option.isSome(failure)) assert.isString(failure.value._tag)
            }
          }
        }
      })).pipe(Effect.provide(serviceOn(Durable.layerMemory, { evaluation: false }))),
    { timeout: 180_000 }
  )

  it("bad options are InvalidInput naming the option", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(serviceOn(Durable.layerMemory, { cap: { maxActive: -1 } })))
      assert.isTrue(exit._tag === "Failure")
      assert.include(String(exit._tag === "Failure" ? exit.cause : ""), "cap.maxActive")
    }).pipe(Effect.scoped, Effect.runPromise))
})

/** A store whose `countLive` takes a while: admissions that are not atomic would over-admit. */
const slowCount = Layer.effect(
  SessionStore.SessionStore,
  Effect.map(SessionStore.SessionStore, (store) => ({
    ...store,
    countLive: (principal: SessionStore.Principal) =>
      Effect.zipLeft(store.countLive(principal), Effect.sleep("5 millis"))
  }))
).pipe(Layer.provide(SessionStore.layerMemory))

describe("DurableSessions.layerPractice: the session cap across processes", () => {
  const learners = Array.from(
    { length: 30 },
    (_, i) => ({ userId: `learner-${i}`, role: "learner", tenant: "default" })
  )

  /**
   * Two service instances ("processes") over one store, one engine and one lock store (or one
   * lock store each, `sharedLock: false`), each with the cap 20 active / 5 queued.
   */
  const twoProcesses = (sharedLock: boolean) =>
    Effect.gen(function*() {
      const shared = yield* Layer.build(
        Layer.mergeAll(Durable.layerMemory, slowCount, EventBus.layerMemory, durableModel)
      )
      const lockA = yield* Layer.build(Lock.layerMemory)
      const lockB = sharedLock ? lockA : yield* Layer.build(Lock.layerMemory)
      const service = (lock: typeof lockA) =>
        Effect.map(
          Layer.build(
            DurableSessions.layerPractice({
              cap: { maxActive: 20, maxQueued: 5 },
              evaluation: false,
              positionPoll: "50 millis"
            })
          ).pipe(Effect.provide(shared), Effect.provide(lock)),
          (ctx) => Context.get(ctx, Practice.Practice)
        )
      const a = yield* service(lockA)
      const b = yield* service(lockB)
      yield* addScenario({ aiSpeaksFirst: false }).pipe(Effect.provide(shared))
      return { a, b, shared }
    })

  it.live(
    "30 concurrent starts on two processes, cap 20/5: 20 active, 5 queued, 5 AtCapacity; the queue is admitted as slots free",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const { a, b, shared } = yield* twoProcesses(true)
        const results = yield* Effect.all(
          learners.map((l, i) => Effect.either((i % 2 === 0 ? a : b).start(l, Scripts.practiceScenario.id))),
          { concurrency: "unbounded" }
        )
        const active = results.filter((r) => Either.isRight(r) && r.right.position === 0)
        const queued = results.filter((r) => Either.isRight(r) && r.right.position > 0)
        const refused = results.filter((r) => Either.isLeft(r))
        assert.strictEqual(active.length, 20)
        assert.strictEqual(queued.length, 5)
        assert.strictEqual(refused.length, 5)
        for (const r of refused) assert.isTrue(Either.isLeft(r) && r.left._tag === "AtCapacity")
        const store = yield* Effect.provide(SessionStore.SessionStore, shared)
        assert.deepStrictEqual(yield* store.countLive(SessionStore.system("default")), { active: 20, queued: 5 })

        // the queue, oldest first: positions 1..5 (from either process)
        const queuedIds = queued.map((r) => Either.isRight(r) ? r.right.session.id : "")
        const positions = yield* Effect.forEach(queuedIds, (id) => b.cap.position(id))
        assert.deepStrictEqual([...positions].sort(), [1, 2, 3, 4, 5])
        const head = queuedIds[positions.indexOf(1)]!
        const second = queuedIds[positions.indexOf(2)]!
        const headOwner = learners[results.findIndex((r) => Either.isRight(r) && r.right.session.id === head)]!
        // a queued session cannot take a message yet
        const early = yield* Effect.either(a.send(headOwner, head, "hello?"))
        assert.isTrue(Either.isLeft(early) && early.left._tag === "InvalidInput")

        // one active session ends (on process a): the head of the queue becomes active, its run opens
        const watch = yield* Effect.fork(Stream.runCollect(b.positions(second)))
        const firstActive = active[0]!
        const owner = learners[results.indexOf(firstActive)]!
        yield* a.end(owner, Either.isRight(firstActive) ? firstActive.right.session.id : "")
        const admitted = yield* Effect.gen(function*() {
          while ((yield* b.cap.position(head)) !== 0) yield* Effect.sleep("20 millis")
        }).pipe(Effect.timeout("60 seconds"), Effect.either)
        assert.isTrue(Either.isRight(admitted), "the head of the queue was admitted")
        assert.strictEqual(yield* a.cap.position(second), 1)
        const turn = yield* b.send(headOwner, head, Scripts.practiceLearner[0]!)
        assert.isDefined(turn.reply)
        assert.deepStrictEqual(yield* store.countLive(SessionStore.system("default")), { active: 20, queued: 4 })

        // a queued session the learner ends leaves the queue
        const secondOwner = learners[results.findIndex((r) => Either.isRight(r) && r.right.session.id === second)]!
        const gone = yield* b.end(secondOwner, second)
        assert.strictEqual(gone.status, "completed")
        assert.strictEqual(gone.endReason, "user")
        assert.strictEqual(yield* a.cap.position(second), undefined)
        const seen = yield* Effect.timeout(watch.await, "30 seconds")
        assert.isTrue(seen._tag === "Success")
        assert.deepStrictEqual(yield* store.countLive(SessionStore.system("default")), { active: 20, queued: 3 })
      })),
    { timeout: 180_000 }
  )

  it.live(
    "without one shared lock the two processes over-admit (the lock is what makes admission atomic)",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const { a, b, shared } = yield* twoProcesses(false)
        yield* Effect.all(
          learners.map((l, i) => Effect.either((i % 2 === 0 ? a : b).start(l, Scripts.practiceScenario.id))),
          { concurrency: "unbounded" }
        )
        const store = yield* Effect.provide(SessionStore.SessionStore, shared)
        const live = yield* store.countLive(SessionStore.system("default"))
        assert.isTrue(live.active > 20 || live.active + live.queued > 25, `over-admitted: ${JSON.stringify(live)}`)
      })),
    { timeout: 180_000 }
  )
})
