/**
 * Saga: a sequence of steps, each with a compensation. The output of each step is the input of
 * the next. When a step fails (a typed error or a defect), the compensations of the steps that
 * completed run in reverse order, each exactly once; a failing compensation does not stop the
 * others and is reported. The saga then fails with `SagaFailed` {failedStep, error,
 * compensationFailures}. If the saga is interrupted, the completed steps are compensated too
 * (uninterruptibly) before the interruption propagates.
 *
 * Every compensation has its own bound, `compensationTimeout` (default 30 s; `Duration.infinity`
 * for none): a compensation still running when it elapses is interrupted and abandoned (if it
 * cannot be interrupted it goes on in the background, unawaited), it is reported in
 * `compensationFailures` as a `TimeoutError` naming `compensate(<step>)`, and the remaining
 * compensations still run. So a hung compensation can no longer hang the saga, nor an
 * interruption of it. Options are checked where the saga is built (`InvalidOption`).
 *
 * Telemetry: every action and every compensation is a child span of the saga's span
 * (compensations are named `compensate(<step>)`); a rollback adds the event `saga.compensating`
 * {failed_step, steps}; a failing compensation adds `saga.compensation_failed` {step, error.type};
 * `Metrics.compensations` counts them (tag `outcome`).
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { Attributes, Instrumentation, Primitive } from "@braid/core"
import { Cause, Duration, Effect, Exit, Metric, Option } from "effect"
import type { CompensationFailure } from "./Errors.js"
import { errorType, SagaFailed } from "./Errors.js"
import * as Check from "./internal/options.js"
import * as Metrics from "./Metrics.js"
import * as Timeout from "./Timeout.js"

const R = Attributes.Resilience

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The saga's name (its primitive's name). */
  readonly name: string
  /**
   * How long each compensation may run before it is abandoned and reported as a `TimeoutError`.
   * Default 30 seconds; `Duration.infinity` for no bound.
   */
  readonly compensationTimeout?: Duration.DurationInput
}

/** The default bound of each compensation. */
const defaultCompensationTimeout = Duration.seconds(30)

