/**
 * What a durable run journals without `Durable.step` (the `Journal` hook of `@braid/core`): an
 * agent's tool calls, memory operations and message sends. A durable run with an agent calling a
 * tool, a memory write and a message send, on the in-memory engine and on the SQLite engine: the
 * write and the send are cut short once after they applied (a crash before the step is journaled),
 * the run then suspends on a signal and replays its journal when resumed. Each tool ran once, each
 * write and send applied once (under the step's idempotency key, given automatically), the keys
 * are the same in the run and its replay; changed tool parameters on replay fail the run with
 * `NonDeterminism`.
 */
import { Agent } from "@braid/agents"
import { Primitive, WorkflowContext } from "@braid/core"
import { Durable, DurableModel } from "@braid/durable"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { Ai, ScriptedLanguageModel } from "@braid/llm"
import { Memory, MemoryStore } from "@braid/memory"
import { Messaging } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Schedule, Schema } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const dir = mkdtempSync(join(tmpdir(), "braid-journal-hook-"))
let n = 0

const engines: ReadonlyArray<readonly [string, () => Layer.Layer<any, any>]> = [
  ["in-memory engine", () => Durable.layerMemory],
  ["SQLite engine", () => SqliteEngine.layer({ filename: join(dir, `engine-${n++}.db`) })]
]

const Weather = Ai.Tool.make("weather", {
  description: "Today's weather in a city",
  parameters: { city: Schema.String },
  success: Schema.Struct({ sky: Schema.String })
})
const Tools = Ai.Toolkit.make(Weather)
const coach = Agent.make({ name: "coach", instructions: "Be brief.", toolkit: Tools })
const Go = Schema.Struct({ text: Schema.String })

/** The side effects as they happened (not as the journal returned them). */
const makeWorld = () => {
  const world = {
    toolRuns: [] as Array<string>,
    puts: 0,
    inserts: 0,
    putKeys: [] as Array<string | undefined>,
    insertKeys: [] as Array<string | undefined>,
    keys: [] as Array<ReadonlyArray<string>>,
    city: "Oslo"
  }
  // a memory store whose first write dies after it applied (before its step is journaled)
  const memory = Layer.effect(
    MemoryStore.MemoryStore,
    Effect.map(MemoryStore.makeInMemory, (store) => ({
      ...store,
      put: (entry, options) =>
        Effect.flatMap(store.put(entry, options), (out) => {
          world.putKeys.push(options.idempotencyKey)
          return ++world.puts === 1 ? Effect.interrupt : Effect.succeed(out)
        })
    }))
  )
  // a message store whose first insert dies after it applied
  const messaging = Layer.scoped(
    Messaging.Messaging,
    Effect.flatMap(Messaging.memoryStore, (store) =>
      Messaging.make({
        ...store,
        insert: (organization, message, guard, idempotencyKey) =>
          Effect.flatMap(store.insert(organization, message, guard, idempotencyKey), (out) => {
            world.insertKeys.push(idempotencyKey)
            return ++world.inserts === 1 ? Effect.interrupt : Effect.succeed(out)
          })
      }))
  )
  const tools = Tools.toLayer({
    weather: ({ city }) =>
      Effect.sync(() => {
        world.toolRuns.push(city)
        return { sky: `clear in ${city}` }
      })
  })
  const model = {
    rules: [{
      when: "weather",
      // read at call time: the non-durable model of the non-determinism test asks for another city
      toolCalls: () => [{ name: "weather", params: { city: world.city } }],
      reply: "Go: {{results}}"
    }]
  } satisfies ScriptedLanguageModel.Options
  return { world, memory, messaging, tools, model }
}

/** An agent turn with a tool call, a memory write, a message send, then a wait for a signal. */
const session = (world: ReturnType<typeof makeWorld>["world"]) =>
  Primitive.make("session", (learner: string) =>
    Effect.gen(function*() {
      const reply = yield* coach.invoke({ messages: [Agent.user("What is the weather today?")] })
      const entry = yield* Memory.store("advice", { text: reply.text })
      const messaging = yield* Messaging.Messaging
      const sent = yield* messaging.send("coach", learner, { text: reply.text })
      world.keys.push(yield* Durable.journalKeys)
      const go = yield* Durable.awaitSignal("go", Go)
      return `${reply.text} | ${entry.id} | ${sent} | ${go.text}`
    }).pipe(Effect.orDie))

const waitSuspended = (wf: Durable.DurableWorkflow<string, string, any, any>, id: string) =>
  wf.status(id).pipe(
    Effect.filterOrFail((s) => s._tag === "Suspended" && s.waitingOn.includes("signal:go"), () => "not yet"),
    Effect.retry(Schedule.spaced("25 millis")),
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("the run did not suspend") })
  )

