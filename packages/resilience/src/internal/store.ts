/**
 * The bound of every call to a cache or rate-limit store (SQLite, Redis).
 *
 * @internal
 */
import { Io } from "@braid/core"
import type { Duration } from "effect"
import { Effect } from "effect"
import { StoreError, StoreTimeout } from "../Errors.js"

/**
 * Runs `self` within `timeout` (default `Io.defaultTimeout`), a late answer being a `StoreError`.
 * `Io.bounded` holds even where the caller is uninterruptible (a cache write runs in the `onExit`
 * finalizer of the computation; a scope's release is uninterruptible).
 */
export const bounded = <A>(
  store: string,
  operation: string,
  self: Effect.Effect<A, StoreError>,
  timeout: Duration.DurationInput | undefined
): Effect.Effect<A, StoreError> =>
  Io.bounded(self, timeout, (timeoutMillis) => new StoreError({ store, operation, cause: new StoreTimeout({ timeoutMillis }) }))
