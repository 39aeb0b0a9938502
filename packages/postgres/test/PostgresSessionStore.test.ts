import { PostgresDriver, PostgresSessionStore } from "@braid/postgres"
import { DATABASE_URL, describeWith, faultyProxy, withPort } from "@braid/testing"
import { SessionStore } from "@braid/workflows"
import { assert, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Schedule } from "effect"
import { afterAll, beforeAll } from "vitest"
import {
  concurrentStarts,
  message,
  sessionStoreSuite,
  typedFailure
} from "../../workflows/test/sessionStoreConformance.js"
import { admin, inSchema } from "./schemas.js"

const describePg = await describeWith("postgres")

describePg("SessionStore on PostgresDriver", () => {
  const schema = `braid_ss_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  beforeAll(() => admin(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  const url = inSchema(DATABASE_URL, schema)

  sessionStoreSuite("postgres", () => SessionStore.layerSql.pipe(Layer.provide(PostgresDriver.layer({ url }))), {
    persistent: true,
    driver: () => PostgresDriver.layer({ url, max: 1 })
  })

  it.live("stores that start at once on a new database migrate it once (advisory lock), and all of them work", () =>
    Effect.gen(function*() {
      const fresh = `braid_ssm_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
      yield* Effect.promise(() => admin(`CREATE SCHEMA ${fresh}`))
      const freshUrl = inSchema(DATABASE_URL, fresh)
      yield* concurrentStarts(
        () => PostgresSessionStore.layer({ url: freshUrl, timeout: "20 seconds", max: 2 }),
        () => PostgresDriver.layer({ url: freshUrl, max: 1 })
      ).pipe(Effect.ensuring(Effect.promise(() => admin(`DROP SCHEMA IF EXISTS ${fresh} CASCADE`))))
    }))

  it.live("a call on a link that never answers fails typed at the bound; a dropped connection is typed and the store recovers", () =>
    Effect.gen(function*() {
      const target = new URL(DATABASE_URL)
      const p = yield* faultyProxy(Number(target.port || 5432), target.hostname || "127.0.0.1")
      const proxied = inSchema(withPort(DATABASE_URL, p.port), schema)
      const ada = { userId: "ada", role: "learner", tenant: "faulty" } as const
      yield* Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        yield* store.createSession({ id: "faulty-1", tenant: "faulty", userId: "ada", kind: "practice", createdAt: 1 })

        p.silence()
        const stalled = typedFailure(yield* Effect.exit(store.appendMessage("faulty-1", message("hi", 2))))
        assert.strictEqual(stalled._tag, "SessionStoreError")
        if (stalled._tag === "SessionStoreError") {
          assert.strictEqual(stalled.operation, "appendMessage")
          assert.strictEqual(stalled.reason, "no answer within 2000 ms")
        }

        const inFlight = yield* Effect.fork(Effect.exit(store.listSessions(ada)))
        yield* Effect.yieldNow()
        p.drop()
        const dropped = typedFailure(yield* Fiber.join(inFlight))
        assert.strictEqual(dropped._tag, "SessionStoreError")

        p.resume()
        const recovered = yield* Effect.retry(store.appendMessage("faulty-1", message("again", 3)), {
          times: 20,
          schedule: Schedule.spaced("200 millis")
        })
        // the stalled append was rolled back with its connection: the message numbering has no gap
        assert.strictEqual(recovered.seq, 0)
        const s = yield* store.getSession(ada, "faulty-1")
        assert.strictEqual(s.totals.messages, 1)
      }).pipe(Effect.provide(PostgresSessionStore.layer({ url: proxied, timeout: "2 seconds" })))
    }).pipe(Effect.scoped))
})
