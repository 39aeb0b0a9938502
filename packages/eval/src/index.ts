/**
 * Evaluation of agent workflows: JSONL datasets, metrics and an LLM judge, an idempotent runner
 * whose results are persisted (`ResultStore`), bootstrap comparisons with confidence intervals
 * (`Statistics`) and a regression gate for CI (`Gate`).
 *
 * @since 0.2.0
 */

/** JSONL datasets of finished conversations. @since 0.1.0 */
export * as Dataset from "./Dataset.js"
/** The evaluation workflow: metrics, judge, idempotent runner, comparison. @since 0.1.0 */
export * as Evaluation from "./Evaluation.js"
/** The regression gate for CI. @since 0.1.0 */
export * as Gate from "./Gate.js"
/** Means and bootstrap comparisons of evaluation runs. @since 0.1.0 */
export * as Statistics from "./Statistics.js"
/** Persisted evaluation results. @since 0.1.0 */
export * as ResultStore from "./ResultStore.js"
/** The model of a run (scripted or Claude) and the one policy model calls run under. @since 0.1.0 */
export * as Models from "./Models.js"
/** Sample evaluation runs (two prompt versions) and the scripted judge. @since 0.2.0 */
export * as Samples from "./Samples.js"
/** The typed errors of evaluation. @since 0.1.0 */
export * as Errors from "./Errors.js"
