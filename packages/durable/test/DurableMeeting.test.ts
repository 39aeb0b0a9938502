/**
 * Durable meetings: the same outcome, history and record as the plain meeting workflow for one
 * script; a restart of the SQLite engine mid-meeting resumes it with no completed model call made
 * again and every history entry written once; a speaker who timed out stays timed out on replay
 * (the turn and its timeout are journaled); typed errors for bad input.
 */
import { Primitive, Runner } from "@braid/core"
import { Durable, DurableModel } from "@braid/durable"
import * as DurableMeeting from "@braid/durable/DurableMeeting"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import type { Ai } from "@braid/llm"
import { ScriptedLanguageModel } from "@braid/llm"
import { Meeting, MeetingStore } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { MeetingRecords, MeetingWorkflow, Samples, Scripts } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Effect, Exit, FastCheck as fc, Layer, ManagedRuntime } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const dir = mkdtempSync(join(tmpdir(), "braid-durable-meeting-"))

/** The scripted meeting model, logging each call's prompt when it starts and when it completes. */
const countingModel = (latency?: Duration.DurationInput) => {
  const started: Array<string> = []
  const completed: Array<string> = []
  const provider = Effect.map(
    ScriptedLanguageModel.provider({ ...Scripts.meeting, ...(latency !== undefined ? { latency } : {}) }),
    (p): Ai.Provider => ({
      ...p,
      generateText: (options) => {
        const prompt = JSON.stringify(options.prompt.content.map((m) => m.content))
        return Effect.sync(() => started.push(prompt)).pipe(
          Effect.zipRight(p.generateText(options)),
          Effect.tap(() => Effect.sync(() => completed.push(prompt)))
        )
      }
    })
  )
  return { started, completed, provider }
}

const config = { host: Samples.launchReview.host, participants: Samples.launchReview.participants }
const input = Samples.launchReview.input

const stores = Layer.mergeAll(EventBus.layerMemory, MeetingStore.layerMemory, MeetingRecords.layerMemory)

const noTimes = (entries: ReadonlyArray<Meeting.Entry>) => entries.map(({ at: _, tenant: __, ...e }) => e)
const comparable = (o: MeetingWorkflow.Outcome) => ({ ...o, history: noTimes(o.history) })

const plainRun = (meetingConfig: MeetingWorkflow.Config = config) =>
  Effect.gen(function*() {
    const outcome = yield* Runner.run(MeetingWorkflow.make(meetingConfig).pipeline, input)
    const past = yield* MeetingWorkflow.history(input.meetingId)
    return { outcome, past }
  }).pipe(
    Effect.provide(stores),
    Effect.provide(DurableModel.layer(countingModel().provider))
  )

