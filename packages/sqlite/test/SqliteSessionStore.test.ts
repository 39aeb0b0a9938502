import { SqliteDriver, SqliteSessionStore } from "@braid/sqlite"
import { SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { concurrentStarts, scenarioInput, sessionStoreSuite } from "../../workflows/test/sessionStoreConformance.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-sqlite-sessions-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

// The conformance suite on one file (a new connection, and a new store, per layer build).
const file = path.join(dir, "sessions.db")
sessionStoreSuite("sqlite", () => SessionStore.layerSql.pipe(Layer.provide(SqliteDriver.layer({ filename: file }))), {
  persistent: true,
  driver: () => SqliteDriver.layer({ filename: file })
})

describe("SqliteSessionStore", () => {
  it.live("stores that open a new file at once (connections of their own) migrate it once, and all of them work", () => {
    const fresh = path.join(fs.mkdtempSync(path.join(dir, "fresh-")), "sessions.db")
    return concurrentStarts(
      () => SqliteSessionStore.layer(fresh, { timeout: "20 seconds" }),
      () => SqliteDriver.layer({ filename: fresh })
    )
  })

  it.live("a file that cannot be opened is a SessionStoreError (operation open)", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(
        Effect.flatMap(SessionStore.SessionStore, (s) => s.countLive(SessionStore.system())).pipe(
          Effect.provide(SqliteSessionStore.layer(path.join(dir, "missing-dir", "x", "sessions.db")))
        )
      )
      assert.strictEqual(e._tag, "SessionStoreError")
      assert.strictEqual(e.operation, "open")
    }))
})

// The memory store has the SQL stores' semantics: the same random sequence of calls (valid and
// invalid, with colliding ids and times) gives the same results on both.
type Op = (store: SessionStore.Service) => Effect.Effect<unknown, unknown>
interface Call {
  readonly name: string
  readonly op: Op
}

const tenants = ["t1", "t2"]
const users = ["ada", "bob"]
/** Mostly the first organization, mostly admins: the lists have rows to order. */
const tenantOf = fc.oneof({ weight: 4, arbitrary: fc.constant("t1") }, { weight: 1, arbitrary: fc.constant("t2") })
const principalOf = fc.record({
  userId: fc.constantFrom(...users),
  role: fc.oneof(
    { weight: 2, arbitrary: fc.constant<SessionStore.Role>("admin") },
    { weight: 1, arbitrary: fc.constantFrom<SessionStore.Role>("learner", "teacher") }
  ),
  tenant: tenantOf
})
const sessionId = fc.constantFrom("s1", "s2", "s3", "s4", "__proto__", "a/b")
const time = fc.integer({ min: 0, max: 5 * 3_600_000 }).map((n) => n - (n % 900_000))
const cost = fc.constantFrom(0, 0.125, 0.5, 1.25)
/** Few creation times: ties are common, and the id must break them the same way. */
const createdAt = fc.constantFrom(0, 900_000, 3_600_000)

