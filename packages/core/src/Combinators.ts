/**
 * The combinators: build a primitive from primitives, with inferred types.
 *
 * `sequence` and `andThen` chain, `parallel` fans out, `branch` and `route` choose, `loop` and
 * `repeatUntil` iterate with a required bound, `forEach` maps over a list. They nest to any depth
 * and every child runs through the single instrumentation point, so a pipeline's spans mirror
 * its structure and every step has a stable path.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { LoopExhausted, UnknownRoute } from "./Errors.js"
import { child, modal } from "./internal/instrument.js"
import type { Any, Child, Context, Error, Input, Output, Primitive } from "./Primitive.js"
import { make } from "./Primitive.js"

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never

/**
 * The input that every branch of a collection of primitives accepts (the intersection of their
 * inputs).
 *
 * @category models
 * @since 0.1.0
 */
export type Inputs<T> = UnionToIntersection<{ [K in keyof T]: { readonly _: Input<T[K]> } }[keyof T]> extends
  { readonly _: infer I } ? I : never

/** Keys a list of children so that every path segment is unique inside its parent. */
const keyed = (entries: ReadonlyArray<readonly [string, Any]>): Array<Child> => {
  const seen = new Map<string, number>()
  return entries.map(([key, primitive]) => {
    const n = (seen.get(key) ?? 0) + 1
    seen.set(key, n)
    return { key: n === 1 ? key : `${key}(${n})`, primitive }
  })
}

// ---------------------------------------------------------------------------------------------
// sequence / andThen
// ---------------------------------------------------------------------------------------------