describe("DurableMeeting", () => {
  it.live("gives the same outcome, history and record as the plain meeting workflow for one script", () =>
    Effect.gen(function*() {
      const plain = yield* plainRun()
      const model = countingModel()
      const meeting = yield* DurableMeeting.make(config)
      const durable = yield* Effect.gen(function*() {
        const outcome = yield* meeting.run(input)
        const past = yield* MeetingWorkflow.history(input.meetingId)
        return { outcome, past }
      }).pipe(
        Effect.provide(meeting.layer.pipe(Layer.provideMerge(Durable.layerMemory))),
        Effect.provide(stores),
        Effect.provide(DurableModel.layer(model.provider))
      )
      assert.deepStrictEqual(comparable(durable.outcome), comparable(plain.outcome))
      assert.deepStrictEqual(noTimes(durable.past.entries), noTimes(plain.past.entries))
      assert.deepStrictEqual(
        { ...durable.past.record, recordedAt: 0 },
        { ...plain.past.record, recordedAt: 0 }
      )
      assert.strictEqual(durable.outcome.turns, 7)
      // a model call per turn and per extractor, none twice
      assert.strictEqual(model.started.length, 7 + 3)
      assert.strictEqual(new Set(model.started).size, model.started.length)
    }))

  it.live(
    "a restart of the SQLite engine mid-meeting resumes it: no completed model call made again, each entry stored once",
    () =>
      Effect.gen(function*() {
        const plain = yield* plainRun()
        const model = countingModel("150 millis")
        const shared = yield* Layer.build(stores)
        const meeting = yield* DurableMeeting.make(config)
        const filename = join(dir, "restart.db")
        const open = () =>
          ManagedRuntime.make(
            meeting.layer.pipe(
              Layer.provideMerge(SqliteEngine.layer({ filename, pollInterval: "200 millis" })),
              Layer.provideMerge(Layer.succeedContext(shared)),
              Layer.provide(DurableModel.layer(model.provider))
            )
          )
        const first = open()
        const spokeBefore = yield* Effect.promise(() =>
          first.runPromise(Effect.gen(function*() {
            yield* meeting.start(input)
            const spoken = MeetingWorkflow.history(input.meetingId).pipe(
              Effect.map((h) => h.entries.filter((e) => e.kind === "spoke"))
            )
            while ((yield* spoken).length < 3) yield* Effect.sleep("20 millis")
            return yield* spoken
          }))
        )
        yield* Effect.promise(() => first.dispose())
        const second = open()
        const outcome = yield* Effect.promise(() => second.runPromise(meeting.run(input)))
        const past = yield* Effect.promise(() => second.runPromise(MeetingWorkflow.history(input.meetingId)))
        yield* Effect.promise(() => second.dispose())

        assert.isBelow(spokeBefore.length, 7, "the meeting had ended before the restart: nothing was tested")
        assert.deepStrictEqual(comparable(outcome), comparable(plain.outcome))
        // every entry once, in order, the same as the plain run's
        assert.deepStrictEqual(past.entries.map((e) => e.seq), past.entries.map((_, i) => i + 1))
        assert.deepStrictEqual(noTimes(past.entries), noTimes(plain.past.entries))
        // the turns stored before the restart were not spoken again: each prompt at most twice (the
        // one in flight at the restart), and a completed one once
        const counts = new Map<string, number>()
        for (const p of model.started) counts.set(p, (counts.get(p) ?? 0) + 1)
        const repeated = [...counts].filter(([, n]) => n > 1)
        assert.isAtMost(repeated.length, 1, "more than the in-flight call was made again")
        assert.strictEqual(model.started.length, 7 + 3 + repeated.length)
        for (const [prompt] of repeated) {
          assert.isAtMost(model.completed.filter((c) => c === prompt).length, 2)
        }
      }).pipe(Effect.scoped),
    240_000
  )

  it.live(
    "a speaker who timed out stays timed out after a restart: the turn and its timeout are journaled",
    () =>
      Effect.gen(function*() {
        let samCalls = 0
        // Sam misses his first turn (he would answer at once in a replay), then answers at once
        const sam = Primitive.make("SamSpeaks", (_: Meeting.TurnView) =>
          Effect.suspend(() => {
            samCalls++
            return samCalls === 1 ? Effect.as(Effect.sleep("20 seconds"), "late") : Effect.succeed("Sam: all good.")
          }))
        const samConfig: MeetingWorkflow.Config = {
          ...config,
          participants: [...config.participants, { name: "Sam", role: "designer", speak: sam }],
          speakingTimeout: "1 second"
        }
        const shared = yield* Layer.build(stores)
        const model = countingModel("100 millis")
        const meeting = yield* DurableMeeting.make({ ...samConfig, name: "meeting-with-sam" })
        const filename = join(dir, "timeout.db")
        const open = () =>
          ManagedRuntime.make(
            meeting.layer.pipe(
              Layer.provideMerge(SqliteEngine.layer({ filename, pollInterval: "200 millis" })),
              Layer.provideMerge(Layer.succeedContext(shared)),
              Layer.provide(DurableModel.layer(model.provider))
            )
          )
        const first = open()
        yield* Effect.promise(() =>
          first.runPromise(Effect.gen(function*() {
            yield* meeting.start(input)
            const after = MeetingWorkflow.history(input.meetingId).pipe(
              Effect.map((h) => h.entries.some((e) => e.kind === "timed-out" && e.participant === "Sam"))
            )
            while (!(yield* after)) yield* Effect.sleep("20 millis")
          }))
        )
        yield* Effect.promise(() => first.dispose())
        const callsBefore = samCalls
        const second = open()
        const outcome = yield* Effect.promise(() => second.runPromise(meeting.run(input)))
        yield* Effect.promise(() => second.dispose())

        assert.deepStrictEqual(outcome.timedOut, ["Sam"])
        const samTurns = outcome.history.filter((e) => e.participant === "Sam" && e.turn !== undefined).length
        // Sam was asked once per turn in all: the journaled turns were not asked again
        assert.strictEqual(samCalls, samTurns)
        assert.isAtLeast(callsBefore, 1)
        // the discussion's clock moved by the timeout: the entry after Sam's first turn is a second later or more
        const timedOut = outcome.history.find((e) => e.kind === "timed-out")!
        const before = outcome.history.filter((e) => e.seq < timedOut.seq).at(-1)!
        assert.isAtLeast(timedOut.at - before.at, 1000)
      }).pipe(Effect.scoped),
    240_000
  )

  it.live("bad options and input fail with InvalidInput naming where; a bad configuration with MeetingConfigInvalid", () =>
    Effect.gen(function*() {
      const noName = yield* Effect.flip(DurableMeeting.make({ ...config, name: "" }))
      assert.strictEqual(noName.path, "name")
      const zero = yield* Effect.flip(DurableMeeting.make({ ...config, speakingTimeout: "0 seconds" }))
      assert.strictEqual(zero.path, "speakingTimeout")
      const meeting = yield* DurableMeeting.make(config)
      const noId = yield* Effect.flip(meeting.start({ title: "t", agenda: ["a"] } as never)).pipe(
        Effect.provide(meeting.layer.pipe(Layer.provideMerge(Durable.layerMemory))),
        Effect.provide(stores),
        Effect.provide(DurableModel.layer(countingModel().provider))
      )
      assert.strictEqual(noId._tag, "InvalidInput")
      assert.include((noId as { reason: string }).reason, "meetingId")
      // fuzz: any input is decoded before a run starts (a typed InvalidInput, never a defect)
      for (const hostile of fc.sample(fc.anything({ withBigInt: true, withNullPrototype: true, maxDepth: 3 }), 40)) {
        const exit = yield* Effect.exit(meeting.start(hostile as never)).pipe(
          Effect.provide(meeting.layer.pipe(Layer.provideMerge(Durable.layerMemory))),
          Effect.provide(stores),
          Effect.provide(DurableModel.layer(countingModel().provider))
        )
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual((yield* Effect.flip(exit))._tag, "InvalidInput")
      }
      // a bad meeting configuration ends the run with the plain workflow's typed error
      const twins = yield* DurableMeeting.make({
        host: { name: "Maya" },
        participants: [{ name: "Maya", role: "twin" }],
        name: "twins"
      })
      const invalid = yield* Effect.flip(twins.run(input)).pipe(
        Effect.provide(twins.layer.pipe(Layer.provideMerge(Durable.layerMemory))),
        Effect.provide(stores),
        Effect.provide(DurableModel.layer(countingModel().provider))
      )
      assert.strictEqual(invalid._tag, "MeetingConfigInvalid")
    }))
})
