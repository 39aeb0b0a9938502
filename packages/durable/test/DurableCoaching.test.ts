/**
 * Durable coaching sessions: the same store records and coaching events as a live
 * `Coaching.open` session for the same script; the idle timeout as a durable sleep (TestClock);
 * a restart on the SQLite engine (the engine closed and reopened on its file) that resumes the
 * session, answers the next message and makes no completed model call again; ownership; bad input.
 */
import { WorkflowContext } from "@braid/core"
import { Durable, DurableModel } from "@braid/durable"
import * as DurableCoaching from "@braid/durable/DurableCoaching"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { Ai, Errors as LlmErrors, Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import { Coaching, Samples, Scripts, SessionEvents, SessionStore, Transcript } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Context,
  Deferred,
  Effect,
  Exit,
  FastCheck as fc,
  Layer,
  ManagedRuntime,
  Ref,
  Stream,
  TestClock
} from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const ada = { userId: "ada", role: "learner", tenant: "default" } as const
const morning = Samples.coachingDay.morning

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
        title: session.title,
        userId: session.userId,
        messages: session.totals.messages,
        costUsd: session.totals.costUsd
      },
      messages: messages.map((m) => ({
        seq: m.seq,
        role: m.role,
        text: m.text,
        fallback: m.fallback,
        inputTokens: m.inputTokens,
        outputTokens: m.outputTokens,
        estimated: m.estimated,
        costUsd: m.costUsd,
        model: m.model
      })),
      // a message and its reply share one turn
      turns: messages.map((m) => messages.findIndex((x) => x.turnId === m.turnId))
    }
  })

/** Every session and coaching event published while `self` runs, in order of publication. */
const collectingEvents = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<SessionEvents.Event>>([])
    const drained = yield* Deferred.make<void>()
    yield* EventBus.subscribe(EventBus.channel("*.*.*", SessionEvents.Event), (e) =>
      Ref.update(seen, (xs) => [...xs, e]), {
      onInvalid: (e) =>
        e.channel === "test.collect.drained" ? Deferred.succeed(drained, void 0) : Effect.void
    })
    const out = yield* self
    yield* EventBus.publishEncoded("test.collect.drained", "end")
    yield* Deferred.await(drained)
    return { out, events: yield* Ref.get(seen) }
  }))

/** An event without its ids and times. */
const shape = (e: SessionEvents.Event) => {
  const { at: _at, conversationId: _c, eventId: _id, requestedAt: _r, sessionId: _s, durationMs: _d, ...rest } =
    e as unknown as Record<string, unknown>
  return rest
}

/** The scripted coach, counting the calls it answers. */
const countingModel = (calls: { n: number; texts: Array<string> }) =>
  Effect.map(ScriptedLanguageModel.provider(Scripts.coaching), (p): Ai.Provider => ({
    ...p,
    generateText: (options) =>
      Effect.tap(p.generateText(options), () =>
        Effect.sync(() => {
          calls.n++
          calls.texts.push(Ai.lastUserText(options.prompt) ?? "")
        })),
    streamText: (options) =>
      Stream.concat(
        p.streamText(options),
        Stream.drain(Stream.fromEffect(Effect.sync(() => {
          calls.n++
          calls.texts.push(Ai.lastUserText(options.prompt) ?? "")
        })))
      )
  }))

/** The scripted coach, journaled, metered above the journal (as an app would run it). */
const durableModel = Metered.fromProvider(
  Effect.map(ScriptedLanguageModel.provider(Scripts.coaching), DurableModel.provider)
)