/**
 * Runs primitives one after the other: the output of each is the input of the next. A failure
 * stops the sequence. Up to 16 steps are checked pairwise at compile time; nest sequences for more.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive, Runner, sequence } from "@braid/core"
 *
 * const parse = Primitive.sync("parse", (s: string) => Number.parseInt(s, 10))
 * const double = Primitive.sync("double", (n: number) => n * 2)
 * const show = Primitive.sync("show", (n: number) => `= ${n}`)
 * const pipeline = sequence(parse, double, show) // Primitive<string, string>
 * const out = await Runner.runPromise(pipeline, "21") // "= 42"
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export function sequence<A1, E1, R1, A2>(p1: Primitive<A1, A2, E1, R1>): Primitive<A1, A2, E1, R1>
export function sequence<A1, E1, R1, A2, E2, R2, A3>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>
): Primitive<A1, A3, E1 | E2, R1 | R2>
export function sequence<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>
): Primitive<A1, A4, E1 | E2 | E3, R1 | R2 | R3>
export function sequence<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4, E4, R4, A5>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>
): Primitive<A1, A5, E1 | E2 | E3 | E4, R1 | R2 | R3 | R4>
export function sequence<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4, E4, R4, A5, E5, R5, A6>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>
): Primitive<A1, A6, E1 | E2 | E3 | E4 | E5, R1 | R2 | R3 | R4 | R5>
export function sequence<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4, E4, R4, A5, E5, R5, A6, E6, R6, A7>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>
): Primitive<A1, A7, E1 | E2 | E3 | E4 | E5 | E6, R1 | R2 | R3 | R4 | R5 | R6>
export function sequence<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4, E4, R4, A5, E5, R5, A6, E6, R6, A7, E7, R7, A8>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>
): Primitive<A1, A8, E1 | E2 | E3 | E4 | E5 | E6 | E7, R1 | R2 | R3 | R4 | R5 | R6 | R7>
export function sequence<
  A1,
  E1,
  R1,
  A2,
  E2,
  R2,
  A3,
  E3,
  R3,
  A4,
  E4,
  R4,
  A5,
  E5,
  R5,
  A6,
  E6,
  R6,
  A7,
  E7,
  R7,
  A8,
  E8,
  R8,
  A9
>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>,
  p8: Primitive<A8, A9, E8, R8>
): Primitive<A1, A9, E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8, R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8>
export function sequence<
  A1,
  E1,
  R1,
  A2,
  E2,
  R2,
  A3,
  E3,
  R3,
  A4,
  E4,
  R4,
  A5,
  E5,
  R5,
  A6,
  E6,
  R6,
  A7,
  E7,
  R7,
  A8,
  E8,
  R8,
  A9,
  E9,
  R9,
  A10
>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>,
  p8: Primitive<A8, A9, E8, R8>,
  p9: Primitive<A9, A10, E9, R9>
): Primitive<A1, A10, E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9, R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9>
export function sequence<
  A1,
  E1,
  R1,
  A2,
  E2,
  R2,
  A3,
  E3,
  R3,
  A4,
  E4,
  R4,
  A5,
  E5,
  R5,
  A6,
  E6,
  R6,
  A7,
  E7,
  R7,
  A8,
  E8,
  R8,
  A9,
  E9,
  R9,
  A10,
  E10,
  R10,
  A11
>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>,
  p8: Primitive<A8, A9, E8, R8>,
  p9: Primitive<A9, A10, E9, R9>,
  p10: Primitive<A10, A11, E10, R10>
): Primitive<
  A1,
  A11,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10
>
export function sequence<
  A1,
  E1,
  R1,
  A2,
  E2,
  R2,
  A3,
  E3,
  R3,
  A4,
  E4,
  R4,
  A5,
  E5,
  R5,
  A6,
  E6,
  R6,
  A7,
  E7,
  R7,
  A8,
  E8,
  R8,
  A9,
  E9,
  R9,
  A10,
  E10,
  R10,
  A11,
  E11,
  R11,
  A12
>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>,
  p8: Primitive<A8, A9, E8, R8>,
  p9: Primitive<A9, A10, E9, R9>,
  p10: Primitive<A10, A11, E10, R10>,
  p11: Primitive<A11, A12, E11, R11>
): Primitive<
  A1,
  A12,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10 | E11,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10 | R11
>
export function sequence<
  A1,
  E1,
  R1,
  A2,
  E2,
  R2,
  A3,
  E3,
  R3,
  A4,
  E4,
  R4,
  A5,
  E5,
  R5,
  A6,
  E6,
  R6,
  A7,
  E7,
  R7,
  A8,
  E8,
  R8,
  A9,
  E9,
  R9,
  A10,
  E10,
  R10,
  A11,
  E11,
  R11,
  A12,
  E12,
  R12,
  A13
>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>,
  p8: Primitive<A8, A9, E8, R8>,
  p9: Primitive<A9, A10, E9, R9>,
  p10: Primitive<A10, A11, E10, R10>,
  p11: Primitive<A11, A12, E11, R11>,
  p12: Primitive<A12, A13, E12, R12>
): Primitive<
  A1,
  A13,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10 | E11 | E12,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10 | R11 | R12
>
export function sequence<
  A1,
  E1,
  R1,
  A2,
  E2,
  R2,
  A3,
  E3,
  R3,
  A4,
  E4,
  R4,
  A5,
  E5,
  R5,
  A6,
  E6,
  R6,
  A7,
  E7,
  R7,
  A8,
  E8,
  R8,
  A9,
  E9,
  R9,
  A10,
  E10,
  R10,
  A11,
  E11,
  R11,
  A12,
  E12,
  R12,
  A13,
  E13,
  R13,
  A14
>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>,
  p8: Primitive<A8, A9, E8, R8>,
  p9: Primitive<A9, A10, E9, R9>,
  p10: Primitive<A10, A11, E10, R10>,
  p11: Primitive<A11, A12, E11, R11>,
  p12: Primitive<A12, A13, E12, R12>,
  p13: Primitive<A13, A14, E13, R13>
): Primitive<
  A1,
  A14,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10 | E11 | E12 | E13,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10 | R11 | R12 | R13
>
export function sequence<
  A1,
  E1,
  R1,
  A2,
  E2,
  R2,
  A3,
  E3,
  R3,
  A4,
  E4,
  R4,
  A5,
  E5,
  R5,
  A6,
  E6,
  R6,
  A7,
  E7,
  R7,
  A8,
  E8,
  R8,
  A9,
  E9,
  R9,
  A10,
  E10,
  R10,
  A11,
  E11,
  R11,
  A12,
  E12,
  R12,
  A13,
  E13,
  R13,
  A14,
  E14,
  R14,
  A15
>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>,
  p8: Primitive<A8, A9, E8, R8>,
  p9: Primitive<A9, A10, E9, R9>,
  p10: Primitive<A10, A11, E10, R10>,
  p11: Primitive<A11, A12, E11, R11>,
  p12: Primitive<A12, A13, E12, R12>,
  p13: Primitive<A13, A14, E13, R13>,
  p14: Primitive<A14, A15, E14, R14>
): Primitive<
  A1,
  A15,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10 | E11 | E12 | E13 | E14,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10 | R11 | R12 | R13 | R14
>
export function sequence<
  A1,
  E1,
  R1,
  A2,
  E2,
  R2,
  A3,
  E3,
  R3,
  A4,
  E4,
  R4,
  A5,
  E5,
  R5,
  A6,
  E6,
  R6,
  A7,
  E7,
  R7,
  A8,
  E8,
  R8,
  A9,
  E9,
  R9,
  A10,
  E10,
  R10,
  A11,
  E11,
  R11,
  A12,
  E12,
  R12,
  A13,
  E13,
  R13,
  A14,
  E14,
  R14,
  A15,
  E15,
  R15,
  A16
>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>,
  p8: Primitive<A8, A9, E8, R8>,
  p9: Primitive<A9, A10, E9, R9>,
  p10: Primitive<A10, A11, E10, R10>,
  p11: Primitive<A11, A12, E11, R11>,
  p12: Primitive<A12, A13, E12, R12>,
  p13: Primitive<A13, A14, E13, R13>,
  p14: Primitive<A14, A15, E14, R14>,
  p15: Primitive<A15, A16, E15, R15>
): Primitive<
  A1,
  A16,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10 | E11 | E12 | E13 | E14 | E15,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10 | R11 | R12 | R13 | R14 | R15
>
export function sequence<
  A1,
  E1,
  R1,
  A2,
  E2,
  R2,
  A3,
  E3,
  R3,
  A4,
  E4,
  R4,
  A5,
  E5,
  R5,
  A6,
  E6,
  R6,
  A7,
  E7,
  R7,
  A8,
  E8,
  R8,
  A9,
  E9,
  R9,
  A10,
  E10,
  R10,
  A11,
  E11,
  R11,
  A12,
  E12,
  R12,
  A13,
  E13,
  R13,
  A14,
  E14,
  R14,
  A15,
  E15,
  R15,
  A16,
  E16,
  R16,
  A17
>(
  p1: Primitive<A1, A2, E1, R1>,
  p2: Primitive<A2, A3, E2, R2>,
  p3: Primitive<A3, A4, E3, R3>,
  p4: Primitive<A4, A5, E4, R4>,
  p5: Primitive<A5, A6, E5, R5>,
  p6: Primitive<A6, A7, E6, R6>,
  p7: Primitive<A7, A8, E7, R7>,
  p8: Primitive<A8, A9, E8, R8>,
  p9: Primitive<A9, A10, E9, R9>,
  p10: Primitive<A10, A11, E10, R10>,
  p11: Primitive<A11, A12, E11, R11>,
  p12: Primitive<A12, A13, E12, R12>,
  p13: Primitive<A13, A14, E13, R13>,
  p14: Primitive<A14, A15, E14, R14>,
  p15: Primitive<A15, A16, E15, R15>,
  p16: Primitive<A16, A17, E16, R16>
): Primitive<
  A1,
  A17,
  E1 | E2 | E3 | E4 | E5 | E6 | E7 | E8 | E9 | E10 | E11 | E12 | E13 | E14 | E15 | E16,
  R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8 | R9 | R10 | R11 | R12 | R13 | R14 | R15 | R16
>
export function sequence(...steps: ReadonlyArray<Any>): Any {
  if (steps.length === 0) throw new TypeError("sequence needs at least one primitive")
  const children = keyed(steps.map((p) => [p.name, p] as const))
  return make(
    "sequence",
    modal((on, input: unknown) => {
      let effect = child(on, children[0]!.primitive, input, children[0]!.key)
      for (let i = 1; i < children.length; i++) {
        const { key, primitive } = children[i]!
        effect = Effect.flatMap(effect, (out) => child(on, primitive, out, key))
      }
      return effect
    }),
    { kind: "sequence", children }
  )
}

/**
 * Pipeable form of a two-step sequence: `a.pipe(andThen(b))`.
 *
 * @example
 * ```ts
 * import { Primitive, andThen } from "@braid/core"
 *
 * const length = Primitive.sync("length", (s: string) => s.length)
 * const isLong = Primitive.sync("isLong", (n: number) => n > 10)
 * const pipeline = length.pipe(andThen(isLong)) // Primitive<string, boolean>
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const andThen =
  <B, C, E2, R2>(next: Primitive<B, C, E2, R2>) =>
  <A, E1, R1>(self: Primitive<A, B, E1, R1>): Primitive<A, C, E1 | E2, R1 | R2> => sequence(self, next)

// ---------------------------------------------------------------------------------------------
// parallel
// ---------------------------------------------------------------------------------------------

/**
 * How `parallel` and `forEach` treat failures.
 * - `"fail-fast"` (default): the first failure interrupts the branches still running (their
 *   finalizers run) and becomes the failure of the whole.
 * - `"settle"`: every branch runs to its end; the output holds each branch's
 *   `Either.right(output)` or `Either.left(typed error)`, and the whole never fails with a typed error.
 *
 * @category models
 * @since 0.1.0
 */
