/**
 * What every session store must do (`sessionStoreSuite`): run on the memory store here, on SQLite
 * in @braid/sqlite and on PostgreSQL in @braid/postgres (imported by relative path). Each test
 * works in an organization (tenant) of its own, so the suites of one database never see each
 * other's rows; `make` gives a new store instance over the suite's database on each call.
 */
import type { Sql } from "@braid/core"
import { Sql as SqlPort } from "@braid/core"
import { SessionEvents, SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import * as fc from "fast-check"
import { typedFailure } from "../../eval/test/resultStoreConformance.js"

export { typedFailure }

/** That `exit` is an `InvalidInput` naming `field`. */
export const assertInvalid = (exit: Exit.Exit<unknown, { readonly _tag: string }>, field: string, message?: string) => {
  const e = typedFailure(exit) as { readonly _tag: string; readonly field?: string }
  assert.deepStrictEqual([e._tag, e.field], ["InvalidInput", field], message)
}

let counter = 0
/** A tenant no other test (of any suite on the same database) uses. */
export const freshTenant = (label: string) =>
  `${label}-${Date.now().toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`

/** A practice scenario input. */
export const scenarioInput = (id: string, title: string, overrides: Record<string, unknown> = {}) => ({
  id,
  title,
  persona: {
    name: "Sam",
    background: "Team lead who took over a struggling team.",
    personality: ["guarded"],
    goals: ["decide whether to stay"],
    difficulty: "beginner"
  },
  objectives: ["Agree on a goal for the session"],
  endCriteria: ["The client states a goal in their own words"],
  skills: [{ id: "open-questions", name: "Open questions", rubric: "Asks open questions." }],
  aiSpeaksFirst: true,
  ...overrides
})

/** A message as the workflows append it. */
export const message = (
  text: string,
  at: number,
  overrides: Partial<SessionStore.NewMessage> = {}
): SessionStore.NewMessage => ({
  role: "user",
  text,
  createdAt: at,
  inputTokens: 10,
  outputTokens: 0,
  costUsd: 0.001,
  estimated: true,
  fallback: false,
  ...overrides
})

/** The principals of one organization. */
export const people = (tenant: string) => ({
  ada: { userId: "ada", role: "learner", tenant } as SessionStore.Principal,
  bob: { userId: "bob", role: "learner", tenant } as SessionStore.Principal,
  tess: { userId: "tess", role: "teacher", tenant } as SessionStore.Principal,
  root: { userId: "root", role: "admin", tenant } as SessionStore.Principal
})

const H = 3_600_000

export interface SuiteOptions {
  /** The store keeps its data across instances (`make` opens the same database again). */
  readonly persistent: boolean
  /** How many sequences of garbage calls the fuzz test runs (default 100). */
  readonly fuzzRuns?: number
  /** For the SQL stores: a driver on the store's database (the tests write rows behind the store's back). */
  readonly driver?: () => Layer.Layer<Sql.SqlDriver, unknown>
}

/**
 * The session store conformance suite: `make` builds a store instance (a new one on every call,
 * over one database for the SQL stores).
 */
export const sessionStoreSuite = (
  name: string,
  make: () => Layer.Layer<SessionStore.SessionStore, unknown>,
  options: SuiteOptions
) =>
  describe(`SessionStore conformance (${name})`, () => {
    const run = <A, E>(body: (store: SessionStore.Service) => Effect.Effect<A, E>) =>
      Effect.flatMap(SessionStore.SessionStore, body).pipe(Effect.provide(make()))

    it.live("scenarios: a teacher adds and updates (version counts), everyone of the organization reads, learners cannot write, other organizations see nothing", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("sc")
          const { ada, root, tess } = people(t)
          const added = yield* store.putScenario(
            tess,
            scenarioInput("first", "A first session", { tenant: "elsewhere" }),
            1000
          )
          assert.strictEqual(added.version, 1)
          assert.strictEqual(added.tenant, t)
          assert.strictEqual(added.author, "tess")
          assert.strictEqual(added.createdAt, 1000)
          const updated = yield* store.putScenario(root, scenarioInput("first", "A first session, revised"), 2000)
          assert.strictEqual(updated.version, 2)
          assert.strictEqual(updated.createdAt, 1000)
          assert.strictEqual(updated.updatedAt, 2000)
          assert.strictEqual(updated.author, "tess")
          assert.deepStrictEqual(yield* store.getScenario(ada, "first"), updated)

          const denied = typedFailure(yield* Effect.exit(store.putScenario(ada, scenarioInput("x", "X"), 1)))
          assert.strictEqual(denied._tag, "Forbidden")
          const deniedDelete = typedFailure(yield* Effect.exit(store.deleteScenario(ada, "first")))
          assert.strictEqual(deniedDelete._tag, "Forbidden")

          const other = people(freshTenant("sc-other"))
          const missing = typedFailure(yield* Effect.exit(store.getScenario(other.root, "first")))
          assert.strictEqual(missing._tag, "ScenarioNotFound")
          assert.deepStrictEqual((yield* store.listScenarios(other.ada)).items, [])

          yield* store.deleteScenario(tess, "first")
          assert.strictEqual(typedFailure(yield* Effect.exit(store.getScenario(ada, "first")))._tag, "ScenarioNotFound")
          assert.strictEqual(
            typedFailure(yield* Effect.exit(store.deleteScenario(tess, "first")))._tag,
            "ScenarioNotFound"
          )
        })
      ))

    it.live("scenarios: a bad field is InvalidInput naming it, and nothing is stored", () =>
      run((store) =>
        Effect.gen(function*() {
          const { tess } = people(freshTenant("sc-bad"))
          const cases: ReadonlyArray<[unknown, string]> = [
            [scenarioInput("ok", "   "), "title"],
            [scenarioInput("ok", "T", { skills: [{ id: "Bad Id", name: "n", rubric: "r" }] }), "skills[0].id"],
            [
              { ...scenarioInput("ok", "T"), persona: { ...scenarioInput("ok", "T").persona, name: 42 } },
              "persona.name"
            ],
            [scenarioInput("a/b", "T"), "id"],
            [scenarioInput("__proto__", "T"), "id"],
            [null, ""],
            ["text", ""]
          ]
          for (const [input, field] of cases) {
            const e = typedFailure(yield* Effect.exit(store.putScenario(tess, input, 1)))
            assert.strictEqual(e._tag, "InvalidInput")
            if (e._tag === "InvalidInput") assert.strictEqual(e.field, field)
          }
          assert.deepStrictEqual((yield* store.listScenarios(tess)).items, [])
        })
      ))

    it.live("scenarios: listed by title then id, paged, searched by title (case-insensitive), skill and difficulty", () =>
      run((store) =>
        Effect.gen(function*() {
          const { ada, tess } = people(freshTenant("sc-list"))
          const titles = ["Delta", "alpha", "Charlie", "Bravo", "Echo 100%", "Bravo"]
          for (const [i, title] of titles.entries()) {
            yield* store.putScenario(
              tess,
              scenarioInput(`s${i}`, title, {
                skills: [{ id: i % 2 === 0 ? "listening" : "open-questions", name: "n", rubric: "r" }],
                persona: { ...scenarioInput("x", "x").persona, difficulty: i < 3 ? "beginner" : "advanced" }
              }),
              i
            )
          }
          const all: Array<string> = []
          let cursor: string | undefined
          do {
            const page: SessionStore.Page<{ readonly id: string; readonly title: string }> = yield* store.listScenarios(
              ada,
              { limit: 4, ...(cursor === undefined ? {} : { cursor }) }
            )
            all.push(...page.items.map((s) => `${s.title}/${s.id}`))
            cursor = page.nextCursor
          } while (cursor !== undefined)
          assert.deepStrictEqual(all, ["Bravo/s3", "Bravo/s5", "Charlie/s2", "Delta/s0", "Echo 100%/s4", "alpha/s1"])

          const ids = (q: SessionStore.ScenarioQuery) =>
            Effect.map(store.listScenarios(ada, q), (p) => p.items.map((s) => s.id))
          assert.deepStrictEqual(yield* ids({ search: "BRAV" }), ["s3", "s5"])
          assert.deepStrictEqual(yield* ids({ search: "100%" }), ["s4"])
          assert.deepStrictEqual(yield* ids({ search: "%" }), ["s4"])
          assert.deepStrictEqual(yield* ids({ search: "_" }), [])
          assert.deepStrictEqual(yield* ids({ skill: "listening" }), ["s2", "s0", "s4"])
          assert.deepStrictEqual(yield* ids({ skill: "listen" }), [])
          assert.deepStrictEqual(yield* ids({ difficulty: "advanced" }), ["s3", "s5", "s4"])
          assert.deepStrictEqual(yield* ids({ difficulty: "advanced", skill: "open-questions" }), ["s3", "s5"])
          assertInvalid(yield* Effect.exit(store.listScenarios(ada, { difficulty: "expert" as never })), "difficulty")
        })
      ))

    it.live("sessions: created active or queued, activated, ended once (the first end wins), with duration", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("life")
          const { ada } = people(t)
          const s = yield* store.createSession({
            id: `${t}-1`,
            tenant: t,
            userId: "ada",
            kind: "practice",
            scenarioId: "first",
            createdAt: 1000,
            metadata: { a: "b" }
          })
          assert.strictEqual(s.status, "active")
          assert.strictEqual(s.startedAt, 1000)
          assert.deepStrictEqual(s.totals, { messages: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, fallbacks: 0 })
          assert.deepStrictEqual(s.metadata, { a: "b" })
          assertInvalid(
            yield* Effect.exit(
              store.createSession({ id: `${t}-1`, tenant: t, userId: "bob", kind: "coaching", createdAt: 1 })
            ),
            "id"
          )

          const q = yield* store.createSession({
            id: `${t}-2`,
            tenant: t,
            userId: "ada",
            kind: "coaching",
            status: "queued",
            createdAt: 2000
          })
          assert.strictEqual(q.status, "queued")
          assert.isUndefined(q.startedAt)
          const a = yield* store.activateSession(q.id, 5000)
          assert.deepStrictEqual([a.status, a.startedAt], ["active", 5000])
          const again = yield* store.activateSession(q.id, 9000)
          assert.strictEqual(again.startedAt, 5000)

          const first = yield* store.endSession(q.id, {
            reason: "model-outage",
            at: 8000,
            message: "The model is unavailable."
          })
          assert.isTrue(first.ended)
          assert.strictEqual(first.session.status, "completed")
          assert.strictEqual(first.session.endReason, "model-outage")
          assert.strictEqual(first.session.endMessage, "The model is unavailable.")
          assert.strictEqual(first.session.endedAt, 8000)
          assert.strictEqual(first.session.durationMs, 3000)
          const second = yield* store.endSession(q.id, { reason: "user", at: 9000 })
          assert.isFalse(second.ended)
          assert.deepStrictEqual(second.session, first.session)
          assert.deepStrictEqual(yield* store.getSession(ada, q.id), first.session)
          assert.strictEqual((yield* store.activateSession(q.id, 10_000)).status, "completed")

          for (
            const e of [
              yield* Effect.exit(store.activateSession(`${t}-none`, 1)),
              yield* Effect.exit(store.endSession(`${t}-none`, { reason: "user", at: 1 })),
              yield* Effect.exit(store.appendMessage(`${t}-none`, message("hi", 1)))
            ] as ReadonlyArray<Exit.Exit<unknown, { readonly _tag: string }>>
          ) {
            assert.strictEqual(typedFailure(e)._tag, "SessionNotFound")
          }
        })
      ))

    it.live("concurrent ends: exactly one call ends the session", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("ends")
          yield* store.createSession({ id: `${t}-1`, tenant: t, userId: "ada", kind: "practice", createdAt: 0 })
          const reasons = ["user", "idle-timeout", "turn-limit", "objective-met", "budget-exhausted"] as const
          const results = yield* Effect.forEach(
            reasons,
            (reason, i) => store.endSession(`${t}-1`, { reason, at: 10 + i }),
            {
              concurrency: "unbounded"
            }
          )
          assert.strictEqual(results.filter((r) => r.ended).length, 1)
          const winner = results.find((r) => r.ended)!.session
          for (const r of results) assert.deepStrictEqual(r.session, winner)
        })
      ))

    it.live("messages: numbered from 0 atomically under concurrent appends, added to the totals, paged by seq", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("msg")
          const { ada } = people(t)
          const id = `${t}-1`
          yield* store.createSession({ id, tenant: t, userId: "ada", kind: "practice", createdAt: 0 })
          const appended = yield* Effect.forEach(
            Array.from({ length: 30 }, (_, i) => i),
            (i) =>
              store.appendMessage(
                id,
                message(`m${i}`, 100 + i, {
                  role: i % 2 === 0 ? "user" : "assistant",
                  inputTokens: i,
                  outputTokens: 2 * i,
                  costUsd: 0.5,
                  fallback: i % 10 === 0,
                  ...(i % 10 === 0 ? { fallbackCause: "timeout" } : {}),
                  turnId: `turn-${Math.floor(i / 2)}`,
                  model: "m"
                })
              ),
            { concurrency: 8 }
          )
          assert.deepStrictEqual(
            appended.map((m) => m.seq).sort((a, b) => a - b),
            Array.from({ length: 30 }, (_, i) => i)
          )
          const s = yield* store.getSession(ada, id)
          assert.deepStrictEqual(s.totals, {
            messages: 30,
            inputTokens: 435,
            outputTokens: 870,
            costUsd: 15,
            fallbacks: 3
          })

          const seen: Array<SessionStore.MessageRecord> = []
          let cursor: string | undefined
          do {
            const page: SessionStore.Page<SessionStore.MessageRecord> = yield* store.messages(ada, id, {
              limit: 7,
              ...(cursor === undefined ? {} : { cursor })
            })
            seen.push(...page.items)
            cursor = page.nextCursor
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen.map((m) => m.seq), Array.from({ length: 30 }, (_, i) => i))
          const bySeq = new Map(appended.map((m) => [m.seq, m]))
          for (const m of seen) assert.deepStrictEqual(m, bySeq.get(m.seq))
          const first = seen.find((m) => m.text === "m0")!
          assert.deepStrictEqual(
            {
              role: first.role,
              fallback: first.fallback,
              fallbackCause: first.fallbackCause,
              turnId: first.turnId,
              model: first.model,
              estimated: first.estimated
            },
            { role: "user", fallback: true, fallbackCause: "timeout", turnId: "turn-0", model: "m", estimated: true }
          )

          // the closing message after the end is kept (an outage notice, a goodbye)
          yield* store.endSession(id, { reason: "user", at: 500 })
          const closing = yield* store.appendMessage(id, message("goodbye", 501, { role: "assistant" }))
          assert.strictEqual(closing.seq, 30)
          assert.strictEqual((yield* store.getSession(ada, id)).totals.messages, 31)
        })
      ))

    it.live("messages: bad input is InvalidInput naming the field, and changes nothing", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("msg-bad")
          const { ada } = people(t)
          const id = `${t}-1`
          yield* store.createSession({ id, tenant: t, userId: "ada", kind: "practice", createdAt: 0 })
          const cases: ReadonlyArray<[unknown, string]> = [
            [message("x", Number.NaN), "createdAt"],
            [message("x", 1.5), "createdAt"],
            [message("x", 1, { inputTokens: -1 }), "inputTokens"],
            [message("x", 1, { costUsd: Number.POSITIVE_INFINITY }), "costUsd"],
            [message("x", 1, { costUsd: Number.NaN }), "costUsd"],
            [message("x", 1, { role: "robot" as never }), "role"],
            [message("a\u0000b", 1), "text"],
            [{ ...message("x", 1), outputTokens: 10n }, "outputTokens"]
          ]
          for (const [m, field] of cases) {
            assertInvalid(yield* Effect.exit(store.appendMessage(id, m as SessionStore.NewMessage)), field)
          }
          assert.strictEqual((yield* store.getSession(ada, id)).totals.messages, 0)
          assertInvalid(yield* Effect.exit(store.messages(ada, id, { limit: 501 })), "limit")
        })
      ))

    it.live("ownership: learners see only their own sessions, admins their organization's, nobody another organization's", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("own")
          const { ada, bob, root, tess } = people(t)
          const other = people(freshTenant("own-other"))
          yield* store.createSession({ id: `${t}-ada`, tenant: t, userId: "ada", kind: "practice", createdAt: 1 })
          yield* store.createSession({ id: `${t}-bob`, tenant: t, userId: "bob", kind: "practice", createdAt: 2 })
          yield* store.createSession({ id: `${t}-tess`, tenant: t, userId: "tess", kind: "coaching", createdAt: 3 })
          yield* store.appendMessage(`${t}-ada`, message("hi", 5))
          yield* store.enqueueEvaluation({
            sessionId: `${t}-ada`,
            tenant: t,
            userId: "ada",
            status: "pending",
            attempts: 0,
            createdAt: 6,
            updatedAt: 6
          })

          assert.strictEqual((yield* store.getSession(ada, `${t}-ada`)).userId, "ada")
          assert.strictEqual((yield* store.getSession(root, `${t}-ada`)).userId, "ada")
          assert.strictEqual((yield* store.getSession(tess, `${t}-tess`)).userId, "tess")
          for (
            const [who, op] of [
              [bob, store.getSession(bob, `${t}-ada`)],
              [bob, store.messages(bob, `${t}-ada`)],
              [bob, store.getEvaluation(bob, `${t}-ada`)],
              [bob, store.deleteSession(bob, `${t}-ada`)],
              [tess, store.getSession(tess, `${t}-ada`)],
              [other.root, store.getSession(other.root, `${t}-ada`)],
              [other.root, store.deleteSession(other.root, `${t}-ada`)],
              [other.ada, store.getSession(other.ada, `${t}-ada`)]
            ] as const
          ) {
            const e = typedFailure(yield* Effect.exit(op as Effect.Effect<unknown, { readonly _tag: string }>))
            assert.strictEqual(e._tag, "SessionNotFound", `${who.userId}@${who.tenant}`)
          }
          const ids = (p: SessionStore.Principal, q?: SessionStore.SessionQuery) =>
            Effect.map(store.listSessions(p, q), (page) => page.items.map((s) => s.id))
          assert.deepStrictEqual(yield* ids(ada), [`${t}-ada`])
          assert.deepStrictEqual(yield* ids(ada, { userId: "ada" }), [`${t}-ada`])
          assert.deepStrictEqual(yield* ids(root), [`${t}-tess`, `${t}-bob`, `${t}-ada`])
          assert.deepStrictEqual(yield* ids(root, { userId: "bob" }), [`${t}-bob`])
          assert.deepStrictEqual(yield* ids(other.root), [])
          for (const p of [ada, tess]) {
            const e = typedFailure(yield* Effect.exit(store.listSessions(p, { userId: "bob" })))
            assert.strictEqual(e._tag, "Forbidden")
          }
          for (
            const op of [store.countLive(ada), store.recentErrors(tess), store.hourlyUsage(ada, { since: 0, until: H })]
          ) {
            const e = typedFailure(yield* Effect.exit(op as Effect.Effect<unknown, { readonly _tag: string }>))
            assert.strictEqual(e._tag, "Forbidden")
          }
          // the same user id in another organization is another user
          const twin = { userId: "ada", role: "learner", tenant: other.ada.tenant } as const
          assert.strictEqual(
            typedFailure(yield* Effect.exit(store.getSession(twin, `${t}-ada`)))._tag,
            "SessionNotFound"
          )
          assert.isUndefined(yield* store.activeSession(twin, "first"))
        })
      ))

    it.live("listSessions: filters (status, kind, scenario, time range), both orders, and the active session of a scenario", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("filter")
          const { ada, root } = people(t)
          const mk = (n: number, extra: Partial<SessionStore.NewSession> = {}) =>
            store.createSession({
              id: `${t}-${n}`,
              tenant: t,
              userId: "ada",
              kind: "practice",
              scenarioId: "sc",
              createdAt: n * 100,
              ...extra
            })
          yield* mk(1)
          yield* mk(2, { kind: "coaching" })
          yield* mk(3, { scenarioId: "other" })
          yield* mk(4)
          yield* mk(5, { status: "queued" })
          yield* store.endSession(`${t}-1`, { reason: "user", at: 150 })
          yield* store.endSession(`${t}-4`, { reason: "user", at: 450 })
          const ids = (q: SessionStore.SessionQuery) =>
            Effect.map(store.listSessions(ada, q), (page) => page.items.map((s) => s.id.slice(t.length + 1)))
          assert.deepStrictEqual(yield* ids({}), ["5", "4", "3", "2", "1"])
          assert.deepStrictEqual(yield* ids({ order: "oldest" }), ["1", "2", "3", "4", "5"])
          assert.deepStrictEqual(yield* ids({ status: "completed" }), ["4", "1"])
          assert.deepStrictEqual(yield* ids({ kind: "coaching" }), ["2"])
          assert.deepStrictEqual(yield* ids({ scenarioId: "sc" }), ["5", "4", "2", "1"])
          assert.deepStrictEqual(yield* ids({ from: 200, to: 400 }), ["3", "2"])
          assert.strictEqual((yield* store.activeSession(ada, "sc"))?.id, `${t}-5`)
          assert.isUndefined(yield* store.activeSession(root, "sc"))
          assert.isUndefined(yield* store.activeSession(ada, "nothing"))
          assert.deepStrictEqual(yield* store.countLive(root), { active: 2, queued: 1 })

          for (
            const [q, field] of [
              [{ limit: 0 }, "limit"],
              [{ limit: 101 }, "limit"],
              [{ limit: Number.NaN }, "limit"],
              [{ limit: 2.5 }, "limit"],
              [{ limit: 5n }, "limit"],
              [{ from: Number.NaN }, "from"],
              [{ to: Number.POSITIVE_INFINITY }, "to"],
              [{ status: "paused" }, "status"],
              [{ order: "random" }, "order"],
              [{ cursor: "not a cursor" }, "cursor"],
              [{ cursor: Buffer.from(JSON.stringify({ c: "x", i: 1 })).toString("base64url") }, "cursor"],
              [{ cursor: Buffer.from("{\"__proto__\":{\"c\":1}}").toString("base64url") }, "cursor"]
            ] as const
          ) {
            assertInvalid(
              yield* Effect.exit(store.listSessions(ada, q as SessionStore.SessionQuery)),
              field,
              JSON.stringify(q, (_, v) => typeof v === "bigint" ? `${v}n` : v)
            )
          }
        })
      ))

    it.live("pagination is stable under concurrent inserts: page 2 continues exactly where page 1 ended", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("page")
          const { ada } = people(t)
          // equal createdAt on purpose: the id breaks the tie
          yield* Effect.forEach(
            Array.from({ length: 45 }, (_, i) => i),
            (i) =>
              store.createSession({
                id: `${t}-${String(i).padStart(3, "0")}`,
                tenant: t,
                userId: "ada",
                kind: "practice",
                createdAt: 1000 + Math.floor(i / 3)
              })
          )
          const expected = Array.from({ length: 45 }, (_, i) => `${t}-${String(44 - i).padStart(3, "0")}`)
          const page1 = yield* store.listSessions(ada, { limit: 20 })
          assert.deepStrictEqual(page1.items.map((s) => s.id), expected.slice(0, 20))
          assert.isString(page1.nextCursor)
          // 50 newer sessions arrive while the user pages
          yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) =>
            store.createSession({
              id: `${t}-new-${i}`,
              tenant: t,
              userId: "ada",
              kind: "practice",
              createdAt: 5000 + i
            }), {
            concurrency: 10
          })
          const page2 = yield* store.listSessions(ada, { limit: 20, cursor: page1.nextCursor! })
          assert.deepStrictEqual(page2.items.map((s) => s.id), expected.slice(20, 40))
          const page3 = yield* store.listSessions(ada, { limit: 20, cursor: page2.nextCursor! })
          assert.deepStrictEqual(page3.items.map((s) => s.id), expected.slice(40))
          assert.isUndefined(page3.nextCursor)
          const oldest = yield* store.listSessions(ada, { order: "oldest", limit: 44 })
          assert.deepStrictEqual(oldest.items.map((s) => s.id), [...expected].reverse().slice(0, 44))
          const rest = yield* store.listSessions(ada, { order: "oldest", limit: 100, cursor: oldest.nextCursor! })
          assert.strictEqual(rest.items.length, 51)
          assert.isUndefined(rest.nextCursor)
        })
      ))

    it.live("deleteSession removes the session with its messages and evaluation", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("del")
          const { ada, bob, root } = people(t)
          for (const u of ["ada", "bob"]) {
            yield* store.createSession({ id: `${t}-${u}`, tenant: t, userId: u, kind: "practice", createdAt: 10 })
            yield* store.appendMessage(`${t}-${u}`, message("hi", 2 * H))
            yield* store.enqueueEvaluation({
              sessionId: `${t}-${u}`,
              tenant: t,
              userId: u,
              status: "pending",
              attempts: 0,
              createdAt: 3,
              updatedAt: 3
            })
          }
          yield* store.deleteSession(ada, `${t}-ada`)
          yield* store.deleteSession(root, `${t}-bob`)
          for (const [p, id] of [[ada, `${t}-ada`], [bob, `${t}-bob`]] as const) {
            assert.strictEqual(typedFailure(yield* Effect.exit(store.getSession(p, id)))._tag, "SessionNotFound")
            assert.strictEqual(typedFailure(yield* Effect.exit(store.messages(p, id)))._tag, "SessionNotFound")
            assert.strictEqual(typedFailure(yield* Effect.exit(store.deleteSession(p, id)))._tag, "SessionNotFound")
          }
          const pending = yield* store.evaluationsByStatus("pending", { limit: 1000 })
          assert.deepStrictEqual(pending.filter((e) => e.tenant === t), [])
          const usage = yield* store.hourlyUsage(root, { since: 0, until: 3 * H })
          assert.deepStrictEqual(usage.map((b) => b.messages), [0, 0, 0])
          // the id can be used again
          const again = yield* store.createSession({
            id: `${t}-ada`,
            tenant: t,
            userId: "ada",
            kind: "practice",
            createdAt: 20
          })
          assert.strictEqual(again.totals.messages, 0)
          assert.deepStrictEqual((yield* store.messages(ada, again.id)).items, [])
          assert.isUndefined(yield* store.getEvaluation(ada, again.id))
        })
      ))

    it.live("session events: numbered 1, 2, ... per session, insert-if-absent by eventId, read after a seq in order, owner only, encoded and decoded, deleted with the session", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("ev")
          const { ada, bob, root } = people(t)
          const other = people(freshTenant("ev-other"))
          for (const u of ["ada", "bob"]) {
            yield* store.createSession({ id: `${t}-${u}`, tenant: t, userId: u, kind: "practice", createdAt: 1 })
          }
          const s = `${t}-ada`
          const base = { tenant: t, sessionId: s, userId: "ada" }
          const started = new SessionEvents.SessionStarted({ ...base, eventId: "e1", at: 1, kind: "practice" })
          const turn = new SessionEvents.AiTurn({
            ...base,
            eventId: "e2",
            at: 2,
            turnId: "t1",
            seq: 0,
            text: "Hello \u00e9\ud83d\ude00 \"quoted\"",
            fallback: false
          })
          const ended = new SessionEvents.SessionEnded({
            ...base,
            eventId: "e3",
            at: 3,
            reason: "user",
            requestedAt: 2,
            durationMs: 2
          })
          assert.deepStrictEqual(yield* store.appendEvent(started), { seq: 1, inserted: true })
          assert.deepStrictEqual(yield* store.appendEvent(turn), { seq: 2, inserted: true })
          // the same eventId again: nothing written, the stored seq
          assert.deepStrictEqual(
            yield* store.appendEvent(new SessionEvents.AiTurn({ ...turn, text: "other" })),
            { seq: 2, inserted: false }
          )
          assert.deepStrictEqual(yield* store.appendEvent(ended), { seq: 3, inserted: true })
          // another session numbers from 1; the same eventId in another session is another event
          const bobs = new SessionEvents.Insight({
            tenant: t,
            sessionId: `${t}-bob`,
            userId: "bob",
            eventId: "e1",
            at: 5,
            text: "x"
          })
          assert.deepStrictEqual(yield* store.appendEvent(bobs), { seq: 1, inserted: true })

          const all = yield* store.events(ada, s)
          assert.deepStrictEqual(all.map((e) => e.seq), [1, 2, 3])
          assert.deepStrictEqual(all.map((e) => e.event), [started, turn, ended])
          assert.instanceOf(all[1]!.event, SessionEvents.AiTurn)
          assert.deepStrictEqual((yield* store.events(root, s, { after: 1, limit: 1 })).map((e) => e.seq), [2])
          assert.deepStrictEqual((yield* store.events(ada, s, { after: 3 })).map((e) => e.seq), [])
          // ownership as for messages
          for (const p of [bob, other.root]) {
            assert.strictEqual(typedFailure(yield* Effect.exit(store.events(p, s)))._tag, "SessionNotFound")
          }
          assert.strictEqual(typedFailure(yield* Effect.exit(store.events(ada, `${t}-none`)))._tag, "SessionNotFound")
          // bad input is typed and named
          assertInvalid(yield* Effect.exit(store.events(ada, s, { after: -1 })), "after")
          assertInvalid(yield* Effect.exit(store.events(ada, s, { after: 1.5 })), "after")
          assertInvalid(yield* Effect.exit(store.events(ada, s, { limit: 1001 })), "limit")
          assert.strictEqual(
            typedFailure(
              yield* Effect.exit(
                store.appendEvent(
                  new SessionEvents.Insight({ ...base, sessionId: `${t}-none`, eventId: "n", at: 1, text: "x" })
                )
              )
            )._tag,
            "SessionNotFound"
          )
          assertInvalid(
            yield* Effect.exit(
              store.appendEvent({ _tag: "AiTurn", ...base, eventId: "half", at: 1 } as unknown as SessionEvents.Event)
            ),
            "event.turnId"
          )
          assertInvalid(
            yield* Effect.exit(
              store.appendEvent(new SessionEvents.Insight({ ...base, eventId: "", at: 1, text: "x" }))
            ),
            "event.eventId"
          )
          // deleted with the session; a new session with the same id numbers from 1 again
          yield* store.deleteSession(ada, s)
          assert.strictEqual(typedFailure(yield* Effect.exit(store.events(root, s)))._tag, "SessionNotFound")
          yield* store.createSession({ id: s, tenant: t, userId: "ada", kind: "practice", createdAt: 9 })
          assert.deepStrictEqual(yield* store.events(ada, s), [])
          assert.deepStrictEqual(yield* store.appendEvent(turn), { seq: 1, inserted: true })
          if (options.persistent) {
            // another instance over the same database reads the same numbers
            const again = yield* Effect.flatMap(SessionStore.SessionStore, (other) => other.events(ada, s)).pipe(
              Effect.provide(make())
            )
            assert.deepStrictEqual(again.map((e) => [e.seq, e.event.eventId]), [[1, "e2"]])
          }
        })
      ))

    it.live("evaluations: enqueued once, claimed by exactly one of two concurrent workers (compare-and-set), due by nextAttemptAt", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("eval")
          const { ada } = people(t)
          yield* store.createSession({ id: `${t}-1`, tenant: t, userId: "ada", kind: "practice", createdAt: 1 })
          const job: SessionStore.EvaluationRecord = {
            sessionId: `${t}-1`,
            tenant: t,
            userId: "ada",
            status: "pending",
            attempts: 0,
            createdAt: 100,
            updatedAt: 100
          }
          const created = yield* store.enqueueEvaluation(job)
          assert.deepStrictEqual(created, job)
          const again = yield* store.enqueueEvaluation({ ...job, createdAt: 999, updatedAt: 999 })
          assert.deepStrictEqual(again, job)

          const claims = yield* Effect.forEach(
            ["w1", "w2", "w3"],
            (w, i) =>
              store.updateEvaluation(job, { ...job, status: "running", attempts: 1, updatedAt: 200 + i, error: w }),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(claims.filter(Boolean).length, 1)
          const running = (yield* store.getEvaluation(ada, `${t}-1`))!
          assert.strictEqual(running.status, "running")
          // a stale expectation loses
          assert.isFalse(yield* store.updateEvaluation(job, { ...job, status: "failed" }))
          const failed: SessionStore.EvaluationRecord = {
            ...running,
            status: "pending",
            attempts: 1,
            updatedAt: 300,
            nextAttemptAt: 1000,
            error: "model timeout"
          }
          assert.isTrue(yield* store.updateEvaluation(running, failed))
          const mine = (rs: ReadonlyArray<SessionStore.EvaluationRecord>) => rs.filter((r) => r.tenant === t)
          assert.deepStrictEqual(mine(yield* store.evaluationsByStatus("pending", { now: 999, limit: 1000 })), [])
          assert.deepStrictEqual(mine(yield* store.evaluationsByStatus("pending", { now: 1000, limit: 1000 })), [
            failed
          ])
          const result = {
            skills: [{ skillId: "open-questions", score: 4, notes: "good" }, {
              skillId: "listening",
              score: 3.5,
              notes: "ok"
            }],
            overall: 3.75,
            summary: "Solid.",
            model: "judge",
            costUsd: 0.02
          }
          const done: SessionStore.EvaluationRecord = {
            ...failed,
            status: "completed",
            attempts: 2,
            updatedAt: 1100,
            completedAt: 1100,
            result
          }
          const { nextAttemptAt: _n, error: _e, ...cleared } = done
          assert.isTrue(yield* store.updateEvaluation(failed, cleared))
          assert.deepStrictEqual(yield* store.getEvaluation(ada, `${t}-1`), cleared)
          assert.deepStrictEqual(mine(yield* store.evaluationsByStatus("completed", { limit: 1000 })), [cleared])
          const limit = typedFailure(yield* Effect.exit(store.evaluationsByStatus("pending", { limit: 0 })))
          assert.strictEqual(limit._tag, "SessionStoreError")
          const bad = typedFailure(
            yield* Effect.exit(store.enqueueEvaluation({ ...job, sessionId: `${t}-2`, attempts: -1 }))
          )
          assert.strictEqual(bad._tag, "SessionStoreError")
          assert.include(bad.reason, "attempts")
        })
      ))

    it.live("hourly usage: one bucket per hour of the range, empty hours with zeros, only the organization's messages in [since, until)", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("usage")
          const { root } = people(t)
          const other = freshTenant("usage-other")
          const base = 100 * H
          yield* store.createSession({ id: `${t}-1`, tenant: t, userId: "ada", kind: "practice", createdAt: base })
          yield* store.createSession({ id: `${t}-2`, tenant: t, userId: "bob", kind: "coaching", createdAt: base })
          yield* store.createSession({
            id: `${other}-1`,
            tenant: other,
            userId: "ada",
            kind: "practice",
            createdAt: base
          })
          yield* store.appendMessage(
            `${t}-1`,
            message("a", base + 10, { inputTokens: 5, outputTokens: 0, costUsd: 0.25 })
          )
          yield* store.appendMessage(
            `${t}-1`,
            message("b", base + H - 1, { role: "assistant", inputTokens: 100, outputTokens: 40, costUsd: 0.5 })
          )
          yield* store.appendMessage(
            `${t}-2`,
            message("c", base + 3 * H, { inputTokens: 7, outputTokens: 1, costUsd: 0.125 })
          )
          yield* store.appendMessage(`${t}-2`, message("late", base + 4 * H, { inputTokens: 1000 }))
          yield* store.appendMessage(`${other}-1`, message("x", base + 10, { inputTokens: 999 }))
          const usage = yield* store.hourlyUsage(root, { since: base + 5, until: base + 4 * H })
          assert.deepStrictEqual(usage, [
            { start: base, messages: 2, inputTokens: 105, outputTokens: 40, costUsd: 0.75 },
            { start: base + H, messages: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 },
            { start: base + 2 * H, messages: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 },
            { start: base + 3 * H, messages: 1, inputTokens: 7, outputTokens: 1, costUsd: 0.125 }
          ])
          // since is inclusive, and a range inside one hour is one bucket
          assert.deepStrictEqual(
            (yield* store.hourlyUsage(root, { since: base + 11, until: base + 20 })).map((b) => b.messages),
            [0]
          )
          assert.deepStrictEqual(yield* store.hourlyUsage(root, { since: base, until: base }), [])
          for (
            const range of [{ since: Number.NaN, until: 1 }, { since: 10, until: 5 }, { since: 0, until: 10_000 * H }]
          ) {
            const e = typedFailure(yield* Effect.exit(store.hourlyUsage(root, range)))
            assert.strictEqual(e._tag, "InvalidInput")
          }
        })
      ))

    it.live("recent errors: the organization's newest first, since a time, admins only", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("err")
          const { root } = people(t)
          const other = people(freshTenant("err-other"))
          yield* store.recordError({ tenant: t, at: 10, severity: "warning", source: "model", message: "slow" })
          yield* store.recordError({
            tenant: t,
            at: 30,
            severity: "critical",
            source: "store",
            message: "down",
            sessionId: "s-1"
          })
          yield* store.recordError({
            tenant: t,
            at: 30,
            severity: "error",
            source: "evaluation",
            message: "second at 30"
          })
          yield* store.recordError({
            tenant: other.root.tenant,
            at: 20,
            severity: "error",
            source: "model",
            message: "theirs"
          })
          const all = yield* store.recentErrors(root)
          assert.deepStrictEqual(all.map((e) => e.message), ["second at 30", "down", "slow"])
          assert.deepStrictEqual(all[1], {
            tenant: t,
            at: 30,
            severity: "critical",
            source: "store",
            message: "down",
            sessionId: "s-1"
          })
          assert.deepStrictEqual((yield* store.recentErrors(root, { since: 20 })).map((e) => e.message), [
            "second at 30",
            "down"
          ])
          assert.deepStrictEqual((yield* store.recentErrors(root, { limit: 1 })).map((e) => e.message), [
            "second at 30"
          ])
          assert.deepStrictEqual((yield* store.recentErrors(other.root)).map((e) => e.message), ["theirs"])
          const bad = typedFailure(
            yield* Effect.exit(
              store.recordError({ tenant: t, at: 1, severity: "meh" as never, source: "x", message: "y" })
            )
          )
          assert.strictEqual(bad._tag, "SessionStoreError")
        })
      ))

    it.live("ids are data: separators, quotes, SQL, __proto__ and unicode work as ids and tenants", () =>
      run((store) =>
        Effect.gen(function*() {
          const t = freshTenant("ids")
          const weird = ["__proto__", "a'b\"c", "x; DROP TABLE sessions; --", "a/b\\c", "%_", "constructor", "ü🙂", " "]
          for (const [i, id] of weird.entries()) {
            const tenant = `${t}${id}`
            const p = { userId: id, role: "learner", tenant } as const
            const s = yield* store.createSession({
              id: `${t}${id}`,
              tenant,
              userId: id,
              kind: "practice",
              scenarioId: id,
              createdAt: i,
              metadata: { [`key ${id}`]: id }
            })
            yield* store.appendMessage(s.id, message(id, i))
            const read = yield* store.getSession(p, s.id)
            assert.deepStrictEqual(read, {
              ...s,
              totals: { ...s.totals, messages: 1, inputTokens: 10, costUsd: 0.001 }
            })
            assert.deepStrictEqual(read.metadata, { [`key ${id}`]: id })
            assert.strictEqual((yield* store.activeSession(p, id))?.id, s.id)
            assert.deepStrictEqual((yield* store.messages(p, s.id)).items.map((m) => m.text), [id])
            assert.deepStrictEqual((yield* store.listSessions(p)).items.map((x) => x.id), [s.id])
          }
          assert.deepStrictEqual(Object.getPrototypeOf({}), Object.prototype)
          for (
            const [input, field] of [
              [{ id: "" }, "id"],
              [{ userId: "" }, "userId"],
              [{ createdAt: -1 }, "createdAt"],
              [
                { id: "a\u0000" },
                "id"
              ],
              [{ kind: "other" }, "kind"],
              [{ metadata: JSON.parse("{\"__proto__\":\"x\"}") }, "metadata"]
            ] as const
          ) {
            assertInvalid(
              yield* Effect.exit(
                store.createSession(
                  Object.assign(
                    { id: `${t}-x`, tenant: t, userId: "u", kind: "practice", createdAt: 1 },
                    input
                  ) as SessionStore.NewSession
                )
              ),
              field
            )
          }
        })
      ))

    if (options.persistent) {
      it.live("a new store instance over the same database sees everything", () =>
        Effect.gen(function*() {
          const t = freshTenant("restart")
          const { ada, root, tess } = people(t)
          yield* run((store) =>
            Effect.gen(function*() {
              yield* store.putScenario(tess, scenarioInput("first", "First"), 1)
              yield* store.createSession({
                id: `${t}-1`,
                tenant: t,
                userId: "ada",
                kind: "practice",
                scenarioId: "first",
                createdAt: 5
              })
              yield* store.appendMessage(`${t}-1`, message("hello", 6, { costUsd: 0.1 }))
              yield* store.enqueueEvaluation({
                sessionId: `${t}-1`,
                tenant: t,
                userId: "ada",
                status: "pending",
                attempts: 0,
                createdAt: 7,
                updatedAt: 7
              })
              yield* store.recordError({ tenant: t, at: 8, severity: "error", source: "model", message: "boom" })
            })
          )
          yield* run((store) =>
            Effect.gen(function*() {
              assert.strictEqual((yield* store.getScenario(ada, "first")).title, "First")
              const s = yield* store.getSession(ada, `${t}-1`)
              assert.deepStrictEqual(s.totals, {
                messages: 1,
                inputTokens: 10,
                outputTokens: 0,
                costUsd: 0.1,
                fallbacks: 0
              })
              assert.strictEqual((yield* store.appendMessage(`${t}-1`, message("again", 9))).seq, 1)
              assert.strictEqual((yield* store.getEvaluation(ada, `${t}-1`))?.status, "pending")
              assert.deepStrictEqual((yield* store.recentErrors(root)).map((e) => e.message), ["boom"])
            })
          )
        }))
    }

    it.live("fuzz: garbage at every entry (wrong types, NaN, BigInt, cycles, __proto__ keys, deep nesting, separators) is a typed error or works, never a defect", () =>
      run((store) =>
        Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(fuzzCall, { minLength: 1, maxLength: 12 }), async (calls) => {
              const t = freshTenant("fuzz")
              await Effect.runPromise(
                store.createSession({ id: `${t}-s`, tenant: t, userId: "ada", kind: "practice", createdAt: 1 })
              )
              for (const call of calls) {
                const exit = await Effect.runPromiseExit(
                  call.run(store, t) as Effect.Effect<unknown, { readonly _tag: string }>
                )
                if (Exit.isFailure(exit)) {
                  const failure = Cause.failureOption(exit.cause)
                  if (Option.isNone(failure)) {
                    throw new Error(`${call.name}: not a typed failure: ${Cause.pretty(exit.cause)}`)
                  }
                  const e = failure.value as { readonly _tag: string; readonly reason?: string }
                  if (!expectedTags.has(e._tag)) throw new Error(`${call.name}: unexpected error ${e._tag}`)
                  // garbage is refused before it reaches the database
                  if (e._tag === "SessionStoreError" && !String(e.reason).startsWith("invalid")) {
                    throw new Error(`${call.name}: the store failed: ${e.reason}`)
                  }
                }
              }
              if (({} as Record<string, unknown>)["polluted"] !== undefined) {
                throw new Error("Object.prototype was polluted")
              }
              // the store still works
              const ada = { userId: "ada", role: "learner", tenant: t } as const
              await Effect.runPromise(store.appendMessage(`${t}-s`, message("still here", 2)))
              const page = await Effect.runPromise(store.messages(ada, `${t}-s`))
              if (page.items.at(-1)?.text !== "still here") throw new Error("the store lost a message")
            }),
            { numRuns: options.fuzzRuns ?? 100 }
          )
        )
      ))

    const driver = options.driver
    if (driver !== undefined) {
      const raw = (text: string, params: ReadonlyArray<Sql.Param> = []) =>
        Effect.flatMap(SqlPort.SqlDriver, (sql) => sql.query(text, params)).pipe(Effect.provide(driver()))

      it.live("a stored row that does not decode is a SessionStoreError naming the operation; other rows are still served", () =>
        Effect.gen(function*() {
          const t = freshTenant("corrupt")
          const { ada, root } = people(t)
          yield* run((store) =>
            Effect.gen(function*() {
              yield* store.createSession({ id: `${t}-ok`, tenant: t, userId: "ada", kind: "practice", createdAt: 1 })
              yield* store.createSession({ id: `${t}-meta`, tenant: t, userId: "ada", kind: "practice", createdAt: 2 })
              yield* store.createSession({
                id: `${t}-status`,
                tenant: t,
                userId: "ada",
                kind: "practice",
                createdAt: 3
              })
            })
          )
          yield* raw("UPDATE braid_sessions SET metadata = ? WHERE id = ?", [
            "{\"__proto__\":{\"polluted\":\"yes\"}}",
            `${t}-meta`
          ])
          yield* raw("UPDATE braid_sessions SET status = 'paused' WHERE id = ?", [`${t}-status`])
          yield* run((store) =>
            Effect.gen(function*() {
              for (const id of [`${t}-meta`, `${t}-status`]) {
                const e = typedFailure(yield* Effect.exit(store.getSession(ada, id)))
                assert.strictEqual(e._tag, "SessionStoreError")
                if (e._tag === "SessionStoreError") {
                  assert.strictEqual(e.operation, "getSession")
                  assert.include(e.reason, "stored row")
                }
              }
              const listed = typedFailure(yield* Effect.exit(store.listSessions(root)))
              assert.strictEqual(listed._tag, "SessionStoreError")
              assert.strictEqual((yield* store.getSession(ada, `${t}-ok`)).id, `${t}-ok`)
              assert.isUndefined(({} as Record<string, unknown>)["polluted"])
            })
          )
        }))

      it.live("migrations are recorded once; building the store again applies none", () =>
        Effect.gen(function*() {
          yield* run(() => Effect.void)
          yield* run(() => Effect.void)
          const versions = yield* raw("SELECT version FROM braid_session_migrations ORDER BY version")
          assert.deepStrictEqual(versions.map((r) => Number(r["version"])), [1, 2])
        }))
    }
  })

