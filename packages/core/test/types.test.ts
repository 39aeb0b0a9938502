/**
 * Type-level tests: checked by `npm run typecheck` (tsc -b), which `npm test` runs first.
 * A `@ts-expect-error` that stops erroring fails the build, so mis-typed chaining must fail.
 */
import type { DecodeError, LoopExhausted, UnknownRoute, WorkflowContext } from "@braid/core"
import { andThen, forEach, parallel, Primitive, repeatUntil, route, Runner, sequence, State } from "@braid/core"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import type { Either } from "effect"
import { Context, Effect, Layer, Schema } from "effect"

class A extends Schema.TaggedError<A>()("A", {}) {}
class B extends Schema.TaggedError<B>()("B", {}) {}
interface Db {
  readonly _: unique symbol
}

// Values exist so the file also runs under vitest; only their types matter here.
const parse = Primitive.sync("parse", Number) as unknown as Primitive.Primitive<string, number, A>
const check = Primitive.sync("check", Boolean) as unknown as Primitive.Primitive<number, boolean, B, Db>
const show = Primitive.sync("show", String) as unknown as Primitive.Primitive<boolean, string>
const len = Primitive.sync("len", (s: string) => s.length)

describe("inferred types", () => {
  it("sequence and andThen", () => {
    expectTypeOf(sequence(parse, check, show)).toEqualTypeOf<Primitive.Primitive<string, string, A | B, Db>>()
    expectTypeOf(parse.pipe(andThen(check))).toEqualTypeOf<Primitive.Primitive<string, boolean, A | B, Db>>()
    // @ts-expect-error number output does not feed a string input
    sequence(parse, len)
    // @ts-expect-error the third step does not accept the second's output
    sequence(parse, check, len)
    // @ts-expect-error andThen checks too
    parse.pipe(andThen(len))
  })

  it("parallel: tuple, struct and settle", () => {
    expectTypeOf(parallel(parse, len)).toEqualTypeOf<Primitive.Primitive<string, [number, number], A, never>>()
    expectTypeOf(parallel({ n: parse, m: len })).toEqualTypeOf<
      Primitive.Primitive<string, { n: number; m: number }, A, never>
    >()
    expectTypeOf(parallel({ n: parse }, { mode: "settle" })).toEqualTypeOf<
      Primitive.Primitive<string, { n: Either.Either<number, A> }, never, never>
    >()
    expectTypeOf(parallel([parse, len], { concurrency: 2 })).toEqualTypeOf<
      Primitive.Primitive<string, [number, number], A, never>
    >()
    // branches with incompatible inputs need an input that is both
    expectTypeOf(parallel(parse, check)).toEqualTypeOf<Primitive.Primitive<never, [number, boolean], A | B, Db>>()
  })

  it("route and forEach", () => {
    const r = route((s: string) => s, { parse, len })
    expectTypeOf(r).toEqualTypeOf<Primitive.Primitive<string, number, A | UnknownRoute, never>>()
    const withDefault = route((s: string) => s, { parse }, Primitive.sync("zero", (_: string) => "zero" as const))
    expectTypeOf(withDefault).toEqualTypeOf<Primitive.Primitive<string, number | "zero", A, never>>()
    expectTypeOf(forEach(parse, { concurrency: 4 })).toEqualTypeOf<
      Primitive.Primitive<ReadonlyArray<string>, Array<number>, A, never>
    >()
    expectTypeOf(forEach(parse, { mode: "settle" })).toEqualTypeOf<
      Primitive.Primitive<ReadonlyArray<string>, Array<Either.Either<number, A>>, never, never>
    >()
    expectTypeOf(repeatUntil(Primitive.sync("x", (n: number) => n), (n) => n > 1, { maxIterations: 2 })).toEqualTypeOf<
      Primitive.Primitive<number, number, LoopExhausted, never>
    >()
  })

  it("fromSchema decodes the encoded input and adds DecodeError", () => {
    const p = Primitive.fromSchema(
      "p",
      { input: Schema.Struct({ n: Schema.NumberFromString }), output: Schema.Number },
      ({ n }) => {
        expectTypeOf(n).toEqualTypeOf<number>()
        return null as unknown as Effect.Effect<number>
      }
    )
    expectTypeOf(p).toEqualTypeOf<Primitive.Primitive<{ readonly n: string }, number, DecodeError, never>>()
  })

  it("the runner provides WorkflowContext and nothing else", () => {
    const usesState = Primitive.make("s", (_: void) => State.get(State.key("k", 1)))
    expectTypeOf(usesState).toEqualTypeOf<Primitive.Primitive<void, number, never, WorkflowContext.WorkflowContext>>()
    expectTypeOf(Runner.run(usesState, undefined)).toEqualTypeOf<
      Effect.Effect<number, import("@braid/core").DeadlineExceeded, never>
    >()
    expectTypeOf(Runner.run(check, 1)).toEqualTypeOf<
      Effect.Effect<boolean, B | import("@braid/core").DeadlineExceeded, Db>
    >()
    // @ts-expect-error runPromise needs every requirement but WorkflowContext provided
    void Runner.runPromise(check, 1)
  })

  it("runPromise with a layer compiles only when the layer covers every requirement", () => {
    class Database extends Context.Tag("types/Database")<Database, { readonly ok: boolean }>() {}
    const lookup = Primitive.make("lookup", (_: number) => Effect.map(Database, (db) => db.ok))
    const dbLayer = Layer.succeed(Database, { ok: true })
    const ok = Runner.runPromise(lookup, 1, { layer: dbLayer })
    expectTypeOf(ok).toEqualTypeOf<Promise<boolean>>()
    return ok.then((value) => assert.isTrue(value))
    // @ts-expect-error the layer provides nothing the pipeline needs
    Runner.runPromise(lookup, 1, { layer: Layer.empty }).catch(() => undefined) // (it also fails at run time)
  })
})