export type Mode = "fail-fast" | "settle"

/**
 * @category models
 * @since 0.1.0
 */
export interface ParallelOptions<M extends Mode = Mode> {
  /** How many branches run at once. Default: all of them. */
  readonly concurrency?: number | "unbounded"
  readonly mode?: M
}

type Settled<P> = Either.Either<Output<P>, Error<P>>

type ParallelTuple<T extends ReadonlyArray<Any>, M extends Mode> = Primitive<
  Inputs<T>,
  M extends "settle" ? { -readonly [K in keyof T]: Settled<T[K]> } : { -readonly [K in keyof T]: Output<T[K]> },
  M extends "settle" ? never : Error<T[number]>,
  Context<T[number]>
>

type ParallelStruct<T extends Readonly<Record<string, Any>>, M extends Mode> = Primitive<
  Inputs<T>,
  M extends "settle" ? { -readonly [K in keyof T]: Settled<T[K]> } : { -readonly [K in keyof T]: Output<T[K]> },
  M extends "settle" ? never : Error<T[keyof T]>,
  Context<T[keyof T]>
>

const checkConcurrency = (name: string, concurrency: number | "unbounded" | undefined): number | "unbounded" => {
  if (concurrency === undefined || concurrency === "unbounded") return "unbounded"
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`${name}: concurrency must be a positive integer or "unbounded", got ${concurrency}`)
  }
  return concurrency
}

