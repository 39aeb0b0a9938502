import { PostgresDriver, PostgresSessionStore } from "@braid/postgres"
import { DATABASE_URL, describeWith, faultyProxy, withPort } from "@braid/testing"
import { SessionEvents, SessionStore } from "@braid/workflows"
import { assert, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Schedule } from "effect"
import {
  concurrentStarts,
  message,
  sessionStoreSuite,
  typedFailure
} from "../../workflows/test/sessionStoreConformance.js"
import { admin, freshSchema, inSchema } from "./schemas.js"

const describePg = await describeWith("postgres")

describePg("SessionStore on PostgresDriver", () => {
  const { schema, url } = freshSchema("braid_ss")

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

  it.live("events appended at once from two store instances (two pools) get unique, gap-free sequence numbers; a repeated eventId is stored once", () =>
    Effect.gen(function*() {
      const tenant = `ev-${crypto.randomUUID().slice(0, 8)}`
      const sessionId = `${tenant}-s`
      const one = yield* Layer.build(PostgresSessionStore.layer({ url, max: 4, timeout: "20 seconds" }))
      const two = yield* Layer.build(PostgresSessionStore.layer({ url, max: 4, timeout: "20 seconds" }))
      const a = Context.get(one, SessionStore.SessionStore)
      const b = Context.get(two, SessionStore.SessionStore)
      yield* a.createSession({ id: sessionId, tenant, userId: "ada", kind: "practice", createdAt: 1 })
      const event = (i: number) =>
        new SessionEvents.Insight({ eventId: `e${i}`, at: i, tenant, sessionId, userId: "ada", text: `insight ${i}` })
      // 40 distinct events, half through each instance, and each of the first 10 sent again through the other
      const results = yield* Effect.forEach(
        [
          ...Array.from({ length: 40 }, (_, i) => [i % 2 === 0 ? a : b, i] as const),
          ...Array.from({ length: 10 }, (_, i) => [i % 2 === 0 ? b : a, i] as const)
        ],
        ([store, i]) => store.appendEvent(event(i)),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter((r) => r.inserted).length, 40)
      const stored = yield* b.events(SessionStore.system(tenant), sessionId, { limit: 1000 })
      assert.deepStrictEqual(stored.map((e) => e.seq), Array.from({ length: 40 }, (_, i) => i + 1))
      assert.strictEqual(new Set(stored.map((e) => e.event.eventId)).size, 40)
      // each append's seq is the one stored for its event
      const seqOf = new Map(stored.map((e) => [e.event.eventId, e.seq]))
      results.forEach((r, k) => assert.strictEqual(r.seq, seqOf.get(`e${k < 40 ? k : k - 40}`)))
    }).pipe(Effect.scoped))

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
