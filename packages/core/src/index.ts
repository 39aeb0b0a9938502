/**
 * `@braid/core`: typed primitives, their combinators, the workflow context and the runner.
 *
 * @since 0.1.0
 */

/** Named, typed, pipeable steps and their constructors. @since 0.1.0 */
export * as Primitive from "./Primitive.js"
/** The context of a run. @since 0.1.0 */
export * as WorkflowContext from "./WorkflowContext.js"
/** Typed, shared per-run state. @since 0.1.0 */
export * as State from "./State.js"
/** Run a pipeline from Effect or from a Promise. @since 0.1.0 */
export * as Runner from "./Runner.js"
/** Trees and Mermaid diagrams of pipelines. @since 0.1.0 */
export * as Describe from "./Describe.js"
/** The single instrumentation point: span attributes and events for the running primitive. @since 0.1.0 */
export * as Instrumentation from "./Instrumentation.js"
/** The one table of telemetry names (GenAI semantic conventions and Braid's own). @since 0.2.0 */
export * as Attributes from "./Attributes.js"
/** The typed errors of core. @since 0.1.0 */
export * as Errors from "./Errors.js"
/** JSON at the edges: parse without prototype effects, bounded depth, lossless encoding. @since 0.2.0 */
export * as Json from "./Json.js"
/** The time bound of every store and network call. @since 0.2.0 */
export * as Io from "./Io.js"
/** What the SQL stores share: JSON rows decoded with Schema, bounded calls with typed errors. @since 0.2.0 */
export * as Sql from "./Sql.js"

/** The journal hook: side effects journaled automatically inside a durable run. @since 0.3.0 */
export * as Journal from "./Journal.js"

/** The combinators, also at the top level. @since 0.1.0 */
export { andThen, branch, forEach, loop, parallel, repeatUntil, route, sequence } from "./Combinators.js"
/** The options of the combinators. @since 0.1.0 */
export type { ForEachOptions, Inputs, LoopOptions, Mode, ParallelOptions } from "./Combinators.js"
/** The errors of the combinators and the runner, also at the top level. @since 0.1.0 */
export { DeadlineExceeded, DecodeError, LoopExhausted, UnknownRoute } from "./Errors.js"
