import {
  andThen,
  branch,
  DecodeError,
  forEach,
  loop,
  LoopExhausted,
  parallel,
  Primitive,
  repeatUntil,
  route,
  Runner,
  sequence,
  UnknownRoute
} from "@braid/core"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Either, Exit, Fiber, Ref, TestClock } from "effect"

const inc = Primitive.sync("inc", (n: number) => n + 1)
const double = Primitive.sync("double", (n: number) => n * 2)
const show = Primitive.sync("show", (n: number) => `n=${n}`)
const sleepThen = <A>(name: string, ms: number, value: A) =>
  Primitive.make(name, (_: unknown) => Effect.as(Effect.sleep(Duration.millis(ms)), value))

class Boom extends Error {
  readonly _tag = "Boom"
}

describe("sequence", () => {
  it.effect("feeds each output into the next step, in order", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Runner.run(sequence(inc, double, show), 4), "n=10")
      assert.strictEqual(yield* Runner.run(sequence(double, inc, show), 4), "n=9")
    }))

  it.effect("andThen is a two-step sequence", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Runner.run(inc.pipe(andThen(double), andThen(show)), 1), "n=4")
    }))

  it.effect("stops at the first failure; later steps do not run", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make(false)
      const fail = Primitive.make("fail", (_: number) => Effect.fail(new Boom("no")))
      const after = Primitive.make("after", (n: number) => Effect.as(Ref.set(ran, true), n))
      const exit = yield* Effect.exit(Runner.run(sequence(inc, fail, after), 1))
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(yield* Ref.get(ran))
    }))

  it.effect("a sequence of one is the step itself", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Runner.run(sequence(inc), 1), 2)
    }))
})

describe("parallel", () => {
  it.effect("runs branches concurrently (three 1 s branches finish after 1 s of virtual time)", () =>
    Effect.gen(function*() {
      const p = parallel(sleepThen("a", 1000, 1), sleepThen("b", 1000, 2), sleepThen("c", 1000, 3))
      const fiber = yield* Effect.fork(Runner.run(p, undefined))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber).pipe(Effect.timeout("10 millis"), Effect.option)
      assert.isTrue(exit._tag === "Some", "all three branches finished after one second")
      assert.deepStrictEqual(yield* Fiber.join(fiber), [1, 2, 3])
    }))

  it.effect("concurrency bounds how many branches run at once", () =>
    Effect.gen(function*() {
      const p = parallel([sleepThen("a", 1000, 1), sleepThen("b", 1000, 2), sleepThen("c", 1000, 3)], {
        concurrency: 1
      })
      const fiber = yield* Effect.fork(Runner.run(p, undefined))
      yield* TestClock.adjust("2 seconds")
      assert.isNull(fiber.unsafePoll(), "with concurrency 1, three 1 s branches are not done after 2 s")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(fiber), [1, 2, 3])
    }))

  it.effect("struct form returns a struct of outputs; every branch gets the same input", () =>
    Effect.gen(function*() {
      const out = yield* Runner.run(parallel({ plus: inc, times: double, text: show }), 5)
      assert.deepStrictEqual(out, { plus: 6, times: 10, text: "n=5" })
    }))

  it.effect("fail-fast: the first failure interrupts running siblings and their finalizers run", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make<Array<string>>([])
      const slow = (name: string) =>
        Primitive.make(name, (_: unknown) =>
          Effect.sleep("10 seconds").pipe(
            Effect.as(name),
            Effect.onInterrupt(() => Ref.update(finalized, (xs) => [...xs, name]))
          ))
      const failing = Primitive.make(
        "failing",
        (_: unknown) => Effect.zipRight(Effect.sleep("1 second"), Effect.fail(new Boom("branch failed")))
      )
      const fiber = yield* Effect.fork(Runner.run(parallel({ a: slow("a"), b: failing, c: slow("c") }), undefined))
      yield* TestClock.adjust("1 second")
      const err = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(err, Boom)
      assert.strictEqual(err.message, "branch failed")
      assert.sameMembers(yield* Ref.get(finalized), ["a", "c"])
    }))

  it.effect("settle: returns every branch's success or typed failure", () =>
    Effect.gen(function*() {
      const failing = Primitive.make("failing", (_: number) => Effect.fail(new Boom("nope")))
      const out = yield* Runner.run(parallel({ ok: inc, bad: failing }, { mode: "settle" }), 1)
      assert.deepStrictEqual(out.ok, Either.right(2))
      assert.isTrue(Either.isLeft(out.bad))
      if (Either.isLeft(out.bad)) assert.strictEqual(out.bad.left.message, "nope")
    }))

  it.effect("settle in tuple form keeps positions", () =>
    Effect.gen(function*() {
      const failing = Primitive.make("failing", (_: number) => Effect.fail("x" as const))
      const [a, b, c] = yield* Runner.run(parallel([inc, failing, double], { mode: "settle" }), 3)
      assert.deepStrictEqual([a, b, c], [Either.right(4), Either.left("x"), Either.right(6)])
    }))

  it("rejects a bad concurrency and an empty parallel at construction", () => {
    assert.throws(() => parallel([inc], { concurrency: 0 }), /concurrency must be a positive integer/)
    assert.throws(() => parallel({}), /at least one branch/)
  })
})

