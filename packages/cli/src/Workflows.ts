/**
 * The registry of workflows of the `braid` command.
 *
 * @since 0.1.0
 */
import type { Entry } from "./Registry.js"

/**
 * Every workflow the CLI knows.
 *
 * @since 0.1.0
 */
export const registry: ReadonlyArray<Entry> = []
