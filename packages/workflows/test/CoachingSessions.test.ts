import { Agent } from "@braid/agents"
import { Runner, WorkflowContext } from "@braid/core"
import type { ScriptedLanguageModel } from "@braid/llm"
import { Ai, Errors as LlmErrors, Metered, ScriptedLanguageModel as Scripted, Tokens } from "@braid/llm"
import { Memory } from "@braid/memory"
import { EventBus } from "@braid/messaging"
import { EventBusError } from "@braid/messaging/Errors"
import { Admin, Coaching, Errors, Samples, Scripts, SessionEvents, SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Ref, TestClock } from "effect"
import * as fc from "fast-check"

const model = (options: ScriptedLanguageModel.Options = Scripts.coaching) =>
  Metered.fromProvider(Scripted.provider(options))

const isCoach = (p: Ai.Prompt.Prompt) => !Ai.systemText(p).startsWith("You are the observer")

const admin = SessionStore.system("default")

/** Every session and coaching event published while `self` runs, in order of publication. */
const collectingEvents = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<SessionEvents.Event>>([])
    const drained = yield* Deferred.make<void>()
    const all = EventBus.channel("*.*.*", SessionEvents.Event)
    yield* EventBus.subscribe(all, (event) => Ref.update(seen, (xs) => [...xs, event]), {
      // the end marker (not an event): everything published before it has been handled
      onInvalid: (e) => e.channel === "test.collect.drained" ? Deferred.succeed(drained, void 0) : Effect.void
    })
    const out = yield* self
    yield* EventBus.publishEncoded("test.collect.drained", "end")
    yield* Deferred.await(drained)
    return { out, events: yield* Ref.get(seen) }
  }))

const stack = (options?: ScriptedLanguageModel.Options) =>
  Layer.mergeAll(model(options), Memory.layerInMemory(), SessionStore.layerMemory, EventBus.layerMemory)

