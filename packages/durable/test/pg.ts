/** PostgreSQL helpers of the durable tests: a fresh table prefix, and dropping its tables. */
import { DATABASE_URL } from "@braid/testing"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Redacted } from "effect"

/** Every table the engine (`@effect/cluster`'s storage) and Braid's run status create under a prefix. */
const tables = ["messages", "replies", "runners", "shards", "locks", "migrations", "runs"]

export const uniquePrefix = (tag: string): string =>
  `braid_${tag}_${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`

export const dropPrefix = (prefix: string): Promise<void> =>
  Effect.runPromise(
    Effect.flatMap(PgClient.PgClient, (sql) =>
      sql.unsafe(`DROP TABLE IF EXISTS ${tables.map((t) => `${prefix}_${t}`).join(", ")} CASCADE`)).pipe(
        Effect.provide(PgClient.layer({ url: Redacted.make(DATABASE_URL), maxConnections: 1 })),
        Effect.asVoid
      )
  )
