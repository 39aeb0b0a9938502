/**
 * Every policy checks its options where it is built: NaN, negative, non-finite, out-of-range and
 * wrong-typed values are refused with `InvalidOption` naming the option, before anything runs.
 */
import { Primitive } from "@braid/core"
import { Bulkhead, CircuitBreaker, Errors, Fallback, Hedge, Retry, Saga, Timeout } from "@braid/resilience"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, FastCheck as fc } from "effect"

const step = Primitive.make("step", (n: number) => Effect.succeed(n))

/** Asserts that `build` throws `InvalidOption` naming `option`. */
const refused = (build: () => unknown, option: string): void => {
  try {
    build()
  } catch (e) {
    assert.instanceOf(e, Errors.InvalidOption, String(e))
    const error = e as Errors.InvalidOption
    assert.strictEqual(error.option, option, error.message)
    assert.include(error.message, `option ${option} `)
    return
  }
  assert.fail(`a bad ${option} was accepted`)
}

const cyclic = (() => {
  const o: Record<string, unknown> = {}
  o.self = o
  return o
})()
const deep = (() => {
  let o: Record<string, unknown> = {}
  for (let i = 0; i < 1000; i++) o = { o }
  return o
})()

/** Values no option of any kind accepts. */
const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.constant({}),
  fc.constant(JSON.parse(`{"__proto__": {"polluted": 1}}`) as unknown),
  fc.constant(cyclic),
  fc.constant(deep),
  fc.constant(Symbol("s")),
  fc.array(fc.string(), { minLength: 1, maxLength: 3 })
)
const notNumber = fc.oneof(wrongType, fc.bigInt(), fc.string(), fc.constant(() => 1))
const nonFinite = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)

/** Not an integer >= min (and, if given, <= max). */
const badInteger = (min: number, max?: number) =>
  fc.oneof(
    notNumber,
    nonFinite,
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.integer({ max: min - 1 }),
    ...(max === undefined ? [] : [fc.integer({ min: max + 1 })])
  )
/** Not a finite number >= min. */
const badFinite = (min: number) =>
  fc.oneof(notNumber, nonFinite, fc.double({ max: min, noNaN: true, maxExcluded: true }))
/** Not in (0, 1]. */
const badRate = fc.oneof(
  notNumber,
  nonFinite,
  fc.double({ max: 0, noNaN: true }),
  fc.double({ min: 1, minExcluded: true, noNaN: true })
)
/** Not a duration (>= 0, or > 0 when `positive`; finite unless `infinite`). */
const badDuration = (rules: { readonly positive?: boolean; readonly infinite?: boolean } = {}) =>
  fc.oneof(
    fc.oneof(wrongType, fc.constant(() => 1)),
    fc.constant(Number.NaN),
    fc.double({ max: 0, maxExcluded: true, noNaN: true }).filter((d) => !Object.is(d, -0)), // -0 is 0, a valid duration
    fc.bigInt({ max: BigInt(-1) }),
    fc.constantFrom("soon", "-5 seconds", "NaN millis", "5", "5 fortnights", ""),
    fc.constantFrom([Number.NaN, 0], [-1, 0], [0, -1]),
    ...(rules.positive ? [fc.constantFrom(0, "0 millis", Duration.zero)] : []),
    ...(rules.infinite ? [] : [fc.constantFrom(Number.POSITIVE_INFINITY, Duration.infinity)])
  )
const notFunction = fc.oneof(wrongType, fc.string(), fc.integer())
const notName = fc.oneof(wrongType, fc.integer(), fc.constant(""))

const cases: ReadonlyArray<
  { readonly option: string; readonly bad: fc.Arbitrary<unknown>; readonly build: (v: any) => unknown }
