/**
 * `WorkflowContext`: what every step of a run can see. Run id, session, tenant and user ids,
 * metadata, the deadline, and the run's shared state (see `State`).
 *
 * The runner provides it; a step that needs it asks for it (`yield* WorkflowContext`) and the
 * requirement disappears from the pipeline's type once `Runner.run` provides it.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

/**
 * @category models
 * @since 0.1.0
 */
export interface WorkflowContextShape {
  readonly runId: string
  readonly sessionId: string | undefined
  readonly tenantId: string | undefined
  readonly userId: string | undefined
  readonly metadata: Readonly<Record<string, unknown>>
  /** When the run started, in epoch milliseconds (Effect's Clock). */
  readonly startedAt: number
  /** When the run must be done, in epoch milliseconds, if it has a deadline. */
  readonly deadline: number | undefined
  /** The run's shared state. Read and write it through the `State` module. */
  readonly state: Ref.Ref<ReadonlyMap<string, unknown>>
}

/**
 * The context of the current run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive, WorkflowContext } from "@braid/core"
 *
 * const whoAmI = Primitive.make("whoAmI", (_: void) =>
 *   Effect.map(WorkflowContext.WorkflowContext, (ctx) => `${ctx.userId} in run ${ctx.runId}`))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class WorkflowContext
  extends Context.Tag("@braid/core/WorkflowContext")<WorkflowContext, WorkflowContextShape>()
{}

/**
 * What a run is started with. Every field is optional.
 *
 * @category models
 * @since 0.1.0
 */
export interface ContextOptions {
  /** Defaults to a random UUID. Give your own to correlate with your systems. */
  readonly runId?: string
  readonly sessionId?: string
  readonly tenantId?: string
  readonly userId?: string
  readonly metadata?: Readonly<Record<string, unknown>>
  /** How long the run may take, from its start. The runner interrupts it after that. */
  readonly deadline?: Duration.DurationInput
  /** The initial state, by key name. */
  readonly state?: Readonly<Record<string, unknown>>
}

/**
 * Creates a fresh context (fresh state: nothing leaks from one run to the next).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: ContextOptions = {}): Effect.Effect<WorkflowContextShape> =>
  Effect.clockWith((clock) => Effect.sync(() => makeAt(options, clock.unsafeCurrentTimeMillis())))

/**
 * A fresh context started at `startedAt` (epoch milliseconds): `make` without the Clock.
 *
 * @category constructors
 * @since 0.2.0
 */
export const makeAt = (options: ContextOptions, startedAt: number): WorkflowContextShape => ({
  runId: options.runId ?? crypto.randomUUID(),
  sessionId: options.sessionId,
  tenantId: options.tenantId,
  userId: options.userId,
  metadata: options.metadata ?? {},
  startedAt,
  deadline: options.deadline === undefined ? undefined : startedAt + Duration.toMillis(options.deadline),
  state: Ref.unsafeMake<ReadonlyMap<string, unknown>>(
    options.state === undefined ? new Map() : new Map(Object.entries(options.state))
  )
})

/**
 * A layer with a fresh context, for running primitives that need it outside `Runner.run`
 * (for example in tests).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: ContextOptions = {}): Layer.Layer<WorkflowContext> =>
  Layer.effect(WorkflowContext, make(options))

/**
 * The time left before the run's deadline (infinite when there is none).
 *
 * @category accessors
 * @since 0.1.0
 */
export const remaining: Effect.Effect<Duration.Duration, never, WorkflowContext> = Effect.gen(function*() {
  const ctx = yield* WorkflowContext
  if (ctx.deadline === undefined) return Duration.infinity
  const now = yield* Clock.currentTimeMillis
  return Duration.millis(Math.max(0, ctx.deadline - now))
})
