/**
 * For store authors: what every Braid cache and rate-limit store (the SQLite and Redis stores of
 * @braid/sqlite and @braid/redis, or your own) uses, so that they check their options and bound
 * their calls the way this package does: the option checks (each refusal an `InvalidOption`
 * naming the store and the option) and `bounded`, the bound of one store call.
 *
 * @since 0.2.0
 */
import { Io } from "@braid/core"
import type { Duration } from "effect"
import { Effect } from "effect"
import { StoreError, StoreTimeout } from "./Errors.js"
import * as Check from "./internal/options.js"

/**
 * Runs `self` within `timeout` (default `Io.defaultTimeout`), a late answer being a `StoreError`.
 * `Io.bounded` holds even where the caller is uninterruptible (a cache write runs in the `onExit`
 * finalizer of the computation; a scope's release is uninterruptible).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StoreSupport } from "@braid/resilience"
 *
 * const get = StoreSupport.bounded("mystore", "get", Effect.succeed("value"), "1 second")
 * ```
 *
 * @category utils
 * @since 0.2.0
 */
export const bounded = <A>(
  store: string,
  operation: string,
  self: Effect.Effect<A, StoreError>,
  timeout: Duration.DurationInput | undefined
): Effect.Effect<A, StoreError> =>
  Io.bounded(
    self,
    timeout,
    (timeoutMillis) => new StoreError({ store, operation, cause: new StoreTimeout({ timeoutMillis }) })
  )

/**
 * Throws the `InvalidOption` of `owner`'s `option`, saying why (`reason`) and what was given.
 *
 * @category utils
 * @since 0.2.0
 */
export const refuse: (owner: string, option: string, reason: string, value: unknown) => never = Check.refuse

/**
 * A short, safe description of a value (strings are cut, objects are not rendered).
 *
 * @category utils
 * @since 0.2.0
 */
export const describe: (u: unknown) => string = Check.describe

/**
 * An integer >= 1, or an `InvalidOption`.
 *
 * @category utils
 * @since 0.2.0
 */
export const positiveInteger: (owner: string, option: string, value: unknown) => number = Check.positiveInteger

/**
 * A non-empty string, or an `InvalidOption`.
 *
 * @category utils
 * @since 0.2.0
 */
export const nonEmptyString: (owner: string, option: string, value: unknown) => string = Check.nonEmptyString

/**
 * A string (possibly empty), or an `InvalidOption`.
 *
 * @category utils
 * @since 0.2.0
 */
export const string: (owner: string, option: string, value: unknown) => string = Check.string

/**
 * A duration that is finite and > 0, in milliseconds, or an `InvalidOption`.
 *
 * @category utils
 * @since 0.2.0
 */
export const positiveDuration: (owner: string, option: string, value: unknown) => number = Check.positiveDuration
