import { DecodeError, Instrumentation, Primitive, Runner, sequence, WorkflowContext } from "@braid/core"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, FastCheck as fc, Fiber, Schema, TestClock } from "effect"

describe("fromSchema bounds nesting", () => {
  interface Tree {
    readonly next?: Tree | undefined
  }
  const Tree: Schema.Schema<Tree> = Schema.Struct({
    next: Schema.optional(Schema.suspend((): Schema.Schema<Tree> => Tree))
  })
  const walk = Primitive.fromSchema("walk", { input: Tree, output: Schema.Number }, () => Effect.succeed(1))

  it.effect("an input nested 20,000 levels deep is a DecodeError naming the place, not a RangeError", () =>
    Effect.gen(function*() {
      let deep: Record<string, unknown> = {}
      for (let i = 0; i < 20_000; i++) deep = { next: deep }
      const error = yield* Effect.flip(Runner.run(walk, deep))
      assert.instanceOf(error, DecodeError)
      assert.strictEqual(error.direction, "input")
      assert.match(error.message, /nesting deeper than 1000/)
      assert.match(error.path, /^next(\.next)+$/)
    }))

  it.effect("a normal depth still decodes", () =>
    Effect.gen(function*() {
      let ok: Record<string, unknown> = {}
      for (let i = 0; i < 100; i++) ok = { next: ok }
      assert.strictEqual(yield* Runner.run(walk, ok), 1)
    }))

  it.effect("property: any input is decoded or refused with a DecodeError, never a defect", () =>
    Effect.gen(function*() {
      const p = Primitive.fromSchema(
        "p",
        { input: Schema.Struct({ n: Schema.Number }), output: Schema.Number },
        ({ n }) => Effect.succeed(n)
      )
      const inputs = fc.sample(
        fc.anything({ withBigInt: true, withNullPrototype: true, withMap: true, maxDepth: 4 }),
        300
      )
      for (const input of inputs) {
        const exit = yield* Effect.exit(Runner.run(p, input as { n: number }))
        assert.isTrue(
          Exit.isSuccess(exit) || (exit.cause._tag === "Fail" && exit.cause.error instanceof DecodeError),
          String(exit)
        )
      }
    }))
})

describe("Runner.runPromise and abort signals", () => {
  it("an already-aborted signal runs nothing and rejects with the signal's reason", async () => {
    let ran = 0
    const step = Primitive.sync("step", (n: number) => (ran++, n))
    const controller = new AbortController()
    controller.abort()
    const error = await Runner.runPromise(step, 1, { signal: controller.signal }).then(
      () => undefined,
      (e: unknown) => e
    )
    assert.strictEqual(ran, 0)
    assert.instanceOf(error, DOMException)
    assert.strictEqual((error as DOMException).name, "AbortError")
    const custom = new AbortController()
    custom.abort(new Error("user left"))
    const reason = await Runner.runPromise(step, 1, { signal: custom.signal }).then(() => undefined, (e: unknown) => e)
    assert.strictEqual((reason as Error).message, "user left")
    assert.strictEqual(ran, 0)
  })

  it("an abort during the run interrupts it and rejects with the signal's reason", async () => {
    const slow = Primitive.make("slow", (_: number) => Effect.never)
    const controller = new AbortController()
    const pending = Runner.runPromise(slow, 1, { signal: controller.signal }).then(() => "resolved", (e: unknown) => e)
    setTimeout(() => controller.abort(new Error("stop")), 10)
    assert.strictEqual(((await pending) as Error).message, "stop")
  })
})

describe("Runner.run provides the context with public API only", () => {
  class Outer extends Context.Tag("test/Outer")<Outer, string>() {}

  it.effect("the caller's context is back after the run, on success, failure and interruption", () =>
    Effect.gen(function*() {
      const seen = Primitive.make("seen", (_: void) => Effect.map(WorkflowContext.WorkflowContext, (c) => c.runId))
      const id = yield* Runner.run(seen, undefined, { runId: "r-1" })
      assert.strictEqual(id, "r-1")
      assert.isTrue((yield* Effect.serviceOption(WorkflowContext.WorkflowContext))._tag === "None")
      assert.strictEqual(yield* Outer, "outer")

      const failing = Primitive.make("failing", (_: void) => Effect.fail("no"))
      assert.strictEqual(yield* Effect.flip(Runner.run(failing, undefined)), "no")
      assert.isTrue((yield* Effect.serviceOption(WorkflowContext.WorkflowContext))._tag === "None")

      const hanging = Primitive.make("hanging", (_: void) => Effect.never)
      const fiber = yield* Effect.fork(Runner.run(hanging, undefined))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      assert.isTrue((yield* Effect.serviceOption(WorkflowContext.WorkflowContext))._tag === "None")
      assert.strictEqual(yield* Outer, "outer")
    }).pipe(Effect.provideService(Outer, "outer")))

  it.effect("nested runs see their own context, and the outer run's comes back", () =>
    Effect.gen(function*() {
      const inner = Primitive.make("inner", (_: void) => Effect.map(WorkflowContext.WorkflowContext, (c) => c.runId))
      const outer = Primitive.make("outer", (_: void) =>
        Effect.gen(function*() {
          const before = (yield* WorkflowContext.WorkflowContext).runId
          const nested = yield* Runner.run(inner, undefined, { runId: "inner" })
          const after = (yield* WorkflowContext.WorkflowContext).runId
          return [before, nested, after]
        }))
      assert.deepStrictEqual(yield* Runner.run(outer, undefined, { runId: "outer" }), ["outer", "inner", "outer"])
    }))

  it.effect("an explicit mode applies to the run only", () =>
    Effect.gen(function*() {
      const probe = Primitive.make("probe", (_: void) => Instrumentation.enabled)
      assert.isTrue(yield* Runner.run(sequence(probe), undefined, { instrumentation: "on" }))
      assert.isFalse(yield* Runner.run(sequence(probe), undefined, { instrumentation: "off" }))
      assert.isFalse(yield* Instrumentation.enabled)
    }))
})
