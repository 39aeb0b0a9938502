/**
 * `@braid/server`: `braid serve`, the HTTP API of the practice and coaching workflows (typed
 * endpoints on `@effect/platform`'s `HttpApi`, an OpenAPI document, server-sent events per
 * session, signed tokens with roles) and the web app it serves.
 *
 * @since 0.3.0
 */

/** The HTTP API definition: groups, endpoints, schemas, errors. @since 0.3.0 */
export * as Api from "./Api.js"
/** The typed errors of the HTTP API. @since 0.3.0 */
export * as Errors from "./Errors.js"
/** Signed tokens: sign, verify, issue, the secret. @since 0.3.0 */
export * as Auth from "./Auth.js"
/** A session's persisted events as clients follow them (SSE and WebSocket). @since 0.3.0 */
export * as EventLog from "./EventLog.js"
/** The runs of the developer run viewer, with their traces. @since 0.3.0 */
export * as Runs from "./Runs.js"
/** Live coaching sessions over HTTP (kind `coaching` in the session store). @since 0.3.0 */
export * as CoachingSessions from "./CoachingSessions.js"
/** Meetings of agents on a preset, in the background, with their records. @since 0.3.0 */
export * as MeetingRuns from "./MeetingRuns.js"
/** Evaluation runs on sample datasets, in the background, with progress and reports. @since 0.3.0 */
export * as EvaluationRuns from "./EvaluationRuns.js"
/** The server-sent events wire format: format and parse. @since 0.3.0 */
export * as Sse from "./Sse.js"
/** The WebSocket push of a session's events. @since 0.3.0 */
export * as Ws from "./Ws.js"
/** The server: handlers, middleware, documents, the web app. @since 0.3.0 */
export * as Server from "./Server.js"
