import { Primitive, Runner } from "@braid/core"
import { Retry, RetryExhausted, TimeoutError } from "@braid/resilience"
import { byName, parentOf, successValue, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Data, Duration, Effect, Exit, FastCheck, Fiber, Random, Ref, TestClock } from "effect"

class Overloaded
  extends Data.TaggedError("Overloaded")<{ readonly transient: true; readonly retryAfterMillis?: number }>
{}
class BadRequest extends Data.TaggedError("BadRequest")<{ readonly transient: false }> {}

/** A step that fails with the given errors in turn, then succeeds with "ok". */
const scripted = <E>(name: string, failures: ReadonlyArray<E>, calls: Ref.Ref<number>) =>
  Primitive.make(
    name,
    (_: string) =>
      Effect.flatMap(Ref.getAndUpdate(calls, (n) => n + 1), (n) =>
        n < failures.length ? Effect.fail(failures[n]!) : Effect.succeed("ok"))
  )

const families: ReadonlyArray<Retry.Backoff> = ["constant", "exponential", "decorrelated", "full-jitter", "half-jitter"]

describe("Retry", () => {
  it.effect("retries transient errors until success; waits the backoff on the Clock", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const step = scripted(
        "callModel",
        [new Overloaded({ transient: true }), new Overloaded({ transient: true })],
        calls
      )
        .pipe(Retry.policy({ maxAttempts: 5, backoff: "constant", baseDelay: "1 second" }))
      const fiber = yield* Effect.fork(Runner.run(step, "hi"))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* Ref.get(calls), 1, "second attempt waits the full delay")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(calls), 2)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.strictEqual(yield* Ref.get(calls), 3)
    }))

  it.effect("never retries a bad request: fails at once with the error itself", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const step = scripted("callModel", [new BadRequest({ transient: false })], calls).pipe(
        Retry.policy({ maxAttempts: 5 })
      )
      const error = yield* Effect.flip(Runner.run(step, "hi"))
      assert.instanceOf(error, BadRequest)
      assert.strictEqual(yield* Ref.get(calls), 1)
    }))

  it.effect("RetryExhausted carries every attempt's error, in order, and names the primitive", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const errors = [1, 2, 3, 4].map((i) => new Overloaded({ transient: true, retryAfterMillis: i }))
      const step = scripted("callModel", errors, calls).pipe(Retry.policy({ maxAttempts: 3, baseDelay: "10 millis" }))
      const fiber = yield* Effect.fork(Runner.run(step, "hi"))
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, RetryExhausted)
      if (!(error instanceof RetryExhausted)) return
      assert.strictEqual(error.attempts, 3)
      assert.deepStrictEqual(error.errors, errors.slice(0, 3))
      assert.strictEqual(error.primitive, "retry(callModel)")
      assert.match(error.message, /retry\(callModel\): failed after 3 attempts \(last error: Overloaded/)
      assert.strictEqual(yield* Ref.get(calls), 3)
    }))

  it.effect("a retry-after hint overrides the computed delay and is capped at maxDelay", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const delays: Array<number> = []
      const step = scripted("callModel", [
        new Overloaded({ transient: true, retryAfterMillis: 700 }),
        new Overloaded({ transient: true, retryAfterMillis: 60_000 })
      ], calls).pipe(Retry.policy({
        maxAttempts: 3,
        backoff: "constant",
        baseDelay: "10 millis",
        maxDelay: "2 seconds",
        onRetry: (info) => Effect.sync(() => delays.push(info.delayMillis))
      }))
      const fiber = yield* Effect.fork(Runner.run(step, "hi"))
      yield* TestClock.adjust("699 millis")
      assert.strictEqual(yield* Ref.get(calls), 1, "the hint (700 ms), not the base delay (10 ms), is used")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(calls), 2)
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(yield* Ref.get(calls), 2, "a 60 s hint is capped at maxDelay (2 s)")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(delays, [700, 2000])
    }))

  it.effect("exponential backoff doubles and stops at the cap; onRetry sees attempt, error and delay", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const seen: Array<[number, string, number]> = []
      const step = scripted("s", Array.from({ length: 5 }, () => new Overloaded({ transient: true })), calls).pipe(
        Retry.policy({
          maxAttempts: 6,
          backoff: "exponential",
          baseDelay: "100 millis",
          maxDelay: "500 millis",
          onRetry: (i) => Effect.sync(() => seen.push([i.attempt, (i.error as Overloaded)._tag, i.delayMillis]))
        })
      )
      const fiber = yield* Effect.fork(Runner.run(step, "x"))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(seen, [[1, "Overloaded", 100], [2, "Overloaded", 200], [3, "Overloaded", 400], [
        4,
        "Overloaded",
        500
      ], [5, "Overloaded", 500]])
    }))

  it.effect("each attempt is a child span of the retry span, which records retry.scheduled events", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const step = scripted("callModel", [new Overloaded({ transient: true })], calls).pipe(
        Retry.policy({ maxAttempts: 3, backoff: "constant", baseDelay: "0 millis" })
      )
      const { exit, spans } = yield* withSpans(Runner.run(step, "x"))
      assert.strictEqual(successValue(exit), "ok")
      const wrapper = byName(spans, "retry(callModel)")
      const attempts = spans.filter((s) => s.name === "callModel")
      assert.strictEqual(attempts.length, 2)
      for (const a of attempts) assert.strictEqual(parentOf(spans, a), wrapper)
      assert.strictEqual(wrapper.attributes["braid.primitive.kind"], "retry")
      assert.strictEqual(wrapper.attributes["braid.retry.attempts"], 2)
      const events = wrapper.events.filter((e) => e.name === "braid.retry.scheduled")
      assert.strictEqual(events.length, 1)
      assert.deepStrictEqual(events[0]!.attributes, {
        "braid.retry.attempt": 1,
        "braid.retry.delay_ms": 0,
        "error.type": "Overloaded"
      })
    }))

  it.effect("retryOn chooses which errors to retry; TimeoutError is transient by default", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const custom = scripted("s", [new BadRequest({ transient: false })], calls).pipe(
        Retry.policy({ retryOn: (e) => e._tag === "BadRequest", baseDelay: "0 millis" })
      )
      assert.strictEqual(yield* Runner.run(custom, "x"), "ok")
      const calls2 = yield* Ref.make(0)
      const timeouts = scripted("t", [new TimeoutError({ primitive: "t", durationMillis: 5 })], calls2).pipe(
        Retry.policy({ baseDelay: "0 millis" })
      )
      assert.strictEqual(yield* Runner.run(timeouts, "x"), "ok")
      assert.strictEqual(yield* Ref.get(calls2), 2)
    }))

  it.effect("Retry.effect retries any Effect with the same implementation", () =>
    Effect.gen(function*() {
      let n = 0
      const flaky = Effect.suspend(() => ++n < 3 ? Effect.fail(new Overloaded({ transient: true })) : Effect.succeed(n))
      const fiber = yield* Effect.fork(
        Retry.effect(flaky, { maxAttempts: 3, baseDelay: "1 second", backoff: "constant" })
      )
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), 3)
      const exit = yield* Effect.exit(
        Retry.effect(Effect.fail(new Overloaded({ transient: true })), { maxAttempts: 1, name: "once" })
      )
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("jitter comes from Effect's Random: the same seed gives the same delays", () =>
    Effect.gen(function*() {
      const run = (seed: number) =>
        Effect.gen(function*() {
          const delays: Array<number> = []
          const fiber = yield* Effect.fork(
            Retry.effect(Effect.fail(new Overloaded({ transient: true })), {
              maxAttempts: 6,
              baseDelay: "100 millis",
              maxDelay: "5 seconds",
              onRetry: (i) => Effect.sync(() => delays.push(i.delayMillis))
            }).pipe(Effect.withRandom(Random.make(seed)))
          )
          yield* TestClock.adjust("1 minute")
          yield* Fiber.await(fiber)
          return delays
        })
      const a = yield* run(42)
      const b = yield* run(42)
      const c = yield* run(7)
      assert.strictEqual(a.length, 5)
      assert.deepStrictEqual(a, b)
      assert.notDeepEqual(a, c)
    }))

  it.prop(
    "property: the delay never exceeds maxDelay, for every backoff family, jitter included",
    {
      backoff: FastCheck.constantFrom(...families),
      retry: FastCheck.integer({ min: 1, max: 200 }),
      previousMillis: FastCheck.double({ min: 0, max: 1e9, noNaN: true }),
      baseMillis: FastCheck.double({ min: 0, max: 1e6, noNaN: true }),
      maxMillis: FastCheck.double({ min: 0, max: 1e6, noNaN: true }),
      factor: FastCheck.double({ min: 1, max: 10, noNaN: true }),
      random: FastCheck.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
    },
    (args) => {
      const d = Retry.delayMillis(args)
      assert.isTrue(d >= 0 && d <= args.maxMillis, `${args.backoff}: ${d} > ${args.maxMillis}`)
    },
    { fastCheck: { numRuns: 2000 } }
  )

  it.effect.prop(
    "property: a running policy never sleeps longer than maxDelay (any family, any seed, hints included)",
    {
      backoff: FastCheck.constantFrom(...families),
      seed: FastCheck.integer(),
      base: FastCheck.integer({ min: 0, max: 5000 }),
      max: FastCheck.integer({ min: 0, max: 5000 }),
      hint: FastCheck.option(FastCheck.integer({ min: 0, max: 100_000 }), { nil: undefined })
    },
    ({ backoff, base, hint, max: m, seed }) =>
      Effect.gen(function*() {
        const max = Math.max(base, m) // baseDelay above maxDelay is refused (InvalidOption)
        const delays: Array<number> = []
        const error = hint === undefined
          ? new Overloaded({ transient: true })
          : new Overloaded({ transient: true, retryAfterMillis: hint })
        const fiber = yield* Effect.fork(
          Retry.effect(Effect.fail(error), {
            maxAttempts: 8,
            backoff,
            baseDelay: base,
            maxDelay: max,
            onRetry: (i) => Effect.sync(() => delays.push(i.delayMillis))
          }).pipe(Effect.withRandom(Random.make(seed)))
        )
        yield* TestClock.adjust("1 hour")
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual(delays.length, 7)
        for (const d of delays) assert.isTrue(d >= 0 && d <= max, `${backoff}: ${d} > ${max}`)
      }),
    { fastCheck: { numRuns: 40 } }
  )

  it.effect("by default a tryPromise failure is not retried; retryOn: \"any\" retries it", () =>
    Effect.gen(function*() {
      let calls = 0
      const flaky = Effect.tryPromise(() =>
        ++calls < 3 ? Promise.reject(new Error("ECONNRESET")) : Promise.resolve("ok")
      )
      const once = yield* Effect.flip(Retry.effect(flaky, { baseDelay: 0 }))
      assert.strictEqual(once._tag, "UnknownException")
      assert.strictEqual(calls, 1)
      calls = 0
      assert.strictEqual(yield* Retry.effect(flaky, { retryOn: "any", baseDelay: 0, maxAttempts: 3 }), "ok")
      assert.strictEqual(calls, 3)
    }))

  it.effect("a zero delay (baseDelay 0, or a retry-after hint of 0) retries without sleeping", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const sleeps: Array<number> = []
      const counting: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis(),
        unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos(),
        currentTimeMillis: clock.currentTimeMillis,
        currentTimeNanos: clock.currentTimeNanos,
        sleep: (d) => Effect.sync(() => void sleeps.push(Duration.toMillis(d)))
      }
      const calls = yield* Ref.make(0)
      const zeroBase = scripted("a", [new Overloaded({ transient: true }), new Overloaded({ transient: true })], calls)
        .pipe(Retry.policy({ baseDelay: 0, maxDelay: 0, backoff: "exponential" }))
      assert.strictEqual(yield* Effect.withClock(Runner.run(zeroBase, "x"), counting), "ok")
      const hinted = scripted("b", [new Overloaded({ transient: true, retryAfterMillis: 0 })], yield* Ref.make(0))
        .pipe(Retry.policy({ baseDelay: "1 second" }))
      assert.strictEqual(yield* Effect.withClock(Runner.run(hinted, "x"), counting), "ok")
      assert.deepStrictEqual(sleeps, [], "no sleep at all, not even of 0 ms")
      assert.strictEqual(yield* Ref.get(calls), 3)
    }))
})