/**
 * A saga step: an action and the compensation that undoes it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Step<In, Out, E, R> {
  readonly action: P.Primitive<In, Out, E, R>
  readonly compensation: P.Primitive<{ readonly input: In; readonly output: Out }, unknown, unknown, R>
}

/**
 * A step from an action and its compensation, which receives the action's output and input.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Saga } from "@braid/resilience"
 *
 * const reserve = Primitive.make("reserve", (order: { id: string }) => Effect.succeed({ ...order, seat: "12A" }))
 * const step = Saga.step(reserve, (booking) => Effect.log(`release ${booking.seat}`))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const step = <In, Out, E, R, R2 = never>(
  action: P.Primitive<In, Out, E, R>,
  compensate: (output: Out, input: In) => Effect.Effect<unknown, unknown, R2>
): Step<In, Out, E, R | R2> => ({
  action,
  compensation: Primitive.make(
    `compensate(${action.name})`,
    (args: { readonly input: In; readonly output: Out }) => compensate(args.output, args.input),
    { kind: "compensation" }
  )
})

const causeError = (cause: Cause.Cause<unknown>): unknown => {
  const failure = Cause.failureOption(cause)
  return Option.isSome(failure) ? failure.value : Cause.squash(cause)
}

/**
 * Builds a saga primitive from up to 8 chained steps (nest sagas for more). The first argument
 * is the saga's name, or its `Options` (name and `compensationTimeout`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Saga } from "@braid/resilience"
 *
 * const reserve = Primitive.make("reserve", (id: string) => Effect.succeed({ id, seat: "12A" }))
 * const charge = Primitive.make("charge", (b: { id: string; seat: string }) => Effect.succeed({ ...b, paid: true }))
 * const booking = Saga.make("booking",
 *   Saga.step(reserve, (b) => Effect.log(`release ${b.seat}`)),
 *   Saga.step(charge, (b) => Effect.log(`refund ${b.id}`))
 * )
 * // each compensation bounded to 5 s (default 30 s)
 * const bounded = Saga.make({ name: "booking", compensationTimeout: "5 seconds" },
 *   Saga.step(reserve, (b) => Effect.log(`release ${b.seat}`))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export function make<A1, E1, R1, A2>(
  name: string | Options,
  s1: Step<A1, A2, E1, R1>
): P.Primitive<A1, A2, SagaFailed, R1>
export function make<A1, E1, R1, A2, E2, R2, A3>(
  name: string | Options,
  s1: Step<A1, A2, E1, R1>,
  s2: Step<A2, A3, E2, R2>
): P.Primitive<A1, A3, SagaFailed, R1 | R2>
export function make<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4>(
  name: string | Options,
  s1: Step<A1, A2, E1, R1>,
  s2: Step<A2, A3, E2, R2>,
  s3: Step<A3, A4, E3, R3>
): P.Primitive<A1, A4, SagaFailed, R1 | R2 | R3>
export function make<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4, E4, R4, A5>(
  name: string | Options,
  s1: Step<A1, A2, E1, R1>,
  s2: Step<A2, A3, E2, R2>,
  s3: Step<A3, A4, E3, R3>,
  s4: Step<A4, A5, E4, R4>
): P.Primitive<A1, A5, SagaFailed, R1 | R2 | R3 | R4>
export function make<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4, E4, R4, A5, E5, R5, A6>(
  name: string | Options,
  s1: Step<A1, A2, E1, R1>,
  s2: Step<A2, A3, E2, R2>,
  s3: Step<A3, A4, E3, R3>,
  s4: Step<A4, A5, E4, R4>,
  s5: Step<A5, A6, E5, R5>
): P.Primitive<A1, A6, SagaFailed, R1 | R2 | R3 | R4 | R5>
export function make<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4, E4, R4, A5, E5, R5, A6, E6, R6, A7>(
  name: string | Options,
  s1: Step<A1, A2, E1, R1>,
  s2: Step<A2, A3, E2, R2>,
  s3: Step<A3, A4, E3, R3>,
  s4: Step<A4, A5, E4, R4>,
  s5: Step<A5, A6, E5, R5>,
  s6: Step<A6, A7, E6, R6>
): P.Primitive<A1, A7, SagaFailed, R1 | R2 | R3 | R4 | R5 | R6>
export function make<A1, E1, R1, A2, E2, R2, A3, E3, R3, A4, E4, R4, A5, E5, R5, A6, E6, R6, A7, E7, R7, A8>(
  name: string | Options,
  s1: Step<A1, A2, E1, R1>,
  s2: Step<A2, A3, E2, R2>,
  s3: Step<A3, A4, E3, R3>,
  s4: Step<A4, A5, E4, R4>,
  s5: Step<A5, A6, E5, R5>,
  s6: Step<A6, A7, E6, R6>,
  s7: Step<A7, A8, E7, R7>
): P.Primitive<A1, A8, SagaFailed, R1 | R2 | R3 | R4 | R5 | R6 | R7>
export function make<
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
  name: string | Options,
  s1: Step<A1, A2, E1, R1>,
  s2: Step<A2, A3, E2, R2>,
  s3: Step<A3, A4, E3, R3>,
  s4: Step<A4, A5, E4, R4>,
  s5: Step<A5, A6, E5, R5>,
  s6: Step<A6, A7, E6, R6>,
  s7: Step<A7, A8, E7, R7>,
  s8: Step<A8, A9, E8, R8>
): P.Primitive<A1, A9, SagaFailed, R1 | R2 | R3 | R4 | R5 | R6 | R7 | R8>
export function make(nameOrOptions: string | Options, ...steps: ReadonlyArray<Step<any, any, any, any>>): P.Any {
  const options: Options = typeof nameOrOptions === "string" ? { name: nameOrOptions } : nameOrOptions
  if (typeof options !== "object" || options === null) {
    return Check.refuse("Saga.make", "options", "must be a name or an object", options)
  }
  const name = Check.name("Saga.make", "name", options.name)
  const policy = `saga ${name}`
  const bound = Check.duration(
    policy,
    "compensationTimeout",
    Check.or(options.compensationTimeout, defaultCompensationTimeout),
    {
      positive: true,
      infinite: true
    }
  )
  if (steps.length === 0) return Check.refuse(policy, "steps", "must hold at least one step", steps)
  steps.forEach((s, i) => {
    if (
      typeof s !== "object" || s === null || !Primitive.isPrimitive(s.action) || !Primitive.isPrimitive(s.compensation)
    ) {
      Check.refuse(policy, `steps[${i}]`, "must be a step (Saga.step(action, compensate))", s)
    }
  })
  /** A compensation within its bound: interruptible (the rollback itself is not), and abandoned when late. */
  const bounded = (
    compensation: Effect.Effect<unknown, unknown, any>,
    stepName: string
  ): Effect.Effect<unknown, unknown, any> =>
    bound.millis === Number.POSITIVE_INFINITY
      ? compensation
      : Timeout.effect(
        Effect.interruptible(Effect.disconnect(Effect.interruptible(compensation))),
        bound.duration,
        { name: `compensate(${stepName})` }
      )
  const names = steps.map((s) => s.action.name)
  const ok = Metric.tagged(
    Metric.tagged(Metrics.compensations, Attributes.Braid.primitiveName, name),
    Attributes.Resilience.sagaCompensationOutcome,
    "ok"
  )
  const failed = Metric.tagged(
    Metric.tagged(Metrics.compensations, Attributes.Braid.primitiveName, name),
    Attributes.Resilience.sagaCompensationOutcome,
    "failed"
  )
  const children: Array<P.Child> = []
  for (const s of steps) {
    children.push({ key: s.action.name, primitive: s.action })
    children.push({ key: s.compensation.name, primitive: s.compensation })
  }
  return Primitive.make(
    name,
    (input: unknown) =>
      Effect.suspend(() => {
        const done: Array<{ readonly index: number; readonly input: unknown; readonly output: unknown }> = []
        let current = 0
        const compensate = (failedStep: string): Effect.Effect<Array<CompensationFailure>, never, any> =>
          Effect.suspend(() => {
            const failures: Array<CompensationFailure> = []
            let effect: Effect.Effect<void, never, any> = Instrumentation.event(R.sagaCompensating, {
              [R.sagaFailedStep]: failedStep,
              [R.sagaSteps]: done.length
            })
            for (let i = done.length - 1; i >= 0; i--) {
              const d = done[i]!
              const stepName = names[d.index]!
              effect = Effect.zipRight(
                effect,
                Effect.flatMap(
                  Effect.exit(
                    bounded(steps[d.index]!.compensation.invoke({ input: d.input, output: d.output }), stepName)
                  ),
                  (exit) => {
                    if (Exit.isSuccess(exit)) return Metric.increment(ok)
                    const error = causeError(exit.cause)
                    failures.push({ step: stepName, error })
                    return Effect.zipRight(
                      Instrumentation.event(R.sagaCompensationFailed, {
                        [R.sagaStep]: stepName,
                        [Attributes.General.errorType]: errorType(error)
                      }),
                      Metric.increment(failed)
                    )
                  }
                )
              )
            }
            return Effect.as(effect, failures)
          })
        let chain: Effect.Effect<unknown, unknown, unknown> = Effect.succeed(input)
        steps.forEach((s, index) => {
          chain = Effect.flatMap(chain, (x) =>
            Effect.suspend(() => {
              current = index
              return Effect.tap(
                s.action.invoke(x),
                (output) => Effect.sync(() => void done.push({ index, input: x, output }))
              )
            }))
        })
        return Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(Effect.exit(restore(chain)), (exit): Effect.Effect<unknown, SagaFailed, unknown> => {
            if (Exit.isSuccess(exit)) return Effect.succeed(exit.value)
            const failedStep = names[current]!
            if (Cause.isInterruptedOnly(exit.cause)) {
              return Effect.zipRight(compensate(failedStep), Effect.failCause(exit.cause as Cause.Cause<never>))
            }
            return Effect.flatMap(compensate(failedStep), (compensationFailures) =>
              Effect.fail(
                new SagaFailed({ primitive: name, failedStep, error: causeError(exit.cause), compensationFailures })
              ))
          })
        )
      }),
    {
      kind: "saga",
      meta: { steps: steps.length, compensationTimeoutMillis: Number.isFinite(bound.millis) ? bound.millis : "none" },
      children
    }
  )
}