describe("branch and route", () => {
  it.effect("branch picks by predicate, including an effectful one", () =>
    Effect.gen(function*() {
      const b = branch((n: number) => n > 10, show, double)
      assert.strictEqual(yield* Runner.run(b, 11), "n=11")
      assert.strictEqual(yield* Runner.run(b, 3), 6)
      const effectful = branch((n: number) => Effect.succeed(n % 2 === 0), inc, double)
      assert.strictEqual(yield* Runner.run(effectful, 4), 5)
    }))

  it.effect("route dispatches by key and fails with UnknownRoute when there is no default", () =>
    Effect.gen(function*() {
      type Ticket = { readonly topic: string; readonly n: number }
      const billing = Primitive.sync("billing", (t: Ticket) => `billing ${t.n}`)
      const tech = Primitive.sync("tech", (t: Ticket) => `tech ${t.n}`)
      const r = route((t: Ticket) => t.topic, { billing, tech })
      assert.strictEqual(yield* Runner.run(r, { topic: "tech", n: 1 }), "tech 1")
      const err = yield* Effect.flip(Runner.run(r, { topic: "sales", n: 2 }))
      assert.instanceOf(err, UnknownRoute)
      assert.strictEqual((err as UnknownRoute).key, "sales")
      assert.deepStrictEqual((err as UnknownRoute).known, ["billing", "tech"])
      assert.include(err.message, `no route for "sales"`)
    }))

  it.effect("route with a default never fails for an unknown key; an effectful selector works", () =>
    Effect.gen(function*() {
      const fallback = Primitive.sync("human", (s: string) => `human: ${s}`)
      const upper = Primitive.sync("upper", (s: string) => s.toUpperCase())
      const r = route((s: string) => Effect.succeed(s.startsWith("!") ? "shout" : "other"), { shout: upper }, fallback)
      assert.strictEqual(yield* Runner.run(r, "!hi"), "!HI")
      assert.strictEqual(yield* Runner.run(r, "hi"), "human: hi")
    }))
})

describe("loop and repeatUntil", () => {
  it.effect("loop feeds outputs back while the condition holds, bounded by maxIterations", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const step = Primitive.make("step", (n: number) => Effect.as(Ref.update(calls, (c) => c + 1), n * 2))
      assert.strictEqual(yield* Runner.run(loop(step, { while: (n) => n < 50, maxIterations: 100 }), 1), 64)
      assert.strictEqual(yield* Ref.get(calls), 6)
      yield* Ref.set(calls, 0)
      assert.strictEqual(yield* Runner.run(loop(step, { while: () => true, maxIterations: 3 }), 1), 8)
      assert.strictEqual(yield* Ref.get(calls), 3)
    }))

  it.effect("repeatUntil returns the first output that satisfies the condition, or fails with LoopExhausted", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Runner.run(repeatUntil(double, (n) => n >= 100, { maxIterations: 10 }), 1), 128)
      const err = yield* Effect.flip(Runner.run(repeatUntil(double, (n) => n >= 100, { maxIterations: 3 }), 1))
      assert.instanceOf(err, LoopExhausted)
      assert.strictEqual((err as LoopExhausted).maxIterations, 3)
    }))

  it("requires a positive integer bound", () => {
    assert.throws(() => loop(inc, { while: () => true, maxIterations: 0 }), /maxIterations/)
    assert.throws(() => repeatUntil(inc, () => true, { maxIterations: 1.5 }), /maxIterations/)
  })
})

