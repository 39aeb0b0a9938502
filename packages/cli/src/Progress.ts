/**
 * The progress display of `braid run`: counts the primitives that finished (steps done), the
 * model tokens and the dollar cost while a workflow runs, by observing the spans that Braid's
 * single instrumentation point opens. Nothing in the workflow is changed: the tracker wraps the
 * current tracer (spans still reach OpenTelemetry when it is installed).
 *
 * @since 0.1.0
 */
import { Attributes } from "@braid/core"
import type { Exit, Option } from "effect"
import { Effect, Ref, Tracer } from "effect"

/**
 * What has happened so far in a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  /** Primitives that finished (successfully or not). */
  readonly steps: number
  /** Primitives that failed with a typed error or a defect. */
  readonly failed: number
  /** Model calls that finished. */
  readonly modelCalls: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number
  /** The name of the last primitive that finished. */
  readonly last: string
}

/**
 * @example
 * ```ts
 * import { Progress } from "@braid/cli"
 *
 * Progress.line(Progress.empty)
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const empty: Snapshot = {
  steps: 0,
  failed: 0,
  modelCalls: 0,
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
  last: ""
}

const num = (
  v: unknown
): number => (typeof v === "number"
  ? v
  : typeof v === "bigint"
  ? Number(v)
  : typeof v === "string" && v !== "" && !Number.isNaN(Number(v))
  ? Number(v)
  : 0)

/**
 * The span attributes the tracker reads.
 *
 * @example
 * ```ts
 * import { Progress } from "@braid/cli"
 *
 * Progress.attributes.costUsd // ["braid.cost.usd"]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const attributes = {
  primitive: Attributes.Braid.primitiveName,
  operation: Attributes.GenAI.operationName,
  inputTokens: Attributes.GenAI.usageInputTokens,
  outputTokens: Attributes.GenAI.usageOutputTokens,
  costUsd: [Attributes.Braid.costUsd]
} as const

/**
 * Runs `self` while tracking its progress; `onUpdate` is called (synchronously, keep it cheap)
 * with the new snapshot whenever a primitive or a model call finishes. Returns the output with
 * the final snapshot.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive, Runner, sequence } from "@braid/core"
 * import { Progress } from "@braid/cli"
 *
 * const a = Primitive.sync("a", (n: number) => n + 1)
 * const program = Progress.track(Runner.run(sequence(a, a), 1), (s) => console.log(`${s.steps} steps`))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const track = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  onUpdate: (snapshot: Snapshot) => void = () => {}
): Effect.Effect<{ readonly value: A; readonly progress: Snapshot }, E, R> =>
  Effect.gen(function*() {
    const base = yield* Effect.tracer
    const state = yield* Ref.make(empty)
    let current = empty
    const finished = (name: string, attrs: Map<string, unknown>, exit: Exit.Exit<unknown, unknown>) => {
      // Model-call spans (`chat {model}`) carry the GenAI operation; they may also repeat the braid
      // attributes of the primitive that made the call, so they are counted as model calls only.
      // Tokens and cost are read from them alone (agents repeat their turn's usage on their own
      // span, which would count it twice).
      const op = attrs.get(attributes.operation)
      // agents' `invoke_agent` spans are primitives; tool calls are neither steps nor model calls
      if (op === Attributes.GenAIOperation.executeTool) return
      const isModel = op !== undefined && op !== Attributes.GenAIOperation.invokeAgent &&
        op !== Attributes.GenAIOperation.createAgent
      const isPrimitive = !isModel && attrs.has(attributes.primitive)
      const input = isModel ? num(attrs.get(attributes.inputTokens)) : 0
      const output = isModel ? num(attrs.get(attributes.outputTokens)) : 0
      let cost = 0
      if (isModel) { for (const k of attributes.costUsd) cost += num(attrs.get(k)) }
      if (!isPrimitive && !isModel) return
      current = {
        steps: current.steps + (isPrimitive ? 1 : 0),
        failed: current.failed + (isPrimitive && exit._tag === "Failure" ? 1 : 0),
        modelCalls: current.modelCalls + (isModel ? 1 : 0),
        inputTokens: current.inputTokens + input,
        outputTokens: current.outputTokens + output,
        costUsd: current.costUsd + cost,
        last: isPrimitive ? String(attrs.get(attributes.primitive) ?? name) : current.last
      }
      onUpdate(current)
    }
    const tracer = Tracer.make({
      span(name, parent: Option.Option<Tracer.AnySpan>, context, links, startTime, kind, options) {
        const inner = base.span(name, parent, context, links, startTime, kind, options)
        const attrs = new Map<string, unknown>(Object.entries(options?.attributes ?? {}))
        const span: Tracer.Span = {
          _tag: "Span",
          get name() {
            return inner.name
          },
          get spanId() {
            return inner.spanId
          },
          get traceId() {
            return inner.traceId
          },
          get parent() {
            return inner.parent
          },
          get context() {
            return inner.context
          },
          get status() {
            return inner.status
          },
          get attributes() {
            return inner.attributes
          },
          get links() {
            return inner.links
          },
          get sampled() {
            return inner.sampled
          },
          get kind() {
            return inner.kind
          },
          end(endTime, exit) {
            inner.end(endTime, exit)
            finished(name, attrs, exit)
          },
          attribute(key, value) {
            attrs.set(key, value)
            inner.attribute(key, value)
          },
          event(name, startTime, attributes) {
            inner.event(name, startTime, attributes)
          },
          addLinks(links) {
            inner.addLinks(links)
          }
        }
        return span
      },
      context: (f, fiber) => base.context(f, fiber)
    })
    const value = yield* Effect.withTracer(self, tracer)
    yield* Ref.set(state, current)
    return { value, progress: current }
  })

/**
 * One status line: `steps 12 · model calls 4 · tokens 1,234 in / 567 out · $0.0123`.
 *
 * @example
 * ```ts
 * import { Progress } from "@braid/cli"
 *
 * Progress.line(Progress.empty) // "steps 0 · model calls 0 · tokens 0 in / 0 out · $0.0000"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const line = (s: Snapshot): string =>
  `steps ${s.steps}${s.failed > 0 ? ` (${s.failed} failed)` : ""} · model calls ${s.modelCalls} · tokens ${
    s.inputTokens.toLocaleString("en-US")
  } in / ${s.outputTokens.toLocaleString("en-US")} out · $${s.costUsd.toFixed(4)}`
