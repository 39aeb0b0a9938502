/**
 * The endpoints of `braid serve` the app uses (one function each), over `http.ts`.
 * The shapes are the library's own records (`@braid/workflows`), as JSON.
 */
import type { Api } from "@braid/server"
import type { Scenario, SessionStore } from "@braid/workflows"
import { request } from "./http.js"

type T<S extends { readonly Type: unknown }> = S["Type"]

export type Role = Me["role"]
export type ScenarioRecord = Scenario.Scenario
export type SessionRecord = SessionStore.SessionRecord
export type MessageRecord = SessionStore.MessageRecord
export type EvaluationRecord = SessionStore.EvaluationRecord
export type ErrorEntry = SessionStore.ErrorEntry

/** A page of a list and the cursor of the next one. */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor?: string | undefined
}

export type Me = Api.Me
/** A session with its place in the queue and its evaluation (`GET /api/sessions/:id`). */
export type SessionDetail = Api.SessionDetail
/** A started session (`POST /api/sessions`, `POST /api/sessions/:id/again`). */
export type Started = T<typeof Api.Started>
/** One turn (`POST /api/sessions/:id/messages`). */
export type Turn = T<typeof Api.Turn>
export type EvaluationView = T<typeof Api.EvaluationView>
export type Overview = T<typeof Api.Overview>
export type Check = Overview["health"]["model"]
export type Pipeline = T<typeof Api.Pipeline>
export type Run = Api.Run

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
export const overview = () => request<Overview>("GET", "/api/admin/overview")

// runs (developers)
export const pipelines = () => request<ReadonlyArray<Pipeline>>("GET", "/api/pipelines")
export const listRuns = () => request<ReadonlyArray<Run>>("GET", "/api/runs")
export const getRun = (id: string) => request<Run>("GET", `/api/runs/${enc(id)}`)
export const startRun = (pipeline: "coaching", message: string) =>
  request<Run>("POST", "/api/runs", { body: { pipeline, message } })

// coaching (everyone: their own sessions; read through the session endpoints)
export type CoachingTurn = Api.CoachingTurn
export const startCoaching = (body: Api.CoachingStart) => request<SessionRecord>("POST", "/api/coaching", { body })
export const sendCoaching = (id: string, text: string) =>
  request<CoachingTurn>("POST", `/api/coaching/${enc(id)}/messages`, { body: { text } })
export const endCoaching = (id: string) => request<SessionRecord>("POST", `/api/coaching/${enc(id)}/end`)
export const listCoaching = () =>
  request<Page<SessionRecord>>("GET", "/api/sessions", { query: { kind: "coaching", limit: 20 } })

// meetings and evaluation runs (teachers, admins)
export type MeetingRun = Api.MeetingRun
export type MeetingResult = Api.MeetingResult
export type EvaluationRun = Api.EvaluationRun
export type EvaluationReport = Api.EvaluationReport
export type EvaluationTarget = Api.EvaluationTarget
export const startMeeting = (body: Api.MeetingStart) => request<MeetingRun>("POST", "/api/meetings", { body })
export const listMeetings = () => request<ReadonlyArray<MeetingRun>>("GET", "/api/meetings")
export const getMeeting = (id: string) => request<MeetingRun>("GET", `/api/meetings/${enc(id)}`)
export const meetingResult = (id: string) => request<MeetingResult>("GET", `/api/meetings/${enc(id)}/result`)
export const startEvaluationRun = (body: Api.EvaluationRunStart) =>
  request<EvaluationRun>("POST", "/api/evaluations/runs", { body })
export const listEvaluationRuns = () => request<ReadonlyArray<EvaluationRun>>("GET", "/api/evaluations/runs")
export const getEvaluationRun = (id: string) => request<EvaluationRun>("GET", `/api/evaluations/runs/${enc(id)}`)
export const evaluationReport = (id: string) =>
  request<EvaluationReport>("GET", `/api/evaluations/runs/${enc(id)}/result`)