describe("forEach", () => {
  it.effect("respects its concurrency limit and keeps input order", () =>
    Effect.gen(function*() {
      const active = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      // later items finish first, so order must be restored
      const work = Primitive.make("work", (n: number) =>
        Effect.gen(function*() {
          const now = yield* Ref.updateAndGet(active, (a) => a + 1)
          yield* Ref.update(peak, (p) => Math.max(p, now))
          yield* Effect.sleep(Duration.millis(100 * (10 - n)))
          yield* Ref.update(active, (a) => a - 1)
          return n * 10
        }))
      const fiber = yield* Effect.fork(Runner.run(forEach(work, { concurrency: 3 }), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Fiber.join(fiber), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
      assert.strictEqual(yield* Ref.get(peak), 3)
    }))

  it.effect("defaults to one item at a time", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Runner.run(forEach(sleepThen("s", 1000, "x")), [1, 2, 3]))
      yield* TestClock.adjust("2 seconds")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(fiber), ["x", "x", "x"])
    }))

  it.effect("settle mode returns every item's outcome in order", () =>
    Effect.gen(function*() {
      const odd = Primitive.make("odd", (n: number) => n % 2 === 1 ? Effect.succeed(n) : Effect.fail(`even ${n}`))
      const out = yield* Runner.run(forEach(odd, { concurrency: "unbounded", mode: "settle" }), [1, 2, 3])
      assert.deepStrictEqual(out, [Either.right(1), Either.left("even 2"), Either.right(3)])
    }))

  it.effect("fail-fast mode interrupts the items still running", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const item = Primitive.make("item", (n: number) =>
        n === 0
          ? Effect.zipRight(Deferred.await(started), Effect.fail("first failed"))
          : Effect.zipRight(
            Deferred.succeed(started, undefined),
            Effect.onInterrupt(Effect.never, () => Ref.update(interrupted, (k) => k + 1))
          ))
      const err = yield* Effect.flip(Runner.run(forEach(item, { concurrency: 4 }), [0, 1, 2, 3]))
      assert.strictEqual(err, "first failed")
      assert.strictEqual(yield* Ref.get(interrupted), 3)
    }))
})

describe("nesting", () => {
  it.effect("combinators nest to any depth with exact results", () =>
    Effect.gen(function*() {
      const inner = sequence(inc, parallel({ a: double, b: branch((n: number) => n > 3, show, inc) }))
      const pipeline = sequence(
        Primitive.sync("split", (s: string) => s.split(",").map(Number)),
        forEach(inner, { concurrency: 2 }),
        Primitive.sync("collect", (xs: ReadonlyArray<{ readonly a: number; readonly b: string | number }>) =>
          xs.map((x) =>
            `${x.a}:${x.b}`
          ).join(" "))
      )
      assert.strictEqual(yield* Runner.run(pipeline, "1,5"), "4:3 12:n=6")
    }))
})

describe("decode errors", () => {
  it.effect("a Schema primitive names the bad input field", () =>
    Effect.gen(function*() {
      const { Schema } = yield* Effect.promise(() => import("effect"))
      const greet = Primitive.fromSchema(
        "greet",
        {
          input: Schema.Struct({ user: Schema.Struct({ name: Schema.String, age: Schema.Number }) }),
          output: Schema.String
        },
        ({ user }) => Effect.succeed(`hi ${user.name}`)
      )
      const err = yield* Effect.flip(Runner.run(greet, { user: { name: "Ada", age: "x" } } as never))
      assert.instanceOf(err, DecodeError)
      const e = err as DecodeError
      assert.strictEqual(e.primitive, "greet")
      assert.strictEqual(e.direction, "input")
      assert.strictEqual(e.path, "user.age")
      assert.match(e.message, /^greet: invalid input at user\.age: /)
    }))
})