/**
 * Stores that start at once on a new database (`make`: a store on a connection of its own, each
 * call) migrate it once, and every one of them works.
 */
export const concurrentStarts = (
  make: () => Layer.Layer<SessionStore.SessionStore, unknown>,
  driver: () => Layer.Layer<Sql.SqlDriver, unknown>
) =>
  Effect.gen(function*() {
    const ids = yield* Effect.forEach(
      [0, 1, 2, 3],
      (i) =>
        Effect.flatMap(
          SessionStore.SessionStore,
          (store) => store.createSession({ id: `s${i}`, userId: "ada", kind: "practice", createdAt: i })
        ).pipe(Effect.provide(make()), Effect.map((s) => s.id)),
      { concurrency: "unbounded" }
    )
    assert.deepStrictEqual(ids, ["s0", "s1", "s2", "s3"])
    const versions = yield* Effect.flatMap(
      SqlPort.SqlDriver,
      (sql) => sql.query("SELECT version FROM braid_session_migrations")
    ).pipe(Effect.provide(driver()))
    assert.deepStrictEqual(versions.map((r) => Number(r["version"])), [1, 2])
    const all = yield* Effect.flatMap(SessionStore.SessionStore, (store) => store.listSessions(SessionStore.system()))
      .pipe(Effect.provide(make()))
    assert.deepStrictEqual(all.items.map((s) => s.id), ["s3", "s2", "s1", "s0"])
  })

