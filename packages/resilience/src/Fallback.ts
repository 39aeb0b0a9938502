/**
 * Fallback: a chain of alternatives tried in order (a large model, a small model, a canned reply).
 * The first success wins. An error for which `when` is false stops the chain at once and is the
 * chain's error; when every alternative failed, the chain fails with `FallbackExhausted`, which
 * carries every alternative's error in order. Defects and interruptions are not caught.
 *
 * Telemetry: every alternative that runs is a child span of the `fallback(...)` span; moving on
 * adds the event `fallback.next` {from, to, error.type} and bumps `Metrics.fallbacks`; a success
 * after the first alternative sets `fallback.used` (the name of the alternative that answered).
 *
 * @since 0.1.0
 */
import type { Inputs, Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Primitive } from "@braid/core"
import { Effect, Metric } from "effect"
import { errorType, FallbackExhausted } from "./Errors.js"
import * as Check from "./internal/options.js"
import * as Metrics from "./Metrics.js"

const R = Attributes.Resilience

/**
 * @category models
 * @since 0.1.0
 */
export interface Options<E> {
  /** The name of the chain. Default `fallback(<first>)`, or "effect" in the Effect form. */
  readonly name?: string
  /** Which errors fall through to the next alternative. Default: every typed error. */
  readonly when?: (error: E) => boolean
}

type NonEmpty<A> = readonly [A, ...Array<A>]

/** Checks a chain where it is built: a non-empty array of alternatives, a name, a `when` function. */
const check = (
  policy: string,
  alternatives: unknown,
  options: Options<never> | undefined,
  isAlternative: (u: unknown) => boolean
) => {
  Check.options(policy, options)
  if (options?.name !== undefined) Check.name(policy, "name", options.name)
  Check.fn(policy, "when", options?.when)
  if (!Array.isArray(alternatives) || alternatives.length === 0) {
    return Check.refuse(policy, "alternatives", "must be a non-empty array", alternatives)
  }
  alternatives.forEach((a, i) => {
    if (!isAlternative(a)) {
      Check.refuse(
        policy,
        `alternatives[${i}]`,
        "must be an alternative (a primitive, or an Effect in the Effect form)",
        a
      )
    }
  })
}

const runChain = <A, E, R>(
  name: string,
  names: ReadonlyArray<string>,
  alternatives: ReadonlyArray<Effect.Effect<A, E, R>>,
  when: ((error: E) => boolean) | undefined,
  counter: Metric.Metric.Counter<number>
): Effect.Effect<A, E | FallbackExhausted, R> =>
  Effect.suspend(() => {
    const errors: Array<E> = []
    const go = (i: number): Effect.Effect<A, E | FallbackExhausted, R> => {
      const attempt = i === 0
        ? alternatives[0]!
        : Effect.tap(alternatives[i]!, () => Instrumentation.annotate({ [R.fallbackUsed]: names[i]! }))
      return Effect.catchAll(attempt, (error): Effect.Effect<A, E | FallbackExhausted, R> => {
        errors.push(error)
        if (when !== undefined && !when(error)) return Effect.fail(error)
        if (i + 1 >= alternatives.length) {
          return Effect.fail(
            new FallbackExhausted({ primitive: name, alternatives: names.slice(), errors: errors.slice() })
          )
        }
        return Effect.zipRight(
          Effect.zipRight(
            Instrumentation.event(R.fallbackNext, {
              [R.fallbackFrom]: names[i]!,
              [R.fallbackTo]: names[i + 1]!,
              [Attributes.General.errorType]: errorType(error)
            }),
            Metric.increment(counter)
          ),
          go(i + 1)
        )
      })
    }
    return go(0)
  })

/**
 * Tries Effects in order. The same implementation as `chain`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fallback } from "@braid/resilience"
 *
 * const reply = Fallback.effect([Effect.fail("overloaded"), Effect.succeed("canned reply")], { name: "reply" })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const effect = <A, E, R>(
  alternatives: NonEmpty<Effect.Effect<A, E, R>>,
  options: Options<E> & { readonly names?: ReadonlyArray<string> } = {}
): Effect.Effect<A, E | FallbackExhausted, R> => {
  check("Fallback.effect", alternatives, options, Effect.isEffect)
  const name = options.name ?? "effect"
  const names = alternatives.map((_, i) => options.names?.[i] ?? `#${i}`)
  return runChain(
    name,
    names,
    alternatives,
    options.when,
    Metric.tagged(Metrics.fallbacks, Attributes.Braid.primitiveName, name)
  )
}

/**
 * A primitive that tries each alternative in order on the same input.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Fallback } from "@braid/resilience"
 *
 * const large = Primitive.make("large", (q: string) => Effect.fail({ _tag: "Overloaded", transient: true }))
 * const small = Primitive.make("small", (q: string) => Effect.succeed(`small: ${q}`))
 * const canned = Primitive.sync("canned", (_: string) => "Please try again later.")
 * const reply = Fallback.chain([large, small, canned], { name: "reply" })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const chain = <const T extends NonEmpty<P.Any>>(
  alternatives: T,
  options: Options<P.Error<T[number]>> = {}
): P.Primitive<Inputs<T>, P.Output<T[number]>, P.Error<T[number]> | FallbackExhausted, P.Context<T[number]>> => {
  check("Fallback.chain", alternatives, options, Primitive.isPrimitive)
  const name = options.name ?? `fallback(${alternatives[0].name})`
  const names = alternatives.map((a) => a.name)
  const counter = Metric.tagged(Metrics.fallbacks, Attributes.Braid.primitiveName, name)
  const when = options.when
  return Primitive.make(
    name,
    (input: Inputs<T>) => runChain(name, names, alternatives.map((a) => a.invoke(input)), when, counter),
    {
      kind: "fallback",
      meta: { alternatives: alternatives.length },
      children: alternatives.map((a, i) => ({
        key: names.indexOf(a.name) === i ? a.name : `${a.name}(${i + 1})`,
        primitive: a
      }))
    }
  )
}

/**
 * Pipeable form: `large.pipe(Fallback.to(small, canned))` tries `large`, then `small`, then `canned`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Fallback } from "@braid/resilience"
 *
 * const large = Primitive.make("large", (q: string) => Effect.fail("overloaded"))
 * const canned = Primitive.sync("canned", (_: string) => "Please try again later.")
 * const reply = large.pipe(Fallback.to(canned))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const to = <const T extends NonEmpty<P.Any>>(...alternatives: T) =>
<In, Out, E, R>(
  self: P.Primitive<In, Out, E, R>
): P.Primitive<
  In & Inputs<T>,
  Out | P.Output<T[number]>,
  E | P.Error<T[number]> | FallbackExhausted,
  R | P.Context<T[number]>
> => chain([self, ...alternatives] as unknown as NonEmpty<P.Any>) as any
