/**
 * A scoped ioredis client, its URL read from `REDIS_URL` through `Config`.
 *
 * @internal
 */
import { Config, Effect } from "effect"
import type { Scope } from "effect"
import { Redis } from "ioredis"
import { StoreError } from "../Errors.js"

/** `REDIS_URL`, default `redis://127.0.0.1:6379`. */
export const redisUrl: Config.Config<string> = Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379"))

/** Connects to Redis (at `url`, or `REDIS_URL`) for the life of the scope. */
export const acquire = (url?: string): Effect.Effect<Redis, StoreError | import("effect/ConfigError").ConfigError, Scope.Scope> =>
  Effect.flatMap(url === undefined ? redisUrl : Effect.succeed(url), (u) =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const client = new Redis(u, { lazyConnect: true, maxRetriesPerRequest: 2 })
          await client.connect()
          return client
        },
        catch: (cause) => new StoreError({ store: "redis", operation: "connect", cause })
      }),
      (client) => Effect.promise(() => client.quit().catch(() => "OK"))
    ))

/** Runs a Redis command, mapping its failure to `StoreError`. */
export const attempt = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, StoreError> =>
  Effect.tryPromise({ try: f, catch: (cause) => new StoreError({ store: "redis", operation, cause }) })