// Fuzzing ---------------------------------------------------------------------------------------

const expectedTags = new Set(["SessionStoreError", "InvalidInput", "Forbidden", "SessionNotFound", "ScenarioNotFound"])

const cyclic = () => {
  const o: Record<string, unknown> = { id: "c", limit: 5 }
  o["self"] = o
  return o
}
const deep = (n: number) => {
  let o: unknown = "bottom"
  for (let i = 0; i < n; i++) o = { metadata: o, a: [o] }
  return o
}

/** Values no caller should pass. */
const garbage: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.anything({
      withBigInt: true,
      withNullPrototype: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withSparseArray: true,
      maxDepth: 2
    })
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom<unknown>(
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -1,
      1.5,
      2 ** 60,
      10n,
      "",
      "__proto__",
      "constructor",
      "a/b|c%_",
      "x\u0000y",
      "\uD800",
      null,
      undefined,
      true,
      [],
      Symbol("s")
    )
  },
  fc.constant(null).map(cyclic),
  fc.constant(null).map(() =>
    JSON.parse("{\"__proto__\":{\"polluted\":\"yes\"},\"limit\":5,\"metadata\":{\"__proto__\":\"x\"}}")
  ),
  fc.constant(null).map(() => deep(2000))
)

/** A valid value with one field replaced by garbage, or garbage. */
const spoiled = (base: Record<string, unknown>): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.tuple(fc.constantFrom(...Object.keys(base), "__proto__", "extra"), garbage).map(([k, v]) => {
      const o: Record<string, unknown> = { ...base }
      Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true })
      return o
    }),
    garbage
  )

