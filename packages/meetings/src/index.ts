/**
 * Multi-agent meetings: a state machine of attend/start/speak/leave/end driven by turn policies,
 * with speaking timeouts and a termination algebra, and `MeetingStore` where histories and
 * statuses are kept (in memory here; SQLite and PostgreSQL in `@braid/sqlite` and
 * `@braid/postgres`).
 *
 * @since 0.2.0
 */

/** Multi-agent meetings: a state machine of attend/start/speak/leave/end driven by turn policies. @since 0.1.0 */
export * as Meeting from "./Meeting.js"
/** The rules of a meeting as a pure reducer: (state, command) => { state, entries }. @since 0.3.0 */
export * as MeetingReducer from "./MeetingReducer.js"
/** Participants in other processes, over the EventBus. @since 0.3.0 */
export * as RemoteParticipant from "./RemoteParticipant.js"
/** Who speaks next in a meeting: round robin, selector, model selector, moderator. @since 0.1.0 */
export * as TurnPolicy from "./TurnPolicy.js"
/** Termination conditions of meetings, combined with and/or. @since 0.1.0 */
export * as Termination from "./Termination.js"
/** Where meeting histories and statuses are kept. @since 0.1.0 */
export * as MeetingStore from "./MeetingStore.js"
/** The typed errors of meetings. @since 0.2.0 */
export * as Errors from "./Errors.js"
