/**
 * The PostgreSQL store of `CircuitBreaker` (`CircuitBreaker.sqlStoreWith` on `PostgresDriver`):
 * a breaker's state in the table `braid_circuit_breakers`, shared by every process on the same
 * database, so that when a dependency is down every runner, and a restarted process, knows it at
 * once. The half-open probe stays single across processes (a conditional update on the state's
 * generation). Every call is bounded by `timeout` (default `Io.defaultTimeout`, 5 s): past it
 * the call is a `StoreError` and the breaker uses its process's own state for that call.
 *
 * @since 0.3.0
 */
import type { Sql } from "@braid/core"
import { CircuitBreaker } from "@braid/resilience"
import type { StoreError } from "@braid/resilience"
import type { Scope } from "effect"
import { Effect, Layer } from "effect"
import * as PostgresDriver from "./PostgresDriver.js"

/**
 * A breaker store on PostgreSQL at `url`, for the life of the scope (its own pool of `max`
 * connections, default 10).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "@braid/resilience"
 * import { PostgresBreakerStore } from "@braid/postgres"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const store = yield* PostgresBreakerStore.store({ url: "postgres://localhost/app" })
 *   const breaker = CircuitBreaker.unsafeMake({ name: "anthropic", store })
 *   return yield* breaker.execute(Effect.succeed("answer"))
 * }))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const store = (
  options: PostgresDriver.Options
): Effect.Effect<CircuitBreaker.Store, StoreError | Sql.SqlFailure, Scope.Scope> =>
  Effect.flatMap(
    Layer.build(PostgresDriver.layer(options)),
    (driver) => Effect.provide(CircuitBreaker.sqlStoreWith(options), driver)
  )

/**
 * `store` at `DATABASE_URL` (read with `Config`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PostgresBreakerStore } from "@braid/postgres"
 *
 * const program = Effect.scoped(PostgresBreakerStore.storeFromConfig({ timeout: "2 seconds" }))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const storeFromConfig = (
  options: Omit<PostgresDriver.Options, "url"> = {}
) =>
  Effect.flatMap(
    Layer.build(PostgresDriver.layerConfig(options)),
    (driver) => Effect.provide(CircuitBreaker.sqlStoreWith(options), driver)
  )
