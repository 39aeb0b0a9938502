import { Primitive } from "@braid/core"
import { Durable } from "@braid/durable"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, ParseResult, Schema, TestClock } from "effect"
import * as fc from "fast-check"
import { chat, ChatInput, durableSuite, makeCounter, Reply, waitForStatus } from "./durableConformance.js"

durableSuite("in memory", () => Durable.layerMemory)

/** Lets the engine's fibers run (no time passes under TestClock). */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

describe("Durable on the in-memory engine with TestClock", () => {
  it.effect("a sleep of a day is durable (not in memory): the run suspends and wakes when the clock reaches it", () => {
    const counter = makeCounter()
    const nap = Primitive.make("nap", (_: string) =>
      Effect.gen(function*() {
        yield* Durable.sleep("overnight", "1 day")
        return yield* Durable.step("after", counter.tick("after", "rested"), Schema.String)
      }))
    const wf = Durable.workflow("nap", nap, { input: Schema.String, output: Schema.String, key: (s) => s })
    return Effect.gen(function*() {
      const id = yield* wf.start("ada")
      yield* settle
      const asleep = yield* wf.status(id)
      assert.strictEqual(asleep._tag, "Suspended")
      if (asleep._tag === "Suspended") assert.deepStrictEqual(asleep.waitingOn, ["sleep:overnight"])
      yield* TestClock.adjust("23 hours")
      yield* settle
      assert.strictEqual((yield* wf.status(id))._tag, "Suspended")
      assert.isUndefined(counter.counts["after"])
      yield* TestClock.adjust("1 hour")
      yield* settle
      const done = yield* wf.status(id)
      assert.strictEqual(done._tag, "Complete")
      if (done._tag === "Complete") assert.deepStrictEqual(done.exit, Exit.succeed("rested"))
    }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
  })

  it.effect("a signal inside its timeout wins; past the timeout the wait fails with SignalTimeout", () => {
    const wf = Durable.workflow("chat", chat(makeCounter(), [], { current: 1 }, "10 minutes"), {
      input: ChatInput,
      output: Schema.Array(Schema.String),
      key: (i) => i.user
    })
    return Effect.gen(function*() {
      const id = yield* wf.start({ user: "ada", turns: 2 })
      yield* settle
      yield* TestClock.adjust("9 minutes")
      yield* wf.signal(id, "turn-0", Reply, { text: "in time" })
      yield* settle
      const waiting = yield* wf.status(id)
      assert.strictEqual(waiting._tag, "Suspended")
      if (waiting._tag === "Suspended") assert.deepStrictEqual(waiting.waitingOn, ["signal:turn-1"])
      yield* TestClock.adjust("10 minutes")
      yield* settle
      const done = yield* wf.status(id)
      if (done._tag !== "Complete") return assert.fail(`expected Complete, got ${done._tag}`)
      const error = yield* Effect.flip(done.exit)
      assert.strictEqual(error._tag, "SignalTimeout")
      assert.include(error.message, "turn-1")
    }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
  })
})

describe("Durable versioning and bad input", () => {
  const V1 = Schema.Struct({ topic: Schema.String })
  const V2 = Schema.Struct({ topic: Schema.String, level: Schema.optional(Schema.Number) })
  const V3 = Schema.Struct({ topic: Schema.Number })

  /** A schema that is whatever `ref` holds now (a deploy of new code, within one test process). */
  const current = (ref: { readonly [k: string]: Schema.Schema<any, any> }, k: string): Schema.Schema<any, any> =>
    Schema.transformOrFail(Schema.Unknown, Schema.Unknown, {
      decode: (u) => ParseResult.decodeUnknown(ref[k]!)(u),
      encode: (a) => ParseResult.encodeUnknown(ref[k]!)(a)
    })

  const versioned = (schemas: { input: Schema.Schema<any, any>; step: Schema.Schema<any, any> }) => {
    const p = Primitive.make("lesson", (input: { topic: unknown }) =>
      Effect.gen(function*() {
        const plan = yield* Durable.step(
          "plan",
          Effect.succeed({ topic: String(input.topic) }),
          current(schemas, "step")
        )
        const reply = yield* Durable.awaitSignal("go", Reply)
        return `${String(plan.topic)}: ${reply.text}`
      }))
    return Durable.workflow("lesson", p, {
      input: current(schemas, "input"),
      output: Schema.String,
      key: (i) => String(i.topic)
    })
  }

  it.live("a run started with v1 schemas resumes after v2 adds an optional field", () => {
    const schemas = { input: V1 as Schema.Schema<any, any>, step: V1 as Schema.Schema<any, any> }
    const wf = versioned(schemas)
    return Effect.gen(function*() {
      const id = yield* wf.start({ topic: "fractions" })
      yield* waitForStatus(wf, id, (st) => st._tag === "Suspended")
      schemas.input = V2
      schemas.step = V2
      yield* wf.signal(id, "go", Reply, { text: "ready" })
      assert.strictEqual(yield* wf.run({ topic: "fractions" }), "fractions: ready")
    }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
  })

  it.live("an incompatible change is refused with IncompatibleVersion naming the value and the field", () => {
    const schemas = { input: V1 as Schema.Schema<any, any>, step: V1 as Schema.Schema<any, any> }
    const wf = versioned(schemas)
    return Effect.gen(function*() {
      const id = yield* wf.start({ topic: "fractions" })
      yield* waitForStatus(wf, id, (st) => st._tag === "Suspended")
      schemas.input = V3
      yield* wf.signal(id, "go", Reply, { text: "ready" })
      const status = yield* waitForStatus(wf, id, (st) => st._tag === "Complete")
      if (status._tag !== "Complete") return assert.fail(`expected Complete, got ${status._tag}`)
      const error = yield* Effect.flip(status.exit)
      assert.strictEqual(error._tag, "IncompatibleVersion")
      assert.include(error.message, "input of workflow lesson")
      assert.include(error.message, "topic")
    }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
  })

  it.live("hostile inputs, keys, requests and signal names get typed errors or work; nothing crashes", () => {
    const echo = Primitive.make(
      "echo",
      (input: { readonly key: string; readonly request: unknown }) =>
        Durable.step("echo", Effect.succeed(input.key), Schema.String, { request: input.request })
    )
    const wf = Durable.workflow("echo", echo, {
      input: Schema.Struct({ key: Schema.String, request: Schema.Unknown }),
      output: Schema.String,
      key: (i) => i.key
    })
    const cyclic: Record<string, unknown> = {}
    cyclic["self"] = cyclic
    const hostile = fc.oneof(
      fc.string(),
      fc.constantFrom<unknown>(
        Number.NaN,
        10n ** 30n,
        cyclic,
        JSON.parse("{\"__proto__\":{\"x\":1}}"),
        [[[[[]]]]],
        "a/b#0"
      )
    )
    return Effect.gen(function*() {
      const samples = fc.sample(fc.tuple(fc.string({ maxLength: 40 }), hostile), { numRuns: 60, seed: 16 })
      for (const [key, request] of samples) {
        const exit = yield* Effect.exit(wf.run({ key, request }))
        if (Exit.isSuccess(exit)) assert.strictEqual(exit.value, key)
        else {
          const error = yield* Effect.flip(exit)
          assert.include(["InvalidInput"], error._tag, `key ${JSON.stringify(key)}: ${String(error)}`)
        }
      }
      const badName = yield* Effect.flip(wf.signal("x", "", Reply, { text: "y" }))
      assert.strictEqual(badName._tag, "InvalidInput")
    }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
  })
})

describe("Durable.idempotencyKey", () => {
  it.live("is the same for every attempt of a step (an interrupted attempt runs again under the same key)", () => {
    const seen: Array<string> = []
    const store = new Map<string, string>()
    let attempts = 0
    const save = Primitive.make("save", (note: string) =>
      Durable.step(
        "write",
        Effect.gen(function*() {
          const key = Option.getOrThrow(yield* Durable.idempotencyKey)
          seen.push(key)
          if (!store.has(key)) store.set(key, note) // the store applies it insert-if-absent
          if (++attempts === 1) return yield* Effect.interrupt // the first attempt dies in flight
          return key
        }),
        Schema.String
      ))
    const wf = Durable.workflow("save", save, { input: Schema.String, output: Schema.String, key: (n) => n })
    return Effect.gen(function*() {
      const key = yield* wf.run("hello")
      const runId = yield* wf.runId("hello")
      assert.strictEqual(key, `${runId}/save/write#0`)
      assert.deepStrictEqual(seen, [key, key])
      assert.strictEqual(store.size, 1)
      assert.isTrue(Option.isNone(yield* Durable.idempotencyKey), "None outside a journaled step")
    }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
  })
})

describe("Durable.step nesting", () => {
  it.live("a step inside a step is part of it: journaled once with it, keys unchanged on replay", () => {
    const counter = makeCounter()
    const outer = Primitive.make("outer", (_: string) =>
      Effect.gen(function*() {
        const both = yield* Durable.step(
          "outer",
          Effect.zipWith(
            counter.tick("outer", 1),
            // the same name as the later step: journaled on its own, it would take that step's key
            Durable.step("after", counter.tick("inner", 2), Schema.Number),
            (a, b) => a + b
          ),
          { success: Schema.Number, error: Durable.DurableError }
        )
        const reply = yield* Durable.awaitSignal("go", Reply) // forces a replay
        const after = yield* Durable.step("after", counter.tick("after", 3), Schema.Number)
        return `${both + after} ${reply.text} ${(yield* Durable.journalKeys).join(",")}`
      }))
    const wf = Durable.workflow("nest", outer, { input: Schema.String, output: Schema.String, key: (s) => s })
    return Effect.gen(function*() {
      const id = yield* wf.start("x")
      yield* waitForStatus(wf, id, (s) => s._tag === "Suspended")
      yield* wf.signal(id, "go", Reply, { text: "go" })
      assert.strictEqual(yield* wf.run("x"), "6 go (run)/startedAt#0,outer/outer#0,outer/after#0")
      assert.deepStrictEqual(counter.counts, { outer: 1, inner: 1, after: 1 })
    }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(Durable.layerMemory))))
  })
})
