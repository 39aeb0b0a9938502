/**
 * Runs a pipeline: creates the run's `WorkflowContext` (fresh state, run id, deadline) and runs
 * the pipeline as the root span of the run.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import { DeadlineExceeded } from "./Errors.js"
import { execute, isOn, modeRef, withContext } from "./internal/instrument.js"
import type { Primitive } from "./Primitive.js"
import type { ContextOptions } from "./WorkflowContext.js"
import { makeAt as makeContextAt, WorkflowContext, type WorkflowContextShape } from "./WorkflowContext.js"

/**
 * @category models
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
 * @category execution
 * @since 0.1.0
 */
export const run = <In, Out, E, R>(
  pipeline: Primitive<In, Out, E, R>,
  input: In,
  options: RunOptions = {}
): Effect.Effect<Out, E | DeadlineExceeded, Exclude<R, WorkflowContext>> =>
  Effect.withFiberRuntime<Out, E | DeadlineExceeded, R>((fiber) => {
    const ctx = makeContextAt(options, Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis())
    const effect = program(pipeline, input, options, ctx, isOn(fiber))
    const outer = fiber.currentContext
    // The context is the one thing a run changes on its fiber: one set and one restore (about
    // as much as Effect.provideService, the floor of Effect's public API).
    return withContext(effect, outer, () => Context.add(outer, WorkflowContext, ctx))
  }) as Effect.Effect<Out, E | DeadlineExceeded, Exclude<R, WorkflowContext>>

/** The run's effect given its context: the pipeline, its deadline, its instrumentation mode. */
const program = <In, Out, E, R>(
  pipeline: Primitive<In, Out, E, R>,
  input: In,
  options: RunOptions,
  ctx: WorkflowContextShape,
  on: boolean
): Effect.Effect<Out, E | DeadlineExceeded, R> => {
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
  if (mode !== undefined && mode !== "auto" && (mode === "on") !== on) {
    effect = Effect.locally(effect, modeRef, mode)
  }
  return effect
}

/**
 * Nothing when no service is missing; otherwise a property naming the missing services, so that
 * a pipeline whose needs the layer does not cover does not compile.
 *
 * @category models
 * @since 0.2.0
 */
export type MissingServices<Missing> = [Missing] extends [never] ? unknown
  : { readonly "missing services (give them in layer)": Missing }

/**
 * Options of `runPromise`.
 *
 * @category models
 * @since 0.2.0
 */
export interface PromiseOptions<ROut = never, LE = never> extends RunOptions {
  /** Aborting it interrupts the run; the promise then rejects with the signal's reason. */
  readonly signal?: AbortSignal
  /** Services the pipeline needs, built for this run and released after it. */
  readonly layer?: Layer.Layer<ROut, LE>
}

/**
 * Runs a pipeline from non-Effect code. The promise resolves with the output, or rejects with
 * the typed error itself (an instance of the tagged error class, so `instanceof` and `_tag`
 * work), or with the defect. A pipeline that needs services gets them from `layer` (built for
 * this run, released after it); to build them once for many runs use `Runner.runtime`. An
 * `AbortSignal` interrupts the run: an abort before or during the run rejects with the signal's
 * reason (an `AbortError` `DOMException` by default, as `fetch` does), and a signal already
 * aborted runs nothing.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer } from "effect"
 * import { Primitive, Runner } from "@braid/core"
 *
 * const add = Primitive.sync("add", (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0))
 * const total = await Runner.runPromise(add, [1, 2, 3]) // 6
 *
 * class Greeting extends Context.Tag("Greeting")<Greeting, string>() {}
 * const greet = Primitive.make("greet", (name: string) => Effect.map(Greeting, (g) => `${g}, ${name}`))
 * const hello = await Runner.runPromise(greet, "Ada", { layer: Layer.succeed(Greeting, "Hello") })
 * ```
 *
 * @category execution
 * @since 0.1.0
 */
