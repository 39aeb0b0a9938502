/**
 * The behaviour every `Cache.Store` shares (`storeSuite`) and the helpers of the store tests, run
 * against each store: memory and SQLite here, Redis in @braid/redis (imported by relative path
 * from its tests).
 */
import { Primitive, Runner } from "@braid/core"
import { Cache } from "@braid/resilience"
import { byName, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Exit, FastCheck, Option, Ref, Schema } from "effect"

/** A persisted error: rebuilt from its Schema when read back from a store. */
export class Missing extends Schema.TaggedError<Missing>()("Missing", { id: Schema.String }) {
  override get message(): string {
    return `no record ${this.id}`
  }
}

/** The events `braid.cache.store_error` of a run of `self` under the span `span`, as [operation, error.type]. */
export const storeErrors = <A, E>(self: Effect.Effect<A, E>, span: string) =>
  Effect.map(withSpans(self), ({ exit, spans }) => ({
    exit,
    events: byName(spans, span).events.filter((e) => e.name === "braid.cache.store_error").map((
      e
    ) => [e.attributes?.["braid.cache.operation"], e.attributes?.["error.type"]])
  }))

/** A step that counts its runs and returns what `reply` gives. */
export const counted = <A>(calls: Ref.Ref<number>, reply: (input: string) => A) =>
  Primitive.make("lookup", (input: string) => Effect.as(Ref.update(calls, (n) => n + 1), reply(input)))

