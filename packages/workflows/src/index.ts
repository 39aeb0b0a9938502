/**
 * `@braid/workflows`: the coaching, evaluation and meeting workflows, built only from the public
 * primitives of the other Braid packages, plus the statistics, dataset format and regression
 * gate of the evaluation workflow.
 *
 * @since 0.1.0
 */

/** Client profiles and the coach's instructions template. @since 0.1.0 */
export * as ClientProfile from "./ClientProfile.js"
/** The typed errors of the workflows. @since 0.1.0 */
export * as Errors from "./Errors.js"
/** Session lifecycle and accounting. @since 0.1.0 */
export * as Session from "./Session.js"
/** The settings of the practice and coaching apps, from the environment. @since 0.3.0 */
export * as Settings from "./Settings.js"
/** Session metrics derived from the session events on the bus. @since 0.3.0 */
export * as SessionMetrics from "./SessionMetrics.js"
/** The admin views: active sessions, usage, errors, health. @since 0.3.0 */
export * as Admin from "./Admin.js"
/** Scripts of the scripted model for the workflows. @since 0.1.0 */
export * as Scripts from "./Scripts.js"
/** Sample conversations. @since 0.1.0 */
export * as Samples from "./Samples.js"
/** The coaching workflow. @since 0.1.0 */
export * as Coaching from "./Coaching.js"
/** The meeting workflow. @since 0.1.0 */
export * as MeetingWorkflow from "./MeetingWorkflow.js"
/** Persisted meeting records. @since 0.1.0 */
export * as MeetingRecords from "./MeetingRecords.js"
/** Practice scenarios (client personas, objectives, skills). @since 0.3.0 */
export * as Scenario from "./Scenario.js"
/** The session store: sessions, messages, evaluations, scenarios, the error log. @since 0.3.0 */
export * as SessionStore from "./SessionStore.js"
/** Schema'd session and coaching events on the EventBus. @since 0.3.0 */
export * as SessionEvents from "./SessionEvents.js"
/** The practice workflow (role-play with a client persona, termination reasons, evaluation). @since 0.3.0 */
export * as Practice from "./Practice.js"
/** The evaluation of practice sessions (jobs, worker, backoff, requeue). @since 0.3.0 */
export * as PracticeEvaluation from "./PracticeEvaluation.js"
/** The cap on live sessions (active and queued). @since 0.3.0 */
export * as SessionCap from "./SessionCap.js"
/** Session transcripts and their Markdown export. @since 0.3.0 */
export * as Transcript from "./Transcript.js"