export const runPromise: {
  <In, Out, E, R extends WorkflowContext = never>(
    pipeline: Primitive<In, Out, E, R>,
    input: NoInfer<In>,
    options?: RunOptions & { readonly signal?: AbortSignal }
  ): Promise<Out>
  <In, Out, E, R, ROut, LE>(
    pipeline: Primitive<In, Out, E, R> & MissingServices<Exclude<R, WorkflowContext | ROut>>,
    input: NoInfer<In>,
    options: PromiseOptions<ROut, LE> & { readonly layer: Layer.Layer<ROut, LE> }
  ): Promise<Out>
} = <In, Out, E, R, ROut, LE>(
  pipeline: Primitive<In, Out, E, R>,
  input: In,
  options: PromiseOptions<ROut, LE> = {}
): Promise<Out> => {
  const signal = options.signal
  // An already-aborted signal runs nothing (a synchronous pipeline would otherwise finish
  // before the abort is seen).
  if (signal?.aborted) return Promise.reject(abortReason(signal))
  const runOptions = signal ? { signal } : undefined
  let exit: Promise<Exit.Exit<Out, E | LE | DeadlineExceeded>>
  if (options.layer === undefined) {
    // The run's fiber starts with its context: nothing to set or restore.
    const ctx = makeContextAt(options, Date.now())
    const runtime = Runtime.make({
      context: Context.make(WorkflowContext, ctx) as Context.Context<R>,
      runtimeFlags: Runtime.defaultRuntime.runtimeFlags,
      fiberRefs: Runtime.defaultRuntime.fiberRefs
    })
    exit = Runtime.runPromiseExit(runtime, program(pipeline, input, options, ctx, false), runOptions)
  } else {
    const effect = Effect.provide(run(pipeline, input, options), options.layer) as Effect.Effect<
      Out,
      E | LE | DeadlineExceeded
    >
    exit = Effect.runPromiseExit(effect, runOptions)
  }
  return exit.then((exit) => settle(exit, signal))
}

/** The promise's outcome of an exit: its value, the signal's reason after an abort, or the error. */
const settle = <A>(exit: Exit.Exit<A, unknown>, signal: AbortSignal | undefined): A | Promise<never> => {
  if (Exit.isSuccess(exit)) return exit.value
  if (signal?.aborted && Cause.isInterruptedOnly(exit.cause)) return Promise.reject(abortReason(signal))
  return Promise.reject(Cause.squash(exit.cause))
}

/** The signal's reason (an `AbortError` `DOMException` when `abort()` was given none), as `fetch` rejects. */
const abortReason = (signal: AbortSignal): unknown =>
  signal.reason ?? new DOMException("This operation was aborted", "AbortError")

/**
 * A runner for non-Effect code whose services are built once from `layer` (a
 * `ManagedRuntime`): `runPromise` runs pipelines that need them; `dispose` releases them.
 *
 * @category models
 * @since 0.2.0
 */
export interface ServiceRunner<ROut, LE> {
  readonly runPromise: <In, Out, E, R extends WorkflowContext | ROut>(
    pipeline: Primitive<In, Out, E, R>,
    input: In,
    options?: RunOptions & { readonly signal?: AbortSignal }
  ) => Promise<Out>
  /** Releases the services (closes pools, connections). */
  readonly dispose: () => Promise<void>
  /** The underlying `ManagedRuntime`, for Effect code. */
  readonly runtime: ManagedRuntime.ManagedRuntime<ROut, LE>
}

/**
 * Builds `layer` once and runs pipelines on it from non-Effect code (an HTTP handler, a queue
 * consumer). The layer is built on the first run (a failure to build rejects that run and is
 * retried by the next); `dispose` releases it.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer } from "effect"
 * import { Primitive, Runner } from "@braid/core"
 *
 * class Greeting extends Context.Tag("Greeting")<Greeting, string>() {}
 * const greet = Primitive.make("greet", (name: string) => Effect.map(Greeting, (g) => `${g}, ${name}`))
 *
 * const runner = Runner.runtime(Layer.succeed(Greeting, "Hello"))
 * const hello = await runner.runPromise(greet, "Ada") // "Hello, Ada"
 * await runner.dispose()
 * ```
 *
 * @category execution
 * @since 0.2.0
 */
export const runtime = <ROut, LE>(layer: Layer.Layer<ROut, LE>): ServiceRunner<ROut, LE> => {
  const managed = ManagedRuntime.make(layer)
  return {
    runtime: managed,
    dispose: () => managed.dispose(),
    runPromise: (pipeline, input, options = {}) => {
      const signal = options.signal
      if (signal?.aborted) return Promise.reject(abortReason(signal))
      return managed.runPromiseExit(
        run(pipeline, input, options) as Effect.Effect<never, unknown, ROut>,
        signal ? { signal } : undefined
      ).then((exit) => settle(exit, signal))
    }
  }
}