describe("DurableCoaching.coaching on the in-memory engine", () => {
  it.live("gives the same store records and coaching events as a live Coaching.open session for the same script", () =>
    Effect.gen(function*() {
      const plain = yield* collectingEvents(Effect.scoped(Effect.gen(function*() {
        const live = yield* Coaching.make().open({ profile: Samples.adaProfile, sessionId: "plain-1" })
        for (const text of morning) yield* live.send(text)
        return yield* records("plain-1")
      }))).pipe(
        Effect.provide(Layer.mergeAll(
          SessionStore.layerMemory,
          EventBus.layerMemory,
          WorkflowContext.layer({ userId: "ada" }),
          Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.coaching))
        ))
      )
      assert.strictEqual(plain.out.session.endReason, "objective-met")

      const durable = yield* collectingEvents(Effect.gen(function*() {
        const sessions = yield* DurableCoaching.coaching({ turnsPerExecution: 2 })
        return yield* Effect.gen(function*() {
          const { runId, sessionId } = yield* sessions.start(ada, { profile: Samples.adaProfile })
          const turns = []
          for (const text of morning) turns.push(yield* sessions.send(ada, sessionId, text))
          assert.strictEqual(turns[0]!.reply?.role, "assistant")
          assert.strictEqual(turns[2]!.session.endReason, "objective-met")
          const ended = yield* sessions.result(sessionId)
          assert.strictEqual(ended.status, "completed")
          // three turns with two per execution: the session carried on in a second execution
          assert.strictEqual((yield* sessions.workflow.status(runId))._tag, "Continued")
          const late = yield* Effect.flip(sessions.send(ada, sessionId, "are you still there?"))
          assert.strictEqual(late._tag, "SessionCompleted")
          return { sessionId, records: yield* records(sessionId) }
        }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
      })).pipe(Effect.provide(Layer.mergeAll(SessionStore.layerMemory, EventBus.layerMemory, durableModel)))

      assert.deepStrictEqual(durable.out.records, plain.out)
      // the same events in the same order, with stable ids from the journaled steps
      assert.deepStrictEqual(durable.events.map(shape), plain.events.map(shape))
      assert.deepStrictEqual(durable.events.map((e) => e._tag), [
        "SessionStarted",
        "CoachingUserMessage",
        "CoachingAgentResponse",
        "CoachingUserMessage",
        "CoachingAgentResponse",
        "CoachingUserMessage",
        "CoachingAgentResponse",
        "GoalsSet",
        "SessionEnded"
      ])
      const id = durable.out.sessionId
      assert.deepStrictEqual(durable.events.map((e) => e.eventId), [
        `${id}:started`,
        `${id}:0:user`,
        `${id}:0:reply`,
        `${id}:1:user`,
        `${id}:1:reply`,
        `${id}:2:user`,
        `${id}:2:reply`,
        `${id}:2:goals`,
        `${id}:ended`
      ])
    }))

  it.live("a model outage: the same fallback replies, error log, outage end and events as a live session", () =>
    Effect.gen(function*() {
      const down: ScriptedLanguageModel.Options = {
        ...Scripts.coaching,
        failures: [{ calls: [0, 1, 2, 3], error: new LlmErrors.AuthenticationFailed({ message: "invalid x-api-key" }) }]
      }
      const errorsOf = (sessionId: string) =>
        Effect.map(
          Effect.flatMap(SessionStore.SessionStore, (store) => store.recentErrors(SessionStore.system("default"))),
          (errors) =>
            errors.filter((e) => e.sessionId === sessionId).map((e) => [e.severity, e.source, e.message]).sort()
        )
      const plain = yield* collectingEvents(Effect.scoped(Effect.gen(function*() {
        const live = yield* Coaching.make({ outageAfter: 2 }).open({
          profile: Samples.adaProfile,
          sessionId: "plain-2"
        })
        for (const text of morning.slice(0, 2)) yield* live.send(text)
        return { records: yield* records("plain-2"), errors: yield* errorsOf("plain-2") }
      }))).pipe(
        Effect.provide(Layer.mergeAll(
          SessionStore.layerMemory,
          EventBus.layerMemory,
          WorkflowContext.layer({ userId: "ada" }),
          Metered.fromProvider(ScriptedLanguageModel.provider(down))
        ))
      )
      assert.strictEqual(plain.out.records.session.endReason, "model-outage")
      assert.strictEqual(plain.out.errors.length, 3)

      const durable = yield* collectingEvents(Effect.gen(function*() {
        const sessions = yield* DurableCoaching.coaching({ outageAfter: 2 })
        return yield* Effect.gen(function*() {
          const { sessionId } = yield* sessions.start(ada, { profile: Samples.adaProfile })
          const turn = yield* sessions.send(ada, sessionId, morning[0])
          assert.isTrue(turn.reply?.fallback)
          const last = yield* sessions.send(ada, sessionId, morning[1])
          assert.strictEqual(last.session.endReason, "model-outage")
          return { records: yield* records(sessionId), errors: yield* errorsOf(sessionId) }
        }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
      })).pipe(
        Effect.provide(Layer.mergeAll(
          SessionStore.layerMemory,
          EventBus.layerMemory,
          Metered.fromProvider(Effect.map(ScriptedLanguageModel.provider(down), DurableModel.provider))
        ))
      )
      assert.deepStrictEqual(durable.out, plain.out)
      assert.strictEqual(durable.out.records.session.endMessage, Coaching.defaultOutageMessage)
      assert.deepStrictEqual(durable.events.map(shape), plain.events.map(shape))
    }))

  it.live("the user ends the session (an explicit end, or /end): reason user, as a live session", () =>
    Effect.gen(function*() {
      const sessions = yield* DurableCoaching.coaching()
      yield* Effect.gen(function*() {
        const first = yield* sessions.start(ada, { profile: Samples.adaProfile, phase: "evening" })
        yield* sessions.send(ada, first.sessionId, Samples.coachingDay.evening[0])
        const ended = yield* sessions.end(ada, first.sessionId)
        assert.strictEqual(ended.endReason, "user")
        assert.strictEqual(ended.title, "coaching: evening")
        assert.strictEqual(ended.totals.messages, 2)
        const second = yield* sessions.start(ada, { profile: Samples.adaProfile })
        const slash = yield* Effect.flip(sessions.send(ada, second.sessionId, "/end thanks"))
        assert.strictEqual(slash._tag, "SessionCompleted")
        const stored = yield* sessions.result(second.sessionId)
        assert.strictEqual(stored.endReason, "user")
        assert.strictEqual(stored.totals.messages, 0)
      }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
    }).pipe(Effect.provide(Layer.merge(SessionStore.layerMemory, durableModel))))

  it.live("bad input gets typed errors: options, principal, profile, text; another user's session is SessionNotFound", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        (yield* Effect.flip(DurableCoaching.coaching({ turnsPerExecution: 0 }))).path,
        "turnsPerExecution"
      )
      assert.strictEqual((yield* Effect.flip(DurableCoaching.coaching({ outageAfter: 1.5 }))).path, "outageAfter")
      assert.strictEqual((yield* Effect.flip(DurableCoaching.coaching({ turnLimit: -1 }))).path, "turnLimit")
      assert.strictEqual(
        (yield* Effect.flip(DurableCoaching.coaching({ sessionBudgetUsd: Number.NaN }))).path,
        "sessionBudgetUsd"
      )
      assert.strictEqual(
        (yield* Effect.flip(DurableCoaching.coaching({ idleTimeout: "soon" as never }))).path,
        "idleTimeout"
      )
      const sessions = yield* DurableCoaching.coaching({ sendTimeout: "5 seconds" })
      yield* Effect.gen(function*() {
        const principal = yield* Effect.flip(sessions.start({ userId: 1n }, { profile: Samples.adaProfile }))
        assert.strictEqual(principal._tag, "InvalidInput")
        const noProfile = yield* Effect.flip(sessions.start(ada, { profile: { name: "Ada" } }))
        assert.strictEqual("field" in noProfile && noProfile.field, "profile")
        const badPhase = yield* Effect.flip(sessions.start(ada, { profile: Samples.adaProfile, phase: "noon" }))
        assert.strictEqual("field" in badPhase && badPhase.field, "input")
        // a session is the caller's: a profile of another user is refused
        const grace = { userId: "grace", role: "learner", tenant: "default" }
        const notMine = yield* Effect.flip(sessions.start(grace, { profile: Samples.adaProfile }))
        assert.strictEqual("field" in notMine && notMine.field, "profile.userId")

        const { sessionId } = yield* sessions.start(ada, { profile: Samples.adaProfile })
        assert.strictEqual((yield* Effect.flip(sessions.send(ada, sessionId, "   ")))._tag, "InvalidInput")
        assert.strictEqual((yield* Effect.flip(sessions.send(ada, sessionId, "x".repeat(4001))))._tag, "InvalidInput")
        // another user cannot write to (or end) Ada's session
        assert.strictEqual((yield* Effect.flip(sessions.send(grace, sessionId, "hello")))._tag, "SessionNotFound")
        assert.strictEqual((yield* Effect.flip(sessions.end(grace, sessionId)))._tag, "SessionNotFound")
        assert.strictEqual((yield* Effect.flip(sessions.send(ada, "no-such-session", "hello")))._tag, "RunNotFound")
        assert.strictEqual(
          (yield* Effect.flip(sessions.send(ada, `${sessionId}\u001f1`, "hello")))._tag,
          "InvalidInput"
        )
        assert.strictEqual((yield* Effect.flip(sessions.result("")))._tag, "InvalidInput")
        // Ada's session is untouched by all that
        const store = yield* SessionStore.SessionStore
        assert.strictEqual((yield* store.getSession(ada, sessionId)).totals.messages, 0)
        // fuzzed principals, inputs and (non-text) messages: typed errors, never a defect
        const hostile = fc.anything({ withBigInt: true, withNullPrototype: true, withObjectString: true, maxDepth: 4 })
        for (const [principal, input] of fc.sample(fc.tuple(hostile, hostile), 40)) {
          const exit = yield* Effect.exit(sessions.start(principal, input))
          assert.isFalse(Exit.isFailure(exit) && Cause.isDie(exit.cause), String(exit))
        }
        for (const profile of fc.sample(hostile, 40)) {
          const exit = yield* Effect.exit(sessions.start(ada, { profile }))
          assert.isTrue(Exit.isFailure(exit) && !Cause.isDie(exit.cause), String(exit))
        }
        for (const text of fc.sample(hostile.filter((x) => typeof x !== "string"), 40)) {
          const exit = yield* Effect.exit(sessions.send(ada, sessionId, text))
          assert.isTrue(Exit.isFailure(exit) && !Cause.isDie(exit.cause), String(exit))
        }
      }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
    }).pipe(Effect.provide(Layer.merge(SessionStore.layerMemory, durableModel))))
})

