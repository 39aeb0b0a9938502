import { DeadlineExceeded, Primitive, Runner, sequence, WorkflowContext } from "@braid/core"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"

class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}
const greet = Primitive.make("greet", (name: string) => Effect.map(Greeting, (g) => `${g}, ${name}`))

describe("Runner from non-Effect code", () => {
  it("runPromise provides the run's context without a layer, with the given ids", async () => {
    const who = Primitive.make(
      "who",
      (_: void) => Effect.map(WorkflowContext.WorkflowContext, (c) => `${c.runId}/${c.sessionId}`)
    )
    assert.strictEqual(await Runner.runPromise(who, undefined, { runId: "r", sessionId: "s" }), "r/s")
    const error = await Runner.runPromise(Primitive.make("slow", (_: void) => Effect.never), undefined, {
      deadline: "10 millis"
    }).catch((e: unknown) => e)
    assert.instanceOf(error, DeadlineExceeded)
  })

  it("runPromise with a layer builds it for the run and releases it after", async () => {
    const events: Array<string> = []
    const layer = Layer.scoped(
      Greeting,
      Effect.acquireRelease(
        Effect.sync(() => (events.push("built"), "Hello")),
        () => Effect.sync(() => events.push("released"))
      )
    )
    assert.strictEqual(await Runner.runPromise(sequence(greet), "Ada", { layer }), "Hello, Ada")
    assert.deepStrictEqual(events, ["built", "released"])
  })

  it("runtime builds the layer once for many runs, and dispose releases it", async () => {
    let built = 0
    let released = 0
    const runner = Runner.runtime(
      Layer.scoped(
        Greeting,
        Effect.acquireRelease(Effect.sync(() => (built++, "Hi")), () => Effect.sync(() => released++))
      )
    )
    const replies = await Promise.all(["Ada", "Bob", "Cy"].map((name) => runner.runPromise(greet, name)))
    assert.deepStrictEqual(replies, ["Hi, Ada", "Hi, Bob", "Hi, Cy"])
    assert.strictEqual(built, 1)
    const controller = new AbortController()
    const pending = runner.runPromise(Primitive.make("wait", (_: void) => Effect.never), undefined, {
      signal: controller.signal
    }).catch((e: unknown) => e)
    controller.abort(new Error("stop"))
    assert.strictEqual(((await pending) as Error).message, "stop")
    await runner.dispose()
    assert.strictEqual(released, 1)
  })

  it("a typed failure rejects with the error instance", async () => {
    const failing = Primitive.make(
      "failing",
      (_: void) => Effect.fail(new DeadlineExceeded({ primitive: "x", runId: "y", deadlineMillis: 1 }))
    )
    const runner = Runner.runtime(Layer.empty)
    assert.instanceOf(await runner.runPromise(failing, undefined).catch((e: unknown) => e), DeadlineExceeded)
    await runner.dispose()
  })
})