> = [
  // retry
  { option: "maxAttempts", bad: badInteger(1), build: (v) => Retry.policy({ maxAttempts: v }) },
  { option: "maxAttempts", bad: badInteger(1), build: (v) => Retry.effect(Effect.void, { maxAttempts: v }) },
  { option: "baseDelay", bad: badDuration(), build: (v) => Retry.policy({ baseDelay: v }) },
  { option: "maxDelay", bad: badDuration(), build: (v) => Retry.policy({ maxDelay: v }) },
  { option: "factor", bad: badFinite(1), build: (v) => Retry.policy({ factor: v }) },
  {
    option: "backoff",
    bad: fc.oneof(notNumber, fc.constantFrom("linear", "Constant")),
    build: (v) => Retry.policy({ backoff: v })
  },
  {
    option: "retryOn",
    bad: fc.oneof(wrongType, fc.constantFrom("all", "never"), fc.integer()),
    build: (v) => Retry.policy({ retryOn: v })
  },
  {
    option: "respectRetryAfter",
    bad: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
    build: (v) => Retry.policy({ respectRetryAfter: v })
  },
  { option: "onRetry", bad: notFunction, build: (v) => Retry.policy({ onRetry: v }) },
  { option: "name", bad: notName, build: (v) => Retry.policy({ name: v }) },
  // timeout
  { option: "duration", bad: badDuration({ positive: true, infinite: true }), build: (v) => Timeout.within(v) },
  {
    option: "duration",
    bad: badDuration({ positive: true, infinite: true }),
    build: (v) => Timeout.effect(Effect.void, v)
  },
  { option: "fallback", bad: notFunction, build: (v) => Timeout.within("1 second", { fallback: v }) },
  // circuit breaker: triggers
  { option: "failures", bad: badInteger(1), build: (v) => CircuitBreaker.consecutive(v) },
  { option: "size", bad: badInteger(1), build: (v) => CircuitBreaker.countWindow({ size: v, failureRate: 0.5 }) },
  { option: "failureRate", bad: badRate, build: (v) => CircuitBreaker.countWindow({ size: 10, failureRate: v }) },
  {
    option: "minimumCalls",
    bad: badInteger(1, 10),
    build: (v) => CircuitBreaker.countWindow({ size: 10, failureRate: 0.5, minimumCalls: v })
  },
  {
    option: "window",
    bad: badDuration({ positive: true }),
    build: (v) => CircuitBreaker.timeWindow({ window: v, failureRate: 0.5, minimumCalls: 5 })
  },
  {
    option: "failureRate",
    bad: badRate,
    build: (v) => CircuitBreaker.timeWindow({ window: "1 minute", failureRate: v, minimumCalls: 5 })
  },
  {
    option: "minimumCalls",
    bad: badInteger(1),
    build: (v) => CircuitBreaker.timeWindow({ window: "1 minute", failureRate: 0.5, minimumCalls: v })
  },
  // circuit breaker: settings (and triggers built by hand)
  { option: "name", bad: notName, build: (v) => CircuitBreaker.unsafeMake({ name: v }) },
  { option: "openFor", bad: badDuration(), build: (v) => CircuitBreaker.unsafeMake({ name: "b", openFor: v }) },
  {
    option: "halfOpenProbes",
    bad: badInteger(1),
    build: (v) => CircuitBreaker.unsafeMake({ name: "b", halfOpenProbes: v })
  },
  {
    option: "successesToClose",
    bad: badInteger(1),
    build: (v) => CircuitBreaker.unsafeMake({ name: "b", successesToClose: v })
  },
  {
    option: "openBackoff.factor",
    bad: badFinite(1),
    build: (v) => CircuitBreaker.unsafeMake({ name: "b", openBackoff: { factor: v, max: "1 minute" } })
  },
  {
    option: "openBackoff.max",
    bad: badDuration(),
    build: (v) => CircuitBreaker.unsafeMake({ name: "b", openBackoff: { factor: 2, max: v } })
  },
  { option: "isFailure", bad: notFunction, build: (v) => CircuitBreaker.unsafeMake({ name: "b", isFailure: v }) },
  {
    option: "onStateChange",
    bad: notFunction,
    build: (v) => CircuitBreaker.unsafeMake({ name: "b", onStateChange: v })
  },
  {
    option: "trigger.failureRate",
    bad: badRate,
    build: (v) =>
      CircuitBreaker.unsafeMake({ name: "b", trigger: { _tag: "count", size: 10, failureRate: v, minimumCalls: 10 } })
  },
  {
    option: "trigger.failures",
    bad: badInteger(1),
    build: (v) => CircuitBreaker.unsafeMake({ name: "b", trigger: { _tag: "consecutive", failures: v } })
  },
  // bulkhead
  { option: "name", bad: notName, build: (v) => Bulkhead.unsafeMake({ name: v, maxConcurrent: 1 }) },
  { option: "maxConcurrent", bad: badInteger(1), build: (v) => Bulkhead.unsafeMake({ name: "b", maxConcurrent: v }) },
  {
    option: "maxQueued",
    bad: badInteger(0),
    build: (v) => Bulkhead.unsafeMake({ name: "b", maxConcurrent: 1, maxQueued: v })
  },
  // hedge
  {
    option: "delay",
    bad: badDuration().filter((v) => typeof v !== "object" || v === null || Array.isArray(v)),
    build: (v) => Hedge.policy({ delay: v })
  },
  {
    option: "delay.percentile",
    bad: badRate,
    build: (v) => Hedge.policy({ delay: { percentile: v, initial: "1 second" } })
  },
  {
    option: "delay.initial",
    bad: badDuration(),
    build: (v) => Hedge.make({ name: "h", delay: { percentile: 0.9, initial: v } })
  },
  {
    option: "delay.window",
    bad: badInteger(1),
    build: (v) => Hedge.policy({ delay: { percentile: 0.9, initial: "1 second", window: v } })
  },
  {
    option: "delay.minSamples",
    bad: badInteger(1, 20),
    build: (v) => Hedge.policy({ delay: { percentile: 0.9, initial: "1 second", window: 20, minSamples: v } })
  },
  // saga
  {
    option: "compensationTimeout",
    bad: badDuration({ positive: true, infinite: true }),
    build: (v) => Saga.make({ name: "s", compensationTimeout: v }, Saga.step(step, () => Effect.void))
  },
  { option: "name", bad: notName, build: (v) => Saga.make({ name: v }, Saga.step(step, () => Effect.void)) },
  { option: "steps[0]", bad: fc.oneof(wrongType, fc.integer()), build: (v) => (Saga.make as any)("s", v) },
  // fallback
  { option: "when", bad: notFunction, build: (v) => Fallback.chain([step, step], { when: v }) },
  {
    option: "alternatives",
    bad: fc.oneof(fc.constant([]), fc.constant(null), fc.integer()),
    build: (v) => (Fallback.chain as any)(v)
  }
]

