import { Primitive, Runner, sequence } from "@braid/core"
import { Memory, MemoryStore } from "@braid/memory"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { conformance } from "./memoryConformance.js"

conformance("in-memory", { layer: MemoryStore.layerInMemory })

describe("Memory primitives", () => {
  const MemoryLive = Memory.layer({ defaultScope: "user" }).pipe(Layer.provideMerge(MemoryStore.layerInMemory))

  it.effect("remember stores a step's output; recall injects entries into the next step", () =>
    Effect.gen(function*() {
      const setGoals = Primitive.sync("setGoals", (text: string) => text.split(",").map((s) => s.trim()))
        .pipe(Memory.remember({ key: "goals", tags: ["goal"] }))
      const morning = yield* Runner.run(setGoals, "run 5k, read more", { userId: "u-1", sessionId: "morning" })
      assert.deepStrictEqual(morning, ["run 5k", "read more"])

      const review = Primitive.make("review", (day: string) =>
        Effect.map(Memory.recalled, (es) =>
          `${day}: ${
            es.flatMap((e) => e.value as ReadonlyArray<string>).join(" & ")
          }`))
      const evening = review.pipe(Memory.recall({ tags: ["goal"] }))
      const out = yield* Runner.run(evening, "evening", { userId: "u-1", sessionId: "evening" })
      assert.strictEqual(out, "evening: run 5k & read more")
      const other = yield* Runner.run(evening, "evening", { userId: "u-2" })
      assert.strictEqual(other, "evening: ", "another user recalls nothing")
    }).pipe(Effect.provide(MemoryLive)))

  it.effect("recall's inject rewrites the input; remember computes keys; provenance records the step path", () =>
    Effect.gen(function*() {
      const note = Primitive.sync("note", (s: string) => s.toUpperCase())
        .pipe(Memory.remember({ key: (out: string) => `note:${out}`, value: (out, input) => ({ out, input }) }))
      const pipeline = sequence(
        note,
        Primitive.sync("echo", (s: string) => s).pipe(
          Memory.recall({ text: "note:", inject: (input, es) => `${input} [${es.length} notes]` })
        )
      ).pipe(Primitive.named("notes"))
      const out = yield* Runner.run(pipeline, "hi", { userId: "u-9", instrumentation: "on" })
      assert.strictEqual(out, "HI [1 notes]")
      const stored = yield* Runner.run(Primitive.make("read", (_: void) => Memory.retrieve("note:HI")), undefined, {
        userId: "u-9"
      })
      const e = Option.getOrThrow(stored)
      assert.deepStrictEqual(e.value, { out: "HI", input: "hi" })
      assert.strictEqual(e.stepPath, "notes/remember(note)")
    }).pipe(Effect.provide(MemoryLive)))
})
