/**
 * `Journal`: the one hook through which the packages below `@braid/durable` (agents' tool calls,
 * memory, messaging) journal their side effects when they run inside a durable run, without
 * depending on it. Outside a durable run the hook is a pass-through: `step` runs the effect as it
 * is and `idempotencyKey` is `None`. A durable run (`Durable.workflow`) installs its
 * implementation for the run: its journaled steps (`Durable.step`) and its step keys
 * (`Durable.idempotencyKey`). There is one implementation of journaling: Durable's.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as O from "effect/Option"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"

/**
 * The schemas of a journaled value: the step's success and its typed error (a failure is
 * journaled too and replayed as the same error).
 *
 * @category models
 * @since 0.3.0
 */
export interface StepSchemas<A, E> {
  readonly success: Schema.Schema<A, any>
  readonly error: Schema.Schema<E, any>
}

/**
 * Options of `step`.
 *
 * @category models
 * @since 0.3.0
 */
export interface StepOptions {
  /**
   * What the step asks for (a tool's name and parameters, a memory key and value): its hash is
   * journaled, and a replay that asks for something else at the same key fails the run with
   * `NonDeterminism`. It must have a JSON form.
   */
  readonly request?: unknown
}

/**
 * The journal in effect for the current fiber.
 *
 * @category models
 * @since 0.3.0
 */
export interface JournalShape {
  /**
   * Whether `step` journals: true inside a durable run, outside any journaled step; false outside
   * a durable run and inside a step's effect (a nested step is part of the outer one).
   */
  readonly journaling: boolean
  /** Runs `effect` as a journaled step (or as it is, when `journaling` is false). */
  readonly step: <A, E, R>(
    name: string,
    effect: Effect.Effect<A, E, R>,
    schemas: StepSchemas<A, E>,
    options?: StepOptions
  ) => Effect.Effect<A, E, R>
  /** Inside a journaled step's effect: a key the same for every attempt of that step. */
  readonly idempotencyKey: Option.Option<string>
  /**
   * Inside a journaled step's effect: the key of the step's next write, so that several writes of
   * one step do not share a key: the step's key for the first write of an attempt, then
   * `KEY~2`, `KEY~3`, ... in the order the attempt makes them (the same on every attempt when the
   * step's writes run in a deterministic order). `None` elsewhere.
   */
  readonly nextWriteKey: () => Option.Option<string>
}

/**
 * The pass-through journal: the default outside a durable run.
 *
 * @example
 * ```ts
 * import { Journal } from "@braid/core"
 *
 * Journal.passThrough.journaling // false
 * ```
 *
 * @category constants
 * @since 0.3.0
 */
export const passThrough: JournalShape = {
  journaling: false,
  step: (_name, effect) => effect,
  idempotencyKey: O.none(),
  nextWriteKey: () => O.none()
}

/**
 * The journal of the current fiber (a `Context.Reference`: `passThrough` unless a durable run
 * provides its own).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Journal } from "@braid/core"
 *
 * const durable = Effect.map(Journal.Journal, (journal) => journal.journaling)
 * ```
 *
 * @category services
 * @since 0.3.0
 */
export class Journal extends Context.Reference<Journal>()("@braid/core/Journal", {
  defaultValue: (): JournalShape => passThrough
}) {}

/**
 * Runs `effect` as a journaled step of the current durable run: the first time it runs and its
 * value (or typed failure) is journaled; a replay returns the journaled one without running it.
 * Outside a durable run (or inside another step) it is `effect` itself. A journal failure
 * (another request at the same key, a journaled value that no longer decodes) ends the run with
 * the durable run's typed error; the step's own error type does not change.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal } from "@braid/core"
 *
 * class UnknownCity extends Schema.TaggedError<UnknownCity>()("UnknownCity", { city: Schema.String }) {}
 *
 * const lookup = (city: string) =>
 *   Journal.step(
 *     "weather",
 *     city === "" ? Effect.fail(new UnknownCity({ city })) : Effect.succeed({ city, sky: "clear" }),
 *     { success: Schema.Struct({ city: Schema.String, sky: Schema.String }), error: UnknownCity },
 *     { request: city }
 *   )
 * ```
 *
 * @category execution
 * @since 0.3.0
 */
export const step = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  schemas: StepSchemas<A, E>,
  options?: StepOptions
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Journal, (journal) => journal.journaling ? journal.step(name, effect, schemas, options) : effect)

/**
 * Inside the effect of a journaled step: the idempotency key of the step's next write (see
 * `JournalShape.nextWriteKey`); `None` elsewhere. What Braid's memory and messaging writes use
 * when their caller gave no key.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Journal } from "@braid/core"
 *
 * const key = Effect.map(Journal.nextWriteKey, Option.getOrUndefined)
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const nextWriteKey: Effect.Effect<Option.Option<string>> = Effect.map(
  Journal,
  (journal) => journal.nextWriteKey()
)

/**
 * Inside the effect of a journaled step: a key that is the same for every attempt of the step,
 * including the one that runs again after a crash; `None` elsewhere. A write applied
 * insert-if-absent under it happens once.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Journal } from "@braid/core"
 *
 * const key = Effect.map(Journal.idempotencyKey, Option.getOrUndefined)
 * ```
 *
 * @category accessors
 * @since 0.3.0
 */
export const idempotencyKey: Effect.Effect<Option.Option<string>> = Effect.map(
  Journal,
  (journal) => journal.idempotencyKey
)
