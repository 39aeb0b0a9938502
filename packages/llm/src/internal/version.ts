/**
 * The version of `@braid/llm`, the instrumentation scope version of its telemetry. A constant (not
 * read from package.json at run time) so it is the same from `src` and from `dist`; a test checks
 * it against package.json.
 *
 * @internal
 */
export const version = "0.1.0"
