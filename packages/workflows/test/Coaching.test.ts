import { Agent } from "@braid/agents"
import { Primitive, Runner, sequence, WorkflowContext } from "@braid/core"
import type { ScriptedLanguageModel } from "@braid/llm"
import { Ai, Errors as LlmErrors, Metered, ScriptedLanguageModel as Scripted } from "@braid/llm"
import * as RecordingModel from "@braid/llm/testing/RecordingModel"
import { Memory } from "@braid/memory"
import { Coaching, Samples, Scripts } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Option, Ref, Stream, TestClock } from "effect"

/** The scripted coaching model (metered), recording every request it gets. */
const recordingModel = (
  requests: Ref.Ref<ReadonlyArray<RecordingModel.Request>>,
  options: ScriptedLanguageModel.Options = Scripts.coaching
) => RecordingModel.layer(Scripted.provider(options), requests)

/** The scripted coaching model, metered. */
const scripted = (options: ScriptedLanguageModel.Options) => Metered.fromProvider(Scripted.provider(options))

const isCoach = (r: RecordingModel.Request | Ai.Prompt.Prompt) =>
  !("system" in r ? r.system : Ai.systemText(r)).startsWith("You are the observer")

describe("Coaching", () => {
  it.effect("a full day: goals set in the morning (observer in parallel), stored in memory, recalled and reviewed in the evening, with accounting", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<RecordingModel.Request>>([])
      const coaching = Coaching.make()
      const { memory, report } = yield* Effect.gen(function*() {
        const report = yield* Runner.run(coaching.day, Samples.coachingDay)
        const memory = yield* Effect.flatMap(Memory.Memory, (m) => m.query({ scope: "user", tags: ["goal"] })).pipe(
          Effect.provide(WorkflowContext.layer({ userId: "ada" }))
        )
        return { memory, report }
      }).pipe(Effect.provide(Layer.merge(recordingModel(requests), Memory.layerInMemory())))

      // morning
      assert.strictEqual(report.userId, "ada")
      assert.strictEqual(report.morning.endedBy, "objective-met")
      assert.strictEqual(report.morning.messages.length, 6)
      assert.deepStrictEqual(report.goals, ["finish the quarterly report draft (9-11)", "run 30 minutes at lunch"])
      assert.strictEqual(report.insights.length, 3)
      assert.match(report.insights[0]!, /^Insight: low energy after a bad night/)
      // goals in memory
      assert.strictEqual(memory.length, 1)
      assert.deepStrictEqual(memory[0]!.value, report.goals)
      // evening: the coach was given the goals from memory
      const eveningCalls = (yield* Ref.get(requests)).filter((r) => isCoach(r) && r.system.includes("EVENING SESSION"))
      assert.strictEqual(eveningCalls.length, 2)
      assert.include(eveningCalls[0]!.system, "run 30 minutes at lunch")
      assert.strictEqual(report.evening.endedBy, "objective-met")
      assert.strictEqual(report.review, "1/2 goals done (report done; run skipped because a meeting ran over)")
      // relevance scored on every exchange
      assert.deepStrictEqual(report.morning.exchanges.map((e) => e.relevance), [1, 1, 1])
      // accounting per message, per session and per day
      const replies = [...report.morning.messages, ...report.evening.messages].filter((m) => m.role === "assistant")
      assert.strictEqual(replies.length, 5)
      for (const m of replies) {
        assert.isTrue(m.usage.inputTokens > 0 && m.usage.outputTokens > 0)
        assert.isTrue(m.costUsd > 0)
      }
      const sum = replies.reduce((a, m) => a + m.costUsd, 0)
      assert.closeTo(report.totals.costUsd, sum, 1e-12)
      assert.closeTo(report.totals.costUsd, report.morning.totals.costUsd + report.evening.totals.costUsd, 1e-12)
      assert.strictEqual(report.totals.messages, 10)
    }))

  it.effect("a model outage in the middle of a session: the user gets the fallback reply, the session goes on, nothing is lost", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<RecordingModel.Request>>([])
      const outage: ScriptedLanguageModel.Options = {
        ...Scripts.coaching,
        failures: [{
          when: (r) => isCoach(r) && Ai.lastUserText(r).includes("quarterly report"),
          error: new LlmErrors.Overloaded({ message: "simulated outage" })
        }]
      }
      const coaching = Coaching.make()
      const fiber = yield* Runner.run(coaching.day, Samples.coachingDay).pipe(
        Effect.provide(Layer.merge(recordingModel(requests, outage), Memory.layerInMemory())),
        Effect.fork
      )
      yield* TestClock.adjust("500 millis") // retry 1
      yield* TestClock.adjust("1 second") // retry 2
      const report = yield* Fiber.join(fiber)
      const morning = report.morning
      // three attempts for the failing message, then the fallback reply
      const attempts = (yield* Ref.get(requests)).filter((r) => isCoach(r) && r.lastUser.includes("quarterly report"))
      assert.strictEqual(attempts.length, 3)
      assert.deepStrictEqual(morning.messages.map((m) => m.role), [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant"
      ])
      assert.strictEqual(morning.messages[3]!.content, Coaching.defaultFallbackReply)
      assert.isTrue(morning.messages[3]!.fallback)
      assert.strictEqual(morning.messages[3]!.costUsd, 0)
      assert.strictEqual(morning.totals.fallbacks, 1)
      // the user's message is kept and the conversation continues to the goals
      assert.strictEqual(morning.messages[2]!.content, Samples.coachingDay.morning[1])
      assert.strictEqual(morning.endedBy, "objective-met")
      assert.strictEqual(report.goals.length, 2)
      // the next coach call still carries the whole conversation, the failed turn included
      const after = (yield* Ref.get(requests)).filter((r) => isCoach(r) && r.lastUser.includes("Run at lunch"))
      const turns = after[0]!.prompt.content.filter((m) => m.role !== "system")
      assert.strictEqual(turns.length, 5)
      assert.include(JSON.stringify(turns[2]!.content), "quarterly report")
      assert.strictEqual(report.evening.endedBy, "objective-met")
    }))

  it.effect("a session completes on idle timeout (TestClock) or when the user ends it", () =>
    Effect.gen(function*() {
      const coaching = Coaching.make({ idleTimeout: "15 minutes" })
      const layer = Layer.merge(scripted(Scripts.coaching), Memory.layerInMemory())
      const fiber = yield* Runner.run(coaching.day, {
        profile: Samples.adaProfile,
        morning: [Samples.coachingDay.morning[0]!, { text: "Sorry, I was pulled into a call.", after: "20 minutes" }],
        evening: [{ end: true }]
      }).pipe(Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("15 minutes")
      const report = yield* Fiber.join(fiber)
      assert.strictEqual(report.morning.endedBy, "idle-timeout")
      assert.strictEqual(report.morning.messages.length, 2) // the late message arrived after the end
      assert.deepStrictEqual(report.goals, [])
      assert.strictEqual(report.evening.endedBy, "user")
      assert.strictEqual(report.evening.messages.length, 0)

      const slash = yield* Runner.run(coaching.day, {
        profile: Samples.adaProfile,
        morning: [Samples.coachingDay.morning[0]!, "/end"],
        evening: []
      }).pipe(Effect.provide(layer))
      assert.strictEqual(slash.morning.endedBy, "user")
      assert.strictEqual(slash.morning.messages.length, 2)
    }))

  it.effect("capacity: beyond the concurrency cap and its bounded queue, a reply is rejected with a clear CapacityExceeded", () =>
    Effect.gen(function*() {
      const coaching = Coaching.make({ capacity: { maxConcurrent: 2, maxQueued: 1 } })
      const ask = (user: string) =>
        Runner.run(coaching.reply, {
          messages: [Agent.user("Good morning!")],
          context: { userId: user, instructions: "Be brief." }
        }).pipe(Effect.either)
      const fiber = yield* Effect.all(["u1", "u2", "u3", "u4"].map(ask), { concurrency: "unbounded" }).pipe(
        Effect.provide(scripted({ ...Scripts.coaching, latency: "1 second" })),
        Effect.fork
      )
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      const results = yield* Fiber.join(fiber)
      const rejected = results.filter(Either.isLeft).map((l) => l.left)
      assert.strictEqual(rejected.length, 1)
      assert.strictEqual(rejected[0]!._tag, "CapacityExceeded")
      assert.strictEqual(rejected[0]!.message, "bulkhead coach is full: 2/2 active, 1/1 queued; call rejected")
      assert.strictEqual(results.filter(Either.isRight).length, 3)
      assert.strictEqual(yield* coaching.bulkhead.active, 0)
    }))

  it.effect("rate limits: per user and global", () =>
    Effect.gen(function*() {
      const coaching = Coaching.make({
        rateLimits: { perUser: { limit: 2, window: "1 minute" }, global: { limit: 3, window: "1 minute" } }
      })
      const ask = (user: string) =>
        Runner.run(coaching.reply, { messages: [Agent.user("hello")], context: { userId: user } }).pipe(Effect.either)
      const results = yield* Effect.all([ask("ada"), ask("ada"), ask("ada"), ask("bob"), ask("eve")]).pipe(
        Effect.provide(scripted(Scripts.coaching))
      )
      const tags = results.map((r) => (Either.isLeft(r) ? `${r.left._tag}:${"key" in r.left ? r.left.key : ""}` : "ok"))
      assert.deepStrictEqual(tags, ["ok", "ok", "RateLimited:user:ada", "ok", "RateLimited:global"])
      yield* TestClock.adjust("1 minute")
      assert.isTrue(Either.isRight(yield* ask("ada").pipe(Effect.provide(scripted(Scripts.coaching)))))
    }))

  it.effect("embeds in your own pipeline, with your own coach agent and profile template", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<RecordingModel.Request>>([])
      const myCoach = Agent.make({
        name: "sage",
        instructions: (c: Agent.Conversation) => `SAGE MODE\n${String(c.context?.["instructions"])}`
      })
      const coaching = Coaching.make({ coach: myCoach, renderProfile: (p) => `Coach ${p.name} gently.` })
      const intake = Primitive.sync("intake", (form: { readonly name: string }) => ({
        profile: { userId: form.name.toLowerCase(), name: form.name, aspirations: ["sleep better"] },
        morning: ["Good morning! I slept badly but I want today to count.", "/end"],
        evening: []
      }))
      const email = Primitive.sync(
        "email",
        (r: Coaching.DayReport) => `${r.userId}: ${r.morning.messages.length} messages, ended by ${r.morning.endedBy}`
      )
      const mine = sequence(intake, coaching.day, email)
      const out = yield* Runner.run(mine, { name: "Lin" }).pipe(
        Effect.provide(Layer.merge(recordingModel(requests), Memory.layerInMemory()))
      )
      assert.strictEqual(out, "lin: 2 messages, ended by user")
      const coachCalls = (yield* Ref.get(requests)).filter((r) => r.agent === "sage")
      assert.strictEqual(coachCalls.length, 1)
      assert.match(coachCalls[0]!.system, /^SAGE MODE\nCoach Lin gently\./)
    }))

  it.scoped("a live session for a chat server: one exchange per send, objective met, then idle timeout on another", () =>
    Effect.gen(function*() {
      const coaching = Coaching.make({ idleTimeout: "10 minutes" })
      const live = yield* coaching.open({ profile: Samples.adaProfile })
      const first = yield* live.send(Samples.coachingDay.morning[0]!)
      assert.match(first.reply, /^Good morning! A rough night/)
      assert.strictEqual(first.relevance, 1)
      yield* live.send(Samples.coachingDay.morning[1]!)
      yield* live.send(Samples.coachingDay.morning[2]!)
      assert.strictEqual(yield* live.objective, "finish the quarterly report draft (9-11); run 30 minutes at lunch")
      const status = yield* live.session.status
      assert.strictEqual(status._tag === "Completed" && status.reason, "objective-met")
      const after = yield* Effect.flip(live.send("one more thing"))
      assert.strictEqual(after._tag, "SessionCompleted")
      assert.strictEqual((yield* live.session.totals).messages, 6)

      const idle = yield* coaching.open({ profile: Samples.adaProfile, sessionId: "idle-1" })
      yield* idle.send("hello")
      yield* TestClock.adjust("10 minutes")
      const late = yield* Effect.flip(idle.send("sorry, I'm back"))
      assert.strictEqual(late._tag === "SessionCompleted" && late.reason, "idle-timeout")
    }).pipe(
      Effect.provide(Layer.mergeAll(scripted(Scripts.coaching), WorkflowContext.layer({ userId: "ada" })))
    ))

  it("objective lines and goals are parsed from the coach's reply", () => {
    assert.strictEqual(Coaching.objectiveLine("morning", "ok\nGOALS: a; b."), "a; b.")
    assert.strictEqual(Coaching.objectiveLine("morning", "REVIEW: 1/2"), undefined)
    assert.deepStrictEqual(Coaching.parseGoals("a; b."), ["a", "b"])
  })

  it.effect("a model that never answers: each attempt is bounded (modelTimeout inside the retry), the fallback reply comes at the bound with its cause, and the capacity slot is released", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const never = Layer.effect(
        Ai.LanguageModel.LanguageModel,
        Ai.fromProvider({
          name: "test",
          defaultModel: "stalled",
          generateText: () => Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.never),
          streamText: () => Stream.never
        })
      )
      const coaching = Coaching.make({
        modelTimeout: "10 seconds",
        retry: { maxAttempts: 2, backoff: "constant", baseDelay: "1 second" }
      })
      const fiber = yield* Runner.run(coaching.reply, {
        messages: [Agent.user("Good morning!")],
        context: { userId: "ada" }
      }).pipe(
        Effect.provide(never),
        Effect.fork
      )
      yield* TestClock.adjust("1 second")
      assert.strictEqual(
        yield* coaching.bulkhead.active,
        1,
        "the reply holds a capacity slot while the model is silent"
      )
      yield* TestClock.adjust("19 seconds") // 20 s: the second attempt (10 s + 1 s + 10 s) is still running
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      assert.strictEqual(yield* Ref.get(calls), 2)
      yield* TestClock.adjust("1 second") // 21 s: the bound of the second attempt
      const reply = yield* Fiber.join(fiber)
      assert.strictEqual(reply.agent, "fallback")
      assert.strictEqual(reply.text, Coaching.defaultFallbackReply)
      assert.match(
        reply.fallbackCause ?? "",
        /^RetryExhausted: retry\(coach\): failed after 2 attempts \(last error: TimeoutError: coach: timed out after 10000 ms\)$/
      )
      assert.strictEqual(yield* coaching.bulkhead.active, 0, "the capacity slot is free again")
      assert.strictEqual(yield* coaching.bulkhead.queued, 0)
    }))

  it.effect("the session keeps why a reply was a fallback (a bad key is not retried; the cause is on the exchange and the message)", () =>
    Effect.gen(function*() {
      const badKey: ScriptedLanguageModel.Options = {
        ...Scripts.coaching,
        failures: [{ when: isCoach, error: new LlmErrors.AuthenticationFailed({ message: "invalid x-api-key" }) }]
      }
      const requests = yield* Ref.make<ReadonlyArray<RecordingModel.Request>>([])
      const report = yield* Runner.run(Coaching.make().day, Samples.coachingDay).pipe(
        Effect.provide(Layer.merge(recordingModel(requests, badKey), Memory.layerInMemory()))
      )
      const replies = [...report.morning.messages, ...report.evening.messages].filter((m) => m.role === "assistant")
      assert.isTrue(replies.length > 0 && replies.every((m) => m.fallback))
      assert.strictEqual(report.totals.fallbacks, replies.length)
      for (const m of replies) assert.strictEqual(m.fallbackCause, "AuthenticationFailed: invalid x-api-key")
      assert.strictEqual(report.morning.exchanges[0]!.fallbackCause, "AuthenticationFailed: invalid x-api-key")
      // not retried: one coach call per user message
      assert.strictEqual((yield* Ref.get(requests)).filter(isCoach).length, replies.length)
    }))

  it.effect("a spent budget is not an outage: the fallback does not catch BudgetExceeded; the reply and the day fail with it, typed", () =>
    Effect.gen(function*() {
      const spent = new LlmErrors.BudgetExceeded({
        message: "run r-1 spent 1200 of 1000 tokens",
        scope: "run",
        key: "r-1",
        unit: "tokens",
        limit: 1000,
        spent: 1200
      })
      const broke: ScriptedLanguageModel.Options = { ...Scripts.coaching, failures: [{ when: isCoach, error: spent }] }
      const coaching = Coaching.make()
      const reply = yield* Effect.flip(
        Runner.run(coaching.reply, { messages: [Agent.user("Good morning!")], context: { userId: "ada" } }).pipe(
          Effect.provide(scripted(broke))
        )
      )
      assert.strictEqual(reply._tag, "BudgetExceeded")
      const day = yield* Effect.flip(
        Runner.run(coaching.day, Samples.coachingDay).pipe(
          Effect.provide(Layer.merge(scripted(broke), Memory.layerInMemory()))
        )
      )
      assert.strictEqual(day._tag, "BudgetExceeded")
      // also when a custom retry wraps it in RetryExhausted
      const stubborn = Coaching.make({
        retry: { maxAttempts: 2, backoff: "constant", baseDelay: "1 millis", retryOn: () => true }
      })
      const fiber = yield* Runner.run(stubborn.reply, {
        messages: [Agent.user("Good morning!")],
        context: { userId: "ada" }
      }).pipe(
        Effect.provide(scripted(broke)),
        Effect.flip,
        Effect.fork
      )
      yield* TestClock.adjust("1 millis")
      const wrapped = yield* Fiber.join(fiber)
      assert.strictEqual(wrapped._tag, "BudgetExceeded")
      assert.strictEqual(yield* stubborn.bulkhead.active, 0)
    }))
})
