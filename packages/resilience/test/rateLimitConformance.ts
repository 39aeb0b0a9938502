/**
 * The behaviour every `RateLimit.Store` shares, run against each store: the memory store here,
 * the Redis store in @braid/redis (imported by relative path from its tests).
 */
import { Primitive, Runner } from "@braid/core"
import { Errors, RateLimit, RateLimited, StoreError } from "@braid/resilience"
import { assert, it } from "@effect/vitest"
import { Cause, Effect, Exit, FastCheck as fc, Fiber, Option, TestClock } from "effect"

/** The input of the step the suite limits. */
export interface Ask {
  readonly user: string
  readonly tokens: number
}
export const ask = Primitive.make("ask", (req: Ask) => Effect.succeed(`ok ${req.user}`))

/** The shared behaviour, run against each store. */
export const suite = (makeStore: () => RateLimit.Store) => {
  it.effect("fixed window: at most `limit` per window, then RateLimited until the next window", () =>
    Effect.gen(function*() {
      const p = ask.pipe(
        RateLimit.policy({
          limits: [{ key: "global", limit: 3, window: "1 minute", algorithm: "fixed-window" }],
          store: makeStore()
        })
      )
      yield* TestClock.adjust("10 seconds")
      for (let i = 0; i < 3; i++) yield* Runner.run(p, { user: "a", tokens: 1 })
      const e = yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 }))
      assert.instanceOf(e, RateLimited)
      if (!(e instanceof RateLimited)) return
      assert.strictEqual(e.key, "global")
      assert.strictEqual(e.retryAfterMillis, 50_000)
      assert.strictEqual(e.message, "ratelimit(ask): rate limit global exceeded (retry after 50000 ms)")
      yield* TestClock.adjust("50 seconds")
      assert.strictEqual(yield* Runner.run(p, { user: "a", tokens: 1 }), "ok a")
    }))

  it.effect("token bucket: bursts up to the limit, then refills continuously", () =>
    Effect.gen(function*() {
      const p = ask.pipe(
        RateLimit.policy({ limits: [{ key: "global", limit: 10, window: "1 minute" }], store: makeStore() })
      )
      for (let i = 0; i < 10; i++) yield* Runner.run(p, { user: "a", tokens: 1 })
      const e = yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 }))
      assert.strictEqual((e as RateLimited).retryAfterMillis, 6000)
      yield* TestClock.adjust("6 seconds")
      yield* Runner.run(p, { user: "a", tokens: 1 })
      assert.instanceOf(yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 })), RateLimited)
    }))

  it.effect("per-key and global limits together; a refusal by one charges neither", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({
        limits: [
          { key: (r) => `user:${r.user}`, limit: 2, window: "1 minute", algorithm: "fixed-window" },
          { key: "global", limit: 3, window: "1 minute", algorithm: "fixed-window" }
        ],
        store: makeStore()
      }))
      yield* Runner.run(p, { user: "a", tokens: 1 })
      yield* Runner.run(p, { user: "a", tokens: 1 })
      const byUser = yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 }))
      assert.strictEqual((byUser as RateLimited).key, "user:a")
      // the refused call did not charge the global limit: one global slot is left
      assert.strictEqual(yield* Runner.run(p, { user: "b", tokens: 1 }), "ok b")
      const byGlobal = yield* Effect.flip(Runner.run(p, { user: "c", tokens: 1 }))
      assert.strictEqual((byGlobal as RateLimited).key, "global")
      // ... and the global refusal did not charge user c
      yield* TestClock.adjust("1 minute")
      yield* Runner.run(p, { user: "c", tokens: 1 })
      yield* Runner.run(p, { user: "c", tokens: 1 })
      const again = yield* Effect.flip(Runner.run(p, { user: "c", tokens: 1 }))
      assert.strictEqual((again as RateLimited).key, "user:c")
    }))

  it.effect("a cost per call (tokens); a cost above the limit can never pass", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({
        limits: [{ key: "tokens", limit: 100, window: "1 minute", algorithm: "fixed-window" }],
        cost: (r) => r.tokens,
        store: makeStore()
      }))
      yield* Runner.run(p, { user: "a", tokens: 60 })
      assert.instanceOf(yield* Effect.flip(Runner.run(p, { user: "a", tokens: 50 })), RateLimited)
      yield* Runner.run(p, { user: "a", tokens: 40 })
      const never = yield* Effect.flip(Runner.run(p, { user: "a", tokens: 101 }))
      assert.strictEqual((never as RateLimited).retryAfterMillis, Number.POSITIVE_INFINITY)
    }))

  it.effect("two limits on the same key are two counters, both enforced", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({
        limits: [
          { key: (r) => `user:${r.user}`, limit: 2, window: "1 second", name: "burst" },
          { key: (r) => `user:${r.user}`, limit: 5, window: "1 hour", name: "hourly" }
        ],
        store: makeStore()
      }))
      const call = Runner.run(p, { user: "u", tokens: 1 })
      yield* call
      yield* call
      const burst = yield* Effect.flip(call)
      assert.instanceOf(burst, RateLimited, "the per-second limit refuses the third call at once")
      assert.strictEqual((burst as RateLimited).retryAfterMillis, 500)
      yield* TestClock.adjust("1 second")
      yield* call
      yield* call
      yield* TestClock.adjust("1 second")
      yield* call // the fifth call this hour
      const hourly = yield* Effect.flip(call)
      assert.instanceOf(hourly, RateLimited)
      assert.isAbove(
        (hourly as RateLimited).retryAfterMillis,
        60_000,
        "refused by the hourly limit, not the per-second one"
      )
    }))

  it.effect("limits differing only by algorithm, limit or window never share a counter", () =>
    Effect.gen(function*() {
      const store = makeStore()
      const base = { key: "k", algorithm: "fixed-window", limit: 1, windowMillis: 60_000, cost: 1 } as const
      const variants: ReadonlyArray<RateLimit.Request> = [
        base,
        { ...base, algorithm: "token-bucket" },
        { ...base, limit: 2 },
        { ...base, windowMillis: 30_000 },
        { ...base, key: "k:1:60000" } // a key that looks like the tail of another id
      ]
      for (const r of variants) assert.deepStrictEqual(yield* store.consume([r], 1000), { allowed: true })
      for (const r of variants.filter((r) => r.limit === 1)) assert.isFalse((yield* store.consume([r], 1000)).allowed)
    }))

  it.effect("a NaN, negative or infinite cost is refused (InvalidRateLimitInput) and charges nothing", () =>
    Effect.gen(function*() {
      let next = 1
      const p = ask.pipe(RateLimit.policy({
        limits: [{ key: "global", limit: 2, window: "1 minute" }],
        cost: () => next,
        store: makeStore()
      }))
      yield* Runner.run(p, { user: "a", tokens: 1 })
      yield* Runner.run(p, { user: "a", tokens: 1 })
      for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        next = bad
        const e = yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 }))
        assert.instanceOf(e, Errors.InvalidRateLimitInput)
        assert.strictEqual((e as Errors.InvalidRateLimitInput).field, "cost")
      }
      next = 1
      // the bucket was neither charged nor refilled by the refused calls
      assert.instanceOf(yield* Effect.flip(Runner.run(p, { user: "a", tokens: 1 })), RateLimited)
    }))

  it.effect("the store itself refuses a request it cannot charge (StoreError), whoever calls it", () =>
    Effect.gen(function*() {
      const store = makeStore()
      const ok = { key: "k", algorithm: "token-bucket", limit: 2, windowMillis: 1000, cost: 2 } as const
      assert.deepStrictEqual(yield* store.consume([ok], 0), { allowed: true })
      const bad: ReadonlyArray<unknown> = [
        { ...ok, cost: Number.NaN },
        { ...ok, cost: -5 },
        { ...ok, limit: Number.NaN },
        { ...ok, windowMillis: 0 },
        { ...ok, algorithm: "leaky" },
        { ...ok, key: 42 },
        null
      ]
      for (const r of bad) {
        const e = yield* Effect.flip(store.consume([r as RateLimit.Request], 0))
        assert.instanceOf(e, StoreError)
      }
      assert.instanceOf(yield* Effect.flip(store.consume([], 0)), StoreError)
      assert.instanceOf(yield* Effect.flip(store.consume([ok], Number.NaN)), StoreError)
      // still empty: nothing above refilled it
      assert.isFalse((yield* store.consume([{ ...ok, cost: 1 }], 0)).allowed)
    }))

  it.effect.prop(
    "property: any cost is either charged (a finite number >= 0) or refused with InvalidRateLimitInput, never a defect",
    {
      cost: fc.oneof(
        fc.double(),
        fc.integer({ min: -5, max: 5 }),
        fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0),
        fc.bigInt(),
        fc.string(),
        fc.constant(null),
        fc.constant(undefined)
      ),
      key: fc.oneof(
        fc.string(),
        fc.constantFrom("a:b", "::", "__proto__", "token-bucket:1:1000:x"),
        fc.integer(),
        fc.constant(undefined)
      )
    },
    ({ cost, key }) =>
      Effect.gen(function*() {
        const p = ask.pipe(RateLimit.policy({
          limits: [{ key: () => key as string, limit: 10, window: "1 minute", name: "fuzzed" }],
          cost: () => cost as number,
          store: makeStore()
        }))
        const exit = yield* Effect.exit(Runner.run(p, { user: "a", tokens: 1 }))
        const validCost = typeof cost === "number" && Number.isFinite(cost) && cost >= 0
        if (validCost && typeof key === "string") {
          if (cost <= 10) assert.deepStrictEqual(exit, Exit.succeed("ok a"))
          else {assert.instanceOf(
              Option.getOrUndefined(Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()),
              RateLimited
            )}
        } else {
          assert.isTrue(Exit.isFailure(exit) && Cause.isFailType(exit.cause), "a typed failure, not a defect")
          const e = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
          assert.instanceOf(e, Errors.InvalidRateLimitInput)
          assert.strictEqual((e as Errors.InvalidRateLimitInput).field, validCost ? "key" : "cost")
        }
      }),
    { fastCheck: { numRuns: 60 } }
  )

  it.effect("wait: sleeps (on the Clock) until capacity is back instead of failing", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({
        limits: [{ key: "global", limit: 1, window: "1 second", algorithm: "fixed-window" }],
        onExceeded: "wait",
        store: makeStore()
      }))
      yield* Runner.run(p, { user: "a", tokens: 1 })
      const fiber = yield* Effect.fork(Runner.run(p, { user: "b", tokens: 1 }))
      yield* TestClock.adjust("999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "ok b")
    }))
}
