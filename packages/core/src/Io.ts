/**
 * The bound on every call Braid makes to a store, a cache or a network service. A call that
 * does not answer within its bound is interrupted and fails with the caller's typed error: a
 * link that accepts bytes and never answers cannot hang a workflow. Every Braid store takes a
 * `timeout` option whose default is `defaultTimeout`.
 *
 * @since 0.2.0
 */
import { Duration, Effect } from "effect"

/**
 * The default bound of one store call: 5 seconds.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(5)

/**
 * Runs `self` within `timeout` (default `defaultTimeout`); past it `self` is interrupted and
 * the result is the failure `onTimeout` makes (given the bound in milliseconds).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Io } from "@braid/core"
 *
 * class StoreDown { readonly _tag = "StoreDown"; constructor(readonly millis: number) {} }
 * const read = Io.bounded(Effect.never, "50 millis", (millis) => new StoreDown(millis))
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const bounded = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  timeout: Duration.DurationInput | undefined,
  onTimeout: (millis: number) => E2
): Effect.Effect<A, E | E2, R> => {
  const duration = timeout === undefined ? defaultTimeout : Duration.decode(timeout)
  return Effect.timeoutFail(self, { duration, onTimeout: () => onTimeout(Duration.toMillis(duration)) })
}