/**
 * Runs branches concurrently on the same input.
 *
 * - `parallel(a, b)` or `parallel([a, b], options)`: a tuple of outputs;
 * - `parallel({ x: a, y: b }, options)`: a struct of outputs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive, Runner, parallel } from "@braid/core"
 *
 * const len = Primitive.sync("len", (s: string) => s.length)
 * const upper = Primitive.sync("upper", (s: string) => s.toUpperCase())
 * const both = parallel({ len, upper }) // Primitive<string, { len: number; upper: string }>
 * const settled = parallel([len, upper], { mode: "settle", concurrency: 2 })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export function parallel<const T extends readonly [Any, ...Array<Any>]>(...branches: T): ParallelTuple<T, "fail-fast">
export function parallel<const T extends readonly [Any, ...Array<Any>], M extends Mode = "fail-fast">(
  branches: T,
  options?: ParallelOptions<M>
): ParallelTuple<T, M>
export function parallel<const T extends Readonly<Record<string, Any>>, M extends Mode = "fail-fast">(
  branches: T,
  options?: ParallelOptions<M>
): ParallelStruct<T, M>
export function parallel(...args: ReadonlyArray<unknown>): Any {
  const [first, second] = args
  let entries: Array<readonly [string, Any]>
  let options: ParallelOptions = {}
  let isTuple = true
  if (isAnyPrimitive(first)) {
    entries = (args as ReadonlyArray<Any>).map((p) => [p.name, p] as const)
  } else if (Array.isArray(first)) {
    entries = (first as ReadonlyArray<Any>).map((p) => [p.name, p] as const)
    options = (second as ParallelOptions | undefined) ?? {}
  } else if (typeof first === "object" && first !== null) {
    isTuple = false
    entries = Object.entries(first as Record<string, Any>)
    options = (second as ParallelOptions | undefined) ?? {}
  } else {
    throw new TypeError("parallel expects primitives, an array of primitives or a record of primitives")
  }
  if (entries.length === 0) throw new TypeError("parallel needs at least one branch")
  for (const [key, p] of entries) {
    if (!isAnyPrimitive(p)) throw new TypeError(`parallel: branch "${key}" is not a primitive`)
  }
  const concurrency = checkConcurrency("parallel", options.concurrency)
  const settle = options.mode === "settle"
  const children = isTuple ? keyed(entries) : entries.map(([key, primitive]) => ({ key, primitive }))
  const run = modal((on, input: unknown): Effect.Effect<unknown, unknown, unknown> => {
    const effects = children.map(({ key, primitive }) => {
      const effect = child(on, primitive, input, key)
      return settle ? Effect.either(effect) : effect
    })
    if (isTuple) return Effect.all(effects, { concurrency })
    const record: Record<string, Effect.Effect<unknown, unknown, unknown>> = {}
    children.forEach(({ key }, i) => (record[key] = effects[i]!))
    return Effect.all(record, { concurrency })
  })
  return make("parallel", run, {
    kind: "parallel",
    children,
    meta: { mode: settle ? "settle" : "fail-fast", concurrency: String(concurrency) }
  })
}

const isAnyPrimitive = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && Symbol.for("@braid/core/Primitive") in u

// ---------------------------------------------------------------------------------------------
// branch / route
// ---------------------------------------------------------------------------------------------

const lift = <A, E, R>(value: A | Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.isEffect(value) ? (value as Effect.Effect<A, E, R>) : Effect.succeed(value as A)

/**
 * Runs `onTrue` or `onFalse` depending on a predicate over the input. The predicate may return
 * a boolean or an Effect of one (for example a model's decision).
 *
 * @example
 * ```ts
 * import { Primitive, branch } from "@braid/core"
 *
 * const short = Primitive.sync("short", (s: string) => `short: ${s}`)
 * const long = Primitive.sync("long", (s: string) => `long: ${s.slice(0, 10)}...`)
 * const summarize = branch((s: string) => s.length < 20, short, long)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const branch = <T extends Any, F extends Any, EP = never, RP = never>(
  predicate: (input: Inputs<[T, F]>) => boolean | Effect.Effect<boolean, EP, RP>,
  onTrue: T,
  onFalse: F
): Primitive<Inputs<[T, F]>, Output<T> | Output<F>, Error<T> | Error<F> | EP, Context<T> | Context<F> | RP> => {
  const [t, f] = keyed([[onTrue.name, onTrue], [onFalse.name, onFalse]])
  return make(
    "branch",
    modal((on, input: Inputs<[T, F]>) =>
      Effect.flatMap(
        lift(predicate(input)),
        (ok): Effect.Effect<unknown, unknown, unknown> =>
          ok ? child(on, t!.primitive, input, t!.key) : child(on, f!.primitive, input, f!.key)
      )
    ),
    { kind: "branch", children: [t!, f!] }
  ) as never
}

/**
 * Runs the route chosen by `selector` (a key, or an Effect of one, for example a model's
 * classification). Without a default route, an unknown key fails with `UnknownRoute`.
 *
 * @example
 * ```ts
 * import { Primitive, route } from "@braid/core"
 *
 * type Ticket = { readonly topic: string; readonly text: string }
 * const billing = Primitive.sync("billing", (t: Ticket) => `billing handles: ${t.text}`)
 * const tech = Primitive.sync("tech", (t: Ticket) => `tech handles: ${t.text}`)
 * const triage = route((t: Ticket) => t.topic, { billing, tech })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export function route<const Routes extends Readonly<Record<string, Any>>, ES = never, RS = never>(
  selector: (input: Inputs<Routes>) => string | Effect.Effect<string, ES, RS>,
  routes: Routes
): Primitive<
  Inputs<Routes>,
  Output<Routes[keyof Routes]>,
  Error<Routes[keyof Routes]> | ES | UnknownRoute,
  Context<Routes[keyof Routes]> | RS
>
export function route<const Routes extends Readonly<Record<string, Any>>, D extends Any, ES = never, RS = never>(
  selector: (input: Inputs<Routes> & Input<D>) => string | Effect.Effect<string, ES, RS>,
  routes: Routes,
  fallback: D
): Primitive<
  Inputs<Routes> & Input<D>,
  Output<Routes[keyof Routes]> | Output<D>,
  Error<Routes[keyof Routes]> | Error<D> | ES,
  Context<Routes[keyof Routes]> | Context<D> | RS
>
export function route(
  selector: (input: unknown) => string | Effect.Effect<string, unknown, unknown>,
  routes: Readonly<Record<string, Any>>,
  fallback?: Any
): Any {
  const known = Object.keys(routes)
  const children: Array<Child> = known.map((key) => ({ key, primitive: routes[key]! }))
  if (fallback !== undefined) children.push({ key: "default", primitive: fallback })
  return make(
    "route",
    modal((on, input: unknown) =>
      Effect.flatMap(lift(selector(input)), (key): Effect.Effect<unknown, unknown, unknown> => {
        if (Object.prototype.hasOwnProperty.call(routes, key)) return child(on, routes[key]!, input, key)
        if (fallback !== undefined) return child(on, fallback, input, "default")
        return Effect.fail(new UnknownRoute({ primitive: "route", key: String(key), known }))
      })
    ),
    { kind: "route", children, meta: { default: fallback !== undefined } }
  )
}

// ---------------------------------------------------------------------------------------------
// loop / repeatUntil
// ---------------------------------------------------------------------------------------------

const checkMax = (name: string, max: number): number => {
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`${name}: maxIterations must be a positive integer, got ${max}`)
  }
  return max
}

/**
 * @category models
 * @since 0.1.0
 */