/** Lets the engine's fibers run (no time passes under TestClock). */
const settle = Effect.repeatN(Effect.yieldNow(), 300)

describe("DurableCoaching.coaching idle timeout (TestClock)", () => {
  it.effect("the idle timeout is a durable sleep raced with the user's message: past it, idle-timeout", () =>
    Effect.gen(function*() {
      const sessions = yield* DurableCoaching.coaching({ idleTimeout: "15 minutes" })
      yield* Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const { sessionId } = yield* sessions.start(ada, { profile: Samples.adaProfile })
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
        assert.strictEqual(ended.status, "completed")
        assert.strictEqual(ended.endReason, "idle-timeout")
        const status = yield* sessions.currentRun(sessionId)
        assert.strictEqual(status._tag, "Complete")
        if (status._tag === "Complete") assert.isTrue(Exit.isSuccess(status.exit))
      }).pipe(Effect.provide(sessions.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
    }).pipe(Effect.provide(Layer.merge(SessionStore.layerMemory, durableModel))))
})

describe("DurableCoaching.coaching on SQLite across a restart", () => {
  it.live(
    "the engine closed and reopened on its file: the session resumes, the next message is answered, no model call is made twice",
    () =>
      Effect.gen(function*() {
        const filename = join(mkdtempSync(join(tmpdir(), "braid-durable-coaching-")), "engine.db")
        const calls = { n: 0, texts: [] as Array<string> }
        // one store and one bus for both runners (they outlive the engine); the model counts its calls
        const store = yield* Effect.provide(SessionStore.SessionStore, SessionStore.layerMemory)
        const bus = Context.get(yield* Layer.build(EventBus.layerMemory), EventBus.EventBus)
        const model = Metered.fromProvider(Effect.map(countingModel(calls), DurableModel.provider))
        const sessions = yield* DurableCoaching.coaching({ turnsPerExecution: 5 })
        const open = () =>
          ManagedRuntime.make(
            sessions.layer.pipe(
              Layer.provideMerge(SqliteEngine.layer({ filename, pollInterval: "200 millis" })),
              Layer.provideMerge(Layer.mergeAll(
                Layer.succeed(SessionStore.SessionStore, store),
                Layer.succeed(EventBus.EventBus, bus),
                model
              ))
            )
          )

        const { events, out: { ended, sessionId } } = yield* collectingEvents(Effect.gen(function*() {
          const first = open()
          const { sessionId } = yield* Effect.promise(() =>
            first.runPromise(Effect.gen(function*() {
              const started = yield* sessions.start(ada, { profile: Samples.adaProfile })
              const turn = yield* sessions.send(ada, started.sessionId, morning[0])
              assert.strictEqual(turn.reply?.role, "assistant")
              return started
            }))
          )
          yield* Effect.promise(() => first.dispose())
          assert.strictEqual(calls.n, 1)

          const second = open()
          const ended = yield* Effect.promise(() =>
            second.runPromise(Effect.gen(function*() {
              const turn = yield* sessions.send(ada, sessionId, morning[1])
              assert.strictEqual(turn.message.text, morning[1])
              assert.strictEqual(turn.reply?.role, "assistant")
              yield* sessions.send(ada, sessionId, morning[2])
              return yield* sessions.result(sessionId)
            }))
          )
          yield* Effect.promise(() => second.dispose())
          return { ended, sessionId }
        })).pipe(Effect.provideService(EventBus.EventBus, bus))
        assert.strictEqual(ended.endReason, "objective-met")
        // one model call per message: the first message's reply was not asked again on resume
        assert.deepStrictEqual(calls.texts, [...morning])
        // every event published once: the replay after the restart publishes nothing again
        assert.deepStrictEqual(events.map((e) => e.eventId), [
          `${sessionId}:started`,
          `${sessionId}:0:user`,
          `${sessionId}:0:reply`,
          `${sessionId}:1:user`,
          `${sessionId}:1:reply`,
          `${sessionId}:2:user`,
          `${sessionId}:2:reply`,
          `${sessionId}:2:goals`,
          `${sessionId}:ended`
        ])
        const messages = yield* Transcript.messages(ada, sessionId).pipe(
          Effect.provideService(SessionStore.SessionStore, store)
        )
        assert.deepStrictEqual(messages.map((m) => m.role), [
          "user",
          "assistant",
          "user",
          "assistant",
          "user",
          "assistant"
        ])
        assert.deepStrictEqual(messages.map((m) => m.seq), [0, 1, 2, 3, 4, 5])
      }).pipe(Effect.scoped),
    120_000
  )
})
