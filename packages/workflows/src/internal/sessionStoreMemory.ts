/**
 * The in-memory session store: the SQL stores' semantics on maps, one store per layer build.
 * Every operation runs in one synchronous step, so each is atomic as a transaction would be.
 *
 * @internal
 */
import { Effect } from "effect"
import { InvalidInput, ScenarioNotFound, SessionNotFound, SessionStoreError } from "../Errors.js"
import type * as Scenario from "../Scenario.js"
import type * as SessionStore from "../SessionStore.js"
import * as C from "./sessionStoreCommon.js"

interface StoredError {
  readonly seq: number
  readonly entry: SessionStore.ErrorEntry
}

const bySessionKey = (newest: boolean) => (a: SessionStore.SessionRecord, b: SessionStore.SessionRecord) => {
  const order = a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? -1 : 1) : C.compareText(a.id, b.id)
  return newest ? -order : order
}

const byScenarioKey = (a: Scenario.Scenario, b: Scenario.Scenario) =>
  C.compareText(a.title, b.title) || C.compareText(a.id, b.id)

/** A new, empty store. */
export const make = (): SessionStore.Service => {
  const scenarios = new Map<string, Map<string, Scenario.Scenario>>()
  const sessions = new Map<string, SessionStore.SessionRecord>()
  const messages = new Map<string, Array<SessionStore.MessageRecord>>()
  const evaluations = new Map<string, SessionStore.EvaluationRecord>()
  /** The events of each session, stored encoded (as the SQL stores keep them). */
  const events = new Map<string, Array<{ readonly seq: number; readonly eventId: string; readonly body: string }>>()
  const errors: Array<StoredError> = []
  let errorSeq = 0

  const scenariosOf = (tenant: string) => {
    let m = scenarios.get(tenant)
    if (m === undefined) {
      m = new Map()
      scenarios.set(tenant, m)
    }
    return m
  }

  /** The session if the caller sees it. */
  const visible = (principal: SessionStore.Principal, sessionId: string) => {
    const s = sessions.get(sessionId)
    return s !== undefined && C.canRead(principal, s.tenant, s.userId)
      ? Effect.succeed(s)
      : Effect.fail(new SessionNotFound({ sessionId: C.show(sessionId) }))
  }

  const existing = (sessionId: string) => {
    const s = sessions.get(sessionId)
    return s === undefined ? Effect.fail(new SessionNotFound({ sessionId: C.show(sessionId) })) : Effect.succeed(s)
  }

  return {
    putScenario: (principal, input, at) =>
      Effect.gen(function*() {
        const { at: when, scenario } = yield* C.scenarioWrite(principal, input, at)
        const own = scenariosOf(C.tenantOf(principal))
        const next = C.nextScenario(principal, scenario, own.get(scenario.id), when)
        own.set(next.id, next)
        return next
      }),

    getScenario: (principal, id) =>
      Effect.suspend(() => {
        const s = scenarios.get(C.tenantOf(principal))?.get(id)
        return s === undefined ? Effect.fail(new ScenarioNotFound({ scenarioId: C.show(id) })) : Effect.succeed(s)
      }),

    listScenarios: (principal, query) =>
      Effect.map(C.scenarioFilter(principal, query), (f) => {
        const after = f.after
        const rows = [...(scenarios.get(f.tenant)?.values() ?? [])]
          .filter((s) =>
            (f.search === undefined || C.titleKey(s.title).includes(f.search)) &&
            (f.skill === undefined || s.skills.some((k) => k.id === f.skill)) &&
            (f.difficulty === undefined || s.persona.difficulty === f.difficulty) &&
            (after === undefined || (C.compareText(s.title, after.t) || C.compareText(s.id, after.i)) > 0)
          )
          .sort(byScenarioKey)
          .slice(0, f.limit + 1)
        return C.pageOf(rows, f.limit, (last) => C.scenarioCursor.encode({ t: last.title, i: last.id }))
      }),

    deleteScenario: (principal, id) =>
      Effect.gen(function*() {
        yield* C.requireAuthor(principal, "deleteScenario")
        if (!scenarios.get(C.tenantOf(principal))?.delete(id)) {
          return yield* new ScenarioNotFound({ scenarioId: C.show(id) })
        }
      }),

    createSession: (input) =>
      Effect.gen(function*() {
        const s = yield* C.decodeNewSession(input)
        if (sessions.has(s.id)) return yield* new InvalidInput({ field: "id", reason: "a session with this id exists" })
        const record = C.newSession(s)
        sessions.set(record.id, record)
        messages.set(record.id, [])
        return record
      }),

    activateSession: (sessionId, at) =>
      Effect.gen(function*() {
        const when = yield* C.decodeTime("activateSession", at)
        const s = yield* existing(sessionId)
        if (s.status !== "queued") return s
        const next: SessionStore.SessionRecord = { ...s, status: "active", startedAt: when }
        sessions.set(s.id, next)
        return next
      }),

    endSession: (sessionId, end) =>
      Effect.gen(function*() {
        const e = yield* C.decodeEnd("endSession", end)
        const s = yield* existing(sessionId)
        if (s.status === "completed") return { session: s, ended: false }
        const next = C.endedSession(s, e)
        sessions.set(s.id, next)
        return { session: next, ended: true }
      }),

    appendMessage: (sessionId, message) =>
      Effect.gen(function*() {
        const m = yield* C.decodeNewMessage(message)
        const s = yield* existing(sessionId)
        const record: SessionStore.MessageRecord = { ...m, sessionId: s.id, seq: s.totals.messages }
        sessions.set(s.id, { ...s, totals: C.addToTotals(s.totals, m) })
        messages.get(s.id)!.push(record)
        return record
      }),

    getSession: visible,

    listSessions: (principal, query) =>
      Effect.map(C.sessionFilter(principal, query), (f) => {
        const order = bySessionKey(f.newest)
        const after = f.after
        const cursorRow = after === undefined ? undefined : { createdAt: after.c, id: after.i }
        const rows = [...sessions.values()]
          .filter((s) =>
            s.tenant === f.tenant &&
            (f.userId === undefined || s.userId === f.userId) &&
            (f.status === undefined || s.status === f.status) &&
            (f.kind === undefined || s.kind === f.kind) &&
            (f.scenarioId === undefined || s.scenarioId === f.scenarioId) &&
            (f.from === undefined || s.createdAt >= f.from) &&
            (f.to === undefined || s.createdAt < f.to) &&
            (cursorRow === undefined || order(cursorRow as SessionStore.SessionRecord, s) < 0)
          )
          .sort(order)
          .slice(0, f.limit + 1)
        return C.pageOf(rows, f.limit, (last) => C.sessionCursor.encode({ c: last.createdAt, i: last.id }))
      }),

    activeSession: (principal, scenarioId) =>
      Effect.sync(() =>
        [...sessions.values()]
          .filter((s) =>
            s.tenant === C.tenantOf(principal) && s.userId === C.userOf(principal) && s.scenarioId === scenarioId &&
            s.status !== "completed"
          )
          .sort(bySessionKey(true))[0]
      ),

    messages: (principal, sessionId, page) =>
      Effect.gen(function*() {
        const limit = yield* C.limitInput(page?.limit, 100, 500)
        const after = yield* C.messageCursor.decode(page?.cursor)
        const s = yield* visible(principal, sessionId)
        const from = after === undefined ? 0 : after.s + 1
        const rows = messages.get(s.id)!.slice(from, from + limit + 1)
        return C.pageOf(rows, limit, (last) => C.messageCursor.encode({ s: last.seq }))
      }),

    deleteSession: (principal, sessionId) =>
      Effect.map(visible(principal, sessionId), (s) => {
        sessions.delete(s.id)
        messages.delete(s.id)
        events.delete(s.id)
        evaluations.delete(s.id)
      }),

    appendEvent: (event) =>
      Effect.gen(function*() {
        const e = yield* C.encodeEvent(event)
        const s = yield* existing(e.sessionId)
        let list = events.get(s.id)
        if (list === undefined) {
          list = []
          events.set(s.id, list)
        }
        const found = list.find((x) => x.eventId === e.eventId)
        if (found !== undefined) return { seq: found.seq, inserted: false }
        const seq = list.length + 1
        list.push({ seq, eventId: e.eventId, body: e.body })
        return { seq, inserted: true }
      }),

    events: (principal, sessionId, options) =>
      Effect.gen(function*() {
        const { after, limit } = yield* C.eventQuery(options)
        const s = yield* visible(principal, sessionId)
        const rows = (events.get(s.id) ?? []).slice(after, after + limit)
        return yield* Effect.forEach(rows, (r) =>
          Effect.map(
            Effect.mapError(C.decodeEvent(r.body), (reason) => new SessionStoreError({ operation: "events", reason })),
            (event): SessionStore.StoredEvent => ({ seq: r.seq, event })
          ))
      }),

    enqueueEvaluation: (record) =>
      Effect.map(C.decodeEvaluation("enqueueEvaluation", record), (r) => {
        const current = evaluations.get(r.sessionId)
        if (current !== undefined) return current
        evaluations.set(r.sessionId, r)
        return r
      }),

    updateEvaluation: (expected, next) =>
      Effect.gen(function*() {
        const n = yield* C.decodeEvaluation("updateEvaluation", next)
        const e = yield* C.decodeEvaluation("updateEvaluation", expected)
        const current = evaluations.get(e.sessionId)
        if (current === undefined || n.sessionId !== e.sessionId || !C.sameVersion(current, e)) {
          return false
        }
        evaluations.set(n.sessionId, n)
        return true
      }),

    getEvaluation: (principal, sessionId) => Effect.map(visible(principal, sessionId), (s) => evaluations.get(s.id)),

    evaluationsByStatus: (status, options) =>
      Effect.map(C.evaluationQuery(options), ({ limit, now }) =>
        [...evaluations.values()]
          .filter((e) =>
            e.status === status &&
            (status !== "pending" || now === undefined || e.nextAttemptAt === undefined || e.nextAttemptAt <= now)
          )
          .sort((a, b) => a.createdAt - b.createdAt || C.compareText(a.sessionId, b.sessionId))
          .slice(0, limit)),

    recordError: (entry) =>
      Effect.map(C.decodeErrorEntry("recordError", entry), (e) => {
        errors.push({ seq: errorSeq++, entry: e })
      }),

    recentErrors: (principal, options) =>
      Effect.gen(function*() {
        yield* C.requireAdmin(principal, "recentErrors")
        const { limit, since } = yield* C.errorQuery(options)
        const tenant = C.tenantOf(principal)
        return errors
          .filter((e) => e.entry.tenant === tenant && (since === undefined || e.entry.at >= since))
          .sort((a, b) => b.entry.at - a.entry.at || b.seq - a.seq)
          .slice(0, limit)
          .map((e) => e.entry)
      }),

    countLive: (principal) =>
      Effect.map(C.requireAdmin(principal, "countLive"), () => {
        const tenant = C.tenantOf(principal)
        let active = 0
        let queued = 0
        for (const s of sessions.values()) {
          if (s.tenant !== tenant) continue
          if (s.status === "active") active++
          else if (s.status === "queued") queued++
        }
        return { active, queued }
      }),

    hourlyUsage: (principal, range) =>
      Effect.gen(function*() {
        yield* C.requireAdmin(principal, "hourlyUsage")
        const r = yield* C.hourRange(range)
        const tenant = C.tenantOf(principal)
        const sums = new Map<number, { messages: number; inputTokens: number; outputTokens: number; costUsd: number }>()
        for (const s of sessions.values()) {
          if (s.tenant !== tenant) continue
          for (const m of messages.get(s.id)!) {
            if (m.createdAt < r.since || m.createdAt >= r.until) continue
            const start = Math.floor(m.createdAt / C.HOUR) * C.HOUR
            const b = sums.get(start) ?? { messages: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 }
            b.messages++
            b.inputTokens += m.inputTokens
            b.outputTokens += m.outputTokens
            b.costUsd += m.costUsd
            sums.set(start, b)
          }
        }
        return C.fillHours(r, sums)
      })
  }
}