const ops: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(
      sessionId,
      tenantOf,
      fc.constantFrom(...users),
      createdAt,
      fc.boolean(),
      fc.constantFrom("x", "y")
    )
      .map(([id, tenant, userId, at, queued, scenarioId]): Call => ({
        name: `createSession ${id}`,
        op: (s) =>
          s.createSession({
            id,
            tenant,
            userId,
            kind: "practice",
            scenarioId,
            createdAt: at,
            ...(queued ? { status: "queued" as const } : {})
          })
      }))
  },
  fc.tuple(sessionId, time).map(([id, at]): Call => ({ name: `activate ${id}`, op: (s) => s.activateSession(id, at) })),
  fc.tuple(sessionId, time, fc.constantFrom<SessionStore.EndReason>("user", "idle-timeout")).map((
    [id, at, reason]
  ): Call => ({
    name: `end ${id}`,
    op: (s) => s.endSession(id, { reason, at })
  })),
  {
    weight: 4,
    arbitrary: fc.tuple(sessionId, time, fc.nat(50), fc.nat(50), cost, fc.boolean()).map((
      [id, at, i, o, c, fallback]
    ): Call => ({
      name: `append ${id}`,
      op: (s) =>
        s.appendMessage(id, {
          role: "assistant",
          text: "t",
          createdAt: at,
          inputTokens: i,
          outputTokens: o,
          costUsd: c,
          estimated: false,
          fallback
        })
    }))
  },
  {
    weight: 4,
    arbitrary: fc.tuple(
      principalOf,
      fc.record({
        userId: fc.constantFrom(...users),
        status: fc.constantFrom<SessionStore.Status>("queued", "active", "completed"),
        order: fc.constantFrom<"newest" | "oldest">("newest", "oldest"),
        limit: fc.integer({ min: 1, max: 3 })
      }, { requiredKeys: ["limit"] })
    ).map(([p, q]): Call => ({
      name: "listSessions (two pages)",
      op: (s) =>
        Effect.flatMap(s.listSessions(p, q), (page) =>
          page.nextCursor === undefined
            ? Effect.succeed([page])
            : Effect.map(s.listSessions(p, { ...q, cursor: page.nextCursor }), (next) => [page, next]))
    }))
  },
  fc.tuple(principalOf, sessionId, fc.integer({ min: 1, max: 3 })).map(([p, id, limit]): Call => ({
    name: `messages ${id}`,
    op: (s) =>
      Effect.flatMap(s.messages(p, id, { limit }), (page) =>
        page.nextCursor === undefined
          ? Effect.succeed([page])
          : Effect.map(s.messages(p, id, { limit, cursor: page.nextCursor }), (next) => [page, next]))
  })),
  fc.tuple(principalOf, sessionId).map(([p, id]): Call => ({ name: `get ${id}`, op: (s) => s.getSession(p, id) })),
  fc.tuple(principalOf, sessionId).map(([p, id]): Call => ({
    name: `delete ${id}`,
    op: (s) => s.deleteSession(p, id)
  })),
  fc.tuple(principalOf, fc.constantFrom("x", "y")).map(([p, sc]): Call => ({
    name: "activeSession",
    op: (s) => s.activeSession(p, sc)
  })),
  fc.tuple(principalOf, fc.constantFrom("a", "b", "c"), fc.constantFrom("Alpha", "beta", "Gamma alpha"), time).map((
    [p, id, title, at]
  ): Call => ({ name: `putScenario ${id}`, op: (s) => s.putScenario(p, scenarioInput(id, title), at) })),
  fc.tuple(principalOf, fc.option(fc.constantFrom("alp", "BETA", "%"), { nil: undefined })).map((
    [p, search]
  ): Call => ({
    name: "listScenarios",
    op: (s) => s.listScenarios(p, { limit: 2, ...(search === undefined ? {} : { search }) })
  })),
  fc.tuple(principalOf, fc.constantFrom("a", "b")).map(([p, id]): Call => ({
    name: `deleteScenario ${id}`,
    op: (s) => s.deleteScenario(p, id)
  })),
  fc.tuple(sessionId, fc.constantFrom(...tenants), time).map(([id, tenant, at]): Call => ({
    name: `enqueue ${id}`,
    op: (s) =>
      s.enqueueEvaluation({
        sessionId: id,
        tenant,
        userId: "ada",
        status: "pending",
        attempts: 0,
        createdAt: at,
        updatedAt: at
      })
  })),
  fc.tuple(sessionId, fc.nat(2), time).map(([id, attempts, at]): Call => ({
    name: `claim ${id}`,
    op: (s) =>
      Effect.flatMap(s.evaluationsByStatus("pending", { now: at }), (jobs) => {
        const job = jobs.find((j) => j.sessionId === id)
        return job === undefined
          ? Effect.succeed(false)
          : s.updateEvaluation(job, { ...job, status: "running", attempts: job.attempts + attempts, updatedAt: at + 1 })
      })
  })),
  fc.constantFrom<SessionStore.EvaluationStatus>("pending", "running").map((status): Call => ({
    name: `evaluationsByStatus ${status}`,
    op: (s) => s.evaluationsByStatus(status)
  })),
  fc.tuple(fc.constantFrom(...tenants), time, fc.constantFrom<"warning" | "error">("warning", "error")).map((
    [tenant, at, severity]
  ): Call => ({
    name: "recordError",
    op: (s) => s.recordError({ tenant, at, severity, source: "model", message: "m" })
  })),
  principalOf.map((p): Call => ({ name: "recentErrors", op: (s) => s.recentErrors(p, { limit: 3 }) })),
  principalOf.map((p): Call => ({ name: "countLive", op: (s) => s.countLive(p) })),
  fc.tuple(principalOf, time, fc.integer({ min: 0, max: 3 * 3_600_000 })).map(([p, since, span]): Call => ({
    name: "hourlyUsage",
    op: (s) => s.hourlyUsage(p, { since, until: since + span })
  }))
)

/** What a call gave, comparable across stores. */
const outcome = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isSuccess(exit)
    ? { ok: exit.value }
    : Option.match(Cause.failureOption(exit.cause), {
      onNone: () => ({ defect: Cause.pretty(exit.cause) }),
      onSome: (e) => ({ error: { ...(e as object) } })
    })

describe("SessionStore: memory and SQLite agree", () => {
  it.live("the same random sequence of calls gives the same results on both stores", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(ops, { minLength: 10, maxLength: 60, size: "max" }), async (calls) => {
          const runAll = (layer: Layer.Layer<SessionStore.SessionStore, unknown>) =>
            Effect.runPromise(
              Effect.flatMap(
                SessionStore.SessionStore,
                (store) => Effect.forEach(calls, (c) => Effect.map(Effect.exit(c.op(store)), outcome))
              ).pipe(
                Effect.provide(layer)
              )
            )
          const memory = await runAll(SessionStore.layerMemory)
          const sqlite = await runAll(
            SessionStore.layerSql.pipe(Layer.provide(SqliteDriver.layer({ filename: ":memory:" })))
          )
          for (const [i, c] of calls.entries()) {
            assert.deepStrictEqual(sqlite[i], memory[i], `call ${i}: ${c.name}`)
          }
        }),
        { numRuns: 100 }
      )
    ))
})
