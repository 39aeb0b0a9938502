/**
 * `@braid/cli`: the `braid` command.
 *
 * @since 0.1.0
 */

/** The command and its entry point. @since 0.1.0 */
export * as Cli from "./Cli.js"
/** The catalog of primitives. @since 0.1.0 */
export * as Catalog from "./Catalog.js"
/** The help of the command: usage, options with defaults, examples; colour rules. @since 0.2.0 */
export * as Help from "./Help.js"
/** `braid eval`. @since 0.1.0 */
export * as EvalCommand from "./EvalCommand.js"
/** `braid worker`: a runner of durable practice and coaching sessions. @since 0.3.0 */
export * as WorkerCommand from "./WorkerCommand.js"
/** The progress display. @since 0.1.0 */
export * as Progress from "./Progress.js"
/** What a runnable workflow is. @since 0.1.0 */
export * as Registry from "./Registry.js"
/** The workflows the command knows. @since 0.1.0 */
export * as Workflows from "./Workflows.js"
/** `braid serve` and `braid users token`. @since 0.3.0 */
export * as ServeCommand from "./ServeCommand.js"
