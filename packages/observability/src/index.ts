/**
 * `@braid/observability`: tracing layers (console, OTLP, in-memory, off), GenAI semantic
 * conventions for model calls, and the metrics of Braid.
 *
 * @since 0.1.0
 */

/** One line to see your runs. @since 0.1.0 */
export * as Observability from "./Observability.js"
/** GenAI semantic conventions on model calls. @since 0.1.0 */
export * as GenAI from "./GenAI.js"
/** The metrics of Braid. @since 0.1.0 */
export * as Metrics from "./Metrics.js"
