import { Agent } from "@braid/agents"
import { Primitive, Runner } from "@braid/core"
import type { ScriptedLanguageModel } from "@braid/llm"
import { Ai, Metered, ScriptedLanguageModel as Scripted } from "@braid/llm"
import { MeetingStore } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { MeetingRecords, MeetingWorkflow, Samples, Scripts } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Effect, Fiber, Layer, Option, Ref, TestClock } from "effect"

import {
  assertLaunchReview,
  assertLaunchReviewHistory,
  graceItems,
  meeting,
  offline
} from "./meetingRecordsConformance.js"

/** The scripted meeting model, metered. */
const scripted = (options: ScriptedLanguageModel.Options) => Metered.fromProvider(Scripted.provider(options))

/** Runs a forked effect to its end, advancing the TestClock by `step` while it waits. */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, step: Duration.DurationInput) =>
  Effect.gen(function*() {
    for (let i = 0; i < 50; i++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) break
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })

describe("MeetingWorkflow", () => {
  it.effect("runs the agenda to the end, extracts minutes, decisions and action items, and keeps a queryable history (memory stores; SQL stores: meetingRecordsConformance)", () =>
    Effect.gen(function*() {
      const stores = yield* Layer.build(Layer.merge(MeetingStore.layerMemory, MeetingRecords.layerMemory))
      const outcome = yield* Runner.run(meeting().pipeline, Samples.launchReview.input).pipe(
        Effect.provide(offline),
        Effect.provide(stores)
      )
      assertLaunchReview(outcome)
      const past = yield* MeetingWorkflow.history("launch-review-1").pipe(Effect.provide(stores))
      assertLaunchReviewHistory(past)
      const grace = yield* Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.actionItemsOf("grace")).pipe(
        Effect.provide(stores)
      )
      assert.deepStrictEqual(grace, graceItems)
    }).pipe(Effect.scoped))

  it.effect("a participant who does not answer in time is skipped, another leaves, and the meeting goes on to its end", () =>
    Effect.gen(function*() {
      const slowSam = Primitive.make(
        "SamSpeaks",
        (_: unknown) => Effect.as(Effect.sleep("2 minutes"), "Sorry, I was on mute.")
      )
      const meeting = MeetingWorkflow.make({
        host: Samples.launchReview.host,
        participants: [...Samples.launchReview.participants, { name: "Sam", role: "designer", speak: slowSam }],
        speakingTimeout: "30 seconds"
      })
      const fiber = yield* Runner.run(meeting.pipeline, Samples.launchReview.input).pipe(
        Effect.provide(Layer.merge(offline, MeetingRecords.layerMemory)),
        Effect.fork
      )
      const outcome = yield* drive(fiber, "10 seconds")
      const kinds = outcome.history.filter((e) => e.kind !== "joined").map((e) => `${e.kind}:${e.participant}`)
      assert.deepStrictEqual(kinds, [
        "started:Maya",
        "spoke:Maya",
        "spoke:Grace",
        "spoke:Linus",
        "timed-out:Sam",
        "spoke:Maya",
        "spoke:Grace",
        "spoke:Linus",
        "left:Linus",
        "timed-out:Sam",
        "spoke:Maya",
        "ended:Maya"
      ])
      assert.deepStrictEqual(outcome.timedOut, ["Sam", "Sam"])
      assert.deepStrictEqual(outcome.left, ["Linus"])
      assert.include(outcome.transcript, "(Sam did not answer in time)")
      assert.include(
        outcome.minutes,
        "Notes: Sam did not answer in time; Linus left the meeting; Sam did not answer in time."
      )
      assert.strictEqual(outcome.actionItems.length, 2)
    }))

  it.effect("participants can bring their own agents", () =>
    Effect.gen(function*() {
      const critic = Agent.make({ name: "Critic", instructions: "You challenge every plan." })
      const meeting = MeetingWorkflow.make({
        host: Samples.launchReview.host,
        participants: [{ name: "Critic", role: "reviewer", agent: critic }],
        maxTurns: 3
      })
      const model: ScriptedLanguageModel.Options = {
        rules: [
          {
            when: (p) => Ai.systemText(p).startsWith("You challenge every plan"),
            reply: "I'll review the load test results by Monday."
          },
          ...Scripts.meeting.rules!
        ]
      }
      const outcome = yield* Runner.run(meeting.pipeline, Samples.launchReview.input).pipe(
        Effect.provide(Layer.mergeAll(scripted(model), EventBus.layerMemory, MeetingRecords.layerMemory))
      )
      assert.strictEqual(outcome.endedBy.condition, "maxTurns(3)")
      assert.deepStrictEqual(outcome.actionItems, [{
        owner: "Critic",
        task: "review the load test results",
        due: "Monday"
      }])
    }))

  it.effect("an invalid extraction is retried; bad input is rejected with a typed error", () =>
    Effect.gen(function*() {
      let decisionCalls = 0
      const flaky: ScriptedLanguageModel.Options = {
        rules: [
          {
            when: (r) => Ai.systemText(r).startsWith("You extract the decisions") && ++decisionCalls === 1,
            reply: "Sure! The decisions were: shipping on Friday."
          },
          ...Scripts.meeting.rules!
        ]
      }
      const meeting = MeetingWorkflow.make({
        host: Samples.launchReview.host,
        participants: Samples.launchReview.participants
      })
      const fiber = yield* Runner.run(meeting.pipeline, Samples.launchReview.input).pipe(
        Effect.provide(Layer.mergeAll(scripted(flaky), EventBus.layerMemory, MeetingRecords.layerMemory)),
        Effect.fork
      )
      const outcome = yield* drive(fiber, "100 millis")
      assert.strictEqual(decisionCalls, 2)
      assert.strictEqual(outcome.decisions.length, 1)

      const layer = Layer.merge(offline, MeetingRecords.layerMemory)
      const noAgenda = yield* Effect.flip(
        Runner.run(meeting.pipeline, { title: "Empty", agenda: [] as any }).pipe(Effect.provide(layer))
      )
      assert.strictEqual(noAgenda._tag, "DecodeError")
      assert.strictEqual(noAgenda._tag === "DecodeError" && noAgenda.path, "agenda[0]")
      const twice = MeetingWorkflow.make({ host: { name: "Maya" }, participants: [{ name: "Maya", role: "twin" }] })
      const dup = yield* Effect.flip(Runner.run(twice.pipeline, Samples.launchReview.input).pipe(Effect.provide(layer)))
      assert.strictEqual(dup._tag, "MeetingConfigInvalid")
    }))

  it.effect("an extractor whose model never answers: each attempt is bounded (modelTimeout inside the retry) and the meeting fails at the bound, typed", () =>
    Effect.gen(function*() {
      const extractorCalls = yield* Ref.make(0)
      const stalledExtractors = Metered.fromProvider(Effect.map(Scripted.provider(Scripts.meeting), (model) => ({
        ...model,
        generateText: (options) =>
          Effect.flatMap(Ai.Settings, (settings) =>
            (settings.agent ?? "").endsWith("Extractor")
              ? Effect.zipRight(Ref.update(extractorCalls, (n) => n + 1), Effect.never)
              : model.generateText(options))
      })))
      const meeting = MeetingWorkflow.make({
        host: Samples.launchReview.host,
        participants: Samples.launchReview.participants,
        modelTimeout: "10 seconds"
      })
      const fiber = yield* Runner.run(meeting.pipeline, Samples.launchReview.input).pipe(
        Effect.provide(Layer.mergeAll(stalledExtractors, EventBus.layerMemory, MeetingRecords.layerMemory)),
        Effect.flip,
        Effect.fork
      )
      // three extractors, three attempts each: 10 s + 200 ms + 10 s + 400 ms + 10 s
      yield* TestClock.adjust("30 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "RetryExhausted")
      assert.include(error.message, "TimeoutError")
      assert.strictEqual(yield* Ref.get(extractorCalls), 9)
    }))
})
