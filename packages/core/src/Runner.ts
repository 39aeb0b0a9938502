/**
 * Runs a pipeline: creates the run's `WorkflowContext` (fresh state, run id, deadline) and runs
 * the pipeline as the root span of the run.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Duration, Effect, Exit } from "effect"
import { DeadlineExceeded } from "./Errors.js"
import { execute, isOn, modeRef, withContext } from "./internal/instrument.js"
import type { Primitive } from "./Primitive.js"
import type { ContextOptions } from "./WorkflowContext.js"
import { makeAt as makeContextAt, WorkflowContext } from "./WorkflowContext.js"

/**
 * @since 0.1.0
 */
export interface RunOptions extends ContextOptions {
  /**
   * `"auto"` (default): spans whenever a tracer layer is installed; `"on"`: always; `"off"`:
   * bare bodies, no spans, no paths. See `Instrumentation.withMode`.
   */
  readonly instrumentation?: "auto" | "on" | "off"
}

/**
 * Runs `pipeline` on `input` as one run. The pipeline's need for `WorkflowContext` is provided;
 * with a `deadline`, the run is interrupted when it passes and fails with `DeadlineExceeded`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive, Runner } from "@braid/core"
 *
 * const hello = Primitive.sync("hello", (name: string) => `Hello, ${name}`)
 * const program = Runner.run(hello, "Ada", { sessionId: "s-1", deadline: "5 seconds" })
 * ```
 *
 * @since 0.1.0
 */
export const run = <In, Out, E, R>(
  pipeline: Primitive<In, Out, E, R>,
  input: In,
  options: RunOptions = {}
): Effect.Effect<Out, E | DeadlineExceeded, Exclude<R, WorkflowContext>> =>
  Effect.withFiberRuntime<Out, E | DeadlineExceeded, R>((fiber) => {
    const ctx = makeContextAt(options, Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis())
    let effect: Effect.Effect<Out, E | DeadlineExceeded, R> = execute(pipeline, input, pipeline.name)
    if (ctx.deadline !== undefined) {
      const millis = ctx.deadline - ctx.startedAt
      effect = Effect.timeoutFail(effect, {
        duration: Duration.millis(millis),
        onTimeout: () => new DeadlineExceeded({ primitive: pipeline.name, runId: ctx.runId, deadlineMillis: millis })
      })
    }
    // An explicit mode is applied only when it changes anything ("off" where primitives already
    // run bare costs nothing more than the default).
    const mode = options.instrumentation
    if (mode !== undefined && mode !== "auto" && (mode === "on") !== isOn(fiber)) {
      effect = Effect.locally(effect, modeRef, mode)
    }
    const outer = fiber.currentContext
    return withContext(effect, outer, () => Context.add(outer, WorkflowContext, ctx))
  }) as Effect.Effect<Out, E | DeadlineExceeded, Exclude<R, WorkflowContext>>

/**
 * Runs a pipeline from non-Effect code. The promise resolves with the output, or rejects with
 * the typed error itself (an instance of the tagged error class, so `instanceof` and `_tag`
 * work), or with the defect.
 *
 * @example
 * ```ts
 * import { Primitive, Runner } from "@braid/core"
 *
 * const add = Primitive.sync("add", (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0))
 * const total = await Runner.runPromise(add, [1, 2, 3]) // 6
 * ```
 *
 * @since 0.1.0
 */
export const runPromise = <In, Out, E, R extends WorkflowContext = never>(
  pipeline: Primitive<In, Out, E, R>,
  input: In,
  options: RunOptions & { readonly signal?: AbortSignal } = {}
): Promise<Out> => {
  const signal = options.signal
  // An already-aborted signal runs nothing (a synchronous pipeline would otherwise finish
  // before the abort is seen).
  if (signal?.aborted) return Promise.reject(abortReason(signal))
  return Effect.runPromiseExit(run(pipeline, input, options) as Effect.Effect<Out, E | DeadlineExceeded>, signal ? { signal } : undefined)
    .then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      if (signal?.aborted && Cause.isInterruptedOnly(exit.cause)) return Promise.reject(abortReason(signal))
      return Promise.reject(Cause.squash(exit.cause))
    })
}

/** The signal's reason (an `AbortError` `DOMException` when `abort()` was given none), as `fetch` rejects. */
const abortReason = (signal: AbortSignal): unknown =>
  signal.reason ?? new DOMException("This operation was aborted", "AbortError")
