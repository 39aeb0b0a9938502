import { DeadlineExceeded, forEach, parallel, Primitive, Runner, sequence, State, WorkflowContext } from "@braid/core"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"

const Notes = State.key<ReadonlyArray<string>>("notes", () => [])
const Counter = State.key("counter", 0)

describe("WorkflowContext and State", () => {
  it.effect("state written by step 1 is visible to step 2", () =>
    Effect.gen(function*() {
      const write = Primitive.make("write", (s: string) => Effect.as(State.set(Notes, [s]), s.length))
      const read = Primitive.make(
        "read",
        (n: number) => Effect.map(State.get(Notes), (notes) => `${notes.join()}:${n}`)
      )
      assert.strictEqual(yield* Runner.run(sequence(write, read), "hello"), "hello:5")
    }))

  it.effect("parallel branches and forEach items share the run's state; update loses no write", () =>
    Effect.gen(function*() {
      const bump = Primitive.make(
        "bump",
        (n: number) =>
          Effect.zipRight(Effect.sleep(Duration.millis(n % 7)), Effect.as(State.update(Counter, (c) => c + 1), n))
      )
      const note = (tag: string) => Primitive.make(tag, (_: unknown) => State.update(Notes, (xs) => [...xs, tag]))
      const total = Primitive.make("total", (_: unknown) => State.get(Counter))
      const pipeline = sequence(
        forEach(bump, { concurrency: 50 }),
        parallel(note("left"), note("right")),
        total
      )
      const fiber = yield* Effect.fork(Runner.run(pipeline, Array.from({ length: 500 }, (_, i) => i)))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), 500)
    }))

  it.effect("every run starts with fresh state (nothing leaks between runs)", () =>
    Effect.gen(function*() {
      const bump = Primitive.make("bump", (_: void) =>
        Effect.zipRight(State.update(Counter, (c) => c + 1), State.get(Counter)))
      assert.strictEqual(yield* Runner.run(bump, undefined), 1)
      assert.strictEqual(yield* Runner.run(bump, undefined), 1)
      assert.strictEqual(yield* Runner.run(bump, undefined, { state: { counter: 41 } }), 42)
    }))

  it.effect("steps see run id, session, tenant, user and metadata", () =>
    Effect.gen(function*() {
      const who = Primitive.make("who", (_: void) =>
        Effect.map(
          WorkflowContext.WorkflowContext,
          (c) => [c.runId, c.sessionId, c.tenantId, c.userId, c.metadata["plan"]]
        ))
      const out = yield* Runner.run(who, undefined, {
        runId: "r",
        sessionId: "s",
        tenantId: "t",
        userId: "u",
        metadata: { plan: "pro" }
      })
      assert.deepStrictEqual(out, ["r", "s", "t", "u", "pro"])
      const generated = yield* Runner.run(who, undefined)
      assert.match(String(generated[0]), /^[0-9a-f-]{36}$/)
    }))

  it.effect("a deadline interrupts the run and fails with DeadlineExceeded; remaining counts down", () =>
    Effect.gen(function*() {
      const slow = Primitive.make("slow", (_: void) =>
        Effect.gen(function*() {
          const before = yield* WorkflowContext.remaining
          yield* Effect.sleep("3 seconds")
          const after = yield* WorkflowContext.remaining
          yield* Effect.sleep("10 seconds")
          return [Duration.toMillis(before), Duration.toMillis(after)]
        }))
      const fiber = yield* Effect.fork(
        Effect.either(Runner.run(slow, undefined, { deadline: "5 seconds", runId: "late" }))
      )
      yield* TestClock.adjust("5 seconds")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(result._tag === "Left")
      if (result._tag === "Left") {
        assert.instanceOf(result.left, DeadlineExceeded)
        assert.strictEqual(result.left.runId, "late")
        assert.strictEqual(result.left.deadlineMillis, 5000)
      }
    }))

  it.effect("WorkflowContext.layer provides a context to primitives run outside the runner", () =>
    Effect.gen(function*() {
      const read = Primitive.make("read", (_: void) => State.get(Counter))
      const out = yield* read.invoke(undefined).pipe(Effect.provide(WorkflowContext.layer({ state: { counter: 3 } })))
      assert.strictEqual(out, 3)
    }))

  it("runPromise resolves with the output and rejects with the typed error itself", async () => {
    const ok = await Runner.runPromise(Primitive.sync("ok", (n: number) => n + 1), 1)
    assert.strictEqual(ok, 2)
    const failing = Primitive.make(
      "failing",
      (_: void) => Effect.fail(new DeadlineExceeded({ primitive: "x", runId: "r", deadlineMillis: 1 }))
    )
    const err = await Runner.runPromise(failing, undefined).then(() => undefined, (e: unknown) => e)
    assert.instanceOf(err, DeadlineExceeded)
  })
})