const principalArb = fc.oneof(
  fc.constantFrom("learner", "teacher", "admin").map((role) => ({ userId: "ada", role })),
  spoiled({ userId: "ada", role: "admin" }),
  fc.constantFrom<unknown>(null, undefined, {}, "admin", { role: "admin" }, { userId: 7, role: "admin" })
)

interface FuzzCall {
  readonly name: string
  readonly run: (store: SessionStore.Service, tenant: string) => Effect.Effect<unknown, unknown>
}

const withTenant = (p: unknown, tenant: string): SessionStore.Principal =>
  (typeof p === "object" && p !== null && !Array.isArray(p) && !("tenant" in p) ? { ...p, tenant } : p) as never

const fuzzCall: fc.Arbitrary<FuzzCall> = fc.oneof(
  fc.tuple(principalArb, spoiled(scenarioInput("fz", "Fuzz"))).map(([p, input]): FuzzCall => ({
    name: "putScenario",
    run: (store, t) => store.putScenario(withTenant(p, t), input, 1)
  })),
  fc.tuple(principalArb, garbage).map(([p, id]): FuzzCall => ({
    name: "getScenario",
    run: (store, t) => store.getScenario(withTenant(p, t), id as string)
  })),
  fc.tuple(principalArb, spoiled({ search: "a", skill: "open-questions", difficulty: "beginner", limit: 5 })).map((
    [p, q]
  ): FuzzCall => ({ name: "listScenarios", run: (store, t) => store.listScenarios(withTenant(p, t), q as never) })),
  fc.tuple(principalArb, garbage).map(([p, id]): FuzzCall => ({
    name: "deleteScenario",
    run: (store, t) => store.deleteScenario(withTenant(p, t), id as string)
  })),
  spoiled({ id: "fz-s", userId: "ada", kind: "practice", createdAt: 5, metadata: { a: "b" } }).map((s): FuzzCall => ({
    name: "createSession",
    run: (store, t) =>
      store.createSession(
        (typeof s === "object" && s !== null && !Array.isArray(s) ? { ...s, tenant: t } : s) as never
      )
  })),
  fc.tuple(fc.oneof(fc.constant("s"), garbage), garbage).map(([id, at]): FuzzCall => ({
    name: "activateSession",
    run: (store, t) => store.activateSession(id === "s" ? `${t}-s` : id as string, at as number)
  })),
  fc.tuple(fc.oneof(fc.constant("s"), garbage), spoiled({ reason: "user", at: 5 })).map(([id, end]): FuzzCall => ({
    name: "endSession",
    run: (store, t) => store.endSession(id === "s" ? `${t}-s` : id as string, end as never)
  })),
  fc.tuple(fc.oneof(fc.constant("s"), garbage), spoiled({ ...message("m", 3) })).map(([id, m]): FuzzCall => ({
    name: "appendMessage",
    run: (store, t) => store.appendMessage(id === "s" ? `${t}-s` : id as string, m as never)
  })),
  fc.tuple(principalArb, fc.oneof(fc.constant("s"), garbage)).map(([p, id]): FuzzCall => ({
    name: "getSession",
    run: (store, t) => store.getSession(withTenant(p, t), id === "s" ? `${t}-s` : id as string)
  })),
  fc.tuple(
    principalArb,
    spoiled({
      userId: "ada",
      status: "active",
      kind: "practice",
      scenarioId: "x",
      from: 0,
      to: 10,
      order: "oldest",
      limit: 3
    })
  ).map(([p, q]): FuzzCall => ({
    name: "listSessions",
    run: (store, t) => store.listSessions(withTenant(p, t), q as never)
  })),
  fc.tuple(principalArb, garbage).map(([p, id]): FuzzCall => ({
    name: "activeSession",
    run: (store, t) => store.activeSession(withTenant(p, t), id as string)
  })),
  fc.tuple(principalArb, fc.oneof(fc.constant("s"), garbage), spoiled({ limit: 2 })).map(([p, id, page]): FuzzCall => ({
    name: "messages",
    run: (store, t) => store.messages(withTenant(p, t), id === "s" ? `${t}-s` : id as string, page as never)
  })),
  fc.tuple(principalArb, garbage).map(([p, id]): FuzzCall => ({
    name: "deleteSession",
    run: (store, t) => store.deleteSession(withTenant(p, t), id as string)
  })),
  spoiled({ sessionId: "fz-e", tenant: "x", userId: "ada", status: "pending", attempts: 0, createdAt: 1, updatedAt: 1 })
    .map((r): FuzzCall => ({ name: "enqueueEvaluation", run: (store) => store.enqueueEvaluation(r as never) })),
  fc.tuple(
    spoiled({
      sessionId: "fz-e",
      tenant: "x",
      userId: "ada",
      status: "pending",
      attempts: 0,
      createdAt: 1,
      updatedAt: 1
    }),
    spoiled({
      sessionId: "fz-e",
      tenant: "x",
      userId: "ada",
      status: "running",
      attempts: 1,
      createdAt: 1,
      updatedAt: 2
    })
  ).map(([e, n]): FuzzCall => ({
    name: "updateEvaluation",
    run: (store) => store.updateEvaluation(e as never, n as never)
  })),
  fc.tuple(principalArb, garbage).map(([p, id]): FuzzCall => ({
    name: "getEvaluation",
    run: (store, t) => store.getEvaluation(withTenant(p, t), id as string)
  })),
  fc.tuple(fc.oneof(fc.constant("pending"), garbage), spoiled({ now: 5, limit: 3 })).map(([status, o]): FuzzCall => ({
    name: "evaluationsByStatus",
    run: (store) => store.evaluationsByStatus(status as never, o as never)
  })),
  spoiled({ tenant: "x", at: 1, severity: "error", source: "model", message: "m" }).map((e): FuzzCall => ({
    name: "recordError",
    run: (store) => store.recordError(e as never)
  })),
  fc.tuple(principalArb, spoiled({ limit: 3, since: 0 })).map(([p, o]): FuzzCall => ({
    name: "recentErrors",
    run: (store, t) => store.recentErrors(withTenant(p, t), o as never)
  })),
  principalArb.map((p): FuzzCall => ({ name: "countLive", run: (store, t) => store.countLive(withTenant(p, t)) })),
  fc.tuple(principalArb, spoiled({ since: 0, until: 3_600_000 })).map(([p, r]): FuzzCall => ({
    name: "hourlyUsage",
    run: (store, t) => store.hourlyUsage(withTenant(p, t), r as never)
  })),
  fc.tuple(
    fc.oneof(fc.constant("s"), garbage),
    spoiled({ eventId: "e", at: 1, userId: "ada", text: "x" }),
    fc.boolean()
  )
    .map(([id, fields, instance]): FuzzCall => ({
      name: "appendEvent",
      run: (store, t) => {
        const input = {
          tenant: t,
          sessionId: id === "s" ? `${t}-s` : id,
          ...(typeof fields === "object" && fields !== null ? fields : { text: fields })
        }
        // a constructed event (the constructor validates: a bad field throws before the store) or a raw object
        if (!instance) return store.appendEvent({ _tag: "Insight", ...input } as never)
        try {
          return store.appendEvent(new SessionEvents.Insight(input as never))
        } catch {
          return Effect.void
        }
      }
    })),
  fc.tuple(principalArb, fc.oneof(fc.constant("s"), garbage), spoiled({ after: 0, limit: 2 })).map((
    [p, id, o]
  ): FuzzCall => ({
    name: "events",
    run: (store, t) => store.events(withTenant(p, t), id === "s" ? `${t}-s` : id as string, o as never)
  }))
)