describe("Options", () => {
  it("property: every policy refuses NaN, negative, non-finite, out-of-range and wrong-typed options, naming the option", () => {
    for (const { bad, build, option } of cases) {
      fc.assert(fc.property(bad, (v) => refused(() => build(v), option)), { numRuns: 60 })
    }
  })

  it("the review's cases: a rate above 1, minimumCalls above size, a rate of 0", () => {
    refused(() => CircuitBreaker.countWindow({ size: 100, failureRate: 10 }), "failureRate")
    refused(() => CircuitBreaker.countWindow({ size: 10, failureRate: 0.5, minimumCalls: 11 }), "minimumCalls")
    refused(() => CircuitBreaker.countWindow({ size: 10, failureRate: 0 }), "failureRate")
    refused(() => CircuitBreaker.timeWindow({ window: "1 minute", failureRate: 0, minimumCalls: 1 }), "failureRate")
    refused(() => Retry.policy({ baseDelay: "1 minute", maxDelay: "1 second" }), "baseDelay")
    refused(
      () => CircuitBreaker.unsafeMake({ name: "b", openFor: "1 minute", openBackoff: { factor: 2, max: "1 second" } }),
      "openBackoff.max"
    )
  })

  it("the message names the policy, the option, the rule and what was given (cut short)", () => {
    try {
      Bulkhead.unsafeMake({ name: "pdf", maxConcurrent: Number.NaN })
      assert.fail("accepted")
    } catch (e) {
      assert.strictEqual((e as Error).message, "bulkhead pdf: option maxConcurrent must be an integer >= 1 (got NaN)")
    }
    try {
      Retry.policy({ backoff: "x".repeat(1000) as Retry.Backoff })
      assert.fail("accepted")
    } catch (e) {
      assert.isBelow((e as Error).message.length, 200)
    }
  })

  it.effect("the Effect constructors fail with InvalidOption instead of throwing", () =>
    Effect.gen(function*() {
      const breaker = yield* Effect.exit(CircuitBreaker.make({ name: "b", halfOpenProbes: 0 }))
      assert.isTrue(
        Exit.isFailure(breaker) && breaker.cause._tag === "Fail" && breaker.cause.error.option === "halfOpenProbes"
      )
      const bulkhead = yield* Effect.exit(Bulkhead.make({ name: "b", maxConcurrent: -1 }))
      assert.isTrue(
        Exit.isFailure(bulkhead) && bulkhead.cause._tag === "Fail" && bulkhead.cause.error.option === "maxConcurrent"
      )
    }))

  it("valid edge values are accepted", () => {
    Retry.policy({ maxAttempts: 1, baseDelay: 0, maxDelay: 0, factor: 1, retryOn: "any" })
    Timeout.within(Duration.infinity)
    Timeout.within("1 nano")
    CircuitBreaker.countWindow({ size: 1, failureRate: 1, minimumCalls: 1 })
    CircuitBreaker.unsafeMake({ name: "b", openFor: 0 })
    Bulkhead.unsafeMake({ name: "b", maxConcurrent: 1, maxQueued: 0 })
    Hedge.policy({ delay: 0 })
    Hedge.policy({ delay: { percentile: 1, initial: 0, window: 1, minSamples: 1 } })
    Saga.make({ name: "s", compensationTimeout: Duration.infinity }, Saga.step(step, () => Effect.void))
  })
})
