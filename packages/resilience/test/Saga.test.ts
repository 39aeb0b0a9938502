import { Primitive, Runner } from "@braid/core"
import { Saga, SagaFailed, TimeoutError } from "@braid/resilience"
import { byName, parentOf, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Exit, FastCheck, Fiber, Ref, TestClock } from "effect"

class Declined extends Data.TaggedError("Declined")<{ readonly reason: string }> {}

describe("Saga", () => {
  it.effect("runs the steps in order, feeding each output to the next", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<Array<string>>([])
      const reserve = Primitive.make("reserve", (id: string) =>
        Effect.as(Ref.update(log, (l) => [...l, "reserve"]), { id, seat: "12A" }))
      const charge = Primitive.make("charge", (b: { id: string; seat: string }) =>
        Effect.as(Ref.update(log, (l) => [...l, "charge"]), { ...b, paid: true }))
      const booking = Saga.make(
        "booking",
        Saga.step(reserve, () =>
          Ref.update(log, (l) => [...l, "release"])),
        Saga.step(charge, () =>
          Ref.update(log, (l) => [...l, "refund"]))
      )
      const out: { id: string; seat: string; paid: boolean } = yield* Runner.run(booking, "b-1")
      assert.deepStrictEqual(out, { id: "b-1", seat: "12A", paid: true })
      assert.deepStrictEqual(yield* Ref.get(log), ["reserve", "charge"])
    }))

  it.effect("on failure, compensations of completed steps run in reverse order with their outputs; SagaFailed names the step", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<Array<string>>([])
      const a = Primitive.make("a", (n: number) => Effect.succeed(n + 1))
      const b = Primitive.make("b", (n: number) => Effect.succeed(n * 10))
      const c = Primitive.make("c", (_: number) => Effect.fail(new Declined({ reason: "card" })))
      const saga = Saga.make(
        "trip",
        Saga.step(a, (out, input) => Ref.update(log, (l) => [...l, `undo a ${input}->${out}`])),
        Saga.step(b, (out, input) => Ref.update(log, (l) => [...l, `undo b ${input}->${out}`])),
        Saga.step(c, () => Ref.update(log, (l) => [...l, "undo c"]))
      )
      const error = yield* Effect.flip(Runner.run(saga, 1))
      assert.instanceOf(error, SagaFailed)
      assert.strictEqual(error.failedStep, "c")
      assert.deepStrictEqual(error.error, new Declined({ reason: "card" }))
      assert.deepStrictEqual(error.compensationFailures, [])
      assert.strictEqual(error.message, "trip: step c failed (Declined); all compensations ran")
      assert.deepStrictEqual(yield* Ref.get(log), ["undo b 2->20", "undo a 1->2"])
    }))

  it.effect("a failing compensation does not stop the others and is reported", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<Array<string>>([])
      const ok = (name: string) => Primitive.make(name, (n: number) => Effect.succeed(n))
      const saga = Saga.make(
        "s",
        Saga.step(ok("a"), () => Ref.update(log, (l) => [...l, "undo a"])),
        Saga.step(ok("b"), () => Effect.fail(new Declined({ reason: "refund refused" }))),
        Saga.step(ok("c"), () => Effect.die(new Error("bug in undo c"))),
        Saga.step(Primitive.make("d", (_: number) => Effect.fail("boom")), () => Effect.void)
      )
      const error = yield* Effect.flip(saga.invoke(0))
      assert.deepStrictEqual(yield* Ref.get(log), ["undo a"])
      assert.deepStrictEqual(error.compensationFailures.map((f) => f.step), ["c", "b"])
      assert.match(
        error.message,
        /s: step d failed \(string\); compensations failed: c \(Error: bug in undo c\), b \(Declined\)/
      )
    }))

  it.effect("an interrupted saga compensates its completed steps", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<Array<string>>([])
      const fast = Primitive.make("fast", (n: number) => Effect.succeed(n))
      const slow = Primitive.make("slow", (n: number) => Effect.as(Effect.sleep("1 minute"), n))
      const saga = Saga.make(
        "s",
        Saga.step(fast, () => Ref.update(log, (l) => [...l, "undo fast"])),
        Saga.step(slow, () => Ref.update(log, (l) => [...l, "undo slow"]))
      )
      const fiber = yield* Effect.fork(Runner.run(saga, 1))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* Ref.get(log), ["undo fast"])
    }))

  it.effect("actions and compensations are child spans of the saga", () =>
    Effect.gen(function*() {
      const saga = Saga.make(
        "order",
        Saga.step(Primitive.make("reserve", (n: number) => Effect.succeed(n)), () => Effect.void),
        Saga.step(Primitive.make("charge", (_: number) => Effect.fail("declined")), () => Effect.void)
      )
      const { spans } = yield* withSpans(Runner.run(saga, 1))
      const root = byName(spans, "order")
      assert.strictEqual(parentOf(spans, byName(spans, "reserve")), root)
      assert.strictEqual(parentOf(spans, byName(spans, "compensate(reserve)")), root)
      assert.deepStrictEqual(root.events.find((e) => e.name === "braid.saga.compensating")?.attributes, {
        "braid.saga.failed_step": "charge",
        "braid.saga.steps": 1
      })
    }))

  it.effect.prop(
    "property: compensations run exactly once each, in reverse order, whatever fails",
    {
      n: FastCheck.integer({ min: 1, max: 8 }),
      failAt: FastCheck.integer({ min: 0, max: 8 }),
      badCompensations: FastCheck.array(FastCheck.boolean(), { minLength: 8, maxLength: 8 })
    },
    ({ badCompensations, failAt, n }) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const steps = Array.from({ length: n }, (_, i) =>
          Saga.step(
            Primitive.make(`s${i}`, (x: number) =>
              Effect.suspend(() => {
                log.push(`do ${i}`)
                return i === failAt ? Effect.fail(`fail ${i}`) : Effect.succeed(x + 1)
              })),
            () =>
              Effect.suspend(() => {
                log.push(`undo ${i}`)
                return badCompensations[i] ? Effect.fail(`undo ${i} failed`) : Effect.void
              })
          ))
        const saga = Saga.make("p", ...(steps as [Saga.Step<number, number, string, never>]))
        const exit = yield* Effect.exit(saga.invoke(0))
        const completed = Math.min(failAt, n)
        const expectedUndo = Array.from({ length: completed }, (_, i) => `undo ${completed - 1 - i}`)
        const undos = log.filter((l) => l.startsWith("undo"))
        if (failAt >= n) {
          assert.isTrue(Exit.isSuccess(exit))
          assert.deepStrictEqual(undos, [])
        } else {
          assert.deepStrictEqual(undos, expectedUndo)
          const error = yield* Effect.flip(Effect.suspend(() => exit))
          assert.strictEqual(error.failedStep, `s${failAt}`)
          assert.deepStrictEqual(
            error.compensationFailures.map((f) => f.step),
            expectedUndo.map((u) => `s${u.slice(5)}`).filter((s) => badCompensations[Number(s.slice(1))])
          )
        }
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it.effect("a hung compensation is abandoned after compensationTimeout, reported as a TimeoutError; the others still run", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<Array<string>>([])
      const a = Primitive.make("a", (n: number) => Effect.succeed(n + 1))
      const b = Primitive.make("b", (n: number) => Effect.succeed(n * 10))
      const c = Primitive.make("c", (_: number) => Effect.fail(new Declined({ reason: "card" })))
      const saga = Saga.make(
        { name: "trip", compensationTimeout: "5 seconds" },
        Saga.step(a, () => Ref.update(log, (l) => [...l, "undo a"])),
        Saga.step(b, () => Effect.uninterruptible(Effect.never)), // hangs, and cannot even be interrupted
        Saga.step(c, () => Ref.update(log, (l) => [...l, "undo c"]))
      )
      const fiber = yield* Effect.fork(Runner.run(saga, 1))
      yield* TestClock.adjust("4999 millis")
      assert.isNull(fiber.unsafePoll(), "the compensation has its full bound")
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, SagaFailed)
      assert.strictEqual(error.compensationFailures.length, 1)
      const failure = error.compensationFailures[0]!
      assert.strictEqual(failure.step, "b")
      assert.instanceOf(failure.error, TimeoutError)
      assert.strictEqual((failure.error as TimeoutError).primitive, "compensate(b)")
      assert.strictEqual((failure.error as TimeoutError).durationMillis, 5000)
      assert.deepStrictEqual(yield* Ref.get(log), ["undo a"], "the remaining compensation still ran")
    }))

  it.effect("an interrupted saga whose compensation hangs is bounded too (default 30 s)", () =>
    Effect.gen(function*() {
      const a = Primitive.make("a", (n: number) => Effect.succeed(n + 1))
      const b = Primitive.make("b", (_: number) => Effect.never)
      const saga = Saga.make("slow", Saga.step(a, () => Effect.never), Saga.step(b, () => Effect.void))
      const fiber = yield* Effect.fork(Runner.run(saga, 1))
      yield* TestClock.adjust("1 second")
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("29 seconds")
      assert.isNull(interrupting.unsafePoll(), "the interruption waits for the compensation, within its bound")
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(interrupting)
      assert.isTrue(Exit.isInterrupted(exit))
    }))
})
