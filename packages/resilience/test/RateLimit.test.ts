import { Runner } from "@braid/core"
import { Errors, RateLimit } from "@braid/resilience"
import { byName, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { type Ask, ask, suite } from "./rateLimitConformance.js"

describe("RateLimit (memory store)", () => {
  suite(RateLimit.memoryStore)

  it.effect("refusals are span events on the wrapper; the step does not run", () =>
    Effect.gen(function*() {
      const p = ask.pipe(RateLimit.policy({ limits: [{ key: "global", limit: 1, window: "1 minute" }] }))
      yield* Runner.run(p, { user: "a", tokens: 1 })
      const { spans } = yield* withSpans(Runner.run(p, { user: "a", tokens: 1 }))
      const wrapper = byName(spans, "ratelimit(ask)")
      assert.deepStrictEqual(wrapper.events.find((e) => e.name === "braid.ratelimit.rejected")?.attributes, {
        "braid.ratelimit.key": "global",
        "braid.ratelimit.retry_after_ms": 60_000
      })
      assert.strictEqual(spans.filter((s) => s.name === "ask").length, 0)
    }))

  it.effect("RateLimit.effect limits any Effect", () =>
    Effect.gen(function*() {
      const store = RateLimit.memoryStore()
      const call = RateLimit.effect(Effect.succeed(1), {
        name: "search",
        limits: [{ key: "k", limit: 1, window: "1 hour" }],
        store
      })
      assert.strictEqual(yield* call, 1)
      const e = yield* Effect.flip(call)
      assert.strictEqual(e._tag, "RateLimited")
    }))
})

describe("RateLimit options are checked where the policy is built", () => {
  const valid = { key: "k", limit: 5, window: "1 minute" } as const
  const build = (options: unknown) => () => ask.pipe(RateLimit.policy(options as RateLimit.Options<Ask>))

  it("each bad option is an InvalidOption naming it", () => {
    assert.throws(
      build({ limits: [] }),
      Errors.InvalidOption,
      "ratelimit(ask): option limits must be a non-empty array"
    )
    assert.throws(
      build({ limits: [{ ...valid, limit: Number.NaN }] }),
      Errors.InvalidOption,
      "ratelimit(ask): option limits[0].limit must be a finite number > 0"
    )
    assert.throws(
      build({ limits: [valid, { ...valid, limit: -1 }] }),
      Errors.InvalidOption,
      "option limits[1].limit must be a finite number > 0"
    )
    assert.throws(
      build({ limits: [{ ...valid, window: "soon" }] }),
      Errors.InvalidOption,
      "option limits[0].window must be a finite duration > 0"
    )
    assert.throws(
      build({ limits: [{ ...valid, window: 0 }] }),
      Errors.InvalidOption,
      "option limits[0].window must be a finite duration > 0"
    )
    assert.throws(
      build({ limits: [{ ...valid, window: Number.POSITIVE_INFINITY }] }),
      Errors.InvalidOption,
      "option limits[0].window must be a finite duration > 0"
    )
    assert.throws(
      build({ limits: [{ ...valid, algorithm: "leaky" }] }),
      Errors.InvalidOption,
      "option limits[0].algorithm must be "
    )
    assert.throws(
      build({ limits: [{ ...valid, key: 3 }] }),
      Errors.InvalidOption,
      "option limits[0].key must be a string or a function"
    )
    assert.throws(
      build({ limits: [valid], cost: Number.NaN }),
      Errors.InvalidOption,
      "ratelimit(ask): option cost must be a finite number >= 0"
    )
    assert.throws(
      build({ limits: [valid], cost: -1 }),
      Errors.InvalidOption,
      "option cost must be a finite number >= 0"
    )
    assert.throws(
      build({ limits: [valid], onExceeded: "retry" }),
      Errors.InvalidOption,
      "option onExceeded must be \"fail\" or \"wait\""
    )
    assert.throws(build({ limits: [valid], store: {} }), Errors.InvalidOption, "option store must be a RateLimit.Store")
    assert.throws(
      () => RateLimit.effect(Effect.void, { limits: [{ ...valid, limit: 0 }] }),
      Errors.InvalidOption,
      "effect: option limits[0].limit must be"
    )
  })

  it("property: a limit or window that is not finite and > 0 is refused; one that is, is accepted", () =>
    fc.assert(fc.property(
      fc.oneof(fc.double(), fc.integer(), fc.bigInt(), fc.string(), fc.constant(null)),
      (value) => {
        const ok = typeof value === "number" && Number.isFinite(value) && value > 0
        const limit = build({ limits: [{ ...valid, limit: value }] })
        if (ok) limit()
        else assert.throws(limit, Errors.InvalidOption, "limits[0].limit")
        // (a window below Duration's resolution of a nanosecond is zero: left out of this property)
        fc.pre(!(typeof value === "number" && value > 0 && value < 1e-3))
        const windowOk = (typeof value === "number" && Number.isFinite(value) && value > 0) ||
          (typeof value === "bigint" && value > 0n)
        const window = build({ limits: [{ ...valid, window: value }] })
        if (windowOk) window()
        else assert.throws(window, Errors.InvalidOption, "limits[0].window")
      }
    )))

  it("property: counter ids of distinct limits differ, whatever the key holds", () =>
    fc.assert(fc.property(
      fc.record({
        key: fc.string(),
        algorithm: fc.constantFrom("token-bucket" as const, "fixed-window" as const),
        limit: fc.integer({ min: 1, max: 100 }),
        windowMillis: fc.integer({ min: 1, max: 100_000 }),
        cost: fc.constant(1)
      }),
      fc.record({
        key: fc.string(),
        algorithm: fc.constantFrom("token-bucket" as const, "fixed-window" as const),
        limit: fc.integer({ min: 1, max: 100 }),
        windowMillis: fc.integer({ min: 1, max: 100_000 }),
        cost: fc.constant(1)
      }),
      (a, b) => {
        const same = a.key === b.key && a.algorithm === b.algorithm && a.limit === b.limit &&
          a.windowMillis === b.windowMillis
        assert.strictEqual(RateLimit.counterId(a) === RateLimit.counterId(b), same)
      }
    )))
})
