/**
 * `@braid/agents`: agents, handoff, memory (with persistent stores), coordination, messaging,
 * event bus, stream buffer and meetings.
 *
 * @since 0.1.0
 */

/** Scoped, persistent memory: the service, typed entries, remember/recall primitives. @since 0.1.0 */
export * as Memory from "./Memory.js"
/** The memory store interface and the in-memory store. @since 0.1.0 */
export * as MemoryStore from "./MemoryStore.js"
/** The typed errors of the package. @since 0.1.0 */
export * as Errors from "./Errors.js"
/** Parallel coordination: all, first, quorum, vote, consensus. @since 0.1.0 */
export * as Coordination from "./Coordination.js"
/** The typed errors of coordination, event bus, messaging and meetings. @since 0.1.0 */
export * as CoordinationErrors from "./CoordinationErrors.js"
/** Agents: named primitives from a conversation to a reply, with tools. @since 0.1.0 */
export * as Agent from "./Agent.js"
/** Handoff between agents: typed payloads, history filters, immediate/queued/conditional. @since 0.1.0 */
export * as Handoff from "./Handoff.js"
/** History transforms for handoffs: last N, by role, no tool calls, summarize, redact. @since 0.1.0 */
export * as History from "./History.js"
/** Publish/subscribe on `domain.entity.action` channels with Schema-validated events. @since 0.1.0 */
export * as EventBus from "./EventBus.js"
/** Multi-agent meetings: a state machine of attend/start/speak/leave/end driven by turn policies. @since 0.1.0 */
export * as Meeting from "./Meeting.js"
/** Who speaks next in a meeting: round robin, selector, model selector, moderator. @since 0.1.0 */
export * as TurnPolicy from "./TurnPolicy.js"
/** Termination conditions of meetings, combined with and/or. @since 0.1.0 */
export * as Termination from "./Termination.js"
/** Where meeting histories and statuses are kept (memory, SQLite, PostgreSQL). @since 0.1.0 */
export * as MeetingStore from "./MeetingStore.js"
/** A buffer with parallel tracks (conversation, insights), followers and sync markers. @since 0.1.0 */
export * as StreamBuffer from "./StreamBuffer.js"
/** Agent messaging: send, request/reply, persisted inbox (SQLite/PostgreSQL). @since 0.1.0 */
export * as Messaging from "./Messaging.js"