for (const [engineName, engine] of engines) {
  describe(`journal hook: ${engineName}`, () => {
    it.live("tool call, memory write and message send are journaled: each happened once, keys stable", () => {
      const { memory, messaging, model, tools, world } = makeWorld()
      const learner = `ada-${n++}`
      const wf = Durable.workflow(`hooked-${n}`, session(world), {
        input: Schema.String,
        output: Schema.String,
        key: (s) => s,
        context: (s) => ({ sessionId: `session-${s}` })
      })
      return Effect.gen(function*() {
        const box = yield* Messaging.Messaging
        yield* box.registry.register({ name: learner })
        const id = yield* wf.start(learner)
        yield* waitSuspended(wf, id)
        yield* wf.signal(id, "go", Go, { text: "done" })
        const out = yield* wf.run(learner)

        assert.deepStrictEqual(world.toolRuns, ["Oslo"], "the tool ran once (not again on replay)")
        assert.strictEqual(world.puts, 2, "the write ran twice (cut short once: at least once)")
        assert.strictEqual(world.putKeys[0], world.putKeys[1], "under one idempotency key")
        assert.isString(world.putKeys[0], "given automatically")
        assert.strictEqual(world.inserts, 2, "the send ran twice (cut short once)")
        assert.strictEqual(world.insertKeys[0], world.insertKeys[1], "under one idempotency key")
        assert.isString(world.insertKeys[0], "given automatically")

        const entries = yield* Memory.list().pipe(
          Effect.provide(WorkflowContext.layer({ sessionId: `session-${learner}` }))
        )
        assert.strictEqual(entries.length, 1, "the write applied once")
        assert.isTrue(out.includes(entries[0]!.id), "the run got the first write's entry back")
        const unread = yield* box.inbox(learner).unread
        assert.strictEqual(unread.length, 1, "the message was sent once")
        assert.isTrue(out.includes(unread[0]!.id), "the run got the first send's id back")

        // the run before the signal and its replay after it used the same keys
        assert.isTrue(world.keys.length >= 2, `a replay happened (${world.keys.length} executions)`)
        for (const keys of world.keys) assert.deepStrictEqual(keys, world.keys[0])
        const names = world.keys[0]!.map((k) => k.replace(/^.*\//, ""))
        assert.includeMembers(names, ["tool:weather#0", "memory.store#0", "messaging.send#0"])
      }).pipe(
        Effect.provide(wf.layer.pipe(
          Layer.provideMerge(engine()),
          Layer.provideMerge(DurableModel.layer(ScriptedLanguageModel.provider(model))),
          Layer.provideMerge(tools),
          Layer.provideMerge(Memory.layer()),
          Layer.provideMerge(memory),
          Layer.provideMerge(messaging)
        ))
      )
    })

    it.live("two writes of one step get two keys: each applied once after the step runs again", () => {
      const attempts = { count: 0 }
      const session = `pair-${n++}`
      const twoWrites = Primitive.make("pair", (_: string) =>
        Durable.step(
          "pair",
          Effect.gen(function*() {
            yield* Memory.store("first", 1)
            yield* Memory.store("second", 2)
            if (++attempts.count === 1) return yield* Effect.interrupt // cut short after both applied
            return "ok"
          }).pipe(Effect.orDie),
          Schema.String
        ))
      const wf = Durable.workflow(`pair-${n}`, twoWrites, {
        input: Schema.String,
        output: Schema.String,
        key: (s) => s,
        context: (s) => ({ sessionId: s })
      })
      return Effect.gen(function*() {
        assert.strictEqual(yield* wf.run(session), "ok")
        assert.strictEqual(attempts.count, 2)
        const entries = yield* Memory.list().pipe(Effect.provide(WorkflowContext.layer({ sessionId: session })))
        // one key for both would keep one entry; no keys would keep four
        assert.deepStrictEqual(entries.map((e) => e.key).sort(), ["first", "second"])
      }).pipe(
        Effect.provide(wf.layer.pipe(Layer.provideMerge(engine()), Layer.provideMerge(Memory.layerInMemory())))
      )
    })

    it.live("changed tool parameters on replay fail the run with NonDeterminism", () => {
      const { memory, messaging, model, tools, world } = makeWorld()
      const learner = `bob-${n++}`
      const wf = Durable.workflow(`changed-${n}`, session(world), {
        input: Schema.String,
        output: Schema.String,
        key: (s) => s,
        context: (s) => ({ sessionId: `session-${s}` })
      })
      return Effect.gen(function*() {
        const box = yield* Messaging.Messaging
        yield* box.registry.register({ name: learner })
        const id = yield* wf.start(learner)
        yield* waitSuspended(wf, id)
        // the model is not journaled here: on replay it asks for another city
        world.city = "Bergen"
        yield* wf.signal(id, "go", Go, { text: "done" })
        const exit = yield* Effect.exit(wf.run(learner))
        assert.isTrue(Exit.isFailure(exit), "the run failed")
        const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        assert.isTrue(
          Option.isSome(failure),
          `a typed failure, got ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""}`
        )
        const error = Option.getOrThrow(failure) as { readonly _tag: string; readonly key: string }
        assert.strictEqual(error._tag, "NonDeterminism")
        assert.match(error.key, /tool:weather#0$/)
        assert.deepStrictEqual(world.toolRuns, ["Oslo"], "the changed call did not run the tool")
      }).pipe(
        Effect.provide(wf.layer.pipe(
          Layer.provideMerge(engine()),
          Layer.provideMerge(
            Layer.effect(
              Ai.LanguageModel.LanguageModel,
              Effect.flatMap(ScriptedLanguageModel.provider(model), Ai.fromProvider)
            )
          ),
          Layer.provideMerge(tools),
          Layer.provideMerge(Memory.layer()),
          Layer.provideMerge(memory),
          Layer.provideMerge(messaging)
        ))
      )
    })
  })
}