export interface LoopOptions<A> {
  /** Run another iteration while this holds for the last output (`iteration` counts from 1). */
  readonly while: (output: A, iteration: number) => boolean
  /** The bound: after this many iterations the loop stops and returns the last output. */
  readonly maxIterations: number
}

/**
 * Runs `body` repeatedly, feeding each output into the next iteration, while `options.while`
 * holds, at most `maxIterations` times; returns the last output. Each iteration is its own span
 * (path segment `body[i]`).
 *
 * @example
 * ```ts
 * import { Primitive, loop } from "@braid/core"
 *
 * const refine = Primitive.sync("refine", (draft: string) => draft + "!")
 * const polish = loop(refine, { while: (d) => d.length < 8, maxIterations: 5 })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const loop = <A, E, R>(body: Primitive<A, A, E, R>, options: LoopOptions<A>): Primitive<A, A, E, R> => {
  const max = checkMax("loop", options.maxIterations)
  const go = (on: boolean, input: A, i: number): Effect.Effect<A, E, R> =>
    Effect.flatMap(
      child(on, body, input, `${body.name}[${i}]`),
      (out) => i < max && options.while(out, i) ? go(on, out, i + 1) : Effect.succeed(out)
    )
  return make("loop", modal((on, input: A) => go(on, input, 1)), {
    kind: "loop",
    children: [{ key: `${body.name}[*]`, primitive: body }],
    meta: { maxIterations: max }
  })
}

/**
 * Runs `body` repeatedly, feeding each output into the next iteration, until `until` holds for
 * an output, which it returns. If the condition does not hold within `maxIterations`, it fails
 * with `LoopExhausted`.
 *
 * @example
 * ```ts
 * import { Primitive, repeatUntil } from "@braid/core"
 *
 * const step = Primitive.sync("step", (n: number) => n * 2)
 * const grow = repeatUntil(step, (n) => n >= 100, { maxIterations: 10 })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const repeatUntil = <A, E, R>(
  body: Primitive<A, A, E, R>,
  until: (output: A, iteration: number) => boolean,
  options: { readonly maxIterations: number }
): Primitive<A, A, E | LoopExhausted, R> => {
  const max = checkMax("repeatUntil", options.maxIterations)
  const go = (on: boolean, input: A, i: number): Effect.Effect<A, E | LoopExhausted, R> =>
    Effect.flatMap(child(on, body, input, `${body.name}[${i}]`), (out) =>
      until(out, i)
        ? Effect.succeed(out)
        : i < max
        ? go(on, out, i + 1)
        : Effect.fail(new LoopExhausted({ primitive: "repeatUntil", maxIterations: max })))
  return make("repeatUntil", modal((on, input: A) => go(on, input, 1)), {
    kind: "repeatUntil",
    children: [{ key: `${body.name}[*]`, primitive: body }],
    meta: { maxIterations: max }
  })
}

// ---------------------------------------------------------------------------------------------
// forEach
// ---------------------------------------------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export interface ForEachOptions<M extends Mode = Mode> {
  /** How many items run at once. Default 1 (one after the other). */
  readonly concurrency?: number | "unbounded"
  readonly mode?: M
}

