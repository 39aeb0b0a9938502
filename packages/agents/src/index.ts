/**
 * `@braid/agents`: agents (a named primitive from a conversation to a reply, with tools and
 * structured output), handoff between agents with typed payloads and history filters, and
 * parallel coordination (all, first, quorum, vote, consensus).
 *
 * @since 0.1.0
 */

/** The typed errors of the package. @since 0.1.0 */
export * as Errors from "./Errors.js"
/** Parallel coordination: all, first, quorum, vote, consensus. @since 0.1.0 */
export * as Coordination from "./Coordination.js"
/** Agents: named primitives from a conversation to a reply, with tools. @since 0.1.0 */
export * as Agent from "./Agent.js"
/** Handoff between agents: typed payloads, history filters, immediate/queued/conditional. @since 0.1.0 */
export * as Handoff from "./Handoff.js"
/** History transforms for handoffs: last N, by role, no tool calls, summarize, redact. @since 0.1.0 */
export * as History from "./History.js"