export const storeSuite = <R>(
  label: string,
  makeStore: () => Effect.Effect<Cache.Store, unknown, R>,
  provide: <A, E>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, never>,
  remote: boolean
) => {
  describe(label, () => {
    it.effect("with errorSchema, a cached failure comes back as an instance of its class (message, stack)", () =>
      provide(Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const step = Primitive.make(
          "find",
          (id: string) => Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.fail(new Missing({ id })))
        )
        const p = step.pipe(Cache.policy({ store: yield* makeStore(), cacheFailures: true, errorSchema: Missing }))
        const first = yield* Effect.flip(Runner.run(p, "x"))
        const again = yield* Effect.flip(Runner.run(p, "x"))
        assert.strictEqual(yield* Ref.get(calls), 1, "the second call was a hit")
        assert.instanceOf(again, Missing)
        assert.strictEqual(again.message, "no record x")
        assert.strictEqual(again.id, "x")
        assert.isString(again.stack)
        assert.deepStrictEqual(again, first)
      })))

    it.effect("with schema, values are encoded before they are stored and decoded on every hit (a Date, a BigInt)", () =>
      provide(Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const Out = Schema.Struct({ at: Schema.Date, n: Schema.BigInt })
        const step = Primitive.make(
          "load",
          (_: string) => Effect.as(Ref.update(calls, (n) => n + 1), { at: new Date(86_400_000), n: 10n ** 20n })
        )
        const p = step.pipe(Cache.policy({ store: yield* makeStore(), schema: Out }))
        yield* Runner.run(p, "k")
        const hit = yield* Runner.run(p, "k")
        assert.strictEqual(yield* Ref.get(calls), 1)
        assert.instanceOf(hit.at, Date)
        assert.strictEqual(hit.at.getTime(), 86_400_000)
        assert.strictEqual(hit.n, 10n ** 20n)
      })))

    it.effect("an entry the schema does not decode is a miss (event decode), then replaced", () =>
      provide(Effect.gen(function*() {
        const store = yield* makeStore()
        const plain = Cache.make({ name: "plain", store })
        const typed = Cache.make({ name: "typed", store, schema: Schema.Struct({ n: Schema.Number }) })
        yield* plain.get("k", Effect.succeed({ n: "not a number" }))
        const { exit, events } = yield* storeErrors(
          Effect.withSpan(typed.get("k", Effect.succeed({ n: 1 })), "outer"),
          "outer"
        )
        assert.deepStrictEqual(exit, Exit.succeed({ n: 1 }))
        assert.deepStrictEqual(events, [["decode", "ParseError"]])
        assert.deepStrictEqual(yield* typed.get("k", Effect.die("not called")), { n: 1 })
      })))

    it.effect("a value the schema cannot encode is not cached (event encode); the call succeeds", () =>
      provide(Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const p = counted(calls, () => -1).pipe(
          Cache.policy({ name: "positive", store: yield* makeStore(), schema: Schema.Positive })
        )
        const { exit, events } = yield* storeErrors(Runner.run(p, "a"), "positive")
        assert.deepStrictEqual(exit, Exit.succeed(-1))
        assert.deepStrictEqual(events, [["encode", "ParseError"]])
        yield* Runner.run(p, "a")
        assert.strictEqual(yield* Ref.get(calls), 2)
      })))

    if (remote) {
      it.effect("a value JSON cannot carry (BigInt, cycle, NaN) is not cached (event set, JsonError); the call succeeds", () =>
        provide(Effect.gen(function*() {
          const cyclic: Record<string, unknown> = { a: 1 }
          cyclic["self"] = cyclic
          const values: ReadonlyArray<unknown> = [{ n: 1n }, cyclic, [Number.NaN], {
            deep: JSON.parse("[".repeat(1500) + "]".repeat(1500))
          }]
          const store = yield* makeStore()
          for (const value of values) {
            const calls = yield* Ref.make(0)
            const p = counted(calls, () => value).pipe(Cache.policy({ name: "unencodable", store }))
            const { exit, events } = yield* storeErrors(Runner.run(p, "k"), "unencodable")
            assert.deepStrictEqual(exit, Exit.succeed(value))
            assert.deepStrictEqual(events, [["set", "JsonError"]])
            yield* Runner.run(p, "k")
            assert.strictEqual(yield* Ref.get(calls), 2, "not cached")
          }
        })))

      it.effect("without errorSchema, a cached failure comes back as its JSON form (a plain object: _tag and fields)", () =>
        provide(Effect.gen(function*() {
          const p = Primitive.make("find", (id: string) => Effect.fail(new Missing({ id }))).pipe(
            Cache.policy({ store: yield* makeStore(), cacheFailures: true })
          )
          yield* Effect.flip(Runner.run(p, "x"))
          const again = yield* Effect.flip(Runner.run(p, "x"))
          assert.notInstanceOf(again, Missing)
          assert.deepStrictEqual({ ...again }, { _tag: "Missing", id: "x" })
        })))
    }

    it.effect.prop(
      "property: JSON values round-trip (remote stores: through their JSON form; a \"__proto__\" key is refused at write)",
      { value: FastCheck.jsonValue({ maxDepth: 4 }) },
      ({ value }) =>
        provide(Effect.gen(function*() {
          const store = yield* makeStore()
          const written = yield* Effect.either(store.set("k", { _tag: "success", value }, undefined, 0))
          if (Either.isLeft(written)) {
            assert.isTrue(remote && JSON.stringify(value).includes("__proto__"), `refused: ${written.left.message}`)
            return
          }
          const found = yield* store.get("k", 0)
          assert.deepStrictEqual(Option.getOrThrow(found), {
            _tag: "success",
            value: remote ? JSON.parse(JSON.stringify(value)) : value
          })
        })),
      { fastCheck: { numRuns: 40 } }
    )

    it.effect("round-trips every value, null and undefined included", () =>
      provide(Effect.gen(function*() {
        const store = yield* makeStore()
        const values: ReadonlyArray<unknown> = [undefined, null, 0, "", false, "text", { a: [1, null, "x"] }, [1, 2]]
        for (let i = 0; i < values.length; i++) {
          yield* store.set(`k${i}`, { _tag: "success", value: values[i] }, undefined, 0)
        }
        for (let i = 0; i < values.length; i++) {
          const found = yield* store.get(`k${i}`, 0)
          assert.isTrue(Option.isSome(found), `k${i} was stored`)
          assert.deepStrictEqual(Option.getOrThrow(found), { _tag: "success", value: values[i] })
        }
        assert.isTrue(Option.isNone(yield* store.get("missing", 0)))
        yield* store.delete("k0")
        assert.isTrue(Option.isNone(yield* store.get("k0", 0)))
      })))

    it.effect("a cached undefined is a hit: the step runs once", () =>
      provide(Effect.gen(function*() {
        const calls = yield* Ref.make(0)
        const p = counted(calls, () => undefined).pipe(Cache.policy({ store: yield* makeStore() }))
        assert.isUndefined(yield* Runner.run(p, "a"))
        assert.isUndefined(yield* Runner.run(p, "a"))
        assert.strictEqual(yield* Ref.get(calls), 1)
      })))
  })
}

/** Texts a store may hold that are not cache entries. */
export const corrupted: ReadonlyArray<string> = [
  "garbage",
  "{\"s\":1,\"v\":",
  "{\"__proto__\":{\"s\":1,\"v\":1}}",
  "{\"s\":1,\"v\":{\"\\u005f_proto__\":{\"polluted\":true}}}",
  "[".repeat(5000) + "]".repeat(5000),
  "{\"s\":2}",
  "{\"s\":1}",
  "null",
  "42"
]