/**
 * Runs `step` on every item of a list input, at most `concurrency` at a time; the outputs are
 * in input order whatever order the items finish in. Each item is its own span (path segment
 * `step[i]`).
 *
 * @example
 * ```ts
 * import { Primitive, forEach } from "@braid/core"
 *
 * const score = Primitive.sync("score", (answer: string) => answer.length)
 * const scoreAll = forEach(score, { concurrency: 4 }) // Primitive<ReadonlyArray<string>, Array<number>>
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const forEach = <In, Out, E, R, M extends Mode = "fail-fast">(
  step: Primitive<In, Out, E, R>,
  options?: ForEachOptions<M>
): Primitive<
  ReadonlyArray<In>,
  M extends "settle" ? Array<Either.Either<Out, E>> : Array<Out>,
  M extends "settle" ? never : E,
  R
> => {
  const concurrency = options?.concurrency === undefined ? 1 : checkConcurrency("forEach", options.concurrency)
  const settle = options?.mode === "settle"
  return make(
    "forEach",
    modal((on, items: ReadonlyArray<In>) =>
      Effect.forEach(
        items,
        (item, i): Effect.Effect<unknown, unknown, R> => {
          const effect = child(on, step, item, `${step.name}[${i}]`)
          return settle ? Effect.either(effect) : effect
        },
        { concurrency }
      )
    ),
    {
      kind: "forEach",
      children: [{ key: `${step.name}[*]`, primitive: step }],
      meta: { concurrency: String(concurrency), mode: settle ? "settle" : "fail-fast" }
    }
  ) as never
}