describe("Retry on a result", () => {
  type Reply = { readonly status: "ok" | "overloaded"; readonly n: number }
  /** A step that replies "overloaded" `overloaded` times, then "ok". */
  const replies = (overloaded: number, calls: Ref.Ref<number>) =>
    Primitive.make("callModel", (_: string) =>
      Effect.map(
        Ref.updateAndGet(calls, (n) => n + 1),
        (n): Reply => ({ status: n <= overloaded ? "overloaded" : "ok", n })
      ))

  it.effect("retries a matching result with the backoff on the Clock, then returns the good one", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const seen: Array<number> = []
      const step = replies(2, calls).pipe(Retry.policy({
        maxAttempts: 5,
        backoff: "constant",
        baseDelay: "1 second",
        retryOnResult: (r: Reply, attempt) => {
          seen.push(attempt)
          return r.status === "overloaded"
        }
      }))
      const fiber = yield* Effect.fork(Runner.run(step, "hi"))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* Ref.get(calls), 1, "the second attempt waits the full delay")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(calls), 2)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(fiber), { status: "ok", n: 3 })
      assert.deepStrictEqual(seen, [1, 2, 3])
    }))

  it.effect("when the attempts run out the last result is returned, and the span says exhausted", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const step = replies(10, calls).pipe(Retry.policy({
        maxAttempts: 3,
        backoff: "exponential",
        baseDelay: "100 millis",
        retryOnResult: (r: Reply) => r.status === "overloaded"
      }))
      const fiber = yield* Effect.fork(withSpans(Runner.run(step, "hi")))
      yield* TestClock.adjust("299 millis")
      assert.strictEqual(yield* Ref.get(calls), 2, "100 ms then 200 ms: the third attempt is not due yet")
      yield* TestClock.adjust("1 millis")
      const { exit, spans } = yield* Fiber.join(fiber)
      assert.deepStrictEqual(successValue(exit), { status: "overloaded", n: 3 })
      assert.strictEqual(yield* Ref.get(calls), 3)
      const span = byName(spans, "retry(callModel)")
      assert.strictEqual(span.attributes["braid.retry.gave_up"], "exhausted")
      const events = span.events.filter((e) => e.name === "braid.retry.scheduled")
      assert.deepStrictEqual(events.map((e) => e.attributes?.["error.type"]), ["result", "result"])
      assert.deepStrictEqual(events.map((e) => e.attributes?.["braid.retry.delay_ms"]), [100, 200])
    }))

  it.effect("a result and an error share one attempt budget; errors still end in RetryExhausted", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const step = Primitive.make(
        "callModel",
        (_: string) =>
          Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
            n % 2 === 1
              ? Effect.succeed<Reply>({ status: "overloaded", n })
              : Effect.fail(new Overloaded({ transient: true })))
      ).pipe(
        Retry.policy({ maxAttempts: 4, baseDelay: "10 millis", retryOnResult: (r: Reply) => r.status === "overloaded" })
      )
      const fiber = yield* Effect.fork(Runner.run(step, "hi"))
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, RetryExhausted)
      assert.strictEqual(yield* Ref.get(calls), 4)
    }))

  it.effect("Retry.effect takes it too; jitter stays within maxDelay; a non-function is refused", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const program = Retry.effect(
        Effect.map(Ref.updateAndGet(calls, (n) => n + 1), (n) => n),
        { maxAttempts: 6, backoff: "full-jitter", maxDelay: "50 millis", retryOnResult: (n) => n < 6 }
      )
      const fiber = yield* Effect.fork(program)
      yield* TestClock.adjust("250 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 6)
      assert.throws(() => Retry.effect(Effect.succeed(1), { retryOnResult: 3 as never }), /retryOnResult/)
    }))
})
