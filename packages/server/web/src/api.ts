/**
 * The endpoints of `braid serve` the app uses (one function each), over `http.ts`.
 * The shapes are the library's own records (`@braid/workflows`), as JSON.
 */
import type { Scenario, SessionStore } from "@braid/workflows"
import type { SpanView } from "./components/TraceTree.js"
import { request } from "./http.js"

export type Role = "learner" | "teacher" | "admin"
export type ScenarioRecord = Scenario.Scenario
export type ScenarioInput = Scenario.ScenarioInput
export type SessionRecord = SessionStore.SessionRecord
export type MessageRecord = SessionStore.MessageRecord
export type EvaluationRecord = SessionStore.EvaluationRecord
export type ErrorEntry = SessionStore.ErrorEntry

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor?: string | undefined
}

export interface Me {
  readonly userId: string
  readonly role: Role
  readonly tenant: string
  readonly expiresAt: number
}

/** A session with its place in the queue and its evaluation (`GET /api/sessions/:id`). */
export interface SessionDetail {
  readonly session: SessionRecord
  readonly position: number
  readonly evaluation?: EvaluationRecord | undefined
}

/** A started session (`POST /api/sessions`, `POST /api/sessions/:id/again`). */
export interface Started {
  readonly session: SessionRecord
  readonly position: number
  readonly opening?: MessageRecord | undefined
}

/** One turn (`POST /api/sessions/:id/messages`). */
export interface Turn {
  readonly turnId: string
  readonly message: MessageRecord
  readonly reply?: MessageRecord | undefined
  readonly session: SessionRecord
}

export interface EvaluationView {
  readonly sessionId: string
  readonly status: "none" | "pending" | "running" | "completed" | "failed"
  readonly evaluation?: EvaluationRecord | undefined
}

const enc = encodeURIComponent

export const me = () => request<Me>("GET", "/api/me")

// scenarios (everyone of the organization reads; teachers and admins write)
export const listScenarios = (query: { search?: string; cursor?: string | undefined; limit?: number } = {}) =>
  request<Page<ScenarioRecord>>("GET", "/api/scenarios", { query })
export const getScenario = (id: string) => request<ScenarioRecord>("GET", `/api/scenarios/${enc(id)}`)
export const createScenario = (draft: unknown) => request<ScenarioRecord>("POST", "/api/scenarios", { body: draft })
export const updateScenario = (id: string, draft: unknown) =>
  request<ScenarioRecord>("PUT", `/api/scenarios/${enc(id)}`, { body: draft })
export const deleteScenario = (id: string) => request<void>("DELETE", `/api/scenarios/${enc(id)}`)

// sessions
export const startSession = (scenarioId: string) => request<Started>("POST", "/api/sessions", { body: { scenarioId } })
export const listSessions = (
  query: { search?: string; status?: string; cursor?: string | undefined; limit?: number; order?: string } = {}
) => request<Page<SessionRecord>>("GET", "/api/sessions", { query })
export const getSession = (id: string) => request<SessionDetail>("GET", `/api/sessions/${enc(id)}`)
export const messages = (id: string, cursor?: string) =>
  request<Page<MessageRecord>>("GET", `/api/sessions/${enc(id)}/messages`, { query: { cursor, limit: 500 } })
export const send = (id: string, text: string) =>
  request<Turn>("POST", `/api/sessions/${enc(id)}/messages`, { body: { text } })
export const end = (id: string) => request<SessionRecord>("POST", `/api/sessions/${enc(id)}/end`)
export const practiseAgain = (id: string) => request<Started>("POST", `/api/sessions/${enc(id)}/again`)
export const deleteSession = (id: string) => request<void>("DELETE", `/api/sessions/${enc(id)}`)
export const exportPath = (id: string) => `/api/sessions/${enc(id)}/export`
export const eventsPath = (id: string) => `/api/sessions/${enc(id)}/events`
export const evaluation = (id: string) => request<EvaluationView>("GET", `/api/sessions/${enc(id)}/evaluation`)
export const requeueEvaluation = (id: string) =>
  request<EvaluationView>("POST", `/api/sessions/${enc(id)}/evaluation/requeue`)

// admin
export type CheckStatus = "up" | "degraded" | "down" | "unknown"
export interface Check {
  readonly status: CheckStatus
  readonly detail: string
  readonly latencyMs?: number | undefined
}
export interface UsageTotals {
  readonly messages: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number
}
export interface Overview {
  readonly at: number
  readonly sessions: { readonly active: number; readonly queued: number }
  readonly usage: {
    readonly today: UsageTotals
    readonly hourly: ReadonlyArray<UsageTotals & { readonly start: number }>
  }
  readonly errors: ReadonlyArray<ErrorEntry>
  readonly health: { readonly model: Check; readonly database: Check; readonly redis?: Check | undefined }
  readonly metrics: {
    readonly started: { readonly practice: number; readonly coaching: number }
    readonly ended: Readonly<Record<string, number>>
    readonly completionRate?: number | undefined
    readonly active: number
    readonly meanTerminationSeconds?: number | undefined
    readonly meanEvaluationSeconds?: number | undefined
  }
}
export const overview = () => request<Overview>("GET", "/api/admin/overview")

// runs (developers)
export interface Pipeline {
  readonly name: string
  readonly description: string
  readonly diagram: string
}
export interface Run {
  readonly id: string
  readonly pipeline: string
  readonly status: "running" | "completed" | "failed"
  readonly startedAt: number
  readonly endedAt?: number | undefined
  readonly diagram: string
  readonly spans: ReadonlyArray<SpanView>
  readonly totals: {
    readonly spans: number
    readonly errors: number
    readonly inputTokens: number
    readonly outputTokens: number
    readonly costUsd: number
  }
  readonly output?: string | undefined
  readonly error?: string | undefined
}
export const pipelines = () => request<ReadonlyArray<Pipeline>>("GET", "/api/pipelines")
export const listRuns = () => request<ReadonlyArray<Run>>("GET", "/api/runs")
export const getRun = (id: string) => request<Run>("GET", `/api/runs/${enc(id)}`)
export const startRun = (pipeline: "coaching", message: string) =>
  request<Run>("POST", "/api/runs", { body: { pipeline, message } })
