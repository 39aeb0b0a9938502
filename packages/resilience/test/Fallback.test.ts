import { Primitive, Runner } from "@braid/core"
import { Fallback, FallbackExhausted } from "@braid/resilience"
import { byName, parentOf, successValue, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Ref } from "effect"

class Overloaded extends Data.TaggedError("Overloaded")<{ readonly model: string }> {}
class BadRequest extends Data.TaggedError("BadRequest")<{ readonly model: string }> {}

describe("Fallback", () => {
  it.effect("tries alternatives in order and stops at the first success", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make<Array<string>>([])
      const alt = (name: string, ok: boolean) =>
        Primitive.make(name, (q: string) =>
          Effect.zipRight(
            Ref.update(ran, (xs) => [...xs, name]),
            ok ? Effect.succeed(`${name}: ${q}`) : Effect.fail(new Overloaded({ model: name }))
          ))
      const reply = Fallback.chain([alt("large", false), alt("small", true), alt("canned", true)])
      assert.strictEqual(yield* Runner.run(reply, "hi"), "small: hi")
      assert.deepStrictEqual(yield* Ref.get(ran), ["large", "small"])
    }))

  it.effect("when every alternative fails, FallbackExhausted carries each error in order", () =>
    Effect.gen(function*() {
      const a = Primitive.make("large", (_: string) => Effect.fail(new Overloaded({ model: "large" })))
      const b = Primitive.make("small", (_: string) => Effect.fail(new Overloaded({ model: "small" })))
      const error = yield* Effect.flip(Runner.run(a.pipe(Fallback.to(b)), "hi"))
      assert.instanceOf(error, FallbackExhausted)
      if (!(error instanceof FallbackExhausted)) return
      assert.deepStrictEqual(error.errors, [new Overloaded({ model: "large" }), new Overloaded({ model: "small" })])
      assert.deepStrictEqual(error.alternatives, ["large", "small"])
      assert.strictEqual(
        error.message,
        "fallback(large): all 2 alternatives failed (large: Overloaded; small: Overloaded)"
      )
    }))

  it.effect("the `when` predicate chooses which errors fall through; others fail the chain at once", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make(0)
      const bad = Primitive.make<string, string, BadRequest | Overloaded>(
        "large",
        (_) => Effect.fail(new BadRequest({ model: "large" }))
      )
      const small = Primitive.make("small", (_: string) => Effect.as(Ref.update(ran, (n) => n + 1), "small"))
      const chain = Fallback.chain([bad, small], { when: (e) => e._tag === "Overloaded" })
      const error = yield* Effect.flip(Runner.run(chain, "q"))
      assert.instanceOf(error, BadRequest)
      assert.strictEqual(yield* Ref.get(ran), 0)
    }))

  it.effect("each alternative is a child span; the chain records fallback.next and fallback.used", () =>
    Effect.gen(function*() {
      const large = Primitive.make("large", (_: string) => Effect.fail(new Overloaded({ model: "large" })))
      const canned = Primitive.sync("canned", (_: string) => "Please try again later.")
      const { exit, spans } = yield* withSpans(Runner.run(Fallback.chain([large, canned], { name: "reply" }), "q"))
      assert.strictEqual(successValue(exit), "Please try again later.")
      const chain = byName(spans, "reply")
      assert.strictEqual(parentOf(spans, byName(spans, "large")), chain)
      assert.strictEqual(parentOf(spans, byName(spans, "canned")), chain)
      assert.deepStrictEqual(chain.events.find((e) => e.name === "braid.fallback.next")?.attributes, {
        "braid.fallback.from": "large",
        "braid.fallback.to": "canned",
        "error.type": "Overloaded"
      })
      assert.strictEqual(chain.attributes["braid.fallback.used"], "canned")
    }))

  it.effect("Fallback.effect chains plain Effects", () =>
    Effect.gen(function*() {
      const out = yield* Fallback.effect([Effect.fail("a"), Effect.fail("b"), Effect.succeed("c")])
      assert.strictEqual(out, "c")
      const e = yield* Effect.flip(Fallback.effect([Effect.fail("a"), Effect.fail("b")], { name: "pair" }))
      assert.deepStrictEqual((e as FallbackExhausted).errors, ["a", "b"])
    }))
})
