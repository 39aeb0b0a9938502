/**
 * The typed errors raised by `@braid/core`. Every error names the primitive that failed and why.
 *
 * They are `Schema.TaggedError` classes, so they can cross process boundaries and be persisted
 * (durable runs, evaluation results) and still be matched with `Effect.catchTag`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * One problem found while decoding a value with Schema: where (a dotted path such as
 * `user.goals[2].title`, or `(root)`) and what.
 *
 * @category errors
 * @since 0.1.0
 */
export const DecodeIssue = Schema.Struct({
  path: Schema.String,
  message: Schema.String
})

/**
 * @category errors
 * @since 0.1.0
 */
export type DecodeIssue = typeof DecodeIssue.Type

/**
 * The input or the output of a Schema-validated primitive did not decode.
 * `path` is the path of the first bad field; `issues` lists every problem.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Primitive, Runner } from "@braid/core"
 *
 * const greet = Primitive.fromSchema(
 *   "greet",
 *   { input: Schema.Struct({ name: Schema.String }), output: Schema.String },
 *   ({ name }) => Effect.succeed(`Hello ${name}`)
 * )
 * const program = Runner.run(greet, { name: 42 } as any).pipe(
 *   Effect.catchTag("DecodeError", (e) => Effect.succeed(e.path)) // "name"
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  primitive: Schema.String,
  direction: Schema.Literal("input", "output"),
  path: Schema.String,
  issues: Schema.Array(DecodeIssue)
}) {
  override get message(): string {
    const first = this.issues[0]
    const more = this.issues.length > 1 ? ` (and ${this.issues.length - 1} more)` : ""
    return `${this.primitive}: invalid ${this.direction} at ${this.path}: ${first?.message ?? "unknown problem"}${more}`
  }
}

/**
 * A `route` selector chose a key that has no route, and the route has no default.
 *
 * @category errors
 * @since 0.1.0
 */
export class UnknownRoute extends Schema.TaggedError<UnknownRoute>()("UnknownRoute", {
  primitive: Schema.String,
  key: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `${this.primitive}: no route for "${this.key}" (known routes: ${this.known.join(", ") || "none"})`
  }
}

/**
 * `repeatUntil` ran its body the maximum number of times and the condition never held.
 *
 * @category errors
 * @since 0.1.0
 */
export class LoopExhausted extends Schema.TaggedError<LoopExhausted>()("LoopExhausted", {
  primitive: Schema.String,
  maxIterations: Schema.Number
}) {
  override get message(): string {
    return `${this.primitive}: condition not met after ${this.maxIterations} iterations`
  }
}

/**
 * A run did not finish before the deadline given to the runner. The run was interrupted.
 *
 * @category errors
 * @since 0.1.0
 */
export class DeadlineExceeded extends Schema.TaggedError<DeadlineExceeded>()("DeadlineExceeded", {
  primitive: Schema.String,
  runId: Schema.String,
  deadlineMillis: Schema.Number
}) {
  override get message(): string {
    return `${this.primitive}: run ${this.runId} exceeded its deadline of ${this.deadlineMillis} ms`
  }
}