describe("Coaching on the shared session model", () => {
  it.effect("a day is stored as two coaching sessions with every message, its tokens (the user's estimated), cost, model and turn", () =>
    Effect.gen(function*() {
      const { report, sessions, store } = yield* Effect.gen(function*() {
        const report = yield* Runner.run(Coaching.make().day, Samples.coachingDay, { sessionId: "day-1" })
        const store = yield* SessionStore.SessionStore
        const sessions = yield* store.listSessions(admin, { order: "oldest" })
        return { report, sessions: sessions.items, store }
      }).pipe(Effect.provide(stack()))
      // (both created at TestClock time 0: ordered by id)
      assert.deepStrictEqual(sessions.map((s) => [s.id, s.kind, s.status, s.endReason]), [
        ["day-1:evening", "coaching", "completed", "objective-met"],
        ["day-1:morning", "coaching", "completed", "objective-met"]
      ])
      const morning = sessions[1]!
      assert.strictEqual(morning.userId, "ada")
      assert.strictEqual(morning.tenant, "default")
      assert.isDefined(morning.startedAt)
      assert.strictEqual(morning.durationMs, morning.endedAt! - morning.startedAt!)
      // the store's totals are the report's
      assert.strictEqual(morning.totals.messages, report.morning.totals.messages)
      assert.strictEqual(morning.totals.inputTokens, report.morning.totals.inputTokens)
      assert.strictEqual(morning.totals.outputTokens, report.morning.totals.outputTokens)
      assert.closeTo(morning.totals.costUsd, report.morning.totals.costUsd, 1e-12)

      const messages = (yield* Effect.provideService(
        store.messages({ userId: "ada", role: "learner", tenant: "default" }, "day-1:morning"),
        SessionStore.SessionStore,
        store
      )).items
      assert.deepStrictEqual(messages.map((m) => [m.seq, m.role]), [
        [0, "user"],
        [1, "assistant"],
        [2, "user"],
        [3, "assistant"],
        [4, "user"],
        [5, "assistant"]
      ])
      const [user, reply] = [messages[0]!, messages[1]!]
      assert.strictEqual(user.text, Samples.coachingDay.morning[0])
      assert.strictEqual(user.inputTokens, Tokens.estimate(user.text))
      assert.isTrue(user.estimated)
      assert.strictEqual(user.outputTokens, 0)
      assert.isTrue(reply.inputTokens > 0 && reply.outputTokens > 0 && reply.costUsd > 0)
      assert.isString(reply.model)
      assert.isFalse(reply.fallback)
      assert.strictEqual(user.turnId, reply.turnId) // a message and its reply share one turn
      assert.notStrictEqual(messages[2]!.turnId, user.turnId)
      assert.isTrue(messages.every((m, i) => i === 0 || m.createdAt >= messages[i - 1]!.createdAt))
    }))

  it.effect("the workflow publishes its session and coaching events, with generated ids and times, in order", () =>
    Effect.gen(function*() {
      const { events, out: report } = yield* collectingEvents(
        Runner.run(Coaching.make().day, Samples.coachingDay, { sessionId: "day-2" })
      ).pipe(Effect.provide(stack()))
      const tags = events.map((e) => e._tag)
      const morning = events.filter((e) => e.sessionId === "day-2:morning").map((e) => e._tag)
      assert.deepStrictEqual(morning.filter((t) => t !== "Insight"), [
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
      assert.strictEqual(morning.filter((t) => t === "Insight").length, report.insights.length)
      const evening = events.filter((e) => e.sessionId === "day-2:evening").map((e) => e._tag)
      assert.deepStrictEqual(evening.slice(0, 2), ["SessionStarted", "ReflectionStarted"])
      assert.strictEqual(evening[evening.length - 1], "SessionEnded")
      assert.isTrue(tags.indexOf("ReflectionStarted") > tags.indexOf("GoalsSet"))

      const goals = events.find((e) => e._tag === "GoalsSet")
      assert.deepStrictEqual(goals?._tag === "GoalsSet" && goals.goals, report.goals)
      const reflection = events.find((e) => e._tag === "ReflectionStarted")
      assert.deepStrictEqual(reflection?._tag === "ReflectionStarted" && reflection.goals, report.goals)
      const started = events.find((e) => e._tag === "SessionStarted")
      assert.strictEqual(started?._tag === "SessionStarted" && started.kind, "coaching")
      const firstUser = events.find((e) => e._tag === "CoachingUserMessage")
      assert.strictEqual(firstUser?._tag === "CoachingUserMessage" && firstUser.text, Samples.coachingDay.morning[0])
      assert.strictEqual(firstUser?._tag === "CoachingUserMessage" && firstUser.conversationId, "day-2")
      const ended = events.filter((e) => e._tag === "SessionEnded")
      assert.deepStrictEqual(ended.map((e) => e._tag === "SessionEnded" && e.reason), [
        "objective-met",
        "objective-met"
      ])
      for (const e of ended) assert.isTrue(e._tag === "SessionEnded" && e.at >= e.requestedAt)
      // ids are generated and unique; every event names its tenant and user
      assert.strictEqual(new Set(events.map((e) => e.eventId)).size, events.length)
      assert.isTrue(events.every((e) => e.tenant === "default" && e.userId === "ada" && typeof e.at === "number"))
    }))

  it.effect("a model outage ends the session (model-outage, with its message) after N consecutive failed replies, and goes to the error log", () =>
    Effect.gen(function*() {
      const down: ScriptedLanguageModel.Options = {
        ...Scripts.coaching,
        failures: [{ when: isCoach, error: new LlmErrors.AuthenticationFailed({ message: "invalid x-api-key" }) }]
      }
      const { errors, events, report, stored } = yield* Effect.gen(function*() {
        const { events, out: report } = yield* collectingEvents(
          Runner.run(Coaching.make({ outageAfter: 2 }).day, Samples.coachingDay, { sessionId: "day-3" })
        )
        const store = yield* SessionStore.SessionStore
        return {
          report,
          events,
          stored: yield* store.getSession(admin, "day-3:morning"),
          errors: yield* store.recentErrors(admin)
        }
      }).pipe(Effect.provide(stack(down)))
      assert.strictEqual(report.morning.endedBy, "model-outage")
      // two fallback replies, then the session ended: the third message was never sent
      assert.strictEqual(report.morning.messages.length, 4)
      assert.strictEqual(report.morning.totals.fallbacks, 2)
      assert.strictEqual(stored.endReason, "model-outage")
      assert.strictEqual(stored.endMessage, Coaching.defaultOutageMessage)
      assert.strictEqual(stored.totals.fallbacks, 2)
      const ended = events.find((e) => e._tag === "SessionEnded" && e.sessionId === "day-3:morning")
      assert.strictEqual(ended?._tag === "SessionEnded" && ended.message, Coaching.defaultOutageMessage)
      // the error log: one entry per failed reply, and the outage (critical)
      const morningErrors = errors.filter((e) => e.sessionId === "day-3:morning")
      assert.deepStrictEqual(morningErrors.map((e) => e.severity).sort(), ["critical", "error", "error"])
      assert.isTrue(morningErrors.every((e) => e.source === "model"))
      assert.include(
        morningErrors.find((e) => e.severity === "error")!.message,
        "AuthenticationFailed: invalid x-api-key"
      )
      assert.include(morningErrors.find((e) => e.severity === "critical")!.message, "2 consecutive failed replies")
    }))

  it.effect("one successful reply resets the count: an outage needs consecutive failures", () =>
    Effect.gen(function*() {
      const flaky: ScriptedLanguageModel.Options = {
        ...Scripts.coaching,
        failures: [{
          when: (p) => isCoach(p) && !Ai.lastUserText(p).includes("quarterly report"),
          error: new LlmErrors.AuthenticationFailed({ message: "invalid x-api-key" })
        }]
      }
      const report = yield* Runner.run(Coaching.make({ outageAfter: 2 }).day, Samples.coachingDay).pipe(
        Effect.provide(stack(flaky))
      )
      // fail, succeed, fail: never two in a row in the morning
      assert.deepStrictEqual(report.morning.exchanges.map((e) => e.fallback), [true, false, true])
      assert.strictEqual(report.morning.endedBy, "user")
      assert.strictEqual(report.evening.endedBy, "model-outage")
    }))

  it.effect("an idle session is ended in the store with its reason and the time the timer fired (TestClock)", () =>
    Effect.gen(function*() {
      const fiber = yield* collectingEvents(
        Runner.run(Coaching.make({ idleTimeout: "15 minutes" }).day, {
          profile: Samples.adaProfile,
          morning: [Samples.coachingDay.morning[0]!, { text: "Back!", after: "1 hour" }],
          evening: [{ end: true }]
        }, { sessionId: "day-4" }).pipe(
          Effect.zipRight(Effect.flatMap(SessionStore.SessionStore, (s) => s.getSession(admin, "day-4:morning")))
        )
      ).pipe(Effect.provide(stack()), Effect.fork)
      yield* TestClock.adjust("15 minutes")
      const { events, out: stored } = yield* Fiber.join(fiber)
      assert.strictEqual(stored.endReason, "idle-timeout")
      assert.strictEqual(stored.endedAt, 15 * 60_000)
      assert.strictEqual(stored.durationMs, 15 * 60_000)
      assert.strictEqual(stored.totals.messages, 2)
      const ended = events.find((e) => e._tag === "SessionEnded" && e.sessionId === "day-4:morning")
      assert.strictEqual(ended?._tag === "SessionEnded" && ended.requestedAt, 15 * 60_000)
      assert.strictEqual(ended?._tag === "SessionEnded" && ended.reason, "idle-timeout")
    }))

  it.effect("turn limit and budget per session end a session with their reasons", () =>
    Effect.gen(function*() {
      const limited = yield* Runner.run(Coaching.make({ turnLimit: 1 }).day, Samples.coachingDay).pipe(
        Effect.provide(stack())
      )
      assert.strictEqual(limited.morning.endedBy, "turn-limit")
      assert.strictEqual(limited.morning.exchanges.length, 1)
      const cheap = yield* Runner.run(Coaching.make({ sessionBudgetUsd: 1e-9 }).day, Samples.coachingDay).pipe(
        Effect.provide(stack())
      )
      assert.strictEqual(cheap.morning.endedBy, "budget-exhausted")
      assert.strictEqual(cheap.morning.exchanges.length, 1)
    }))

  it.effect("a message the store cannot save fails the exchange, typed; the session is still ended", () =>
    Effect.gen(function*() {
      const failingAppends = Layer.effect(
        SessionStore.SessionStore,
        Effect.map(SessionStore.SessionStore, (store): SessionStore.Service => ({
          ...store,
          appendMessage: () =>
            Effect.fail(new Errors.SessionStoreError({ operation: "appendMessage", reason: "connection reset" }))
        }))
      ).pipe(Layer.provideMerge(SessionStore.layerMemory))
      const { error, stored } = yield* Effect.gen(function*() {
        const error = yield* Effect.flip(Runner.run(Coaching.make().day, Samples.coachingDay, { sessionId: "day-5" }))
        const stored = yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.getSession(admin, "day-5:morning"))
        return { error, stored }
      }).pipe(Effect.provide(Layer.mergeAll(model(), Memory.layerInMemory(), failingAppends)))
      assert.strictEqual(error._tag, "SessionStoreError")
      assert.include(error.message, "appendMessage failed: connection reset")
      assert.strictEqual(stored.status, "completed")
      assert.include(stored.endMessage ?? "", "SessionStoreError")
    }))

  it.effect("a bus that is down never fails a session: events are best effort", () =>
    Effect.gen(function*() {
      const downBus = Layer.succeed(EventBus.EventBus, {
        transport: "broken",
        publishEncoded: () => Effect.fail(new EventBusError({ operation: "publish", reason: "connection refused" })),
        subscribe: () => Effect.fail(new EventBusError({ operation: "subscribe", reason: "connection refused" }))
      })
      const report = yield* Runner.run(Coaching.make().day, Samples.coachingDay).pipe(
        Effect.provide(Layer.mergeAll(model(), Memory.layerInMemory(), SessionStore.layerMemory, downBus))
      )
      assert.strictEqual(report.morning.endedBy, "objective-met")
      assert.strictEqual(report.goals.length, 2)
    }))

  it.scoped("a live session is a stored session too; closing its scope ends it", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      yield* Effect.scoped(Effect.gen(function*() {
        const live = yield* Coaching.make().open({ profile: Samples.adaProfile, sessionId: "live-1" })
        yield* live.send(Samples.coachingDay.morning[0]!)
        const during = yield* store.getSession(admin, "live-1")
        assert.strictEqual(during.status, "active")
        assert.strictEqual(during.totals.messages, 2)
      }))
      const after = yield* store.getSession(admin, "live-1")
      assert.strictEqual(after.status, "completed")
      assert.strictEqual(after.endReason, "user")
      // a second session with the same id is refused, naming the field
      const again = yield* Effect.flip(
        Effect.scoped(Coaching.make().open({ profile: Samples.adaProfile, sessionId: "live-1" }))
      )
      assert.strictEqual(again._tag, "InvalidInput")
    }).pipe(Effect.provide(Layer.mergeAll(stack(), WorkflowContext.layer({ userId: "ada" })))))

  it.effect("whatever the user writes (fuzzed text, ids with separators), it is stored verbatim with its token estimate, or refused typed", () =>
    Effect.gen(function*() {
      const texts = fc.sample(
        fc.oneof(
          fc.string(),
          fc.fullUnicodeString({ maxLength: 3000 }),
          fc.constantFrom("__proto__", "constructor", "/end now", "", "GOALS: a; b", "\u0000\n\t", "{\"a\":1}")
        ),
        { numRuns: 40, seed: 16 }
      )
      const ids = fc.sample(fc.string({ minLength: 1, maxLength: 40 }), { numRuns: texts.length, seed: 61 })
      // (one user, many messages in no time: lift the per-user rate limit)
      const coaching = Coaching.make({ rateLimits: { perUser: { limit: 1000, window: "1 minute" } } })
      const store = yield* SessionStore.SessionStore
      for (const [i, text] of texts.entries()) {
        const id = `fuzz:${i}:${ids[i]}/x`
        const sent = yield* Effect.scoped(
          Effect.flatMap(
            coaching.open({ profile: Samples.adaProfile, sessionId: id }),
            (live) => Effect.either(live.send(text))
          )
        )
        const messages = (yield* store.messages(admin, id)).items
        if (sent._tag === "Left" && sent.left._tag === "InvalidInput") {
          // the store refuses what it cannot keep (a NUL character), naming the field
          assert.strictEqual(sent.left.field, "text")
          assert.include(text, "\u0000")
          assert.strictEqual(messages.length, 0)
        } else if (sent._tag === "Left") {
          assert.strictEqual(sent.left._tag, "SessionCompleted") // "/end ..." ends the session
          assert.match(text, /^\s*\/end\b/i)
          assert.strictEqual(messages.length, 0)
        } else {
          assert.strictEqual(messages[0]!.text, text)
          assert.strictEqual(messages[0]!.inputTokens, Tokens.estimate(text))
          assert.strictEqual(messages[1]!.role, "assistant")
        }
        assert.strictEqual((yield* store.getSession(admin, id)).status, "completed")
      }
    }).pipe(Effect.provide(Layer.mergeAll(stack(), WorkflowContext.layer({ userId: "ada" })))))

  it.effect("the coach's circuit breaker opens after 5 failed replies: later replies fall back at once, and the admin sees the model down", () =>
    Effect.gen(function*() {
      let calls = 0
      const down: ScriptedLanguageModel.Options = {
        ...Scripts.coaching,
        failures: [{
          when: (p) => isCoach(p) && ++calls > 0,
          error: new LlmErrors.AuthenticationFailed({ message: "invalid x-api-key" })
        }]
      }
      const coaching = Coaching.make()
      const ask = Runner.run(coaching.reply, { messages: [Agent.user("hello")], context: { userId: "ada" } })
      const replies = yield* Effect.all(Array.from({ length: 7 }, () => ask)).pipe(Effect.provide(model(down)))
      assert.isTrue(replies.every((r) => r.agent === "fallback"))
      assert.strictEqual(calls, 5) // the 6th and 7th never reached the model
      assert.match(replies[6]!.fallbackCause!, /^CircuitOpen/)
      assert.strictEqual(yield* coaching.breaker!.state, "open")
      const health = yield* Admin.health(admin, { breaker: coaching.breaker! }).pipe(
        Effect.provide(SessionStore.layerMemory)
      )
      assert.strictEqual(health.model.status, "down")
      // after the open period one probe reaches the model again
      yield* TestClock.adjust("30 seconds")
      yield* ask.pipe(Effect.provide(model(down)))
      assert.strictEqual(calls, 6)
      const noBreaker = Coaching.make({ breaker: false })
      assert.isUndefined(noBreaker.breaker)
    }))
})
