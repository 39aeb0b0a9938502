import { Io, Json } from "@braid/core"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, FastCheck as fc, TestClock } from "effect"

const reason = (e: Either.Either<unknown, Json.JsonError>) =>
  Either.isLeft(e) ? `${e.left.reason}@${e.left.path}` : "ok"

describe("Json.parse", () => {
  it("refuses a __proto__ key in any spelling and leaves no prototype effect", () => {
    assert.strictEqual(reason(Json.parse("{\"meta\":{\"__proto__\":{\"isAdmin\":true}}}")), "ForbiddenKey@meta")
    assert.strictEqual(reason(Json.parse("{\"\\u005f_proto__\":{\"isAdmin\":true}}")), "ForbiddenKey@(root)")
    assert.strictEqual(reason(Json.parse("[{\"a\":1},{\"__proto__\":null}]")), "ForbiddenKey@[1]")
    // A string value mentioning it is fine.
    assert.deepStrictEqual(Json.parse("{\"note\":\"__proto__\"}"), Either.right({ note: "__proto__" }))
    assert.isUndefined(({} as Record<string, unknown>)["isAdmin"])
  })

  it("bounds nesting: 20,000 levels fail typed, not with a RangeError", () => {
    const deep = "[".repeat(20_000) + "]".repeat(20_000)
    assert.strictEqual(
      Either.getLeft(Json.parse(deep)).pipe((o) => o._tag === "Some" ? o.value.reason : "none"),
      "Depth"
    )
    const deepObject = "{\"a\":".repeat(20_000) + "1" + "}".repeat(20_000)
    assert.strictEqual(
      Either.getLeft(Json.parse(deepObject)).pipe((o) => o._tag === "Some" ? o.value.reason : "none"),
      "Depth"
    )
    assert.isTrue(Either.isRight(Json.parse("[".repeat(50) + "]".repeat(50), { maxDepth: 50 })))
    assert.isTrue(Either.isLeft(Json.parse("[".repeat(51) + "]".repeat(51), { maxDepth: 50 })))
    // Brackets inside strings do not count.
    assert.isTrue(Either.isRight(Json.parse(JSON.stringify({ s: "[".repeat(5000) }))))
  })

  it("a syntax error and a non-string are typed", () => {
    assert.strictEqual(reason(Json.parse("{nope")), "Syntax@(root)")
    assert.strictEqual(reason(Json.parse(42 as unknown as string)), "Unsupported@(root)")
  })

  it("property: any JSON value round-trips", () =>
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      const text = JSON.stringify(v)
      const hasProto = text.includes("\"__proto__\":")
      const parsed = Json.parse(text)
      if (hasProto) return Either.isLeft(parsed)
      return Either.isRight(parsed) && JSON.stringify(parsed.right) === text
    })))
})

describe("Json.encode", () => {
  it("refuses BigInt, cycles, non-finite numbers and excess depth with the path", () => {
    assert.strictEqual(reason(Json.encode({ a: [1, BigInt(2)] })), "BigInt@a[1]")
    const cyclic: Record<string, unknown> = { x: { y: 1 } }
    ;(cyclic["x"] as Record<string, unknown>)["back"] = cyclic
    assert.strictEqual(reason(Json.encode(cyclic)), "Cycle@x.back")
    assert.strictEqual(reason(Json.encode({ n: Number.NaN })), "NonFinite@n")
    assert.strictEqual(reason(Json.encode([Infinity])), "NonFinite@[0]")
    let deep: unknown = 1
    for (let i = 0; i < 20_000; i++) deep = [deep]
    assert.strictEqual(
      Either.isLeft(Json.encode(deep)) &&
        Json.encode(deep).pipe(Either.getLeft, (o) => o._tag === "Some" && o.value.reason),
      "Depth"
    )
    assert.strictEqual(reason(Json.encode(() => 1)), "Unsupported@(root)")
  })

  it("shared (non-cyclic) references are fine; toJSON is honoured; undefined properties are left out", () => {
    const shared = { k: 1 }
    assert.deepStrictEqual(Json.encode({ a: shared, b: shared }), Either.right("{\"a\":{\"k\":1},\"b\":{\"k\":1}}"))
    assert.deepStrictEqual(
      Json.encode({ d: new Date(0), u: undefined }),
      Either.right("{\"d\":\"1970-01-01T00:00:00.000Z\"}")
    )
    assert.deepStrictEqual(Json.encode(undefined), Either.right("null"))
    assert.strictEqual(
      reason(Json.encode({
        bad: {
          toJSON: () => {
            throw new Error("no")
          }
        }
      })),
      "Unsupported@bad"
    )
  })

  it("copy detaches the value from the caller's object", () => {
    const original = { list: [1, 2] }
    const copied = Either.getOrThrow(Json.copy(original))
    original.list.push(3)
    assert.deepStrictEqual(copied, { list: [1, 2] })
  })

  it("property: anything fast-check calls anything either encodes to text JSON.parse reads back, or fails typed", () =>
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withBoxedValues: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withObjectString: true
        }),
        (v) => {
          const r = Json.encode(v)
          if (Either.isLeft(r)) return r.left instanceof Json.JsonError
          JSON.parse(r.right)
          return true
        }
      )
    ))
})

describe("Io.bounded", () => {
  it.effect("a call that never answers fails with the caller's error at the bound (TestClock)", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        Effect.exit(Io.bounded(Effect.never, "2 seconds", (millis) => `timed out after ${millis} ms`))
      )
      yield* TestClock.adjust(Duration.seconds(2))
      const exit = yield* fiber.await
      assert.deepStrictEqual(exit, Exit.succeed(Exit.fail("timed out after 2000 ms")))
    }))

  it.effect("the default bound is Io.defaultTimeout", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.either(Io.bounded(Effect.never, undefined, (millis) => millis)))
      yield* TestClock.adjust(Io.defaultTimeout)
      const result = yield* fiber.await
      assert.deepStrictEqual(result, Exit.succeed(Either.left(5000)))
    }))
})
