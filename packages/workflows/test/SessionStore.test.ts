import { SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import { acceptNewMessage, NewMessageInput, textProblem } from "../src/internal/sessionStoreCommon.js"
import { sessionStoreSuite } from "./sessionStoreConformance.js"

sessionStoreSuite("memory", () => SessionStore.layerMemory, { persistent: false })

describe("appendMessage's hand check of a message", () => {
  const decode = Schema.decodeUnknownEither(NewMessageInput, { onExcessProperty: "ignore" })
  const withoutUndefined = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
  const valid = fc.record({
    role: fc.constantFrom("user", "assistant", "system"),
    text: fc.string(),
    createdAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    turnId: fc.option(fc.string(), { nil: undefined }),
    inputTokens: fc.nat(),
    outputTokens: fc.nat(),
    costUsd: fc.double({ min: 0, max: 1e6, noNaN: true }),
    estimated: fc.boolean(),
    model: fc.option(fc.string(), { nil: undefined }),
    fallback: fc.boolean(),
    fallbackCause: fc.option(fc.string(), { nil: undefined })
  }, { requiredKeys: ["role", "text", "createdAt", "inputTokens", "outputTokens", "costUsd", "estimated", "fallback"] })
  const anyValue = fc.oneof(
    fc.anything({ withBigInt: true, withNullPrototype: true, withBoxedValues: true }),
    fc.constantFrom(Number.NaN, -0, -1, 1.5, 2 ** 53, "", "\u0000", "\uDC00", null, undefined)
  )
  const spoiled = fc.tuple(
    valid,
    fc.constantFrom(
      "role",
      "text",
      "createdAt",
      "turnId",
      "inputTokens",
      "outputTokens",
      "costUsd",
      "estimated",
      "model",
      "fallback",
      "fallbackCause"
    ),
    anyValue
  )
    .map(([m, k, v]) => ({ ...m, [k]: v }))

  it("accepts plainly valid messages, and whatever it accepts the Schema accepts with the same result", () => {
    fc.assert(
      fc.property(valid, (m) => {
        const accepted = acceptNewMessage(m)
        const decoded = decode(m)
        assert.isTrue(Either.isRight(decoded))
        if (
          textProblem(m.text) === undefined &&
          [m.turnId, m.model, m.fallbackCause].every((t) => t === undefined || textProblem(t) === undefined)
        ) {
          assert.isDefined(accepted)
        }
        if (accepted !== undefined && Either.isRight(decoded)) {
          assert.deepStrictEqual(accepted, withoutUndefined(decoded.right))
        }
      }),
      { numRuns: 500 }
    )
    fc.assert(
      fc.property(fc.oneof(spoiled, anyValue), (m) => {
        const accepted = acceptNewMessage(m)
        if (accepted === undefined) return
        const decoded = decode(m)
        assert.isTrue(Either.isRight(decoded), `accepted what the Schema refuses: ${String(m)}`)
        if (Either.isRight(decoded)) assert.deepStrictEqual(accepted, withoutUndefined(decoded.right))
      }),
      { numRuns: 2000 }
    )
  })
})
